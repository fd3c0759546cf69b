"""The version constants."""

import labflow as tf


def test_version_constants_match_what_labflow_writes():
    assert tf.VERSION == tf.__version__
    assert tf.GRAPH_DEF_VERSION == tf.Graph().as_graph_def().versions.producer
    assert tf.GRAPH_DEF_VERSION_MIN_CONSUMER == tf.Graph().graph_def_versions.min_consumer
    assert tf.GRAPH_DEF_VERSION_MIN_PRODUCER == 0
    assert isinstance(tf.GIT_VERSION, str) and isinstance(tf.COMPILER_VERSION, str)
    assert tf.__git_version__ == tf.GIT_VERSION and tf.__compiler_version__ == tf.COMPILER_VERSION
    assert tf.compat.v1.VERSION == tf.VERSION
