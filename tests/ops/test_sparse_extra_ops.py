"""The TF 1.x sparse functions beyond the core: results against NumPy on the dense form, TF's edge cases
(thresholds, implicit zeros, empty rows, uneven splits), gradients, and errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf

I64 = np.int64


def _run(x, feed=None):
    with tf.Session() as sess:
        return sess.run(x, feed)


def _dense(v):
    return np.asarray(_run(tf.sparse_tensor_to_dense(v) if isinstance(v, tf.SparseTensor) else v))


def _st(idx, vals, shape):
    return tf.SparseTensor(np.asarray(idx, I64), np.asarray(vals, np.float32), shape)


A = ([[0, 0], [1, 1]], [0.5, -2.0], [2, 3])
B = ([[0, 0], [1, 2]], [-0.4, 0.1], [2, 3])


# -- add ------------------------------------------------------------------------------------------------
def test_sparse_add_merges_in_row_major_order():
    out = _run(tf.sparse_add(_st(*A), _st(*B)))
    np.testing.assert_array_equal(out.indices, [[0, 0], [1, 1], [1, 2]])
    np.testing.assert_allclose(out.values, [0.1, -2.0, 0.1], rtol=1e-6)
    np.testing.assert_array_equal(out.dense_shape, [2, 3])


def test_sparse_add_threshold_drops_only_cancelled_sums():
    # 0.5 + -0.4 falls under the threshold; b's lone 0.1 is kept although it is smaller too (TF's rule)
    for kw in ({"thresh": 0.2}, {"threshold": 0.2}):
        out = _run(tf.sparse_add(_st(*A), _st(*B), **kw))
        np.testing.assert_array_equal(out.indices, [[1, 1], [1, 2]])


def test_sparse_add_with_dense_gives_dense_either_order():
    d = np.arange(6, dtype=np.float32).reshape(2, 3)
    want = d + np.array([[0.5, 0, 0], [0, -2, 0]], np.float32)
    np.testing.assert_allclose(_run(tf.sparse_add(_st(*A), d)), want)
    np.testing.assert_allclose(_run(tf.sparse.add(d, _st(*A))), want)


def test_sparse_add_errors():
    with pytest.raises(TypeError, match="at least one operand"):
        tf.sparse_add(tf.constant([1.0]), tf.constant([2.0]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="same dense shape"):
        _run(tf.sparse_add(_st(*A), _st([[0, 0]], [1.0], [3, 3])))


def test_sparse_add_gradient_routes_to_both_operands():
    a = tf.placeholder(tf.float32, [2])
    b = tf.placeholder(tf.float32, [2])
    s = tf.sparse_add(tf.SparseTensor(A[0], a, A[2]), tf.SparseTensor(B[0], b, B[2]))
    ga, gb = tf.gradients(tf.reduce_sum(s.values * tf.constant([1.0, 2.0, 3.0])), [a, b])
    got = _run([ga, gb], {a: [1, 1], b: [1, 1]})
    np.testing.assert_allclose(got[0], [1, 2])  # [0,0] merged (slot 0), [1,1] slot 1
    np.testing.assert_allclose(got[1], [1, 3])


# -- concat / reshape / slice / split ---------------------------------------------------------------------
def test_sparse_concat_matches_dense_concat():
    a, b = _st(*A), _st(*B)
    assert tf.sparse_concat(1, [a, b]).get_shape().as_list() == [2, 6]
    for axis in (0, 1, -1):
        want = np.concatenate([_dense(a), _dense(b)], axis=axis)
        np.testing.assert_allclose(_dense(tf.sparse_concat(axis, [a, b])), want)


def test_sparse_concat_expand_nonconcat_dim_and_mismatch_error():
    a, b = _st([[0, 0]], [1.0], [2, 2]), _st([[2, 1]], [2.0], [3, 2])
    out = _run(tf.sparse_concat(1, [a, b], expand_nonconcat_dim=True))
    np.testing.assert_array_equal(out.indices, [[0, 0], [2, 3]])
    np.testing.assert_array_equal(out.dense_shape, [3, 4])
    with pytest.raises(tf.errors.InvalidArgumentError, match="expand_nonconcat_dim"):
        _run(tf.sparse_concat(1, [a, b]))


def test_sparse_reshape_with_inferred_dim_and_errors():
    sp = _st([[0, 1], [1, 0], [1, 2]], [1.0, 2.0, 3.0], [2, 3])
    out = tf.sparse_reshape(sp, [3, -1])
    assert out.get_shape().as_list() == [3, 2]
    np.testing.assert_allclose(_dense(out), _dense(sp).reshape(3, 2))
    with pytest.raises(tf.errors.InvalidArgumentError, match="cannot reshape"):
        _run(tf.sparse_reshape(sp, tf.placeholder_with_default(np.array([4, 2], I64), [2])).indices)
    with pytest.raises(ValueError, match="cannot reshape"):
        tf.sparse_reshape(sp, [4, 2])


def test_sparse_slice_clips_to_the_shape_and_its_gradient():
    v = tf.placeholder(tf.float32, [3])
    sp = tf.SparseTensor([[0, 0], [1, 3], [2, 4]], v, [3, 5])
    out = tf.sparse_slice(sp, [1, 1], [5, 5])
    got = _run(out, {v: [1, 2, 3]})
    np.testing.assert_array_equal(got.indices, [[0, 2], [1, 3]])
    np.testing.assert_array_equal(got.dense_shape, [2, 4])
    g = tf.gradients(tf.reduce_sum(out.values * tf.constant([10.0, 100.0])), v)[0]
    np.testing.assert_allclose(_run(g, {v: [1, 2, 3]}), [0, 10, 100])


def test_sparse_split_uneven_pieces():
    sp = _st([[0, 0], [0, 4], [1, 2], [1, 3]], [1, 2, 3, 4], [2, 5])
    parts = tf.sparse_split(sp_input=sp, num_split=2, axis=1)
    dense = _dense(sp)
    np.testing.assert_allclose(_dense(parts[0]), dense[:, :3])  # 5 // 2 + 1 for the first piece
    np.testing.assert_allclose(_dense(parts[1]), dense[:, 3:])
    with pytest.raises(ValueError, match="keyword"):
        tf.sparse_split(sp, 2, 1)
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_split"):
        _run(tf.sparse_split(sp_input=sp, num_split=6, axis=1)[0].indices)


# -- reorder / retain / fill / transpose ------------------------------------------------------------------
def test_sparse_reorder_and_its_gradient():
    v = tf.placeholder(tf.float32, [3])
    out = tf.sparse_reorder(tf.SparseTensor([[1, 0], [0, 2], [0, 1]], v, [2, 3]))
    got = _run(out, {v: [1, 2, 3]})
    np.testing.assert_array_equal(got.indices, [[0, 1], [0, 2], [1, 0]])
    np.testing.assert_allclose(got.values, [3, 2, 1])
    g = tf.gradients(tf.reduce_sum(out.values * tf.constant([1.0, 10.0, 100.0])), v)[0]
    np.testing.assert_allclose(_run(g, {v: [1, 2, 3]}), [100, 10, 1])


def test_sparse_retain_and_length_check():
    sp = _st([[0, 1], [1, 0], [1, 2]], [1, 2, 3], [2, 3])
    out = _run(tf.sparse_retain(sp, [True, False, True]))
    np.testing.assert_array_equal(out.indices, [[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="3 entries"):
        tf.sparse_retain(sp, [True, False])


def test_sparse_fill_empty_rows_and_gradient():
    v = tf.placeholder(tf.float32, [2])
    d = tf.placeholder(tf.float32, [])
    sp, empty = tf.sparse_fill_empty_rows(tf.SparseTensor([[1, 0], [3, 2]], v, [5, 3]), d)
    got, e = _run([sp, empty], {v: [1, 2], d: -1})
    np.testing.assert_array_equal(got.indices, [[0, 0], [1, 0], [2, 0], [3, 2], [4, 0]])
    np.testing.assert_allclose(got.values, [-1, 1, -1, 2, -1])
    np.testing.assert_array_equal(e, [True, False, True, False, True])
    gv, gd = tf.gradients(tf.reduce_sum(sp.values * tf.constant([1.0, 2, 3, 4, 5])), [v, d])
    got_v, got_d = _run([gv, gd], {v: [1, 2], d: -1})
    np.testing.assert_allclose(got_v, [2, 4])
    assert got_d == 1 + 3 + 5  # the default filled rows 0, 2 and 4


def test_sparse_transpose_default_and_perm():
    dense = np.arange(24, dtype=np.float32).reshape(2, 3, 4) * (np.arange(24).reshape(2, 3, 4) % 3 == 0)
    sp = tf.sparse.from_dense(dense)
    np.testing.assert_allclose(_dense(tf.sparse_transpose(sp)), dense.transpose())
    np.testing.assert_allclose(_dense(tf.sparse.transpose(sp, [1, 0, 2])), dense.transpose(1, 0, 2))


# -- softmax / maximum / minimum / reductions --------------------------------------------------------------
def test_sparse_softmax_ignores_missing_entries_and_has_gradient():
    v = tf.placeholder(tf.float64, [3])
    sp = tf.SparseTensor([[0, 0], [0, 2], [1, 1]], v, [2, 3])
    out = tf.sparse_softmax(sp)
    x = np.array([1.0, 2.0, 5.0])
    got = _run(out.values, {v: x})
    np.testing.assert_allclose(got, [np.exp(1) / (np.exp(1) + np.exp(2)), np.exp(2) / (np.exp(1) + np.exp(2)), 1.0])
    g = _run(tf.gradients(out.values[0], v)[0], {v: x})
    p = got[0]
    np.testing.assert_allclose(g, [p * (1 - p), -p * (1 - p), 0.0], atol=1e-12)


def test_sparse_maximum_minimum_count_missing_entries_as_zero():
    a, b = _st([[0, 0]], [-1.0], [2, 2]), _st([[0, 0], [1, 1]], [-3.0, -2.0], [2, 2])
    np.testing.assert_allclose(_dense(tf.sparse_maximum(a, b)), [[-1, 0], [0, 0]])
    np.testing.assert_allclose(_dense(tf.sparse.minimum(a, b)), [[-3, 0], [0, -2]])


def test_sparse_reduce_max_over_entries_only():
    sp = _st([[0, 0], [0, 2], [1, 1]], [-1.0, -3.0, 4.0], [3, 3])
    np.testing.assert_allclose(_run(tf.sparse_reduce_max(sp, axis=1)), [-1, 4, 0])
    np.testing.assert_allclose(_run(tf.sparse_reduce_max(sp, 1, keepdims=True)), [[-1], [4], [0]])
    assert _run(tf.sparse_reduce_max(sp)) == 4
    out = _run(tf.sparse_reduce_max_sparse(sp, axis=1))
    np.testing.assert_array_equal(out.indices, [[0], [1]])
    np.testing.assert_allclose(out.values, [-1, 4])
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of range"):
        _run(tf.sparse_reduce_max(sp, axis=2))


def test_reductions_over_no_axes_reduce_nothing_and_unknown_rank_reduces_all():
    sp = _st([[0, 0], [1, 2]], [1.0, 2.0], [2, 3])
    np.testing.assert_allclose(_run(tf.sparse_reduce_sum(sp, axis=[])), _dense(sp))
    np.testing.assert_allclose(_run(tf.sparse_reduce_max(sp, axis=[])), _dense(sp))
    shape = tf.placeholder(tf.int64)
    unknown = tf.SparseTensor(sp.indices, sp.values, shape)
    assert _run(tf.sparse_reduce_sum(unknown), {shape: [2, 3]}) == 3.0
    assert _run(tf.sparse_reduce_max(unknown), {shape: [2, 3]}) == 2.0


def test_sparse_reduce_sum_sparse_and_sum_gradient():
    v = tf.placeholder(tf.float32, [3])
    sp = tf.SparseTensor([[0, 0], [0, 2], [2, 1]], v, [3, 3])
    out = _run(tf.sparse_reduce_sum_sparse(sp, axis=0), {v: [1, 2, 3]})
    np.testing.assert_array_equal(out.indices, [[0], [1], [2]])
    np.testing.assert_allclose(out.values, [1, 3, 2])
    total = tf.sparse_reduce_sum(sp, axis=1)
    g = tf.gradients(tf.reduce_sum(total * tf.constant([1.0, 2.0, 3.0])), v)[0]
    np.testing.assert_allclose(_run(g, {v: [1, 2, 3]}), [1, 1, 3])


def test_sparse_times_and_over_dense_broadcast():
    sp = _st([[0, 1], [1, 2]], [2.0, 3.0], [2, 3])
    np.testing.assert_allclose(_run((sp * tf.constant([1.0, 10.0, 100.0])).values), [20, 300])
    np.testing.assert_allclose(_run((sp / tf.constant([[2.0], [3.0]])).values), [1, 1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="does not broadcast"):
        _run((sp * tf.constant([1.0, 2.0])).values)


# -- indicator / merge / reset_shape / mask / from_dense / expand_dims / eye ----------------------------------
def test_sparse_to_indicator_and_merge():
    ids = tf.SparseTensor([[0, 0], [0, 1], [1, 0]], np.array([2, 0, 3], I64), [2, 2])
    np.testing.assert_array_equal(_run(tf.sparse_to_indicator(ids, 4)),
                                  [[True, False, True, False], [False, False, False, True]])
    vals = _st([[0, 0], [0, 1], [1, 0]], [0.5, 1.5, 2.5], [2, 2])
    np.testing.assert_allclose(_dense(tf.sparse_merge(ids, vals, 4)), [[1.5, 0, 0.5, 0], [0, 0, 0, 2.5]])


def test_sparse_reset_shape():
    sp = _st([[0, 1], [1, 2]], [1, 2], [4, 5])
    np.testing.assert_array_equal(_run(tf.sparse_reset_shape(sp).dense_shape), [2, 3])
    np.testing.assert_array_equal(_run(tf.sparse_reset_shape(sp, [6, 5]).dense_shape), [6, 5])
    with pytest.raises(ValueError, match="no smaller"):
        tf.sparse_reset_shape(sp, [3, 5])
    shape = tf.placeholder(tf.int64, [2])
    with pytest.raises(tf.errors.InvalidArgumentError):
        _run(tf.sparse_reset_shape(sp, shape).dense_shape, {shape: [3, 5]})


def test_sparse_mask_drops_masked_slices():
    a = tf.IndexedSlices(tf.constant([[1.0], [2.0], [3.0]]), tf.constant([12, 26, 37]), tf.constant([40, 1]))
    out = tf.sparse_mask(a, [12, 37])
    idx, vals = _run([out.indices, out.values])
    np.testing.assert_array_equal(idx, [26])
    np.testing.assert_allclose(vals, [[2.0]])


def test_from_dense_expand_dims_and_eye():
    d = np.array([[0, 1], [2, 0]], np.int32)
    sp = tf.sparse.from_dense(d)
    out = _run(sp)
    np.testing.assert_array_equal(out.indices, [[0, 1], [1, 0]])
    np.testing.assert_array_equal(out.values, [1, 2])
    np.testing.assert_array_equal(_dense(tf.sparse.expand_dims(sp, 1)), d[:, None, :])
    np.testing.assert_array_equal(_dense(tf.sparse.expand_dims(sp)), d[..., None])
    np.testing.assert_allclose(_dense(tf.sparse.eye(2, 3)), np.eye(2, 3))
    with pytest.raises(ValueError, match="out of range"):
        tf.sparse.expand_dims(sp, 4)


# -- serialization and edit distance ---------------------------------------------------------------------
def test_serialize_many_then_deserialize_roundtrips():
    sp = _st([[0, 0, 1], [1, 1, 0], [1, 1, 2]], [1, 2, 3], [2, 3, 4])
    back = tf.deserialize_many_sparse(tf.serialize_many_sparse(sp), tf.float32)
    np.testing.assert_allclose(_dense(back), _dense(sp))
    one = _run(tf.serialize_sparse(sp))
    assert one.shape == (3,) and all(isinstance(x, bytes) for x in one)


def test_deserialize_many_sparse_pads_to_the_largest_shape_and_checks_dtype():
    a, b = tf.serialize_sparse(_st([[0]], [1.0], [2])), tf.serialize_sparse(_st([[3]], [2.0], [4]))
    out = _run(tf.deserialize_many_sparse(tf.stack([a, b]), tf.float32))
    np.testing.assert_array_equal(out.indices, [[0, 0], [1, 3]])
    np.testing.assert_array_equal(out.dense_shape, [2, 4])
    with pytest.raises(tf.errors.InvalidArgumentError, match="dtype is int64"):
        _run(tf.deserialize_many_sparse(tf.stack([a, b]), tf.int64).values)
    with pytest.raises(tf.errors.InvalidArgumentError, match="TensorProto"):
        _run(tf.deserialize_many_sparse([[b"\xff\xff", b"x", b"y"]], tf.float32).values)


def test_edit_distance_normalized_and_not():
    hyp = tf.SparseTensor([[0, 0, 0], [1, 0, 0]], np.array([b"a", b"b"], object), [2, 1, 1])
    truth = tf.SparseTensor([[0, 0, 0], [0, 0, 1], [1, 0, 0]], np.array([b"a", b"c", b"b"], object), [2, 1, 2])
    np.testing.assert_allclose(_run(tf.edit_distance(hyp, truth)), [[0.5], [0.0]])
    np.testing.assert_allclose(_run(tf.edit_distance(hyp, truth, normalize=False)), [[1.0], [0.0]])
    empty = tf.SparseTensor(np.zeros((0, 2), I64), np.zeros(0, np.int32), [1, 1])
    some = tf.SparseTensor([[0, 0]], np.array([3], np.int32), [1, 1])
    assert np.isinf(_run(tf.edit_distance(some, empty))[0])
    with pytest.raises(TypeError, match="does not match type"):
        tf.edit_distance(some, hyp)


def test_namespace_names():
    for n in ("add", "concat", "reshape", "slice", "retain", "reorder", "softmax", "maximum", "minimum",
              "reduce_max", "reduce_sum", "transpose", "split", "to_indicator", "merge", "reset_shape", "mask",
              "fill_empty_rows", "to_dense", "from_dense", "expand_dims", "eye", "matmul"):
        assert callable(getattr(tf.sparse, n)), n


def test_sparse_cross_strings_and_hashes_match_tf():
    a = tf.SparseTensor([[0, 0], [0, 1], [1, 0]], np.array([b"a", b"b", b"c"], object), [2, 2])
    b = tf.SparseTensor([[0, 0], [1, 0], [1, 1]], np.array([1, 2, 3], I64), [2, 2])
    d = tf.constant(np.array([[b"x"], [b"y"]], object))
    crossed = _run(tf.sparse.cross([a, b, d]))
    assert list(crossed.values) == [b"a_X_1_X_x", b"b_X_1_X_x", b"c_X_2_X_y", b"c_X_3_X_y"]
    np.testing.assert_array_equal(crossed.dense_shape, [2, 2])
    # values TensorFlow 2.21's tf.compat.v1.sparse.cross_hashed gives for these inputs
    np.testing.assert_array_equal(_run(tf.sparse.cross_hashed([a, b, d], num_buckets=100)).values, [67, 1, 44, 71])
    np.testing.assert_array_equal(_run(tf.sparse.cross_hashed([a, b], hash_key=7)).values,
                                  [7182250513110948477, 8808784363685766852, 8237802719002535112,
                                   6430925145652085205])
    with pytest.raises(TypeError, match="int64 or string"):
        tf.sparse.cross([tf.constant([[1.0]])])


def test_sparse_matmul_float32_output_bfloat16_inputs_and_errors():
    a = np.array([[1.0, 0.0], [0.0, 2.0]], np.float32)
    b = np.array([[3.0], [4.0]], np.float32)
    x = tf.cast(tf.constant(a), tf.bfloat16)
    out = tf.sparse_matmul(x, b, a_is_sparse=True)
    assert out.dtype == tf.float32 and out.get_shape().as_list() == [2, 1]
    np.testing.assert_allclose(_run(out), a @ b)
    ga = tf.gradients(out, x)[0]
    assert ga.dtype == tf.bfloat16
    np.testing.assert_allclose(_run(tf.cast(ga, tf.float32)), np.ones((2, 1)) @ b.T)
    with pytest.raises(TypeError, match="float32 or bfloat16"):
        tf.sparse_matmul(tf.constant(a, tf.float64), b)
    with pytest.raises(ValueError, match="Dimensions must be equal"):
        tf.sparse_matmul(a, b, transpose_b=True)
