"""The load benchmark's parts: seeding, the server under test, the load generator, reporting.

Entry point: `uv run python benchmarks/load.py` (see docs/performance.md).
"""
