"""Graph collections and GraphKeys, as in TF 1.x."""

from __future__ import annotations

import pytest

import labflow as tf

# TF 1.x's tf.GraphKeys string values (tensorflow/python/framework/ops.py).
TF_GRAPH_KEYS = {
    "GLOBAL_VARIABLES": "variables", "LOCAL_VARIABLES": "local_variables",
    "METRIC_VARIABLES": "metric_variables", "MODEL_VARIABLES": "model_variables",
    "TRAINABLE_VARIABLES": "trainable_variables", "SUMMARIES": "summaries", "QUEUE_RUNNERS": "queue_runners",
    "TABLE_INITIALIZERS": "table_initializer", "ASSET_FILEPATHS": "asset_filepaths",
    "MOVING_AVERAGE_VARIABLES": "moving_average_variables", "REGULARIZATION_LOSSES": "regularization_losses",
    "CONCATENATED_VARIABLES": "concatenated_variables", "SAVERS": "savers", "WEIGHTS": "weights",
    "BIASES": "biases", "ACTIVATIONS": "activations", "UPDATE_OPS": "update_ops", "LOSSES": "losses",
    "SAVEABLE_OBJECTS": "saveable_objects", "RESOURCES": "resources", "LOCAL_RESOURCES": "local_resources",
    "TRAINABLE_RESOURCE_VARIABLES": "trainable_resource_variables", "INIT_OP": "init_op",
    "LOCAL_INIT_OP": "local_init_op", "READY_OP": "ready_op",
    "READY_FOR_LOCAL_INIT_OP": "ready_for_local_init_op", "SUMMARY_OP": "summary_op",
    "GLOBAL_STEP": "global_step", "EVAL_STEP": "eval_step", "TRAIN_OP": "train_op",
    "COND_CONTEXT": "cond_context", "WHILE_CONTEXT": "while_context", "VARIABLES": "variables",
}


@pytest.mark.parametrize("key, value", sorted(TF_GRAPH_KEYS.items()))
def test_graph_keys_match_tf(key, value):
    assert getattr(tf.GraphKeys, key) == value


def test_add_and_get_collection():
    tf.add_to_collection("things", 1)
    tf.add_to_collection("things", 2)
    got = tf.get_collection("things")
    assert got == [1, 2]
    got.append(3)  # a copy
    assert tf.get_collection("things") == [1, 2]
    assert tf.get_collection("missing") == []


def test_add_to_collections_string_is_one_name_and_names_dedup():
    tf.add_to_collections("abc", "v")
    assert tf.get_collection("abc") == ["v"] and tf.get_collection("a") == []
    tf.add_to_collections(["x", "y", "x"], "w")
    assert tf.get_collection("x") == ["w"] and tf.get_collection("y") == ["w"]


def test_get_collection_scope_filters_by_name_regex_prefix():
    with tf.name_scope("layer1"):
        a = tf.constant(1.0, name="a")
    with tf.name_scope("layer10"):
        b = tf.constant(1.0, name="b")
    with tf.name_scope("layer2"):
        c = tf.constant(1.0, name="c")
    for t in (a, b, c):
        tf.add_to_collection("acts", t)
    tf.add_to_collection("acts", 42)  # no .name: never matches a scope
    assert tf.get_collection("acts", "layer1") == [a, b]  # re.match: a prefix
    assert tf.get_collection("acts", "layer1/") == [a]
    assert tf.get_collection("acts", "layer[12]/") == [a, c]
    assert tf.get_collection("acts", ".*c") == [c]
    assert tf.get_collection("acts") == [a, b, c, 42]


def test_get_collection_scope_on_variables():
    with tf.name_scope("enc"):
        v1 = tf.Variable(1.0, name="w")
    v2 = tf.Variable(2.0, name="w")
    assert tf.get_collection(tf.GraphKeys.GLOBAL_VARIABLES, "enc") == [v1]
    assert tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES) == [v1, v2]


def test_get_collection_ref_is_live():
    ref = tf.get_collection_ref("live")
    assert ref == []
    ref.append("a")
    assert tf.get_collection("live") == ["a"]
    tf.add_to_collection("live", "b")
    assert ref == ["a", "b"] and tf.get_collection_ref("live") is ref
    ref[:] = []
    assert tf.get_collection("live") == []


def test_collection_keys_and_clear():
    g = tf.get_default_graph()
    g.add_to_collection("k1", 1)
    g.get_collection_ref("k2")
    assert set(g.get_all_collection_keys()) >= {"k1", "k2"}
    assert "k1" in g.collections
    g.clear_collection("k1")
    assert g.get_collection("k1") == [] and "k1" not in g.get_all_collection_keys()
    g.clear_collection("never")  # no error


def test_collections_are_per_graph():
    g = tf.Graph()
    with g.as_default():
        tf.add_to_collection("c", 1)
    assert tf.get_collection("c") == [] and g.get_collection("c") == [1]
