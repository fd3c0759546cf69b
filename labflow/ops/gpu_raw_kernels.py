"""Hand-written CUDA kernels (CuPy RawKernels), one launch each: im2col with its zero padding, col2im
as a gather, max pooling and its gradient, the dense softmax cross-entropy of small class counts.

Why: a small training step on a GPU is bound by host time per launch, not by the device (measured on
an H200: the Deep MNIST CNN step's kernels are ~20-60 us of device time each, while every CuPy launch
costs 10-25 us of host time, an ElementwiseKernel with many arguments ~25). The array-op versions of
these kernels (conv_kernels.py, pool_kernels.py, nn_xent_ops.py) are 3-6 launches each; here every
output element computes its own source indices, so padding, strides and dilation cost nothing extra,
and a RawKernel launch is the cheapest CuPy has (the arguments go straight to cuLaunchKernel).

Each kernel's semantics are its array-op twin's, which is also its NumPy reference. A real GPU checks
the CUDA against the CPU in tests/gpu (the op sweep runs every conv, pool and cross-entropy case on
/gpu:0; test_gpu_kernels.py adds ties, NaN and padding). The emulated GPU (labflow/testing/
emulated_gpu.py), which cannot run CUDA C, runs the reference through `xp.ReferenceKernel`, counted as
one launch. A kernel that fails to compile makes `kernel()` return None for good and the caller takes
its array-op path.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable

import numpy as np

_log = logging.getLogger("labflow.gpu")

_TEMPLATE = """
typedef {ctype} T;
extern "C" __global__ void labflow_{name}({params}, const long long total) {{
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (long long)blockDim.x * gridDim.x) {{
{body}
    }}
}}
"""
_CTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
_THREADS = 256
_MAX_BLOCKS = 65535


def _decode(x: str, y: str, width: str, height: str) -> str:
    """C declaring (c, x, y, n) of the NHWC element at flat index i, in a [n, height, width, ch] array."""
    return f"""
        const int c = (int)(i % ch);
        long long t = i / ch;
        const int {x} = (int)(t % {width}); t /= {width};
        const int {y} = (int)(t % {height});
        const long long n = t / {height};"""


_DECODE_OUT = _decode("ox", "oy", "ow", "oh")  # an output element (pooling)
_DECODE_IN = _decode("xx", "yy", "w", "h")  # an input element (col2im, pooling gradient)
_GEOMETRY = "const int h, const int w, const int ch, const int oh, const int ow, const int kh, const int kw, " \
            "const int sh, const int sw"
_NEG_INF = "(T)__longlong_as_double(0xfff0000000000000ULL)"

# name: (C parameters before `total`, loop body over i < total)
SOURCES: dict[str, tuple[str, str]] = {
    # col [N*OH*OW, KH*KW*C] (rows: output pixels; columns: window offset, then channel) from x NHWC.
    "im2col": (
        f"const T* __restrict__ x, {_GEOMETRY}, const int dh, const int dw, const int pt, const int pl, "
        "T* __restrict__ col", """
        const long long kdim = (long long)kh * kw * ch;
        const long long m = i / kdim;
        const int r = (int)(i - m * kdim);
        const int c = r % ch;
        const int kx = (r / ch) % kw;
        const int ky = r / ch / kw;
        const int ox = (int)(m % ow);
        const int oy = (int)((m / ow) % oh);
        const long long n = m / ow / oh;
        const int yy = oy * sh + ky * dh - pt;
        const int xx = ox * sw + kx * dw - pl;
        col[i] = (yy >= 0 && yy < h && xx >= 0 && xx < w) ? x[((n * h + yy) * w + xx) * ch + c] : (T)0;"""),
    # dx NHWC: the sum of the col entries of every window covering the element (window offset order,
    # as the CPU's slice adds).
    "col2im": (
        f"const T* __restrict__ col, {_GEOMETRY}, const int dh, const int dw, const int pt, const int pl, "
        "T* __restrict__ dx", _DECODE_IN + """
        const long long kdim = (long long)kh * kw * ch;
        T acc = 0;
        for (int ky = 0; ky < kh; ++ky) {
            const int ny = yy + pt - ky * dh;
            if (ny < 0 || ny % sh) continue;
            const int oy = ny / sh;
            if (oy >= oh) continue;
            for (int kx = 0; kx < kw; ++kx) {
                const int nx = xx + pl - kx * dw;
                if (nx < 0 || nx % sw) continue;
                const int ox = nx / sw;
                if (ox >= ow) continue;
                acc += col[((n * oh + oy) * ow + ox) * kdim + (ky * kw + kx) * ch + c];
            }
        }
        dx[i] = acc;"""),
    # y NHWC: each window's max over its in-bounds elements; NaN wins, as in xp.maximum.
    "max_pool": (
        f"const T* __restrict__ x, {_GEOMETRY}, const int pt, const int pl, T* __restrict__ y", _DECODE_OUT + f"""
        T best = {_NEG_INF};
        bool any = false;
        for (int ky = 0; ky < kh; ++ky) {{
            const int yy = oy * sh - pt + ky;
            if (yy < 0 || yy >= h) continue;
            for (int kx = 0; kx < kw; ++kx) {{
                const int xx = ox * sw - pl + kx;
                if (xx < 0 || xx >= w) continue;
                const T v = x[((n * h + yy) * w + xx) * ch + c];
                if (!any || v > best || v != v) {{ best = v; any = true; }}
            }}
        }}
        y[i] = best;"""),
    # dx NHWC: the gradient of every window whose FIRST element (row-major) equal to the window's output
    # is this one (TF's rule for ties); padding and NaN equal nothing. With `relu`, times (x > 0): the
    # ReluGrad of a relu -> max_pool (_FusedMaxPoolGrad).
    "max_pool_grad": (
        f"const T* __restrict__ x, const T* __restrict__ y, const T* __restrict__ g, {_GEOMETRY}, "
        "const int pt, const int pl, const int relu, T* __restrict__ dx", _DECODE_IN + """
        int oy0 = yy + pt - kh + 1;
        oy0 = oy0 <= 0 ? 0 : (oy0 + sh - 1) / sh;
        const int oy1 = min((yy + pt) / sh, oh - 1);
        int ox0 = xx + pl - kw + 1;
        ox0 = ox0 <= 0 ? 0 : (ox0 + sw - 1) / sw;
        const int ox1 = min((xx + pl) / sw, ow - 1);
        T acc = 0;
        for (int oy = oy0; oy <= oy1; ++oy) {
            for (int ox = ox0; ox <= ox1; ++ox) {
                const long long o = ((n * oh + oy) * ow + ox) * ch + c;
                const T target = y[o];
                bool found = false;
                int fy = -1, fx = -1;
                for (int ky = 0; ky < kh && !found; ++ky) {
                    const int py = oy * sh - pt + ky;
                    if (py < 0 || py >= h) continue;
                    for (int kx = 0; kx < kw; ++kx) {
                        const int px = ox * sw - pl + kx;
                        if (px < 0 || px >= w) continue;
                        if (x[((n * h + py) * w + px) * ch + c] == target) {
                            fy = py; fx = px; found = true; break;
                        }
                    }
                }
                if (fy == yy && fx == xx) acc += g[o];
            }
        }
        // relu: times (x > 0), ReluGrad's mask against the pooled input (a multiply, as TF's)
        dx[i] = relu ? acc * (T)(x[i] > (T)0) : acc;"""),
    # One row of a dense softmax cross-entropy per i: loss = sum(labels * (log(sum(exp(s))) - s)) and
    # backprop = exp(s) / sum(exp(s)) - labels, s = x - max(x): nn_xent_ops._softmax_xent_gpu's math.
    "softmax_xent_rows": (
        "const T* __restrict__ x, const T* __restrict__ y, const int classes, T* __restrict__ loss, "
        "T* __restrict__ back", """
        const T* xr = x + i * classes;
        const T* yr = y + i * classes;
        T* br = back + i * classes;
        T m = xr[0];
        for (int j = 1; j < classes; ++j) {
            const T v = xr[j];
            if (v > m || v != v) m = v;
        }
        T total = 0;
        for (int j = 0; j < classes; ++j) total += exp(xr[j] - m);
        const T lt = log(total);
        T l = 0;
        for (int j = 0; j < classes; ++j) {
            const T s = xr[j] - m;
            br[j] = exp(s) / total - yr[j];
            l += yr[j] * (lt - s);
        }
        loss[i] = l;"""),
}
# Adam with every scalar a device value (a variable or a constant on the GPU): the arithmetic of
# train/gpu_update_kernels.py's ElementwiseKernel, in the same order, on element j of w, m, v, g.
_ADAM = """
        const T one = 1;
        const T alpha = lr[0] * sqrt(one - beta2_power[0]) / (one - beta1_power[0]);
        const T gj = g[j];
        T mi = m[j];
        mi += (gj - mi) * (one - beta1[0]);
        m[j] = mi;
        T vi = v[j];
        vi += (gj * gj - vi) * (one - beta2[0]);
        v[j] = vi;
        w[j] -= alpha * ({update}) / (sqrt(vi) + epsilon[0]);"""
_ADAM_UPDATE = {False: "mi", True: "gj * (one - beta1[0]) + beta1[0] * mi"}
_ADAM_SCALARS = "const T* lr, const T* beta1_power, const T* beta2_power, const T* beta1, const T* beta2, " \
                "const T* epsilon"
for _nesterov in (False, True):
    SOURCES["apply_adam_nesterov" if _nesterov else "apply_adam"] = (
        "T* __restrict__ w, T* __restrict__ m, T* __restrict__ v, const T* __restrict__ g, " + _ADAM_SCALARS,
        "\n        const long long j = i;" + _ADAM.format(update=_ADAM_UPDATE[_nesterov]))


def multi_adam(n: int, nesterov: bool) -> str:
    """The name of the kernel doing n Adam updates that share their scalars (made on first use): each
    update contributes (w, m, v, grad, end), `end` its last element's index + 1 in the joint range."""
    name = f"apply_adam_multi_{n}{'_nesterov' if nesterov else ''}"
    if name not in SOURCES:
        params = ", ".join(f"T* __restrict__ w{t}, T* __restrict__ m{t}, T* __restrict__ v{t}, "
                           f"const T* __restrict__ g{t}, const long long e{t}" for t in range(n))
        branches = [(f"if (i < e{t}) " if t < n - 1 else "")
                    + f"{{ w = w{t}; m = m{t}; v = v{t}; g = g{t}; j = i{'' if t == 0 else f' - e{t - 1}'}; }}"
                    for t in range(n)]
        SOURCES[name] = (params + ", " + _ADAM_SCALARS,
                         "\n        T* w; T* m; T* v; const T* g; long long j;\n        "
                         + "\n        else ".join(branches) + _ADAM.format(update=_ADAM_UPDATE[nesterov]))
    return name


