"""Colour kernels of tf.image: RGBToHSV (differentiable), HSVToRGB, AdjustContrastv2, AdjustSaturation, AdjustHue.

The HSV conversions follow TF's vectorised kernels (colorspace_op.h): hue in [0, 1), a grey pixel has hue
and saturation 0, and the first of R, G, B equal to the maximum decides the hue's sector.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops import array_join_ops, array_ops, compare_ops, math_ops
from labflow.ops.array_gather_ops import where
from labflow.ops.common import FLOAT_TYPES, base, convert_to_tensor, dims, make_tensor

_HALF_FLOAT = (_dt.float16, _dt.float32)


def _rgb_shape(op_type: str, min_rank: int = 1) -> Any:
    def fn(ins, attrs):
        d = dims(ins[0])
        if d is not None:
            if len(d) < min_rank:
                raise ValueError(f"Shape must be at least rank {min_rank} but is rank {len(d)} for '{op_type}' "
                                 "(input 'images')")
            if d[-1] is not None and d[-1] != 3:
                raise ValueError(f"Dimension must be 3 but is {d[-1]} for '{op_type}': the last dimension of "
                                 f"'images' holds the 3 colour channels, got shape {list(d)}")
        for extra in ins[1:]:
            ed = dims(extra)
            if ed is not None and len(ed) != 0:
                raise ValueError(f"Shape must be rank 0 but is rank {len(ed)} for '{op_type}' (scalar factor)")
        return base(ins[0]), d
    return fn


def _check_rgb(op_type: str, images: Any) -> None:
    if images.shape[-1] != 3:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: input must have 3 channels but instead has "
                                          f"{images.shape[-1]} channels.")


def rgb_to_hsv_array(xp: Any, rgb: Any) -> Any:
    """[..., 3] RGB -> [..., 3] HSV, as TF's RGBToHSV kernel computes it."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = xp.maximum(xp.maximum(r, g), b)
    rng = v - xp.minimum(xp.minimum(r, g), b)
    zero = xp.zeros((), rgb.dtype)
    safe_v = xp.where(v > 0, v, xp.ones((), rgb.dtype))
    s = xp.where(v > 0, rng / safe_v, zero)
    norm = 1 / (6 * xp.where(rng > 0, rng, xp.ones((), rgb.dtype)))
    h = xp.where(r == v, norm * (g - b), xp.where(g == v, norm * (b - r) + 2.0 / 6.0, norm * (r - g) + 4.0 / 6.0))
    h = xp.where(rng > 0, h, zero)
    h = xp.where(h < 0, h + 1, h)
    return xp.stack([h, s, v], axis=-1).astype(rgb.dtype, copy=False)


def hsv_to_rgb_array(xp: Any, hsv: Any) -> Any:
    """[..., 3] HSV -> [..., 3] RGB, as TF's HSVToRGB kernel computes it."""
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    dh = h * 6
    dr = xp.clip(xp.abs(dh - 3) - 1, 0, 1)
    dg = xp.clip(2 - xp.abs(dh - 2), 0, 1)
    db = xp.clip(2 - xp.abs(dh - 4), 0, 1)
    one_s = 1 - s
    out = xp.stack([(one_s + s * dr) * v, (one_s + s * dg) * v, (one_s + s * db) * v], axis=-1)
    return out.astype(hsv.dtype, copy=False)


def _upcast(x: Any) -> Any:
    return x.astype(np.float32) if x.dtype == np.float16 else x


# -- RGBToHSV / HSVToRGB --------------------------------------------------------------------------------
@op("RGBToHSV", inputs=("images",), types=FLOAT_TYPES, shape=_rgb_shape("RGBToHSV"))
def rgb_to_hsv_kernel(xp, images):
    _check_rgb("RGBToHSV", images)
    return rgb_to_hsv_array(xp, _upcast(images)).astype(images.dtype, copy=False)


@rgb_to_hsv_kernel.grad
def _rgb_to_hsv_grad(op, grad):
    # d(h, s, v)/d(r, g, b) with the kernel's own branch choices (which channel is the max and min) held
    # fixed; grey pixels (range 0) give hue no gradient and black ones (v 0) give saturation none.
    x, hsv = op.inputs[0], op.outputs[0]
    dt = base(x)
    r, g, b = array_join_ops.unstack(x, num=3, axis=-1)
    _, s, v = array_join_ops.unstack(hsv, num=3, axis=-1)
    gh, gs, gv = array_join_ops.unstack(grad, num=3, axis=-1)

    def f(c):
        return compare_ops.cast(c, dt)
    ge, le, land, lnot = compare_ops.greater_equal, compare_ops.less_equal, compare_ops.logical_and, \
        compare_ops.logical_not
    r_max = land(ge(r, g), ge(r, b))
    g_max = land(lnot(r_max), ge(g, b))
    mx = [f(r_max), f(g_max), f(lnot(compare_ops.logical_or(r_max, g_max)))]
    r_min = land(le(r, g), le(r, b))
    g_min = land(lnot(r_min), le(g, b))
    mn = [f(r_min), f(g_min), f(lnot(compare_ops.logical_or(r_min, g_min)))]
    zero = array_ops.zeros_like(v)
    one = array_ops.ones_like(v)
    rng = math_ops.subtract(v, math_ops.add(math_ops.multiply(mn[0], r), math_ops.add(
        math_ops.multiply(mn[1], g), math_ops.multiply(mn[2], b))))
    pos_v, pos_r = compare_ops.greater(v, zero), compare_ops.greater(rng, zero)
    inv_v = where(pos_v, math_ops.divide(one, where(pos_v, v, one)), zero)
    inv_r = where(pos_r, math_ops.divide(one, math_ops.multiply(where(pos_r, rng, one), 6.0)), zero)
    num = math_ops.add(math_ops.add(math_ops.multiply(mx[0], math_ops.subtract(g, b)),
                                    math_ops.multiply(mx[1], math_ops.subtract(b, r))),
                       math_ops.multiply(mx[2], math_ops.subtract(r, g)))
    dnum = [math_ops.subtract(mx[2], mx[1]), math_ops.subtract(mx[0], mx[2]), math_ops.subtract(mx[1], mx[0])]
    out = []
    for k in range(3):
        d_rng = math_ops.subtract(mx[k], mn[k])
        ds = math_ops.multiply(math_ops.subtract(d_rng, math_ops.multiply(s, mx[k])), inv_v)
        dh = math_ops.multiply(math_ops.subtract(dnum[k], math_ops.multiply(
            math_ops.multiply(num, d_rng), math_ops.multiply(inv_r, 6.0))), inv_r)
        out.append(math_ops.add(math_ops.add(math_ops.multiply(gv, mx[k]), math_ops.multiply(gs, ds)),
                                math_ops.multiply(gh, dh)))
    return [array_join_ops.stack(out, axis=-1)]


