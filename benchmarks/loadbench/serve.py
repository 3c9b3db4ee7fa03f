"""The benchmark's server process: `podium serve`'s workers around the benchmark app.

`python -m loadbench.serve PORT WORKERS` (with `benchmarks/` on the path): the same supervisor
and per-worker SO_REUSEPORT sockets as `podium serve --workers N --no-access-log`, serving
`loadbench.bench_app` (the product's app plus the two reference routes).
"""

from __future__ import annotations

import sys

from podium.workers import serve


def main() -> None:
    port, workers = int(sys.argv[1]), int(sys.argv[2])
    status = serve(
        "loadbench.bench_app:create_bench_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
    )
    raise SystemExit(status)


if __name__ == "__main__":
    main()
