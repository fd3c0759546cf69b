"""The global step: the training-step counter variable (`tf.train.get_or_create_global_step`)."""

from __future__ import annotations

import logging
from typing import Any

from labflow import dtypes as _dt
from labflow.framework.graph import GraphKeys, get_default_graph
from labflow.framework.tensor import Tensor

_log = logging.getLogger("labflow.train")


def global_step(sess: Any, global_step_tensor: Any) -> int:
    """The current value of the global step, as a Python int."""
    return int(sess.run(global_step_tensor))


def assert_global_step(global_step_tensor: Any) -> None:
    """Raises TypeError unless `global_step_tensor` is a scalar integer Variable or Tensor."""
    from labflow.ops.variables import Variable
    if not isinstance(global_step_tensor, (Variable, Tensor)):
        raise TypeError(f'Existing "global_step" must be a Variable or Tensor: {global_step_tensor}.')
    if not global_step_tensor.dtype.base_dtype.is_integer:
        raise TypeError(f'Existing "global_step" does not have integer type: {global_step_tensor.dtype.name}')
    shape = global_step_tensor.get_shape()
    if shape.ndims != 0 and shape.is_fully_defined():
        raise TypeError(f'Existing "global_step" is not scalar: {shape}')


def get_global_step(graph: Any = None) -> Any:
    """The graph's global step (collection GLOBAL_STEP, else the tensor 'global_step:0'), or None."""
    graph = graph or get_default_graph()
    found = graph.get_collection(GraphKeys.GLOBAL_STEP)
    if len(found) == 1:
        gs = found[0]
    elif not found:
        try:
            gs = graph.get_tensor_by_name("global_step:0")
        except KeyError:
            return None
    else:
        _log.error("Multiple tensors in global_step collection.")
        return None
    assert_global_step(gs)
    return gs


def create_global_step(graph: Any = None) -> Any:
    """Creates the int64 scalar variable "global_step" (initialized to 0, not trainable).

    Raises:
        ValueError: the graph already has a global step.
    """
    graph = graph or get_default_graph()
    if get_global_step(graph) is not None:
        raise ValueError('"global_step" already exists.')
    from labflow.ops import init_ops, variable_scope
    with graph.as_default(), graph.name_scope(None):
        return variable_scope.get_variable(GraphKeys.GLOBAL_STEP, shape=[], dtype=_dt.int64,
                                           initializer=init_ops.zeros_initializer(), trainable=False,
                                           collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP])


def get_or_create_global_step(graph: Any = None) -> Any:
    """The graph's global step variable, created first when missing."""
    graph = graph or get_default_graph()
    gs = get_global_step(graph)
    if gs is None:
        gs = create_global_step(graph)
    return gs
