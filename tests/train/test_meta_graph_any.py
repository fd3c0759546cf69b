"""Collections of protobuf Any values (a SavedModel's assets) survive a MetaGraphDef round trip."""

from google.protobuf import any_pb2

import labflow as tf
from labflow.framework.protos import meta_graph_pb2


def test_any_collection_round_trips():
    asset = meta_graph_pb2.AssetFileDef(filename="vocab.txt")
    packed = any_pb2.Any()
    packed.Pack(asset)
    with tf.Graph().as_default():
        tf.add_to_collection("assets", packed)
        mg = tf.train.export_meta_graph()
    assert mg.collection_def["assets"].WhichOneof("kind") == "any_list"
    with tf.Graph().as_default() as g:
        tf.train.import_meta_graph(mg)
        (got,) = g.get_collection("assets")
    out = meta_graph_pb2.AssetFileDef()
    assert got.Unpack(out) and out.filename == "vocab.txt"
