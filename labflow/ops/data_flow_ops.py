"""TF1 queues: FIFOQueue, RandomShuffleQueue, PaddingFIFOQueue, PriorityQueue and their enqueue/dequeue/close/size ops.

The queue-creating op outputs a `string_ref` handle (like VariableV2 outputs a ref): its kernel looks
up or creates the queue's state (queue_runtime.QueueState) in the device's ResourceMgr under
(container, shared_name or node name), so a queue outlives steps and is shared by every session on the
device. Every op using a queue takes the handle as a ref input, so the placer colocates it with the
queue and the handle never crosses devices. Dequeues block on an empty queue and enqueues on a full
one; both wake when the step is cancelled (session closed, sibling partition or remote worker failed).
"""

from __future__ import annotations

import hashlib
from typing import Any

from labflow import dtypes as _dt
from labflow.framework.graph import get_default_graph, name_scope
from labflow.framework.registry import REQUIRED, op
from labflow.framework.shapes import TensorShape, as_shape
from labflow.framework.tensor import Operation, Tensor
from labflow.ops.common import constant_value, convert_to_tensor, dims, no_outputs
from labflow.ops.queue_runtime import (
    PaddingQueueState,
    PriorityQueueState,
    QueueState,
    RandomShuffleQueueState,
    lookup_or_create,
)

__all__ = ["QueueBase", "FIFOQueue", "RandomShuffleQueue", "PaddingFIFOQueue", "PriorityQueue"]

QUEUE_OPS = ("FIFOQueue", "RandomShuffleQueue", "PaddingFIFOQueue", "PriorityQueue")
_COMMON = dict(stateful=True, not_differentiable=True, devices=("CPU",))


def check_handle(ins: list, op_type: str, i: int = 0) -> None:
    """The handle input must be a queue/accumulator ref (TF: "requires l-value input")."""
    t = ins[i]
    if not (t.dtype.is_ref_dtype and t.dtype.base_dtype == _dt.string):
        raise TypeError(f"Input 'handle' of '{op_type}' Op requires l-value input: pass a queue's queue_ref "
                        f"(a string_ref tensor), got tensor '{t.name}' of dtype {t.dtype.name}")


# -- the queue-creating ops --------------------------------------------------------------------------------
def _queue_shape(ins, attrs):
    types, shapes = attrs["component_types"], attrs["shapes"]
    if not types:
        raise ValueError("Attr 'component_types' must hold at least one dtype (a queue has >= 1 component)")
    if shapes and len(shapes) != len(types):
        raise ValueError(f"Shapes must be provided for all components, but received {len(types)} dtypes and "
                         f"{len(shapes)} shapes.")
    return _dt.string._as_ref, (2,)


_QUEUE_ATTRS = {"component_types": REQUIRED, "shapes": [], "capacity": -1, "container": "", "shared_name": ""}


def _lookup_queue(ctx: Any, container: str, shared_name: str, make: Any, signature_of: Any) -> Any:
    q = lookup_or_create(ctx.resources, container, shared_name, ctx.name, make)
    q.check_compatible(signature_of(q.name))
    return q


@op("FIFOQueue", attrs=_QUEUE_ATTRS, shape=_queue_shape, needs_ctx=True, session_constant=True, **_COMMON)
def fifo_queue_kernel(xp, *, component_types, shapes, capacity, container, shared_name, ctx):
    def make(name):
        return QueueState(name, container, component_types, shapes, capacity)
    return _lookup_queue(ctx, container, shared_name, make, lambda n: make(n).signature)


@op("PaddingFIFOQueue", attrs=_QUEUE_ATTRS, shape=_queue_shape, needs_ctx=True, session_constant=True, **_COMMON)
def padding_fifo_queue_kernel(xp, *, component_types, shapes, capacity, container, shared_name, ctx):
    def make(name):
        return PaddingQueueState(name, container, component_types, shapes, capacity)
    return _lookup_queue(ctx, container, shared_name, make, lambda n: make(n).signature)


@op("RandomShuffleQueue", attrs={**_QUEUE_ATTRS, "min_after_dequeue": 0, "seed": 0, "seed2": 0},
    shape=_queue_shape, needs_ctx=True, session_constant=True, **_COMMON)
