"""Control-flow ops that call functions: If (tf.cond) and While (tf.while_loop), and their gradients.

The branches, condition and body are FuncGraphs (framework/func_graph.py) held in the ops' attrs; the
kernels run them through runtime/functions.py on the op's own device, so only the taken branch runs and a
loop runs as many times as its condition says, with each value staying on its device.

Gradients follow TF 2's cond_v2/while_v2: the gradient graph is built inside the branch (body) function
itself, and the forward tensors it reads are *recorded* by the forward op when it runs: the If op outputs
the taken branch's values, the While op one list of values per iteration (an opaque `variant` output).
The gradient op (IfGrad, WhileGrad) feeds those values into the gradient function, so nothing is
recomputed (a dropout mask inside a loop body is the one the forward pass drew). Recording starts once a
gradient was built for the op and costs nothing in a step that does not fetch the gradient.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.registry import REQUIRED, op
from labflow.runtime import functions

_DIFFERENTIABLE = (_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64, _dt.complex64, _dt.complex128)


def _truth(pred: Any) -> bool:
    if getattr(pred, "size", 1) != 1:
        raise ValueError(f"the condition must be a scalar bool, got a value of shape {getattr(pred, 'shape', '?')}")
    return bool(pred.item() if hasattr(pred, "item") else pred)


def _dims(s: Any) -> tuple | None:
    return s.as_tuple() if hasattr(s, "as_tuple") else s


def _grad_shapes(ins: list, attrs: dict) -> list:
    return [(dt, _dims(attrs["output_shapes"][i])) for i, dt in enumerate(attrs["Tout"])]


def _out_shapes(ins: list, attrs: dict) -> list:
    return _grad_shapes(ins, attrs) + [(_dt.variant, ())]


def _n_out(attrs: dict, n_inputs: int) -> int:
    return len(attrs["Tout"]) + 1


class Recorded:
    """The forward values a gradient needs from one run of a branch (If) or of every iteration (While)."""

    __slots__ = ("branch", "values")

    def __init__(self, branch: int, values: list):
        self.branch = branch
        self.values = values


# -- If ----------------------------------------------------------------------------------------------------
@op("If", inputs=("cond", "*input"), attrs={"then_branch": REQUIRED, "else_branch": REQUIRED, "Tout": REQUIRED,
                                             "output_shapes": REQUIRED, "record": REQUIRED},
    shape=_out_shapes, outputs=_n_out, stateful=True, needs_ctx=True, needs_step=True,
    ref_inputs=tuple(range(1, 1024)), host_inputs=(0,))
def if_kernel(xp, cond, *inputs, then_branch, else_branch, Tout, output_shapes, record, ctx, step):
    branch = 0 if _truth(cond) else 1
    fg = (then_branch, else_branch)[branch]
    wanted = _history_wanted(ctx, record[0] or record[1])
    keep = record[branch] if wanted else []
    res = functions.get(fg, ctx.device, fg.inputs, fg.outputs + keep)(list(inputs), step, ctx.name)
    n = len(fg.outputs)
    return _ret(list(res[:n]) + [Recorded(branch, res[n:]) if wanted else None])


def _ret(values: list) -> Any:
    """A kernel's result: the value itself for a one-output op, else the tuple."""
    return values[0] if len(values) == 1 else tuple(values)


def _history_wanted(ctx: Any, recording: Any) -> bool:
    """Whether this run must record for a gradient: the plan reads the op's last output (a gradient op
    is in the step); when the plan's use is unknown, whenever a gradient was built."""
    used = ctx.used_outputs
    return bool(used[-1]) if used is not None else bool(recording)


@if_kernel.grad
def _if_grad(op, *grads):
    from labflow.ops import control_flow_grads
    return control_flow_grads.if_grad(op, list(grads[:-1]))


@op("IfGrad", inputs=("recorded", "*grads"), attrs={"branches": REQUIRED, "Tout": REQUIRED,
                                                    "output_shapes": REQUIRED},
    shape=_grad_shapes,
    outputs=lambda attrs, n: len(attrs["Tout"]), not_differentiable=True, needs_ctx=True, needs_step=True)
