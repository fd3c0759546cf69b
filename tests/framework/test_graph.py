"""tf.Graph / Operation / Tensor semantics against TF 1.x (graph building, lookups, naming, running)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import labflow as tf
from labflow.framework.graph import _default_graph_stack


def _const(v=1.0, name=None):
    return tf.constant(v, name=name) if name else tf.constant(v)


# -- the default graph -------------------------------------------------------------------------------
def test_as_default_nests_and_restores():
    g0 = tf.get_default_graph()
    g1, g2 = tf.Graph(), tf.Graph()
    with g1.as_default() as got:
        assert got is g1 and tf.get_default_graph() is g1
        with g2.as_default():
            assert tf.get_default_graph() is g2
            c = _const()
        assert tf.get_default_graph() is g1
    assert tf.get_default_graph() is g0
    assert c.graph is g2 and c.op in g2.get_operations() and not g0.get_operations()


def test_as_default_restores_after_exception():
    g0 = tf.get_default_graph()
    with pytest.raises(KeyError):
        with tf.Graph().as_default():
            raise KeyError("boom")
    assert tf.get_default_graph() is g0


def test_default_graph_is_per_thread():
    g1 = tf.Graph()
    seen = {}

    def work():
        seen["default"] = tf.get_default_graph()
        with g1.as_default():
            seen["inside"] = tf.get_default_graph()

    with g1.as_default():
        t = threading.Thread(target=work)
        t.start()
        t.join()
    # as_default() in one thread does not leak into another; each thread has its own default graph (TF 1.x)
    assert seen["inside"] is g1
    assert seen["default"] is not g1 and seen["default"] is not tf.get_default_graph()


def test_reset_default_graph_replaces_global_default():
    g0 = tf.get_default_graph()
    _const()
    tf.reset_default_graph()
    g1 = tf.get_default_graph()
    assert g1 is not g0 and g1.get_operations() == []
    assert tf.get_default_graph() is g1  # stable until the next reset


def test_reset_default_graph_inside_as_default_raises_assertion():
    with tf.Graph().as_default():
        with pytest.raises(AssertionError, match="nested graphs"):
            tf.reset_default_graph()


def test_as_default_nesting_violation_is_an_assertion():
    g1, g2 = tf.Graph(), tf.Graph()
    c1, c2 = g1.as_default(), g2.as_default()
    c1.__enter__()
    c2.__enter__()
    try:
        with pytest.raises(AssertionError, match="Nesting violated"):
            c1.__exit__(None, None, None)
    finally:
        _default_graph_stack.stack.clear()  # TF leaves the stack as it was: clean up for the next test


# -- version, finalize --------------------------------------------------------------------------------
def test_version_increases_on_every_mutation():
    g = tf.get_default_graph()
    v0 = g.version
    a = tf.placeholder(tf.float32, [None, 3])
    v1 = g.version
    assert v1 > v0
    a.set_shape([2, 3])
    v2 = g.version
    assert v2 > v1
    a.op._set_device("/cpu:0")
    v3 = g.version
    assert v3 > v2
    b = _const()
    b.op._add_control_input(a.op)
    assert g.version > v3 + 1


def test_finalize_makes_create_op_raise_runtime_error():
    g = tf.Graph()
    with g.as_default():
        _const()
        g.finalize()
        assert g.finalized
        with pytest.raises(RuntimeError, match="Graph is finalized and cannot be modified"):
            _const()
        with pytest.raises(RuntimeError, match="finalized"):
            tf.add_to_collection("losses", 1)
        g._unsafe_unfinalize()
        _const()


# -- lookups ------------------------------------------------------------------------------------------
def test_get_operation_and_tensor_by_name():
    g = tf.get_default_graph()
    c = _const(name="c")
    assert g.get_operation_by_name("c") is c.op
    assert g.get_tensor_by_name("c:0") is c
    assert g.as_graph_element("c") is c.op and g.as_graph_element("c:0") is c
    assert g.as_graph_element(c) is c and g.as_graph_element(c.op) is c.op


def test_lookup_errors_use_tf_wording():
    g = tf.get_default_graph()
    _const(name="c")
    with pytest.raises(KeyError, match="The name 'nope' refers to an Operation not in the graph."):
        g.get_operation_by_name("nope")
    with pytest.raises(KeyError, match="refers to a Tensor which does not exist. The operation, 'nope', does "
                                       "not exist in the graph."):
        g.get_tensor_by_name("nope:0")
    with pytest.raises(KeyError, match="exists but only has 1 outputs"):
        g.get_tensor_by_name("c:1")
    with pytest.raises(ValueError, match="The name 'c' refers to an Operation, not a Tensor"):
        g.get_tensor_by_name("c")
    with pytest.raises(ValueError, match="looks like an \\(invalid\\) Operation name"):
        g.get_tensor_by_name("zzz")
    with pytest.raises(ValueError, match="appears to refer to a Tensor, not a Operation"):
        g.get_operation_by_name("c:0")
    with pytest.raises(ValueError, match="looks a like a Tensor name, but is not a valid one"):
        g.get_tensor_by_name("c:x")
    with pytest.raises(TypeError, match="Operation names are strings"):
        g.get_operation_by_name(3)
    with pytest.raises(TypeError, match="Tensor names are strings"):
        g.get_tensor_by_name(3)
    with pytest.raises(TypeError, match="Can not convert a int into a Tensor or Operation"):
        g.as_graph_element(3)


def test_as_graph_element_rejects_other_graphs_elements():
    other = tf.Graph()
    with other.as_default():
        c = _const()
    g = tf.get_default_graph()
    with pytest.raises(ValueError, match="is not an element of this graph"):
        g.as_graph_element(c)
    with pytest.raises(ValueError, match="is not an element of this graph"):
        g.as_graph_element(c.op)


def test_get_operations_in_creation_order():
    a = _const(name="a")
    b = _const(name="b")
    c = tf.add(a, b, name="c")
    assert [o.name for o in tf.get_default_graph().get_operations()] == ["a", "b", "c"]
    assert c.op.inputs == [a, b]


def test_unique_name_like_tf():
    g = tf.get_default_graph()
    assert g.unique_name("foo") == "foo"
    assert g.unique_name("foo") == "foo_1"
    assert g.unique_name("Foo") == "Foo_2"  # case-insensitive, original case kept
    assert g.unique_name("foo_1") == "foo_1_1"
    assert g.unique_name("bar", mark_as_used=False) == "bar"
    assert g.unique_name("bar") == "bar"
    with g.name_scope("s"):
        assert g.unique_name("x") == "s/x"


def test_default_op_names_are_uniquified():
    a, b, c = _const(), _const(), _const()
    assert [a.op.name, b.op.name, c.op.name] == ["Const", "Const_1", "Const_2"]
    d = _const(name="Const_1")
    assert d.op.name == "Const_1_1"


def test_invalid_op_names_are_rejected():
    with pytest.raises(ValueError, match="not a valid node name"):
        _const(name="bad name")
    with pytest.raises(ValueError, match="not a valid node name"):
        _const(name="-leading-dash")
    with pytest.raises(ValueError, match="not a valid node name"):
        _const(name="a:b")
    assert _const(name="_internal").op.name == "_internal"  # labflow allows '_' (internal op names)


def test_exact_name_from_scope_string():
    with tf.name_scope("layer") as scope:
        pass
    op = tf.get_default_graph().create_op("NoOp", [], name=scope)
    assert op.name == "layer"
    with pytest.raises(ValueError, match="Duplicate node name in graph: 'layer'"):
        tf.get_default_graph().create_op("NoOp", [], name=scope)


# -- Operation ----------------------------------------------------------------------------------------
def test_operation_properties():
    a = tf.placeholder(tf.float32, [None, 3], name="a")
    b = _const(np.ones((1, 3), np.float32), name="b")
    with tf.control_dependencies([b]):
        c = tf.add(a, a, name="c")
    op = c.op
    assert op.type == "Add" and op.name == "c" and op.graph is tf.get_default_graph()
    assert op.inputs == [a, a] and op.control_inputs == [b.op]
    assert op.outputs == [c] and op.values() == (c,)
    assert op.get_attr("T") == tf.float32
    assert op.device == ""
    assert b.op.get_attr("dtype") == tf.float32
    assert repr(op) == "<tf.Operation 'c' type=Add>"


def test_get_attr_error_names_the_op_and_attr():
    c = _const(name="k")
    with pytest.raises(ValueError, match="Operation 'k' has no attr named 'nope'"):
        c.op.get_attr("nope")
    with pytest.raises(ValueError, match="has no attr named '_class'"):
        c.op.get_attr("_class")


def test_operation_traceback_points_at_user_code():
    c = tf.constant(1.0, name="here")  # the creation site
    tb = c.op.traceback
    files = [f for f, *_ in tb]
    assert any(f.endswith("test_graph.py") for f in files)
    paths = [f.replace("\\", "/") for f in files]
    assert not any("/labflow/" in p and "/tests/" not in p for p in paths)  # user frames only
    last = tb[-1]
    assert last[0].endswith("test_graph.py") and "the creation site" in last[3]
    assert "Caused by op 'here'" in c.op.creation_site_text


def test_operation_run_and_tensor_eval():
    v = tf.Variable(3.0, name="v")
    init = v.initializer
    x = tf.placeholder(tf.float32, [])
    y = x * 2.0
    with pytest.raises(ValueError, match="No default session"):
        y.eval(feed_dict={x: 1.0})
    with pytest.raises(ValueError, match="No default session"):
        init.run()
    sess = tf.Session()
    init.run(session=sess)  # explicit session
    assert y.eval(feed_dict={x: 4.0}, session=sess) == 8.0
    with sess.as_default():
        assert init.run() is None
        assert v.eval() == 3.0
        assert y.eval(feed_dict={x: 1.5}) == 3.0
    sess.close()


def test_eval_with_session_of_other_graph_fails():
    g = tf.Graph()
    with g.as_default():
        c = _const()
    with tf.Session() as sess:
        with pytest.raises(ValueError, match="graph"):
            c.eval(session=sess)


# -- Tensor -------------------------------------------------------------------------------------------
def test_tensor_basics():
    x = tf.placeholder(tf.float32, [None, 784], name="x")
    assert x.name == "x:0" and x.dtype == tf.float32 and x.value_index == 0
    assert x.op.name == "x" and x.graph is tf.get_default_graph()
    assert x.get_shape().as_list() == [None, 784] and x.shape.as_list() == [None, 784]
    assert x.shape[1].value == 784 and x.shape[0].value is None
    assert repr(x) == "<tf.Tensor 'x:0' shape=(?, 784) dtype=float32>"
    assert str(x) == 'Tensor("x:0", shape=(?, 784), dtype=float32)'
    with tf.device("/cpu:0"):
        y = tf.identity(x, name="y")
    assert str(y) == 'Tensor("y:0", shape=(?, 784), dtype=float32, device=/device:CPU:0)'
    assert y.device == "/device:CPU:0"


def test_tensor_unknown_rank():
    x = tf.placeholder(tf.float32)
    assert x.get_shape().ndims is None
    assert str(x.get_shape()) == "<unknown>"


def test_set_shape_merges_and_rejects_incompatible():
    x = tf.placeholder(tf.float32, [None, None])
    x.set_shape([None, 3])
    assert x.get_shape().as_list() == [None, 3]
    x.set_shape([5, None])
    assert x.get_shape().as_list() == [5, 3]
    with pytest.raises(ValueError, match="not compatible"):
        x.set_shape([6, 3])
    with pytest.raises(ValueError, match="not compatible"):
        x.set_shape([5, 3, 1])
    u = tf.placeholder(tf.float32)
    u.set_shape(tf.TensorShape([2, None]))
    assert u.get_shape().as_list() == [2, None]


def test_consumers():
    a = _const()
    b = tf.identity(a)
    c = tf.add(a, b)
    assert a.consumers() == [b.op, c.op]
    assert c.consumers() == []


def test_tensor_bool_is_a_type_error():
    x = _const()
    with pytest.raises(TypeError, match="as a Python `bool` is not allowed"):
        bool(x)
    with pytest.raises(TypeError):
        if x:
            pass


def test_tensor_iteration_over_known_first_dim():
    x = tf.constant([[1, 2], [3, 4], [5, 6]])
    rows = list(x)
    assert len(rows) == 3 and all(isinstance(r, tf.Tensor) for r in rows)
    assert rows[0].get_shape().as_list() == [2]
    a, b, c = x
    with tf.Session() as sess:
        assert sess.run(c).tolist() == [5, 6]
    with pytest.raises(TypeError, match="unknown first dimension"):
        iter(tf.placeholder(tf.float32, [None, 2]))
    with pytest.raises(TypeError, match="scalar"):
        iter(tf.constant(1.0))
    with pytest.raises(TypeError, match="unknown shape"):
        iter(tf.placeholder(tf.float32))


def test_tensor_hash_and_eq_are_identity():
    a = _const()
    b = tf.identity(a)
    assert a == a and not (a == b) and a != b
    d = {a: 1, b: 2}
    assert d[a] == 1 and d[b] == 2
    assert a in {a} and b not in {a}
    assert hash(a) != hash(b)


def test_tensor_as_node_def_input():
    a = _const(name="a")
    assert a._as_node_def_input() == "a"


def test_tensor_from_another_graph_is_rejected():
    g = tf.Graph()
    with g.as_default():
        c = _const()
    with pytest.raises(ValueError, match="must be from the same graph"):
        tf.get_default_graph().create_op("Identity", [c])
