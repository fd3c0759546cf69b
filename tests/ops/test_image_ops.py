"""tf.image behaviour: TF 1.x input pipelines end to end, static shapes, dtype handling and error cases.

Numerical agreement of every kernel with a NumPy reference is in the op sweep (labflow/testing/samples/image.py).
"""

from __future__ import annotations

import io

import numpy as np
import pytest

import labflow as tf

RNG = np.random.RandomState(7)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def _png(arr):
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _jpeg(arr, **kw):
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", **kw)
    return buf.getvalue()


# -- pipelines -----------------------------------------------------------------------------------------------
def test_cifar10_style_pipeline_from_files(tmp_path):
    img = RNG.randint(0, 256, (32, 32, 3)).astype(np.uint8)
    path = tmp_path / "a.png"
    path.write_bytes(_png(img))
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        raw = tf.image.decode_png(tf.read_file(str(path)), channels=3)
        x = tf.cast(raw, tf.float32)
        x = tf.image.random_crop(x, [24, 24, 3])
        x = tf.image.random_flip_left_right(x)
        x = tf.image.random_brightness(x, max_delta=63)
        x = tf.image.random_contrast(x, lower=0.2, upper=1.8)
        x = tf.image.per_image_standardization(x)
        assert x.get_shape().as_list() == [24, 24, 3]
        decoded, out = _run([raw, x])
    np.testing.assert_array_equal(decoded, img)
    assert out.shape == (24, 24, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out.mean(), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(), 1, rtol=1e-3)


def test_inception_style_distorted_crop():
    img = RNG.randint(0, 256, (40, 60, 3)).astype(np.uint8)
    with tf.Graph().as_default():
        contents = tf.constant(_jpeg(img, quality=95))
        image = tf.image.convert_image_dtype(tf.image.decode_jpeg(contents, channels=3), tf.float32)
        bbox = tf.constant([[[0.1, 0.2, 0.9, 0.8]]])
        begin, size, box = tf.image.sample_distorted_bounding_box(
            tf.shape(image), bounding_boxes=bbox, min_object_covered=0.1, aspect_ratio_range=[0.75, 1.33],
            area_range=[0.05, 1.0], max_attempts=100, use_image_if_no_bounding_boxes=True, seed=3)
        crop = tf.slice(image, begin, size)
        resized = tf.image.resize_images(crop, [29, 29])
        distorted = tf.image.random_flip_left_right(resized)
        distorted = tf.image.random_saturation(tf.image.random_hue(distorted, 0.2), 0.5, 1.5)
        distorted = tf.clip_by_value(distorted, 0.0, 1.0)
        summary = tf.image.draw_bounding_boxes(tf.expand_dims(image, 0), box)
        assert resized.get_shape().as_list() == [29, 29, None]  # tf.slice by a computed size: depth unknown
        b, s, out, drawn = _run([begin, size, distorted, summary])
    assert b[2] == 0 and s[2] == -1 and b[0] + s[0] <= 40 and b[1] + s[1] <= 60
    assert out.shape == (29, 29, 3) and 0 <= out.min() and out.max() <= 1
    assert drawn.shape == (1, 40, 60, 3)


def test_eval_pipeline_central_crop_and_resize():
    img = RNG.rand(10, 8, 3).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.image.central_crop(tf.constant(img), central_fraction=0.875)
        x = tf.image.resize_bilinear(tf.expand_dims(x, 0), [5, 5], align_corners=False)
        out = _run(tf.squeeze(x, [0]))
    assert out.shape == (5, 5, 3)


# -- decode / encode ------------------------------------------------------------------------------------------
def test_decode_image_detects_format_and_converts_dtype():
    img = RNG.randint(0, 256, (4, 5, 3)).astype(np.uint8)
    with tf.Graph().as_default():
        png = tf.image.decode_image(_png(img))
        flt = tf.image.decode_image(_png(img), dtype=tf.float32)
        assert png.get_shape().ndims is None  # like TF: GIFs decode to 4-D
        a, b = _run([png, flt])
    np.testing.assert_array_equal(a, img)
    np.testing.assert_allclose(b, img / 255.0, rtol=1e-6)


def test_decode_static_shapes_follow_channels():
    with tf.Graph().as_default():
        s = tf.placeholder(tf.string, [])
        assert tf.image.decode_jpeg(s, channels=3).get_shape().as_list() == [None, None, 3]
        assert tf.image.decode_png(s).get_shape().as_list() == [None, None, None]
        assert tf.image.decode_gif(s).get_shape().as_list() == [None, None, None, 3]
        assert tf.image.encode_png(tf.zeros([2, 2, 3], tf.uint8)).get_shape().as_list() == []


