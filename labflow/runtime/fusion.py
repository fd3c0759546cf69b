"""Operator fusion on partitions (TF's grappler remapper): Conv2D -> bias add -> Relu becomes one
_FusedConv2D, and MatMul -> bias add -> Relu one _FusedMatMul, whose bias add and activation run on
each output block while it is still in cache (and need no kernel launch of their own on a GPU). The
backward of relu -> max_pool becomes one _FusedMaxPoolGrad, `v.assign(v * c)` an in-place _AssignMul,
and on a GPU one optimizer's per-variable updates one multi-variable op (`group_updates`).

Runs after the step's graph exists, so gradients are never involved: a chain is fused only when each
intermediate value has exactly one consumer (the next node of the chain) and nothing depends on the
intermediate nodes by control edges, so no other node ever needs a value the fused node does not make.
The bias add is a BiasAdd (NHWC) or an Add/AddV2 of the product and a 1-D value whose static size is
its last dimension (the tutorials write `conv2d(x, W) + b` and `matmul(x, W) + b`).
"""

from __future__ import annotations

from labflow import dtypes as _dt
from labflow.framework import registry
from labflow.runtime.partition import Partition, PNode, consumers_of, toposort

_ADDS = ("BiasAdd", "Add", "AddV2")
# The products that fuse, and what they become.
_FUSED = {"Conv2D": "_FusedConv2D", "MatMul": "_FusedMatMul"}
_FLOATS = (_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64)
# Consumers that read only a value's shape: the fused node's output has the same shape as each
# intermediate of the chain (bias add and activation keep it), so they can read that instead. This is
# what lets training graphs fuse: the gradient of `conv + b` asks for Shape(conv) when the batch is unknown.
SHAPE_ONLY = ("Shape", "Size", "Rank", "ShapeN")


def fuse(part: Partition) -> int:
    """Fuses every eligible chain of `part` in place; returns how many nodes were removed."""
    consumers, controlled = consumers_of(part.nodes)
    removed: set[int] = set()
    for head in part.nodes:
        fused_opdef = registry.lookup(_FUSED.get(head.type, ""))
        if fused_opdef is None or id(head) in removed or head.out_dtypes[0].base_dtype not in _FLOATS:
            continue
        if head.type == "Conv2D" and head.attrs.get("data_format", "NHWC") != "NHWC":
            continue
        add = _only_consumer(head, consumers, controlled)
        bias = _bias_input(add, head) if add is not None else None
        if bias is None:
            continue
        chain, last, ops = [head, add], add, ["BiasAdd"]
        act = _only_consumer(add, consumers, controlled)
        if act is not None and act.type == "Relu":
            chain, last, ops = [head, add, act], act, ["BiasAdd", "Relu"]
        # The last node of the chain becomes the fused node: its consumers keep pointing at it.
        for n in chain[:-1]:
            for user in consumers.get(id(n), []):
                if user.type in SHAPE_ONLY:
                    user.inputs = [(last, 0) if src is n else (src, k) for src, k in user.inputs]
        attrs = dict(head.attrs)
        attrs["fused_ops"] = ops
        last.type, last.opdef, last.attrs = fused_opdef.name, fused_opdef, attrs
        last.inputs = [head.inputs[0], head.inputs[1], bias]
        last.control_inputs = list(dict.fromkeys(c for n in chain for c in n.control_inputs))
        removed.update(id(n) for n in chain if n is not last)
    if removed:
        part.nodes = [n for n in part.nodes if id(n) not in removed]
    n_removed = len(removed) + _fuse_pool_relu_grad(part) + _fuse_assign_mul(part) + group_updates(part)
    if n_removed:
        # A fused node stands where its chain's last node stood: a reader moved to it (a shape reader, a
        # control edge) may come earlier in the list; restore dependency order.
        part.nodes = toposort(part.nodes, {id(n): i for i, n in enumerate(part.nodes)})
    return n_removed