def random_shuffle_queue_kernel(xp, *, component_types, shapes, capacity, min_after_dequeue, seed, seed2,
                                container, shared_name, ctx):
    def make(name):
        return RandomShuffleQueueState(name, container, component_types, shapes, capacity, min_after_dequeue,
                                       seed, seed2)
    return _lookup_queue(ctx, container, shared_name, make, lambda n: make(n).signature)


def _priority_queue_shape(ins, attrs):
    types, shapes = attrs["component_types"], attrs["shapes"]
    if shapes and len(shapes) != len(types):
        raise ValueError(f"Shapes must be provided for all components, but received {len(types)} dtypes and "
                         f"{len(shapes)} shapes.")
    return _dt.string._as_ref, (2,)


# component_types/shapes are the value components': the int64 priority is implicit (TF's op signature).
@op("PriorityQueue", attrs={**_QUEUE_ATTRS, "component_types": []}, shape=_priority_queue_shape, needs_ctx=True,
    session_constant=True, **_COMMON)
def priority_queue_kernel(xp, *, component_types, shapes, capacity, container, shared_name, ctx):
    def make(name):
        return PriorityQueueState(name, container, component_types, shapes, capacity)
    return _lookup_queue(ctx, container, shared_name, make, lambda n: make(n).signature)


# -- enqueue -------------------------------------------------------------------------------------------------
def _enqueue_shape(op_type):
    def fn(ins, attrs):
        check_handle(ins, op_type)
        types = list(attrs["Tcomponents"])
        got = [t.dtype.base_dtype for t in ins[1:]]
        if types != got:
            raise TypeError(f"Input 'components' of '{op_type}' Op has types [{', '.join(d.name for d in got)}] "
                            f"that do not match attr Tcomponents [{', '.join(d.name for d in types)}]")
        return no_outputs(ins, attrs)
    return fn


_ENQ = dict(inputs=("handle", "*components"), attrs={"Tcomponents": REQUIRED, "timeout_ms": -1}, outputs=0,
            ref_inputs=(0,), needs_step=True, **_COMMON)


@op("QueueEnqueue", shape=_enqueue_shape("QueueEnqueue"), **_ENQ)
def queue_enqueue_kernel(xp, handle, *components, step):
    handle.enqueue(components, step)


@op("QueueEnqueueMany", shape=_enqueue_shape("QueueEnqueueMany"), **_ENQ)
def queue_enqueue_many_kernel(xp, handle, *components, step):
    handle.enqueue_many(components, step)


# -- dequeue -------------------------------------------------------------------------------------------------
def queue_shapes(handle: Tensor) -> list | None:
    """The static component shapes of the queue behind `handle`, when its creating op is visible."""
    q = handle.op
    if q.type not in QUEUE_OPS:
        return None
    shapes = [s if isinstance(s, TensorShape) else TensorShape(s) for s in q.get_attr("shapes")]
    if q.type == "PriorityQueue":
        return [TensorShape([]), *shapes] if shapes else None
    return shapes or None


def _dequeue_shape(op_type, batch):
    def fn(ins, attrs):
        check_handle(ins, op_type)
        types = attrs["component_types"]
        shapes = queue_shapes(ins[0]) or [TensorShape(None)] * len(types)
        if len(shapes) != len(types):
            shapes = [TensorShape(None)] * len(types)
        lead: tuple = ()
        if batch == "many":
            d = dims(ins[1])
            if d is not None and len(d) != 0:
                raise ValueError(f"Shape must be rank 0 but is rank {len(d)} (input 'n' of {op_type} is a scalar)")
            n = constant_value(ins[1])
            lead = (None if n is None else int(n),)
        elif batch == "up_to":
            lead = (None,)
        return [(dt, None if s.as_tuple() is None else lead + s.as_tuple()) for dt, s in zip(types, shapes)]
    return fn


_DEQ = dict(attrs={"component_types": REQUIRED, "timeout_ms": -1},
            outputs=lambda attrs, n: len(attrs["component_types"]), ref_inputs=(0,), needs_step=True, **_COMMON)


