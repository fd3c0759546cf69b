"""`tf.data.Dataset` (TF 1.x): input pipelines as chains of transformations, read through an iterator.

A dataset is a Python description; its elements are NumPy structures (tuples, dicts) produced on the
host when an iterator's `get_next()` op runs (labflow/ops/dataset_ops.py), or ahead of it by a producer
thread after a `prefetch` (labflow/data/dataset_extra.py). `map` and `filter` trace their
function once into a FuncGraph (as tf.cond's branches) and run it on each element through the same
compiled-plan machinery as the rest of the graph, so a function may use any op and capture tensors.
Datasets may depend on graph tensors (`from_tensor_slices(placeholder)`): their values are read when
the iterator is initialized (`sess.run(it.initializer, feed_dict=...)`), as in TF.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.func_graph import FuncGraph, outermost_graph
from labflow.framework.graph import get_default_graph
from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Tensor

__all__ = ["Dataset", "TFRecordDataset", "TextLineDataset"]


# tf.data's rule: tuples, namedtuples and dicts make an element's structure; a list is a value.
def _flatten(x: Any) -> list:
    if isinstance(x, dict):
        return [v for k in sorted(x) for v in _flatten(x[k])]
    if isinstance(x, tuple):
        return [v for c in x for v in _flatten(c)]
    return [x]


def _pack(structure: Any, leaves: list) -> Any:
    it = iter(leaves)

    def build(s: Any) -> Any:
        if isinstance(s, dict):
            return type(s)((k, build(s[k])) for k in sorted(s))
        if isinstance(s, tuple):
            parts = [build(c) for c in s]
            return type(s)(*parts) if hasattr(s, "_fields") else type(s)(parts)
        return next(it)

    return build(structure)


def _spec_of(value: Any) -> tuple:
    """(dtype, TensorShape) of one component: a tensor, or a value converted like a constant."""
    if isinstance(value, Tensor):
        return value.dtype.base_dtype, TensorShape(value._shape_dims)
    arr = np.asarray(value)
    dt = _dt.string if arr.dtype.kind in "OSU" else _dt.as_dtype(arr.dtype)
    if arr.dtype == np.float64 and not isinstance(value, np.ndarray):
        dt = _dt.float32  # a Python float becomes float32, as tf.constant does
    return dt, TensorShape(arr.shape)


def _host(value: Any, dtype: _dt.DType) -> np.ndarray:
    if dtype == _dt.string:
        arr = np.asarray(value, dtype=object)
        return np.vectorize(lambda s: s.encode() if isinstance(s, str) else s, otypes=[object])(arr) \
            if arr.size else arr
    return np.asarray(value, dtype=dtype.as_numpy_dtype)


class Dataset:
    """A TF 1.x dataset: `output_types`, `output_shapes` and `output_classes` describe one element."""

    def __init__(self, structure: Any, types: list, shapes: list, parents: tuple = ()):
        self._structure = structure  # the element's nesting with any leaves
        self._types = list(types)
        self._shapes = [TensorShape(s) for s in shapes]
        self._parents = parents

    # -- what an element looks like ---------------------------------------------------------------------
    @property
    def output_types(self) -> Any:
        return _pack(self._structure, self._types)

    @property
    def output_shapes(self) -> Any:
        return _pack(self._structure, self._shapes)

    @property
    def output_classes(self) -> Any:
        return _pack(self._structure, [Tensor] * len(self._types))

    # -- the graph tensors it reads -----------------------------------------------------------------------
    def _own_inputs(self) -> list[Tensor]:
        return []

    def _inputs(self) -> list[Tensor]:
        out: list[Tensor] = []
        for d in (*self._parents, self):
            for t in (d._inputs() if d is not self else self._own_inputs()):
                if all(t is not u for u in out):
                    out.append(t)
        return out

    def _input_ids(self) -> list[int]:
        return [id(t) for t in self._inputs()]

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        """The flat component lists, one per element (values: input tensor id -> its value)."""
        raise NotImplementedError

    # -- sources ------------------------------------------------------------------------------------------
    @staticmethod
    def from_tensor_slices(tensors: Any) -> Dataset:
        """One element per row of `tensors` (all components share their first dimension)."""
        return _Slices(tensors, slices=True)

    @staticmethod
    def from_tensors(tensors: Any) -> Dataset:
        """A single element: `tensors` itself."""
        return _Slices(tensors, slices=False)

    @staticmethod
    def range(*args: int) -> Dataset:
        """int64 elements like Python's range(start, stop, step)."""
        r = range(*args)
        return _Generator(lambda: iter(r), [_dt.int64], [TensorShape([])], None)

    @staticmethod
    def from_generator(generator: Callable, output_types: Any, output_shapes: Any = None, args: Any = None
                       ) -> Dataset:
        """Elements from calling `generator(*args)` anew for each iteration (a Python generator)."""
        types = [_dt.as_dtype(t) for t in _flatten(output_types)]
        shapes = ([TensorShape(s) for s in _flatten(output_shapes)] if output_shapes is not None
                  else [TensorShape(None)] * len(types))
        if output_shapes is not None and len(shapes) != len(types):
            raise ValueError("output_shapes must have the structure of output_types")
        return _Generator(lambda: iter(generator(*(args or ()))), types, shapes, output_types)

    @staticmethod
    def zip(datasets: Any) -> Dataset:
        """Elements that pair up the elements of each dataset (stops at the shortest)."""
        return _Zip(datasets)

    # -- transformations ----------------------------------------------------------------------------------
    def map(self, map_func: Callable, num_parallel_calls: int | None = None) -> Dataset:
        """Elements map_func(element) (a tuple element is passed as separate arguments, as in TF).

        `num_parallel_calls` (a positive count or AUTOTUNE) is checked and accepted; elements are mapped one
        at a time in order (put a `prefetch` after the map to overlap it with the consumer).
        """
        from labflow.data.dataset_extra import check_parallel_calls
        check_parallel_calls(num_parallel_calls)
        return _Map(self, map_func)

    def filter(self, predicate: Callable) -> Dataset:
        """The elements for which predicate(element) is True (a scalar bool)."""
        return _Filter(self, predicate)

    def batch(self, batch_size: int, drop_remainder: bool = False) -> Dataset:
        """Elements stacked `batch_size` at a time (the last batch may be smaller unless dropped)."""
        return _Batch(self, int(batch_size), drop_remainder)

    def padded_batch(self, batch_size: int, padded_shapes: Any, padding_values: Any = None,
                     drop_remainder: bool = False) -> Dataset:
        """Like batch, each component padded to `padded_shapes` (a None dimension: the batch's longest)."""
        return _PaddedBatch(self, int(batch_size), padded_shapes, padding_values, drop_remainder)

    def flat_map(self, map_func: Callable) -> Dataset:
        """The elements of the dataset map_func(element) returns, for each element in turn."""
        return _FlatMap(self, map_func, 1, 1)

    def interleave(self, map_func: Callable, cycle_length: int = 1, block_length: int = 1,
                   num_parallel_calls: int | None = None) -> Dataset:
        """The elements of map_func(element)'s datasets, `block_length` at a time from `cycle_length` of them
        in turn (TF's order; the datasets are read one after another, not in parallel)."""
        from labflow.data.dataset_extra import check_parallel_calls
        check_parallel_calls(num_parallel_calls)
        return _FlatMap(self, map_func, int(cycle_length), int(block_length))

    def shuffle(self, buffer_size: int, seed: int | None = None, reshuffle_each_iteration: bool = True) -> Dataset:
        """Elements in random order, drawn from a buffer of `buffer_size` (TF's algorithm)."""
        return _Shuffle(self, int(buffer_size), seed, reshuffle_each_iteration)

    def repeat(self, count: int | None = None) -> Dataset:
        """The elements `count` times over (forever when None or -1)."""
        return _Repeat(self, None if count is None or count < 0 else int(count))

    def take(self, count: int) -> Dataset:
        return _Slice(self, 0, None if count < 0 else int(count))

    def skip(self, count: int) -> Dataset:
        return _Slice(self, int(count), None)

    def cache(self, filename: str = "") -> Dataset:
        """The elements, computed once and replayed from memory afterwards (a repeat after it reads the
        cache). Only the in-memory cache: a `filename` raises NotImplementedError."""
        if filename:
            raise NotImplementedError("Dataset.cache(filename): labflow caches in memory only; call cache()")
        return _Cache(self)

    def prefetch(self, buffer_size: int) -> Dataset:
        """The elements, produced ahead by a background thread into a buffer of `buffer_size` (AUTOTUNE: -1)."""
        from labflow.data.dataset_extra import _Prefetch
        return _Prefetch(self, buffer_size)

    def unbatch(self) -> Dataset:
        """Each element split along its first dimension into that many elements."""
        from labflow.data.dataset_extra import unbatch_dataset
        return unbatch_dataset(self)

    def enumerate(self, start: int = 0) -> Dataset:
        """Elements (index, element), the index an int64 counting from `start`."""
        from labflow.data.dataset_extra import enumerate_dataset
        return enumerate_dataset(self, start)

    @staticmethod
    def list_files(file_pattern: Any, shuffle: bool | None = None, seed: int | None = None) -> Dataset:
        """The file names matching a glob pattern (or list of them), matched when the iterator starts, shuffled
        each epoch unless `shuffle=False` (then sorted). No match is an InvalidArgumentError at get_next."""
        from labflow.data.dataset_extra import list_files
        return list_files(file_pattern, shuffle, seed)

    def reduce(self, initial_state: Any, reduce_func: Callable) -> Any:
        """Tensors holding `reduce_func(...reduce_func(initial_state, e0)..., e_last)` over the whole dataset.

        `reduce_func(state, element)` is traced once (again if the state's shape changes) and must return the
        structure and dtypes of `initial_state`; the pipeline runs each time the result is evaluated.
        """
        from labflow.data.dataset_extra import reduce_dataset
        return reduce_dataset(self, initial_state, reduce_func)

    def with_options(self, options: Any) -> Dataset:
        """The same dataset carrying `options` (a tf.data.Options), merged with any it had."""
        from labflow.data.options import with_options
        return with_options(self, options)

    def options(self) -> Any:
        """The tf.data.Options of this dataset (defaults when none were set)."""
        from labflow.data.options import options_of
        return options_of(self)

    def concatenate(self, dataset: Dataset) -> Dataset:
        if self._types != dataset._types:
            raise TypeError(f"Concatenated datasets must have the same types: {self._types} vs {dataset._types}")
        return _Concat(self, dataset)

    def apply(self, transformation_func: Callable) -> Dataset:
        return transformation_func(self)

    # -- iterators ----------------------------------------------------------------------------------------
    def make_one_shot_iterator(self) -> Any:
        """An iterator that starts by itself on its first get_next (no initializer)."""
        from labflow.data.iterator_ops import Iterator
        return Iterator._one_shot(self)

    def make_initializable_iterator(self, shared_name: str | None = None) -> Any:
        """An iterator whose `initializer` (re)starts it, e.g. with new values fed to placeholders."""
        from labflow.data.iterator_ops import Iterator
        it = Iterator.from_structure(self.output_types, self.output_shapes, shared_name)
        it._initializer = it.make_initializer(self)
        return it


