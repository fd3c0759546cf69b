"""Where one training step's time goes, per op type, with elementwise clustering on and off.

Usage: python benchmarks/step_profile.py [--device gpu | --emulate] [--only cnn,lstm_lm] [--top 12]
Prints one JSON line per (workload, jit): the untraced median step time, the number of nodes the
plans run, the FULL_TRACE kernel sum and the op types taking the most of it; on a GPU also the
step's host time against its device time (cupyx.profiler.benchmark): a step whose device time is far
below its host time is bound by launches and Python dispatch, not by the kernels.
`jit` "default" is the session's default (GPU partitions clustered), "off" is global_jit_level OFF,
"on" also clusters CPU partitions (ON_1 + cpu_global_jit).
`--emulate` runs the GPU steps on labflow.testing.emulated_gpu instead (no GPU needed) and reports
kernel launches per step, in total and per op type, instead of times: the dispatch cost a GPU step
pays, ~5-10 us of host time per launch in CuPy.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _nodes(step) -> int:
    return sum(len(cp.nodes) for plan in step.session._cache.values() for cp in getattr(plan, "partitions", []))


def launches(name: str, build, top: int, emu) -> dict:
    import labflow as tf
    step = build()
    for _ in range(3):
        step()
    emu.reset()
    step()
    out = {"workload": name, "launches": emu.launches, "transfers": emu.transfers, "nodes": _nodes(step)}
    step(options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=tf.RunMetadata())
    emu.reset()
    md = tf.RunMetadata()
    step(options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=md)
    per_type: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for _, op, n in emu.node_launches(md):
        per_type[op][0] += 1
        per_type[op][1] += n
    out["top"] = [[op, k, n] for op, (k, n) in sorted(per_type.items(), key=lambda kv: -kv[1][1])[:top]]
    return out


def op_type_times(md) -> tuple[dict[str, float], dict[str, int]]:
    """(ms, node count) per op type in one traced step's RunMetadata."""
    ms: dict[str, float] = collections.defaultdict(float)
    n: dict[str, int] = collections.defaultdict(int)
    for ds in md.step_stats.dev_stats:
        for ns in ds.node_stats:
            op = ns.timeline_label.split(" = ", 1)[-1].split("(", 1)[0] if ns.timeline_label else ns.node_name
            ms[op] += ns.all_end_rel_micros / 1e3
            n[op] += 1
    return dict(ms), dict(n)


def profile(name: str, build, top: int, gpu: bool, host_top: int = 0) -> dict:
    import labflow as tf
    step = build()
    for _ in range(8):
        step()
    times = []
    for _ in range(15):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    out = {"workload": name, "step_ms": round(statistics.median(times), 3), "nodes": _nodes(step)}
    if gpu:
        from cupyx.profiler import benchmark
        def one_step():  # cupyx's benchmark names its report after func.__name__
            step()
        r = benchmark(one_step, n_repeat=15, n_warmup=2)
        out["host_ms"] = round(float(r.cpu_times.mean()) * 1e3, 3)
        out["device_ms"] = round(float(r.gpu_times.mean()) * 1e3, 3)
    opts = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    per_type: dict[str, list[float]] = collections.defaultdict(list)
    counts: dict[str, int] = {}
    for i in range(6):
        md = tf.RunMetadata()
        step(options=opts, run_metadata=md)
        if i < 2:  # the traced plan's own warm-up
            continue
        run, counts = op_type_times(md)
        for op, ms in run.items():
            per_type[op].append(ms)
    medians = {op: statistics.median(v) for op, v in per_type.items()}
    out["kernel_sum_ms"] = round(sum(medians.values()), 3)
    out["top"] = [[op, counts.get(op, 0), round(ms, 3)]
                  for op, ms in sorted(medians.items(), key=lambda kv: -kv[1])[:top]]
    if host_top:
        out["host_top"] = host_profile(step, host_top)
    return out


def host_profile(step, top: int, steps: int = 50) -> list:
    """The Python functions taking a step's host time (cProfile over `steps` steps), per step:
    [function, calls, own ms, cumulative ms]. On a GPU this is where launch-bound time goes."""
    import cProfile
    import pstats
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    stats = pstats.Stats(prof).stats
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top]
    return [[f"{os.path.basename(f)}:{line}:{fn}", round(nc / steps, 1), round(tt * 1e3 / steps, 4),
             round(ct * 1e3 / steps, 4)] for (f, line, fn), (_, nc, tt, ct, _) in rows]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    p.add_argument("--only", default="cnn,lstm_lm")
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--jit", default="default,off", help="comma-separated: default, off, on")
    p.add_argument("--emulate", action="store_true", help="count launches on the emulated GPU")
    p.add_argument("--host-top", type=int, default=0, help="also list the N Python functions taking most host time")
    args = p.parse_args(argv)
    if args.device == "gpu" or args.emulate:
        os.environ["LABFLOW_BENCH_DEVICE"] = "/gpu:0"
    import contextlib

    import workloads

    from labflow.testing.emulated_gpu import emulated_gpu
    builds = dict(workloads.WORKLOADS)
    with emulated_gpu() if args.emulate else contextlib.nullcontext() as emu:
        for name in [w for w in args.only.split(",") if w]:
            for jit in [j for j in args.jit.split(",") if j]:
                os.environ["LABFLOW_BENCH_JIT"] = jit
                try:
                    row = launches(name, builds[name], args.top, emu) if emu else \
                        profile(name, builds[name], args.top, args.device == "gpu", args.host_top)
                except Exception as e:  # noqa: BLE001 - one broken workload must not hide the others
                    row = {"workload": name, "error": f"{type(e).__name__}: {e}"}
                row["jit"], row["device"] = jit, "emulated_gpu" if emu else args.device
                print(json.dumps(row), flush=True)
    os.environ.pop("LABFLOW_BENCH_JIT", None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
