"""tf.image metrics: total_variation, image_gradients, sobel_edges, psnr, ssim and ssim_multiscale.

Composites written after TF 1.x's image_ops_impl (same formulas, constants and static shapes); all of them
are differentiable through their ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.graph import name_scope
from labflow.framework.tensor import Tensor
from labflow.ops import array_join_ops, array_ops, array_reshape_ops, compare_ops, math_ops, reduction_ops, unary_ops
from labflow.ops.common import convert_to_tensor
from labflow.ops.image_adjust import convert_image_dtype
from labflow.ops.image_common import as_image


# -- metrics ------------------------------------------------------------------------------------------------------
def total_variation(images: Any, name: str | None = None) -> Tensor:
    """Sum of absolute differences between neighbouring pixels (per image for a 4-D batch).

    Args:
        images: a 3-D [h, w, c] or 4-D [batch, h, w, c] Tensor.
        name: a name for the op scope.

    Returns:
        A scalar (3-D input) or [batch] (4-D input) Tensor of the images' dtype.
    """
    with name_scope(name, "total_variation"):
        images = as_image(images, "images")
        nd = images.get_shape().ndims
        if nd == 3:
            d1 = math_ops.subtract(images[1:, :, :], images[:-1, :, :])
            d2 = math_ops.subtract(images[:, 1:, :], images[:, :-1, :])
            axis = None
        elif nd == 4:
            d1 = math_ops.subtract(images[:, 1:, :, :], images[:, :-1, :, :])
            d2 = math_ops.subtract(images[:, :, 1:, :], images[:, :, :-1, :])
            axis = [1, 2, 3]
        else:
            raise ValueError("'images' must be either 3 or 4-dimensional.")
        return math_ops.add(reduction_ops.reduce_sum(unary_ops.abs(d1), axis=axis),
                            reduction_ops.reduce_sum(unary_ops.abs(d2), axis=axis))


def image_gradients(image: Any) -> tuple:
    """Forward differences (dy, dx) of a 4-D image batch, zero in the last row / column.

    Raises:
        ValueError: `image` is not 4-D.
    """
    image = as_image(image)
    if image.get_shape().ndims != 4:
        raise ValueError(f"image_gradients expects a 4D tensor [batch_size, h, w, d], not {image.get_shape()}.")
    dy = math_ops.subtract(image[:, 1:, :, :], image[:, :-1, :, :])
    dx = math_ops.subtract(image[:, :, 1:, :], image[:, :, :-1, :])
    dy = array_join_ops.pad(dy, [[0, 0], [0, 1], [0, 0], [0, 0]])
    dx = array_join_ops.pad(dx, [[0, 0], [0, 0], [0, 1], [0, 0]])
    dy.set_shape(image.get_shape())
    dx.set_shape(image.get_shape())
    return dy, dx


def sobel_edges(image: Any) -> Tensor:
    """Sobel filter responses (dy, dx) of a 4-D image batch, with reflected borders.

    Args:
        image: a 4-D float Tensor [batch, h, w, d].

    Returns:
        A Tensor [batch, h, w, d, 2]: [..., 0] the vertical and [..., 1] the horizontal response.
    """
    from labflow.ops.depthwise_conv import depthwise_conv2d
    image = as_image(image)
    static = image.get_shape()
    shape = array_ops.shape(image)
    kernels = np.array([[[-1, -2, -1], [0, 0, 0], [1, 2, 1]], [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]])
    kernels = np.expand_dims(np.transpose(kernels, (1, 2, 0)), -2)
    k = array_reshape_ops.tile(convert_to_tensor(kernels, dtype=image.dtype.base_dtype),
                               array_join_ops.stack([1, 1, shape[-1], 1]), name="sobel_filters")
    padded = array_join_ops.pad(image, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT")
    out = depthwise_conv2d(padded, k, [1, 1, 1, 1], "VALID")
    out = array_ops.reshape(out, array_join_ops.concat([shape, [2]], 0))
    if static.ndims is not None:
        out.set_shape(static.as_list() + [2])
    return out


def psnr(a: Any, b: Any, max_val: Any, name: str | None = None) -> Tensor:
    """Peak signal-to-noise ratio between two batches of images (over their last three dims), in dB.

    Args:
        a: a Tensor of images [..., h, w, c].
        b: a Tensor of the same shape and dtype.
        max_val: the dynamic range (e.g. 255 for uint8 images, 1.0 for floats in [0, 1]).
        name: a name for the op scope.

    Returns:
        A float32 Tensor of shape a.shape[:-3].
    """
    with name_scope(name, "PSNR", [a, b]):
        a = convert_to_tensor(a, name="a")
        b = convert_to_tensor(b, name="b")
        if not a.get_shape().is_compatible_with(b.get_shape()):
            raise ValueError(f"Shapes {a.get_shape()} and {b.get_shape()} are incompatible.")
        mv = convert_image_dtype(compare_ops.cast(max_val, a.dtype.base_dtype), _dt.float32)
        a = convert_image_dtype(a, _dt.float32)
        b = convert_image_dtype(b, _dt.float32)
        mse = reduction_ops.reduce_mean(math_ops.squared_difference(a, b), [-3, -2, -1])
        ten = np.float32(np.log(10.0))
        return math_ops.subtract(math_ops.divide(math_ops.multiply(unary_ops.log(mv), 20.0), ten),
                                 math_ops.multiply(np.float32(10 / np.log(10)), unary_ops.log(mse)), name="psnr")


# -- SSIM ----------------------------------------------------------------------------------------------------------
_MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _gauss_kernel(size: int, sigma: float) -> np.ndarray:
    """TF's _fspecial_gauss as a constant: a normalised size x size Gaussian, [size, size, 1, 1]."""
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = -0.5 * coords ** 2 / sigma ** 2
    g = g[None, :] + g[:, None]
    g = np.exp(g - g.max())
    return (g / g.sum()).reshape(size, size, 1, 1)


