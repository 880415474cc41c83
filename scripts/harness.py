"""Helpers shared by the scripts that start peers and measure processes (bench_peers.py,
faults.py): a free loopback port, waiting until something listens on one, a process's
CPU time, resident memory and open files from /proc, and a percentile."""
import os
import socket
import time
from pathlib import Path

import free_port as ports

TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    """A free loopback port for a peer (scripts/free_port.py: outside the range of
    outgoing connections' ports)."""
    return ports.free_port()


def wait_port(port, what="a peer", seconds=10):
    """Waits until `port` accepts a connection; False when it never did."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    print(f"nothing listens on port {port} ({what})")
    return False


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_files(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def percentile(values, p):
    """The p-th percentile (nearest rank), or None of nothing."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] if ordered else None
