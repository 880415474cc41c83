"""What the NATS cluster's JetStream API answered during the fleet campaign (scripts/fleet.py).

nats-server counts every JetStream API answer that carries an error in `/jsz`'s
`api.errors`, benign ones included: each MQTT connection with a clean session asks for its
old session (`$JS.API.STREAM.MSG.GET.$MQTT_sess`) and, when there is none, is answered
404 "no message found". To tell those from real failures, this listens to the account's
audit advisories (`$JS.EVENT.ADVISORY.API`: each API request with its answer) on one node
over the NATS protocol, with TLS and the collector's certificate, and counts the errors by
request and answer. Requests dropped by a full API queue are not answered at all: the
nodes' logs say so (`Cluster.drops`).
"""

import json
import socket
import ssl
import threading


class ApiAudit:
    def __init__(self, port, ca, cert, key):
        self.lock = threading.Lock()
        self.errors = {}  # (request kind, code, description) -> count
        self.answers = 0
        self.protocol_errors = []  # what the server said went wrong with this connection
        self.ended = None  # why the reading stopped, if it did
        self.sock = socket.create_connection(("127.0.0.1", port), 10)
        info = self._line(self.sock)
        if not info.startswith(b"INFO "):
            raise RuntimeError(f"not a NATS server: {info[:80]!r}")
        ctx = ssl.create_default_context(cafile=ca)
        ctx.load_cert_chain(cert, key)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
        self.sock.settimeout(None)
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false,"name":"fleet-jsapi-audit"}\r\n'
                          b"SUB $JS.EVENT.ADVISORY.API 1\r\nPING\r\n")
        self.buf = b""
        threading.Thread(target=self._run, daemon=True).start()

    @staticmethod
    def _line(sock):
        out = b""
        while not out.endswith(b"\r\n"):
            b = sock.recv(1)
            if not b:
                raise RuntimeError("the NATS server closed the connection")
            out += b
        return out

    def _read_line(self):
        while b"\r\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                return None
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read_n(self, n):
        while len(self.buf) < n + 2:
            d = self.sock.recv(65536)
            if not d:
                return None
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n + 2:]
        return out

    def _run(self):
        try:
            self._loop()
            self.ended = "the server closed the connection"
        except (OSError, ValueError) as e:
            self.ended = f"{type(e).__name__}: {e}"

    def _loop(self):
        while (line := self._read_line()) is not None:
            if line.startswith(b"PING"):
                self.sock.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                with self.lock:
                    self.protocol_errors.append(line.decode(errors="replace"))
            elif line.startswith(b"MSG "):
                body = self._read_n(int(line.split()[-1]))
                if body is None:
                    return
                self._take(body)

    def _take(self, body):
        try:
            adv = json.loads(body)
            answer = json.loads(adv.get("response") or "{}")
        except ValueError:
            return
        # The request's kind: the API subject without the stream or consumer it names.
        parts = (adv.get("subject") or "").split(".")
        kind = ".".join(parts[2:5] if len(parts) > 4 and parts[3] == "MSG" else parts[2:4])
        if kind == "STREAM.MSG.GET" and len(parts) > 5:
            kind += " " + ".".join(parts[5:])  # which stream: $MQTT_sess holds the MQTT sessions
        with self.lock:
            self.answers += 1
            err = answer.get("error")
            if err:
                key = (kind, err.get("code"), err.get("description", ""))
                self.errors[key] = self.errors.get(key, 0) + 1

    def healthy(self):
        """Why what was heard cannot be trusted (nothing heard, the server's -ERR, the
        reading stopped), or None."""
        with self.lock:
            if self.protocol_errors:
                return f"the server said {self.protocol_errors[:3]}"
            if self.ended:
                return f"the listener stopped: {self.ended}"
            if self.answers == 0:
                return "no JetStream API answer heard at all"
        return None

    def snapshot(self):
        """(answers heard, {(request, code, description): count})."""
        with self.lock:
            return self.answers, dict(self.errors)

    @staticmethod
    def since(before, after):
        """The errors heard between two snapshots, as 'request code description: n' strings,
        and how many of them are not a new MQTT session's lookup that found none."""
        (_, e0), (_, e1) = before, after
        diff = {k: n - e0.get(k, 0) for k, n in e1.items() if n - e0.get(k, 0) > 0}
        benign = ("STREAM.MSG.GET $MQTT_sess", 404, "no message found")
        other = sum(n for k, n in diff.items() if k != benign)
        words = [f"{k[0]} {k[1]} {k[2]}: {n}" for k, n in sorted(diff.items(), key=lambda kv: -kv[1])]
        return words, other
