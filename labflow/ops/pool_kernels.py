"""Array kernels for max and average pooling (NHWC, `xp` = numpy or cupy), used by pool_ops.py.

Windows are reduced separably: first over the KH rows (slices of whole input rows, which stream
well), then over the KW columns of that smaller result, so a KxK window costs 2K whole-array ops
instead of K*K. On the CPU the batch is processed in chunks whose intermediate stays in cache (pooling
is memory-bound: a batch-1000 conv1 output is 100 MB).

Max pooling's gradient goes to the FIRST maximum of each window in row-major order, TF's rule for
ties (ReLU outputs tie at 0 often). Padding never takes part: it is NaN for the gradient's equality
tests (NaN equals nothing) and -inf (or the integer minimum) for the forward max.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow.ops.conv_kernels import batch_parts, pad_hw, padded_extent, upcast

# Bytes of row-reduced intermediate per chunk (CPU): small enough to stay in L2.
POOL_CHUNK_BYTES = 1 << 20


def _chunk(xp: Any, n: int, item_bytes: int) -> int:
    if xp is not np:
        return max(n, 1)
    return int(min(max(POOL_CHUNK_BYTES // max(item_bytes, 1), 1), max(n, 1)))


def _lowest(xp: Any, dtype: Any) -> Any:
    return xp.iinfo(dtype).min if xp.issubdtype(dtype, xp.integer) else -xp.inf


def _steps(k: int, s: int, o: int) -> list[slice]:
    """The k strided slices (one per window offset) that pick offset a of each of o windows."""
    if o == 0:  # (o - 1) * s + 1 would be negative: an empty slice, not one that wraps around
        return [slice(0, 0)] * k
    return [slice(a, a + (o - 1) * s + 1, s) for a in range(k)]


def _reduce(xp: Any, fn: Any, views: list, out: Any = None) -> Any:
    """fn-reduces equally shaped views into `out` (a new array when None)."""
    if len(views) == 1:
        if out is None:
            return views[0].copy()
        xp.copyto(out, views[0])
        return out
    out = fn(views[0], views[1], out=out)
    for v in views[2:]:
        fn(out, v, out=out)
    return out


def _pool(xp: Any, xpad: Any, fn: Any, ksize: tuple, strides: tuple, oh: int, ow: int, dtype: Any) -> Any:
    n, _, wp, c = xpad.shape
    out = xp.empty((n, oh, ow, c), dtype=dtype)
    rows, cols = _steps(ksize[0], strides[0], oh), _steps(ksize[1], strides[1], ow)
    item = oh * wp * c * xpad.itemsize
    nb = _chunk(xp, n, item)

    def part(lo: int, hi: int) -> None:
        for n0 in range(lo, hi, nb):
            n1 = min(n0 + nb, hi)
            xs = xpad[n0:n1]
            t = _reduce(xp, fn, [xs[:, r] for r in rows]) if len(rows) > 1 else xs[:, rows[0]]
            _reduce(xp, fn, [t[:, :, cs] for cs in cols], out=out[n0:n1])

    batch_parts(xp, n, item, part)
    return out


def max_pool(xp: Any, x: Any, ksize: tuple, strides: tuple, pads: tuple, oh: int, ow: int) -> Any:
    """The max of each window."""
    if xp is not np:
        y = xp.empty((x.shape[0], oh, ow, x.shape[3]), dtype=x.dtype)
        if _gpu_kernel(xp, "max_pool", _max_pool_reference, [x], ksize, strides, pads, y):
            return y
    xpad = pad_hw(xp, x, pads, _lowest(xp, x.dtype))
    return _pool(xp, xpad, xp.maximum, ksize, strides, oh, ow, x.dtype)


def _window_counts(xp: Any, h: int, w: int, ksize: tuple, strides: tuple, pads: tuple, oh: int, ow: int,
                   dtype: Any) -> Any:
    """[OH, OW, 1]: how many real (unpadded) input elements each window covers."""
    def per_dim(size, k, s, p, o):
        start = xp.arange(o) * s - p
        return xp.minimum(start + k, size) - xp.maximum(start, 0)
    ch = per_dim(h, ksize[0], strides[0], pads[0][0], oh)
    cw = per_dim(w, ksize[1], strides[1], pads[1][0], ow)
    return (ch[:, None] * cw[None, :]).astype(dtype)[:, :, None]


def _padded(pads: tuple) -> bool:
    return any(pads[0] + pads[1])


def avg_pool(xp: Any, x: Any, ksize: tuple, strides: tuple, pads: tuple, oh: int, ow: int) -> Any:
    """The mean of each window's real elements (SAME padding is not counted, as in TF)."""
    dtype = x.dtype
    (x,) = upcast(xp, x)
    out = _pool(xp, pad_hw(xp, x, pads), xp.add, ksize, strides, oh, ow, x.dtype)
    if _padded(pads):
        out /= _window_counts(xp, x.shape[1], x.shape[2], ksize, strides, pads, oh, ow, x.dtype)
    else:
        out /= x.dtype.type(ksize[0] * ksize[1])
    return out.astype(dtype, copy=False)


