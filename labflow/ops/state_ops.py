"""State ops: variables (VariableV2), assignment, scatter updates and the initialized check.

A variable lives in its device's ResourceMgr as a `VarRef`. Ops listing an input in `ref_inputs`
receive that VarRef and update `ref.value` in place; every other consumer of a ref-typed tensor gets
the dereferenced array (the executor inserts the deref). Ref-typed outputs are dereferenced and copied
when fetched, so a fetched value never changes under a later update.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.registry import REQUIRED, op
from labflow.framework.shapes import TensorShape, as_shape, broadcast_dims, shape_str
from labflow.framework.tensor import Tensor
from labflow.ops.common import (
    ALL_TYPES,
    INDEX_TYPES,
    NUMERIC_TYPES,
    convert_to_tensor,
    dims,
    make_tensor,
    merge_dims,
)
from labflow.runtime.devices import VarRef, deref

__all__ = ["assign", "assign_add", "assign_sub", "count_up_to", "scatter_add", "scatter_sub", "scatter_update"]


# -- shape helpers shared with the training ops ------------------------------------------------------
def check_scalar(t: Tensor, what: str) -> None:
    """Raises TF's "Shape must be rank 0" error for a non-scalar hyperparameter input."""
    d = dims(t)
    if d is not None and len(d) != 0:
        raise ValueError(f"Shape must be rank 0 but is rank {len(d)} (input '{what}' must be a scalar)")


def check_ref(ins: list, op_type: str, arg: str = "ref", i: int = 0) -> None:
    """The input must be a ref (a variable), as TF's "requires l-value input"."""
    t = ins[i]
    if not t.dtype.is_ref_dtype:
        raise TypeError(f"Input '{arg}' of '{op_type}' Op requires l-value input: pass a tf.Variable, got "
                        f"tensor '{t.name}' of dtype {t.dtype.name}")


def as_ref(ref: Any, what: str = "ref") -> Tensor:
    """A Variable's ref tensor (or a ref-typed Tensor as is); TypeError for anything else."""
    if hasattr(ref, "_ref"):
        return ref._ref()
    if isinstance(ref, Tensor) and ref.dtype.is_ref_dtype:
        return ref
    got = f"tensor '{ref.name}' of dtype {ref.dtype.name}" if isinstance(ref, Tensor) else repr(ref)
    raise TypeError(f"'{what}' must be a tf.Variable (a mutable, ref-typed tensor), got {got}. Only "
                    "variables can be assigned to.")


def _scatter_add(xp: Any, a: Any, indices: Any, values: Any) -> None:
    # numpy and CuPy (>= 13) both provide ufunc.at; duplicates accumulate like TF's ScatterAdd.
    xp.add.at(a, indices, values)


# -- VariableV2 -------------------------------------------------------------------------------------
def _variable_shape(ins, attrs):
    s = attrs["shape"]
    return attrs["dtype"]._as_ref, None if s is None else s.as_tuple()


@op("VariableV2", attrs={"shape": REQUIRED, "dtype": REQUIRED, "container": "", "shared_name": ""},
    shape=_variable_shape, stateful=True, needs_ctx=True, not_differentiable=True, session_constant=True)
def variable_v2_kernel(xp, *, shape, dtype, container, shared_name, ctx):
    # Gradients reach a variable through its `read` Identity; tf.gradients(xs=[var]) uses var._ref().
    name = shared_name or ctx.name
    return ctx.resources.lookup_or_create(
        container, name, lambda: VarRef(name, dtype.base_dtype.as_numpy_dtype,
                                         None if shape is None else shape.as_tuple()))


def variable_op_v2(shape: Any, dtype: Any, name: str = "Variable", container: str = "",
                   shared_name: str = "") -> Tensor:
    """Creates a VariableV2 op and returns its ref-typed output (the storage, uninitialized)."""
    from labflow.ops.common import get_default_graph
    g = get_default_graph()
    s = as_shape(shape) if shape is not None else TensorShape(None)
    # TF fills an empty `container` attr of a stateful op from the enclosing tf.container() scope.
    container = container or getattr(g._s, "container", "")
    return g.create_op("VariableV2", [], attrs={"shape": s, "dtype": _dt.as_dtype(dtype).base_dtype,
                                                "container": container, "shared_name": shared_name},
                       name=name).outputs[0]


