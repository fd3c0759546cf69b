"""Summary ops: TF 1.x naming, collections, errors, and the encodings (histogram, PNG, WAV) they produce."""

from __future__ import annotations

import io
import struct
import sys
import wave
import zlib

import numpy as np
import pytest

import labflow as tf
from labflow import summary as S
from labflow.framework import registry
from labflow.ops import summary_encoding as enc
from labflow.ops import summary_ops as so

SUMMARY_OPS = ("ScalarSummary", "HistogramSummary", "ImageSummary", "AudioSummaryV2", "TensorSummaryV2",
               "MergeSummary")


def _run(t, feed=None):
    with tf.Session() as sess:
        v = sess.run(t, feed)
    s = S.Summary()
    s.ParseFromString(np.asarray(v, dtype=object).reshape(-1)[0])
    return s


def _decode_png(data: bytes) -> np.ndarray:
    """A minimal PNG reader for what encode_png writes (8-bit, filter 0): checks the framing on the way."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks.append((kind, body))
        pos += 12 + n
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    w, h, depth, ctype, _, _, _ = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8
    c = {0: 1, 4: 2, 2: 3, 6: 4}[ctype]
    raw = np.frombuffer(zlib.decompress(b"".join(b for k, b in chunks if k == b"IDAT")), np.uint8)
    rows = raw.reshape(h, 1 + w * c)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(h, w, c)


# -- op declarations ---------------------------------------------------------------------------------
@pytest.mark.parametrize("op_type", SUMMARY_OPS)
def test_ops_are_cpu_only_stateless_and_not_differentiable(op_type):
    d = registry.get(op_type)
    assert d.kernel_devices() == ["CPU"]
    assert not d.stateful
    assert not d.differentiable


def test_output_is_a_scalar_string_tensor():
    s = S.scalar("x", 1.0)
    assert s.dtype == tf.string and s.get_shape().as_list() == []
    with tf.Session() as sess:
        v = sess.run(s)
    assert isinstance(np.asarray(v, dtype=object).reshape(-1)[0], bytes)


# -- names and tags (TF's summary_scope) --------------------------------------------------------------
def test_tag_is_name_scope_plus_name_and_unique():
    with tf.name_scope("train"):
        a = S.scalar("loss", 1.0)
        b = S.scalar("loss", 2.0)
    c = S.scalar("loss", 3.0)
    assert (a.op.name, b.op.name, c.op.name) == ("train/loss", "train/loss_1", "loss")
    assert a.op.type == "ScalarSummary"
    assert [v.tag for v in _run(S.merge([a, b, c])).value] == ["train/loss", "train/loss_1", "loss"]
    assert a.op.inputs[0].op.name == "train/loss/tags"


def test_family_prefixes_tag_and_scope():
    s = S.scalar("acc", 0.5, family="eval")
    assert s.op.name == "eval/acc"
    assert _run(s).value[0].tag == "eval/eval/acc"


def test_illegal_tag_characters_are_replaced():
    s = S.scalar("my loss (avg)", 1.0)
    assert s.op.name == "my_loss__avg_"
    assert _run(s).value[0].tag == "my_loss__avg_"


def test_image_and_audio_tags_depend_on_max_outputs():
    imgs = np.zeros((2, 2, 2, 1), np.float32)
    assert [v.tag for v in _run(S.image("im", imgs)).value] == ["im/image/0", "im/image/1"]
    assert [v.tag for v in _run(S.image("one", imgs, max_outputs=1)).value] == ["one/image"]
    clips = np.zeros((3, 10), np.float32)
    assert [v.tag for v in _run(S.audio("au", clips, 100, max_outputs=2)).value] == ["au/audio/0", "au/audio/1"]


def test_default_collection_and_custom_collections():
    a = S.scalar("a", 1.0)
    b = S.histogram("b", [1.0, 2.0], collections=["mine"])
    assert tf.get_collection(tf.GraphKeys.SUMMARIES) == [a]
    assert tf.get_collection("mine") == [b]


def test_merge_names_and_collections():
    a, b = S.scalar("a", 1.0), S.scalar("b", 2.0)
    m = S.merge([a, b])
    assert m.op.name == "Merge/MergeSummary" and m.op.type == "MergeSummary"
    assert m.op.get_attr("N") == 2
    assert m not in tf.get_collection(tf.GraphKeys.SUMMARIES)
    n = S.merge([a], name="merged", collections=["c"])
    assert n.op.name == "merged/merged"
    assert tf.get_collection("c") == [n]


def test_merge_all_none_scope_and_values():
    assert S.merge_all() is None
    with tf.name_scope("train"):
        S.scalar("loss", 1.5)
    with tf.name_scope("eval"):
        S.scalar("loss", 2.5)
    assert [v.tag for v in _run(S.merge_all()).value] == ["train/loss", "eval/loss"]
    assert [(v.tag, v.simple_value) for v in _run(S.merge_all(scope="eval")).value] == [("eval/loss", 2.5)]
    assert S.merge_all(key="nothing") is None


def test_2016_aliases():
    s = so.scalar_summary(["a", "b"], [1.0, 2.0])
    assert s.op.name == "ScalarSummary"
    assert [(v.tag, v.simple_value) for v in _run(s).value] == [("a", 1.0), ("b", 2.0)]
    h = so.histogram_summary("weights", [1.0, 2.0], name="h")
    assert h.op.name == "h" and _run(h).value[0].tag == "weights"
    i = so.image_summary("img", np.zeros((1, 2, 2, 3), np.uint8), max_images=1)
    assert i.op.name == "ImageSummary" and _run(i).value[0].tag == "img/image"
    m = so.merge_summary([s, h])
    assert m.op.name == "MergeSummary/MergeSummary"
    assert so.merge_all_summaries().op.name == "MergeSummary_1/MergeSummary"
    assert set(so.__all__) == {"scalar_summary", "histogram_summary", "image_summary", "audio_summary",
                               "merge_summary", "merge_all_summaries"}


def test_merge_all_summaries_returns_the_single_summary():
    s = so.scalar_summary("x", 1.0)
    assert so.merge_all_summaries() is s


# -- errors ------------------------------------------------------------------------------------------
def test_scalar_of_a_vector_fails_at_construction_naming_the_op():
    with pytest.raises(ValueError, match=r"tags and values not the same shape: \[\] != \[3\].*'loss'"):
        S.scalar("loss", [1.0, 2.0, 3.0])


def test_scalar_shape_mismatch_at_run_time():
    x = tf.placeholder(tf.float32)
    s = S.scalar("loss", x)
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError, match="(?s)not the same shape.*loss"):
        sess.run(s, {x: [1.0, 2.0]})


def test_scalar_of_strings_is_a_type_error():
    with pytest.raises(TypeError, match="string"):
        S.scalar("s", "text")


def test_histogram_of_nan_fails_at_run_time():
    x = tf.placeholder(tf.float32)
    h = S.histogram("weights", x)
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError,
                                             match="Nan in summary histogram for: weights"):
        sess.run(h, {x: [1.0, np.nan]})


def test_image_shape_checks():
    with pytest.raises(ValueError, match=r"Tensor must be 4-D with last dim 1, 3, or 4, not \[2,3,4\].*'img'"):
        S.image("img", np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"not \[1,2,2,2\]"):
        S.image("img2", np.zeros((1, 2, 2, 2), np.float32))
    with pytest.raises(ValueError, match="max_images"):
        S.image("img3", np.zeros((1, 2, 2, 3), np.float32), max_outputs=0)
    with pytest.raises(TypeError, match="int32"):
        S.image("img4", np.zeros((1, 2, 2, 3), np.int32))
    x = tf.placeholder(tf.float32)
    s = S.image("late", x)
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError, match="(?s)4-D.*late"):
        sess.run(s, {x: np.zeros((2, 2, 3))})


def test_audio_checks():
    with pytest.raises(TypeError, match="float32"):
        S.audio("a", np.zeros((1, 10)), 100)
    with pytest.raises(ValueError, match="3-D or 2-D"):
        S.audio("a", np.zeros((10,), np.float32), 100)
    s = S.audio("b", np.zeros((1, 10), np.float32), -1.0)
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError, match="sample_rate must be > 0"):
        sess.run(s)


def test_text_requires_strings():
    with pytest.raises(ValueError, match="to have dtype string, got float32"):
        S.text("t", tf.constant(1.0))


def test_merge_duplicate_tags_fail_at_run_time():
    m = S.merge([so.scalar_summary("same", 1.0), so.scalar_summary("same", 2.0)])
    with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError, match="Duplicate tag same"):
        sess.run(m)


def test_merge_of_non_strings_is_a_type_error():
    with pytest.raises(TypeError):
        S.merge([tf.constant(1.0)])
    with pytest.raises(ValueError, match="non-empty"):
        S.merge([])


# -- histograms ----------------------------------------------------------------------------------------
def test_default_bucket_limits_are_tfs():
    lim = enc.default_bucket_limits()
    pos = lim[lim > 0]
    assert pos[0] == 1e-12 and pos[-1] == sys.float_info.max and pos[-2] < 1e20 <= pos[-2] * 1.1
    np.testing.assert_allclose(pos[1:-1] / pos[:-2], 1.1, rtol=1e-12)
    np.testing.assert_array_equal(lim, -lim[::-1])
    assert (np.diff(lim) > 0).all() and 0.0 in lim


@pytest.mark.parametrize("data", [np.random.RandomState(0).randn(1000) * 5, np.arange(-3, 4, dtype=np.float64),
                                  np.array([1e-15, -1e-15, 0.0, 1e19, -1e19])])
def test_histogram_matches_numpy(data):
    h = _run(S.histogram("h", data.astype(np.float64))).value[0].histo
    assert (h.min, h.max, h.num) == (data.min(), data.max(), data.size)
    assert h.sum == pytest.approx(data.sum()) and h.sum_squares == pytest.approx((data ** 2).sum())
    limits, counts = np.array(h.bucket_limit), np.array(h.bucket)
    assert counts.sum() == data.size
    assert np.isin(limits, enc.default_bucket_limits()).all()
    # Every value lies below its bucket's limit and at or above the previous bucket's.
    edges = np.concatenate([[-np.inf], limits])
    for lo, hi, n in zip(edges[:-1], edges[1:], counts):
        assert ((data >= lo) & (data < hi)).sum() == n
    # Empty runs are collapsed: no two empty buckets in a row.
    assert not ((counts[1:] == 0) & (counts[:-1] == 0)).any()


def test_histogram_of_nothing():
    h = _run(S.histogram("h", np.zeros((0,), np.float32))).value[0].histo
    assert h.num == 0 and list(h.bucket_limit) == [sys.float_info.max] and list(h.bucket) == [0.0]


# -- images ------------------------------------------------------------------------------------------
def test_png_of_uint8_images_round_trips():
    imgs = np.random.RandomState(1).randint(0, 256, (3, 5, 7, 3)).astype(np.uint8)
    vals = _run(S.image("im", imgs)).value
    for i, v in enumerate(vals):
        assert (v.image.height, v.image.width, v.image.colorspace) == (5, 7, 3)
        np.testing.assert_array_equal(_decode_png(v.image.encoded_image_string), imgs[i])


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_png_decodes_with_pillow(channels):
    Image = pytest.importorskip("PIL.Image")
    img = np.random.RandomState(channels).randint(0, 256, (1, 4, 6, channels)).astype(np.uint8)
    png = _run(S.image("im", img)).value[0].image.encoded_image_string
    got = np.array(Image.open(io.BytesIO(png)))
    np.testing.assert_array_equal(got.reshape(img.shape[1:]), img[0])


def test_float_image_normalization_is_tfs():
    pos = np.array([0.0, 0.25, 0.5], np.float32).reshape(1, 1, 3, 1)  # all >= 0: largest -> 255
    neg = np.array([-2.0, 0.0, 1.0], np.float32).reshape(1, 1, 3, 1)  # 0 -> 128, |largest| -> 127 away
    bad = np.array([[0.5, np.inf, 0.1], [0.2, 0.3, 0.4]], np.float32).reshape(1, 2, 1, 3)
    got = [_decode_png(_run(S.image(n, x)).value[0].image.encoded_image_string).reshape(-1)
           for n, x in (("p", pos), ("n", neg), ("b", bad))]
    np.testing.assert_array_equal(got[0], [0, 127, 255])
    np.testing.assert_array_equal(got[1], [1, 128, 191])
    np.testing.assert_array_equal(got[2], [255, 0, 0, 127, 191, 255])  # the non-finite pixel is red


def test_images_are_normalized_one_by_one():
    x = np.stack([np.full((1, 2, 1), 0.5), np.full((1, 2, 1), 50.0)]).astype(np.float32)
    x[1, 0, 0, 0] = 100.0
    a, b = [_decode_png(v.image.encoded_image_string).reshape(-1) for v in _run(S.image("im", x)).value]
    np.testing.assert_array_equal(a, [255, 255])
    np.testing.assert_array_equal(b, [255, 127])


# -- audio -------------------------------------------------------------------------------------------
def test_wav_round_trips():
    x = np.array([[[0.0, 0.5], [-0.5, 1.0], [-1.0, 2.0], [0.25, -3.0]]], np.float32)
    v = _run(S.audio("a", x, 44100.4)).value[0]
    assert v.audio.sample_rate == pytest.approx(44100.4) and v.audio.content_type == "audio/wav"
    assert (v.audio.num_channels, v.audio.length_frames) == (2, 4)
    with wave.open(io.BytesIO(v.audio.encoded_audio_string)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (2, 2, 44100, 4)
        pcm = np.frombuffer(w.readframes(4), "<i2").reshape(4, 2)
    np.testing.assert_array_equal(pcm, [[0, 16384], [-16384, 32767], [-32768, 32767], [8192, -32768]])


def test_wav_sample_rounding_is_half_away_from_zero():
    np.testing.assert_array_equal(enc.wav_samples(np.array([0.5, -0.5, 1.5, -1.5]) / 32768),
                                  [1, -1, 2, -2])


# -- tensor / text -------------------------------------------------------------------------------------
def test_text_summary_has_the_text_plugin_and_the_strings():
    v = _run(S.text("notes", tf.constant([["a", "b"], ["c", "d"]]))).value[0]
    assert v.tag == "notes" and v.metadata.plugin_data.plugin_name == "text"
    assert list(v.tensor.string_val) == [b"a", b"b", b"c", b"d"]
    assert [d.size for d in v.tensor.tensor_shape.dim] == [2, 2]
    assert _run(S.text("plain", "hello")).value[0].tensor.string_val == [b"hello"]


def test_tensor_summary_metadata_fields():
    from labflow.framework.proto_convert import make_ndarray
    v = _run(S.tensor_summary("t", np.arange(6).reshape(2, 3), summary_description="desc",
                              display_name="Nice")).value[0]
    assert (v.metadata.summary_description, v.metadata.display_name) == ("desc", "Nice")
    np.testing.assert_array_equal(make_ndarray(v.tensor), np.arange(6).reshape(2, 3))
