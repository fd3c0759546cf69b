"""Name scopes, control dependencies, device scopes and colocation, as TF 1.x builds them."""

from __future__ import annotations

import threading

import pytest

import labflow as tf


def _c(name=None):
    return tf.constant(1.0, name=name) if name else tf.constant(1.0)


# -- name scopes ----------------------------------------------------------------------------------------
def test_name_scope_uniquifies_and_returns_scope_string():
    with tf.name_scope("foo") as s1:
        a = _c("a")
    with tf.name_scope("foo") as s2:
        b = _c("a")
    assert (s1, s2) == ("foo/", "foo_1/")
    assert a.op.name == "foo/a" and b.op.name == "foo_1/a"


def test_nested_name_scopes():
    with tf.name_scope("a"):
        with tf.name_scope("b") as s:
            c = _c()
            assert tf.get_default_graph().get_name_scope() == "a/b"
        with tf.name_scope("b") as s2:
            pass
    assert s == "a/b/" and s2 == "a/b_1/"
    assert c.op.name == "a/b/Const"


def test_reentering_absolute_scope_string_does_not_uniquify():
    with tf.name_scope("outer") as scope:
        _c("x")
    with tf.name_scope("other"):
        with tf.name_scope(scope) as again:  # "outer/" is absolute: back in the same scope
            y = _c("y")
            x2 = _c("x")
    assert again == "outer/"
    assert y.op.name == "outer/y" and x2.op.name == "outer/x_1"


def test_name_scope_none_and_empty_reset_to_root():
    with tf.name_scope("a"):
        with tf.name_scope(None) as s:
            c = _c("c")
        with tf.name_scope("") as s2:
            pass
    assert s == "" and s2 == "" and c.op.name == "c"


def test_op_name_collides_with_scope_name():
    _c("foo")
    with tf.name_scope("foo") as s:
        pass
    assert s == "foo_1/"
    with tf.name_scope("bar"):
        pass
    assert _c("bar").op.name == "bar_1"


def test_uniquification_is_case_insensitive():
    with tf.name_scope("Layer") as s1:
        pass
    with tf.name_scope("layer") as s2:
        pass
    assert s1 == "Layer/" and s2 == "layer_1/"


def test_invalid_scope_names_raise_value_error():
    with pytest.raises(ValueError, match="not a valid scope name"):
        with tf.name_scope("bad name"):
            pass
    with pytest.raises(ValueError, match="not a valid scope name"):
        with tf.name_scope("_top"):  # a root scope obeys the op-name rule
            pass
    with tf.name_scope("ok"):
        with tf.name_scope("_inner") as s:  # nested scopes may start with '_'
            pass
    assert s == "ok/_inner/"


def test_name_scope_default_name_and_values():
    x = _c()
    with tf.name_scope(None, "Default", [x]) as s:
        pass
    with tf.name_scope(None, "Default", [x]) as s2:
        pass
    with tf.name_scope("given", "Default", [x]) as s3:
        pass
    assert (s, s2, s3) == ("Default/", "Default_1/", "given/")
    with pytest.raises(ValueError, match="At least one of name"):
        with tf.name_scope(None, None, [x]):
            pass


def test_name_scope_enters_graph_of_values():
    g = tf.Graph()
    with g.as_default():
        x = _c()
    with tf.name_scope("s", values=[x]) as scope:
        assert tf.get_default_graph() is g
        y = tf.identity(x)
    assert scope == "s/" and y.graph is g and y.op.name == "s/Identity"
    with pytest.raises(ValueError, match="must be from the same graph"):
        with tf.name_scope("mix", values=[x, _c()]):
            pass


def test_name_scope_is_per_thread():
    names = {}

    def work():
        names["other"] = _c("t").op.name

    g = tf.get_default_graph()
    with tf.name_scope("main"):
        t = threading.Thread(target=lambda: (g.as_default().__enter__(), work()))
        t.start()
        t.join()
    assert names["other"] == "t"


