"""Array ops: constants, placeholders, identity, shapes, reshaping, slicing, gathering."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.convert import make_const
from labflow.framework.registry import REQUIRED, op
from labflow.framework.shapes import TensorShape, as_shape
from labflow.ops.common import (
    ALL_TYPES, INDEX_TYPES, base, constant_shape, convert_to_tensor, dims, get_default_graph, make_op,
    make_tensor, same_as_input,
)

__all__ = ["constant", "placeholder", "placeholder_with_default", "identity", "stop_gradient", "shape",
           "reshape", "zeros_like", "ones_like"]


# -- Const ------------------------------------------------------------------------------------------
def _const_shape(ins, attrs):
    return attrs["dtype"], tuple(np.shape(attrs["value"]))


@op("Const", attrs={"value": REQUIRED, "dtype": REQUIRED}, shape=_const_shape, needs_ctx=True,
    not_differentiable=True)
def const_kernel(xp, *, value, dtype, ctx):
    v = ctx.state
    if v is None:
        v = ctx.state = value if xp is np else xp.asarray(value)
    return v


def constant(value: Any, dtype: Any = None, shape: Any = None, name: str = "Const",
             verify_shape: bool = False) -> Any:
    """TF 1.x `tf.constant`: a scalar is broadcast to `shape`; a value of the same size is reshaped."""
    dt = None if dtype is None else _dt.as_dtype(dtype)
    if shape is not None:
        from labflow.framework.convert import _np_value
        arr = _np_value(value, dt)
        shp = tuple(as_shape(shape).as_list())
        if arr.shape != shp:
            if verify_shape:
                raise TypeError(f"Expected Tensor's shape: {shp}, got {arr.shape}.")
            if arr.size == 1:
                arr = np.full(shp, arr.reshape(()), dtype=arr.dtype)
            elif arr.size == int(np.prod(shp)):
                arr = arr.reshape(shp)
            else:
                raise TypeError(f"Eager/graph constant: too many or too few elements: value has {arr.size} "
                                f"elements, shape {list(shp)} needs {int(np.prod(shp))}.")
        value = arr
    t = make_const(value, dt, name=name)
    t.op._attrs["value"].setflags(write=False)
    return t


# -- Placeholder ------------------------------------------------------------------------------------
def _placeholder_shape(ins, attrs):
    s = attrs["shape"]
    return attrs["dtype"], None if s is None else s.as_tuple()


@op("Placeholder", attrs={"dtype": REQUIRED, "shape": None}, shape=_placeholder_shape, not_differentiable=True)
def placeholder_kernel(xp, *, dtype, shape):
    from labflow import errors
    raise errors.InvalidArgumentError(None, None, "You must feed a value for this placeholder tensor.")


def placeholder(dtype: Any, shape: Any = None, name: str | None = None) -> Any:
    """TF 1.x `tf.placeholder(dtype, shape=None, name=None)`: a value that must be fed."""
    s = None if shape is None else as_shape(shape)
    if s is not None and s.ndims is None:
        s = None
    return get_default_graph().create_op("Placeholder", [], attrs={"dtype": _dt.as_dtype(dtype), "shape": s},
                                         name=name or "Placeholder").outputs[0]


def _pwd_shape(ins, attrs):
    s = attrs["shape"]
    d = dims(ins[0])
    if s is not None and s.as_tuple() is not None:
        if not TensorShape(d).is_compatible_with(s):
            raise ValueError(f"Shapes {TensorShape(d)} and {s} are incompatible: the default value must "
                             "match the declared shape")
        d = s.as_tuple()
    return base(ins[0]), d


@op("PlaceholderWithDefault", inputs=("input",), attrs={"shape": None}, shape=_pwd_shape)
def placeholder_with_default_kernel(xp, input, *, shape):
    return input


@placeholder_with_default_kernel.grad
def _pwd_grad(op, grad):
    return [grad]


def placeholder_with_default(input: Any, shape: Any, name: str | None = None) -> Any:
    """A placeholder that yields `input` when not fed."""
    x = convert_to_tensor(input)
    return make_tensor("PlaceholderWithDefault", [x], {"shape": as_shape(shape), "dtype": base(x)},
                       name or "PlaceholderWithDefault")


# -- Identity / StopGradient ------------------------------------------------------------------------
def _deref_shape(ins, attrs):
    return base(ins[0]), dims(ins[0])


@op("Identity", inputs=("input",), shape=_deref_shape)
def identity_kernel(xp, input):
    return input


@identity_kernel.grad
def _identity_grad(op, grad):
    return [grad]


def identity(input: Any, name: str | None = None) -> Any:
    """Returns a tensor with the same value (a new node: useful for control dependencies and names)."""
    x = convert_to_tensor(input)
    return make_tensor("Identity", [x], {"T": base(x)}, name or "Identity")


@op("StopGradient", inputs=("input",), shape=same_as_input, not_differentiable=True)
def stop_gradient_kernel(xp, input):
    return input


def stop_gradient(input: Any, name: str | None = None) -> Any:
    """Passes the value through; gradients do not flow back through it."""
    x = convert_to_tensor(input)
    return make_tensor("StopGradient", [x], {"T": base(x)}, name or "StopGradient")


# -- Shape / Reshape --------------------------------------------------------------------------------
def _shape_shape(ins, attrs):
    d = dims(ins[0])
    return attrs["out_type"], (None if d is None else len(d),)


@op("Shape", inputs=("input",), attrs={"out_type": _dt.int32}, shape=_shape_shape, not_differentiable=True)
def shape_kernel(xp, input, *, out_type):
    return xp.asarray(input.shape, dtype=out_type.as_numpy_dtype)


def shape(input: Any, name: str | None = None, out_type: Any = _dt.int32) -> Any:
    """The dynamic shape of `input` as a 1-D tensor."""
    x = convert_to_tensor(input)
    return make_tensor("Shape", [x], {"out_type": _dt.as_dtype(out_type), "T": base(x)}, name or "Shape")


def _reshape_shape(ins, attrs):
    x, s = ins
    if s._shape_dims is not None and len(s._shape_dims) != 1:
        raise ValueError(f"Shape must be rank 1 but is rank {len(s._shape_dims)}")
    target = constant_shape(s)
    if target is None:
        return base(x), None
    xd = dims(x)
    n_in = None if xd is None or any(d is None for d in xd) else int(np.prod(xd, dtype=np.int64))
    unknown = [i for i, d in enumerate(target) if d is None]
    cv = s.op._attrs.get("value") if s.op.type == "Const" else None
    if cv is not None and int(np.sum(np.asarray(cv) == -1)) > 1:
        raise ValueError("Cannot reshape: only one dimension of the new shape may be -1")
    known = int(np.prod([d for d in target if d is not None], dtype=np.int64))
    if n_in is not None:
        if not unknown and known != n_in:
            raise ValueError(f"Cannot reshape a tensor with {n_in} elements to shape "
                             f"[{','.join(str(d) for d in target)}] ({known} elements)")
        if len(unknown) == 1 and cv is not None:
            if known == 0 or n_in % known:
                raise ValueError(f"Cannot reshape a tensor with {n_in} elements to shape "
                                 f"[{','.join('-1' if d is None else str(d) for d in target)}]")
            target = tuple(n_in // known if d is None else d for d in target)
    return base(x), target


@op("Reshape", inputs=("tensor", "shape"), attrs={}, shape=_reshape_shape)
def reshape_kernel(xp, tensor, shape):
    return xp.reshape(tensor, [int(s) for s in shape])


@reshape_kernel.grad
def _reshape_grad(op, grad):
    return [reshape(grad, shape(op.inputs[0])), None]


def reshape(tensor: Any, shape: Any, name: str | None = None) -> Any:
    """Reshapes `tensor`; one entry of `shape` may be -1 (inferred)."""
    x = convert_to_tensor(tensor)
    s = convert_to_tensor(shape, dtype_hint=_dt.int32)
    if s.dtype.base_dtype not in INDEX_TYPES:
        raise TypeError(f"reshape: `shape` must be int32 or int64, got {s.dtype.name}")
    return make_tensor("Reshape", [x, s], {"T": base(x), "Tshape": base(s)}, name or "Reshape")


# -- ZerosLike / OnesLike ---------------------------------------------------------------------------
@op("ZerosLike", inputs=("x",), shape=same_as_input, not_differentiable=True)
def zeros_like_kernel(xp, x):
    return xp.zeros_like(x)


@op("OnesLike", inputs=("x",), shape=same_as_input, not_differentiable=True)
def ones_like_kernel(xp, x):
    return xp.ones_like(x)


def zeros_like(tensor: Any, dtype: Any = None, name: str | None = None, optimize: bool = True) -> Any:
    x = convert_to_tensor(tensor)
    out = make_tensor("ZerosLike", [x], {"T": base(x)}, name or "zeros_like")
    if dtype is not None and _dt.as_dtype(dtype) != base(x):
        from labflow.ops.math_ops import cast
        out = cast(out, dtype)
    return out


def ones_like(tensor: Any, dtype: Any = None, name: str | None = None, optimize: bool = True) -> Any:
    x = convert_to_tensor(tensor)
    out = make_tensor("OnesLike", [x], {"T": base(x)}, name or "ones_like")
    if dtype is not None and _dt.as_dtype(dtype) != base(x):
        from labflow.ops.math_ops import cast
        out = cast(out, dtype)
    return out


# -- IndexedSlices densification (used by gradients) ------------------------------------------------
def _slices_to_dense_shape(ins, attrs):
    return base(ins[0]), constant_shape(ins[2])


@op("_IndexedSlicesToDense", inputs=("values", "indices", "dense_shape"), shape=_slices_to_dense_shape)
def slices_to_dense_kernel(xp, values, indices, dense_shape):
    out = xp.zeros(tuple(int(d) for d in dense_shape), dtype=values.dtype)
    xp.add.at(out, indices, values) if xp is np else out.scatter_add(indices, values)
    return out


@slices_to_dense_kernel.grad
def _slices_to_dense_grad(op, grad):
    g = make_op("GatherV2", [grad, op.inputs[1], convert_to_tensor(0)], {"batch_dims": 0})._outputs[0]
    return [g, None, None]


del ALL_TYPES, Any
