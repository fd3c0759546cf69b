"""Sweep samples for the tf.image ops: resizing (and gradients), CropAndResize (and gradients), colour ops,
codecs, non-max suppression, box drawing and box sampling.

References are plain per-pixel NumPy loops written from TF's kernel formulas (and Python's colorsys for HSV),
independent of the kernels' separable-matrix and vectorised code. Resize and crop outputs are float32 whatever
the input, so their float64 gradient check cannot resolve them: their gradient ops are checked instead against
the adjoint of the reference (and CropAndResizeGradBoxes against central differences of it).
"""

from __future__ import annotations

import colorsys
import io

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(23)
F3 = (_dt.float16, _dt.float32, _dt.float64)


# -- reference resize taps: per output index, the (input index, weight) pairs along one axis --------------------
def _scale(n_in, n_out, align):
    if align and n_out > 1:
        return np.float32(n_in - 1) / np.float32(n_out - 1)
    return np.float32(n_in) / np.float32(n_out)


def taps_bilinear(n_in, n_out, align=False, half=False):
    s, out = _scale(n_in, n_out, align), []
    for o in range(n_out):
        p = (np.float32(o) + np.float32(0.5)) * s - np.float32(0.5) if half else np.float32(o) * s
        lo = int(np.floor(p))
        lerp = float(p - np.floor(p))
        out.append([(min(max(lo, 0), n_in - 1), 1 - lerp), (min(int(np.ceil(p)), n_in - 1), lerp)])
    return out


def taps_nearest(n_in, n_out, align=False, half=False):
    s, out = _scale(n_in, n_out, align), []
    for o in range(n_out):
        p = (np.float32(o) + np.float32(0.5)) * s if half else np.float32(o) * s
        i = int(np.floor(p + np.float32(0.5))) if align else int(np.floor(p))
        out.append([(max(min(i, n_in - 1), 0), 1.0)])
    return out


def taps_bicubic(n_in, n_out, align=False, half=False):
    s, a, out = _scale(n_in, n_out, align), (-0.5 if half else -0.75), []

    def k(t):
        t = abs(t)
        return ((a + 2) * t - (a + 3)) * t * t + 1 if t <= 1 else ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    for o in range(n_out):
        p = (np.float32(o) + np.float32(0.5)) * s - np.float32(0.5) if half else np.float32(o) * s
        base = int(np.floor(p))
        d = round(float(p - base) * 1024) / 1024  # TF's 1024-entry coefficient table
        row = []
        for j in (-1, 0, 1, 2):
            idx = base + j
            w = k(d - j)
            if half and not 0 <= idx < n_in:
                w = 0.0
            row.append((min(max(idx, 0), n_in - 1), w))
        if half:
            total = sum(w for _, w in row)
            row = [(i, w / total) for i, w in row]
        out.append(row)
    return out


def taps_area(n_in, n_out, align=False, half=False):
    s, out = _scale(n_in, n_out, align), []
    for o in range(n_out):
        a, b = np.float32(o) * s, np.float32(o + 1) * s
        row = [(min(n_in - 1, max(0, i)), float(min(np.float32(i + 1), b) - max(np.float32(i), a)) / float(s))
               for i in range(int(np.floor(a)), int(np.ceil(b)))]
        out.append(row)
    return out


def _taps_kw(kw):
    return {"align": kw.get("align_corners", False), "half": kw.get("half_pixel_centers", False)}


def ref_resize(x, size, taps, **kw):
    kw = _taps_kw(kw)
    x = np.asarray(x, np.float64)
    ty, tx = taps(x.shape[1], size[0], **kw), taps(x.shape[2], size[1], **kw)
    out = np.zeros((x.shape[0], size[0], size[1], x.shape[3]))
    for i, row in enumerate(ty):
        for j, col in enumerate(tx):
            for yi, wy in row:
                for xi, wx in col:
                    out[:, i, j] += wy * wx * x[:, yi, xi]
    return out


def ref_resize_adjoint(g, in_hw, taps, **kw):
    kw = _taps_kw(kw)
    g = np.asarray(g, np.float64)
    ty, tx = taps(in_hw[0], g.shape[1], **kw), taps(in_hw[1], g.shape[2], **kw)
    out = np.zeros((g.shape[0], in_hw[0], in_hw[1], g.shape[3]))
    for i, row in enumerate(ty):
        for j, col in enumerate(tx):
            for yi, wy in row:
                for xi, wx in col:
                    out[:, yi, xi] += wy * wx * g[:, i, j]
    return out


def _resize_case(fn, taps, size, shape, name, **kw):
    def build(x):
        return fn(x, size, **kw)

    def ref(x):
        return ref_resize(x, size, taps, **kw).astype(np.float32)
    return Case(build, [R.rand(*shape) * 4], ref, dtypes=F3, grad=False, name=name, rtol=1e-4, atol=1e-4)


