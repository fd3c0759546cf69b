"""`tf.map_fn`, `tf.scan`, `tf.foldl`, `tf.foldr` (TF 1.x signatures), each one `tf.while_loop`.

The per-element results are gathered by concatenation along a new leading axis (labflow has no
TensorArray): a loop of n steps copies O(n^2) elements in all, which is small next to the work of any
function worth mapping for the lengths these are used with. Gradients flow through all four.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labflow import dtypes as _dt
from labflow.framework import nest
from labflow.framework.graph import get_default_graph
from labflow.framework.shapes import TensorShape
from labflow.ops import array_join_ops, array_ops, array_reshape_ops
from labflow.ops.common import convert_to_tensor
from labflow.ops.cond_while import cond, while_loop

__all__ = ["map_fn", "scan", "foldl", "foldr"]


def _elems(elems: Any, what: str) -> tuple[list, Any]:
    flat = [convert_to_tensor(e) for e in nest.flatten(elems)]
    if not flat:
        raise ValueError(f"{what}: elems must not be empty")
    for e in flat:
        d = e.get_shape().as_list()
        if d is not None and len(d) == 0:
            raise ValueError(f"{what}: elements in elems must be 1+ dimensional Tensors, not scalars ({e.name})")
    return flat, array_ops.shape(flat[0])[0]


def _append(acc: Any, value: Any, first: Any) -> Any:
    """acc with `value` appended along a new axis 0; on the first step acc is only a typed placeholder."""
    row = array_reshape_ops.expand_dims(value, 0)
    return cond(first, lambda: row, lambda: array_join_ops.concat([acc, row], 0))


def _gathered(results: list, outs: list) -> list:
    """Static shapes of the gathered results: [n] + the per-element result shape."""
    for r, o in zip(results, outs):
        d = o.get_shape().as_list()
        if d is not None:
            r.set_shape([None] + d)
    return results


def map_fn(fn: Callable, elems: Any, dtype: Any = None, parallel_iterations: int | None = None,
           back_prop: bool = True, swap_memory: bool = False, infer_shape: bool = True,
           name: str | None = None) -> Any:
    """fn applied to each slice elems[i] along axis 0, the results stacked (TF 1.x `tf.map_fn`).

    Args:
        fn: maps one element (structured like `elems`) to a result.
        elems: a tensor or a (nested) structure of tensors with the same first dimension.
        dtype: the dtype (structure) of fn's result when it differs from elems'.
        back_prop: whether gradients flow through.
        name: the name scope (default "map").

    Returns:
        The stacked results, structured like fn's result.
    """
    del parallel_iterations, swap_memory, infer_shape
    flat, n = _elems(elems, "map_fn")
    out_dtypes = nest.flatten(dtype) if dtype is not None else [e.dtype.base_dtype for e in flat]
    g = get_default_graph()
    with g.name_scope(name or "map"):
        accs = [array_ops.zeros([0], dtype=_dt.as_dtype(dt)) for dt in out_dtypes]
        structure: list = []
        outs_seen: list = []

        def body(i: Any, acc: list) -> tuple:
            out = fn(nest.pack_sequence_as(elems, [e[i] for e in flat]))
            structure[:] = [out]
            outs = [convert_to_tensor(o) for o in nest.flatten(out)]
            if len(outs) != len(acc):
                raise ValueError(f"map_fn: fn returned {len(outs)} tensors, but dtype says {len(acc)}; pass "
                                 "dtype= with the structure of fn's result")
            outs_seen[:] = outs
            first = i < 1
            return i + 1, [_append(a, o, first) for a, o in zip(acc, outs)]

        _, results = while_loop(lambda i, acc: i < n, body, [array_ops.constant(0), accs],
                                shape_invariants=[TensorShape([]), [TensorShape(None) for _ in accs]],
                                back_prop=back_prop, name="while")
        results = _gathered(results if isinstance(results, list) else [results], outs_seen)
        return nest.pack_sequence_as(structure[0], results)


def scan(fn: Callable, elems: Any, initializer: Any = None, parallel_iterations: int | None = None,
         back_prop: bool = True, swap_memory: bool = False, infer_shape: bool = True, reverse: bool = False,
         name: str | None = None) -> Any:
    """The running results a_i = fn(a_{i-1}, elems[i]), stacked (TF 1.x `tf.scan`).

    Without `initializer`, a_0 = elems[0] and the scan starts at the second element.
    """
    del parallel_iterations, swap_memory, infer_shape
    flat, n = _elems(elems, "scan")
    g = get_default_graph()
    with g.name_scope(name or "scan"):
        if initializer is None:
            start = array_ops.constant(1)
            a0 = nest.pack_sequence_as(elems, [e[n - 1] if reverse else e[0] for e in flat])
        else:
            start = array_ops.constant(0)
            a0 = nest.map_structure(convert_to_tensor, initializer)
        a_flat = nest.flatten(a0)
        accs = [array_reshape_ops.expand_dims(a, 0) if initializer is None else
                array_ops.zeros(array_join_ops.concat([[0], array_ops.shape(a)], 0), dtype=a.dtype.base_dtype)
                for a in a_flat]

        def body(k: Any, a: Any, acc: list) -> tuple:
            i = n - 1 - k if reverse else k
            new = fn(a, nest.pack_sequence_as(elems, [e[i] for e in flat]))
            nest.assert_same_structure(a, new, check_types=False)
            outs = [convert_to_tensor(o) for o in nest.flatten(new)]
            row = [array_reshape_ops.expand_dims(o, 0) for o in outs]
            acc = [array_join_ops.concat([r, c] if reverse else [c, r], 0) for c, r in zip(acc, row)]
            return k + 1, nest.pack_sequence_as(a, outs), acc

        invariants = [TensorShape([]), nest.map_structure(lambda t: TensorShape(t.get_shape().as_list()), a0),
                      [TensorShape([None] + (t.get_shape().as_list() or [])) if t.get_shape().as_list()
                       is not None else TensorShape(None) for t in a_flat]]
        _, _, results = while_loop(lambda k, a, acc: k < n, body, [start, a0, accs],
                                   shape_invariants=invariants, back_prop=back_prop, name="while")
        return nest.pack_sequence_as(a0, results if isinstance(results, list) else [results])


def _fold(fn: Callable, elems: Any, initializer: Any, back_prop: bool, name: str, reverse: bool) -> Any:
    flat, n = _elems(elems, name)
    g = get_default_graph()
    with g.name_scope(name):
        if initializer is None:
            start = array_ops.constant(1)
            a0 = nest.pack_sequence_as(elems, [e[n - 1] if reverse else e[0] for e in flat])
        else:
            start = array_ops.constant(0)
            a0 = nest.map_structure(convert_to_tensor, initializer)

        def body(k: Any, a: Any) -> tuple:
            i = n - 1 - k if reverse else k
            new = fn(a, nest.pack_sequence_as(elems, [e[i] for e in flat]))
            nest.assert_same_structure(a, new, check_types=False)
            return k + 1, nest.pack_sequence_as(a, [convert_to_tensor(o) for o in nest.flatten(new)])

        _, out = while_loop(lambda k, a: k < n, body, [start, a0], back_prop=back_prop, name="while")
        return out


def foldl(fn: Callable, elems: Any, initializer: Any = None, parallel_iterations: int | None = None,
          back_prop: bool = True, swap_memory: bool = False, name: str | None = None) -> Any:
    """fn(...fn(fn(initializer, elems[0]), elems[1])..., elems[n-1]) (TF 1.x `tf.foldl`); without an
    initializer the fold starts from elems[0]."""
    del parallel_iterations, swap_memory
    return _fold(fn, elems, initializer, back_prop, name or "foldl", reverse=False)


def foldr(fn: Callable, elems: Any, initializer: Any = None, parallel_iterations: int | None = None,
          back_prop: bool = True, swap_memory: bool = False, name: str | None = None) -> Any:
    """foldl from the last element to the first (TF 1.x `tf.foldr`)."""
    del parallel_iterations, swap_memory
    return _fold(fn, elems, initializer, back_prop, name or "foldr", reverse=True)
