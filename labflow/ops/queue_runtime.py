"""The run-time state behind the queue ops: one object per queue, kept in its device's ResourceMgr.

The queue-creating op (FIFOQueue, RandomShuffleQueue, PaddingFIFOQueue, PriorityQueue) returns this object as its ref
output; the enqueue/dequeue/close/size kernels receive it through their ref input. Blocking calls wait
on a Condition in short slices and call `step.check_cancelled()` between them, so a closed session or
an aborted step (a failed sibling partition, a dead remote worker) never leaves a kernel waiting.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import threading
from typing import Any, Callable

import numpy as np

from labflow import errors

WAIT_SLICE = 0.05  # seconds between cancellation checks of a blocked kernel


def wait_until(cond: threading.Condition, ready: Callable[[], bool], step: Any) -> None:
    """Waits on `cond` (held by the caller) until `ready()`; raises the step's error once it is aborted."""
    while not ready():
        if step is not None:
            step.check_cancelled()
        cond.wait(WAIT_SLICE)


def lookup_or_create(resources: Any, container: str, shared_name: str, node_name: str, make: Callable) -> Any:
    """The resource under (container, shared_name or node name), made by `make(name)` when missing.

    The name is TF's: the shared_name, else `_<id>_<node name>` with an id unique on the device.
    It is drawn before `lookup_or_create`, whose factory runs under the manager's (non-reentrant) lock.
    """
    key = shared_name or node_name
    item = resources.lookup(container, key)
    if item is not None:
        return item
    name = shared_name
    if not name:
        ids = resources.lookup_or_create("", "__labflow_resource_ids__", itertools.count)
        name = f"_{next(ids)}_{node_name}"
    return resources.lookup_or_create(container, key, lambda: make(name))


def handle_value(container: str, name: str) -> np.ndarray:
    """The value a fetched TF1 queue/accumulator handle has: the string pair [container, name]."""
    return np.array([container.encode(), name.encode()], dtype=object)


def shape_debug(dims: Any) -> str:
    """TensorShape::DebugString: [2,3], [?,3], <unknown>."""
    if dims is None:
        return "<unknown>"
    return "[" + ",".join("?" if d is None or d < 0 else str(d) for d in dims) + "]"


def _as_dims(s: Any) -> tuple | None:
    """A TensorShape / tuple attr value as a dims tuple (None: unknown rank)."""
    if s is None:
        return None
    t = s.as_tuple() if hasattr(s, "as_tuple") else tuple(s)
    return None if t is None else tuple(t)


