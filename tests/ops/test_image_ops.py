"""tf.image behaviour: TF 1.x input pipelines end to end, static shapes, dtype handling and error cases.

Numerical agreement of every kernel with a NumPy reference is in the op sweep (labflow/testing/samples/image.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from image_util import jpeg as _jpeg
from image_util import png as _png
from image_util import run as _run

import labflow as tf

RNG = np.random.RandomState(7)


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
