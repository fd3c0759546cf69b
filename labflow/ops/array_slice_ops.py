"""Array ops that take parts of a tensor: slice and strided_slice (with `Tensor.__getitem__`). Part of
the array family (re-exported by array_ops)."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.convert import make_const
from labflow.framework.registry import op
from labflow.framework.shapes import Dimension, shape_str
from labflow.framework.tensor import Tensor
from labflow.ops.array_join_ops import pad, stack
from labflow.ops.array_ops import (
    _check_rank,
    _check_vector,
    _int_const,
    _ints,
    _set_attrs,
    _shape_of,
    ones_like,
)
from labflow.ops.common import (
    ALL_TYPES,
    INDEX_TYPES,
    base,
    constant_shape,
    constant_value,
    convert_to_tensor,
    dims,
    make_tensor,
)

__all__ = ["slice", "strided_slice"]

_pyslice = builtins.slice  # `slice` below is TF's op wrapper
_MASKS = ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask")


def _index_dtype_error(what: str, dt: _dt.DType) -> TypeError:
    return TypeError(f"Value passed to parameter '{what}' has DataType {dt.name} not in list of allowed "
                     "values: int32, int64")


def _partial_values(t: Tensor) -> list | None:
    """Per-element static values of a 1-D index tensor (None entries where unknown; None: unknown length)."""
    v = constant_value(t)
    if v is not None:
        return [int(x) for x in np.reshape(v, [-1])]
    o = t.op
    if o.type == "Pack" and o.get_attr("axis") == 0:
        out = []
        for x in o.inputs:
            xv = constant_value(x)
            out.append(None if xv is None or np.ndim(xv) else int(xv))
        return out
    d = dims(t)
    if d is None or len(d) != 1 or d[0] is None:
        return None
    if o.type == "OnesLike":
        return [1] * d[0]
    return [None] * d[0]


def _index_tensors(values: list, op_name: str) -> list[Tensor]:
    """Converts begin/end/strides-like arguments to one index dtype (the first tensor's, else int32)."""
    dt = next((base(v) for v in values if isinstance(v, Tensor)), _dt.int32)
    out = [convert_to_tensor(v, dtype=dt) if not isinstance(v, Tensor) else v for v in values]
    for t in out:
        if base(t) not in INDEX_TYPES:
            raise TypeError(f"{op_name}: index arguments must be int32 or int64 tensors, got {base(t).name}")
        if base(t) != dt:
            raise TypeError(f"{op_name}: index arguments must share one dtype, got {dt.name} and "
                            f"{base(t).name}")
    return out


# -- Slice ------------------------------------------------------------------------------------------
def _slice_shape(ins, attrs):
    x, b, sz = ins
    _check_vector(b)
    _check_vector(sz)
    if base(b) not in INDEX_TYPES:
        raise _index_dtype_error("begin", base(b))
    _set_attrs(attrs, Index=base(b))
    xd, bv, sv = dims(x), _partial_values(b), _partial_values(sz)
    lens = {len(v) for v in (bv, sv) if v is not None}
    if len(lens) > 1 or (xd is not None and lens and lens != {len(xd)}):
        want = "?" if xd is None else len(xd)
        raise ValueError(f"Expected begin and size arguments to be 1-D tensors of size {want}, but got "
                         f"shapes {shape_str(dims(b))} and {shape_str(dims(sz))} instead.")
    r = len(xd) if xd is not None else (lens.pop() if lens else None)
    if r is None:
        return base(x), None
    xd = xd if xd is not None else (None,) * r
    bv = bv if bv is not None else [None] * r
    sv = sv if sv is not None else [None] * r
    out = []
    for i, (d, bb, ss) in enumerate(zip(xd, bv, sv)):
        if bb is not None and (bb < 0 or (d is not None and bb > d)):
            raise ValueError(f"Expected begin[{i}] in [0, {'?' if d is None else d}], but got {bb}")
        if ss is not None and ss < -1:
            raise ValueError(f"Expected size[{i}] >= -1, but got {ss}")
        if ss is not None and ss >= 0 and d is not None and bb is not None and bb + ss > d:
            raise ValueError(f"Expected size[{i}] in [0, {d - bb}], but got {ss}")
        if ss == -1:
            out.append(None if d is None or bb is None else d - bb)
        else:
            out.append(ss)
    return base(x), tuple(out)


@op("Slice", inputs=("input", "begin", "size"), attrs={"Index": None}, types=ALL_TYPES,
    type_inputs=("input",), shape=_slice_shape, host_inputs=(1, 2))
def slice_kernel(xp, input, begin, size):
    return input[tuple(_pyslice(b, None if s == -1 else b + s) for b, s in zip(_ints(begin), _ints(size)))]


@slice_kernel.grad
def _slice_grad(op, grad):
    x, b, _ = op.inputs
    grad = convert_to_tensor(grad)
    xd, bv, od = dims(x), constant_value(b), dims(op.outputs[0])
    if all(d is not None for d in (xd or (None,)) + (od or (None,))) and bv is not None:
        bv = [int(v) for v in np.reshape(bv, [-1])]
        pads = [[bb, d - bb - o] for d, bb, o in zip(xd, bv, od)]
        return [pad(grad, _int_const(np.reshape(pads, [-1, 2]), grad.graph, base(b))), None, None]
    # Padding after = shape(x) - begin - shape(out), built from graph ops.
    after = make_tensor("Sub", [make_tensor("Sub", [_shape_of(x, base(b)), b]),
                                _shape_of(op.outputs[0], base(b))])
    return [pad(grad, stack([b, after], axis=1)), None, None]


def slice(input_: Any, begin: Any, size: Any, name: str | None = None) -> Tensor:  # noqa: A001 - TF's name
    """Extracts `input_[begin[i] : begin[i] + size[i]]` along every dimension; size -1 means "to the end"."""
    x = convert_to_tensor(input_)
    b, s = _index_tensors([begin, size], "slice")
    return make_tensor("Slice", [x, b, s], None, name or "Slice")


# -- StridedSlice -----------------------------------------------------------------------------------
def _index_tuple(begin: list, end: list, strides: list, begin_mask: int, end_mask: int, ellipsis_mask: int,
                 new_axis_mask: int, shrink_axis_mask: int) -> tuple:
    """The NumPy basic index equivalent to a strided-slice spec (Python and TF clamp slices alike)."""
    idx: list = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        bit = 1 << i
        if ellipsis_mask & bit:
            idx.append(Ellipsis)
        elif new_axis_mask & bit:
            idx.append(None)
        elif shrink_axis_mask & bit:
            idx.append(b)
        else:
            idx.append(_pyslice(None if begin_mask & bit else b, None if end_mask & bit else e, s))
    return tuple(idx)


def _strided_dims(xd: tuple | None, b: list | None, e: list | None, s: list | None, attrs: dict
                  ) -> tuple | None:
    bm, em, elm, nm, sm = (attrs[k] for k in _MASKS)
    n = next((len(v) for v in (b, e, s) if v is not None), None)
    if n is None:
        return None
    b, e, s = (v if v is not None else [None] * n for v in (b, e, s))
    ell = [i for i in builtins.range(n) if elm >> i & 1]
    if len(ell) > 1:
        raise ValueError("Multiple ellipses in slice spec not allowed")
    if xd is None:
        return None
    r = len(xd)
    real = sum(1 for i in builtins.range(n) if not (elm >> i & 1) and not (nm >> i & 1))
    if real > r:
        raise ValueError(f"Index out of range using input dim {r}; input has only {r} dims")
    out: list = []
    d = 0
    for i in builtins.range(n):
        bit = 1 << i
        if elm & bit:
            out.extend(xd[d:d + r - real])
            d += r - real
            continue
        if nm & bit:
            out.append(1)
            continue
        dim = xd[d]
        d += 1
        if s[i] == 0:
            raise ValueError(f"strides[{i}] must be non-zero")
        if sm & bit:
            if s[i] is not None and s[i] < 0:
                raise ValueError("only stride 1 allowed on non-range indexing.")
            if b[i] is not None and dim is not None and not -dim <= b[i] < dim:
                raise ValueError(f"slice index {b[i]} of dimension {d - 1} out of bounds.")
            continue
        lo = None if bm & bit else b[i]
        hi = None if em & bit else e[i]
        known = dim is not None and s[i] is not None and (lo is not None or bm & bit) and \
            (hi is not None or em & bit)
        out.append(len(builtins.range(*_pyslice(lo, hi, s[i]).indices(dim))) if known else None)
    if not ell:
        out.extend(xd[d:])
    return tuple(out)


def _strided_slice_shape(ins, attrs):
    x, b, e, s = ins
    for t, what in zip((b, e, s), ("begin", "end", "strides")):
        _check_rank(t, 1)
        if base(t) not in INDEX_TYPES:
            raise _index_dtype_error(what, base(t))
        if base(t) != base(b):
            raise TypeError(f"Input '{what}' of 'StridedSlice' Op has type {base(t).name} that does not "
                            f"match type {base(b).name} of argument 'begin'.")
    _set_attrs(attrs, Index=base(b))
    vals = [_partial_values(t) for t in (b, e, s)]
    lens = {len(v) for v in vals if v is not None}
    if len(lens) > 1:
        raise ValueError(f"Expected begin, end, and strides to be 1D equal size tensors, but got shapes "
                         f"{', '.join(shape_str(dims(t)) for t in (b, e, s))} instead.")
    return base(x), _strided_dims(dims(x), *vals, attrs)


@op("StridedSlice", inputs=("input", "begin", "end", "strides"),
    attrs={"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0, "shrink_axis_mask": 0,
           "Index": None},
    types=ALL_TYPES, type_inputs=("input",), shape=_strided_slice_shape, host_inputs=(1, 2, 3))
def strided_slice_kernel(xp, input, begin, end, strides, *, begin_mask, end_mask, ellipsis_mask,
                         new_axis_mask, shrink_axis_mask):
    return input[_index_tuple(_ints(begin), _ints(end), _ints(strides), begin_mask, end_mask, ellipsis_mask,
                              new_axis_mask, shrink_axis_mask)]


def _masks(op: Any) -> dict:
    return {k: op.get_attr(k) for k in _MASKS}


@strided_slice_kernel.grad
def _strided_slice_grad(op, grad):
    x, b, e, s = op.inputs
    g = make_tensor("StridedSliceGrad", [_shape_of(x, base(b)), b, e, s, convert_to_tensor(grad)], _masks(op))
    return [g, None, None, None]


def _strided_slice_grad_shape(ins, attrs):
    shp, b = ins[0], ins[1]
    _set_attrs(attrs, Index=base(b))
    return base(ins[4]), constant_shape(shp)


@op("StridedSliceGrad", inputs=("shape", "begin", "end", "strides", "dy"),
    attrs={"begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0, "new_axis_mask": 0, "shrink_axis_mask": 0,
           "Index": None},
    types=ALL_TYPES, type_inputs=("dy",), shape=_strided_slice_grad_shape, host_inputs=(0, 1, 2, 3))
def strided_slice_grad_kernel(xp, shape, begin, end, strides, dy, *, begin_mask, end_mask, ellipsis_mask,
                              new_axis_mask, shrink_axis_mask):
    out = xp.zeros(tuple(_ints(shape)), dtype=dy.dtype)
    out[_index_tuple(_ints(begin), _ints(end), _ints(strides), begin_mask, end_mask, ellipsis_mask,
                     new_axis_mask, shrink_axis_mask)] = dy
    return out


@strided_slice_grad_kernel.grad
def _strided_slice_grad_grad(op, grad):
    _, b, e, s, _ = op.inputs
    return [None, None, None, None, strided_slice(grad, b, e, s, **_masks(op))]


def strided_slice(input_: Any, begin: Any, end: Any, strides: Any = None, begin_mask: int = 0,
                  end_mask: int = 0, ellipsis_mask: int = 0, new_axis_mask: int = 0,
                  shrink_axis_mask: int = 0, var: Any = None, name: str | None = None) -> Tensor:
    """Extracts a strided slice `input_[begin:end:strides]` with TF's mask semantics.

    Bit i of `begin_mask`/`end_mask` ignores begin[i]/end[i] (the widest range); of `ellipsis_mask` makes
    entry i an ellipsis; of `new_axis_mask` inserts a size-1 dimension; of `shrink_axis_mask` takes the
    single index begin[i] and drops that dimension. `t[...]` builds this op.
    """
    x = convert_to_tensor(input_)
    if strides is None:
        b, e = _index_tensors([begin, end], "strided_slice")
        bv = constant_value(b)
        s = ones_like(b) if bv is None else make_const(np.ones_like(bv), base(b))
    else:
        b, e, s = _index_tensors([begin, end, strides], "strided_slice")
    attrs = {"begin_mask": int(begin_mask), "end_mask": int(end_mask), "ellipsis_mask": int(ellipsis_mask),
             "new_axis_mask": int(new_axis_mask), "shrink_axis_mask": int(shrink_axis_mask)}
    return make_tensor("StridedSlice", [x, b, e, s], attrs, name or "StridedSlice")


_SLICE_TYPE_ERROR = ("Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and scalar "
                     "tf.int32/tf.int64 tensors are valid indices")


def _check_index(idx: Any) -> Any:
    """A valid scalar index as an int or an int tensor; TypeError (TF's text) for anything else."""
    if isinstance(idx, (bool, np.bool_)):
        raise TypeError(f"{_SLICE_TYPE_ERROR}, got {idx!r} (a bool: use tf.boolean_mask for masks)")
    if isinstance(idx, (int, np.integer)):
        return int(idx)
    if isinstance(idx, Dimension) and idx.value is not None:
        return idx.value
    if isinstance(idx, Tensor) and base(idx) in INDEX_TYPES and dims(idx) in ((), None):
        return idx
    raise TypeError(f"{_SLICE_TYPE_ERROR}, got {idx!r}")


def _pack_index(values: list, dt: _dt.DType, name: str) -> Tensor:
    if not any(isinstance(v, Tensor) for v in values):
        return make_const(np.array(values, dtype=dt.as_numpy_dtype), dt, name=name)
    parts = []
    for v in values:
        if not isinstance(v, Tensor):
            v = make_const(np.array(v, dtype=dt.as_numpy_dtype), dt)
        elif base(v) != dt:
            from labflow.ops.math_ops import cast
            v = cast(v, dt)
        parts.append(v)
    return make_tensor("Pack", parts, {"N": len(parts), "axis": 0}, name)


def _slice_helper(tensor: Tensor, slice_spec: Any, var: Any = None) -> Tensor:
    """`tensor[slice_spec]` as one StridedSlice (TF's `_slice_helper`).

    Ints and scalar int tensors pick one index (dropping the dimension), slices may have negative
    starts, stops and steps, `...` stands for the remaining dimensions and `None` (tf.newaxis) adds one.
    """
    if not isinstance(slice_spec, (list, tuple)):
        slice_spec = [slice_spec]
    begin: list = []
    end: list = []
    strides: list = []
    masks = dict.fromkeys(_MASKS, 0)
    for index, s in enumerate(slice_spec):
        bit = 1 << index
        if isinstance(s, _pyslice):
            begin.append(0 if s.start is None else _check_index(s.start))
            end.append(0 if s.stop is None else _check_index(s.stop))
            strides.append(1 if s.step is None else _check_index(s.step))
            masks["begin_mask"] |= bit if s.start is None else 0
            masks["end_mask"] |= bit if s.stop is None else 0
        elif s is Ellipsis or s is None:
            begin.append(0)
            end.append(0)
            strides.append(1)
            masks["ellipsis_mask" if s is Ellipsis else "new_axis_mask"] |= bit
        else:
            i = _check_index(s)
            begin.append(i)
            end.append(i + 1 if not isinstance(i, Tensor) else
                       make_tensor("Add", [i, make_const(np.array(1, base(i).as_numpy_dtype), base(i))]))
            strides.append(1)
            masks["shrink_axis_mask"] |= bit
    g = tensor.graph
    with g.name_scope("strided_slice") as name:
        items = begin + end + strides
        dt = _dt.int64 if any(isinstance(v, Tensor) and base(v) == _dt.int64 for v in items) else _dt.int32
        if begin:
            pb, pe, ps = (_pack_index(v, dt, "stack") for v in (begin, end, strides))
        else:
            pb = pe = ps = make_const(np.zeros([0], np.int32), name="stack")
        return strided_slice(tensor, pb, pe, ps, name=name, **masks)


Tensor._override_operator("__getitem__", _slice_helper)
