"""Operator fusion on partitions (TF's grappler remapper): Conv2D -> bias add -> Relu becomes one
_FusedConv2D, whose bias add and activation run on each output block while it is still in cache.

Runs after the step's graph exists, so gradients are never involved: a chain is fused only when each
intermediate value has exactly one consumer (the next node of the chain) and nothing depends on the
intermediate nodes by control edges, so no other node ever needs a value the fused node does not make.
The bias add is a BiasAdd (NHWC) or an Add/AddV2 of the conv output and a 1-D value whose static size
is the conv's channel count (the tutorials write `conv2d(x, W) + b`).
"""

from __future__ import annotations

from labflow.framework import registry
from labflow.runtime.partition import Partition, PNode

_ADDS = ("BiasAdd", "Add", "AddV2")
# Consumers that read only a value's shape: the fused node's output has the same shape as each
# intermediate of the chain (bias add and activation keep it), so they can read that instead. This is
# what lets training graphs fuse: the gradient of `conv + b` asks for Shape(conv) when the batch is unknown.
_SHAPE_ONLY = ("Shape", "Size", "Rank", "ShapeN")


def fuse(part: Partition) -> int:
    """Fuses every eligible chain of `part` in place; returns how many nodes were removed."""
    consumers: dict[int, list[PNode]] = {}
    controlled: set[int] = set()
    for n in part.nodes:
        for src, _ in n.inputs:
            consumers.setdefault(id(src), []).append(n)
        controlled.update(id(c) for c in n.control_inputs)
    fused_opdef = registry.lookup("_FusedConv2D")
    if fused_opdef is None:
        return 0
    removed: set[int] = set()
    for conv in part.nodes:
        if conv.type != "Conv2D" or conv.attrs.get("data_format", "NHWC") != "NHWC" or id(conv) in removed:
            continue
        add = _only_consumer(conv, consumers, controlled)
        bias = _bias_input(add, conv) if add is not None else None
        if bias is None:
            continue
        chain, last, ops = [conv, add], add, ["BiasAdd"]
        act = _only_consumer(add, consumers, controlled)
        if act is not None and act.type == "Relu":
            chain, last, ops = [conv, add, act], act, ["BiasAdd", "Relu"]
        # The last node of the chain becomes the fused node: its consumers keep pointing at it.
        for n in chain[:-1]:
            for user in consumers.get(id(n), []):
                if user.type in _SHAPE_ONLY:
                    user.inputs = [(last, 0) if src is n else (src, k) for src, k in user.inputs]
        attrs = dict(conv.attrs)
        attrs["fused_ops"] = ops
        last.type, last.opdef, last.attrs = "_FusedConv2D", fused_opdef, attrs
        last.inputs = [conv.inputs[0], conv.inputs[1], bias]
        last.control_inputs = list(dict.fromkeys(c for n in chain for c in n.control_inputs))
        removed.update(id(n) for n in chain if n is not last)
    if removed:
        part.nodes = [n for n in part.nodes if id(n) not in removed]
    return len(removed)


def _only_consumer(n: PNode, consumers: dict[int, list[PNode]], controlled: set[int]) -> PNode | None:
    """The single consumer of `n`'s value that is not a shape-only reader, or None."""
    users = [u for u in consumers.get(id(n), []) if u.type not in _SHAPE_ONLY]
    if len(users) != 1 or id(n) in controlled or len(n.out_dtypes) != 1:
        return None
    return users[0]


def _bias_input(add: PNode, conv: PNode) -> tuple[PNode, int] | None:
    """The bias operand of `add` when it adds a per-channel vector to `conv`'s output, else None."""
    if add.type not in _ADDS or len(add.inputs) != 2 or add.out_dtypes[0] != conv.out_dtypes[0]:
        return None
    if add.type == "BiasAdd":
        if add.attrs.get("data_format", "NHWC") != "NHWC" or add.inputs[0][0] is not conv:
            return None
        return add.inputs[1]
    (a, ka), (b, kb) = add.inputs
    other = (b, kb) if a is conv else (a, ka) if b is conv else None
    if other is None or other[0] is conv:
        return None
    dims = other[0].out_dims[other[1]]
    channels = conv.out_dims[0][3] if conv.out_dims[0] is not None and len(conv.out_dims[0]) == 4 else None
    if dims is None or len(dims) != 1 or channels is None or dims[0] != channels:
        return None
    return other
