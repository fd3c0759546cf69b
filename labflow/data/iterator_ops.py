"""`tf.data.Iterator` (TF 1.x): what reads a dataset in a graph — `get_next()` ops and an initializer."""

from __future__ import annotations

import itertools
from typing import Any

from labflow.data.dataset_ops import _flatten, _pack
from labflow.framework.func_graph import outermost_graph
from labflow.framework.graph import get_default_graph
from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Operation, Tensor
from labflow.ops import dataset_ops as _ops

__all__ = ["Iterator", "make_one_shot_iterator", "make_initializable_iterator"]

_names = itertools.count()


class Iterator:
    """Reads the elements of a dataset: `get_next()` gives tensors that take the next element each run.

    Every `get_next()` op of one iterator pulls from the same per-session state; `initializer`
    (initializable iterators) or `make_initializer(dataset)` (reinitializable ones) start it over.
    """

    def __init__(self, shared_name: str, output_types: Any, output_shapes: Any, one_shot: Any = None):
        self._shared_name = shared_name
        self._types = output_types
        self._shapes = output_shapes
        self._one_shot = one_shot
        self._initializer: Operation | None = None

    @staticmethod
    def from_structure(output_types: Any, output_shapes: Any = None, shared_name: str | None = None,
                       output_classes: Any = None) -> Iterator:
        """A reinitializable iterator for datasets with these element types (and shapes)."""
        if output_shapes is None:
            output_shapes = _pack(output_types, [TensorShape(None)] * len(_flatten(output_types)))
        return Iterator(shared_name or f"iterator_{next(_names)}", output_types, output_shapes)

    @staticmethod
    def _one_shot(dataset: Any) -> Iterator:
        return Iterator(f"one_shot_iterator_{next(_names)}", dataset.output_types, dataset.output_shapes, dataset)

    @property
    def output_types(self) -> Any:
        return self._types

    @property
    def output_shapes(self) -> Any:
        return self._shapes

    @property
    def output_classes(self) -> Any:
        return _pack(self._types, [Tensor] * len(_flatten(self._types)))

    @property
    def initializer(self) -> Operation:
        """The op that (re)starts an initializable iterator."""
        if self._initializer is None:
            raise ValueError("Iterator does not have an initializer: use make_initializer(dataset), or "
                             "dataset.make_initializable_iterator()")
        return self._initializer

    def make_initializer(self, dataset: Any, name: str | None = None) -> Operation:
        """An op that starts this iterator over `dataset` (whose element types must match)."""
        want = [t.base_dtype for t in _flatten(self._types)]
        if [t.base_dtype for t in _flatten(dataset.output_types)] != want:
            raise TypeError(f"Expected output types {self._types} but got dataset with output types "
                            f"{dataset.output_types}.")
        for a, b in zip(_flatten(self._shapes), _flatten(dataset.output_shapes)):
            if not TensorShape(a).is_compatible_with(TensorShape(b)):
                raise TypeError(f"Expected output shapes compatible with {self._shapes} but got dataset with "
                                f"output shapes {dataset.output_shapes}.")
        g = outermost_graph(get_default_graph())
        return g.create_op("MakeIterator", dataset._inputs(), attrs={
            "dataset": _ops.register(dataset), "shared_name": self._shared_name}, name=name or "MakeIterator")

    def get_next(self, name: str | None = None) -> Any:
        """Tensors holding the next element each time they are evaluated (OutOfRangeError at the end)."""
        types = [t.base_dtype for t in _flatten(self._types)]
        shapes = [TensorShape(s) for s in _flatten(self._shapes)]
        inputs: list[Tensor] = []
        token = ""
        if self._one_shot is not None:
            inputs = self._one_shot._inputs()
            token = getattr(self, "_token", None) or _ops.register(self._one_shot)
            self._token = token
        g = get_default_graph()
        op = g.create_op("IteratorGetNext", inputs, attrs={
            "shared_name": self._shared_name, "output_types": types, "output_shapes": shapes, "one_shot": token},
            name=name or "IteratorGetNext")
        return _pack(self._types, list(op.outputs))


def make_one_shot_iterator(dataset: Any) -> Iterator:
    """`tf.compat.v1.data.make_one_shot_iterator(dataset)`."""
    return dataset.make_one_shot_iterator()


def make_initializable_iterator(dataset: Any, shared_name: str | None = None) -> Iterator:
    """`tf.compat.v1.data.make_initializable_iterator(dataset)`."""
    return dataset.make_initializable_iterator(shared_name)