def _fuse_pool_relu_grad(part: Partition) -> int:
    """ReluGrad(MaxPoolGrad(x, y, g), x) becomes one _FusedMaxPoolGrad (the backward of relu -> max_pool,
    every CNN's): the max-pool gradient is masked by x > 0 where it is made. Only when the ReluGrad is
    the pool gradient's one consumer and reads the same x."""
    opdef = registry.lookup("_FusedMaxPoolGrad")
    consumers, controlled = consumers_of(part.nodes)
    removed: set[int] = set()
    for pool in part.nodes:
        if pool.type != "MaxPoolGrad" or opdef is None:
            continue
        relu = _only_consumer(pool, consumers, controlled)
        if (relu is None or relu.type != "ReluGrad" or len(relu.inputs) != 2 or relu.inputs[0] != (pool, 0)
                or relu.inputs[1] != pool.inputs[0] or relu.out_dtypes[0] != pool.out_dtypes[0]):
            continue
        for user in consumers.get(id(pool), []):
            if user.type in SHAPE_ONLY:
                user.inputs = [(relu, 0) if src is pool else (src, k) for src, k in user.inputs]
        relu.type, relu.opdef = opdef.name, opdef
        relu.attrs = dict(pool.attrs, fused_ops=["ReluGrad"])
        relu.inputs = list(pool.inputs)
        relu.control_inputs = list(dict.fromkeys(pool.control_inputs + relu.control_inputs))
        removed.add(id(pool))
    if removed:
        part.nodes = [n for n in part.nodes if id(n) not in removed]
    return len(removed)


def _fuse_assign_mul(part: Partition) -> int:
    """Assign(v, Mul(v's value, c)) becomes _AssignMul(v, c), v *= c in place (Assign writes into v's
    buffer too): Adam's beta-power updates, a product and a copy each. Only when the product has no
    other reader and the shapes are v's own, fully known."""
    opdef = registry.lookup("_AssignMul")
    consumers, controlled = consumers_of(part.nodes)
    removed: set[int] = set()
    for a in part.nodes:
        if a.type != "Assign" or opdef is None or len(a.inputs) != 2:
            continue
        ref, (mul, k) = a.inputs
        if mul.type != "Mul" or k or len(mul.inputs) != 2 or id(mul) in controlled \
                or [id(u) for u in consumers.get(id(mul), [])] != [id(a)]:
            continue
        var_dims = ref[0].out_dims[ref[1]]
        if var_dims is None or None in var_dims or mul.out_dims[0] != var_dims:
            continue
        reads = [j for j, (src, sk) in enumerate(mul.inputs)
                 if (src, sk) == ref or (src.type == "Identity" and src.inputs and src.inputs[0] == ref)]
        if not reads:
            continue
        a.type, a.opdef, a.attrs = opdef.name, opdef, {"use_locking": bool(a.attrs.get("use_locking"))}
        a.inputs = [ref, mul.inputs[1 - reads[0]]]
        a.control_inputs = list(dict.fromkeys(a.control_inputs + mul.control_inputs))
        removed.add(id(mul))
    if removed:
        part.nodes = [n for n in part.nodes if id(n) not in removed]
    return len(removed)


# Per-variable update op: (its multi-variable op, how many ref inputs it has, the inputs all of one
# optimizer's updates share, its per-variable dense input).
_MULTI = {"ApplyAdam": ("_MultiApplyAdam", 3, (3, 4, 5, 6, 7, 8), 9),
          "ApplyGradientDescent": ("_MultiApplyGradientDescent", 1, (1,), 2)}


