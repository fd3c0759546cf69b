"""Sweep samples for the tf.image ops: resizing (and gradients), CropAndResize (and gradients) and colour ops
(codecs, non-max suppression and boxes are in image_codec_boxes.py).

References are plain per-pixel NumPy loops written from TF's kernel formulas (and Python's colorsys for HSV),
independent of the kernels' separable-matrix and vectorised code. Resize and crop outputs are float32 whatever
the input, so their float64 gradient check cannot resolve them: their gradient ops are checked instead against
the adjoint of the reference (and CropAndResizeGradBoxes against central differences of it).
"""

from __future__ import annotations

import colorsys

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