class _Slices(Dataset):
    def __init__(self, tensors: Any, slices: bool):
        leaves = _flatten(tensors)
        if not leaves:
            raise ValueError("from_tensor_slices/from_tensors needs at least one component")
        specs = [_spec_of(v) for v in leaves]
        dims = [s.as_tuple() for _, s in specs]
        if slices:
            if any(d == () for d in dims):
                raise ValueError("from_tensor_slices needs components of rank >= 1 (it slices their first "
                                 "dimension)")
            dims = [None if d is None else d[1:] for d in dims]
        super().__init__(tensors, [t for t, _ in specs], [TensorShape(d) for d in dims])
        self._leaves = leaves
        self._slices = slices

    def _own_inputs(self) -> list[Tensor]:
        return [v for v in self._leaves if isinstance(v, Tensor)]

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        comps = [values[id(v)] if isinstance(v, Tensor) else _host(v, t) for v, t in zip(self._leaves, self._types)]
        if not self._slices:
            yield comps
            return
        n = {len(c) for c in comps}
        if len(n) != 1:
            raise ValueError(f"from_tensor_slices: the components have different first dimensions {sorted(n)}")
        for i in range(n.pop()):
            yield [c[i] for c in comps]


class _Generator(Dataset):
    def __init__(self, make: Callable, types: list, shapes: list, structure: Any):
        super().__init__(structure if structure is not None else types[0], types, shapes)
        self._make = make

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        for x in self._make():
            leaves = _flatten(x) if isinstance(self._structure, (tuple, dict)) else [x]
            if len(leaves) != len(self._types):
                raise ValueError(f"from_generator: an element has {len(leaves)} components, expected "
                                 f"{len(self._types)}")
            yield [_host(v, t) for v, t in zip(leaves, self._types)]


