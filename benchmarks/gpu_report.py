"""The short table `make gpu-check` prints last: labflow GPU step time against PyTorch eager on the
same GPU per workload, each step's host vs device time, and the test summary.

Usage: python benchmarks/gpu_report.py build/gpu
"""

from __future__ import annotations

import json
import os
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


def main(folder: str) -> int:
    torch = {r["workload"]: r for r in _rows(os.path.join(folder, "torch_gpu.jsonl"))}
    lab = {r["workload"]: r for r in _rows(os.path.join(folder, "labflow_gpu.jsonl"))}
    print(f"{'workload':<20}{'torch ms':>10}{'labflow ms':>12}{'ratio':>8}")
    for name, r in lab.items():
        t = torch.get(name, {}).get("median_ms")
        m = r.get("median_ms")
        ratio = f"{m / t:.2f}" if m and t else "-"
        print(f"{name:<20}{t if t else '-':>10}{m if m else r.get('error', r.get('skipped', '-'))!s:>12}{ratio:>8}")
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
