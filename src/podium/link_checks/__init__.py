"""Project link checks: the SSRF guard, the fetcher, the checks and the queue runner."""
