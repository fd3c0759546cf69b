"""Samples for the script ops (PyFunc, PyFuncStateless): a NumPy callable as an op, one and two outputs.

Their outputs have unknown static shapes (as in TF), which the sweep accepts as compatible with any
actual shape; tests/ops/test_py_func.py covers errors, conversion, state and gradients.
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(7)


@samples("PyFunc")
def _py_func():
    def two(x, y):
        return [tf.py_func(lambda a, b: (a * b, np.int64(a.size)), [x, y], [x.dtype, tf.int64])[0],
                tf.py_func(lambda a: np.asarray(a.size), [x], tf.int64)]
    return [Case(lambda x: tf.py_func(np.sinh, [x], x.dtype), [R.randn(2, 3)], np.sinh, grad=False),
            Case(two, [R.randn(3), R.randn(3)], lambda a, b: [a * b, np.int64(3)], grad=False, name="two_outputs"),
            Case(lambda s: tf.py_func(lambda v: v + b"!", [s], tf.string), [np.array(b"hi", dtype=object)],
                 lambda s: np.array(b"hi!", dtype=object), grad=False, name="string")]


@samples("PyFuncStateless")
def _py_func_stateless():
    return [Case(lambda x: tf.py_func(lambda a: np.maximum(a, 0), [x], x.dtype, stateful=False), [R.randn(4)],
                 lambda a: np.maximum(a, 0), grad=False),
            Case(lambda x: tf.numpy_function(lambda a: a.astype(np.int32).sum(), [x], tf.int32, stateful=False),
                 [np.arange(6, dtype=np.int64).reshape(2, 3)], lambda a: np.int32(15), grad=False, name="sum")]
