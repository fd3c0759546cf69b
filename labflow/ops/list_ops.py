"""Tensor lists: the values behind `tf.TensorArray` (TF 2's TensorList ops, with TF 1.x's checks).

A list is a `variant` tensor whose value is a Python tuple of arrays (None where nothing was written).
Every op returns a new tuple: a list is a value like any tensor, so a while loop's recorded iterations
never see later writes. The gradient of a list is a list of the same length whose None entries stand
for zeros (None for the whole list: all zeros), so gradients cost nothing for elements nobody read.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.registry import REQUIRED, op
from labflow.ops.common import dims

_V = _dt.variant


def _variant(ins: list, attrs: dict) -> tuple:
    return _V, ()


def _item_shape(ins: list, attrs: dict) -> tuple:
    s = attrs["element_shape"]
    return attrs["element_dtype"], (s.as_tuple() if hasattr(s, "as_tuple") else s)


def _stacked_shape(ins: list, attrs: dict) -> tuple:
    s = attrs["element_shape"]
    s = s.as_tuple() if hasattr(s, "as_tuple") else s
    return attrs["element_dtype"], None if s is None else (None,) + tuple(s)


def _index(i: Any) -> int:
    return int(i.item() if hasattr(i, "item") else i)


def _ctx_error(ctx: Any, msg: str) -> errors.InvalidArgumentError:
    return errors.InvalidArgumentError(None, ctx.op, msg)


# -- making and reading lists --------------------------------------------------------------------------
@op("TensorListReserve", inputs=("num_elements",), attrs={"element_dtype": REQUIRED, "element_shape": None},
    shape=_variant, not_differentiable=True, host_inputs=(0,))
def reserve_kernel(xp, num_elements, *, element_dtype, element_shape):
    return (None,) * _index(num_elements)


@op("TensorListFromTensor", inputs=("tensor",), attrs={"element_shape": None}, shape=_variant)
def from_tensor_kernel(xp, tensor, *, element_shape):
    return tuple(tensor[i] for i in range(tensor.shape[0]))


@op("TensorListLength", inputs=("input_handle",), shape=lambda ins, attrs: (_dt.int32, ()),
    not_differentiable=True, host_outputs=True)
def length_kernel(xp, input_handle):
    import numpy as np
    return np.int32(len(input_handle))


@op("TensorListSetItem", inputs=("input_handle", "index", "item"), attrs={"resizable": False},
    shape=_variant, needs_ctx=True, host_inputs=(1,))
def set_item_kernel(xp, input_handle, index, item, *, resizable, ctx):
    i, items = _index(index), list(input_handle)
    if i < 0 or (i >= len(items) and not resizable):
        raise _ctx_error(ctx, f"Tried to write to index {i} but array is not resizeable and size is: {len(items)}")
    if i >= len(items):
        items.extend([None] * (i + 1 - len(items)))
    if items[i] is not None:
        raise _ctx_error(ctx, f"Could not write to TensorArray index {i} because it has already been written to "
                              "(TensorArray values are written once; write to a new index, or use a new array)")
    items[i] = item
    return tuple(items)


@op("TensorListGetItem", inputs=("input_handle", "index"), attrs={"element_dtype": REQUIRED, "element_shape": None},
    shape=_item_shape, needs_ctx=True, host_inputs=(1,))
def get_item_kernel(xp, input_handle, index, *, element_dtype, element_shape, ctx):
    i = _index(index)
    if not 0 <= i < len(input_handle):
        raise _ctx_error(ctx, f"Tried to read from index {i} but array size is: {len(input_handle)}")
    v = input_handle[i]
    if v is None:
        raise _ctx_error(ctx, f"Could not read from TensorArray index {i} because it has not yet been written to.")
    return v


def _stack(xp: Any, items: Any, element_dtype: Any, element_shape: Any, ctx: Any) -> Any:
    for i, v in enumerate(items):
        if v is None:
            raise _ctx_error(ctx, f"Could not read from TensorArray index {i} because it has not yet been written "
                                  "to.")
    if not items:
        s = element_shape.as_tuple() if hasattr(element_shape, "as_tuple") else element_shape
        if s is None or None in s:
            raise _ctx_error(ctx, "Tried to stack an empty TensorArray whose element shape is not fully known")
        return xp.zeros((0,) + tuple(s), dtype=element_dtype.as_numpy_dtype)
    return xp.stack(list(items))


@op("TensorListStack", inputs=("input_handle",), attrs={"element_dtype": REQUIRED, "element_shape": None},
    shape=_stacked_shape, needs_ctx=True)
def stack_kernel(xp, input_handle, *, element_dtype, element_shape, ctx):
    return _stack(xp, input_handle, element_dtype, element_shape, ctx)


@op("TensorListGather", inputs=("input_handle", "indices"), attrs={"element_dtype": REQUIRED,
                                                                  "element_shape": None},
    shape=_stacked_shape, needs_ctx=True, host_inputs=(1,))
def gather_kernel(xp, input_handle, indices, *, element_dtype, element_shape, ctx):
    picked = []
    for i in [int(i) for i in (indices.tolist() if hasattr(indices, "tolist") else indices)]:
        if not 0 <= i < len(input_handle):
            raise _ctx_error(ctx, f"Tried to read from index {i} but array size is: {len(input_handle)}")
        picked.append(input_handle[i])
    return _stack(xp, picked, element_dtype, element_shape, ctx)


@op("TensorListScatter", inputs=("input_handle", "indices", "tensor"), attrs={"resizable": False},
    shape=_variant, needs_ctx=True, host_inputs=(1,))
def scatter_kernel(xp, input_handle, indices, tensor, *, resizable, ctx):
    out = input_handle
    for k, i in enumerate(int(i) for i in (indices.tolist() if hasattr(indices, "tolist") else indices)):
        out = set_item_kernel.generic_kernel(xp, out, i, tensor[k], resizable=resizable, ctx=ctx)
    return out


# -- gradients -------------------------------------------------------------------------------------------
# A gradient list may be None (all zeros) or hold None entries (zero elements).
@op("TensorListAddN", inputs=("*inputs",), shape=_variant, not_differentiable=True)
def add_n_kernel(xp, *inputs):
    lists = [x for x in inputs if x is not None]
    if not lists:
        return None
    n = max(len(x) for x in lists)
    out = []
    for i in range(n):
        vals = [x[i] for x in lists if i < len(x) and x[i] is not None]
        out.append(None if not vals else vals[0] if len(vals) == 1 else sum(vals[1:], vals[0]))
    return tuple(out)


@op("TensorListZeros", inputs=("like",), shape=_variant, not_differentiable=True)
def zeros_kernel(xp, like):
    return None


@op("TensorListItemGrad", inputs=("dlist", "index", "like"), shape=lambda ins, attrs: (ins[2].dtype.base_dtype,
                                                                                       dims(ins[2])),
    not_differentiable=True, host_inputs=(1,))
def item_grad_kernel(xp, dlist, index, like):
    """d(item) of a write: the list gradient's entry at `index`, zeros where there is none."""
    i = _index(index)
    v = None if dlist is None or i >= len(dlist) else dlist[i]
    return xp.zeros_like(like) if v is None else v


