"""GraphDef serialization: Graph -> GraphDef -> Graph round trips, TensorFlow's protos, import_graph_def."""

from __future__ import annotations

import os

import ml_dtypes
import numpy as np
import pytest
from google.protobuf import text_format

import labflow as tf
from labflow.framework import graph_io, registry
from labflow.framework.proto_convert import (
    attr_value_from_python,
    attr_value_to_python,
    make_ndarray,
    make_tensor_proto,
)
from labflow.framework.protos import graph_pb2, tensor_pb2, types_pb2
from labflow.framework.tensor import IndexedSlices, Operation
from labflow.testing import op_sweep

CASES = op_sweep.all_cases()


# ---------------------------------------------------------------------------------------------------------
# Every op of the sweep survives Graph -> GraphDef -> import -> GraphDef, and computes the same values.

def _flat(outs) -> list:
    out = []
    for o in outs if isinstance(outs, (list, tuple)) else [outs]:
        if isinstance(o, (list, tuple)):
            out.extend(_flat(o))
        elif isinstance(o, IndexedSlices):
            out.extend(t for t in (o.values, o.indices, o.dense_shape) if t is not None)
        elif o is not None:
            out.append(o)
    return out


def _build_case(case, with_grads: bool):
    dt = op_sweep.sweep_dtypes(case)[-1]
    xs = [np.asarray(x).astype(dt.as_numpy_dtype) if np.asarray(x).dtype.kind == "f" else np.asarray(x)
          for x in case.inputs]
    g = tf.Graph()
    with g.as_default():
        phs = [tf.placeholder(tf.as_dtype(x.dtype), shape=x.shape) for x in xs]
        outs = _flat(case.build(*phs))
        if with_grads:
            ys = [o for o in outs if not isinstance(o, Operation) and o.dtype.is_floating]
            wrt = [p for p in phs if p.dtype.is_floating]
            if ys and wrt:
                outs += _flat(tf.gradients(ys, wrt))
    return g, phs, outs, xs


def _normalize(v):
    a = np.asarray(v)
    if a.dtype == object:
        return np.vectorize(lambda s: s.encode() if isinstance(s, str) else s, otypes=[object])(a)
    return a


def _assert_same_nodes(gd1, gd2):
    assert [n.name for n in gd1.node] == [n.name for n in gd2.node]
    for a, b in zip(gd1.node, gd2.node):
        assert a.op == b.op, a.name
        assert list(a.input) == list(b.input), a.name
        assert a.device == b.device, a.name
        assert dict(a.attr) == dict(b.attr), f"attrs of {a.name} ({a.op}) changed in the round trip"
    assert gd1 == gd2


@pytest.mark.parametrize(("op_type", "case"),
                         [pytest.param(t, c, id=f"{t}-{c.name or i}") for t, i, c in CASES])
def test_round_trip_reproduces_op(op_type, case):
    try:
        g1, phs, outs, xs = _build_case(case, with_grads=case.grad)
    except Exception:  # a gradient problem is the sweep's to report; the forward graph is still checked
        g1, phs, outs, xs = _build_case(case, with_grads=False)
    gd1 = g1.as_graph_def()
    g2 = tf.Graph()
    with g2.as_default():
        tf.import_graph_def(gd1.SerializeToString(), name="")
    assert op_type in {op.type for op in g2.get_operations()}
    _assert_same_nodes(gd1, g2.as_graph_def())

    for op1 in g1.get_operations():  # shapes and dtypes are inferred again, to the same result
        op2 = g2.get_operation_by_name(op1.name)
        for t1, t2 in zip(op1.outputs, op2.outputs):
            assert t1.dtype == t2.dtype, t1.name
            assert t1.get_shape().is_compatible_with(t2.get_shape()), t1.name

    names = [o.name for o in outs]
    with tf.Session(graph=g1) as s1:
        want = s1.run(names, {p.name: x for p, x in zip(phs, xs)})
    with tf.Session(graph=g2) as s2:
        got = s2.run(names, {p.name: x for p, x in zip(phs, xs)})
    stateful = any(op.op_def.stateful for op in g1.get_operations())
    for n, w, v in zip(names, want, got):
        if w is None:
            assert v is None
            continue
        w, v = _normalize(w), _normalize(v)
        assert w.shape == v.shape and w.dtype == v.dtype, n
        if stateful:
            continue  # e.g. an unseeded random op: equal shapes and dtypes are all one can ask
        if w.dtype.kind in "fc" or w.dtype == ml_dtypes.bfloat16:
            # float attrs travel as float32, as in TF
            np.testing.assert_allclose(v.astype(np.complex128), w.astype(np.complex128), rtol=1e-6, atol=1e-7)
        else:
            np.testing.assert_array_equal(v, w, err_msg=n)


