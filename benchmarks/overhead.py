"""Executor overhead per workload: the untraced step time against the sum of its kernels' times.

../shared/BENCHMARKS.md: "the step time of any workload is within 10% of the sum of its kernels' times
in a FULL_TRACE timeline". The kernel sum comes from RunMetadata.step_stats of traced runs (each node's
all_end_rel_micros); the step time from untraced runs of the same step, timed as run.py times them.
The traced plan is forced to the intra-op mode the untraced plan's tuner chose, so both split alike.

Usage: python benchmarks/overhead.py [--only cnn,lstm_lm] [--runs 15]
Prints one JSON line per workload: step_ms, kernel_sum_ms, overhead (step / kernel sum - 1; null when
the kernels take no measurable time, e.g. run_overhead's folded constant), nodes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _tuned_mode(step) -> str | None:
    for compiled in list(step.session._cache.values()):
        for cp in getattr(compiled, "partitions", []):
            tuner = cp.fn.__globals__.get("_blas")
            if tuner is not None and tuner.mode is not None:
                return tuner.mode
    return None


def measure(name: str, step, runs: int) -> dict:
    import labflow as tf
    for _ in range(8):  # warm-up, and the intra-op tuner's trial runs
        step()
    untraced = []
    for _ in range(runs):
        t0 = time.perf_counter()
        step()
        untraced.append(time.perf_counter() - t0)
    mode = _tuned_mode(step)
    saved = os.environ.get("LABFLOW_INTRA_OP_MODE")
    if mode:
        os.environ["LABFLOW_INTRA_OP_MODE"] = mode  # read when the traced plan is compiled
    try:
        opts = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
        sums, nodes = [], 0
        for i in range(runs + 3):
            md = tf.RunMetadata()
            step(options=opts, run_metadata=md)
            stats = [ns for ds in md.step_stats.dev_stats for ns in ds.node_stats]
            if i >= 3:  # the traced plan's own warm-up
                sums.append(sum(ns.all_end_rel_micros for ns in stats) / 1e3)
                nodes = len(stats)
    finally:
        if saved is None:
            os.environ.pop("LABFLOW_INTRA_OP_MODE", None)
        else:
            os.environ["LABFLOW_INTRA_OP_MODE"] = saved
    step_ms = statistics.median(untraced) * 1e3
    kernel_ms = statistics.median(sums)
    return dict(framework="labflow", workload=name, step_ms=round(step_ms, 4), kernel_sum_ms=round(kernel_ms, 4),
                overhead=round(step_ms / kernel_ms - 1, 3) if kernel_ms > 0 else None, nodes=nodes, intra_op_mode=mode)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--only", default="")
    p.add_argument("--runs", type=int, default=15)
    args = p.parse_args(argv)
    import workloads
    only = [w for w in args.only.split(",") if w]
    for name, build in workloads.WORKLOADS:
        if only and name not in only:
            continue
        print(json.dumps(measure(name, build(), args.runs)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
