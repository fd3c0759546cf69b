"""Sweep samples for the tensor-list ops behind tf.TensorArray (through the TensorArray methods)."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.testing.op_sweep import Case, exempt, samples

R = np.random.RandomState(12)

for _op in ("TensorListAddN", "TensorListZeros", "TensorListItemGrad", "TensorListClearItem", "TensorListReadGrad",
            "TensorListStackGrad", "TensorListGatherRows"):
    exempt(_op, "made only by the TensorArray ops' gradients; tests/ops/test_tensor_array.py checks them against "
                "central differences")


@samples("TensorListFromTensor", "TensorListStack", "TensorListGetItem", "TensorListSetItem", "TensorListReserve")
def _round_trip():
    def build(x):
        src = tf.TensorArray(x.dtype, size=3).unstack(x)
        out = tf.TensorArray(x.dtype, size=3)
        out = out.write(0, src.read(2)).write(1, src.read(0) * 2.0).write(2, src.read(1))
        return out.stack()

    return [Case(build, [R.rand(3, 2)], lambda x: np.stack([x[2], x[0] * 2, x[1]]))]


@samples("TensorListGather", "TensorListScatter", "TensorListLength")
def _gather_scatter():
    def build(x):
        ta = tf.TensorArray(x.dtype, size=4).scatter([3, 0, 2, 1], x)
        return [ta.gather([1, 3]), tf.cast(ta.size(), x.dtype)]

    return [Case(build, [R.rand(4, 3)], lambda x: [x[[3, 0]], np.asarray(4, x.dtype)])]
