"""Queues and conditional accumulators: TF1 semantics, blocking, closing, cancellation, GraphDef round trips."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import labflow as tf
from labflow.ops.accumulator_ops import ConditionalAccumulator, SparseConditionalAccumulator
from labflow.ops.data_flow_ops import FIFOQueue, PaddingFIFOQueue, QueueBase, RandomShuffleQueue

pytestmark = pytest.mark.timeout(60)


def _start(fn, *args):
    out: dict = {}

    def run():
        try:
            out["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            out["error"] = e
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


# -- FIFOQueue -------------------------------------------------------------------------------------------
def test_fifo_order_size_and_components():
    q = FIFOQueue(10, [tf.float32, tf.int32], shapes=[[2], []])
    assert isinstance(q, QueueBase)
    assert q.name == "fifo_queue" and q.dtypes == [tf.float32, tf.int32] and q.names is None
    assert [s.as_list() for s in q.shapes] == [[2], []]
    x = tf.placeholder(tf.float32, [2])
    i = tf.placeholder(tf.int32, [])
    enq = q.enqueue((x, i))
    assert enq.type == "QueueEnqueue" and enq.name == "fifo_queue_enqueue"
    deq = q.dequeue()
    assert deq[0].op.name == "fifo_queue_Dequeue"
    assert deq[0].get_shape().as_list() == [2] and deq[1].get_shape().as_list() == []
    with tf.Session() as sess:
        for k in range(3):
            sess.run(enq, {x: [k, k + 0.5], i: k})
        assert sess.run(q.size()) == 3
        for k in range(3):
            a, b = sess.run(deq)
            np.testing.assert_array_equal(a, [k, k + 0.5])
            assert b == k
        assert sess.run(q.size()) == 0
        ref = sess.run(q.queue_ref)
        assert list(ref) == [b"", b"_0_fifo_queue"]


def test_enqueued_values_are_copies_of_variables():
    v = tf.Variable([1.0, 2.0])
    q = FIFOQueue(5, tf.float32)
    enq = q.enqueue(v)
    with tf.Session() as sess:
        sess.run(v.initializer)
        sess.run(enq)
        sess.run(tf.assign_add(v, [10.0, 10.0]))
        np.testing.assert_array_equal(sess.run(q.dequeue()), [1.0, 2.0])


def test_named_components_are_dicts():
    q = FIFOQueue(3, [tf.int32, tf.float32], shapes=[[], [2]], names=["a", "b"])
    enq = q.enqueue({"b": [1.0, 2.0], "a": 3})
    out = q.dequeue()
    assert set(out) == {"a", "b"}
    with pytest.raises(ValueError, match="must enqueue a dictionary"):
        q.enqueue((1, [1.0, 2.0]))
    with pytest.raises(ValueError, match="do not match names"):
        q.enqueue({"a": 1, "c": [1.0, 2.0]})
    with tf.Session() as sess:
        sess.run(enq)
        got = sess.run(out)
        assert got["a"] == 3
        np.testing.assert_array_equal(got["b"], [1.0, 2.0])


def test_static_shape_and_argument_errors():
    q = FIFOQueue(3, tf.float32, shapes=[[2]])
    with pytest.raises(ValueError):
        q.enqueue([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="fully defined"):
        FIFOQueue(3, tf.float32, shapes=[[None]])
    with pytest.raises(ValueError, match="same length"):
        FIFOQueue(3, [tf.float32, tf.int32], shapes=[[2]])
    with pytest.raises(ValueError, match="list of shapes"):
        PaddingFIFOQueue(3, tf.float32, shapes=[None])
    with pytest.raises(TypeError, match="l-value"):
        tf.get_default_graph().create_op("QueueSize", [tf.constant(["a", "b"])])


def test_shapes_tuple_is_one_scalar_shape():
    q = FIFOQueue(-1, tf.int64, shapes=())
    assert [s.as_list() for s in q.shapes] == [[]]
    assert q.dequeue_many(3).get_shape().as_list() == [3]


def test_dequeue_many_up_to_and_close():
    q = FIFOQueue(10, tf.int32, shapes=[[]])
    enq = q.enqueue_many([[1, 2, 3, 4, 5]])
    many = q.dequeue_many(2)
    up_to = q.dequeue_up_to(2)
    assert many.get_shape().as_list() == [2] and up_to.get_shape().as_list() == [None]
    with tf.Session() as sess:
        sess.run(enq)
        np.testing.assert_array_equal(sess.run(many), [1, 2])
        sess.run(q.close())
        assert sess.run(q.is_closed())
        np.testing.assert_array_equal(sess.run(up_to), [3, 4])
        with pytest.raises(tf.errors.OutOfRangeError, match=r"requested 2, current size 1"):
            sess.run(many)
        np.testing.assert_array_equal(sess.run(up_to), [5])
        with pytest.raises(tf.errors.OutOfRangeError) as e:
            sess.run(q.dequeue())
        assert "FIFOQueue '_0_fifo_queue' is closed and has insufficient elements (requested 1, current size 0)" \
            in str(e.value)
        with pytest.raises(tf.errors.CancelledError, match="is closed"):
            sess.run(enq)


def test_dequeue_many_needs_shapes():
    q = FIFOQueue(10, tf.int32)
    enq = q.enqueue(1)
    with tf.Session() as sess:
        sess.run(enq)
        with pytest.raises(tf.errors.InvalidArgumentError, match="require the components to have specified shapes"):
            sess.run(q.dequeue_many(1))


def test_runtime_shape_mismatch():
    q = FIFOQueue(10, [tf.int32, tf.int32], shapes=[[2], [2]])
    x = tf.placeholder(tf.int32)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"tuple component 0. Expected \[2\], got \[3\]"):
            sess.run(q.enqueue((x, [1, 2])), {x: [1, 2, 3]})
        with pytest.raises(tf.errors.InvalidArgumentError, match="same size in the 0th dimension"):
            sess.run(FIFOQueue(5, [tf.int32, tf.int32]).enqueue_many((x, [[1], [2]])), {x: [[1], [2], [3]]})


def test_dequeue_blocks_until_enqueue():
    q = FIFOQueue(10, tf.float32)
    x = tf.placeholder(tf.float32)
    enq, deq = q.enqueue(x), q.dequeue()
    with tf.Session() as sess:
        t, out = _start(sess.run, deq)
        time.sleep(0.3)
        assert t.is_alive() and not out
        sess.run(enq, {x: 7.0})
        t.join(5)
        assert out["value"] == 7.0


def test_enqueue_blocks_while_full_and_cancel_pending():
    q = FIFOQueue(1, tf.int32)
    enq = q.enqueue(1)
    with tf.Session() as sess:
        sess.run(enq)
        t, out = _start(sess.run, enq)
        time.sleep(0.3)
        assert t.is_alive()
        assert sess.run(q.dequeue()) == 1
        t.join(5)
        assert not t.is_alive() and "error" not in out
        t, out = _start(sess.run, enq)
        time.sleep(0.2)
        sess.run(q.close(cancel_pending_enqueues=True))
        t.join(5)
        assert isinstance(out.get("error"), tf.errors.CancelledError)


def test_close_wakes_pending_dequeue():
    q = FIFOQueue(10, tf.float32)
    deq = q.dequeue()
    with tf.Session() as sess:
        t, out = _start(sess.run, deq)
        time.sleep(0.2)
        sess.run(q.close())
        t.join(5)
        assert isinstance(out.get("error"), tf.errors.OutOfRangeError)


def test_session_close_cancels_pending_dequeue():
    q = FIFOQueue(10, tf.float32)
    deq = q.dequeue()
    sess = tf.Session()
    t, out = _start(sess.run, deq)
    time.sleep(0.3)
    assert t.is_alive()
    start = time.time()
    sess.close()
    t.join(5)
    assert not t.is_alive() and time.time() - start < 1.0
    assert isinstance(out.get("error"), tf.errors.CancelledError)


def test_session_close_cancels_pending_dequeue_in_multi_device_step():
    with tf.device("/cpu:1"):
        q = FIFOQueue(10, tf.float32)
    with tf.device("/cpu:0"):
        y = q.dequeue() * 2.0
    sess = tf.Session(config=tf.ConfigProto(device_count={"CPU": 2}))
    t, out = _start(sess.run, y)
    time.sleep(0.3)
    sess.close()
    t.join(5)
    assert not t.is_alive()
    assert isinstance(out.get("error"), tf.errors.CancelledError)


def test_handle_consumers_are_colocated_with_the_queue():
    with tf.device("/cpu:1"):
        q = FIFOQueue(10, tf.float32)
    with tf.device("/cpu:0"):
        x = tf.constant(3.0) + 1.0
        enq = q.enqueue(x)
        deq = q.dequeue()
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        sess.run(enq)
        assert sess.run(deq) == 4.0
        where = {p.node: p.device for p in sess.placements()}
        assert where[deq.op.name].endswith("CPU:1")


def test_shared_name_shares_state():
    q1 = FIFOQueue(5, tf.int32, shared_name="shared_q", name="q1")
    q2 = FIFOQueue(5, tf.int32, shared_name="shared_q", name="q2")
    q3 = FIFOQueue(5, tf.float32, shared_name="shared_q", name="q3")
    with tf.Session() as sess:
        sess.run(q1.enqueue(9))
        assert sess.run(q2.dequeue()) == 9
        with pytest.raises(tf.errors.InvalidArgumentError, match="different definition"):
            sess.run(q3.size())


def test_graph_def_round_trip_runs():
    q = FIFOQueue(5, [tf.float32, tf.int32], shapes=[[2], []], name="q")
    x = tf.placeholder(tf.float32, [2], name="x")
    q.enqueue((x, 4), name="enq")
    q.dequeue(name="deq")
    gd = tf.get_default_graph().as_graph_def()
    g2 = tf.Graph()
    with g2.as_default():
        tf.import_graph_def(gd, name="")
        assert g2.get_tensor_by_name("deq:0").get_shape().as_list() == [2]
        with tf.Session() as sess:
            sess.run("enq", {"x:0": [1.0, 2.0]})
            a, b = sess.run(["deq:0", "deq:1"])
            np.testing.assert_array_equal(a, [1.0, 2.0])
            assert b == 4


# -- RandomShuffleQueue / PaddingFIFOQueue --------------------------------------------------------------------
def test_random_shuffle_is_a_permutation_and_seeded():
    def run_once():
        tf.reset_default_graph()
        q = RandomShuffleQueue(20, 0, tf.int32, shapes=[[]], seed=5)
        with tf.Session() as sess:
            sess.run(q.enqueue_many([list(range(10))]))
            return list(sess.run(q.dequeue_many(10)))
    a, b = run_once(), run_once()
    assert sorted(a) == list(range(10)) and a != list(range(10)) and a == b


def test_random_shuffle_min_after_dequeue():
    q = RandomShuffleQueue(10, 2, tf.int32, shapes=[[]], seed=1)
    with tf.Session() as sess:
        sess.run(q.enqueue_many([[1, 2]]))
        t, out = _start(sess.run, q.dequeue())
        time.sleep(0.3)
        assert t.is_alive()  # two left would go below min_after_dequeue
        sess.run(q.enqueue(3))
        t.join(5)
        assert out["value"] in (1, 2, 3)
        sess.run(q.close())
        assert sorted(sess.run(q.dequeue_many(2))) == sorted({1, 2, 3} - {out["value"]})


def test_padding_fifo_queue_pads():
    q = PaddingFIFOQueue(5, [tf.int32, tf.string], shapes=[[None, 2], [None]])
    x = tf.placeholder(tf.int32, [None, 2])
    s = tf.placeholder(tf.string, [None])
    enq = q.enqueue((x, s))
    out = q.dequeue_many(2)
    assert out[0].get_shape().as_list() == [2, None, 2]
    with tf.Session() as sess:
        sess.run(enq, {x: [[1, 2]], s: [b"a", b"b", b"c"]})
        sess.run(enq, {x: [[3, 4], [5, 6]], s: [b"d"]})
        a, b = sess.run(out)
        np.testing.assert_array_equal(a, [[[1, 2], [0, 0]], [[3, 4], [5, 6]]])
        assert b.tolist() == [[b"a", b"b", b"c"], [b"d", b"", b""]]


# -- ConditionalAccumulator -----------------------------------------------------------------------------------
def test_accumulator_mean_stale_and_global_step():
    a = ConditionalAccumulator(tf.float32, shape=[2], name="acc")
    assert a.name == "acc" and a.dtype == tf.float32
    g = tf.placeholder(tf.float32, [2])
    step = tf.placeholder(tf.int64, [])
    apply = a.apply_grad(g, local_step=step)
    assert apply.type == "AccumulatorApplyGradient"
    take = a.take_grad(2)
    assert take.get_shape().as_list() == [2]
    with pytest.raises(ValueError):
        a.apply_grad([1.0, 2.0, 3.0])
    with tf.Session() as sess:
        sess.run(apply, {g: [1, 2], step: 0})
        sess.run(apply, {g: [3, 6], step: 0})
        assert sess.run(a.num_accumulated()) == 2
        np.testing.assert_allclose(sess.run(take), [2, 4])
        assert sess.run(a.num_accumulated()) == 0
        sess.run(apply, {g: [100, 100], step: 0})  # stale: the global step is now 1
        assert sess.run(a.num_accumulated()) == 0
        sess.run(a.set_global_step(5))
        sess.run(apply, {g: [1, 1], step: 4})
        assert sess.run(a.num_accumulated()) == 0
        sess.run(apply, {g: [1, 1], step: 7})
        assert sess.run(a.num_accumulated()) == 1


def test_accumulator_take_blocks_and_errors():
    a = ConditionalAccumulator(tf.float64, reduction_type="SUM")
    g = tf.placeholder(tf.float64)
    apply = a.apply_grad(g)
    take = a.take_grad(2)
    with tf.Session() as sess:
        t, out = _start(sess.run, take)
        sess.run(apply, {g: [1.0, 2.0]})
        time.sleep(0.2)
        assert t.is_alive()
        sess.run(apply, {g: [1.0, 2.0]})
        t.join(5)
        np.testing.assert_array_equal(out["value"], [2.0, 4.0])
        with pytest.raises(tf.errors.InvalidArgumentError, match="num_required must be positive"):
            sess.run(a.take_grad(0))
        fresh = a.apply_grad(g, local_step=1)  # the take advanced the global step to 1
        sess.run(fresh, {g: [1.0, 2.0]})
        with pytest.raises(tf.errors.InvalidArgumentError, match="Shape mismatch"):
            sess.run(fresh, {g: [1.0, 2.0, 3.0]})


def test_accumulator_take_is_cancelled_by_session_close():
    a = ConditionalAccumulator(tf.float32)
    sess = tf.Session()
    t, out = _start(sess.run, a.take_grad(1))
    time.sleep(0.2)
    sess.close()
    t.join(5)
    assert isinstance(out.get("error"), tf.errors.CancelledError)


def test_sparse_accumulator_averages_per_row():
    a = SparseConditionalAccumulator(tf.float32, shape=[5, 2])
    g1 = tf.IndexedSlices(tf.constant([[1.0, 1.0], [2.0, 2.0]]), tf.constant([3, 1]), tf.constant([5, 2]))
    apply1 = a.apply_indexed_slices_grad(g1)
    apply2 = a.apply_grad([1], [[4.0, 6.0]], local_step=0)
    taken = a.take_indexed_slices_grad(2)
    assert isinstance(taken, tf.IndexedSlices)
    with tf.Session() as sess:
        sess.run(apply1)
        sess.run(apply2)
        idx, vals, shape = sess.run([taken.indices, taken.values, taken.dense_shape])
        np.testing.assert_array_equal(idx, [1, 3])
        np.testing.assert_allclose(vals, [[3.0, 4.0], [1.0, 1.0]])
        np.testing.assert_array_equal(shape, [5, 2])
        sess.run(apply1)  # stale now: the take advanced the global step
        assert sess.run(a.num_accumulated()) == 0


def test_accumulator_graph_def_round_trip():
    a = ConditionalAccumulator(tf.float32, shape=[2], shared_name="acc_x", name="acc")
    a.apply_grad([1.0, 3.0], name="apply")
    a.take_grad(1, name="take")
    gd = tf.get_default_graph().as_graph_def()
    g2 = tf.Graph()
    with g2.as_default():
        tf.import_graph_def(gd, name="")
        with tf.Session() as sess:
            sess.run("apply")
            np.testing.assert_allclose(sess.run("take:0"), [1.0, 3.0])