@op("QueueDequeue", inputs=("handle",), shape=_dequeue_shape("QueueDequeue", None), **_DEQ)
def queue_dequeue_kernel(xp, handle, *, step):
    return handle.dequeue(1, step, many=False)


@op("QueueDequeueMany", inputs=("handle", "n"), shape=_dequeue_shape("QueueDequeueMany", "many"), **_DEQ)
def queue_dequeue_many_kernel(xp, handle, n, *, step):
    return handle.dequeue(int(n), step, many=True)


@op("QueueDequeueUpTo", inputs=("handle", "n"), shape=_dequeue_shape("QueueDequeueUpTo", "up_to"), **_DEQ)
def queue_dequeue_up_to_kernel(xp, handle, n, *, step):
    return handle.dequeue(int(n), step, many=True, allow_fewer=True)


# -- close / size / is_closed ------------------------------------------------------------------------------
def _close_shape(ins, attrs):
    check_handle(ins, "QueueClose")
    return no_outputs(ins, attrs)


@op("QueueClose", inputs=("handle",), attrs={"cancel_pending_enqueues": False}, shape=_close_shape, outputs=0,
    ref_inputs=(0,), **_COMMON)
def queue_close_kernel(xp, handle, *, cancel_pending_enqueues):
    handle.close(cancel_pending_enqueues)


def _scalar_shape(op_type, dtype):
    def fn(ins, attrs):
        check_handle(ins, op_type)
        return dtype, ()
    return fn


@op("QueueSize", inputs=("handle",), shape=_scalar_shape("QueueSize", _dt.int32), ref_inputs=(0,), **_COMMON)
def queue_size_kernel(xp, handle):
    return xp.asarray(handle.size(), dtype=xp.int32)


@op("QueueIsClosed", inputs=("handle",), shape=_scalar_shape("QueueIsClosed", _dt.bool), ref_inputs=(0,),
    **_COMMON)
def queue_is_closed_kernel(xp, handle):
    return xp.asarray(handle.closed)


# -- the Python classes ------------------------------------------------------------------------------------
def _as_type_list(dtypes: Any) -> list:
    if not isinstance(dtypes, (list, tuple)):
        dtypes = [dtypes]
    return [_dt.as_dtype(d).base_dtype for d in dtypes]


def _as_shape_list(shapes: Any, unknown_dim_allowed: bool = False) -> list | None:
    """TF's rules: a flat list of ints/None is ONE shape (`shapes=()` is one scalar component)."""
    if unknown_dim_allowed and (not isinstance(shapes, (list, tuple)) or not shapes
                                or any(s is None or isinstance(s, int) for s in shapes)):
        raise ValueError("When providing partial shapes, a list of shapes must be provided.")
    if shapes is None:
        return None
    if isinstance(shapes, TensorShape):
        shapes = [shapes]
    if not isinstance(shapes, (tuple, list)):
        raise TypeError("shapes must be a TensorShape or a list or tuple of TensorShapes.")
    if all(s is None or isinstance(s, int) for s in shapes):
        shapes = [shapes]
    shapes = [as_shape(s) for s in shapes]
    if not unknown_dim_allowed and any(not s.is_fully_defined() for s in shapes):
        raise ValueError(f"All shapes must be fully defined: {shapes}")
    if any(s.ndims is None for s in shapes):
        raise ValueError(f"All shapes must have a defined rank: {shapes}")
    return shapes


def _as_name_list(names: Any, dtypes: list) -> list | None:
    if names is None:
        return None
    if not isinstance(names, (list, tuple)):
        names = [names]
    if len(names) != len(dtypes):
        raise ValueError("List of names must have the same length as the list of dtypes")
    return list(names)


