"""The short table `make gpu-check` prints last: labflow GPU step time against PyTorch eager on the
same GPU per workload, each step's host vs device time, and the test summary.

Usage: python benchmarks/gpu_report.py build/gpu
"""

from __future__ import annotations

import json
import os
import statistics
import sys


def _rows(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def _medians(rows: list[dict]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for r in rows:
        if r.get("median_ms"):
            out.setdefault(r["workload"], []).append(r["median_ms"])
    return out


def main(folder: str) -> int:
    torch = _medians(_rows(os.path.join(folder, "torch_gpu.jsonl")))
    lab = _medians(_rows(os.path.join(folder, "labflow_gpu.jsonl")))
    # One line per workload: the median over processes (rounds) of each process's median step time,
    # then every process's own median, so the spread between processes shows.
    print(f"{'workload':<20}{'torch ms':>10}{'labflow ms':>12}{'ratio':>8}   per process: torch | labflow")
    for name in lab:
        t, m = torch.get(name, []), lab[name]
        tm, mm = (float(statistics.median(v)) if v else None for v in (t, m))
        ratio = f"{mm / tm:.2f}" if tm and mm else "-"
        print(f"{name:<20}{tm or '-':>10.4}{mm:>12.4}{ratio:>8}   {t} | {m}")
    for r in _rows(os.path.join(folder, "ablation.jsonl")):
        print(f"{r.get('framework')}: {r.get('workload')} {r.get('median_ms', r.get('error'))} ms")
    for r in _rows(os.path.join(folder, "profile_gpu.jsonl")):
        keys = ("workload", "jit", "step_ms", "host_ms", "device_ms", "nodes", "kernel_sum_ms", "error")
        print({k: r[k] for k in keys if k in r})
    for r in _rows(os.path.join(folder, "launch_cost.jsonl")):
        print(r)
    tests = os.path.join(folder, "gpu-tests.txt")
    if os.path.exists(tests):
        with open(tests) as f:
            print("".join(f.readlines()[-3:]), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build/gpu"))
