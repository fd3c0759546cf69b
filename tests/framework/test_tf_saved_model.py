"""TF 1.x-style graphs exported by TensorFlow (tests/framework/tf_saved_model/, see its README) load and run.

The fixtures were written by TensorFlow 2.21's tf.compat.v1 (simple_save, Saver, Saver(sharded=True)); they need
AddV2 and the sharded Saver's ops (ShardedFilename, MergeV2Checkpoints). No TensorFlow import here: expected
values are the README's NumPy formula and bytes recorded from TensorFlow.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import labflow as tf
from labflow import errors
from labflow.ops import io_ops, saver_ops

FIXTURES = os.path.join(os.path.dirname(__file__), "tf_saved_model")
W1 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], np.float32)
B1 = np.array([0.1, -0.2, 0.3], np.float32)
W2 = np.array([[1.0], [-2.0], [0.5]], np.float32)
B2 = np.array([0.25], np.float32)
X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.0, -3.0]], np.float32)
VARS = {"dense/kernel": W1, "dense/bias": B1, "dense_1/kernel": W2, "dense_1/bias": B2}


def _expected(x: np.ndarray) -> np.ndarray:
    return np.maximum(x @ W1 + B1, 0) @ W2 + B2


@pytest.fixture(autouse=True)
def _quiet_attr_warnings():
    # TF 2.21 writes MatMul's grad_a/grad_b hints, which labflow's MatMul does not model; import warns once.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def test_readme_numbers_match_formula():
    np.testing.assert_allclose(_expected(X[:2]), [[4.5], [-1.25]], atol=1e-6)


def test_saved_model_from_tensorflow_runs_its_signature():
    with tf.Graph().as_default() as g, tf.Session(graph=g) as sess:
        mg = tf.saved_model.loader.load(sess, [tf.saved_model.tag_constants.SERVING],
                                        os.path.join(FIXTURES, "saved_model"))
        sig = mg.signature_def["serving_default"]
        assert sig.method_name == "tensorflow/serving/predict"
        x_name, y_name = sig.inputs["x"].name, sig.outputs["y"].name
        assert (x_name, y_name) == ("x:0", "y:0")
        assert g.get_operation_by_name("add").type == "AddV2"
        y = sess.run(g.get_tensor_by_name(y_name), {g.get_tensor_by_name(x_name): X})
        np.testing.assert_allclose(y, _expected(X), rtol=1e-6, atol=1e-6)
        got = sess.run({v.op.name: v for v in tf.global_variables()})
        assert sorted(got) == sorted(VARS)
        for name, want in VARS.items():
            np.testing.assert_array_equal(got[name], want)


@pytest.mark.parametrize("folder", ["saver", "saver_sharded"])
def test_meta_graph_from_tensorflow_restores_and_saves_again(folder, tmp_path):
    with tf.Graph().as_default() as g, tf.Session(graph=g) as sess:
        saver = tf.train.import_meta_graph(os.path.join(FIXTURES, folder, "model.meta"))
        assert saver.saver_def.sharded == (folder == "saver_sharded")
        saver.restore(sess, os.path.join(FIXTURES, folder, "model"))
        np.testing.assert_allclose(sess.run("y:0", {"x:0": X}), _expected(X), rtol=1e-6, atol=1e-6)

        # Save through TF's own save graph (for the sharded one: a temporary shard, then MergeV2Checkpoints).
        bias = [v for v in tf.global_variables() if v.op.name == "dense_1/bias"][0]
        sess.run(tf.assign(bias, [2.0]))
        prefix = str(tmp_path / "model")
        assert saver.save(sess, prefix, write_meta_graph=False) == prefix
        assert sorted(os.listdir(tmp_path)) == ["checkpoint", "model.data-00000-of-00001", "model.index"]
        reader = tf.train.NewCheckpointReader(prefix)
        np.testing.assert_array_equal(reader.get_tensor("dense_1/bias"), [2.0])
        np.testing.assert_array_equal(reader.get_tensor("dense/kernel"), W1)

        sess.run(tf.assign(bias, [-7.0]))
        saver.restore(sess, prefix)
        np.testing.assert_allclose(sess.run("y:0", {"x:0": X}), _expected(X) - B2 + 2.0, rtol=1e-6, atol=1e-6)


def test_labflow_sharded_saver_round_trip(tmp_path):
    with tf.Graph().as_default() as g, tf.Session(graph=g) as sess:
        v = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="v")
        w = tf.Variable(np.int64(5), name="w")
        saver = tf.train.Saver(sharded=True)
        assert saver.as_saver_def().sharded
        sess.run(tf.global_variables_initializer())
        types = {o.type for o in g.get_operations() if o.name.startswith("save/")}
        assert {"ShardedFilename", "MergeV2Checkpoints", "StringJoin", "StaticRegexFullMatch"} <= types
        prefix = saver.save(sess, str(tmp_path / "m"), write_meta_graph=False)
        # The shard went to "m_temp/part-00000-of-00001" and was merged into "m"; the temporary folder is gone.
        assert sorted(os.listdir(tmp_path)) == ["checkpoint", "m.data-00000-of-00001", "m.index"]
        sess.run([tf.assign(v, tf.zeros([2, 3])), tf.assign(w, 0)])
        saver.restore(sess, prefix)
        got_v, got_w = sess.run([v, w])
    np.testing.assert_array_equal(got_v, np.arange(6).reshape(2, 3))
    assert got_w == 5


# -- MergeV2Checkpoints ---------------------------------------------------------------------------------------
# The index TensorFlow 2.21 wrote for MergeV2Checkpoints(["p0/part", "p1/part"], "out") after
# SaveV2("p0/part", ["a"], [float32 [1, 2]]) and SaveV2("p1/part", ["b"], [int32 [[3]]]).
TF_MERGED_INDEX = bytes.fromhex(
    "00000608021a02080100010f610801120412020802280835593ce53500011562080312081202080112020801180128043563"
    "3f7f28000000000100000000c126f3db000000000100000000c0f2a1b000010263003d000000000100000000ebb6695a4208"
    "4f0e00000000000000000000000000000000000000000000000000000000000000000000000057fb808b247547db")


def _save_two_shards(sess, root):
    sess.run(io_ops.save_v2(os.path.join(root, "p0", "part"), ["a"], [""], [tf.constant([1.0, 2.0])]))
    sess.run(io_ops.save_v2(os.path.join(root, "p1", "part"), ["b"], [""], [tf.constant([[3]], tf.int32)]))
    return [os.path.join(root, "p0", "part"), os.path.join(root, "p1", "part")]


def test_merge_v2_checkpoints_matches_tensorflow_bytes(tmp_path):
    with tf.Graph().as_default(), tf.Session() as sess:
        parts = _save_two_shards(sess, str(tmp_path))
        sess.run(saver_ops.merge_v2_checkpoints(parts, str(tmp_path / "out")))
    assert sorted(os.listdir(tmp_path)) == ["out.data-00000-of-00002", "out.data-00001-of-00002", "out.index"]
    assert (tmp_path / "out.index").read_bytes() == TF_MERGED_INDEX
    reader = tf.train.NewCheckpointReader(str(tmp_path / "out"))
    np.testing.assert_array_equal(reader.get_tensor("a"), [1.0, 2.0])
    np.testing.assert_array_equal(reader.get_tensor("b"), [[3]])


def test_merge_v2_checkpoints_keeps_old_dirs_when_asked(tmp_path):
    with tf.Graph().as_default(), tf.Session() as sess:
        parts = _save_two_shards(sess, str(tmp_path))
        sess.run(saver_ops.merge_v2_checkpoints(parts, str(tmp_path / "out"), delete_old_dirs=False))
    assert (tmp_path / "p0").is_dir() and not os.listdir(tmp_path / "p0")
    assert (tmp_path / "out.index").read_bytes() == TF_MERGED_INDEX


def test_merge_v2_checkpoints_missing_files(tmp_path):
    missing = str(tmp_path / "nothing" / "part")
    with tf.Graph().as_default(), tf.Session() as sess:
        parts = _save_two_shards(sess, str(tmp_path))
        with pytest.raises(errors.InvalidArgumentError, match="allow_missing_files"):
            sess.run(saver_ops.merge_v2_checkpoints([parts[0], missing], str(tmp_path / "out")))
        assert not (tmp_path / "out.index").exists()
        with pytest.raises(errors.InvalidArgumentError, match="at least one checkpoint"):
            sess.run(saver_ops.merge_v2_checkpoints([missing], str(tmp_path / "out"), allow_missing_files=True))
        sess.run(saver_ops.merge_v2_checkpoints([missing, parts[1]], str(tmp_path / "out"),
                                                allow_missing_files=True))
    reader = tf.train.NewCheckpointReader(str(tmp_path / "out"))
    assert sorted(reader.get_variable_to_shape_map()) == ["b"]


def test_merge_v2_checkpoints_duplicate_tensor_and_bad_rank(tmp_path):
    with tf.Graph().as_default(), tf.Session() as sess:
        for sub in ("p0", "p1"):
            sess.run(io_ops.save_v2(str(tmp_path / sub / "part"), ["a"], [""], [tf.constant(1.0)]))
        with pytest.raises(errors.InvalidArgumentError, match="Duplicate tensor keyed by 'a'"):
            sess.run(saver_ops.merge_v2_checkpoints([str(tmp_path / "p0" / "part"), str(tmp_path / "p1" / "part")],
                                                    str(tmp_path / "out")))
        with pytest.raises(errors.InvalidArgumentError, match="1-D"):
            sess.run(saver_ops.merge_v2_checkpoints(str(tmp_path / "p0" / "part"), str(tmp_path / "out")))
        with pytest.raises(ValueError, match="rank 0"):
            saver_ops.merge_v2_checkpoints([str(tmp_path / "p0" / "part")], ["a", "b"])
        with pytest.raises(TypeError, match="checkpoint_prefixes"):
            tf.get_default_graph().create_op("MergeV2Checkpoints", [tf.constant([1]), tf.constant("x")])


# -- ShardedFilename / ShardedFilespec -------------------------------------------------------------------------
def test_sharded_filename_and_filespec():
    with tf.Graph().as_default(), tf.Session() as sess:
        name = saver_ops.sharded_filename("ckpt/model", 2, 10)
        spec = saver_ops.sharded_filespec("ckpt/model", 10)
        assert name.shape.as_list() == [] and name.dtype == tf.string
        assert sess.run([name, spec]) == [b"ckpt/model-00002-of-00010", b"ckpt/model-?????-of-00010"]


def test_sharded_filename_errors():
    with tf.Graph().as_default(), tf.Session() as sess:
        with pytest.raises(errors.InvalidArgumentError, match="basename must be a scalar, got shape \\[1\\]"):
            sess.run(saver_ops.sharded_filename(["a"], 0, 1))
        with pytest.raises(errors.InvalidArgumentError, match="num_shards must be a scalar"):
            sess.run(saver_ops.sharded_filespec("a", [1, 2]))
        with pytest.raises(TypeError, match="Input 'shard' of 'ShardedFilename' Op has type int64"):
            tf.get_default_graph().create_op("ShardedFilename", [tf.constant("a"), tf.constant(0, tf.int64),
                                                                 tf.constant(1)])