def group_updates(part: Partition, max_group: int = 16) -> int:
    """On a GPU partition, the ApplyAdam (ApplyGradientDescent) nodes that read the same scalars (one
    optimizer's update) become one _MultiApplyAdam (_MultiApplyGradientDescent) per up to `max_group`
    of them (train/multi_apply_ops.py): one kernel launch instead of one per variable. Only nodes whose
    output nothing reads qualify (the optimizer's group depends on them by control edges, which move
    to the new node), independent of each other and updating each variable once. Returns how many
    nodes were removed."""
    if part.device.device_type != "GPU":
        return 0
    consumers, _ = consumers_of(part.nodes)
    groups: dict[tuple, list[PNode]] = {}
    for n in part.nodes:
        spec = _MULTI.get(n.type)
        if (spec is None or registry.lookup(spec[0]) is None or len(n.inputs) != spec[3] + 1 or consumers.get(id(n))
                or n.out_dtypes[0].base_dtype not in (_dt.float32, _dt.float64)):
            continue
        key = (n.type, tuple((id(src), k) for src, k in (n.inputs[i] for i in spec[2])),
               bool(n.attrs.get("use_nesterov")), n.out_dtypes[0].base_dtype)
        groups.setdefault(key, []).append(n)
    replaced: dict[int, PNode] = {}
    for members in groups.values():
        multi, n_refs, shared, dense = _MULTI[members[0].type]
        opdef = registry.lookup(multi)
        for i in range(0, len(members), max_group):
            chunk = members[i:i + max_group]
            if len(chunk) < 2 or not _independent(chunk, n_refs):
                continue
            head = chunk[0]
            attrs = {"N": len(chunk), "use_locking": bool(head.attrs.get("use_locking"))}
            if "use_nesterov" in opdef.attrs:
                attrs["use_nesterov"] = bool(head.attrs.get("use_nesterov"))
            fused = PNode(f"{head.name}/multi_{len(chunk)}", multi, opdef, attrs, part.device, None, [], [])
            fused.inputs = ([x for n in chunk for x in n.inputs[:n_refs]] + [n.inputs[dense] for n in chunk]
                            + [head.inputs[j] for j in shared])
            fused.control_inputs = list(dict.fromkeys(c for n in chunk for c in n.control_inputs))
            replaced.update((id(n), fused) for n in chunk)
    if not replaced:
        return 0
    # Each new node takes the place of its group's last member: every member's inputs come before that.
    last = {id(f): max(i for i, n in enumerate(part.nodes) if replaced.get(id(n)) is f) for f in replaced.values()}
    nodes = []
    for i, n in enumerate(part.nodes):
        f = replaced.get(id(n))
        if f is None:
            if n.control_inputs and any(id(c) in replaced for c in n.control_inputs):
                n.control_inputs = list(dict.fromkeys(replaced.get(id(c), c) for c in n.control_inputs))
            nodes.append(n)
        elif last[id(f)] == i:
            nodes.append(f)
    removed = len(part.nodes) - len(nodes)
    part.nodes = nodes
    return removed


def _independent(members: list[PNode], n_refs: int = 3) -> bool:
    """Whether the updates can run as one kernel: each variable and slot updated once, and no member
    depending on another (one search back from all of them: an acyclic graph reaches a member from the
    others' inputs only if it is an ancestor of one of them)."""
    refs = [(id(src), k) for n in members for src, k in n.inputs[:n_refs]]
    if len(set(refs)) != len(refs):
        return False
    ids = {id(n) for n in members}
    seen: set[int] = set()
    stack = [p for n in members for p in [src for src, _ in n.inputs] + n.control_inputs]
    while stack:
        p = stack.pop()
        if id(p) in seen:
            continue
        if id(p) in ids:
            return False
        seen.add(id(p))
        stack.extend(src for src, _ in p.inputs)
        stack.extend(p.control_inputs)
    return True


def _only_consumer(n: PNode, consumers: dict[int, list[PNode]], controlled: set[int]) -> PNode | None:
    """The single consumer of `n`'s value that is not a shape-only reader, or None."""
    users = [u for u in consumers.get(id(n), []) if u.type not in SHAPE_ONLY]
    if len(users) != 1 or id(n) in controlled or len(n.out_dtypes) != 1:
        return None
    return users[0]


def _bias_input(add: PNode, head: PNode) -> tuple[PNode, int] | None:
    """The bias operand of `add` when it adds a vector along the last dimension of `head`'s output, else None."""
    if add.type not in _ADDS or len(add.inputs) != 2 or add.out_dtypes[0] != head.out_dtypes[0]:
        return None
    if add.type == "BiasAdd":
        if add.attrs.get("data_format", "NHWC") != "NHWC" or add.inputs[0][0] is not head:
            return None
        return add.inputs[1]
    (a, ka), (b, kb) = add.inputs
    other = (b, kb) if a is head else (a, ka) if b is head else None
    if other is None or other[0] is head:
        return None
    dims = other[0].out_dims[other[1]]
    channels = head.out_dims[0][-1] if head.out_dims[0] else None
    if dims is None or len(dims) != 1 or channels is None or dims[0] != channels:
        return None
    return other
