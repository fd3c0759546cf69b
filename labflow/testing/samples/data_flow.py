"""Sweep samples for the queue and conditional-accumulator ops.

These ops are stateful and some block, so each Case builds a fresh queue/accumulator and runs a round
trip in one step, ordered by control dependencies (enqueue -> dequeue, apply -> take). Blocking,
closing, cancellation, staleness and sharing are tested in tests/ops/test_data_flow_ops.py and
tests/train/test_sync_replicas.py.
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.ops.accumulator_ops import ConditionalAccumulator, SparseConditionalAccumulator
from labflow.ops.data_flow_ops import FIFOQueue, PaddingFIFOQueue, RandomShuffleQueue
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(11)
FLOATS = (_dt.float16, _dt.float32, _dt.float64)


def _after(deps, fn):
    with tf.control_dependencies(deps):
        return fn()


def _round_trip(make_queue):
    def build(x):
        q = make_queue(x)
        return _after([q.enqueue(x)], q.dequeue)
    return build


@samples("FIFOQueue", "QueueEnqueue", "QueueDequeue")
def _fifo():
    build = _round_trip(lambda x: FIFOQueue(3, x.dtype))

    def two(x, y):
        q = FIFOQueue(2, [x.dtype, y.dtype])
        return _after([q.enqueue((x, y))], q.dequeue)

    return [Case(build, [R.rand(2, 3)], lambda x: x, dtypes=FLOATS, grad=False),
            Case(build, [np.arange(4, dtype=np.int32)], lambda x: x, grad=False, name="int32"),
            Case(two, [R.rand(3), np.array([1, 2], np.int64)], lambda x, y: [x, y], dtypes=FLOATS, grad=False,
                 name="two_components")]


@samples("RandomShuffleQueue")
def _random_shuffle():
    return [Case(_round_trip(lambda x: RandomShuffleQueue(3, 0, x.dtype, seed=3)), [R.rand(4)], lambda x: x,
                 dtypes=FLOATS, grad=False)]


@samples("QueueEnqueueMany", "QueueDequeueMany")
def _many():
    def build(x):
        q = FIFOQueue(5, x.dtype, shapes=x.get_shape()[1:])
        return _after([q.enqueue_many(x)], lambda: q.dequeue_many(3))
    return [Case(build, [R.rand(3, 2)], lambda x: x, dtypes=FLOATS, grad=False, unknown_shapes=False)]


@samples("QueueDequeueUpTo", "QueueClose")
def _up_to():
    def build(x):
        q = FIFOQueue(5, x.dtype, shapes=x.get_shape()[1:])
        closed = _after([q.enqueue_many(x)], q.close)
        return _after([closed], lambda: q.dequeue_up_to(10))
    return [Case(build, [R.rand(3, 2)], lambda x: x, dtypes=FLOATS, grad=False, unknown_shapes=False)]


@samples("PaddingFIFOQueue")
def _padding():
    def build(x, y):
        q = PaddingFIFOQueue(3, x.dtype, shapes=[[None]])
        e1 = q.enqueue(x)
        e2 = _after([e1], lambda: q.enqueue(y))
        return _after([e2], lambda: q.dequeue_many(2))

    def ref(x, y):
        out = np.zeros((2, 3), x.dtype)
        out[0, :2], out[1, :] = x, y
        return out
    return [Case(build, [R.rand(2), R.rand(3)], ref, dtypes=FLOATS, grad=False, unknown_shapes=False)]


@samples("QueueSize", "QueueIsClosed")
def _size():
    def build(x):
        q = FIFOQueue(3, x.dtype)
        e = q.enqueue(x)
        return _after([e], lambda: [q.size(), q.is_closed()])
    return [Case(build, [R.rand(2)], lambda x: [np.int32(1), np.bool_(False)], grad=False)]


# -- accumulators -----------------------------------------------------------------------------------------
@samples("ConditionalAccumulator", "AccumulatorApplyGradient", "AccumulatorTakeGradient")
def _accumulate():
    def build(x, y):
        a = ConditionalAccumulator(x.dtype, shape=x.get_shape())
        e = _after([a.apply_grad(x)], lambda: a.apply_grad(y))
        return _after([e], lambda: a.take_grad(2))

    def build_sum(x, y):
        a = ConditionalAccumulator(x.dtype, reduction_type="SUM")
        e = _after([a.apply_grad(x)], lambda: a.apply_grad(y))
        return _after([e], lambda: a.take_grad(2))
    return [Case(build, [R.rand(2, 3), R.rand(2, 3)], lambda x, y: (x + y) / 2, dtypes=FLOATS, grad=False),
            Case(build_sum, [R.rand(4), R.rand(4)], lambda x, y: x + y, dtypes=FLOATS, grad=False, name="sum"),
            Case(build, [np.array([3, 4], np.int32), np.array([4, -7], np.int32)],
                 lambda x, y: np.trunc((x + y) / 2).astype(np.int32), grad=False, name="int32_truncates")]


@samples("AccumulatorNumAccumulated", "AccumulatorSetGlobalStep")
def _num_and_step():
    def build(x):
        a = ConditionalAccumulator(x.dtype)
        s = a.set_global_step(5)
        stale = _after([s], lambda: a.apply_grad(x, local_step=4))  # dropped: older than the global step
        fresh = _after([stale], lambda: a.apply_grad(x, local_step=5))
        return _after([fresh], a.num_accumulated)
    return [Case(build, [R.rand(3)], lambda x: np.int32(1), grad=False)]


@samples("SparseConditionalAccumulator", "SparseAccumulatorApplyGradient", "SparseAccumulatorTakeGradient")
def _sparse():
    def build(x, y):
        a = SparseConditionalAccumulator(x.dtype, shape=[4, 2])
        e1 = a.apply_indexed_slices_grad(tf.IndexedSlices(x, tf.constant([0, 2]), tf.constant([4, 2])))
        e2 = _after([e1], lambda: a.apply_grad([2], y, grad_shape=[4, 2]))
        return _after([e2], lambda: a.take_grad(2))

    def ref(x, y):
        # Row 2 got two gradients and is averaged over them; row 0 got one.
        return [np.array([0, 2], np.int64), np.stack([x[0], (x[1] + y[0]) / 2]), np.array([4, 2], np.int64)]
    return [Case(build, [R.rand(2, 2), R.rand(1, 2)], ref, dtypes=FLOATS, grad=False, unknown_shapes=False)]