def _resize_cases(fn, taps, half_pixel=True):
    cases = [_resize_case(fn, taps, [3, 4], (2, 5, 7, 2), "down"),
             _resize_case(fn, taps, [8, 11], (1, 5, 7, 3), "up"),
             _resize_case(fn, taps, [6, 6], (1, 4, 3, 1), "align_corners", align_corners=True)]
    if half_pixel:
        cases.append(_resize_case(fn, taps, [7, 3], (2, 4, 5, 1), "half_pixel", half_pixel_centers=True))
    return cases


@samples("ResizeBilinear")
def _resize_bilinear():
    u8 = (R.rand(1, 3, 4, 2) * 255).astype(np.uint8)
    return _resize_cases(tf.image.resize_bilinear, taps_bilinear) + [
        Case(lambda x: tf.image.resize_bilinear(x, [5, 5]), [u8],
             lambda x: ref_resize(x, [5, 5], taps_bilinear).astype(np.float32), rtol=1e-4, atol=1e-3, grad=False,
             name="uint8")]


@samples("ResizeNearestNeighbor")
def _resize_nearest():
    cases = _resize_cases(tf.image.resize_nearest_neighbor, taps_nearest)
    for c in cases:
        c.ref = (lambda r: lambda x: r(x).astype(x.dtype))(c.ref)
    i32 = R.randint(-9, 9, (1, 3, 5, 2)).astype(np.int32)
    cases.append(Case(lambda x: tf.image.resize_nearest_neighbor(x, [7, 2]), [i32],
                      lambda x: ref_resize(x, [7, 2], taps_nearest).astype(np.int32), grad=False, name="int32"))
    return cases


@samples("ResizeBicubic")
def _resize_bicubic():
    return _resize_cases(tf.image.resize_bicubic, taps_bicubic)


@samples("ResizeArea")
def _resize_area():
    return _resize_cases(tf.image.resize_area, taps_area, half_pixel=False)


def _grad_case(fn, taps, size, shape, name, dtypes=F3, **kw):
    def build(g, x):
        return tf.gradients(fn(x, size, **kw), x, grad_ys=g)[0]

    def ref(g, x):
        return ref_resize_adjoint(g, x.shape[1:3], taps, **kw).astype(x.dtype)
    g = R.randn(shape[0], size[0], size[1], shape[3])
    return Case(build, [g.astype(np.float32), R.rand(*shape)], ref, dtypes=dtypes, grad=False, name=name,
                rtol=1e-4, atol=1e-4)


def _float32_grads(case):
    # the incoming gradient of a float32-output resize is float32 whatever the swept dtype
    inner = case.build
    case.build = lambda g, x: inner(tf.cast(g, tf.float32), x)
    return case


@samples("ResizeBilinearGrad")
def _resize_bilinear_grad():
    return [_float32_grads(_grad_case(tf.image.resize_bilinear, taps_bilinear, [3, 4], (2, 5, 7, 2), "down")),
            _float32_grads(_grad_case(tf.image.resize_bilinear, taps_bilinear, [9, 8], (1, 4, 3, 1), "up_align",
                                      align_corners=True)),
            _float32_grads(_grad_case(tf.image.resize_bilinear, taps_bilinear, [6, 5], (1, 3, 4, 2), "half_pixel",
                                      half_pixel_centers=True))]


@samples("ResizeNearestNeighborGrad")
def _resize_nearest_grad():
    return [_grad_case(tf.image.resize_nearest_neighbor, taps_nearest, [3, 4], (2, 5, 7, 2), "down"),
            _grad_case(tf.image.resize_nearest_neighbor, taps_nearest, [9, 8], (1, 4, 3, 1), "up_align",
                       align_corners=True)]


@samples("ResizeBicubicGrad")
def _resize_bicubic_grad():
    return [_float32_grads(_grad_case(tf.image.resize_bicubic, taps_bicubic, [3, 4], (2, 5, 7, 2), "down",
                                      dtypes=(_dt.float32, _dt.float64))),
            _float32_grads(_grad_case(tf.image.resize_bicubic, taps_bicubic, [8, 9], (1, 4, 5, 1), "up_half",
                                      dtypes=(_dt.float32, _dt.float64), half_pixel_centers=True))]


# -- CropAndResize ---------------------------------------------------------------------------------------------
_BOXES = np.array([[0.1, 0.2, 0.8, 0.9], [0.9, 0.1, 0.2, 0.7], [-0.2, -0.1, 1.3, 0.5], [0.3, 0.3, 0.35, 0.6]])
_BIND = np.array([0, 1, 1, 0], np.int32)


