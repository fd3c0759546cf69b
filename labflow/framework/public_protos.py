"""The protocol buffer classes TF 1.x exports at its top level: `tf.GraphDef`, `tf.NodeDef`, `tf.Summary`, ...

Each is labflow's wire-compatible message class (labflow/framework/protos), so `tf.GraphDef.FromString(data)`
parses what TensorFlow wrote and TensorFlow parses what these write. ConfigProto, GPUOptions, GraphOptions,
OptimizerOptions, RunOptions and RunMetadata are exported from labflow.runtime.config and config_pb2.
"""

from __future__ import annotations

from labflow.framework.protos.attr_value_pb2 import AttrValue, NameAttrList
from labflow.framework.protos.event_pb2 import Event, LogMessage, SessionLog
from labflow.framework.protos.graph_pb2 import GraphDef
from labflow.framework.protos.meta_graph_pb2 import MetaGraphDef, TensorInfo
from labflow.framework.protos.node_def_pb2 import NodeDef
from labflow.framework.protos.summary_pb2 import HistogramProto, Summary, SummaryMetadata

__all__: list[str] = ["AttrValue", "Event", "GraphDef", "HistogramProto", "LogMessage", "MetaGraphDef",
                      "NameAttrList", "NodeDef", "SessionLog", "Summary", "SummaryMetadata", "TensorInfo"]