class QueueBase:
    """Base class for queue implementations (TF 1.x `tf.QueueBase`).

    A queue holds tuples of tensors (its components); `enqueue` adds one element, `dequeue` removes
    one, `dequeue_many(n)` removes n stacked along a new first dimension. A dequeue on an empty queue
    blocks until an element arrives, the queue is closed (then OutOfRangeError) or the step is
    cancelled; an enqueue on a full queue blocks likewise.
    """

    def __init__(self, dtypes: list, shapes: list | None, names: list | None, queue_ref: Tensor):
        self._dtypes = list(dtypes)
        if shapes is not None:
            if len(shapes) != len(dtypes):
                raise ValueError("Queue shapes must have the same length as dtypes")
            self._shapes = [TensorShape(s) for s in shapes]
        else:
            self._shapes = [TensorShape(None) for _ in self._dtypes]
        if names is not None:
            if len(names) != len(dtypes):
                raise ValueError("Queue names must have the same length as dtypes")
            self._names = list(names)
        else:
            self._names = None
        self._queue_ref = queue_ref
        self._name = queue_ref.op.name.split("/")[-1]

    @property
    def queue_ref(self) -> Tensor:
        """The underlying queue reference (a string_ref tensor)."""
        return self._queue_ref

    @property
    def name(self) -> str:
        """The name of the underlying queue (its op's name without scopes)."""
        return self._name

    @property
    def dtypes(self) -> list:
        return self._dtypes

    @property
    def shapes(self) -> list:
        return self._shapes

    @property
    def names(self) -> list | None:
        return self._names

    def _check_enqueue_dtypes(self, vals: Any) -> list[Tensor]:
        if isinstance(vals, dict):
            if not self._names:
                raise ValueError("Queue must have names to enqueue a dictionary")
            if sorted(self._names, key=str) != sorted(vals.keys(), key=str):
                raise ValueError(f"Keys in dictionary to enqueue do not match names of Queue.  Dictionary: "
                                 f"({sorted(vals.keys(), key=str)}), Queue: ({sorted(self._names, key=str)})")
            vals = [vals[k] for k in self._names]
        else:
            if self._names:
                raise ValueError("You must enqueue a dictionary in a Queue with names")
            if not isinstance(vals, (list, tuple)):
                vals = [vals]
        if len(vals) != len(self._dtypes):
            raise ValueError(f"Queue '{self._name}' has {len(self._dtypes)} components, got {len(vals)} values "
                             "to enqueue")
        return [convert_to_tensor(v, dtype=dt, name=f"component_{i}")
                for i, (v, dt) in enumerate(zip(vals, self._dtypes))]

    def _scope_graph(self) -> Any:
        return self._queue_ref.graph

    def enqueue(self, vals: Any, name: str | None = None) -> Operation:
        """Enqueues one element (a tensor, a tuple/list of tensors, or a dict when the queue has names).

        Blocks while the queue is full; fails with CancelledError once the queue is closed.
        """
        with self._scope_graph().as_default(), name_scope(name, f"{self._name}_enqueue") as scope:
            ts = self._check_enqueue_dtypes(vals)
            for t, shape in zip(ts, self._shapes):
                t.get_shape().assert_is_compatible_with(shape)
            return self._queue_ref.graph.create_op(
                "QueueEnqueue", [self._queue_ref, *ts], attrs={"Tcomponents": [t.dtype.base_dtype for t in ts]},
                name=scope)

    def enqueue_many(self, vals: Any, name: str | None = None) -> Operation:
        """Enqueues zero or more elements sliced along the first dimension of each component."""
        with self._scope_graph().as_default(), name_scope(name, f"{self._name}_EnqueueMany") as scope:
            ts = self._check_enqueue_dtypes(vals)
            batch = ts[0].get_shape().with_rank_at_least(1)[0]
            for t, shape in zip(ts, self._shapes):
                s = t.get_shape().with_rank_at_least(1)
                batch = batch.merge_with(s[0])
                s[1:].assert_is_compatible_with(shape)
            return self._queue_ref.graph.create_op(
                "QueueEnqueueMany", [self._queue_ref, *ts],
                attrs={"Tcomponents": [t.dtype.base_dtype for t in ts]}, name=scope)

    def _dequeue_return_value(self, tensors: list) -> Any:
        if self._names:
            return {n: tensors[i] for i, n in enumerate(self._names)}
        if len(tensors) == 1:
            return tensors[0]
        return tensors

    def _dequeue(self, op_type: str, extra: list, name: str) -> Any:
        op_ = self._queue_ref.graph.create_op(op_type, [self._queue_ref, *extra],
                                              attrs={"component_types": list(self._dtypes)}, name=name)
        return self._dequeue_return_value(list(op_.outputs))

    def dequeue(self, name: str | None = None) -> Any:
        """Dequeues one element; blocks while the queue is empty (OutOfRangeError once closed and empty)."""
        return self._dequeue("QueueDequeue", [], name or f"{self._name}_Dequeue")

    def _n(self, n: Any) -> Tensor:
        with self._scope_graph().as_default():
            return convert_to_tensor(n, dtype=_dt.int32, name="n")

    def dequeue_many(self, n: Any, name: str | None = None) -> Any:
        """Dequeues `n` elements stacked along a new first dimension (blocks until n are available)."""
        return self._dequeue("QueueDequeueMany", [self._n(n)], name or f"{self._name}_DequeueMany")

    def dequeue_up_to(self, n: Any, name: str | None = None) -> Any:
        """Like dequeue_many, but a closed queue with 0 < k < n elements left returns those k."""
        return self._dequeue("QueueDequeueUpTo", [self._n(n)], name or f"{self._name}_DequeueUpTo")

    def close(self, cancel_pending_enqueues: bool = False, name: str | None = None) -> Operation:
        """Closes the queue: later enqueues fail; dequeues fail once too few elements remain.

        With `cancel_pending_enqueues`, enqueues blocked on a full queue fail too.
        """
        return self._queue_ref.graph.create_op(
            "QueueClose", [self._queue_ref], attrs={"cancel_pending_enqueues": bool(cancel_pending_enqueues)},
            name=name or f"{self._name}_Close")

    def is_closed(self, name: str | None = None) -> Tensor:
        """A bool scalar: whether the queue is closed."""
        return self._queue_ref.graph.create_op("QueueIsClosed", [self._queue_ref],
                                               name=name or f"{self._name}_Is_Closed").outputs[0]

    def size(self, name: str | None = None) -> Tensor:
        """An int32 scalar: the number of elements in the queue."""
        return self._queue_ref.graph.create_op("QueueSize", [self._queue_ref],
                                               name=name or f"{self._name}_Size").outputs[0]