def avg_pool_grad(xp: Any, xshape: tuple, g: Any, ksize: tuple, strides: tuple, pads: tuple) -> Any:
    """Spreads each output gradient evenly over its window's real elements."""
    dtype = g.dtype
    (g,) = upcast(xp, g)
    n, h, w, c = xshape
    (pt, pb), (pl, pr) = pads
    oh, ow = g.shape[1], g.shape[2]
    if _padded(pads):
        gs = g / _window_counts(xp, h, w, ksize, strides, pads, oh, ow, g.dtype)
    else:
        gs = g / g.dtype.type(ksize[0] * ksize[1])
    # Separable spread: over the KW columns into [N, OH, Wp, C], then over the KH rows.
    t = xp.zeros((n, oh, w + pl + pr, c), dtype=g.dtype)
    for cs in _steps(ksize[1], strides[1], ow):
        t[:, :, cs] += gs
    dxp = xp.zeros((n, h + pt + pb, w + pl + pr, c), dtype=g.dtype)
    for rs in _steps(ksize[0], strides[0], oh):
        dxp[:, rs] += t
    return xp.ascontiguousarray(dxp[:, pt:pt + h, pl:pl + w]).astype(dtype, copy=False)


# -- max pooling gradients --------------------------------------------------------------------------
def _mask_pad(xp: Any, x: Any, pads: tuple) -> Any:
    # Padding must never be taken for a window's max, not even when the max is -inf: NaN equals nothing.
    return pad_hw(xp, x, pads, _lowest(xp, x.dtype) if xp.issubdtype(x.dtype, xp.integer) else xp.nan)


def _tiled(ksize: tuple, strides: tuple) -> bool:
    # Windows that tile the input (no overlap, no gaps): each input element is in at most one window.
    return tuple(ksize) == tuple(strides)


def _first_max_tiled(xp: Any, xpad: Any, y: Any, ksize: tuple) -> Any:
    """[N, OH, KH, OW, KW, C] bool: True at the first max (row-major) of each tiling window."""
    n, oh, ow, c = y.shape
    kh, kw = ksize
    r = xpad[:, :oh * kh, :ow * kw].reshape(n, oh, kh, ow, kw, c)
    e = r == y[:, :, None, :, None, :]
    # Ties: keep only the first hit in row-major window order (cheap byte-wide ops on 1/(KH*KW) views).
    taken = None
    for a in range(kh):
        for b in range(kw):
            if taken is None:
                taken = e[:, :, a, :, b].copy()
                continue
            v = e[:, :, a, :, b]
            xp.greater(v, taken, out=v)  # v & ~taken, in one op
            if (a, b) != (kh - 1, kw - 1):
                taken |= v
    return e


def _first_max_masks(xp: Any, xpad: Any, y: Any, ksize: tuple, strides: tuple):
    """Yields (row slice, col slice, mask) per window offset; each mask marks the windows whose FIRST
    max (row-major) sits at that offset."""
    taken = None
    for rs in _steps(ksize[0], strides[0], y.shape[1]):
        for cs in _steps(ksize[1], strides[1], y.shape[2]):
            hit = xpad[:, rs, cs] == y
            if taken is None:
                taken = hit.copy()
            else:
                xp.greater(hit, taken, out=hit)  # hit & ~taken
                taken |= hit
            yield rs, cs, hit


