"""Smoke-test a running Podium v2 deployment; see podium.cutover.smoke and docs/cutover.md.

doppler run -- uv run python scripts/smoke_test.py https://podium.example.org
uv run python scripts/smoke_test.py http://127.0.0.1:8000 --dev-log podium-dev.log
"""

import sys

from podium.cutover.smoke import main

if __name__ == "__main__":
    sys.exit(main())
