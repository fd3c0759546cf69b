"""Runs labflow and the peers in one sitting and prints labflow/peer ratios per workload.

Usage: python benchmarks/compare.py [--peers tf1_graph,numpy_manual] [--only a,b]
The peers run from ../shared/peers (their own venv, made on first use by run.sh); labflow runs in
this interpreter, interleaved with them so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "..", "..", "shared", "peers")


def _lines(out: str) -> list[dict]:
    res = []
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("{"):
            res.append(json.loads(line))
    return res


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--peers", default="tf1_graph,numpy_manual")
    p.add_argument("--only", default="")
    p.add_argument("--rounds", type=int, default=1)
    args = p.parse_args()
    env = dict(os.environ, BENCH_ONLY=args.only)
    rows: list[dict] = []
    for _ in range(args.rounds):
        out = subprocess.run([sys.executable, os.path.join(HERE, "run.py")], env=env, capture_output=True,
                             text=True, check=False).stdout
        rows += _lines(out)
        for peer in args.peers.split(","):
            out = subprocess.run(["bash", os.path.join(PEERS, "run.sh"), peer], env=env, capture_output=True,
                                 text=True, check=False).stdout
            rows += _lines(out)
    for r in rows:
        print(json.dumps(r))
    best: dict[tuple[str, str], float] = {}
    for r in rows:
        if "median_ms" in r:
            k = (r["framework"], r["workload"])
            best[k] = min(best.get(k, float("inf")), r["median_ms"])
    print("\nworkload              labflow_ms  " + "  ".join(f"{p:>18}" for p in args.peers.split(",")))
    for w in sorted({k[1] for k in best if k[0] == "labflow"}):
        lf = best[("labflow", w)]
        cells = []
        for peer in args.peers.split(","):
            key = (peer, "chain1000_nograppler" if w == "chain1000" and peer == "tf1_graph_nograppler" else w)
            pv = best.get(key)
            cells.append(f"{pv:9.4f} ({lf / pv:5.2f}x)" if pv else " " * 18)
        print(f"{w:20s} {lf:11.4f}  " + "  ".join(cells))
    nog = best.get(("tf1_graph", "chain1000_nograppler"))
    if nog and ("labflow", "chain1000") in best:
        print(f"chain1000 vs TF1 with rewrites off: {best[('labflow', 'chain1000')] / nog:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
