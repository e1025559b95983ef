#!/usr/bin/env python3
"""Summarises clarion-bench soak reports (JSON): per server, RSS and open
descriptors at start, after the first tenth, at the end, the RSS slope over
each half of the run (a leak keeps growing; an allocator levels off), and
the loss/duplicate figures of every part.

    python3 scripts/soak-summary.py soak-single/bench.json [more.json …]
"""
import json
import sys


def slope(points):
    """Least-squares slope of (seconds, bytes) points, in KiB per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    num = sum((p[0] - mx) * (p[1] - my) for p in points)
    den = sum((p[0] - mx) ** 2 for p in points) or 1.0
    return num / den * 60 / 1024


for path in sys.argv[1:]:
    r = json.load(open(path))
    print(f"== {path} ({r['elapsed_secs']} s)")
    f = r["fanout"]["delivered"]
    print(f"  fanout: {f['messages']}/{f['expected']} delivered, lost {f['lost']}, "
          f"duplicates {f['duplicates']}, reordered {f['reordered']}")
    if "client_events" in r:
        c = r["client_events"]["delivered"]
        print(f"  client events: {c['messages']}/{c['expected']}, lost {c['lost']}, duplicates {c['duplicates']}")
    if "churn" in r:
        c = r["churn"]["cycles"]
        print(f"  churn: {c['completed']} cycles, {c['failed']} failed")
    p = r["presence_churn"]
    print(f"  presence churn: {p['cycles']} cycles, {p['failed']} failed")
    for key, s in r.items():
        if not key.startswith("server_"):
            continue
        series = [p for p in s["series_secs_rss_fds"]][:-1] or s["series_secs_rss_fds"]
        half = series[-1][0] / 2
        first = [(t, rss) for t, rss, _ in series if 0 < t <= half]
        second = [(t, rss) for t, rss, _ in series if t > half]
        rss, fds = s["rss_bytes"], s["fds"]
        print(f"  {key}: RSS {rss['first'] / 2**20:.1f} → {rss['after_first_tenth'] / 2**20:.1f} "
              f"→ {rss['last'] / 2**20:.1f} MiB (max {rss['max'] / 2**20:.1f}); "
              f"fds {fds['first']} → {fds['after_first_tenth']} → {fds['last']} (max {fds['max']}); "
              f"RSS slope {slope(first):+.1f} KiB/min (first half), {slope(second):+.1f} KiB/min (second half)")
