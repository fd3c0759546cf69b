"""tf.variable_scope / tf.get_variable with TF 1.x's sharing rules, names and error texts."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf


def test_get_variable_names_and_default_initializers():
    with tf.variable_scope("foo"):
        with tf.variable_scope("bar"):
            v = tf.get_variable("v", [2, 3])
            i = tf.get_variable("i", [2], dtype=tf.int32)
    assert v.name == "foo/bar/v:0" and i.name == "foo/bar/i:0"
    assert v.initial_value.op.name.startswith("foo/bar/v/Initializer/")
    assert tf.get_variable_scope().name == ""
    assert tf.trainable_variables() == [v, i]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        vv, ii = sess.run([v, i])
    limit = np.sqrt(6.0 / (2 + 3))  # glorot_uniform
    assert np.all(np.abs(vv) <= limit) and np.any(vv != 0)
    np.testing.assert_array_equal(ii, [0, 0])


def test_reuse_errors_have_tf_texts():
    with tf.variable_scope("foo"):
        tf.get_variable("w", [1])
    with pytest.raises(ValueError) as e:
        with tf.variable_scope("foo"):
            tf.get_variable("w", [1])
    assert ("Variable foo/w already exists, disallowed. Did you mean to set reuse=True or "
            "reuse=tf.AUTO_REUSE in VarScope?") in str(e.value)
    assert "test_variable_scope.py" in str(e.value)  # "Originally defined at" the user's line
    with pytest.raises(ValueError) as e:
        with tf.variable_scope("foo", reuse=True):
            tf.get_variable("missing", [1])
    assert str(e.value) == ("Variable foo/missing does not exist, or was not created with tf.get_variable(). "
                            "Did you mean to set reuse=tf.AUTO_REUSE in VarScope?")
    with pytest.raises(ValueError, match="Trying to share variable foo/w, but specified shape"):
        with tf.variable_scope("foo", reuse=True):
            tf.get_variable("w", [2])
    with pytest.raises(ValueError, match="specified dtype int32 and found dtype float32"):
        with tf.variable_scope("foo", reuse=True):
            tf.get_variable("w", [1], dtype=tf.int32)
    with pytest.raises(ValueError, match="reuse parameter must be True or False or None"):
        tf.variable_scope("x", reuse="yes")


def test_reuse_true_auto_reuse_inherited_and_reuse_variables():
    with tf.variable_scope("a"):
        w = tf.get_variable("w", [1])
    with tf.variable_scope("a", reuse=True):
        assert tf.get_variable("w", [1]) is w
        with tf.variable_scope("inner"):
            assert tf.get_variable_scope().reuse is True  # inherited
    with tf.variable_scope("a") as scope:
        scope.reuse_variables()
        assert tf.get_variable("w") is w

    def f():
        with tf.variable_scope("auto", reuse=tf.AUTO_REUSE):
            return tf.get_variable("v", [3])
    assert f() is f()
    assert len(tf.global_variables()) == 2


def test_name_scope_vs_variable_scope_uniquification():
    with tf.variable_scope("a") as s1:
        c1 = tf.constant(1.0, name="c")
        v1 = tf.get_variable("v", [1])
    with tf.variable_scope("a", reuse=True) as s2:
        c2 = tf.constant(1.0, name="c")
        v2 = tf.get_variable("v", [1])
    assert s1.name == s2.name == "a"
    assert c1.name == "a/c:0" and c2.name == "a_1/c:0"
    assert v1 is v2 and v1.name == "a/v:0"
    assert s1.original_name_scope == "a/"
    with tf.variable_scope("n"):
        with tf.name_scope("ns"):
            v = tf.get_variable("x", [1])
            op = tf.constant(0.0, name="k")
    assert v.name == "n/x:0" and op.name == "n/ns/k:0"  # name scopes never prefix variables


def test_reentering_a_scope_object():
    with tf.variable_scope("foo") as vs:
        pass
    with tf.variable_scope(vs, auxiliary_name_scope=False) as vs1:
        with tf.name_scope(vs1.original_name_scope):
            v = tf.get_variable("v", [1])
            c = tf.constant([1], name="c")
    assert v.name == "foo/v:0" and c.name == "foo/c:0"
    with tf.variable_scope("outer"):
        with tf.variable_scope(vs, reuse=True):
            assert tf.get_variable("v", [1]) is v  # jumps to "foo", not "outer/foo"
            assert tf.get_variable_scope().name == "foo"


def test_default_name_counters():
    with tf.variable_scope("foo") as vs:
        with tf.variable_scope(None, default_name="bar"):
            a = tf.get_variable("a", [1])
        with tf.variable_scope(None, default_name="bar"):
            b = tf.get_variable("b", [1])
    with tf.variable_scope(vs):
        with tf.variable_scope(None, default_name="bar"):
            c = tf.get_variable("c", [1])
    assert a.name == "foo/bar/a:0" and b.name == "foo/bar_1/b:0" and c.name == "foo/bar/c:0"
    with pytest.raises(ValueError, match="reuse=True cannot be used without a name_or_scope"):
        with tf.variable_scope(None, default_name="d", reuse=True):
            pass
    with pytest.raises(TypeError, match="If default_name is None then name_or_scope is required"):
        tf.variable_scope(None)


def test_scope_defaults_initializer_dtype_regularizer_and_custom_getter():
    seen = []

    def getter(getter, name, *args, **kwargs):
        seen.append(name)
        return getter(name + "_x", *args, **kwargs)

    with tf.variable_scope("s", initializer=tf.constant_initializer(2.0), dtype=tf.float64,
                           regularizer=lambda w: tf.reduce_sum(w) * 0.5, custom_getter=getter):
        v = tf.get_variable("v", [2])
        u = tf.get_variable("u", [2], initializer=tf.zeros_initializer(), regularizer=tf.no_regularizer)
    assert v.dtype.base_dtype == tf.float64 and v.name == "s/v_x:0" and seen == ["s/v", "s/u"]
    losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
    assert len(losses) == 1 and losses[0].op.name.startswith("s/v_x/Regularizer/")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(v), [2, 2])
        np.testing.assert_array_equal(sess.run(u), [0, 0])
        assert sess.run(losses[0]) == 2.0


def test_get_variable_with_tensor_or_value_initializer():
    t = tf.get_variable("t", initializer=tf.constant([1.0, 2.0, 3.0]))
    n = tf.get_variable("n", initializer=[[1, 2]], dtype=tf.int32)
    assert t.shape.as_list() == [3] and n.dtype.base_dtype == tf.int32
    with pytest.raises(ValueError, match="If initializer is a constant, do not specify shape"):
        tf.get_variable("bad", [3], initializer=tf.constant([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="Initializer type 'float32' and explicit dtype 'int32' don't match"):
        tf.get_variable("bad2", initializer=tf.constant([1.0]), dtype=tf.int32)
    with pytest.raises(ValueError, match="must be fully defined"):
        tf.get_variable("bad3", [None, 2])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(t), [1, 2, 3])
        np.testing.assert_array_equal(sess.run(n), [[1, 2]])


def test_get_local_variable_and_scope_collections():
    with tf.variable_scope("m") as scope:
        lv = tf.get_local_variable("count", [], dtype=tf.int64)
        gv = tf.get_variable("w", [1], trainable=False)
    assert tf.local_variables() == [lv] and lv not in tf.trainable_variables()
    assert scope.global_variables() == [gv] and scope.trainable_variables() == []


def test_variable_store_is_per_graph_and_thread_scope():
    g1, g2 = tf.Graph(), tf.Graph()
    with g1.as_default():
        a = tf.get_variable("same", [1])
    with g2.as_default():
        b = tf.get_variable("same", [1])  # no conflict: another graph
    assert a.graph is g1 and b.graph is g2
    assert g1._variable_store is not None and g1._variable_store is not g2._variable_store

    import threading
    names = []

    def worker():
        names.append(tf.get_variable_scope().name)

    with tf.variable_scope("main_thread"):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert names == [""]  # each thread starts at the root scope
