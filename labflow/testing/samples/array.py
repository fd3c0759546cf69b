"""Sweep samples for the array ops that build, reshape, join and split tensors (array_ops.py,
array_reshape_ops.py, array_join_ops.py). Slicing and gathering ops are in array_index.py."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.ops.common import make_op, make_tensor
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(11)
F16 = (_dt.float16, _dt.float32, _dt.float64)


def r(*shape):
    return R.standard_normal(shape)


def i32(v):
    return np.asarray(v, np.int32)


# -- array_ops.py -----------------------------------------------------------------------------------
@samples("PlaceholderWithDefault")
def _placeholder_with_default():
    return [Case(lambda x: tf.placeholder_with_default(x, [None, 3]), [r(2, 3)], lambda x: x, dtypes=F16),
            Case(lambda x: tf.placeholder_with_default(x, [2]), [i32([4, 5])], lambda x: x, grad=False,
                 name="int32")]


@samples("Identity")
def _identity():
    return [Case(tf.identity, [r(2, 3)], lambda x: x, dtypes=F16),
            Case(tf.identity, [i32([[1, 2], [3, 4]])], lambda x: x, grad=False, name="int32"),
            Case(tf.identity, [np.array([True, False])], lambda x: x, grad=False, name="bool")]


@samples("StopGradient")
def _stop_gradient():
    return [Case(tf.stop_gradient, [r(3, 2)], lambda x: x, dtypes=F16, grad=False),
            Case(tf.stop_gradient, [i32([1, 2])], lambda x: x, grad=False, name="int32")]


@samples("Shape")
def _shape():
    return [Case(tf.shape, [r(2, 3, 4)], lambda x: i32(x.shape), grad=False, dtypes=F16),
            Case(lambda x: tf.shape(x, out_type=tf.int64), [r(5)], lambda x: np.array([5], np.int64),
                 grad=False, name="int64"),
            Case(tf.shape, [np.float64(3.0)], lambda x: i32([]), grad=False, name="scalar")]


@samples("Reshape")
def _reshape():
    x = r(2, 3, 4)
    return [Case(lambda x: tf.reshape(x, [-1, 6]), [x], lambda x: x.reshape(-1, 6), dtypes=F16, name="neg1"),
            Case(lambda x: tf.reshape(x, [4, 3, -1]), [x], lambda x: x.reshape(4, 3, -1), name="neg1_last"),
            Case(lambda x: tf.reshape(x, []), [r(1, 1)], lambda x: x.reshape(()), name="to_scalar"),
            Case(tf.reshape, [x, i32([3, -1, 2])], lambda x, s: x.reshape(3, -1, 2), name="shape_tensor"),
            Case(lambda x: tf.reshape(x, [3, 2]), [i32(np.arange(6))], lambda x: x.reshape(3, 2), grad=False,
                 name="int32")]


@samples("ZerosLike")
def _zeros_like():
    return [Case(tf.zeros_like, [r(2, 3)], np.zeros_like, grad=False, dtypes=F16),
            Case(tf.zeros_like, [i32([1, 2])], np.zeros_like, grad=False, name="int32"),
            Case(tf.zeros_like, [np.array([True])], np.zeros_like, grad=False, name="bool")]


@samples("OnesLike")
def _ones_like():
    return [Case(tf.ones_like, [r(2, 3)], np.ones_like, grad=False, dtypes=F16),
            Case(tf.ones_like, [i32([[1, 2]])], np.ones_like, grad=False, name="int32")]


@samples("_IndexedSlicesToDense")
def _indexed_slices_to_dense():
    def ref(v, i):
        out = np.zeros((5, 3), v.dtype)
        np.add.at(out, i, v)
        return out
    def build(v, i):  # densify() adds the op, as gradients do for sparse contributions
        return tf.convert_to_tensor(tf.IndexedSlices(v, i, tf.constant([5, 3])))
    return [Case(build, [r(4, 3), i32([0, 2, 0, 4])], ref, dtypes=F16, name="repeated_rows")]


@samples("Fill")
def _fill():
    return [Case(lambda v: tf.fill([2, 3], v), [np.float64(1.5)], lambda v: np.full((2, 3), v), dtypes=F16),
            Case(tf.fill, [i32([3, 1]), np.float64(-2.0)], lambda d, v: np.full((3, 1), v),
                 name="dims_tensor"),
            Case(lambda x: [tf.ones(tf.shape(x), x.dtype), tf.zeros(tf.shape(x), tf.int32)], [r(2, 2)],
                 lambda x: [np.ones_like(x), np.zeros((2, 2), np.int32)], grad=False, name="zeros_ones"),
            Case(lambda v: tf.fill([2], v), [i32(7)], lambda v: i32([7, 7]), grad=False, name="int32")]


@samples("Size")
def _size():
    return [Case(tf.size, [r(2, 3)], lambda x: np.int32(6), grad=False, dtypes=F16),
            Case(lambda x: tf.size(x, out_type=tf.int64), [i32([1, 2, 3])], lambda x: np.int64(3), grad=False,
                 name="int64")]


@samples("Rank")
def _rank():
    return [Case(tf.rank, [r(2, 3, 1)], lambda x: np.int32(3), grad=False, dtypes=F16),
            Case(tf.rank, [i32(4)], lambda x: np.int32(0), grad=False, name="scalar")]


@samples("ShapeN")
def _shape_n():
    return [Case(lambda x, y: tf.shape_n([x, y]), [r(2, 3), r(4)], lambda x, y: [i32([2, 3]), i32([4])],
                 grad=False)]


# -- array_reshape_ops.py ---------------------------------------------------------------------------
@samples("Range")
def _range():
    return [Case(tf.range, [np.float64(1.5), np.float64(7.0), np.float64(0.5)],
                 lambda s, li, d: np.arange(s, li, d), grad=False, dtypes=F16, name="float"),
            Case(tf.range, [i32(5)], lambda n: np.arange(5, dtype=np.int32), grad=False, name="limit_only"),
            Case(lambda s, li: tf.range(s, li, -3), [i32(10), i32(-2)],
                 lambda s, li: np.arange(10, -2, -3, dtype=np.int32), grad=False, name="negative_delta"),
            Case(lambda: tf.range(2, 8, 2, dtype=tf.int64), [], lambda: np.arange(2, 8, 2), grad=False,
                 name="static_int64")]


@samples("ExpandDims")
def _expand_dims():
    x = r(2, 3)
    return [Case(lambda x: tf.expand_dims(x, 1), [x], lambda x: x[:, None], dtypes=F16),
            Case(lambda x: tf.expand_dims(x, -1), [x], lambda x: x[..., None], name="neg_axis"),
            Case(lambda x: tf.expand_dims(x, dim=0), [x], lambda x: x[None], name="dim_alias"),
            Case(tf.expand_dims, [x, i32(-2)], lambda x, a: x[:, None], name="axis_tensor"),
            Case(lambda x: tf.expand_dims(x, 0), [i32(3)], lambda x: i32([3]), grad=False,
                 name="int32_scalar")]


@samples("Squeeze")
def _squeeze():
    x = r(2, 1, 3, 1)
    return [Case(tf.squeeze, [x], np.squeeze, dtypes=F16, name="all"),
            Case(lambda x: tf.squeeze(x, axis=[-1]), [x], lambda x: x[..., 0], name="neg_axis"),
            Case(lambda x: tf.squeeze(x, squeeze_dims=[1]), [x], lambda x: x[:, 0], name="squeeze_dims"),
            Case(lambda x: tf.squeeze(x, 0), [i32([[4, 5]])], lambda x: x[0], grad=False, name="int32")]


@samples("Transpose")
def _transpose():
    x = r(2, 3, 4)
    return [Case(tf.transpose, [x], lambda x: x.transpose(), dtypes=F16, name="reverse"),
            Case(lambda x: tf.transpose(x, [1, 0, 2]), [x], lambda x: x.transpose(1, 0, 2), name="perm"),
            Case(tf.transpose, [x, i32([2, 0, 1])], lambda x, p: x.transpose(2, 0, 1), name="perm_tensor"),
            Case(tf.transpose, [i32([[1, 2, 3]])], lambda x: x.T, grad=False, name="int32")]


@samples("InvertPermutation")
def _invert_permutation():
    return [Case(tf.invert_permutation, [i32([2, 0, 3, 1])], lambda p: np.argsort(p).astype(np.int32),
                 grad=False),
            Case(tf.invert_permutation, [np.array([1, 0], np.int64)], lambda p: np.array([1, 0]), grad=False,
                 name="int64")]


@samples("ReverseV2")
def _reverse():
    x = r(2, 3, 4)
    return [Case(lambda x: tf.reverse(x, [0, -1]), [x], lambda x: x[::-1, :, ::-1], dtypes=F16),
            Case(lambda x: tf.reverse(x, [1]), [x], lambda x: x[:, ::-1], name="one_axis"),
            Case(tf.reverse, [x, i32([2])], lambda x, a: x[..., ::-1], name="axis_tensor"),
            Case(lambda x: tf.reverse(x, []), [x], lambda x: x, name="no_axes"),
            Case(lambda x: tf.reverse(x, [0]), [i32([1, 2, 3])], lambda x: x[::-1], grad=False, name="int32")]


@samples("Tile")
def _tile():
    x = r(2, 3, 1)
    return [Case(lambda x: tf.tile(x, [2, 1, 3]), [x], lambda x: np.tile(x, (2, 1, 3)), dtypes=F16),
            Case(tf.tile, [x, i32([1, 2, 2])], lambda x, m: np.tile(x, (1, 2, 2)), name="multiples_tensor"),
            Case(lambda x: tf.tile(x, [3]), [i32([1, 2])], lambda x: np.tile(x, 3), grad=False, name="int32")]


# -- array_join_ops.py ------------------------------------------------------------------------------
@samples("ConcatV2")
def _concat():
    return [Case(lambda x, y: tf.concat([x, y], 1), [r(2, 3), r(2, 4)],
                 lambda x, y: np.concatenate([x, y], 1), dtypes=F16),
            Case(lambda x, y, z: tf.concat([x, y, z], -1), [r(2, 1, 2), r(2, 1, 3), r(2, 1, 1)],
                 lambda x, y, z: np.concatenate([x, y, z], -1), name="neg_axis"),
            Case(lambda x, y, a: tf.concat([x, y], a), [r(2, 3), r(1, 3), i32(0)],
                 lambda x, y, a: np.concatenate([x, y], 0), name="axis_tensor"),
            Case(lambda x, y: tf.concat([x, y], 0), [i32([1, 2]), i32([3])], lambda x, y: i32([1, 2, 3]),
                 grad=False, name="int32")]


@samples("ConcatOffset")
def _concat_offset():
    return [Case(lambda a, b: make_op("ConcatOffset", [tf.constant(1), a, b], {"N": 2}).outputs,
                 [i32([2, 3, 4]), i32([2, 5, 4])], lambda a, b: [i32([0, 0, 0]), i32([0, 3, 0])], grad=False),
            Case(lambda a, b, c: make_op("ConcatOffset", [tf.constant(-1), a, b, c], {"N": 3}).outputs,
                 [i32([2, 3]), i32([2, 1]), i32([2, 2])],
                 lambda a, b, c: [i32([0, 0]), i32([0, 3]), i32([0, 4])], grad=False, name="neg_axis")]


@samples("Pack")
def _pack():
    x, y = r(2, 3), r(2, 3)
    return [Case(lambda x, y: tf.stack([x, y]), [x, y], lambda x, y: np.stack([x, y]), dtypes=F16),
            Case(lambda x, y: tf.stack([x, y], axis=1), [x, y], lambda x, y: np.stack([x, y], 1),
                 name="axis1"),
            Case(lambda x, y: tf.stack([x, y], axis=-1), [x, y], lambda x, y: np.stack([x, y], -1),
                 name="neg"),
            Case(lambda x, y: tf.convert_to_tensor([x, y]), [x, y], lambda x, y: np.stack([x, y]),
                 name="convert_list"),
            Case(lambda x: tf.stack([x, x, x]), [i32(4)], lambda x: i32([4, 4, 4]), grad=False, name="int32")]


@samples("Unpack")
def _unpack():
    x = r(2, 3, 4)
    return [Case(lambda x: tf.unstack(x, num=2), [x], list, dtypes=F16),
            Case(lambda x: tf.unstack(x, num=3, axis=1), [x], lambda x: list(np.moveaxis(x, 1, 0)),
                 name="axis1"),
            Case(lambda x: tf.unstack(x, num=4, axis=-1), [x], lambda x: list(np.moveaxis(x, -1, 0)),
                 name="neg_axis"),
            Case(lambda x: tf.unstack(x, num=1), [r(1, 3)], lambda x: [x[0]], name="one_output"),
            Case(lambda x: tf.unstack(x, num=3), [i32([1, 2, 3])], lambda x: [i32(1), i32(2), i32(3)],
                 grad=False, name="int32")]


@samples("Split")
def _split():
    x = r(4, 6)
    return [Case(lambda x: tf.split(x, 2, axis=1), [x], lambda x: np.split(x, 2, 1), dtypes=F16),
            Case(lambda x: tf.split(x, 3, axis=-1), [x], lambda x: np.split(x, 3, -1), name="neg_axis"),
            Case(lambda x, a: tf.split(x, 4, axis=a), [x, i32(0)], lambda x, a: np.split(x, 4, 0),
                 name="axis_tensor"),
            Case(lambda x: tf.split(x, 1), [x], lambda x: [x], name="one_output"),
            Case(lambda x: tf.split(x, 2), [i32([1, 2, 3, 4])], lambda x: np.split(x, 2), grad=False,
                 name="int32")]


@samples("SplitV")
def _split_v():
    x = r(2, 6)
    return [Case(lambda x: tf.split(x, [1, -1, 2], axis=1), [x], lambda x: np.split(x, [1, 4], 1),
                 dtypes=F16),
            Case(lambda x: tf.split(x, [2, 4], axis=-1), [x], lambda x: np.split(x, [2], -1),
                 name="neg_axis"),
            Case(lambda x, s: tf.split(x, s, axis=1, num=3), [x, i32([3, 0, 3])],
                 lambda x, s: np.split(x, [3, 3], 1), name="sizes_tensor"),
            Case(lambda x: tf.split(x, [1, 2]), [i32([1, 2, 3])], lambda x: [i32([1]), i32([2, 3])],
                 grad=False, name="int32")]


def _np_mirror_pad_grad(g, pads, mode):
    """Reference: scatter-add every padded cell back to the input cell it copied."""
    shape = tuple(n - lo - hi for n, (lo, hi) in zip(g.shape, pads))
    src = np.pad(np.arange(int(np.prod(shape))).reshape(shape), pads, mode=mode.lower())
    out = np.zeros(int(np.prod(shape)), np.float64)
    np.add.at(out, src.ravel(), g.astype(np.float64).ravel())
    return out.reshape(shape).astype(g.dtype)


@samples("Pad")
def _pad():
    x = r(2, 3)
    return [Case(lambda x: tf.pad(x, [[1, 2], [0, 1]]), [x], lambda x: np.pad(x, [(1, 2), (0, 1)]),
                 dtypes=F16),
            Case(tf.pad, [x, i32([[0, 1], [2, 0]])], lambda x, p: np.pad(x, [(0, 1), (2, 0)]),
                 name="paddings_tensor"),
            Case(lambda x: tf.pad(x, [[1, 1]]), [i32([5, 6])], lambda x: i32([0, 5, 6, 0]), grad=False,
                 name="int32")]


@samples("PadV2")
def _pad_v2():
    x = r(2, 3)
    return [Case(lambda x: tf.pad(x, [[1, 0], [2, 1]], constant_values=1.5), [x],
                 lambda x: np.pad(x, [(1, 0), (2, 1)], constant_values=1.5), dtypes=F16),
            Case(lambda x, c: tf.pad(x, [[0, 1], [1, 1]], constant_values=c), [x, np.float64(-3.0)],
                 lambda x, c: np.pad(x, [(0, 1), (1, 1)], constant_values=c), wrt=[0], name="value_tensor")]


@samples("MirrorPad")
def _mirror_pad():
    x = r(3, 4)
    p = [[2, 1], [1, 3]]
    return [Case(lambda x: tf.pad(x, p, "REFLECT"), [x], lambda x: np.pad(x, p, mode="reflect"), dtypes=F16),
            Case(lambda x: tf.pad(x, p, mode="symmetric"), [x], lambda x: np.pad(x, p, mode="symmetric"),
                 name="symmetric"),
            Case(lambda x: tf.pad(x, [[3, 3]], "SYMMETRIC"), [i32([1, 2, 3])],
                 lambda x: np.pad(x, [(3, 3)], mode="symmetric"), grad=False, name="int32_full_width")]


@samples("MirrorPadGrad")
def _mirror_pad_grad():
    def build(mode, pads):
        return lambda g: make_tensor("MirrorPadGrad", [g, tf.constant(pads)], {"mode": mode})
    p = [[2, 1], [1, 3]]
    return [Case(build("REFLECT", p), [r(6, 8)], lambda g: _np_mirror_pad_grad(g, p, "REFLECT"), dtypes=F16),
            Case(build("SYMMETRIC", p), [r(6, 8)], lambda g: _np_mirror_pad_grad(g, p, "SYMMETRIC"),
                 name="symmetric")]