@pytest.mark.parametrize("fn,name", [(tf.image.decode_jpeg, "DecodeJpeg"), (tf.image.decode_png, "DecodePng"),
                                     (tf.image.decode_bmp, "DecodeBmp"), (tf.image.decode_image, "DecodeImage")])
def test_corrupt_input_is_invalid_argument_naming_the_op(fn, name):
    with tf.Graph().as_default():
        out = fn(tf.constant(b"definitely not an image"))
        with pytest.raises(tf.errors.InvalidArgumentError, match=name):
            _run(out)


def test_truncated_jpeg_is_invalid_argument():
    data = _jpeg(RNG.randint(0, 256, (16, 16, 3)).astype(np.uint8))
    with tf.Graph().as_default():
        with pytest.raises(tf.errors.InvalidArgumentError, match="DecodeJpeg: Invalid JPEG data"):
            _run(tf.image.decode_jpeg(data[:60]))


def test_encode_errors():
    with tf.Graph().as_default():
        with pytest.raises(tf.errors.InvalidArgumentError, match="1 or 3 channels"):
            _run(tf.image.encode_jpeg(tf.zeros([2, 2, 2], tf.uint8)))
        with pytest.raises(tf.errors.InvalidArgumentError, match="1, 2, 3 or 4 channels"):
            _run(tf.image.encode_png(tf.zeros([2, 2, 5], tf.uint8)))
        with pytest.raises(TypeError, match="EncodeJpeg"):
            tf.image.encode_jpeg(tf.zeros([2, 2, 3], tf.float32))
        with pytest.raises(ValueError, match="channels"):
            tf.image.decode_jpeg(b"", channels=2)


def test_codecs_run_on_cpu_only():
    from labflow.framework import registry
    for t in ("DecodeJpeg", "DecodePng", "DecodeGif", "DecodeBmp", "DecodeImage", "EncodeJpeg", "EncodePng"):
        assert registry.get(t).kernel_devices() == ["CPU"]


