"""Saver: save/restore, max_to_keep, checkpoint state, errors, meta graphs, crash safety."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import labflow as tf


def _model():
    w = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="w")
    b = tf.Variable(np.ones(3, np.float32), name="b")
    step = tf.train.get_or_create_global_step()
    return w, b, step


def test_save_and_restore_round_trip(tmp_path):
    w, b, step = _model()
    inc = tf.assign_add(step, 1)
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run([tf.assign(w, tf.fill([2, 3], 7.0)), inc])
        path = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=step)
    assert path == str(tmp_path / "model.ckpt-1")
    assert os.path.exists(path + ".index") and os.path.exists(path + ".meta")
    with tf.Session() as sess:
        saver.restore(sess, path)
        np.testing.assert_array_equal(sess.run(w), np.full((2, 3), 7.0))
        np.testing.assert_array_equal(sess.run(b), np.ones(3))
        assert sess.run(step) == 1
    assert tf.train.latest_checkpoint(str(tmp_path)) == path
    names = dict(tf.train.list_variables(str(tmp_path)))
    assert names["w"] == [2, 3] and names["global_step"] == []


def test_saver_ops_are_named_like_tf():
    _model()
    saver = tf.train.Saver()
    sd = saver.as_saver_def()
    assert sd.filename_tensor_name == "save/Const:0"
    assert sd.save_tensor_name == "save/control_dependency:0"
    assert sd.restore_op_name == "save/restore_all"


def test_max_to_keep_deletes_old_and_state_file_lists_kept(tmp_path):
    w, _, _ = _model()
    saver = tf.train.Saver(max_to_keep=2)
    prefix = str(tmp_path / "m")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        paths = [saver.save(sess, prefix, global_step=i) for i in range(4)]
    assert saver.last_checkpoints == paths[2:]
    assert not os.path.exists(paths[0] + ".index") and not os.path.exists(paths[1] + ".index")
    assert all(os.path.exists(p + ".index") for p in paths[2:])
    st = tf.train.get_checkpoint_state(str(tmp_path))
    assert st.model_checkpoint_path == paths[3]
    assert list(st.all_model_checkpoint_paths) == paths[2:]
    text = (tmp_path / "checkpoint").read_text()
    assert 'model_checkpoint_path: "' in text  # TF's text format, readable by TF's own tools


def test_restore_errors_name_the_variable_and_file(tmp_path):
    w, b, _ = _model()
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "m"))
        with pytest.raises(tf.errors.NotFoundError, match="not a valid checkpoint"):
            saver.restore(sess, str(tmp_path / "nope"))
        with pytest.raises(ValueError, match="None"):
            saver.restore(sess, None)
    # truncated data file
    data = path + ".data-00000-of-00001"
    with open(data, "r+b") as f:
        f.truncate(os.path.getsize(data) - 4)
    with tf.Session() as sess:
        with pytest.raises(tf.errors.DataLossError, match=r"truncated|Checksum"):
            saver.restore(sess, path)


def test_shape_mismatch_names_variable(tmp_path):
    _model()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = tf.train.Saver().save(sess, str(tmp_path / "m"))
    tf.reset_default_graph()
    tf.Variable(np.zeros((3, 3), np.float32), name="w")
    tf.Variable(np.zeros(3, np.float32), name="b")
    tf.train.get_or_create_global_step()
    saver = tf.train.Saver()
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"'w' with shape \[2, 3\].*\(3, 3\)"):
            saver.restore(sess, path)


def test_meta_graph_restores_without_python_model_code(tmp_path):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(np.eye(3, dtype=np.float32) * 2, name="w")
    y = tf.matmul(x, w, name="y")
    tf.add_to_collection("outputs", y)
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = saver.save(sess, str(tmp_path / "m"), global_step=5)
    tf.reset_default_graph()
    saver = tf.train.import_meta_graph(path + ".meta")
    g = tf.get_default_graph()
    (y2,) = tf.get_collection("outputs")
    assert y2.name == "y:0" and [v.name for v in tf.global_variables()] == ["w:0"]
    with tf.Session() as sess:
        saver.restore(sess, path)
        out = sess.run(y2, {g.get_tensor_by_name("x:0"): np.ones((1, 3))})
    np.testing.assert_array_equal(out, [[2, 2, 2]])


def test_checkpoint_reader(tmp_path):
    _model()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        path = tf.train.Saver().save(sess, str(tmp_path / "m"))
    r = tf.train.NewCheckpointReader(path)
    assert r.get_variable_to_shape_map()["w"] == [2, 3]
    np.testing.assert_array_equal(r.get_tensor("b"), np.ones(3))
    np.testing.assert_array_equal(tf.train.load_variable(str(tmp_path), "w"), np.arange(6).reshape(2, 3))


def test_killed_mid_save_leaves_previous_checkpoint_restorable(tmp_path):
    script = textwrap.dedent(f"""
        import sys, numpy as np
        import labflow as tf
        v = tf.Variable(np.zeros(4_000_000, np.float32), name="big")
        step = tf.train.get_or_create_global_step()
        inc = tf.group(tf.assign_add(v, tf.ones([4_000_000])), tf.assign_add(step, 1))
        saver = tf.train.Saver(max_to_keep=3)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            i = 0
            while True:
                sess.run(inc)
                saver.save(sess, {str(tmp_path / 'm')!r}, global_step=step)
                i += 1
                if i == 2:
                    print("ready", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.35)  # somewhere inside a later save
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    latest = tf.train.latest_checkpoint(str(tmp_path))
    assert latest is not None
    v = tf.Variable(np.zeros(4_000_000, np.float32), name="big")
    step = tf.train.get_or_create_global_step()
    with tf.Session() as sess:
        tf.train.Saver().restore(sess, latest)
        val, s = sess.run([v, step])
    assert s >= 2 and latest.endswith(f"-{s}")
    np.testing.assert_array_equal(val[:10], np.full(10, float(s)))  # a consistent, complete checkpoint
    leftovers = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    assert len(leftovers) <= 1  # at most the one write the kill interrupted


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64", "int8", "int16", "int32",
                                   "int64", "uint8", "bool"])
def test_every_dtype_round_trips(tmp_path, dtype):
    dt = tf.as_dtype(dtype)
    value = (np.arange(6) % 2 == 0) if dtype == "bool" else np.arange(6).astype(dt.as_numpy_dtype)
    v = tf.Variable(value.reshape(2, 3), name="v")
    saver = tf.train.Saver([v])
    with tf.Session() as sess:
        sess.run(v.initializer)
        path = saver.save(sess, str(tmp_path / "m"), write_meta_graph=False)
        sess.run(tf.assign(v, np.zeros((2, 3), dt.as_numpy_dtype)))
        saver.restore(sess, path)
        got = sess.run(v)
    assert got.dtype == value.dtype
    np.testing.assert_array_equal(got, value.reshape(2, 3))
