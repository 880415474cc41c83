"""Figures of the fleet campaign (scripts/fleet.py): CPU and memory of the processes it
watches, and the acknowledgement latencies with the fault windows left out."""

import os


class Sampler:
    """CPU seconds and peak RSS of the collector processes (summed over restarts)."""

    def __init__(self):
        self.cpu = {}
        self.rss = 0

    def sample(self, procs):
        tick = os.sysconf("SC_CLK_TCK")
        for p in procs:
            try:
                with open(f"/proc/{p.pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                self.cpu[p.pid] = (int(fields[11]) + int(fields[12])) / tick
                with open(f"/proc/{p.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            self.rss = max(self.rss, int(line.split()[1]))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass

    def cpu_seconds(self):
        return sum(self.cpu.values())


def cpu_by_program():
    """CPU seconds used so far by every running process, summed per program name."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                head, tail = f.read().rsplit(")", 1)
            name = head.split("(", 1)[1]
            fields = tail.split()
            out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / tick
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            pass
    return out


def touches(at, lat, windows):
    """Whether a record made at `at` (Unix ms) and acknowledged `lat` ms later was waiting
    at any time within one of `windows`: made in one, or still in flight when one began."""
    return any(at <= b and at + lat >= a for a, b in windows)


def latency(pairs, windows):
    """p50/p99/max of the latencies of the records no window touched."""
    ms = sorted(lat for at, lat in pairs if not touches(at, lat, windows))
    if not ms:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    q = lambda p: ms[round((len(ms) - 1) * p)]  # noqa: E731
    return {"n": len(ms), "p50": q(0.5), "p99": q(0.99), "max": ms[-1]}


def slow_profile(pairs, windows, t0_ms, limit_ms=250, bucket_s=10):
    """Where the records slower than `limit_ms` outside `windows` were made: counts and the
    slowest per `bucket_s` seconds from `t0_ms` (a diagnosis of the tail, in the log)."""
    out = {}
    for at, lat in pairs:
        if lat > limit_ms and not touches(at, lat, windows):
            k = int((at - t0_ms) / 1000 // bucket_s) * bucket_s
            n, worst = out.get(k, (0, 0))
            out[k] = (n + 1, max(worst, lat))
    return dict(sorted(out.items()))
