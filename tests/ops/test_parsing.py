"""tf.train.Example protos, parse_example / parse_single_example and decode_raw: values, defaults, errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf


def _feature(v):
    if isinstance(v[0], bytes):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=v))
    if isinstance(v[0], float):
        return tf.train.Feature(float_list=tf.train.FloatList(value=v))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=v))


def _example(**feats) -> bytes:
    return tf.train.Example(features=tf.train.Features(
        feature={k: _feature(v) for k, v in feats.items()})).SerializeToString()


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def test_example_round_trip_and_wire_bytes():
    ex = tf.train.Example(features=tf.train.Features(feature={"a": _feature([1, 2])}))
    s = ex.SerializeToString()
    # Field numbers are TF's: Example.features=1, Features.feature (map)=1, Feature.int64_list=3, packed value=1.
    assert s == bytes.fromhex("0a0d0a0b0a016112061a040a020102")
    back = tf.train.Example.FromString(s)
    assert list(back.features.feature["a"].int64_list.value) == [1, 2]
    seq = tf.train.SequenceExample()
    seq.feature_lists.feature_list["w"].feature.add().float_list.value.append(0.5)
    assert tf.train.SequenceExample.FromString(seq.SerializeToString()) == seq


def test_parse_example_batch_with_defaults():
    tf.reset_default_graph()
    s = tf.placeholder(tf.string, [None])
    out = tf.parse_example(s, {
        "img": tf.FixedLenFeature([2, 2], tf.float32),
        "label": tf.FixedLenFeature([], tf.int64, default_value=-1),
        "tag": tf.FixedLenFeature([1], tf.string, default_value=[b"none"]),
    })
    assert out["img"].get_shape().as_list() == [None, 2, 2]
    assert out["label"].get_shape().as_list() == [None]
    batch = np.array([_example(img=[1.0, 2.0, 3.0, 4.0], label=[9], tag=[b"x"]),
                      _example(img=[0.0, 0.5, 1.0, 1.5])], dtype=object)
    got = _run(out, {s: batch})
    np.testing.assert_array_equal(got["img"], [[[1, 2], [3, 4]], [[0, 0.5], [1, 1.5]]])
    assert got["img"].dtype == np.float32
    np.testing.assert_array_equal(got["label"], [9, -1])
    assert got["label"].dtype == np.int64
    assert list(got["tag"].reshape(-1)) == [b"x", b"none"]


def test_parse_single_example():
    tf.reset_default_graph()
    out = tf.parse_single_example(tf.constant(_example(x=[1.0, 2.0], n=[b"hi"])),
                                  {"x": tf.FixedLenFeature([2], tf.float32), "n": tf.FixedLenFeature((), tf.string)})
    assert out["x"].get_shape().as_list() == [2]
    got = _run(out)
    np.testing.assert_array_equal(got["x"], [1.0, 2.0])
    assert got["n"] == b"hi"


@pytest.mark.parametrize("feats,pattern", [
    ({"label": tf.FixedLenFeature([], tf.int64)}, r"Feature: label \(data type: int64\) is required"),
    ({"x": tf.FixedLenFeature([], tf.int64)}, "Key: x, Index: 0.  Data types don't match. Data type: float"),
    ({"x": tf.FixedLenFeature([3], tf.float32)}, "Number of float values != expected.  Values size: 2"),
])
def test_parse_errors_name_the_feature(feats, pattern):
    tf.reset_default_graph()
    out = tf.parse_example([_example(x=[1.0, 2.0])], feats)
    with pytest.raises(tf.errors.InvalidArgumentError, match=pattern):
        _run(out)


def test_parse_bad_input_and_bad_specs():
    tf.reset_default_graph()
    out = tf.parse_example([b"\xff\xff not a proto"], {"x": tf.FixedLenFeature([1], tf.float32)})
    with pytest.raises(tf.errors.InvalidArgumentError, match="Could not parse example input"):
        _run(out)
    with pytest.raises(ValueError, match="only float32, int64 and string"):
        tf.parse_example([b""], {"x": tf.FixedLenFeature([1], tf.int32)})
    with pytest.raises(ValueError, match="default_value has 1 values"):
        tf.parse_example([b""], {"x": tf.FixedLenFeature([2], tf.float32, default_value=[0.0])})
    with pytest.raises(ValueError, match="supports tf.FixedLenFeature and tf.VarLenFeature"):
        tf.parse_example([b""], {"x": ("not", "a feature")})
    with pytest.raises(ValueError, match="rank 0"):
        tf.parse_single_example([b"", b""], {"x": tf.FixedLenFeature([1], tf.float32)})


def test_decode_raw_values_and_errors():
    tf.reset_default_graph()
    img = np.arange(6, dtype=np.uint8).reshape(2, 3)
    t = tf.decode_raw(img.tobytes(), tf.uint8)
    assert t.get_shape().as_list() == [None]
    np.testing.assert_array_equal(_run(t), np.arange(6))
    f64 = tf.decode_raw(tf.constant([np.float64(2.5).tobytes()]), tf.float64)
    np.testing.assert_array_equal(_run(f64), [[2.5]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="same size"):
        _run(tf.decode_raw(tf.constant([b"ab", b"abc"]), tf.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match="not a multiple of 4"):
        _run(tf.decode_raw(tf.constant([b"abc"]), tf.float32))
    with pytest.raises((TypeError, ValueError), match="string"):
        tf.decode_raw(tf.constant([1.0]), tf.float32)


def test_decode_csv_values_defaults_and_quotes():
    tf.reset_default_graph()
    rec = tf.placeholder(tf.string, [None])
    cols = tf.decode_csv(rec, [[1], ["?"], [0.0], tf.constant([], tf.int64)], na_value="NA")
    assert [c.dtype for c in cols] == [tf.int32, tf.string, tf.float32, tf.int64]
    assert cols[0].get_shape().as_list() == [None]
    got = _run(cols, {rec: np.array([b'5,"he said ""hi"", twice",1e-3,9', b"NA,,,-1"], dtype=object)})
    np.testing.assert_array_equal(got[0], [5, 1])
    assert list(got[1]) == [b'he said "hi", twice', b"?"]
    np.testing.assert_allclose(got[2], [1e-3, 0.0])
    np.testing.assert_array_equal(got[3], [9, -1])


@pytest.mark.parametrize("line,pattern", [
    (b"1,2", "Expect 3 fields but have 2 in record 0"),
    (b"1,2,", "Field 2 is required but missing in record 0"),
    (b"1,2,3,4", "Expect 3 fields but have 4 in record 0"),
    (b"x,2,3", "Field 0 in record 0 is not a valid int32: x"),
])
def test_decode_csv_errors(line, pattern):
    tf.reset_default_graph()
    cols = tf.decode_csv([line], [[0], [0.0], tf.constant([], tf.string)])
    with pytest.raises(tf.errors.InvalidArgumentError, match=pattern):
        _run(cols)


def test_decode_csv_bad_specs():
    tf.reset_default_graph()
    with pytest.raises(ValueError, match="empty list"):
        tf.decode_csv(["1"], [[]])
    with pytest.raises(ValueError, match="1 char"):
        tf.decode_csv(["1"], [[0]], field_delim="::")
    with pytest.raises(TypeError, match="DecodeCSV supports"):
        tf.decode_csv(["1"], [[True]])


def test_var_len_features_come_out_as_sparse_tensors():
    blobs = [_example(tokens=[3, 1, 4], label=[1]), _example(label=[0]), _example(tokens=[5], label=[1])]
    feats = {"tokens": tf.VarLenFeature(tf.int64), "label": tf.FixedLenFeature([], tf.int64)}
    parsed = tf.parse_example(blobs, feats)
    assert isinstance(parsed["tokens"], tf.SparseTensor) and parsed["label"].get_shape().as_list() == [3]
    dense = tf.sparse_tensor_to_dense(parsed["tokens"], default_value=-1)
    one = tf.parse_single_example(blobs[0], {"tokens": tf.VarLenFeature(tf.int64)})["tokens"]
    words = tf.parse_single_example(_example(w=[b"a", b"bc"]), {"w": tf.VarLenFeature(tf.string)})["w"]
    tokens, d, label, o, w = _run([parsed["tokens"], dense, parsed["label"], one, words])
    assert tokens.indices.tolist() == [[0, 0], [0, 1], [0, 2], [2, 0]] and tokens.values.tolist() == [3, 1, 4, 5]
    assert tokens.dense_shape.tolist() == [3, 3] and label.tolist() == [1, 0, 1]
    assert d.tolist() == [[3, 1, 4], [-1, -1, -1], [5, -1, -1]]
    assert o.indices.tolist() == [[0], [1], [2]] and o.dense_shape.tolist() == [3]
    assert w.values.tolist() == [b"a", b"bc"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="Data types don't match"):
        _run(tf.parse_example([_example(tokens=[1.5])], {"tokens": tf.VarLenFeature(tf.int64)})["tokens"])
