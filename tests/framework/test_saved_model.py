"""tf.saved_model: SavedModelBuilder / simple_save export and loader.load, TF 1.x's on-disk layout, errors."""

from __future__ import annotations

import logging
import os
import shutil

import numpy as np
import pytest

import labflow as tf
from labflow.framework.protos import saved_model_pb2

SERVING = tf.saved_model.tag_constants.SERVING
TRAINING = tf.saved_model.tag_constants.TRAINING


def _train_linear_model(steps: int = 20):
    """A least-squares model trained a few steps; returns (x, prediction, data) in the default graph."""
    rng = np.random.RandomState(0)
    data = rng.randn(16, 3).astype(np.float32)
    target = data @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.25
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.Variable(tf.zeros([3, 1]), name="w")
    b = tf.Variable(0.0, name="b")
    pred = tf.add(tf.matmul(x, w), b, name="pred")
    loss = tf.reduce_mean(tf.square(pred - target))
    train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    return x, pred, train, data


def _trained_export(export_dir: str):
    """Trains, simple_saves; returns the predictions and variable values the session had."""
    x, pred, train, data = _train_linear_model()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(20):
            sess.run(train, {x: data})
        expected = sess.run(pred, {x: data})
        tf.saved_model.simple_save(sess, export_dir, inputs={"x": x}, outputs={"pred": pred})
    return expected, data


def _wire_fields(data: bytes) -> list[tuple[int, int]]:
    """(field number, wire type) of each top-level field of a serialized message, decoded by hand."""
    out, pos = [], 0

    def varint() -> int:
        nonlocal pos
        shift = value = 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while pos < len(data):
        key = varint()
        field, wire = key >> 3, key & 7
        out.append((field, wire))
        if wire == 0:
            varint()
        elif wire == 2:
            length = varint()  # read first: `pos += varint()` would add to the pos from before the length
            pos += length
        else:
            raise AssertionError(f"unexpected wire type {wire}")
    return out


def test_simple_save_then_load_in_a_fresh_graph_gives_the_same_predictions(tmp_path):
    export_dir = str(tmp_path / "model")
    expected, data = _trained_export(export_dir)
    with tf.Graph().as_default() as g, tf.Session(graph=g) as sess:
        meta_graph_def = tf.saved_model.loader.load(sess, [SERVING], export_dir)
        sig = meta_graph_def.signature_def[tf.saved_model.signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY]
        assert sig.method_name == tf.saved_model.signature_constants.PREDICT_METHOD_NAME
        x = tf.saved_model.utils.get_tensor_from_tensor_info(sig.inputs["x"], sess.graph)
        pred = tf.saved_model.utils.get_tensor_from_tensor_info(sig.outputs["pred"], sess.graph)
        got = sess.run(pred, {x: data})
        np.testing.assert_allclose(got, expected, rtol=1e-6)
        # Feeding and fetching by the names in the signature works as well (what serving code does).
        np.testing.assert_allclose(sess.run(sig.outputs["pred"].name, {sig.inputs["x"].name: data}), expected,
                                   rtol=1e-6)
        assert not np.allclose(sess.run("w:0"), 0.0)  # the trained values were restored, not the initializer's


def test_layout_and_saved_model_proto_are_tensorflows(tmp_path):
    export_dir = str(tmp_path / "model")
    _trained_export(export_dir)
    assert sorted(os.listdir(export_dir)) == ["saved_model.pb", "variables"]
    assert sorted(os.listdir(os.path.join(export_dir, "variables"))) == [
        "variables.data-00000-of-00001", "variables.index"]
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        raw = f.read()
    # SavedModel: field 1 (saved_model_schema_version, varint) = 1, then field 2 (meta_graphs, bytes).
    assert raw[:2] == b"\x08\x01"
    assert _wire_fields(raw) == [(1, 0), (2, 2)]
    sm = saved_model_pb2.SavedModel.FromString(raw)
    assert sm.saved_model_schema_version == 1
    (mg,) = sm.meta_graphs
    assert list(mg.meta_info_def.tags) == ["serve"]
    assert mg.saver_def.restore_op_name and mg.saver_def.sharded
    assert mg.saver_def.version == mg.saver_def.V2
    assert {n.name for n in mg.graph_def.node} >= {"x", "w", "b", "pred"}
    assert all(not n.device for n in mg.graph_def.node)  # simple_save clears devices
    sig = mg.signature_def["serving_default"]
    assert sig.inputs["x"].name == "x:0" and sig.inputs["x"].dtype == tf.float32.as_datatype_enum
    assert [d.size for d in sig.inputs["x"].tensor_shape.dim] == [-1, 3]
    assert sig.outputs["pred"].name == "pred:0"
    assert "variables" in mg.collection_def and "trainable_variables" in mg.collection_def
    assert tf.saved_model.maybe_saved_model_directory(export_dir)
    assert tf.saved_model.contains_saved_model(export_dir)
    assert not tf.saved_model.loader.maybe_saved_model_directory(str(tmp_path))


