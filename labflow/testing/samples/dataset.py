"""Sweep samples for the tf.data iterator ops."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(13)


@samples("MakeIterator", "IteratorGetNext")
def _iterate():
    def build(x):
        it = tf.data.Dataset.from_tensor_slices(x).map(lambda row: row * 2.0).batch(2).make_initializable_iterator()
        with tf.control_dependencies([it.initializer]):
            return tf.identity(it.get_next())

    return [Case(build, [R.rand(3, 2)], lambda x: x[:2] * 2, grad=False, unknown_shapes=False)]