def if_grad_kernel(xp, recorded, *grads, branches, Tout, output_shapes, ctx, step):
    fn = branches[recorded.branch]
    return _ret(fn.run(ctx.device, recorded.values, list(grads), step, ctx.name))


# -- While -------------------------------------------------------------------------------------------------
@op("While", inputs=("*input",), attrs={"cond": REQUIRED, "body": REQUIRED, "T": REQUIRED, "Tout": REQUIRED,
                                         "output_shapes": REQUIRED, "n_cond_captures": 0, "has_max": False,
                                         "record": REQUIRED, "back_prop": True},
    shape=_out_shapes, outputs=_n_out, stateful=True, needs_ctx=True, needs_step=True,
    ref_inputs=tuple(range(0, 1024)))
def while_kernel(xp, *inputs, cond, body, T, Tout, output_shapes, n_cond_captures, has_max, record, back_prop,
                 ctx, step):
    n = len(Tout)
    limit = None
    if has_max:
        limit = int(inputs[-1].item() if hasattr(inputs[-1], "item") else inputs[-1])
        inputs = inputs[:-1]
    loop_vars = list(inputs[:n])
    cond_caps = list(inputs[n:n + n_cond_captures])
    body_caps = list(inputs[n + n_cond_captures:])
    wanted = _history_wanted(ctx, record)
    keep = record if wanted else []
    cond_fn = functions.get(cond, ctx.device, cond.inputs, cond.outputs)
    body_fn = functions.get(body, ctx.device, body.inputs, body.outputs + keep)
    history: list | None = [] if wanted else None
    i = 0
    while limit is None or i < limit:
        if not _truth(cond_fn(loop_vars + cond_caps, step, ctx.name)[0]):
            break
        res = body_fn(loop_vars + body_caps, step, ctx.name)
        loop_vars = res[:n]
        if history is not None:
            history.append(res[n:])
        i += 1
        if i % 64 == 0:
            step.check_cancelled()  # a closed session or a failed partition ends a long loop
    return _ret(list(loop_vars) + [Recorded(0, history) if history is not None else None])


@while_kernel.grad
def _while_grad(op, *grads):
    from labflow.ops import control_flow_grads
    return control_flow_grads.while_grad(op, list(grads[:-1]))


@op("WhileGrad", inputs=("recorded", "*input"), attrs={"grad_fn": REQUIRED, "n_vars": REQUIRED,
                                                       "Tout": REQUIRED, "output_shapes": REQUIRED},
    shape=_grad_shapes,
    outputs=lambda attrs, n: len(attrs["Tout"]), not_differentiable=True, needs_ctx=True, needs_step=True)
def while_grad_kernel(xp, recorded, *inputs, grad_fn, n_vars, Tout, output_shapes, ctx, step):
    """Runs the body's gradient once per recorded iteration, last first: inputs are the loop variables'
    output gradients (n_vars) then the body captures (for zero gradients when the loop never ran)."""
    dvars = list(inputs[:n_vars])
    caps = inputs[n_vars:]
    total: list = [None] * len(caps)
    for values in reversed(recorded.values if recorded is not None else []):
        res = grad_fn.run(ctx.device, values, dvars, step, ctx.name)
        dvars = res[:n_vars]
        for j, g in enumerate(res[n_vars:]):
            total[j] = g if total[j] is None else _add(total[j], g)
    for j, c in enumerate(caps):
        if total[j] is None and hasattr(c, "shape"):
            total[j] = xp.zeros_like(c)  # (a list's gradient stays None: all zeros)
    return _ret(list(dvars) + total)


def _add(a: Any, b: Any) -> Any:
    """The sum of two gradients: arrays, or lists of a TensorArray (None entries are zeros)."""
    if isinstance(a, tuple) or isinstance(b, tuple) or a is None or b is None:
        from labflow.ops.list_ops import add_n_kernel
        return add_n_kernel.generic_kernel(None, a, b)
    return a + b
