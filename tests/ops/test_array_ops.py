"""Array ops: semantics the sweep cannot see (TF1 signatures and aliases, errors, names, dtype rules,
`Tensor.__getitem__` against NumPy, round trips, sparse gradients)."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf

X = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)


def run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


# -- __getitem__ -----------------------------------------------------------------------------------
GRID = [
    1, -1, (0, 2), (-1, -2, -3), slice(None), slice(1, 3), slice(None, None, -1), slice(-2, None),
    slice(3, 0, -2), slice(-100, 100), slice(5, 1), (slice(None), 2), (Ellipsis, 1),
    (Ellipsis, slice(1, 4, 2)),
    (1, Ellipsis), (None,), (None, 1, None), (slice(None), None, slice(None, None, 2)),
    (Ellipsis, None), (2, Ellipsis, None, -1), (slice(None, None, -2), slice(-1, -4, -1), 0), (),
    (slice(1, 2), slice(None), slice(5, 6)),
]


@pytest.mark.parametrize("idx", GRID, ids=[repr(i) for i in GRID])
@pytest.mark.parametrize("known", [True, False], ids=["static", "unknown"])
def test_getitem_matches_numpy(idx, known):
    x = tf.placeholder(tf.float32, X.shape if known else None)
    y = x[idx]
    want = X[idx]
    got = run(y, {x: X})
    np.testing.assert_array_equal(got, want)
    if known:
        assert y.get_shape().as_list() == list(want.shape)
    assert y.op.type == "StridedSlice" and y.op.name.startswith("strided_slice")


def test_getitem_partial_static_shape():
    x = tf.placeholder(tf.float32, [None, 5, 6])
    assert x[:, 1:3].get_shape().as_list() == [None, 2, 6]
    assert x[0].get_shape().as_list() == [5, 6]
    assert x[..., ::2, None].get_shape().as_list() == [None, 5, 3, 1]


def test_getitem_tensor_indices():
    x = tf.placeholder(tf.float32, X.shape)
    i = tf.placeholder(tf.int32, [])
    j = tf.constant(-2, tf.int64)
    y, z, w = x[i, 1:], x[:, j], x[i:, :i]
    assert y.get_shape().as_list() == [4, 6]
    assert z.get_shape().as_list() == [4, 6]  # the shrunk dim is gone even though j is a tensor
    got = run([y, z, w], {x: X, i: 2})
    np.testing.assert_array_equal(got[0], X[2, 1:])
    np.testing.assert_array_equal(got[1], X[:, -2])
    np.testing.assert_array_equal(got[2], X[2:, :2])


@pytest.mark.parametrize("bad", [1.5, [True], np.array([1, 2]), "a", (0, 1.0)])
def test_getitem_rejects_bad_indices(bad):
    x = tf.constant(X)
    with pytest.raises(TypeError, match="valid indices"):
        x[bad]


def test_getitem_rejects_vector_tensor_index():
    x = tf.constant(X)
    with pytest.raises(TypeError, match="scalar tf.int32/tf.int64 tensors"):
        x[tf.constant([0, 1])]


def test_getitem_out_of_bounds_index_is_a_graph_error():
    x = tf.constant(X)
    with pytest.raises(ValueError, match="out of bounds.*strided_slice.*StridedSlice"):
        x[4]
    with pytest.raises(ValueError, match="Index out of range"):
        x[0, 0, 0, 0]


def test_iterating_a_tensor_unpacks_rows():
    a, b = tf.constant([[1, 2], [3, 4]])
    np.testing.assert_array_equal(run([a, b]), [[1, 2], [3, 4]])


def test_getitem_names_follow_tf():
    x = tf.placeholder(tf.float32, [3, 3])
    y = x[1:, 0]
    ins = [t.op.name for t in y.op.inputs[1:]]
    assert y.op.name == "strided_slice"
    assert ins == ["strided_slice/stack", "strided_slice/stack_1", "strided_slice/stack_2"]
    assert x[0].op.name == "strided_slice_1"
    assert y.op.get_attr("shrink_axis_mask") == 2 and y.op.get_attr("end_mask") == 1
    assert y.op.get_attr("Index") == tf.int32


def test_strided_slice_gradient_and_second_derivative():
    x = tf.placeholder(tf.float64, [3, 4])
    y = x[::-2, 1:3] * 2.0
    g = tf.gradients(y, x)[0]
    assert g.op.type == "StridedSliceGrad"
    want = np.zeros((3, 4))
    want[::-2, 1:3] = 2.0
    np.testing.assert_array_equal(run(g, {x: np.ones((3, 4))}), want)
    gy = tf.placeholder(tf.float64, [2, 2])
    gg = tf.gradients(tf.gradients(y, x, grad_ys=gy)[0], gy, grad_ys=tf.ones([3, 4], tf.float64))[0]
    np.testing.assert_array_equal(run(gg, {x: np.ones((3, 4)), gy: np.ones((2, 2))}), np.full((2, 2), 2.0))


# -- split / concat / stack round trips ------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_split_concat_round_trip(axis):
    x = tf.constant(X)
    n = X.shape[axis]
    parts = tf.split(x, [1, -1, 2] if n > 3 else [1, -1], axis=axis)
    back = tf.concat(parts, axis)
    assert back.get_shape().as_list() == list(X.shape)
    np.testing.assert_array_equal(run(back), X)
    even = tf.split(x, 2, axis=axis) if n % 2 == 0 else tf.split(x, n, axis=axis)
    np.testing.assert_array_equal(run(tf.concat(even, axis)), X)


@pytest.mark.parametrize("axis", [0, 2, -1, -3])
def test_stack_unstack_round_trip(axis):
    x = tf.constant(X)
    rows = tf.unstack(x, axis=axis)
    assert len(rows) == X.shape[axis]
    back = tf.stack(rows, axis=axis)
    np.testing.assert_array_equal(run(back), X)
    assert back.get_shape().as_list() == list(X.shape)


def test_split_with_size_tensor_needs_num():
    x = tf.constant(X)
    s = tf.placeholder(tf.int32, [None])
    with pytest.raises(ValueError, match="Cannot infer num"):
        tf.split(x, s)
    a, b = tf.split(x, s, num=2, axis=2)
    got = run([a, b], {s: [4, 2]})
    np.testing.assert_array_equal(got[0], X[..., :4])
    assert a.get_shape().as_list() == [4, 5, None]


def test_concat_of_one_value_is_identity_named_concat():
    x = tf.constant([1, 2])
    y = tf.concat([x], 0)
    assert y.op.type == "Identity" and y.op.name == "concat"


def test_convert_list_of_tensors_packs():
    a = tf.constant(1.0)
    b = tf.placeholder(tf.float32, [])
    t = tf.convert_to_tensor([a, b, 3.0])
    assert t.op.type == "Pack" and t.op.get_attr("N") == 3 and t.op.get_attr("axis") == 0
    assert t.get_shape().as_list() == [3]
    np.testing.assert_array_equal(run(t, {b: 2.0}), [1.0, 2.0, 3.0])


def test_concat_and_tile_gradients_with_unknown_shapes():
    x = tf.placeholder(tf.float64, None)
    y = tf.placeholder(tf.float64, None)
    c = tf.concat([x, y], 0)
    t = tf.tile(x, [2, 3])
    gx, gy = tf.gradients([c * 2.0, t], [x, y])
    got = run([gx, gy], {x: np.ones((2, 2)), y: np.ones((3, 2))})
    np.testing.assert_array_equal(got[0], np.full((2, 2), 2.0 + 6.0))
    np.testing.assert_array_equal(got[1], np.full((3, 2), 2.0))


def test_slice_and_pad_gradients_with_unknown_shapes():
    x = tf.placeholder(tf.float64, None)
    b = tf.placeholder(tf.int32, [2])
    s = tf.slice(x, b, [2, -1])
    p = tf.pad(x, tf.placeholder_with_default(tf.constant([[1, 0], [0, 2]]), [2, 2]))
    g = tf.gradients([s, p], x)[0]
    want = np.ones((4, 3))
    want[1:3, 1:] += 1.0
    np.testing.assert_array_equal(run(g, {x: np.zeros((4, 3)), b: [1, 1]}), want)


# -- shape function errors name the op -------------------------------------------------------------
@pytest.mark.parametrize("build, pattern", [
    (lambda: tf.concat([tf.zeros([2, 3]), tf.zeros([2, 3, 4])], 0),
     r"Shape must be rank 2 but is rank 3 for 'concat' \(op: 'ConcatV2'\)"),
    (lambda: tf.concat([tf.zeros([2, 3]), tf.zeros([3, 4])], 0),
     r"Dimension 1 in both shapes must be equal, but are 3 and 4.*'concat' \(op: 'ConcatV2'\)"),
    (lambda: tf.concat([tf.zeros([2]), tf.zeros([2])], 1), r"Expected concat_dim in range \[-1, 1\)"),
    (lambda: tf.stack([tf.zeros([2]), tf.zeros([3])]), r"'stack' \(op: 'Pack'\)"),
    (lambda: tf.unstack(tf.zeros([2, 3]), num=3),
     r"Dimension must be 3 but is 2.*'unstack' \(op: 'Unpack'\)"),
    (lambda: tf.split(tf.zeros([5, 2]), 2), r"evenly divisible by 2 but is 5.*'split' \(op: 'Split'\)"),
    (lambda: tf.split(tf.zeros([5]), [-1, -1, 2]), r"Only one dimension can have a value of -1.*'SplitV'"),
    (lambda: tf.split(tf.zeros([5]), [2, 2]), r"Determined shape must either match.*Got: 4"),
    (lambda: tf.reshape(tf.zeros([2, 3]), [4, -1]), r"Cannot reshape a tensor with 6 elements.*'Reshape'"),
    (lambda: tf.expand_dims(tf.zeros([2, 3]), 4),
     r"Tried to expand dim index 4 for tensor with 2 dimensions"),
    (lambda: tf.squeeze(tf.zeros([2, 3]), [1]),
     r"Can not squeeze dim\[1\], expected a dimension of 1, got 3"),
    (lambda: tf.transpose(tf.zeros([2, 3]), [0, 0]), r"perm must be a permutation.*'transpose'"),
    (lambda: tf.transpose(tf.zeros([2, 3]), [0, 1, 2]), r"transpose expects a vector of size 2"),
    (lambda: tf.tile(tf.zeros([2, 3]), [2]), r"vector of length 2 but got length 1.*'Tile'"),
    (lambda: tf.pad(tf.zeros([2, 3]), [[1, 1]]), r"first dimension of paddings must be the rank"),
    (lambda: tf.pad(tf.zeros([2, 3]), [[2, 0], [0, 0]], "REFLECT"),
     r"less than the dimension size.*'MirrorPad'"),
    (lambda: tf.reverse(tf.zeros([2, 3]), [0, -2]), r"axis 0 specified more than once"),
    (lambda: tf.slice(tf.zeros([2, 3]), [1, 1], [2, 1]),
     r"Expected size\[0\] in \[0, 1\], but got 2.*'Slice'"),
    (lambda: tf.slice(tf.zeros([2, 3]), [0], [1]), r"1-D tensors of size 2"),
    (lambda: tf.gather(tf.zeros([2, 3]), [0], axis=2), r"Expected axis in the range \[-2, 2\).*'GatherV2'"),
    (lambda: tf.one_hot([1, 2], 3, axis=-2), r"Expected axis to be -1 or between \[0, 2\)"),
    (lambda: tf.where(tf.zeros([2], tf.bool), tf.zeros([3, 2]), tf.zeros([3, 2])),
     r"Dimension 0 in both shapes must be equal, but are 2 and 3.*'Select' \(op: 'Select'\)"),
    (lambda: tf.where(tf.zeros([2, 2], tf.bool), tf.zeros([2, 3]), tf.zeros([2, 3])), r"'Select'"),
    (lambda: tf.range(5, 1), r"Requires start <= limit when delta > 0: 5/1.*'range' \(op: 'Range'\)"),
    (lambda: tf.range(0, 3, 0), r"Requires delta != 0"),
    (lambda: tf.unsorted_segment_sum(tf.zeros([3, 2]), [0, 1], 2), r"does not start with segment_ids.shape"),
    (lambda: tf.fill([2, -1], 1.0), r"Fill dimensions must be >= 0"),
])
def test_shape_errors_name_the_op(build, pattern):
    with pytest.raises(ValueError, match=pattern):
        build()


def test_unstack_without_num_needs_a_static_dim():
    with pytest.raises(ValueError, match="Cannot infer num"):
        tf.unstack(tf.placeholder(tf.float32, [None, 2]))
    with pytest.raises(ValueError, match=r"axis = 2 not in \[-2, 2\)"):
        tf.unstack(tf.zeros([2, 2]), axis=2)


def test_index_arguments_must_be_integers():
    with pytest.raises(TypeError, match="int32 or int64"):
        tf.reshape(tf.zeros([2]), [2.5])
    with pytest.raises(TypeError, match="'indices'.*float32"):
        tf.gather(tf.zeros([2]), tf.constant([0.0]))


# -- TF1 aliases and signatures --------------------------------------------------------------------
def test_expand_dims_dim_alias():
    x = tf.zeros([2, 3])
    assert tf.expand_dims(x, dim=1).get_shape().as_list() == [2, 1, 3]
    assert tf.expand_dims(x, axis=-1).get_shape().as_list() == [2, 3, 1]
    with pytest.raises(ValueError, match="Cannot specify both 'axis' and 'dim'"):
        tf.expand_dims(x, axis=0, dim=0)
    with pytest.raises(ValueError, match="Must specify an axis"):
        tf.expand_dims(x)


def test_squeeze_squeeze_dims_alias():
    x = tf.zeros([1, 2, 1])
    assert tf.squeeze(x, squeeze_dims=[0]).get_shape().as_list() == [2, 1]
    assert tf.squeeze(x, -1).get_shape().as_list() == [1, 2]
    assert tf.squeeze(x).get_shape().as_list() == [2]
    assert tf.squeeze(x).op.get_attr("squeeze_dims") == []
    with pytest.raises(ValueError, match="Cannot specify both 'axis' and 'squeeze_dims'"):
        tf.squeeze(x, axis=[0], squeeze_dims=[0])
    assert tf.squeeze(tf.placeholder(tf.float32, [None, 1])).get_shape().ndims is None


def test_default_names():
    x = tf.zeros([2, 2], name="x")
    assert tf.concat([x, x], 0).op.name == "concat"
    assert tf.stack([x, x]).op.name == "stack"
    assert tf.split(x, 2)[0].op.name == "split"
    assert [t.op.name for t in tf.unstack(x)] == ["unstack", "unstack"]
    assert tf.range(3).op.name == "range"
    assert tf.transpose(x).op.name == "transpose"
    assert tf.gather(x, [0]).op.name == "GatherV2"
    assert tf.one_hot([0], 2).op.name == "one_hot"
    assert tf.where(tf.constant([True])).op.name == "Where"
    assert tf.where(tf.constant([True, False]), x, x).op.name == "Select"
    assert tf.zeros([3]).op.name == "zeros" and tf.ones([3]).op.name == "ones"
    assert tf.pad(x, [[1, 1], [0, 0]]).op.name == "Pad"
    assert tf.reverse(x, [0]).op.name == "ReverseV2"


def test_range_dtype_inference():
    assert tf.range(5).dtype == tf.int32
    assert tf.range(1, 5.0).dtype == tf.float32
    assert tf.range(tf.constant(5, tf.int64)).dtype == tf.int64
    assert tf.range(0, tf.constant(2.0, tf.float64), 0.5).dtype == tf.float64
    assert tf.range(3, dtype=tf.float32).dtype == tf.float32
    r = tf.range(10, 0, -3)
    assert r.get_shape().as_list() == [4]
    np.testing.assert_array_equal(run(r), [10, 7, 4, 1])
    np.testing.assert_allclose(run(tf.range(0.0, 1.0, 0.25)), [0, 0.25, 0.5, 0.75])


def test_zeros_and_ones():
    z = tf.zeros([2, 3])
    assert z.op.type == "Const" and z.dtype == tf.float32
    big = tf.ones([100, 100], tf.int32)
    assert big.op.type == "Fill" and big.op.name == "ones"
    assert big.get_shape().as_list() == [100, 100]
    n = tf.placeholder(tf.int32, [])
    dyn = tf.zeros([n, 2], tf.bool)
    assert dyn.op.type == "Fill" and dyn.get_shape().as_list() == [None, 2]
    got = run([z, dyn, tf.ones(tf.constant([2]), tf.float64)], {n: 3})
    np.testing.assert_array_equal(got[0], np.zeros((2, 3)))
    assert got[1].dtype == np.bool_ and got[1].shape == (3, 2) and not got[1].any()
    np.testing.assert_array_equal(got[2], [1.0, 1.0])
    assert tf.zeros([2], tf.string).dtype == tf.string


def test_zeros_like_and_ones_like_with_dtype():
    x = tf.placeholder(tf.float32, [None, 2])
    z = tf.zeros_like(x, dtype=tf.int32)
    o = tf.ones_like(x, dtype=tf.float64)
    assert z.dtype == tf.int32 and o.dtype == tf.float64
    got = run([z, o, tf.ones_like(x)], {x: np.ones((3, 2))})
    np.testing.assert_array_equal(got[0], np.zeros((3, 2), np.int32))
    assert got[1].dtype == np.float64 and got[2].dtype == np.float32


def test_size_rank_shape_n():
    x = tf.placeholder(tf.float32, [None, 3])
    s, r = tf.size(x), tf.rank(x)
    assert s.dtype == tf.int32 and tf.size(x, out_type=tf.int64).dtype == tf.int64
    assert tf.get_static_value(r) == 2 and tf.get_static_value(tf.size(tf.zeros([2, 3]))) == 6
    a, b = tf.shape_n([x, tf.zeros([4])])
    got = run([s, r, a, b], {x: np.zeros((5, 3))})
    assert got[:2] == [15, 2]
    np.testing.assert_array_equal(got[2], [5, 3])
    np.testing.assert_array_equal(got[3], [4])


def test_one_hot_dtypes_and_values():
    assert tf.one_hot([0, 1], 3).dtype == tf.float32
    assert tf.one_hot([0, 1], 3, on_value=np.int64(5), off_value=np.int64(-1)).dtype == tf.int64
    assert tf.one_hot([0, 1], 3, on_value=2.0, dtype=tf.float64).dtype == tf.float64
    with pytest.raises(TypeError, match="does not match dtype parameter"):
        tf.one_hot([0], 3, on_value=tf.constant(1.0), dtype=tf.float64)
    h = tf.one_hot([[0, 3], [2, -1]], 3, axis=1)
    assert h.get_shape().as_list() == [2, 3, 2]
    want = np.eye(3, dtype=np.float32)[[[0, 2], [2, 0]]].transpose(0, 2, 1)
    want[0, :, 1] = 0  # index 3 and -1 are out of range: all off_value
    want[1, :, 1] = 0
    np.testing.assert_array_equal(run(h), want)


def test_transpose_without_perm_of_unknown_rank():
    x = tf.placeholder(tf.float32, None)
    y = tf.transpose(x)
    np.testing.assert_array_equal(run(y, {x: X}), X.transpose())


def test_where_forms():
    c = tf.constant([[True, False], [False, True]])
    w = tf.where(c)
    assert w.dtype == tf.int64 and w.get_shape().as_list() == [None, 2]
    np.testing.assert_array_equal(run(w), [[0, 0], [1, 1]])
    with pytest.raises(ValueError, match="x and y must both be non-None"):
        tf.where(c, x=tf.zeros([2, 2]))
    v = tf.where(tf.constant([True, False]), tf.ones([2, 3]), tf.zeros([2, 3]))
    np.testing.assert_array_equal(run(v), [[1, 1, 1], [0, 0, 0]])


def test_boolean_mask():
    x = tf.constant(X)
    m = np.zeros((4, 5), bool)
    m[1, 2] = m[3, 0] = True
    y = tf.boolean_mask(x, m)
    assert y.get_shape().as_list() == [None, 6]
    np.testing.assert_array_equal(run(y), X[m])
    z = tf.boolean_mask(x, [True, False, True, False, False, False], axis=2)
    np.testing.assert_array_equal(run(z), X[:, :, [0, 2]])
    with pytest.raises(ValueError, match="mask cannot be scalar"):
        tf.boolean_mask(x, True)


# -- gather and its sparse gradient ----------------------------------------------------------------
def test_gather_gradient_is_indexed_slices():
    p = tf.placeholder(tf.float64, [5, 3])
    i = tf.constant([4, 0, 4])
    g = tf.gradients(tf.gather(p, i) * 3.0, p)[0]
    assert isinstance(g, tf.IndexedSlices)
    assert g.indices is i
    assert g.get_shape().as_list() == [5, 3]
    val = run(g, {p: np.zeros((5, 3))})
    np.testing.assert_array_equal(val.values, np.full((3, 3), 3.0))
    np.testing.assert_array_equal(val.indices, [4, 0, 4])
    np.testing.assert_array_equal(val.dense_shape, [5, 3])


def test_gather_gradient_with_matrix_indices_and_densify():
    p = tf.placeholder(tf.float64, [5, 2])
    i = tf.constant([[1, 1], [3, 0]])
    y = tf.gather(p, i)
    assert y.get_shape().as_list() == [2, 2, 2]
    g = tf.gradients(y, p)[0]
    assert isinstance(g, tf.IndexedSlices)
    assert g.values.get_shape().as_list() == [4, 2]
    dense = tf.convert_to_tensor(g)
    want = np.zeros((5, 2))
    np.add.at(want, [1, 1, 3, 0], 1.0)
    np.testing.assert_array_equal(run(dense, {p: np.zeros((5, 2))}), want)


def test_gather_gradient_along_axis_1_is_dense():
    p = tf.placeholder(tf.float64, [2, 4])
    g = tf.gradients(tf.gather(p, [3, 3, 1], axis=1), p)[0]
    assert isinstance(g, tf.Tensor)
    np.testing.assert_array_equal(run(g, {p: np.zeros((2, 4))}), [[0, 1, 0, 2], [0, 1, 0, 2]])


def test_unsorted_segment_sum_drops_negative_ids():
    d = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    s = tf.unsorted_segment_sum(d, [1, -1, 1], 3)
    assert s.get_shape().as_list() == [3, 2]
    np.testing.assert_array_equal(run(s), [[0, 0], [6, 8], [0, 0]])
    g = tf.gradients(s, d, grad_ys=tf.constant([[1.0, 1.0], [2.0, 3.0], [0.0, 0.0]]))[0]
    np.testing.assert_array_equal(run(g), [[2, 3], [0, 0], [2, 3]])


def test_graph_def_attrs_match_tf():
    x = tf.zeros([2, 3])
    c = tf.concat([x, x], 1)
    assert c.op.get_attr("N") == 2 and c.op.get_attr("Tidx") == tf.int32 and c.op.get_attr("T") == tf.float32
    g = tf.gather(x, tf.constant([0], tf.int64))
    assert (g.op.get_attr("Tparams"), g.op.get_attr("Tindices"), g.op.get_attr("Taxis")) == \
        (tf.float32, tf.int64, tf.int32)
    assert tf.transpose(x).op.get_attr("Tperm") == tf.int32
    assert tf.pad(x, [[0, 0], [1, 1]], "SYMMETRIC").op.get_attr("mode") == "SYMMETRIC"
    assert tf.one_hot([1], 2).op.get_attr("TI") == tf.int32
