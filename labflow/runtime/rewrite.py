"""Graph rewrites on partitions, before compilation (TF's constant folding and the arithmetic
optimizer's constant hoisting), so a plan does less work every run.

- Constant folding: a node whose inputs are all constants, with a stateless single-output kernel and
  a small result, is computed once here and becomes a constant; so does a OnesLike/ZerosLike of a
  fully known static shape.
- Fusion (runtime/fusion.py): Conv2D -> bias add -> Relu runs as one _FusedConv2D.
- Constant hoisting: in a chain `(x + c1) + c2` (or `*`), where the inner node feeds only the outer
  one, the constants combine: `x + (c1 + c2)`. A chain of 1000 `y = y + 1.0` becomes one add.
  Like TF's default rewriter, this reassociates floating-point arithmetic.
- Sums of per-step gradients (runtime/merge_sums.py): the AddNs an unrolled RNN's gradient ends in
  become one op each (a weight's 20 GEMMs one GEMM, a bias's 20 reductions one, 20 slice gradients
  of the input one Pack).

Disabled by `ConfigProto(graph_options=GraphOptions(optimizer_options=OptimizerOptions(
opt_level=OptimizerOptions.L0)))` or `do_constant_folding=False`.
"""

from __future__ import annotations

import numpy as np

from labflow import dtypes as _dt
from labflow.runtime import merge_sums
from labflow.runtime.partition import FEED, FETCH, Partition, PNode, const_node

MAX_FOLDED_ELEMENTS = 1 << 20
_HOISTABLE = {"Add": np.add, "AddV2": np.add, "Mul": np.multiply}


def _const_value(n: PNode):
    return n.attrs["value"] if n.type == "Const" else None


def _foldable(n: PNode) -> bool:
    d = n.opdef
    return (d is not None and n.type not in (FEED, FETCH, "Const") and not d.stateful and not d.needs_ctx
            and not d.needs_step and len(n.out_dtypes) == 1 and not n.out_dtypes[0].is_ref_dtype
            and n.inputs and d.kernel_for("CPU") is not None)


def _fold(n: PNode) -> np.ndarray | None:
    vals = [_const_value(src) if k == 0 else None for src, k in n.inputs]
    if any(v is None for v in vals):
        return None
    d = n.opdef
    kwargs = {a: n.attrs[a] for a in d.attrs if a in d.kernel_attrs}
    try:
        with np.errstate(all="ignore"):
            out = getattr(np, d.xp_fn)(*vals) if d.xp_fn else d.kernel_for("CPU")(np, *vals, **kwargs)
    except Exception:  # noqa: BLE001 - not foldable here; the op raises its real error at run time
        return None
    out = np.asarray(out)
    want = n.out_dtypes[0].base_dtype
    if out.size > MAX_FOLDED_ELEMENTS or (want != _dt.string and out.dtype != np.dtype(want.as_numpy_dtype)):
        return None
    return out


_MATERIALIZABLE = {"OnesLike": np.ones, "ZerosLike": np.zeros}


def _materialize(n: PNode) -> np.ndarray | None:
    """The value of a OnesLike/ZerosLike whose static shape is fully known (grappler's
    MaterializeConstantValuedNode): it reads only its input's shape. A Mean's gradient starts with
    OnesLike(loss), a launch per step on a GPU otherwise."""
    dims, dt = n.out_dims[0], n.out_dtypes[0]
    if dims is None or any(d is None for d in dims) or dt.is_ref_dtype or dt == _dt.string:
        return None
    size = int(np.prod(dims, dtype=np.int64))
    if size > MAX_FOLDED_ELEMENTS:
        return None
    return _MATERIALIZABLE[n.type](dims, dtype=dt.as_numpy_dtype)


def optimize(part: Partition) -> int:
    """Rewrites `part.nodes` in place; returns how many nodes were removed."""
    nodes = part.nodes
    before = len(nodes)
    consumers: dict[int, int] = {}
    for n in nodes:
        for src, _ in n.inputs:
            consumers[id(src)] = consumers.get(id(src), 0) + 1
    out: list[PNode] = []
    for n in nodes:
        if n.type in _MATERIALIZABLE and not n.control_inputs:
            v = _materialize(n)
            if v is not None:
                c = const_node(n, v, n.name + "/materialized")
                _replace(nodes, n, c)
                n = c
        if _foldable(n):
            v = _fold(n)
            if v is not None:
                c = const_node(n, v, n.name + "/folded")
                _replace(nodes, n, c)
                n = c
        if n.type in _HOISTABLE and len(n.inputs) == 2:
            const = _hoist(n, consumers)
            if const is not None:
                out.append(const)  # the combined constant comes before its consumer
        out.append(n)
    part.nodes = _drop_dead(out)
    merge_sums.merge_sums(part)
    from labflow.runtime import fusion
    fusion.fuse(part)
    return before - len(part.nodes)


def _replace(nodes: list[PNode], old: PNode, new: PNode) -> None:
    for m in nodes:
        if any(src is old for src, _ in m.inputs):
            m.inputs = [(new, k) if src is old else (src, k) for src, k in m.inputs]
        if old in m.control_inputs:
            m.control_inputs = [new if c is old else c for c in m.control_inputs]


def _split(n: PNode):
    """(other input, constant value, constant index) when exactly one input of `n` is a constant."""
    (a, ka), (b, kb) = n.inputs
    if b.type == "Const" and a.type != "Const":
        return (a, ka), b.attrs["value"]
    if a.type == "Const" and b.type != "Const":
        return (b, kb), a.attrs["value"]
    return None


def _hoist(n: PNode, consumers: dict[int, int]) -> PNode | None:
    """Combines the constants of `n` and its single-use inner node of the same type; returns the new
    constant node (the inner node is left without consumers), or None when nothing changed."""
    split = _split(n)
    if split is None:
        return None
    (inner, k), c2 = split
    if inner.type != n.type or k != 0 or consumers.get(id(inner), 0) != 1 or inner.control_inputs:
        return None
    inner_split = _split(inner)
    if inner_split is None:
        return None
    x, c1 = inner_split
    combined = np.asarray(_HOISTABLE[n.type](c1, c2))
    if combined.dtype != c1.dtype or combined.size > MAX_FOLDED_ELEMENTS:
        return None
    const = const_node(n, combined, n.name + "/hoisted")
    n.inputs = [x, (const, 0)]  # x now feeds n instead of inner: its consumer count is unchanged
    consumers[id(inner)] = 0
    return const


def _drop_dead(nodes: list[PNode]) -> list[PNode]:
    """Removes stateless nodes nothing consumes any more (and constants only they used)."""
    used: set[int] = set()
    keep: list[PNode] = []
    for n in reversed(nodes):
        needed = (id(n) in used or n.type in (FETCH, FEED) or n.opdef is None or n.opdef.stateful
                  or not n.out_dtypes)
        if needed:
            keep.append(n)
            used.update(id(src) for src, _ in n.inputs)
            used.update(id(c) for c in n.control_inputs)
    keep.reverse()
    return keep
