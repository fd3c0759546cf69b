"""tf.image behaviour, part two: pixel-value adjustments, image metrics, boxes and 16-bit PNGs (static shapes,
dtype handling and error cases; pipelines, codecs, geometry and resizing are in test_image_ops.py).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from image_util import jpeg as _jpeg
from image_util import png as _png
from image_util import run as _run

import labflow as tf

RNG = np.random.RandomState(11)


# -- pixel values ---------------------------------------------------------------------------------------------------
def test_adjustments_on_uint8_saturate_and_keep_dtype():
    x = np.array([[[10, 128, 250]]], np.uint8)
    with tf.Graph().as_default():
        outs = [tf.image.adjust_brightness(x, 0.1), tf.image.adjust_contrast(x, 2.0), tf.image.adjust_gamma(x, 2.0),
                tf.image.adjust_saturation(x, 0.0), tf.image.adjust_hue(x, 0.5)]
        assert all(o.dtype == tf.uint8 for o in outs)
        got = _run(outs)
    np.testing.assert_array_equal(got[0], [[[35, 153, 255]]])
    np.testing.assert_array_equal(got[1], x)  # one pixel: every channel is its own mean
    np.testing.assert_allclose(got[2].astype(int), (x / 255.0) ** 2 * 255, atol=1)
    assert len(set(got[3].ravel())) == 1  # no saturation: grey at the pixel's value (max channel)
    np.testing.assert_allclose(got[4].astype(int), [[[250, 132, 10]]], atol=1)


def test_colour_errors():
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="3"):
            tf.image.adjust_saturation(tf.zeros([2, 2, 4]), 0.5)
        with pytest.raises(ValueError, match="delta must be in the interval"):
            tf.image.adjust_hue(tf.zeros([2, 2, 3]), 1.5)
        with pytest.raises(ValueError, match="upper must be > lower"):
            tf.image.random_contrast(tf.zeros([2, 2, 3]), 1.0, 0.5)
        with pytest.raises(ValueError, match="max_delta must be <= 0.5"):
            tf.image.random_hue(tf.zeros([2, 2, 3]), 0.7)
        with pytest.raises(ValueError, match="max_delta must be non-negative"):
            tf.image.random_brightness(tf.zeros([2, 2, 3]), -1)
        with pytest.raises(ValueError, match="Gamma should be a non-negative"):
            tf.image.adjust_gamma(tf.zeros([2, 2, 3]), -1.0)
        hsv = tf.image.rgb_to_hsv(tf.placeholder(tf.float32, [None, None]))
        with pytest.raises(tf.errors.InvalidArgumentError, match="3 channels"):
            _run(hsv, {hsv.op.inputs[0]: np.zeros((2, 4), np.float32)})


def test_per_image_standardization_batch_and_constant_image():
    x = RNG.rand(3, 4, 5, 2).astype(np.float32) * 100
    with tf.Graph().as_default():
        out, flat = _run([tf.image.per_image_standardization(x),
                          tf.image.per_image_standardization(np.full((2, 2, 1), 7, np.uint8))])
    for i in range(3):
        want = (x[i] - x[i].mean()) / max(x[i].std(), 1 / np.sqrt(x[i].size))
        np.testing.assert_allclose(out[i], want, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(flat, 0)


def test_grayscale_round_trip_and_shapes():
    x = RNG.rand(2, 3, 4, 3).astype(np.float32)
    with tf.Graph().as_default():
        gray = tf.image.rgb_to_grayscale(x)
        rgb = tf.image.grayscale_to_rgb(gray)
        assert gray.get_shape().as_list() == [2, 3, 4, 1] and rgb.get_shape().as_list() == [2, 3, 4, 3]
        g, r = _run([gray, rgb])
        with pytest.raises(ValueError, match="size 1"):
            tf.image.grayscale_to_rgb(x)
    np.testing.assert_allclose(g[..., 0], x @ np.array([0.2989, 0.587, 0.114]), rtol=1e-5)
    np.testing.assert_array_equal(r, np.repeat(g, 3, axis=-1))


def test_yiq_yuv_round_trips():
    x = RNG.rand(4, 3).astype(np.float64)
    with tf.Graph().as_default():
        a, b = _run([tf.image.yiq_to_rgb(tf.image.rgb_to_yiq(x)), tf.image.yuv_to_rgb(tf.image.rgb_to_yuv(x))])
    np.testing.assert_allclose(a, x, atol=1e-6)
    np.testing.assert_allclose(b, x, atol=1e-6)


# -- metrics ----------------------------------------------------------------------------------------------------------
def test_total_variation_image_gradients_psnr():
    x = RNG.rand(2, 4, 5, 3).astype(np.float32)
    with tf.Graph().as_default():
        tv = tf.image.total_variation(x)
        dy, dx = tf.image.image_gradients(tf.constant(x))
        p = tf.image.psnr(x, x * 0.5, max_val=1.0)
        sob = tf.image.sobel_edges(tf.constant(x))
        got = _run([tv, dy, dx, p, sob])
    want_tv = np.abs(np.diff(x, axis=1)).sum(axis=(1, 2, 3)) + np.abs(np.diff(x, axis=2)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(got[0], want_tv, rtol=1e-5)
    np.testing.assert_allclose(got[1][:, :-1], np.diff(x, axis=1), rtol=1e-6)
    np.testing.assert_array_equal(got[1][:, -1], 0)
    np.testing.assert_allclose(got[2][:, :, :-1], np.diff(x, axis=2), rtol=1e-6)
    mse = ((x - x * 0.5) ** 2).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(got[3], 10 * np.log10(1 / mse), rtol=1e-5)
    assert got[4].shape == (2, 4, 5, 3, 2)
    with pytest.raises(ValueError, match="4D"):
        tf.image.image_gradients(tf.zeros([3, 3, 1]))


# -- boxes ----------------------------------------------------------------------------------------------------------
def test_non_max_suppression_and_errors():
    boxes = np.array([[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, -0.1, 1, 0.9], [0, 10, 1, 11], [0, 10.1, 1, 11.1],
                      [0, 100, 1, 101]], np.float32)
    scores = np.array([0.9, 0.75, 0.6, 0.95, 0.5, 0.3], np.float32)
    with tf.Graph().as_default():
        sel = tf.image.non_max_suppression(boxes, scores, 3, iou_threshold=0.5)
        thr = tf.image.non_max_suppression(boxes, scores, 10, iou_threshold=0.5, score_threshold=0.4)
        assert sel.get_shape().as_list() == [None] and sel.dtype == tf.int32
        got = _run([sel, thr])
        with pytest.raises(tf.errors.InvalidArgumentError, match="iou_threshold must be in \\[0, 1\\]"):
            _run(tf.image.non_max_suppression(boxes, scores, 3, iou_threshold=1.5))
        with pytest.raises(ValueError, match="rank 1"):
            tf.image.non_max_suppression(boxes, scores[None], 3)
    np.testing.assert_array_equal(got[0], [3, 0, 5])
    np.testing.assert_array_equal(got[1], [3, 0])


def test_sample_distorted_bounding_box_respects_constraints():
    with tf.Graph().as_default():
        begin, size, box = tf.image.sample_distorted_bounding_box(
            [100, 200, 3], [[[0.25, 0.25, 0.75, 0.75]]], min_object_covered=0.5, aspect_ratio_range=[0.5, 2.0],
            area_range=[0.1, 0.6], seed=11)
        assert begin.get_shape().as_list() == [3] and box.get_shape().as_list() == [1, 1, 4]
        with tf.Session() as sess:
            draws = [sess.run([begin, size, box]) for _ in range(40)]
    assert len({tuple(b) for b, _, _ in draws}) > 5  # it does sample
    for b, s, bx in draws:
        y, x, h, w = b[0], b[1], s[0], s[1]
        assert 0 <= y and y + h <= 100 and 0 <= x and x + w <= 200
        assert 0.1 * 20000 <= h * w <= 0.6 * 20000 and 0.5 <= w / h <= 2.0 + 1e-2
        inter = max(0, min(y + h, 75) - max(y, 25)) * max(0, min(x + w, 150) - max(x, 50))
        assert inter / (50 * 100) >= 0.5
        np.testing.assert_allclose(bx[0, 0], [y / 100, x / 200, (y + h) / 100, (x + w) / 200], rtol=1e-6)


def test_sample_distorted_bounding_box_errors():
    with tf.Graph().as_default():
        no_boxes = tf.image.sample_distorted_bounding_box([10, 10, 3], np.zeros((1, 0, 4), np.float32))
        with pytest.raises(tf.errors.InvalidArgumentError, match="use_image_if_no_bounding_boxes"):
            _run(no_boxes)
        bad = tf.image.sample_distorted_bounding_box([10, 10, 3], [[[0.5, 0.5, 1.5, 0.6]]])
        with pytest.raises(tf.errors.InvalidArgumentError, match="must be in \\[0.0, 1.0\\]"):
            _run(bad)
        with pytest.raises(ValueError, match="area_range"):
            tf.image.sample_distorted_bounding_box([10, 10, 3], [[[0, 0, 1, 1]]], area_range=[0.5, 0.1])


def test_draw_bounding_boxes_colors_and_depth_error():
    with tf.Graph().as_default():
        out = _run(tf.image.draw_bounding_boxes(np.zeros((1, 5, 5, 3), np.float32), [[[0.0, 0.0, 1.0, 1.0]]],
                                                colors=[[0.2, 0.4, 0.6, 1.0]]))
        np.testing.assert_allclose(out[0, 0, :], [[0.2, 0.4, 0.6]] * 5, rtol=1e-6)
        np.testing.assert_array_equal(out[0, 1:4, 1:4], 0)
        with pytest.raises(tf.errors.InvalidArgumentError, match="Channel depth"):
            _run(tf.image.draw_bounding_boxes(np.zeros((1, 5, 5, 2), np.float32), [[[0.0, 0.0, 1.0, 1.0]]]))


def _np_ssim(a, b, max_val, size=11, sigma=1.5, k1=0.01, k2=0.03):
    coords = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-0.5 * coords ** 2 / sigma ** 2)
    w = np.outer(g, g) / np.outer(g, g).sum()

    def filt(x):  # VALID correlation over the [h, w] axes of [n, h, w, c]
        h, wd = x.shape[1] - size + 1, x.shape[2] - size + 1
        out = np.zeros((x.shape[0], h, wd, x.shape[3]))
        for i in range(size):
            for j in range(size):
                out += w[i, j] * x[:, i:i + h, j:j + wd]
        return out
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    ma, mb = filt(a), filt(b)
    lum = (2 * ma * mb + c1) / (ma ** 2 + mb ** 2 + c1)
    cs = (2 * (filt(a * b) - ma * mb) + c2) / (filt(a * a + b * b) - ma ** 2 - mb ** 2 + c2)
    return (lum * cs).mean(axis=(1, 2)).mean(axis=-1)


def test_ssim_matches_numpy_and_is_differentiable():
    a = RNG.rand(2, 16, 18, 3).astype(np.float32)
    b = np.clip(a + RNG.randn(*a.shape).astype(np.float32) * 0.1, 0, 1)
    with tf.Graph().as_default():
        x = tf.constant(a)
        s = tf.image.ssim(x, b, max_val=1.0)
        same = tf.image.ssim(x, x, max_val=1.0)
        g = tf.gradients(tf.reduce_sum(s), x)[0]
        assert s.get_shape().as_list() == [2]
        got, one, grad = _run([s, same, g])
        with pytest.raises(ValueError, match="not compatible"):
            tf.image.ssim(x, np.zeros((2, 16, 17, 3), np.float32), 1.0)
        with pytest.raises(ValueError, match="at least filter_size=11"):
            tf.image.ssim(np.zeros((1, 5, 5, 1), np.float32), np.zeros((1, 5, 5, 1), np.float32), 1.0)
        ph = tf.placeholder(tf.float32, [1, None, None, 1])
        with pytest.raises(tf.errors.InvalidArgumentError, match="filter_size=11"):
            _run(tf.image.ssim(ph, ph, 1.0), {ph: np.zeros((1, 5, 12, 1))})
    np.testing.assert_allclose(got, _np_ssim(a.astype(np.float64), b.astype(np.float64), 1.0), rtol=1e-4)
    np.testing.assert_allclose(one, 1.0, rtol=1e-6)
    assert grad.shape == a.shape and np.abs(grad).sum() > 0


def test_ssim_multiscale_of_identical_images_is_one():
    a = RNG.rand(1, 180, 180, 1).astype(np.float32)
    with tf.Graph().as_default():
        same, other = _run([tf.image.ssim_multiscale(a, a, 1.0), tf.image.ssim_multiscale(a, a[:, ::-1], 1.0)])
    np.testing.assert_allclose(same, 1.0, rtol=1e-5)
    assert other[0] < 0.9


def test_jpeg_shape_crop_quality_and_is_jpeg():
    img = RNG.randint(0, 256, (20, 30, 3)).astype(np.uint8)
    data = _jpeg(img, quality=90)
    with tf.Graph().as_default():
        full = tf.image.decode_jpeg(data)
        crop = tf.image.decode_and_crop_jpeg(data, [2, 3, 10, 12])
        shape = tf.image.extract_jpeg_shape(data)
        flags = [tf.image.is_jpeg(data), tf.image.is_jpeg(_png(img))]
        low = tf.image.adjust_jpeg_quality(tf.constant(img), 5)
        high = tf.image.adjust_jpeg_quality(tf.constant(img), 95)
        f, c, s, fl, lo, hi = _run([full, crop, shape, flags, low, high])
        with pytest.raises(tf.errors.InvalidArgumentError, match="crop window"):
            _run(tf.image.decode_and_crop_jpeg(data, [15, 0, 10, 5]))
        with pytest.raises(tf.errors.InvalidArgumentError, match="Could not parse JPEG header"):
            _run(tf.image.extract_jpeg_shape(_png(img)))
        with pytest.raises(ValueError, match="must be less than"):
            tf.image.random_jpeg_quality(img, 50, 50)
    np.testing.assert_array_equal(c, f[2:12, 3:15])
    np.testing.assert_array_equal(s, [20, 30, 3])
    assert list(fl) == [True, False]
    err_lo, err_hi = (np.abs(v.astype(int) - img).mean() for v in (lo, hi))
    assert lo.dtype == np.uint8 and err_hi < err_lo


def test_nms_padded_with_scores_and_overlaps():
    boxes = np.array([[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, 5, 1, 6]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    overlaps = np.array([[1, 0.9, 0], [0.9, 1, 0], [0, 0, 1]], np.float32)
    with tf.Graph().as_default():
        idx, valid = tf.image.non_max_suppression_padded(boxes, scores, 5, 0.5, pad_to_max_output_size=True)
        assert idx.get_shape().as_list() == [5] and valid.get_shape().as_list() == []
        hard = tf.image.non_max_suppression_with_scores(boxes, scores, 3, 0.5)
        soft = tf.image.non_max_suppression_with_scores(boxes, scores, 3, 1.0, soft_nms_sigma=0.5)
        ov = tf.image.non_max_suppression_overlaps(overlaps, scores, 3, 0.5)
        got = _run([idx, valid, list(hard), list(soft), ov])
    np.testing.assert_array_equal(got[0], [0, 2, 0, 0, 0])
    assert got[1] == 2
    np.testing.assert_array_equal(got[2][0], [0, 2])
    iou = 0.9 / 1.1
    np.testing.assert_array_equal(got[3][0], [0, 2, 1])
    np.testing.assert_allclose(got[3][1], [0.9, 0.7, 0.8 * np.exp(-iou ** 2)], rtol=1e-5)
    np.testing.assert_array_equal(got[4], [0, 2])


def test_extract_glimpse_fills_outside_with_noise_in_range():
    x = np.arange(2 * 6 * 6 * 1, dtype=np.float32).reshape(2, 6, 6, 1)
    with tf.Graph().as_default():
        g = tf.image.extract_glimpse(x, [4, 4], [[-1.0, -1.0], [0.0, 0.0]])
        gauss = tf.image.extract_glimpse(x, [4, 4], [[-1.0, -1.0], [0.0, 0.0]], uniform_noise=False)
        px = tf.image.extract_glimpse(x, [2, 3], [[1.0, 2.0], [3.0, 1.5]], centered=False, normalized=False)
        assert g.get_shape().as_list() == [2, 4, 4, 1]
        a, b, p = _run([g, gauss, px])
    # centred at the top-left corner: the window's bottom-right quarter is the image's top-left corner
    np.testing.assert_array_equal(a[0, 2:, 2:], x[0, :2, :2])
    assert 0 <= a[0, :2].min() and a[0, :2].max() <= 35
    np.testing.assert_array_equal(a[1], x[1, 1:5, 1:5])
    np.testing.assert_array_equal(b[0, 2:, 2:], x[0, :2, :2])
    assert 0 <= b[0, :2].min() and b[0, :2].max() <= 35
    np.testing.assert_array_equal(p[0], x[0, 0:2, 0:3])
    np.testing.assert_array_equal(p[1], x[1, 2:4, 0:3])


def test_combined_non_max_suppression_shapes_and_errors():
    boxes = np.array([[[[0, 0, 1, 1]], [[0, 0, 0.9, 1]], [[0.5, 0.5, 1.2, 1.2]]]], np.float32)
    scores = np.array([[[0.9, 0.1], [0.8, 0.7], [0.3, 0.6]]], np.float32)
    with tf.Graph().as_default():
        out = tf.image.combined_non_max_suppression(boxes, scores, 2, 4, iou_threshold=0.5, score_threshold=0.2)
        assert [o.get_shape().as_list() for o in out] == [[1, 4, 4], [1, 4], [1, 4], [1]]
        b, s, c, n = _run(list(out))
        bad = tf.image.combined_non_max_suppression(boxes, scores, 0, 4)
        with pytest.raises(tf.errors.InvalidArgumentError, match="must be > 0"):
            _run(list(bad))
    assert n[0] == 4
    np.testing.assert_allclose(s[0], [0.9, 0.7, 0.6, 0.3])
    np.testing.assert_array_equal(c[0], [0, 1, 1, 0])
    np.testing.assert_allclose(b[0, 2], [0.5, 0.5, 1.0, 1.0])  # clipped to [0, 1]


@pytest.mark.parametrize("build", [
    lambda x: tf.image.flip_left_right(x),
    lambda x: tf.image.rot90(x, 3),
    lambda x: tf.image.central_crop(x, 0.6),
    lambda x: tf.image.resize_image_with_crop_or_pad(x, 3, 8),
    lambda x: tf.image.pad_to_bounding_box(x, 1, 2, 7, 9),
    lambda x: tf.image.total_variation(x),
    lambda x: list(tf.image.image_gradients(x)),
    lambda x: tf.image.sobel_edges(x),
    lambda x: tf.image.rgb_to_yiq(x),
], ids=["flip", "rot90", "central_crop", "crop_or_pad", "pad", "total_variation", "image_gradients", "sobel", "yiq"])
def test_composites_are_differentiable(build):
    from labflow.testing.gradient_check import gradient_check
    # values kept away from zero differences so |.| in total_variation is smooth at the sample
    x = np.cumsum(RNG.rand(2, 5, 6, 3) + 0.1, axis=2) / 10
    gradient_check(build, [x], rtol=1e-4, atol=1e-6)


def test_decode_inside_a_tf_data_pipeline():
    imgs = [RNG.randint(0, 256, (8, 8, 3)).astype(np.uint8) for _ in range(4)]
    with tf.Graph().as_default():
        ds = tf.data.Dataset.from_tensor_slices(np.array([_png(a) for a in imgs], dtype=object))
        ds = ds.map(lambda s: tf.image.convert_image_dtype(tf.image.decode_png(s, channels=3), tf.float32)).batch(2)
        nxt = ds.make_one_shot_iterator().get_next()
        with tf.Session() as sess:
            first = sess.run(nxt)
    np.testing.assert_allclose(first, np.stack(imgs[:2]) / 255.0, rtol=1e-6)


def _rgb16_png(arr):
    # Pillow cannot write 16-bit colour PNGs: build one (IHDR bit depth 16, colour type 2) by hand
    import struct
    import zlib
    h, w, _ = arr.shape
    raw = b"".join(b"\x00" + arr[i].astype(">u2").tobytes() for i in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_sixteen_bit_png_handling():
    from PIL import Image
    gray = (np.arange(12).reshape(3, 4) * 5000).astype(np.uint16)
    buf = io.BytesIO()
    Image.frombytes("I;16", (4, 3), gray.astype("<u2").tobytes()).save(buf, format="PNG")
    rgb = (np.arange(2 * 3 * 3).reshape(2, 3, 3) * 3000).astype(np.uint16)
    with tf.Graph().as_default():
        g16, gf, g8, g3 = _run([tf.image.decode_png(buf.getvalue(), dtype=tf.uint16),
                                tf.image.decode_image(buf.getvalue(), dtype=tf.float32),
                                tf.image.decode_png(buf.getvalue()), tf.image.decode_png(buf.getvalue(), channels=3)])
        high = _run(tf.image.decode_png(_rgb16_png(rgb)))
        with pytest.raises(tf.errors.UnimplementedError, match="16-bit colour PNG"):
            _run(tf.image.decode_png(_rgb16_png(rgb), dtype=tf.uint16))
    np.testing.assert_array_equal(g16[..., 0], gray)
    np.testing.assert_allclose(gf[..., 0], gray / 65535.0, rtol=1e-6)
    np.testing.assert_array_equal(g8[..., 0], gray >> 8)
    np.testing.assert_array_equal(g3, np.repeat(g8, 3, axis=-1))
    np.testing.assert_array_equal(high, rgb >> 8)  # the high byte, as TF's 8-bit decode gives


def test_decode_jpeg_ratio_and_unsupported_options():
    data = _jpeg(RNG.randint(0, 256, (37, 50, 3)).astype(np.uint8))
    with tf.Graph().as_default():
        shapes = _run([tf.shape(tf.image.decode_jpeg(data, ratio=r)) for r in (1, 2, 4, 8)])
        with pytest.raises(tf.errors.UnimplementedError, match="fancy_upscaling"):
            tf.image.decode_jpeg(data, fancy_upscaling=False)
        with pytest.raises(tf.errors.UnimplementedError, match="ratio=1"):
            tf.image.decode_and_crop_jpeg(data, [0, 0, 4, 4], ratio=2)
        with pytest.raises(ValueError, match="ratio must be"):
            tf.image.decode_jpeg(data, ratio=3)
    # libjpeg's scaled sizes round up
    assert [list(s) for s in shapes] == [[37, 50, 3], [19, 25, 3], [10, 13, 3], [5, 7, 3]]
