"""Runs labflow's workloads and prints one JSON line each, timed exactly like ../shared/peers.

Usage: python benchmarks/run.py [--only a,b] [--quick] [--device gpu]
A workload whose ops labflow does not have yet prints {"skipped": reason} instead of failing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def bench(name: str, fn, quick: bool, framework: str) -> dict:
    check = [float(fn()), float(fn())]  # loss before and after one update: cross-checks the peers
    for _ in range(0 if quick else 2):
        fn()
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    inner = 1 if quick else max(1, int(0.1 / dt))
    reps = 3 if quick else (11 if dt * inner < 0.5 else 7)
    s = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        s.append((time.perf_counter() - t0) * 1e3 / inner)
    p10, med, p90 = np.percentile(s, [10, 50, 90])
    return dict(framework=framework, workload=name, median_ms=round(float(med), 4), p10_ms=round(float(p10), 4),
                p90_ms=round(float(p90), 4), repeats=reps, inner=inner, check=check)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--only", default=os.environ.get("BENCH_ONLY", ""))
    p.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1")
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    args = p.parse_args(argv)
    if args.device == "gpu":
        os.environ["LABFLOW_BENCH_DEVICE"] = "/gpu:0"
    import workloads
    only = [w for w in args.only.split(",") if w]
    fw = "labflow" if args.device == "cpu" else "labflow_gpu"
    for name, build in workloads.WORKLOADS:
        if only and name not in only:
            continue
        try:
            fn = build()
        except (AttributeError, NotImplementedError, LookupError) as e:
            print(json.dumps(dict(framework=fw, workload=name, skipped=f"{type(e).__name__}: {e}")), flush=True)
            continue
        try:
            print(json.dumps(bench(name, fn, args.quick, fw)), flush=True)
        except Exception as e:  # noqa: BLE001 - one broken workload must not hide the others
            traceback.print_exc()
            print(json.dumps(dict(framework=fw, workload=name, error=f"{type(e).__name__}: {e}")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