def test_builder_multiple_tag_sets_share_variables(tmp_path):
    export_dir = str(tmp_path / "model")
    x, pred, train, data = _train_linear_model()
    doubled = tf.multiply(pred, 2.0, name="doubled")
    builder = tf.saved_model.builder.SavedModelBuilder(export_dir)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train, {x: data})
        expected = sess.run(pred, {x: data})
        builder.add_meta_graph_and_variables(
            sess, [TRAINING], signature_def_map={"train": tf.saved_model.predict_signature_def({"x": x},
                                                                                             {"pred": pred})})
    builder.add_meta_graph([SERVING], signature_def_map={
        "serving_default": tf.saved_model.predict_signature_def({"x": x}, {"y": doubled})})
    builder.add_meta_graph([SERVING, tf.saved_model.tag_constants.GPU], clear_devices=True)
    path = builder.save()
    assert path == os.fsencode(os.path.join(export_dir, "saved_model.pb"))

    sm = tf.saved_model.loader.SavedModelLoader(export_dir).saved_model
    assert [list(m.meta_info_def.tags) for m in sm.meta_graphs] == [["train"], ["serve"], ["serve", "gpu"]]
    with tf.Session(graph=tf.Graph()) as sess:
        mg = tf.saved_model.loader.load(sess, [SERVING], export_dir)
        assert list(mg.signature_def) == ["serving_default"]
        np.testing.assert_allclose(sess.run("doubled:0", {"x:0": data}), 2 * expected, rtol=1e-6)
    with tf.Session(graph=tf.Graph()) as sess:
        mg = tf.saved_model.load(sess, {"gpu", "serve"}, export_dir)  # a set, in any order
        assert list(mg.meta_info_def.tags) == ["serve", "gpu"]
        np.testing.assert_allclose(sess.run("pred:0", {"x:0": data}), expected, rtol=1e-6)
    with tf.Session(graph=tf.Graph()) as sess:
        with pytest.raises(RuntimeError, match=r"tags 'gpu' could not be found.*\{'train'\}"):
            tf.saved_model.loader.load(sess, ["gpu"], export_dir)


def test_load_with_import_scope(tmp_path):
    export_dir = str(tmp_path / "model")
    expected, data = _trained_export(export_dir)
    with tf.Session(graph=tf.Graph()) as sess:
        mg = tf.saved_model.loader.load(sess, [SERVING], export_dir, import_scope="imported")
        sig = mg.signature_def["serving_default"]
        assert sig.inputs["x"].name == "x:0"  # the returned proto is not rewritten
        x = tf.saved_model.get_tensor_from_tensor_info(sig.inputs["x"], import_scope="imported")
        assert x.name == "imported/x:0"
        np.testing.assert_allclose(sess.run("imported/pred:0", {x: data}), expected, rtol=1e-6)


def _vocab_model(vocab_path: str):
    words = tf.placeholder(tf.string, [None], name="words")
    table = tf.contrib.lookup.index_table_from_file(vocab_path, num_oov_buckets=0, default_value=-1)
    ids = tf.identity(table.lookup(words), name="ids")
    return words, ids