def _create_queue(op_type: str, attrs: dict, name: str) -> Tensor:
    if attrs["shapes"] and len(attrs["shapes"]) != len(attrs["component_types"]):
        raise ValueError("Queue shapes must have the same length as dtypes")
    g = get_default_graph()
    attrs = {**attrs, "container": getattr(g._s, "container", "")}
    return g.create_op(op_type, [], attrs=attrs, name=name).outputs[0]


class FIFOQueue(QueueBase):
    """A queue that dequeues elements in first-in first-out order (TF 1.x `tf.FIFOQueue`)."""

    def __init__(self, capacity: int, dtypes: Any, shapes: Any = None, names: Any = None,
                 shared_name: str | None = None, name: str = "fifo_queue"):
        """Creates a queue of at most `capacity` elements (-1: unbounded) with components of `dtypes`.

        Args:
            capacity: the upper bound on the number of elements.
            dtypes: a DType or list of DTypes, one per component.
            shapes: None, or one fully-defined shape per component (needed by dequeue_many).
            names: None, or one name per component: elements are then dicts.
            shared_name: if set, the queue is shared under this name by every session on its device.
            name: the op name.
        """
        dtypes = _as_type_list(dtypes)
        shapes = _as_shape_list(shapes)
        names = _as_name_list(names, dtypes)
        ref = _create_queue("FIFOQueue", {"component_types": dtypes, "shapes": shapes or [],
                                          "capacity": int(capacity), "shared_name": shared_name or ""}, name)
        super().__init__(dtypes, shapes, names, ref)


