"""The peers of the fleet campaign (scripts/fleet.py), each started for real: a throwaway
PostgreSQL on a Unix socket, a three-node NATS JetStream cluster with TLS (client
certificates mapped to users, an MQTT listener per node), the certificates they use; and
the small helpers that start and watch processes."""

import json
import os
import socket
import subprocess
import sys
import time

import free_port as ports

PROCS = []


def log(msg):
    print(msg, flush=True)


def fail(msg):
    print(f"fleet: FAILED: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def free_port():
    """A free loopback port (scripts/free_port.py)."""
    return ports.free_port()


def wait_port(port, limit=30):
    until = time.time() + limit
    while time.time() < until:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    fail(f"nothing listens on {port}")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def spawn(cmd, logfile, **kw):
    f = open(logfile, "ab")
    p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, **kw)
    PROCS.append(p)
    return p


def as_pg(cmd):
    return ["runuser", "-u", "postgres", "--"] + cmd if os.geteuid() == 0 else cmd


class Postgres:
    def __init__(self, work, profile=False):
        self.profile = profile
        bins = sorted(
            (d for d in os.listdir("/usr/lib/postgresql") if os.path.exists(f"/usr/lib/postgresql/{d}/bin/initdb")),
            key=int,
        )
        self.bin = f"/usr/lib/postgresql/{bins[-1]}/bin"
        self.data, self.sock = f"{work}/pg", f"{work}/sock"
        os.makedirs(self.data)
        os.makedirs(self.sock)
        if os.geteuid() == 0:
            run(["chown", "postgres", self.data, self.sock])
        run(as_pg([f"{self.bin}/initdb", "-A", "trust", "-U", "portvakt", "-D", self.data]))
        self.start()
        run(as_pg([f"{self.bin}/createdb", "-h", self.sock, "-U", "portvakt", "portvakt"]))
        self.url = f"host={self.sock} user=portvakt dbname=portvakt"

    def ctl(self, *args):
        opts = f"-k {self.sock} -c listen_addresses='' -c max_connections=50"
        if self.profile:
            opts += " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on"
        run(as_pg([f"{self.bin}/pg_ctl", "-D", self.data, "-o", opts, "-l", f"{self.data}/log", "-w", *args]))

    def start(self):
        self.ctl("start")

    def restart(self):
        self.ctl("-m", "fast", "restart")

    def stop(self):
        if getattr(self, "session", None) is not None:
            self.session.kill()
        try:
            self.ctl("-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass

    def sql(self, q):
        out = run(as_pg([f"{self.bin}/psql", "-h", self.sock, "-U", "portvakt", "-d", "portvakt", "-tAq", "-c", q]))
        return out.strip()

    def count(self, q):
        """An integer the query returns, asked on one long-lived psql session (a poll every
        100 ms would otherwise start a process each time, beside what it measures)."""
        if getattr(self, "session", None) is None or self.session.poll() is not None:
            self.session = subprocess.Popen(
                as_pg([f"{self.bin}/psql", "-h", self.sock, "-U", "portvakt", "-d", "portvakt", "-tAq", "-v", "ON_ERROR_STOP=0"]),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.session.stdin.write(f"{q};\n\\echo --end--\n")
        self.session.stdin.flush()
        lines = []
        while (line := self.session.stdout.readline().strip()) != "--end--":
            if line == "" and self.session.poll() is not None:
                break
            lines.append(line)
        return int(lines[0]) if lines and lines[0].lstrip("-").isdigit() else 0

    def throughs(self):
        rows = self.sql("SELECT site || ' ' || through FROM current_chains")
        return {s: int(t) for s, t in (line.split() for line in rows.splitlines() if line)}


def certificates(work):
    def key(name):
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{work}/{name}.key"])

    key("ca")
    run(["openssl", "req", "-x509", "-new", "-key", f"{work}/ca.key", "-sha256", "-days", "30", "-subj", "/CN=Portvakt fleet CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", f"{work}/ca.crt"])
    for name, ext in [
        ("server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n"),
        ("fleet", "subjectAltName=DNS:fleet\nextendedKeyUsage=clientAuth\n"),
        ("collector", "subjectAltName=DNS:collector\nextendedKeyUsage=clientAuth\n"),
    ]:
        key(name)
        run(["openssl", "req", "-new", "-key", f"{work}/{name}.key", "-subj", f"/CN={name}", "-out", f"{work}/{name}.csr"])
        with open(f"{work}/{name}.ext", "w") as f:
            f.write("basicConstraints=CA:FALSE\n" + ext)
        run(["openssl", "x509", "-req", "-in", f"{work}/{name}.csr", "-CA", f"{work}/ca.crt", "-CAkey", f"{work}/ca.key",
             "-CAcreateserial", "-days", "30", "-sha256", "-extfile", f"{work}/{name}.ext", "-out", f"{work}/{name}.crt"])
    for f in os.listdir(work):
        if f.endswith(".key"):
            os.chmod(f"{work}/{f}", 0o600)


class Cluster:
    def __init__(self, work):
        self.work = work
        self.ports = [(free_port(), free_port(), free_port()) for _ in range(3)]
        self.monitors = [free_port() for _ in range(3)]
        routes = ", ".join(f"nats-route://127.0.0.1:{r}" for _, r, _ in self.ports)
        tls = (f'cert_file: "{work}/server.crt", key_file: "{work}/server.key", ca_file: "{work}/ca.crt", '
               "verify_and_map: true")
        self.procs = [None] * 3
        for i, (client, route, mqtt) in enumerate(self.ports):
            with open(f"{work}/n{i + 1}.conf", "w") as f:
                f.write(f"""server_name: n{i + 1}
listen: 127.0.0.1:{client}
http: 127.0.0.1:{self.monitors[i]}
jetstream {{ store_dir: "{work}/n{i + 1}" }}
cluster {{ name: portvakt, listen: 127.0.0.1:{route}, routes: [{routes}] }}
tls {{ {tls} }}
mqtt {{ listen: 127.0.0.1:{mqtt}, tls {{ {tls} }} }}
authorization {{
  users: [
    {{ user: "collector", permissions: {{ publish: [">"], subscribe: [">"] }} }}
    {{ user: "fleet", permissions: {{ publish: ["portvakt.>"], subscribe: ["portvakt.>", "$MQTT.sub.>"] }} }}
  ]
}}
""")
        for i in range(3):
            self.start(i)

    def start(self, i):
        self.procs[i] = spawn(["nats-server", "-c", f"{self.work}/n{i + 1}.conf"], f"{self.work}/n{i + 1}.log")
        wait_port(self.ports[i][0])
        wait_port(self.ports[i][2])

    def kill(self, i):
        self.procs[i].kill()
        self.procs[i].wait()

    def drops(self):
        """The nodes' own word that the JetStream API queue overflowed and dropped requests
        ("JetStream API queue limit reached, dropping N requests"; the info queue alike):
        the lines, and the requests they name."""
        lines = []
        for i in range(3):
            try:
                with open(f"{self.work}/n{i + 1}.log", errors="replace") as f:
                    lines += [line.strip() for line in f if "queue limit reached" in line]
            except FileNotFoundError:
                pass
        dropped = sum(int(w) for line in lines for w, nxt in zip(line.split(), line.split()[1:] + [""])
                      if w.isdigit() and nxt.startswith("request"))
        return len(lines), dropped

    def jetstream(self):
        """Consumers (every stream's, the cluster's view from n1) and JetStream API
        requests and errors, from the monitoring endpoint."""
        import urllib.request
        url = f"http://127.0.0.1:{self.monitors[0]}/jsz?accounts=true&streams=true&consumers=true"
        with urllib.request.urlopen(url, timeout=10) as r:
            jsz = json.load(r)
        consumers = sum(len(st.get("consumer_detail") or []) for acc in jsz.get("account_details") or []
                        for st in acc.get("stream_detail") or [])
        api = jsz.get("api") or {}
        return consumers, api.get("total", 0), api.get("errors", 0)

    def client_urls(self, first):
        return ",".join(f"tls://localhost:{self.ports[(first + k) % 3][0]}" for k in range(3))

    def mqtt_urls(self):
        return ",".join(f"mqtts://localhost:{m}" for _, _, m in self.ports)
