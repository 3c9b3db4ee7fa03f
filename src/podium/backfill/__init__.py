"""The Airtable → PostgreSQL backfill (SPEC §4): `scripts/migrate_from_airtable.py` runs it.

- `airtable`: pyairtable with a rate limiter, 429/5xx retries and listing restarts.
- `feed`: listings in a worker thread, pages handed to the event loop.
- `stages`: one planner per v1 table (rules in `rules`, value parsing in `values`).
- `diff` / `database`: what changes, written in set-based batches with asyncpg.
- `pipeline`: `run` (resumable) and `delta`; `verify`: the record-by-record comparison.
"""
