"""Compression: large JSON goes out as zstd, brotli or gzip by what the client accepts, small
responses and already encoded ones as they are."""

from __future__ import annotations

import gzip
import json

import brotli
import httpx
import pytest
import zstandard
from fastapi import FastAPI
from fastapi.responses import Response

from podium.app import create_app
from podium.config import Settings
from tests.api.conftest import attend, eid, make_event, make_project
from tests.conftest import MakeUser

DECODERS = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data),
}


async def raw_get(client: httpx.AsyncClient, url: str, accept: str) -> tuple[httpx.Response, bytes]:
    """The response and its body as sent (httpx would decode it)."""
    async with client.stream("GET", url, headers={"Accept-Encoding": accept}) as response:
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, body


@pytest.fixture
async def big_list(make_user: MakeUser) -> str:
    owner = await make_user()
    event = await make_event(owner)
    await attend(event, owner)
    for n in range(40):
        await make_project(owner, event, f"Project {n}", description="a hackathon project " * 5)
    return f"/events/{eid(event)}/projects"


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [("gzip", "gzip"), ("gzip, br", "br"), ("gzip, br, zstd", "zstd"), ("br;q=0, gzip", "gzip")],
)
async def test_a_large_list_is_compressed_with_the_best_accepted_encoding(
    client: httpx.AsyncClient, big_list: str, accept: str, encoding: str
) -> None:
    plain, plain_body = await raw_get(client, big_list, "identity")
    response, body = await raw_get(client, big_list, accept)

    assert response.status_code == 200
    assert response.headers["content-encoding"] == encoding
    assert "accept-encoding" in response.headers["vary"].lower()
    assert int(response.headers["content-length"]) == len(body) < len(plain_body) / 4
    assert json.loads(DECODERS[encoding](body)) and "content-encoding" not in plain.headers
    # Same tag either way: weak tags name the content, not the bytes.
    assert response.headers["etag"] == plain.headers["etag"]


async def test_small_responses_are_not_compressed(client: httpx.AsyncClient) -> None:
    response, body = await raw_get(client, "/health", "gzip, br, zstd")
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert json.loads(body)["status"] == "ok"


async def test_a_304_has_no_body_to_compress(client: httpx.AsyncClient, big_list: str) -> None:
    etag = (await client.get(big_list)).headers["etag"]
    response = await client.get(
        big_list, headers={"If-None-Match": etag, "Accept-Encoding": "gzip"}
    )
    assert response.status_code == 304
    assert "content-encoding" not in response.headers


async def test_an_already_encoded_response_is_never_compressed_twice(settings: Settings) -> None:
    app: FastAPI = create_app(settings)
    payload = gzip.compress(json.dumps({"data": "x" * 5000}).encode())

    @app.get("/__encoded", include_in_schema=False)
    async def encoded() -> Response:
        return Response(
            payload, media_type="application/json", headers={"Content-Encoding": "gzip"}
        )

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response, body = await raw_get(client, "/__encoded", "gzip, br, zstd")
    assert response.headers["content-encoding"] == "gzip"
    assert body == payload


@pytest.mark.parametrize("accept", [None, "identity", "deflate", "gzip;q=0"])
async def test_a_client_accepting_no_encoding_gets_the_list_as_it_is(
    client: httpx.AsyncClient, big_list: str, accept: str | None
) -> None:
    request = client.build_request("GET", big_list)
    if accept is None:
        del request.headers["Accept-Encoding"]
    else:
        request.headers["Accept-Encoding"] = accept
    response = await client.send(request, stream=True)
    body = b"".join([chunk async for chunk in response.aiter_raw()])
    await response.aclose()

    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert int(response.headers["content-length"]) == len(body) > 1000
    assert json.loads(body)


@pytest.mark.parametrize("accept", ["*", "GZIP", "br;q=0.5"])
async def test_any_spelling_that_accepts_an_encoding_gets_one(
    client: httpx.AsyncClient, big_list: str, accept: str
) -> None:
    response, body = await raw_get(client, big_list, accept)
    assert response.headers["content-encoding"] in DECODERS
    assert json.loads(DECODERS[response.headers["content-encoding"]](body))
