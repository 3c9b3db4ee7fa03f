"""The cutover kit: the smoke test run against a deployment, and the rollback write-back to v1."""
