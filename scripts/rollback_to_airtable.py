"""Rollback without loss: write what v2 created or changed since the cutover back to Airtable.

    doppler run -- uv run --extra airtable python scripts/rollback_to_airtable.py \
        --since 2026-03-01T02:00:00Z --dry-run

The logic lives in `podium.cutover.writeback`; docs/cutover.md has the rollback runbook.
"""

import sys

from podium.cutover.writeback import main

if __name__ == "__main__":
    sys.exit(main())
