"""Assertions (tf.assert_equal, assert_rank, ...) and numeric checks (CheckNumerics, add_check_numerics_ops).

As TF 1.x: when the values (or ranks, dtypes) are known while the graph is built, a failing check raises
at once (InvalidArgumentError for values, ValueError for ranks, TypeError for dtypes) and a passing one
returns a NoOp; otherwise the check is a `tf.Assert` op that fails the step with TF's message.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import _graph_of, get_default_graph, name_scope
from labflow.framework.registry import REQUIRED, op
from labflow.framework.sparse_tensor import SparseTensor
from labflow.framework.tensor import IndexedSlices, Operation, Tensor
from labflow.ops import compare_ops, io_extra_ops
from labflow.ops.common import FLOAT_TYPES, base, constant_value, convert_to_tensor, dims, same_as_input
from labflow.ops.control_flow_ops import group, no_op
from labflow.ops.io_extra_ops import (  # noqa: F401 - TF1 has them at tf.*
    decode_compressed,
    matching_files,
    parse_tensor,
    serialize_tensor,
    write_file,
)
from labflow.ops.logging_ops import Assert

__all__ = [
    "assert_equal", "assert_none_equal", "assert_less", "assert_less_equal", "assert_greater",
    "assert_greater_equal", "assert_positive", "assert_negative", "assert_non_negative", "assert_non_positive",
    "assert_near", "assert_rank", "assert_rank_at_least", "assert_rank_in", "assert_integer", "assert_type",
    "assert_scalar", "assert_same_float_dtype", "assert_proper_iterable", "is_numeric_tensor", "is_tensor",
    "check_numerics", "verify_tensor_all_finite", "add_check_numerics_ops",
] + list(io_extra_ops.__all__)


# -- helpers -----------------------------------------------------------------------------------------
def _pair(x: Any, y: Any) -> tuple[Tensor, Tensor]:
    """x and y as tensors; a Python value takes the other side's dtype (assert_less(x_float, 1) works)."""
    if isinstance(x, Tensor) or not isinstance(y, Tensor):
        x = convert_to_tensor(x, name="x")
        y = y if isinstance(y, Tensor) else _like(y, x, "y")
    else:
        x = _like(x, y, "x")
    return x, y


def _like(v: Any, other: Tensor, name: str) -> Tensor:
    try:
        return convert_to_tensor(v, dtype=base(other), name=name)
    except (TypeError, ValueError):
        return convert_to_tensor(v, name=name)  # a dtype clash: the comparison op names it


def _static_fail(data: list) -> None:
    parts = []
    for d in data:
        if d is None:
            continue
        if isinstance(d, str):
            parts.append(d)
        elif hasattr(d, "graph") and hasattr(d, "name"):  # a tensor-like whose value is not static: its name
            parts.append(d.name)
        else:
            parts.append(str(np.asarray(d)))
    raise errors.InvalidArgumentError(None, None, "\n".join(parts))


def _with_message(message: str | None, data: list) -> list:
    return ([message] if message is not None else []) + data


def _check(condition: Tensor, static_ok: Any, data: list, static_data: list, summarize: int | None,
           name: str) -> Operation:
    """The static short-cut (raise / NoOp) or the Assert op."""
    if static_ok is not None:
        if not bool(np.all(static_ok)):
            _static_fail(static_data)
        return no_op(name="NoOp")
    from labflow.ops.reduction_ops import reduce_all
    return Assert(reduce_all(condition, name="All"), data, summarize=summarize, name=name)


def _binary_assert(sym: str, default_name: str, op_fn: Callable, np_fn: Callable, x: Any, y: Any, data: Any,
                   summarize: int | None, message: str | None, name: str | None,
                   condition_text: str | None = None) -> Operation:
    with name_scope(name, default_name, [x, y]):
        x, y = _pair(x, y)
        cond = op_fn(x, y)
        text = condition_text or f"Condition x {sym} y did not hold element-wise:"
        if data is None:
            data = [text, f"x ({x.name}) = ", x, f"y ({y.name}) = ", y]
        data = _with_message(message, list(data))
        xs, ys = constant_value(x), constant_value(y)
        static = None if xs is None or ys is None else np_fn(xs, ys)
        static_data = [d if not isinstance(d, Tensor) else (xs if d is x else ys if d is y else d.name)
                       for d in data]
        return _check(cond, static, data, static_data, summarize, "Assert")


