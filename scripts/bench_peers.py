#!/usr/bin/env python3
"""The same work for Portvakt and for a peer written elsewhere, in one run: poll a Modbus
TCP device (a pymodbus server in this process) and publish input changes to mosquitto.

This process owns the device (unit 2: 4 coils, unit 3: 8 discrete inputs), flips input 1
of unit 3 at random moments, and listens on the broker with mosquitto_sub. Each gateway
is started in turn with the same registers and the same 50 ms poll; for each it reports
the CPU time and the resident memory of its process over the measuring window, and the
latency from each flip to the matching publish (Portvakt: `door/entrance/state`,
modbus2mqtt: `inputs/state/contact`). Run by scripts/bench-peers.sh, which installs the
peers. Usage:
  bench_peers.py --portvakt target/release/portvakt [--changes 300] [--out FILE]
"""
import argparse
import asyncio
import json
import os
import queue
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import StartAsyncTcpServer

import harness
from harness import cpu_seconds, free_port, percentile, rss_kib

ROOT = Path(__file__).resolve().parent.parent


def wait_port(port, what):
    if not harness.wait_port(port, what):
        sys.exit(f"bench: {what} does not listen on port {port}")


def device():
    def block(values):
        return ModbusSequentialDataBlock(1, values)  # address 1 of the block is protocol address 0

    return ModbusSlaveContext(di=block([False] * 16), co=block([False] * 16), hr=block([0] * 16), ir=block([0] * 16))


class Building:
    """The pymodbus server, on its own event loop in a thread."""

    def __init__(self):
        self.port = free_port()
        self.context = ModbusServerContext(slaves={2: device(), 3: device()}, single=False)
        threading.Thread(target=lambda: asyncio.run(self.serve()), daemon=True).start()
        wait_port(self.port, "the pymodbus server")

    async def serve(self):
        await StartAsyncTcpServer(context=self.context, address=("127.0.0.1", self.port))

    def set_contact(self, on):
        self.context[3].setValues(2, 0, [on])


class Listener:
    """mosquitto_sub on one topic; every line stamped when it is read."""

    def __init__(self, mqtt_port, topic):
        self.messages = queue.Queue()
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(mqtt_port), "-q", "1", "-t", topic],
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.proc.stdout:
            self.messages.put((time.monotonic(), line.strip()))

    def drain(self):
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def portvakt_peer(args, building, mqtt_port, work):
    text = (ROOT / "bench/peers/portvakt.toml").read_text()
    for key, value in {
        "@MODBUS@": f"127.0.0.1:{building.port}",
        "@MQTT@": f"127.0.0.1:{mqtt_port}",
        "@DIR@": str(work),
        "@SECRETS@": str(ROOT / "config/secrets"),
    }.items():
        text = text.replace(key, value)
    (work / "portvakt.toml").write_text(text)
    (work / "synchronized").write_text("")
    cmd = [args.portvakt, "--config", str(work / "portvakt.toml"), "run"]
    env = dict(os.environ, RUST_LOG="warn")
    return cmd, env, "portvakt/bench/door/entrance/state", lambda p: json.loads(p)["contact"] == "open"


def modbus2mqtt_peer(args, building, mqtt_port, work):
    cmd = [
        sys.executable, "-m", "modbus2mqtt", "--tcp", "127.0.0.1", "--tcp-port", str(building.port),
        "--mqtt-host", "127.0.0.1", "--mqtt-port", str(mqtt_port), "--config", str(ROOT / "bench/peers/modbus2mqtt.csv"),
        "--verbosity", "0",
    ]
    return cmd, dict(os.environ), "modbus/inputs/state/contact", lambda p: p == "True"


def run_peer(name, make, args, building):
    work = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    mqtt_port = free_port()
    (work / "mosquitto.conf").write_text(f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    broker = subprocess.Popen(["mosquitto", "-c", str(work / "mosquitto.conf")], stderr=subprocess.DEVNULL)
    wait_port(mqtt_port, "mosquitto")
    building.set_contact(False)
    cmd, env, topic, is_open = make(args, building, mqtt_port, work)
    listener = Listener(mqtt_port, topic)
    time.sleep(0.3)
    peer = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(work / "stderr.log", "w"))
    try:
        deadline = time.monotonic() + 20
        while not listener.messages.qsize():
            if time.monotonic() > deadline or peer.poll() is not None:
                sys.exit(f"bench: {name} published nothing on {topic}; see {work}/stderr.log")
            time.sleep(0.05)
        time.sleep(args.warmup)
        listener.drain()
        rss = []
        sampling = threading.Event()

        def sample():
            while not sampling.wait(0.25):
                rss.append(rss_kib(peer.pid))

        threading.Thread(target=sample, daemon=True).start()
        cpu0, t0 = cpu_seconds(peer.pid), time.monotonic()
        changes = []
        state = False
        for _ in range(args.changes):
            time.sleep(random.uniform(args.period * 0.5, args.period * 1.5))
            state = not state
            building.set_contact(state)
            changes.append((time.monotonic(), state))
        time.sleep(1.0)
        cpu1, t1 = cpu_seconds(peer.pid), time.monotonic()
        sampling.set()
        rss.append(rss_kib(peer.pid))
        seen = [(t, is_open(payload)) for t, payload in listener.drain()]
    finally:
        peer.send_signal(signal.SIGTERM)
        try:
            peer.wait(10)
        except subprocess.TimeoutExpired:
            peer.kill()
        listener.stop()
        broker.terminate()
        broker.wait()
    latencies, missed = [], 0
    for k, (at, value) in enumerate(changes):
        until = changes[k + 1][0] if k + 1 < len(changes) else float("inf")
        match = next((t for t, v in seen if at <= t < until and v == value), None)
        if match is None:
            missed += 1
        else:
            latencies.append((match - at) * 1000)
    window = t1 - t0
    return {
        "peer": name,
        "command": " ".join(cmd),
        "window_s": round(window, 1),
        "cpu_percent": round(100 * (cpu1 - cpu0) / window, 2),
        "rss_mib_max": round(max(rss) / 1024, 1),
        "rss_mib_median": round(statistics.median(rss) / 1024, 1),
        "changes": len(changes),
        "missed": missed,
        "latency_ms_p50": round(statistics.median(latencies), 1) if latencies else None,
        "latency_ms_p99": round(percentile(latencies, 99), 1) if latencies else None,
        "latency_ms_max": round(max(latencies), 1) if latencies else None,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--portvakt", required=True)
    ap.add_argument("--changes", type=int, default=300)
    ap.add_argument("--period", type=float, default=0.3, help="mean seconds between input changes")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--out")
    args = ap.parse_args()
    building = Building()
    results = [run_peer("portvakt", portvakt_peer, args, building), run_peer("modbus2mqtt", modbus2mqtt_peer, args, building)]
    ours, theirs = results
    ratios = {
        "cpu": round(theirs["cpu_percent"] / max(ours["cpu_percent"], 0.01), 1),
        "rss": round(theirs["rss_mib_max"] / ours["rss_mib_max"], 1),
        "p99": round(theirs["latency_ms_p99"] / ours["latency_ms_p99"], 2)
        if ours["latency_ms_p99"] and theirs["latency_ms_p99"]
        else None,
    }
    report = {"results": results, "peer_over_portvakt": ratios}
    print(json.dumps(report, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
