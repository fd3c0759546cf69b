"""Array kernels for convolution: im2col by strided views + one GEMM per cache-sized chunk.

Everything here takes `xp` (numpy or cupy) and NHWC arrays, and is called by the op kernels in
conv_ops.py after the shape functions checked the geometry. No Python loop runs over pixels or batch
items one at a time: loops are over batch *chunks* (so the lowered matrix stays in cache; BLAS runs
about twice as fast on a 3 MB lowered block as on a 30 MB one) and, in col2im, over the KH*KW kernel
offsets. The GEMM is the bound: the copies are ~15% of a conv's time on the Deep MNIST shapes.
On the CPU the batch is split over labflow's intra-op threads (backend/threads.py), each part
lowering and multiplying its own chunks with single-threaded BLAS, so the copies run on every core
too; a batch too small to split has its GEMMs split instead.

The lowered ("im2col") matrix comes in two layouts, picked by which copy has longer contiguous runs:
  rows: [M, KH*KW*C] with M = n*OH*OW; each row copies KH runs of KW*C contiguous values (when the
        dilation along W is 1); used from C = 2 on;
  cols: [KH*KW*C, M], copied as KH*KW*C planes whose inner runs are OW long (stride 1 along W);
        used for C == 1 (the first layer of an image model), where rows would copy 5-value runs.
Either way the GEMM reads the lowered block with K contiguous or transposed, which BLAS takes as is.

The input gradient is a transposed convolution (the forward path on dy with the flipped kernel) for
stride 1 and C >= TCONV_MIN_CHANNELS, else one GEMM to the lowered gradient per chunk plus KH*KW
strided slice adds (col2im).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow.backend import gpu_blas, threads
from labflow.ops.common import downcast

# Bytes of lowered matrix per chunk (CPU). Measured on the Deep MNIST shapes (benchmarks/conv_micro.py):
# 2-4 MB blocks run the GEMM at ~2x the speed of one 30 MB block; much smaller blocks lose to per-call cost.
CHUNK_BYTES = 3 << 20
# Input channels from which a stride-1 input gradient runs as a transposed convolution (see
# conv2d_backprop_input); measured: 5x5, C=32, F=64 is ~2x faster than col2im, C=1, F=32 ~6x slower.
TCONV_MIN_CHANNELS = 8
# Least lowered bytes one thread's share of a batch split gets (smaller work runs unsplit).
SPLIT_MIN_BYTES = 256 << 10
# Below this many output rows per GEMM a chunk is grown regardless of CHUNK_BYTES (BLAS needs some M).
MIN_ROWS = 256


def window_geometry(size: int, k: int, stride: int, dilation: int, padding: str,
                    explicit: tuple[int, int] = (0, 0)) -> tuple[int, int, int]:
    """TF's output size and padding for one spatial dim: (out, pad_before, pad_after).

    VALID: out = ceil((size - eff + 1) / stride); SAME: out = ceil(size / stride), with the odd pad
    element at the end (bottom/right), as TF does. eff = (k - 1) * dilation + 1. The caller checked
    that VALID sizes are not negative.
    """
    eff = (k - 1) * dilation + 1
    if padding == "VALID":
        return (size - eff + stride) // stride, 0, 0
    if padding == "SAME":
        out = -(-size // stride)
        total = max((out - 1) * stride + eff - size, 0)
        return out, total // 2, total - total // 2
    pb, pa = explicit
    return (size + pb + pa - eff) // stride + 1, pb, pa


def upcast(xp: Any, *arrays: Any) -> list:
    # Half types have no BLAS: compute in float32 and cast the result back once.
    return [a.astype(xp.float32) if a.dtype.itemsize < 4 else a for a in arrays]


def _chunk(xp: Any, n: int, rows_per_item: int, row_bytes: int) -> int:
    """Batch items per chunk: the lowered block near CHUNK_BYTES (CPU); everything at once on a GPU."""
    if xp is not np:
        return max(n, 1)
    by_bytes = CHUNK_BYTES // max(rows_per_item * row_bytes, 1)
    by_rows = -(-MIN_ROWS // max(rows_per_item, 1))
    return int(min(max(by_bytes, by_rows, 1), max(n, 1)))


def pad_hw(xp: Any, x: Any, pads: tuple, value: float = 0) -> Any:
    """x [N,H,W,C] padded along H and W by ((top, bottom), (left, right)); x itself when no padding."""
    (pt, pb), (pl, pr) = pads
    if not (pt or pb or pl or pr):
        return x
    n, h, w, c = x.shape
    out = xp.empty((n, h + pt + pb, w + pl + pr, c), dtype=x.dtype)
    # Fill only the border (the interior is overwritten right after).
    if pt:
        out[:, :pt] = value
    if pb:
        out[:, h + pt:] = value
    if pl:
        out[:, pt:h + pt, :pl] = value
    if pr:
        out[:, pt:h + pt, w + pl:] = value
    out[:, pt:h + pt, pl:w + pl] = x
    return out


def _use_cols(c: int) -> bool:
    # One channel: the rows layout would copy runs of only KW values; the cols layout copies whole
    # output rows. From C = 3 on the rows layout measured faster (50x28x28xC, 3x3 and 5x5 kernels).
    return c == 1


def _lowered_view(xp: Any, xpad: Any, oh: int, ow: int, kh: int, kw: int, strides: tuple, dil: tuple,
                  cols: bool) -> Any:
    """A strided view of the padded input: rows [N,OH,OW,KH,KW,C] or cols [KH,KW,C,N,OH,OW]."""
    sn, sh, sw, sc = xpad.strides
    n, c = xpad.shape[0], xpad.shape[3]
    st = xp.lib.stride_tricks
    if cols:
        return st.as_strided(xpad, (kh, kw, c, n, oh, ow),
                             (sh * dil[0], sw * dil[1], sc, sn, sh * strides[0], sw * strides[1]))
    return st.as_strided(xpad, (n, oh, ow, kh, kw, c),
                         (sn, sh * strides[0], sw * strides[1], sh * dil[0], sw * dil[1], sc))


def _lowered_chunks(xp: Any, x: Any, oh: int, ow: int, kh: int, kw: int, strides: tuple, dil: tuple,
                    pads: tuple):
    """Yields (n0, b, A): A is the [b*OH*OW, KH*KW*C] lowered matrix of batch items n0..n0+b (a
    transposed view of a [K, M] block in the cols layout). One buffer serves every chunk; padding is
    applied per chunk into a zero-bordered buffer, so no padded copy of the whole input is made."""
    n, h, w, c = x.shape
    k = kh * kw * c
    (pt, pb), (pl, pr) = pads
    cols = _use_cols(c)
    nb = _chunk(xp, n, oh * ow, k * x.itemsize)
    buf = xp.empty(nb * oh * ow * k, dtype=x.dtype)
    padded = bool(pt or pb or pl or pr)
    if padded:
        pbuf = xp.zeros((min(nb, n), h + pt + pb, w + pl + pr, c), dtype=x.dtype)
    for n0 in range(0, n, nb):
        b = min(nb, n - n0)
        m = b * oh * ow
        if padded:
            src = pbuf[:b]
            src[:, pt:pt + h, pl:pl + w] = x[n0:n0 + b]  # the zero border is never written
        else:
            src = x[n0:n0 + b]
        view = _lowered_view(xp, src, oh, ow, kh, kw, strides, dil, cols)
        if cols:
            lo = buf[:m * k].reshape(kh, kw, c, b, oh, ow)
            xp.copyto(lo, view)
            yield n0, b, lo.reshape(k, m).T
        else:
            lo = buf[:m * k].reshape(b, oh, ow, kh, kw, c)
            xp.copyto(lo, view)
            yield n0, b, lo.reshape(m, k)


def conv2d(xp: Any, x: Any, w: Any, strides: tuple, dil: tuple, pads: tuple, epilogue: Any = None) -> Any:
    """Cross-correlation of x [N,H,W,C] with w [KH,KW,C,F] (TF's Conv2D), NHWC out, x's dtype.

    `epilogue(block)`, when given, runs in place on each [rows, F] output block right after its GEMM,
    while the block is still in cache (the fused bias add and activation of _FusedConv2D).
    """
    dtype = x.dtype
    x, w = upcast(xp, x, w)
    n, h, wd, c = x.shape
    kh, kw, _, f = w.shape
    (pt, pb), (pl, pr) = pads
    oh = (h + pt + pb - (kh - 1) * dil[0] - 1) // strides[0] + 1
    ow = (wd + pl + pr - (kw - 1) * dil[1] - 1) // strides[1] + 1
    k = kh * kw * c
    out = xp.empty((n, oh, ow, f), dtype=x.dtype)
    if out.size == 0:
        return downcast(out, dtype)
    if k == 0:
        out[...] = 0
        if epilogue is not None:
            epilogue(out.reshape(-1, f))
        return downcast(out, dtype)
    wm = w.reshape(k, f)
    if kh == kw == 1 and strides == (1, 1) and not (pt or pb or pl or pr):
        # 1x1 conv: the input is the lowered matrix.
        _gemm(xp, x.reshape(-1, c), wm, out.reshape(-1, f))
        if epilogue is not None:
            epilogue(out.reshape(-1, f))
        return downcast(out, dtype)

    lowered = None if xp is np else _gpu_im2col(xp, x, oh, ow, kh, kw, strides, dil, pads)
    if lowered is not None:
        block = out.reshape(-1, f)
        _gemm(xp, lowered, wm, block)
        if epilogue is not None:
            epilogue(block)
        return downcast(out, dtype)

    def part(lo: int, hi: int) -> None:
        for n0, b, a in _lowered_chunks(xp, x[lo:hi], oh, ow, kh, kw, strides, dil, pads):
            block = out[lo + n0:lo + n0 + b].reshape(b * oh * ow, f)
            _gemm(xp, a, wm, block)
            if epilogue is not None:
                epilogue(block)

    batch_parts(xp, n, oh * ow * k * x.itemsize, part, gemm=True)
    return downcast(out, dtype)


def _gemm(xp: Any, a: Any, b: Any, out: Any) -> None:
    # On the CPU a big GEMM outside a batch split is itself split over the intra-op threads.
    if xp is np:
        threads.gemm(a, b, out)
    else:
        gpu_blas.gemm(xp, a, b, out)


def batch_parts(xp: Any, n: int, item_bytes: int, part: Any, gemm: bool = False) -> None:
    """part(lo, hi) over batch ranges: on the CPU one balanced range per intra-op thread, each with at
    least SPLIT_MIN_BYTES of work (`item_bytes` per batch item), so small batches are not split. Parts
    that run GEMMs (`gemm`) split only while the step holds BLAS at one thread."""
    if xp is np and n >= 2:
        threads.parallel_for(n, part, -(-SPLIT_MIN_BYTES // max(item_bytes, 1)),
                             threads.gemm_parts() if gemm else None)
    else:
        part(0, n)


def conv2d_backprop_filter(xp: Any, x: Any, dy: Any, fshape: tuple, strides: tuple, dil: tuple,
                           pads: tuple) -> Any:
    """d(loss)/d(filter) [KH,KW,C,F] = lowered(x)^T @ dy, accumulated over batch chunks."""
    dtype = x.dtype
    x, dy = upcast(xp, x, dy)
    n, h, wd, c = x.shape
    kh, kw, _, f = fshape
    _, oh, ow, _ = dy.shape
    k = kh * kw * c
    if n * oh * ow == 0 or k * f == 0:
        return xp.zeros(fshape, dtype=dtype)
    lowered = None if xp is np else _gpu_im2col(xp, x, oh, ow, kh, kw, strides, dil, pads)
    if lowered is not None:
        # [K, F] straight from the transposed view of the lowered matrix: cuBLAS reads it as it is
        return downcast(gpu_blas.gemm(xp, lowered.T, dy.reshape(-1, f)).reshape(fshape), dtype)
    # Accumulated as [F, K] = dy^T @ lowered: measured faster than lowered^T @ dy (the long M
    # dimension is the reduction either way; this orientation packs the small dy^T panel once).
    ranges = threads.split(n, -(-SPLIT_MIN_BYTES // (oh * ow * k * x.itemsize)), threads.gemm_parts()) \
        if xp is np else [(0, n)]
    accs: list = [None] * len(ranges)

    def part(i: int, lo: int, hi: int) -> None:
        acc = xp.empty((f, k), dtype=x.dtype)
        tmp = None
        for n0, b, a in _lowered_chunks(xp, x[lo:hi], oh, ow, kh, kw, strides, dil, pads):
            g = dy[lo + n0:lo + n0 + b].reshape(b * oh * ow, f).T
            if n0 == 0:
                _gemm(xp, g, a, acc)
            else:
                tmp = xp.empty((f, k), dtype=x.dtype) if tmp is None else tmp
                _gemm(xp, g, a, tmp)
                acc += tmp
        accs[i] = acc

    threads.run([lambda i=i, lo=lo, hi=hi: part(i, lo, hi) for i, (lo, hi) in enumerate(ranges)])
    acc = accs[0]
    for other in accs[1:]:
        acc += other
    return downcast(xp.ascontiguousarray(acc.T).reshape(fshape), dtype)


def conv2d_backprop_input(xp: Any, dy: Any, w: Any, xshape: tuple, strides: tuple, dil: tuple,
                          pads: tuple) -> Any:
    """d(loss)/d(input) [N,H,W,C] of a Conv2D, from dy [N,OH,OW,F] and w [KH,KW,C,F]."""
    dtype = dy.dtype
    dy, w = upcast(xp, dy, w)
    n, h, wd, c = xshape
    kh, kw, _, f = w.shape
    _, oh, ow, _ = dy.shape
    (pt, pb), (pl, pr) = pads
    if n * h * wd * c == 0 or oh * ow * f == 0 or kh * kw == 0:
        return xp.zeros(xshape, dtype=dtype)
    if xp is not np:
        dx = _gpu_col2im(xp, dy, w, xshape, oh, ow, strides, dil, pads)
        if dx is not None:
            return downcast(dx, dtype)
    ekh, ekw = (kh - 1) * dil[0] + 1, (kw - 1) * dil[1] + 1
    tpads = ((ekh - 1 - pt, h + pt - oh), (ekw - 1 - pl, wd + pl - ow))
    if strides == (1, 1) and c >= TCONV_MIN_CHANNELS and min(tpads[0] + tpads[1]) >= 0:
        # Stride 1: the input gradient is the forward conv of dy with the kernel flipped in space and
        # its in/out channels swapped (a "full" correlation); it reuses the chunked forward path. With
        # few input channels that GEMM is nearly a matrix-vector product over a lowered dy KH*KW*F
        # wide, and col2im (GEMM to KH*KW*C columns, then KH*KW slice adds) is far cheaper.
        wt = xp.ascontiguousarray(w[::-1, ::-1].transpose(0, 1, 3, 2))
        return downcast(conv2d(xp, dy, wt, (1, 1), dil, tpads), dtype)
    return downcast(_col2im_backprop_input(xp, dy, w, xshape, strides, dil, pads), dtype)


def _col2im_backprop_input(xp: Any, dy: Any, w: Any, xshape: tuple, strides: tuple, dil: tuple,
                           pads: tuple) -> Any:
    # General strides: one GEMM per chunk to the lowered gradient, then KH*KW strided adds into a
    # padded input gradient (each add touches distinct positions, so overlapping windows sum right).
    n, h, wd, c = xshape
    kh, kw, _, f = w.shape
    _, oh, ow, _ = dy.shape
    (pt, _), (pl, _) = pads
    sh, sw = strides
    k = kh * kw * c
    hp = window_extent(h, pads[0], oh, kh, sh, dil[0])
    wp = window_extent(wd, pads[1], ow, kw, sw, dil[1])
    dxp = xp.zeros((n, hp, wp, c), dtype=dy.dtype)
    wmt = w.reshape(k, f).T
    nb = _chunk(xp, n, oh * ow, k * dy.itemsize)

    def part(lo: int, hi: int) -> None:
        buf = xp.empty(min(nb, hi - lo) * oh * ow * k, dtype=dy.dtype)
        for n0 in range(lo, hi, nb):
            b = min(nb, hi - n0)
            m = b * oh * ow
            lo_ = buf[:m * k].reshape(m, k)
            _gemm(xp, dy[n0:n0 + b].reshape(m, f), wmt, lo_)
            lo_ = lo_.reshape(b, oh, ow, kh, kw, c)
            d = dxp[n0:n0 + b]
            for i in range(kh):
                r0 = i * dil[0]
                for j in range(kw):
                    c0 = j * dil[1]
                    d[:, r0:r0 + (oh - 1) * sh + 1:sh, c0:c0 + (ow - 1) * sw + 1:sw] += lo_[:, :, :, i, j]

    batch_parts(xp, n, oh * ow * k * dy.itemsize, part, gemm=True)
    return xp.ascontiguousarray(dxp[:, pt:pt + h, pl:pl + wd])


# -- GPU: im2col and col2im as one index-arithmetic kernel each (ops/gpu_raw_kernels.py) ----------------
_gpu_arg_lists: dict[tuple, list] = {}


def _gpu_args(x_shape: tuple, oh: int, ow: int, ksize: tuple, strides: tuple, dil: tuple, pads: tuple) -> list:
    """The im2col/col2im kernels' int arguments, made once per geometry (every GPU step needs them)."""
    key = (x_shape[1:], oh, ow, ksize, strides, dil, pads)
    args = _gpu_arg_lists.get(key)
    if args is None:
        from labflow.ops import gpu_raw_kernels as gik
        if len(_gpu_arg_lists) > 4096:
            _gpu_arg_lists.clear()
        args = _gpu_arg_lists[key] = gik.geometry(x_shape, oh, ow, ksize, strides) + [
            np.int32(v) for v in (*dil, pads[0][0], pads[1][0])]
    return args


def _gpu_im2col(xp: Any, x: Any, oh: int, ow: int, kh: int, kw: int, strides: tuple, dil: tuple,
                pads: tuple) -> Any:
    """The [N*OH*OW, KH*KW*C] lowered x (padding included) in one launch; None where the kernel does not
    apply (then the caller takes the array-op path)."""
    from labflow.ops import gpu_raw_kernels as gik
    n, c = x.shape[0], x.shape[3]
    col = xp.empty((n * oh * ow, kh * kw * c), dtype=x.dtype)
    if not gik.supported(x, col):
        return None
    run = gik.kernel(xp, "im2col", x.dtype, _im2col_reference)
    x = x if x.flags.c_contiguous else xp.ascontiguousarray(x)
    return col if run is not None and run(col.size, x, *_gpu_args(x.shape, oh, ow, (kh, kw), strides, dil, pads),
                                          col) else None


def _gpu_col2im(xp: Any, dy: Any, w: Any, xshape: tuple, oh: int, ow: int, strides: tuple, dil: tuple,
                pads: tuple) -> Any:
    """The input gradient as one GEMM to the lowered gradient [N*OH*OW, KH*KW*C] and one gather kernel
    (each input element sums the entries of the windows covering it); None where it does not apply."""
    from labflow.ops import gpu_raw_kernels as gik
    kh, kw, c, f = w.shape
    dx = xp.empty(xshape, dtype=dy.dtype)
    if not gik.supported(dy, w, dx) or dy.shape[0] * oh * ow * kh * kw * c >= 2**31:
        return None
    run = gik.kernel(xp, "col2im", dy.dtype, _col2im_reference)
    if run is None:
        return None
    dy = dy if dy.flags.c_contiguous else xp.ascontiguousarray(dy)
    dcol = gpu_blas.gemm(xp, dy.reshape(-1, f), w.reshape(-1, f).T)
    return dx if run(dx.size, dcol, *_gpu_args(xshape, oh, ow, (kh, kw), strides, dil, pads), dx) else None


def window_extent(size: int, pads: tuple, out: int, k: int, stride: int, dil: int = 1) -> int:
    """Length of a padded buffer along one dim: the padded input, grown to where the last window ends (VALID
    leftovers need no growth; SAME's odd element at the end can need one)."""
    return max(size + pads[0] + pads[1], (out - 1) * stride + (k - 1) * dil + 1)


def padded_extent(size: int, out: int, k: int, stride: int, dil: int, before: int) -> int:
    """The padding after the input that `out` windows reach (what the GPU kernels' NumPy twins pad)."""
    return max(0, (out - 1) * stride + (k - 1) * dil + 1 - size - before)


def _im2col_reference(x, h, w, ch, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, col) -> None:
    """NumPy twin of the im2col kernel (what the emulated GPU runs)."""
    pads = ((pt, padded_extent(h, oh, kh, sh, dh, pt)), (pl, padded_extent(w, ow, kw, sw, dw, pl)))
    view = _lowered_view(np, pad_hw(np, x, pads), oh, ow, kh, kw, (sh, sw), (dh, dw), False)
    col[...] = view.reshape(col.shape)


def _col2im_reference(dcol, h, w, ch, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl, dx) -> None:
    """NumPy twin of the col2im kernel: KH*KW strided slice adds into a padded gradient, then the crop."""
    n = dx.shape[0]
    hp = h + pt + padded_extent(h, oh, kh, sh, dh, pt)
    wp = w + pl + padded_extent(w, ow, kw, sw, dw, pl)
    dxp = np.zeros((n, hp, wp, ch), dtype=dx.dtype)
    lo = dcol.reshape(n, oh, ow, kh, kw, ch)
    for i in range(kh):
        for j in range(kw):
            dxp[:, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw] += lo[:, :, :, i, j]
    dx[...] = dxp[:, pt:pt + h, pl:pl + w]
