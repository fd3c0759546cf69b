"""Array ops that rearrange a tensor's dimensions: expand_dims, squeeze, transpose, reverse and tile,
plus range. Part of the array family (re-exported by array_ops)."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.convert import make_const
from labflow.framework.registry import op
from labflow.framework.shapes import shape_str
from labflow.framework.tensor import Tensor
from labflow.ops.array_ops import (
    _check_rank,
    _check_vector,
    _index_tensor,
    _int,
    _int_const,
    _ints,
    _set_attrs,
    _shape_of,
    rank,
    reshape,
    size,
)
from labflow.ops.common import (
    ALL_TYPES,
    INDEX_TYPES,
    base,
    constant_value,
    convert_to_tensor,
    dims,
    get_default_graph,
    make_tensor,
)

__all__ = ["range", "expand_dims", "squeeze", "transpose", "invert_permutation", "reverse", "reverse_v2",
           "tile"]


# -- Range ------------------------------------------------------------------------------------------
_RANGE_TYPES = (_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64, _dt.int8, _dt.int16, _dt.int32,
                _dt.int64)


def _range_shape(ins, attrs):
    dt = base(ins[0])
    for t, what in zip(ins, ("start", "limit", "delta")):
        _check_rank(t, 0)
        if base(t) != dt:
            raise TypeError(f"Input '{what}' of 'Range' Op has type {base(t).name} that does not match type "
                            f"{dt.name} of argument 'start'.")
    if dt not in _RANGE_TYPES:
        raise TypeError(f"Value passed to parameter 'start' has DataType {dt.name} not in list of allowed "
                        f"values: {', '.join(d.name for d in _RANGE_TYPES)}")
    _set_attrs(attrs, Tidx=dt)
    vals = [constant_value(t) for t in ins]
    if any(v is None for v in vals):
        return dt, (None,)
    start, limit, delta = (np.asarray(v).item() for v in vals)
    if delta == 0:
        raise ValueError(f"Requires delta != 0: {delta}")
    if delta > 0 and start > limit:
        raise ValueError(f"Requires start <= limit when delta > 0: {start}/{limit}")
    if delta < 0 and start < limit:
        raise ValueError(f"Requires start >= limit when delta < 0: {start}/{limit}")
    return dt, (max(0, int(np.ceil((limit - start) / delta))),)


@op("Range", inputs=("start", "limit", "delta"), attrs={"Tidx": None}, shape=_range_shape,
    not_differentiable=True, host_inputs=(0, 1, 2))
def range_kernel(xp, start, limit, delta):
    # Computed in float64/int64 and cast: the length matches the shape function's ceil((limit-start)/delta).
    return xp.arange(start.item(), limit.item(), delta.item()).astype(start.dtype, copy=False)


_RANGE_HIERARCHY = (_dt.int32, _dt.int64, _dt.float32, _dt.float64)


def range(start: Any, limit: Any = None, delta: Any = 1, dtype: Any = None,  # noqa: A001 - TF's name
          name: str = "range") -> Tensor:
    """A 1-D sequence from `start` (inclusive) to `limit` (exclusive) by `delta`; `range(n)` is 0..n-1.

    Without `dtype`, the result takes the widest of the arguments' types in int32 < int64 < float32 <
    float64 (Python ints are int32, floats float32).
    """
    if limit is None:
        start, limit = 0, start
    g = get_default_graph()
    for v in (start, limit, delta):
        if isinstance(v, Tensor):
            g = v.graph
    with g.as_default(), g.name_scope(name or "range") as scope:
        dt = None if dtype is None else _dt.as_dtype(dtype).base_dtype
        args = [convert_to_tensor(v, dtype=dt, name=n) if isinstance(v, Tensor) or dt is not None else v
                for v, n in zip((start, limit, delta), ("start", "limit", "delta"))]
        tensor_dts = {base(a) for a in args if isinstance(a, Tensor)}
        if dt is None and len(tensor_dts) == 1 and tensor_dts <= set(_RANGE_TYPES):
            dt = tensor_dts.pop()  # e.g. float16 tensors: Python values follow them
            args = [a if isinstance(a, Tensor) else convert_to_tensor(a, dtype=dt, name=n)
                    for a, n in zip(args, ("start", "limit", "delta"))]
        if dt is None:
            probes = [a.dtype.base_dtype if isinstance(a, Tensor) else _probe_dtype(a) for a in args]
            for p in probes:
                if p not in _RANGE_HIERARCHY:
                    raise TypeError("range: arguments must be int32, int64, float32 or float64, got "
                                    f"{p.name}")
            dt = max(probes, key=_RANGE_HIERARCHY.index)
            out = []
            for a, n in zip(args, ("start", "limit", "delta")):
                if not isinstance(a, Tensor):
                    a = convert_to_tensor(a, dtype=dt, name=n)
                elif base(a) != dt:
                    from labflow.ops.math_ops import cast
                    a = cast(a, dt)
                out.append(a)
            args = out
        return make_tensor("Range", args, None, scope)


def _probe_dtype(value: Any) -> _dt.DType:
    """The dtype a Python/NumPy value converts to under TF's constant rules."""
    from labflow.framework.convert import _np_value
    return _dt.as_dtype(_np_value(value, None).dtype)


