"""SequenceExample parsing (parse_single_sequence_example, parse_sequence_example), FixedLenSequenceFeature and
SparseFeature in parse_example: values, padding, missing feature lists, static shapes and errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.ops.parsing_ops import (
    FixedLenSequenceFeature,
    SparseFeature,
    parse_sequence_example,
    parse_single_sequence_example,
)


def _seq(length=None, frames=(), ids=None, words=None) -> bytes:
    ctx = {}
    if length is not None:
        ctx["length"] = tf.train.Feature(int64_list=tf.train.Int64List(value=[length]))
    lists = {"frames": tf.train.FeatureList(feature=[tf.train.Feature(float_list=tf.train.FloatList(value=f))
                                                     for f in frames])}
    if ids is not None:
        lists["ids"] = tf.train.FeatureList(feature=[tf.train.Feature(int64_list=tf.train.Int64List(value=i))
                                                     for i in ids])
    if words is not None:
        lists["words"] = tf.train.FeatureList(feature=[tf.train.Feature(bytes_list=tf.train.BytesList(value=[w]))
                                                       for w in words])
    return tf.train.SequenceExample(context=tf.train.Features(feature=ctx),
                                    feature_lists=tf.train.FeatureLists(feature_list=lists)).SerializeToString()


def _run(x):
    with tf.Session() as sess:
        return sess.run(x)


def test_single_sequence_example_context_and_feature_lists():
    s = _seq(3, [[1, 2], [3, 4], [5, 6]], ids=[[1], [2, 3], []], words=[b"a", b"b", b"c"])
    ctx, seq = parse_single_sequence_example(
        s, context_features={"length": tf.FixedLenFeature([], tf.int64),
                             "weight": tf.FixedLenFeature([], tf.float32, default_value=0.5)},
        sequence_features={"frames": FixedLenSequenceFeature([2], tf.float32), "ids": tf.VarLenFeature(tf.int64),
                           "words": FixedLenSequenceFeature([], tf.string)})
    assert seq["frames"].get_shape().as_list() == [None, 2]
    c, q = _run([ctx, seq])
    assert c["length"] == 3 and c["weight"] == 0.5
    np.testing.assert_allclose(q["frames"], [[1, 2], [3, 4], [5, 6]])
    np.testing.assert_array_equal(q["ids"].indices, [[0, 0], [1, 0], [1, 1]])
    np.testing.assert_array_equal(q["ids"].dense_shape, [3, 2])
    assert list(q["words"]) == [b"a", b"b", b"c"]


def test_missing_feature_list_needs_allow_missing():
    s = _seq(1, [[1, 2]])
    _, seq = parse_single_sequence_example(s, sequence_features={
        "absent": FixedLenSequenceFeature([3], tf.int64, allow_missing=True)})
    assert _run(seq["absent"]).shape == (0, 3)
    _, seq = parse_single_sequence_example(s, sequence_features={"absent": FixedLenSequenceFeature([], tf.int64)})
    with pytest.raises(tf.errors.InvalidArgumentError, match="'absent' is required"):
        _run(seq["absent"])


def test_batched_sequences_pad_with_default_and_report_lengths():
    batch = [_seq(2, [[1, 2], [3, 4]], ids=[[7], [8, 9]]), _seq(1, [[5, 6]], ids=[[]])]
    ctx, seq, lengths = parse_sequence_example(
        batch, context_features={"length": tf.FixedLenFeature([], tf.int64)},
        sequence_features={"frames": FixedLenSequenceFeature([2], tf.float32), "ids": tf.VarLenFeature(tf.int64)})
    assert seq["frames"].get_shape().as_list() == [2, None, 2]
    c, q, n = _run([ctx, seq, lengths])
    np.testing.assert_array_equal(c["length"], [2, 1])
    np.testing.assert_allclose(q["frames"], [[[1, 2], [3, 4]], [[5, 6], [0, 0]]])
    np.testing.assert_array_equal(n["frames"], [2, 1])
    np.testing.assert_array_equal(q["ids"].indices, [[0, 0, 0], [0, 1, 0], [0, 1, 1]])
    np.testing.assert_array_equal(q["ids"].dense_shape, [2, 2, 2])


def test_sequence_parsing_errors():
    s = _seq(1, [[1, 2, 3]])
    _, seq = parse_single_sequence_example(s, sequence_features={"frames": FixedLenSequenceFeature([2], tf.float32)})
    with pytest.raises(tf.errors.InvalidArgumentError, match="values size: 3"):
        _run(seq["frames"])
    _, seq = parse_single_sequence_example(s, sequence_features={"frames": FixedLenSequenceFeature([3], tf.int64)})
    with pytest.raises(tf.errors.InvalidArgumentError, match="Data types don't match"):
        _run(seq["frames"])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Could not parse"):
        _run(parse_single_sequence_example(b"\xff\xfe", {"length": tf.FixedLenFeature([], tf.int64)})[0]["length"])
    with pytest.raises(ValueError, match="Missing features"):
        parse_single_sequence_example(s)
    with pytest.raises(ValueError, match="FixedLenSequenceFeature"):
        parse_single_sequence_example(s, sequence_features={"frames": tf.FixedLenFeature([2], tf.float32)})
    with pytest.raises(ValueError, match="default_value must be None"):
        parse_single_sequence_example(s, sequence_features={"frames": FixedLenSequenceFeature([2], tf.float32,
                                                                                              default_value=1.0)})
    with pytest.raises(ValueError, match="rank 0"):
        parse_single_sequence_example([s], {"length": tf.FixedLenFeature([], tf.int64)})


def _example(**feats) -> bytes:
    f = {}
    for k, v in feats.items():
        if isinstance(v[0], float):
            f[k] = tf.train.Feature(float_list=tf.train.FloatList(value=v))
        else:
            f[k] = tf.train.Feature(int64_list=tf.train.Int64List(value=v))
    return tf.train.Example(features=tf.train.Features(feature=f)).SerializeToString()


def test_sparse_feature_in_parse_example_and_single():
    feats = {"sp": SparseFeature("idx", "val", tf.float32, 5)}
    batch = [_example(idx=[3, 0], val=[1.0, 2.0]), _example(idx=[4], val=[7.0])]
    out = _run(tf.parse_example(batch, feats))["sp"]
    np.testing.assert_array_equal(out.indices, [[0, 0], [0, 3], [1, 4]])  # reordered, as TF's sparse_merge does
    np.testing.assert_allclose(out.values, [2, 1, 7])
    np.testing.assert_array_equal(out.dense_shape, [2, 5])
    one = _run(tf.parse_single_example(batch[0], feats))["sp"]
    np.testing.assert_array_equal(one.indices, [[0], [3]])
    np.testing.assert_array_equal(one.dense_shape, [5])
    with pytest.raises(ValueError, match="one index_key"):
        tf.parse_example(batch, {"sp": SparseFeature(["i", "j"], "val", tf.float32, [2, 2])})


def test_fixed_len_sequence_feature_in_parse_example():
    batch = [_example(x=[1.0, 2.0, 3.0, 4.0]), _example(x=[5.0, 6.0])]
    feats = {"x": FixedLenSequenceFeature([2], tf.float32, allow_missing=True, default_value=9.0)}
    np.testing.assert_allclose(_run(tf.parse_example(batch, feats))["x"], [[[1, 2], [3, 4]], [[5, 6], [9, 9]]])
    np.testing.assert_allclose(_run(tf.parse_single_example(batch[1], feats))["x"], [[5, 6]])
    with pytest.raises(ValueError, match="allow_missing=True"):
        tf.parse_example(batch, {"x": FixedLenSequenceFeature([2], tf.float32)})


def test_fixed_len_sequence_feature_needs_whole_steps():
    batch = [_example(x=[1.0, 2.0, 3.0]), _example(x=[5.0, 6.0, 7.0, 8.0])]
    feats = {"x": FixedLenSequenceFeature([2], tf.float32, allow_missing=True)}
    with pytest.raises(tf.errors.InvalidArgumentError, match="not a multiple"):
        _run(tf.parse_example(batch, feats)["x"])
