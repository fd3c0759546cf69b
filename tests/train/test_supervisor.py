"""tf.train.Supervisor: managed_session trains, saves, resumes; services stop with no threads left."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

import labflow as tf
from labflow import errors
from labflow.summary.reader import summary_iterator
from labflow.train.supervisor import Supervisor


def _model():
    gs = tf.train.get_or_create_global_step()
    w = tf.Variable(tf.zeros([3]), name="w")
    loss = tf.reduce_sum(tf.square(w - np.array([1.0, 2.0, 3.0], np.float32)), name="loss")
    tf.summary.scalar("loss_summary", loss)
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=gs)
    return gs, w, loss, train


def _events(logdir):
    return [e for f in sorted(os.listdir(logdir)) if f.startswith("events")
            for e in summary_iterator(os.path.join(logdir, f))]


def test_managed_session_trains_saves_and_resumes(tmp_path):
    before = set(threading.enumerate())
    logdir = str(tmp_path)
    gs, w, loss, train = _model()
    sv = Supervisor(logdir=logdir, save_model_secs=0.05, save_summaries_secs=0.05)
    assert tf.get_default_graph().finalized
    assert sv.is_chief and sv.global_step is gs and sv.saver is not None and sv.summary_writer is not None
    with sv.managed_session() as sess:
        assert sess.run(gs) == 0
        for _ in range(15):
            if sv.should_stop():
                break
            sess.run(train)
        deadline = time.time() + 10
        while not (tf.train.latest_checkpoint(logdir) or "").endswith("-15") and time.time() < deadline:
            time.sleep(0.02)
        w_trained = sess.run(w)
    assert tf.train.latest_checkpoint(logdir).endswith("model.ckpt-15")
    assert set(threading.enumerate()) - before == set()
    events = _events(logdir)
    assert any(e.HasField("graph_def") for e in events)
    assert any(e.HasField("summary") and e.summary.value[0].tag == "loss_summary" for e in events)
    statuses = [e.session_log.status for e in events if e.HasField("session_log")]
    assert tf.summary.SessionLog.START in statuses and tf.summary.SessionLog.STOP in statuses
    assert os.path.exists(os.path.join(logdir, "graph.pbtxt"))
    # A restarted chief restores the checkpoint.
    tf.reset_default_graph()
    gs, w, loss, train = _model()
    sv = Supervisor(logdir=logdir, save_model_secs=0, save_summaries_secs=0)
    with sv.managed_session() as sess:
        assert sess.run(gs) == 15
        np.testing.assert_allclose(sess.run(w), w_trained)
    assert set(threading.enumerate()) - before == set()


def test_exception_in_block_is_reraised_and_threads_stop(tmp_path):
    before = set(threading.enumerate())
    _model()
    sv = Supervisor(logdir=str(tmp_path), save_model_secs=100, save_summaries_secs=100)
    with pytest.raises(ValueError, match="user failure"):
        with sv.managed_session():
            raise ValueError("user failure")
    assert sv.should_stop()
    assert set(threading.enumerate()) - before == set()


def test_out_of_range_is_a_clean_stop(tmp_path):
    gs, w, loss, train = _model()
    sv = Supervisor(logdir=str(tmp_path), save_model_secs=100, save_summaries_secs=100)
    with sv.managed_session() as sess:
        sess.run(train)
        raise errors.OutOfRangeError(None, None, "input exhausted")
    assert sv.should_stop()


def test_without_logdir_and_non_chief():
    before = set(threading.enumerate())
    gs, w, loss, train = _model()
    sv = Supervisor(logdir=None)
    assert sv.summary_writer is None and sv.save_path is None
    with sv.managed_session() as sess:
        sess.run(train)
        assert sess.run(gs) == 1
    assert set(threading.enumerate()) - before == set()
    tf.reset_default_graph()
    _model()
    worker = Supervisor(is_chief=False, logdir="/should/not/be/used", recovery_wait_secs=0.05)
    assert worker.summary_writer is None and worker.save_path is None and not worker.is_chief
    with pytest.raises(RuntimeError, match="Only chief supervisor"):
        worker.start_standard_services(None)
    with pytest.raises(errors.DeadlineExceededError, match="not ready"):
        worker.prepare_or_wait_for_session(max_wait_secs=0.1)


def test_loop_and_request_stop(tmp_path):
    before = set(threading.enumerate())
    _model()
    sv = Supervisor(logdir=str(tmp_path), save_model_secs=0, save_summaries_secs=0)
    calls = []
    with sv.managed_session():
        sv.loop(0.01, calls.append, args=(1,))
        deadline = time.time() + 10
        while len(calls) < 3 and time.time() < deadline:
            time.sleep(0.01)
        sv.request_stop()
        assert sv.should_stop()
    assert len(calls) >= 3
    assert set(threading.enumerate()) - before == set()


def test_summary_computed_and_defaults_from_collections(tmp_path):
    gs, w, loss, train = _model()
    sv = Supervisor(logdir=str(tmp_path), save_model_secs=0, save_summaries_secs=0)
    g = tf.get_default_graph()
    assert g.get_collection(tf.GraphKeys.READY_OP) == [sv.ready_op]
    assert g.get_collection(tf.GraphKeys.INIT_OP) == [sv.init_op]
    assert g.get_collection(tf.GraphKeys.SUMMARY_OP) == [sv.summary_op]
    with sv.managed_session() as sess:
        sess.run(train)
        sv.summary_computed(sess, sess.run(sv.summary_op))
    steps = [e.step for e in _events(str(tmp_path)) if e.HasField("summary")]
    assert steps == [1]


def test_works_with_the_fallback_coordinator(tmp_path, monkeypatch):
    # Without labflow.train.coordinator, the Supervisor and MonitoredSession use a small stand-in.
    from labflow.train import monitored_session, session_manager, supervisor
    monkeypatch.setattr(supervisor, "coordinator_class", lambda: session_manager._MiniCoordinator)
    monkeypatch.setattr(monitored_session, "coordinator_class", lambda: session_manager._MiniCoordinator)
    before = set(threading.enumerate())
    gs, w, loss, train = _model()
    sv = Supervisor(logdir=str(tmp_path), save_model_secs=0.05, save_summaries_secs=0.05)
    assert isinstance(sv.coord, session_manager._MiniCoordinator)
    with pytest.raises(ValueError, match="late failure"):
        with sv.managed_session() as sess:
            sess.run(train)
            time.sleep(0.1)
            raise ValueError("late failure")
    assert set(threading.enumerate()) - before == set()
    tf.reset_default_graph()
    gs, w, loss, train = _model()
    with monitored_session.MonitoredTrainingSession() as sess:
        assert isinstance(sess._coordinated_creator.coord, session_manager._MiniCoordinator)
        sess.run(train)
