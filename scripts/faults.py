#!/usr/bin/env python3
"""Fault campaigns against the real `portvakt run` process. Each campaign breaks one thing
under load, checks the documented behaviour and prints its figures; any broken promise
ends the script with a non-zero status. Run by scripts/faults.sh (which installs
mosquitto, socat, faketime and pymodbus); `--long` runs the documented long versions.

  kill9    kill -9 at random moments while doors are used: no committed record lost, the
           chain verifies, every restart comes up
  broker   the broker stops for a long while, then flaps: doors keep being served, every
           record reaches the collector (which acknowledges), recovery time
  modbus   a device dies, answers garbage, its serial port vanishes: the daemon stays up
           and answers, reports the device offline, recovers when it comes back
  clock    boot at 1970, jumps forward and back: records say the clock is untrusted, doors
           are still served, trust returns when time sync confirms
  soak     steady traffic for a minute (an hour with --long): resident memory and open
           files stay flat after warm-up

Usage: faults.py --portvakt BIN [--admin BIN] [--long] [--soak-seconds S] [campaign ...]
"""
import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import harness
from harness import free_port, open_files, percentile, rss_kib

ROOT = Path(__file__).resolve().parent.parent
MOSQUITTO = "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else "mosquitto"
FIGURES = {}


def fail(message):
    print(f"FAULTS: BROKEN: {message}", file=sys.stderr)
    sys.exit(1)


def wait_port(port):
    if not harness.wait_port(port):
        fail(f"nothing listens on port {port}")


def ask(path, request, timeout=5.0):
    """One request on the control socket; the answer, or None when nobody answered."""
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            s.sendall(json.dumps(request).encode() + b"\n")
            line = s.makefile().readline()
        return json.loads(line) if line else None
    except (OSError, ValueError):
        return None


class Daemon:
    """`portvakt run` with its state in `work`, started and stopped as systemd would."""

    def __init__(self, args, work, config=None, simulate=True, env=None, prefix=()):
        self.args, self.work = args, Path(work)
        self.config = config or ROOT / "config/portvakt.toml"
        self.simulate, self.extra, self.prefix = simulate, env or {}, list(prefix)
        self.socket = self.work / "control.sock"
        self.db = self.work / "portvakt.db"
        (self.work / "synchronized").touch()
        self.proc = None

    def env(self):
        return dict(
            os.environ,
            RUST_LOG="warn",
            PORTVAKT__STORE__PATH=str(self.db),
            PORTVAKT__CREDENTIALS__INBOX=str(self.work / "inbox"),
            PORTVAKT__DAEMON__CONTROL_SOCKET=str(self.socket),
            PORTVAKT__CLOCK__SYNCHRONIZED_FLAG=str(self.work / "synchronized"),
            **self.extra,
        )

    def start(self):
        """Starts it; returns the seconds until the control socket answered."""
        cmd = self.prefix + [self.args.portvakt, "--config", str(self.config), "run"]
        if self.simulate:
            cmd.append("--simulate")
        started = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=self.env(), stdout=subprocess.DEVNULL,
                                     stderr=open(self.work / "daemon.log", "a"))
        while ask(self.socket, {"cmd": "status"}, 1.0) is None:
            if self.proc.poll() is not None:
                fail(f"the daemon exited with {self.proc.returncode}; see {self.work}/daemon.log")
            if time.monotonic() - started > 20:
                fail("the daemon did not answer within 20 s")
            time.sleep(0.02)
        return time.monotonic() - started

    def status(self):
        answer = ask(self.socket, {"cmd": "status"})
        return answer.get("status") if answer else None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(20)
            except subprocess.TimeoutExpired:
                fail("the daemon did not stop within 20 s of SIGTERM")
            if code != 0:
                fail(f"the daemon stopped with status {code}; see {self.work}/daemon.log")
        if "panicked" in (self.work / "daemon.log").read_text(errors="replace"):
            fail(f"the daemon panicked; see {self.work}/daemon.log")

    def records(self):
        """(seq, hash, trusted, kind) of every committed record, read as another process."""
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10) as db:
            return db.execute("SELECT seq, hex(hash), trusted, kind FROM audit ORDER BY seq").fetchall()

    def verify(self):
        out = subprocess.run([self.args.portvakt, "--config", str(self.config), "audit", "verify", "--db", str(self.db)],
                             env=self.env(), capture_output=True, text=True)
        if out.returncode != 0:
            fail(f"the audit chain does not verify: {out.stdout}{out.stderr}")


