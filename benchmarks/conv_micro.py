"""Per-op timings of labflow's convolution and pooling kernels on the Deep MNIST CNN shapes.

Each row times one op kernel exactly as the executor calls it (`kernel(np, *inputs, **attrs)`) next to
a naive im2col baseline (the hand-written NumPy of ../shared/peers/numpy_manual.py: 25 shifted slice
copies + one matmul, col2im by 25 slice adds, pooling by reshape + max), interleaved in one process so
both see the same machine load. Prints one JSON line per (layer, batch, op):
  {"bench": "conv_micro", "layer": "conv2", "batch": 50, "op": "Conv2D", "labflow_ms": ..., "naive_ms": ...,
   "ratio": labflow/naive, "labflow_min_ms": ..., "naive_min_ms": ...}
Medians are what the workloads see; minimums show the kernel's cost without interference (this
2-core machine is shared). Both sides run with BLAS's own threads, as in a step the intra-op tuner put
in BLAS mode: called outside a step, labflow's kernels do not split their GEMMs over labflow's threads
(backend/threads.py); the split step is what compare.py and overhead.py measure.
Usage: python benchmarks/conv_micro.py [--rounds N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from labflow.framework import registry
from labflow.ops import conv_ops  # noqa: F401 - registers the ops

f32 = np.float32
ATTRS = dict(strides=[1, 1, 1, 1], padding="SAME", explicit_paddings=[], data_format="NHWC",
             dilations=[1, 1, 1, 1])
POOL = dict(ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME", data_format="NHWC")


# -- the naive baseline (numpy_manual.py's kernels, generalised to the layer's shapes) ---------------
def naive_im2col(x, k=5):
    n, h, w, c = x.shape
    p = k // 2
    xp = np.zeros((n, h + 2 * p, w + 2 * p, c), f32)
    xp[:, p:-p, p:-p] = x
    col = np.empty((n, h, w, k, k, c), f32)
    for i in range(k):
        for j in range(k):
            col[:, :, :, i, j, :] = xp[:, i:i + h, j:j + w, :]
    return col.reshape(n * h * w, k * k * c)


def naive_conv(x, w):
    n, h, wd, _ = x.shape
    return (naive_im2col(x) @ w.reshape(-1, w.shape[3])).reshape(n, h, wd, -1)


def naive_filter_grad(x, dy):
    return (naive_im2col(x).T @ dy.reshape(-1, dy.shape[3])).reshape(5, 5, x.shape[3], dy.shape[3])


def naive_input_grad(dy, w, k=5):
    n, h, wd, f = dy.shape
    c = w.shape[2]
    p = k // 2
    dcol = (dy.reshape(-1, f) @ w.reshape(-1, f).T).reshape(n, h, wd, k, k, c)
    dxp = np.zeros((n, h + 2 * p, wd + 2 * p, c), f32)
    for i in range(k):
        for j in range(k):
            dxp[:, i:i + h, j:j + wd, :] += dcol[:, :, :, i, j, :]
    return dxp[:, p:-p, p:-p]


def naive_pool(h):
    n, hh, w, c = h.shape
    return h.reshape(n, hh // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def naive_pool_grad(x, y, g):
    n, h, w, c = x.shape
    r = x.reshape(n, h // 2, 2, w // 2, 2, c)
    mask = r == y[:, :, None, :, None, :]
    return (mask * g[:, :, None, :, None, :]).reshape(n, h, w, c)


# -- timing ---------------------------------------------------------------------------------------
def interleaved(fns: dict, rounds: int) -> dict:
    """Runs the candidates round-robin (same load for each); returns name -> (median_ms, min_ms)."""
    ts: dict = {k: [] for k in fns}
    for f in fns.values():
        f()
    for _ in range(rounds):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            ts[k].append((time.perf_counter() - t0) * 1e3)
    return {k: (float(np.median(v)), float(np.min(v))) for k, v in ts.items()}


def kernel(op_type: str):
    return registry.get(op_type).generic_kernel


def row(layer: str, batch: int, op: str, res: dict, **extra) -> None:
    (lm, lmin), (nm, nmin) = res["labflow"], res["naive"]
    print(json.dumps(dict(bench="conv_micro", layer=layer, batch=batch, op=op, labflow_ms=round(lm, 3),
                          naive_ms=round(nm, 3), ratio=round(lm / nm, 3), labflow_min_ms=round(lmin, 3),
                          naive_min_ms=round(nmin, 3), **extra)), flush=True)


def check(a, b, what: str) -> None:
    np.testing.assert_allclose(a, b, rtol=2e-3, atol=2e-3 * float(np.abs(b).max()), err_msg=what)


def run_layer(layer: str, batch: int, hwc: tuple, fshape: tuple, rounds: int, forward_only: bool) -> None:
    rs = np.random.RandomState(0)
    x = rs.rand(batch, *hwc).astype(f32)
    w = (rs.randn(*fshape) * 0.1).astype(f32)
    dy = rs.randn(batch, hwc[0], hwc[1], fshape[3]).astype(f32)
    conv, bpi, bpf = kernel("Conv2D"), kernel("Conv2DBackpropInput"), kernel("Conv2DBackpropFilter")
    mp, mpg = kernel("MaxPool"), kernel("MaxPoolGrad")
    xs, fs = np.array(x.shape, np.int32), np.array(w.shape, np.int32)
    check(conv(np, x, w, **ATTRS), naive_conv(x, w), f"{layer} Conv2D")
    r = rounds if batch <= 100 else max(3, rounds // 4)
    row(layer, batch, "Conv2D", interleaved({"labflow": lambda: conv(np, x, w, **ATTRS),
                                             "naive": lambda: naive_conv(x, w)}, r))
    h = np.maximum(naive_conv(x, w), 0)
    y = mp(np, h, **POOL)
    check(y, naive_pool(h), f"{layer} MaxPool")
    row(layer, batch, "MaxPool", interleaved({"labflow": lambda: mp(np, h, **POOL),
                                              "naive": lambda: naive_pool(h)}, r))
    if forward_only:
        return
    check(bpf(np, x, fs, dy, **ATTRS), naive_filter_grad(x, dy), f"{layer} Conv2DBackpropFilter")
    row(layer, batch, "Conv2DBackpropFilter", interleaved({"labflow": lambda: bpf(np, x, fs, dy, **ATTRS),
                                                           "naive": lambda: naive_filter_grad(x, dy)}, r))
    if hwc[2] > 1:  # the first layer's input gradient is never needed (its input is the data)
        check(bpi(np, xs, w, dy, **ATTRS), naive_input_grad(dy, w), f"{layer} Conv2DBackpropInput")
        row(layer, batch, "Conv2DBackpropInput", interleaved(
            {"labflow": lambda: bpi(np, xs, w, dy, **ATTRS), "naive": lambda: naive_input_grad(dy, w)}, r))
    g = rs.randn(*y.shape).astype(f32)
    # The ReLU output ties at 0, where the baseline splits the gradient over every tied element and
    # TF (and labflow) give it to the first: compare on tie-free values, time on the real ones.
    hn = (h + rs.rand(*h.shape) * 1e-3).astype(f32)
    yn = naive_pool(hn)
    check(mpg(np, hn, yn, g, **POOL), naive_pool_grad(hn, yn, g), f"{layer} MaxPoolGrad")
    row(layer, batch, "MaxPoolGrad", interleaved({"labflow": lambda: mpg(np, h, y, g, **POOL),
                                                  "naive": lambda: naive_pool_grad(h, y, g)}, r))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    rounds = 3 if args.quick else args.rounds
    layers = [("conv1", (28, 28, 1), (5, 5, 1, 32)), ("conv2", (14, 14, 32), (5, 5, 32, 64))]
    for batch, fwd_only in ((50, False), (1000, True)):
        for name, hwc, fshape in layers:
            run_layer(name, batch, hwc, fshape, rounds, fwd_only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