def _doc_binary(sym: str) -> str:
    return (f"""An op that checks `x {sym} y` holds for every element (with broadcasting).

    Args:
        x, y: tensors (or values taking the other's dtype).
        data: tensors shown if the check fails (default: the condition, x and y).
        summarize: how many entries of each tensor to show (default 3).
        message: a prefix for the error message.
        name: a name scope for the ops.

    Returns:
        An Operation: a NoOp when the check passes statically, else an Assert op to run before the
        dependent ops (`with tf.control_dependencies([...])`).

    Raises:
        InvalidArgumentError: statically known values fail the check (at graph construction), or, from
            `Session.run`, when the Assert op fails.
    """)


def assert_equal(x: Any, y: Any, data: list | None = None, summarize: int | None = None, message: str | None = None,
                 name: str | None = None) -> Operation:
    return _binary_assert("==", "assert_equal", compare_ops.equal, np.equal, x, y, data, summarize, message, name)


def assert_none_equal(x: Any, y: Any, data: list | None = None, summarize: int | None = None,
                      message: str | None = None, name: str | None = None) -> Operation:
    return _binary_assert("!=", "assert_none_equal", compare_ops.not_equal, np.not_equal, x, y, data, summarize,
                          message, name, "Condition x != y did not hold for every single element:")


def assert_less(x: Any, y: Any, data: list | None = None, summarize: int | None = None, message: str | None = None,
                name: str | None = None) -> Operation:
    return _binary_assert("<", "assert_less", compare_ops.less, np.less, x, y, data, summarize, message, name)


def assert_less_equal(x: Any, y: Any, data: list | None = None, summarize: int | None = None,
                      message: str | None = None, name: str | None = None) -> Operation:
    return _binary_assert("<=", "assert_less_equal", compare_ops.less_equal, np.less_equal, x, y, data, summarize,
                          message, name)


def assert_greater(x: Any, y: Any, data: list | None = None, summarize: int | None = None,
                   message: str | None = None, name: str | None = None) -> Operation:
    return _binary_assert(">", "assert_greater", compare_ops.greater, np.greater, x, y, data, summarize, message,
                          name)


def assert_greater_equal(x: Any, y: Any, data: list | None = None, summarize: int | None = None,
                         message: str | None = None, name: str | None = None) -> Operation:
    return _binary_assert(">=", "assert_greater_equal", compare_ops.greater_equal, np.greater_equal, x, y, data,
                          summarize, message, name)


for _f, _s in ((assert_equal, "=="), (assert_none_equal, "!="), (assert_less, "<"), (assert_less_equal, "<="),
               (assert_greater, ">"), (assert_greater_equal, ">=")):
    _f.__doc__ = _doc_binary(_s)


def _sign_assert(sym: str, default_name: str, op_fn: Callable, np_fn: Callable, x: Any, data: Any,
                 summarize: int | None, message: str | None, name: str | None) -> Operation:
    with name_scope(name, default_name, [x]):
        x = convert_to_tensor(x, name="x")
        zero = convert_to_tensor(0, dtype=base(x), name="zero")
        if data is None:
            data = [f"Condition x {sym} 0 did not hold element-wise:", f"x ({x.name}) = ", x]
        data = _with_message(message, list(data))
        # "x > 0" is checked as 0 < x, as TF does
        cond = op_fn(x, zero) if sym in ("<", "<=") else op_fn(zero, x)
        xs = constant_value(x)
        static = None if xs is None else (np_fn(xs, 0) if sym in ("<", "<=") else np_fn(0, xs))
        static_data = [xs if d is x else d.name if isinstance(d, Tensor) else d for d in data]
        return _check(cond, static, data, static_data, summarize, "Assert")


def assert_positive(x: Any, data: list | None = None, summarize: int | None = None, message: str | None = None,
                    name: str | None = None) -> Operation:
    """Checks `x > 0` elementwise (see `assert_less` for the static short-cut and the returned op)."""
    return _sign_assert(">", "assert_positive", compare_ops.less, np.less, x, data, summarize, message, name)


def assert_negative(x: Any, data: list | None = None, summarize: int | None = None, message: str | None = None,
                    name: str | None = None) -> Operation:
    """Checks `x < 0` elementwise."""
    return _sign_assert("<", "assert_negative", compare_ops.less, np.less, x, data, summarize, message, name)


