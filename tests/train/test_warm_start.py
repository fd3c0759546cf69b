"""tf.train.warm_start and VocabInfo: choosing variables, renames, vocabulary remapping and errors."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf


@pytest.fixture
def checkpoint(tmp_path):
    with tf.Graph().as_default():
        tf.get_variable("dense/kernel", initializer=np.arange(6, dtype=np.float32).reshape(3, 2))
        tf.get_variable("dense/bias", initializer=np.array([7.0, 8.0], np.float32))
        tf.get_variable("emb", initializer=np.arange(8, dtype=np.float32).reshape(4, 2))
        tf.get_variable("steps", initializer=np.int64(5), trainable=False)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            path = tf.train.Saver().save(s, str(tmp_path / "model"))
    (tmp_path / "old_vocab.txt").write_text("a\nb\nc\nd\n")
    (tmp_path / "new_vocab.txt").write_text("d\nzz\nb\n")
    return path, tmp_path


def _values(variables):
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        return s.run(variables)


def test_regex_chooses_trainable_variables_and_renames(checkpoint):
    path, _ = checkpoint
    with tf.Graph().as_default():
        k = tf.get_variable("dense/kernel", [3, 2], initializer=tf.zeros_initializer())
        b = tf.get_variable("dense/bias", [2], initializer=tf.zeros_initializer())
        renamed = tf.get_variable("new_bias", [2], initializer=tf.zeros_initializer())
        steps = tf.get_variable("steps", [], tf.int64, initializer=tf.zeros_initializer(), trainable=False)
        tf.train.warm_start(path, "dense/kernel|new_bias", var_name_to_prev_var_name={"new_bias": "dense/bias"})
        kv, bv, rv, sv = _values([k, b, renamed, steps])
    np.testing.assert_array_equal(kv, np.arange(6).reshape(3, 2))
    np.testing.assert_array_equal(bv, [0, 0])
    np.testing.assert_array_equal(rv, [7, 8])
    assert sv == 0  # non-trainable variables need the list-of-scopes form
    with tf.Graph().as_default():
        steps = tf.get_variable("steps", [], tf.int64, initializer=tf.zeros_initializer(), trainable=False)
        tf.train.warm_start(path, ["steps"])
        assert _values(steps) == 5


def test_vocabulary_remapping_rows_and_columns(checkpoint):
    path, d = checkpoint
    with tf.Graph().as_default():
        emb = tf.get_variable("emb", [4, 2], initializer=tf.ones_initializer())
        info = tf.train.VocabInfo(str(d / "new_vocab.txt"), 3, 1, str(d / "old_vocab.txt"),
                                  backup_initializer=tf.constant_initializer(-1.0))
        tf.train.warm_start(path, None, {"emb": info})
        got = _values(emb)
    np.testing.assert_array_equal(got, [[6, 7], [-1, -1], [2, 3], [-1, -1]])
    with tf.Graph().as_default():
        tf.get_variable("cols", [2, 3])
        info = tf.train.VocabInfo(str(d / "new_vocab.txt"), 3, 0, str(d / "old_vocab.txt"), old_vocab_size=3, axis=1)
        with pytest.raises(ValueError, match="does not match"):
            tf.train.warm_start(path, ["cols"], {"cols": info}, {"cols": "emb"})
        tf.get_variable("kernel_t", [3, 3])
        # all 4 old tokens, but the checkpoint tensor has only 2 columns: "d" has none
        info = tf.train.VocabInfo(str(d / "new_vocab.txt"), 3, 0, str(d / "old_vocab.txt"), axis=1)
        with pytest.raises(ValueError, match="longer than tensor"):
            tf.train.warm_start(path, ["kernel_t"], {"kernel_t": info}, {"kernel_t": "dense/kernel"})
    with tf.Graph().as_default():
        wide = tf.get_variable("wide", [3, 3], initializer=tf.zeros_initializer())
        # the kernel's 2 columns are an old vocabulary of 2 tokens ("a", "b"); new tokens d, zz, b
        info = tf.train.VocabInfo(str(d / "new_vocab.txt"), 3, 0, str(d / "old_vocab.txt"), old_vocab_size=2, axis=1)
        tf.train.warm_start(path, ["wide"], {"wide": info}, {"wide": "dense/kernel"})
        got = _values(wide)
    np.testing.assert_array_equal(got, [[0, 0, 1], [0, 0, 3], [0, 0, 5]])


def test_errors(checkpoint):
    path, d = checkpoint
    with tf.Graph().as_default():
        tf.get_variable("dense/kernel", [3, 2])
        with pytest.raises(ValueError, match="not used"):
            tf.train.warm_start(path, var_name_to_prev_var_name={"no_such_var": "dense/kernel"})
        with pytest.raises(ValueError, match="not used"):
            tf.train.warm_start(path, var_name_to_vocab_info={"typo": tf.train.VocabInfo("a", 1, 0, "b")})
        with pytest.raises(ValueError, match="must be all"):
            tf.train.warm_start(path, ["dense/kernel", 3])
        with pytest.raises(ValueError, match="axis"):
            tf.train.VocabInfo("a", 1, 0, "b", axis=2)
    with tf.Graph().as_default():
        tf.get_variable("missing", [2])
        with pytest.raises(ValueError, match="not found"):
            tf.train.warm_start(path, "missing")
    with tf.Graph().as_default():
        emb = tf.get_variable("emb", [5, 2])
        with pytest.raises(ValueError, match="new_vocab_size"):
            tf.train.warm_start(path, None, {"emb": tf.train.VocabInfo(str(d / "new_vocab.txt"), 3, 1,
                                                                       str(d / "old_vocab.txt"))})
        assert emb is not None
