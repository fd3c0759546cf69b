"""Queue-based input pipelines: tf.train.*_input_producer, limit_epochs and the batchers (TF 1.x semantics).

Every test runs its queue runners under a Coordinator, stops and joins them with a grace period and
closes the session, so a failure never leaves a thread blocked on a queue.
"""

from __future__ import annotations

import contextlib
import threading
import time

import numpy as np
import pytest

import labflow as tf

pytestmark = pytest.mark.timeout(60)


@contextlib.contextmanager
def running():
    """A session with variables initialized and the graph's queue runners started under a coordinator."""
    coord = tf.train.Coordinator()
    sess = tf.Session()
    threads: list = []
    try:
        sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
        threads = tf.train.start_queue_runners(sess, coord=coord)
        yield sess, coord
    finally:
        coord.request_stop()
        coord.join(threads, stop_grace_period_secs=5)
        sess.close()
    assert not any(t.is_alive() for t in threads)


def drain(sess, fetch, limit=1000):
    """Runs `fetch` until OutOfRangeError (the input's end); fails if it never comes."""
    out = []
    with pytest.raises(tf.errors.OutOfRangeError):
        for _ in range(limit):
            out.append(sess.run(fetch))
    return out


def wait_for(cond, timeout=5.0):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "condition not reached in time"
        time.sleep(0.01)


# -- limit_epochs and the producers --------------------------------------------------------------------------
def test_limit_epochs_counts_in_a_local_variable():
    x = tf.constant([1, 2])
    assert tf.train.limit_epochs(x) is x
    with pytest.raises(ValueError, match="num_epochs must be > 0 not 0"):
        tf.train.limit_epochs(x, 0)
    y = tf.train.limit_epochs(x, 2)
    assert y.op.name == "limit_epochs" and y.shape.as_list() == [2]
    assert [v.op.name for v in tf.local_variables()] == ["limit_epochs/epochs"]
    assert tf.trainable_variables() == []
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        for _ in range(2):
            np.testing.assert_array_equal(sess.run(y), [1, 2])
        with pytest.raises(tf.errors.OutOfRangeError, match="Reached limit of 2"):
            sess.run(y)
        sess.run(tf.local_variables_initializer())  # re-initializing restarts the count
        np.testing.assert_array_equal(sess.run(y), [1, 2])


def test_string_input_producer_in_order_for_num_epochs_then_closes():
    q = tf.train.string_input_producer(["a", "b", "c"], num_epochs=2, shuffle=False)
    assert q.name == "input_producer"
    runners = tf.get_collection(tf.GraphKeys.QUEUE_RUNNERS)
    assert len(runners) == 1 and runners[0].queue is q
    tags = [s.op.name for s in tf.get_collection(tf.GraphKeys.SUMMARIES)]
    assert tags == ["input_producer/fraction_of_32_full"]
    x = q.dequeue()
    with running() as (sess, coord):
        got = drain(sess, x)
        assert sess.run(q.is_closed())
    assert got == [b"a", b"b", b"c"] * 2


def test_string_input_producer_shuffles_every_epoch_covering_each_element_once():
    names = [f"file{i}" for i in range(10)]
    x = tf.train.string_input_producer(names, num_epochs=3, seed=3).dequeue()
    with running() as (sess, coord):
        got = [v.decode() for v in drain(sess, x)]
    epochs = [got[i:i + 10] for i in range(0, 30, 10)]
    assert len(got) == 30
    for e in epochs:
        assert sorted(e) == sorted(names)
    assert any(e != names for e in epochs) and not (epochs[0] == epochs[1] == epochs[2])


def test_string_input_producer_rejects_empty_input():
    with pytest.raises(ValueError, match="requires a non-null input tensor"):
        tf.train.string_input_producer([])
    empty = tf.placeholder_with_default(tf.constant(["x"]), shape=[None])[:0]
    tf.train.string_input_producer(empty)
    coord = tf.train.Coordinator()
    with tf.Session() as sess:
        threads = tf.train.start_queue_runners(sess, coord=coord)
        assert coord.wait_for_stop(10)  # the Assert fails in the runner thread and stops the coordinator
        with pytest.raises(tf.errors.InvalidArgumentError, match="non-null input tensor"):
            coord.join(threads, stop_grace_period_secs=5)