def test_assets_are_copied_and_fed_to_the_main_op(tmp_path):
    vocab = tmp_path / "src" / "vocab.txt"
    vocab.parent.mkdir()
    vocab.write_text("cat\ndog\nbird\n")
    export_dir = str(tmp_path / "model")
    words, ids = _vocab_model(str(vocab))
    with tf.Session() as sess:
        sess.run(tf.tables_initializer())
        tf.saved_model.simple_save(sess, export_dir, {"words": words}, {"ids": ids},
                                   legacy_init_op=tf.tables_initializer())
    assert (tmp_path / "model" / "assets" / "vocab.txt").read_text() == "cat\ndog\nbird\n"
    shutil.rmtree(vocab.parent)  # the loaded model must read its own copy
    sm = tf.saved_model.loader.SavedModelLoader(export_dir).saved_model
    assets = sm.meta_graphs[0].collection_def[tf.saved_model.ASSETS_KEY].any_list.value
    assert [a.type_url for a in assets] == ["type.googleapis.com/tensorflow.AssetFileDef"]
    assert list(sm.meta_graphs[0].collection_def[tf.saved_model.MAIN_OP_KEY].node_list.value)
    with tf.Session(graph=tf.Graph()) as sess:
        tf.saved_model.loader.load(sess, [SERVING], export_dir)
        np.testing.assert_array_equal(sess.run("ids:0", {"words:0": ["dog", "fish", "cat"]}), [1, -1, 0])


def test_assets_with_the_same_basename_get_unique_names(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "vocab.txt").write_text("one\n")
    (b / "vocab.txt").write_text("two\n")
    (tmp_path / "same.txt").write_text("x\n")
    consts = [tf.constant(str(a / "vocab.txt")), tf.constant(str(b / "vocab.txt")),
              tf.constant(str(tmp_path / "same.txt")), tf.constant(str(tmp_path / "same.txt"))]
    tf.Variable(1.0)
    export_dir = str(tmp_path / "model")
    builder = tf.saved_model.Builder(export_dir)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        builder.add_meta_graph_and_variables(sess, [SERVING], assets_collection=consts)
    builder.save()
    assert sorted(os.listdir(os.path.join(export_dir, "assets"))) == ["same.txt", "vocab.txt", "vocab.txt_1"]
    assert (tmp_path / "model" / "assets" / "vocab.txt_1").read_text() == "two\n"
    with tf.Session(graph=tf.Graph()) as sess:
        mg = tf.saved_model.loader.load(sess, [SERVING], export_dir)
        fed = tf.saved_model.loader.get_asset_tensors(export_dir, mg)
    assert sorted(os.path.basename(p) for p in fed.values()) == ["same.txt", "same.txt", "vocab.txt", "vocab.txt_1"]


def test_main_op_runs_after_restore_and_save_as_text(tmp_path):
    export_dir = str(tmp_path / "model")
    v = tf.Variable(3.0, name="v")
    counter = tf.Variable(0.0, name="counter", collections=[tf.GraphKeys.LOCAL_VARIABLES])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(tf.assign(v, 5.0))
        builder = tf.saved_model.builder.SavedModelBuilder(export_dir)
        builder.add_meta_graph_and_variables(sess, [SERVING], main_op=tf.group(tf.assign(counter, v + 1.0)))
    assert builder.save(as_text=True).endswith(b"saved_model.pbtxt")
    assert os.listdir(export_dir) and not os.path.exists(os.path.join(export_dir, "saved_model.pb"))
    with tf.Session(graph=tf.Graph()) as sess:
        tf.saved_model.loader.load(sess, [SERVING], export_dir)
        assert sess.run("v:0") == 5.0
        assert sess.run("counter:0") == 6.0  # the main op saw the restored value


