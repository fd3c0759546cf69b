"""Control flow: no_op, group, tuple and identity-based ordering."""

from __future__ import annotations

import builtins
from typing import Any

from labflow.framework.graph import get_default_graph
from labflow.framework.registry import op
from labflow.framework.tensor import IndexedSlices, Operation, Tensor
from labflow.ops.common import no_outputs

__all__ = ["no_op", "group", "tuple"]


@op("NoOp", shape=no_outputs, outputs=0, not_differentiable=True)
def no_op_kernel(xp):
    return None


def no_op(name: str | None = None) -> Operation:
    """An op that does nothing; useful as a target that carries control dependencies."""
    return get_default_graph().create_op("NoOp", [], name=name or "NoOp")


def _as_op(x: Any) -> Operation:
    if hasattr(x, "_as_graph_element"):
        x = x._as_graph_element()
    if isinstance(x, (Tensor, IndexedSlices)):
        return x.op
    if isinstance(x, Operation):
        return x
    raise TypeError(f"group() expects Tensors, Operations or Variables, got {x!r}")


def group(*inputs: Any, **kwargs: Any) -> Operation:
    """An op that runs all `inputs` (TF 1.x `tf.group`), grouped per device like TF."""
    name = kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"group() got unexpected keyword arguments: {', '.join(kwargs)}")
    flat: list[Any] = []
    for x in inputs:
        if isinstance(x, (list, builtins.tuple)):
            flat.extend(x)
        elif x is not None:
            flat.append(x)
    ops = []
    for x in flat:
        o = _as_op(x)
        if o not in ops:
            ops.append(o)
    g = ops[0].graph if ops else get_default_graph()
    with g.name_scope(name or "group_deps") as scope:
        with g.control_dependencies(ops):
            # A name ending in "/" is taken as is: the op is named after its scope, as in TF.
            return g.create_op("NoOp", [], name=scope)


def tuple(tensors: list, name: str | None = None, control_inputs: list | None = None) -> list:  # noqa: A001
    """Returns identities of `tensors` that are only available after all of them are computed."""
    from labflow.ops.array_ops import identity
    g = get_default_graph()
    with g.name_scope(name or "tuple"):
        gate = group(*[t for t in tensors if t is not None], *(control_inputs or []))
        out = []
        for t in tensors:
            if t is None:
                out.append(None)
                continue
            with g.control_dependencies([gate]):
                out.append(identity(t))
        return out
