"""Loopback helpers shared by the scripts that start peers: a free port, and waiting
until something listens on one."""
import socket
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
