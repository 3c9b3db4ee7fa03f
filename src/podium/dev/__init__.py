"""Development only: the embedded PostgreSQL and the demo data of `podium dev` (and the tests)."""
