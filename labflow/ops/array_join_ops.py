"""Array ops that join and split tensors: concat, stack/unstack, split and pad. Part of the array
family (re-exported by array_ops)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from labflow import dtypes as _dt
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
    _merge_dims,
    _multi,
    _rank_error,
    _set_attrs,
    _shape_of,
    reshape,
)
from labflow.ops.common import (
    ALL_TYPES,
    base,
    constant_value,
    convert_same_dtype,
    convert_to_tensor,
    dims,
    make_op,
    make_tensor,
)

__all__ = ["concat", "stack", "unstack", "split", "pad"]


# -- ConcatV2 / ConcatOffset ------------------------------------------------------------------------
def _concat_shape(ins, attrs):
    vals, axis = ins[:-1], ins[-1]
    dt = base(vals[0])
    _check_rank(axis, 0)
    _set_attrs(attrs, Tidx=base(axis), N=len(vals))
    r = None
    for v in vals:
        d = dims(v)
        if d is not None:
            if r is None:
                r = len(d)
            elif len(d) != r:
                raise _rank_error(r, len(d))
    if r is None:
        return dt, None
    if r == 0:
        raise ValueError("Can't concatenate scalars (use tf.stack instead)")
    av = constant_value(axis)
    if av is None:
        return dt, (None,) * r
    a = int(av)
    if not -r <= a < r:
        raise ValueError(f"Expected concat_dim in range [{-r}, {r}), but got {a}")
    a %= r
    rest, total = None, 0
    for v in vals:
        d = dims(v)
        if d is None:
            total = None
            continue
        total = None if total is None or d[a] is None else total + d[a]
        rest = _merge_dims(rest, d[:a] + (None,) + d[a + 1:])
    return dt, rest[:a] + (total,) + rest[a + 1:]


@op("ConcatV2", inputs=("*values", "axis"), attrs={"N": None, "Tidx": None}, types=ALL_TYPES,
    type_inputs=("values",), shape=_concat_shape, host_inputs=(-1,))
def concat_kernel(xp, *args):
    return xp.concatenate(args[:-1], axis=_int(args[-1]))


@concat_kernel.grad
def _concat_grad(op, grad):
    vals, axis = op.inputs[:-1], op.inputs[-1]
    grad = convert_to_tensor(grad)
    av = constant_value(axis)
    ds = [dims(v) for v in vals]
    if av is not None and all(d is not None for d in ds):
        a = int(av) % len(ds[0])
        sizes = [d[a] for d in ds]
        if all(s is not None for s in sizes):
            # One SplitV instead of N slices when the split points are static.
            return list(split(grad, sizes, axis=a)) + [None]
    from labflow.ops.array_slice_ops import slice as _slice
    shapes = [_shape_of(v) for v in vals]
    offsets = make_op("ConcatOffset", [axis] + shapes, {"N": len(vals)}).outputs
    return [_slice(grad, o, s) for o, s in zip(offsets, shapes)] + [None]


def _concat_offset_shape(ins, attrs):
    _check_rank(ins[0], 0)
    _set_attrs(attrs, N=len(ins) - 1)
    return [(_dt.int32, dims(t)) for t in ins[1:]]


@op("ConcatOffset", inputs=("concat_dim", "*shape"), attrs={"N": None}, shape=_concat_offset_shape,
    outputs=lambda attrs, n: n - 1, not_differentiable=True, host_op=True)
def concat_offset_kernel(xp, concat_dim, *shape):
    shapes = [_ints(s) for s in shape]
    a = _int(concat_dim) % len(shapes[0])
    out, off = [], 0
    for s in shapes:
        o = [0] * len(s)
        o[a] = off
        off += s[a]
        out.append(xp.asarray(o, dtype=np.int32))
    return _multi(out)


def concat(values: Any, axis: Any, name: str = "concat") -> Tensor:
    """Joins tensors along an existing dimension `axis` (TF 1.x `tf.concat(values, axis)`).

    All values need the same rank and the same sizes except along `axis`. A single value is passed
    through an Identity (TF's rule).
    """
    if not isinstance(values, (list, tuple)):
        values = [values]
    if not values:
        raise ValueError("concat: `values` must hold at least one tensor")
    if len(values) == 1:
        from labflow.ops.array_ops import identity
        return identity(values[0], name=name or "concat")
    vs = convert_same_dtype(list(values))
    a = _index_tensor(axis, "axis", "concat")
    return make_tensor("ConcatV2", vs + [a], {"N": len(vs)}, name or "concat")


# -- Pack / Unpack ----------------------------------------------------------------------------------
def _pack_shape(ins, attrs):
    _set_attrs(attrs, N=len(ins))
    out = None
    for i, t in enumerate(ins):
        try:
            out = _merge_dims(out, dims(t))
        except ValueError as e:
            raise ValueError(f"{e}\n\tFrom merging shape {i} with other shapes.") from None
    dt = base(ins[0])
    if out is None:
        return dt, None
    r = len(out) + 1
    a = attrs["axis"]
    if not -r <= a < r:
        raise ValueError(f"Invalid axis: {a}; must be in [{-r},{r})")
    a %= r
    return dt, out[:a] + (len(ins),) + out[a:]


@op("Pack", inputs=("*values",), attrs={"N": None, "axis": 0}, types=ALL_TYPES, shape=_pack_shape)
def pack_kernel(xp, *values, axis):
    return xp.stack(values, axis=axis)


@pack_kernel.grad
def _pack_grad(op, grad):
    return unstack(grad, num=op.get_attr("N"), axis=op.get_attr("axis"))


def stack(values: Any, axis: int = 0, name: str = "stack") -> Tensor:
    """Stacks rank-R tensors of one shape into a rank-(R+1) tensor along a new `axis`."""
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"stack: `values` must be a list or tuple of tensors, got {type(values).__name__}")
    if not values:
        raise ValueError("stack: `values` must hold at least one tensor")
    vs = convert_same_dtype(list(values))
    d = dims(vs[0])
    if d is not None and not -(len(d) + 1) <= axis < len(d) + 1:
        raise ValueError(f"axis = {axis} not in [{-(len(d) + 1)}, {len(d) + 1})")
    return make_tensor("Pack", vs, {"N": len(vs), "axis": int(axis)}, name or "stack")


def _unpack_shape(ins, attrs):
    x = ins[0]
    n, a = attrs["num"], attrs["axis"]
    xd = dims(x)
    if xd is None:
        return [(base(x), None)] * n
    r = len(xd)
    if not -r <= a < r:
        raise ValueError(f"Invalid axis: {a}; must be in [{-r},{r})")
    a %= r
    if xd[a] is not None and xd[a] != n:
        raise ValueError(f"Dimension must be {n} but is {xd[a]}: unstack along axis {a} of a tensor of "
                         f"shape {shape_str(xd)}")
    return [(base(x), xd[:a] + xd[a + 1:])] * n


@op("Unpack", inputs=("value",), attrs={"num": None, "axis": 0}, types=ALL_TYPES, shape=_unpack_shape,
    outputs=lambda attrs, n: attrs["num"])
def unpack_kernel(xp, value, *, num, axis):
    return _multi(list(xp.moveaxis(value, axis, 0)))


@unpack_kernel.grad
def _unpack_grad(op, *grads):
    return [stack(list(grads), axis=op.get_attr("axis"))]


def unstack(value: Any, num: int | None = None, axis: int = 0, name: str = "unstack") -> list:
    """Splits `value` along `axis` into a list of `num` tensors of rank R-1."""
    x = convert_to_tensor(value)
    d = dims(x)
    if d is not None:
        if not -len(d) <= axis < len(d):
            raise ValueError(f"axis = {axis} not in [{-len(d)}, {len(d)})")
        if num is None:
            num = d[axis]
    if num is None:
        raise ValueError(f"Cannot infer num from shape {x.get_shape()}")
    return make_op("Unpack", [x], {"num": int(num), "axis": int(axis), "T": base(x)},
                   name or "unstack").outputs


# -- Split / SplitV ---------------------------------------------------------------------------------
def _split_axis(xd: tuple, av: Any) -> int:
    r = len(xd)
    a = int(av)
    if not -r <= a < r:
        raise ValueError(f"-input rank(-{r}) <= split_dim < input rank ({r}), but got {a}")
    return a % r


def _split_shape(ins, attrs):
    axis_t, x = ins
    _check_rank(axis_t, 0)
    n, dt = attrs["num_split"], base(x)
    if n < 1:
        raise ValueError(f"num_split must be at least 1, got {n}")
    xd, av = dims(x), constant_value(axis_t)
    if xd is None:
        return [(dt, None)] * n
    if av is None:
        return [(dt, (None,) * len(xd))] * n
    a = _split_axis(xd, av)
    d = xd[a]
    if d is not None and d % n:
        raise ValueError(f"Dimension size must be evenly divisible by {n} but is {d}")
    return [(dt, xd[:a] + (None if d is None else d // n,) + xd[a + 1:])] * n


@op("Split", inputs=("split_dim", "value"), attrs={"num_split": None}, types=ALL_TYPES,
    type_inputs=("value",), shape=_split_shape, outputs=lambda attrs, n: attrs["num_split"], host_inputs=(0,))
def split_kernel(xp, split_dim, value, *, num_split):
    a = _int(split_dim)
    a = a + value.ndim if a < 0 else a
    step = value.shape[a] // num_split
    return _pieces(xp, value, a, [step * i for i in range(num_split + 1)])


def _pieces(xp: Any, value: Any, axis: int, bounds: list[int]) -> Any:
    """value split along `axis` at `bounds` (first 0, last the axis size), each piece contiguous.

    Plain slicing (xp.split costs ~20 us in Python), and a copy of every piece that is not already
    contiguous: splitting [20, 800] gate pre-activations along axis 1 gives strided views, on which
    each later elementwise op takes NumPy's slow strided loop (sigmoid 20 us instead of 11 us). A GPU
    keeps the views: its kernels read strided memory at full speed, and each copy would be a launch.
    """
    lead = (slice(None),) * axis
    out = []
    for lo, hi in zip(bounds, bounds[1:]):
        piece = value[lead + (slice(lo, hi),)]
        out.append(piece if piece.flags.c_contiguous or xp is not np else np.ascontiguousarray(piece))
    return _multi(out)


@split_kernel.grad
def _split_grad(op, *grads):
    return [None, concat(list(grads), op.inputs[0])]


def _splitv_shape(ins, attrs):
    x, sizes_t, axis_t = ins
    _check_vector(sizes_t)
    _check_rank(axis_t, 0)
    _set_attrs(attrs, Tlen=base(sizes_t))
    n, dt = attrs["num_split"], base(x)
    sd = dims(sizes_t)
    if sd is not None and len(sd) == 1 and sd[0] is not None and sd[0] != n:
        raise ValueError(f"size_splits has {sd[0]} entries but num_split is {n}")
    xd, av, sv = dims(x), constant_value(axis_t), constant_value(sizes_t)
    if xd is None:
        return [(dt, None)] * n
    if av is None:
        return [(dt, (None,) * len(xd))] * n
    a = _split_axis(xd, av)
    if sv is None:
        return [(dt, xd[:a] + (None,) + xd[a + 1:])] * n
    sizes = [int(s) for s in np.reshape(sv, [-1])]
    neg = [i for i, s in enumerate(sizes) if s == -1]
    if len(neg) > 1:
        raise ValueError("Only one dimension can have a value of -1. Second one found at dimension "
                         f"{neg[1]}.")
    if any(s < -1 for s in sizes):
        raise ValueError(f"size_splits must be >= 0 (or one -1), got {sizes}")
    d, known = xd[a], sum(s for s in sizes if s != -1)
    if d is not None:
        if known > d or (not neg and known != d):
            raise ValueError("Determined shape must either match input shape along split_dim exactly if "
                             "fully specified, or be less than the size of the input along split_dim if not "
                             f"fully specified.  Got: {known}")
        if neg:
            sizes[neg[0]] = d - known
    return [(dt, xd[:a] + (None if s == -1 else s,) + xd[a + 1:]) for s in sizes]


@op("SplitV", inputs=("value", "size_splits", "split_dim"), attrs={"num_split": None, "Tlen": None},
    types=ALL_TYPES, type_inputs=("value",), shape=_splitv_shape, outputs=lambda attrs, n: attrs["num_split"],
    host_inputs=(1, 2))
def splitv_kernel(xp, value, size_splits, split_dim):
    a = _int(split_dim)
    sizes = _ints(size_splits)
    if -1 in sizes:
        sizes[sizes.index(-1)] = value.shape[a] - sum(sizes) - 1
    a = a + value.ndim if a < 0 else a
    return _pieces(xp, value, a, [0] + list(itertools.accumulate(sizes)))


@splitv_kernel.grad
def _splitv_grad(op, *grads):
    return [concat(list(grads), op.inputs[2]), None, None]


def split(value: Any, num_or_size_splits: Any, axis: Any = 0, num: int | None = None,
          name: str = "split") -> list:
    """Splits `value` along `axis`: into `num_or_size_splits` equal parts (an int), or into parts of the
    given sizes (a list or 1-D tensor; one size may be -1, meaning "the rest")."""
    x = convert_to_tensor(value)
    a = _index_tensor(axis, "axis", "split")
    if isinstance(num_or_size_splits, (int, np.integer)) and not isinstance(num_or_size_splits, bool):
        n = int(num_or_size_splits)
        return make_op("Split", [a, x], {"num_split": n, "T": base(x)}, name or "split").outputs
    sizes = _index_tensor(num_or_size_splits, "num_or_size_splits", "split")
    sd = dims(sizes)
    if sd == ():
        raise ValueError("Rank-0 tensors are not supported as the num_or_size_splits argument to split. "
                         f"Argument provided: {num_or_size_splits}")
    if num is None:
        num = sd[0] if sd else None
        if num is None:
            raise ValueError(f"Cannot infer num from shape {num_or_size_splits}")
    return make_op("SplitV", [x, sizes, a], {"num_split": int(num), "T": base(x)}, name or "split").outputs


# -- Pad / PadV2 / MirrorPad ------------------------------------------------------------------------
def _padded_dims(x: Tensor, p: Tensor, attrs: dict, mode: str | None = None) -> tuple | None:
    _set_attrs(attrs, Tpaddings=base(p))
    pd, xd = dims(p), dims(x)
    if pd is not None:
        if len(pd) != 2:
            raise _rank_error(2, len(pd))
        if pd[1] is not None and pd[1] != 2:
            raise ValueError(f"paddings must have shape [rank, 2], got {shape_str(pd)}")
        if xd is not None and pd[0] is not None and pd[0] != len(xd):
            raise ValueError("The first dimension of paddings must be the rank of inputs: paddings has "
                             f"shape {shape_str(pd)}, input has rank {len(xd)}")
    r = len(xd) if xd is not None else (pd[0] if pd is not None else None)
    if r is None:
        return None
    xd = xd if xd is not None else (None,) * r
    pv = constant_value(p)
    if pv is None:
        return (None,) * r
    pv = np.asarray(pv).reshape(r, 2)
    if (pv < 0).any():
        raise ValueError(f"Paddings must be non-negative: {pv.tolist()}")
    for d, (lo, hi) in zip(xd, pv.tolist()):
        if d is None or mode is None:
            continue
        if mode == "REFLECT" and max(lo, hi) > d - 1:
            raise ValueError(f"paddings must be less than the dimension size: {lo}, {hi} not less than {d}")
        if mode == "SYMMETRIC" and max(lo, hi) > d:
            raise ValueError(f"paddings must be no greater than the dimension size: {lo}, {hi} greater than "
                             f"{d}")
    return tuple(None if d is None else d + lo + hi for d, (lo, hi) in zip(xd, pv.tolist()))


def _pad_shape(ins, attrs):
    if len(ins) == 3:
        _check_rank(ins[2], 0)
    return base(ins[0]), _padded_dims(ins[0], ins[1], attrs)


def _pairs(paddings: Any) -> list:
    return [tuple(int(v) for v in row) for row in paddings.tolist()]


@op("Pad", inputs=("input", "paddings"), attrs={"Tpaddings": None}, types=ALL_TYPES, type_inputs=("input",),
    shape=_pad_shape, host_inputs=(1,))
def pad_kernel(xp, input, paddings):
    return xp.pad(input, _pairs(paddings))


@op("PadV2", inputs=("input", "paddings", "constant_values"), attrs={"Tpaddings": None}, types=ALL_TYPES,
    type_inputs=("input", "constant_values"), shape=_pad_shape, host_inputs=(1, 2))
def padv2_kernel(xp, input, paddings, constant_values):
    return xp.pad(input, _pairs(paddings), constant_values=constant_values.item())


def _pad_grad(op, grad):
    from labflow.ops.array_slice_ops import slice as _slice
    x, p = op.inputs[:2]
    pv, xd = constant_value(p), dims(x)
    if pv is not None and xd is not None and all(d is not None for d in xd):
        begin = _int_const(np.reshape(pv, [-1, 2])[:, 0], grad.graph, base(p))
        sz = _int_const(xd, grad.graph, base(p))
    else:
        before = _slice(p, _int_const([0, 0], grad.graph, base(p)), _int_const([-1, 1], grad.graph, base(p)))
        begin, sz = reshape(before, [-1]), _shape_of(x, base(p))
    return [_slice(grad, begin, sz)] + [None] * (len(op.inputs) - 1)


pad_kernel.grad(_pad_grad)
padv2_kernel.grad(_pad_grad)


def _mirror_pad_shape(ins, attrs):
    mode = attrs["mode"]
    if mode not in ("REFLECT", "SYMMETRIC"):
        raise ValueError(f"MirrorPad mode must be REFLECT or SYMMETRIC, got {mode!r}")
    return base(ins[0]), _padded_dims(ins[0], ins[1], attrs, mode)


@op("MirrorPad", inputs=("input", "paddings"), attrs={"mode": "REFLECT", "Tpaddings": None}, types=ALL_TYPES,
    type_inputs=("input",), shape=_mirror_pad_shape, host_inputs=(1,))
def mirror_pad_kernel(xp, input, paddings, *, mode):
    return xp.pad(input, _pairs(paddings), mode=mode.lower())


@mirror_pad_kernel.grad
def _mirror_pad_grad(op, grad):
    g = make_tensor("MirrorPadGrad", [convert_to_tensor(grad), op.inputs[1]], {"mode": op.get_attr("mode")})
    return [g, None]


def _mirror_pad_grad_shape(ins, attrs):
    x, p = ins
    _set_attrs(attrs, Tpaddings=base(p))
    xd, pv = dims(x), constant_value(p)
    if xd is None:
        return base(x), None
    if pv is None:
        return base(x), (None,) * len(xd)
    pv = np.asarray(pv).reshape(len(xd), 2).tolist()
    return base(x), tuple(None if d is None else d - lo - hi for d, (lo, hi) in zip(xd, pv))


def _along(axis: int, s: slice) -> tuple:
    return (slice(None),) * axis + (s,)


@op("MirrorPadGrad", inputs=("input", "paddings"), attrs={"mode": "REFLECT", "Tpaddings": None},
    types=ALL_TYPES, type_inputs=("input",), shape=_mirror_pad_grad_shape, host_inputs=(1,))
def mirror_pad_grad_kernel(xp, input, paddings, *, mode):
    # Fold each padded border back onto the cells it mirrored, one axis at a time.
    off = 1 if mode == "REFLECT" else 0
    g = input
    for ax, (lo, hi) in enumerate(_pairs(paddings)):
        n = g.shape[ax] - lo - hi
        core = g[_along(ax, slice(lo, lo + n))].copy()
        if lo:
            core[_along(ax, slice(off, off + lo))] += xp.flip(g[_along(ax, slice(0, lo))], axis=ax)
        if hi:
            tail = xp.flip(g[_along(ax, slice(lo + n, None))], axis=ax)
            core[_along(ax, slice(n - off - hi, n - off))] += tail
        g = core
    return g if g is not input else input.copy()


@mirror_pad_grad_kernel.grad
def _mirror_pad_grad_grad(op, grad):
    g = make_tensor("MirrorPad", [convert_to_tensor(grad), op.inputs[1]], {"mode": op.get_attr("mode")})
    return [g, None]


def pad(tensor: Any, paddings: Any, mode: str = "CONSTANT", name: str | None = None,
        constant_values: Any = 0) -> Tensor:
    """Pads `tensor` with `paddings[i] = [before, after]` entries along dimension i.

    Modes: "CONSTANT" (with `constant_values`), "REFLECT" (mirror without the edge) and "SYMMETRIC"
    (mirror with the edge); case-insensitive.
    """
    x = convert_to_tensor(tensor)
    p = _index_tensor(paddings, "paddings", "pad")
    m = str(mode).upper()
    if m == "CONSTANT":
        if not isinstance(constant_values, Tensor) and np.all(np.asarray(constant_values) == 0):
            return make_tensor("Pad", [x, p], None, name or "Pad")
        cv = convert_to_tensor(constant_values, dtype=base(x))
        return make_tensor("PadV2", [x, p, cv], None, name or "PadV2")
    if m in ("REFLECT", "SYMMETRIC"):
        return make_tensor("MirrorPad", [x, p], {"mode": m}, name or "MirrorPad")
    raise ValueError(f"Unknown padding mode: {mode}")
