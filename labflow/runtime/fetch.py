"""Fetch structures: any nesting of lists, tuples, namedtuples and dicts of tensors, ops and names."""

from __future__ import annotations

from typing import Any

from labflow.framework.sparse_tensor import SparseTensor, SparseTensorValue
from labflow.framework.tensor import IndexedSlices, Operation, Tensor


class IndexedSlicesValue:
    """The fetched value of an IndexedSlices: NumPy `values`, `indices`, `dense_shape`."""

    def __init__(self, values: Any, indices: Any, dense_shape: Any):
        self.values, self.indices, self.dense_shape = values, indices, dense_shape

    def __iter__(self):
        return iter((self.values, self.indices, self.dense_shape))

    def __repr__(self) -> str:
        return f"IndexedSlicesValue(values={self.values!r}, indices={self.indices!r})"


class FetchMapper:
    """Flattens a fetch structure into unique graph elements and rebuilds results in its shape."""

    def __init__(self, fetches: Any, graph: Any):
        self.elements: list[Tensor | Operation] = []
        self._index: dict[int, int] = {}
        self._graph = graph
        self._builder = self._build(fetches)

    def _add(self, el: Tensor | Operation) -> int:
        i = self._index.get(id(el))
        if i is None:
            i = self._index[id(el)] = len(self.elements)
            self.elements.append(el)
        return i

    def _build(self, f: Any) -> Any:
        if f is None:
            raise TypeError("Fetch argument None has invalid type <class 'NoneType'>: fetch a Tensor, an "
                            "Operation, a Variable, a name, or a list/tuple/dict of those.")
        if isinstance(f, (Tensor, Operation)):
            i = self._add(self._graph.as_graph_element(f))
            return lambda r: r[i]
        if isinstance(f, SparseTensor):
            parts = [self._add(self._graph.as_graph_element(x)) for x in f._components()]
            return lambda r: SparseTensorValue(*(r[i] for i in parts))
        if isinstance(f, IndexedSlices):
            parts = [self._add(self._graph.as_graph_element(x)) for x in (f.values, f.indices)]
            ds = None if f.dense_shape is None else self._add(self._graph.as_graph_element(f.dense_shape))
            return lambda r: IndexedSlicesValue(r[parts[0]], r[parts[1]], None if ds is None else r[ds])
        if isinstance(f, str) or hasattr(f, "_as_graph_element"):
            try:
                el = self._graph.as_graph_element(f)
            except (KeyError, ValueError) as e:
                raise ValueError(f"Fetch argument {f!r} cannot be interpreted as a Tensor. ({e})") from None
            i = self._add(el)
            return lambda r: r[i]
        if isinstance(f, dict):
            items = [(k, self._build(v)) for k, v in f.items()]
            cls = type(f)
            return lambda r: cls((k, b(r)) for k, b in items)
        if isinstance(f, tuple) and hasattr(f, "_fields"):
            subs = [self._build(v) for v in f]
            cls = type(f)
            return lambda r: cls(*[b(r) for b in subs])
        if isinstance(f, (list, tuple)):
            subs = [self._build(v) for v in f]
            cls = type(f)
            return lambda r: cls(b(r) for b in subs)
        raise TypeError(f"Fetch argument {f!r} has invalid type {type(f)}, must be a string or Tensor. "
                        "(Can not convert a {type(f).__name__} into a Tensor or Operation.)")

    def build(self, results: list) -> Any:
        return self._builder(results)
