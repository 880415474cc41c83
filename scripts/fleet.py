#!/usr/bin/env python3
"""The fleet campaign (issue 18, item 8), driven by scripts/fleet.sh.

A three-node NATS JetStream cluster (Debian's nats-server, TLS with certificates mapped to
users), a throwaway PostgreSQL, two `portvakt-central collect --nats` instances, and a fleet
of gateways from the `fleet` example: `--real` of them the gateway's own store and uplink,
the rest generated on the gateway's chain and payload code. Phases:

  A  no collector: the generated sites publish a burst each; the cluster's PUBACK rate.
  B  the collectors start and take that backlog into PostgreSQL: Central's ingest rate.
  C  the whole fleet publishes steadily while, one after another, a NATS node is killed
     with SIGKILL and restarted, a collector is killed with SIGKILL and restarted,
     PostgreSQL is restarted, and the real gateways' process is killed with SIGKILL and
     restarted; after each, the time until every site's records up to that moment are
     acknowledged.
     Meanwhile --console-users people have the console's live fleet page open
     (scripts/fleet_console.py): page loads timed, live words and rows counted.
  D  production stops; every site's gap-free point in PostgreSQL must equal the gateway's
     last committed record, no chain broken, nothing equivocated or refused, and
     `portvakt-central verify` intact for every site.

Prints the figures and writes them as JSON (--out).
"""

import argparse
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time

from fleet_console import Users
from fleet_jsapi import ApiAudit
from fleet_peers import PROCS, Cluster, Postgres, certificates, fail, free_port, log, run, spawn, wait_port
from fleet_stats import Sampler, cpu_by_program, latency, slow_profile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gateways", type=int, default=1000)
    ap.add_argument("--real", type=int, default=100)
    ap.add_argument("--burst", type=int, default=5, help="records per generated site in phase A")
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between a site's records in phase C")
    ap.add_argument("--settle", type=float, default=20.0, help="seconds of steady load before each fault")
    ap.add_argument("--limit", type=float, default=300.0, help="seconds a drain may take before the run fails")
    ap.add_argument("--console-users", type=int, default=50, help="console users on the live fleet page in phase C")
    ap.add_argument("--bin", default="target/release")
    ap.add_argument("--out", default="target/fleet.json")
    ap.add_argument("--backlog-only", action="store_true", help="stop after phase B (to measure ingest alone)")
    ap.add_argument("--profile", action="store_true",
                    help="phase B profiled: PostgreSQL's statements (pg_stat_statements) and, with perf, every process")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    work = tempfile.mkdtemp(prefix="pv-fleet.")
    os.chmod(work, 0o755)
    pg = None
    try:
        certificates(work)
        cluster = Cluster(work)
        pg = Postgres(work, args.profile)
        log(f"== fleet: {args.gateways} gateways ({args.real} real store + uplink, "
            f"{args.gateways - args.real} generated), three NATS nodes with TLS, PostgreSQL on a socket")
        report = campaign(args, work, cluster, pg)
        with open(args.out, "w") as f:
            json.dump(report, f, indent=2)
        log(f"fleet: ok (figures in {args.out})")
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
        if pg:
            pg.stop()
        if os.environ.get("KEEP_WORK"):
            log(f"(kept: {work})")
        else:
            subprocess.run(["rm", "-rf", work])