def _hit_position(r: Any, y: Any, pos: Any, miss: Any) -> Any:
    return (r == y) * pos + (r != y) * miss  # where(r == y, pos, miss), in integer arithmetic


def _gpu_kernels(xp: Any) -> tuple:
    """(hit position, route) as fused kernels of this backend."""
    from labflow.ops.fused_elementwise_ops import fused

    def route(pos: Any, first: Any, g: Any, zero: Any) -> Any:
        return xp.where(pos == first, g, zero)  # where, not a multiply: 0 * inf would be NaN
    return fused(xp, _hit_position), fused(xp, route)


def _max_pool_grad_tiled_gpu(xp: Any, r6: Any, y: Any, g: Any) -> Any:
    """[N, OH, KH, OW, KW, C] gradient of tiling windows on a GPU, in 3 kernels whatever the window: each
    element's window position where it equals its window's max (else KH*KW), the smallest such position
    per window (the first max, row-major), then the gradient routed there. The CPU's loop over window
    positions is ~10 launches for 2x2 windows."""
    from labflow.ops.fused_elementwise_ops import device_constant, per_backend
    hit_position, route = per_backend(xp, _gpu_kernels)
    kh, kw = r6.shape[2], r6.shape[4]
    pos = device_constant(xp, r6, ("window positions", kh, kw),
                          lambda: xp.arange(kh * kw, dtype=xp.int32).reshape(1, 1, kh, 1, kw, 1))
    y6, g6 = y[:, :, None, :, None, :], g[:, :, None, :, None, :]
    codes = hit_position(r6, y6, pos, xp.int32(kh * kw))
    first = xp.min(codes, axis=(2, 4), keepdims=True)
    return route(pos, first, g6, g.dtype.type(0))


def max_pool_grad(xp: Any, x: Any, y: Any, g: Any, ksize: tuple, strides: tuple, pads: tuple,
                  relu: bool = False) -> Any:
    """Routes each output gradient to the first max of its window; returns x's shape. With `relu`, the
    result is also masked by x > 0 (ReluGrad against x: the gradient of relu -> max_pool)."""
    if xp is not np and y.shape == g.shape:
        dx = xp.empty(x.shape, dtype=g.dtype)
        if x.dtype == g.dtype and _gpu_kernel(xp, "max_pool_grad", _max_pool_grad_reference, [x, y, g],
                                              ksize, strides, pads, dx, [np.int32(relu)]):
            return dx
    dx = _max_pool_grad(xp, x, y, g, ksize, strides, pads)
    if relu:
        xp.multiply(dx, x > 0, out=dx)  # ReluGrad's arithmetic: gradients * (features > 0)
    return dx


def _max_pool_grad(xp: Any, x: Any, y: Any, g: Any, ksize: tuple, strides: tuple, pads: tuple) -> Any:
    n, h, w, c = x.shape
    (pt, pb), (pl, pr) = pads
    xpad = _mask_pad(xp, x, pads)
    hp, wp = xpad.shape[1], xpad.shape[2]
    oh, ow = y.shape[1], y.shape[2]
    kh, kw = ksize
    if xp is not np and _tiled(ksize, strides) and g.dtype.kind == "f":
        full = _max_pool_grad_tiled_gpu(xp, xpad[:, :oh * kh, :ow * kw].reshape(n, oh, kh, ow, kw, c), y, g)
        full = full.reshape(n, oh * kh, ow * kw, c)
        if (hp, wp) == (oh * kh, ow * kw):
            dxp = full
        else:
            dxp = xp.zeros((n, hp, wp, c), dtype=g.dtype)
            dxp[:, :oh * kh, :ow * kw] = full
        return dxp if (hp, wp) == (h, w) else xp.ascontiguousarray(dxp[:, pt:pt + h, pl:pl + w])
    zero = xp.zeros((), dtype=g.dtype)
    # On the CPU a mask multiply is 4x faster than where(), but 0 * inf is NaN: a gradient with
    # non-finite values takes where(). (A GPU always takes where(): no host sync for the test.)
    finite = xp is np and (g.dtype.kind in "iub" or bool(np.isfinite(g).all()))
    if _tiled(ksize, strides):
        exact = (hp, wp) == (oh * kh, ow * kw)
        dxp = xp.empty((n, hp, wp, c), dtype=g.dtype) if exact else xp.zeros((n, hp, wp, c), dtype=g.dtype)
        full = dxp if exact else xp.empty((n, oh * kh, ow * kw, c), dtype=g.dtype)
        out6 = full.reshape(n, oh, kh, ow, kw, c)
        item = oh * kh * ow * kw * c
        nb = _chunk(xp, n, item)

        def part(lo: int, hi: int) -> None:
            for n0 in range(lo, hi, nb):
                n1 = min(n0 + nb, hi)
                e = _first_max_tiled(xp, xpad[n0:n1], y[n0:n1], ksize)
                gb = g[n0:n1, :, None, :, None, :]
                if finite:
                    xp.multiply(e, gb, out=out6[n0:n1])
                else:
                    out6[n0:n1] = xp.where(e, gb, zero)

        batch_parts(xp, n, item * g.itemsize, part)
        if not exact:
            dxp[:, :oh * kh, :ow * kw] = out6.reshape(n, oh * kh, ow * kw, c)
    else:
        dxp = xp.zeros((n, hp, wp, c), dtype=g.dtype)
        for rs, cs, hit in _first_max_masks(xp, xpad, y, ksize, strides):
            dxp[:, rs, cs] += g * hit if finite else xp.where(hit, g, zero)
    if (hp, wp) == (h, w):
        return dxp
    return xp.ascontiguousarray(dxp[:, pt:pt + h, pl:pl + w])