# -- Assign -----------------------------------------------------------------------------------------
def _assign_shape(ins, attrs):
    check_ref(ins, "Assign")
    ref, value = ins
    if attrs["validate_shape"]:
        return ref.dtype, merge_dims(dims(ref), dims(value))
    return ref.dtype, dims(value)


@op("Assign", inputs=("ref", "value"), attrs={"validate_shape": True, "use_locking": True}, types=ALL_TYPES,
    shape=_assign_shape, ref_inputs=(0,), stateful=True, not_differentiable=True)
def assign_kernel(xp, ref, value, *, validate_shape, use_locking):
    cur = ref.value
    if cur is not None and cur.shape == np.shape(value):
        xp.copyto(cur, value)
    else:
        if cur is not None and validate_shape:
            from labflow import errors
            raise errors.InvalidArgumentError(
                None, None, f"Assign requires shapes of both tensors to match. lhs shape= {list(cur.shape)} "
                f"rhs shape= {list(np.shape(value))} (variable {ref.name}); pass validate_shape=False to "
                "change the variable's shape")
        # A copy: the stored array must never alias a constant, a feed or another variable.
        ref.value = xp.array(value, copy=True)
    return ref


def assign(ref: Any, value: Any, validate_shape: bool | None = None, use_locking: bool | None = None,
           name: str | None = None) -> Tensor:
    """Stores `value` in the variable `ref` (TF 1.x `tf.assign`).

    Args:
        ref: a Variable (or its ref tensor).
        value: the new value; converted to the variable's dtype.
        validate_shape: if True (default), `value` must have the variable's shape.
        use_locking: if True (default), the update is done under the variable's lock.
        name: op name (default "Assign").

    Returns:
        The variable's ref tensor, holding the new value once the op has run.
    """
    r = as_ref(ref)
    v = convert_to_tensor(value, dtype=r.dtype.base_dtype)
    attrs = {"validate_shape": True if validate_shape is None else bool(validate_shape),
             "use_locking": True if use_locking is None else bool(use_locking)}
    return make_tensor("Assign", [r, v], attrs, name or "Assign")


# -- CountUpTo ----------------------------------------------------------------------------------------
def _count_up_to_shape(ins, attrs):
    check_ref(ins, "CountUpTo")
    if dims(ins[0]) not in (None, ()):
        raise ValueError(f"CountUpTo needs a scalar variable, got shape {list(dims(ins[0]))}")
    return ins[0].dtype.base_dtype, ()


@op("CountUpTo", inputs=("ref",), attrs={"limit": REQUIRED}, types=(_dt.int32, _dt.int64),
    shape=_count_up_to_shape, ref_inputs=(0,), stateful=True, not_differentiable=True, needs_ctx=True)
def count_up_to_kernel(xp, ref, *, limit, ctx):
    """The variable's value before adding one, atomically; OutOfRangeError once it has reached `limit`
    (what `tf.train.limit_epochs` counts epochs with)."""
    from labflow import errors
    with ref.lock:
        cur = deref(ref)
        before = cur.copy()
        if int(before) >= limit:
            raise errors.OutOfRangeError(None, ctx.op, f"Reached limit of {limit}")
        xp.add(cur, 1, out=cur)
    return before


def count_up_to(ref: Any, limit: int, name: str | None = None) -> Tensor:
    """Increments the scalar int variable `ref` until it reaches `limit` (TF 1.x `tf.count_up_to`).

    Returns:
        The value before the increment; running it once `ref` holds `limit` raises OutOfRangeError.
    """
    r = as_ref(ref)
    return make_tensor("CountUpTo", [r], {"limit": int(limit), "T": r.dtype.base_dtype}, name or "CountUpTo")


