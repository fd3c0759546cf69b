"""Sums of per-step gradients, merged (part of runtime/rewrite.py's pass).

The gradient of a layer applied at many steps (an unrolled RNN, the tutorials' `inputs[:, t, :]` loop)
ends in an AddN of one term per step. Three kinds of terms are merged into one op, when each term
feeds only the AddN and every shape involved is static:
- MatMuls with equal transposes (a weight's gradient): one MatMul of the operands concatenated along
  the contracted dimension (20 small GEMMs + AddN -> one GEMM BLAS runs well);
- Sums over the leading axis and BiasAddGrads (a bias's gradient): one Sum (BiasAddGrad) of the
  concatenated inputs; the concatenation is shared with the weight's merged MatMul, which joins the
  same per-step gradients;
- StridedSliceGrads that each place one index of the same axis, together covering it exactly once
  (the gradient of `x[:, t, :]` for every t): one Pack of the slices' gradients, instead of a zero
  tensor per step and an AddN over all of them.
On a GPU each merged term was one to three kernel launches.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from labflow import dtypes as _dt
from labflow.framework import registry
from labflow.runtime.partition import Partition, PNode, const_node, toposort

# The concatenated operands of a merged sum stay under this many bytes (they are copies).
MERGE_MAX_BYTES = 64 << 20
_FLOATS = (_dt.float16, _dt.float32, _dt.float64)


def merge_sums(part: Partition) -> int:
    """Merges every eligible AddN of `part` in place; returns how many nodes were merged away."""
    uses: dict[int, int] = {}
    controlled: set[int] = set()
    for n in part.nodes:
        for src, _ in n.inputs:
            uses[id(src)] = uses.get(id(src), 0) + 1
        controlled.update(id(c) for c in n.control_inputs)
    concats: dict[tuple, PNode] = {}
    added: dict[int, list[PNode]] = {}
    removed: set[int] = set()
    # Products first, so the bias sums find the concatenations the weight gradients made.
    merges: list[tuple[str, Callable]] = [("MatMul", _merge_matmuls), ("Sum", _merge_reductions),
                                          ("BiasAddGrad", _merge_bias_grads), ("StridedSliceGrad", _merge_slice_grads)]
    for kind, merge in merges:
        for n in part.nodes:
            terms = [src for src, _ in n.inputs]
            if n.type != "AddN" or len(terms) < 2 or id(n) in added or any(
                    t.type != kind or k != 0 or uses.get(id(t)) != 1 or id(t) in controlled for t, k in n.inputs):
                continue
            new = merge(n, terms, concats)
            if new is None:
                continue
            added[id(n)] = new
            n.control_inputs = list(dict.fromkeys(n.control_inputs + [c for t in terms for c in t.control_inputs]))
            removed.update(id(t) for t in terms)
    if not added:
        return 0
    out: list[PNode] = []
    for n in part.nodes:
        if id(n) not in removed:
            out.extend(added.get(id(n), ()))  # what a merged node reads comes right before it
            out.append(n)
    # A shared concatenation may sit after a node now reading it: restore dependency order.
    part.nodes = toposort(out, {id(n): i for i, n in enumerate(out)})
    return len(removed)


def _retype(n: PNode, op_type: str, attrs: dict, inputs: list) -> None:
    n.type, n.opdef, n.attrs, n.inputs = op_type, registry.get(op_type), attrs, inputs


def _merge_matmuls(n: PNode, mms: list[PNode], concats: dict) -> list[PNode] | None:
    if mms[0].out_dtypes[0].base_dtype not in (_dt.float32, _dt.float64):
        return None
    ta, tb = mms[0].attrs["transpose_a"], mms[0].attrs["transpose_b"]
    if any(m.attrs["transpose_a"] != ta or m.attrs["transpose_b"] != tb for m in mms):
        return None
    a_axis, b_axis = (0 if ta else 1), (1 if tb else 0)  # the contracted dimension of each operand
    new_a, cat_a = _concat(n, [m.inputs[0] for m in mms], a_axis, "a", concats, ordered=True)
    new_b, cat_b = _concat(n, [m.inputs[1] for m in mms], b_axis, "b", concats, ordered=True)
    if cat_a is None or cat_b is None:
        return None
    _retype(n, "MatMul", {"transpose_a": ta, "transpose_b": tb, "T": n.attrs.get("T", n.out_dtypes[0])},
            [(cat_a, 0), (cat_b, 0)])
    return new_a + new_b


def _merge_reductions(n: PNode, sums: list[PNode], concats: dict) -> list[PNode] | None:
    dtype = sums[0].out_dtypes[0].base_dtype
    if dtype not in _FLOATS or any(s.attrs.get("keep_dims") for s in sums):
        return None
    for s in sums:
        src, k = s.inputs[0]
        dims, axes = src.out_dims[k], s.inputs[1][0]
        if dims is None or not dims or axes.type != "Const" or sorted(
                {int(a) % len(dims) for a in np.atleast_1d(axes.attrs["value"])}) != [0]:
            return None
    new, cat = _concat(n, [s.inputs[0] for s in sums], 0, "sum", concats, ordered=False)
    if cat is None:
        return None
    _retype(n, "Sum", dict(sums[0].attrs), [(cat, 0), sums[0].inputs[1]])
    return new


def _merge_bias_grads(n: PNode, grads: list[PNode], concats: dict) -> list[PNode] | None:
    """BiasAddGrads (the gradient of `tf.nn.bias_add`, as the RNN cells write it): one over the
    per-step gradients joined along the batch axis, which the weight's merged product already made."""
    if grads[0].out_dtypes[0].base_dtype not in _FLOATS:
        return None
    for g in grads:
        src, k = g.inputs[0]
        dims = src.out_dims[k]
        if dims is None or not dims or (g.attrs.get("data_format", "NHWC") not in ("NHWC", "N...C")
                                        and len(dims) != 2):
            return None
    new, cat = _concat(n, [g.inputs[0] for g in grads], 0, "sum", concats, ordered=False)
    if cat is None:
        return None
    _retype(n, "BiasAddGrad", dict(grads[0].attrs), [(cat, 0)])
    return new