class Load:
    """People at the doors of the simulated building: codes, tags and the door opening,
    as fast as the daemon answers. Counts answers and their latency."""

    def __init__(self, daemon, doors=("entrance", "rubbish", "laundry"), people=4):
        self.daemon, self.doors = daemon, doors
        self.stop_flag = threading.Event()
        self.answered, self.unanswered, self.latencies = 0, 0, []
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(people)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join()

    def run(self):
        acts = [{"act": "code", "value": "1234"}, {"act": "tag", "value": "04A1B2C3D4"}, {"act": "open"}, {"act": "close"}]
        while not self.stop_flag.is_set():
            request = {"cmd": "sim", "door": random.choice(self.doors), "act": random.choice(acts)}
            t = time.monotonic()
            if ask(self.daemon.socket, request, 2.0) is None:
                self.unanswered += 1
                time.sleep(0.05)
            else:
                self.answered += 1
                self.latencies.append((time.monotonic() - t) * 1000)
            time.sleep(0.01)


def kill9(args, work):
    kills = 200 if args.long else 15
    d = Daemon(args, work)
    restarts, checked = [], 0
    for i in range(kills):
        restarts.append(d.start())
        with Load(d):
            time.sleep(random.uniform(0.2, 1.5))
            committed = d.records()  # what a reader saw committed, just before the kill
            d.kill9()
        after = {seq: h for seq, h, _, _ in d.records()}
        for seq, h, _, _ in committed:
            if after.get(seq) != h:
                fail(f"kill {i + 1}: record {seq} was committed before the kill and is gone or changed")
        seqs = sorted(after)
        if seqs != list(range(1, len(seqs) + 1)):
            fail(f"kill {i + 1}: the sequence has gaps")
        checked += len(committed)
        d.verify()
    d.start()
    d.stop()
    d.verify()
    total = len(d.records())
    FIGURES["kill9"] = {"kills": kills, "records": total, "committed_checked": checked, "lost": 0,
                        "chain": "verifies", "restart_to_answer_ms_median": round(statistics.median(restarts) * 1000),
                        "restart_to_answer_ms_max": round(max(restarts) * 1000)}


