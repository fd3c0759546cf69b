"""More of `tf.data`: background prefetching, list_files, unbatch, enumerate and Dataset.reduce.

`prefetch` runs its input pipeline on a producer thread that fills a bounded buffer while the consumer
(the iterator's get_next) takes from it. The producer stops when the iterator is restarted or dropped,
when its session closes, or after its input fails; a failure travels through the buffer and is raised
by the get_next that reaches it, so errors surface where TF raises them.
"""

from __future__ import annotations

import glob
import queue
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.data.dataset_ops import Dataset
from labflow.data.file_datasets import _file_list, _names
from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Tensor

__all__ = ["AUTOTUNE"]

AUTOTUNE = -1
_AUTOTUNE_BUFFER = 16  # what AUTOTUNE buffers: labflow does not tune, a fixed depth keeps memory bounded
_POLL = 0.05  # seconds between checks for a stop request while the buffer is full or empty


def check_parallel_calls(num_parallel_calls: int | None) -> None:
    """map/interleave's `num_parallel_calls`: None, a positive count or AUTOTUNE (TF's rule)."""
    if num_parallel_calls is not None and num_parallel_calls != AUTOTUNE and int(num_parallel_calls) <= 0:
        raise ValueError(f"num_parallel_calls must be greater than zero (or tf.data.experimental.AUTOTUNE), "
                         f"got {num_parallel_calls}")


class _Prefetch(Dataset):
    def __init__(self, parent: Dataset, buffer_size: int):
        buffer_size = int(buffer_size)
        if buffer_size < AUTOTUNE:
            raise ValueError(f"buffer_size must be >= 0 or set buffer_size to be -1 for auto-tuning, got "
                             f"{buffer_size}")
        super().__init__(parent._structure, parent._types, parent._shapes, (parent,))
        self._parent = parent
        self._size = _AUTOTUNE_BUFFER if buffer_size == AUTOTUNE else buffer_size

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        if self._size == 0:  # TF's prefetch(0): no buffer, no thread
            yield from self._parent._elements(values, runner)
            return
        buf: queue.Queue = queue.Queue(maxsize=self._size)
        stop = threading.Event()
        bg = runner.background() if hasattr(runner, "background") else runner
        threading.Thread(target=_produce, args=(self._parent, values, bg, buf, stop), daemon=True,
                         name="labflow-prefetch").start()
        try:
            while True:
                try:
                    kind, item = buf.get(timeout=_POLL)
                except queue.Empty:
                    check = getattr(runner, "check_cancelled", None)
                    if check is not None:
                        check()  # a closed session must not leave get_next waiting on a stuck producer
                    continue
                if kind == "element":
                    yield item
                elif kind == "error":
                    raise item
                else:
                    return
        finally:
            stop.set()  # iterator exhausted, restarted, dropped or failed: the producer ends too