def _merge_slice_grads(n: PNode, grads: list[PNode], concats: dict) -> list[PNode] | None:
    from labflow.ops.array_slice_ops import _index_tuple
    consts = [[src.attrs.get("value") if src.type == "Const" else None for src, _ in g.inputs[:4]] for g in grads]
    if any(v is None for c in consts for v in c):
        return None
    shape = tuple(int(d) for d in consts[0][0])
    if any(tuple(int(d) for d in c[0]) != shape for c in consts):
        return None
    axis, picked = None, {}
    for g, (_, begin, end, strides) in zip(grads, consts):
        masks = [g.attrs.get(m, 0) for m in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                                             "shrink_axis_mask")]
        at = _single_index(_index_tuple([int(v) for v in begin], [int(v) for v in end],
                                        [int(v) for v in strides], *masks), shape)
        if at is None or (axis is not None and at[0] != axis) or at[1] in picked:
            return None
        axis = at[0]
        picked[at[1]] = g.inputs[4]
        src, k = g.inputs[4]
        if src.out_dims[k] != shape[:axis] + shape[axis + 1:]:
            return None
    if sorted(picked) != list(range(shape[axis])):
        return None  # the slices must cover the axis exactly once
    dtype = grads[0].out_dtypes[0].base_dtype
    _retype(n, "Pack", {"N": len(grads), "axis": axis, "T": dtype}, [picked[i] for i in range(shape[axis])])
    return []


def _single_index(index: tuple, shape: tuple) -> tuple[int, int] | None:
    """(axis, i) when `index` selects all of `shape` but the single index i of one axis, else None."""
    if any(e is None for e in index) or sum(e is Ellipsis for e in index) > 1:
        return None
    if Ellipsis in index:
        at = index.index(Ellipsis)
        index = index[:at] + (slice(None),) * (len(shape) - len(index) + 1) + index[at + 1:]
    index = index + (slice(None),) * (len(shape) - len(index))
    if len(index) != len(shape):
        return None
    found = None
    for a, (e, d) in enumerate(zip(index, shape)):
        if isinstance(e, slice):
            if e.indices(d) != (0, d, 1):
                return None
        elif found is not None or not -d <= int(e) < d:
            return None
        else:
            found = (a, int(e) % d)
    return found


def _concat(n: PNode, values: list, axis: int, tag: str, concats: dict, ordered: bool
            ) -> tuple[list[PNode], PNode | None]:
    """(new nodes, ConcatV2 joining `values` along `axis`): one made earlier for the same values is
    reused (in any order unless `ordered`). None when a shape is not fully known or the result would
    be too big."""
    exact = (axis, tuple((id(s), k) for s, k in values))
    loose = (axis, tuple(sorted((id(s), k) for s, k in values)))
    found = concats.get(exact) or (None if ordered else concats.get(loose))
    if found is not None:
        return [], found
    dims = [src.out_dims[k] for src, k in values]
    if any(d is None or len(d) <= axis or None in d or d[:axis] + d[axis + 1:] != dims[0][:axis] + dims[0][axis + 1:]
           for d in dims):
        return [], None
    joined = list(dims[0])
    joined[axis] = sum(d[axis] for d in dims)
    dtype = values[0][0].out_dtypes[values[0][1]].base_dtype
    if int(np.prod(joined)) * dtype.size > MERGE_MAX_BYTES:
        return [], None
    ax = const_node(n, np.asarray(axis, np.int32), f"{n.name}/merged_{tag}/axis")
    cat = PNode(f"{n.name}/merged_{tag}", "ConcatV2", registry.get("ConcatV2"),
                {"N": len(values), "Tidx": _dt.int32, "T": dtype}, n.device, None, [dtype], [tuple(joined)])
    cat.inputs = list(values) + [(ax, 0)]
    concats[exact] = cat
    concats.setdefault(loose, cat)
    return [ax, cat], cat