class PaddingFIFOQueue(QueueBase):
    """A FIFOQueue whose components may have unknown dimensions; dequeue_many pads them with zeros."""

    def __init__(self, capacity: int, dtypes: Any, shapes: Any, names: Any = None,
                 shared_name: str | None = None, name: str = "padding_fifo_queue"):
        """Like FIFOQueue, but `shapes` is required and may hold None dimensions (padded on dequeue_many).

        Raises:
            ValueError: shapes missing, or not one per dtype.
        """
        dtypes = _as_type_list(dtypes)
        shapes = _as_shape_list(shapes, unknown_dim_allowed=True)
        names = _as_name_list(names, dtypes)
        if len(dtypes) != len(shapes):
            raise ValueError(f"Shapes must be provided for all components, but received {len(dtypes)} dtypes and "
                             f"{len(shapes)} shapes.")
        ref = _create_queue("PaddingFIFOQueue", {"component_types": dtypes, "shapes": shapes,
                                                 "capacity": int(capacity), "shared_name": shared_name or ""}, name)
        super().__init__(dtypes, shapes, names, ref)


class RandomShuffleQueue(QueueBase):
    """A queue that dequeues elements in a random order (TF 1.x `tf.RandomShuffleQueue`)."""

    def __init__(self, capacity: int, min_after_dequeue: int, dtypes: Any, shapes: Any = None, names: Any = None,
                 seed: int | None = None, shared_name: str | None = None, name: str = "random_shuffle_queue"):
        """Creates a shuffling queue; while open, a dequeue leaves at least `min_after_dequeue` elements.

        Args:
            capacity: the upper bound on the number of elements.
            min_after_dequeue: elements kept after a dequeue (ensures a minimum mixing); ignored once closed.
            dtypes, shapes, names, shared_name, name: as for FIFOQueue.
            seed: the op-level seed (with the graph seed, TF's rules).
        """
        from labflow.ops.random_ops import get_seed
        dtypes = _as_type_list(dtypes)
        shapes = _as_shape_list(shapes)
        names = _as_name_list(names, dtypes)
        seed1, seed2 = get_seed(seed)
        if seed1 is None and seed2 is None:
            seed1, seed2 = 0, 0
        elif seed is None and shared_name is not None:
            # Queues sharing a graph seed but not a name must still shuffle differently (TF's rule).
            seed2 = int(hashlib.md5((str(seed1) + shared_name).encode("utf-8")).hexdigest()[:8], 16) & 0x7FFFFFFF
        ref = _create_queue("RandomShuffleQueue", {
            "component_types": dtypes, "shapes": shapes or [], "capacity": int(capacity),
            "min_after_dequeue": int(min_after_dequeue), "seed": int(seed1), "seed2": int(seed2),
            "shared_name": shared_name or ""}, name)
        super().__init__(dtypes, shapes, names, ref)


class PriorityQueue(QueueBase):
    """A queue that dequeues the element with the smallest priority first (TF 1.x `tf.PriorityQueue`).

    Every element's first component is its int64 scalar priority, prepended to `types`: `enqueue((p, x))`,
    and a dequeue returns `(p, x)`. Elements of equal priority leave in the order they came.
    """

    def __init__(self, capacity: int, types: Any, shapes: Any = None, names: Any = None,
                 shared_name: str | None = None, name: str = "priority_queue"):
        """Args:
            capacity: the upper bound on the number of elements.
            types: a DType or list of DTypes, the value components (without the priority).
            shapes: one fully-defined shape per value component (needed by dequeue_many); TF requires it,
                labflow also accepts None (then only single dequeues are possible).
            names: None, or one name per component including the priority's (elements are then dicts).
            shared_name: if set, the queue is shared under this name by every session on its device.
            name: the op name.
        """
        types = _as_type_list(types) if types is not None and types != [] else []
        shapes = _as_shape_list(shapes) if shapes is not None and shapes != [] else ([] if types == [] else None)
        if shapes is not None and len(shapes) != len(types):
            raise ValueError(f"Shapes must be provided for all components, but received {len(types)} dtypes and "
                             f"{len(shapes)} shapes.")
        ref = _create_queue("PriorityQueue", {"component_types": types, "shapes": shapes or [],
                                              "capacity": int(capacity), "shared_name": shared_name or ""}, name)
        all_types = [_dt.int64, *types]
        super().__init__(all_types, [TensorShape([]), *shapes] if shapes is not None else None,
                         _as_name_list(names, all_types), ref)