class _Zip(Dataset):
    def __init__(self, datasets: Any):
        ds = _flatten(datasets)
        types = [t for d in ds for t in d._types]
        shapes = [s for d in ds for s in d._shapes]
        structure = _pack(datasets, [d._structure for d in ds])
        super().__init__(structure, types, shapes, tuple(ds))
        self._ds = ds

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        for parts in zip(*(d._elements(values, runner) for d in self._ds)):
            yield [c for p in parts for c in p]


def _trace(parent: Dataset, fn: Callable, what: str) -> tuple[FuncGraph, Any, list]:
    """fn traced once on placeholders shaped like one element of `parent`."""
    g = outermost_graph(get_default_graph())
    fg = FuncGraph(f"dataset_{what}", g)
    with fg.as_default():
        phs = [fg.add_input(t, s.as_list() if s.ndims is not None else None, f"arg_{i}")
               for i, (t, s) in enumerate(zip(parent._types, parent._shapes))]
        element = _pack(parent._structure, phs)
        result = fn(*element) if isinstance(parent._structure, tuple) and not hasattr(
            parent._structure, "_fields") else fn(element)
        from labflow.ops.common import convert_to_tensor
        outs = [convert_to_tensor(x) for x in _flatten(result)]
        outs = [fg.capture(x) if x.graph is not fg else x for x in outs]
    fg.outputs = outs
    return fg, result, outs