# -- ExpandDims / Squeeze ---------------------------------------------------------------------------
def _expand_dims_shape(ins, attrs):
    x, d = ins
    _set_attrs(attrs, Tdim=base(d))
    dd = dims(d)
    if dd is not None and (len(dd) > 1 or (len(dd) == 1 and dd[0] not in (None, 1))):
        raise ValueError(f"'dim' input must be a tensor with a single value, got shape {shape_str(dd)}")
    xd = dims(x)
    v = constant_value(d)
    if xd is None:
        return base(x), None
    r = len(xd)
    if v is None:
        return base(x), (None,) * (r + 1)
    a = int(np.reshape(v, [-1])[0])
    if a < -r - 1 or a > r:
        raise ValueError(f"Tried to expand dim index {a} for tensor with {r} dimensions.")
    a = a + r + 1 if a < 0 else a
    return base(x), xd[:a] + (1,) + xd[a:]


@op("ExpandDims", inputs=("input", "dim"), attrs={"Tdim": None}, types=ALL_TYPES, type_inputs=("input",),
    shape=_expand_dims_shape, host_inputs=(1,))
def expand_dims_kernel(xp, input, dim):
    return xp.expand_dims(input, _int(dim))


@expand_dims_kernel.grad
def _expand_dims_grad(op, grad):
    return [reshape(grad, _shape_of(op.inputs[0])), None]


def _pick_alias(new: Any, old: Any, new_name: str, old_name: str) -> Any:
    if new is not None and old is not None:
        raise ValueError(f"Cannot specify both '{new_name}' and '{old_name}'")
    return new if new is not None else old


def expand_dims(input: Any, axis: Any = None, name: str | None = None, dim: Any = None) -> Tensor:
    """Inserts a size-1 dimension at `axis` (`dim` is the deprecated TF1 spelling)."""
    axis = _pick_alias(axis, dim, "axis", "dim")
    if axis is None:
        raise ValueError("Must specify an axis argument to tf.expand_dims()")
    x = convert_to_tensor(input)
    a = _index_tensor(axis, "axis", "expand_dims")
    return make_tensor("ExpandDims", [x, a], None, name or "ExpandDims")


def _squeeze_shape(ins, attrs):
    xd = dims(ins[0])
    sq = list(attrs["squeeze_dims"] or [])
    if xd is None:
        return base(ins[0]), None
    r = len(xd)
    norm = set()
    for a in sq:
        if not -r <= a < r:
            raise ValueError(f"Tried to squeeze dim index {a} for tensor with {r} dimensions.")
        a = a % r
        if xd[a] is not None and xd[a] != 1:
            raise ValueError(f"Can not squeeze dim[{a}], expected a dimension of 1, got {xd[a]}")
        norm.add(a)
    if not sq:
        if any(d is None for d in xd):
            return base(ins[0]), None  # an unknown dim may or may not be 1
        return base(ins[0]), tuple(d for d in xd if d != 1)
    return base(ins[0]), tuple(d for i, d in enumerate(xd) if i not in norm)


@op("Squeeze", inputs=("input",), attrs={"squeeze_dims": []}, types=ALL_TYPES, shape=_squeeze_shape)
def squeeze_kernel(xp, input, *, squeeze_dims):
    return xp.squeeze(input, axis=tuple(squeeze_dims)) if squeeze_dims else xp.squeeze(input)


