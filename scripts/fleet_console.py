"""Console users beside the fleet campaign (issue 30, item 7), for scripts/fleet.py.

Each user does what the fleet page's script (central/assets/console.js) does: logs in
(one after another),
loads the fleet page (every site's row), listens on the live stream (/events), and for
each site named there fetches that site's row again (`/fragments/fleet?only=<site>`,
marked as the page's own fetch), with at most one fetch per site under way and what comes
meanwhile coalesced, at most FETCHERS at once (a browser's connections to one host, less
the stream's); and every RELOAD seconds, or at once when the stream says changes were
missed, loads the whole page again, as a person switching back to the tab would.
Latencies are kept with the time they began, so the campaign can leave out its fault
windows.
"""

import http.client
import threading
import time
import urllib.parse

FETCHERS = 5
RELOAD = 30.0


class Users:
    def __init__(self, port, name, password, count):
        self.port, self.name, self.password, self.count = port, name, password, count
        self.lock = threading.Lock()
        self.pages = []  # (began, unix ms; took, ms)
        self.rows = []
        self.events = 0
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
        changed, under_way = [], set()
        wake = threading.Condition()

        def fetcher():
            c = self.conn()
            while not self.stop.is_set():
                with wake:
                    # The first changed site not already being fetched (its change waits
                    # for the fetch under way, as console.js's once() does).
                    ready = lambda: next((x for x in changed if x not in under_way), None)  # noqa: E731
                    while ready() is None and not self.stop.is_set():
                        wake.wait(0.5)
                    if self.stop.is_set():
                        return
                    site = ready()
                    changed.remove(site)
                    under_way.add(site)
                path, headers = f"/fragments/fleet?only={site}", {"Cookie": cookie, "X-Portvakt-Live": "1"}
                try:
                    try:
                        self.timed(self.rows, c, path, headers)
                    except (http.client.RemoteDisconnected, ConnectionError):
                        # The console closed the idle connection (after 10 s): a browser
                        # sends the request again on a new one, and so does this.
                        c.close()
                        c = self.conn()
                        self.timed(self.rows, c, path, headers)
                except Exception as e:  # noqa: BLE001
                    self.error(f"row {site}: {e}")
                    c.close()
                    c = self.conn()
                with wake:
                    under_way.discard(site)
                    wake.notify_all()

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

        workers = [threading.Thread(target=fetcher, daemon=True) for _ in range(FETCHERS)]
        workers.append(threading.Thread(target=reloader, daemon=True))
        for w in workers:
            w.start()
        while not self.stop.is_set():
            try:
                c = self.conn()
                c.request("GET", "/events", headers={"Cookie": cookie})
                r = c.getresponse()
                if r.status != 200:
                    raise RuntimeError(f"/events: {r.status}")
                event = None
                while not self.stop.is_set():
                    line = r.readline().decode().rstrip("\r\n")
                    if not line and r.isclosed():
                        break
                    if not line:
                        event = None  # an event ends at a blank line
                    elif line.startswith("event:"):
                        event = line.split(":", 1)[1].strip()
                        if event == "missed":
                            missed.set()
                    elif line.startswith("data:") and event == "site":
                        site = line.split(":", 1)[1].strip()
                        with self.lock:
                            self.events += 1
                        with wake:
                            # One fetch per site at a time; one more after it at most.
                            if site not in changed:
                                changed.append(site)
                            wake.notify()
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
                "page_ms": self.quantiles(self.pages, []),
                "page_outside_faults_ms": self.quantiles(self.pages, windows),
                "row_ms": self.quantiles(self.rows, []),
                "row_outside_faults_ms": self.quantiles(self.rows, windows),
                "errors": len(self.errors),
                "first_errors": self.errors[:5],
            }
