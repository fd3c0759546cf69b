"""`tf.Assert` and `tf.Print` (TF 1.x): checking and showing values while a step runs."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import get_default_graph
from labflow.framework.registry import op
from labflow.framework.tensor import Operation, Tensor
from labflow.ops.common import base, convert_to_tensor, dims, no_outputs

__all__ = ["Assert", "Print"]


def _show(values: tuple, summarize: int | None, sep: str) -> str:
    """TF's rendering of Assert/Print data: each value in brackets, arrays cut to `summarize` entries."""
    parts = []
    for v in values:
        a = np.asarray(v.get() if hasattr(v, "get") else v)  # a CuPy array comes to the host to be shown
        flat = a.reshape(-1)
        n = flat.size if summarize is None or summarize < 0 else min(summarize, flat.size)
        items = " ".join(str(x.decode(errors="replace") if isinstance(x, bytes) else x) for x in flat[:n])
        parts.append(f"[{items}{'...' if n < flat.size else ''}]")
    return sep.join(parts)


@op("Assert", inputs=("condition", "*data"), attrs={"summarize": 3}, shape=no_outputs, outputs=0, stateful=True,
    not_differentiable=True, needs_ctx=True, host_op=True)
def assert_kernel(xp, condition, *data, summarize, ctx):
    if not bool(np.all(np.asarray(condition))):
        raise errors.InvalidArgumentError(None, ctx.op, f"assertion failed: {_show(data, summarize, ' ')}")


def Assert(condition: Any, data: list, summarize: int | None = None, name: str | None = None) -> Operation:  # noqa: N802
    """An op that fails the step with InvalidArgumentError showing `data` when `condition` is false.

    Args:
        condition: a bool tensor (all of it must hold).
        data: tensors or Python values (strings) shown in the message.
        summarize: how many entries of each tensor to show (default 3, as TF).
        name: the op name (default "Assert").

    Returns:
        The Assert Operation: run it, or make ops depend on it with `tf.control_dependencies`.
    """
    g = get_default_graph()
    with g.name_scope(name or "Assert") as scope:
        cond = convert_to_tensor(condition, name="condition")
        if base(cond) != _dt.bool:
            raise TypeError(f"Assert's condition must be a bool tensor, got {base(cond).name}")
        ts = [convert_to_tensor(d) for d in (data if isinstance(data, (list, tuple)) else [data])]
        return g.create_op("Assert", [cond] + ts, attrs={"summarize": 3 if summarize is None else int(summarize)},
                           name=scope)


def _print_shape(ins: list, attrs: dict) -> tuple:
    return base(ins[0]), dims(ins[0])


@op("Print", inputs=("input", "*data"), attrs={"message": "", "first_n": -1, "summarize": 3}, shape=_print_shape,
    stateful=True, needs_ctx=True)
def print_kernel(xp, input, *data, message, first_n, summarize, ctx):
    count = ctx.state = (ctx.state or 0) + 1
    if first_n < 0 or count <= first_n:
        # sys.stderr, read when called: a notebook kernel shows it under the cell that ran the step
        print(f"{message}{_show(data, summarize, '')}", file=sys.stderr, flush=True)
    return input


@print_kernel.grad
def _print_grad(op, grad, *rest):
    return [grad] + [None] * (len(op.inputs) - 1)


def Print(input_: Any, data: list, message: str | None = None, first_n: int | None = None,  # noqa: N802
          summarize: int | None = None, name: str | None = None) -> Tensor:
    """The identity of `input_` that prints `message` and `data` each time it runs (TF 1.x `tf.Print`).

    Args:
        input_: the tensor passed through.
        data: tensors to show.
        message: a prefix for the line.
        first_n: print only the first `first_n` times (None or negative: always).
        summarize: entries shown per tensor (default 3).
        name: the op name.
    """
    x = convert_to_tensor(input_)
    ts = [convert_to_tensor(d) for d in (data if isinstance(data, (list, tuple)) else [data])]
    g = get_default_graph()
    return g.create_op("Print", [x] + ts, attrs={"message": message or "", "first_n": -1 if first_n is None else
                                                 int(first_n), "summarize": 3 if summarize is None else
                                                 int(summarize)}, name=name or "Print").outputs[0]
