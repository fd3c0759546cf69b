"""Box kernels of tf.image: DrawBoundingBoxes(V2) and SampleDistortedBoundingBoxV2.

Box coordinates are TF's normalised [y_min, x_min, y_max, x_max]. Box sampling is sequential and small: it
runs on host values, like TF's CPU kernel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops.common import base, convert_to_tensor, dims, make_op, make_tensor
from labflow.ops.random_ops import _rng


def _rank(op_type: str, what: str, t: Any, rank: int) -> tuple | None:
    d = dims(t)
    if d is not None and len(d) != rank:
        raise ValueError(f"Shape must be rank {rank} but is rank {len(d)} for '{op_type}' (input '{what}')")
    return d


# -- DrawBoundingBoxes ---------------------------------------------------------------------------------------------
_COLORS = np.array([[1, 1, 0, 1], [0, 0, 1, 1], [1, 0, 0, 1], [0, 1, 0, 1], [0.5, 0, 0.5, 1], [0.5, 0.5, 0, 1],
                    [0.5, 0, 0, 1], [0, 0, 0.5, 1], [0, 1, 1, 1], [1, 0, 1, 1]], np.float64)


def _draw_shape(op_type: str) -> Any:
    def fn(ins, attrs):
        d = _rank(op_type, "images", ins[0], 4)
        b = _rank(op_type, "boxes", ins[1], 3)
        if b is not None and b[2] not in (None, 4):
            raise ValueError(f"Dimension must be 4 but is {b[2]} for '{op_type}' (boxes are [batch, num_boxes, 4])")
        return base(ins[0]), d
    return fn


def draw_boxes_array(xp: Any, images: Any, boxes: np.ndarray, colors: np.ndarray, op_type: str) -> Any:
    b, h, w, depth = images.shape
    if depth not in (1, 3, 4):
        raise errors.InvalidArgumentError(None, None, f"{op_type}: Channel depth should be either 1 (GRY), 3 (RGB), "
                                          f"or 4 (RGBA), got {depth}")
    if boxes.shape[0] != b:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: boxes has {boxes.shape[0]} batch entries, images "
                                          f"{b}")
    if colors.shape[1] < depth:
        colors = np.concatenate([colors, np.ones((len(colors), depth - colors.shape[1]))], axis=1)
    canvas = images.copy()
    for i in range(b):
        for k in range(boxes.shape[1]):
            color = xp.asarray(colors[k % len(colors), :depth].astype(images.dtype))
            # TF truncates the scaled coordinates toward zero (a C++ float -> int64 conversion)
            r0, c0, r1, c1 = (int(np.float32(v) * np.float32(n - 1)) for v, n in zip(boxes[i, k], (h, w, h, w)))
            if r0 > r1 or c0 > c1 or r0 >= h or r1 < 0 or c0 >= w or c1 < 0:
                continue
            rr0, rr1, cc0, cc1 = max(r0, 0), min(r1, h - 1), max(c0, 0), min(c1, w - 1)
            if r0 >= 0:
                canvas[i, r0, cc0:cc1 + 1, :] = color
            if r1 < h:
                canvas[i, r1, cc0:cc1 + 1, :] = color
            if c0 >= 0:
                canvas[i, rr0:rr1 + 1, c0, :] = color
            if c1 < w:
                canvas[i, rr0:rr1 + 1, c1, :] = color
    return canvas


@op("DrawBoundingBoxes", inputs=("images", "boxes"), types=(_dt.float16, _dt.float32), type_inputs=("images",),
    shape=_draw_shape("DrawBoundingBoxes"), host_inputs=(1,), not_differentiable=True)
def draw_bounding_boxes_kernel(xp, images, boxes):
    return draw_boxes_array(xp, images, np.asarray(boxes), _COLORS, "DrawBoundingBoxes")


@op("DrawBoundingBoxesV2", inputs=("images", "boxes", "colors"), types=(_dt.float16, _dt.float32),
    type_inputs=("images",), shape=_draw_shape("DrawBoundingBoxesV2"), host_inputs=(1, 2), not_differentiable=True)
def draw_bounding_boxes_v2_kernel(xp, images, boxes, colors):
    c = np.asarray(colors, np.float64)
    if c.size == 0:
        c = _COLORS
    elif c.ndim != 2:
        raise errors.InvalidArgumentError(None, None, f"DrawBoundingBoxesV2: colors must be [num_colors, channels], "
                                          f"got shape {list(c.shape)}")
    return draw_boxes_array(xp, images, np.asarray(boxes), c, "DrawBoundingBoxesV2")


def draw_bounding_boxes(images: Any, boxes: Any, name: str | None = None, colors: Any = None) -> Tensor:
    """Draws one-pixel box outlines on a batch of images (colours cycle through TF's table, or `colors`).

    Args:
        images: a float Tensor [batch, height, width, depth] with depth 1, 3 or 4.
        boxes: a float32 Tensor [batch, num_boxes, 4] of normalised [y_min, x_min, y_max, x_max].
        name: a name for the op.
        colors: optional float32 [num_colors, 4] RGBA colours, cycled through per box.

    Returns:
        A copy of `images` with the boxes drawn.
    """
    x = convert_to_tensor(images, name="images")
    b = convert_to_tensor(boxes, dtype=_dt.float32, name="boxes")
    if colors is None:
        return make_tensor("DrawBoundingBoxes", [x, b], None, name or "DrawBoundingBoxes")
    c = convert_to_tensor(colors, dtype=_dt.float32, name="colors")
    return make_tensor("DrawBoundingBoxesV2", [x, b, c], None, name or "DrawBoundingBoxesV2")


# -- SampleDistortedBoundingBoxV2 --------------------------------------------------------------------------------
_SIZE_TYPES = (_dt.uint8, _dt.int8, _dt.int16, _dt.int32, _dt.int64)


def _sdbb_shape(ins, attrs):
    if base(ins[0]) not in _SIZE_TYPES:
        raise TypeError(f"SampleDistortedBoundingBoxV2: image_size must be one of "
                        f"{', '.join(t.name for t in _SIZE_TYPES)}, got {base(ins[0]).name}")
    d = _rank("SampleDistortedBoundingBoxV2", "image_size", ins[0], 1)
    if d is not None and d[0] not in (None, 3):
        raise ValueError(f"Dimension must be 3 but is {d[0]} for 'SampleDistortedBoundingBoxV2' (image_size is "
                         "[height, width, channels])")
    bd = dims(ins[1])
    if bd is not None and (len(bd) < 1 or bd[-1] not in (None, 4)):
        raise ValueError(f"'SampleDistortedBoundingBoxV2': bounding_boxes must be [..., 4], got {list(bd)}")
    _rank("SampleDistortedBoundingBoxV2", "min_object_covered", ins[2], 0)
    for k, lo in (("aspect_ratio_range", 0.0), ("area_range", 0.0)):
        v = attrs[k]
        if len(v) != 2 or v[0] > v[1] or v[0] < lo:
            raise ValueError(f"SampleDistortedBoundingBoxV2: {k} must be [min, max] with 0 <= min <= max, got "
                             f"{list(v)}")
    if attrs["area_range"][1] > 1:
        raise ValueError(f"SampleDistortedBoundingBoxV2: area_range must be within (0, 1], got "
                         f"{list(attrs['area_range'])}")
    if attrs["max_attempts"] <= 0:
        raise ValueError(f"SampleDistortedBoundingBoxV2: max_attempts must be positive, got {attrs['max_attempts']}")
    t = base(ins[0])
    return [(t, (3,)), (t, (3,)), (_dt.float32, (1, 1, 4))]


def _lrint(x: float) -> int:
    return int(np.rint(np.float32(x)))


def _random_crop(gen: Any, width: int, height: int, min_rel: float, max_rel: float, ratio: float) -> tuple | None:
    """TF's GenerateRandomCrop: (x, y, w, h) of one sampled crop, or None when none fits."""
    if max_rel <= 0 or ratio <= 0 or width <= 0 or height <= 0 or min_rel > max_rel:
        return None
    min_area, max_area = min_rel * width * height, max_rel * width * height
    h = _lrint(np.sqrt(min_area / ratio))
    max_h = _lrint(np.sqrt(max_area / ratio))
    if _lrint(max_h * ratio) > width:
        max_h = int((width + 0.5 - 1e-7) / ratio)
        if _lrint(max_h * ratio) > width:
            max_h -= 1
    max_h = min(max_h, height)
    h = min(h, max_h)
    if h < max_h:
        h += int(gen.integers(0, max_h - h + 1, (), np.int64))
    w = _lrint(h * ratio)
    area = float(w * h)
    if area < min_area:
        h += 1
        w = _lrint(h * ratio)
        area = float(w * h)
    if area < min_area:
        return None
    if area > max_area:
        h -= 1
        w = _lrint(h * ratio)
        area = float(w * h)
    if area < min_area or area > max_area or w > width or h > height or w <= 0 or h <= 0:
        return None
    y = int(gen.integers(0, height - h, (), np.int64)) if h < height else 0
    x = int(gen.integers(0, width - w, (), np.int64)) if w < width else 0
    return x, y, w, h


def _covers(crop: tuple, boxes: list, min_covered: float) -> bool:
    x, y, w, h = crop
    if w * h < 1:
        return False
    for bx0, by0, bx1, by1 in boxes:
        area = (bx1 - bx0) * (by1 - by0)
        if area < 1:
            continue
        iw = min(x + w, bx1) - max(x, bx0)
        ih = min(y + h, by1) - max(y, by0)
        inter = iw * ih if iw > 0 and ih > 0 else 0
        if inter / area >= min_covered:
            return True
    return False


@op("SampleDistortedBoundingBoxV2", inputs=("image_size", "bounding_boxes", "min_object_covered"),
    attrs={"seed": 0, "seed2": 0, "aspect_ratio_range": [0.75, 1.33], "area_range": [0.05, 1.0],
           "max_attempts": 100, "use_image_if_no_bounding_boxes": False},
    shape=_sdbb_shape, outputs=3, output_names=("begin", "size", "bboxes"), stateful=True, needs_ctx=True,
    devices=("CPU",), not_differentiable=True)
def sample_distorted_bounding_box_kernel(xp, image_size, bounding_boxes, min_object_covered, *, seed, seed2,
                                         aspect_ratio_range, area_range, max_attempts,
                                         use_image_if_no_bounding_boxes, ctx):
    op_type = "SampleDistortedBoundingBoxV2"
    size = np.asarray(image_size)
    if size.shape != (3,):
        raise errors.InvalidArgumentError(None, None, f"{op_type}: image_size must be 1-D of 3 elements, got shape "
                                          f"{list(size.shape)}")
    height, width = int(size[0]), int(size[1])
    if height <= 0 or width <= 0:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: image height and width must be positive, got "
                                          f"{height} and {width}")
    bb = np.asarray(bounding_boxes, np.float32).reshape(-1, 4)
    min_cov = float(np.asarray(min_object_covered))
    if min_cov < 0:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: min_object_covered must be non-negative, got "
                                          f"{min_cov}")
    boxes = []
    if len(bb) == 0:
        if not use_image_if_no_bounding_boxes:
            raise errors.InvalidArgumentError(None, None, f"{op_type}: No bounding boxes provided as input. One must "
                                              "enable use_image_if_no_bounding_boxes if you wish to not provide any "
                                              "bounding boxes.")
        boxes.append((0, 0, width, height))
    for y0, x0, y1, x1 in bb:
        if not all(0.0 <= v <= 1.0 for v in (y0, x0, y1, x1)):
            raise errors.InvalidArgumentError(None, None, f"{op_type}: All bounding box coordinates must be in "
                                              f"[0.0, 1.0]: {[float(y0), float(x0), float(y1), float(x1)]}")
        if y0 > y1 or x0 > x1:
            raise errors.InvalidArgumentError(None, None, f"{op_type}: Bounding box max must be greater than or "
                                              f"equal to min: {[float(y0), float(x0), float(y1), float(x1)]}")
        boxes.append((int(x0 * width), int(y0 * height), int(x1 * width), int(y1 * height)))
    gen = _rng(np, ctx, seed, seed2).gen
    crop = None
    for _ in range(int(max_attempts)):
        ratio = float(np.float32(gen.random()) * np.float32(aspect_ratio_range[1] - aspect_ratio_range[0])
                      + np.float32(aspect_ratio_range[0]))
        c = _random_crop(gen, width, height, float(area_range[0]), float(area_range[1]), ratio)
        if c is not None and _covers(c, boxes, min_cov):
            crop = c
            break
    x, y, w, h = crop if crop is not None else (0, 0, width, height)
    dt = size.dtype
    bboxes = np.array([[[y / height, x / width, (y + h) / height, (x + w) / width]]], np.float32)
    # -1 ("all channels") wraps in an unsigned dtype, as TF's C++ conversion does
    return np.array([y, x, 0], dt), np.array([h, w, -1], np.int64).astype(dt), bboxes