def _compatible(img1: Tensor, img2: Tensor, fn: str) -> list:
    s1, s2 = img1.get_shape(), img2.get_shape()
    for s in (s1, s2):
        if s.ndims is not None and s.ndims < 3:
            raise ValueError(f"{fn}: images must be at least 3-D [..., height, width, channels], got shape {s}")
    if s1.ndims is not None and s2.ndims is not None:
        a, b = s1.as_list(), s2.as_list()
        for x, y in zip(a[-3:], b[-3:]):
            if x is not None and y is not None and x != y:
                raise ValueError(f"{fn}: Two images are not compatible: {s1} and {s2}")
        for x, y in zip(reversed(a[:-3]), reversed(b[:-3])):
            if not (x == 1 or y == 1 or x is None or y is None or x == y):
                raise ValueError(f"{fn}: Two images are not compatible: {s1} and {s2}")
    from labflow.ops import logging_ops
    sh1, sh2 = array_ops.shape(img1), array_ops.shape(img2)
    same = reduction_ops.reduce_all(compare_ops.equal(sh1[-3:], sh2[-3:]))
    return [logging_ops.Assert(same, [f"{fn}: the images' last three dims differ", sh1, sh2], summarize=10)]


def _ssim_per_channel(img1: Tensor, img2: Tensor, max_val: Tensor, filter_size: int, filter_sigma: float,
                      k1: float, k2: float, return_index_map: bool = False) -> tuple:
    from labflow.ops import logging_ops
    from labflow.ops.depthwise_conv import depthwise_conv2d
    from labflow.ops.image_common import with_dependencies
    for img in (img1, img2):
        d = img.get_shape().as_list() if img.get_shape().ndims is not None else []
        if any(v is not None and v < filter_size for v in d[-3:-1]):
            raise ValueError(f"ssim: images must be at least filter_size={filter_size} high and wide, got shape "
                             f"{img.get_shape()}")
    sh1, sh2 = array_ops.shape(img1), array_ops.shape(img2)
    checks = [logging_ops.Assert(reduction_ops.reduce_all(compare_ops.greater_equal(s[-3:-1], filter_size)),
                                 [f"ssim: images must be at least filter_size={filter_size} high and wide", s],
                                 summarize=8) for s in (sh1, sh2)]
    img1 = with_dependencies(checks, img1)
    kernel = array_reshape_ops.tile(convert_to_tensor(_gauss_kernel(filter_size, filter_sigma), dtype=_dt.float32),
                                    array_join_ops.stack([1, 1, sh1[-1], 1]))

    def reducer(x):
        shape = array_ops.shape(x)
        flat = array_ops.reshape(x, array_join_ops.concat([[-1], shape[-3:]], 0))
        y = depthwise_conv2d(flat, kernel, [1, 1, 1, 1], "VALID")
        return array_ops.reshape(y, array_join_ops.concat([shape[:-3], array_ops.shape(y)[1:]], 0))
    c1 = unary_ops.square(math_ops.multiply(max_val, k1))
    c2 = unary_ops.square(math_ops.multiply(max_val, k2))
    mean0, mean1 = reducer(img1), reducer(img2)
    num0 = math_ops.multiply(math_ops.multiply(mean0, mean1), 2.0)
    den0 = math_ops.add(unary_ops.square(mean0), unary_ops.square(mean1))
    luminance = math_ops.divide(math_ops.add(num0, c1), math_ops.add(den0, c1))
    num1 = math_ops.multiply(reducer(math_ops.multiply(img1, img2)), 2.0)
    den1 = reducer(math_ops.add(unary_ops.square(img1), unary_ops.square(img2)))
    cs = math_ops.divide(math_ops.add(math_ops.subtract(num1, num0), c2),
                         math_ops.add(math_ops.subtract(den1, den0), c2))
    if return_index_map:
        return math_ops.multiply(luminance, cs), cs
    return (reduction_ops.reduce_mean(math_ops.multiply(luminance, cs), [-3, -2]),
            reduction_ops.reduce_mean(cs, [-3, -2]))


