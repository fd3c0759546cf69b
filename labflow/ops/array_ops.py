"""Array ops: constants, placeholders, identity, shapes, reshape, fills, and helpers for the family.

The rest of the array family lives in array_reshape_ops.py (range, expand_dims, squeeze, transpose,
reverse, tile), array_join_ops.py (concat, stack, split, pad), array_slice_ops.py (slice,
strided_slice, `Tensor.__getitem__`) and array_gather_ops.py (gather, one_hot, where); they are
imported at the bottom of this module and re-exported through its `__all__`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.convert import make_const
from labflow.framework.registry import REQUIRED, op
from labflow.framework.shapes import TensorShape, as_shape
from labflow.framework.tensor import Tensor
from labflow.ops.common import (
    ALL_TYPES,
    INDEX_TYPES,
    base,
    constant_shape,
    constant_value,
    convert_to_tensor,
    dims,
    get_default_graph,
    make_op,
    make_tensor,
    merge_dims,
    same_as_input,
)

__all__ = ["constant", "placeholder", "placeholder_with_default", "identity", "stop_gradient", "shape",
           "reshape", "zeros_like", "ones_like", "fill", "zeros", "ones", "size", "rank", "shape_n",
           "newaxis", "broadcast_to"]

newaxis = None  # `t[:, tf.newaxis]`


# -- helpers shared by the array family -------------------------------------------------------------
def _set_attrs(attrs: dict, **values: Any) -> None:
    """Fills TF's type attrs (Tidx, Tshape, ...) that the wrapper left unset, so GraphDefs match TF's."""
    for k, v in values.items():
        if attrs.get(k) is None:
            attrs[k] = v


def _ints(v: Any) -> list:
    """A 1-D index array (begin, sizes, perm, ...) as Python ints: one small transfer, then host math."""
    return [int(x) for x in v.tolist()]


def _int(v: Any) -> int:
    """A scalar (or one-element) index array as a Python int."""
    return int(v.reshape(-1)[0]) if getattr(v, "ndim", 0) else int(v)


def _multi(outs: list) -> Any:
    """Multi-output kernels return a bare array when the op has exactly one output."""
    return outs[0] if len(outs) == 1 else outs


def _rank_error(want: int, got: int) -> ValueError:
    return ValueError(f"Shape must be rank {want} but is rank {got}")


def _check_rank(t: Tensor, want: int) -> None:
    d = dims(t)
    if d is not None and len(d) != want:
        raise _rank_error(want, len(d))


def _check_vector(t: Tensor) -> None:
    d = dims(t)
    if d is not None and len(d) > 1:
        raise _rank_error(1, len(d))


_merge_dims = merge_dims  # the family's historical name


def _shape_of(x: Tensor, out_type: Any = _dt.int32) -> Tensor:
    """`shape(x)`, folded to a constant when the static shape is fully known (gradients use it)."""
    d = dims(x)
    out_type = _dt.as_dtype(out_type)
    if d is not None and all(v is not None for v in d):
        return make_const(np.array(d, dtype=out_type.as_numpy_dtype), graph=x.graph)
    return make_tensor("Shape", [x], {"out_type": out_type, "T": base(x)})


def _int_const(value: Any, graph: Any = None, dtype: Any = _dt.int32) -> Tensor:
    return make_const(np.asarray(value, dtype=_dt.as_dtype(dtype).as_numpy_dtype), graph=graph)


def _index_tensor(value: Any, what: str, op_name: str) -> Tensor:
    """Converts an index-like argument (axis, begin, multiples, ...): int32 unless it says otherwise."""
    t = convert_to_tensor(value, dtype_hint=_dt.int32)
    if base(t) not in INDEX_TYPES:
        raise TypeError(f"{op_name}: `{what}` must be int32 or int64, got {base(t).name}")
    return t


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


@op("Placeholder", attrs={"dtype": REQUIRED, "shape": None}, shape=_placeholder_shape,
    not_differentiable=True)
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


@op("Shape", inputs=("input",), attrs={"out_type": _dt.int32}, shape=_shape_shape, not_differentiable=True,
    host_outputs=True)
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


@op("Reshape", inputs=("tensor", "shape"), attrs={}, shape=_reshape_shape, host_inputs=(1,))
def reshape_kernel(xp, tensor, shape):
    return xp.reshape(tensor, _ints(shape))


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
    """A tensor of zeros with the shape of `tensor` (and its dtype unless `dtype` is given)."""
    x = convert_to_tensor(tensor)
    if dtype is not None and _dt.as_dtype(dtype).base_dtype != base(x):
        return zeros(shape(x), dtype=dtype, name=name or "zeros_like")
    return make_tensor("ZerosLike", [x], {"T": base(x)}, name or "zeros_like")


def ones_like(tensor: Any, dtype: Any = None, name: str | None = None, optimize: bool = True) -> Any:
    """A tensor of ones with the shape of `tensor` (and its dtype unless `dtype` is given)."""
    x = convert_to_tensor(tensor)
    if dtype is not None and _dt.as_dtype(dtype).base_dtype != base(x):
        return ones(shape(x), dtype=dtype, name=name or "ones_like")
    return make_tensor("OnesLike", [x], {"T": base(x)}, name or "ones_like")


# -- IndexedSlices densification (used by gradients) ------------------------------------------------
def _scatter_add(xp: Any, out: Any, indices: Any, values: Any) -> None:
    """out[indices] += values with repeated indices accumulating (np.add.at; CuPy's ufunc.at)."""
    if xp is np:
        np.add.at(out, indices, values)
    elif hasattr(xp.add, "at"):
        xp.add.at(out, indices, values)
    else:  # CuPy before ufunc.at existed
        out.scatter_add(indices, values)


def _slices_to_dense_shape(ins, attrs):
    return base(ins[0]), constant_shape(ins[2])


@op("_IndexedSlicesToDense", inputs=("values", "indices", "dense_shape"), shape=_slices_to_dense_shape,
    host_inputs=(2,))
def slices_to_dense_kernel(xp, values, indices, dense_shape):
    out = xp.zeros(tuple(_ints(dense_shape)), dtype=values.dtype)
    _scatter_add(xp, out, indices, values)
    return out


@slices_to_dense_kernel.grad
def _slices_to_dense_grad(op, grad):
    g = make_op("GatherV2", [grad, op.inputs[1], _int_const(0, grad.graph)], {"batch_dims": 0})._outputs[0]
    return [g, None, None]


# -- Fill / zeros / ones ----------------------------------------------------------------------------
def _fill_shape(ins, attrs):
    d, v = ins
    _check_rank(d, 1)
    _check_rank(v, 0)
    cv = constant_value(d)
    if cv is not None and np.any(np.asarray(cv) < 0):
        raise ValueError(f"Fill dimensions must be >= 0, got {list(np.reshape(cv, [-1]))}")
    _set_attrs(attrs, index_type=base(d))
    return base(v), constant_shape(d)


@op("Fill", inputs=("dims", "value"), attrs={"index_type": None}, types=ALL_TYPES, type_inputs=("value",),
    shape=_fill_shape, host_inputs=(0,))
def fill_kernel(xp, dims, value):
    out = xp.empty(tuple(_ints(dims)), dtype=value.dtype)
    out[...] = value
    return out


@fill_kernel.grad
def _fill_grad(op, grad):
    from labflow.ops.math_ops import reduce_sum
    return [None, reduce_sum(grad)]


def fill(dims: Any, value: Any, name: str | None = None) -> Tensor:
    """A tensor of shape `dims` with every element equal to the scalar `value`.

    Args:
        dims: 1-D int32/int64 tensor (or list) of the output shape.
        value: 0-D tensor (or Python scalar) giving the value and dtype.
        name: op name (default "Fill").
    """
    v = convert_to_tensor(value)
    d = _index_tensor(dims, "dims", "fill")
    return make_tensor("Fill", [d, v], None, name or "Fill")


def _filled(shape: Any, dtype: Any, value: Any, name: str | None, default: str) -> Tensor:
    """TF1's zeros/ones: a Const when the shape is static and small (< 1000 elements), else a Fill."""
    dt = _dt.as_dtype(dtype).base_dtype
    if dt == _dt.string:
        value = "" if value == 0 else value
    elif dt == _dt.bool:
        value = bool(value)
    g = shape.graph if isinstance(shape, Tensor) else get_default_graph()
    with g.name_scope(name or default) as scope:
        if not isinstance(shape, Tensor):
            static = None
            try:
                static = as_shape(shape)
            except (TypeError, ValueError):
                pass  # a list holding tensors: packed below
            if static is not None and static.is_fully_defined():
                if static.num_elements() < 1000:
                    arr = np.full(static.as_list(), value, dtype=dt.as_numpy_dtype)
                    return make_const(arr, dt, name=scope)
                shape = static.as_list()
            elif static is not None and static.ndims is not None and not isinstance(shape, (list, tuple)):
                raise ValueError(f"{default}: shape {static} is not fully defined: pass a shape tensor "
                                 f"(e.g. tf.shape(x)) for unknown dimensions.")
            shape = _index_tensor(shape, "shape", default)
        if dims(shape) == ():
            shape = reshape(shape, [-1])
        return fill(shape, make_const(np.asarray(value, dtype=dt.as_numpy_dtype), dt), name=scope)


def zeros(shape: Any, dtype: Any = _dt.float32, name: str | None = None) -> Tensor:
    """A tensor of zeros (TF 1.x `tf.zeros(shape, dtype=tf.float32, name=None)`)."""
    return _filled(shape, dtype, 0, name, "zeros")


def ones(shape: Any, dtype: Any = _dt.float32, name: str | None = None) -> Tensor:
    """A tensor of ones (TF 1.x `tf.ones(shape, dtype=tf.float32, name=None)`)."""
    return _filled(shape, dtype, 1, name, "ones")


# -- Size / Rank / ShapeN ---------------------------------------------------------------------------
def _size_shape(ins, attrs):
    return attrs["out_type"], ()


@op("Size", inputs=("input",), attrs={"out_type": _dt.int32}, shape=_size_shape, not_differentiable=True,
    host_outputs=True)
def size_kernel(xp, input, *, out_type):
    return xp.asarray(input.size, dtype=out_type.as_numpy_dtype)


def size(input: Any, name: str | None = None, out_type: Any = _dt.int32) -> Tensor:
    """The number of elements of `input` as a scalar (int32 unless `out_type` says otherwise)."""
    x = convert_to_tensor(input)
    return make_tensor("Size", [x], {"out_type": _dt.as_dtype(out_type), "T": base(x)}, name or "Size")


def _rank_shape(ins, attrs):
    return _dt.int32, ()


@op("Rank", inputs=("input",), shape=_rank_shape, not_differentiable=True, host_outputs=True)
def rank_kernel(xp, input):
    return xp.asarray(input.ndim, dtype=np.int32)


def rank(input: Any, name: str | None = None) -> Tensor:
    """The number of dimensions of `input` as an int32 scalar."""
    x = convert_to_tensor(input)
    return make_tensor("Rank", [x], {"T": base(x)}, name or "Rank")


def _shape_n_shape(ins, attrs):
    return [(attrs["out_type"], (None if dims(t) is None else len(dims(t)),)) for t in ins]


@op("ShapeN", inputs=("*input",), attrs={"N": 1, "out_type": _dt.int32}, shape=_shape_n_shape,
    outputs=lambda attrs, n: n, not_differentiable=True)
def shape_n_kernel(xp, *input, N, out_type):
    return _multi([xp.asarray(x.shape, dtype=out_type.as_numpy_dtype) for x in input])


def shape_n(input: list, out_type: Any = _dt.int32, name: str | None = None) -> list:
    """The shapes of several tensors at once (one op)."""
    xs = [convert_to_tensor(x) for x in input]
    dts = {base(x) for x in xs}
    attrs = {"N": len(xs), "out_type": _dt.as_dtype(out_type)}
    if len(dts) == 1:
        attrs["T"] = dts.pop()
    return make_op("ShapeN", xs, attrs, name or "ShapeN").outputs


# -- BroadcastTo (registered with the math ops, which own its gradient) ------------------------------
def broadcast_to(input: Any, shape: Any, name: str | None = None) -> Tensor:
    """Broadcasts `input` to `shape` with NumPy's rules (TF's `tf.broadcast_to`)."""
    x = convert_to_tensor(input)
    s = _index_tensor(shape, "shape", "broadcast_to")
    return make_tensor("BroadcastTo", [x, s], {"Tidx": base(s)}, name or "BroadcastTo")


# The rest of the family; imported last because they build on the helpers above.
from labflow.ops import array_gather_ops as _gather  # noqa: E402
from labflow.ops import array_join_ops as _join  # noqa: E402
from labflow.ops import array_reshape_ops as _reshape  # noqa: E402
from labflow.ops import array_slice_ops as _slice  # noqa: E402
from labflow.ops.array_gather_ops import *  # noqa: E402,F401,F403
from labflow.ops.array_join_ops import *  # noqa: E402,F401,F403
from labflow.ops.array_reshape_ops import *  # noqa: E402,F401,F403
from labflow.ops.array_slice_ops import *  # noqa: E402,F401,F403

__all__ += _reshape.__all__ + _join.__all__ + _slice.__all__ + _gather.__all__
