"""Loopback ports for the servers tests and benchmarks start, and what listens on them.

`sockets_on_port` reads Linux's /proc/net/tcp: used to wait until every worker of `podium serve`
listens on its own socket, and to count the connections each worker holds.
"""

from __future__ import annotations

import socket
from pathlib import Path


def free_port() -> int:
    """A loopback port free right now (the OS's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# /proc/net/tcp's hexadecimal connection states.
ESTABLISHED = "01"
LISTEN = "0A"


def sockets_on_port(port: int, state: str) -> set[str]:
    """The sockets on local `port` in `state`, as their fd link targets (`socket:[inode]`)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                found.add(f"socket:[{fields[9]}]")
    return found
