"""Slot variables: optimizer state (momentum, Adam moments) shaped like a primary variable.

A slot of `W` made by the optimizer named "Momentum" is the variable `W/Momentum` (a second slot of the
same optimizer is `W/Momentum_1`, TF's naming), created with `get_variable` in the variable scope
`W/Momentum`, colocated with `W`, not trainable, in GLOBAL_VARIABLES.
"""

from __future__ import annotations

from typing import Any

from labflow.framework.shapes import TensorShape
from labflow.ops import init_ops, variable_scope


def _create_slot_var(primary: Any, val: Any, scope: str, validate_shape: bool, shape: Any, dtype: Any) -> Any:
    vs = variable_scope.get_variable_scope()
    partitioner = vs.partitioner
    vs.set_partitioner(None)
    try:
        return variable_scope.get_variable(scope, initializer=val, trainable=False,
                                           shape=shape if callable(val) else None, dtype=dtype,
                                           validate_shape=validate_shape)
    finally:
        vs.set_partitioner(partitioner)


def _primary_graph(primary: Any):
    return primary.op.graph


def create_slot(primary: Any, val: Any, name: str, colocate_with_primary: bool = True) -> Any:
    """A slot variable of `primary` initialized to the tensor `val`."""
    validate_shape = val.get_shape().is_fully_defined()
    prefix = primary.op.name
    g = _primary_graph(primary)
    with g.as_default(), variable_scope.variable_scope(None, prefix + "/" + name):
        if colocate_with_primary:
            with g.colocate_with(primary.op):
                return _create_slot_var(primary, val, "", validate_shape, None, None)
        return _create_slot_var(primary, val, "", validate_shape, None, None)


def create_slot_with_initializer(primary: Any, initializer: Any, shape: TensorShape, dtype: Any, name: str,
                                 colocate_with_primary: bool = True) -> Any:
    """A slot variable of `primary` made by `initializer(shape, dtype)`."""
    validate_shape = shape.is_fully_defined()
    prefix = primary.op.name
    g = _primary_graph(primary)
    with g.as_default(), variable_scope.variable_scope(None, prefix + "/" + name):
        if colocate_with_primary:
            with g.colocate_with(primary.op):
                return _create_slot_var(primary, initializer, "", validate_shape, shape, dtype)
        return _create_slot_var(primary, initializer, "", validate_shape, shape, dtype)


def create_zeros_slot(primary: Any, name: str, dtype: Any = None, colocate_with_primary: bool = True) -> Any:
    """A slot variable of `primary`, initialized to zeros of its shape."""
    if dtype is None:
        dtype = primary.dtype
    slot_shape = primary.get_shape()
    if slot_shape.is_fully_defined():
        return create_slot_with_initializer(primary, init_ops.zeros_initializer(), slot_shape, dtype, name,
                                            colocate_with_primary=colocate_with_primary)
    from labflow.ops import array_ops
    # The shape is only known at run time: take it from the initial value (reading the variable itself
    # would fail before it is initialized, and the slots are initialized together with it).
    src = primary.initial_value if getattr(primary, "initial_value", None) is not None else primary
    val = array_ops.zeros_like(src, dtype=getattr(dtype, "base_dtype", dtype))
    return create_slot(primary, val, name, colocate_with_primary=colocate_with_primary)