def test_loader_runs_a_legacy_init_op_collection_or_a_tf2_init_op_signature(tmp_path):
    export_dir = str(tmp_path / "model")
    v = tf.Variable(1.0, name="v")
    flag = tf.Variable(0.0, name="flag", collections=[tf.GraphKeys.LOCAL_VARIABLES])
    tf.add_to_collection(tf.saved_model.LEGACY_INIT_OP_KEY, tf.assign(flag, 1.0, name="legacy").op)
    tf.assign(flag, 2.0, name="tf2_init")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        builder = tf.saved_model.builder.SavedModelBuilder(export_dir)
        builder.add_meta_graph_and_variables(sess, [SERVING])
    builder.save()
    with tf.Session(graph=tf.Graph()) as sess:
        tf.saved_model.loader.load(sess, [SERVING], export_dir)
        assert sess.run("flag:0") == 1.0
    # A SavedModel written by TF 2.x's builder names its init op in a reserved signature, which wins.
    from labflow.saved_model import signature_def_utils
    path = os.path.join(export_dir, "saved_model.pb")
    sm = saved_model_pb2.SavedModel.FromString(open(path, "rb").read())
    sm.meta_graphs[0].signature_def["__saved_model_init_op"].CopyFrom(signature_def_utils.op_signature_def(
        tf.get_default_graph().get_operation_by_name("tf2_init"), "__saved_model_init_op"))
    with open(path, "wb") as f:
        f.write(sm.SerializeToString())
    with tf.Session(graph=tf.Graph()) as sess:
        tf.saved_model.loader.load(sess, [SERVING], export_dir, import_scope="m")
        assert sess.run("m/flag:0") == 2.0
    del v


def test_main_op_helpers(tmp_path):
    v = tf.Variable(2.0, name="v")
    local = tf.Variable(7.0, name="local", collections=[tf.GraphKeys.LOCAL_VARIABLES])
    table = tf.contrib.lookup.HashTable(tf.contrib.lookup.KeyValueTensorInitializer(["a"], [4], tf.string,
                                                                                     tf.int64), -1)
    with tf.Session() as sess:
        sess.run(tf.saved_model.main_op.main_op())
        assert sess.run([v, local]) == [2.0, 7.0]
        assert sess.run(table.lookup(tf.constant(["a"])))[0] == 4
        saver = tf.train.Saver([v])
        prefix = saver.save(sess, str(tmp_path / "ckpt"))
    op = tf.saved_model.main_op_with_restore(saver.saver_def.restore_op_name)
    with tf.Session() as sess:
        sess.run(op, {saver.saver_def.filename_tensor_name: prefix})
        assert sess.run(v) == 2.0
    with pytest.raises(KeyError):
        tf.saved_model.main_op.main_op_with_restore("no/such/op")


def test_strip_default_attrs(tmp_path):
    export_dir = str(tmp_path / "model")
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    w = tf.Variable(np.eye(2, dtype=np.float32), name="w")
    y = tf.matmul(x, w, name="y")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        builder = tf.saved_model.builder.SavedModelBuilder(export_dir)
        builder.add_meta_graph_and_variables(sess, [SERVING], strip_default_attrs=True)
        builder.add_meta_graph([TRAINING])
    builder.save()
    sm = tf.saved_model.loader.SavedModelLoader(export_dir).saved_model
    stripped, kept = ({n.name: n for n in m.graph_def.node}["y"] for m in sm.meta_graphs)
    assert sm.meta_graphs[0].meta_info_def.stripped_default_attrs
    assert "transpose_a" not in stripped.attr and "T" in stripped.attr
    assert "transpose_a" in kept.attr
    with tf.Session(graph=tf.Graph()) as sess:
        tf.saved_model.loader.load(sess, [SERVING], export_dir)
        np.testing.assert_array_equal(sess.run("y:0", {"x:0": [[1.0, 2.0]]}), [[1.0, 2.0]])
        assert sess.graph.get_operation_by_name("y").get_attr("transpose_a") is False
    del y


def test_model_without_variables(tmp_path):
    export_dir = str(tmp_path / "model")
    x = tf.placeholder(tf.float32, [2], name="x")
    y = tf.square(x, name="y")
    with tf.Session() as sess:
        tf.saved_model.simple_save(sess, export_dir, {"x": x}, {"y": y})
    sm = tf.saved_model.loader.SavedModelLoader(export_dir).saved_model
    assert not sm.meta_graphs[0].HasField("saver_def")
    with tf.Session(graph=tf.Graph()) as sess:
        tf.saved_model.loader.load(sess, [SERVING], export_dir)
        np.testing.assert_array_equal(sess.run("y:0", {"x:0": [2.0, 3.0]}), [4.0, 9.0])


