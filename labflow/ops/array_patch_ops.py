"""ExtractImagePatches (tf.extract_image_patches): every ksize window of an NHWC image, flattened into depth.

The kernel is one advanced-indexing gather from the padded image. The gradient scatters the patch gradients back
with unsorted_segment_sum over a position map computed on the host from the static image size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow.framework.registry import op
from labflow.framework.shapes import shape_str
from labflow.framework.tensor import Tensor
from labflow.ops.common import REAL_TYPES, base, convert_to_tensor, dims, make_tensor
from labflow.ops.conv_kernels import window_geometry

__all__ = ["extract_image_patches"]


def _four(v: Any, what: str) -> list[int]:
    vals = [int(x) for x in v]
    if len(vals) != 4 or vals[0] != 1 or vals[3] != 1:
        raise ValueError(f"ExtractImagePatches: {what} must be [1, rows, cols, 1], got {vals} (only the spatial "
                         "dimensions can differ from 1)")
    if any(x < 1 for x in vals):
        raise ValueError(f"ExtractImagePatches: {what} must be positive, got {vals}")
    return vals


def _geometry(size: int, k: int, s: int, r: int, padding: str) -> tuple[int, int]:
    """(output size, padding before) for one spatial dimension, TF's SAME/VALID rules on the dilated window."""
    out, before, _ = window_geometry(size, k, s, r, padding)
    return max(out, 0), before  # a VALID window larger than the image gives no patches, not an error


def _patch_shape(ins, attrs):
    ks, st, rt = (_four(attrs[a], a) for a in ("ksizes", "strides", "rates"))
    pad = attrs["padding"]
    if pad not in ("SAME", "VALID"):
        raise ValueError(f"ExtractImagePatches: padding must be 'SAME' or 'VALID', got {pad!r}")
    d = dims(ins[0])
    if d is None:
        return base(ins[0]), (None,) * 4
    if len(d) != 4:
        raise ValueError(f"Shape must be rank 4 but is rank {len(d)} for 'ExtractImagePatches' (input "
                         f"{shape_str(d)})")
    n, h, w, c = d
    oh = None if h is None else _geometry(h, ks[1], st[1], rt[1], pad)[0]
    ow = None if w is None else _geometry(w, ks[2], st[2], rt[2], pad)[0]
    return base(ins[0]), (n, oh, ow, None if c is None else ks[1] * ks[2] * c)


def _window_index(size: int, k: int, s: int, r: int, padding: str) -> tuple[np.ndarray, int]:
    """[out, k] positions in the padded dimension, and the padding before."""
    out, before = _geometry(size, k, s, r, padding)
    return np.arange(out)[:, None] * s + np.arange(k)[None, :] * r, before


@op("ExtractImagePatches", inputs=("images",), attrs={"ksizes": None, "strides": None, "rates": None,
                                                      "padding": "VALID"},
    types=REAL_TYPES, shape=_patch_shape)
def extract_image_patches_kernel(xp, images, *, ksizes, strides, rates, padding):
    n, h, w, c = images.shape
    rows, top = _window_index(h, ksizes[1], strides[1], rates[1], padding)
    cols, left = _window_index(w, ksizes[2], strides[2], rates[2], padding)
    need_h = int(rows.max()) + 1 if rows.size else 0
    need_w = int(cols.max()) + 1 if cols.size else 0
    x = xp.pad(images, [(0, 0), (top, max(need_h - h - top, 0)), (left, max(need_w - w - left, 0)), (0, 0)])
    ri = xp.asarray(rows[:, None, :, None])
    ci = xp.asarray(cols[None, :, None, :])
    patches = x[:, ri, ci, :]  # [n, out_rows, out_cols, k_rows, k_cols, c]
    return patches.reshape(n, rows.shape[0], cols.shape[0], -1)


@extract_image_patches_kernel.grad
def _extract_image_patches_grad(op, grad):
    grad = convert_to_tensor(grad)
    from labflow.ops import array_ops
    from labflow.ops.array_gather_ops import unsorted_segment_sum
    from labflow.ops.array_reshape_ops import transpose
    x = op.inputs[0]
    d = dims(x)
    if d is None or any(v is None for v in d[1:]):
        raise ValueError(f"Gradient of ExtractImagePatches '{op.name}' needs the image's height, width and depth "
                         f"statically known, got {shape_str(d)}")
    _, h, w, c = d
    ks, st, rt, pad = (op.get_attr(a) for a in ("ksizes", "strides", "rates", "padding"))
    rows, top = _window_index(h, ks[1], st[1], rt[1], pad)
    cols, left = _window_index(w, ks[2], st[2], rt[2], pad)
    r = rows[:, None, :, None] - top
    q = cols[None, :, None, :] - left
    inside = (r >= 0) & (r < h) & (q >= 0) & (q < w)
    # flat source position of every patch element; padding maps to -1, which the segment sum drops
    where = np.where(inside, r * w + q, -1).reshape(-1).astype(np.int32)
    g = array_ops.reshape(grad, [-1, where.size, c])
    summed = unsorted_segment_sum(transpose(g, [1, 0, 2]), array_ops._int_const(where, grad.graph), h * w)
    return [array_ops.reshape(transpose(summed, [1, 0, 2]), [-1, h, w, c])]


def extract_image_patches(images: Any, ksizes: Any = None, strides: Any = None, rates: Any = None,
                          padding: str | None = None, name: str | None = None, sizes: Any = None) -> Tensor:
    """Extracts `ksizes` windows from a 4-D NHWC image batch into the depth dimension.

    Args:
        images: [batch, rows, cols, depth] tensor.
        ksizes: [1, k_rows, k_cols, 1] window size (`sizes` is TF 2's spelling).
        strides: [1, s_rows, s_cols, 1] distance between window starts.
        rates: [1, r_rows, r_cols, 1] dilation inside a window.
        padding: 'VALID' (windows inside the image) or 'SAME' (zero padded, ceil(size / stride) windows).
        name: op name (default "ExtractImagePatches").

    Returns:
        [batch, out_rows, out_cols, k_rows * k_cols * depth]: each window flattened in (row, col, depth) order.
    """
    ks = ksizes if ksizes is not None else sizes
    if ks is None or strides is None or rates is None or padding is None:
        raise TypeError("extract_image_patches() needs ksizes, strides, rates and padding")
    x = convert_to_tensor(images, name="images")
    attrs = {"ksizes": [int(v) for v in ks], "strides": [int(v) for v in strides], "rates": [int(v) for v in rates],
             "padding": padding}
    return make_tensor("ExtractImagePatches", [x], attrs, name or "ExtractImagePatches")
