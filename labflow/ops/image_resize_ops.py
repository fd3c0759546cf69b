"""Resize kernels of tf.image: ResizeBilinear, ResizeNearestNeighbor, ResizeBicubic, ResizeArea and their gradients.

Every method is separable: per axis, each output sample is a weighted sum of a few input samples ("taps",
built on the host), so a forward resize is a few gathers per axis and costs in proportion to its output. A
gradient is the transposed map, applied as two products with the [out, in] matrices (`Wy^T @ g @ Wx`). The
taps reproduce TF's index and lerp arithmetic (float32 scales, TF1's legacy corner convention by default,
`half_pixel_centers` where TF has it), so results match TF's to float32 rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops.common import (
    FLOAT_TYPES,
    REAL_TYPES,
    base,
    constant_value,
    convert_to_tensor,
    dims,
    make_tensor,
)
from labflow.ops.conv_ops import rank4

_F32 = np.float32
_GRAD_TYPES = (_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64)


# -- host-side weights -------------------------------------------------------------------------------
def _scale(in_size: int, out_size: int, align_corners: bool) -> np.float32:
    # TF's CalculateResizeScale, in float32 like the C++ code.
    if align_corners and out_size > 1:
        return _F32(in_size - 1) / _F32(out_size - 1)
    return _F32(in_size) / _F32(out_size)


def _source(out_size: int, scale: np.float32, half_pixel: bool, offset: float = 0.5) -> np.ndarray:
    o = np.arange(out_size, dtype=_F32)
    if half_pixel:
        return (o + _F32(0.5)) * scale - _F32(offset)
    return o * scale


def _taps(idx: list, weights: list) -> tuple:
    """(index [out, K], weight [out, K]): output i is sum_k weight[i, k] * input[index[i, k]]."""
    return np.stack(idx, axis=1).astype(np.int64), np.stack(weights, axis=1).astype(np.float64)


def dense(taps: tuple, in_size: int) -> np.ndarray:
    """The [out, in] matrix of a tap list (its transpose is the gradient's map)."""
    idx, w = taps
    m = np.zeros((idx.shape[0], in_size), np.float64)
    np.add.at(m, (np.arange(idx.shape[0])[:, None], idx), w)
    return m


def bilinear_taps(in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> tuple:
    """The taps of TF's ResizeBilinear along one axis."""
    src = _source(out_size, _scale(in_size, out_size, align_corners), half_pixel)
    f = np.floor(src)
    lo = np.clip(f.astype(np.int64), 0, in_size - 1)
    hi = np.minimum(np.ceil(src).astype(np.int64), in_size - 1)
    lerp = (src - f).astype(np.float64)
    return _taps([lo, hi], [1.0 - lerp, lerp])


def nearest_index(in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> np.ndarray:
    """The input index TF's ResizeNearestNeighbor reads for each output index along one axis."""
    src = _source(out_size, _scale(in_size, out_size, align_corners), half_pixel, offset=0.0)
    # roundf rounds halves away from zero; the positions are >= 0 so floor(x + 0.5) is the same.
    idx = np.floor(src + _F32(0.5)) if align_corners else np.floor(src)
    idx = np.minimum(idx.astype(np.int64), in_size - 1)
    return np.maximum(idx, 0)


def nearest_taps(in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> tuple:
    return _taps([nearest_index(in_size, out_size, align_corners, half_pixel)], [np.ones(out_size)])


def _cubic(a: float, x: np.ndarray) -> tuple:
    # TF's coefficient table entries: |t| <= 1 and 1 < |t| < 2 pieces of the cubic convolution kernel.
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    x1 = x + 1
    far = ((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a
    return near, far


def bicubic_taps(in_size: int, out_size: int, align_corners: bool, half_pixel: bool) -> tuple:
    """The taps of TF's ResizeBicubic: its 1024-entry coefficient table (a = -0.75 legacy,
    Keys' a = -0.5 with half-pixel centers, where taps outside the image get no weight)."""
    table = 1024
    src = _source(out_size, _scale(in_size, out_size, align_corners), half_pixel)
    base_idx = np.floor(src).astype(np.int64)
    delta = src - np.floor(src)
    offset = np.rint(delta * table).astype(np.int64)
    a = -0.5 if half_pixel else -0.75
    near0, far0 = _cubic(a, offset / table)
    near1, far1 = _cubic(a, (table - offset) / table)
    ws = [far0, near0, near1, far1]
    raw = [base_idx - 1, base_idx, base_idx + 1, base_idx + 2]
    idx = [np.clip(i, 0, in_size - 1) for i in raw]
    if half_pixel:
        ws = [np.where(i == r, w, 0.0) for i, r, w in zip(idx, raw, ws)]
        total = sum(ws)
        ok = np.abs(total) >= 1000.0 * np.finfo(np.float32).tiny
        ws = [np.where(ok, w / np.where(ok, total, 1.0), w) for w in ws]
    return _taps(idx, ws)


def area_taps(in_size: int, out_size: int, align_corners: bool, half_pixel: bool = False) -> tuple:
    """The taps of TF's ResizeArea: the overlap of each output cell with each input pixel, over the scale
    (rows with fewer overlaps are padded with zero-weight taps)."""
    scale = _scale(in_size, out_size, align_corners)
    start = np.arange(out_size, dtype=_F32) * scale
    end = np.arange(1, out_size + 1, dtype=_F32) * scale
    first = np.floor(start).astype(np.int64)
    count = np.ceil(end).astype(np.int64) - first
    k = np.arange(int(count.max()) if out_size else 0)
    cell = first[:, None] + k[None, :]
    part = np.minimum((cell + 1).astype(_F32), end[:, None]) - np.maximum(cell.astype(_F32), start[:, None])
    w = np.where(k[None, :] < count[:, None], part.astype(np.float64), 0.0) / float(scale)
    return np.clip(cell, 0, in_size - 1), w


# -- device-side application ---------------------------------------------------------------------------
def _compute_dtype(dtype: Any) -> Any:
    return np.float64 if dtype == np.float64 else np.float32


def _apply_taps(xp: Any, x: Any, taps: tuple, axis: int) -> Any:
    idx, w = taps
    shape = [1, 1, 1, 1]
    shape[axis] = idx.shape[0]
    out = None
    for k in range(idx.shape[1]):
        term = xp.take(x, xp.asarray(idx[:, k]), axis=axis) * xp.asarray(w[:, k].astype(x.dtype).reshape(shape))
        out = term if out is None else out + term
    return out


def apply_taps(xp: Any, x: Any, ty: tuple, tx: tuple) -> Any:
    """The forward resize: per axis, a few gathers scaled and summed (work proportional to the output)."""
    b, _, _, c = x.shape
    oh, ow = ty[0].shape[0], tx[0].shape[0]
    if x.size == 0 or oh * ow == 0:
        return xp.zeros((b, oh, ow, c), x.dtype)
    return _apply_taps(xp, _apply_taps(xp, x, ty, 1), tx, 2)


def apply_separable(xp: Any, x: Any, wy: np.ndarray, wx: np.ndarray) -> Any:
    """`out[b, i, j, c] = sum_yx wy[i, y] * wx[j, x] * x[b, y, x, c]` as two batched matrix products."""
    b, h, w, c = x.shape
    oh, ow = wy.shape[0], wx.shape[0]
    if x.size == 0 or oh * ow == 0:
        return xp.zeros((b, oh, ow, c), x.dtype)
    my = xp.asarray(wy.astype(x.dtype))
    mx = xp.asarray(wx.astype(x.dtype))
    t = xp.matmul(my, x.reshape(b, h, w * c)).reshape(b * oh, w, c)
    return xp.matmul(mx, t).reshape(b, oh, ow, c)


def _out_size(size: Any) -> tuple:
    oh, ow = (int(v) for v in np.asarray(size).reshape(-1))
    return oh, ow


def _resize(xp: Any, op_type: str, taps: Any, images: Any, size: Any, align_corners: bool,
            half_pixel_centers: bool) -> Any:
    """The float32 forward resize of the tap-based methods (`taps` is one of the *_taps above)."""
    oh, ow = _out_size(size)
    _check(op_type, images.shape, (oh, ow), align_corners, half_pixel_centers)
    x = images.astype(_compute_dtype(images.dtype), copy=False)
    ty = taps(images.shape[1], oh, align_corners, half_pixel_centers)
    tx = taps(images.shape[2], ow, align_corners, half_pixel_centers)
    return apply_taps(xp, x, ty, tx).astype(np.float32, copy=False)


def _resize_backprop(xp: Any, taps: Any, grads: Any, h: int, w: int, dtype: Any, align_corners: bool,
                     half_pixel_centers: bool) -> Any:
    """The gradient of a forward resize through `taps` back onto an [h, w] image of `dtype`."""
    g = grads.astype(_compute_dtype(dtype), copy=False)
    wy = dense(taps(h, grads.shape[1], align_corners, half_pixel_centers), h)
    wx = dense(taps(w, grads.shape[2], align_corners, half_pixel_centers), w)
    return apply_separable(xp, g, wy.T, wx.T).astype(dtype, copy=False)


def _check(op_type: str, images_shape: tuple, size: tuple, align_corners: bool, half_pixel: bool) -> None:
    if align_corners and half_pixel:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: if half_pixel_centers is True, align_corners "
                                          "must be False.")
    if size[0] <= 0 or size[1] <= 0:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: output dimensions must be positive, got size "
                                          f"[{size[0]}, {size[1]}]")
    if images_shape[1] <= 0 or images_shape[2] <= 0:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: input image must be of non-zero size, got "
                                          f"shape {list(images_shape)}")


# -- shape functions --------------------------------------------------------------------------------------
def _size_dims(op_type: str, size: Any) -> tuple:
    if base(size) != _dt.int32:
        raise TypeError(f"Input 'size' of '{op_type}' Op has type {base(size).name} that does not match expected "
                        "type of int32.")
    d = dims(size)
    if d is not None and (len(d) != 1 or d[0] not in (None, 2)):
        raise ValueError(f"'{op_type}': size must be a 1-D int32 Tensor of 2 elements (new_height, new_width), "
                         f"got shape {list(d)}")
    v = constant_value(size)
    if v is None:
        return None, None
    return tuple(int(x) for x in np.reshape(v, [-1]))


def _resize_shape(op_type: str, out_dtype: Any | None) -> Any:
    def fn(ins, attrs):
        d = rank4(ins[0], "input 'images'", op_type)
        oh, ow = _size_dims(op_type, ins[1])
        return (out_dtype or base(ins[0])), (d[0], oh, ow, d[3])
    return fn


def _resize_grad_shape(op_type: str) -> Any:
    # (grads, original_image): the output has the original image's shape and dtype.
    def fn(ins, attrs):
        g = rank4(ins[0], "input 'grads'", op_type)
        o = rank4(ins[1], "input 'original_image'", op_type)
        return base(ins[1]), (g[0] if g[0] is not None else o[0], o[1], o[2], g[3] if g[3] is not None else o[3])
    return fn


def _nn_grad_shape(ins, attrs):
    g = rank4(ins[0], "input 'grads'", "ResizeNearestNeighborGrad")
    oh, ow = _size_dims("ResizeNearestNeighborGrad", ins[1])
    return base(ins[0]), (g[0], oh, ow, g[3])


_RESIZE_ATTRS = {"align_corners": False, "half_pixel_centers": False}


# -- ResizeBilinear ------------------------------------------------------------------------------------------
@op("ResizeBilinear", inputs=("images", "size"), attrs=dict(_RESIZE_ATTRS), types=REAL_TYPES,
    type_inputs=("images",), shape=_resize_shape("ResizeBilinear", _dt.float32), host_inputs=(1,))
def resize_bilinear_kernel(xp, images, size, *, align_corners, half_pixel_centers):
    return _resize(xp, "ResizeBilinear", bilinear_taps, images, size, align_corners, half_pixel_centers)


@resize_bilinear_kernel.grad
def _resize_bilinear_grad(op, grad):
    images = op.inputs[0]
    if not images.dtype.base_dtype.is_floating:
        return [None, None]
    attrs = {k: op.get_attr(k) for k in _RESIZE_ATTRS}
    return [make_tensor("ResizeBilinearGrad", [grad, images], attrs), None]


@op("ResizeBilinearGrad", inputs=("grads", "original_image"), attrs=dict(_RESIZE_ATTRS), types=_GRAD_TYPES,
    type_inputs=("original_image",), shape=_resize_grad_shape("ResizeBilinearGrad"), not_differentiable=True)
def resize_bilinear_grad_kernel(xp, grads, original_image, *, align_corners, half_pixel_centers):
    h, w = original_image.shape[1:3]
    return _resize_backprop(xp, bilinear_taps, grads, h, w, original_image.dtype, align_corners, half_pixel_centers)


# -- ResizeNearestNeighbor ----------------------------------------------------------------------------------
@op("ResizeNearestNeighbor", inputs=("images", "size"), attrs=dict(_RESIZE_ATTRS), types=REAL_TYPES,
    type_inputs=("images",), shape=_resize_shape("ResizeNearestNeighbor", None), host_inputs=(1,))
def resize_nearest_kernel(xp, images, size, *, align_corners, half_pixel_centers):
    oh, ow = _out_size(size)
    _check("ResizeNearestNeighbor", images.shape, (oh, ow), align_corners, half_pixel_centers)
    iy = xp.asarray(nearest_index(images.shape[1], oh, align_corners, half_pixel_centers))
    ix = xp.asarray(nearest_index(images.shape[2], ow, align_corners, half_pixel_centers))
    return xp.take(xp.take(images, iy, axis=1), ix, axis=2)


@resize_nearest_kernel.grad
def _resize_nearest_grad(op, grad):
    images = op.inputs[0]
    if not images.dtype.base_dtype.is_floating:
        return [None, None]
    attrs = {k: op.get_attr(k) for k in _RESIZE_ATTRS}
    from labflow.ops import array_ops
    size = array_ops._shape_of(images)[1:3]
    return [make_tensor("ResizeNearestNeighborGrad", [grad, size], attrs), None]


@op("ResizeNearestNeighborGrad", inputs=("grads", "size"), attrs=dict(_RESIZE_ATTRS),
    types=FLOAT_TYPES + (_dt.int8, _dt.uint8, _dt.int32), type_inputs=("grads",), shape=_nn_grad_shape,
    host_inputs=(1,), not_differentiable=True)
def resize_nearest_grad_kernel(xp, grads, size, *, align_corners, half_pixel_centers):
    h, w = _out_size(size)
    return _resize_backprop(xp, nearest_taps, grads, h, w, grads.dtype, align_corners, half_pixel_centers)


# -- ResizeBicubic --------------------------------------------------------------------------------------------
@op("ResizeBicubic", inputs=("images", "size"), attrs=dict(_RESIZE_ATTRS), types=REAL_TYPES,
    type_inputs=("images",), shape=_resize_shape("ResizeBicubic", _dt.float32), host_inputs=(1,))
def resize_bicubic_kernel(xp, images, size, *, align_corners, half_pixel_centers):
    return _resize(xp, "ResizeBicubic", bicubic_taps, images, size, align_corners, half_pixel_centers)


@resize_bicubic_kernel.grad
def _resize_bicubic_grad(op, grad):
    images = op.inputs[0]
    if base(images) not in (_dt.float32, _dt.float64):
        return [None, None]
    attrs = {k: op.get_attr(k) for k in _RESIZE_ATTRS}
    return [make_tensor("ResizeBicubicGrad", [grad, images], attrs), None]


@op("ResizeBicubicGrad", inputs=("grads", "original_image"), attrs=dict(_RESIZE_ATTRS),
    types=(_dt.float32, _dt.float64), type_inputs=("original_image",),
    shape=_resize_grad_shape("ResizeBicubicGrad"), not_differentiable=True)
def resize_bicubic_grad_kernel(xp, grads, original_image, *, align_corners, half_pixel_centers):
    h, w = original_image.shape[1:3]
    return _resize_backprop(xp, bicubic_taps, grads, h, w, original_image.dtype, align_corners, half_pixel_centers)


# -- ResizeArea (no gradient in TF) -----------------------------------------------------------------------------
@op("ResizeArea", inputs=("images", "size"), attrs={"align_corners": False}, types=REAL_TYPES,
    type_inputs=("images",), shape=_resize_shape("ResizeArea", _dt.float32), host_inputs=(1,),
    not_differentiable=True)
def resize_area_kernel(xp, images, size, *, align_corners):
    return _resize(xp, "ResizeArea", area_taps, images, size, align_corners, False)


# -- raw wrappers (tf.image.resize_bilinear & co: 4-D images only) ---------------------------------------------
def _raw(op_type: str, images: Any, size: Any, attrs: dict, name: str | None) -> Tensor:
    with name_scope(name, op_type, [images, size]) as scope:
        x = convert_to_tensor(images, name="images")
        s = convert_to_tensor(size, dtype=_dt.int32, name="size")
        return make_tensor(op_type, [x, s], attrs, scope)


def resize_bilinear(images: Any, size: Any, align_corners: bool = False, name: str | None = None,
                    half_pixel_centers: bool = False) -> Tensor:
    """Resizes 4-D `images` to `size` with bilinear interpolation (TF's ResizeBilinear op).

    Args:
        images: a 4-D real Tensor [batch, height, width, channels].
        size: a 1-D int32 Tensor of 2 elements: new_height, new_width.
        align_corners: map the corner pixels' centres onto each other (scale (in-1)/(out-1)).
        name: a name for the op.
        half_pixel_centers: sample at pixel centres (TF2's convention); TF1's default is False.

    Returns:
        A float32 Tensor [batch, new_height, new_width, channels].
    """
    return _raw("ResizeBilinear", images, size, {"align_corners": bool(align_corners),
                                                 "half_pixel_centers": bool(half_pixel_centers)}, name)


def resize_nearest_neighbor(images: Any, size: Any, align_corners: bool = False, name: str | None = None,
                            half_pixel_centers: bool = False) -> Tensor:
    """Resizes 4-D `images` to `size` with nearest-neighbour sampling (TF's ResizeNearestNeighbor op).

    Args:
        images: a 4-D real Tensor [batch, height, width, channels].
        size: a 1-D int32 Tensor of 2 elements: new_height, new_width.
        align_corners: map the corner pixels' centres onto each other (and round instead of floor).
        name: a name for the op.
        half_pixel_centers: sample at pixel centres.

    Returns:
        A Tensor of the images' dtype, [batch, new_height, new_width, channels].
    """
    return _raw("ResizeNearestNeighbor", images, size, {"align_corners": bool(align_corners),
                                                        "half_pixel_centers": bool(half_pixel_centers)}, name)


def resize_bicubic(images: Any, size: Any, align_corners: bool = False, name: str | None = None,
                   half_pixel_centers: bool = False) -> Tensor:
    """Resizes 4-D `images` to `size` with bicubic interpolation (TF's ResizeBicubic op).

    Args:
        images: a 4-D real Tensor [batch, height, width, channels].
        size: a 1-D int32 Tensor of 2 elements: new_height, new_width.
        align_corners: map the corner pixels' centres onto each other.
        name: a name for the op.
        half_pixel_centers: sample at pixel centres (with Keys' kernel, as TF does).

    Returns:
        A float32 Tensor [batch, new_height, new_width, channels].
    """
    return _raw("ResizeBicubic", images, size, {"align_corners": bool(align_corners),
                                                "half_pixel_centers": bool(half_pixel_centers)}, name)


def resize_area(images: Any, size: Any, align_corners: bool = False, name: str | None = None) -> Tensor:
    """Resizes 4-D `images` to `size` by area averaging (TF's ResizeArea op; it has no gradient).

    Args:
        images: a 4-D real Tensor [batch, height, width, channels].
        size: a 1-D int32 Tensor of 2 elements: new_height, new_width.
        align_corners: scale by (in-1)/(out-1) instead of in/out.
        name: a name for the op.

    Returns:
        A float32 Tensor [batch, new_height, new_width, channels].
    """
    return _raw("ResizeArea", images, size, {"align_corners": bool(align_corners)}, name)
