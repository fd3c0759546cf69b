"""MonitoredTrainingSession: init/restore, hooks, OutOfRange, recovery, non-chief waiting, Scaffold."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pytest

import labflow as tf
from labflow import errors
from labflow.runtime import session as session_mod
from labflow.summary.writer import FileWriterCache
from labflow.train import basic_session_run_hooks as hooks
from labflow.train import monitored_session as ms
from labflow.train.session_manager import SessionManager


@pytest.fixture(autouse=True)
def _close_cached_writers():
    yield
    FileWriterCache.clear()


RNG = np.random.RandomState(0)
X = RNG.randn(64, 3).astype(np.float32)
Y = X @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3


def _linear_regression():
    gs = tf.train.get_or_create_global_step()
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    w = tf.Variable(tf.zeros([3, 1]), name="w")
    b = tf.Variable(0.0, name="b")
    loss = tf.reduce_mean(tf.square(tf.matmul(x, w) + b - y), name="loss")
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=gs)
    return gs, x, y, w, loss, train


def _event_writer_threads():
    return [t for t in threading.enumerate() if t.name == "labflow-event-writer"]


def test_train_checkpoint_and_resume(tmp_path):
    before = set(threading.enumerate())
    ckpt_dir = str(tmp_path)
    gs, x, y, w, loss, train = _linear_regression()
    feed = {x: X, y: Y}
    with ms.MonitoredTrainingSession(checkpoint_dir=ckpt_dir, save_checkpoint_steps=5,
                                     hooks=[hooks.StopAtStepHook(last_step=12)]) as sess:
        first_loss = sess.run(loss, feed)
        while not sess.should_stop():
            sess.run(train, feed)
        w_end = sess._tf_sess().run(w)  # run() raises once a stop was requested (TF's rule)
    assert not tf.get_default_graph().finalized
    assert tf.train.latest_checkpoint(ckpt_dir).endswith("model.ckpt-12")
    # A restarted job (fresh graph, same code) restores the checkpoint and continues the global step.
    tf.reset_default_graph()
    gs, x, y, w, loss, train = _linear_regression()
    feed = {x: X, y: Y}
    with ms.MonitoredTrainingSession(checkpoint_dir=ckpt_dir, save_checkpoint_steps=5,
                                     hooks=[hooks.StopAtStepHook(num_steps=8)]) as sess:
        assert sess.run(gs) == 12
        np.testing.assert_allclose(sess.run(w), w_end)
        steps = 0
        while not sess.should_stop():
            sess.run(train, feed)
            steps += 1
        last_loss = sess._tf_sess().run(loss, feed)
    assert steps == 8
    assert last_loss < first_loss / 10
    assert tf.train.latest_checkpoint(ckpt_dir).endswith("model.ckpt-20")
    FileWriterCache.clear()
    assert set(threading.enumerate()) - before == set()


def test_default_hooks_and_defaulting_rules(tmp_path):
    _linear_regression()
    with ms.MonitoredTrainingSession(checkpoint_dir=str(tmp_path)) as sess:
        kinds = [type(h).__name__ for h in sess._hooks]
        assert kinds == ["StepCounterHook", "SummarySaverHook", "CheckpointSaverHook"]
        ckpt_hook = sess._hooks[2]
        assert ckpt_hook._timer._every_secs == 600 and ckpt_hook._timer._every_steps is None
        assert sess._hooks[1]._timer._every_steps == 100
    tf.reset_default_graph()
    _linear_regression()
    mine = hooks.StopAtStepHook(last_step=1)
    chief = hooks.FeedFnHook(dict)
    with ms.MonitoredTrainingSession(checkpoint_dir=str(tmp_path), save_checkpoint_steps=7, save_summaries_secs=5,
                                     log_step_count_steps=0, hooks=[mine], chief_only_hooks=[chief]) as sess:
        assert sess._hooks[0] is chief and sess._hooks[-1] is mine
        assert [type(h).__name__ for h in sess._hooks[1:3]] == ["SummarySaverHook", "CheckpointSaverHook"]
        assert sess._hooks[1]._timer._every_secs == 5
        assert sess._hooks[2]._timer._every_steps == 7
    tf.reset_default_graph()
    _linear_regression()
    with ms.MonitoredTrainingSession(hooks=[mine]) as sess:  # no checkpoint_dir: no saving hooks
        assert sess._hooks == [mine]


def test_out_of_range_ends_training_cleanly():
    gs, x, y, w, loss, train = _linear_regression()
    ended = []

    class End(hooks.SessionRunHook):
        def end(self, session):
            ended.append(int(session.run(gs)))

    with ms.MonitoredTrainingSession(hooks=[End()]) as sess:
        sess.run(train, {x: X, y: Y})
        raise errors.OutOfRangeError(None, None, "End of sequence")
    assert ended == [1]


def test_other_errors_propagate_without_end():
    _linear_regression()
    ended = []

    class End(hooks.SessionRunHook):
        def end(self, session):
            ended.append(True)

    with pytest.raises(KeyError):
        with ms.MonitoredTrainingSession(hooks=[End()]):
            raise KeyError("boom")
    assert ended == []
    assert not tf.get_default_graph().finalized


def test_run_step_fn():
    gs, x, y, w, loss, train = _linear_regression()
    with ms.MonitoredTrainingSession(hooks=[hooks.StopAtStepHook(last_step=3)]) as sess:
        def step_fn(step_context):
            assert step_context.session.graph is tf.get_default_graph()
            return step_context.run_with_hooks(train, {x: X, y: Y})

        while not sess.should_stop():
            sess.run_step_fn(step_fn)
        assert sess._tf_sess().run(gs) == 3
    tf.reset_default_graph()
    gs, x, y, w, loss, train = _linear_regression()
    with ms.MonitoredTrainingSession() as sess:
        with pytest.raises(ValueError, match="step_context"):
            sess.run_step_fn(lambda ctx: None)

        def stopper(step_context):
            step_context.request_stop()

        assert sess.run_step_fn(stopper) is None
        assert sess.should_stop()


def test_recovers_from_unavailable_error(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.WARNING, logger="labflow")
    gs, x, y, w, loss, train = _linear_regression()
    created = []
    orig_new = SessionManager._new_session
    monkeypatch.setattr(SessionManager, "_new_session",
                        lambda self, m, c: created.append(1) or orig_new(self, m, c))
    orig_run = session_mod.BaseSession.run
    state = {"armed": False, "raised": 0}

    def flaky_run(self, fetches, *args, **kwargs):
        if state["armed"] and isinstance(fetches, dict) and fetches.get("caller") is train:
            state["armed"] = False
            state["raised"] += 1
            raise errors.UnavailableError(None, None, "ps task 0 is gone (socket closed)")
        return orig_run(self, fetches, *args, **kwargs)

    monkeypatch.setattr(session_mod.BaseSession, "run", flaky_run)
    steps_after_restore = []

    class Watch(hooks.SessionRunHook):
        def after_create_session(self, session, coord):
            steps_after_restore.append(int(session.run(gs)))

    with ms.MonitoredTrainingSession(checkpoint_dir=str(tmp_path), save_checkpoint_steps=4,
                                     hooks=[hooks.StopAtStepHook(last_step=10), Watch()]) as sess:
        n = 0
        while not sess.should_stop():
            if n == 6:
                state["armed"] = True  # the 7th step's run fails once, as if a ps task died
            sess.run(train, {x: X, y: Y})
            n += 1
        final = sess._tf_sess().run(gs)
    assert state["raised"] == 1
    assert len(created) == 2
    # The new session restored the newest checkpoint (step 4) and training went on to step 10.
    assert steps_after_restore == [0, 4]
    assert final == 10
    assert any("UnavailableError" in r.getMessage() or "ps task 0 is gone" in r.getMessage()
               for r in caplog.records if r.levelno == logging.WARNING)


def test_recovers_from_aborted_error_while_creating(monkeypatch):
    _linear_regression()
    orig_new = SessionManager._new_session
    fails = [errors.AbortedError(None, None, "worker restarted")]

    def new_session(self, master, config):
        if fails:
            raise fails.pop()
        return orig_new(self, master, config)

    monkeypatch.setattr(SessionManager, "_new_session", new_session)
    with ms.MonitoredSession() as sess:
        assert not sess.should_stop()
    assert fails == []


def test_singular_session_does_not_recover(monkeypatch):
    gs, x, y, w, loss, train = _linear_regression()
    with ms.SingularMonitoredSession() as sess:
        assert isinstance(sess.raw_session(), session_mod.Session)
        monkeypatch.setattr(session_mod.BaseSession, "run", lambda *a, **k: (_ for _ in ()).throw(
            errors.UnavailableError(None, None, "gone")))
        with pytest.raises(errors.UnavailableError):
            sess.run(train, {x: X, y: Y})
        monkeypatch.undo()


class _SharedSession:
    """A session that shares one local Session's variables, as sessions on one cluster share the ps's."""

    def __init__(self, inner):
        self._inner = inner
        self.graph = inner.graph

    def run(self, *args, **kwargs):
        return self._inner.run(*args, **kwargs)

    def close(self):
        pass


def _chief_initializes_later(shared, init_op, delay):
    def chief():
        time.sleep(delay)
        shared.run(init_op)
    t = threading.Thread(target=chief)
    t.start()
    return t


def test_wait_for_session_waits_for_chief(caplog):
    caplog.set_level(logging.INFO, logger="labflow")
    _linear_regression()
    ready = tf.report_uninitialized_variables()
    init = tf.global_variables_initializer()
    shared = tf.Session()
    sm = SessionManager(ready_op=ready, recovery_wait_secs=0.05)
    sm._new_session = lambda master, config: _SharedSession(shared)
    t = _chief_initializes_later(shared, init, 0.3)
    start = time.time()
    sess = sm.wait_for_session("", max_wait_secs=30)
    t.join()
    assert time.time() - start >= 0.25
    assert sess.run(tf.report_uninitialized_variables()).size == 0
    assert "Waiting for model to be ready" in caplog.text and "w" in caplog.text
    shared.close()


def test_wait_for_session_times_out_with_clear_error():
    _linear_regression()
    sm = SessionManager(ready_op=tf.report_uninitialized_variables(), recovery_wait_secs=0.05)
    with pytest.raises(errors.DeadlineExceededError, match="not ready after waiting.*Variables not initialized"):
        sm.wait_for_session("", max_wait_secs=0.2)


def test_non_chief_monitored_training_session(monkeypatch):
    gs, x, y, w, loss, train = _linear_regression()
    init = tf.global_variables_initializer()
    shared = tf.Session()
    monkeypatch.setattr(SessionManager, "_new_session", lambda self, m, c: _SharedSession(shared))
    monkeypatch.setattr(SessionManager, "__init__", _with_short_wait(SessionManager.__init__))
    t = _chief_initializes_later(shared, init, 0.2)
    with ms.MonitoredTrainingSession(is_chief=False, checkpoint_dir="/nonexistent-not-used-by-workers",
                                     hooks=[hooks.StopAtStepHook(last_step=3)]) as sess:
        while not sess.should_stop():
            sess.run(train, {x: X, y: Y})
        assert [type(h).__name__ for h in sess._hooks] == ["StopAtStepHook"]
    t.join()
    assert shared.run(gs) == 3
    shared.close()


def _with_short_wait(orig_init):
    def init(self, *args, **kwargs):
        orig_init(self, *args, **kwargs)
        self._recovery_wait_secs = 0.05
    return init


def test_prepare_session_errors():
    _linear_regression()
    sm = SessionManager()
    with pytest.raises(RuntimeError, match="no init_op or init_fn or local_init_op"):
        sm.prepare_session("")
    sm = SessionManager(ready_op=tf.report_uninitialized_variables())
    with pytest.raises(RuntimeError, match="did not make model ready.*Variables not initialized"):
        sm.prepare_session("", init_op=tf.no_op())
    with pytest.raises(ValueError, match="must also pass a local_init_op"):
        SessionManager(ready_for_local_init_op=tf.report_uninitialized_variables())


def test_scaffold_defaults_and_collections():
    _linear_regression()
    scaffold = ms.Scaffold()
    scaffold.finalize()
    g = tf.get_default_graph()
    assert g.finalized
    assert g.get_collection(tf.GraphKeys.INIT_OP) == [scaffold.init_op]
    assert g.get_collection(tf.GraphKeys.READY_OP) == [scaffold.ready_op]
    assert g.get_collection(tf.GraphKeys.SAVERS) == [scaffold.saver]
    assert scaffold.summary_op is None
    with tf.Session() as sess:
        assert sorted(sess.run(scaffold.ready_op)) == [b"b", b"global_step", b"w"]
        sess.run(scaffold.init_op)
        assert sess.run(scaffold.ready_op).size == 0
    g._unsafe_unfinalize()
    copied = ms.Scaffold(copy_from_scaffold=scaffold, init_feed_dict={})
    assert copied.init_op is scaffold.init_op and copied.init_feed_dict == {}
    with pytest.raises(TypeError, match="copy_from_scaffold"):
        ms.Scaffold(copy_from_scaffold=object())
    g.add_to_collection(tf.GraphKeys.INIT_OP, tf.no_op())
    with pytest.raises(RuntimeError, match="More than one item in the collection"):
        ms.Scaffold().finalize()


def test_scaffold_init_fn_gets_scaffold_and_session():
    gs, x, y, w, loss, train = _linear_regression()
    set_w = tf.assign(w, tf.ones([3, 1]))
    seen = []

    def init_fn(scaffold, sess):
        seen.append(scaffold)
        sess.run(set_w)

    scaffold = ms.Scaffold(init_fn=init_fn)
    with ms.MonitoredTrainingSession(scaffold=scaffold) as sess:
        np.testing.assert_allclose(sess.run(w), np.ones([3, 1]))
    assert seen == [scaffold]


def test_graph_property_and_close():
    _linear_regression()
    sess = ms.MonitoredSession()
    assert sess.graph is tf.get_default_graph()
    sess.close()
    assert sess.graph is None
    assert sess.should_stop()


def test_queue_runners_started_and_stopped():
    data_flow_ops = pytest.importorskip("labflow.ops.data_flow_ops")
    queue_runner = pytest.importorskip("labflow.train.queue_runner")
    pytest.importorskip("labflow.train.coordinator")
    before = set(threading.enumerate())
    tf.train.get_or_create_global_step()
    q = data_flow_ops.FIFOQueue(4, [tf.float32], shapes=[[]])
    counter = tf.Variable(0.0, name="counter")
    queue_runner.add_queue_runner(queue_runner.QueueRunner(q, [q.enqueue([tf.assign_add(counter, 1.0)])]))
    x = q.dequeue()
    with ms.MonitoredTrainingSession() as sess:
        assert [float(sess.run(x)) for _ in range(5)] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert set(threading.enumerate()) - before == set()


def test_savers_collection_round_trips_without_warnings(tmp_path, caplog):
    import labflow as tf
    v = tf.Variable(1.0, name="kept")
    saver = tf.train.Saver()
    tf.add_to_collection(tf.GraphKeys.SAVERS, saver)
    with tf.Session() as sess, caplog.at_level("WARNING"):
        sess.run(v.initializer)
        saver.save(sess, str(tmp_path / "model.ckpt"))
    assert not [r for r in caplog.records if "cannot store" in r.message]
    mg = tf.train.export_meta_graph()
    assert len(mg.collection_def[tf.GraphKeys.SAVERS].bytes_list.value) == 1
