"""Samples for the ops of the core runtime that are not in a family module of their own."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.testing.op_sweep import Case, exempt, samples

R = np.random.RandomState(42)

exempt("_Send", "added only by the partitioner; tests/runtime/test_partition.py runs it across devices")
exempt("_Recv", "added only by the partitioner; tests/runtime/test_partition.py runs it across devices")
exempt("_ControlTrigger", "added only for cross-device control edges; tests/runtime/test_partition.py")
exempt("Placeholder", "its value is always fed: every sample in the sweep feeds one")


@samples("NoOp")
def _no_op():
    return [Case(lambda x: [x, tf.no_op()][0:1] + [tf.identity(x)], [R.rand(2)],
                 lambda x: [x, x], grad=False)]


@samples("Const")
def _const():
    return [Case(lambda x: tf.constant([[1.0, 2.0], [3.0, 4.0]], dtype=x.dtype) + x, [R.rand(2, 2)],
                 lambda x: np.array([[1, 2], [3, 4]], x.dtype) + x)]
exempt("SaveV2", "writes files; tests/train/test_saver.py round-trips every dtype through SaveV2/RestoreV2")
exempt("RestoreV2", "reads files; tests/train/test_saver.py covers restore, errors and crash safety")
