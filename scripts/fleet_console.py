"""Console users beside the fleet campaign (issue 30, item 7), for scripts/fleet.py.

Each user does what the fleet page's script (central/assets/console.js) does: logs in
(one after another), loads the fleet page (every site's row), listens on the live stream
(`/events?rows=1`, as the page asks for it), and takes each word there (`sites`: the
changed sites' rows, at most one word a second) apart as the page puts the rows in place;
and every RELOAD seconds, or at once when the stream says changes were missed, loads the
whole page again, as a person switching back to the tab would. Page latencies are kept
with the time they began, so the campaign can leave out its fault windows; the words, the
rows and the bytes they came in are counted.
"""

import http.client
import json
import threading
import time
import urllib.parse

RELOAD = 30.0


class Users:
    def __init__(self, port, name, password, count):
        self.port, self.name, self.password, self.count = port, name, password, count
        self.lock = threading.Lock()
        self.pages = []  # (began, unix ms; took, ms)
        self.events = 0  # words heard (`sites` events)
        self.rows = 0  # rows put in place
        self.bytes = 0  # what the words came in
        self.errors = []
        self.stop = threading.Event()
        self.threads = []

    def start(self):
        # One after another, as people arrive: logins at once from one address for one
        # name are what the console's limiter slows down (counted before they are checked).
        for i in range(self.count):
            try:
                cookie = self.login()
            except Exception as e:  # noqa: BLE001 - every failure is counted and reported
                self.error(f"user {i}: {e}")
                continue
            t = threading.Thread(target=self.user, args=(i, cookie), daemon=True)
            t.start()
            self.threads.append(t)

    def finish(self):
        # A stream thread sees the stop at its next line (a keep-alive comes every 15 s);
        # the threads are daemons, so the campaign waits for them no longer than that.
        self.stop.set()
        deadline = time.time() + 20
        for t in self.threads:
            t.join(timeout=max(0.0, deadline - time.time()))

    def error(self, what):
        with self.lock:
            self.errors.append(what)

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def login(self):
        body = urllib.parse.urlencode({"name": self.name, "password": self.password})
        c = self.conn()
        c.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
        r = c.getresponse()
        r.read()
        cookie = r.getheader("Set-Cookie", "").split(";")[0]
        c.close()
        if r.status != 303 or not cookie:
            raise RuntimeError(f"login: {r.status}")
        return cookie

    def timed(self, into, c, path, headers):
        began = time.time()
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        body = r.read()
        took = (time.time() - began) * 1000
        if r.status != 200:
            raise RuntimeError(f"GET {path}: {r.status}")
        with self.lock:
            into.append((began * 1000, took))
        return body

    def user(self, i, cookie):
        missed = threading.Event()

        def reloader():
            # A new connection for each load, as a browser's after the console closed the
            # idle one (10 s, shorter than RELOAD); at once after `missed`, as the page's
            # script reads all it shows again.
            while not self.stop.is_set():
                c = self.conn()
                try:
                    self.timed(self.pages, c, "/", {"Cookie": cookie})
                except Exception as e:  # noqa: BLE001
                    self.error(f"page: {e}")
                c.close()
                until = time.time() + RELOAD
                while not self.stop.is_set() and not missed.is_set() and time.time() < until:
                    self.stop.wait(0.2)
                missed.clear()

        threading.Thread(target=reloader, daemon=True).start()
        while not self.stop.is_set():
            try:
                c = self.conn()
                c.request("GET", "/events?rows=1", headers={"Cookie": cookie})
                r = c.getresponse()
                if r.status != 200:
                    raise RuntimeError(f"/events: {r.status}")
                event = None
                while not self.stop.is_set():
                    raw = r.readline()
                    line = raw.decode().rstrip("\r\n")
                    if not line and r.isclosed():
                        break
                    if not line:
                        event = None  # an event ends at a blank line
                    elif line.startswith("event:"):
                        event = line.split(":", 1)[1].strip()
                        if event == "missed":
                            missed.set()
                    elif line.startswith("data:") and event == "sites":
                        # Each changed site's row, as the page puts it in place.
                        changed = json.loads(line.split(":", 1)[1])
                        rows = sum(1 for row in changed.values() if isinstance(row, str) and row.startswith("<tr"))
                        with self.lock:
                            self.events += 1
                            self.rows += rows
                            self.bytes += len(raw)
            except Exception as e:  # noqa: BLE001
                if not self.stop.is_set():
                    self.error(f"stream: {e}")
                    self.stop.wait(1)

    @staticmethod
    def quantiles(pairs, windows):
        ms = sorted(took for began, took in pairs if not any(a <= began <= b for a, b in windows))
        if not ms:
            return {"n": 0, "p50": None, "p99": None, "max": None}
        q = lambda p: round(ms[round((len(ms) - 1) * p)], 1)  # noqa: E731
        return {"n": len(ms), "p50": q(0.5), "p99": q(0.99), "max": round(ms[-1], 1)}

    def report(self, windows):
        with self.lock:
            return {
                "users": len(self.threads),
                "live_events": self.events,
                "live_rows": self.rows,
                "live_bytes": self.bytes,
                "page_ms": self.quantiles(self.pages, []),
                "page_outside_faults_ms": self.quantiles(self.pages, windows),
                "errors": len(self.errors),
                "first_errors": self.errors[:5],
            }