def test_duplicate_tag_set_warns_and_load_takes_the_first(tmp_path, caplog):
    export_dir = str(tmp_path / "model")
    v = tf.Variable(1.0, name="v")
    builder = tf.saved_model.builder.SavedModelBuilder(export_dir)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        builder.add_meta_graph_and_variables(sess, [SERVING], signature_def_map={
            "first": tf.saved_model.predict_signature_def({"v": v.value()}, {"v": v.value()})})
    with caplog.at_level(logging.WARNING, logger="labflow.saved_model"):
        builder.add_meta_graph([SERVING])
    assert "already added" in caplog.text
    builder.save()
    with tf.Session(graph=tf.Graph()) as sess:
        assert list(tf.saved_model.loader.load(sess, [SERVING], export_dir).signature_def) == ["first"]


# -- errors ---------------------------------------------------------------------------------------------------
def test_builder_errors(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(AssertionError, match="already exists, and isn't empty"):
        tf.saved_model.builder.SavedModelBuilder(str(tmp_path / "taken"))
    (tmp_path / "empty").mkdir()
    tf.saved_model.builder.SavedModelBuilder(str(tmp_path / "empty"))  # an empty folder is fine

    x = tf.placeholder(tf.float32, [None], name="x")
    v = tf.Variable(1.0, name="v")
    builder = tf.saved_model.builder.SavedModelBuilder(str(tmp_path / "model"))
    with pytest.raises(AssertionError, match="invoke `add_meta_graph_and_variables\\(\\)` first"):
        builder.add_meta_graph([SERVING])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        with pytest.raises(TypeError, match="not the string 'serve'"):
            builder.add_meta_graph_and_variables(sess, SERVING)
        bad = tf.saved_model.build_signature_def({"x": tf.TensorInfo(name="x:0")}, {}, "m")
        with pytest.raises(AssertionError, match="must have the dtype field set"):
            builder.add_meta_graph_and_variables(sess, [SERVING], signature_def_map={"s": bad})
        no_encoding = tf.saved_model.build_signature_def({"x": tf.TensorInfo(dtype=1)}, {}, "m")
        with pytest.raises(AssertionError, match="'encoding' fields"):
            builder.add_meta_graph_and_variables(sess, [SERVING], signature_def_map={"s": no_encoding})
        ok = tf.saved_model.predict_signature_def({"x": x}, {"y": x})
        with pytest.raises(KeyError, match="reserved for initialization"):
            builder.add_meta_graph_and_variables(sess, [SERVING], signature_def_map={"__saved_model_init_op": ok})
        with pytest.raises(TypeError, match="must be a SignatureDef"):
            builder.add_meta_graph_and_variables(sess, [SERVING], signature_def_map={"s": {"x": x}})
        with pytest.raises(TypeError, match="to be an Operation"):
            builder.add_meta_graph_and_variables(sess, [SERVING], main_op=v.value())
        with pytest.raises(TypeError, match="must be of type constant"):
            builder.add_meta_graph_and_variables(sess, [SERVING], assets_collection=[x])
        builder.add_meta_graph_and_variables(sess, [SERVING], main_op=tf.no_op(name="init_once"))
        with pytest.raises(AssertionError, match="already been saved"):
            builder.add_meta_graph_and_variables(sess, [TRAINING])
    with pytest.raises(ValueError, match="already contains one or more main ops"):
        builder.add_meta_graph([TRAINING], main_op=tf.no_op())


def test_loader_errors(tmp_path):
    with tf.Session() as sess:
        with pytest.raises(OSError, match="SavedModel file does not exist"):
            tf.saved_model.loader.load(sess, [SERVING], str(tmp_path))
    (tmp_path / "saved_model.pb").write_bytes(b"\xff\xff\xff")
    with pytest.raises(OSError, match="Cannot parse file"):
        tf.saved_model.loader.SavedModelLoader(str(tmp_path))
    export_dir = str(tmp_path / "model")
    _trained_export(export_dir)
    os.remove(os.path.join(export_dir, "variables", "variables.index"))
    with tf.Session(graph=tf.Graph()) as sess:
        with pytest.raises(TypeError, match="not the string"):
            tf.saved_model.loader.load(sess, SERVING, export_dir)
        with pytest.raises(tf.errors.NotFoundError, match="variables/variables"):
            tf.saved_model.loader.load(sess, [SERVING], export_dir)
