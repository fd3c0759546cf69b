"""CropAndResize and its gradients (CropAndResizeGradImage, CropAndResizeGradBoxes): tf.image.crop_and_resize.

Each box [y1, x1, y2, x2] (normalised; y1 > y2 flips the crop) of image `box_ind[i]` is sampled on a
crop_size grid that maps the box's ends onto the first and last samples, exactly as TF's kernel does;
samples outside the image take `extrapolation_value`. Whole arrays, no per-box Python loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops import array_ops
from labflow.ops.array_ops import _scatter_add
from labflow.ops.common import REAL_TYPES, base, constant_value, convert_to_tensor, dims, make_tensor
from labflow.ops.conv_ops import rank4


def _positions(xp: Any, lo: Any, hi: Any, crop: int, size: int, dt: Any) -> Any:
    """[n, crop] sampling positions (in pixels) along one axis, in `dt` arithmetic like TF's float32."""
    span = dt.type(size - 1)
    if crop > 1:
        scale = (hi - lo) * span / dt.type(crop - 1)
        return lo[:, None] * span + xp.arange(crop, dtype=dt)[None, :] * scale[:, None]
    return (dt.type(0.5) * (lo + hi) * span)[:, None]


def _sample_grid(xp: Any, image_shape: tuple, boxes: Any, crop_size: tuple, dt: Any) -> tuple:
    h, w = image_shape[1], image_shape[2]
    b = boxes.astype(dt, copy=False)
    ys = _positions(xp, b[:, 0], b[:, 2], crop_size[0], h, dt)
    xs = _positions(xp, b[:, 1], b[:, 3], crop_size[1], w, dt)
    valid = (((ys >= 0) & (ys <= h - 1))[:, :, None]) & (((xs >= 0) & (xs <= w - 1))[:, None, :])
    return ys, xs, valid


def _corners(xp: Any, pos: Any, size: int) -> tuple:
    top = xp.floor(pos)
    lerp = pos - top
    lo = xp.clip(top, 0, size - 1).astype(np.int64)
    hi = xp.clip(xp.ceil(pos), 0, size - 1).astype(np.int64)
    return lo, hi, lerp


def _check(op_type: str, xp: Any, batch: int, boxes: Any, box_ind: Any, crop: tuple | None) -> None:
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: boxes must be 2-D [num_boxes, 4], got shape "
                                          f"{list(boxes.shape)}")
    if box_ind.shape != (boxes.shape[0],):
        raise errors.InvalidArgumentError(None, None, f"{op_type}: box_index has incompatible shape "
                                          f"{list(box_ind.shape)} for {boxes.shape[0]} boxes")
    if crop is not None and (crop[0] <= 0 or crop[1] <= 0):
        raise errors.InvalidArgumentError(None, None, f"{op_type}: crop dimensions must be positive, got "
                                          f"{list(crop)}")
    if box_ind.size and (int(xp.min(box_ind)) < 0 or int(xp.max(box_ind)) >= batch):
        raise errors.InvalidArgumentError(None, None, f"{op_type}: box_index has values outside [0, {batch})")


def crop_and_resize_array(xp: Any, image: Any, boxes: Any, box_ind: Any, crop_size: tuple, method: str,
                          extrapolation_value: float, dt: Any) -> Any:
    """The crops [num_boxes, crop_h, crop_w, depth] in `dt` (float32 in the op; float64 for checks)."""
    n, d = boxes.shape[0], image.shape[3]
    ch, cw = crop_size
    if n == 0:
        return xp.zeros((0, ch, cw, d), dt)
    ys, xs, valid = _sample_grid(xp, image.shape, boxes, crop_size, dt)
    img = image.astype(dt, copy=False)
    bi = box_ind.astype(np.int64)[:, None, None]
    if method == "nearest":
        # roundf: halves away from zero (positions inside the image are >= 0)
        yi = xp.clip(xp.floor(ys + dt.type(0.5)), 0, image.shape[1] - 1).astype(np.int64)
        xi = xp.clip(xp.floor(xs + dt.type(0.5)), 0, image.shape[2] - 1).astype(np.int64)
        out = img[bi, yi[:, :, None], xi[:, None, :]]
    else:
        y0, y1, ly = _corners(xp, ys, image.shape[1])
        x0, x1, lx = _corners(xp, xs, image.shape[2])
        lx = lx[:, None, :, None]
        tl, tr = img[bi, y0[:, :, None], x0[:, None, :]], img[bi, y0[:, :, None], x1[:, None, :]]
        bl, br = img[bi, y1[:, :, None], x0[:, None, :]], img[bi, y1[:, :, None], x1[:, None, :]]
        top = tl + (tr - tl) * lx
        bottom = bl + (br - bl) * lx
        out = top + (bottom - top) * ly[:, :, None, None]
    return xp.where(valid[..., None], out, dt.type(extrapolation_value))