def multi_sgd(n: int) -> str:
    """The name of the kernel doing n gradient-descent updates `w -= delta * alpha` with one alpha (made
    on first use): each update contributes (w, delta, end), as in multi_adam."""
    name = f"apply_gradient_descent_multi_{n}"
    if name not in SOURCES:
        params = ", ".join(f"T* __restrict__ w{t}, const T* __restrict__ d{t}, const long long e{t}" for t in range(n))
        branches = [(f"if (i < e{t}) " if t < n - 1 else "")
                    + f"{{ w = w{t}; d = d{t}; j = i{'' if t == 0 else f' - e{t - 1}'}; }}" for t in range(n)]
        SOURCES[name] = (params + ", const T* alpha", "\n        T* w; const T* d; long long j;\n        "
                         + "\n        else ".join(branches) + "\n        w[j] -= d[j] * alpha[0];")
    return name


_made: dict[tuple, Callable] = {}
_broken: set[tuple] = set()
# LABFLOW_GPU_RAW_KERNELS=0: every caller takes its array-op path (A/B timing, or an escape hatch)
_DISABLED = os.environ.get("LABFLOW_GPU_RAW_KERNELS", "1") == "0"
_COMPILE_ERRORS = ("CompileException", "CUDADriverError", "NVRTCError")


