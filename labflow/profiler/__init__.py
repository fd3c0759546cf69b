"""tf.profiler: TF 1.x's tfprof Python API (parameter, FLOP, time and memory counts of a graph)."""
from labflow.framework.protos.tfprof_output_pb2 import GraphNodeProto
from labflow.profiler.model_analyzer import profile
from labflow.profiler.option_builder import ProfileOptionBuilder

__all__ = ["GraphNodeProto", "ProfileOptionBuilder", "profile"]