def _crop_shape(ins, attrs):
    img = rank4(ins[0], "input 'image'", "CropAndResize")
    bx = dims(ins[1])
    if bx is not None and (len(bx) != 2 or bx[1] not in (None, 4)):
        raise ValueError(f"'CropAndResize': boxes must be [num_boxes, 4], got {list(bx)}")
    bi = dims(ins[2])
    if bi is not None and len(bi) != 1:
        raise ValueError(f"Shape must be rank 1 but is rank {len(bi)} for 'CropAndResize' (input 'box_ind')")
    if attrs["method"] not in ("bilinear", "nearest"):
        raise ValueError(f"CropAndResize: method must be 'bilinear' or 'nearest', got {attrs['method']!r}")
    cv = constant_value(ins[3])
    ch, cw = (None, None) if cv is None else (int(v) for v in np.reshape(cv, [-1]))
    n = bx[0] if bx is not None else (bi[0] if bi is not None else None)
    return _dt.float32, (n, ch, cw, img[3])


@op("CropAndResize", inputs=("image", "boxes", "box_ind", "crop_size"),
    attrs={"method": "bilinear", "extrapolation_value": 0.0}, types=REAL_TYPES, type_inputs=("image",),
    shape=_crop_shape, host_inputs=(3,))
def crop_and_resize_kernel(xp, image, boxes, box_ind, crop_size, *, method, extrapolation_value):
    crop = tuple(int(v) for v in np.asarray(crop_size).reshape(-1))
    _check("CropAndResize", xp, image.shape[0], boxes, box_ind, crop)
    if image.shape[1] <= 0 or image.shape[2] <= 0:
        raise errors.InvalidArgumentError(None, None, "CropAndResize: image dimensions must be positive, got "
                                          f"{list(image.shape)}")
    return crop_and_resize_array(xp, image, boxes, box_ind, crop, method, extrapolation_value, np.dtype(np.float32))


@crop_and_resize_kernel.grad
def _crop_and_resize_grad(op, grad):
    image, boxes, box_ind = op.inputs[0], op.inputs[1], op.inputs[2]
    method = op.get_attr("method")
    d = dims(image)
    size = list(d) if d is not None and None not in d else array_ops._shape_of(image)
    g_image = None
    if base(image) in (_dt.float16, _dt.float32, _dt.float64):
        s = convert_to_tensor(size, dtype=_dt.int32)
        g_image = make_tensor("CropAndResizeGradImage", [grad, boxes, box_ind, s],
                              {"T": base(image), "method": method})
    g_boxes = None
    if method == "bilinear":
        g_boxes = make_tensor("CropAndResizeGradBoxes", [grad, image, boxes, box_ind], {"method": "bilinear"})
    return [g_image, g_boxes, None, None]


def _grad_image_shape(ins, attrs):
    cv = constant_value(ins[3])
    g = dims(ins[0])
    out = (None,) * 4 if cv is None else tuple(int(v) for v in np.reshape(cv, [-1]))
    if g is not None and out[3] is None:
        out = out[:3] + (g[3],)
    return attrs["T"], out


@op("CropAndResizeGradImage", inputs=("grads", "boxes", "box_ind", "image_size"),
    attrs={"T": _dt.float32, "method": "bilinear"}, shape=_grad_image_shape, host_inputs=(3,),
    not_differentiable=True)