def _sample_pos(lo, hi, i, n, size, f=np.float32):
    # float32 arithmetic in TF's order: a sample that lands on x.5 must round the way TF's does
    if n > 1:
        return float(lo * f(size - 1) + f(i) * ((hi - lo) * f(size - 1) / f(n - 1)))
    return float(f(0.5) * (lo + hi) * f(size - 1))


def ref_crop_and_resize(img, boxes, bind, crop, method="bilinear", extrapolation=0.0, f=np.float32):
    img = np.asarray(img, np.float64)
    n, (ch, cw), (h, w) = len(boxes), crop, img.shape[1:3]
    out = np.zeros((n, ch, cw, img.shape[3]))
    for b in range(n):
        y1, x1, y2, x2 = (f(v) for v in boxes[b])
        for i in range(ch):
            py = _sample_pos(y1, y2, i, ch, h, f)
            for j in range(cw):
                px = _sample_pos(x1, x2, j, cw, w, f)
                if not (0 <= py <= h - 1 and 0 <= px <= w - 1):
                    out[b, i, j] = extrapolation
                    continue
                im = img[bind[b]]
                if method == "nearest":
                    out[b, i, j] = im[int(np.floor(py + 0.5)), int(np.floor(px + 0.5))]
                    continue
                t, lft = int(np.floor(py)), int(np.floor(px))
                bo, rt = int(np.ceil(py)), int(np.ceil(px))
                ly, lx = py - t, px - lft
                top = im[t, lft] + (im[t, rt] - im[t, lft]) * lx
                bot = im[bo, lft] + (im[bo, rt] - im[bo, lft]) * lx
                out[b, i, j] = top + (bot - top) * ly
    return out


def _crop_build(method="bilinear", extrapolation=0.0, crop=(3, 4)):
    return lambda x, b: tf.image.crop_and_resize(x, tf.cast(b, tf.float32), _BIND, list(crop), method=method,
                                                 extrapolation_value=extrapolation)


@samples("CropAndResize")
def _crop_and_resize():
    img = R.rand(2, 5, 6, 2) * 3
    cases = []
    for method, extra, crop in (("bilinear", 0.0, (3, 4)), ("nearest", -1.0, (4, 3)), ("bilinear", 0.5, (1, 1))):
        cases.append(Case(_crop_build(method, extra, crop), [img, _BOXES],
                          (lambda m, e, c: lambda x, b: ref_crop_and_resize(x, b, _BIND, c, m, e).astype(np.float32))(
                              method, extra, crop), dtypes=F3, grad=False, rtol=1e-4, atol=1e-4,
                          name=f"{method}_{crop[0]}x{crop[1]}"))
    u8 = (img * 80).astype(np.uint8)
    cases.append(Case(lambda x: tf.image.crop_and_resize(x, _BOXES.astype(np.float32), _BIND, [2, 3]), [u8],
                      lambda x: ref_crop_and_resize(x, _BOXES, _BIND, (2, 3)).astype(np.float32), rtol=1e-4,
                      atol=1e-3, grad=False, name="uint8"))
    return cases


@samples("CropAndResizeGradImage")
def _crop_and_resize_grad_image():
    def build(g, x):
        out = tf.image.crop_and_resize(x, _BOXES.astype(np.float32), _BIND, [3, 4])
        return tf.gradients(out, x, grad_ys=tf.cast(g, tf.float32))[0]

    def ref(g, x):
        # the crop is linear in the image: its adjoint, column by column of the reference
        basis = np.eye(x.size).reshape((x.size,) + x.shape)
        cols = [np.sum(ref_crop_and_resize(e, _BOXES, _BIND, (3, 4)) * g) for e in basis]
        return np.asarray(cols).reshape(x.shape).astype(x.dtype)
    return [Case(build, [R.randn(4, 3, 4, 2), R.rand(2, 4, 5, 2)], ref, dtypes=F3, grad=False, rtol=1e-4, atol=1e-4)]


@samples("CropAndResizeGradBoxes")
def _crop_and_resize_grad_boxes():
    img = R.rand(2, 5, 6, 2) * 3
    boxes = np.array([[0.12, 0.21, 0.83, 0.9], [0.9, 0.13, 0.22, 0.71]])
    bind = np.array([0, 1], np.int32)

    def build(g, b):
        bx = tf.cast(b, tf.float32)
        out = tf.image.crop_and_resize(img, bx, bind, [3, 4])
        return tf.gradients(out, bx, grad_ys=tf.cast(g, tf.float32))[0]

    def ref(g, b):
        # central differences of the float64 reference (the sampling is smooth away from pixel boundaries)
        eps, out = 1e-6, np.zeros(b.shape)
        for idx in np.ndindex(*b.shape):
            d = np.zeros(b.shape)
            d[idx] = eps
            hi = ref_crop_and_resize(img, b.astype(np.float32).astype(np.float64) + d, bind, (3, 4), f=np.float64)
            lo = ref_crop_and_resize(img, b.astype(np.float32).astype(np.float64) - d, bind, (3, 4), f=np.float64)
            out[idx] = np.sum((hi - lo) * g) / (2 * eps)
        return out.astype(np.float32)
    return [Case(build, [R.randn(2, 3, 4, 2), boxes], ref, dtypes=(_dt.float32, _dt.float64), grad=False,
                 rtol=2e-3, atol=2e-3)]


