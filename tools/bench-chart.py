#!/usr/bin/env python3
"""Ingest throughput against batch size, next to the storage limit, as a self-contained SVG.

Runs `ledger-bench ingest` (which measures the storage limit in the same run) for each batch size,
takes the median of --runs runs, and writes the chart. Usage:
  tools/bench-chart.py --bench build/tools/ledger-bench --records 200000 --out docs/ingest-vs-batch.svg
"""
import argparse
import statistics
import subprocess


def run(bench, records, batch, policy):
    out = subprocess.run([bench, "ingest", "--records", str(records), "--batch-size", str(batch),
                          "--policy", policy], check=True, capture_output=True, text=True).stdout
    figures = {}
    for line in out.splitlines():
        if line.startswith("scenario="):
            for pair in line.split():
                key, _, value = pair.partition("=")
                figures[key] = value
    return float(figures["ingest_records_per_s"]), float(figures["limit_records_per_s"])


def svg(points, title):
    w, h, left, right, top, bottom = 720, 420, 80, 150, 50, 60
    step = 50000  # y axis in whole multiples of 50k
    ymax = step * -(-max(max(i, l) for _, i, l in points) * 1.1 // step)
    xs = [b for b, _, _ in points]

    def x(i):
        return left + i * (w - left - right) / max(1, len(xs) - 1)

    def y(v):
        return top + (h - top - bottom) * (1 - v / ymax)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{w}" height="{h}" fill="white"/>',
             f'<text x="{w / 2}" y="24" text-anchor="middle" font-size="15">{title}</text>']
    for k in range(6):
        v = ymax * k / 5
        parts.append(f'<line x1="{left}" x2="{w - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                     f'stroke="#ddd"/><text x="{left - 8}" y="{y(v) + 4:.1f}" '
                     f'text-anchor="end">{v / 1000:.0f}k</text>')
    for i, b in enumerate(xs):
        parts.append(f'<text x="{x(i):.1f}" y="{h - bottom + 20}" text-anchor="middle">{b}</text>')
    parts.append(f'<text x="{(left + w - right) / 2}" y="{h - 15}" text-anchor="middle">'
                 'records per stream message and per commit (batch size)</text>')
    parts.append(f'<text x="20" y="{(top + h - bottom) / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 20 {(top + h - bottom) / 2})">records/s (durable)</text>')
    for idx, (name, colour) in enumerate([("ledger ingest (gRPC stream)", "#1f77b4"),
                                          ("storage limit (bare RocksDB)", "#d62728")]):
        pts = " ".join(f"{x(i):.1f},{y(p[1 + idx]):.1f}" for i, p in enumerate(points))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        for i, p in enumerate(points):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(p[1 + idx]):.1f}" r="3.5" fill="{colour}"/>')
        parts.append(f'<rect x="{w - right + 12}" y="{top + 20 * idx}" width="14" height="4" '
                     f'fill="{colour}"/><text x="{w - right + 30}" y="{top + 20 * idx + 6}">'
                     f'{name.split(" (")[0]}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--bench", default="build/tools/ledger-bench")
    p.add_argument("--policy", default="deploy/policies/yanji-222401.json")
    p.add_argument("--records", type=int, default=200000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--batches", default="100,500,1000,5000,10000")
    p.add_argument("--out", default="docs/ingest-vs-batch.svg")
    args = p.parse_args()
    points = []
    for b in [int(v) for v in args.batches.split(",")]:
        runs = [run(args.bench, args.records, b, args.policy) for _ in range(args.runs)]
        ingest = statistics.median(r[0] for r in runs)
        limit = statistics.median(r[1] for r in runs)
        print(f"batch_size={b} ingest_records_per_s={ingest:.0f} limit_records_per_s={limit:.0f} "
              f"fraction={ingest / limit:.3f}", flush=True)
        points.append((b, ingest, limit))
    with open(args.out, "w") as f:
        f.write(svg(points, f"Durable ingest vs batch size ({args.records:,} records, median of "
                            f"{args.runs})"))


if __name__ == "__main__":
    main()
