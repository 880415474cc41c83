#!/usr/bin/env python3
"""A free loopback port for a peer the tests start, below the kernel's range for the local
ports of outgoing connections (ip_local_port_range): a port from that range, as bind(0)
gives, can be taken by any connection made before the peer binds it ("address already in
use" once in a while). Imported by the Python scripts; run, it prints one port (the shell
scripts' free_port), not one of those listed in the file its argument names (it adds the
one it gives: a shell script's ports, each picked by a process of its own, differ)."""

import random
import socket

FLOOR = 10000
_given = set()


def free_port():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    if low > FLOOR + 1000:
        for _ in range(500):
            port = random.randrange(FLOOR, low)
            if port in _given:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _given.add(port)
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    import sys

    given = sys.argv[1] if len(sys.argv) > 1 else None
    if given:
        try:
            with open(given) as f:
                _given.update(int(line) for line in f if line.strip().isdigit())
        except FileNotFoundError:
            pass
    port = free_port()
    if given:
        with open(given, "a") as f:
            f.write(f"{port}\n")
    print(port)
