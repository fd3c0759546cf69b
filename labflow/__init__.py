"""labflow: TensorFlow 1.x-style dataflow graphs, sessions and gradients on NumPy/CuPy, for notebooks.

`import labflow as tf` and TF1 tutorial code runs: placeholders, Variables, `tf.train` optimizers,
`with tf.Session() as sess: sess.run(train_op, feed_dict=...)`.
"""
# ruff: noqa: F401, F403, E402, I001 - the public face: re-exports in dependency order.

import sys as _sys

from labflow import dtypes, errors
from labflow.dtypes import (
    DType, as_dtype, bfloat16, bool, complex64, complex128, double, float16, float32, float64, half, int8,
    int16, int32, int64, string, uint8, uint16, uint32, uint64,
)
from labflow.dtypes import qint8, qint16, qint32, quint8, quint16
from labflow.framework.constant_value import constant_value as get_static_value
from labflow.framework.convert import (
    convert_to_tensor, convert_to_tensor_or_indexed_slices, register_tensor_conversion_function,
)
from labflow.framework.device_spec import DeviceSpec
from labflow.framework.gradients import gradients
from labflow.framework.graph import (
    Graph, GraphKeys, add_to_collection, add_to_collections, colocate_with, container, control_dependencies,
    device, get_collection, get_collection_ref, get_default_graph, name_scope, reset_default_graph,
)
from labflow.framework.registry import no_gradient as NoGradient
from labflow.framework.registry import no_gradient as NotDifferentiable
from labflow.framework.registry import register_gradient as RegisterGradient
from labflow.framework.shapes import Dimension, TensorShape, as_dimension, dimension_value
from labflow.framework.tensor import IndexedSlices, Operation, Tensor

from labflow import ops as _ops  # registers every op (and checks each has a gradient decision)
from labflow.ops.array_ops import *
from labflow.ops.clip_ops import *
from labflow.ops.cond_while import *
from labflow.ops.higher_order import *
from labflow.ops.sparse_ops import *
from labflow.framework.sparse_tensor import SparseTensor, SparseTensorValue
from labflow.ops.tensor_array_ops import TensorArray
from labflow.ops.control_flow_ops import *
from labflow.ops.init_ops import *
from labflow.ops.logging_ops import *
from labflow.ops.math_ops import *
from labflow.ops.random_ops import *
from labflow.ops.state_ops import *
from labflow.ops.summary_ops import *
from labflow.ops.variable_scope import *
from labflow.ops.variables import *

from labflow.runtime.config import ConfigProto, GPUOptions, GraphOptions, OptimizerOptions
from labflow.runtime.devices import list_devices
from labflow.runtime.session import InteractiveSession, Session, get_default_session
from labflow.framework.protos.config_pb2 import RunMetadata, RunOptions
from labflow.framework.graph_io import import_graph_def
from labflow.framework.proto_convert import make_ndarray, make_tensor_proto
from labflow.ops.embedding_ops import dynamic_partition, dynamic_stitch
from labflow.ops.data_flow_ops import FIFOQueue, PaddingFIFOQueue, PriorityQueue, QueueBase, RandomShuffleQueue
from labflow.ops.accumulator_ops import ConditionalAccumulator, ConditionalAccumulatorBase, SparseConditionalAccumulator
from labflow.ops.quantized_ops import (
    dequantize, fake_quant_with_min_max_args, fake_quant_with_min_max_args_gradient, fake_quant_with_min_max_vars,
    fake_quant_with_min_max_vars_gradient, fake_quant_with_min_max_vars_per_channel,
    fake_quant_with_min_max_vars_per_channel_gradient, quantization, quantize, quantize_v2,
)
from labflow.ops.script_ops import numpy_function, py_func
from labflow.ops.parsing_ops import (
    FixedLenFeature, FixedLenSequenceFeature, SparseFeature, VarLenFeature, decode_csv, decode_raw, parse_example,
    parse_single_example,
)
from labflow.ops.parsing_sequence_ops import parse_single_sequence_example
from labflow.ops.reader_ops import (
    FixedLengthRecordReader, IdentityReader, ReaderBase, TextLineReader, TFRecordReader, WholeFileReader, read_file,
)
from labflow.ops.load_library import load_op_library
from labflow.ops.array_extra_ops import *
from labflow.ops.array_nd_ops import *
from labflow.ops.check_ops import *
from labflow.ops.linalg_ops import *
from labflow.ops.lookup_ops import *
from labflow.ops.segment_ops import *
from labflow.ops.special_math_ops import *
from labflow.ops.string_ops import *
from labflow.ops.template import *
from labflow.ops.bitwise_ops import *
from labflow.ops.complex_ops import *
from labflow.ops.misc_ops import *
from labflow.ops.random_extra_ops import *
from labflow.ops.set_ops import *
from labflow.ops.sparse_extra_ops import *
from labflow.ops.spectral_ops import *
from labflow.framework.public_protos import *
from labflow.ops.image_transform import random_crop
from labflow.versions import *

from labflow import compat, contrib, data, initializers, layers, losses, math, metrics, nn, random, summary, train
from labflow import sparse
from labflow.logging import get_logger
from labflow import app, debugging, flags, gfile, image, io, linalg, logging, lookup, strings, test
from labflow import bitwise, manip, profiler, queue, saved_model, sets, signal, spectral
from labflow import user_ops
from labflow import python_io
from labflow.framework import nest
from labflow.tools import graph_util

from labflow.versions import VERSION as __version__


def __getattr__(name: str):
    if name == "LocalCluster":  # lazily: `import labflow` never loads the distributed package
        from labflow.distributed.launcher import LocalCluster
        return LocalCluster
    raise AttributeError(f"module 'labflow' has no attribute {name!r}")

_sys.modules[__name__ + ".compat.v1"] = _sys.modules[__name__]

if "IPython" in _sys.modules:  # Jupyter/IPython: rich display of protobuf results, magics, re-run warning
    from labflow import notebook as _notebook  # needs no ipywidgets

    _notebook.install()
