"""make_template: variable sharing across calls, scopes and names as TF 1.x, create_scope_now_, unique_name_,
custom_getter_, bound kwargs, and TF's error when a later call creates trainable variables."""

import numpy as np
import pytest

import labflow as tf
from labflow.ops.template import Template, make_template


def _linear(x, units=2):
    w = tf.get_variable("w", [2, units], initializer=tf.ones_initializer(), dtype=tf.float64)
    return tf.matmul(x, w)


def _x():
    return tf.constant(np.ones((1, 2)))


def test_calls_share_variables_and_scopes_follow_tf():
    tf.reset_default_graph()
    t = make_template("lin", _linear)
    assert isinstance(t, Template) and t.variable_scope is None and t.variable_scope_name is None
    a, b = t(_x()), t(_x())
    assert a.name == "lin/MatMul:0" and b.name == "lin_1/MatMul:0"
    assert [v.name for v in tf.global_variables()] == ["lin/w:0"]
    assert t.variable_scope.name == "lin" and t.variable_scope_name == "lin/"
    assert [v.name for v in t.trainable_variables] == ["lin/w:0"] == [v.name for v in t.variables]
    assert t.non_trainable_variables == [] and t.local_variables == []
    assert t.name == "lin"


def test_two_templates_get_unique_scopes_and_kwargs_are_bound():
    tf.reset_default_graph()
    t1 = make_template("lin", _linear, units=3)
    t2 = make_template("lin", _linear)
    assert t1(_x()).get_shape().as_list() == [1, 3]
    t2(_x())
    assert [v.name for v in tf.global_variables()] == ["lin/w:0", "lin_1/w:0"]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        np.testing.assert_allclose(sess.run(t1(_x())), [[2.0, 2.0, 2.0]])


def test_create_scope_now_uses_the_scope_at_construction():
    tf.reset_default_graph()
    with tf.variable_scope("outer"):
        t = make_template("lin", _linear, create_scope_now_=True)
    assert t.variable_scope.name == "outer/lin"
    t(_x())
    with tf.variable_scope("elsewhere"):
        t(_x())
    assert [v.name for v in tf.global_variables()] == ["outer/lin/w:0"]


def test_unique_name_is_used_as_is():
    tf.reset_default_graph()
    with tf.variable_scope("outer"):
        t = make_template("inner", _linear, unique_name_="uniq")
        out = t(_x())
    assert out.name == "outer/uniq/MatMul:0"
    assert t.variable_scope.name == "outer/uniq"


def test_custom_getter_sees_every_variable():
    tf.reset_default_graph()
    seen = []

    def getter(getter, name, *args, **kwargs):
        seen.append(name)
        return getter(name, *args, **kwargs)

    t = make_template("lin", _linear, custom_getter_=getter)
    t(_x())
    t(_x())
    assert seen == ["lin/w", "lin/w"]


def test_new_trainable_variable_on_a_later_call_is_an_error():
    tf.reset_default_graph()

    def bad(x):
        return x * tf.Variable(1.0, name="v")

    t = make_template("bad", bad)
    t(tf.constant(1.0))
    with pytest.raises(ValueError, match="Trainable variable created when calling a template after the first "
                                         "time") as info:
        t(tf.constant(1.0))
    assert "originally defined at" in str(info.value)


def test_first_call_failure_can_be_retried():
    tf.reset_default_graph()
    calls = []

    def flaky(x):
        calls.append(1)
        w = tf.get_variable("w", [], dtype=tf.float64, initializer=tf.ones_initializer())
        if len(calls) == 1:
            raise RuntimeError("boom")
        return x * w

    t = make_template("flaky", flaky)
    with pytest.raises(RuntimeError, match="boom"):
        t(tf.constant(2.0, tf.float64))
    with pytest.raises(ValueError, match="already exists"):
        t(tf.constant(2.0, tf.float64))  # the first call's variable exists: TF reports it the same way


def test_name_is_required():
    with pytest.raises(ValueError, match="name cannot be None"):
        make_template(None, _linear)