@squeeze_kernel.grad
def _squeeze_grad(op, grad):
    return [reshape(grad, _shape_of(op.inputs[0]))]


def squeeze(input: Any, axis: Any = None, name: str | None = None, squeeze_dims: Any = None) -> Tensor:
    """Removes size-1 dimensions: those in `axis` (`squeeze_dims` in TF1), else all of them."""
    axis = _pick_alias(axis, squeeze_dims, "axis", "squeeze_dims")
    if axis is None:
        axis = []
    elif np.isscalar(axis) or isinstance(axis, np.ndarray) and axis.ndim == 0:
        axis = [axis]
    x = convert_to_tensor(input)
    return make_tensor("Squeeze", [x], {"squeeze_dims": [int(a) for a in axis]}, name or "Squeeze")


# -- Transpose / InvertPermutation ------------------------------------------------------------------
def _transpose_shape(ins, attrs):
    x, perm = ins
    _check_vector(perm)
    _set_attrs(attrs, Tperm=base(perm))
    xd, pd, pv = dims(x), dims(perm), constant_value(perm)
    n = pd[0] if pd is not None and len(pd) == 1 else None
    if xd is not None and n is not None and n != len(xd):
        raise ValueError(f"transpose expects a vector of size {len(xd)}. But input(1) is a vector of size "
                         f"{n}")
    r = len(xd) if xd is not None else n
    if pv is None:
        return base(x), None if r is None else (None,) * r
    p = [int(v) for v in np.reshape(pv, [-1])]
    if sorted(p) != list(np.arange(len(p))):
        raise ValueError(f"perm must be a permutation of 0..{len(p) - 1}, got {p}")
    if xd is None:
        return base(x), (None,) * len(p)
    return base(x), tuple(xd[i] for i in p)


@op("Transpose", inputs=("x", "perm"), attrs={"Tperm": None}, types=ALL_TYPES, type_inputs=("x",),
    shape=_transpose_shape, host_inputs=(1,))
def transpose_kernel(xp, x, perm):
    return xp.transpose(x, _ints(perm))


@transpose_kernel.grad
def _transpose_grad(op, grad):
    perm = op.inputs[1]
    pv = constant_value(perm)
    if pv is not None:
        inv = _int_const(np.argsort(np.reshape(pv, [-1])), grad.graph, base(perm))
    else:
        inv = invert_permutation(perm)
    return [transpose(grad, inv), None]


def transpose(a: Any, perm: Any = None, name: str = "transpose", conjugate: bool = False) -> Tensor:
    """Permutes dimensions: output dim i is input dim `perm[i]`; `perm=None` reverses them."""
    x = convert_to_tensor(a)
    g = x.graph
    with g.name_scope(name or "transpose") as scope:
        if perm is None:
            d = dims(x)
            if d is not None:
                p = make_const(np.arange(len(d) - 1, -1, -1, dtype=np.int32), name="perm", graph=g)
            else:
                p = reverse(range(0, rank(x), 1), [0])
        else:
            p = _index_tensor(perm, "perm", "transpose") if isinstance(perm, Tensor) else \
                convert_to_tensor(perm, dtype_hint=_dt.int32, name="perm")
            if base(p) not in INDEX_TYPES:
                raise TypeError(f"transpose: `perm` must be int32 or int64, got {base(p).name}")
        out = make_tensor("Transpose", [x, p], None, scope)
    if conjugate and x.dtype.is_complex:
        out = make_tensor("Conj", [out])
    return out


def _invert_permutation_shape(ins, attrs):
    _check_rank(ins[0], 1)
    return base(ins[0]), dims(ins[0])


@op("InvertPermutation", inputs=("x",), types=INDEX_TYPES, shape=_invert_permutation_shape,
    not_differentiable=True)
def invert_permutation_kernel(xp, x):
    out = xp.empty_like(x)
    out[x] = xp.arange(x.shape[0], dtype=x.dtype)
    return out


def invert_permutation(x: Any, name: str | None = None) -> Tensor:
    """The inverse of the permutation vector `x`: `y[x[i]] = i`."""
    t = _index_tensor(x, "x", "invert_permutation")
    return make_tensor("InvertPermutation", [t], None, name or "InvertPermutation")
