"""Array ops over sequences and shapes: where_v2, sequence_mask, reverse_sequence, roll, lin_space, meshgrid,
repeat, identity_n, ensure_shape, broadcast_static_shape / broadcast_dynamic_shape and parallel_stack."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.framework.shapes import TensorShape, as_shape, broadcast_dims, shape_str
from labflow.framework.tensor import Tensor
from labflow.ops.array_ops import _int, _ints, _set_attrs, reshape
from labflow.ops.common import (
    ALL_TYPES,
    FLOAT_TYPES,
    INDEX_TYPES,
    base,
    constant_value,
    convert_same_dtype,
    convert_to_tensor,
    dims,
    make_op,
    make_tensor,
    merge_dims,
)

__all__ = ["where_v2", "sequence_mask", "reverse_sequence", "roll", "lin_space", "linspace", "meshgrid", "repeat",
           "identity_n", "ensure_shape", "broadcast_static_shape", "broadcast_dynamic_shape", "parallel_stack"]


# -- SelectV2 ----------------------------------------------------------------------------------------------
def _select_v2_shape(ins, attrs):
    c, t, e = ins
    if base(c) != _dt.bool:
        raise TypeError(f"Value passed to parameter 'condition' has DataType {base(c).name} not in list of allowed "
                        "values: bool")
    return base(t), broadcast_dims(dims(c), broadcast_dims(dims(t), dims(e)))


@op("SelectV2", inputs=("condition", "t", "e"), types=ALL_TYPES, type_inputs=("t", "e"), shape=_select_v2_shape)
def select_v2_kernel(xp, condition, t, e):
    return xp.where(condition, t, e)


@select_v2_kernel.grad
def _select_v2_grad(op, grad):
    grad = convert_to_tensor(grad)
    from labflow.framework.gradients import unbroadcast
    from labflow.ops.array_ops import zeros
    c, x, y = op.inputs
    zero = zeros([], dtype=base(grad))
    gx = where_v2(c, grad, zero)
    gy = where_v2(c, zero, grad)
    return [None, unbroadcast(gx, x), unbroadcast(gy, y)]


def where_v2(condition: Any, x: Any = None, y: Any = None, name: str | None = None) -> Tensor:
    """`x` where `condition` holds, else `y`, with condition, x and y broadcast together (NumPy's where).

    With neither x nor y: the int64 coordinates of the true entries of `condition` (as `tf.where`).
    """
    from labflow.ops.array_gather_ops import where
    if x is None and y is None:
        return where(condition, name=name)
    if x is None or y is None:
        raise ValueError("x and y must both be non-None or both be None.")
    c = convert_to_tensor(condition, dtype=_dt.bool, name="condition")
    xv, yv = convert_same_dtype([x, y])
    return make_tensor("SelectV2", [c, xv, yv], None, name or "SelectV2")


# -- sequence_mask (a composite, as in TF) ----------------------------------------------------------------
def sequence_mask(lengths: Any, maxlen: Any = None, dtype: Any = _dt.bool, name: str | None = None) -> Tensor:
    """`mask[i..., j] = j < lengths[i...]`, with shape `lengths.shape + [maxlen]`.

    Args:
        lengths: integer tensor of sequence lengths.
        maxlen: scalar int; default: the largest length.
        dtype: output dtype (default bool).
        name: name scope (default "SequenceMask").
    """
    from labflow.ops import math_ops
    from labflow.ops.array_join_ops import concat
    from labflow.ops.array_ops import zeros as array_ops_zeros
    from labflow.ops.array_reshape_ops import expand_dims
    from labflow.ops.array_reshape_ops import range as _range
    with name_scope(name, "SequenceMask", [lengths, maxlen]):
        ln = convert_to_tensor(lengths, dtype_hint=_dt.int32, name="lengths")
        if not base(ln).is_integer:
            raise TypeError(f"sequence_mask: lengths must be integers, got {base(ln).name}")
        if maxlen is None:
            # the max of the lengths and 0 (a 0 appended keeps it defined for empty lengths)
            m = math_ops.reduce_max(concat([reshape(ln, [-1]), array_ops_zeros([1], base(ln))], 0))
        else:
            m = convert_to_tensor(maxlen, dtype_hint=base(ln), name="maxlen")
            md = dims(m)
            if md is not None and len(md) != 0:
                raise ValueError(f"maxlen must be scalar for sequence_mask, got shape {shape_str(md)}")
        row = _range(0, m, 1, dtype=base(m))
        mask = math_ops.less(row, math_ops.cast(expand_dims(ln, -1), base(m)))
        dt = _dt.as_dtype(dtype).base_dtype
        return mask if dt == _dt.bool else math_ops.cast(mask, dt)


# -- ReverseSequence -----------------------------------------------------------------------------------------
def _reverse_sequence_shape(ins, attrs):
    x, lens = ins
    if base(lens) not in INDEX_TYPES:
        raise TypeError(f"ReverseSequence: seq_lengths must be int32 or int64, got {base(lens).name}")
    _set_attrs(attrs, Tlen=base(lens))
    xd, ld = dims(x), dims(lens)
    if ld is not None and len(ld) != 1:
        raise ValueError(f"Shape must be rank 1 but is rank {len(ld)} for 'ReverseSequence' (input 'seq_lengths')")
    sd, bd = attrs["seq_dim"], attrs["batch_dim"]
    if xd is not None:
        r = len(xd)
        if sd == bd:
            raise ValueError(f"ReverseSequence: seq_dim and batch_dim must differ, both are {sd}")
        if not (0 <= sd < r and 0 <= bd < r):
            raise ValueError(f"ReverseSequence: seq_dim ({sd}) and batch_dim ({bd}) must be in [0, {r}) for input "
                             f"of shape {shape_str(xd)}")
        if ld is not None:
            try:
                merge_dims((xd[bd],), ld)
            except ValueError:
                raise ValueError(f"ReverseSequence: len(seq_lengths) {ld[0]} must equal input.dims({bd}) = "
                                 f"{xd[bd]}") from None
    return base(x), xd


@op("ReverseSequence", inputs=("input", "seq_lengths"), attrs={"seq_dim": 0, "batch_dim": 0, "Tlen": None},
    types=ALL_TYPES, type_inputs=("input",), shape=_reverse_sequence_shape)
def reverse_sequence_kernel(xp, input, seq_lengths, *, seq_dim, batch_dim):
    t, b = input.shape[seq_dim], input.shape[batch_dim]
    if seq_lengths.shape != (b,):
        raise errors.InvalidArgumentError(None, None, f"ReverseSequence: len(seq_lengths) {seq_lengths.shape[0]} != "
                                          f"input.dims({batch_dim}) {b}")
    lens = seq_lengths.astype(np.int64, copy=False)
    if b and bool(((lens < 0) | (lens > t)).any()):
        bad = int(xp.argmax((lens < 0) | (lens > t)))
        raise errors.InvalidArgumentError(None, None, f"ReverseSequence: seq_lens({bad}) = {int(lens[bad])} is not in "
                                          f"[0, input.dims({seq_dim}) = {t}]")
    j = xp.arange(t)[None, :]
    src = xp.where(j < lens[:, None], lens[:, None] - 1 - j, j)  # [batch, time]
    shape = [1] * input.ndim
    shape[batch_dim], shape[seq_dim] = b, t
    if batch_dim > seq_dim:
        src = src.T
    return xp.take_along_axis(input, src.reshape(shape), axis=seq_dim) if input.size else input.copy()


@reverse_sequence_kernel.grad
def _reverse_sequence_grad(op, grad):
    grad = convert_to_tensor(grad)
    return [reverse_sequence(grad, op.inputs[1], seq_axis=op.get_attr("seq_dim"),
                             batch_axis=op.get_attr("batch_dim")), None]


def reverse_sequence(input: Any, seq_lengths: Any, seq_axis: int | None = None, batch_axis: int | None = None,  # noqa: A002
                     name: str | None = None, seq_dim: int | None = None, batch_dim: int | None = None) -> Tensor:
    """Reverses the first `seq_lengths[i]` entries along `seq_axis` of each slice `i` along `batch_axis`.

    Entries past a sequence's length stay where they are. `seq_dim` / `batch_dim` are the deprecated
    spellings of `seq_axis` / `batch_axis` (default batch axis: 0).
    """
    if seq_axis is not None and seq_dim is not None and seq_axis != seq_dim:
        raise ValueError("Cannot specify both 'seq_axis' and 'seq_dim'")
    if batch_axis is not None and batch_dim is not None and batch_axis != batch_dim:
        raise ValueError("Cannot specify both 'batch_axis' and 'batch_dim'")
    sa = seq_axis if seq_axis is not None else seq_dim
    if sa is None:
        raise TypeError("reverse_sequence() needs seq_axis")
    ba = batch_axis if batch_axis is not None else (batch_dim if batch_dim is not None else 0)
    x = convert_to_tensor(input, name="input")
    lens = convert_to_tensor(seq_lengths, dtype_hint=_dt.int64, name="seq_lengths")
    xd = dims(x)
    if xd is not None:
        sa, ba = (a % len(xd) if -len(xd) <= a < len(xd) else a for a in (int(sa), int(ba)))
    return make_tensor("ReverseSequence", [x, lens], {"seq_dim": int(sa), "batch_dim": int(ba)},
                       name or "ReverseSequence")


# -- Roll ---------------------------------------------------------------------------------------------------
def _roll_shape(ins, attrs):
    x, s, a = ins
    for t, what in ((s, "shift"), (a, "axis")):
        if base(t) not in INDEX_TYPES:
            raise TypeError(f"Roll: {what} must be int32 or int64, got {base(t).name}")
        d = dims(t)
        if d is not None and len(d) > 1:
            raise ValueError(f"Roll: {what} must be a scalar or a vector, got shape {shape_str(d)}")
    sd, ad = dims(s), dims(a)
    if sd is not None and ad is not None and len(sd) == len(ad) == 1 and None not in (sd[0], ad[0]) \
            and sd[0] != ad[0]:
        raise ValueError(f"Roll: shift and axis must have the same size, got {sd[0]} and {ad[0]}")
    _set_attrs(attrs, Tshift=base(s), Taxis=base(a))
    return base(x), dims(x)


@op("Roll", inputs=("input", "shift", "axis"), attrs={"Tshift": None, "Taxis": None}, types=ALL_TYPES,
    type_inputs=("input",), shape=_roll_shape, host_inputs=(1, 2))
def roll_kernel(xp, input, shift, axis):
    s = [int(v) for v in np.reshape(shift, [-1]).tolist()]
    a = [int(v) for v in np.reshape(axis, [-1]).tolist()]
    if len(s) != len(a):
        raise errors.InvalidArgumentError(None, None, f"Roll: shift and axis must have the same size, got {len(s)} "
                                          f"and {len(a)}")
    r = input.ndim
    for v in a:
        if not -r <= v < r:
            raise errors.InvalidArgumentError(None, None, f"Roll: axis {v} is out of range for input of rank {r}")
    return xp.roll(input, tuple(s), axis=tuple(a)) if a else input.copy()


@roll_kernel.grad
def _roll_grad(op, grad):
    grad = convert_to_tensor(grad)
    from labflow.ops.math_ops import negative
    return [roll(grad, negative(op.inputs[1]), op.inputs[2]), None, None]


def roll(input: Any, shift: Any, axis: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """Rolls `input` by `shift` places along `axis` (scalars or matching vectors; entries wrap around)."""
    x = convert_to_tensor(input, name="input")
    s = convert_to_tensor(shift, dtype_hint=_dt.int32, name="shift")
    a = convert_to_tensor(axis, dtype_hint=_dt.int32, name="axis")
    return make_tensor("Roll", [x, s, a], None, name or "Roll")


# -- LinSpace ------------------------------------------------------------------------------------------------
def _lin_space_shape(ins, attrs):
    start, stop, num = ins
    for t, what in ((start, "start"), (stop, "stop"), (num, "num")):
        d = dims(t)
        if d is not None and len(d) != 0:
            raise ValueError(f"Shape must be rank 0 but is rank {len(d)} for 'LinSpace' (input '{what}')")
    if base(num) not in INDEX_TYPES:
        raise TypeError(f"LinSpace: num must be int32 or int64, got {base(num).name}")
    _set_attrs(attrs, Tidx=base(num))
    nv = constant_value(num)
    if nv is not None and int(nv) <= 0:
        raise ValueError(f"Requires num > 0: {int(nv)} (LinSpace)")
    return base(start), (None if nv is None else int(nv),)


@op("LinSpace", inputs=("start", "stop", "num"), attrs={"Tidx": None}, types=(_dt.bfloat16, _dt.float32, _dt.float64),
    type_inputs=("start", "stop"), shape=_lin_space_shape, host_inputs=(2,), not_differentiable=True)
def lin_space_kernel(xp, start, stop, num):
    n = _int(num)
    if n <= 0:
        raise errors.InvalidArgumentError(None, None, f"LinSpace: Requires num > 0: {n}")
    if n == 1:
        return start.reshape(1).copy()
    # In the input dtype, as TF's kernel computes it: start + i * step, with the last entry exactly stop.
    step = (stop - start) / start.dtype.type(n - 1)
    out = start + xp.arange(n, dtype=start.dtype) * step
    out[-1] = stop
    return out


def lin_space(start: Any, stop: Any, num: Any, name: str | None = None) -> Tensor:
    """`num` evenly spaced values from `start` to `stop`, both included (float32/float64 scalars)."""
    s, e = convert_same_dtype([start, stop])
    if base(s) not in FLOAT_TYPES:
        raise TypeError(f"lin_space: start and stop must be floating point, got {base(s).name}")
    n = convert_to_tensor(num, dtype_hint=_dt.int32, name="num")
    return make_tensor("LinSpace", [s, e, n], None, name or "LinSpace")


linspace = lin_space


# -- meshgrid (a composite, as in TF) ----------------------------------------------------------------------
def meshgrid(*args: Any, **kwargs: Any) -> list[Tensor]:
    """Coordinate grids from 1-D tensors: N outputs of rank N.

    Keyword args: `indexing` 'xy' (default: Cartesian, the first two output axes swapped) or 'ij'
    (matrix), and `name`.
    """
    from labflow.ops import math_ops
    from labflow.ops.array_join_ops import stack
    from labflow.ops.array_ops import ones, size
    indexing = kwargs.pop("indexing", "xy")
    name = kwargs.pop("name", "meshgrid")
    if kwargs:
        raise TypeError(f"meshgrid: unexpected keyword arguments {sorted(kwargs)}")
    if indexing not in ("xy", "ij"):
        raise ValueError(f"indexing parameter must be either 'xy' or 'ij', got {indexing!r}")
    with name_scope(name, "meshgrid", list(args)):
        xs = convert_same_dtype(list(args)) if args else []
        n = len(xs)
        if not n:
            return []
        ones_shape = (1,) * n
        out = [reshape(x, list(ones_shape[:i] + (-1,) + ones_shape[i + 1:])) for i, x in enumerate(xs)]
        shapes = [size(x) for x in xs]
        if indexing == "xy" and n > 1:
            out[0] = reshape(out[0], [1, -1] + [1] * (n - 2))
            out[1] = reshape(out[1], [-1, 1] + [1] * (n - 2))
            shapes[0], shapes[1] = shapes[1], shapes[0]
        fill = ones(stack(shapes), dtype=base(xs[0]))
        return [math_ops.multiply(x, fill) for x in out]


# -- repeat (a composite of gather, as in TF 1.15) -----------------------------------------------------------
def repeat(input: Any, repeats: Any, axis: int | None = None, name: str | None = None) -> Tensor:  # noqa: A002
    """Repeats each entry of `input` along `axis` (flattened when None) `repeats` times.

    `repeats` is a scalar or a 1-D tensor with one count per entry along the axis.
    """
    from labflow.ops import math_ops
    from labflow.ops.array_gather_ops import gather
    from labflow.ops.array_ops import fill, shape
    from labflow.ops.array_reshape_ops import range as _range
    from labflow.ops.array_sort_ops import searchsorted
    with name_scope(name, "Repeat", [input, repeats]):
        x = convert_to_tensor(input, name="input")
        if axis is None:
            x = reshape(x, [-1])
            axis = 0
        xd = dims(x)
        if xd is None:
            raise ValueError("repeat needs an input of known rank")
        if not -len(xd) <= int(axis) < len(xd):
            raise ValueError(f"repeat: axis {axis} is out of range for an input of rank {len(xd)}")
        a = int(axis) % len(xd)
        r = convert_to_tensor(repeats, dtype=_dt.int32, name="repeats")
        rd = dims(r)
        if rd is None or len(rd) > 1:
            raise ValueError(f"repeat: repeats must be a scalar or a vector, got shape {shape_str(rd)}")
        if rd and rd[0] is not None and xd[a] is not None and rd[0] not in (1, xd[a]):
            raise ValueError(f"repeat: repeats has {rd[0]} entries but the input has {xd[a]} along axis {a}")
        n = shape(x)[a]
        counts = fill(reshape(n, [1]), reshape(r, [])) if rd in ((), (1,)) else r
        ends = math_ops.cumsum(counts)
        # entry k of the output comes from the first source whose running count exceeds k
        positions = _range(0, math_ops.reduce_sum(counts), 1)
        src = searchsorted(ends, positions, side="right")
        out = gather(x, src, axis=a)
        rv = constant_value(r)
        if rv is not None and xd[a] is not None and (rv.ndim == 0 or rv.shape == (xd[a],)):
            total = int(rv) * xd[a] if rv.ndim == 0 else int(rv.sum())
            out.set_shape(xd[:a] + (total,) + xd[a + 1:])
        return out


# -- IdentityN / EnsureShape --------------------------------------------------------------------------------------
def _identity_n_shape(ins, attrs):
    _set_attrs(attrs, T=[base(t) for t in ins])
    return [(base(t), dims(t)) for t in ins]


@op("IdentityN", inputs=("*input",), attrs={"T": None}, shape=_identity_n_shape,
    outputs=lambda attrs, n: n)
def identity_n_kernel(xp, *input):
    return list(input) if len(input) != 1 else input[0]


@identity_n_kernel.grad
def _identity_n_grad(op, *grads):
    return list(grads)


def identity_n(input: Any, name: str | None = None) -> list[Tensor]:  # noqa: A002
    """Returns a list of tensors with the same values as the list `input` (one op for all of them)."""
    ts = [convert_to_tensor(t) for t in input]
    return list(make_op("IdentityN", ts, None, name or "IdentityN").outputs)


def _ensure_shape_shape(ins, attrs):
    want = attrs["shape"]
    have = TensorShape(dims(ins[0]))
    if not have.is_compatible_with(want):
        raise ValueError(f"Shape of tensor {ins[0].name} {have} is not compatible with expected shape {want}.")
    return base(ins[0]), have.merge_with(want).as_tuple()


@op("EnsureShape", inputs=("input",), attrs={"shape": None}, types=ALL_TYPES, shape=_ensure_shape_shape)
def ensure_shape_kernel(xp, input, *, shape):
    if not shape.is_compatible_with(input.shape):
        raise errors.InvalidArgumentError(None, None, f"Shape of tensor {list(input.shape)} is not compatible with "
                                          f"expected shape {shape}.")
    return input


@ensure_shape_kernel.grad
def _ensure_shape_grad(op, grad):
    return [grad]


def ensure_shape(x: Any, shape: Any, name: str | None = None) -> Tensor:
    """`x`, checked at run time to have a shape compatible with `shape` (None entries match anything);
    the static shape becomes the merge of both."""
    t = convert_to_tensor(x, name="x")
    return make_tensor("EnsureShape", [t], {"shape": as_shape(shape)}, name or "EnsureShape")


# -- broadcast_static_shape / broadcast_dynamic_shape (BroadcastArgs) ----------------------------------------
def broadcast_static_shape(shape_x: Any, shape_y: Any) -> TensorShape:
    """The static broadcast of two TensorShapes; ValueError when they cannot broadcast."""
    sx, sy = as_shape(shape_x), as_shape(shape_y)
    try:
        return TensorShape(broadcast_dims(sx.as_tuple(), sy.as_tuple()))
    except ValueError:
        raise ValueError(f"Incompatible shapes for broadcasting: {sx} and {sy}") from None


def _broadcast_args_shape(ins, attrs):
    a, b = ins
    if base(a) not in INDEX_TYPES or base(a) != base(b):
        raise TypeError(f"BroadcastArgs: s0 and s1 must share an int32/int64 dtype, got {base(a).name} and "
                        f"{base(b).name}")
    ad, bd = dims(a), dims(b)
    for d, what in ((ad, "s0"), (bd, "s1")):
        if d is not None and len(d) != 1:
            raise ValueError(f"Shape must be rank 1 but is rank {len(d)} for 'BroadcastArgs' (input '{what}')")
    _set_attrs(attrs, T=base(a))
    n = None if ad is None or bd is None or None in (ad[0], bd[0]) else max(ad[0], bd[0])
    return base(a), (n,)


@op("BroadcastArgs", inputs=("s0", "s1"), attrs={"T": None}, shape=_broadcast_args_shape, host_op=True,
    not_differentiable=True)
def broadcast_args_kernel(xp, s0, s1):
    a, b = _ints(np.asarray(s0)), _ints(np.asarray(s1))
    try:
        out = np.broadcast_shapes(tuple(a), tuple(b))
    except ValueError:
        raise errors.InvalidArgumentError(None, None, f"Incompatible shapes: {a} vs. {b}") from None
    return np.asarray(out, dtype=np.asarray(s0).dtype).reshape(-1)


def broadcast_dynamic_shape(shape_x: Any, shape_y: Any) -> Tensor:
    """The broadcast of two 1-D shape tensors (BroadcastArgs); InvalidArgumentError when run on shapes
    that cannot broadcast."""
    a, b = convert_same_dtype([shape_x, shape_y])
    return make_tensor("BroadcastArgs", [a, b], None, "BroadcastArgs")


# -- ParallelConcat (parallel_stack) -------------------------------------------------------------------------
def _parallel_concat_shape(ins, attrs):
    s = TensorShape(None)
    for t in ins:
        s = s.merge_with(TensorShape(dims(t)))
    d = s.as_tuple()
    _set_attrs(attrs, N=len(ins))
    if d is not None and (len(d) == 0 or d[0] not in (1, None)):
        raise ValueError(f"ParallelConcat: each value must have a leading dimension of 1, got {shape_str(d)}")
    if d is not None:
        return base(ins[0]), (len(ins),) + tuple(d[1:])
    want = attrs["shape"]
    return base(ins[0]), None if want is None else want.as_tuple()


@op("ParallelConcat", inputs=("*values",), attrs={"N": None, "shape": None}, types=ALL_TYPES,
    shape=_parallel_concat_shape, not_differentiable=True)
def parallel_concat_kernel(xp, *values, shape):
    return xp.concatenate(values, axis=0)


def parallel_stack(values: Any, name: str = "parallel_stack") -> Tensor:
    """Stacks a list of same-shape tensors into one of rank + 1 along a new first axis (ParallelConcat).

    The values' shape must be fully known when the graph is built (as in TF); unlike `stack` it has no
    gradient.
    """
    from labflow.ops.array_reshape_ops import expand_dims
    with name_scope(name, "parallel_stack", list(values)) as scope:
        ts = convert_same_dtype(list(values))
        s = TensorShape(None)
        for t in ts:
            s = s.merge_with(t.get_shape())
        if not s.is_fully_defined():
            raise ValueError(f"parallel_stack needs values of fully known shape, got {s}")
        out_shape = TensorShape([len(ts)] + s.as_list())
        return make_tensor("ParallelConcat", [expand_dims(t, 0) for t in ts], {"shape": out_shape}, scope)
