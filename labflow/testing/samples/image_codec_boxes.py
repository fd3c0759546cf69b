"""Sweep samples for the tf.image codecs (decode/encode JPEG, PNG, GIF, BMP), non-max suppression, box drawing,
box sampling and ExtractGlimpse (resizing, crops and colour ops are in image.py).

References are NumPy code written from TF's kernel formulas and Pillow's own encoders, independent of the
kernels.
"""

from __future__ import annotations

import io

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(29)
_HALF_FLOAT = (_dt.float16, _dt.float32)


# -- codecs ---------------------------------------------------------------------------------------------------------
def _encoded(arr, fmt, **kw):
    from PIL import Image
    a = arr[..., 0] if arr.shape[-1] == 1 else arr
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format=fmt, **kw)
    return np.array(buf.getvalue(), dtype=object)


_RGB = (R.rand(5, 7, 3) * 255).astype(np.uint8)
_RGBA = (R.rand(4, 3, 4) * 255).astype(np.uint8)
_GRAY = (R.rand(6, 2, 1) * 255).astype(np.uint8)


def _gray_of(rgb):
    # ITU-R 601-2 luma, as Pillow (and libpng/libjpeg's RGB -> gray) compute it
    r, g, b = (rgb[..., i].astype(np.int64) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)[..., None]


@samples("DecodePng")
def _decode_png():
    return [Case(tf.image.decode_png, [_encoded(_RGB, "PNG")], lambda s: _RGB, grad=False, name="rgb"),
            Case(tf.image.decode_png, [_encoded(_RGBA, "PNG")], lambda s: _RGBA, grad=False, name="rgba"),
            Case(lambda s: tf.image.decode_png(s, channels=3), [_encoded(_GRAY, "PNG")],
                 lambda s: np.repeat(_GRAY, 3, axis=-1), grad=False, name="gray_to_rgb"),
            Case(lambda s: tf.image.decode_png(s, channels=1), [_encoded(_RGB, "PNG")], lambda s: _gray_of(_RGB),
                 grad=False, name="rgb_to_gray"),
            Case(lambda s: tf.image.decode_png(s, dtype=tf.uint16), [_encoded(_GRAY, "PNG")],
                 lambda s: _GRAY.astype(np.uint16) * 257, grad=False, name="uint16")]


@samples("DecodeJpeg")
def _decode_jpeg():
    flat = np.full((8, 16, 3), (40, 200, 90), np.uint8)  # flat colour: JPEG reproduces it within 1 level
    return [Case(lambda s: tf.cast(tf.image.decode_jpeg(s), tf.float32),
                 [_encoded(flat, "JPEG", quality=100, subsampling=0)], lambda s: flat.astype(np.float32),
                 grad=False, atol=1.01, name="rgb"),
            Case(lambda s: tf.image.decode_jpeg(s), [_encoded(_RGB, "PNG")], lambda s: _RGB, grad=False,
                 name="png_data")]


