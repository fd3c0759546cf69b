"""Graph rewrites on partitions, before compilation (TF's constant folding and the arithmetic
optimizer's constant hoisting), so a plan does less work every run.

- Constant folding: a node whose inputs are all constants, with a stateless single-output kernel and
  a small result, is computed once here and becomes a constant.
- Fusion (runtime/fusion.py): Conv2D -> bias add -> Relu runs as one _FusedConv2D.
- Constant hoisting: in a chain `(x + c1) + c2` (or `*`), where the inner node feeds only the outer
  one, the constants combine: `x + (c1 + c2)`. A chain of 1000 `y = y + 1.0` becomes one add.
  Like TF's default rewriter, this reassociates floating-point arithmetic.
- Sums of products: AddN(a1^T b1, ..., an^T bn), where each MatMul feeds only the AddN, becomes one
  MatMul of the operands concatenated along the contracted dimension. That is the weight gradient of
  a layer applied at many time steps (an unrolled RNN: 20 small GEMMs and an AddN per weight become
  one GEMM BLAS runs well).

Disabled by `ConfigProto(graph_options=GraphOptions(optimizer_options=OptimizerOptions(
opt_level=OptimizerOptions.L0)))` or `do_constant_folding=False`.
"""

from __future__ import annotations

import numpy as np

from labflow import dtypes as _dt
from labflow.framework import registry
from labflow.runtime.partition import FEED, FETCH, Partition, PNode

MAX_FOLDED_ELEMENTS = 1 << 20
_HOISTABLE = {"Add": np.add, "AddV2": np.add, "Mul": np.multiply}


def _const_value(n: PNode):
    return n.attrs["value"] if n.type == "Const" else None


def _make_const(template: PNode, value: np.ndarray, name: str) -> PNode:
    dt = _dt.as_dtype(value.dtype) if value.dtype != object else _dt.string
    value.setflags(write=False)
    return PNode(name, "Const", registry.get("Const"), {"value": value, "dtype": dt}, template.device, None,
                 [dt], [tuple(value.shape)])


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
        if _foldable(n):
            v = _fold(n)
            if v is not None:
                c = _make_const(n, v, n.name + "/folded")
                _replace(nodes, n, c)
                n = c
        if n.type in _HOISTABLE and len(n.inputs) == 2:
            const = _hoist(n, consumers)
            if const is not None:
                out.append(const)  # the combined constant comes before its consumer
        out.append(n)
    part.nodes = _drop_dead(out)
    merge_matmul_sums(part)
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
    const = _make_const(n, combined, n.name + "/hoisted")
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


# The concatenated operands of a merged sum of products stay under this many bytes (they are copies).
MERGE_MAX_BYTES = 64 << 20


def merge_matmul_sums(part: Partition) -> int:
    """AddN of single-use MatMuls with equal transposes -> MatMul of concatenations; returns how many
    MatMuls were merged away. Only operands of fully known static shape are merged (to bound the copy)."""
    uses: dict[int, int] = {}
    controlled: set[int] = set()
    for n in part.nodes:
        for src, _ in n.inputs:
            uses[id(src)] = uses.get(id(src), 0) + 1
        controlled.update(id(c) for c in n.control_inputs)
    added: dict[int, list[PNode]] = {}
    removed: set[int] = set()
    for n in part.nodes:
        mms = [src for src, _ in n.inputs]
        if n.type != "AddN" or len(mms) < 2 or not all(_mergeable(m, k, uses, controlled) for m, k in n.inputs):
            continue
        ta, tb = mms[0].attrs["transpose_a"], mms[0].attrs["transpose_b"]
        if any(m.attrs["transpose_a"] != ta or m.attrs["transpose_b"] != tb for m in mms):
            continue
        a_in, b_in = [m.inputs[0] for m in mms], [m.inputs[1] for m in mms]
        a_axis, b_axis = (0 if ta else 1), (1 if tb else 0)  # the contracted dimension of each operand
        cat_a, cat_b = _concat(n, a_in, a_axis, "a"), _concat(n, b_in, b_axis, "b")
        if cat_a is None or cat_b is None:
            continue
        added[id(n)] = cat_a + cat_b
        n.type, n.opdef = "MatMul", registry.get("MatMul")
        n.attrs = {"transpose_a": ta, "transpose_b": tb, "T": n.attrs.get("T", n.out_dtypes[0])}
        n.inputs = [(cat_a[-1], 0), (cat_b[-1], 0)]
        n.control_inputs = list(dict.fromkeys(n.control_inputs + [c for m in mms for c in m.control_inputs]))
        removed.update(id(m) for m in mms)
    if not added:
        return 0
    out: list[PNode] = []
    for n in part.nodes:
        if id(n) not in removed:
            out.extend(added.get(id(n), ()))  # the axis constants and concatenations come right before
            out.append(n)
    part.nodes = out
    return len(removed)


def _mergeable(m: PNode, k: int, uses: dict[int, int], controlled: set[int]) -> bool:
    return (m.type == "MatMul" and k == 0 and uses.get(id(m)) == 1 and id(m) not in controlled
            and m.out_dtypes[0].base_dtype in (_dt.float32, _dt.float64))


def _concat(n: PNode, values: list, axis: int, tag: str) -> list[PNode] | None:
    """[axis Const, ConcatV2] joining `values` along `axis`, or None when a shape is not fully known or
    the result would be too big."""
    dims = [src.out_dims[k] for src, k in values]
    if any(d is None or len(d) != 2 or None in d for d in dims):
        return None
    joined = list(dims[0])
    joined[axis] = sum(d[axis] for d in dims)
    dtype = values[0][0].out_dtypes[values[0][1]].base_dtype
    if joined[0] * joined[1] * dtype.size > MERGE_MAX_BYTES:
        return None
    ax = _make_const(n, np.asarray(axis, np.int32), f"{n.name}/merged_{tag}/axis")
    cat = PNode(f"{n.name}/merged_{tag}", "ConcatV2", registry.get("ConcatV2"),
                {"N": len(values), "Tidx": _dt.int32, "T": dtype}, n.device, None, [dtype], [tuple(joined)])
    cat.inputs = list(values) + [(ax, 0)]
    return [ax, cat]
