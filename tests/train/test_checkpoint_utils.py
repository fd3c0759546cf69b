"""tf.train checkpoint utilities: load_checkpoint / list_variables / load_variable, init_from_checkpoint with
TF's assignment_map forms, checkpoints_iterator, get_checkpoint_mtimes, remove_checkpoint,
generate_checkpoint_state_proto, basic_train_loop, match_filenames_once."""

import os
import threading
import time

import numpy as np
import pytest

import labflow as tf
from labflow import errors


def _save(tmp_path, step=None):
    """A checkpoint with old/w [2,3], old/sub/b [3], other [] (values 1.., 10.., 7)."""
    tf.reset_default_graph()
    with tf.variable_scope("old"):
        tf.get_variable("w", initializer=np.arange(6, dtype=np.float32).reshape(2, 3) + 1)
        with tf.variable_scope("sub"):
            tf.get_variable("b", initializer=np.float32([10, 11, 12]))
    tf.get_variable("other", initializer=np.float32(7))
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return saver.save(sess, str(tmp_path / "model.ckpt"), global_step=step)


def test_reader_list_and_load(tmp_path):
    prefix = _save(tmp_path)
    reader = tf.train.load_checkpoint(str(tmp_path))  # a folder: its newest checkpoint
    assert reader.has_tensor("old/w") and not reader.has_tensor("nope")
    assert reader.get_variable_to_shape_map() == {"old/w": [2, 3], "old/sub/b": [3], "other": []}
    assert reader.get_variable_to_dtype_map()["old/w"] == tf.float32
    np.testing.assert_array_equal(reader.get_tensor("old/sub/b"), [10, 11, 12])
    assert tf.train.list_variables(prefix) == [("old/sub/b", [3]), ("old/w", [2, 3]), ("other", [])]
    assert tf.train.load_variable(prefix, "other:0") == 7
    with pytest.raises(errors.NotFoundError, match="nope"):
        reader.get_tensor("nope")


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(ValueError, match="Couldn't find 'checkpoint' file or checkpoints"):
        tf.train.load_checkpoint(str(tmp_path))
    with pytest.raises(errors.NotFoundError, match="Failed to find any matching files"):
        tf.train.load_checkpoint(str(tmp_path / "missing.ckpt"))


def _fresh_graph():
    tf.reset_default_graph()
    with tf.variable_scope("new"):
        w = tf.get_variable("w", [2, 3], initializer=tf.zeros_initializer())
        with tf.variable_scope("sub"):
            b = tf.get_variable("b", [3], initializer=tf.zeros_initializer())
    o = tf.get_variable("o", [], initializer=tf.zeros_initializer())
    return w, b, o


def _values(*vs):
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        return sess.run(list(vs))


