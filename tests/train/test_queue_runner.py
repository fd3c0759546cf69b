"""QueueRunner, start_queue_runners and Coordinator (TF 1.x semantics)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import labflow as tf
from labflow.ops.data_flow_ops import FIFOQueue
from labflow.train.coordinator import Coordinator, LooperThread
from labflow.train.queue_runner import QueueRunner, add_queue_runner, start_queue_runners

pytestmark = pytest.mark.timeout(60)


def test_queue_runner_fills_queue_until_coordinator_stops():
    counter = tf.Variable(0, name="counter")
    q = FIFOQueue(4, tf.int32, shapes=[[]])
    qr = QueueRunner(q, [q.enqueue(tf.assign_add(counter, 1))])
    assert qr.name == "fifo_queue" and len(qr.enqueue_ops) == 1
    add_queue_runner(qr)
    assert tf.get_collection(tf.GraphKeys.QUEUE_RUNNERS) == [qr]
    batch = q.dequeue_many(3)
    coord = Coordinator()
    sess = tf.Session()
    threads = []
    try:
        sess.run(counter.initializer)
        threads = start_queue_runners(sess, coord=coord)
        assert len(threads) == 2 and all(t.daemon for t in threads)  # enqueue thread + closer
        assert start_queue_runners(sess, coord=coord) == []  # already running for this session
        a = sess.run(batch)
        b = sess.run(batch)
        np.testing.assert_array_equal(np.concatenate([a, b]), np.arange(1, 7))
    finally:
        coord.request_stop()
        coord.join(threads, stop_grace_period_secs=5)  # the closer cancels the enqueue blocked on a full queue
        sess.close()
    assert not any(t.is_alive() for t in threads)


def test_input_pipeline_ends_with_out_of_range():
    # Filenames-like pipeline: a closed source queue -> a runner copying into a second queue -> consumer.
    src = FIFOQueue(10, tf.int32, shapes=[[]], name="src")
    dst = FIFOQueue(2, tf.int32, shapes=[[]], name="dst")
    qr = QueueRunner(dst, [dst.enqueue(src.dequeue() * 10)])
    fill = src.enqueue_many([[1, 2, 3, 4, 5]])
    with tf.Session() as sess:
        sess.run(fill)
        sess.run(src.close())
        coord = Coordinator()
        threads = qr.create_threads(sess, coord=coord, daemon=True, start=True)
        got = []
        try:
            while True:
                got.append(int(sess.run(dst.dequeue())))
        except tf.errors.OutOfRangeError:
            pass  # the runner saw src's OutOfRange and closed dst
        coord.request_stop()
        coord.join(threads, stop_grace_period_secs=5)
    assert got == [10, 20, 30, 40, 50]
    assert qr.exceptions_raised == []


def test_runner_error_reaches_coordinator():
    q = FIFOQueue(2, tf.float32)
    bad = tf.placeholder(tf.float32)  # never fed: every run fails
    qr = QueueRunner(q, [q.enqueue(bad)])
    coord = Coordinator()
    with tf.Session() as sess:
        threads = qr.create_threads(sess, coord=coord, start=True)
        assert coord.wait_for_stop(10)
        with pytest.raises(tf.errors.InvalidArgumentError):
            coord.join(threads, stop_grace_period_secs=5)


def test_start_queue_runners_needs_a_session():
    with pytest.raises(ValueError, match="No default session"):
        start_queue_runners()
    with pytest.raises(TypeError, match="tf.Session"):
        start_queue_runners(sess=object())
    with tf.Session() as sess:
        assert start_queue_runners(sess) == []  # no runners: a warning, no threads


def test_session_close_ends_runner_threads_quietly():
    q = FIFOQueue(1, tf.int32)
    qr = QueueRunner(q, [q.enqueue(1)])
    sess = tf.Session()
    threads = qr.create_threads(sess, daemon=True, start=True)
    time.sleep(0.2)  # the queue is full: the thread waits in its enqueue
    sess.close()
    for t in threads:
        t.join(5)
    assert not any(t.is_alive() for t in threads)
    assert qr.exceptions_raised == []


# -- Coordinator --------------------------------------------------------------------------------------------
def test_coordinator_reports_first_exception():
    coord = Coordinator()

    def worker(i):
        with coord.stop_on_exception():
            if i == 1:
                raise ValueError("boom")
            while not coord.should_stop():
                time.sleep(0.01)
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    with pytest.raises(ValueError, match="boom"):
        coord.join(threads, stop_grace_period_secs=5)
    assert coord.joined
    with pytest.raises(ValueError, match="boom"):
        coord.raise_requested_exception()
    with pytest.raises(RuntimeError, match="late"):
        coord.request_stop(RuntimeError("late"))  # after join, a new error is raised at once
    coord.clear_stop()
    assert not coord.should_stop() and not coord.joined
    coord.raise_requested_exception()  # cleared: nothing to raise


def test_coordinator_clean_stop_and_stragglers():
    coord = Coordinator()
    coord.request_stop(tf.errors.OutOfRangeError(None, None, "done"))
    assert coord.should_stop() and coord.wait_for_stop(0.01)
    coord.join([], stop_grace_period_secs=1)  # OutOfRange is a clean stop: nothing raised

    coord = Coordinator()
    assert not coord.wait_for_stop(0.01)
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, args=(10,), daemon=True)
    t.start()
    coord.request_stop()
    try:
        with pytest.raises(RuntimeError, match="threads still running"):
            coord.join([t], stop_grace_period_secs=0.1)
    finally:
        stop.set()
        t.join(5)


def test_looper_thread_runs_until_stop():
    coord = Coordinator()
    calls = []
    looper = LooperThread.loop(coord, 0.01, target=calls.append, args=(1,))
    time.sleep(0.2)
    coord.request_stop()
    coord.join([looper], stop_grace_period_secs=5)
    assert len(calls) >= 3