# -- control dependencies ---------------------------------------------------------------------------------
def test_control_dependencies_on_ops_tensors_and_variables():
    a, b = _c("a"), _c("b")
    v = tf.Variable(1.0, name="v")
    with tf.control_dependencies([a.op, b, v]):
        c = _c("c")
    assert c.op.control_inputs == [a.op, b.op, v.op]
    assert a.op in c.op.control_inputs


def test_control_dependencies_nesting_accumulates_and_dedups():
    a, b = _c("a"), _c("b")
    with tf.control_dependencies([a]):
        with tf.control_dependencies([b, a]):
            c = _c("c")
        d = _c("d")
    assert c.op.control_inputs == [a.op, b.op]
    assert d.op.control_inputs == [a.op]


def test_control_dependencies_none_clears():
    a = _c("a")
    with tf.control_dependencies([a]):
        with tf.control_dependencies(None):
            b = _c("b")
            with tf.control_dependencies([b]):
                c = _c("c")
        d = _c("d")
    assert b.op.control_inputs == [] and c.op.control_inputs == [b.op] and d.op.control_inputs == [a.op]


def test_no_redundant_control_input_for_data_input():
    a = _c("a")
    with tf.control_dependencies([a]):
        b = tf.identity(a)  # a is already a data input
    assert b.op.control_inputs == []


def test_no_control_input_when_input_was_built_in_the_same_block():
    a = _c("a")
    with tf.control_dependencies([a]):
        b = _c("b")
        c = tf.identity(b)  # b already waits for a (TF's dominance rule)
    assert b.op.control_inputs == [a.op] and c.op.control_inputs == []


def test_control_dependencies_rejects_bad_inputs():
    with pytest.raises(TypeError, match="Control input must be"):
        with tf.control_dependencies([3]):
            pass
    g = tf.Graph()
    with g.as_default():
        other = _c()
    with pytest.raises(ValueError, match="same graph"):
        with tf.control_dependencies([other]):
            pass


def test_group_no_op_identity():
    a, b = _c("a"), _c("b")
    n = tf.no_op(name="nothing")
    assert n.type == "NoOp" and n.outputs == [] and n.name == "nothing"
    g = tf.group(a, b.op, name="grp")
    assert g.type == "NoOp" and g.name == "grp" and set(g.control_inputs) == {a.op, b.op}
    assert tf.group().type == "NoOp"
    i = tf.identity(a, name="ident")
    assert i.op.type == "Identity" and i.op.inputs == [a] and i.dtype == a.dtype
    with tf.Session() as sess:
        assert sess.run(g) is None and sess.run(i) == 1.0


# -- device scopes ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec, want", [
    ("/cpu:0", "/device:CPU:0"),
    ("/gpu:1", "/device:GPU:1"),
    ("/device:GPU:1", "/device:GPU:1"),
    ("/job:ps/task:0", "/job:ps/task:0"),
    ("/job:worker/replica:0/task:1/device:GPU:0", "/job:worker/replica:0/task:1/device:GPU:0"),
    ("/job:worker/task:1/gpu:0", "/job:worker/task:1/device:GPU:0"),
])
def test_device_strings_are_canonical(spec, want):
    with tf.device(spec):
        c = _c()
    assert c.op.device == want and c.device == want


def test_device_spec_object():
    with tf.device(tf.DeviceSpec(job="ps", task=2, device_type="CPU", device_index=0)):
        c = _c()
    assert c.op.device == "/job:ps/task:2/device:CPU:0"


def test_nested_device_scopes_merge_inner_wins():
    with tf.device("/job:worker/task:1"):
        with tf.device("/gpu:0"):
            a = _c()
        with tf.device("/job:ps"):
            b = _c()
        with tf.device("/task:3/cpu:0"):
            c = _c()
        d = _c()
    assert a.op.device == "/job:worker/task:1/device:GPU:0"
    assert b.op.device == "/job:ps/task:1"
    assert c.op.device == "/job:worker/task:3/device:CPU:0"
    assert d.op.device == "/job:worker/task:1"


def test_device_none_clears_and_empty_string_keeps():
    with tf.device("/job:ps/cpu:0"):
        with tf.device(None):
            a = _c()
        with tf.device(""):
            b = _c()
    assert a.op.device == "" and b.op.device == "/job:ps/device:CPU:0"