def assert_non_negative(x: Any, data: list | None = None, summarize: int | None = None,
                        message: str | None = None, name: str | None = None) -> Operation:
    """Checks `x >= 0` elementwise."""
    return _sign_assert(">=", "assert_non_negative", compare_ops.less_equal, np.less_equal, x, data, summarize,
                        message, name)


def assert_non_positive(x: Any, data: list | None = None, summarize: int | None = None,
                        message: str | None = None, name: str | None = None) -> Operation:
    """Checks `x <= 0` elementwise."""
    return _sign_assert("<=", "assert_non_positive", compare_ops.less_equal, np.less_equal, x, data, summarize,
                        message, name)


def assert_near(x: Any, y: Any, rtol: Any = None, atol: Any = None, data: list | None = None,
                summarize: int | None = None, message: str | None = None, name: str | None = None) -> Operation:
    """Checks `|x - y| <= atol + rtol * |y|` elementwise (float x, y; TF also takes complex ones).

    Args:
        rtol, atol: tolerances (default 10 * eps of the dtype: 1.2e-6 for float32).

    Returns and raises as `assert_equal`.
    """
    from labflow.ops import math_ops
    with name_scope(name, "assert_near", [x, y]):
        x, y = _pair(x, y)
        dt = base(x)
        if not dt.is_floating:
            # TF also takes complex tensors; labflow has no complex |x| (ComplexAbs) op yet
            raise TypeError(f"assert_near needs float tensors, got {dt.name} for {x.name}")
        eps = np.finfo(dt.as_numpy_dtype).eps
        rtol_v = 10 * eps if rtol is None else rtol
        atol_v = 10 * eps if atol is None else atol
        rtol_t = convert_to_tensor(rtol_v, dtype=dt, name="rtol")
        atol_t = convert_to_tensor(atol_v, dtype=dt, name="atol")
        tol = atol_t + rtol_t * math_ops.abs(y)
        diff = math_ops.abs(x - y)
        cond = compare_ops.less_equal(diff, tol)
        if data is None:
            data = [f"x and y not equal to tolerance rtol = {rtol_v}, atol = {atol_v}",
                    f"x ({x.name}) = ", x, f"y ({y.name}) = ", y]
        data = _with_message(message, list(data))
        xs, ys = constant_value(x), constant_value(y)
        rs, as_ = constant_value(rtol_t), constant_value(atol_t)
        static = None
        if xs is not None and ys is not None and rs is not None and as_ is not None:
            static = np.abs(xs - ys) <= as_ + rs * np.abs(ys)
        static_data = [xs if d is x else ys if d is y else d.name if isinstance(d, Tensor) else d for d in data]
        return _check(cond, static, data, static_data, summarize, "Assert")


# -- ranks and dtypes ---------------------------------------------------------------------------------
def _static_rank_arg(rank: Any, what: str) -> tuple[Tensor, Any]:
    r = convert_to_tensor(rank, name=what)
    if not r.dtype.base_dtype.is_integer:
        raise TypeError(f"{what} must be an integer tensor, got {r.dtype.base_dtype.name}")
    return r, constant_value(r)


def _rank_assert(x: Any, ranks: Any, kind: str, default_name: str, data: Any, summarize: int | None,
                 message: str | None, name: str | None) -> Operation:
    from labflow.ops.array_ops import rank as rank_op
    from labflow.ops.array_ops import shape as shape_op
    from labflow.ops.reduction_ops import reduce_any
    with name_scope(name, default_name, [x]):
        x = convert_to_tensor(x, name="x")
        r, rv = _static_rank_arg(ranks, "ranks" if kind == "in" else "rank")
        if kind != "in" and rv is not None and np.ndim(rv) != 0:
            raise ValueError(f"Rank must be a scalar, got {rv!r}")
        if kind == "in" and rv is not None and np.ndim(rv) != 1:
            raise ValueError(f"Rank must be a vector of ranks, got {rv!r}")
        phrase = {"eq": "must have rank", "ge": "must have rank at least", "in": "must have rank in"}[kind]
        d = dims(x)
        if d is not None and rv is not None:
            n = len(d)
            ok = n == int(rv) if kind == "eq" else n >= int(rv) if kind == "ge" else n in [int(v) for v in rv]
            if not ok:
                want = int(rv) if kind != "in" else tuple(int(v) for v in rv)
                text = f"Tensor {x.name} {phrase} {want}.  Received rank {n}, shape {x.get_shape()}"
                raise ValueError(f"{message}.  {text}" if message else text)
            return no_op(name="static_checks_determined_all_ok")
        actual = rank_op(x)
        if kind == "eq":
            cond = compare_ops.equal(actual, r)
        elif kind == "ge":
            cond = compare_ops.greater_equal(actual, r)
        else:
            cond = reduce_any(compare_ops.equal(actual, r))
        if data is None:
            data = [f"Tensor {x.name} {phrase}", r, "Received shape: ", shape_op(x)]
        data = _with_message(message, list(data))
        return Assert(cond, data, summarize=summarize, name="Assert")