def crop_and_resize_grad_image_kernel(xp, grads, boxes, box_ind, image_size, *, T, method):
    shape = tuple(int(v) for v in np.asarray(image_size).reshape(-1))
    _check("CropAndResizeGradImage", xp, shape[0], boxes, box_ind, None)
    dt = np.dtype(np.float64 if T == _dt.float64 else np.float32)
    out = xp.zeros(shape, dt)
    n, ch, cw, _ = grads.shape
    if n == 0:
        return out.astype(T.as_numpy_dtype, copy=False)
    ys, xs, valid = _sample_grid(xp, shape, boxes, (ch, cw), dt)
    g = xp.where(valid[..., None], grads.astype(dt, copy=False), dt.type(0))
    bi = xp.broadcast_to(box_ind.astype(np.int64)[:, None, None], (n, ch, cw))
    if method == "nearest":
        yi = xp.clip(xp.floor(ys + dt.type(0.5)), 0, shape[1] - 1).astype(np.int64)
        xi = xp.clip(xp.floor(xs + dt.type(0.5)), 0, shape[2] - 1).astype(np.int64)
        taps = [(yi, xi, None)]
    else:
        y0, y1, ly = _corners(xp, ys, shape[1])
        x0, x1, lx = _corners(xp, xs, shape[2])
        wy0, wy1 = (1 - ly)[:, :, None], ly[:, :, None]
        wx0, wx1 = (1 - lx)[:, None, :], lx[:, None, :]
        taps = [(y0, x0, wy0 * wx0), (y0, x1, wy0 * wx1), (y1, x0, wy1 * wx0), (y1, x1, wy1 * wx1)]
    for yy, xx, wgt in taps:
        yb = xp.broadcast_to(yy[:, :, None], (n, ch, cw))
        xb = xp.broadcast_to(xx[:, None, :], (n, ch, cw))
        vals = g if wgt is None else g * wgt[..., None]
        _scatter_add(xp, out, (bi, yb, xb), vals)
    return out.astype(T.as_numpy_dtype, copy=False)


def _grad_boxes_shape(ins, attrs):
    return _dt.float32, dims(ins[2])


def crop_and_resize_boxes_grad_array(xp: Any, grads: Any, image: Any, boxes: Any, box_ind: Any, dt: Any) -> Any:
    """d<grads, crops>/d boxes [num_boxes, 4] for bilinear sampling, in `dt`."""
    n, ch, cw, _ = grads.shape
    h, w = image.shape[1], image.shape[2]
    if n == 0:
        return xp.zeros((0, 4), dt)
    ys, xs, valid = _sample_grid(xp, image.shape, boxes, (ch, cw), dt)
    img = image.astype(dt, copy=False)
    g = xp.where(valid[..., None], grads.astype(dt, copy=False), dt.type(0))
    bi = box_ind.astype(np.int64)[:, None, None]
    y0, y1, ly = _corners(xp, ys, h)
    x0, x1, lx = _corners(xp, xs, w)
    tl, tr = img[bi, y0[:, :, None], x0[:, None, :]], img[bi, y0[:, :, None], x1[:, None, :]]
    bl, br = img[bi, y1[:, :, None], x0[:, None, :]], img[bi, y1[:, :, None], x1[:, None, :]]
    lx4, ly4 = lx[:, None, :, None], ly[:, :, None, None]
    grad_y = xp.sum(g * ((1 - lx4) * (bl - tl) + lx4 * (br - tr)), axis=3)  # [n, ch, cw]
    grad_x = xp.sum(g * ((1 - ly4) * (tr - tl) + ly4 * (br - bl)), axis=3)
    gy, gx = xp.sum(grad_y, axis=2), xp.sum(grad_x, axis=1)  # [n, ch], [n, cw]
    if ch > 1:
        t = xp.arange(ch, dtype=dt) / dt.type(ch - 1)
        dy1, dy2 = xp.sum(gy * (1 - t), axis=1), xp.sum(gy * t, axis=1)
    else:
        dy1 = dy2 = xp.sum(gy, axis=1) * dt.type(0.5)
    if cw > 1:
        t = xp.arange(cw, dtype=dt) / dt.type(cw - 1)
        dx1, dx2 = xp.sum(gx * (1 - t), axis=1), xp.sum(gx * t, axis=1)
    else:
        dx1 = dx2 = xp.sum(gx, axis=1) * dt.type(0.5)
    return xp.stack([dy1 * (h - 1), dx1 * (w - 1), dy2 * (h - 1), dx2 * (w - 1)], axis=1).astype(dt, copy=False)


