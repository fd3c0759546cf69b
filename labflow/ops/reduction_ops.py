"""Reductions (reduce_sum/mean/max/min/prod/any/all, logsumexp), argmax/argmin, cumsum/cumprod.

Part of the math family (re-exported by math_ops). Gradients build graph ops through the public
wrappers, looked up at gradient time, so this module does not import math_ops when it loads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops.common import (
    INDEX_TYPES,
    NUMERIC_TYPES,
    REAL_TYPES,
    base,
    constant_value,
    convert_to_tensor,
    dims,
    make_tensor,
    sum_leading,
)
from labflow.ops.math_helpers import op_scope, pick

__all__ = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_any", "reduce_all",
           "reduce_logsumexp", "count_nonzero", "argmax", "argmin", "cumsum", "cumprod"]


def _m() -> Any:
    from labflow.ops import math_ops
    return math_ops


def _a() -> Any:
    from labflow.ops import array_ops
    return array_ops


def _static_axes(axes: Tensor, rank: int | None) -> tuple | None:
    """The reduction axes as sorted non-negative ints, when known at graph-construction time."""
    av = constant_value(axes)
    if av is None or rank is None:
        return None
    out = set()
    for a in np.reshape(av, [-1]).tolist():
        if not -rank <= a < rank:
            raise ValueError(f"Invalid reduction dimension {a} for input with {rank} dimensions")
        out.add(a % rank)
    return tuple(sorted(out))


def reduction_shape(ins, attrs):
    """Shape function of Sum/Mean/Max/...: removes (or keeps as 1) the constant reduction axes."""
    x, axes = ins
    if base(axes) not in INDEX_TYPES:
        raise TypeError(f"Value passed to parameter 'reduction_indices' has DataType {base(axes).name} not "
                        "in list of allowed values: int32, int64")
    ad = dims(axes)
    if ad is not None and len(ad) > 1:
        raise ValueError(f"Shape must be at most rank 1 but is rank {len(ad)}")
    xd = dims(x)
    if xd is None:
        return base(x), None
    ax = _static_axes(axes, len(xd))
    if ax is None:
        return base(x), (None,) * len(xd) if attrs["keep_dims"] else None
    if attrs["keep_dims"]:
        return base(x), tuple(1 if i in ax else d for i, d in enumerate(xd))
    return base(x), tuple(d for i, d in enumerate(xd) if i not in ax)


def _np_axes(axes: Any) -> Any:
    """Axis argument for xp reductions: an int or a tuple (tolist() also reads CuPy arrays)."""
    a = axes.tolist()
    return tuple(a) if isinstance(a, list) else a


_REDUCE = dict(inputs=("input", "reduction_indices"), attrs={"keep_dims": False, "Tidx": _dt.int32},
               type_inputs=("input",), shape=reduction_shape, host_inputs=(1,))


# -- Sum / Mean ------------------------------------------------------------------------------------
@op("Sum", types=NUMERIC_TYPES, **_REDUCE)
def sum_kernel(xp, input, reduction_indices, *, keep_dims):
    if reduction_indices.size == 0:
        # Nothing to reduce (the gradient of a non-broadcasting Add): the input itself, as TF forwards it,
        # instead of NumPy's full copy. The executor treats Sum as a possible view (VIEW_OPS).
        return input
    if input.dtype == np.float16:  # accumulate in float32, like TF
        return xp.sum(input, axis=_np_axes(reduction_indices), keepdims=keep_dims,
                      dtype=np.float32).astype(np.float16)
    axes = _np_axes(reduction_indices)
    if isinstance(axes, tuple) and len(axes) and input.ndim - len(axes) == 1:
        return sum_leading(xp, input, axes, keep_dims)
    return xp.sum(input, axis=axes, keepdims=keep_dims, dtype=input.dtype)


def _grad_with_kept_dims(op, grad):
    """`grad` reshaped so it broadcasts against the reduction's input (reduced axes back as 1s)."""
    if op.get_attr("keep_dims"):
        return grad
    x, axes = op.inputs
    xd = dims(x)
    ax = _static_axes(axes, None if xd is None else len(xd))
    if ax is not None and sum(d is None for i, d in enumerate(xd) if i not in ax) <= 1:
        target = [1 if i in ax else (-1 if d is None else d) for i, d in enumerate(xd)]
        return _a().reshape(grad, np.array(target, np.int32))
    return _a().reshape(grad, make_tensor("ReducedShape", [_a().shape(x), axes]))


def _shape_of(x: Tensor) -> Any:
    xd = dims(x)
    if xd is not None and all(d is not None for d in xd):
        return convert_to_tensor(np.array(xd, np.int32))
    return _a().shape(x)