def kernel(xp: Any, name: str, dtype: Any, reference: Callable) -> Callable | None:
    """Kernel `name` for `dtype` (a NumPy dtype) as `run(total, *args) -> True` (args in SOURCES'
    parameter order, arrays C-contiguous, scalars as NumPy scalars of the C types), or None where it
    cannot run: a backend without RawKernel, a dtype without a C type here, a kernel that failed to
    compile before. `reference(*args)` computes the same with NumPy: the emulated GPU runs it instead
    of the CUDA. Made once per (backend, name, dtype): this is on every GPU step's path."""
    if _DISABLED:
        return None
    key = (xp, name, dtype)
    run = _made.get(key)
    if run is not None or key in _broken or dtype not in _CTYPES:
        return run
    if hasattr(xp, "ReferenceKernel"):
        ref = xp.ReferenceKernel(f"labflow_{name}", reference)
        launch = lambda total, *args: ref(*args)  # noqa: E731
    elif hasattr(xp, "RawKernel"):
        params, body = SOURCES[name]
        raw = xp.RawKernel(_TEMPLATE.format(ctype=_CTYPES[dtype], name=name, params=params, body=body),
                           f"labflow_{name}")
        launch = lambda total, *args: raw(  # noqa: E731
            (min(max(-(-total // _THREADS), 1), _MAX_BLOCKS),), (_THREADS,), (*args, np.int64(total)))
    else:
        return None
    run = _made[key] = _guarded(key, launch)
    return run


def _guarded(key: tuple, launch: Callable) -> Callable:
    def call(total: int, *args: Any) -> bool | None:
        try:
            launch(total, *args)
        except Exception as e:
            if type(e).__name__ not in _COMPILE_ERRORS:
                raise
            _made.pop(key, None)
            _broken.add(key)
            _log.warning("labflow: the %s GPU kernel did not compile (%s); using array ops instead", key[1], e)
            return None
        return True
    return call


_geometry: dict[tuple, list] = {}


def geometry(x_shape: tuple, oh: int, ow: int, ksize: tuple, strides: tuple) -> list:
    """The kernels' int geometry arguments (h, w, ch, oh, ow, kh, kw, sh, sw), made once per geometry."""
    key = (x_shape[1:], oh, ow, ksize, strides)
    args = _geometry.get(key)
    if args is None:
        if len(_geometry) > 4096:
            _geometry.clear()
        _, h, w, c = x_shape
        args = _geometry[key] = [np.int32(v) for v in (h, w, c, oh, ow, ksize[0], ksize[1], strides[0], strides[1])]
    return args


def supported(*arrays: Any) -> bool:
    """float32/float64 arrays of one dtype whose offsets fit the kernels' index arithmetic."""
    return all(a.dtype == arrays[0].dtype and a.dtype in _CTYPES and a.size < 2**31 for a in arrays)
