"""tf.image pixel-value functions: convert_image_dtype, brightness/contrast/gamma/hue/saturation adjustments and
their random variants, per_image_standardization, grayscale and YIQ/YUV conversions.

Written after TF 1.x's image_ops_impl: adjustments work in float32 (other dtypes go through
convert_image_dtype there and back, saturating), so integer images keep their range.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.graph import name_scope
from labflow.framework.tensor import Tensor
from labflow.ops import (
    array_join_ops,
    array_ops,
    array_reshape_ops,
    compare_ops,
    math_ops,
    random_ops,
    reduction_ops,
    unary_ops,
)
from labflow.ops.common import convert_to_tensor
from labflow.ops.image_color_ops import adjust_op
from labflow.ops.image_common import assert_that, check_at_least_3d, is_tensor, with_dependencies


# -- dtype conversion --------------------------------------------------------------------------------------------
def convert_image_dtype(image: Any, dtype: Any, saturate: bool = False, name: str | None = None) -> Tensor:
    """Converts an image to `dtype`, rescaling values: floats span [0, 1), integers [0, MAX].

    Args:
        image: an image Tensor of a float or integer dtype.
        dtype: the target float or integer dtype.
        saturate: clip before casts that could overflow (float -> int, and signed -> unsigned).
        name: a name for the op scope.

    Returns:
        `image` converted to `dtype` (an Identity when the dtype is already `dtype`).

    Raises:
        AttributeError: `dtype` or the image's dtype is neither floating point nor integer (as TF).
    """
    image = convert_to_tensor(image, name="image")
    dtype = _dt.as_dtype(dtype).base_dtype
    src = image.dtype.base_dtype
    if not (dtype.is_floating or dtype.is_integer):
        raise AttributeError("dtype must be either floating point or integer")
    if not (src.is_floating or src.is_integer):
        raise AttributeError("image dtype must be either floating point or integer")
    if dtype == src:
        return array_ops.identity(image, name=name)
    cast = compare_ops.saturate_cast if saturate else compare_ops.cast
    with name_scope(name, "convert_image", [image]) as scope:
        if src.is_integer and dtype.is_integer:
            scale_in, scale_out = src.max, dtype.max
            if scale_in > scale_out:
                scaled = math_ops.floordiv(image, convert_to_tensor((scale_in + 1) // (scale_out + 1), dtype=src))
                return cast(scaled, dtype, name=scope)
            return math_ops.multiply(cast(image, dtype), convert_to_tensor((scale_out + 1) // (scale_in + 1),
                                                                           dtype=dtype), name=scope)
        if src.is_floating and dtype.is_floating:
            return compare_ops.cast(image, dtype, name=scope)
        if src.is_integer:
            return math_ops.multiply(compare_ops.cast(image, dtype),
                                     convert_to_tensor(1.0 / src.max, dtype=dtype), name=scope)
        # float -> int: + 0.5 on the scale avoids rounding the top value down
        scaled = math_ops.multiply(image, convert_to_tensor(dtype.max + 0.5, dtype=src))
        return cast(scaled, dtype, name=scope)


def _to_float(image: Tensor) -> Tensor:
    if image.dtype.base_dtype in (_dt.float16, _dt.float32):
        return image
    return convert_image_dtype(image, _dt.float32)


# -- adjustments ---------------------------------------------------------------------------------------------------
def adjust_brightness(image: Any, delta: Any) -> Tensor:
    """Adds `delta` to every value of an image (in float; integer images saturate when converted back).

    Args:
        image: an image Tensor (any rank, any float or integer dtype).
        delta: a scalar added to the (float-scaled) values.

    Returns:
        The brightness-adjusted image, of the image's dtype.
    """
    with name_scope(None, "adjust_brightness", [image, delta]) as scope:
        image = convert_to_tensor(image, name="image")
        orig = image.dtype.base_dtype
        flt = _to_float(image)
        adjusted = math_ops.add(flt, compare_ops.cast(delta, flt.dtype.base_dtype), name=scope)
        return convert_image_dtype(adjusted, orig, saturate=True)


def adjust_contrast(images: Any, contrast_factor: Any) -> Tensor:
    """Scales each channel's deviation from its mean (over height and width) by `contrast_factor`.

    Args:
        images: a Tensor of rank >= 3 whose last three dims are [height, width, channels].
        contrast_factor: a scalar float (Tensor or Python number).

    Returns:
        The contrast-adjusted images, of the images' dtype.
    """
    with name_scope(None, "adjust_contrast", [images, contrast_factor]) as scope:
        images = convert_to_tensor(images, name="images")
        orig = images.dtype.base_dtype
        adjusted = adjust_op("AdjustContrastv2", _to_float(images), contrast_factor, scope)
        return convert_image_dtype(adjusted, orig, saturate=True)


def adjust_gamma(image: Any, gamma: Any = 1, gain: Any = 1) -> Tensor:
    """Gamma correction: `gain * image ** gamma` (on float-scaled values).

    Args:
        image: an image Tensor.
        gamma: a non-negative scalar.
        gain: a scalar multiplier.

    Returns:
        The gamma-corrected image, of the image's dtype.

    Raises:
        ValueError: a static gamma < 0 (a dynamic one fails an Assert at run time).
    """
    with name_scope(None, "adjust_gamma", [image, gamma, gain]):
        image = convert_to_tensor(image, name="image")
        orig = image.dtype.base_dtype
        flt = _to_float(image)
        ft = flt.dtype.base_dtype
        g = convert_to_tensor(gamma, dtype=ft, name="gamma") if is_tensor(gamma) else gamma
        cond = compare_ops.greater_equal(g, 0) if is_tensor(g) else g >= 0
        deps = assert_that(cond, "Gamma should be a non-negative real number.")
        g = with_dependencies(deps, g) if is_tensor(g) else convert_to_tensor(g, dtype=ft, name="gamma")
        adjusted = math_ops.multiply(convert_to_tensor(gain, dtype=ft) if not is_tensor(gain) else
                                     compare_ops.cast(gain, ft), math_ops.pow(flt, g))
        return convert_image_dtype(adjusted, orig, saturate=True)


def adjust_saturation(image: Any, saturation_factor: Any, name: str | None = None) -> Tensor:
    """Scales the saturation of RGB images (last dim 3) in HSV space, clipping it to [0, 1].

    Args:
        image: an RGB image Tensor of rank >= 3.
        saturation_factor: a scalar float.
        name: a name for the op scope.

    Returns:
        The adjusted image, of the image's dtype.
    """
    with name_scope(name, "adjust_saturation", [image]) as scope:
        image = convert_to_tensor(image, name="image")
        orig = image.dtype.base_dtype
        adjusted = adjust_op("AdjustSaturation", _to_float(image), saturation_factor, None)
        return convert_image_dtype(adjusted, orig, name=scope)


def adjust_hue(image: Any, delta: Any, name: str | None = None) -> Tensor:
    """Rotates the hue of RGB images (last dim 3) by `delta` (a fraction of the colour circle, in [-1, 1]).

    Args:
        image: an RGB image Tensor of rank >= 3.
        delta: a scalar float in [-1, 1].
        name: a name for the op scope.

    Returns:
        The adjusted image, of the image's dtype.
    """
    with name_scope(name, "adjust_hue", [image]) as scope:
        image = convert_to_tensor(image, name="image")
        orig = image.dtype.base_dtype
        dv = None if is_tensor(delta) else float(delta)
        if dv is not None and not -1 <= dv <= 1:
            raise ValueError("delta must be in the interval [-1, 1]")
        adjusted = adjust_op("AdjustHue", _to_float(image), delta, None)
        return convert_image_dtype(adjusted, orig, name=scope)


def _check_range(lower: float, upper: float) -> None:
    if upper <= lower:
        raise ValueError("upper must be > lower.")
    if lower < 0:
        raise ValueError("lower must be non-negative.")


def random_brightness(image: Any, max_delta: float, seed: int | None = None) -> Tensor:
    """adjust_brightness by a delta drawn uniformly from [-max_delta, max_delta).

    Args:
        image: an image Tensor.
        max_delta: a non-negative float.
        seed: the op seed.

    Returns:
        The brightness-adjusted image, of the image's dtype.

    Raises:
        ValueError: max_delta < 0.
    """
    if max_delta < 0:
        raise ValueError("max_delta must be non-negative.")
    delta = random_ops.random_uniform([], -max_delta, max_delta, seed=seed)
    return adjust_brightness(image, delta)


def random_contrast(image: Any, lower: float, upper: float, seed: int | None = None) -> Tensor:
    """adjust_contrast by a factor drawn uniformly from [lower, upper).

    Args:
        image: an image Tensor of rank >= 3.
        lower: the smallest contrast factor (>= 0).
        upper: the bound of the contrast factor (> lower).
        seed: the op seed.

    Returns:
        The contrast-adjusted image, of the image's dtype.

    Raises:
        ValueError: upper <= lower or lower < 0.
    """
    _check_range(lower, upper)
    return adjust_contrast(image, random_ops.random_uniform([], lower, upper, seed=seed))


def random_saturation(image: Any, lower: float, upper: float, seed: int | None = None) -> Tensor:
    """adjust_saturation by a factor drawn uniformly from [lower, upper).

    Args:
        image: an RGB image Tensor of rank >= 3.
        lower: the smallest saturation factor (>= 0).
        upper: the bound of the saturation factor (> lower).
        seed: the op seed.

    Returns:
        The adjusted image, of the image's dtype.

    Raises:
        ValueError: upper <= lower or lower < 0.
    """
    _check_range(lower, upper)
    return adjust_saturation(image, random_ops.random_uniform([], lower, upper, seed=seed))


def random_hue(image: Any, max_delta: float, seed: int | None = None) -> Tensor:
    """adjust_hue by a delta drawn uniformly from [-max_delta, max_delta).

    Args:
        image: an RGB image Tensor of rank >= 3.
        max_delta: a float in [0, 0.5].
        seed: the op seed.

    Returns:
        The adjusted image, of the image's dtype.

    Raises:
        ValueError: max_delta outside [0, 0.5].
    """
    if max_delta > 0.5:
        raise ValueError("max_delta must be <= 0.5.")
    if max_delta < 0:
        raise ValueError("max_delta must be non-negative.")
    return adjust_hue(image, random_ops.random_uniform([], -max_delta, max_delta, seed=seed))


def per_image_standardization(image: Any) -> Tensor:
    """Scales each image to zero mean and unit variance: `(x - mean) / max(stddev, 1 / sqrt(num_values))`.

    Args:
        image: a Tensor of rank >= 3 whose last three dims are [height, width, channels].

    Returns:
        A float32 Tensor of the same shape (statistics taken per image over its last three dims).
    """
    with name_scope(None, "per_image_standardization", [image]) as scope:
        image = convert_to_tensor(image, name="image")
        image = with_dependencies(check_at_least_3d(image, "per_image_standardization"), image)
        num = reduction_ops.reduce_prod(array_ops.shape(image)[-3:])
        image = compare_ops.cast(image, _dt.float32)
        axes = [-1, -2, -3]
        mean = reduction_ops.reduce_mean(image, axis=axes, keepdims=True)
        centred = math_ops.subtract(image, mean)
        std = unary_ops.sqrt(reduction_ops.reduce_mean(unary_ops.square(centred), axis=axes, keepdims=True))
        floor = unary_ops.rsqrt(compare_ops.cast(num, _dt.float32))
        return math_ops.divide(centred, math_ops.maximum(std, floor), name=scope)


# -- colour spaces ------------------------------------------------------------------------------------------------
_RGB_TO_YIQ = np.array([[0.299, 0.59590059, 0.2115], [0.587, -0.27455667, -0.52273617],
                        [0.114, -0.32134392, 0.31119955]])
_RGB_TO_YUV = np.array([[0.299, -0.14714119, 0.61497538], [0.587, -0.28886916, -0.51496512],
                        [0.114, 0.43601035, -0.10001026]])


def _mix_channels(images: Any, kernel: np.ndarray) -> Tensor:
    """`images[..., i] @ kernel[i, j]` over the channel axis, keeping the static shape."""
    images = convert_to_tensor(images, name="images")
    k = convert_to_tensor(kernel, dtype=images.dtype.base_dtype, name="kernel")
    return reduction_ops.reduce_sum(math_ops.multiply(array_reshape_ops.expand_dims(images, -1), k), axis=-2)


def rgb_to_grayscale(images: Any, name: str | None = None) -> Tensor:
    """Converts RGB images [..., 3] to grayscale [..., 1] with weights (0.2989, 0.587, 0.114).

    Args:
        images: a Tensor whose last dimension is 3.
        name: a name for the op scope.

    Returns:
        A Tensor of the images' dtype with last dimension 1.
    """
    with name_scope(name, "rgb_to_grayscale", [images]) as scope:
        images = convert_to_tensor(images, name="images")
        orig = images.dtype.base_dtype
        flt = convert_image_dtype(images, _dt.float32)
        gray = _mix_channels(flt, np.array([[0.2989], [0.587], [0.114]]))
        return convert_image_dtype(gray, orig, name=scope)


def grayscale_to_rgb(images: Any, name: str | None = None) -> Tensor:
    """Repeats the single channel of grayscale images [..., 1] three times.

    Args:
        images: a Tensor whose last dimension is 1.
        name: a name for the op scope.

    Returns:
        A Tensor of the same dtype with last dimension 3.

    Raises:
        ValueError: images of rank < 2 or with a last dimension other than 1.
    """
    with name_scope(name, "grayscale_to_rgb", [images]) as scope:
        images = convert_to_tensor(images, name="images")
        shape = images.get_shape()
        if shape.ndims is not None:
            if shape.ndims < 2:
                raise ValueError(f"'image' (shape {shape}) must be at least two-dimensional.")
            if shape.as_list()[-1] not in (None, 1):
                raise ValueError(f"Last dimension of a grayscale image should be size 1, got shape {shape}.")
        rank_1 = array_reshape_ops.expand_dims(math_ops.subtract(array_ops.rank(images), 1), 0)
        multiples = array_join_ops.concat([array_ops.ones(rank_1, dtype=_dt.int32), [3]], 0)
        rgb = array_reshape_ops.tile(images, multiples, name=scope)
        if shape.ndims is not None:
            rgb.set_shape(shape.as_list()[:-1] + [3])
        return rgb


def rgb_to_yiq(images: Any) -> Tensor:
    """Converts RGB images [..., 3] (floats) to YIQ.

    Args:
        images: a float Tensor whose last dimension is 3.

    Returns:
        A Tensor of the same dtype and shape.
    """
    return _mix_channels(images, _RGB_TO_YIQ)


def yiq_to_rgb(images: Any) -> Tensor:
    """Converts YIQ images [..., 3] (floats) to RGB.

    Args:
        images: a float Tensor whose last dimension is 3.

    Returns:
        A Tensor of the same dtype and shape.
    """
    return _mix_channels(images, np.linalg.inv(_RGB_TO_YIQ))


def rgb_to_yuv(images: Any) -> Tensor:
    """Converts RGB images [..., 3] (floats) to YUV.

    Args:
        images: a float Tensor whose last dimension is 3.

    Returns:
        A Tensor of the same dtype and shape.
    """
    return _mix_channels(images, _RGB_TO_YUV)


def yuv_to_rgb(images: Any) -> Tensor:
    """Converts YUV images [..., 3] (floats) to RGB.

    Args:
        images: a float Tensor whose last dimension is 3.

    Returns:
        A Tensor of the same dtype and shape.
    """
    return _mix_channels(images, np.linalg.inv(_RGB_TO_YUV))


def adjust_jpeg_quality(image: Any, jpeg_quality: Any, name: str | None = None) -> Tensor:
    """Re-encodes an RGB or grayscale image as JPEG at `jpeg_quality` and decodes it (compression artefacts).

    Args:
        image: a 3-D image Tensor [height, width, 1 or 3] of any float or integer dtype.
        jpeg_quality: an int (or scalar int32 Tensor) in [0, 100].
        name: a name for the op scope.

    Returns:
        The image after the JPEG round trip, of the image's dtype.
    """
    from labflow.ops.common import make_tensor
    with name_scope(name, "adjust_jpeg_quality", [image]):
        image = convert_to_tensor(image, name="image")
        orig = image.dtype.base_dtype
        u8 = convert_image_dtype(image, _dt.uint8, saturate=True)
        q = convert_to_tensor(jpeg_quality, dtype=_dt.int32, name="jpeg_quality")
        encoded = make_tensor("EncodeJpegVariableQuality", [u8, q], None, "EncodeJpegVariableQuality")
        decoded = make_tensor("DecodeJpeg", [encoded], {"channels": 0, "ratio": 1, "fancy_upscaling": True,
                                                        "try_recover_truncated": False,
                                                        "acceptable_fraction": 1.0, "dct_method": ""}, "DecodeJpeg")
        return convert_image_dtype(decoded, orig)


def random_jpeg_quality(image: Any, min_jpeg_quality: int, max_jpeg_quality: int, seed: int | None = None) -> Tensor:
    """adjust_jpeg_quality with a quality drawn uniformly from [min_jpeg_quality, max_jpeg_quality).

    Args:
        image: a 3-D image Tensor [height, width, 1 or 3].
        min_jpeg_quality: the smallest quality, in [0, 100].
        max_jpeg_quality: the bound of the quality, in [0, 100] and > min_jpeg_quality.
        seed: the op seed.

    Returns:
        The image after the JPEG round trip, of the image's dtype.

    Raises:
        ValueError: qualities outside [0, 100], or min_jpeg_quality >= max_jpeg_quality.
    """
    if not (0 <= min_jpeg_quality <= 100 and 0 <= max_jpeg_quality <= 100):
        raise ValueError("jpeg encoding range must be between 0 and 100.")
    if min_jpeg_quality >= max_jpeg_quality:
        raise ValueError("`min_jpeg_quality` must be less than `max_jpeg_quality`.")
    q = random_ops.random_uniform([], min_jpeg_quality, max_jpeg_quality, seed=seed, dtype=_dt.int32)
    return adjust_jpeg_quality(image, q)