def _produce(parent: Dataset, values: dict, runner: Any, buf: queue.Queue, stop: threading.Event) -> None:
    def put(entry: tuple) -> bool:
        while not stop.is_set():
            if getattr(runner, "stopped", lambda: False)():
                return False
            try:
                buf.put(entry, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    try:
        for comps in parent._elements(values, runner):
            if not put(("element", comps)):
                return
    except Exception as e:  # noqa: BLE001 - handed to the consumer, which raises it at get_next
        put(("error", e))
        return
    put(("end", None))


class _ListFiles(Dataset):
    def __init__(self, patterns: Any, shuffle: bool | None, seed: int | None):
        super().__init__(_dt.string, [_dt.string], [TensorShape([])])
        self._files, self._tensors = _file_list(patterns)
        self._shuffle = True if shuffle is None else bool(shuffle)
        self._seed = seed
        self._epoch = 0

    def _own_inputs(self) -> list[Tensor]:
        return self._tensors

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        patterns = _names(values, self._files, self._tensors)
        found = sorted({m for p in patterns for m in glob.glob(p)})
        if not found:
            raise errors.InvalidArgumentError(None, None, f"No files matched pattern: {', '.join(patterns)}")
        if self._shuffle:
            seed = None if self._seed is None else self._seed + self._epoch
            self._epoch += 1
            np.random.RandomState(seed).shuffle(found)
        for f in found:
            yield [np.asarray(f.encode(), dtype=object)]


class _Unbatch(Dataset):
    def __init__(self, parent: Dataset):
        if any(s.ndims == 0 for s in parent._shapes):
            raise ValueError("Cannot unbatch an input with scalar components.")
        shapes = [TensorShape(None) if s.ndims is None else TensorShape(s.as_list()[1:]) for s in parent._shapes]
        super().__init__(parent._structure, parent._types, shapes, (parent,))
        self._parent = parent

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        for comps in self._parent._elements(values, runner):
            arrs = [np.asarray(c) for c in comps]
            if any(a.ndim == 0 for a in arrs) or len({a.shape[0] for a in arrs}) != 1:
                raise errors.InvalidArgumentError(
                    None, None, f"unbatch: the components of an element must share their first dimension, got "
                    f"shapes {[a.shape for a in arrs]}")
            for i in range(arrs[0].shape[0]):
                yield [a[i] for a in arrs]


def unbatch_dataset(dataset: Dataset) -> Dataset:
    return _Unbatch(dataset)


def list_files(file_pattern: Any, shuffle: bool | None = None, seed: int | None = None) -> Dataset:
    return _ListFiles(file_pattern, shuffle, seed)


def enumerate_dataset(dataset: Dataset, start: int = 0) -> Dataset:
    return Dataset.zip((Dataset.range(int(start), np.iinfo(np.int64).max), dataset))



def _trace_reduce(dataset: Dataset, state_types: list, state_shapes: list, structure: Any, fn: Any) -> tuple:
    """reduce_func traced once on placeholders for (state, element): (FuncGraph, result structure, outputs)."""
    from labflow.data.dataset_ops import _flatten, _pack
    from labflow.framework.func_graph import FuncGraph, outermost_graph
    from labflow.framework.graph import get_default_graph
    from labflow.ops.common import convert_to_tensor
    fg = FuncGraph("dataset_reduce", outermost_graph(get_default_graph()))
    with fg.as_default():
        state = [fg.add_input(t, s.as_list() if s.ndims is not None else None, f"state_{i}")
                 for i, (t, s) in enumerate(zip(state_types, state_shapes))]
        elem = [fg.add_input(t, s.as_list() if s.ndims is not None else None, f"arg_{i}")
                for i, (t, s) in enumerate(zip(dataset._types, dataset._shapes))]
        result = fn(_pack(structure, state), _pack(dataset._structure, elem))
        outs = [convert_to_tensor(x) for x in _flatten(result)]
        outs = [fg.capture(x) if x.graph is not fg else x for x in outs]
    fg.outputs = outs
    return fg, result, outs


def reduce_dataset(dataset: Dataset, initial_state: Any, reduce_func: Any) -> Any:
    """The state after `state = reduce_func(state, element)` over every element (TF's Dataset.reduce)."""
    from labflow.data.dataset_ops import _flatten, _pack
    from labflow.framework import nest
    from labflow.framework.graph import get_default_graph
    from labflow.ops import dataset_ops as ops
    from labflow.ops.common import convert_to_tensor
    init = [convert_to_tensor(x) for x in _flatten(initial_state)]
    types = [t.dtype.base_dtype for t in init]
    shapes = [TensorShape(t._shape_dims) for t in init]
    for _ in range(2):  # a state whose shape changes is traced again with the relaxed shape, as TF does
        fg, result, outs = _trace_reduce(dataset, types, shapes, initial_state, reduce_func)
        try:
            nest.assert_same_structure(initial_state, result, check_types=False)
        except (ValueError, TypeError) as e:
            raise TypeError(f"reduce_func must return the structure of initial_state: {e}") from None
        got = [t.dtype.base_dtype for t in outs]
        if got != types:
            raise TypeError(f"reduce_func must return the dtypes of initial_state {[t.name for t in types]}, got "
                            f"{[t.name for t in got]}")
        relaxed = [s.most_specific_compatible_shape(TensorShape(t._shape_dims)) for s, t in zip(shapes, outs)]
        if relaxed == shapes:
            break
        shapes = relaxed
    g = get_default_graph()
    op = g.create_op("ReduceDataset", dataset._inputs() + init + fg.captured_outer, attrs={
        "reducer": ops.register((dataset, fg, len(dataset._inputs()), len(init))), "output_types": types,
        "output_shapes": shapes}, name="ReduceDataset")
    return _pack(initial_state, list(op.outputs))
