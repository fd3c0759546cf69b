"""`tf.map_fn`, `tf.scan`, `tf.foldl`, `tf.foldr` (TF 1.x signatures), each one `tf.while_loop`.

Elements are read from, and results written to, TensorArrays (as TF does); gradients flow through all four.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labflow.framework import nest
from labflow.framework.graph import get_default_graph
from labflow.ops import array_ops
from labflow.ops.common import convert_to_tensor
from labflow.ops.cond_while import while_loop

__all__ = ["map_fn", "scan", "foldl", "foldr"]


def _elems(elems: Any, what: str) -> tuple[list, Any]:
    flat = [convert_to_tensor(e) for e in nest.flatten(elems)]
    if not flat:
        raise ValueError(f"{what}: elems must not be empty")
    for e in flat:
        d = e._shape_dims
        if d is not None and len(d) == 0:
            raise ValueError(f"{what}: elements in elems must be 1+ dimensional Tensors, not scalars ({e.name})")
    return flat, array_ops.shape(flat[0])[0]


def _arrays(flat: list, n: Any) -> list:
    from labflow.ops.tensor_array_ops import TensorArray
    return [TensorArray(e.dtype, size=n, element_shape=None if e._shape_dims is None else list(e._shape_dims[1:])
                        ).unstack(e) for e in flat]


def map_fn(fn: Callable, elems: Any, dtype: Any = None, parallel_iterations: int | None = None,
           back_prop: bool = True, swap_memory: bool = False, infer_shape: bool = True,
           name: str | None = None) -> Any:
    """fn applied to each slice elems[i] along axis 0, the results stacked (TF 1.x `tf.map_fn`).

    Args:
        fn: maps one element (structured like `elems`) to a result.
        elems: a tensor or a (nested) structure of tensors with the same first dimension.
        dtype: the dtype (structure) of fn's result when it differs from elems'.
        back_prop: whether gradients flow through.
        infer_shape: learn the results' static shape from the first one fn returns.
        name: the name scope (default "map").

    Returns:
        The stacked results, structured like fn's result.
    """
    from labflow.ops.tensor_array_ops import TensorArray
    del parallel_iterations, swap_memory
    flat, n = _elems(elems, "map_fn")
    out_dtypes = nest.flatten(dtype) if dtype is not None else [e.dtype.base_dtype for e in flat]
    g = get_default_graph()
    with g.name_scope(name or "map"):
        ins = _arrays(flat, n)
        outs0 = [TensorArray(dt, size=n, infer_shape=infer_shape) for dt in out_dtypes]
        structure: list = []

        def body(i: Any, outs: list) -> tuple:
            out = fn(nest.pack_sequence_as(elems, [a.read(i) for a in ins]))
            structure[:] = [out]
            vals = nest.flatten(out)
            if len(vals) != len(outs):
                raise ValueError(f"map_fn: fn returned {len(vals)} tensors, but dtype says {len(outs)}; pass "
                                 "dtype= with the structure of fn's result")
            return i + 1, [a.write(i, v) for a, v in zip(outs, vals)]

        _, outs = while_loop(lambda i, outs: i < n, body, [array_ops.constant(0), outs0], back_prop=back_prop,
                             name="while")
        return nest.pack_sequence_as(structure[0], [a.stack() for a in outs])


def scan(fn: Callable, elems: Any, initializer: Any = None, parallel_iterations: int | None = None,
         back_prop: bool = True, swap_memory: bool = False, infer_shape: bool = True, reverse: bool = False,
         name: str | None = None) -> Any:
    """The running results a_i = fn(a_{i-1}, elems[i]), stacked (TF 1.x `tf.scan`).

    Without `initializer`, a_0 = elems[0] (elems[n-1] with `reverse`) and the scan starts at the next element.
    """
    from labflow.ops.tensor_array_ops import TensorArray
    del parallel_iterations, swap_memory
    flat, n = _elems(elems, "scan")
    g = get_default_graph()
    with g.name_scope(name or "scan"):
        ins = _arrays(flat, n)
        first = n - 1 if reverse else 0
        if initializer is None:
            start = array_ops.constant(1)
            a0 = nest.pack_sequence_as(elems, [a.read(first) for a in ins])
        else:
            start = array_ops.constant(0)
            a0 = nest.map_structure(convert_to_tensor, initializer)
        outs0 = [TensorArray(t.dtype, size=n, infer_shape=infer_shape) for t in nest.flatten(a0)]
        if initializer is None:
            outs0 = [o.write(first, t) for o, t in zip(outs0, nest.flatten(a0))]

        def body(k: Any, a: Any, outs: list) -> tuple:
            i = n - 1 - k if reverse else k
            new = fn(a, nest.pack_sequence_as(elems, [x.read(i) for x in ins]))
            nest.assert_same_structure(a, new, check_types=False)
            vals = [convert_to_tensor(v) for v in nest.flatten(new)]
            return k + 1, nest.pack_sequence_as(a, vals), [o.write(i, v) for o, v in zip(outs, vals)]

        _, _, outs = while_loop(lambda k, a, outs: k < n, body, [start, a0, outs0], back_prop=back_prop,
                                name="while")
        return nest.pack_sequence_as(a0, [o.stack() for o in outs])


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
