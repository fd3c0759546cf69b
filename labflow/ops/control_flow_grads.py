"""Gradients of If and While (see functional_ops.py for the recording scheme).

For a branch or loop body `fg`, `GradFunction` adds to `fg` itself one placeholder per output gradient
and the ops of `tf.gradients(fg.outputs, fg.inputs)`. The forward tensors those ops read are appended
to the forward op's `record` list (its kernel returns their values); the gradient function is compiled
with those tensors as *arguments*, so running it never re-runs the forward ops.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.graph import _graph_of
from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Tensor
from labflow.runtime import functions

# A variant (a TensorArray's list) carries the gradients of the elements it holds.
_DIFF = (_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64, _dt.complex64, _dt.complex128, _dt.variant)


def differentiable(t: Tensor) -> bool:
    return t.dtype.base_dtype in _DIFF


class GradFunction:
    """d(outputs)/d(inputs) of a FuncGraph, fed with recorded forward values and output gradients.

    `run(device, recorded, dys, step)` takes the forward op's recorded values (all of them; this function
    picks its own) and one gradient per differentiable output (in `out_idx` order), and returns one
    gradient per differentiable input (in `in_idx` order), zeros where an input does not matter.
    """

    def __init__(self, fg: Any, record: list, out_idx: list[int], in_idx: list[int]):
        from labflow.framework.gradients import gradients
        self.fg = fg
        n0 = len(fg._ops)
        # everything made here lives under "gradients" (views leave it out, like a graph's own gradients)
        with fg.as_default(), fg.name_scope("gradients"):
            outs = [fg.outputs[i] for i in out_idx]
            self.dys = [fg.add_input(t.dtype.base_dtype, None if t._shape_dims is None else list(t._shape_dims),
                                     f"grad_of_output_{i}") for i, t in zip(out_idx, outs)]
            if self.dys:  # gradient arguments are not the function's forward arguments
                del fg.inputs[-len(self.dys):]
            xs = [fg.inputs[i] for i in in_idx]
            grads = gradients(outs, xs, grad_ys=self.dys) if outs and xs else [None] * len(xs)
            self.grads = [_dense(g) if g is not None else _zeros_for(x) for g, x in zip(grads, xs)]
        new_ops = fg._ops[n0:]
        made = {id(o) for o in new_ops}
        dy_ids = {id(t) for t in self.dys}
        needed: list[Tensor] = []
        for o in new_ops:
            for t in o._inputs:
                if id(t.op) not in made and id(t) not in dy_ids and t not in needed:
                    needed.append(t)
        for t in self.grads:  # a gradient that is a forward tensor itself (identity) is read as recorded
            if id(t.op) not in made and t not in needed and id(t) not in dy_ids:
                needed.append(t)
        for t in needed:
            if t not in record:
                record.append(t)
        self.positions = [record.index(t) for t in needed]
        self.needed = needed

    @classmethod
    def from_parts(cls, fg: Any, needed: list, dys: list, grads: list, positions: list[int]) -> GradFunction:
        """A gradient function whose ops already exist in `fg` (an imported graph)."""
        self = cls.__new__(cls)
        self.fg, self.needed, self.dys, self.grads, self.positions = fg, needed, dys, grads, positions
        return self

    def run(self, device: Any, recorded: list, dys: list, step: Any, caller: str = "") -> list:
        # WhileGrad calls this once per iteration: the compiled plan is looked up once per device
        fns = self.__dict__.setdefault("_fns", {})
        fn = fns.get(device.name)
        if fn is None:
            fn = fns[device.name] = functions.get(self.fg, device, self.needed + self.dys, self.grads)
        return fn([recorded[p] for p in self.positions] + list(dys), step, caller)


def _dense(g: Any) -> Tensor:
    from labflow.framework.gradients import densify
    from labflow.framework.tensor import IndexedSlices
    return densify(g) if isinstance(g, IndexedSlices) else g


def _zeros_for(t: Tensor) -> Tensor:
    from labflow.ops.array_ops import zeros_like
    if t.dtype.base_dtype == _dt.variant:
        from labflow.ops.common import make_op
        return make_op("TensorListZeros", [t])._outputs[0]
    return zeros_like(t)


def if_grad(op: Any, grads: list) -> list:
    """Gradients of an If op w.r.t. its inputs (None for the predicate and non-float inputs)."""
    then_fg, else_fg = op.get_attr("then_branch"), op.get_attr("else_branch")
    record = op.get_attr("record")
    outs = op.outputs[:-1]
    out_idx = [i for i, t in enumerate(outs) if differentiable(t)]
    in_idx = [i for i, t in enumerate(op.inputs[1:]) if differentiable(t)]
    if not in_idx:
        return [None] * len(op.inputs)
    branches = [GradFunction(fg, record[b], out_idx, in_idx) for b, fg in enumerate((then_fg, else_fg))]
    g = _graph_of(op.outputs[0])
    dys = [grads[i] if grads[i] is not None else _zeros_for(outs[i]) for i in out_idx]
    xs = [op.inputs[1 + i] for i in in_idx]
    with g.colocate_with(op):
        gop = g.create_op("IfGrad", [op.outputs[-1]] + dys, attrs={
            "branches": branches, "Tout": [x.dtype.base_dtype for x in xs],
            "output_shapes": [TensorShape(x._shape_dims) for x in xs]}, name="IfGrad")
    res: list = [None] * len(op.inputs)
    for k, i in enumerate(in_idx):
        res[1 + i] = gop.outputs[k]
    return res


def while_grad(op: Any, grads: list) -> list:
    """Gradients of a While op w.r.t. its loop variables and the tensors its body captured."""
    if not op.get_attr("back_prop"):
        return [None] * len(op.inputs)
    body = op.get_attr("body")
    n = len(op.get_attr("Tout"))
    n_cond = op.get_attr("n_cond_captures")
    n_body = len(body.captures)
    outs = op.outputs[:n]
    var_idx = [i for i in range(n) if differentiable(outs[i])]
    cap_idx = [n + i for i in range(n_body) if differentiable(body.inputs[n + i])]
    if not var_idx and not cap_idx:
        return [None] * len(op.inputs)
    fn = GradFunction(body, op.get_attr("record"), var_idx, var_idx + cap_idx)
    g = _graph_of(op.outputs[0])
    dys = [grads[i] if grads[i] is not None else _zeros_for(outs[i]) for i in var_idx]
    caps = [op.inputs[n + n_cond + (i - n)] for i in cap_idx]
    wanted = [outs[i] for i in var_idx] + caps
    with g.colocate_with(op):
        gop = g.create_op("WhileGrad", [op.outputs[-1]] + dys + caps, attrs={
            "grad_fn": fn, "n_vars": len(var_idx), "Tout": [t.dtype.base_dtype for t in wanted],
            "output_shapes": [TensorShape(t._shape_dims) for t in wanted]}, name="WhileGrad")
    res: list = [None] * len(op.inputs)
    for k, i in enumerate(var_idx):
        res[i] = gop.outputs[k]
    for k, i in enumerate(cap_idx):
        res[n_cond + i] = gop.outputs[len(var_idx) + k]
    return res
