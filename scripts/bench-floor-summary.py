#!/usr/bin/env python3
"""Medians and floor ratios of a scripts/bench-floor.sh run.

Usage: bench-floor-summary.py OUT_DIR

Reads OUT_DIR/{pattern}-{floor|mode}-{round}.json and prints, per pattern
and run kind, the median over rounds of the server's CPU per delivered
message, its voluntary context switches per message (threads going to sleep:
each is a wake-up), the latency p50/p99 and the losses, then each mode's ratio to the
floor of its pattern: the ratio of the medians, and the per-round ratios
(each run against the floor measured just before it).
"""
import glob
import json
import os
import re
import statistics
import sys

CPU_KEYS = ("cpu_us_per_message", "cpu_us_per_event")
SLEEP_KEYS = ("sleeps_per_message", "sleeps_per_event")


def figures(path):
    with open(path) as f:
        text = f.read().strip()
    if not text:
        return None
    r = json.loads(text)
    server = r.get("server", {})
    cpu = next((server[k] for k in CPU_KEYS if k in server), None)
    sleeps = next((server[k] for k in SLEEP_KEYS if k in server), None)
    lat = r.get("latency_us", {})
    d = r.get("delivered", {})
    return {
        "cpu": cpu,
        "sleeps": sleeps,
        "p50": lat.get("p50"),
        "p99": lat.get("p99"),
        "delivered": d.get("messages"),
        "lost": d.get("lost"),
        "dup": d.get("duplicates"),
    }


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, unit=""):
    return "-" if v is None else f"{v:.2f}{unit}" if isinstance(v, float) else f"{v}{unit}"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "bench-results/floor"
    runs = {}
    for path in glob.glob(os.path.join(out, "*.json")):
        m = re.match(r"(fanout|client-events)-(.+)-(\d+)\.json$", os.path.basename(path))
        if not m:
            continue
        f = figures(path)
        if f:
            runs.setdefault(m.group(1), {}).setdefault(m.group(2), {})[int(m.group(3))] = f
    for pattern, kinds in sorted(runs.items()):
        print(f"\n{pattern}")
        print(f"  {'run':<16} {'rounds':>6} {'cpu µs/msg':>11} {'sleeps/msg':>10} {'p50 µs':>8} "
              f"{'p99 µs':>8} {'lost':>5} {'dup':>4}   per-round cpu")
        floor = kinds.get("floor", {})
        for kind in ["floor"] + sorted(k for k in kinds if k != "floor"):
            rounds = kinds.get(kind, {})
            if not rounds:
                continue
            cpu = med(r["cpu"] for r in rounds.values())
            print(f"  {kind:<16} {len(rounds):>6} {fmt(cpu):>11} "
                  f"{fmt(med(r['sleeps'] for r in rounds.values())):>10} "
                  f"{fmt(med(r['p50'] for r in rounds.values())):>8} "
                  f"{fmt(med(r['p99'] for r in rounds.values())):>8} "
                  f"{sum(r['lost'] or 0 for r in rounds.values()):>5} "
                  f"{sum(r['dup'] or 0 for r in rounds.values()):>4}   "
                  + ", ".join(fmt(rounds[i]["cpu"]) for i in sorted(rounds)))
        fcpu = med(r["cpu"] for r in floor.values())
        fp99 = med(r["p99"] for r in floor.values())
        for kind in sorted(k for k in kinds if k != "floor"):
            rounds = kinds[kind]
            cpu = med(r["cpu"] for r in rounds.values())
            p99 = med(r["p99"] for r in rounds.values())
            per_round = [
                rounds[i]["cpu"] / floor[i]["cpu"]
                for i in sorted(rounds)
                if i in floor and rounds[i]["cpu"] and floor[i]["cpu"]
            ]
            ratio = cpu / fcpu if cpu and fcpu else None
            pratio = p99 / fp99 if p99 and fp99 else None
            print(f"  {kind} / floor: cpu {fmt(ratio, '×')} (per round "
                  + ", ".join(f"{x:.2f}" for x in per_round)
                  + f"), p99 {fmt(pratio, '×')}")


if __name__ == "__main__":
    main()