@op("CropAndResizeGradBoxes", inputs=("grads", "image", "boxes", "box_ind"), attrs={"method": "bilinear"},
    types=REAL_TYPES, type_inputs=("image",), shape=_grad_boxes_shape, not_differentiable=True)
def crop_and_resize_grad_boxes_kernel(xp, grads, image, boxes, box_ind, *, method):
    _check("CropAndResizeGradBoxes", xp, image.shape[0], boxes, box_ind, None)
    if method != "bilinear":
        raise errors.InvalidArgumentError(None, None, "CropAndResizeGradBoxes: method must be 'bilinear'")
    dt = np.dtype(np.float64 if image.dtype == np.float64 else np.float32)
    return crop_and_resize_boxes_grad_array(xp, grads, image, boxes, box_ind, dt).astype(np.float32, copy=False)


def crop_and_resize(image: Any, boxes: Any, box_ind: Any = None, crop_size: Any = None, method: str = "bilinear",
                    extrapolation_value: float = 0, name: str | None = None, box_indices: Any = None) -> Tensor:
    """Crops boxes out of a batch of images and resizes each crop to `crop_size` (TF's CropAndResize).

    Args:
        image: a 4-D real Tensor [batch, height, width, depth].
        boxes: a float32 Tensor [num_boxes, 4] of normalised [y1, x1, y2, x2]; y1 > y2 flips the crop.
        box_ind: an int32 Tensor [num_boxes]: the image each box is cut from, in [0, batch).
        crop_size: a 1-D int32 Tensor of 2 positive elements: crop_height, crop_width.
        method: 'bilinear' or 'nearest'.
        extrapolation_value: the value of samples that fall outside the image.
        name: a name for the op.
        box_indices: TF2's name for `box_ind`.

    Returns:
        A float32 Tensor [num_boxes, crop_height, crop_width, depth].

    Raises:
        ValueError: box_ind (or box_indices) or crop_size missing, or an unknown method.
    """
    if box_ind is None:
        box_ind = box_indices
    if box_ind is None or crop_size is None:
        raise ValueError("crop_and_resize needs box_ind (box_indices) and crop_size")
    with name_scope(name, "CropAndResize", [image, boxes, box_ind, crop_size]) as scope:
        args = [convert_to_tensor(image, name="image"), convert_to_tensor(boxes, dtype=_dt.float32, name="boxes"),
                convert_to_tensor(box_ind, dtype=_dt.int32, name="box_ind"),
                convert_to_tensor(crop_size, dtype=_dt.int32, name="crop_size")]
        return make_tensor("CropAndResize", args, {"method": method,
                                                   "extrapolation_value": float(extrapolation_value)}, scope)


# -- ExtractGlimpse -------------------------------------------------------------------------------------------------
def _glimpse_shape(ins, attrs):
    rank4(ins[0], "input 'input'", "ExtractGlimpse")
    d = dims(ins[0])
    o = dims(ins[2])
    if o is not None and (len(o) != 2 or o[1] not in (None, 2)):
        raise ValueError(f"'ExtractGlimpse': offsets must be [batch, 2], got {list(o)}")
    if attrs["noise"] not in ("uniform", "gaussian", "zero"):
        raise ValueError(f"ExtractGlimpse: noise must be 'uniform', 'gaussian' or 'zero', got {attrs['noise']!r}")
    cv = constant_value(ins[1])
    gh, gw = (None, None) if cv is None else (int(v) for v in np.reshape(cv, [-1]))
    batch = d[0] if d is not None else (o[0] if o is not None else None)
    return _dt.float32, (batch, gh, gw, None if d is None else d[3])


def _glimpse_origin(pos: float, size: int, window: int, normalized: bool, centered: bool) -> int:
    """The window's first row (or column): TF's GlimpseExtractionOp arithmetic in float32, where the offset
    is the window's centre, truncated toward zero like its C++ cast."""
    f = np.float32
    p = f(pos)
    if normalized:
        p = p * f(size)
    if centered:
        p = p / f(2) + f(size) / f(2)
    return int(p - f(window) / f(2))


