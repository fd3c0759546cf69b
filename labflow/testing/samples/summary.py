"""Sweep samples for the summary ops: the fetched value is a serialized `Summary`, compared byte for byte.

Each reference builds the expected `Summary` proto on its own (simple values, TF's histogram buckets
with np.histogram and TF's C++ run-collapsing loop, TF's image normalization pixel by pixel, int16
samples with roundf) and serializes it; equal protos serialize to equal bytes within one protobuf
runtime. Two encoders are shared with the kernels, because re-implementing them here would test
nothing more: PNG (`summary_encoding.encode_png`; tests/summary/test_summary_ops.py decodes the PNGs
and compares pixels) and the WAV container of the standard `wave` module. Summary ops run on the CPU
only, so each build pins them there (the inputs may still come from a GPU).
"""

from __future__ import annotations

import sys

import numpy as np

import labflow as tf
from labflow import summary as S
from labflow.framework.protos import summary_pb2, tensor_pb2
from labflow.ops import summary_encoding as enc
from labflow.ops import summary_ops as so
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(11)
F16 = (tf.float32, tf.float64, tf.float16)
DBL_MAX = sys.float_info.max


def _bytes(summary: summary_pb2.Summary) -> np.ndarray:
    out = np.empty((), dtype=object)
    out[()] = summary.SerializeToString()
    return out


def _cpu(fn):
    def build(*xs):
        with tf.device("/cpu:0"):
            return fn(*xs)
    return build


# -- ScalarSummary ------------------------------------------------------------------------------------
def _scalar_ref(tags, values):
    s = summary_pb2.Summary()
    for t, v in zip(np.asarray(tags, dtype=object).reshape(-1), np.asarray(values).reshape(-1)):
        s.value.add(tag=t.decode() if isinstance(t, bytes) else t, simple_value=float(np.float32(v)))
    return _bytes(s)


@samples("ScalarSummary")
def _scalar():
    return [
        Case(_cpu(lambda x: S.scalar("loss", x)), [np.array(R.randn())], lambda x: _scalar_ref(["loss"], x),
             dtypes=F16, grad=False, name="scalar"),
        Case(_cpu(lambda x: S.scalar("acc", x, family="eval")), [np.array(7, dtype=np.int32)],
             lambda x: _scalar_ref(["eval/eval/acc"], x), grad=False, name="family_int32"),
        Case(_cpu(lambda tags, x: so.scalar_summary(tags, x)),
             [np.array([b"a", b"b/c"], dtype=object), R.randn(2)], _scalar_ref, grad=False,
             name="scalar_summary_2016"),
    ]


# -- HistogramSummary ---------------------------------------------------------------------------------
def _tf_limits():
    pos, v = [], 1.0e-12
    while v < 1.0e20:
        pos.append(v)
        v *= 1.1
    pos.append(DBL_MAX)
    return [-x for x in reversed(pos)] + [0.0] + pos


def _histo_ref(tag, values):
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    limits = _tf_limits()
    # TF's bucket i holds limits[i-1] <= v < limits[i]: np.histogram's bins, shifted by one.
    counts = [0.0] + np.histogram(v, bins=np.array(limits))[0].astype(float).tolist()
    h = summary_pb2.HistogramProto(min=v.min() if v.size else DBL_MAX, max=v.max() if v.size else -DBL_MAX,
                                   num=v.size, sum=v.sum(), sum_squares=np.dot(v, v))
    i = 0
    while i < len(counts):  # Histogram::EncodeToProto with preserve_zero_buckets=false
        end, count = limits[i], counts[i]
        i += 1
        if count <= 0.0:
            while i < len(counts) and counts[i] <= 0.0:
                end, count = limits[i], counts[i]
                i += 1
        h.bucket_limit.append(end)
        h.bucket.append(count)
    s = summary_pb2.Summary()
    s.value.add(tag=tag, histo=h)
    return _bytes(s)


