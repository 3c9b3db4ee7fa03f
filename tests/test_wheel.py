"""The production wheel holds the app and none of the test support (devtools/ stays out)."""

from __future__ import annotations

import ast
import email
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from podium.migrate import PROJECT_ROOT

DEVTOOLS = "podium_devtools"


def _imports_devtools(source: bytes) -> bool:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(name.split(".")[0] == DEVTOOLS for name in names):
            return True
    return False


@pytest.fixture
def wheel(tmp_path: Path) -> Iterator[zipfile.ZipFile]:
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is not on PATH (the wheel is built with `uv build`)"
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(tmp_path), str(PROJECT_ROOT)],
        check=True,
        capture_output=True,
    )
    (built,) = tmp_path.glob("podium-*.whl")
    with zipfile.ZipFile(built) as opened:
        yield opened


def test_wheel_ships_the_app_without_test_support(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    assert "podium/app.py" in names
    assert "podium/ids/codec.py" in names
    assert [name for name in names if name.startswith((f"{DEVTOOLS}/", "podium/testing/"))] == []
    importing = [
        name for name in names if name.endswith(".py") and _imports_devtools(wheel.read(name))
    ]
    assert importing == []
    (metadata,) = [name for name in names if name.endswith(".dist-info/METADATA")]
    requirements = email.message_from_bytes(wheel.read(metadata)).get_all("Requires-Dist", [])
    assert requirements
    assert [r for r in requirements if r.startswith("podium-devtools")] == []