# -- convert_image_dtype --------------------------------------------------------------------------------------------
def test_convert_image_dtype_scaling_and_saturation():
    u8 = np.array([0, 1, 127, 255], np.uint8)
    with tf.Graph().as_default():
        f = tf.image.convert_image_dtype(u8, tf.float32)
        back = tf.image.convert_image_dtype(tf.constant([-0.5, 0.0, 0.5, 1.0, 1.5]), tf.uint8, saturate=True)
        widened = tf.image.convert_image_dtype(u8, tf.int16)
        narrowed = tf.image.convert_image_dtype(tf.constant([0, 256, 32767], tf.int16), tf.uint8)
        big = tf.image.convert_image_dtype(tf.constant([2.0, -1.0]), tf.int32, saturate=True)
        same = tf.image.convert_image_dtype(u8, tf.uint8)
        assert same.op.type == "Identity"
        got = _run([f, back, widened, narrowed, big])
    np.testing.assert_allclose(got[0], u8 / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(got[1], [0, 0, 127, 255, 255])
    np.testing.assert_array_equal(got[2], u8.astype(np.int16) * 128)
    np.testing.assert_array_equal(got[3], [0, 2, 255])  # floordiv by 32768 // 256
    np.testing.assert_array_equal(got[4], [2147483520, -2147483648])
    with pytest.raises(AttributeError, match="floating point or integer"):
        tf.image.convert_image_dtype(u8, tf.bool)


# -- geometry -------------------------------------------------------------------------------------------------------
def test_flips_rot90_transpose_match_numpy_for_3d_and_4d():
    x = RNG.rand(2, 3, 4, 2).astype(np.float32)
    with tf.Graph().as_default():
        k = tf.placeholder(tf.int32, [])
        outs = [tf.image.flip_left_right(x), tf.image.flip_up_down(x[0]), tf.image.transpose_image(x),
                tf.image.rot90(x, 1), tf.image.rot90(x[1], 2), tf.image.rot90(x, k)]
        assert outs[3].get_shape().as_list() == [2, 4, 3, 2]
        assert outs[5].get_shape().as_list() == [2, None, None, 2]
        got = _run(outs, {k: 3})
    np.testing.assert_array_equal(got[0], x[:, :, ::-1])
    np.testing.assert_array_equal(got[1], x[0, ::-1])
    np.testing.assert_array_equal(got[2], x.transpose(0, 2, 1, 3))
    np.testing.assert_array_equal(got[3], np.rot90(x, 1, axes=(1, 2)))
    np.testing.assert_array_equal(got[4], np.rot90(x[1], 2))
    np.testing.assert_array_equal(got[5], np.rot90(x, 3, axes=(1, 2)))


def test_random_flip_of_a_batch_flips_images_independently():
    x = np.arange(64 * 2 * 3, dtype=np.float32).reshape(64, 1, 2, 3)
    with tf.Graph().as_default():
        out = _run(tf.image.random_flip_left_right(x, seed=5))
    flipped = [np.array_equal(out[i], x[i, :, ::-1]) for i in range(64)]
    kept = [np.array_equal(out[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept))
    assert 10 < sum(flipped) < 54


def test_crop_pad_and_crop_or_pad():
    x = RNG.rand(5, 6, 2).astype(np.float32)
    with tf.Graph().as_default():
        crop = tf.image.crop_to_bounding_box(x, 1, 2, 3, 4)
        pad = tf.image.pad_to_bounding_box(x, 2, 1, 8, 9)
        cp = tf.image.resize_image_with_crop_or_pad(x, 3, 10)
        got = _run([crop, pad, cp])
    np.testing.assert_array_equal(got[0], x[1:4, 2:6])
    want = np.zeros((8, 9, 2), np.float32)
    want[2:7, 1:7] = x
    np.testing.assert_array_equal(got[1], want)
    want = np.zeros((3, 10, 2), np.float32)
    want[:, 2:8] = x[1:4]
    np.testing.assert_array_equal(got[2], want)


def test_crop_and_pad_static_errors_and_dynamic_asserts():
    x = np.zeros((5, 6, 1), np.float32)
    with tf.Graph().as_default():
        with pytest.raises(ValueError, match="width must be >= target \\+ offset"):
            tf.image.crop_to_bounding_box(x, 0, 3, 2, 4)
        with pytest.raises(ValueError, match="offset_height must be >= 0"):
            tf.image.pad_to_bounding_box(x, -1, 0, 8, 8)
        with pytest.raises(ValueError, match="3 or 4 dimensions"):
            tf.image.crop_to_bounding_box(np.zeros((2, 2)), 0, 0, 1, 1)
        off = tf.placeholder(tf.int32, [])
        crop = tf.image.crop_to_bounding_box(x, off, 0, 2, 2)
        assert crop.get_shape().as_list() == [2, 2, 1]
        with pytest.raises(tf.errors.InvalidArgumentError, match="height must be >= target \\+ offset"):
            _run(crop, {off: 4})


def test_central_crop_shapes_and_errors():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [2, 10, 20, 3])
        # TF's arithmetic: start int((10 - 10 * 0.5) / 2) = 2, size 10 - 2 * 2 = 6
        assert tf.image.central_crop(x, 0.5).get_shape().as_list() == [2, 6, 10, 3]
        y = tf.placeholder(tf.float32, [None, None, 3])
        out = tf.image.central_crop(y, 0.5)
        assert out.get_shape().as_list() == [None, None, 3]
        assert _run(out, {y: np.zeros((10, 7, 3))}).shape == (6, 5, 3)
        with pytest.raises(ValueError, match="central_fraction must be within"):
            tf.image.central_crop(x, 1.5)
        assert tf.image.central_crop(x, 1.0) is x


def test_random_crop_shape_and_error():
    x = np.arange(5 * 6, dtype=np.float32).reshape(5, 6)
    with tf.Graph().as_default():
        c = tf.image.random_crop(x, [2, 3], seed=1)
        assert c.get_shape().as_list() == [2, 3]
        got = _run(c)
        r, q = divmod(int(got[0, 0]), 6)
        np.testing.assert_array_equal(got, x[r:r + 2, q:q + 3])
        with pytest.raises(tf.errors.InvalidArgumentError, match="Need value.shape >= size"):
            _run(tf.image.random_crop(x, [6, 2]))


# -- resize ----------------------------------------------------------------------------------------------------------
def test_resize_images_dtype_shape_and_methods():
    x = RNG.randint(0, 255, (4, 6, 3)).astype(np.uint8)
    with tf.Graph().as_default():
        bil = tf.image.resize_images(x, [8, 12])
        nn = tf.image.resize_images(x, [8, 12], method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)
        same = tf.image.resize_images(x, [4, 6])
        keep = tf.image.resize_images(tf.placeholder(tf.float32, [2, 10, 20, 3]), [5, 5], preserve_aspect_ratio=True)
        area = tf.image.resize(tf.constant(x[None]), [2, 3], method=tf.image.ResizeMethod.AREA)
        assert (bil.dtype, nn.dtype, same.dtype) == (tf.float32, tf.uint8, tf.uint8)
        assert bil.get_shape().as_list() == [8, 12, 3] and same.get_shape().as_list() == [4, 6, 3]
        assert keep.get_shape().as_list() == [2, None, None, 3]
        got = _run([nn, area])
    np.testing.assert_array_equal(got[0], x.repeat(2, 0).repeat(2, 1))
    np.testing.assert_allclose(got[1][0], x.reshape(2, 2, 3, 2, 3).mean(axis=(1, 3)), rtol=1e-5)
    with pytest.raises(ValueError, match="3 or 4 dimensions"):
        tf.image.resize_images(np.zeros((2, 2)), [3, 3])
    with pytest.raises(ValueError, match="2 elements"):
        tf.image.resize_images(x, [3, 3, 3])
    with pytest.raises(ValueError, match="not implemented"):
        tf.image.resize_images(x, [3, 3], method=7)


def test_resize_bilinear_matches_tf1_legacy_convention():
    # TF1 default (align_corners=False, no half-pixel centres): output i samples input i * in/out.
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 4, 1)
    with tf.Graph().as_default():
        legacy = tf.image.resize_bilinear(x, [1, 8])
        aligned = tf.image.resize_bilinear(x, [1, 7], align_corners=True)
        half = tf.image.resize_bilinear(x, [1, 8], half_pixel_centers=True)
        got = _run([legacy, aligned, half])
    np.testing.assert_allclose(got[0].ravel(), [0, 0.5, 1, 1.5, 2, 2.5, 3, 3])
    np.testing.assert_allclose(got[1].ravel(), [0, 0.5, 1, 1.5, 2, 2.5, 3])
    np.testing.assert_allclose(got[2].ravel(), [0, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 3])


