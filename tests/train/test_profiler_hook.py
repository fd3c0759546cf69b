"""tf.train.ProfilerHook: which steps are traced, the Chrome trace files and the run metadata events."""

from __future__ import annotations

import json
import os

import pytest

import labflow as tf


def _train(hook, steps):
    with tf.Graph().as_default():
        gs = tf.train.get_or_create_global_step()
        x = tf.Variable(1.0)
        train = tf.group(tf.assign_add(x, tf.square(x) * 0.0 + 1.0), tf.assign_add(gs, 1))
        with tf.train.MonitoredTrainingSession(hooks=[hook]) as s:
            for _ in range(steps):
                s.run(train)


def test_traces_every_n_steps_as_chrome_timelines(tmp_path):
    _train(tf.train.ProfilerHook(save_steps=3, output_dir=str(tmp_path), show_memory=True), 8)
    names = sorted(os.listdir(tmp_path))
    assert [n for n in names if n.startswith("timeline")] == ["timeline-3.json", "timeline-6.json"]
    trace = json.loads((tmp_path / "timeline-3.json").read_text())
    ops = {e["args"].get("name") for e in trace["traceEvents"] if e.get("ph") == "X"}
    assert any(n and n.startswith("AssignAdd") for n in ops)
    tf.summary.FileWriterCache.get(str(tmp_path)).flush()  # the hook shares the cached writer, as TF's
    events = [n for n in names if n.startswith("events.out.tfevents")]
    assert events
    tags = [e.tagged_run_metadata.tag for e in tf.train.summary_iterator(str(tmp_path / events[0]))
            if e.HasField("tagged_run_metadata")]
    assert tags == ["step_3", "step_6"]


def test_save_secs_and_argument_errors(tmp_path):
    _train(tf.train.ProfilerHook(save_secs=3600, output_dir=str(tmp_path / "p")), 4)
    assert not [n for n in os.listdir(tmp_path / "p") if n.startswith("timeline")]  # first step is never traced
    with pytest.raises(ValueError, match="Either every_secs or every_steps"):
        tf.train.ProfilerHook(output_dir=str(tmp_path))
    with pytest.raises(ValueError, match="Can not provide both"):
        tf.train.ProfilerHook(save_steps=1, save_secs=1, output_dir=str(tmp_path))
    with tf.Graph().as_default(), pytest.raises(RuntimeError, match="Global step should be created"):
        tf.train.ProfilerHook(save_steps=1, output_dir=str(tmp_path)).begin()