@samples("DecodeGif")
def _decode_gif():
    from PIL import Image
    frames = [np.full((3, 4, 3), c, np.uint8) for c in ((255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    imgs = [Image.fromarray(f) for f in frames]
    imgs[0].save(buf, format="GIF", save_all=True, append_images=imgs[1:])
    data = np.array(buf.getvalue(), dtype=object)
    return [Case(tf.image.decode_gif, [data], lambda s: np.stack(frames), grad=False, name="two_frames"),
            Case(tf.image.decode_gif, [_encoded(_RGB, "PNG")], lambda s: _RGB[None], grad=False, name="png_data")]


@samples("DecodeBmp")
def _decode_bmp():
    return [Case(tf.image.decode_bmp, [_encoded(_RGB, "BMP")], lambda s: _RGB, grad=False, name="rgb")]


@samples("DecodeImage")
def _decode_image():
    return [Case(tf.image.decode_image, [_encoded(_RGB, "BMP")], lambda s: _RGB, grad=False, name="bmp"),
            Case(lambda s: tf.image.decode_image(s, dtype=tf.float32), [_encoded(_RGBA, "PNG")],
                 lambda s: _RGBA.astype(np.float32) / 255, grad=False, name="png_float32"),
            Case(lambda s: tf.image.decode_image(s, channels=1), [_encoded(_GRAY, "PNG")], lambda s: _GRAY,
                 grad=False, name="gray")]


@samples("EncodePng")
def _encode_png():
    return [Case(lambda x: tf.image.decode_png(tf.image.encode_png(x)), [_RGB], lambda x: x, grad=False,
                 name="round_trip_rgb"),
            Case(lambda x: tf.image.decode_png(tf.image.encode_png(x, compression=9)), [_GRAY], lambda x: x,
                 grad=False, name="round_trip_gray"),
            Case(lambda x: tf.image.decode_png(tf.image.encode_png(x), dtype=tf.uint16),
                 [(R.rand(3, 5, 1) * 65535).astype(np.uint16)], lambda x: x, grad=False, name="round_trip_uint16")]


@samples("EncodeJpeg")
def _encode_jpeg():
    flat = np.full((8, 8, 3), (10, 120, 240), np.uint8)
    return [Case(lambda x: tf.cast(tf.image.decode_jpeg(tf.image.encode_jpeg(x, quality=100,
                                                                            chroma_downsampling=False)), tf.float32),
                 [flat], lambda x: x.astype(np.float32), grad=False, atol=1.01, name="round_trip_flat"),
            Case(lambda x: tf.cast(tf.image.decode_jpeg(tf.image.encode_jpeg(x, format="grayscale")), tf.float32),
                 [np.full((8, 8, 1), 77, np.uint8)], lambda x: x.astype(np.float32), grad=False, atol=1.01,
                 name="grayscale")]


# -- boxes ----------------------------------------------------------------------------------------------------------
def ref_nms(boxes, scores, k, iou_t, score_t=-np.inf):
    def iou(a, b):
        ya, yb = sorted([a[0], a[2]]), sorted([b[0], b[2]])
        xa, xb = sorted([a[1], a[3]]), sorted([b[1], b[3]])
        aa, ab = (ya[1] - ya[0]) * (xa[1] - xa[0]), (yb[1] - yb[0]) * (xb[1] - xb[0])
        if aa <= 0 or ab <= 0:
            return 0.0
        inter = max(0, min(ya[1], yb[1]) - max(ya[0], yb[0])) * max(0, min(xa[1], xb[1]) - max(xa[0], xb[0]))
        return inter / (aa + ab - inter)
    order = sorted((i for i in range(len(scores)) if scores[i] > score_t), key=lambda i: (-scores[i], i))
    keep = []
    for i in order:
        if len(keep) < k and all(iou(boxes[i], boxes[j]) <= iou_t for j in keep):
            keep.append(i)
    return np.asarray(keep, np.int32)


_NB = R.rand(15, 4)
_NB[:, 2:] += _NB[:, :2] * 0.8
_NS = R.rand(15)


@samples("NonMaxSuppressionV3")
def _nms_v3():
    return [Case(lambda b, s: tf.image.non_max_suppression(b, s, 6, 0.3), [_NB, _NS],
                 lambda b, s: ref_nms(b.astype(np.float32), s.astype(np.float32), 6, 0.3),
                 dtypes=(_dt.float32,), grad=False, name="iou_0.3"),
            Case(lambda b, s: tf.image.non_max_suppression(b, s, 20, 0.6, score_threshold=0.5), [_NB, _NS],
                 lambda b, s: ref_nms(b.astype(np.float32), s.astype(np.float32), 20, 0.6, 0.5),
                 dtypes=(_dt.float32,), grad=False, name="score_threshold")]


@samples("NonMaxSuppressionV2")
def _nms_v2():
    from labflow.ops.common import make_tensor

    def build(b, s):
        return make_tensor("NonMaxSuppressionV2", [b, s, tf.constant(4), tf.constant(0.4)])
    return [Case(build, [_NB, _NS], lambda b, s: ref_nms(b.astype(np.float32), s.astype(np.float32), 4, 0.4),
                 dtypes=(_dt.float32,), grad=False)]


_PALETTE = [[1, 1, 0, 1], [0, 0, 1, 1], [1, 0, 0, 1], [0, 1, 0, 1], [0.5, 0, 0.5, 1], [0.5, 0.5, 0, 1],
            [0.5, 0, 0, 1], [0, 0, 0.5, 1], [0, 1, 1, 1], [1, 0, 1, 1]]


def ref_draw(img, boxes, colors=None):
    out = img.copy()
    colors = _PALETTE if colors is None else colors
    _, h, w, d = img.shape
    for b in range(img.shape[0]):
        for k, box in enumerate(boxes[b]):
            c = np.asarray(colors[k % len(colors)], np.float64)
            c = np.concatenate([c, np.ones(max(0, d - len(c)))])[:d]
            r0, c0, r1, c1 = (int(np.float32(v) * np.float32(n - 1)) for v, n in zip(box, (h, w, h, w)))
            if r0 > r1 or c0 > c1 or r0 >= h or r1 < 0 or c0 >= w or c1 < 0:
                continue
            for row in (r0, r1):
                if 0 <= row < h:
                    for col in range(max(c0, 0), min(c1, w - 1) + 1):
                        out[b, row, col] = c
            for col in (c0, c1):
                if 0 <= col < w:
                    for row in range(max(r0, 0), min(r1, h - 1) + 1):
                        out[b, row, col] = c
    return out


_DRAW_BOXES = np.array([[[0.1, 0.2, 0.7, 0.9], [-0.1, 0.5, 0.6, 1.2]], [[0.0, 0.0, 1.0, 1.0], [0.5, 0.5, 0.4, 0.9]]])


@samples("DrawBoundingBoxes")
def _draw():
    return [Case(lambda x: tf.image.draw_bounding_boxes(x, _DRAW_BOXES.astype(np.float32)), [R.rand(2, 6, 7, 3)],
                 lambda x: ref_draw(x, _DRAW_BOXES), dtypes=_HALF_FLOAT, grad=False, name="rgb"),
            Case(lambda x: tf.image.draw_bounding_boxes(x, _DRAW_BOXES.astype(np.float32)), [R.rand(2, 5, 5, 1)],
                 lambda x: ref_draw(x, _DRAW_BOXES), dtypes=_HALF_FLOAT, grad=False, name="gray")]


@samples("DrawBoundingBoxesV2")
def _draw_v2():
    colors = np.array([[0.2, 0.4, 0.6, 1.0], [0.9, 0.1, 0.0, 1.0], [0.3, 0.3, 0.3, 1.0]], np.float32)
    return [Case(lambda x: tf.image.draw_bounding_boxes(x, _DRAW_BOXES.astype(np.float32), colors=colors),
                 [R.rand(2, 6, 7, 4)], lambda x: ref_draw(x, _DRAW_BOXES, colors), dtypes=_HALF_FLOAT, grad=False,
                 name="rgba")]


@samples("SampleDistortedBoundingBoxV2")
def _sample_distorted_bounding_box():
    # Deterministic corners of the sampler: a crop that must be the whole image, and an impossible
    # constraint (min_object_covered above what any crop inside the area range gives) that falls back to it.
    def whole(s):
        return list(tf.image.sample_distorted_bounding_box(s, [[[0.2, 0.2, 0.6, 0.6]]], seed=3,
                                                           aspect_ratio_range=[1.5, 1.5], area_range=[1.0, 1.0]))

    def fallback(s):
        return list(tf.image.sample_distorted_bounding_box(s, [[[0.0, 0.0, 1.0, 1.0]]], seed=4,
                                                           min_object_covered=0.9, area_range=[0.1, 0.2]))

    def no_boxes(s):
        return list(tf.image.sample_distorted_bounding_box(s, np.zeros((1, 0, 4), np.float32), seed=5,
                                                           area_range=[1.0, 1.0], aspect_ratio_range=[1.0, 1.0],
                                                           use_image_if_no_bounding_boxes=True))

    def ref(h, w, dt):
        # -1 ("all channels") wraps in an unsigned size dtype, as a C++ cast does in TF
        box = np.array([[[0.0, 0.0, 1.0, 1.0]]], np.float32)
        return [np.array([0, 0, 0], dt), np.array([h, w, -1]).astype(dt), box]
    return [Case(whole, [np.array([20, 30, 3], np.int32)], lambda s: ref(20, 30, np.int32), grad=False, name="whole"),
            Case(fallback, [np.array([10, 10, 1], np.int64)], lambda s: ref(10, 10, np.int64), grad=False,
                 name="fallback"),
            Case(no_boxes, [np.array([8, 8, 3], np.uint8)], lambda s: ref(8, 8, np.uint8), grad=False,
                 name="no_boxes")]


@samples("DecodeAndCropJpeg")
def _decode_and_crop_jpeg():
    flat = np.full((12, 16, 3), (200, 30, 60), np.uint8)
    return [Case(lambda s: tf.cast(tf.image.decode_and_crop_jpeg(s, [2, 4, 6, 8]), tf.float32),
                 [_encoded(flat, "JPEG", quality=100, subsampling=0)], lambda s: flat[2:8, 4:12].astype(np.float32),
                 grad=False, atol=1.01, name="window")]


@samples("ExtractJpegShape")
def _extract_jpeg_shape():
    return [Case(tf.image.extract_jpeg_shape, [_encoded(_RGB, "JPEG")], lambda s: np.array([5, 7, 3], np.int32),
                 grad=False, name="rgb"),
            Case(lambda s: tf.image.extract_jpeg_shape(s, tf.int64), [_encoded(_GRAY, "JPEG")],
                 lambda s: np.array([6, 2, 1], np.int64), grad=False, name="gray_int64")]


@samples("EncodeJpegVariableQuality")
def _encode_jpeg_variable_quality():
    flat = np.full((8, 8, 3), (90, 90, 200), np.uint8)
    return [Case(lambda x: tf.image.adjust_jpeg_quality(x, 100), [flat], lambda x: x, grad=False,
                 name="adjust_jpeg_quality_flat")]


def ref_soft_nms(boxes, scores, k, iou_t, score_t, sigma):
    """Soft-NMS by its definition: take the best remaining box, decay the rest by exp(-iou^2 / (2 sigma))."""
    def iou(a, b):
        ya, yb = sorted([a[0], a[2]]), sorted([b[0], b[2]])
        xa, xb = sorted([a[1], a[3]]), sorted([b[1], b[3]])
        aa, ab = (ya[1] - ya[0]) * (xa[1] - xa[0]), (yb[1] - yb[0]) * (xb[1] - xb[0])
        inter = max(0, min(ya[1], yb[1]) - max(ya[0], yb[0])) * max(0, min(xa[1], xb[1]) - max(xa[0], xb[0]))
        return 0.0 if aa <= 0 or ab <= 0 else inter / (aa + ab - inter)
    cur = {i: float(s) for i, s in enumerate(scores) if s > score_t}
    keep, kept = [], []
    while cur and len(keep) < k:
        i = min(cur, key=lambda j: (-cur[j], j))
        keep.append(i)
        kept.append(cur.pop(i))
        for j in list(cur):
            o = iou(boxes[i], boxes[j])
            cur[j] = cur[j] * np.exp(-0.5 / sigma * o * o) if (sigma > 0 and o <= iou_t) else (
                cur[j] if o <= iou_t else 0.0)
            if cur[j] <= score_t:
                del cur[j]
    return np.asarray(keep, np.int32), np.asarray(kept, np.float32)


@samples("NonMaxSuppressionV4")
def _nms_v4():
    def ref(b, s, pad):
        idx = ref_nms(b.astype(np.float32), s.astype(np.float32), 8, 0.3, 0.3)
        valid = np.int32(len(idx))
        return [np.concatenate([idx, np.zeros(8 - len(idx), np.int32)]) if pad else idx, valid]
    def case(pad):
        return Case(lambda b, s: list(tf.image.non_max_suppression_padded(b, s, 8, 0.3, 0.3,
                                                                          pad_to_max_output_size=pad)),
                    [_NB, _NS], lambda b, s: ref(b, s, pad), dtypes=(_dt.float32,), grad=False, name=f"pad_{pad}")
    return [case(False), case(True)]


@samples("NonMaxSuppressionV5")
def _nms_v5():
    def case(sigma):
        return Case(lambda b, s: list(tf.image.non_max_suppression_with_scores(b, s, 10, 0.7, 0.05,
                                                                               soft_nms_sigma=sigma)),
                    [_NB, _NS], lambda b, s: list(ref_soft_nms(b.astype(np.float32), s.astype(np.float32), 10, 0.7,
                                                               0.05, sigma)),
                    dtypes=(_dt.float32,), grad=False, rtol=1e-5, name=f"sigma_{sigma}")
    return [case(0.0), case(0.5)]


@samples("NonMaxSuppressionWithOverlaps")
def _nms_overlaps():
    ov = R.rand(12, 12)
    sc = R.rand(12)

    def ref(o, s):
        cur = [i for i in np.argsort(-s, kind="stable") if s[i] > 0.1]
        keep = []
        for i in cur:
            if len(keep) < 6 and all(o[i, j] <= 0.5 for j in keep):
                keep.append(int(i))
        return np.asarray(keep, np.int32)
    return [Case(lambda o, s: tf.image.non_max_suppression_overlaps(o, s, 6, 0.5, 0.1), [ov, sc], ref,
                 dtypes=(_dt.float32,), grad=False)]


@samples("CombinedNonMaxSuppression")
def _combined_nms():
    boxes = R.rand(2, 10, 1, 4)
    boxes[..., 2:] = boxes[..., :2] + boxes[..., 2:] * 0.6  # some corners past 1: clipped in the output
    scores = R.rand(2, 10, 3)

    def ref(b, s, per_class=3, total=5, clip=True):
        b, s = b.astype(np.float32), s.astype(np.float32)
        out = [np.zeros((2, total, 4), np.float32), np.zeros((2, total), np.float32), np.zeros((2, total), np.float32),
               np.zeros(2, np.int32)]
        for i in range(2):
            found = []
            for c in range(3):
                keep = ref_nms(b[i, :, 0], s[i, :, c], per_class, 0.5, 0.2)
                found += [(-float(s[i, k, c]), c, r, k) for r, k in enumerate(keep)]
            found = sorted(found)[:total]
            out[3][i] = len(found)
            for j, (neg, c, _, k) in enumerate(found):
                out[0][i, j] = np.clip(b[i, k, 0], 0, 1) if clip else b[i, k, 0]
                out[1][i, j], out[2][i, j] = -neg, c
        return out

    def build(b, s, clip=True):
        return list(tf.image.combined_non_max_suppression(b, s, 3, 5, 0.5, 0.2, clip_boxes=clip))
    return [Case(build, [boxes, scores], ref, dtypes=(_dt.float32,), grad=False, name="shared_boxes"),
            Case(lambda b, s: build(b, s, False), [boxes, scores], lambda b, s: ref(b, s, clip=False),
                 dtypes=(_dt.float32,), grad=False, name="no_clip")]


@samples("ExtractGlimpse")
def _extract_glimpse():
    # windows inside the image: no noise, so the result is a plain slice at the offset-defined origin
    offsets = np.array([[0.0, 0.0], [0.3, -0.4]], np.float32)

    def ref(x):
        out = []
        for img, (oy, ox) in zip(x, offsets):
            y0 = int(np.floor((oy * 10 / 2 + 5) - 2))
            x0 = int(np.floor((ox * 12 / 2 + 6) - 2.5))
            out.append(img[y0:y0 + 4, x0:x0 + 5])
        return np.stack(out).astype(np.float32)
    return [Case(lambda x: tf.image.extract_glimpse(x, [4, 5], offsets), [R.rand(2, 10, 12, 3)], ref,
                 dtypes=(_dt.float32,), grad=False, name="inside")]