# ---------------------------------------------------------------------------------------------------------
# Wire compatibility with TensorFlow's own protos (the copies tensorboard ships).

def _rich_graph():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        tf.placeholder(tf.int64, name="unknown")
        consts = {
            "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
            "f64": np.array([1.5, -2.25]),
            "f16": np.array([0.5, 1.0, -3.0], np.float16),
            "bf16": np.array([1.0, 2.5], ml_dtypes.bfloat16),
            "i64": np.array([[1, -(2 ** 40)]], np.int64),
            "i8": np.array([-3, 4], np.int8),
            "u16": np.array([65535], np.uint16),
            "b": np.array([True, False, True]),
            "c64": np.array([1 + 2j, -3j], np.complex64),
            "scalar": np.float32(7.0),
            "s": np.array([b"ab", "\u00e9".encode(), b""], object),
            "empty": np.zeros((0, 2), np.float32),
        }
        for k, v in consts.items():
            tf.constant(v, name=k)
        with tf.device("/job:worker/task:1/device:CPU:0"):
            y = tf.add(x, tf.constant([1.0, 2.0, 3.0]), name="y")
        with tf.colocate_with(y.op):
            z = tf.identity(y, name="z")
        with tf.control_dependencies([z]):
            tf.identity(x, name="total")
    return g, consts


def test_graph_def_parses_with_tensorflow_protos():
    pytest.importorskip("tensorboard")
    from tensorboard.compat.proto import graph_pb2 as tb_graph_pb2
    from tensorboard.compat.proto import types_pb2 as tb_types
    from tensorboard.util import tensor_util

    g, consts = _rich_graph()
    gd = g.as_graph_def(add_shapes=True)
    theirs = tb_graph_pb2.GraphDef.FromString(gd.SerializeToString())
    nodes = {n.name: n for n in theirs.node}
    assert [n.name for n in theirs.node] == [op.name for op in g.get_operations()]
    assert theirs.versions.producer == g.graph_def_versions.producer

    x = nodes["x"]
    assert x.op == "Placeholder" and x.attr["dtype"].type == tb_types.DT_FLOAT
    assert [d.size for d in x.attr["shape"].shape.dim] == [-1, 3]
    assert "shape" not in nodes["unknown"].attr or nodes["unknown"].attr["shape"].shape.unknown_rank
    assert [d.size for d in x.attr["_output_shapes"].list.shape[0].dim] == [-1, 3]

    for k, v in consts.items():
        tp = nodes[k].attr["value"].tensor
        assert nodes[k].attr["dtype"].type == tp.dtype == tf.as_dtype(np.asarray(v).dtype).as_datatype_enum
        if k == "bf16":  # tensorboard's make_ndarray predates bfloat16: decode the raw bytes by hand
            got = np.frombuffer(tp.tensor_content, ml_dtypes.bfloat16).reshape(v.shape)
        else:
            got = tensor_util.make_ndarray(tp)
        assert got.shape == np.shape(v)
        np.testing.assert_array_equal(got, v)

    y = nodes["y"]
    assert list(y.input) == ["x", "Const"] and y.attr["T"].type == tb_types.DT_FLOAT
    assert y.device == "/job:worker/task:1/device:CPU:0"
    assert list(nodes["z"].attr["_class"].list.s) == [b"loc:@y"]
    assert nodes["z"].device == y.device
    assert nodes["total"].input[-1] == "^z"
    # and back: TF's bytes are labflow's bytes
    assert graph_pb2.GraphDef.FromString(theirs.SerializeToString()) == gd


def _tb_node(gd, name, op, inputs=(), **attrs):
    n = gd.node.add(name=name, op=op)
    n.input.extend(inputs)
    for k, v in attrs.items():
        n.attr[k].CopyFrom(v)
    return n


