"""Sweep samples for PriorityQueue and the FixedLengthRecordReader / IdentityReader readers.

Each Case builds its queue or reader and reads in the same step, ordered by control dependencies. Blocking,
sharing, capacity and error cases are in tests/ops/test_queue_reader_extra.py.
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.ops.data_flow_ops import FIFOQueue, PriorityQueue
from labflow.ops.reader_ops import FixedLengthRecordReader, IdentityReader
from labflow.testing.op_sweep import Case, samples
from labflow.testing.samples.readers import _after, _b, _file

R = np.random.RandomState(31)
FLOATS = (tf.float32, tf.float64)


@samples("PriorityQueue")
def _priority():
    def build(p, x):
        q = PriorityQueue(4, [x.dtype], shapes=[x.get_shape()[1:]])
        e = q.enqueue_many((p, x))
        first = _after([e], q.dequeue)
        return list(first) + list(_after(list(first), lambda: q.dequeue_many(2)))

    def ref(p, x):
        order = np.argsort(p, kind="stable")
        return [p[order[0]], x[order[0]], p[order[1:]], x[order[1:]]]
    return [Case(build, [np.array([5, -2, 3], np.int64), R.rand(3, 2)], ref, dtypes=FLOATS, grad=False,
                 unknown_shapes=False)]


def _names_queue(names):
    q = FIFOQueue(4, tf.string)
    e = q.enqueue_many([names])
    return q, [_after([e], q.close)]


@samples("FixedLengthRecordReader")
def _fixed_length():
    path = _file("fixed.bin", b"HDR" + b"0123456789" + b"FT")

    def build(fname):
        q, deps = _names_queue(tf.reshape(fname, [1]))
        r = FixedLengthRecordReader(4, header_bytes=3, footer_bytes=2, hop_bytes=3)
        return list(_after(deps, lambda: r.read_up_to(q, 5)))

    # overlapping records every 3 bytes; the one at offset 12 would run into the footer
    return [Case(build, [path], lambda p: [_b([p.item() + b":%d" % i for i in range(3)]),
                                            _b([b"0123", b"3456", b"6789"])], grad=False)]


@samples("IdentityReader")
def _identity():
    def build(work):
        q, deps = _names_queue(work)
        r = IdentityReader()
        return list(_after(deps, lambda: r.read_up_to(q, 5)))
    return [Case(build, [_b([b"unit-a", b"unit-b"])], lambda w: [w, w], grad=False)]