# -- AssignAdd / AssignSub ----------------------------------------------------------------------------
def _assign_update_shape(op_type: str):
    def fn(ins, attrs):
        check_ref(ins, op_type)
        return ins[0].dtype, merge_dims(dims(ins[0]), dims(ins[1]))
    return fn


@op("AssignAdd", inputs=("ref", "value"), attrs={"use_locking": False}, types=NUMERIC_TYPES,
    shape=_assign_update_shape("AssignAdd"), ref_inputs=(0,), stateful=True, not_differentiable=True)
def assign_add_kernel(xp, ref, value, *, use_locking):
    cur = deref(ref)
    xp.add(cur, value, out=cur)
    return ref


def _assign_mul_shape(ins, attrs):
    check_ref(ins, "_AssignMul")
    ref, value = dims(ins[0]), dims(ins[1])
    if ref is not None and value is not None and broadcast_dims(ref, value) != ref:
        raise ValueError(f"_AssignMul: value of shape {list(value)} does not broadcast to the variable's {list(ref)}")
    return ins[0].dtype, ref


@op("_AssignMul", inputs=("ref", "value"), attrs={"use_locking": False}, types=NUMERIC_TYPES,
    shape=_assign_mul_shape, ref_inputs=(0,), stateful=True, not_differentiable=True)
def assign_mul_kernel(xp, ref, value, *, use_locking):
    """`ref *= value` in place: what runtime/fusion.py makes of `v.assign(v * c)` (Adam's beta powers),
    one pass instead of a product and a copy."""
    cur = deref(ref)
    xp.multiply(cur, value, out=cur)
    return ref


@op("AssignSub", inputs=("ref", "value"), attrs={"use_locking": False}, types=NUMERIC_TYPES,
    shape=_assign_update_shape("AssignSub"), ref_inputs=(0,), stateful=True, not_differentiable=True)
def assign_sub_kernel(xp, ref, value, *, use_locking):
    cur = deref(ref)
    xp.subtract(cur, value, out=cur)
    return ref


def assign_add(ref: Any, value: Any, use_locking: bool | None = None, name: str | None = None) -> Tensor:
    """Adds `value` to the variable `ref` in place (TF 1.x `tf.assign_add`); returns the ref."""
    r = as_ref(ref)
    v = convert_to_tensor(value, dtype=r.dtype.base_dtype)
    return make_tensor("AssignAdd", [r, v], {"use_locking": bool(use_locking)}, name or "AssignAdd")


def assign_sub(ref: Any, value: Any, use_locking: bool | None = None, name: str | None = None) -> Tensor:
    """Subtracts `value` from the variable `ref` in place (TF 1.x `tf.assign_sub`); returns the ref."""
    r = as_ref(ref)
    v = convert_to_tensor(value, dtype=r.dtype.base_dtype)
    return make_tensor("AssignSub", [r, v], {"use_locking": bool(use_locking)}, name or "AssignSub")


# -- IsVariableInitialized ------------------------------------------------------------------------------
def _is_init_shape(ins, attrs):
    check_ref(ins, "IsVariableInitialized")
    return _dt.bool, ()


@op("IsVariableInitialized", inputs=("ref",), attrs={"dtype": None}, shape=_is_init_shape, ref_inputs=(0,),
    stateful=True, not_differentiable=True)
def is_variable_initialized_kernel(xp, ref, *, dtype):
    return xp.asarray(ref.value is not None)


def is_variable_initialized(ref: Any, name: str | None = None) -> Tensor:
    """A scalar bool tensor: whether the variable holds a value yet."""
    r = as_ref(ref)
    return make_tensor("IsVariableInitialized", [r], {"dtype": r.dtype.base_dtype},
                       name or "IsVariableInitialized")


