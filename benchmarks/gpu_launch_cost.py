"""Host time per kernel launch on a GPU, by launch mechanism, and labflow's own cost per GPU node.

Usage: python benchmarks/gpu_launch_cost.py [--emulate]
Prints one JSON line per mechanism: {"what": ..., "host_us": ..., "device_us": ...}, host_us being
the Python-side time of one call (what a launch-bound step pays per launch) and device_us the GPU's.
The small training steps are bound by launches (benchmarks/step_profile.py --emulate counts them);
these numbers turn a count into time and say which mechanism (a ufunc, cupy.fuse, an
ElementwiseKernel, cuBLAS, a transfer) is cheapest to launch with CuPy on this machine.
"labflow node" is one elementwise node of a plan on /gpu:0 (a chain of 200 Adds, clustering off):
its host_us minus the ufunc's is the executor's own cost per node.
`--emulate` runs on labflow.testing.emulated_gpu (CI checks the script works; the times mean nothing).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def host_us(fn, n: int, sync) -> float:
    fn()
    sync()
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
        sync()
    return best * 1e6


def device_us(cp, fn, n: int) -> float | None:
    try:
        from cupyx.profiler import benchmark
    except ImportError:  # the emulated GPU has no profiler
        return None
    return float(benchmark(fn, n_repeat=n, n_warmup=10).gpu_times.mean()) * 1e6


def mechanisms(cp) -> list[tuple[str, object]]:
    rs = np.random.RandomState(0)
    a = cp.asarray(rs.randn(20, 200).astype(np.float32))
    b = cp.asarray(rs.randn(20, 200).astype(np.float32))
    out = cp.empty_like(a)
    x = cp.asarray(rs.randn(20, 400).astype(np.float32))
    w = cp.asarray(rs.randn(400, 800).astype(np.float32))
    fused = cp.fuse(kernel_name="launch_cost_fused")(lambda u, v: cp.tanh(u) * v + u)
    kernel = cp.ElementwiseKernel("T u, T v", "T y", "y = tanh(u) * v + u", "launch_cost_kernel")
    scalar = np.ones(1, np.float32)
    return [
        ("ufunc add", lambda: cp.add(a, b)),
        ("ufunc add, out=", lambda: cp.add(a, b, out=out)),
        ("cupy.fuse (3 ops)", lambda: fused(a, b)),
        ("ElementwiseKernel (3 ops)", lambda: kernel(a, b, out)),
        ("sum over rows", lambda: cp.sum(a, axis=1)),
        ("matmul [20,400]@[400,800]", lambda: cp.matmul(x, w)),
        ("concatenate 2", lambda: cp.concatenate([a, b], axis=1)),
        ("astype float16", lambda: a.astype(np.float16)),
        ("host->device 4 bytes", lambda: cp.asarray(scalar)),
        ("device->host 4 bytes", lambda: cp.asnumpy(a[0, :1])),
    ]


def labflow_node(n_nodes: int = 200):
    import labflow as tf
    g = tf.Graph()
    with g.as_default(), tf.device("/gpu:0"):
        x = tf.constant(np.ones((20, 200), np.float32))
        y = x
        for _ in range(n_nodes):
            y = tf.add(y, x)
        total = tf.reduce_sum(y)
    cfg = tf.ConfigProto(graph_options=tf.GraphOptions(optimizer_options=tf.OptimizerOptions(
        global_jit_level=tf.OptimizerOptions.OFF, do_constant_folding=False)))
    sess = tf.Session(graph=g, config=cfg)
    return sess, total, n_nodes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--emulate", action="store_true")
    ap.add_argument("--calls", type=int, default=2000)
    args = ap.parse_args()
    ctx = contextlib.nullcontext()
    if args.emulate:
        from labflow.testing.emulated_gpu import emulated_gpu
        ctx = emulated_gpu()
    with ctx as emu:
        if emu is not None:
            cp = emu.module
        else:
            import cupy as cp
        sync = cp.cuda.Device().synchronize
        for what, fn in mechanisms(cp):
            line = {"what": what, "host_us": round(host_us(fn, args.calls, sync), 2)}
            dev = None if emu is not None else device_us(cp, fn, min(args.calls, 500))
            if dev is not None:
                line["device_us"] = round(dev, 2)
            print(json.dumps(line), flush=True)
        sess, total, n = labflow_node()
        run = lambda: sess.run(total)  # noqa: E731
        step = host_us(run, max(args.calls // n, 5), sync)
        print(json.dumps({"what": "labflow node (Add, in a 200-node plan)", "host_us": round(step / n, 2),
                          "step_us": round(step, 1)}), flush=True)
        sess.close()


if __name__ == "__main__":
    main()