def assert_rank(x: Any, rank: Any, data: list | None = None, summarize: int | None = None,
                message: str | None = None, name: str | None = None) -> Operation:
    """Checks that `x` has rank `rank` (an int or a scalar int tensor).

    Raises:
        ValueError: the ranks are known while building and differ (as TF 1.x).
    Returns:
        A NoOp when the check passes statically, else an Assert op.
    """
    return _rank_assert(x, rank, "eq", "assert_rank", data, summarize, message, name)


def assert_rank_at_least(x: Any, rank: Any, data: list | None = None, summarize: int | None = None,
                         message: str | None = None, name: str | None = None) -> Operation:
    """Checks that `x` has rank >= `rank` (see `assert_rank`)."""
    return _rank_assert(x, rank, "ge", "assert_rank_at_least", data, summarize, message, name)


def assert_rank_in(x: Any, ranks: Sequence[Any], data: list | None = None, summarize: int | None = None,
                   message: str | None = None, name: str | None = None) -> Operation:
    """Checks that the rank of `x` is one of `ranks` (see `assert_rank`)."""
    return _rank_assert(x, list(ranks) if isinstance(ranks, tuple) else ranks, "in", "assert_rank_in", data,
                        summarize, message, name)


def _prefix(message: str | None) -> str:
    return f"{message}  " if message else ""


def assert_integer(x: Any, message: str | None = None, name: str | None = None) -> Operation:
    """Checks statically that `x` has an integer dtype; returns a NoOp. Raises TypeError otherwise."""
    with name_scope(name, "assert_integer", [x]):
        x = convert_to_tensor(x, name="x")
        if not base(x).is_integer:
            raise TypeError(f'{_prefix(message)}Expected "x" to be integer type.  Found: {x.name} of dtype '
                            f"{base(x).name}")
        return no_op(name="statically_determined_was_integer")


def assert_type(tensor: Any, tf_type: Any, message: str | None = None, name: str | None = None) -> Operation:
    """Checks statically that `tensor` has dtype `tf_type`; returns a NoOp. Raises TypeError otherwise."""
    want = _dt.as_dtype(tf_type).base_dtype
    with name_scope(name, "assert_type", [tensor]):
        t = convert_to_tensor(tensor, name="tensor")
        if base(t) != want:
            raise TypeError(f"{_prefix(message)}{t.name} must be of type tf.{want.name}; got tf.{base(t).name}")
        return no_op(name="statically_determined_correct_type")


def assert_scalar(tensor: Any, name: str | None = None, message: str | None = None) -> Tensor:
    """Returns `tensor` after checking statically that it is a scalar (unknown rank fails too, as TF).

    Raises:
        ValueError: the static shape is not [].
    """
    with name_scope(name, "assert_scalar", [tensor]):
        t = convert_to_tensor(tensor, name="tensor")
        if dims(t) != ():
            raise ValueError(f"{message or ''}Expected scalar shape for {t.name}, saw shape: {t.get_shape()}.")
        return t


def assert_same_float_dtype(tensors: Sequence[Any] | None = None, dtype: Any = None) -> _dt.DType:
    """The common float dtype of `tensors` (and `dtype`), float32 when there is none.

    Raises:
        ValueError: the dtypes differ, or the common one is not floating point.
    """
    want = None if dtype is None else _dt.as_dtype(dtype).base_dtype
    first = None
    for t in tensors or []:
        if t is None:
            continue
        d = _dt.as_dtype(t.dtype).base_dtype
        if want is None:
            want, first = d, t
        elif d != want:
            what = f"first tensor {first.name}" if first is not None else "expected type"
            raise ValueError(f"{getattr(t, 'name', t)}, type={d.name}, must be of the same type ({want.name}) as "
                             f"{what}.")
    if want is None:
        return _dt.float32
    if not want.is_floating:
        raise ValueError(f"Expected floating point type, got {want.name}.")
    return want