# -- colour ops ----------------------------------------------------------------------------------------------------
def _distinct_rgb(shape):
    # channels well apart: no ties between max/min channels, so hue and saturation are smooth there
    x = R.rand(*shape[:-1], 1) * 0.2 + np.array([0.1, 0.45, 0.8])
    for idx in np.ndindex(*shape[:-1]):
        x[idx] = x[idx][R.permutation(3)]
    return x


def _np_hsv(x):
    flat = [colorsys.rgb_to_hsv(*p) for p in x.reshape(-1, 3).astype(np.float64)]
    return np.asarray(flat).reshape(x.shape).astype(x.dtype)


def _np_rgb(x):
    flat = [colorsys.hsv_to_rgb(*p) for p in x.reshape(-1, 3).astype(np.float64)]
    return np.asarray(flat).reshape(x.shape).astype(x.dtype)


@samples("RGBToHSV")
def _rgb_to_hsv():
    grey = np.array([[0.3, 0.3, 0.3], [0.0, 0.0, 0.0], [1.0, 0.2, 0.2], [0.5, 0.9, 0.5]])
    return [Case(tf.image.rgb_to_hsv, [_distinct_rgb((2, 3, 4, 3))], _np_hsv, dtypes=F3, name="4d", rtol=1e-5),
            Case(tf.image.rgb_to_hsv, [grey], _np_hsv, dtypes=F3, grad=False, name="grey_black_ties")]


@samples("HSVToRGB")
def _hsv_to_rgb():
    hsv = R.rand(3, 4, 3) * 0.998
    return [Case(tf.image.hsv_to_rgb, [hsv], _np_rgb, dtypes=F3, grad=False, name="3d", rtol=1e-5)]


def _np_contrast(x, f):
    m = x.astype(np.float64).mean(axis=(-3, -2), keepdims=True)
    return ((x - m) * f + m).astype(x.dtype)


def _np_adjust_hsv(x, fn):
    hsv = _np_hsv(x.astype(np.float64))
    return _np_rgb(fn(hsv)).astype(x.dtype)


_HALF_FLOAT = (_dt.float16, _dt.float32)


@samples("AdjustContrastv2")
def _adjust_contrast():
    return [Case(lambda x: tf.image.adjust_contrast(x, 1.8), [R.rand(2, 3, 4, 3)], lambda x: _np_contrast(x, 1.8),
                 dtypes=_HALF_FLOAT, grad=False, name="4d", rtol=1e-5),
            Case(lambda x: tf.image.adjust_contrast(x, 0.4), [R.rand(4, 5, 2)], lambda x: _np_contrast(x, 0.4),
                 dtypes=_HALF_FLOAT, grad=False, name="3d_two_channels")]


def _scale_sat(f):
    def fn(hsv):
        hsv = hsv.copy()
        hsv[..., 1] = np.clip(hsv[..., 1] * f, 0, 1)
        return hsv
    return fn


def _shift_hue(d):
    def fn(hsv):
        hsv = hsv.copy()
        hsv[..., 0] = np.mod(hsv[..., 0] + d, 1.0)
        return hsv
    return fn


@samples("AdjustSaturation")
def _adjust_saturation():
    x = _distinct_rgb((2, 3, 3))

    def case(f):
        return Case(lambda t: tf.image.adjust_saturation(t, f), [x], lambda t: _np_adjust_hsv(t, _scale_sat(f)),
                    dtypes=_HALF_FLOAT, grad=False, name=f"factor_{f}", rtol=1e-5, atol=1e-5)
    return [case(0.3), case(2.5)]


@samples("AdjustHue")
def _adjust_hue():
    x = _distinct_rgb((2, 3, 3))

    def case(d):
        return Case(lambda t: tf.image.adjust_hue(t, d), [x], lambda t: _np_adjust_hsv(t, _shift_hue(d)),
                    dtypes=_HALF_FLOAT, grad=False, name=f"delta_{d}", rtol=1e-5, atol=1e-5)
    return [case(0.25), case(-0.7)]


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
