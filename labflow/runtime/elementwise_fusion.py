"""Elementwise clustering on partitions (what TF's XLA auto-clustering does for `global_jit_level`):
connected elementwise nodes of one shape become one _FusedElementwise node, which a GPU runs as a
single kernel (ops/fused_elementwise_ops.py).

Why: on a GPU every node costs a launch and a Python dispatch (~10-20 us) whatever its size; an
unrolled 2-layer LSTM's gate math is ~1000 such nodes per training step on [20, 200] values. On by
default for GPU partitions; CPU partitions cluster only when asked (`global_jit_level` ON_1/ON_2 with
`cpu_global_jit`), since NumPy runs a cluster op by op anyway.

A cluster is a set of fusable nodes (EXPRESSIONS' op types, float16/32/64, one static output shape
shared by the whole cluster (unknown dimensions allowed: the kernel checks the actual shapes), no
control edges out) joined through data edges, such that no path
leaves the cluster and comes back: that would make the fused node depend on itself. Each node's
ancestors are kept as a bit set, so that check is a few integer ANDs per candidate merge. Values a
non-member reads (other nodes, fetches, Sends) become the fused node's outputs.

On a GPU, a bias add that comes right before a split (an LSTM's gates) is first moved after it
(`bias_after_split`), so each piece's add joins the cluster of the math it feeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework import registry
from labflow.ops.fused_elementwise_ops import EXPRESSIONS
from labflow.ops.fused_elementwise_ops import MAX_KERNEL_ARGS as MAX_ARGS
from labflow.runtime.fusion import SHAPE_ONLY
from labflow.runtime.partition import Partition, PNode, const_node, consumers_of, toposort

_TYPES = (_dt.float16, _dt.float32, _dt.float64)
# Most ops in one cluster: bounds the cost of clustering (quadratic in a cluster's size) and of
# compiling its kernel.
MAX_MEMBERS = 64
# Past this many nodes a partition is not clustered: the ancestor sets grow with the square of it.
_MAX_NODES = 60000


def enabled(device_type: str, optimizer_options: Any) -> bool:
    """Whether partitions of this device type are clustered under these OptimizerOptions."""
    level = optimizer_options.global_jit_level
    if level == optimizer_options.OFF:
        return False
    if device_type == "GPU":
        return True
    return level in (optimizer_options.ON_1, optimizer_options.ON_2) and bool(optimizer_options.cpu_global_jit)


def _fusable(n: PNode, controlled: set[int]) -> bool:
    if n.type not in EXPRESSIONS or n.opdef is None or len(n.out_dtypes) != 1 or id(n) in controlled:
        return False
    dt, shape = n.out_dtypes[0], n.out_dims[0]
    if dt not in _TYPES or shape is None:
        return False
    return all(src.out_dtypes[k].base_dtype == dt for src, k in n.inputs)


class _Cluster:
    __slots__ = ("members", "mask")

    def __init__(self, n: PNode, bit: int):
        self.members = [n]
        self.mask = bit


def fuse_elementwise(part: Partition, min_size: int = 2) -> int:
    """Clusters `part`'s elementwise nodes in place; returns how many nodes were removed."""
    if len(part.nodes) > _MAX_NODES:
        return 0
    if part.device.device_type == "GPU":
        bias_after_split(part)
    cast_compare(part)
    nodes = part.nodes
    controlled = {id(c) for n in nodes for c in n.control_inputs}
    bit = {id(n): 1 << i for i, n in enumerate(nodes)}
    anc: dict[int, int] = {}  # node -> bit set of every node it depends on
    cluster: dict[int, _Cluster] = {}

    def preds(n: PNode):
        for src, _ in n.inputs:
            yield src
        yield from n.control_inputs

    def joinable(members: list[PNode], mask: int) -> bool:
        # No value from outside the set may depend on a member: that path would come back in. And the
        # kernel's inputs must leave room for its outputs among MAX_ARGS.
        ids = {id(m) for m in members}
        external = {(id(src), k) for m in members for src, k in m.inputs if id(src) not in ids}
        if len(members) > MAX_MEMBERS or len(external) > MAX_ARGS * 2 // 3:
            return False
        return not any(id(p) not in ids and anc[id(p)] & mask for m in members for p in preds(m))

    for n in nodes:
        a = 0
        for p in preds(n):
            a |= anc[id(p)] | bit[id(p)]
        anc[id(n)] = a
        if not _fusable(n, controlled):
            continue
        shape, dt = n.out_dims[0], n.out_dtypes[0]
        cands = list({id(c): c for c in (cluster.get(id(src)) for src, _ in n.inputs)
                      if c is not None and c.members[0].out_dims[0] == shape
                      and c.members[0].out_dtypes[0] == dt}.values())
        joined = None
        # All neighbouring clusters at once if that is acyclic, else the biggest one that is.
        choices = ([cands] if len(cands) > 1 else []) + [[c] for c in sorted(cands, key=lambda c: -len(c.members))]
        for choice in choices:
            members = [m for c in choice for m in c.members] + [n]
            mask = bit[id(n)]
            for c in choice:
                mask |= c.mask
            if joinable(members, mask):
                joined = choice[0]
                for c in choice[1:]:
                    joined.members.extend(c.members)
                    joined.mask |= c.mask
                    for m in c.members:
                        cluster[id(m)] = joined
                joined.members.append(n)
                joined.mask |= bit[id(n)]
                break
        cluster[id(n)] = joined or _Cluster(n, bit[id(n)])

    groups = {id(c): c for c in cluster.values() if len(c.members) >= min_size}
    if not groups:
        return 0
    order = {id(n): i for i, n in enumerate(nodes)}
    consumers: dict[int, list[PNode]] = {}
    for n in nodes:
        for src, _ in n.inputs:
            consumers.setdefault(id(src), []).append(n)
    removed: set[int] = set()
    fused_nodes: list[PNode] = []
    for c in groups.values():
        f = _fused_node(sorted(c.members, key=lambda m: order[id(m)]), consumers)
        if f is None:
            continue
        removed.update(id(m) for m in c.members)
        order[id(f)] = max(order[id(m)] for m in c.members)
        fused_nodes.append(f)
    if not fused_nodes:
        return 0
    kept = [n for n in nodes if id(n) not in removed] + fused_nodes
    part.nodes = toposort(kept, order)
    return len(nodes) - len(part.nodes)