class _Traced(Dataset):
    """A transformation with a traced function: the tensors it captured are the dataset's inputs."""

    _fg: FuncGraph
    _parent: Dataset

    def _own_inputs(self) -> list[Tensor]:
        return self._fg.captured_outer

    def _calls(self, values: dict, runner: Any) -> Iterator[tuple]:
        """(element, the function's results on it) for each element of the parent."""
        caps = [values[id(t)] for t in self._fg.captured_outer]
        for comps in self._parent._elements(values, runner):
            yield comps, runner.call(self._fg, list(comps) + caps)


class _Map(_Traced):
    def __init__(self, parent: Dataset, fn: Callable):
        self._fg, result, outs = _trace(parent, fn, "map")
        super().__init__(result, [t.dtype.base_dtype for t in outs], [TensorShape(t._shape_dims) for t in outs],
                         (parent,))
        self._parent = parent

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        for _, out in self._calls(values, runner):
            yield out


class _Filter(_Traced):
    def __init__(self, parent: Dataset, fn: Callable):
        self._fg, _, outs = _trace(parent, fn, "filter")
        if len(outs) != 1 or outs[0].dtype.base_dtype != _dt.bool:
            raise ValueError("filter's predicate must return a scalar bool tensor")
        super().__init__(parent._structure, parent._types, parent._shapes, (parent,))
        self._parent = parent

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        for comps, keep in self._calls(values, runner):
            if bool(np.asarray(keep[0])):
                yield comps