@op("ExtractGlimpse", inputs=("input", "size", "offsets"),
    attrs={"centered": True, "normalized": True, "uniform_noise": True, "noise": "uniform"},
    types=(_dt.float32,), type_inputs=("input",), shape=_glimpse_shape, host_inputs=(1, 2), stateful=True,
    needs_ctx=True, devices=("CPU",), not_differentiable=True)
def extract_glimpse_kernel(xp, input, size, offsets, *, centered, normalized, uniform_noise, noise, ctx):  # noqa: A002
    from labflow.ops.random_ops import _rng
    gh, gw = (int(v) for v in np.asarray(size).reshape(-1))
    off = np.asarray(offsets, np.float64)
    b, h, w, c = input.shape
    if off.shape != (b, 2):
        raise errors.InvalidArgumentError(None, None, f"ExtractGlimpse: offsets must be [batch, 2] = [{b}, 2], got "
                                          f"{list(off.shape)}")
    if gh <= 0 or gw <= 0 or h <= 0 or w <= 0:
        raise errors.InvalidArgumentError(None, None, f"ExtractGlimpse: glimpse size [{gh}, {gw}] and image size "
                                          f"[{h}, {w}] must be positive")
    mode = "uniform" if uniform_noise else ("gaussian" if noise == "uniform" else noise)
    gen = _rng(np, ctx, 0, 0).gen
    out = np.empty((b, gh, gw, c), np.float32)
    for i in range(b):
        img = np.asarray(input[i])
        y0 = _glimpse_origin(off[i, 0], h, gh, normalized, centered)
        x0 = _glimpse_origin(off[i, 1], w, gw, normalized, centered)
        inside = y0 >= 0 and x0 >= 0 and y0 + gh < h and x0 + gw < w
        if not inside:
            if mode == "uniform":
                lo, hi = img.min(), img.max()
                out[i] = lo + gen.random((gh, gw, c), dtype=np.float32) * (hi - lo)
            elif mode == "gaussian":
                mean, std = img.mean(axis=(0, 1)), img.std(axis=(0, 1))
                noisy = mean + gen.standard_normal((gh, gw, c), dtype=np.float32) * std
                out[i] = np.clip(noisy, img.min(axis=(0, 1)), img.max(axis=(0, 1)))
            else:
                out[i] = 0
        ys, yd = max(y0, 0), max(-y0, 0)
        xs, xd = max(x0, 0), max(-x0, 0)
        hh, ww = min(gh - yd, h - ys), min(gw - xd, w - xs)
        if hh > 0 and ww > 0:
            out[i, yd:yd + hh, xd:xd + ww] = img[ys:ys + hh, xs:xs + ww]
    return out


def extract_glimpse(input: Any, size: Any, offsets: Any, centered: bool = True, normalized: bool = True,  # noqa: A002
                    uniform_noise: bool = True, name: str | None = None) -> Tensor:
    """Cuts a [glimpse_height, glimpse_width] window out of each image of a batch, at per-image offsets.

    Parts of a window outside the image are filled with noise: uniform over the image's value range, or
    (uniform_noise=False) Gaussian with each channel's mean and deviation, clipped to its range.

    Args:
        input: a float32 Tensor [batch, height, width, channels].
        size: a 1-D int32 Tensor of 2 elements [glimpse_height, glimpse_width].
        offsets: a float32 Tensor [batch, 2] of (y, x) window positions.
        centered: offsets are relative to the image centre (-1 and 1 its edges when normalized).
        normalized: offsets are in units of the image size rather than pixels.
        uniform_noise: uniform (True) or Gaussian (False) fill.
        name: a name for the op.

    Returns:
        A float32 Tensor [batch, glimpse_height, glimpse_width, channels].
    """
    args = [convert_to_tensor(input, dtype=_dt.float32, name="input"),
            convert_to_tensor(size, dtype=_dt.int32, name="size"),
            convert_to_tensor(offsets, dtype=_dt.float32, name="offsets")]
    return make_tensor("ExtractGlimpse", args, {"centered": bool(centered), "normalized": bool(normalized),
                                                "uniform_noise": bool(uniform_noise), "noise": "uniform"},
                       name or "ExtractGlimpse")