def test_tensorflow_style_graph_def_imports_and_runs():
    pytest.importorskip("tensorboard")
    from tensorboard.compat.proto import attr_value_pb2 as tb_attr
    from tensorboard.compat.proto import graph_pb2 as tb_graph_pb2
    from tensorboard.compat.proto import tensor_pb2 as tb_tensor
    from tensorboard.compat.proto import types_pb2 as tb_types
    from tensorboard.util import tensor_util

    needed = ["Placeholder", "Const", "MatMul", "Add", "Softmax"]
    missing = [t for t in needed if registry.lookup(t) is None]
    if missing:
        pytest.skip(f"ops not registered yet: {missing}")
    rng = np.random.RandomState(0)
    w = rng.rand(4, 3).astype(np.float32)
    f32 = tb_attr.AttrValue(type=tb_types.DT_FLOAT)
    gd = tb_graph_pb2.GraphDef()
    gd.versions.producer = 27
    shape = tb_attr.AttrValue()
    shape.shape.dim.add(size=-1)
    shape.shape.dim.add(size=4)
    _tb_node(gd, "x", "Placeholder", dtype=f32, shape=shape)
    _tb_node(gd, "W", "Const", dtype=f32, value=tb_attr.AttrValue(tensor=tensor_util.make_tensor_proto(w)))
    bias = tb_tensor.TensorProto(dtype=tb_types.DT_FLOAT, float_val=[0.25])  # TF: one value fills the shape
    bias.tensor_shape.dim.add(size=3)
    _tb_node(gd, "b", "Const", dtype=f32, value=tb_attr.AttrValue(tensor=bias))
    _tb_node(gd, "MatMul", "MatMul", ["x", "W"], T=f32, transpose_a=tb_attr.AttrValue(b=False),
             transpose_b=tb_attr.AttrValue(b=False))
    _tb_node(gd, "add", "Add", ["MatMul", "b"], T=f32)
    _tb_node(gd, "Softmax", "Softmax", ["add"], T=f32)

    probs, = tf.import_graph_def(gd, return_elements=["Softmax:0"], name="model")
    assert probs.name == "model/Softmax:0"
    assert probs.get_shape().as_list() == [None, 3]
    xv = rng.rand(5, 4).astype(np.float32)
    with tf.Session() as sess:
        got = sess.run(probs, {"model/x:0": xv})
    logits = xv @ w + 0.25
    want = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_tensorflow_style_reduction_imports_and_runs():
    # Uses only the oldest ops, so it runs whatever else is registered: Sum with TF's attr names.
    pytest.importorskip("tensorboard")
    from tensorboard.compat.proto import attr_value_pb2 as tb_attr
    from tensorboard.compat.proto import graph_pb2 as tb_graph_pb2
    from tensorboard.compat.proto import types_pb2 as tb_types
    from tensorboard.util import tensor_util

    gd = tb_graph_pb2.GraphDef()
    f32 = tb_attr.AttrValue(type=tb_types.DT_FLOAT)
    i32 = tb_attr.AttrValue(type=tb_types.DT_INT32)
    _tb_node(gd, "x", "Placeholder", dtype=f32)  # no shape attr: unknown rank
    _tb_node(gd, "axis", "Const", dtype=i32, value=tb_attr.AttrValue(tensor=tensor_util.make_tensor_proto(1)))
    _tb_node(gd, "h", "Const", dtype=tb_attr.AttrValue(type=tb_types.DT_HALF),
             value=tb_attr.AttrValue(tensor=tensor_util.make_tensor_proto(np.float16([1.5, 2.0]))))
    _tb_node(gd, "Sum", "Sum", ["x", "axis"], T=f32, Tidx=i32, keep_dims=tb_attr.AttrValue(b=True),
             _output_shapes=tb_attr.AttrValue())
    total, h = tf.import_graph_def(gd.SerializeToString(), return_elements=["Sum:0", "h:0"])
    assert total.op.get_attr("keep_dims") is True and total.op.get_attr("Tidx") == tf.int32
    with tf.Session() as sess:
        got, hv = sess.run([total, h], {"import/x:0": np.ones((2, 3), np.float32)})
    np.testing.assert_array_equal(got, [[3.0], [3.0]])
    assert hv.dtype == np.float16 and hv.tolist() == [1.5, 2.0]


# ---------------------------------------------------------------------------------------------------------
# TensorProto and AttrValue conversion