class _Batch(Dataset):
    def __init__(self, parent: Dataset, n: int, drop: bool):
        if n <= 0:
            raise ValueError("batch_size must be positive")
        lead = n if drop else None
        super().__init__(parent._structure, parent._types,
                         [TensorShape([lead] + s.as_list()) if s.ndims is not None else TensorShape(None)
                          for s in parent._shapes], (parent,))
        self._parent, self._n, self._drop = parent, n, drop

    def _rows(self, values: dict, runner: Any) -> Iterator[list]:
        buf: list = []
        for comps in self._parent._elements(values, runner):
            buf.append(comps)
            if len(buf) == self._n:
                yield buf
                buf = []
        if buf and not self._drop:
            yield buf

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        for rows in self._rows(values, runner):
            yield _stack(rows)


def _stack(rows: list) -> list:
    try:
        return [np.stack([r[i] for r in rows]) for i in range(len(rows[0]))]
    except ValueError as e:
        from labflow import errors
        raise errors.InvalidArgumentError(None, None, f"Cannot batch tensors with different shapes ({e}); pad "
                                          "them first or batch with batch_size 1") from None


class _PaddedBatch(_Batch):
    def __init__(self, parent: Dataset, n: int, padded_shapes: Any, padding_values: Any, drop: bool):
        super().__init__(parent, n, drop)
        shapes = [TensorShape(s) for s in _flatten(padded_shapes)]
        if len(shapes) != len(parent._types):
            raise ValueError(f"padded_shapes must have the structure of the elements ({len(parent._types)} "
                             f"components), got {padded_shapes!r}")
        for s, have in zip(shapes, parent._shapes):
            if s.ndims is None or (have.ndims is not None and have.ndims != s.ndims):
                raise ValueError(f"padded_shapes {s} does not fit an element component of shape {have}")
        pads = _flatten(padding_values) if padding_values is not None else [None] * len(shapes)
        self._pad_to = [s.as_tuple() for s in shapes]
        self._pad_values = [_host(0 if p is None else p, t) if t != _dt.string else (b"" if p is None else p)
                            for p, t in zip(pads, parent._types)]
        lead = n if drop else None
        self._shapes = [TensorShape((lead,) + d) for d in self._pad_to]

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        for rows in super()._rows(values, runner):
            out = []
            for i, (want, pad) in enumerate(zip(self._pad_to, self._pad_values)):
                comps = [np.asarray(r[i]) for r in rows]
                dims = tuple(max(c.shape[k] for c in comps) if d is None else d for k, d in enumerate(want))
                arr = np.full((len(comps),) + dims, pad, dtype=comps[0].dtype)
                for j, c in enumerate(comps):
                    if any(a > b for a, b in zip(c.shape, dims)):
                        from labflow import errors
                        raise errors.InvalidArgumentError(None, None, f"padded_batch: an element of shape "
                                                          f"{c.shape} does not fit the padded shape {dims}")
                    arr[(j,) + tuple(slice(0, k) for k in c.shape)] = c
                out.append(arr)
            yield out