# -- ScatterAdd / ScatterSub / ScatterUpdate --------------------------------------------------------
def _scatter_shape(op_type: str, name_op: bool = False):
    """Shape function of the row scatters; `name_op` ends the updates-shape error with the op type (the
    ScatterMul/Div/Min/Max family's wording; ScatterAdd/Sub/Update keep their original message)."""
    def fn(ins, attrs):
        check_ref(ins, op_type)
        ref, indices, updates = ins
        rd, idd, ud = dims(ref), dims(indices), dims(updates)
        if rd is not None and len(rd) == 0:
            raise ValueError(f"Shape must be at least rank 1 but is rank 0 ('{op_type}' needs a variable "
                             "with a first dimension to index)")
        if ud is not None and len(ud) == 0:
            return ref.dtype, rd
        if rd is not None and idd is not None:
            want = tuple(idd) + tuple(rd[1:])
            try:
                merge_dims(ud, want)
            except ValueError:
                where = f" for '{op_type}'" if name_op else ""
                raise ValueError(f"Must have updates.shape = indices.shape + params.shape[1:] or "
                                 f"updates.shape = [], got updates.shape {shape_str(ud)}, indices.shape "
                                 f"{shape_str(idd)}, params.shape {shape_str(rd)}{where}") from None
        return ref.dtype, rd
    return fn


def _scatter_op(op_type: str, use_locking: bool, types: tuple, shape: Any = None):
    """Registers an in-place (ref, indices, updates) variable update; `shape` defaults to the row scatters'."""
    return op(op_type, inputs=("ref", "indices", "updates"),
              attrs={"use_locking": use_locking, "Tindices": _dt.int32}, types=types,
              type_inputs=("ref", "updates"), shape=shape or _scatter_shape(op_type), ref_inputs=(0,),
              stateful=True, not_differentiable=True)


@_scatter_op("ScatterAdd", False, NUMERIC_TYPES)
def scatter_add_kernel(xp, ref, indices, updates, *, use_locking, Tindices):
    _scatter_add(xp, deref(ref), indices, updates)
    return ref


@_scatter_op("ScatterSub", False, NUMERIC_TYPES)
def scatter_sub_kernel(xp, ref, indices, updates, *, use_locking, Tindices):
    _scatter_add(xp, deref(ref), indices, xp.negative(updates))
    return ref


@_scatter_op("ScatterUpdate", True, ALL_TYPES)
def scatter_update_kernel(xp, ref, indices, updates, *, use_locking, Tindices):
    # With duplicate indices one of the updates wins (TF leaves the order undefined too).
    deref(ref)[indices] = updates
    return ref


def _scatter(op_type: str, default_locking: bool, ref: Any, indices: Any, updates: Any, use_locking: Any,
             name: str | None) -> Tensor:
    r = as_ref(ref)
    idx = convert_to_tensor(indices, dtype_hint=_dt.int32)
    if idx.dtype.base_dtype not in INDEX_TYPES:
        raise TypeError(f"Value passed to parameter 'indices' has DataType {idx.dtype.name} not in list of "
                        f"allowed values: int32, int64 (op {op_type})")
    u = convert_to_tensor(updates, dtype=r.dtype.base_dtype)
    lock = default_locking if use_locking is None else bool(use_locking)
    return make_tensor(op_type, [r, idx, u], {"use_locking": lock, "Tindices": idx.dtype.base_dtype},
                       name or op_type)


def scatter_add(ref: Any, indices: Any, updates: Any, use_locking: bool = False,
                name: str | None = None) -> Tensor:
    """`ref[indices] += updates` in place; duplicate indices accumulate. Returns the ref."""
    return _scatter("ScatterAdd", False, ref, indices, updates, use_locking, name)


def scatter_sub(ref: Any, indices: Any, updates: Any, use_locking: bool = False,
                name: str | None = None) -> Tensor:
    """`ref[indices] -= updates` in place; duplicate indices accumulate. Returns the ref."""
    return _scatter("ScatterSub", False, ref, indices, updates, use_locking, name)


def scatter_update(ref: Any, indices: Any, updates: Any, use_locking: bool = True,
                   name: str | None = None) -> Tensor:
    """`ref[indices] = updates` in place. Returns the ref."""
    return _scatter("ScatterUpdate", True, ref, indices, updates, use_locking, name)