class QueueState:
    """A bounded FIFO of tuples of arrays (TF's FIFOQueue)."""

    kind = "FIFOQueue"
    padded = False

    def __init__(self, name: str, container: str, component_types: list, shapes: list, capacity: int):
        self.name = name
        self.value = handle_value(container, name)
        self.dtypes = [np.dtype(d.as_numpy_dtype) for d in component_types]
        self.shapes = [_as_dims(s) for s in shapes]
        self.capacity = capacity if capacity >= 0 else None
        self.signature = (self.kind, tuple(d.name for d in component_types), tuple(self.shapes), capacity)
        self.cond = threading.Condition()
        self.closed = False
        self.cancel_enqueues = False
        self._items: Any = collections.deque()

    def __repr__(self) -> str:
        return f"<{self.kind} '{self.name}' size={len(self._items)}{' closed' if self.closed else ''}>"

    # -- checks ------------------------------------------------------------------------------------------
    def check_compatible(self, signature: tuple) -> None:
        """A second op sharing this queue (same shared_name) must ask for the same queue."""
        if signature != self.signature:
            raise errors.InvalidArgumentError(
                None, None, f"Shared queue '{self.name}' has a different definition: it is {self.signature}, "
                f"but a node requested {signature}. Use another shared_name or the same arguments.")

    def _shape_ok(self, want: tuple | None, got: tuple) -> bool:
        if want is None:
            return True
        if self.padded:
            return len(want) == len(got) and all(w is None or w < 0 or w == g for w, g in zip(want, got))
        return tuple(want) == tuple(got)

    def _validate(self, comps: tuple, many: bool) -> int:
        if len(comps) != len(self.dtypes):
            raise errors.InvalidArgumentError(None, None, f"Wrong number of components in tuple. Expected "
                                              f"{len(self.dtypes)}, got {len(comps)}")
        shapes = self.shapes or [None] * len(comps)
        batch = -1
        for i, (c, want) in enumerate(zip(comps, shapes)):
            got = tuple(np.shape(c))
            if many:
                if not got:
                    raise errors.InvalidArgumentError(None, None, f"Shape mismatch in tuple component {i}: "
                                                      "enqueue_many needs a batch dimension, got a scalar")
                if batch < 0:
                    batch = got[0]
                elif got[0] != batch:
                    raise errors.InvalidArgumentError(
                        None, None, f"All input tensors must have the same size in the 0th dimension. "
                        f"Component {i} has {got[0]}, and should have {batch}")
                ok = self._shape_ok(want, got[1:])
                exp = None if want is None else (got[0], *want)
            else:
                ok = self._shape_ok(want, got)
                exp = want
            if not ok:
                raise errors.InvalidArgumentError(None, None, f"Shape mismatch in tuple component {i}. "
                                                  f"Expected {shape_debug(exp)}, got {shape_debug(got)}")
        return batch

    def _closed_error(self) -> errors.OpError:
        return errors.CancelledError(None, None, f"{self.kind} '{self.name}' is closed.")

    # -- the queue operations ---------------------------------------------------------------------------
    def size(self) -> int:
        return len(self._items)

    def _room(self) -> bool:
        return self.cancel_enqueues or self.capacity is None or len(self._items) < self.capacity

    def _put(self, elem: tuple) -> None:
        self._items.append(elem)

    def _take(self, n: int) -> list:
        return [self._items.popleft() for _ in range(n)]

    def _min_left(self) -> int:
        """Elements that must stay in the queue after a dequeue while it is open."""
        return 0

    def enqueue(self, comps: tuple, step: Any) -> None:
        self._validate(comps, many=False)
        # A copy: the stored element must not alias a variable updated in place or a user's feed.
        elem = tuple(np.array(c, dtype=dt, copy=True) for c, dt in zip(comps, self.dtypes))
        with self.cond:
            if self.closed:
                raise self._closed_error()
            wait_until(self.cond, self._room, step)
            if self.cancel_enqueues:
                raise self._closed_error()
            self._put(elem)
            self.cond.notify_all()

    def enqueue_many(self, comps: tuple, step: Any) -> None:
        n = self._validate(comps, many=True)
        batch = [np.array(c, dtype=dt, copy=True) for c, dt in zip(comps, self.dtypes)]
        with self.cond:
            if self.closed:
                raise self._closed_error()
            for i in range(n):
                wait_until(self.cond, self._room, step)
                if self.cancel_enqueues:
                    raise self._closed_error()
                self._put(tuple(b[i] for b in batch))
                self.cond.notify_all()

    def dequeue(self, n: int, step: Any, many: bool, allow_fewer: bool = False) -> Any:
        """Takes one element (many=False) or a batch of `n` (stacked, or padded for a padding queue)."""
        if many:
            if n < 0:
                raise errors.InvalidArgumentError(None, None, f"DequeueManyOp requested {n} < 0 elements")
            if not self.padded and (not self.shapes or any(s is None for s in self.shapes)):
                raise errors.InvalidArgumentError(
                    None, None, f"{self.kind}'s DequeueMany and DequeueUpTo require the components to have "
                    f"specified shapes (queue '{self.name}'); pass shapes= when creating the queue.")
        need = n if many else 1

        def ready() -> bool:
            have = len(self._items)
            return self.closed or have >= need + self._min_left()

        with self.cond:
            wait_until(self.cond, ready, step)
            have = len(self._items)
            if have < need:  # closed (an open queue would still be waiting)
                if not (allow_fewer and have > 0):
                    raise errors.OutOfRangeError(
                        None, None, f"{self.kind} '{self.name}' is closed and has insufficient elements "
                        f"(requested {need}, current size {have})")
                need = have
            elems = self._take(need)
            self.cond.notify_all()
        if not many:
            out = elems[0]
        else:
            out = tuple(self._batch(k, [e[k] for e in elems]) for k in range(len(self.dtypes)))
        return out[0] if len(out) == 1 else out

    def _batch(self, k: int, parts: list) -> np.ndarray:
        if not parts:
            return np.empty((0, *(0 if d is None else d for d in (self.shapes[k] or ()))), dtype=self.dtypes[k])
        return np.stack(parts)

    def close(self, cancel_pending_enqueues: bool) -> None:
        with self.cond:
            self.closed = True
            if cancel_pending_enqueues:
                self.cancel_enqueues = True
            self.cond.notify_all()