class Broker:
    def __init__(self, work):
        self.port, self.work = free_port(), Path(work)
        self.work.mkdir(exist_ok=True)
        (self.work / "mosquitto.conf").write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {self.work}/\nautosave_interval 1\n")
        os.chmod(self.work, 0o777)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.work / "mosquitto.conf")], stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Collector:
    """The municipality's side: a persistent QoS 1 session on `events` (mosquitto_sub,
    restarted whenever the broker drops it), keeping every sequence number seen, and
    acknowledging on `events/ack` everything up to the first gap (the gateway runs with
    `confirm = "collector"`, so a record leaves its outbox only when the collector has it;
    what the broker drops on the way, the gateway sends again). Acknowledgements are signed
    with the collector's key by `portvakt-admin ack`, bound to the record's hash and to the
    run of the chain the records name (`epoch.id`; docs/mqtt.md, Runs of the chain)."""

    def __init__(self, broker, prefix, admin, work):
        self.broker, self.prefix, self.seqs, self.stopping = broker, prefix, [], False
        self.hashes, self.admin, self.work, self.epoch = {}, admin, Path(work), None
        self.key = self.work / "collector.key"
        subprocess.run([admin, "keygen", "--out", str(self.key)], check=True, capture_output=True)
        self.public_key = subprocess.run([admin, "pubkey", "--key", str(self.key)], check=True, capture_output=True,
                                         text=True).stdout.strip()
        self.proc = None
        threading.Thread(target=self.run, daemon=True).start()
        threading.Thread(target=self.acknowledge, daemon=True).start()

    def acknowledge(self):
        told = 0
        ack = self.work / "ack.pvkt"
        while not self.stopping:
            time.sleep(0.5)
            have, through = set(self.seqs), told
            while through + 1 in have:
                through += 1
            if through > told:
                ack.unlink(missing_ok=True)
                run = ["--epoch", self.epoch] if self.epoch else []
                subprocess.run([self.admin, "ack", "--site", self.prefix.rsplit("/", 1)[-1], *run, "--through",
                                str(through), "--hash", self.hashes[through], "--key", str(self.key), "--out", str(ack)],
                               check=True, capture_output=True)
                sent = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.broker.port), "-q", "1",
                                       "-t", f"{self.prefix}/events/ack", "-f", str(ack)], capture_output=True)
                if sent.returncode == 0:
                    told = through

    def run(self):
        while not self.stopping:
            self.proc = subprocess.Popen(
                ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.broker.port), "-q", "1", "-c", "-i", "collector",
                 "-t", f"{self.prefix}/events"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for line in self.proc.stdout:
                try:
                    record = json.loads(line)
                    self.hashes[record["seq"]] = record["hash"]
                    self.seqs.append(record["seq"])
                    self.epoch = (record.get("epoch") or {}).get("id", self.epoch)
                except (ValueError, KeyError):
                    pass
            self.proc.wait()
            time.sleep(0.1)

    def stop(self):
        self.stopping = True
        if self.proc:
            self.proc.terminate()


def drained(d, within):
    """Seconds until the outbox is empty, or None."""
    t = time.monotonic()
    while time.monotonic() - t < within:
        s = d.status() or {}
        if (s.get("uplink") or {}).get("connected") and (s.get("store") or {}).get("outbox_depth") == 0:
            return time.monotonic() - t
        time.sleep(0.05)
    return None


def reporting(args, work):
    """A broker, an acknowledging collector, and a started daemon reporting to them in
    collector mode (a record leaves the outbox only when the collector has it)."""
    b = Broker(Path(work) / "broker")
    b.start()
    collector = Collector(b, "portvakt/storgatan-12", args.admin, work)
    d = Daemon(args, Path(work), env={"PORTVAKT__UPLINK__BROKER": f"mqtt://127.0.0.1:{b.port}",
                                      "PORTVAKT__UPLINK__ALLOW_PLAINTEXT": "true",
                                      "PORTVAKT__UPLINK__CONFIRM": "collector",
                                      "PORTVAKT__UPLINK__COLLECTOR_KEY": collector.public_key})
    d.start()
    return b, collector, d


def broker(args, work):
    outage, flaps = (600, 60) if args.long else (15, 8)
    b, collector, d = reporting(args, work)
    time.sleep(2)
    with Load(d) as load:
        time.sleep(2)
        b.stop()
        before = (load.answered, len(load.latencies))
        time.sleep(outage)
        served_during_outage = load.answered - before[0]
        outage_latencies = load.latencies[before[1]:]
        b.start()
        recovery = drained(d, 120)
        if recovery is None:
            fail("the outbox did not drain within 120 s of the broker's return")
        for _ in range(flaps):
            b.stop()
            time.sleep(random.uniform(0.5, 2.0))
            b.start()
            time.sleep(random.uniform(0.5, 2.0))
    flap_recovery = drained(d, 120)
    if flap_recovery is None:
        fail("the outbox did not drain within 120 s after the flapping")
    d.stop()
    time.sleep(1)
    collector.stop()
    b.stop()
    stored = [seq for seq, _, _, _ in d.records()]
    got = set(collector.seqs)
    missing = [s for s in stored if s not in got]
    # The records of the stop itself leave during the last drain; all before must be there.
    if [s for s in missing if s < stored[-1] - 1]:
        fail(f"{len(missing)} record(s) never reached the collector: {missing[:10]}")
    if served_during_outage == 0:
        fail("no door request was answered while the broker was away")
    FIGURES["broker"] = {"outage_s": outage, "flaps": flaps, "records": len(stored),
                         "reached_collector": len(got & set(stored)), "lost": 0,
                         "door_requests_answered_during_outage": served_during_outage,
                         "door_answer_ms_p99_during_outage": round(percentile(outage_latencies, 99), 1),
                         "outbox_drained_s_after_return": round(recovery, 2),
                         "outbox_drained_s_after_flapping": round(flap_recovery, 2),
                         "duplicates_seen": len(collector.seqs) - len(got)}