def sample_distorted_bounding_box(image_size: Any, bounding_boxes: Any, seed: int | None = None,
                                  seed2: int | None = None, min_object_covered: Any = 0.1,
                                  aspect_ratio_range: Any = None, area_range: Any = None,
                                  max_attempts: int | None = None, use_image_if_no_bounding_boxes: bool | None = None,
                                  name: str | None = None) -> tuple:
    """Samples a random crop window that covers enough of one of `bounding_boxes` (Inception-style augmentation).

    Args:
        image_size: a 1-D integer Tensor [height, width, channels].
        bounding_boxes: a float32 Tensor [batch, N, 4] (or any [..., 4]) of normalised [y_min, x_min, y_max, x_max].
        seed: the op's first seed (used as given, as in TF 1.x: the graph seed plays no part).
        seed2: its second seed; with both 0 (or None) every session draws differently.
        min_object_covered: a scalar float: the crop must contain at least this fraction of some box.
        aspect_ratio_range: [min, max] of the crop's width / height (default [0.75, 1.33]).
        area_range: [min, max] of the crop's fraction of the image area (default [0.05, 1.0]).
        max_attempts: how many crops to try before returning the whole image (default 100).
        use_image_if_no_bounding_boxes: use the whole image as the box when none are given.
        name: a name for the op scope.

    Returns:
        (begin, size, bboxes): begin and size for tf.slice ([offset_y, offset_x, 0] and [h, w, -1], of
        image_size's dtype) and the crop as a float32 [1, 1, 4] box for draw_bounding_boxes.
    """
    with name_scope(name, "sample_distorted_bounding_box"):
        size = convert_to_tensor(image_size, name="image_size")
        boxes = convert_to_tensor(bounding_boxes, dtype=_dt.float32, name="bounding_boxes")
        moc = convert_to_tensor(min_object_covered, dtype=_dt.float32, name="min_object_covered")
        # TF 1.x passes both seeds to the op as given (no graph seed): 0 and 0 mean a fresh random seed.
        attrs = {"seed": int(seed or 0), "seed2": int(seed2 or 0),
                 "aspect_ratio_range": [float(v) for v in (aspect_ratio_range or [0.75, 1.33])],
                 "area_range": [float(v) for v in (area_range or [0.05, 1.0])],
                 "max_attempts": 100 if max_attempts is None else int(max_attempts),
                 "use_image_if_no_bounding_boxes": bool(use_image_if_no_bounding_boxes)}
        o = make_op("SampleDistortedBoundingBoxV2", [size, boxes, moc], attrs, "SampleDistortedBoundingBoxV2")
        return tuple(o.outputs)