# -- ReverseV2 --------------------------------------------------------------------------------------
def _reverse_shape(ins, attrs):
    x, axis = ins
    _check_vector(axis)
    _set_attrs(attrs, Tidx=base(axis))
    xd, av = dims(x), constant_value(axis)
    if xd is not None and av is not None:
        r, seen = len(xd), set()
        for i, a in enumerate(int(v) for v in np.reshape(av, [-1])):
            if not -r <= a < r:
                raise ValueError(f"'axis'[{i}] = {a} is out of valid range [{-r}, {r - 1}]")
            if a % r in seen:
                raise ValueError(f"axis {a % r} specified more than once.")
            seen.add(a % r)
    return base(x), xd


@op("ReverseV2", inputs=("tensor", "axis"), attrs={"Tidx": None}, types=ALL_TYPES, type_inputs=("tensor",),
    shape=_reverse_shape, host_inputs=(1,))
def reverse_kernel(xp, tensor, axis):
    ax = tuple(_ints(axis))
    return xp.flip(tensor, axis=ax) if ax else tensor


@reverse_kernel.grad
def _reverse_grad(op, grad):
    return [reverse(grad, op.inputs[1]), None]


def reverse(tensor: Any, axis: Any, name: str | None = None) -> Tensor:
    """Reverses `tensor` along each dimension in the 1-D `axis` (TF 1.x `tf.reverse`, op ReverseV2)."""
    x = convert_to_tensor(tensor)
    a = _index_tensor(axis, "axis", "reverse")
    return make_tensor("ReverseV2", [x, a], None, name or "ReverseV2")


reverse_v2 = reverse


# -- Tile -------------------------------------------------------------------------------------------
def _tile_shape(ins, attrs):
    x, m = ins
    _check_rank(m, 1)
    _set_attrs(attrs, Tmultiples=base(m))
    xd, md, mv = dims(x), dims(m), constant_value(m)
    if xd is not None and md is not None and md[0] is not None and md[0] != len(xd):
        raise ValueError(f"Expected multiples argument to be a vector of length {len(xd)} but got length "
                         f"{md[0]}")
    r = len(xd) if xd is not None else (md[0] if md is not None else None)
    if r is None:
        return base(x), None
    xd = xd if xd is not None else (None,) * r
    if mv is None:
        return base(x), tuple(0 if d == 0 else None for d in xd)
    mv = [int(v) for v in np.reshape(mv, [-1])]
    for i, v in enumerate(mv):
        if v < 0:
            raise ValueError(f"Expected multiples[{i}] >= 0, but got {v}")
    return base(x), tuple(None if d is None else d * v for d, v in zip(xd, mv))


@op("Tile", inputs=("input", "multiples"), attrs={"Tmultiples": None}, types=ALL_TYPES,
    type_inputs=("input",), shape=_tile_shape, host_inputs=(1,))
def tile_kernel(xp, input, multiples):
    return xp.tile(input, tuple(_ints(multiples)))


@tile_kernel.grad
def _tile_grad(op, grad):
    from labflow.ops.math_ops import reduce_sum
    x, m = op.inputs
    grad = convert_to_tensor(grad)
    xd, mv = dims(x), constant_value(m)
    if xd is not None and all(d is not None for d in xd) and mv is not None:
        # Reshape to [m0, d0, m1, d1, ...] and sum the multiple axes (all static).
        split_shape = [int(v) for pair in zip(np.reshape(mv, [-1]), xd) for v in pair]
        return [reduce_sum(reshape(grad, split_shape), axis=list(np.arange(0, 2 * len(xd), 2))), None]
    from labflow.ops.array_join_ops import stack
    split_shape = reshape(transpose(stack([m, _shape_of(x, base(m))])), [-1])
    axes = range(0, size(split_shape, out_type=base(m)), 2)
    out = reduce_sum(reshape(grad, split_shape), axis=axes)
    out.set_shape(x.get_shape())
    return [out, None]


def tile(input: Any, multiples: Any, name: str | None = None) -> Tensor:
    """Repeats `input` `multiples[i]` times along dimension i."""
    x = convert_to_tensor(input)
    m = _index_tensor(multiples, "multiples", "tile")
    return make_tensor("Tile", [x, m], None, name or "Tile")