@samples("HistogramSummary")
def _histogram():
    wide = R.randn(200) * np.logspace(-3, 3, 200)
    return [
        Case(_cpu(lambda x: S.histogram("weights", x)), [R.randn(5, 40)], lambda x: _histo_ref("weights", x),
             dtypes=F16, grad=False, rtol=0, atol=0, name="histogram"),
        Case(_cpu(lambda x: S.histogram("w", x)), [np.concatenate([wide, [0.0, 0.0, 1.0]])],
             lambda x: _histo_ref("w", x), grad=False, name="wide_range_and_zeros"),
        Case(_cpu(lambda x: so.histogram_summary("ints", x)), [R.randint(-50, 50, size=(30,)).astype(np.int32)],
             lambda x: _histo_ref("ints", x), grad=False, name="histogram_summary_2016_int32"),
        Case(_cpu(lambda x: S.histogram("empty", x)), [np.zeros((0,))], lambda x: _histo_ref("empty", x),
             grad=False, name="empty"),
    ]


# -- ImageSummary -------------------------------------------------------------------------------------
def _normalize_ref(img, bad=(255, 0, 0, 255)):
    """ImageSummaryOp::NormalizeFloatImage, pixel by pixel."""
    h, w, c = img.shape
    t = img.dtype.type
    px = img.reshape(-1, c)
    finite = [bool(np.all(np.isfinite(p))) for p in px]
    vals = [np.float32(x) for p, ok in zip(px, finite) if ok for x in p]
    lo = min(vals, default=np.float32(np.inf))
    hi = max(vals, default=np.float32(-np.inf))
    if lo < 0:
        m = max(abs(lo), abs(hi))
        scale, offset = t(0.0 if m < np.float32(1e-6) else np.float32(127.0) / m), t(128.0)
    else:
        scale, offset = t(0.0 if hi < np.float32(1e-6) else np.float32(255.0) / hi), t(0.0)
    out = np.empty((h * w, c), dtype=np.uint8)
    for i, (p, ok) in enumerate(zip(px, finite)):
        out[i] = (p * scale + offset).astype(np.uint8) if ok else np.array(bad[:c], dtype=np.uint8)
    return out.reshape(h, w, c)


def _image_ref(tag, x, max_images=3):
    s = summary_pb2.Summary()
    for i in range(min(max_images, x.shape[0])):
        img = x[i] if x.dtype == np.uint8 else _normalize_ref(x[i])
        v = s.value.add(tag=f"{tag}/image/{i}" if max_images > 1 else f"{tag}/image")
        v.image.height, v.image.width, v.image.colorspace = x.shape[1], x.shape[2], x.shape[3]
        v.image.encoded_image_string = enc.encode_png(img)
    return _bytes(s)


@samples("ImageSummary")
def _image():
    nan_img = R.rand(1, 3, 3, 3)
    nan_img[0, 1, 1, 2] = np.nan
    return [
        Case(_cpu(lambda x: S.image("signed", x)), [R.randn(4, 5, 6, 3)], lambda x: _image_ref("signed", x),
             dtypes=F16, grad=False, name="signed_rgb_batch_over_max"),
        Case(_cpu(lambda x: S.image("pos", x, max_outputs=1)), [R.rand(2, 4, 3, 1)],
             lambda x: _image_ref("pos", x, 1), dtypes=F16, grad=False, name="positive_grey_max1"),
        Case(_cpu(lambda x: S.image("rgba", x)), [R.randint(0, 256, (2, 3, 4, 4)).astype(np.uint8)],
             lambda x: _image_ref("rgba", x), grad=False, name="uint8_rgba"),
        Case(_cpu(lambda x: S.image("bad", x)), [nan_img], lambda x: _image_ref("bad", x), grad=False,
             name="nan_pixel_bad_color"),
        Case(_cpu(lambda x: S.image("zeros", x)), [np.zeros((1, 2, 2, 3))], lambda x: _image_ref("zeros", x),
             grad=False, name="all_zero"),
        Case(_cpu(lambda x: so.image_summary("old", x, max_images=2)), [R.rand(3, 2, 2, 3)],
             lambda x: _image_ref("old", x, 2), grad=False, name="image_summary_2016"),
    ]