@pytest.mark.parametrize("value", [
    np.float32(3.5), np.arange(12, dtype=np.float64).reshape(3, 4), np.array([1, 2], np.int16),
    np.array([[True]]), np.array([1 - 1j], np.complex128), np.array([0.1, 65504], np.float16),
    np.array([3.0, -0.5], ml_dtypes.bfloat16), np.array([2 ** 62], np.int64), np.zeros((2, 0, 3), np.int32),
    np.array([b"x", b"\xff\x00"], object),
], ids=lambda v: str(v.dtype))
def test_tensor_proto_round_trip(value):
    tp = make_tensor_proto(value)
    got = make_ndarray(tensor_pb2.TensorProto.FromString(tp.SerializeToString()))
    assert got.dtype == value.dtype and got.shape == value.shape
    np.testing.assert_array_equal(got, value)


def _tp(dtype, shape, **fields):
    tp = tensor_pb2.TensorProto(dtype=dtype, **fields)
    for d in shape:
        tp.tensor_shape.dim.add(size=d)
    return tp


def test_make_ndarray_reads_tensorflow_repeated_fields():
    one = np.float16(1.0).view(np.uint16)
    np.testing.assert_array_equal(make_ndarray(_tp(types_pb2.DT_HALF, [2], half_val=[int(one)] * 2)), [1, 1])
    bf = np.array([2.5], ml_dtypes.bfloat16).view(np.uint16)
    got = make_ndarray(_tp(types_pb2.DT_BFLOAT16, [1], half_val=[int(bf[0])]))
    assert got.dtype == ml_dtypes.bfloat16 and float(got[0]) == 2.5
    # a single value fills the shape; several values: the last one repeats; none: zeros
    np.testing.assert_array_equal(make_ndarray(_tp(types_pb2.DT_FLOAT, [2, 2], float_val=[7])),
                                  np.full((2, 2), 7))
    np.testing.assert_array_equal(make_ndarray(_tp(types_pb2.DT_INT32, [4], int_val=[1, 2])), [1, 2, 2, 2])
    np.testing.assert_array_equal(make_ndarray(_tp(types_pb2.DT_INT64, [3])), [0, 0, 0])
    assert make_ndarray(_tp(types_pb2.DT_BOOL, [], bool_val=[True])).tolist() is True
    np.testing.assert_array_equal(make_ndarray(_tp(types_pb2.DT_COMPLEX64, [2], scomplex_val=[1, 2])),
                                  [1 + 2j, 1 + 2j])
    assert make_ndarray(_tp(types_pb2.DT_STRING, [2], string_val=[b"a"])).tolist() == [b"a", b"a"]
    assert make_ndarray(_tp(types_pb2.DT_DOUBLE, [], double_val=[0.1])).item() == 0.1
    assert make_ndarray(_tp(types_pb2.DT_UINT8, [1], int_val=[255])).dtype == np.uint8


def test_make_ndarray_errors():
    with pytest.raises(ValueError, match="needs 8"):
        make_ndarray(_tp(types_pb2.DT_FLOAT, [2], tensor_content=b"\0\0\0\0"))
    with pytest.raises(ValueError, match="more than"):
        make_ndarray(_tp(types_pb2.DT_FLOAT, [1], float_val=[1, 2]))
    with pytest.raises(ValueError, match="no such dtype"):
        make_ndarray(_tp(types_pb2.DT_RESOURCE, []))
    with pytest.raises(ValueError, match="fully known shape"):
        make_ndarray(_tp(types_pb2.DT_FLOAT, [-1]))


@pytest.mark.parametrize("value", [
    3, -(2 ** 40), 0.2, 1e-7, True, False, "SAME", "\u00e9t\u00e9", tf.float32, tf.int64._as_ref, tf.bfloat16,
    tf.TensorShape(None), tf.TensorShape([None, 3]), tf.TensorShape([]), [1, 2, 3], [0.5, 0.25], [True],
    ["a", "b"], [tf.float32, tf.int32], [tf.TensorShape([1]), tf.TensorShape(None)], [],
], ids=repr)
def test_attr_value_round_trip(value):
    av = attr_value_from_python(value)
    back = attr_value_to_python(type(av).FromString(av.SerializeToString()))
    if isinstance(value, tf.TensorShape):
        assert back.ndims == value.ndims and (value.ndims is None or back.as_list() == value.as_list())
    elif isinstance(value, list) and value and isinstance(value[0], tf.TensorShape):
        assert [s.ndims for s in back] == [s.ndims for s in value]
    else:
        assert back == value and type(back) is type(value)


