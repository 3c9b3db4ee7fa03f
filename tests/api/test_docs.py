"""/docs and /redoc load everything from this server: they work with no internet."""

from __future__ import annotations

import re

import httpx
import pytest

URL = re.compile(r"""(?:src|href)=["']([^"']+)["']|url\(["']?([^"')]+)""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_reference_no_other_host(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    html = response.text
    # No absolute or protocol-relative URL anywhere in the page (a CDN, Google Fonts …).
    assert re.findall(r"""["'](?:https?:)?//[^"']*["']""", html) == []
    assets = [a or b for a, b in URL.findall(html)]
    assert assets, "the page loads no script or style at all?"
    for asset in assets:
        assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
        fetched = await client.get(asset)
        assert fetched.status_code == 200, asset
        assert len(fetched.content) > 1000 or asset.endswith(".png"), asset
