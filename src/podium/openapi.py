"""The committed OpenAPI spec (`openapi/openapi.json`): written from the app, checked for drift."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from podium.config import Environment, Settings

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def build_spec(app: FastAPI | None = None) -> dict[str, Any]:
    if app is None:
        from podium.app import create_app

        # The spec does not depend on secrets or the database; development settings suffice.
        app = create_app(Settings(env=Environment.DEVELOPMENT))
    return app.openapi()


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


def drift(committed: str, current: str) -> list[str]:
    """A unified diff from the committed spec to the app's; empty when they agree."""
    return list(
        difflib.unified_diff(
            committed.splitlines(), current.splitlines(), "committed", "app", lineterm="", n=2
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write or check openapi/openapi.json")
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed spec differs")
    parser.add_argument("--output", type=Path, default=SPEC_PATH)
    args = parser.parse_args(argv)
    current = render(build_spec())
    if args.check:
        committed = args.output.read_text() if args.output.exists() else ""
        lines = drift(committed, current)
        if lines:
            print("\n".join(lines[:200]))
            print(f"\n{args.output} is out of date: run `uv run python scripts/export_openapi.py`")
            return 1
        print(f"{args.output} matches the app")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(current)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