def test_attr_value_kinds():
    assert attr_value_from_python((1, 2.5)).list.f == [1.0, 2.5]  # ints and floats together: floats
    assert attr_value_from_python(np.int64(3)).i == 3
    assert attr_value_from_python(np.array([1.0])).tensor.dtype == types_pb2.DT_DOUBLE
    assert attr_value_from_python(tf.float32._as_ref).type == types_pb2.DT_FLOAT_REF
    assert attr_value_to_python(attr_value_from_python(b"\xff")) == b"\xff"  # not UTF-8: stays bytes
    assert attr_value_to_python(type(attr_value_from_python(1))()) is None
    for bad in ({"a": 1}, [[1, 2]], [1, None], ["a", 1], object()):
        with pytest.raises(TypeError):
            attr_value_from_python(bad)


def test_unserializable_attr_names_op_and_attr():
    x = tf.constant(1.0, name="x")
    x.op._set_attr("_py", {"not": "an attr"})
    with pytest.raises(TypeError, match="attr '_py' of op 'x' \\(op: 'Const'\\)"):
        tf.get_default_graph().as_graph_def()


def test_node_def_and_none_attrs():
    p = tf.placeholder(tf.float32, name="p")
    nd = p.op.node_def
    assert nd.name == "p" and nd.op == "Placeholder" and set(nd.attr) == {"dtype"}  # shape None: skipped
    assert tf.get_default_graph().as_graph_def().node[0] == nd


# ---------------------------------------------------------------------------------------------------------
# import_graph_def semantics

def _small_graph_def():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [2], name="x")
        c = tf.constant([10.0, 20.0], name="c")
        with tf.device("/device:CPU:0"):
            y = tf.add(x, c, name="y")
        with tf.control_dependencies([c.op]):
            z = tf.identity(y, name="z")
        with tf.colocate_with(z.op):
            tf.identity(z, name="w")
    return g.as_graph_def()


def test_default_prefix_is_unique_and_return_elements_keep_order():
    gd = _small_graph_def()
    z, y_op, x = tf.import_graph_def(gd, return_elements=["z:0", "y", "x:0"])
    assert (z.name, y_op.name, x.name) == ("import/z:0", "import/y", "import/x:0")
    assert isinstance(y_op, tf.Operation)
    w, = tf.import_graph_def(gd, return_elements=["w:0"])
    assert w.name == "import_1/w:0"
    with tf.name_scope("outer"):
        w, = tf.import_graph_def(gd, return_elements=["w:0"], name="net")
    assert w.name == "outer/net/w:0"
    assert tf.import_graph_def(gd, name="other") is None


def test_empty_name_imports_without_prefix_and_uniquifies():
    gd = _small_graph_def()
    tf.import_graph_def(gd, name="")
    z, = tf.import_graph_def(gd, name="", return_elements=["z:0"])
    assert z.name == "z_1:0"
    assert [t.name for t in z.op.inputs] == ["y_1:0"]
    assert [c.name for c in z.op.control_inputs] == ["c_1"]
    with tf.Session() as sess:
        assert sess.run(z, {"x_1:0": [1.0, 2.0]}).tolist() == [11.0, 22.0]


def test_input_map_replaces_inputs_and_control_inputs():
    gd = _small_graph_def()
    a = tf.constant([1.0, 2.0], name="a")
    gate = tf.no_op(name="gate")
    z, = tf.import_graph_def(gd, input_map={"x": a, "^c": gate}, return_elements=["z:0"])
    assert [t.name for t in z.op.inputs] == ["import/y:0"]
    assert z.op.inputs[0].op.inputs[0] is a
    assert z.op.control_inputs == [gate]
    with tf.Session() as sess:
        assert sess.run(z).tolist() == [11.0, 22.0]
    # values that are not yet tensors are converted (in the import's own scope)
    z, = tf.import_graph_def(gd, input_map={"x:0": [0.5, 0.5]}, return_elements=["z:0"])
    with tf.Session() as sess:
        assert sess.run(z).tolist() == [10.5, 20.5]