def _indices(index: Any) -> list[int]:
    return [_index(index)] if getattr(index, "ndim", 0) == 0 else [int(i) for i in index.tolist()]


@op("TensorListClearItem", inputs=("dlist", "index"), shape=_variant, not_differentiable=True, host_inputs=(1,))
def clear_item_kernel(xp, dlist, index):
    """d(list) before a write or scatter: the written elements' gradients went to the items."""
    if dlist is None:
        return None
    items = list(dlist)
    for i in _indices(index):
        if i < len(items):
            items[i] = None
    return tuple(items)


@op("TensorListGatherRows", inputs=("dlist", "indices", "like"), shape=lambda ins, attrs: (
    ins[2].dtype.base_dtype, dims(ins[2])), not_differentiable=True, host_inputs=(1,))
def gather_rows_kernel(xp, dlist, indices, like):
    """d(tensor) of a scatter: the list gradient's entries at `indices`, zeros where there are none."""
    rows = []
    for k, i in enumerate(_indices(indices)):
        v = None if dlist is None or i >= len(dlist) else dlist[i]
        rows.append(xp.zeros_like(like[k]) if v is None else v)
    return xp.stack(rows) if rows else xp.zeros_like(like)


@op("TensorListReadGrad", inputs=("like_list", "indices", "dy"), shape=_variant, not_differentiable=True,
    host_inputs=(1,))
def read_grad_kernel(xp, like_list, indices, dy):
    """d(list) of a read (one index, dy an item) or a gather (indices a vector, dy stacked)."""
    items: list = [None] * len(like_list)
    if getattr(indices, "ndim", 0) == 0:
        pairs = [(_index(indices), dy)]
    else:
        pairs = [(int(i), dy[k]) for k, i in enumerate(indices.tolist())]
    for i, g in pairs:
        items[i] = g if items[i] is None else items[i] + g
    return tuple(items)


@op("TensorListStackGrad", inputs=("dlist", "like"), shape=lambda ins, attrs: (ins[1].dtype.base_dtype,
                                                                               dims(ins[1])),
    not_differentiable=True)
def stack_grad_kernel(xp, dlist, like):
    """d(tensor) of an unstack (or of a scatter's rows): the entries stacked, zeros where there are none."""
    if dlist is None:
        return xp.zeros_like(like)
    rows = [xp.zeros_like(like[i]) if i >= len(dlist) or dlist[i] is None else dlist[i] for i in range(like.shape[0])]
    return xp.stack(rows) if rows else xp.zeros_like(like)


# -- gradient functions --------------------------------------------------------------------------------
def _mk(op_type: str, inputs: list, attrs: dict | None = None) -> Any:
    from labflow.ops.common import make_op
    return make_op(op_type, inputs, attrs)._outputs[0]


@from_tensor_kernel.grad
def _from_tensor_grad(op, dlist):
    return [_mk("TensorListStackGrad", [dlist, op.inputs[0]])]


@set_item_kernel.grad
def _set_item_grad(op, dlist):
    lst, index, item = op.inputs
    return [_mk("TensorListClearItem", [dlist, index]), None, _mk("TensorListItemGrad", [dlist, index, item])]


@get_item_kernel.grad
def _get_item_grad(op, dy):
    lst, index = op.inputs
    return [_mk("TensorListReadGrad", [lst, index, dy]), None]


@stack_kernel.grad
def _stack_grad(op, dy):
    return [_mk("TensorListFromTensor", [dy], {"element_shape": op.get_attr("element_shape")})]


@gather_kernel.grad
def _gather_grad(op, dy):
    lst, indices = op.inputs
    return [_mk("TensorListReadGrad", [lst, indices, dy]), None]


@scatter_kernel.grad
def _scatter_grad(op, dlist):
    lst, indices, tensor = op.inputs
    return [_mk("TensorListClearItem", [dlist, indices]), None, _mk("TensorListGatherRows", [dlist, indices, tensor])]
