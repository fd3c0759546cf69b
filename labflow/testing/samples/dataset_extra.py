"""Sweep samples for Dataset.reduce's ReduceDataset op (the rest of tf.data's additions are Python pipelines,
tested in tests/data/test_dataset_extra.py)."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(37)


@samples("ReduceDataset")
def _reduce():
    def total(x):
        return tf.data.Dataset.from_tensor_slices(x).map(lambda row: row * 2.0).reduce(
            tf.zeros_like(x[0]), lambda s, row: s + row)

    def count_and_max(x):
        return list(tf.data.Dataset.from_tensor_slices(x).reduce(
            (np.int64(0), tf.fill(tf.shape(x)[1:], x.dtype.min)), lambda s, row: (s[0] + 1, tf.maximum(s[1], row))))

    return [Case(total, [R.rand(4, 3)], lambda x: (x * 2).sum(axis=0), grad=False, name="sum"),
            Case(count_and_max, [R.rand(5, 2)], lambda x: [np.int64(5), x.max(axis=0)], grad=False,
                 name="tuple_state")]