def device_online(d, unit):
    s = d.status() or {}
    for bus in s.get("buses", []):
        dev = bus.get("devices", {}).get(str(unit))
        if dev is not None:
            return dev.get("online")
    return None


def until(pred, within, what):
    t = time.monotonic()
    while time.monotonic() - t < within:
        if pred():
            return time.monotonic() - t
        time.sleep(0.05)
    fail(f"{what} did not happen within {within} s")


def garbage_server(port, stop):
    """Answers every request with random bytes."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen()
    srv.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        conn.settimeout(0.2)
        while not stop.is_set():
            try:
                if not conn.recv(256):
                    break
                conn.sendall(os.urandom(random.randint(1, 300)))
            except socket.timeout:
                continue
            except OSError:
                break
        conn.close()
    srv.close()


def outage(d, what, take_away, bring_back, down):
    """Takes a device away, times until the daemon reports it offline, checks that the
    daemon stays up and answering for `down` seconds, brings the device back and times
    until it is online again. Returns both times in seconds."""
    take_away()
    noticed = until(lambda: device_online(d, 3) is False, 10, f"{what}: offline noticed")
    time.sleep(down)
    if d.proc.poll() is not None or d.status() is None:
        fail(f"{what}: the daemon died or stopped answering")
    bring_back()
    online = until(lambda: device_online(d, 3) is True, 30, f"{what}: online again")
    return round(noticed, 2), round(online, 2)


def rtu_cycle(d, seconds=3.0):
    """The measured request cycle on the serial line: requests per second over every device
    of the bus (as the daemon counts them), and the median of the last latencies seen."""

    def sample():
        devices = ((d.status() or {}).get("buses") or [{}])[0].get("devices", {})
        return sum(v.get("requests", 0) for v in devices.values()), [v.get("last_latency_us") for v in devices.values()]

    n0, _ = sample()
    t0 = time.monotonic()
    latencies = []
    while time.monotonic() - t0 < seconds:
        latencies += [x for x in sample()[1] if x]
        time.sleep(0.1)
    n1, _ = sample()
    per_request = (time.monotonic() - t0) / max(1, n1 - n0)
    return {"cycle": round(per_request * 1000, 2), "reply_latency_median": round(statistics.median(latencies) / 1000, 2)}


def modbus(args, work):
    work = Path(work)
    down = 30 if args.long else 5
    python = args.python
    port = free_port()
    building = ROOT / "tests/interop/pymodbus_building.py"

    def tcp_device():
        p = subprocess.Popen([python, str(building), "tcp", str(port)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        wait_port(port)
        return p

    text = (ROOT / "bench/peers/portvakt.toml").read_text()
    for k, v in {"@MODBUS@": f"127.0.0.1:{port}", "@MQTT@": "127.0.0.1:1", "@DIR@": str(work),
                 "@SECRETS@": str(ROOT / "config/secrets")}.items():
        text = text.replace(k, v)
    text = text.split("[uplink]")[0]
    (work / "tcp.toml").write_text(text)
    peers = {"device": tcp_device()}

    def device_gone():
        peers["device"].kill()
        peers["device"].wait()

    def device_back():
        peers["device"] = tcp_device()

    d = Daemon(args, work, config=work / "tcp.toml", simulate=False)
    d.start()
    until(lambda: device_online(d, 3) is True, 10, "the input module online")
    figures = {}
    # The device dies (kill -9), then comes back.
    figures["device_dies_noticed_s"], figures["device_back_online_s"] = outage(
        d, "a dead device", device_gone, device_back, down)

    # Garbage instead of Modbus, then the real device again.
    def garbage():
        device_gone()
        peers["stop"] = threading.Event()
        peers["garbage"] = threading.Thread(target=garbage_server, args=(port, peers["stop"]), daemon=True)
        peers["garbage"].start()

    def real_again():
        peers["stop"].set()
        peers["garbage"].join()
        device_back()

    figures["garbage_noticed_s"], figures["after_garbage_online_s"] = outage(d, "garbage", garbage, real_again, down)
    d.stop()
    peers["device"].kill()
    # The serial port vanishes: RTU over a socat pseudo-terminal pair that is taken away.
    a, b = work / "pty-a", work / "pty-b"

    def line_gone():
        for p in (peers["line"], peers["device"]):
            p.kill()
            p.wait()

    def line_back():
        peers["line"] = subprocess.Popen(["socat", f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
                                         stderr=subprocess.DEVNULL)
        until(lambda: a.exists() and b.exists(), 5, "the pseudo-terminals")
        peers["device"] = subprocess.Popen([python, str(building), "rtu", str(a)], stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL)

    # Polled as fast as the line allows (1 ms), so the request cycle measured is the line's.
    rtu = text.replace(f'kind = "tcp"\naddress = "127.0.0.1:{port}"',
                       f'kind = "rtu"\ndevice = "{b}"\nbaud = 9600\nparity = "none"')
    rtu = rtu.replace('poll_interval = "50ms"', 'poll_interval = "1ms"')
    (work / "rtu.toml").write_text(rtu)
    line_back()
    d = Daemon(args, work, config=work / "rtu.toml", simulate=False)
    d.start()
    until(lambda: device_online(d, 3) is True, 20, "the RTU input module online")
    figures["rtu_request_cycle_ms"] = rtu_cycle(d)
    figures["serial_vanishes_noticed_s"], figures["serial_back_online_s"] = outage(
        d, "a vanished serial port", line_gone, line_back, down)
    d.stop()
    line_gone()
    kinds = [k for _, _, _, k in d.records()]
    if not any(k.startswith("bus.") or "device" in k for k in kinds):
        fail(f"no bus or device record in the audit log: {sorted(set(kinds))}")
    d.verify()
    figures["down_s"] = down
    FIGURES["modbus"] = figures


def clock(args, work):
    work = Path(work)
    offset_file = work / "faketime"
    flag = work / "synchronized"
    lib = next((p for p in ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                            "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1"] if Path(p).exists()), None)
    if lib is None:
        fail("libfaketime is not installed (scripts/faults.sh installs it as root)")
    since_epoch = int(time.time())
    offset_file.write_text(f"-{since_epoch}\n")  # boot at 1970
    env = {"LD_PRELOAD": lib, "FAKETIME_TIMESTAMP_FILE": str(offset_file), "FAKETIME_NO_CACHE": "1",
           "FAKETIME_DONT_FAKE_MONOTONIC": "1", "FAKETIME_DONT_RESET": "1"}
    d = Daemon(args, work, env=env)
    d.start()

    def synced(offset):
        """Time sync touches its flag, in the (shifted) time it just set."""
        at = time.time() + offset
        os.utime(flag, (at, at))

    def trust():
        return ((d.status() or {}).get("gateway") or {}).get("clock", {}).get("trust")

    figures = {"boot_1970_trust": trust()}
    if figures["boot_1970_trust"] == "trusted":
        fail("booted at 1970 and the clock is trusted")
    with Load(d) as load:
        time.sleep(2)
        served_1970 = load.answered
        # Time sync sets the clock and touches the flag.
        offset_file.write_text("+0\n")
        synced(0)
        figures["sync_to_trusted_s"] = round(until(lambda: trust() == "trusted", 10, "trust after sync"), 2)
        # Back one hour (a wrong or spoofed sync): before the floor, so untrusted, and
        # a sync flag does not help until the clock is past the floor again.
        offset_file.write_text("-3600\n")
        figures["back_1h_untrusted_after_s"] = round(until(lambda: trust() != "trusted", 10, "jump back noticed"), 2)
        synced(-3600)
        time.sleep(3)
        if trust() == "trusted":
            fail("a clock set back behind the floor was trusted again on a sync flag")
        figures["back_1h_still_untrusted_after_sync"] = True
        offset_file.write_text("+0\n")  # time sync puts it right
        time.sleep(1)
        synced(0)
        figures["corrected_trusted_again_s"] = round(until(lambda: trust() == "trusted", 10, "trust after correction"), 2)
        # Forward one day: untrusted as a jump until time sync confirms the new time.
        offset_file.write_text("+86400\n")
        figures["forward_1d_untrusted_after_s"] = round(until(lambda: trust() != "trusted", 10, "jump forward noticed"), 2)
        time.sleep(1)
        synced(86400)
        figures["forward_1d_trusted_after_sync_s"] = round(until(lambda: trust() == "trusted", 10, "trust after sync"), 2)
        served = load.answered
    d.stop()
    records = d.records()
    untrusted = sum(1 for _, _, t, _ in records if not t)
    if served_1970 == 0 or served == 0:
        fail("doors were not served while the clock was wrong")
    if untrusted == 0:
        fail("no record says its time was untrusted")
    d.verify()
    figures.update({"door_requests_answered_at_1970": served_1970, "door_requests_answered": served,
                    "records": len(records), "records_marked_untrusted": untrusted, "lost": 0, "chain": "verifies"})
    FIGURES["clock"] = figures


def soak(args, work):
    """Steady traffic (people at the doors, every record to a broker and a collector) for
    a while; resident memory and open files are sampled and must stay flat."""
    seconds = args.soak_seconds or (3600 if args.long else 60)
    b, collector, d = reporting(args, work)
    samples = []
    with Load(d, people=2) as load:
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            time.sleep(min(10.0, seconds / 12))
            samples.append((time.monotonic() - t0, rss_kib(d.proc.pid), open_files(d.proc.pid)))
        answered = load.answered
    d.stop()
    collector.stop()
    b.stop()
    warm = samples[len(samples) // 4]  # after the first quarter: caches and pools filled
    last = samples[-1]
    rss_growth = last[1] - warm[1]
    if rss_growth > max(2048, warm[1] * 15 // 100):  # caches fill for a while; a leak keeps going
        fail(f"resident memory grew {rss_growth} KiB after warm-up ({warm[1]} -> {last[1]} KiB)")
    if last[2] > warm[2] + 2:
        fail(f"open files grew from {warm[2]} to {last[2]}")
    FIGURES["soak"] = {"seconds": seconds, "door_requests_answered": answered, "records": len(d.records()),
                       "rss_kib_after_warmup": warm[1], "rss_kib_end": last[1], "rss_kib_max": max(x[1] for x in samples),
                       "fds_after_warmup": warm[2], "fds_end": last[2], "fds_max": max(x[2] for x in samples)}


CAMPAIGNS = {"kill9": kill9, "broker": broker, "modbus": modbus, "clock": clock, "soak": soak}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--portvakt", required=True)
    ap.add_argument("--admin", help="portvakt-admin (signs the collector's acknowledgements); beside --portvakt")
    ap.add_argument("--python", default=sys.executable, help="a Python with pymodbus, for the devices")
    ap.add_argument("--long", action="store_true")
    ap.add_argument("--soak-seconds", type=float, help="how long the soak runs (60, or 3600 with --long)")
    ap.add_argument("--out")
    ap.add_argument("campaigns", nargs="*", default=list(CAMPAIGNS))
    args = ap.parse_args()
    args.admin = args.admin or str(Path(args.portvakt).with_name("portvakt-admin"))
    for name in args.campaigns:
        with tempfile.TemporaryDirectory(prefix=f"faults-{name}-") as work:
            started = time.monotonic()
            print(f"== faults: {name}", flush=True)
            CAMPAIGNS[name](args, work)
            print(json.dumps(FIGURES[name]), f"({time.monotonic() - started:.0f} s)", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(FIGURES, indent=2) + "\n")


if __name__ == "__main__":
    main()
