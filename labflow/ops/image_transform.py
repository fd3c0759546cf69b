"""tf.image geometry: flips, rotations, crops and pads, resize_images and its crop/pad variants, random_crop.

Composites of array ops, written after TF 1.x's image_ops_impl: the same ops, static shapes and checks (a
statically bad argument raises ValueError at construction, a dynamic one fails an Assert at run time).
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.graph import name_scope
from labflow.framework.tensor import Tensor
from labflow.ops import (
    array_join_ops,
    array_ops,
    array_reshape_ops,
    array_slice_ops,
    compare_ops,
    cond_while,
    logging_ops,
    math_ops,
    random_ops,
    reduction_ops,
    unary_ops,
)
from labflow.ops.common import convert_to_tensor
from labflow.ops.image_common import (
    as_image,
    assert_that,
    batched,
    check_at_least_3d,
    image_dims,
    is_tensor,
    static_value,
    unbatched,
    with_dependencies,
)
from labflow.ops.image_resize_ops import resize_area, resize_bicubic, resize_bilinear, resize_nearest_neighbor


def _by_rank(image: Tensor, fn: str, f3: Any, f4: Any) -> Tensor:
    nd = image.get_shape().ndims
    if nd == 3:
        return f3()
    if nd == 4:
        return f4()
    if nd is None:
        return cond_while.cond(compare_ops.equal(array_ops.rank(image), 3), f3, f4)
    raise ValueError(f"{fn}: 'image' (shape {image.get_shape()}) must have either 3 or 4 dimensions.")


def _checked(image: Any, fn: str) -> Tensor:
    image = as_image(image)
    return with_dependencies(check_at_least_3d(image, fn), image)


def _fix_flip_shape(image: Tensor, result: Tensor) -> Tensor:
    shape = image.get_shape()
    result.set_shape([None, None, None] if shape.ndims is None else shape)
    return result


# -- flips, transpose, rot90 ------------------------------------------------------------------------------
def _flip(image: Any, axis: int, scope: str) -> Tensor:
    with name_scope(None, scope, [image]):
        image = _checked(image, scope)
        return _by_rank(image, scope,
                        lambda: _fix_flip_shape(image, array_reshape_ops.reverse(image, [axis])),
                        lambda: array_reshape_ops.reverse(image, [axis + 1]))


def _random_flip(image: Any, axis: int, seed: int | None, scope: str) -> Tensor:
    with name_scope(None, scope, [image]) as name:
        image = _checked(image, scope)

        def f3():
            u = random_ops.random_uniform([], 0, 1.0, seed=seed)
            flipped = cond_while.cond(compare_ops.less(u, 0.5), lambda: array_reshape_ops.reverse(image, [axis]),
                                      lambda: image, name=name)
            return _fix_flip_shape(image, flipped)

        def f4():
            n = array_ops.shape(image)[0]
            u = random_ops.random_uniform(array_join_ops.stack([n]), 0, 1.0, seed=seed)
            flips = compare_ops.cast(unary_ops.round(array_ops.reshape(u, array_join_ops.stack([n, 1, 1, 1]))),
                                     image.dtype)
            flipped = array_reshape_ops.reverse(image, [axis + 1])
            return math_ops.add(math_ops.multiply(flips, flipped),
                                math_ops.multiply(math_ops.subtract(convert_to_tensor(1, dtype=image.dtype), flips),
                                                  image))
        return _by_rank(image, scope, f3, f4)


def flip_left_right(image: Any) -> Tensor:
    """Flips an image (3-D [h, w, c] or 4-D [batch, h, w, c]) horizontally.

    Args:
        image: a 3-D or 4-D Tensor.

    Returns:
        A Tensor of the same type and shape.

    Raises:
        ValueError: the image's rank is neither 3 nor 4, or an inner dimension is 0.
    """
    return _flip(image, 1, "flip_left_right")


def flip_up_down(image: Any) -> Tensor:
    """Flips an image (3-D or 4-D) vertically.

    Args:
        image: a 3-D or 4-D Tensor.

    Returns:
        A Tensor of the same type and shape.
    """
    return _flip(image, 0, "flip_up_down")


def random_flip_left_right(image: Any, seed: int | None = None) -> Tensor:
    """Flips an image horizontally with probability 1/2 (each image of a 4-D batch independently).

    Args:
        image: a 3-D or 4-D Tensor.
        seed: the op seed (see tf.set_random_seed).

    Returns:
        A Tensor of the same type and shape.
    """
    return _random_flip(image, 1, seed, "random_flip_left_right")


def random_flip_up_down(image: Any, seed: int | None = None) -> Tensor:
    """Flips an image vertically with probability 1/2 (each image of a 4-D batch independently).

    Args:
        image: a 3-D or 4-D Tensor.
        seed: the op seed.

    Returns:
        A Tensor of the same type and shape.
    """
    return _random_flip(image, 0, seed, "random_flip_up_down")


def transpose_image(image: Any, name: str | None = None) -> Tensor:
    """Swaps the height and width of an image (3-D or 4-D).

    Args:
        image: a 3-D or 4-D Tensor.
        name: a name for the op scope.

    Returns:
        The transposed image.
    """
    with name_scope(name, "transpose", [image]):
        image = _checked(image, "transpose_image")
        return _by_rank(image, "transpose_image",
                        lambda: array_reshape_ops.transpose(image, [1, 0, 2], name=name or "transpose"),
                        lambda: array_reshape_ops.transpose(image, [0, 2, 1, 3], name=name or "transpose"))


def rot90(image: Any, k: Any = 1, name: str | None = None) -> Tensor:
    """Rotates an image (3-D or 4-D) counter-clockwise by `k` quarter turns.

    Args:
        image: a 3-D or 4-D Tensor.
        k: a scalar int32 (Python int or Tensor): the number of quarter turns.
        name: a name for the op scope.

    Returns:
        The rotated image; height and width are unknown statically unless `k` is a constant.
    """
    with name_scope(name, "rot90", [image, k]):
        image = _checked(image, "rot90")
        kv = static_value(k)
        kt = math_ops.floormod(convert_to_tensor(k, dtype=_dt.int32, name="k"), 4)
        if kt.get_shape().ndims not in (None, 0):
            raise ValueError(f"rot90: k must be a scalar, got shape {kt.get_shape()}")

        def rot(x, lead):
            h, w = lead, lead + 1
            perm = list(range(lead)) + [w, h, lead + 2]
            turns = {
                1: lambda: array_reshape_ops.transpose(array_reshape_ops.reverse(x, [w]), perm),
                2: lambda: array_reshape_ops.reverse(x, [h, w]),
                3: lambda: array_reshape_ops.reverse(array_reshape_ops.transpose(x, perm), [w]),
            }
            if kv is not None:
                return turns.get(int(kv) % 4, lambda: x)()
            cases = [(compare_ops.equal(kt, i), turns[i]) for i in (1, 2, 3)]
            out = cond_while.case(cases, default=lambda: x, exclusive=True)
            d = x.get_shape().as_list()
            out.set_shape(d[:lead] + [None, None, d[-1]])
            return out
        return _by_rank(image, "rot90", lambda: rot(image, 0), lambda: rot(image, 1))


# -- crops and pads -------------------------------------------------------------------------------------------
def _stack_ints(values: list) -> Any:
    if not any(is_tensor(v) for v in values):
        return [int(v) for v in values]
    return array_join_ops.stack([convert_to_tensor(v, dtype=_dt.int32) for v in values])


def _static_or_none(values: list) -> list:
    return [None if is_tensor(v) else int(v) for v in values]


def _sub(a: Any, b: Any) -> Any:
    return math_ops.subtract(a, b) if is_tensor(a) or is_tensor(b) else a - b


def _add(a: Any, b: Any) -> Any:
    return math_ops.add(a, b) if is_tensor(a) or is_tensor(b) else a + b


def _ge(a: Any, b: Any) -> Any:
    return compare_ops.greater_equal(a, b) if is_tensor(a) or is_tensor(b) else a >= b


def _int_arg(v: Any) -> Any:
    """A Python int, or an int32 tensor (a constant tensor reads as its value, as TF's checks do)."""
    s = static_value(v)
    return int(s) if s is not None else convert_to_tensor(v, dtype=_dt.int32)


def pad_to_bounding_box(image: Any, offset_height: Any, offset_width: Any, target_height: Any,
                        target_width: Any) -> Tensor:
    """Pads an image with zeros to [target_height, target_width], placing it at the given offset.

    Args:
        image: a 3-D [h, w, c] or 4-D [batch, h, w, c] Tensor.
        offset_height: rows of zeros above the image.
        offset_width: columns of zeros left of the image.
        target_height: the padded height.
        target_width: the padded width.

    Returns:
        The padded image (3-D or 4-D, as given).

    Raises:
        ValueError: a statically known offset is negative or the image does not fit the target.
    """
    with name_scope(None, "pad_to_bounding_box", [image]):
        image, is_batch = batched(as_image(image), "pad_to_bounding_box")
        oh, ow, th, tw = (_int_arg(v) for v in (offset_height, offset_width, target_height, target_width))
        batch, height, width, depth = image_dims(image, 4)
        after_w = _sub(_sub(tw, ow), width)
        after_h = _sub(_sub(th, oh), height)
        checks = check_at_least_3d(image, "pad_to_bounding_box")
        checks += assert_that(_ge(oh, 0), "offset_height must be >= 0")
        checks += assert_that(_ge(ow, 0), "offset_width must be >= 0")
        checks += assert_that(_ge(after_w, 0), "width must be <= target - offset")
        checks += assert_that(_ge(after_h, 0), "height must be <= target - offset")
        image = with_dependencies(checks, image)
        paddings = array_ops.reshape(_stack_ints([0, 0, oh, after_h, ow, after_w, 0, 0]), [4, 2])
        padded = array_join_ops.pad(image, paddings)
        padded.set_shape(_static_or_none([batch, th, tw, depth]))
        return unbatched(padded, is_batch)


def crop_to_bounding_box(image: Any, offset_height: Any, offset_width: Any, target_height: Any,
                         target_width: Any) -> Tensor:
    """Crops the [target_height, target_width] window at (offset_height, offset_width) out of an image.

    Args:
        image: a 3-D [h, w, c] or 4-D [batch, h, w, c] Tensor.
        offset_height: the window's top row.
        offset_width: the window's left column.
        target_height: the window's height (> 0).
        target_width: the window's width (> 0).

    Returns:
        The cropped image (3-D or 4-D, as given).

    Raises:
        ValueError: statically known arguments that do not fit the image.
    """
    with name_scope(None, "crop_to_bounding_box", [image]):
        image, is_batch = batched(as_image(image), "crop_to_bounding_box")
        oh, ow, th, tw = (_int_arg(v) for v in (offset_height, offset_width, target_height, target_width))
        checks = check_at_least_3d(image, "crop_to_bounding_box")
        batch, height, width, depth = image_dims(image, 4)
        checks += assert_that(_ge(ow, 0), "offset_width must be >= 0.")
        checks += assert_that(_ge(oh, 0), "offset_height must be >= 0.")
        checks += assert_that(_ge(tw, 1), "target_width must be > 0.")
        checks += assert_that(_ge(th, 1), "target_height must be > 0.")
        checks += assert_that(_ge(width, _add(tw, ow)), "width must be >= target + offset.")
        checks += assert_that(_ge(height, _add(th, oh)), "height must be >= target + offset.")
        image = with_dependencies(checks, image)
        cropped = array_slice_ops.slice(image, _stack_ints([0, oh, ow, 0]), _stack_ints([-1, th, tw, -1]))
        cropped.set_shape(_static_or_none([batch, th, tw, depth]))
        return unbatched(cropped, is_batch)


def _max(x: Any, y: Any) -> Any:
    return math_ops.maximum(x, y) if is_tensor(x) or is_tensor(y) else max(x, y)


def _min(x: Any, y: Any) -> Any:
    return math_ops.minimum(x, y) if is_tensor(x) or is_tensor(y) else min(x, y)


def _floordiv(x: Any, y: int) -> Any:
    return math_ops.floordiv(x, y) if is_tensor(x) else x // y


def _neg(x: Any) -> Any:
    return math_ops.negative(x) if is_tensor(x) else -x


def resize_image_with_crop_or_pad(image: Any, target_height: Any, target_width: Any) -> Tensor:
    """Centrally crops and/or zero-pads an image to [target_height, target_width].

    Args:
        image: a 3-D [h, w, c] or 4-D [batch, h, w, c] Tensor.
        target_height: the output height (> 0).
        target_width: the output width (> 0).

    Returns:
        The cropped/padded image (3-D or 4-D, as given).
    """
    with name_scope(None, "resize_image_with_crop_or_pad", [image]):
        image, is_batch = batched(as_image(image), "resize_image_with_crop_or_pad")
        th, tw = _int_arg(target_height), _int_arg(target_width)
        checks = check_at_least_3d(image, "resize_image_with_crop_or_pad")
        checks += assert_that(_ge(tw, 1), "target_width must be > 0.")
        checks += assert_that(_ge(th, 1), "target_height must be > 0.")
        image = with_dependencies(checks, image)
        _, height, width, _ = image_dims(image, 4)
        wd, hd = _sub(tw, width), _sub(th, height)
        crop_w, pad_w = _max(_floordiv(_neg(wd), 2), 0), _max(_floordiv(wd, 2), 0)
        crop_h, pad_h = _max(_floordiv(_neg(hd), 2), 0), _max(_floordiv(hd, 2), 0)
        cropped = crop_to_bounding_box(image, crop_h, crop_w, _min(th, height), _min(tw, width))
        resized = pad_to_bounding_box(cropped, pad_h, pad_w, th, tw)
        return unbatched(resized, is_batch)


def central_crop(image: Any, central_fraction: Any) -> Tensor:
    """Crops the central region of an image (3-D or 4-D), keeping `central_fraction` of each side.

    Args:
        image: a 3-D or 4-D Tensor.
        central_fraction: a float in (0, 1] (or a scalar float Tensor).

    Returns:
        The cropped image.

    Raises:
        ValueError: a static central_fraction outside (0, 1], or an image of another rank.
    """
    with name_scope(None, "central_crop", [image]):
        image = as_image(image)
        frac = static_value(central_fraction)
        if frac is not None:
            frac = float(frac)
            if frac <= 0.0 or frac > 1.0:
                raise ValueError("central_fraction must be within (0, 1]")
            if frac == 1.0:
                return image
        else:
            cf = convert_to_tensor(central_fraction, dtype=_dt.float64)
            ok = compare_ops.logical_and(compare_ops.greater(cf, 0.0), compare_ops.less_equal(cf, 1.0))
            image = with_dependencies([logging_ops.Assert(ok, ["central_fraction must be within (0, 1]"])], image)
        check_at_least_3d(image, "central_crop")
        rank = image.get_shape().ndims
        if rank not in (3, 4):
            raise ValueError(f"`image` should either be a Tensor with rank = 3 or rank = 4. Had rank = {rank}.")
        lead = rank - 3
        d = image.get_shape().as_list()

        def start(idx):
            n = d[idx]
            if n is not None and frac is not None:
                return int((float(n) - float(n) * frac) / 2), n, False
            size = n if n is not None else array_ops.shape(image)[idx]
            f = convert_to_tensor(central_fraction, dtype=_dt.float64)
            nd = compare_ops.cast(size, _dt.float64)
            s = compare_ops.cast(math_ops.divide(math_ops.subtract(nd, math_ops.multiply(nd, f)), 2.0), _dt.int32)
            return s, size, True
        h0, hh, dyn_h = start(lead)
        w0, ww, dyn_w = start(lead + 1)
        hs, ws = _sub(hh, _add(h0, h0)), _sub(ww, _add(w0, w0))
        begin = _stack_ints([0] * lead + [h0, w0, 0])
        size = _stack_ints([-1] * lead + [hs, ws, -1])
        out = array_slice_ops.slice(image, begin, size)
        out.set_shape(d[:lead] + [None if dyn_h else hs, None if dyn_w else ws, d[-1]])
        return out


def random_crop(value: Any, size: Any, seed: int | None = None, name: str | None = None) -> Tensor:
    """Crops a random window of shape `size` out of `value` (any rank), uniformly over valid offsets.

    Args:
        value: the Tensor to crop.
        size: a 1-D int32 Tensor (or list) with one entry per dimension of `value`.
        seed: the op seed.
        name: a name for the op scope.

    Returns:
        A Tensor of shape `size` (static where `size` is constant).

    Raises:
        InvalidArgumentError (at run time): some value.shape[i] < size[i].
    """
    with name_scope(name, "random_crop", [value, size]) as scope:
        value = convert_to_tensor(value, name="value")
        size = convert_to_tensor(size, dtype=_dt.int32, name="size")
        shape = array_ops.shape(value)
        ok = reduction_ops.reduce_all(compare_ops.greater_equal(shape, size))
        check = logging_ops.Assert(ok, ["Need value.shape >= size, got ", shape, size], summarize=1000)
        shape = with_dependencies([check], shape)
        limit = math_ops.add(math_ops.subtract(shape, size), 1)
        offset = math_ops.floormod(random_ops.random_uniform(array_ops.shape(shape), dtype=_dt.int32,
                                                             maxval=_dt.int32.max, seed=seed), limit)
        return array_slice_ops.slice(value, offset, size, name=scope)


# -- resize_images -----------------------------------------------------------------------------------------------
class ResizeMethod:
    """TF 1.x's resize methods (ints, as tf.image.ResizeMethod in TF 1.x)."""

    BILINEAR = 0
    NEAREST_NEIGHBOR = 1
    BICUBIC = 2
    AREA = 3


_METHOD_NAMES = {"bilinear": 0, "nearest": 1, "bicubic": 2, "area": 3}


def _resizer(method: Any, align_corners: bool) -> Any:
    m = _METHOD_NAMES.get(method, method) if isinstance(method, str) else method
    fns = {ResizeMethod.BILINEAR: resize_bilinear, ResizeMethod.NEAREST_NEIGHBOR: resize_nearest_neighbor,
           ResizeMethod.BICUBIC: resize_bicubic, ResizeMethod.AREA: resize_area}
    if m not in fns:
        raise ValueError(f"Resize method is not implemented: {method}")
    return lambda images, size: fns[m](images, size, align_corners=align_corners)


def resize_images(images: Any, size: Any, method: Any = ResizeMethod.BILINEAR, align_corners: bool = False,
                  preserve_aspect_ratio: bool = False, name: str | None = None) -> Tensor:
    """Resizes images (3-D or 4-D) to `size` with the given method (TF 1.x `tf.image.resize_images`).

    Bilinear, bicubic and area resizing return float32; nearest neighbour keeps the dtype. When the size
    is statically equal to the image's, the images are returned as they are (dtype unchanged), as in TF.

    Args:
        images: a 4-D [batch, h, w, c] or 3-D [h, w, c] Tensor.
        size: a 1-D int32 Tensor of 2 elements: new_height, new_width.
        method: a ResizeMethod (BILINEAR default, NEAREST_NEIGHBOR, BICUBIC, AREA).
        align_corners: align the centres of the corner pixels (TF1's legacy alternative convention).
        preserve_aspect_ratio: fit the image inside `size`, keeping its aspect ratio.
        name: a name for the op scope (default "resize").

    Returns:
        The resized images (3-D or 4-D, as given).

    Raises:
        ValueError: images of unknown rank or a rank other than 3 and 4, a size that is not 2 int32
            values, or an unknown method.
    """
    resize_fn = _resizer(method, align_corners)
    with name_scope(name, "resize", [images, size]):
        images = convert_to_tensor(images, name="images")
        nd = images.get_shape().ndims
        if nd is None:
            raise ValueError("'images' contains no shape.")
        if nd not in (3, 4):
            raise ValueError("'images' must have either 3 or 4 dimensions.")
        images, is_batch = batched(images, "resize_images")
        _, height, width, _ = images.get_shape().as_list()
        try:
            size = convert_to_tensor(size, dtype=_dt.int32, name="size")
        except (TypeError, ValueError):
            raise ValueError("'size' must be a 1-D int32 Tensor") from None
        if not size.get_shape().is_compatible_with([2]):
            raise ValueError("'size' must be a 1-D Tensor of 2 elements: new_height, new_width")
        if preserve_aspect_ratio:
            _, cur_h, cur_w, _ = image_dims(images, 4)
            f32 = _dt.float32
            fh = compare_ops.cast(cur_h, f32)
            fw = compare_ops.cast(cur_w, f32)
            scale = math_ops.minimum(math_ops.divide(compare_ops.cast(size[0], f32), fh),
                                     math_ops.divide(compare_ops.cast(size[1], f32), fw))
            new_h = compare_ops.cast(unary_ops.round(math_ops.multiply(scale, fh)), _dt.int32)
            new_w = compare_ops.cast(unary_ops.round(math_ops.multiply(scale, fw)), _dt.int32)
            size = array_join_ops.stack([new_h, new_w], name="size")
        sv = static_value(size)
        new_h_c, new_w_c = (None, None) if sv is None else (int(sv[0]), int(sv[1]))
        if None not in (new_h_c, new_w_c, height, width) and (height, width) == (new_h_c, new_w_c):
            return unbatched(images, is_batch)
        out = resize_fn(images, size)
        out.set_shape([None, new_h_c, new_w_c, None])
        return unbatched(out, is_batch)


def resize_image_with_pad(image: Any, target_height: Any, target_width: Any, method: Any = ResizeMethod.BILINEAR,
                          align_corners: bool = False) -> Tensor:
    """Resizes an image to fit [target_height, target_width] keeping its aspect ratio, then zero-pads it.

    Args:
        image: a 3-D or 4-D Tensor.
        target_height: the output height (> 0).
        target_width: the output width (> 0).
        method: a ResizeMethod.
        align_corners: see resize_images.

    Returns:
        A float32 image (3-D or 4-D, as given) of the target size.
    """
    with name_scope(None, "resize_image_with_pad", [image]):
        image, is_batch = batched(as_image(image), "resize_image_with_pad")
        th, tw = _int_arg(target_height), _int_arg(target_width)
        checks = check_at_least_3d(image, "resize_image_with_pad")
        checks += assert_that(_ge(tw, 1), "target_width must be > 0.")
        checks += assert_that(_ge(th, 1), "target_height must be > 0.")
        image = with_dependencies(checks, image)
        _, height, width, _ = image_dims(image, 4)
        f32 = _dt.float32
        fh, fw = (compare_ops.cast(v, f32) for v in (height, width))
        fth, ftw = (compare_ops.cast(v, f32) for v in (th, tw))
        ratio = math_ops.maximum(math_ops.divide(fw, ftw), math_ops.divide(fh, fth))
        rh_f, rw_f = math_ops.divide(fh, ratio), math_ops.divide(fw, ratio)
        rh = compare_ops.cast(unary_ops.floor(rh_f), _dt.int32)
        rw = compare_ops.cast(unary_ops.floor(rw_f), _dt.int32)
        ph = math_ops.maximum(0, compare_ops.cast(unary_ops.floor(math_ops.divide(math_ops.subtract(fth, rh_f), 2)),
                                                  _dt.int32))
        pw = math_ops.maximum(0, compare_ops.cast(unary_ops.floor(math_ops.divide(math_ops.subtract(ftw, rw_f), 2)),
                                                  _dt.int32))
        resized = resize_images(image, array_join_ops.stack([rh, rw]), method, align_corners=align_corners)
        padded = pad_to_bounding_box(resized, ph, pw, th, tw)
        return unbatched(padded, is_batch)
