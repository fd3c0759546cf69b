"""labflow: TensorFlow 1.x-style dataflow graphs, sessions and gradients on NumPy/CuPy, for notebooks.

`import labflow as tf` and TF1 tutorial code runs: placeholders, Variables, `tf.train` optimizers,
`with tf.Session() as sess: sess.run(train_op, feed_dict=...)`.
"""

import sys as _sys

from labflow import dtypes, errors  # noqa: F401
from labflow.dtypes import (  # noqa: F401
    DType, as_dtype, bfloat16, bool, complex64, complex128, double, float16, float32, float64, half, int8,
    int16, int32, int64, string, uint8, uint16,
)
from labflow.framework.constant_value import constant_value as _constant_value  # noqa: F401
from labflow.framework.convert import convert_to_tensor, register_tensor_conversion_function  # noqa: F401
from labflow.framework.device_spec import DeviceSpec  # noqa: F401
from labflow.framework.gradients import gradients  # noqa: F401
from labflow.framework.graph import (  # noqa: F401
    Graph, GraphKeys, add_to_collection, add_to_collections, colocate_with, container, control_dependencies,
    device, get_collection, get_collection_ref, get_default_graph, name_scope, reset_default_graph,
)
from labflow.framework.registry import NOT_DIFFERENTIABLE as _NOT_DIFF  # noqa: F401
from labflow.framework.registry import no_gradient as NoGradient  # noqa: F401
from labflow.framework.registry import no_gradient as NotDifferentiable  # noqa: F401
from labflow.framework.registry import register_gradient as RegisterGradient  # noqa: F401
from labflow.framework.shapes import Dimension, TensorShape  # noqa: F401
from labflow.framework.tensor import IndexedSlices, Operation, Tensor  # noqa: F401
from labflow import ops as _ops  # noqa: F401,E402 - registers every op
from labflow.ops.array_ops import *  # noqa: F401,F403,E402
from labflow.ops.clip_ops import *  # noqa: F401,F403,E402
from labflow.ops.control_flow_ops import *  # noqa: F401,F403,E402
from labflow.ops.init_ops import *  # noqa: F401,F403,E402
from labflow.ops.logging_ops import *  # noqa: F401,F403,E402
from labflow.ops.math_ops import *  # noqa: F401,F403,E402
from labflow.ops.random_ops import *  # noqa: F401,F403,E402
from labflow.ops.state_ops import *  # noqa: F401,F403,E402
from labflow.ops.variable_scope import *  # noqa: F401,F403,E402
from labflow.ops.variables import *  # noqa: F401,F403,E402
from labflow.runtime.config import ConfigProto, GPUOptions, GraphOptions, OptimizerOptions  # noqa: F401,E402
from labflow.runtime.session import InteractiveSession, Session, get_default_session  # noqa: F401,E402
from labflow.framework.protos.config_pb2 import RunMetadata, RunOptions  # noqa: F401,E402
from labflow.framework.graph_io import import_graph_def  # noqa: F401,E402
from labflow import nn, train  # noqa: F401,E402
from labflow import compat  # noqa: F401,E402

__version__ = "0.1.0"

_sys.modules[__name__ + ".compat.v1"] = _sys.modules[__name__]