def max_pool_grad_grad(xp: Any, x: Any, y: Any, gg: Any, ksize: tuple, strides: tuple, pads: tuple) -> Any:
    """The gradient of MaxPoolGrad w.r.t. its `grad`: each output takes gg at its window's first max."""
    xpad = _mask_pad(xp, x, pads)
    ggpad = pad_hw(xp, gg, pads)
    out = xp.zeros(y.shape, dtype=gg.dtype)
    zero = xp.zeros((), dtype=gg.dtype)
    for rs, cs, hit in _first_max_masks(xp, xpad, y, ksize, strides):
        out += xp.where(hit, ggpad[:, rs, cs], zero)
    return out


# -- GPU: max pooling and its gradient as one index-arithmetic kernel each (ops/gpu_raw_kernels.py) --
def _gpu_kernel(xp: Any, name: str, reference: Any, ins: list, ksize: tuple, strides: tuple, pads: tuple,
                out: Any, extra: tuple = ()) -> bool:
    """Runs kernel `name` into `out`; False where it does not apply (the caller takes the array ops)."""
    from labflow.ops import gpu_raw_kernels as gik
    if not gik.supported(out, *ins):
        return False
    run = gik.kernel(xp, name, out.dtype, reference)
    if run is None:
        return False
    ins = [a if a.flags.c_contiguous else xp.ascontiguousarray(a) for a in ins]
    oh, ow = (out.shape if name == "max_pool" else ins[1].shape)[1:3]
    geometry = gik.geometry(ins[0].shape, oh, ow, ksize, strides)
    return bool(run(out.size, *ins, *geometry, np.int32(pads[0][0]), np.int32(pads[1][0]), *extra, out))


def _reference_pads(h: int, w: int, oh: int, ow: int, kh: int, kw: int, sh: int, sw: int, pt: int,
                    pl: int) -> tuple:
    return ((pt, padded_extent(h, oh, kh, sh, 1, pt)), (pl, padded_extent(w, ow, kw, sw, 1, pl)))


def _max_pool_reference(x, h, w, ch, oh, ow, kh, kw, sh, sw, pt, pl, y) -> None:
    """NumPy twin of the max_pool kernel (what the emulated GPU runs)."""
    y[...] = max_pool(np, x, (kh, kw), (sh, sw), _reference_pads(h, w, oh, ow, kh, kw, sh, sw, pt, pl), oh, ow)


def _max_pool_grad_reference(x, y, g, h, w, ch, oh, ow, kh, kw, sh, sw, pt, pl, relu, dx) -> None:
    """NumPy twin of the max_pool_grad kernel."""
    dx[...] = max_pool_grad(np, x, y, g, (kh, kw), (sh, sw), _reference_pads(h, w, oh, ow, kh, kw, sh, sw, pt, pl),
                            bool(relu))
