"""Device and host time of the kernels behind the cnn step on a GPU, and of alternatives to them.

Usage: PYTHONPATH=. python3 benchmarks/gpu_kernel_micro.py [--nodes 25]
Prints JSON lines: {"what", "host_us", "device_us"} per kernel variant (cupyx.profiler.benchmark,
median of 50), then the slowest nodes of one traced cnn step (each node synchronized: host + device).
The reference rows time PyTorch's cuDNN on the same shapes where torch is importable.
"""

# ruff: noqa: B023 - every lambda here is timed (called) before its loop variables move on
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def timed(what: str, fn, n: int = 50) -> None:
    from cupyx.profiler import benchmark

    def call():  # benchmark() names its report after func.__name__
        fn()
    r = benchmark(call, n_repeat=n, n_warmup=5)
    print(json.dumps({"what": what, "host_us": round(float(np.median(r.cpu_times)) * 1e6, 1),
                      "device_us": round(float(np.median(r.gpu_times)) * 1e6, 1)}), flush=True)


def rand(cp, *shape: int):
    # fresh random data (never zeros: they can time faster than real values)
    return cp.asarray(np.random.rand(*shape).astype(np.float32))


def sums(cp) -> None:
    for shape in ((50, 28, 28, 32), (50, 14, 14, 64), (50, 1024), (50, 10)):
        x = rand(cp, *shape)
        rows = int(np.prod(shape[:-1]))
        x2 = x.reshape(rows, shape[-1])
        ones = cp.ones(rows, np.float32)
        ones2 = cp.ones((1, rows), np.float32)
        out = cp.empty((1, shape[-1]), np.float32)
        ref = x2.astype(np.float64).sum(0)
        assert float(abs(ones @ x2 - ref).max()) < 1e-2 * float(abs(ref).max())
        timed(f"sum leading {shape}: xp.sum", lambda: cp.sum(x, axis=tuple(range(len(shape) - 1))))
        timed(f"sum leading {shape}: ones @ x", lambda: ones @ x2)
        timed(f"sum leading {shape}: matmul(ones2, x, out=)", lambda: cp.matmul(ones2, x2, out=out))
        if len(shape) > 2:
            timed(f"sum leading {shape}: two-stage", lambda: x2.reshape(shape[0], -1, shape[-1]).sum(1).sum(0))


def convs(cp) -> None:
    from labflow.ops import conv_kernels as ck
    one = (1, 1)
    for xs, ws in (((50, 28, 28, 1), (5, 5, 1, 32)), ((50, 14, 14, 32), (5, 5, 32, 64))):
        x = rand(cp, *xs)
        w = rand(cp, *ws)
        pads = ((2, 2), (2, 2))
        dy = rand(cp, xs[0], xs[1], xs[2], ws[3])
        timed(f"conv2d {xs}x{ws}", lambda: ck.conv2d(cp, x, w, one, one, pads))
        timed(f"conv2d_backprop_filter {xs}x{ws}",
              lambda: ck.conv2d_backprop_filter(cp, x, dy, ws, one, one, pads))
        timed(f"conv2d_backprop_input {xs}x{ws}",
              lambda: ck.conv2d_backprop_input(cp, dy, w, xs, one, one, pads))
        xp_ = cp.zeros((xs[0], xs[1] + 4, xs[2] + 4, xs[3]), np.float32)
        timed(f"  pad copy {xs}", lambda: xp_.__setitem__((slice(None), slice(2, -2), slice(2, -2)), x))
        view = ck._lowered_view(cp, xp_, xs[1], xs[2], 5, 5, one, one, ck._use_cols(xs[3]))
        lo = cp.empty(view.shape, np.float32)
        timed(f"  im2col copyto {view.shape}", lambda: cp.copyto(lo, view))
        k = 25 * xs[3]
        a = lo.reshape(-1, k) if not ck._use_cols(xs[3]) else lo.reshape(k, -1).T
        wm = w.reshape(k, -1)
        out = cp.empty((a.shape[0], ws[3]), np.float32)
        timed(f"  gemm {a.shape}@{wm.shape}", lambda: cp.matmul(a, wm, out=out))
        try:
            import torch
            import torch.nn.functional as F
            tx = torch.rand(xs[0], xs[3], xs[1], xs[2], device="cuda")
            tw = torch.rand(ws[3], ws[2], 5, 5, device="cuda", requires_grad=True)
            tdy = torch.rand(xs[0], ws[3], xs[1], xs[2], device="cuda")
            timed(f"  torch cudnn conv {xs}x{ws}", lambda: F.conv2d(tx, tw, padding=2))
            ty = F.conv2d(tx.requires_grad_(), tw, padding=2)
            timed(f"  torch cudnn conv backward (filter+input) {xs}x{ws}",
                  lambda: torch.autograd.grad(ty, (tx, tw), tdy, retain_graph=True))
        except Exception as e:  # noqa: BLE001 - the reference is optional
            print(json.dumps({"what": "torch reference", "error": repr(e)}), flush=True)