def test_input_map_errors():
    gd = _small_graph_def()
    a = tf.constant([1.0, 2.0])
    n_before = len(tf.get_default_graph().get_operations())
    with pytest.raises(ValueError) as e:
        tf.import_graph_def(gd, input_map={"x:0": a, "nope:0": a, "x:1": a})
    assert str(e.value) == "Attempted to map inputs that were not found in graph_def: [nope:0, x:1]"
    assert len(tf.get_default_graph().get_operations()) == n_before  # a failed import adds nothing
    with pytest.raises(ValueError, match="non-empty `name`"):
        tf.import_graph_def(gd, input_map={"x:0": [1.0, 2.0]}, name="")
    with pytest.raises(TypeError, match="dictionary"):
        tf.import_graph_def(gd, input_map=[("x:0", a)])
    with pytest.raises(ValueError, match="node 'y' \\(op: 'Add'\\).*int32"):
        tf.import_graph_def(gd, input_map={"x:0": tf.constant([1, 2])})  # int32 where float32 is needed


def test_outer_control_dependencies_reach_only_the_roots():
    gd = _small_graph_def()
    gate = tf.no_op(name="gate")
    with tf.control_dependencies([gate]):
        tf.import_graph_def(gd)
    g = tf.get_default_graph()
    ctrl = {op.name: [c.name for c in op.control_inputs] for op in g.get_operations()
            if op.name.startswith("import/")}
    assert ctrl == {"import/x": ["gate"], "import/c": ["gate"], "import/y": [], "import/z": ["import/c"],
                    "import/w": []}


def test_devices_and_colocation():
    gd = _small_graph_def()
    tf.import_graph_def(gd)
    g = tf.get_default_graph()
    assert g.get_operation_by_name("import/y").device == "/device:CPU:0"
    assert g.get_operation_by_name("import/x").device == ""
    w = g.get_operation_by_name("import/w")
    assert w.colocation_groups() == [b"loc:@import/z"]
    assert w.get_attr("_class") == [b"loc:@import/z"]

    gd.node[3].device = "/device:CPU:1"  # z: the colocated w follows it
    with tf.device("/job:worker"):
        tf.import_graph_def(gd, name="dev")
    assert g.get_operation_by_name("dev/y").device == "/job:worker/device:CPU:0"
    assert g.get_operation_by_name("dev/x").device == "/job:worker"
    assert g.get_operation_by_name("dev/w").device == "/job:worker/device:CPU:1"

    gd.node[4].attr["_class"].list.s[:] = [b"loc:@missing"]
    with pytest.raises(ValueError, match="colocation to an op that does not exist during import: missing"):
        tf.import_graph_def(gd, name="bad")


def test_nodes_in_any_order_are_sorted():
    gd = _small_graph_def()
    shuffled = graph_pb2.GraphDef()
    shuffled.node.extend(reversed(gd.node))
    z, = tf.import_graph_def(shuffled, return_elements=["z:0"])
    with tf.Session() as sess:
        assert sess.run(z, {"import/x:0": [1.0, 1.0]}).tolist() == [11.0, 21.0]


def test_import_errors_name_the_node():
    gd = _small_graph_def()
    bad = graph_pb2.GraphDef()
    bad.CopyFrom(gd)
    bad.node.add(name="mystery", op="NoSuchOp", input=["x"])
    with pytest.raises(ValueError, match="node 'mystery': op type 'NoSuchOp' is not registered"):
        tf.import_graph_def(bad)

    def modified(fn):
        m = graph_pb2.GraphDef()
        m.CopyFrom(gd)
        fn(m)
        return m

    with pytest.raises(ValueError, match="Node 'z': Unknown input node 'ghost'"):
        tf.import_graph_def(modified(lambda m: m.node[3].input.__setitem__(0, "ghost")))
    with pytest.raises(ValueError, match="invalid output 3 of source node y which has 1 outputs"):
        tf.import_graph_def(modified(lambda m: m.node[3].input.__setitem__(0, "y:3")))
    with pytest.raises(ValueError, match="cycle.*x"):
        tf.import_graph_def(modified(lambda m: m.node[0].input.append("^w")))
    with pytest.raises(ValueError, match="Duplicate node name in graph_def: 'x'"):
        tf.import_graph_def(modified(lambda m: m.node.add().CopyFrom(m.node[0])))
    with pytest.raises(ValueError, match="return tensor 'q:0' not found"):
        tf.import_graph_def(gd, return_elements=["q:0"])
    with pytest.raises(ValueError, match="return node 'q' not found"):
        tf.import_graph_def(gd, return_elements=["q"])
    with pytest.raises(TypeError, match="GraphDef"):
        tf.import_graph_def("not a graph")
    with pytest.raises(ValueError, match="not a serialized GraphDef"):
        tf.import_graph_def(b"\xff\xff\xff")

    # shape errors come from the op's own shape function, named with the imported node
    def widen(m):
        m.node[1].attr["value"].CopyFrom(attr_value_from_python(np.zeros(3, np.float32)))
    with pytest.raises(ValueError, match="Cannot import node 'y' \\(op: 'Add'\\).*Dimensions must be equal"):
        tf.import_graph_def(modified(widen))
    with pytest.raises(ValueError, match="Node 'x' \\(op: 'Placeholder'\\): attr 'dtype': DataType enum 20"):
        tf.import_graph_def(modified(lambda m: setattr(m.node[0].attr["dtype"], "type", 20)))
    # missing required attr
    with pytest.raises(ValueError, match="missing the required attr 'dtype'"):
        tf.import_graph_def(modified(lambda m: m.node[0].attr.pop("dtype")))
    assert tf.get_default_graph().get_operations() == []