def test_range_input_producer_order_and_coverage():
    ordered = tf.train.range_input_producer(5, num_epochs=2, shuffle=False).dequeue()
    shuffled = tf.train.range_input_producer(tf.constant(7), num_epochs=1, seed=1).dequeue()
    assert ordered.dtype == tf.int32 and ordered.shape.as_list() == []
    with running() as (sess, coord):
        assert [int(v) for v in drain(sess, ordered)] == [0, 1, 2, 3, 4] * 2
        assert sorted(int(v) for v in drain(sess, shuffled)) == list(range(7))


def test_input_producer_needs_a_defined_element_shape():
    with pytest.raises(ValueError, match="must have a fully defined shape or `element_shape`"):
        tf.train.input_producer(tf.placeholder(tf.float32, [None, None]))
    q = tf.train.input_producer(tf.placeholder_with_default(np.eye(3, dtype=np.float32), [None, None]),
                                element_shape=[3], num_epochs=1, shuffle=False)
    assert q.shapes[0].as_list() == [3]
    row = q.dequeue()
    with running() as (sess, coord):
        np.testing.assert_array_equal(np.stack(drain(sess, row)), np.eye(3))


def test_slice_input_producer_keeps_rows_aligned():
    images = np.arange(24, dtype=np.float32).reshape(6, 2, 2)
    labels = np.arange(6, dtype=np.int64) * 10
    ordered = tf.train.slice_input_producer([images, labels], num_epochs=1, shuffle=False)
    image, label = tf.train.slice_input_producer([images, labels], num_epochs=2, seed=5)
    assert image.shape.as_list() == [2, 2] and label.dtype == tf.int64
    with pytest.raises(ValueError, match="same first dimension"):
        tf.train.slice_input_producer([images, labels[:4]])
    with pytest.raises(ValueError, match="at least one tensor"):
        tf.train.slice_input_producer([])
    with running() as (sess, coord):
        rows = drain(sess, ordered)
        pairs = drain(sess, [image, label])
    np.testing.assert_array_equal(np.stack([r[0] for r in rows]), images)
    assert [int(r[1]) for r in rows] == list(labels)
    assert len(pairs) == 12
    for img, lab in pairs:
        np.testing.assert_array_equal(img, images[lab // 10])  # the label still belongs to its image
    assert sorted(int(p[1]) for p in pairs[:6]) == list(labels)


def test_should_stop_loop_ends_cleanly_after_num_epochs():
    x = tf.train.range_input_producer(4, num_epochs=3, shuffle=False).dequeue()
    coord = tf.train.Coordinator()
    sess = tf.Session()
    sess.run(tf.local_variables_initializer())
    threads = tf.train.start_queue_runners(sess, coord=coord)
    seen = 0
    try:
        while not coord.should_stop():
            sess.run(x)
            seen += 1
    except tf.errors.OutOfRangeError as e:
        coord.request_stop(e)  # the end of the input is a clean stop: join does not re-raise it
    finally:
        coord.request_stop()
    coord.join(threads, stop_grace_period_secs=5)
    sess.close()
    assert seen == 12 and coord.should_stop()
    assert not any(t.is_alive() for t in threads)


# -- batch ---------------------------------------------------------------------------------------------------
def _counting_input(n, num_epochs=1):
    """A scalar int32 tensor giving 0 .. n-1 in order, then OutOfRange."""
    return tf.train.range_input_producer(n, num_epochs=num_epochs, shuffle=False).dequeue()


def test_batch_structures_shapes_and_dtypes():
    i = _counting_input(12)
    vec = tf.stack([tf.to_float(i), tf.to_float(-i)])
    as_list = tf.train.batch([i, vec], batch_size=4)
    assert isinstance(as_list, list) and as_list[0].op.name == "batch"
    assert as_list[0].shape.as_list() == [4] and as_list[1].shape.as_list() == [4, 2]
    assert as_list[0].dtype == tf.int32 and as_list[1].dtype == tf.float32
    j = _counting_input(8)
    as_dict = tf.train.batch({"idx": j, "sq": j * j}, batch_size=4, capacity=8, name="dict_batch")
    assert set(as_dict) == {"idx", "sq"} and as_dict["sq"].shape.as_list() == [4]
    single = tf.train.batch(_counting_input(4), batch_size=2)  # a bare tensor (labflow also accepts it)
    one_in_list = tf.train.batch([_counting_input(4)], batch_size=2)  # TF: one component -> a tensor
    one_in_dict = tf.train.batch({"k": _counting_input(4)}, batch_size=2)
    assert isinstance(single, tf.Tensor) and isinstance(one_in_list, tf.Tensor)
    assert list(one_in_dict) == ["k"] and one_in_dict["k"].shape.as_list() == [2]
    with running() as (sess, coord):
        for step in range(3):
            a, v = sess.run(as_list)
            np.testing.assert_array_equal(a, np.arange(4) + 4 * step)
            np.testing.assert_array_equal(v, np.stack([a, -a], axis=1).astype(np.float32))
        d = sess.run(as_dict)
        np.testing.assert_array_equal(d["sq"], d["idx"] ** 2)
        np.testing.assert_array_equal(sess.run(single), [0, 1])
        np.testing.assert_array_equal(sess.run(one_in_list), [0, 1])
        np.testing.assert_array_equal(sess.run(one_in_dict)["k"], [0, 1])


def test_batch_enqueue_many_and_multiple_threads():
    rows = np.arange(30, dtype=np.int64).reshape(10, 3)
    src = tf.train.limit_epochs(tf.constant(rows), num_epochs=1)  # one enqueue_many of 10 examples
    b = tf.train.batch([src], batch_size=4, enqueue_many=True, capacity=12)
    assert b.shape.as_list() == [4, 3]
    x = _counting_input(40)
    threaded = tf.train.batch([x], batch_size=5, num_threads=3, capacity=10)
    assert len(tf.get_collection(tf.GraphKeys.QUEUE_RUNNERS)[-1].enqueue_ops) == 3
    with running() as (sess, coord):
        got = drain(sess, b)
        np.testing.assert_array_equal(np.concatenate(got), rows[:8])  # 2 full batches; 2 rows left over
        seen = np.concatenate(drain(sess, threaded))
    assert sorted(seen) == list(range(40))


def test_allow_smaller_final_batch_returns_the_remainder():
    b = tf.train.batch([_counting_input(10)], batch_size=3, allow_smaller_final_batch=True)
    assert b.shape.as_list() == [None]
    with running() as (sess, coord):
        got = [list(v) for v in drain(sess, b)]
    assert got == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_dynamic_pad_pads_to_the_longest_in_the_batch():
    n = _counting_input(5)
    seq = tf.range(n + 1)  # lengths 1 .. 5: shape [?]
    with pytest.raises(ValueError, match="All shapes must be fully defined"):
        tf.train.batch([seq], batch_size=2)
    padded, lengths = tf.train.batch([seq, n + 1], batch_size=5, dynamic_pad=True)
    assert padded.shape.as_list() == [5, None]
    with running() as (sess, coord):
        p, ln = sess.run([padded, lengths])
    np.testing.assert_array_equal(ln, [1, 2, 3, 4, 5])
    expected = np.zeros((5, 5), np.int32)
    for r in range(5):
        expected[r, :r + 1] = np.arange(r + 1)
    np.testing.assert_array_equal(p, expected)


def test_batch_argument_errors():
    x = tf.constant([1.0, 2.0])
    with pytest.raises(ValueError, match="`batch_size` must be positive"):
        tf.train.batch([x], batch_size=0)
    with pytest.raises(ValueError, match="exceeds capacity"):
        tf.train.batch([x], batch_size=40, capacity=32)
    with pytest.raises(ValueError, match="Cannot infer Tensor's rank"):
        tf.train.batch([tf.placeholder(tf.float32)], batch_size=2)
    with pytest.raises(ValueError, match="Expected at least one tensor in batch"):
        tf.train.batch([], batch_size=2)
    with pytest.raises(ValueError, match="must be less than `capacity`"):
        tf.train.shuffle_batch([x], batch_size=2, capacity=10, min_after_dequeue=10)
    with pytest.raises(ValueError, match="exceeds capacity"):
        tf.train.shuffle_batch([x], batch_size=8, capacity=10, min_after_dequeue=5)
    with pytest.raises(TypeError, match="Expected types to be consistent: float32 vs. int32"):
        tf.train.batch_join([[x], [tf.constant([1, 2])]], batch_size=2)
    with pytest.raises(ValueError, match="must have the same keys"):
        tf.train.batch_join([{"a": x}, {"b": x}], batch_size=2)
    with pytest.raises(ValueError, match="cannot be a vector when `enqueue_many=False`"):
        tf.train.maybe_batch([x], keep_input=[True, False], batch_size=2)


# -- shuffle_batch -------------------------------------------------------------------------------------------
def test_shuffle_batch_mixes_and_covers_every_example():
    x = _counting_input(100)
    b = tf.train.shuffle_batch([x], batch_size=10, capacity=60, min_after_dequeue=30, seed=7,
                               allow_smaller_final_batch=True)
    assert b.op.name == "shuffle_batch" and b.shape.as_list() == [None]
    tags = [s.op.name for s in tf.get_collection(tf.GraphKeys.SUMMARIES)]
    assert "shuffle_batch/fraction_over_30_of_30_full" in tags
    with running() as (sess, coord):
        batches = drain(sess, b)
        sess.run(tf.summary.merge_all())
    got = np.concatenate(batches)
    assert sorted(got) == list(range(100))
    assert list(got) != list(range(100))
    assert list(batches[0]) != list(range(10))


def test_shuffle_batch_keeps_min_after_dequeue_while_open():
    src = tf.FIFOQueue(100, tf.int32, shapes=[[]], name="src")
    b = tf.train.shuffle_batch([src.dequeue()], batch_size=2, capacity=10, min_after_dequeue=5, seed=1)
    shuffle_q = tf.get_collection(tf.GraphKeys.QUEUE_RUNNERS)[0].queue
    size = shuffle_q.size()
    with running() as (sess, coord):
        sess.run(src.enqueue_many([np.arange(6, dtype=np.int32)]))
        wait_for(lambda: sess.run(size) == 6)
        result = []
        t = threading.Thread(target=lambda: result.append(sess.run(b)), daemon=True)
        t.start()
        t.join(0.3)
        assert t.is_alive() and not result  # 6 < batch_size + min_after_dequeue: the dequeue waits
        sess.run(src.enqueue([6]))
        t.join(5)
        assert not t.is_alive() and result[0].shape == (2,)
        wait_for(lambda: sess.run(size) == 5)
        sess.run(src.close())  # src is empty: the runner blocked on it sees OutOfRange and ends


def test_batch_join_and_shuffle_batch_join_read_every_producer():
    a = tf.train.slice_input_producer([np.arange(10, dtype=np.int32)], num_epochs=1, shuffle=False)
    c = tf.train.slice_input_producer([np.arange(100, 110, dtype=np.int32)], num_epochs=1, shuffle=False)
    joined = tf.train.batch_join([a, c], batch_size=4, allow_smaller_final_batch=True)
    assert len(tf.get_collection(tf.GraphKeys.QUEUE_RUNNERS)[-1].enqueue_ops) == 2
    d = {"v": tf.train.range_input_producer(6, num_epochs=1, shuffle=False).dequeue()}
    e = {"v": tf.train.range_input_producer(6, num_epochs=1, shuffle=False).dequeue() + 50}
    sj = tf.train.shuffle_batch_join([d, e], batch_size=3, capacity=12, min_after_dequeue=4, seed=2)
    assert set(sj) == {"v"} and sj["v"].shape.as_list() == [3]
    with running() as (sess, coord):
        got = np.concatenate(drain(sess, joined))
        shuffled = np.concatenate([r["v"] for r in drain(sess, sj)])
    assert sorted(got) == list(range(10)) + list(range(100, 110))
    assert sorted(shuffled) == list(range(6)) + list(range(50, 56))


def test_maybe_batch_keeps_only_selected_examples():
    x = _counting_input(12)
    evens = tf.train.maybe_batch([x], keep_input=tf.equal(x % 2, 0), batch_size=3)
    rows = tf.train.limit_epochs(tf.constant(np.arange(8, dtype=np.int32)), num_epochs=1)
    big = tf.train.maybe_batch([rows], keep_input=rows >= 3, batch_size=5, enqueue_many=True)
    y = _counting_input(20)
    odd_shuffled = tf.train.maybe_shuffle_batch([y], 2, capacity=10, min_after_dequeue=2,
                                                keep_input=tf.equal(y % 2, 1), seed=4,
                                                allow_smaller_final_batch=True)
    with running() as (sess, coord):
        assert sorted(np.concatenate(drain(sess, evens))) == [0, 2, 4, 6, 8, 10]
        assert list(sess.run(big)) == [3, 4, 5, 6, 7]
        assert sorted(np.concatenate(drain(sess, odd_shuffled))) == list(range(1, 20, 2))


# -- shutdown ------------------------------------------------------------------------------------------------
def test_closing_the_session_cancels_blocked_dequeues():
    src = tf.FIFOQueue(4, tf.float32, shapes=[[2]], name="never_filled")
    b = tf.train.batch([src.dequeue()], batch_size=2)
    coord = tf.train.Coordinator()
    sess = tf.Session()
    threads = tf.train.start_queue_runners(sess, coord=coord)
    errs = []

    def consume():
        try:
            sess.run(b)
        except tf.errors.OpError as e:
            errs.append(e)

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    t.join(0.2)
    assert t.is_alive()  # blocked: nothing ever arrives
    sess.close()
    t.join(5)
    coord.request_stop()
    coord.join(threads, stop_grace_period_secs=5)
    assert not t.is_alive() and isinstance(errs[0], tf.errors.CancelledError)
    assert not any(th.is_alive() for th in threads)


# -- the canonical training loop -----------------------------------------------------------------------------
def _mnist_like(n=500, classes=10, dim=784, seed=0):
    rng = np.random.RandomState(seed)
    prototypes = rng.rand(classes, dim).astype(np.float32)
    labels = rng.randint(classes, size=n).astype(np.int64)
    images = np.clip(prototypes[labels] + 0.3 * rng.randn(n, dim), 0, 1).astype(np.float32)
    return images, labels


def test_softmax_training_loop_from_a_shuffled_queue_pipeline():
    images, labels = _mnist_like()
    image, label = tf.train.slice_input_producer([images, labels], num_epochs=4, seed=1)
    x, y = tf.train.shuffle_batch([image, label], batch_size=50, capacity=300, min_after_dequeue=100,
                                  num_threads=2, seed=2)
    assert x.shape.as_list() == [50, 784] and y.shape.as_list() == [50]
    w = tf.Variable(tf.zeros([784, 10]))
    bias = tf.Variable(tf.zeros([10]))
    logits = tf.matmul(x, w) + bias
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train_op = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
    init = tf.group(tf.global_variables_initializer(), tf.local_variables_initializer())

    sess = tf.Session()
    sess.run(init)
    coord = tf.train.Coordinator()
    threads = tf.train.start_queue_runners(sess=sess, coord=coord)
    losses = []
    try:
        while not coord.should_stop():
            _, value = sess.run([train_op, loss])
            losses.append(value)
    except tf.errors.OutOfRangeError:
        pass  # done: num_epochs reached
    finally:
        coord.request_stop()
    coord.join(threads, stop_grace_period_secs=5)
    sess.close()

    assert len(losses) == 500 * 4 // 50  # every example once per epoch; no partial batch at the end
    assert np.mean(losses[-5:]) < 0.3 * np.mean(losses[:3])
    assert not any(t.is_alive() for t in threads)


def test_monitored_training_session_runs_the_pipeline_to_its_end():
    x = tf.train.batch([_counting_input(9)], batch_size=3)
    seen = []
    with tf.train.MonitoredTrainingSession() as mon:  # starts the queue runners, inits local variables
        while not mon.should_stop():
            seen.extend(mon.run(x))
    assert seen == list(range(9))