def pools_and_dense(cp) -> None:
    from labflow.ops import pool_kernels as pk
    for xs in ((50, 28, 28, 32), (50, 14, 14, 64)):
        x = rand(cp, *xs)
        y = pk.max_pool(cp, x, (2, 2), (2, 2), ((0, 0), (0, 0)), xs[1] // 2, xs[2] // 2)
        g = rand(cp, *y.shape)
        timed(f"max_pool {xs}", lambda: pk.max_pool(cp, x, (2, 2), (2, 2), ((0, 0), (0, 0)), xs[1] // 2, xs[2] // 2))
        timed(f"max_pool_grad {xs}", lambda: pk.max_pool_grad(cp, x, y, g, (2, 2), (2, 2), ((0, 0), (0, 0))))
    a = rand(cp, 50, 3136)
    w = rand(cp, 3136, 1024)
    timed("matmul [50,3136]@[3136,1024]", lambda: a @ w)
    g = rand(cp, 50, 1024)
    timed("matmul [3136,50]@[50,1024] (dW)", lambda: a.T @ g)
    r = rand(cp, 50, 1024)
    timed("random uniform [50,1024]", lambda: cp.random.random_sample((50, 1024), dtype=np.float32))
    timed("greater_equal [50,1024]", lambda: r >= 0.5)


def slow_nodes(n: int) -> None:
    os.environ["LABFLOW_BENCH_DEVICE"] = "/gpu:0"
    import workloads

    import labflow as tf
    step = workloads.w_cnn()
    for _ in range(5):
        step()
    opts = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    per: dict = {}
    for i in range(5):
        md = tf.RunMetadata()
        step(options=opts, run_metadata=md)
        if i < 2:
            continue
        for ds in md.step_stats.dev_stats:
            for ns in ds.node_stats:
                per.setdefault(ns.node_name, [ns.timeline_label, []])[1].append(ns.all_end_rel_micros)
    rows = sorted(((float(np.median(t)), name, label) for name, (label, t) in per.items()), reverse=True)
    for us, name, label in rows[:n]:
        print(json.dumps({"node": name, "us": us, "label": label[:120]}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=25)
    args = ap.parse_args()
    import cupy as cp
    core = getattr(cp, "_core", None)
    print(json.dumps({"cupy": getattr(cp, "__version__", "?"),
                      "accelerators": str(getattr(core, "get_routine_accelerators", list)()),
                      "reduction_accelerators": str(getattr(core, "get_reduction_accelerators", list)())}), flush=True)
    for part in (sums, convs, pools_and_dense):
        try:
            part(cp)
        except Exception as e:  # noqa: BLE001 - one broken probe must not hide the others
            print(json.dumps({"what": part.__name__, "error": repr(e)}), flush=True)
    slow_nodes(args.nodes)


if __name__ == "__main__":
    main()