@sum_kernel.grad
def _sum_grad(op, grad):
    x = op.inputs[0]
    g = _grad_with_kept_dims(op, grad)
    return [make_tensor("BroadcastTo", [g, _shape_of(x)]), None]


@op("Mean", types=NUMERIC_TYPES, **_REDUCE)
def mean_kernel(xp, input, reduction_indices, *, keep_dims):
    ax = _np_axes(reduction_indices)
    if input.dtype.kind in "iu":
        # Integer mean truncates toward zero (C division), in the input's type.
        s = xp.sum(input, axis=ax, keepdims=keep_dims, dtype=input.dtype)
        n = input.size // max(s.size, 1)
        return xp.where(s < 0, -((-s) // n), s // n).astype(input.dtype, copy=False)
    if xp is np and input.dtype.kind == "f":
        # np.mean's Python layer costs ~10 us on a small loss vector; this is its own arithmetic (the
        # pairwise add.reduce, half types summed in float32) without it.
        total = np.add.reduce(input, axis=ax, keepdims=keep_dims, dtype=np.float32 if input.itemsize < 4 else None)
        count = input.size // max(np.size(total), 1) if input.size else 0
        return np.true_divide(total, count).astype(input.dtype, copy=False)
    out = xp.mean(input, axis=ax, keepdims=keep_dims)
    return out if out.dtype == input.dtype else out.astype(input.dtype)


@mean_kernel.grad
def _mean_grad(op, grad):
    m = _m()
    x, y = op.inputs[0], op.outputs[0]
    xd, yd = dims(x), dims(y)
    dt = base(grad)
    if xd is not None and yd is not None and all(d is not None for d in xd + yd):
        factor = convert_to_tensor(max(int(np.prod(xd)) // max(int(np.prod(yd)), 1), 1), dtype=dt)
    else:
        n_in = reduce_prod(_a().shape(x))
        n_out = m.maximum(reduce_prod(_a().shape(y)), 1)
        factor = _m().compare_ops.cast(m.floordiv(n_in, n_out), dt)
    # Dividing before the broadcast touches the (small) reduced gradient only.
    g = _grad_with_kept_dims(op, m.realdiv(grad, factor))
    return [make_tensor("BroadcastTo", [g, _shape_of(x)]), None]


# -- Max / Min / Prod / Any / All -------------------------------------------------------------------
@op("Max", types=REAL_TYPES, **_REDUCE)
def max_kernel(xp, input, reduction_indices, *, keep_dims):
    return xp.max(input, axis=_np_axes(reduction_indices), keepdims=keep_dims)


@op("Min", types=REAL_TYPES, **_REDUCE)
def min_kernel(xp, input, reduction_indices, *, keep_dims):
    return xp.min(input, axis=_np_axes(reduction_indices), keepdims=keep_dims)


def _min_or_max_grad(op, grad):
    m = _m()
    x, axes = op.inputs
    y = _grad_with_kept_dims(op, op.outputs[0])
    g = _grad_with_kept_dims(op, grad)
    # The gradient is shared equally between tied extreme values (TF's rule).
    indicators = m.compare_ops.cast(m.compare_ops.equal(y, x), base(grad))
    num_selected = reduce_sum(indicators, axes, keepdims=True)
    return [m.multiply(m.realdiv(indicators, num_selected), g), None]


max_kernel.grad(_min_or_max_grad)
min_kernel.grad(_min_or_max_grad)


@op("Prod", types=NUMERIC_TYPES, **_REDUCE)
def prod_kernel(xp, input, reduction_indices, *, keep_dims):
    return xp.prod(input, axis=_np_axes(reduction_indices), keepdims=keep_dims, dtype=input.dtype)


def _prod_of_others(x: Tensor, axes: tuple) -> Tensor:
    """For each element, the product of the OTHER elements of its reduction block (exact with zeros).

    One axis: exclusive cumprods from both ends. More axes: the product of the others along the
    remaining axes, times the exclusive product along the first axis of the remaining axes' products.
    """
    m = _m()
    a, rest = axes[0], axes[1:]

    def excl(t: Tensor) -> Tensor:
        return m.multiply(cumprod(t, a, exclusive=True), cumprod(t, a, exclusive=True, reverse=True))

    if not rest:
        return excl(x)
    return m.multiply(_prod_of_others(x, rest), excl(reduce_prod(x, list(rest), keepdims=True)))


@prod_kernel.grad
def _prod_grad(op, grad):
    x, axes = op.inputs
    xd = dims(x)
    ax = _static_axes(axes, None if xd is None else len(xd))
    av = constant_value(axes)
    if ax is None and av is not None:
        # Unknown rank: constant axes of one sign are distinct axes, and cumprod takes negative ones.
        vals = sorted(set(np.reshape(av, [-1]).tolist()))
        if all(v >= 0 for v in vals) or all(v < 0 for v in vals):
            ax = tuple(vals)
    g = _grad_with_kept_dims(op, grad)
    if ax is None:
        # Axes known only at run time: the full reduction (axis=None, unknown rank) is handled by
        # flattening; anything else would need TF's transpose-based scheme.
        if av is not None or axes.op.type != "Range":
            raise NotImplementedError(f"The gradient of reduce_prod (op '{op.name}') needs a constant "
                                      "`axis`, or a known input rank when `axis` mixes negative and "
                                      "positive values.")
        flat = _a().reshape(x, np.array([-1], np.int32))
        others = _a().reshape(_prod_of_others(flat, (0,)), _a().shape(x))
    elif not ax:
        return [g, None]
    else:
        others = _prod_of_others(x, ax)
    return [_m().multiply(g, others), None]


@op("Any", types=(_dt.bool,), not_differentiable=True, **_REDUCE)
def any_kernel(xp, input, reduction_indices, *, keep_dims):
    return xp.any(input, axis=_np_axes(reduction_indices), keepdims=keep_dims)


@op("All", types=(_dt.bool,), not_differentiable=True, **_REDUCE)
def all_kernel(xp, input, reduction_indices, *, keep_dims):
    return xp.all(input, axis=_np_axes(reduction_indices), keepdims=keep_dims)


# -- the public reductions --------------------------------------------------------------------------
def _reduction_dims(x: Tensor, axis: Any) -> Any:
    if axis is not None:
        return axis
    d = dims(x)
    if d is not None:
        return convert_to_tensor(np.arange(len(d), dtype=np.int32))
    return _a().range(0, _a().rank(x))


def _reduce(op_type: str, input_tensor: Any, axis: Any, keepdims: Any, name: str | None,
            reduction_indices: Any, keep_dims: Any) -> Tensor:
    axis = pick(axis, reduction_indices, "axis", "reduction_indices")
    kd = pick(keepdims, keep_dims, "keepdims", "keep_dims")
    x = convert_to_tensor(input_tensor)
    axes = _reduction_dims(x, axis)
    with op_scope(name, op_type, [x, axes]) as scope:
        if not isinstance(axes, Tensor):
            axes = convert_to_tensor(axes, dtype_hint=_dt.int32, name="reduction_indices")
        out = make_tensor(op_type, [x, axes], {"keep_dims": bool(kd), "Tidx": base(axes)}, scope)
    if axis is None and not kd:
        out.set_shape(())  # TF's _may_reduce_to_scalar: a full reduction is a scalar even for unknown rank
    return out


_REDUCE_DOC = """{what} of `input_tensor` over `axis` (op type {op}).

    Args:
        input_tensor: the tensor to reduce.
        axis: the dimensions to reduce (an int, a list, or a 1-D tensor); None reduces all of them.
            Negative values count from the end.
        keepdims: keep the reduced dimensions with length 1.
        name: the op name (default "{op}").
        reduction_indices: the TF 1.x spelling of `axis`.
        keep_dims: the TF 1.x spelling of `keepdims`.

    Raises:
        ValueError: an axis is out of range, or both spellings of an argument were given.
    """


def reduce_sum(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
               reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    return _reduce("Sum", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_mean(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
                reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    return _reduce("Mean", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_max(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
               reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    return _reduce("Max", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_min(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
               reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    return _reduce("Min", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_prod(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
                reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    return _reduce("Prod", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_any(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
               reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    return _reduce("Any", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


def reduce_all(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
               reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    return _reduce("All", input_tensor, axis, keepdims, name, reduction_indices, keep_dims)


for _f, _what, _op in ((reduce_sum, "The sum", "Sum"), (reduce_mean, "The mean", "Mean"),
                       (reduce_max, "The maximum", "Max"), (reduce_min, "The minimum", "Min"),
                       (reduce_prod, "The product", "Prod"), (reduce_any, "Logical OR", "Any"),
                       (reduce_all, "Logical AND", "All")):
    _f.__doc__ = _REDUCE_DOC.format(what=_what, op=_op)


def reduce_logsumexp(input_tensor: Any, axis: Any = None, keepdims: Any = None, name: str | None = None,
                     reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    """log(sum(exp(x))) over `axis`, computed stably (the maximum is subtracted first).

    Arguments as for `reduce_sum`.
    """
    m = _m()
    axis = pick(axis, reduction_indices, "axis", "reduction_indices")
    kd = bool(pick(keepdims, keep_dims, "keepdims", "keep_dims"))
    with op_scope(name, "ReduceLogSumExp", [input_tensor]) as scope:
        x = convert_to_tensor(input_tensor)
        raw_max = reduce_max(x, axis=axis, keepdims=True)
        # Clamp infinite maxima into the finite range so exp(x - max) stays well defined (TF uses 0).
        dt = base(x)
        my_max = _a().stop_gradient(m.minimum(m.maximum(raw_max, dt.min), dt.max))
        result = m.log(reduce_sum(m.exp(m.subtract(x, my_max)), axis=axis, keepdims=kd))
        if not kd:
            my_max = _a().reshape(my_max, _a().shape(result))
        return m.add(result, my_max, name=scope)


def count_nonzero(input_tensor: Any, axis: Any = None, keepdims: Any = None, dtype: Any = _dt.int64,
                  name: str | None = None, reduction_indices: Any = None, keep_dims: Any = None) -> Tensor:
    """The number of non-zero elements over `axis`, as `dtype` (default int64).

    Arguments as for `reduce_sum`.
    """
    m = _m()
    axis = pick(axis, reduction_indices, "axis", "reduction_indices")
    kd = bool(pick(keepdims, keep_dims, "keepdims", "keep_dims"))
    with op_scope(name, "count_nonzero", [input_tensor]):
        x = convert_to_tensor(input_tensor, name="input_tensor")
        zero = convert_to_tensor(np.zeros((), base(x).as_numpy_dtype) if base(x) != _dt.string else b"",
                                 dtype=base(x))
        nz = m.compare_ops.cast(m.compare_ops.not_equal(x, zero), _dt.int64)
        return m.compare_ops.cast(reduce_sum(nz, axis=axis, keepdims=kd), dtype)


# -- ArgMax / ArgMin --------------------------------------------------------------------------------
def _arg_shape(ins, attrs):
    x, d = ins
    out = attrs["output_type"]
    if out not in INDEX_TYPES:
        raise TypeError(f"output_type must be int32 or int64, got {out.name}")
    dd = dims(d)
    if dd is not None and len(dd) != 0:
        raise ValueError(f"Shape must be rank 0 but is rank {len(dd)}")
    xd = dims(x)
    if xd is None:
        return out, None
    dv = constant_value(d)
    if dv is None:
        return out, (None,) * (len(xd) - 1) if xd else None
    a = int(dv)
    if not -len(xd) <= a < len(xd):
        raise ValueError(f"Expected dimension in the range [{-len(xd)}, {len(xd)}), but got {a}")
    a %= len(xd)
    return out, xd[:a] + xd[a + 1:]


_ARG = dict(inputs=("input", "dimension"), attrs={"output_type": _dt.int64, "Tidx": _dt.int32},
            types=REAL_TYPES, type_inputs=("input",), shape=_arg_shape, not_differentiable=True, host_inputs=(1,))


@op("ArgMax", **_ARG)
def arg_max_kernel(xp, input, dimension, *, output_type):
    return xp.argmax(input, axis=int(dimension)).astype(output_type.as_numpy_dtype, copy=False)


@op("ArgMin", **_ARG)
def arg_min_kernel(xp, input, dimension, *, output_type):
    return xp.argmin(input, axis=int(dimension)).astype(output_type.as_numpy_dtype, copy=False)


def _arg(op_type: str, input: Any, axis: Any, name: str | None, dimension: Any, output_type: Any) -> Tensor:
    axis = pick(axis, dimension, "axis", "dimension")
    if axis is None:
        axis = 0
    with op_scope(name, op_type, [input, axis]) as scope:
        x = convert_to_tensor(input, name="input")
        d = axis if isinstance(axis, Tensor) else convert_to_tensor(axis, dtype_hint=_dt.int32,
                                                                    name="dimension")
        attrs = {"output_type": _dt.as_dtype(output_type), "Tidx": base(d)}
        return make_tensor(op_type, [x, d], attrs, scope)


def argmax(input: Any, axis: Any = None, name: str | None = None, dimension: Any = None,
           output_type: Any = _dt.int64) -> Tensor:
    """The index of the largest value along `axis` (default 0; `dimension` is the TF 1.x spelling).

    Returns an `output_type` tensor (int64 by default) with `axis` removed (op type ArgMax).
    """
    return _arg("ArgMax", input, axis, name, dimension, output_type)


def argmin(input: Any, axis: Any = None, name: str | None = None, dimension: Any = None,
           output_type: Any = _dt.int64) -> Tensor:
    """The index of the smallest value along `axis` (default 0), like `argmax` (op type ArgMin)."""
    return _arg("ArgMin", input, axis, name, dimension, output_type)


# -- Cumsum / Cumprod -------------------------------------------------------------------------------
def _scan_shape(ins, attrs):
    x, a = ins
    ad = dims(a)
    if ad is not None and len(ad) != 0:
        raise ValueError(f"Shape must be rank 0 but is rank {len(ad)}")
    xd = dims(x)
    av = constant_value(a)
    if xd is not None and av is not None and not -len(xd) <= int(av) < len(xd):
        raise ValueError(f"axis {int(av)} is out of range for a tensor of rank {len(xd)}: it must be in "
                         f"[{-len(xd)}, {len(xd)})")
    return base(x), xd


def _scan(xp, fn, x, axis, exclusive, reverse, identity):
    ax = int(axis) % x.ndim
    if reverse:
        x = xp.flip(x, ax)
    out = fn(x, axis=ax, dtype=x.dtype)
    if exclusive:
        # Shift by one along the axis, the identity first.
        lead = (slice(None),) * ax
        shifted = xp.empty_like(out)
        shifted[lead + (slice(0, 1),)] = identity
        shifted[lead + (slice(1, None),)] = out[lead + (slice(None, -1),)]
        out = shifted
    return xp.flip(out, ax) if reverse else out


_SCAN = dict(inputs=("x", "axis"), attrs={"exclusive": False, "reverse": False, "Tidx": _dt.int32},
             types=NUMERIC_TYPES, type_inputs=("x",), shape=_scan_shape, host_inputs=(1,))


@op("Cumsum", **_SCAN)
def cumsum_kernel(xp, x, axis, *, exclusive, reverse):
    return _scan(xp, xp.cumsum, x, axis, exclusive, reverse, 0)


@cumsum_kernel.grad
def _cumsum_grad(op, grad):
    return [cumsum(grad, op.inputs[1], exclusive=op.get_attr("exclusive"),
                   reverse=not op.get_attr("reverse")), None]


@op("Cumprod", **_SCAN)
def cumprod_kernel(xp, x, axis, *, exclusive, reverse):
    return _scan(xp, xp.cumprod, x, axis, exclusive, reverse, 1)


@cumprod_kernel.grad
def _cumprod_grad(op, grad):
    # TF's rule; like TF it divides by x, so it is not defined where x is 0.
    m = _m()
    x, axis = op.inputs
    ex, rev = op.get_attr("exclusive"), op.get_attr("reverse")
    prod = cumprod(x, axis, exclusive=ex, reverse=rev)
    out = cumsum(m.multiply(prod, grad), axis, exclusive=ex, reverse=not rev)
    return [m.realdiv(out, x), None]


def _scan_op(op_type: str, x: Any, axis: Any, exclusive: bool, reverse: bool, name: str | None) -> Tensor:
    with op_scope(name, op_type, [x, axis]) as scope:
        x = convert_to_tensor(x, name="x")
        a = axis if isinstance(axis, Tensor) else convert_to_tensor(axis, dtype_hint=_dt.int32, name="axis")
        attrs = {"exclusive": bool(exclusive), "reverse": bool(reverse), "Tidx": base(a)}
        return make_tensor(op_type, [x, a], attrs, scope)


def cumsum(x: Any, axis: Any = 0, exclusive: bool = False, reverse: bool = False,
           name: str | None = None) -> Tensor:
    """Cumulative sum along `axis` (op type Cumsum).

    `exclusive`: the i-th output excludes the i-th input ([a, b, c] -> [0, a, a + b]);
    `reverse`: accumulate from the end.
    """
    return _scan_op("Cumsum", x, axis, exclusive, reverse, name)


def cumprod(x: Any, axis: Any = 0, exclusive: bool = False, reverse: bool = False,
            name: str | None = None) -> Tensor:
    """Cumulative product along `axis` (op type Cumprod); `exclusive`/`reverse` as for `cumsum`."""
    return _scan_op("Cumprod", x, axis, exclusive, reverse, name)


# -- ReducedShape: the shape of a reduction's output with its reduced axes kept as 1 ----------------
def _reduced_shape_shape(ins, attrs):
    return _dt.int32, dims(ins[0])


@op("ReducedShape", inputs=("input_shape", "axes"), shape=_reduced_shape_shape, not_differentiable=True,
    host_op=True)
def reduced_shape_kernel(xp, input_shape, axes):
    out = xp.array(input_shape, dtype=xp.int32)
    if out.size:
        out[xp.asarray(axes).reshape(-1) % out.size] = 1
    return out
