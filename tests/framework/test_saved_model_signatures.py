"""tf.saved_model's signature and TensorInfo utilities, its constants, and the top-level proto classes."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.framework.protos import saved_model_pb2, tensorflow_server_pb2

sc = tf.saved_model.signature_constants


def test_constants_have_tensorflows_values():
    assert (tf.saved_model.SERVING, tf.saved_model.TRAINING, tf.saved_model.GPU, tf.saved_model.TPU) == (
        "serve", "train", "gpu", "tpu")
    assert tf.saved_model.tag_constants.SERVING == "serve"
    assert sc.DEFAULT_SERVING_SIGNATURE_DEF_KEY == tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY == "serving_default"
    assert (sc.PREDICT_METHOD_NAME, sc.CLASSIFY_METHOD_NAME, sc.REGRESS_METHOD_NAME) == (
        "tensorflow/serving/predict", "tensorflow/serving/classify", "tensorflow/serving/regress")
    assert (sc.PREDICT_INPUTS, sc.PREDICT_OUTPUTS, sc.CLASSIFY_INPUTS, sc.CLASSIFY_OUTPUT_CLASSES,
            sc.CLASSIFY_OUTPUT_SCORES, sc.REGRESS_INPUTS, sc.REGRESS_OUTPUTS) == (
        "inputs", "outputs", "inputs", "classes", "scores", "inputs", "outputs")
    c = tf.saved_model.constants
    assert (c.SAVED_MODEL_FILENAME_PB, c.SAVED_MODEL_FILENAME_PBTXT, c.SAVED_MODEL_SCHEMA_VERSION) == (
        "saved_model.pb", "saved_model.pbtxt", 1)
    assert (c.VARIABLES_DIRECTORY, c.VARIABLES_FILENAME, c.ASSETS_DIRECTORY, c.EXTRA_ASSETS_DIRECTORY) == (
        "variables", "variables", "assets", "assets.extra")
    assert (c.ASSETS_KEY, c.MAIN_OP_KEY, c.LEGACY_INIT_OP_KEY) == (
        "saved_model_assets", "saved_model_main_op", "legacy_init_op")


def test_build_tensor_info_dense_variable_and_sparse():
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    info = tf.saved_model.utils.build_tensor_info(x)
    assert isinstance(info, tf.TensorInfo)
    assert info.name == "x:0" and info.dtype == tf.float32.as_datatype_enum
    assert [d.size for d in info.tensor_shape.dim] == [-1, 3]
    v = tf.Variable(np.zeros((2,), np.float32), name="v")
    assert tf.saved_model.build_tensor_info(v).dtype == tf.float32._as_ref.as_datatype_enum  # as TF 1.x: a ref
    sp = tf.sparse_placeholder(tf.int64, name="sp")
    sinfo = tf.saved_model.build_tensor_info(sp)
    assert sinfo.WhichOneof("encoding") == "coo_sparse"
    assert (sinfo.coo_sparse.indices_tensor_name, sinfo.coo_sparse.values_tensor_name,
            sinfo.coo_sparse.dense_shape_tensor_name) == ("sp/indices:0", "sp/values:0", "sp/shape:0")
    assert sinfo.dtype == tf.int64.as_datatype_enum and sinfo.tensor_shape.unknown_rank
    with pytest.raises(TypeError, match="needs a Tensor or SparseTensor"):
        tf.saved_model.build_tensor_info([1.0, 2.0])
    with pytest.raises(TypeError, match="needs a Tensor or SparseTensor"):
        tf.saved_model.build_tensor_info(tf.no_op())


def test_get_tensor_from_tensor_info_round_trips():
    x = tf.placeholder(tf.float32, [2], name="x")
    sp = tf.sparse_placeholder(tf.float32, name="sp")
    assert tf.saved_model.get_tensor_from_tensor_info(tf.saved_model.build_tensor_info(x)) is x
    back = tf.saved_model.utils.get_tensor_from_tensor_info(tf.saved_model.build_tensor_info(sp))
    assert isinstance(back, tf.SparseTensor)
    assert (back.indices, back.values, back.dense_shape) == (sp.indices, sp.values, sp.dense_shape)
    with tf.Session() as sess:
        value = sess.run(tf.sparse_tensor_to_dense(back), {sp: tf.SparseTensorValue([[0, 1]], [5.0], [2, 2])})
    np.testing.assert_array_equal(value, [[0.0, 5.0], [0.0, 0.0]])
    with pytest.raises(KeyError):
        tf.saved_model.get_tensor_from_tensor_info(tf.TensorInfo(name="missing:0"))
    with pytest.raises(ValueError, match="Invalid TensorInfo.encoding"):
        tf.saved_model.get_tensor_from_tensor_info(tf.TensorInfo(dtype=1))
    g = tf.Graph()
    with g.as_default():
        tf.placeholder(tf.float32, name="scope/x")
    info = tf.TensorInfo(name="x:0")
    assert tf.saved_model.get_tensor_from_tensor_info(info, graph=g, import_scope="scope").name == "scope/x:0"


def test_prepend_name_scope_handles_control_and_colocation_names():
    from labflow.saved_model.utils import prepend_name_scope
    assert prepend_name_scope("x:0", "imp") == "imp/x:0"
    assert prepend_name_scope("^init", "imp/") == "^imp/init"
    assert prepend_name_scope("loc:@w", "imp") == "loc:@imp/w"
    assert prepend_name_scope("x:0", None) == "x:0"


def test_predict_signature_def():
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    y = tf.identity(x, name="y")
    sig = tf.saved_model.signature_def_utils.predict_signature_def({"x": x}, {"y": y})
    assert sig.method_name == "tensorflow/serving/predict"
    assert sig.inputs["x"].name == "x:0" and sig.outputs["y"].name == "y:0"
    assert tf.saved_model.is_valid_signature(sig)
    with pytest.raises(ValueError, match="`inputs` cannot be None or empty"):
        tf.saved_model.predict_signature_def({}, {"y": y})
    with pytest.raises(ValueError, match="`outputs` cannot be None or empty"):
        tf.saved_model.predict_signature_def({"x": x}, None)


def test_classification_and_regression_signature_defs():
    examples = tf.placeholder(tf.string, [None], name="examples")
    scores = tf.placeholder(tf.float32, [None, 3], name="scores")
    classes = tf.placeholder(tf.string, [None, 3], name="classes")
    sig = tf.saved_model.classification_signature_def(examples, classes, scores)
    assert sig.method_name == "tensorflow/serving/classify"
    assert set(sig.inputs) == {"inputs"} and set(sig.outputs) == {"classes", "scores"}
    assert tf.saved_model.is_valid_signature(sig)
    assert set(tf.saved_model.classification_signature_def(examples, None, scores).outputs) == {"scores"}
    reg = tf.saved_model.regression_signature_def(examples, tf.reduce_sum(scores, 1))
    assert reg.method_name == "tensorflow/serving/regress" and set(reg.outputs) == {"outputs"}
    assert tf.saved_model.is_valid_signature(reg)

    with pytest.raises(ValueError, match="`examples` cannot be None"):
        tf.saved_model.classification_signature_def(None, classes, scores)
    with pytest.raises(ValueError, match="must be a string Tensor"):
        tf.saved_model.classification_signature_def("not a tensor", classes, scores)
    with pytest.raises(ValueError, match="cannot both be None"):
        tf.saved_model.classification_signature_def(examples, None, None)
    with pytest.raises(ValueError, match="input tensors must be of type string. Found tensors of type DT_FLOAT"):
        tf.saved_model.classification_signature_def(scores, classes, scores)
    with pytest.raises(ValueError, match="classes must be of type string"):
        tf.saved_model.classification_signature_def(examples, scores, None)
    with pytest.raises(ValueError, match="scores must be a float Tensor"):
        tf.saved_model.classification_signature_def(examples, None, classes)
    with pytest.raises(ValueError, match="Regression `predictions` cannot be None"):
        tf.saved_model.regression_signature_def(examples, None)
    with pytest.raises(ValueError, match="output tensors must be of type float. Found tensors of type DT_DOUBLE"):
        tf.saved_model.regression_signature_def(examples, tf.cast(scores, tf.float64))
    with pytest.raises(ValueError, match="Expected regression `examples` to be of type Tensor"):
        tf.saved_model.regression_signature_def([b"x"], scores)


def test_is_valid_signature_rejects_malformed_signatures():
    examples = tf.placeholder(tf.string, [None], name="examples")
    scores = tf.placeholder(tf.float32, [None], name="scores")
    info = tf.saved_model.build_tensor_info
    assert not tf.saved_model.is_valid_signature(None)
    assert not tf.saved_model.is_valid_signature(tf.saved_model.build_signature_def(
        {"x": info(scores)}, {}, sc.PREDICT_METHOD_NAME))  # no outputs
    assert not tf.saved_model.is_valid_signature(tf.saved_model.build_signature_def(
        {"x": info(scores)}, {"y": info(scores)}, "my/method"))  # unknown method
    assert not tf.saved_model.is_valid_signature(tf.saved_model.build_signature_def(
        {"inputs": info(scores)}, {"outputs": info(scores)}, sc.REGRESS_METHOD_NAME))  # input not string
    assert not tf.saved_model.is_valid_signature(tf.saved_model.build_signature_def(
        {"inputs": info(examples)}, {"other": info(scores)}, sc.CLASSIFY_METHOD_NAME))  # unknown output key
    assert not tf.saved_model.is_valid_signature(tf.saved_model.build_signature_def(
        {"inputs": info(examples)}, {"scores": info(examples)}, sc.CLASSIFY_METHOD_NAME))  # scores not float


def test_build_signature_def_with_defaults():
    x = tf.placeholder(tf.float32, [2], name="x")
    sig = tf.saved_model.build_signature_def({"x": tf.saved_model.build_tensor_info(x)}, None, "m",
                                             defaults={"x": tf.constant([1.5, 2.5])})
    assert sig.method_name == "m" and not sig.outputs
    np.testing.assert_array_equal(tf.make_ndarray(sig.defaults["x"]), [1.5, 2.5])
    with pytest.raises(ValueError, match="must be a tf.constant"):
        tf.saved_model.build_signature_def(defaults={"x": x})


def test_top_level_proto_classes_are_wire_messages():
    names = ["AttrValue", "Event", "GraphDef", "HistogramProto", "LogMessage", "MetaGraphDef", "NameAttrList",
             "NodeDef", "SessionLog", "Summary", "SummaryMetadata", "TensorInfo"]
    for name in names:
        cls = getattr(tf, name)
        assert cls.DESCRIPTOR.full_name == f"labflow.{name}", name
    gd = tf.GraphDef()
    gd.node.add(name="a", op="Const")
    assert tf.GraphDef.FromString(gd.SerializeToString()).node[0].name == "a"
    assert tf.Summary(value=[tf.Summary.Value(tag="loss", simple_value=0.5)]).value[0].simple_value == 0.5
    assert tf.SessionLog.START == 1 and tf.LogMessage.WARN == 30
    with tf.Graph().as_default() as g:
        tf.constant(1.0, name="c")
        assert isinstance(g.as_graph_def(), tf.GraphDef)
        assert isinstance(g.get_operation_by_name("c").node_def, tf.NodeDef)


def test_saved_model_and_server_def_field_numbers_are_tensorflows():
    # tensorflow/core/protobuf/saved_model.proto and tensorflow_server.proto (TF 1.x fields).
    def fields(cls):
        return {f.name: (f.number, f.type) for f in cls.DESCRIPTOR.fields}
    assert fields(saved_model_pb2.SavedModel) == {"saved_model_schema_version": (1, 3), "meta_graphs": (2, 11)}
    assert fields(tensorflow_server_pb2.ServerDef) == {
        "cluster": (1, 11), "job_name": (2, 9), "task_index": (3, 5), "default_session_config": (4, 11),
        "protocol": (5, 9), "port": (6, 5)}
    sd = tensorflow_server_pb2.ServerDef(job_name="worker", task_index=1, protocol="grpc")
    sd.cluster.job.add(name="worker", tasks={0: "localhost:2222", 1: "localhost:2223"})
    back = tensorflow_server_pb2.ServerDef.FromString(sd.SerializeToString())
    assert back.cluster.job[0].tasks[1] == "localhost:2223" and back.task_index == 1


def test_namespace_has_tf1_names():
    sm = tf.saved_model
    for name in ["Builder", "build_signature_def", "build_tensor_info", "classification_signature_def",
                 "contains_saved_model", "get_tensor_from_tensor_info", "is_valid_signature", "load",
                 "main_op_with_restore", "maybe_saved_model_directory", "predict_signature_def",
                 "regression_signature_def", "simple_save", "builder", "constants", "loader", "main_op",
                 "signature_constants", "signature_def_utils", "tag_constants", "utils"]:
        assert hasattr(sm, name), name
    assert sm.Builder is sm.builder.SavedModelBuilder
    assert sm.load is sm.loader.load
    assert callable(sm.main_op.main_op) and callable(sm.simple_save)
    assert tf.compat.v1.saved_model.loader.load is sm.loader.load