def _fused_node(members: list[PNode], consumers: dict[int, list[PNode]]) -> PNode | None:
    ids = {id(m): i for i, m in enumerate(members)}
    inputs: list[tuple[PNode, int]] = []
    index: dict[tuple[int, int], int] = {}
    for m in members:
        for src, k in m.inputs:
            if id(src) not in ids and (id(src), k) not in index:
                index[(id(src), k)] = len(inputs)
                inputs.append((src, k))
    n_in = len(inputs)
    if n_in > MAX_ARGS - 1:
        return None

    def operand(src: PNode, k: int) -> int:
        return n_in + ids[id(src)] if id(src) in ids else index[(id(src), k)]

    program = [" ".join([m.type] + [str(operand(src, k)) for src, k in m.inputs]) for m in members]
    outside = [[u for u in consumers.get(id(m), []) if id(u) not in ids] for m in members]
    outputs = [i for i, users in enumerate(outside) if users]
    if not outputs or n_in + len(outputs) > MAX_ARGS:
        return None  # nothing reads any of it (elementwise ops have no effects), or too many arguments
    last = members[-1]
    opdef = registry.get("_FusedElementwise")
    f = PNode(last.name, opdef.name, opdef, {"program": program, "outputs": [n_in + i for i in outputs],
                                              "fused_names": [m.name for m in members]},
              last.device, last.op, [members[i].out_dtypes[0] for i in outputs],
              [members[i].out_dims[0] for i in outputs])
    f.inputs = inputs
    f.control_inputs = list(dict.fromkeys(c for m in members for c in m.control_inputs))
    for out_idx, i in enumerate(outputs):
        m = members[i]
        for u in dict.fromkeys(outside[i]):
            u.inputs = [(f, out_idx) if src is m else (src, k) for src, k in u.inputs]
    return f


def bias_after_split(part: Partition) -> int:
    """`split(matmul(a, w) + b)` -> `split(matmul(a, w))[i] + split(b)[i]` when every piece feeds
    elementwise ops; returns how many splits were rewritten.

    An LSTM cell's gates: the bias add of the _FusedMatMul is a launch of its own on a GPU, on the
    whole [batch, 4 * units] product, before the split that feeds the gate math. Added per piece
    instead, it joins that math's cluster and costs nothing (the split of a 1-D bias is views).
    Only the forward computation changes: gradients were built from the user's graph already.
    """
    consumers, controlled = consumers_of(part.nodes)
    added: dict[int, list[PNode]] = {}
    bias_splits: dict[tuple, PNode] = {}  # one per bias: every step of an unrolled RNN shares it
    for s in part.nodes:
        new = _push_bias(s, consumers, controlled, bias_splits)
        if new:
            added[id(s)] = new
    if not added:
        return 0
    out: list[PNode] = []
    for n in part.nodes:
        out.append(n)
        out.extend(added.get(id(n), ()))
    part.nodes = toposort(out, {id(n): i for i, n in enumerate(out)})
    return len(added)