# -- AudioSummaryV2 -----------------------------------------------------------------------------------
def _audio_ref(tag, x, rate, max_outputs=3):
    import io
    import wave
    x = np.asarray(x, dtype=np.float32)
    clips = x.reshape(x.shape[0], x.shape[1], -1) if x.ndim == 3 else x[..., None]
    s = summary_pb2.Summary()
    for i in range(min(max_outputs, x.shape[0])):
        scaled = clips[i].astype(np.float32) * np.float32(32768)
        pcm = np.clip(np.sign(scaled) * np.floor(np.abs(scaled.astype(np.float64)) + 0.5), -32768, 32767)
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(clips.shape[2])
            w.setsampwidth(2)
            w.setframerate(int(rate))
            w.writeframes(pcm.astype("<i2").tobytes())
        v = s.value.add(tag=f"{tag}/audio/{i}" if max_outputs > 1 else f"{tag}/audio")
        v.audio.sample_rate, v.audio.num_channels, v.audio.length_frames = rate, clips.shape[2], x.shape[1]
        v.audio.content_type = "audio/wav"
        v.audio.encoded_audio_string = buf.getvalue()
    return _bytes(s)


@samples("AudioSummaryV2")
def _audio():
    loud = R.uniform(-1.5, 1.5, size=(2, 50, 2))
    return [
        Case(_cpu(lambda x: S.audio("clip", tf.cast(x, tf.float32), 16000)), [R.uniform(-1, 1, (4, 64))],
             lambda x: _audio_ref("clip", x, 16000.0), grad=False, name="mono_batch_over_max"),
        Case(_cpu(lambda x: S.audio("st", tf.cast(x, tf.float32), 8000.0, max_outputs=1)), [loud],
             lambda x: _audio_ref("st", x, 8000.0, 1), grad=False, name="stereo_clipped_max1"),
        Case(_cpu(lambda x: so.audio_summary("old", tf.cast(x, tf.float32), 22050)), [R.uniform(-1, 1, (1, 9))],
             lambda x: _audio_ref("old", x, 22050.0), grad=False, name="audio_summary_2016"),
    ]


# -- TensorSummaryV2 ----------------------------------------------------------------------------------
def _tensor_ref(tag, x, plugin=None):
    x = np.asarray(x)
    tp = tensor_pb2.TensorProto(dtype=tf.as_dtype(x.dtype).as_datatype_enum)
    for d in x.shape:
        tp.tensor_shape.dim.add(size=d)
    if x.dtype == object:
        tp.string_val.extend(x.reshape(-1).tolist())
    else:
        tp.tensor_content = x.astype(x.dtype.newbyteorder("<")).tobytes()
    s = summary_pb2.Summary()
    v = s.value.add(tag=tag, tensor=tp)
    v.metadata.SetInParent()
    if plugin:
        v.metadata.plugin_data.plugin_name = plugin
    return _bytes(s)


@samples("TensorSummaryV2")
def _tensor_summary():
    words = np.array([[b"hello", b"**world**"], [b"a", b"\xc3\xa9"]], dtype=object)
    return [
        Case(_cpu(lambda x: S.tensor_summary("t", x)), [R.randn(2, 3)], lambda x: _tensor_ref("t", x),
             dtypes=F16, grad=False, name="tensor"),
        Case(_cpu(lambda x: S.tensor_summary("i", x)), [np.arange(5, dtype=np.int64)],
             lambda x: _tensor_ref("i", x), grad=False, name="int64"),
        Case(_cpu(lambda x: S.text("notes", x)), [words], lambda x: _tensor_ref("notes", x, "text"),
             grad=False, name="text"),
    ]


# -- MergeSummary -------------------------------------------------------------------------------------
def _merge_ref(*parts):
    s = summary_pb2.Summary()
    for p in parts:
        q = summary_pb2.Summary()
        q.ParseFromString(p[()])
        s.value.extend(q.value)
    return _bytes(s)


@samples("MergeSummary")
def _merge():
    def build(x, y):
        a = S.scalar("a", x)
        h = S.histogram("h", y)
        return S.merge([a, S.merge([h])])

    def build_all(x, y):
        S.scalar("a", x)
        S.histogram("h", y)
        return S.merge_all()

    def ref(x, y):
        return _merge_ref(_scalar_ref(["a"], x), _histo_ref("h", y))

    return [
        Case(_cpu(build), [np.array(R.randn()), R.randn(10)], ref, grad=False, name="merge_nested"),
        Case(_cpu(build_all), [np.array(R.randn()), R.randn(10)], ref, grad=False, name="merge_all"),
        Case(_cpu(lambda x, y: so.merge_summary([so.scalar_summary("a", x), so.histogram_summary("h", y)])),
             [np.array(R.randn()), R.randn(10)], ref, grad=False, name="merge_summary_2016"),
    ]
