"""Sweep samples for the sharded Saver's ops (saver_ops.py) and AddV2 (math_ops.py), which TF-written graphs use.

MergeV2Checkpoints moves files and is exempt; tests/framework/test_tf_saved_model.py checks it byte for byte
against an index TensorFlow merged.
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.ops import saver_ops
from labflow.testing.op_sweep import Case, exempt, samples

R = np.random.RandomState(23)


def _str(text: str) -> np.ndarray:
    out = np.empty((), dtype=object)
    out[()] = text.encode()
    return out


@samples("ShardedFilename")
def _sharded_filename():
    return [
        Case(lambda b, s, n: saver_ops.sharded_filename(b, s, n),
             [_str("ckpt/model_temp/part"), np.int32(3), np.int32(12)],
             lambda b, s, n: _str(f"{b.item().decode()}-{int(s):05d}-of-{int(n):05d}"), grad=False),
        Case(lambda b, s, n: saver_ops.sharded_filename(b, s, n), [_str("m"), np.int32(0), np.int32(1)],
             lambda b, s, n: _str("m-00000-of-00001"), grad=False, name="one_shard"),
    ]


@samples("ShardedFilespec")
def _sharded_filespec():
    return [Case(lambda b, n: saver_ops.sharded_filespec(b, n), [_str("/tmp/x/model"), np.int32(7)],
                 lambda b, n: _str("/tmp/x/model-?????-of-00007"), grad=False)]


@samples("AddV2")
def _add_v2():
    def add_v2(a, b):
        return tf.get_default_graph().create_op("AddV2", [a, b]).outputs[0]
    return [
        Case(add_v2, [R.randn(3, 1), R.randn(4)], np.add, dtypes=(tf.float16, tf.float32, tf.float64),
             name="broadcast"),
        Case(add_v2, [np.array([[1, -2]], np.int64), np.array([[3], [4]], np.int64)], np.add, grad=False,
             name="int64"),
    ]


exempt("MergeV2Checkpoints", "moves checkpoint files; tests/framework/test_tf_saved_model.py compares its merged "
       "index byte for byte with one TensorFlow wrote, and runs it inside TF's sharded Saver graph")