def _push_bias(s: PNode, consumers: dict[int, list[PNode]], controlled: set[int],
               bias_splits: dict[tuple, PNode]) -> list[PNode] | None:
    if s.type != "Split" or id(s) in controlled or s.control_inputs:
        return None
    (axis_src, _), (x, xk) = s.inputs
    if (x.type != "_FusedMatMul" or list(x.attrs.get("fused_ops", ())) != ["BiasAdd"] or xk != 0
            or id(x) in controlled or x.control_inputs or axis_src.type != "Const"):
        return None
    readers = [u for u in consumers.get(id(x), []) if u.type not in SHAPE_ONLY]
    if int(axis_src.attrs["value"]) not in (1, -1) or readers != [s]:
        return None  # not split along the product's columns, or the product is read elsewhere too
    dt, k = x.out_dtypes[0], int(s.attrs["num_split"])
    bias, bk = x.inputs[2]
    bdims = bias.out_dims[bk]
    if dt not in _TYPES or bdims is None or len(bdims) != 1 or bdims[0] is None or bdims[0] % k:
        return None
    users = list(dict.fromkeys(consumers.get(id(s), [])))
    if any(u.type not in EXPRESSIONS or u.out_dtypes[0] != dt for u in users) or None in s.out_dims:
        return None  # a piece read by a non-elementwise op: its add would be a launch of its own
    new: list[PNode] = []
    split_bias = bias_splits.get((id(bias), bk, k))
    if split_bias is None:
        axis0 = const_node(s, np.asarray(0, np.int32), f"{s.name}/bias_split/axis")
        split_bias = PNode(f"{s.name}/bias_split", "Split", s.opdef, {**s.attrs}, s.device, None, [dt] * k,
                           [(bdims[0] // k,)] * k)
        split_bias.inputs = [(axis0, 0), (bias, bk)]
        bias_splits[(id(bias), bk, k)] = split_bias
        new = [axis0, split_bias]
    add_def = registry.get("Add")
    adds = []
    for i in range(k):
        a = PNode(f"{s.name}/bias_{i}", "Add", add_def, {"T": dt}, s.device, None, [dt], [s.out_dims[i]])
        a.inputs = [(s, i), (split_bias, i)]
        adds.append(a)
    for u in users:
        u.inputs = [(adds[i], 0) if src is s else (src, i) for src, i in u.inputs]
    x.type, x.opdef = "MatMul", registry.get("MatMul")
    x.attrs = {key: v for key, v in x.attrs.items() if key != "fused_ops"}
    x.inputs = x.inputs[:2]
    return new + adds


def cast_compare(part: Partition) -> int:
    """Cast(GreaterEqual(x, y)) to x's float type, the GreaterEqual read by nothing else, becomes one
    _CastGreaterEqual(x, y, 1): a float op the clusters take in (a dropout's keep mask then joins the
    clusters on both sides of it). Returns how many nodes were removed."""
    opdef = registry.lookup("_CastGreaterEqual")
    consumers, controlled = consumers_of(part.nodes)
    removed: set[int] = set()
    out: list[PNode] = []
    for n in part.nodes:
        if n.type == "Cast" and opdef is not None and len(n.inputs) == 1 and n.out_dtypes[0] in _TYPES:
            ge, k = n.inputs[0]
            if (ge.type == "GreaterEqual" and k == 0 and len(ge.inputs) == 2 and id(ge) not in controlled
                    and [id(u) for u in consumers.get(id(ge), [])] == [id(n)]
                    and all(src.out_dtypes[sk].base_dtype == n.out_dtypes[0] for src, sk in ge.inputs)):
                one = const_node(n, np.ones((), n.out_dtypes[0].as_numpy_dtype), n.name + "/one")
                out.append(one)
                n.type, n.opdef, n.attrs = opdef.name, opdef, {}
                n.inputs = list(ge.inputs) + [(one, 0)]
                n.control_inputs = list(dict.fromkeys(ge.control_inputs + n.control_inputs))
                removed.add(id(ge))
        out.append(n)
    if removed:
        part.nodes = [n for n in out if id(n) not in removed]
    return len(removed)
