"""The extra array ops (unique, sort, where_v2, sequence ops, matrix diagonals, einsum, tensordot, space/depth
rearrangements, counting ops): TF1 names and signatures, static shapes, gradients and error cases."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


# -- unique / setdiff1d / sort / searchsorted -------------------------------------------------------------
def test_unique_keeps_first_appearance_order():
    y, idx = tf.unique([1, 1, 2, 4, 4, 4, 7, 8, 8])
    assert y.op.type == "Unique" and idx.dtype == tf.int32
    got = _run(tf.unique([7, 1, 7, 3]))
    np.testing.assert_array_equal(got.y, [7, 1, 3])
    np.testing.assert_array_equal(got.idx, [0, 1, 0, 2])
    c = tf.unique_with_counts(tf.constant([b"b", b"a", b"b"]), out_idx=tf.int64)
    assert c.count.dtype == tf.int64
    y, idx, count = _run(list(c))
    assert list(y) == [b"b", b"a"] and list(idx) == [0, 1, 0] and list(count) == [2, 1]
    with pytest.raises(ValueError, match="rank 1"):
        tf.unique([[1, 2]])
    with pytest.raises(TypeError, match="int32 or int64"):
        tf.unique([1, 2], out_idx=tf.float32)


def test_setdiff1d():
    out, idx = _run(list(tf.setdiff1d([1, 2, 3, 4, 5, 6], [1, 3, 5])))
    np.testing.assert_array_equal(out, [2, 4, 6])
    np.testing.assert_array_equal(idx, [1, 3, 5])
    assert tf.setdiff1d([1], [2]).out.op.type == "ListDiff"


def test_sort_and_argsort():
    x = tf.constant([[3.0, 1.0, 2.0], [0.0, -1.0, 5.0]])
    np.testing.assert_array_equal(_run(tf.sort(x)), [[1, 2, 3], [-1, 0, 5]])
    np.testing.assert_array_equal(_run(tf.sort(x, axis=0, direction="DESCENDING")), [[3, 1, 5], [0, -1, 2]])
    np.testing.assert_array_equal(_run(tf.argsort(x)), [[1, 2, 0], [1, 0, 2]])
    np.testing.assert_array_equal(_run(tf.argsort([2, 1, 2, 1], stable=True)), [1, 3, 0, 2])
    g = tf.gradients(tf.reduce_sum(tf.sort(x) * [[1.0, 2.0, 3.0]]), x)[0]
    np.testing.assert_array_equal(_run(g), [[3, 1, 2], [2, 1, 3]])
    with pytest.raises(ValueError, match="direction"):
        tf.sort(x, direction="UP")
    with pytest.raises(ValueError, match="out of range"):
        tf.sort(x, axis=2)
    with pytest.raises(TypeError, match="real number"):
        tf.sort(tf.constant([True]))


def test_searchsorted():
    s = [[0.0, 3.0, 9.0, 9.0, 10.0], [1.0, 2.0, 3.0, 4.0, 5.0]]
    v = [[2.0, 4.0, 10.0], [0.0, 5.0, 6.0]]
    np.testing.assert_array_equal(_run(tf.searchsorted(s, v)), [[1, 2, 4], [0, 4, 5]])
    right = tf.searchsorted(s, v, side="right", out_type=tf.int64)
    assert right.op.type == "UpperBound" and right.dtype == tf.int64
    np.testing.assert_array_equal(_run(right), [[1, 2, 5], [0, 5, 5]])
    with pytest.raises(ValueError, match="side"):
        tf.searchsorted(s, v, side="middle")
    with pytest.raises(ValueError):
        tf.searchsorted([[1.0, 2.0]], [[1.0], [2.0]])


# -- counting ----------------------------------------------------------------------------------------------
def test_bincount_and_histogram():
    np.testing.assert_array_equal(_run(tf.bincount([1, 1, 3], minlength=6)), [0, 2, 0, 1, 0, 0])
    np.testing.assert_allclose(_run(tf.bincount([0, 2, 2], weights=[0.5, 1.0, 2.0])), [0.5, 0, 3.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="non-negative"):
        _run(tf.bincount([1, -1]))
    h = tf.histogram_fixed_width([-1.0, 0.0, 1.5, 2.0, 5.0, 15.0], [0.0, 5.0], nbins=5)
    assert h.get_shape().as_list() == [5]
    np.testing.assert_array_equal(_run(h), [2, 1, 1, 0, 2])
    with pytest.raises(ValueError, match="positive"):
        tf.histogram_fixed_width([1.0], [0.0, 1.0], nbins=0)


def test_unravel_index_and_confusion_matrix():
    np.testing.assert_array_equal(_run(tf.unravel_index([2, 5, 7], [3, 3])), [[0, 1, 2], [2, 2, 1]])
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of bounds"):
        _run(tf.unravel_index(9, [3, 3]))
    cm = tf.confusion_matrix([1, 2, 4], [2, 2, 4])
    np.testing.assert_array_equal(_run(cm), [[0, 0, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 0, 0],
                                             [0, 0, 0, 0, 1]])
    assert _run(tf.confusion_matrix(tf.zeros([0], tf.int64), tf.zeros([0], tf.int64))).shape == (0, 0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="does not index"):
        _run(tf.confusion_matrix([0, 3], [0, 1], num_classes=3))


# -- where_v2 / sequence ops -----------------------------------------------------------------------------------
def test_where_v2_broadcasts_and_differentiates():
    x = tf.constant([1.0, 2.0, 3.0])
    y = tf.constant([[10.0], [20.0]])
    out = tf.where_v2([True, False, True], x, y)
    assert out.op.type == "SelectV2" and out.get_shape().as_list() == [2, 3]
    np.testing.assert_array_equal(_run(out), [[1, 10, 3], [1, 20, 3]])
    gx, gy = tf.gradients(tf.reduce_sum(out), [x, y])
    np.testing.assert_array_equal(_run(gx), [2, 0, 2])
    np.testing.assert_array_equal(_run(gy), [[1], [1]])
    np.testing.assert_array_equal(_run(tf.where_v2([True, False])), [[0]])
    with pytest.raises(ValueError, match="both"):
        tf.where_v2([True], x)


def test_sequence_mask():
    m = tf.sequence_mask([1, 3, 2], 5)
    assert m.dtype == tf.bool and m.get_shape().as_list() == [3, 5]
    np.testing.assert_array_equal(_run(m), np.arange(5) < np.array([1, 3, 2])[:, None])
    f = tf.sequence_mask(tf.constant([[1], [2]]), dtype=tf.float32)
    np.testing.assert_array_equal(_run(f), [[[1, 0]], [[1, 1]]])
    assert _run(tf.sequence_mask(tf.zeros([0], tf.int32))).shape == (0, 0)
    with pytest.raises(ValueError, match="scalar"):
        tf.sequence_mask([1], [2, 3])


def test_reverse_sequence():
    x = np.arange(12).reshape(3, 4)
    out = tf.reverse_sequence(x, [3, 0, 4], seq_axis=1, batch_axis=0)
    np.testing.assert_array_equal(_run(out), [[2, 1, 0, 3], [4, 5, 6, 7], [11, 10, 9, 8]])
    assert out.op.get_attr("seq_dim") == 1 and out.op.get_attr("batch_dim") == 0
    legacy = tf.reverse_sequence(x.T, [1, 2, 3], seq_dim=0, batch_dim=1)
    np.testing.assert_array_equal(_run(legacy)[:, 2], [10, 9, 8, 11])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"seq_lens\(1\) = 5"):
        _run(tf.reverse_sequence(x, [1, 5, 2], seq_axis=1))
    with pytest.raises(ValueError, match="must differ"):
        tf.reverse_sequence(x, [1, 1, 1], seq_axis=0, batch_axis=0)
    with pytest.raises(ValueError, match="len\\(seq_lengths\\)"):
        tf.reverse_sequence(x, [1, 1], seq_axis=1)


def test_roll_and_gradient():
    x = tf.constant(np.arange(6.0).reshape(2, 3))
    out = tf.roll(x, shift=[1, -1], axis=[0, 1])
    np.testing.assert_array_equal(_run(out), np.roll(np.arange(6.0).reshape(2, 3), (1, -1), (0, 1)))
    w = np.array([[1.0, 2, 3], [4, 5, 6]])
    g = tf.gradients(tf.reduce_sum(out * w), x)[0]
    np.testing.assert_array_equal(_run(g), np.roll(w, (-1, 1), (0, 1)))
    with pytest.raises(ValueError, match="same size"):
        tf.roll(x, [1, 2], [0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of range"):
        _run(tf.roll(x, 1, 2))


def test_lin_space_meshgrid_repeat():
    np.testing.assert_allclose(_run(tf.lin_space(10.0, 12.0, 3)), [10, 11, 12])
    assert tf.linspace is tf.lin_space
    with pytest.raises(ValueError, match="num > 0"):
        tf.lin_space(0.0, 1.0, 0)
    with pytest.raises(TypeError, match="floating"):
        tf.lin_space(0, 1, 3)
    x, y = _run(tf.meshgrid([1, 2, 3], [4, 5, 6, 7]))
    xe, ye = np.meshgrid([1, 2, 3], [4, 5, 6, 7])
    np.testing.assert_array_equal(x, xe)
    np.testing.assert_array_equal(y, ye)
    with pytest.raises(ValueError, match="indexing"):
        tf.meshgrid([1], [2], indexing="yx")
    np.testing.assert_array_equal(_run(tf.repeat([[1, 2], [3, 4]], [1, 2], axis=0)), [[1, 2], [3, 4], [3, 4]])
    flat = tf.repeat([[1, 2], [3, 4]], 2)
    assert flat.get_shape().as_list() == [8]
    np.testing.assert_array_equal(_run(flat), [1, 1, 2, 2, 3, 3, 4, 4])
    with pytest.raises(ValueError, match="out of range"):
        tf.repeat(tf.constant(1.0), 2, axis=0)
    with pytest.raises(ValueError, match="entries"):
        tf.repeat([[1, 2], [3, 4]], [1, 2, 3], axis=1)


# -- identity_n / ensure_shape / broadcast shapes / parallel_stack ----------------------------------------------
def test_identity_n_and_ensure_shape():
    a, b = tf.identity_n([tf.constant(1.0), tf.constant([2, 3])])
    assert a.op is b.op and a.op.type == "IdentityN"
    assert _run([a, b])[1].tolist() == [2, 3]
    ph = tf.placeholder(tf.float32, [None, None])
    e = tf.ensure_shape(ph, [None, 3])
    assert e.get_shape().as_list() == [None, 3]
    assert _run(e, {ph: np.zeros((2, 3))}).shape == (2, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="not compatible with expected shape"):
        _run(e, {ph: np.zeros((2, 4))})
    with pytest.raises(ValueError, match="not compatible"):
        tf.ensure_shape(tf.zeros([2]), [3])
    x = tf.constant(2.0)
    g = tf.gradients(tf.identity_n([x * x])[0], x)[0]
    assert _run(g) == 4.0


def test_broadcast_shapes_and_parallel_stack():
    s = tf.broadcast_static_shape(tf.TensorShape([None, 1, 3]), tf.TensorShape([4, 1]))
    assert s.as_list() == [None, 4, 3]
    with pytest.raises(ValueError, match="Incompatible shapes for broadcasting"):
        tf.broadcast_static_shape(tf.TensorShape([2]), tf.TensorShape([3]))
    np.testing.assert_array_equal(_run(tf.broadcast_dynamic_shape([2, 1, 3], [4, 1])), [2, 4, 3])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Incompatible shapes"):
        _run(tf.broadcast_dynamic_shape([2], [3]))
    p = tf.parallel_stack([tf.constant([1, 2]), tf.constant([3, 4])])
    assert p.op.type == "ParallelConcat" and p.get_shape().as_list() == [2, 2]
    np.testing.assert_array_equal(_run(p), [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match="fully known"):
        tf.parallel_stack([tf.placeholder(tf.float32, [None])])


# -- matrix ops ----------------------------------------------------------------------------------------------
def test_matrix_band_and_diag_ops():
    x = tf.constant(np.arange(1.0, 13.0).reshape(3, 4))
    np.testing.assert_array_equal(_run(tf.matrix_band_part(x, 0, -1)), np.triu(np.arange(1.0, 13.0).reshape(3, 4)))
    np.testing.assert_array_equal(_run(tf.matrix_band_part(x, -1, 0)), np.tril(np.arange(1.0, 13.0).reshape(3, 4)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="num_lower"):
        _run(tf.matrix_band_part(x, 4, 0))
    with pytest.raises(ValueError, match="at least rank 2"):
        tf.matrix_band_part(tf.zeros([3]), 0, 0)
    np.testing.assert_array_equal(_run(tf.matrix_diag_part(x)), [1, 6, 11])
    np.testing.assert_array_equal(_run(tf.matrix_diag([[1, 2]])), [[[1, 0], [0, 2]]])
    np.testing.assert_array_equal(_run(tf.matrix_set_diag(tf.zeros([2, 2]), [5.0, 6.0])), [[5, 0], [0, 6]])
    with pytest.raises(ValueError, match="min\\(rows, cols\\)"):
        tf.matrix_set_diag(tf.zeros([2, 3]), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(_run(tf.diag([1, 2])), [[1, 0], [0, 2]])
    np.testing.assert_array_equal(_run(tf.diag_part([[1, 2], [3, 4]])), [1, 4])
    with pytest.raises(ValueError, match="even rank"):
        tf.diag_part(tf.zeros([2, 2, 2]))
    with pytest.raises(ValueError, match="first half"):
        tf.diag_part(tf.zeros([2, 3]))


def test_eye():
    e = tf.eye(2, num_columns=3, batch_shape=[4], dtype=tf.int32)
    assert e.get_shape().as_list() == [4, 2, 3] and e.dtype == tf.int32
    np.testing.assert_array_equal(_run(e)[3], np.eye(2, 3))
    n = tf.placeholder(tf.int32, [])
    np.testing.assert_array_equal(_run(tf.eye(n, 2), {n: 3}), np.eye(3, 2))
    with pytest.raises(ValueError, match="non-negative"):
        tf.eye(-1)


def test_einsum():
    a = np.arange(6.0).reshape(2, 3)
    b = np.arange(12.0).reshape(3, 4)
    out = tf.einsum("ij,jk->ik", a, b)
    assert out.op.type == "Einsum" and out.op.get_attr("equation") == "ij,jk->ik"
    np.testing.assert_allclose(_run(out), a @ b)
    ph = tf.placeholder(tf.float32, [None, 5, 3])
    assert tf.einsum("...ij->...ji", ph).get_shape().as_list() == [None, 3, 5]
    x = tf.constant(a)
    g = tf.gradients(tf.einsum("ij->j", x), x)[0]  # i is summed away in x alone
    np.testing.assert_array_equal(_run(g), np.ones((2, 3)))
    sq = tf.constant(np.arange(9.0).reshape(3, 3))
    np.testing.assert_array_equal(_run(tf.gradients(tf.einsum("ii->", sq), sq)[0]), np.eye(3))
    np.testing.assert_array_equal(_run(tf.gradients(tf.einsum("ii->i", sq), sq)[0]), np.eye(3))
    with pytest.raises(ValueError, match="names 2 inputs"):
        tf.einsum("ij,jk->ik", a)
    with pytest.raises(ValueError, match="dimension 'j'"):
        tf.einsum("ij,jk->ik", a, a)
    with pytest.raises(ValueError, match="invalid subscripts"):
        tf.einsum("i1,j->ij", a, b)
    with pytest.raises(ValueError, match="distinct letters"):
        tf.einsum("ij->iz", a)


def test_cross():
    c = tf.cross([[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    assert c.op.type == "Cross" and c.get_shape().as_list() == [1, 3]
    np.testing.assert_array_equal(_run(c), [[0, 0, 1]])
    with pytest.raises(ValueError, match="inner dimension"):
        tf.cross([1.0, 2.0], [3.0, 4.0])


def test_tensordot():
    a = np.arange(24.0).reshape(2, 3, 4)
    b = np.arange(20.0).reshape(4, 5)
    out = tf.tensordot(a, b, axes=1)
    assert out.get_shape().as_list() == [2, 3, 5]
    np.testing.assert_allclose(_run(out), np.tensordot(a, b, 1))
    ph = tf.placeholder(tf.float64, [None, 3, 4])
    dyn = tf.tensordot(ph, b, [[2], [0]])
    assert dyn.get_shape().as_list() == [None, 3, 5]
    np.testing.assert_allclose(_run(dyn, {ph: a}), np.tensordot(a, b, 1))
    np.testing.assert_allclose(_run(tf.tensordot([1.0, 2.0], [3.0, 4.0], 0)), np.outer([1, 2], [3, 4]))
    m = tf.constant(np.arange(6.0).reshape(2, 3))
    mm = tf.tensordot(m, m, [[0], [0]])  # the same tensor on both sides
    assert mm.get_shape().as_list() == [3, 3]
    np.testing.assert_allclose(_run(mm), np.arange(6.0).reshape(2, 3).T @ np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError, match="contracted dimensions differ"):
        tf.tensordot(a, b, [[1], [0]])
    with pytest.raises(ValueError, match="axes=4"):
        tf.tensordot(a, b, 4)


# -- space / depth / batch -------------------------------------------------------------------------------------
def test_space_depth_round_trip_and_errors():
    x = np.arange(32.0).reshape(1, 4, 4, 2)
    s = tf.space_to_depth(x, 2)
    assert s.get_shape().as_list() == [1, 2, 2, 8]
    np.testing.assert_array_equal(_run(tf.depth_to_space(s, 2)), x)
    np.testing.assert_array_equal(_run(s)[0, 0, 0], [0, 1, 2, 3, 8, 9, 10, 11])
    with pytest.raises(ValueError, match="not divisible"):
        tf.space_to_depth(tf.zeros([1, 3, 4, 1]), 2)
    with pytest.raises(ValueError, match="block_size must be at least 2"):
        tf.depth_to_space(tf.zeros([1, 1, 1, 4]), 1)
    with pytest.raises(ValueError, match="rank 4"):
        tf.space_to_depth(tf.zeros([4, 4]), 2)


def test_space_batch_round_trip_and_errors():
    x = np.arange(2 * 4 * 6 * 1.0).reshape(2, 4, 6, 1)
    b = tf.space_to_batch_nd(x, [2, 3], [[0, 0], [0, 0]])
    assert b.get_shape().as_list() == [12, 2, 2, 1]
    np.testing.assert_array_equal(_run(tf.batch_to_space_nd(b, [2, 3], [[0, 0], [0, 0]])), x)
    padded = tf.space_to_batch(np.ones((1, 2, 2, 1)), [[1, 1], [1, 1]], block_size=2)
    assert tf.batch_to_space(padded, [[1, 1], [1, 1]], block_shape=2).get_shape().as_list() == [1, 2, 2, 1]
    with pytest.raises(TypeError, match="space_to_batch_nd"):
        tf.space_to_batch(np.ones((1, 2, 2, 1)), [[0, 0], [0, 0]])
    assert padded.get_shape().as_list() == [4, 2, 2, 1]
    assert _run(tf.reduce_sum(padded)) == 4.0
    with pytest.raises(ValueError, match="not divisible"):
        tf.space_to_batch_nd(tf.zeros([1, 3, 3, 1]), [2, 2], [[0, 0], [0, 0]])
    with pytest.raises(ValueError, match="crops"):
        tf.batch_to_space_nd(tf.zeros([4, 1, 1, 1]), [2, 2], [[2, 1], [0, 0]])
    block = tf.placeholder(tf.int32, [2])
    with pytest.raises(tf.errors.InvalidArgumentError, match="divisible"):
        _run(tf.space_to_batch_nd(tf.zeros([1, 3, 3, 1]), block, [[0, 0], [0, 0]]), {block: [2, 2]})


def test_extract_image_patches():
    x = np.arange(16.0).reshape(1, 4, 4, 1)
    p = tf.extract_image_patches(x, ksizes=[1, 2, 2, 1], strides=[1, 2, 2, 1], rates=[1, 1, 1, 1], padding="VALID")
    assert p.op.type == "ExtractImagePatches" and p.get_shape().as_list() == [1, 2, 2, 4]
    np.testing.assert_array_equal(_run(p)[0, 1, 0], [8, 9, 12, 13])
    same = tf.extract_image_patches(x, [1, 3, 3, 1], [1, 3, 3, 1], [1, 1, 1, 1], "SAME")
    assert same.get_shape().as_list() == [1, 2, 2, 9]
    np.testing.assert_array_equal(_run(same)[0, 0, 0], [0, 0, 0, 0, 0, 1, 0, 4, 5])
    xt = tf.constant(x)
    g = tf.gradients(tf.extract_image_patches(xt, [1, 3, 3, 1], [1, 1, 1, 1], [1, 1, 1, 1], "SAME"), xt)[0]
    counts = _run(g)[0, :, :, 0]
    assert counts[0, 0] == 4 and counts[1, 1] == 9 and counts[0, 1] == 6  # windows covering each pixel
    with pytest.raises(ValueError, match=r"\[1, rows, cols, 1\]"):
        tf.extract_image_patches(x, [2, 2, 2, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID")
    with pytest.raises(ValueError, match="padding"):
        tf.extract_image_patches(x, [1, 2, 2, 1], [1, 1, 1, 1], [1, 1, 1, 1], "FULL")
    ph = tf.placeholder(tf.float32, [None, None, None, 1])
    with pytest.raises(ValueError, match="statically known"):
        tf.gradients(tf.extract_image_patches(ph, [1, 2, 2, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID"), ph)


def test_histogram_bins_and_required_paddings():
    bins = tf.histogram_fixed_width_bins([[-1.0, 0.0, 1.5], [2.0, 5.0, 15.0]], [0.0, 5.0], nbins=5)
    assert bins.dtype == tf.int32
    np.testing.assert_array_equal(_run(bins), [[0, 0, 1], [2, 4, 4]])
    paddings, crops = tf.required_space_to_batch_paddings([5, 7], [2, 3], base_paddings=[[1, 0], [0, 2]])
    np.testing.assert_array_equal(_run(paddings), [[1, 0], [0, 2]])
    np.testing.assert_array_equal(_run(crops), [[0, 0], [0, 0]])
    paddings, crops = tf.required_space_to_batch_paddings([5, 4], [2, 3])
    np.testing.assert_array_equal(_run([paddings, crops]), [[[0, 1], [0, 2]], [[0, 1], [0, 2]]])
    with pytest.raises(ValueError, match="known size"):
        tf.required_space_to_batch_paddings([4], tf.placeholder(tf.int32))