class _FlatMap(_Traced):
    def __init__(self, parent: Dataset, fn: Callable, cycle: int, block: int):
        if cycle <= 0 or block <= 0:
            raise ValueError("cycle_length and block_length must be positive")
        captured: list = []

        def body(*args: Any) -> Any:
            inner = fn(*args)
            if not isinstance(inner, Dataset):
                raise TypeError(f"flat_map/interleave's function must return a Dataset, got {inner!r}")
            captured.append(inner)
            return tuple(inner._inputs())

        self._fg, _, _ = _trace(parent, body, "flat_map")
        inner = captured[0]
        super().__init__(inner._structure, inner._types, inner._shapes, (parent,))
        self._parent, self._inner, self._cycle, self._block = parent, inner, cycle, block

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        ids = self._inner._input_ids()
        # each element's inner dataset, from the inner dataset's input values the traced function computed
        source = (iter(self._inner._elements(dict(zip(ids, vals)), runner)) for _, vals in self._calls(values, runner))
        active: list = []
        exhausted = False
        while True:
            while not exhausted and len(active) < self._cycle:
                it = next(source, None)
                if it is None:
                    exhausted = True
                else:
                    active.append(it)
            if not active:
                return
            for it in list(active):
                for _ in range(self._block):
                    x = next(it, None)
                    if x is None:
                        active.remove(it)
                        break
                    yield x


class _Shuffle(Dataset):
    def __init__(self, parent: Dataset, buffer: int, seed: int | None, reshuffle: bool):
        if buffer <= 0:
            raise ValueError("buffer_size must be greater than zero.")
        super().__init__(parent._structure, parent._types, parent._shapes, (parent,))
        self._parent, self._buffer, self._reshuffle = parent, buffer, reshuffle
        gseed = get_default_graph().seed
        self._seed = None if seed is None and gseed is None else (seed or 0) * 7919 + (gseed or 0)
        self._epoch = 0

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        seed = None if self._seed is None else self._seed + (self._epoch if self._reshuffle else 0)
        self._epoch += 1
        rng = np.random.RandomState(seed)
        buf: list = []
        for comps in self._parent._elements(values, runner):
            if len(buf) < self._buffer:
                buf.append(comps)
                continue
            i = rng.randint(len(buf))
            yield buf[i]
            buf[i] = comps
        rng.shuffle(buf)
        yield from buf


class _Repeat(Dataset):
    def __init__(self, parent: Dataset, count: int | None):
        super().__init__(parent._structure, parent._types, parent._shapes, (parent,))
        self._parent, self._count = parent, count

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        k = 0
        while self._count is None or k < self._count:
            empty = True
            for comps in self._parent._elements(values, runner):
                empty = False
                yield comps
            if empty:
                return  # repeating nothing forever would never end
            k += 1


class _Cache(Dataset):
    def __init__(self, parent: Dataset):
        super().__init__(parent._structure, parent._types, parent._shapes, (parent,))
        self._parent = parent
        self._store: list[tuple[dict, list]] = []  # (an iterator run's input values, its elements)

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        # One cache per iterator run: each (re)initialization hands its own `values` dict to the pipeline
        # (kept here, so its identity cannot be reused), and a repeat within the run reads the cache.
        for vals, done in self._store:
            if vals is values:
                yield from done
                return
        seen = []
        for comps in self._parent._elements(values, runner):
            seen.append(comps)
            yield comps
        self._store = self._store[-3:] + [(values, seen)]  # only a fully read pass is cached, as in TF


class _Slice(Dataset):
    def __init__(self, parent: Dataset, start: int, count: int | None):
        super().__init__(parent._structure, parent._types, parent._shapes, (parent,))
        self._parent, self._start, self._count = parent, start, count

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        for i, comps in enumerate(self._parent._elements(values, runner)):
            if self._count is not None and i >= self._start + self._count:
                return
            if i >= self._start:
                yield comps


class _Concat(Dataset):
    def __init__(self, a: Dataset, b: Dataset):
        shapes = [x.most_specific_compatible_shape(y) if hasattr(x, "most_specific_compatible_shape") else
                  (x if x == y else TensorShape(None)) for x, y in zip(a._shapes, b._shapes)]
        super().__init__(a._structure, a._types, shapes, (a, b))
        self._a, self._b = a, b

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        yield from self._a._elements(values, runner)
        yield from self._b._elements(values, runner)


from labflow.data.file_datasets import TextLineDataset, TFRecordDataset  # noqa: E402 - they subclass Dataset
