"""The standard SessionRunHooks, run through a MonitoredSession on a small model."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest

import labflow as tf
from labflow.summary.reader import summary_iterator
from labflow.summary.writer import FileWriterCache
from labflow.train import basic_session_run_hooks as hooks
from labflow.train.monitored_session import ChiefSessionCreator, MonitoredSession, Scaffold, SingularMonitoredSession
from labflow.train.session_run_hook import SessionRunArgs, SessionRunContext, SessionRunHook, SessionRunValues


@pytest.fixture(autouse=True)
def _close_cached_writers():
    yield
    FileWriterCache.clear()


def _model():
    gs = tf.train.get_or_create_global_step()
    w = tf.Variable(2.0, name="w")
    loss = tf.square(w, name="loss")
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=gs)
    return gs, w, loss, train


class _Recorder(SessionRunHook):
    def __init__(self, log, name, fetch=None, feed=None):
        self.log, self.name, self.fetch, self.feed = log, name, fetch, feed
        self.results = []

    def begin(self):
        self.log.append((self.name, "begin"))

    def after_create_session(self, session, coord):
        self.log.append((self.name, "after_create_session"))

    def before_run(self, run_context):
        self.log.append((self.name, "before_run"))
        if self.fetch is None and self.feed is None:
            return None
        return SessionRunArgs(self.fetch, self.feed)

    def after_run(self, run_context, run_values):
        self.log.append((self.name, "after_run"))
        self.results.append(run_values.results)

    def end(self, session):
        self.log.append((self.name, "end"))


def test_session_run_args_and_context():
    args = SessionRunArgs("x")
    assert args.fetches == "x" and args.feed_dict is None and args.options is None
    ctx = SessionRunContext(args, session="s")
    assert ctx.original_args is args and ctx.session == "s" and not ctx.stop_requested
    ctx.request_stop()
    assert ctx.stop_requested
    vals = SessionRunValues(results=1, options=None, run_metadata=None)
    assert vals.results == 1


def test_hook_call_order_and_merged_fetches():
    gs, w, loss, train = _model()
    log = []
    x = tf.placeholder(tf.float32, [], name="x")
    doubled = x * 2.0
    h1 = _Recorder(log, "h1", fetch={"loss": loss})
    h2 = _Recorder(log, "h2", fetch=doubled, feed={x: 21.0})
    with MonitoredSession(hooks=[h1, h2]) as sess:
        assert log == [("h1", "begin"), ("h2", "begin"), ("h1", "after_create_session"),
                       ("h2", "after_create_session")]
        del log[:]
        out = sess.run(w)
        assert out == pytest.approx(2.0)
        assert log == [("h1", "before_run"), ("h2", "before_run"), ("h1", "after_run"), ("h2", "after_run")]
        sess.run(train)
        del log[:]
    assert log == [("h1", "end"), ("h2", "end")]
    assert h1.results[0]["loss"] == pytest.approx(4.0)
    assert h2.results == [42.0, 42.0]


def test_feed_conflicts_raise():
    _model()
    x = tf.placeholder(tf.float32, [], name="x")
    y = x + 1.0
    with MonitoredSession(hooks=[_Recorder([], "a", feed={x: 1.0}), _Recorder([], "b", feed={x: 2.0})]) as sess:
        with pytest.raises(RuntimeError, match="Same tensor is fed by two hooks"):
            sess.run(y)
    tf.reset_default_graph()
    _model()
    x = tf.placeholder(tf.float32, [], name="x")
    y = x + 1.0
    with MonitoredSession(hooks=[_Recorder([], "a", feed={x: 1.0})]) as sess:
        with pytest.raises(RuntimeError, match="fed by a SessionRunHook and user"):
            sess.run(y, feed_dict={x: 3.0})


def test_second_or_step_timer(monkeypatch):
    with pytest.raises(ValueError, match="Either every_secs or every_steps"):
        hooks.SecondOrStepTimer()
    with pytest.raises(ValueError, match="Can not provide both"):
        hooks.SecondOrStepTimer(every_secs=1, every_steps=1)
    t = hooks.SecondOrStepTimer(every_steps=3)
    assert t.should_trigger_for_step(0)
    assert t.update_last_triggered_step(0) == (None, None)
    assert [t.should_trigger_for_step(s) for s in range(5)] == [False, False, False, True, True]
    secs, steps = t.update_last_triggered_step(4)
    assert steps == 4 and secs >= 0
    now = [1000.0]
    monkeypatch.setattr(hooks.time, "time", lambda: now[0])
    t = hooks.SecondOrStepTimer(every_secs=10)
    t.update_last_triggered_step(0)
    assert not t.should_trigger_for_step(1)
    now[0] += 10
    assert t.should_trigger_for_step(1)
    assert not t.should_trigger_for_step(0)  # same step as the last trigger never triggers


def test_stop_at_step_hook():
    with pytest.raises(ValueError):
        hooks.StopAtStepHook()
    with pytest.raises(ValueError):
        hooks.StopAtStepHook(num_steps=1, last_step=2)
    gs, _, _, train = _model()
    with SingularMonitoredSession(hooks=[hooks.StopAtStepHook(num_steps=5)]) as sess:
        n = 0
        while not sess.should_stop():
            sess.run(train)
            n += 1
        assert n == 5 and sess.raw_session().run(gs) == 5
        with pytest.raises(RuntimeError, match="Run called even after should_stop"):
            sess.run(train)


def test_stop_at_step_needs_global_step():
    w = tf.Variable(1.0)
    del w
    with pytest.raises(RuntimeError, match="Global step should be created"):
        MonitoredSession(hooks=[hooks.StopAtStepHook(last_step=3)])
    assert not tf.get_default_graph().finalized


def test_logging_tensor_hook(caplog):
    caplog.set_level(logging.INFO, logger="labflow")
    gs, w, loss, train = _model()
    with pytest.raises(ValueError, match="exactly one of every_n_iter and every_n_secs"):
        hooks.LoggingTensorHook({"loss": loss})
    with pytest.raises(ValueError, match="invalid every_n_iter"):
        hooks.LoggingTensorHook({"loss": loss}, every_n_iter=0)
    hook = hooks.LoggingTensorHook({"loss": loss, "w": "w"}, every_n_iter=2, at_end=True)
    with SingularMonitoredSession(hooks=[hook, hooks.StopAtStepHook(last_step=5)]) as sess:
        while not sess.should_stop():
            sess.run(train)
    msgs = [r.getMessage() for r in caplog.records if r.name == "labflow" and "loss =" in r.getMessage()]
    assert len(msgs) == 4  # iterations 0, 2, 4 and at the end
    assert msgs[0].startswith("loss = ") and ", w = " in msgs[0]
    assert "sec)" in msgs[1] and "sec)" not in msgs[0]
    assert all(r.levelno == logging.INFO for r in caplog.records if "loss =" in r.getMessage())


def test_logging_tensor_hook_formatter_and_names(caplog):
    caplog.set_level(logging.INFO, logger="labflow")
    gs, w, loss, train = _model()
    hook = hooks.LoggingTensorHook([loss.name, "w"], every_n_iter=1,
                                   formatter=lambda v: "custom " + ",".join(f"{k}={v[k]:.1f}" for k in sorted(v)))
    with SingularMonitoredSession(hooks=[hook]) as sess:
        sess.run(gs)
    assert "custom loss:0=4.0,w=2.0" in caplog.text


def test_logging_visible_without_logging_config(tmp_path):
    # TF printed hook logs without any logging setup (notebooks, scripts): so does labflow.
    code = ("import labflow as tf\n"
            "from labflow.train.basic_session_run_hooks import LoggingTensorHook\n"
            "from labflow.train.monitored_session import SingularMonitoredSession\n"
            "tf.train.get_or_create_global_step()\n"
            "x = tf.constant(3.0, name='x')\n"
            "with SingularMonitoredSession(hooks=[LoggingTensorHook({'x': x}, every_n_iter=1)]) as s:\n"
            "    s.run(x)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "x = 3.0" in out.stderr


def test_nan_tensor_hook():
    gs = tf.train.get_or_create_global_step()
    x = tf.placeholder(tf.float32, [])
    loss = tf.sqrt(x)
    step = tf.assign_add(gs, 1)
    with SingularMonitoredSession(hooks=[hooks.NanTensorHook(loss)]) as sess:
        sess.run(step, {x: 4.0})
        with pytest.raises(hooks.NanLossDuringTrainingError, match="NaN loss during training"):
            sess.run(step, {x: -1.0})
    tf.reset_default_graph()
    tf.train.get_or_create_global_step()
    x = tf.placeholder(tf.float32, [])
    loss = tf.sqrt(x)
    with SingularMonitoredSession(hooks=[hooks.NanTensorHook(loss, fail_on_nan_loss=False)]) as sess:
        sess.run(loss, {x: -1.0})
        assert sess.should_stop()


def test_feed_fn_and_final_ops_hooks():
    tf.train.get_or_create_global_step()
    x = tf.placeholder(tf.float32, [])
    total = tf.Variable(0.0, name="total")
    add = tf.assign_add(total, x)
    vals = iter([1.0, 2.0, 3.0])
    final = hooks.FinalOpsHook(total * 10.0)
    with SingularMonitoredSession(hooks=[hooks.FeedFnHook(lambda: {x: next(vals)}), final]) as sess:
        for _ in range(3):
            sess.run(add)
    assert final.final_ops_values == pytest.approx(60.0)


def test_global_step_waiter_hook():
    gs = tf.train.get_or_create_global_step()
    set_gs = tf.assign(gs, 7)
    inc = tf.assign_add(gs, 1)
    scaffold = Scaffold(init_fn=lambda scaffold, sess: sess.run(set_gs))
    with MonitoredSession(ChiefSessionCreator(scaffold=scaffold),
                          hooks=[hooks.GlobalStepWaiterHook(5), hooks.GlobalStepWaiterHook(0)]) as sess:
        assert sess.run(inc) == 8


class _Listener(hooks.CheckpointSaverListener):
    def __init__(self, stop_at=None):
        self.calls = []
        self.stop_at = stop_at

    def begin(self):
        self.calls.append("begin")

    def before_save(self, session, step):
        self.calls.append(("before", step))

    def after_save(self, session, step):
        self.calls.append(("after", step))
        return self.stop_at is not None and step >= self.stop_at

    def end(self, session, step):
        self.calls.append(("end", step))


def test_checkpoint_saver_hook_steps_and_listener(tmp_path):
    with pytest.raises(ValueError, match="Either every_secs or every_steps"):
        hooks.CheckpointSaverHook(str(tmp_path))
    gs, w, loss, train = _model()
    listener = _Listener()
    saver = tf.train.Saver()
    hook = hooks.CheckpointSaverHook(str(tmp_path), save_steps=3, saver=saver, listeners=[listener])
    with SingularMonitoredSession(hooks=[hook, hooks.StopAtStepHook(last_step=7)]) as sess:
        while not sess.should_stop():
            sess.run(train)
    saved = [c[1] for c in listener.calls if c[0] == "after"]
    assert saved == [0, 3, 6, 7]
    assert listener.calls[0] == "begin" and listener.calls[-1] == ("end", 7)
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-7")
    assert os.path.exists(tmp_path / "graph.pbtxt")
    FileWriterCache.clear()
    events = [e for f in os.listdir(tmp_path) if f.startswith("events")
              for e in summary_iterator(str(tmp_path / f))]
    assert any(e.HasField("session_log") and e.session_log.checkpoint_path for e in events)


def test_checkpoint_listener_can_stop_training(tmp_path):
    gs, w, loss, train = _model()
    listener = _Listener(stop_at=2)
    scaffold = Scaffold()
    hook = hooks.CheckpointSaverHook(str(tmp_path), save_steps=2, scaffold=scaffold, listeners=[listener])
    with SingularMonitoredSession(hooks=[hook], scaffold=scaffold) as sess:
        n = 0
        while not sess.should_stop():
            sess.run(train)
            n += 1
    assert n == 2


def test_checkpoint_saver_hook_finds_saver_in_collection(tmp_path):
    _model()
    with pytest.raises(ValueError, match="both saver and scaffold"):
        hooks.CheckpointSaverHook(str(tmp_path), save_steps=1, saver=tf.train.Saver(), scaffold=Scaffold())
    hook = hooks.CheckpointSaverHook(str(tmp_path), save_steps=1)
    with pytest.raises(RuntimeError, match="No items in collection savers"):
        hook._get_saver()


def test_summary_saver_and_step_counter_hooks(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="labflow")
    gs, w, loss, train = _model()
    summ = tf.summary.scalar("loss_summary", loss)
    with pytest.raises(ValueError, match="Exactly one of scaffold or summary_op"):
        hooks.SummarySaverHook(save_steps=1)
    hs = [hooks.SummarySaverHook(save_steps=2, output_dir=str(tmp_path), summary_op=summ),
          hooks.StepCounterHook(every_n_steps=2, output_dir=str(tmp_path)),
          hooks.StopAtStepHook(last_step=6)]
    with SingularMonitoredSession(hooks=hs) as sess:
        while not sess.should_stop():
            sess.run(train)
    FileWriterCache.clear()
    events = [e for f in sorted(os.listdir(tmp_path)) for e in summary_iterator(str(tmp_path / f))]
    loss_steps = [e.step for e in events if e.HasField("summary") and e.summary.value[0].tag == "loss_summary"]
    assert loss_steps == [1, 3, 5]
    rates = [e for e in events if e.HasField("summary") and e.summary.value[0].tag == "global_step/sec"]
    assert len(rates) >= 2 and all(r.summary.value[0].simple_value > 0 for r in rates)
    assert any(e.HasField("session_log") for e in events)
    assert "global_step/sec: " in caplog.text


def test_hooks_not_ended_on_error():
    log = []
    _model()
    with pytest.raises(ZeroDivisionError):
        with MonitoredSession(hooks=[_Recorder(log, "h")]):
            raise ZeroDivisionError
    assert ("h", "end") not in log


def test_hook_run_options_reach_the_session():
    from labflow.framework.protos.config_pb2 import RunOptions
    gs, w, loss, train = _model()
    seen = []

    class Trace(SessionRunHook):
        def before_run(self, run_context):
            return SessionRunArgs(None, options=RunOptions(trace_level=RunOptions.FULL_TRACE))

        def after_run(self, run_context, run_values):
            seen.append((run_values.options.trace_level, len(run_values.run_metadata.step_stats.dev_stats)))

    with SingularMonitoredSession(hooks=[Trace()]) as sess:
        sess.run(train)
    assert seen == [(RunOptions.FULL_TRACE, 1)]