def campaign(args, work, cluster, pg):
    central = f"{args.bin}/portvakt-central"
    fleet = f"{args.bin}/examples/fleet"
    run([f"{args.bin}/portvakt-admin", "keygen", "--out", f"{work}/signing.key"])
    collector_pub = open(f"{work}/signing.key.pub").read().strip()
    tls = ["--ca", f"{work}/ca.crt", "--cert", f"{work}/collector.crt", "--cert-key", f"{work}/collector.key"]
    collectors = {}

    def collector(name, first):
        collectors[name] = spawn([central, "collect", "--db", pg.url, "--nats", cluster.client_urls(first), *tls,
                                  "--signing-key", f"{work}/signing.key", "--client-id", name],
                                 f"{work}/collector-{name}.log", env={**os.environ, "RUST_LOG": os.environ.get("COLLECTOR_LOG", "warn")})

    generated = args.gateways - args.real
    common = ["--brokers", cluster.mqtt_urls(), "--ca", f"{work}/ca.crt", "--cert", f"{work}/fleet.crt",
              "--key", f"{work}/fleet.key", "--collector-key", collector_pub, "--dir", f"{work}/fleet"]
    audit = ApiAudit(cluster.ports[0][0], f"{work}/ca.crt", f"{work}/collector.crt", f"{work}/collector.key")
    # The collectors make the streams; before them the cluster keeps nothing of a publish.
    run([central, "migrate", "--db", pg.url])
    p = spawn([central, "collect", "--db", pg.url, "--nats", cluster.client_urls(0), *tls,
               "--signing-key", f"{work}/signing.key", "--client-id", "maker"], f"{work}/collector-maker.log")
    for _ in range(300):
        if "collecting from streams" in open(f"{work}/collector-maker.log").read():
            break
        time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    p.wait()

    log(f"== A: no collector: {generated} generated sites publish {args.burst} records each (QoS 1, TLS)")
    cpu_a0, children_a0 = cpu_by_program(), resource.getrusage(resource.RUSAGE_CHILDREN)
    out = run([fleet, "--mode", "generated", "--first", str(args.real + 1), "--count", str(generated),
               "--burst", str(args.burst), *common], timeout=600)
    log("   " + out.strip())
    # The whole of phase A's process (its 900 connections made, then the burst), beside the nodes.
    children_a1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    fleet_cpu_a = (children_a1.ru_utime + children_a1.ru_stime) - (children_a0.ru_utime + children_a0.ru_stime)
    cpu_a = {k: round(v - cpu_a0.get(k, 0), 2) for k, v in cpu_by_program().items() if v - cpu_a0.get(k, 0) >= 0.05}
    cpu_a = {"fleet (connecting, then the burst)": round(fleet_cpu_a, 2), **dict(sorted(cpu_a.items(), key=lambda kv: -kv[1]))}
    log(f"   CPU seconds in phase A by program: {cpu_a}")
    intake = float(out.split(":")[-1].split()[0])
    backlog = generated * args.burst

    log("== B: two collectors take the backlog into PostgreSQL")
    sampler = Sampler()
    cpu_b0 = cpu_by_program()
    perf = None
    if args.profile and shutil.which("perf"):
        perf = subprocess.Popen(["perf", "record", "-F", "499", "-a", "-g", "-o", "target/fleet-perf.data"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    collector("central-1", 0)
    collector("central-2", 1)
    first = None  # (time, stored) when the collectors' first records showed
    while True:
        stored = pg.count("SELECT count(*) FROM records")
        sampler.sample(collectors.values())
        if first is None and stored > 0:
            first = (time.time(), stored)
        if stored >= backlog:
            break
        if time.time() - t0 > args.limit:
            fail(f"the backlog was not taken within {args.limit} s: {stored} of {backlog}")
        time.sleep(0.1)
    drain_b = time.time() - t0
    ingest = (backlog - first[1]) / max(time.time() - first[0], 1e-3)
    cpu_b1 = cpu_by_program()
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait()
        log("   perf: target/fleet-perf.data (perf report -i target/fleet-perf.data --sort comm,dso)")
    # Where phase B's CPU went (processes alive at both ends; short-lived psql calls left out).
    cpu_b = {k: round(v - cpu_b0.get(k, 0), 2) for k, v in cpu_b1.items() if v - cpu_b0.get(k, 0) >= 0.05}
    cpu_b = dict(sorted(cpu_b.items(), key=lambda kv: -kv[1]))
    log(f"   {backlog} records committed to PostgreSQL {drain_b:.1f} s after the collectors started; "
        f"{ingest:.0f} records/s once they ran; {ingest / intake:.2f} of the cluster's PUBACK rate without a collector")
    log(f"   CPU seconds in phase B by program ({drain_b:.1f} s on {os.cpu_count()} cores): {cpu_b}")
    if args.profile:
        pg.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        log("   PostgreSQL's statements in phase B, by time (execution ms, planning ms, calls, rows):")
        log(pg.sql("SELECT '     ' || round(total_exec_time) || ' / ' || round(total_plan_time) || ' / ' || calls || ' / '"
                   " || rows || '  ' || left(regexp_replace(query, '\\s+', ' ', 'g'), 80) FROM pg_stat_statements"
                   " WHERE query NOT LIKE 'CREATE%' ORDER BY total_exec_time DESC LIMIT 8"))
    if args.backlog_only:
        return {"intake_no_collector_msgs_s": round(intake), "backlog": backlog, "ingest_records_s": round(ingest),
                "ratio_ingest_to_intake": round(ingest / intake, 2), "backlog_drain_s": round(drain_b, 1),
                "phase_a_cpu_s": cpu_a, "phase_b_cpu_s": cpu_b}

    log(f"== C: the whole fleet, one record per site every {args.interval:g} s, with faults")
    drivers = {}

    def driver(mode):
        first, count = (1, args.real) if mode == "real" else (args.real + 1, generated)
        extra = ["--start", str(args.burst + 1)] if mode == "generated" else []
        drivers[mode] = spawn([fleet, "--mode", mode, "--first", str(first), "--count", str(count),
                               "--interval-ms", str(int(args.interval * 1000)), *extra, *common], f"{work}/fleet-{mode}.log")

    # The console, with its users on the live fleet page through phase C.
    console_port = free_port()
    password = "fleet-console-" + os.urandom(8).hex()
    subprocess.run([central, "account", "add", "--db", pg.url, "--name", "operator", "--role", "administrator"],
                   input=password + "\n", text=True, check=True, capture_output=True)
    spawn([central, "serve", "--db", pg.url, "--listen", f"127.0.0.1:{console_port}"], f"{work}/console.log",
          env={**os.environ, "RUST_LOG": "warn"})
    wait_port(console_port)
    users = Users(console_port, "operator", password, args.console_users)

    nodes = Sampler()  # the NATS nodes' peak RSS
    cpu_c0, by_program_c0 = sampler.cpu_seconds(), cpu_by_program()
    t_c = time.time()
    driver("real")
    driver("generated")

    def status():
        sites = {}
        for mode in ("real", "generated"):
            try:
                with open(f"{work}/fleet/status-{mode}.json") as f:
                    sites.update(json.load(f)["sites"])
            except (FileNotFoundError, json.JSONDecodeError):
                pass
        return sites

    def wait_all(what, heads, limit):
        """Seconds until every site's gap-free point in PostgreSQL reaches `heads`."""
        t = time.time()
        while True:
            sampler.sample(collectors.values())
            nodes.sample([n for n in cluster.procs if n])
            got = pg.throughs()
            behind = [s for s, h in heads.items() if got.get(s, 0) < h]
            if not behind:
                return time.time() - t
            if time.time() - t > limit:
                fail(f"{what}: {len(behind)} site(s) behind after {limit} s, e.g. {behind[:3]}")
            time.sleep(0.5)

    # Every site connected and acknowledged once.
    for _ in range(int(args.limit * 2)):
        s = status()
        if len(s) == args.gateways and all(v["head"] > 0 for v in s.values()):
            break
        time.sleep(0.5)
    connected = wait_all("the fleet's first records", {k: v["head"] for k, v in status().items()}, args.limit)
    startup = (t_c * 1000, time.time() * 1000)  # every site's first connection: a storm of its own
    log(f"   all {args.gateways} sites publishing and acknowledged {time.time() - t_c:.1f} s after start")
    users.start()
    log(f"   {args.console_users} console users on the live fleet page")

    faults = []
    windows = []  # (from, to) in Unix ms: a fault until everything up to its end is acknowledged

    def fault(name, act, recover):
        time.sleep(args.settle)
        _, api0, errors0 = cluster.jetstream()
        drops0, audit0 = cluster.drops()[1], audit.snapshot()
        t = time.time()
        act()
        recover()
        down = time.time() - t
        time.sleep(0.6)  # a status newer than the recovery (the drivers write one every 500 ms)
        heads = {k: v["head"] for k, v in status().items()}
        d = wait_all(f"after {name}", heads, args.limit) + 0.6
        windows.append((t * 1000, time.time() * 1000))
        _, api1, errors1 = cluster.jetstream()
        drops1, (kinds, other) = cluster.drops()[1], ApiAudit.since(audit0, audit.snapshot())
        faults.append({"fault": name, "at_s": round(t - t_c, 1), "down_s": round(down, 1), "drain_s": round(d, 1),
                       "jetstream_api_requests": api1 - api0, "jetstream_api_errors": errors1 - errors0,
                       "jetstream_api_error_answers": kinds, "jetstream_api_errors_not_session_lookups": other,
                       "jetstream_api_dropped": drops1 - drops0})
        log(f"   {name} (at {t - t_c:.0f} s): recovered after {down:.1f} s; every record made until then acknowledged "
            f"{d:.1f} s later; JetStream API meanwhile (n1's count): {api1 - api0} request(s), {errors1 - errors0} "
            f"error(s); the cluster's error answers: {kinds or 'none'} ({other} not a new MQTT session's lookup); "
            f"dropped by a full API queue (every node's log): {drops1 - drops0}")

    fault("NATS node n2 killed (SIGKILL), restarted 5 s later",
          lambda: cluster.kill(1), lambda: (time.sleep(5), cluster.start(1)))
    fault("collector central-1 killed (SIGKILL), restarted 2 s later",
          lambda: (collectors["central-1"].kill(), collectors["central-1"].wait()),
          lambda: (time.sleep(2), collector("central-1", 0)))
    fault("PostgreSQL restarted (pg_ctl restart -m fast)", lambda: pg.restart(), lambda: None)
    fault(f"the {args.real} real gateways killed (SIGKILL), restarted 2 s later",
          lambda: (drivers["real"].kill(), drivers["real"].wait()), lambda: (time.sleep(2), driver("real")))

    log("== D: production stops; every site's last record must reach PostgreSQL")
    open(f"{work}/fleet/stop", "w").close()
    time.sleep(2)  # the drivers look for the stop file every 500 ms
    final_wait = wait_all("the end", {k: v["head"] for k, v in status().items()}, args.limit)
    users.finish()
    console = users.report(windows)
    cpu_c = sampler.cpu_seconds() - cpu_c0
    # Where phase C's CPU went: every running program, and this script's own threads (the
    # console's users are threads of it).
    by_program_c = {k: round(v - by_program_c0.get(k, 0), 1) for k, v in cpu_by_program().items()
                    if v - by_program_c0.get(k, 0) >= 0.5}
    by_program_c = dict(sorted(by_program_c.items(), key=lambda kv: -kv[1]))
    wall_c = time.time() - t_c
    for mode in ("real", "generated"):
        drivers[mode].send_signal(signal.SIGTERM)
        drivers[mode].wait(timeout=30)
    with open(f"{work}/fleet/status-generated.json") as f:
        gen = json.load(f)
    heads = {k: v["head"] for k, v in gen["sites"].items()}
    for n in range(1, args.real + 1):
        site = f"fleet-{n:04d}"
        db = sqlite3.connect(f"file:{work}/fleet/{site}.db?mode=ro", uri=True)
        heads[site] = db.execute("SELECT coalesce(max(seq), 0) FROM audit").fetchone()[0]
        db.close()
    through = pg.throughs()
    wrong = {s: (h, through.get(s)) for s, h in heads.items() if through.get(s) != h}
    if wrong or len(heads) != args.gateways:
        fail(f"{len(wrong)} site(s) whose gap-free point is not the gateway's last record: {list(wrong.items())[:5]}")
    for q, what in [("SELECT count(*) FROM current_chains WHERE broken_at IS NOT NULL", "broken chains"),
                    ("SELECT count(*) FROM equivocations", "equivocations"),
                    ("SELECT count(*) FROM refused", "refused messages")]:
        if pg.sql(q) != "0":
            fail(f"{what}: {pg.sql(q)}")
    records = int(pg.sql("SELECT count(*) FROM records"))
    # What a record costs on disk, its indexes and TOAST included (the growth plan's figure).
    records_bytes = int(pg.sql("SELECT pg_total_relation_size('records')"))
    consumers, api_total, api_errors = cluster.jetstream()
    # The collectors' own: a durable consumer on each of the two streams (events, states).
    per_gateway = max(consumers - 2, 0) / args.gateways
    log(f"   JetStream: {consumers} consumer(s) in all ({per_gateway:.2f} per gateway beside the collectors' 2); "
        f"API requests {api_total}, errors {api_errors}")
    if consumers < 2:
        fail(f"the monitoring endpoint shows {consumers} consumer(s), fewer than the collectors' own 2: not counted")
    if per_gateway > 1:
        fail(f"{consumers} JetStream consumers for {args.gateways} gateways: more than one each")
    t_v = time.time()
    for s in sorted(heads):
        r = subprocess.run([central, "verify", "--db", pg.url, "--site", s], capture_output=True, text=True)
        if r.returncode != 0 or "chain intact" not in r.stdout:
            fail(f"verify {s}: {r.stdout}{r.stderr}")
    log(f"   every site: PostgreSQL's gap-free point = the gateway's last committed record; {records} records; "
        f"verify intact for all {len(heads)} ({time.time() - t_v:.0f} s); nothing broken, equivocated or refused")
    steady_rate = (records - backlog) / wall_c
    lat = latency(gen["latencies"], [])
    lat_quiet = latency(gen["latencies"], windows)
    lat_steady = latency(gen["latencies"], windows + [startup])
    lat_startup = latency([p for p in gen["latencies"] if startup[0] <= p[0] <= startup[1]], [])
    slow = slow_profile(gen["latencies"], windows + [startup], t_c * 1000)
    drop_lines, dropped = cluster.drops()
    api_kinds, api_other = ApiAudit.since((0, {}), audit.snapshot())
    if (why := audit.healthy()) is not None:
        fail(f"the JetStream API's answers were not all heard, so none of its figures hold: {why}")
    report = {
        "gateways": args.gateways, "real": args.real, "generated": generated,
        "intake_no_collector_msgs_s": round(intake), "backlog": backlog, "backlog_drain_s": round(drain_b, 1),
        "ingest_records_s": round(ingest), "ratio_ingest_to_intake": round(ingest / intake, 2), "phase_a_cpu_s": cpu_a, "phase_b_cpu_s": cpu_b,
        "steady_offered_records_s": round(args.gateways / args.interval, 1),
        "steady_stored_records_s": round(steady_rate, 1),
        "ack_latency_ms": lat, "ack_latency_outside_faults_ms": lat_quiet,
        "ack_latency_startup_ms": lat_startup, "ack_latency_outside_startup_and_faults_ms": lat_steady,
        "slow_outside_startup_and_faults_by_10s": {str(k): v for k, v in slow.items()},
        "jetstream_api_drop_warnings": drop_lines, "jetstream_api_dropped": dropped,
        "jetstream_api_error_answers": api_kinds, "jetstream_api_errors_not_session_lookups": api_other, "collector_cpu_s": round(cpu_c, 1), "collector_cpu_share": round(cpu_c / wall_c, 3),
        "phase_c_cpu_s": by_program_c,
        "collector_peak_rss_mib": round(sampler.rss / 1024, 1), "faults": faults, "records": records,
        "first_connect_and_ack_s": round(connected, 1), "final_drain_s": round(final_wait, 1),
        "jetstream_consumers": consumers, "jetstream_consumers_per_gateway": round(per_gateway, 3),
        "jetstream_api_requests": api_total, "jetstream_api_errors": api_errors,
        "console": console,
        "records_table_bytes": records_bytes, "records_bytes_per_record": round(records_bytes / max(records, 1)),
        "nats_node_peak_rss_mib": round(nodes.rss / 1024, 1),
        "nats_node_peak_rss_mib_per_1000_gateways": round(nodes.rss / 1024 * 1000 / args.gateways, 1),
    }
    log("== figures")
    log(f"   cluster intake without a collector: {intake:.0f} msgs/s; Central's ingest: {ingest:.0f} records/s "
        f"(ratio {ingest / intake:.2f})")
    log(f"   ack latency (generated sites, first publish to the acknowledgement covering it): p50 {lat['p50']} ms, "
        f"p99 {lat['p99']} ms over {lat['n']} records; outside the fault windows p50 {lat_quiet['p50']} ms, "
        f"p99 {lat_quiet['p99']} ms over {lat_quiet['n']}")
    log(f"   of which the fleet's first connections ({(startup[1] - startup[0]) / 1000:.1f} s from the start): "
        f"p50 {lat_startup['p50']} ms, p99 {lat_startup['p99']} ms over {lat_startup['n']}; outside them and the "
        f"faults: p50 {lat_steady['p50']} ms, p99 {lat_steady['p99']} ms over {lat_steady['n']}")
    log(f"   records slower than 250 ms outside them, by 10 s of phase C (count, slowest ms): {slow}")
    log(f"   JetStream API requests dropped by a full queue over the whole run (every node's log): {dropped} "
        f"({drop_lines} warning line(s)); error answers heard over the run: {api_kinds or 'none'} ({api_other} not a "
        f"new MQTT session's lookup)")
    pq = console["page_outside_faults_ms"]
    log(f"   console, {console['users']} users on the live fleet page: the page p50 {pq['p50']} ms, p99 {pq['p99']} ms "
        f"over {pq['n']} loads (outside the fault windows); live, {console['live_events']} words heard with "
        f"{console['live_rows']} changed rows in {console['live_bytes'] / 2**20:.1f} MiB; {console['errors']} failed "
        f"request(s), faults included {console['first_errors']}")
    if console["users"] and (pq["n"] == 0 or console["live_rows"] == 0):
        fail(f"the console's users measured nothing: {console}")
    log(f"   PostgreSQL: records {records_bytes / 2**20:.1f} MiB with its indexes, {records_bytes / max(records, 1):.0f} bytes "
        f"per record")
    log(f"   NATS nodes: peak RSS {nodes.rss / 1024:.1f} MiB (the largest node), "
        f"{nodes.rss / 1024 * 1000 / args.gateways:.1f} MiB per 1 000 gateways")
    log(f"   CPU seconds in phase C by program ({wall_c:.0f} s on {os.cpu_count()} cores; python3 is this script with "
        f"the console's users): {by_program_c}")
    log(f"   collectors: {cpu_c:.1f} CPU s in {wall_c:.0f} s of phase C ({cpu_c / wall_c:.1%} of one core, both "
        f"instances), peak RSS {sampler.rss / 1024:.1f} MiB per instance")
    return report


if __name__ == "__main__":
    main()
