"""SyncReplicasOptimizer in a local multi-device session: /cpu:0 plays the ps, replicas are threads.

Every replica tower builds its own SyncReplicasOptimizer (between-graph replication in one graph): the
accumulators and the token queue are shared through their shared names on the ps device.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import labflow as tf
from labflow.ops.data_flow_ops import FIFOQueue
from labflow.train.coordinator import Coordinator
from labflow.train.session_run_hook import SessionRunHook
from labflow.train.sync_replicas_optimizer import SyncReplicasOptimizer

pytestmark = pytest.mark.timeout(60)


def _towers(losses_fn, n, aggregate, total=None, lr=0.1):
    """Builds n replica towers on /cpu:1..n; returns (train_ops, optimizers, global_step)."""
    with tf.device("/cpu:0"):
        gs = tf.train.get_or_create_global_step()
    train_ops, opts = [], []
    for r in range(n):
        with tf.device(f"/cpu:{r + 1}"), tf.name_scope(f"replica_{r}"):
            opt = SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(lr), replicas_to_aggregate=aggregate,
                                        total_num_replicas=total)
            train_ops.append(opt.minimize(losses_fn(r), global_step=gs))
            opts.append(opt)
    return train_ops, opts, gs


class _Cluster:
    """A session, the hooks (replica 0 is the chief) and one thread per replica, always torn down."""

    def __init__(self, opts, n_cpus, num_tokens=-1):
        self.hooks = [o.make_session_run_hook(i == 0, num_tokens=num_tokens) for i, o in enumerate(opts)]
        for h in self.hooks:
            h.begin()
        self.sess = tf.Session(config=tf.ConfigProto(device_count={"CPU": n_cpus}))
        self.coord = Coordinator()
        self.threads: list = []
        self.errors: list = []
        self.steps: list = []

    def __enter__(self):
        self.sess.run(tf.global_variables_initializer())
        self.sess.run(tf.local_variables_initializer())
        for h in self.hooks:
            h.after_create_session(self.sess, self.coord)
        return self

    def start(self, train_ops, steps, delays=None, lockstep=False):
        """One thread per replica; `lockstep`: all replicas finish step s before any starts step s+1."""
        self.steps = [0] * len(train_ops)
        barrier = threading.Barrier(len(train_ops), timeout=20) if lockstep else None

        def replica(r):
            try:
                while self.steps[r] < steps[r] and not self.coord.should_stop():
                    if barrier is not None:
                        barrier.wait()
                    if delays and delays[r]:
                        time.sleep(delays[r])
                        if self.coord.should_stop():
                            break
                    self.sess.run(train_ops[r])
                    self.steps[r] += 1
            except tf.errors.CancelledError:
                if not self.coord.should_stop():
                    raise
            except Exception as e:  # noqa: BLE001 - re-raised in the test thread
                self.errors.append(e)
        for r in range(len(train_ops)):
            t = threading.Thread(target=replica, args=(r,), daemon=True)
            t.start()
            self.threads.append(t)

    def wait_for_global_step(self, gs, n, extra=lambda: True, timeout=30):
        """Polls until the global step reaches n (and `extra()` holds), then asks the replicas to stop."""
        deadline = time.time() + timeout
        while self.sess.run(gs) < n or not extra():
            assert time.time() < deadline, f"no progress: global step {self.sess.run(gs)}, steps {self.steps}"
            assert not self.errors, self.errors
            time.sleep(0.05)
        # With initial tokens a replica may run one step ahead; the last steps of the others then wait
        # for a partner forever, as in TF: training ends on the global step, the session close cancels them.
        self.coord.request_stop()

    def join_replicas(self, timeout=30):
        for t in self.threads:
            t.join(timeout)
        assert not any(t.is_alive() for t in self.threads), "a replica is stuck"

    def __exit__(self, *exc):
        self.coord.request_stop()
        self.sess.close()  # wakes whatever still waits on the token queue or an accumulator
        for t in self.threads:
            t.join(10)
        self.coord.join(stop_grace_period_secs=5)
        assert not self.errors, self.errors
        return False


def test_two_replicas_equal_averaged_sgd():
    data = [np.array([1.0, 2.0], np.float32), np.array([3.0, -1.0], np.float32)]
    with tf.device("/cpu:0"):
        w = tf.Variable([0.5, -0.5], name="w")
    train_ops, opts, gs = _towers(lambda r: tf.reduce_sum(tf.square(w - data[r])), 2, 2, lr=0.1)
    k = 6
    # No initial tokens and lockstep replicas: every replica step waits for the update its gradient went
    # into, and no replica can take another's token, so each update averages one gradient per replica.
    with _Cluster(opts, 3, num_tokens=0) as c:
        c.start(train_ops, [k, k], lockstep=True)
        c.join_replicas()
        got, step = c.sess.run([w, gs])
    want = np.array([0.5, -0.5])
    for _ in range(k):
        want = want - 0.1 * np.mean([2 * (want - d) for d in data], axis=0)
    assert step == k
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_backup_replica_gradients_are_dropped_as_stale():
    # The slow replica's gradient is NaN: had it been aggregated even once, w would stay NaN.
    targets = [np.array([1.0, 1.0], np.float32), np.array([3.0, 3.0], np.float32),
               np.array([np.nan, np.nan], np.float32)]
    with tf.device("/cpu:0"):
        w = tf.Variable([0.0, 0.0], name="w")
    train_ops, opts, gs = _towers(lambda r: tf.reduce_sum(tf.square(w - targets[r])), 3, 2, total=3, lr=0.1)
    # More CPU devices than replicas: the session's executor pool grows with the device count, and each
    # blocked replica step holds two pool threads (its ps and its worker partition).
    with _Cluster(opts, 7) as c:
        c.start(train_ops, [10_000, 10_000, 3], delays=[0, 0, 0.4])
        c.wait_for_global_step(gs, 40, extra=lambda: c.steps[2] >= 2)
        got = c.sess.run(w)
    assert c.steps[2] >= 2
    assert np.all(np.isfinite(got)), got
    assert np.all(got > 0.9) and np.all(got < 3.1), got


def test_softmax_regression_trains():
    rng = np.random.RandomState(0)
    centers = rng.randn(3, 4) * 3
    shards = []
    for _ in range(2):
        labels = rng.randint(0, 3, 60)
        shards.append(((centers[labels] + rng.randn(60, 4)).astype(np.float32), labels.astype(np.int32)))
    with tf.device("/cpu:0"):
        W = tf.Variable(tf.zeros([4, 3]), name="W")
        b = tf.Variable(tf.zeros([3]), name="b")

    def loss(r):
        x, y = shards[r]
        logits = tf.matmul(tf.constant(x), W) + b
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant(y), logits=logits))

    train_ops, opts, gs = _towers(loss, 2, 2, lr=0.3)
    xs = np.concatenate([s[0] for s in shards])
    ys = np.concatenate([s[1] for s in shards])
    logits = tf.matmul(tf.constant(xs), W) + b
    full_loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.constant(ys), logits=logits))
    with _Cluster(opts, 3) as c:
        before = c.sess.run(full_loss)
        c.start(train_ops, [10_000, 10_000])
        c.wait_for_global_step(gs, 40)
        after, pred = c.sess.run([full_loss, tf.argmax(logits, 1)])
    assert after < 0.3 < before
    assert np.mean(pred == ys) > 0.9


def test_sparse_gradients_use_sparse_accumulators():
    with tf.device("/cpu:0"):
        emb = tf.Variable(np.zeros((4, 2), np.float32), name="emb")
    rows = [[0, 1], [1, 2]]
    train_ops, opts, gs = _towers(lambda r: tf.reduce_sum(tf.gather(emb, rows[r]) - 1.0), 2, 2, lr=1.0)
    g = tf.get_default_graph()
    assert any(o.type == "SparseConditionalAccumulator" for o in g.get_operations())
    with _Cluster(opts, 3, num_tokens=0) as c:
        c.start(train_ops, [1, 1])
        c.join_replicas()
        got = c.sess.run(emb)
    # Each row is averaged over the gradients that touched it (TF's sparse accumulator rule).
    np.testing.assert_allclose(got, [[-1, -1], [-1, -1], [-1, -1], [0, 0]])


def test_structure_and_api():
    with tf.device("/cpu:0"):
        w = tf.Variable([1.0], name="w")
        gs = tf.train.get_or_create_global_step()
    opt = SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.1), replicas_to_aggregate=2,
                                total_num_replicas=3)
    with pytest.raises(ValueError, match="after apply_gradients"):
        opt.get_chief_queue_runner()
    with pytest.raises(ValueError, match="after apply_gradients"):
        opt.get_init_tokens_op()
    loss = tf.reduce_sum(w * w)
    with pytest.raises(ValueError, match="Global step is required"):
        opt.apply_gradients(opt.compute_gradients(loss))
    with pytest.raises(ValueError, match="at least one variable"):
        opt.apply_gradients([], global_step=gs)
    with tf.device("/cpu:1"):
        train_op = opt.minimize(loss, global_step=gs)
    g = tf.get_default_graph()
    local = tf.local_variables()
    assert [v.op.name for v in local] == ["sync_rep_local_step"]
    assert local[0].dtype.base_dtype == tf.int64
    assert train_op.op.type == "Assign"  # a tensor, like TF (the local step after the token)
    acc = [o for o in g.get_operations() if o.type == "ConditionalAccumulator"]
    assert len(acc) == 1 and acc[0].get_attr("shared_name") == "w:0/grad_accum"
    assert acc[0].device.endswith("CPU:0") or acc[0].device == "/device:CPU:0"
    q = g.get_operation_by_name("sync_token_q")
    assert q.type == "FIFOQueue" and q.get_attr("shared_name") == "sync_token_q"
    qr = opt.get_chief_queue_runner()
    assert qr.queue.name == "dummy_queue"
    assert isinstance(opt.make_session_run_hook(True), SessionRunHook)
    assert opt.get_init_tokens_op(num_tokens=0).type == "NoOp"
    few = SyncReplicasOptimizer(tf.train.GradientDescentOptimizer(0.1), replicas_to_aggregate=3, total_num_replicas=1)
    few.minimize(loss, global_step=gs)
    with pytest.raises(ValueError, match="Too few tokens"):
        few.get_init_tokens_op(1)


def test_graph_def_round_trip_trains():
    data = [np.array([1.0, 2.0], np.float32), np.array([3.0, -1.0], np.float32)]
    with tf.device("/cpu:0"):
        w = tf.Variable([0.5, -0.5], name="w")
    train_ops, opts, gs = _towers(lambda r: tf.reduce_sum(tf.square(w - data[r])), 2, 2, lr=0.1)
    names = {"train": [t.name for t in train_ops], "sync": opts[0].get_chief_queue_runner().enqueue_ops[0].name,
             "chief_init": opts[0].chief_init_op.name, "local_init": opts[1].local_step_init_op.op.name,
             "init": tf.global_variables_initializer().name, "local": tf.local_variables_initializer().name}
    gd = tf.get_default_graph().as_graph_def()
    g2 = tf.Graph()
    with g2.as_default():
        tf.import_graph_def(gd, name="")
        sess = tf.Session(config=tf.ConfigProto(device_count={"CPU": 3}))
        threads, errors = [], []

        def loop(fn):
            try:
                fn()
            except tf.errors.CancelledError:
                pass
            except Exception as e:  # noqa: BLE001 - re-raised below
                errors.append(e)
        try:
            for n in ("init", "local", "chief_init", "local_init"):
                sess.run(names[n])

            def chief():
                while True:
                    sess.run(names["sync"])

            barrier = threading.Barrier(2, timeout=20)

            def replica(r):
                for _ in range(3):  # in lockstep: no initial tokens, so a replica must not take another's
                    barrier.wait()
                    sess.run(names["train"][r])
            threads = [threading.Thread(target=loop, args=(f,), daemon=True)
                       for f in (chief, lambda: replica(0), lambda: replica(1))]
            for t in threads:
                t.start()
            for t in threads[1:]:
                t.join(30)
            assert not errors, errors
            assert sess.run("global_step:0") == 3
            want = np.array([0.5, -0.5])
            for _ in range(3):
                want = want - 0.1 * np.mean([2 * (want - d) for d in data], axis=0)
            np.testing.assert_allclose(sess.run("w:0"), want, rtol=1e-5)
        finally:
            sess.close()
            for t in threads:
                t.join(10)
    assert not any(t.is_alive() for t in threads)


def test_token_queue_is_shared_by_name():
    q1 = FIFOQueue(-1, tf.int64, shapes=(), name="sync_token_q", shared_name="sync_token_q")
    q2 = FIFOQueue(-1, tf.int64, shapes=(), name="sync_token_q_1", shared_name="sync_token_q")
    with tf.Session() as sess:
        sess.run(q1.enqueue_many(([1, 2],)))
        assert sess.run(q2.size()) == 2