def _prepare(img1: Any, img2: Any, max_val: Any, fn: str) -> tuple:
    from labflow.ops.image_common import with_dependencies
    img1 = convert_to_tensor(img1, name="img1")
    img2 = convert_to_tensor(img2, name="img2")
    img1 = with_dependencies(_compatible(img1, img2, fn), img1)
    mv = convert_image_dtype(compare_ops.cast(max_val, img1.dtype.base_dtype), _dt.float32)
    return convert_image_dtype(img1, _dt.float32), convert_image_dtype(img2, _dt.float32), mv


def ssim(img1: Any, img2: Any, max_val: Any, filter_size: int = 11, filter_sigma: float = 1.5, k1: float = 0.01,
         k2: float = 0.03, return_index_map: bool = False) -> Tensor:
    """Structural similarity between two batches of images (Wang et al. 2004), with an 11x11 Gaussian window.

    Args:
        img1: images [..., height, width, channels] (height and width >= filter_size).
        img2: images of the same inner shape (leading dims broadcast).
        max_val: the dynamic range (255 for uint8 images, 1.0 for floats in [0, 1]).
        filter_size: the Gaussian window's size.
        filter_sigma: the Gaussian window's width.
        k1: the luminance stabiliser's constant.
        k2: the contrast stabiliser's constant.
        return_index_map: return the per-position map [..., h', w'] instead of its mean.

    Returns:
        A float32 Tensor of shape [...] (the channels' mean SSIM per image).
    """
    with name_scope(None, "SSIM", [img1, img2]):
        a, b, mv = _prepare(img1, img2, max_val, "ssim")
        per_channel, _ = _ssim_per_channel(a, b, mv, filter_size, filter_sigma, k1, k2, return_index_map)
        return reduction_ops.reduce_mean(per_channel, [-1])


def ssim_multiscale(img1: Any, img2: Any, max_val: Any, power_factors: Any = _MSSSIM_WEIGHTS, filter_size: int = 11,
                    filter_sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> Tensor:
    """Multi-scale SSIM: SSIM's contrast-structure term at successively 2x-downsampled scales, weighted.

    Args:
        img1: images [..., height, width, channels]; the coarsest scale must still fit the window
            (e.g. 176 x 176 for the default 5 scales and filter_size 11).
        img2: images of the same inner shape.
        max_val: the dynamic range.
        power_factors: one exponent per scale (TF's defaults from the MS-SSIM paper).
        filter_size, filter_sigma, k1, k2: as in ssim.

    Returns:
        A float32 Tensor of shape [...].
    """
    from labflow.ops import cond_while, nn_ops, pool_ops
    with name_scope(None, "MS-SSIM", [img1, img2]):
        a, b, mv = _prepare(img1, img2, max_val, "ssim_multiscale")
        imgs = [a, b]
        heads = [array_ops.shape(x)[:-3] for x in imgs]
        tails = [array_ops.shape(x)[-3:] for x in imgs]
        divisor = [1, 2, 2, 1]
        mcs = []
        per_channel = None
        for k in range(len(power_factors)):
            with name_scope(None, f"Scale{k}", imgs):
                if k > 0:
                    flat = [array_ops.reshape(x, array_join_ops.concat([[-1], t], 0)) for x, t in zip(imgs, tails)]
                    remainder = math_ops.floormod(tails[0], convert_to_tensor([2, 2, 1], dtype=_dt.int32))
                    need = reduction_ops.reduce_any(compare_ops.not_equal(remainder, 0))

                    def do_pad(xs=flat, rem=remainder):
                        pads = array_join_ops.pad(array_reshape_ops.expand_dims(rem, -1), [[1, 0], [1, 0]])
                        return [array_join_ops.pad(x, pads, mode="SYMMETRIC") for x in xs]
                    padded = cond_while.cond(need, do_pad, lambda xs=flat: list(xs))
                    down = [pool_ops.avg_pool(x, ksize=divisor, strides=divisor, padding="VALID") for x in padded]
                    tails = [array_ops.shape(x)[1:] for x in down]
                    imgs = [array_ops.reshape(x, array_join_ops.concat([h, t], 0))
                            for x, h, t in zip(down, heads, tails)]
                per_channel, cs = _ssim_per_channel(imgs[0], imgs[1], mv, filter_size, filter_sigma, k1, k2)
                mcs.append(nn_ops.relu(cs))
        mcs.pop()
        stacked = array_join_ops.stack(mcs + [nn_ops.relu(per_channel)], axis=-1)
        weights = convert_to_tensor(np.asarray(power_factors, np.float32))
        return reduction_ops.reduce_mean(reduction_ops.reduce_prod(math_ops.pow(stacked, weights), [-1]), [-1])