def test_init_from_checkpoint_scope_to_scope(tmp_path):
    prefix = _save(tmp_path)
    w, b, o = _fresh_graph()
    tf.train.init_from_checkpoint(prefix, {"old/": "new/"})
    vw, vb, vo = _values(w, b, o)
    np.testing.assert_array_equal(vw, [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(vb, [10, 11, 12])
    assert vo == 0  # outside the mapped scope: its own initializer
    assert w.initializer.type == "Assign"
    assert w.initial_value.op.type == "RestoreV2"


def test_init_from_checkpoint_names_and_variables(tmp_path):
    prefix = _save(tmp_path)
    w, b, o = _fresh_graph()
    tf.train.init_from_checkpoint(str(tmp_path), {"old/sub/b": "new/sub/b", "other": o})
    vw, vb, vo = _values(w, b, o)
    assert not vw.any()
    np.testing.assert_array_equal(vb, [10, 11, 12])
    assert vo == 7
    del prefix


def test_init_from_checkpoint_root_mappings(tmp_path):
    _save(tmp_path)
    tf.reset_default_graph()
    with tf.variable_scope("outer"):
        w = tf.get_variable("old/w", [2, 3])
    tf.train.init_from_checkpoint(str(tmp_path), {"/": "outer/"})  # a root scope: every checkpoint tensor
    np.testing.assert_array_equal(_values(w)[0], [[1, 2, 3], [4, 5, 6]])
    tf.reset_default_graph()
    with tf.variable_scope("sub"):
        b = tf.get_variable("b", [3])
    tf.train.init_from_checkpoint(str(tmp_path), {"old/": "/"})
    np.testing.assert_array_equal(_values(b)[0], [10, 11, 12])


def test_init_from_checkpoint_errors(tmp_path):
    prefix = _save(tmp_path)
    w, b, o = _fresh_graph()
    with pytest.raises(ValueError, match="Tensor old/missing is not found"):
        tf.train.init_from_checkpoint(prefix, {"old/missing": "new/w"})
    with pytest.raises(ValueError, match="Shape of variable new/sub/b:0"):
        tf.train.init_from_checkpoint(prefix, {"old/w": "new/sub/b"})
    with pytest.raises(ValueError, match="Should be 'scope/': 'other_scope/'"):
        tf.train.init_from_checkpoint(prefix, {"old/w": "new/missing"})
    with pytest.raises(ValueError, match=r"Tensor old/new/sub/b \(.*\) is not found"):  # the first, sorted
        tf.train.init_from_checkpoint(prefix, {"old/": "/"})


def test_checkpoints_iterator_yields_new_checkpoints_and_times_out(tmp_path):
    first = _save(tmp_path, step=1)
    seen = []

    def save_later():
        time.sleep(0.3)
        _save_second.append(_save_again(tmp_path))

    _save_second: list = []
    t = threading.Thread(target=save_later)
    t.start()
    start = time.time()
    for path in tf.train.checkpoints_iterator(str(tmp_path), timeout=1.5):
        seen.append(path)
    t.join()
    assert seen == [first, _save_second[0]]
    assert time.time() - start >= 1.0  # waited for the timeout after the last one


def _save_again(tmp_path):
    # Writes step 2 without touching the default graph of the test thread.
    g = tf.Graph()
    with g.as_default():
        v = tf.Variable(1.0, name="x")
        saver = tf.train.Saver([v])
        with tf.Session(graph=g) as sess:
            sess.run(v.initializer)
            return saver.save(sess, str(tmp_path / "model.ckpt"), global_step=2)


def test_checkpoints_iterator_timeout_fn_and_min_interval(tmp_path):
    _save(tmp_path, step=1)
    calls = []

    def timeout_fn():
        calls.append(1)
        return len(calls) >= 2

    start = time.time()
    got = list(tf.train.checkpoints_iterator(str(tmp_path), min_interval_secs=0.5, timeout=0.2,
                                             timeout_fn=timeout_fn))
    assert len(got) == 1 and len(calls) == 2
    assert time.time() - start >= 0.5


def test_mtimes_and_remove(tmp_path):
    p1 = _save(tmp_path, step=1)
    p2 = _save(tmp_path, step=2)
    mtimes = tf.train.get_checkpoint_mtimes([p1, str(tmp_path / "nothing"), p2])
    assert len(mtimes) == 2
    assert mtimes[0] == pytest.approx(os.path.getmtime(p1 + ".index"))
    assert abs(mtimes[0] - time.time()) < 60
    tf.train.remove_checkpoint(p1)
    assert not any(f.startswith("model.ckpt-1.") for f in os.listdir(tmp_path))
    assert os.path.exists(p2 + ".index") and os.path.exists(p2 + ".meta")
    tf.train.remove_checkpoint(p1)  # already gone: no error


def test_generate_checkpoint_state_proto():
    st = tf.train.generate_checkpoint_state_proto("/abs/dir", "/abs/dir/m-2", ["/abs/dir/m-1"])
    assert st.model_checkpoint_path == "/abs/dir/m-2"
    assert list(st.all_model_checkpoint_paths) == ["/abs/dir/m-1", "/abs/dir/m-2"]
    rel = tf.train.generate_checkpoint_state_proto("train", "train/m-3", ["train/m-3"],
                                                   all_model_checkpoint_timestamps=[5.0],
                                                   last_preserved_timestamp=1.5)
    assert rel.model_checkpoint_path == "m-3" and list(rel.all_model_checkpoint_paths) == ["m-3"]
    assert list(rel.all_model_checkpoint_timestamps) == [5.0] and rel.last_preserved_timestamp == 1.5
    with pytest.raises(ValueError, match="must match checkpoint paths"):
        tf.train.generate_checkpoint_state_proto("d", "d/m-1", all_model_checkpoint_timestamps=[1.0, 2.0])


class _FakeSupervisor:
    """managed_session / should_stop as tf.train.Supervisor has them; the first session aborts."""

    def __init__(self, steps):
        self.steps, self.sessions = steps, 0

    def managed_session(self, master=""):
        sup = self

        class _Ctx:
            def __enter__(self):
                sup.sessions += 1
                return f"sess{sup.sessions}"

            def __exit__(self, *exc):
                return False
        return _Ctx()

    def should_stop(self):
        return self.steps <= 0


def test_basic_train_loop_retries_after_aborted():
    sup = _FakeSupervisor(3)
    seen = []

    def step(sess, tag, scale=1):
        seen.append((sess, tag, scale))
        sup.steps -= 1
        if len(seen) == 1:
            raise errors.AbortedError(None, None, "server restarted")

    tf.train.basic_train_loop(sup, step, args=["t"], kwargs={"scale": 2})
    assert seen == [("sess1", "t", 2), ("sess2", "t", 2), ("sess2", "t", 2)]


def test_basic_train_loop_with_a_real_supervisor(tmp_path):
    tf.reset_default_graph()
    gs = tf.train.get_or_create_global_step()
    inc = tf.assign_add(gs, 1)
    sv = tf.train.Supervisor(logdir=str(tmp_path), save_model_secs=0, save_summaries_secs=0)
    values = []

    def step(sess):
        values.append(sess.run(inc))
        if values[-1] >= 3:
            sv.request_stop()

    tf.train.basic_train_loop(sv, step)
    assert values == [1, 2, 3]


def test_match_filenames_once(tmp_path):
    for n in ("a.txt", "b.txt", "c.csv"):
        (tmp_path / n).write_text("x")
    tf.reset_default_graph()
    files = tf.train.match_filenames_once(str(tmp_path / "*.txt"))
    assert files.op.name == "matching_filenames"
    assert files in tf.local_variables() and files not in tf.global_variables()
    with tf.Session() as sess:
        sess.run(tf.local_variables_initializer())
        got = sorted(os.path.basename(f.decode()) for f in sess.run(files))
    assert got == ["a.txt", "b.txt"]