@op("HSVToRGB", inputs=("images",), types=FLOAT_TYPES, shape=_rgb_shape("HSVToRGB"), not_differentiable=True)
def hsv_to_rgb_kernel(xp, images):
    _check_rgb("HSVToRGB", images)
    return hsv_to_rgb_array(xp, _upcast(images)).astype(images.dtype, copy=False)


# -- adjustments (TF registers no gradients for them) -------------------------------------------------------
def _factor_shape(op_type: str) -> Any:
    inner = _rgb_shape(op_type, 3)

    def fn(ins, attrs):
        if op_type == "AdjustContrastv2":
            d = dims(ins[0])
            if d is not None and len(d) < 3:
                raise ValueError(f"Shape must be at least rank 3 but is rank {len(d)} for '{op_type}' "
                                 "(input 'images')")
            return base(ins[0]), d
        return inner(ins, attrs)
    return fn


@op("AdjustContrastv2", inputs=("images", "contrast_factor"), types=_HALF_FLOAT, type_inputs=("images",),
    shape=_factor_shape("AdjustContrastv2"), not_differentiable=True)
def adjust_contrast_kernel(xp, images, contrast_factor):
    x = _upcast(images)
    mean = xp.mean(x, axis=(-3, -2), keepdims=True, dtype=x.dtype)
    f = contrast_factor.astype(x.dtype, copy=False)
    return ((x - mean) * f + mean).astype(images.dtype, copy=False)


@op("AdjustSaturation", inputs=("images", "scale"), types=_HALF_FLOAT, type_inputs=("images",),
    shape=_factor_shape("AdjustSaturation"), not_differentiable=True)
def adjust_saturation_kernel(xp, images, scale):
    _check_rgb("AdjustSaturation", images)
    hsv = rgb_to_hsv_array(xp, _upcast(images))
    f = scale.astype(hsv.dtype, copy=False)
    s = xp.clip(hsv[..., 1] * f, 0, 1)
    hsv = xp.stack([hsv[..., 0], s, hsv[..., 2]], axis=-1)
    return hsv_to_rgb_array(xp, hsv).astype(images.dtype, copy=False)


@op("AdjustHue", inputs=("images", "delta"), types=_HALF_FLOAT, type_inputs=("images",),
    shape=_factor_shape("AdjustHue"), not_differentiable=True)
def adjust_hue_kernel(xp, images, delta):
    _check_rgb("AdjustHue", images)
    hsv = rgb_to_hsv_array(xp, _upcast(images))
    h = hsv[..., 0] + delta.astype(hsv.dtype, copy=False)
    h = h - xp.floor(h)
    hsv = xp.stack([h, hsv[..., 1], hsv[..., 2]], axis=-1)
    return hsv_to_rgb_array(xp, hsv).astype(images.dtype, copy=False)


# -- raw wrappers ----------------------------------------------------------------------------------------------
def rgb_to_hsv(images: Any, name: str | None = None) -> Tensor:
    """Converts RGB images [..., 3] with values in [0, 1] to HSV (hue, saturation, value, each in [0, 1]).

    Args:
        images: a float Tensor whose last dimension is 3.
        name: a name for the op.

    Returns:
        A Tensor of the same dtype and shape.
    """
    return make_tensor("RGBToHSV", [convert_to_tensor(images, name="images")], None, name or "RGBToHSV")


def hsv_to_rgb(images: Any, name: str | None = None) -> Tensor:
    """Converts HSV images [..., 3] (each component in [0, 1]) to RGB.

    Args:
        images: a float Tensor whose last dimension is 3.
        name: a name for the op.

    Returns:
        A Tensor of the same dtype and shape.
    """
    return make_tensor("HSVToRGB", [convert_to_tensor(images, name="images")], None, name or "HSVToRGB")


def adjust_op(op_type: str, images: Tensor, factor: Any, name: str | None) -> Tensor:
    """Creates AdjustContrastv2 / AdjustSaturation / AdjustHue on float16/float32 images."""
    with name_scope(None, op_type):
        f = convert_to_tensor(factor, name="factor")
        if base(f) != _dt.float32:
            f = compare_ops.cast(f, _dt.float32)
    return make_tensor(op_type, [images, f], None, name or op_type)