def assert_proper_iterable(values: Any) -> None:
    """Raises TypeError unless `values` is an iterable other than a tensor, an ndarray, str or bytes."""
    if isinstance(values, (Tensor, SparseTensor, np.ndarray, str, bytes)):
        raise TypeError(f'Expected argument "values" to be a "proper" iterable.  Found: {type(values)}')
    if not hasattr(values, "__iter__"):
        raise TypeError(f'Expected argument "values" to be iterable.  Found: {type(values)}')


def is_numeric_tensor(tensor: Any) -> bool:
    """Whether `tensor` is a Tensor of a numeric (float, int, complex, quantized) dtype."""
    if not isinstance(tensor, Tensor):
        return False
    d = base(tensor)
    return d != _dt.bool and (d.is_floating or d.is_integer or d.is_complex or d.is_quantized)


def is_tensor(x: Any) -> bool:
    """Whether `x` is a tensor-like graph value (Tensor, SparseTensor, IndexedSlices, Variable)."""
    if isinstance(x, (Tensor, SparseTensor, IndexedSlices)) or getattr(x, "is_tensor_like", False):
        return True
    from labflow.ops.variables import Variable
    return isinstance(x, Variable)


# -- numeric checks ---------------------------------------------------------------------------------
# Stateful as in TF: never constant-folded or merged with an identical check.
@op("CheckNumerics", inputs=("tensor",), attrs={"message": REQUIRED}, types=FLOAT_TYPES, shape=same_as_input,
    stateful=True, needs_ctx=True)
def check_numerics_kernel(xp, tensor, *, message, ctx):
    if bool(xp.all(xp.isfinite(tensor))):
        return tensor
    nan = bool(xp.any(xp.isnan(tensor)))
    inf = bool(xp.any(xp.isinf(tensor)))
    what = "Inf and NaN" if nan and inf else "NaN" if nan else "Inf"
    raise errors.InvalidArgumentError(None, ctx.op, f"{message} : Tensor had {what} values")


@check_numerics_kernel.grad
def _check_numerics_grad(op, grad):
    return [check_numerics(grad, "Not a number (NaN) or infinity (Inf) values detected in gradient. "
                           f"{op.get_attr('message')}")]


def check_numerics(tensor: Any, message: str, name: str | None = None) -> Tensor:
    """The identity of `tensor` that fails the step (InvalidArgumentError) if it holds any NaN or Inf.

    Args:
        tensor: a float tensor.
        message: the start of the error message.
        name: the op name.
    """
    t = convert_to_tensor(tensor)
    if base(t) not in FLOAT_TYPES:
        raise TypeError(f"check_numerics needs a float tensor (half, bfloat16, float, double), got "
                        f"{base(t).name} for {t.name}")
    g = _graph_of(t)
    return g.create_op("CheckNumerics", [t], attrs={"message": str(message)},
                       name=name or "CheckNumerics").outputs[0]


def verify_tensor_all_finite(t: Any, msg: str, name: str | None = None) -> Tensor:
    """`t`, computed only after checking it has no NaN or Inf (TF 1.x `tf.verify_tensor_all_finite`)."""
    from labflow.ops.array_ops import identity
    with name_scope(name, "VerifyFinite", [t]):
        t = convert_to_tensor(t, name="t")
        g = _graph_of(t)
        with g.colocate_with(t.op):
            verify = check_numerics(t, message=msg)
            with g.control_dependencies([verify]):
                return identity(t, name="control_dependency")


def add_check_numerics_ops() -> Operation:
    """A group of CheckNumerics ops over every half/float/double output in the default graph.

    The checks are chained by control dependencies (they run one after another, as TF 1.x does); run the
    returned op together with the train op. Outputs of variables (ref types) are not checked.
    """
    g = get_default_graph()
    checks: list = []
    for o in list(g.get_operations()):
        for out in o.outputs:
            if out.dtype not in (_dt.float16, _dt.float32, _dt.float64) or out.dtype.is_ref_dtype:
                continue
            with g.control_dependencies(checks):
                checks = [check_numerics(out, message=f"{o.name}:{out.value_index}")]
    return group(*checks)
