"""Sweep samples for the control-flow ops (If, While) and Assert / Print."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.testing.op_sweep import Case, exempt, samples

R = np.random.RandomState(11)

exempt("IfGrad", "made only by If's gradient; tests/ops/test_control_flow.py checks it against central differences")
exempt("WhileGrad", "made only by While's gradient; tests/ops/test_control_flow.py checks it against central "
                    "differences")


@samples("If")
def _if():
    def build(x, w):
        return tf.cond(tf.reduce_sum(x) > 0, lambda: tf.tanh(x) * w, lambda: x - w)

    def ref(x, w):
        return np.tanh(x) * w if x.sum() > 0 else x - w

    return [Case(build, [np.abs(R.rand(2, 3)) + 0.1, R.rand(2, 3)], ref, name="then"),
            Case(build, [-np.abs(R.rand(2, 3)) - 0.1, R.rand(2, 3)], ref, name="else")]


@samples("While")
def _while():
    def build(x, w):
        return tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * w + x), [0, x])[1]

    def ref(x, w):
        a = x
        for _ in range(3):
            a = a * w + x
        return a

    return [Case(build, [R.rand(4), R.rand(4)], ref, rtol=1e-4)]


@samples("Assert")
def _assert():
    def build(x):
        with tf.control_dependencies([tf.Assert(tf.reduce_all(x >= 0), ["negative:", x])]):
            return tf.identity(x)

    return [Case(build, [R.rand(3)], lambda x: x, grad=False)]


@samples("Print")
def _print():
    return [Case(lambda x: tf.Print(x, [x], message="sample: ", first_n=1), [R.rand(2, 2)], lambda x: x)]