def test_resize_gradients_and_errors():
    x = RNG.rand(1, 3, 4, 1)
    with tf.Graph().as_default():
        ph = tf.placeholder(tf.float64, x.shape)
        for fn in (tf.image.resize_bilinear, tf.image.resize_nearest_neighbor, tf.image.resize_bicubic):
            g = tf.gradients(tf.reduce_sum(fn(ph, [6, 8])), ph)[0]
            assert g.dtype == tf.float64 and g.get_shape().as_list() == [1, 3, 4, 1]
            # every output pixel's weights sum to 1, so the gradient of the sum totals the output count
            np.testing.assert_allclose(_run(g, {ph: x}).sum(), 48, rtol=1e-5)
        assert tf.gradients(tf.image.resize_area(ph, [2, 2]), ph) == [None]  # no gradient in TF either
        bad = tf.image.resize_bilinear(ph, [2, 2], align_corners=True, half_pixel_centers=True)
        with pytest.raises(tf.errors.InvalidArgumentError, match="align_corners must be False"):
            _run(bad, {ph: x})
        size = tf.placeholder(tf.int32, [2])
        with pytest.raises(tf.errors.InvalidArgumentError, match="output dimensions must be positive"):
            _run(tf.image.resize_bilinear(ph, size), {ph: x, size: [0, 3]})
        with pytest.raises(ValueError, match="rank 4"):
            tf.image.resize_bilinear(np.zeros((3, 4, 1)), [2, 2])


def test_resize_image_with_pad_keeps_aspect_ratio():
    x = np.ones((4, 8, 1), np.float32)
    with tf.Graph().as_default():
        out = _run(tf.image.resize_image_with_pad(x, 8, 8))
    assert out.shape == (8, 8, 1)
    np.testing.assert_array_equal(out[:2], 0)
    np.testing.assert_array_equal(out[2:6], 1)
    np.testing.assert_array_equal(out[6:], 0)


def test_crop_and_resize_gradients_and_box_index_error():
    img = RNG.rand(2, 5, 6, 1)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float64, img.shape)
        boxes = tf.constant([[0.1, 0.1, 0.9, 0.8]])
        out = tf.image.crop_and_resize(x, boxes, [1], [3, 3])
        gx, gb = tf.gradients(tf.reduce_sum(out), [x, boxes])
        assert gx.dtype == tf.float64 and gb.dtype == tf.float32
        vx = _run(gx, {x: img})
        np.testing.assert_allclose(vx[0], 0)
        np.testing.assert_allclose(vx[1].sum(), 9, rtol=1e-6)
        bad = tf.image.crop_and_resize(x, boxes, [2], [3, 3])
        with pytest.raises(tf.errors.InvalidArgumentError, match="box_index has values outside \\[0, 2\\)"):
            _run(bad, {x: img})
        with pytest.raises(ValueError, match="box_ind"):
            tf.image.crop_and_resize(x, boxes, crop_size=[3, 3])


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