def test_device_function_gets_op_and_its_result_replaces_the_device():
    seen = []

    def fn(op):
        seen.append(op)
        return "/job:ps/task:0" if op.type == "VariableV2" else op.device

    with tf.device(fn):
        with tf.device("/gpu:0"):
            c = _c("c")  # the inner scope runs first, then fn sees op.device
        v = tf.Variable(1.0, name="v")
    assert seen[0] is c.op and c.op.device == "/device:GPU:0"
    assert v.op.device == "/job:ps/task:0"


def test_device_function_inside_string_scope_is_merged_by_outer():
    with tf.device("/job:worker"):
        with tf.device(lambda op: "/gpu:1"):
            c = _c()
    assert c.op.device == "/job:worker/device:GPU:1"


def test_device_recorded_on_every_node_of_a_wrapper():
    with tf.device("/job:worker/task:1/gpu:0"):
        x = tf.placeholder(tf.float32, [2])
        y = tf.reduce_sum(x * 2.0)
    g = tf.get_default_graph()
    assert {o.device for o in g.get_operations()} == {"/job:worker/task:1/device:GPU:0"}
    assert y.device == "/job:worker/task:1/device:GPU:0"


def test_malformed_device_string():
    with pytest.raises(ValueError, match="Unknown attribute"):
        with tf.device("/jobs:ps"):
            pass
    with pytest.raises(ValueError, match="multiple device types"):
        with tf.device("/cpu:0/gpu:0"):
            pass


# -- colocation --------------------------------------------------------------------------------------------
def test_colocate_with_sets_class_and_device():
    with tf.device("/job:ps/task:0/cpu:0"):
        a = _c("a")
    with tf.device("/gpu:0"):
        with tf.colocate_with(a):
            b = _c("b")
            with tf.device("/gpu:1"):  # colocation still wins over device scopes opened inside
                c = _c("c")
    assert b.op.get_attr("_class") == [b"loc:@a"] and b.op.device == a.op.device
    assert c.op.get_attr("_class") == [b"loc:@a"] and c.op.device == "/job:ps/task:0/device:CPU:0"
    assert b.op.colocation_groups() == [b"loc:@a"]
    assert a.op.colocation_groups() == [b"loc:@a"]


def test_colocate_with_ignores_enclosing_device_scope_when_target_has_no_device():
    a = _c("a")
    with tf.device("/gpu:0"):
        with tf.colocate_with(a):
            b = _c("b")
            with tf.device("/cpu:0"):
                c = _c("c")
    assert b.op.device == "" and c.op.device == "/device:CPU:0"


def test_colocate_with_tensor_and_variable_and_nesting():
    a, b = _c("a"), _c("b")
    v = tf.Variable(1.0, name="v")
    with tf.colocate_with(a):
        with tf.colocate_with(b):
            c = _c("c")
    assert c.op.get_attr("_class") == [b"loc:@a", b"loc:@b"]
    with tf.colocate_with(v):
        d = _c("d")
    assert d.op.get_attr("_class") == [b"loc:@v"]


def test_colocate_with_none_ignore_existing():
    a, x = _c("a"), _c("x")
    with tf.colocate_with(a):
        with tf.colocate_with(None, ignore_existing=True):
            b = _c("b")
        with tf.colocate_with(x, ignore_existing=True):
            c = _c("c")
    with pytest.raises(ValueError):
        b.op.get_attr("_class")
    assert c.op.get_attr("_class") == [b"loc:@x"]
    with pytest.raises(ValueError, match="ignore_existing is not True"):
        with tf.colocate_with(None):
            pass


def test_gradient_override_map_marks_ops():
    g = tf.get_default_graph()
    with g.gradient_override_map({"Identity": "CustomGrad"}):
        y = tf.identity(_c())
    assert y.op.get_attr("_gradient_op_type") == "CustomGrad"
    with pytest.raises(TypeError):
        with g.gradient_override_map({"Identity": 3}):
            pass
