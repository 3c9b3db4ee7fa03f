"""Migrate Podium v1 (Airtable) into PostgreSQL: `run`, `run --dry-run`, `verify`, `delta`.

    doppler run -- uv run --extra airtable python scripts/migrate_from_airtable.py run

The logic lives in `podium.backfill`; docs/backfill.md explains every command and rule.
"""

import sys

from podium.backfill.cli import main

if __name__ == "__main__":
    sys.exit(main())