def test_variables_survive_a_round_trip():
    g = tf.Graph()
    with g.as_default():
        v = tf.Variable([[1.0, 2.0]], name="v")
        x = tf.placeholder(tf.float32, [None, 2], name="x")
        tf.reduce_sum(x * v, name="y")
        tf.assign_add(v, [[1.0, 1.0]], name="upd")
    gd = g.as_graph_def()
    with tf.Graph().as_default() as g2:
        tf.import_graph_def(gd, name="")
        assert g2.get_operation_by_name("v").outputs[0].dtype == tf.float32._as_ref
        with tf.Session() as sess:
            sess.run(v.initializer.name)
            sess.run("upd")
            assert sess.run("y:0", {"x:0": [[1.0, 1.0]]}) == 5.0


def test_unknown_tensorflow_attrs_are_dropped():
    gd = _small_graph_def()
    gd.node[2].attr["use_cudnn_on_gpu"].b = True
    gd.node[2].attr["_keep_me"].i = 3
    with pytest.warns(UserWarning, match="'Add' op has no attr 'use_cudnn_on_gpu'"):
        y, = tf.import_graph_def(gd, return_elements=["y"])
    assert "use_cudnn_on_gpu" not in y.attrs and y.get_attr("_keep_me") == 3


# ---------------------------------------------------------------------------------------------------------
# write_graph / read_graph_def

@pytest.mark.parametrize("as_text", [True, False])
def test_write_graph_round_trip(tmp_path, as_text):
    g, _ = _rich_graph()
    logdir = tmp_path / "a" / "b"
    name = "graph.pbtxt" if as_text else "graph.pb"
    path = graph_io.write_graph(g, str(logdir), name, as_text=as_text)
    assert path == os.path.join(str(logdir), name)
    assert os.listdir(logdir) == [name]  # the temporary file was renamed, not left behind
    data = open(path, "rb").read()
    gd = g.as_graph_def()
    if as_text:
        assert text_format.Parse(data.decode(), graph_pb2.GraphDef()) == gd
        assert b'op: "Placeholder"' in data
    else:
        assert data == gd.SerializeToString(deterministic=True)
    assert graph_io.read_graph_def(path) == gd
    # overwrite with a GraphDef, atomically
    graph_io.write_graph(graph_pb2.GraphDef(), str(logdir), name, as_text=as_text)
    assert graph_io.read_graph_def(path) == graph_pb2.GraphDef()
    assert os.listdir(logdir) == [name]


def test_tf_train_write_graph_is_this_one():
    assert tf.train.write_graph is graph_io.write_graph


def test_written_text_graph_imports(tmp_path):
    path = graph_io.write_graph(tf.Graph(), str(tmp_path), "empty.pbtxt")
    g = tf.Graph()
    with g.as_default():
        tf.placeholder(tf.float32, [None, 2], name="x")
    graph_io.write_graph(g.as_graph_def(), str(tmp_path), "g.pbtxt")
    x, = tf.import_graph_def(graph_io.read_graph_def(str(tmp_path / "g.pbtxt")), return_elements=["x:0"])
    assert x.get_shape().as_list() == [None, 2]
    assert graph_io.read_graph_def(path) == tf.Graph().as_graph_def()


def test_read_graph_def_rejects_garbage(tmp_path):
    p = tmp_path / "junk"
    p.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(ValueError, match="neither a text nor a binary GraphDef"):
        graph_io.read_graph_def(str(p))
