"""tf.write_file, tf.matching_files, tf.serialize_tensor / parse_tensor, tf.decode_compressed and tf.io names."""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np
import pytest

import labflow as tf


def _run(fetch, feed=None):
    with tf.Session() as sess:
        return sess.run(fetch, feed)


def test_write_file_writes_when_run_and_creates_parents(tmp_path):
    path = str(tmp_path / "deep" / "er" / "f.txt")
    w = tf.write_file(path, "hello\n")
    assert w.type == "WriteFile" and not w.outputs
    assert not os.path.exists(path)  # building writes nothing
    _run(w)
    with open(path, "rb") as f:
        assert f.read() == b"hello\n"
    contents = tf.placeholder(tf.string, [])
    _run(tf.write_file(path, contents), {contents: b"\x00\x01"})
    assert tf.gfile.GFile(path, "rb").read() == b"\x00\x01"


def test_write_file_errors(tmp_path):
    with pytest.raises(ValueError, match="rank 0"):
        tf.write_file(str(tmp_path / "f"), ["a", "b"])
    with pytest.raises(TypeError):
        tf.write_file(str(tmp_path / "f"), 3.0)
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(tf.errors.OpError, match="WriteFile could not write"):
        _run(tf.write_file(str(blocker / "inside"), "x"))


def test_matching_files(tmp_path):
    for n in ("b.txt", "a.txt", "c.csv"):
        (tmp_path / n).write_bytes(b"")
    m = tf.matching_files(str(tmp_path / "*.txt"))
    assert m.get_shape().as_list() == [None] and m.dtype == tf.string
    got = _run(m)
    assert [x.decode() for x in got] == [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")]
    both = _run(tf.io.matching_files([str(tmp_path / "*.csv"), str(tmp_path / "a*")]))
    assert [os.path.basename(x.decode()) for x in both] == ["c.csv", "a.txt"]
    assert _run(tf.matching_files(str(tmp_path / "nothing" / "*"))).shape == (0,)
    with pytest.raises(ValueError, match="at most rank 1"):
        tf.matching_files([["a"]])


@pytest.mark.parametrize("value", [np.arange(6, dtype=np.int32).reshape(2, 3), np.array(2.5, np.float64),
                                   np.zeros((0, 2), np.float32), np.array([True, False]),
                                   np.array([b"x", b"yz"], dtype=object)])
def test_serialize_parse_roundtrip(value):
    t = tf.constant(value)
    s = tf.serialize_tensor(t)
    assert s.get_shape().as_list() == [] and s.dtype == tf.string
    back = tf.parse_tensor(s, t.dtype)
    assert back.get_shape().ndims is None
    got = _run(back)
    assert got.shape == value.shape and got.dtype == value.dtype
    np.testing.assert_array_equal(got, value)


def test_serialize_tensor_is_a_tensor_proto():
    data = _run(tf.serialize_tensor(tf.constant([1, 2])))
    proto = tf.make_tensor_proto(0)
    proto.ParseFromString(data)
    np.testing.assert_array_equal(tf.make_ndarray(proto), [1, 2])


def test_parse_tensor_errors():
    s = tf.serialize_tensor(tf.constant([1, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"Type mismatch between parsed tensor \(int32\) and "
                       r"dtype \(float32\)"):
        _run(tf.parse_tensor(s, tf.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Could not parse"):
        _run(tf.parse_tensor(b"\xff\xff\xff", tf.float32))
    with pytest.raises(ValueError, match="rank 0"):
        tf.parse_tensor(["a", "b"], tf.float32)


def test_decode_compressed():
    raw = [b"abc" * 10, b""]
    z = tf.constant(np.array([zlib.compress(r) for r in raw], dtype=object))
    assert list(_run(tf.decode_compressed(z, "ZLIB"))) == raw
    g = tf.constant(np.array([gzip.compress(r) for r in raw], dtype=object))
    assert list(_run(tf.io.decode_compressed(g, compression_type="gzip"))) == raw
    with pytest.raises(tf.errors.DataLossError, match="not valid ZLIB data"):
        _run(tf.decode_compressed(tf.constant(["abc"]), "ZLIB"))
    with pytest.raises(ValueError, match="compression_type must be one of"):
        tf.decode_compressed(tf.constant(["abc"]), "LZMA")


def test_tf_io_names():
    assert tf.io.FixedLenFeature is tf.FixedLenFeature and tf.io.parse_example is tf.parse_example
    assert tf.io.read_file is tf.read_file and tf.io.decode_raw is tf.decode_raw
    assert tf.io.TFRecordWriter is tf.python_io.TFRecordWriter
    assert tf.io.tf_record_iterator is tf.python_io.tf_record_iterator
    assert tf.io.write_graph is tf.train.write_graph
    assert tf.io.PaddingFIFOQueue is tf.PaddingFIFOQueue
    assert tf.io.decode_jpeg is tf.image.decode_jpeg and tf.io.encode_png is tf.image.encode_png
    for n in ("write_file", "matching_files", "serialize_tensor", "parse_tensor", "decode_compressed",
              "encode_base64", "decode_base64"):
        assert getattr(tf.io, n) is getattr(tf, n)