class RandomShuffleQueueState(QueueState):
    """Dequeues a uniformly random element; keeps `min_after_dequeue` elements while open."""

    kind = "RandomShuffleQueue"

    def __init__(self, name: str, container: str, component_types: list, shapes: list, capacity: int,
                 min_after_dequeue: int, seed: int, seed2: int):
        super().__init__(name, container, component_types, shapes, capacity)
        self.signature += (min_after_dequeue, seed, seed2)
        self.min_after_dequeue = min_after_dequeue
        self._items = []
        # seed == seed2 == 0 means nondeterministic, like TF's kernel.
        self._rng = np.random.RandomState(None if seed == 0 and seed2 == 0 else [seed & 0xFFFFFFFF,
                                                                                  seed2 & 0xFFFFFFFF])

    def _min_left(self) -> int:
        return self.min_after_dequeue

    def _take(self, n: int) -> list:
        out = []
        for _ in range(n):
            i = int(self._rng.randint(len(self._items)))
            self._items[i], self._items[-1] = self._items[-1], self._items[i]
            out.append(self._items.pop())
        return out


class PaddingQueueState(QueueState):
    """A FIFO queue whose dequeue_many pads each component to the largest element (zeros / b'')."""

    kind = "PaddingFIFOQueue"
    padded = True

    def _batch(self, k: int, parts: list) -> np.ndarray:
        want = self.shapes[k]
        rank = len(want)
        big = [max([p.shape[d] for p in parts], default=0) for d in range(rank)]
        dims = tuple(b if w is None or w < 0 else w for w, b in zip(want, big))
        dt = self.dtypes[k]
        out = np.full((len(parts), *dims), b"" if dt.kind == "O" else 0, dtype=dt)
        for i, p in enumerate(parts):
            out[(i, *(slice(0, s) for s in p.shape))] = p
        return out


class PriorityQueueState(QueueState):
    """Dequeues the element with the smallest int64 priority (component 0) first; ties leave in enqueue order.

    `shapes` are the value components' shapes; the priority is a scalar prepended to them, as in TF.
    """

    kind = "PriorityQueue"

    def __init__(self, name: str, container: str, component_types: list, shapes: list, capacity: int):
        from labflow import dtypes as _dt
        value_shapes = [_as_dims(s) for s in shapes]
        super().__init__(name, container, [_dt.int64, *component_types], [(), *value_shapes] if shapes else [],
                         capacity)
        self.signature = (self.kind, tuple(d.name for d in component_types), tuple(value_shapes), capacity)
        self._items = []
        self._seq = itertools.count()

    def _validate(self, comps: tuple, many: bool) -> int:
        if comps:
            pri = np.shape(comps[0])
            if pri != ((pri[0],) if many and pri else ()):
                what = "a vector of priorities (one per element)" if many else "a scalar priority"
                raise errors.InvalidArgumentError(None, None, f"PriorityQueue '{self.name}': component 0 must be "
                                                  f"{what}, got shape {shape_debug(pri)}")
        return super()._validate(comps, many)

    def _put(self, elem: tuple) -> None:
        heapq.heappush(self._items, (int(elem[0]), next(self._seq), elem))

    def _take(self, n: int) -> list:
        return [heapq.heappop(self._items)[2] for _ in range(n)]
