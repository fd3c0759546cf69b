"""TF 1.x queue-based input pipelines (`tensorflow/python/training/input.py`): producers and batchers.

A producer (`string_input_producer`, `range_input_producer`, `slice_input_producer`) is a FIFOQueue filled one
epoch per enqueue by a QueueRunner; with `num_epochs`, `limit_epochs` makes the enqueue fail with OutOfRangeError
after that many, the runner closes the queue and, once drained, its consumers see OutOfRangeError too: a
`while not coord.should_stop()` loop ends cleanly. A batcher (`batch`, `shuffle_batch`, their `_join` and
`maybe_` forms) is a second queue (FIFO, padding or random-shuffle) fed by its own QueueRunner and read with
`dequeue_many` (`dequeue_up_to` with `allow_smaller_final_batch`), returning the structure it was given.

    files = tf.train.string_input_producer(names, num_epochs=2)    # a queue of file names
    x, y = tf.train.shuffle_batch([x1, y1], 32, capacity=1000, min_after_dequeue=500)
    sess.run(tf.local_variables_initializer())                       # the epoch counters
    threads = tf.train.start_queue_runners(sess, coord=coord)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.constant_value import constant_value
from labflow.framework.convert import convert_n_to_tensor, convert_to_tensor
from labflow.framework.graph import GraphKeys, control_dependencies, name_scope
from labflow.framework.shapes import TensorShape, as_shape
from labflow.framework.tensor import Tensor
from labflow.ops.array_gather_ops import boolean_mask, gather
from labflow.ops.array_ops import constant, identity, shape, size
from labflow.ops.array_reshape_ops import expand_dims
from labflow.ops.array_reshape_ops import range as _range
from labflow.ops.compare_ops import cast, greater, to_float
from labflow.ops.data_flow_ops import FIFOQueue, PaddingFIFOQueue, QueueBase, RandomShuffleQueue
from labflow.ops.logging_ops import Assert
from labflow.ops.math_ops import maximum
from labflow.ops.random_ops import random_shuffle
from labflow.ops.state_ops import count_up_to
from labflow.ops.summary_ops import scalar as _summary_scalar
from labflow.ops.variables import Variable
from labflow.train.queue_runner import QueueRunner, add_queue_runner

__all__ = ["limit_epochs", "input_producer", "string_input_producer", "range_input_producer",
           "slice_input_producer", "batch", "maybe_batch", "batch_join", "maybe_batch_join", "shuffle_batch",
           "maybe_shuffle_batch", "shuffle_batch_join", "maybe_shuffle_batch_join"]


# -- epochs --------------------------------------------------------------------------------------------------
def limit_epochs(tensor: Any, num_epochs: int | None = None, name: str | None = None) -> Tensor:
    """Returns `tensor` `num_epochs` times, then raises OutOfRangeError (TF 1.x `tf.train.limit_epochs`).

    The count lives in a local variable `epochs` (GraphKeys.LOCAL_VARIABLES): run
    `tf.local_variables_initializer()` before the first epoch; re-running it restarts the count.

    Args:
        tensor: any tensor.
        num_epochs: a positive int, or None for no limit (then `tensor` itself is returned).
        name: a name for the operations.

    Returns:
        `tensor`, or an identity of it that counts its evaluations.

    Raises:
        ValueError: `num_epochs` is not positive.
    """
    if num_epochs is None:
        return tensor
    if num_epochs <= 0:
        raise ValueError(f"num_epochs must be > 0 not {num_epochs}.")
    with name_scope(name, "limit_epochs", [tensor]) as scope:
        epochs = Variable(constant(0, dtype=_dt.int64), name="epochs", trainable=False,
                          collections=[GraphKeys.LOCAL_VARIABLES])
        counter = count_up_to(epochs, int(num_epochs))
        with control_dependencies([counter]):
            return identity(tensor, name=scope)


# -- producers -----------------------------------------------------------------------------------------------
def input_producer(input_tensor: Any, element_shape: Any = None, num_epochs: int | None = None,
                   shuffle: bool = True, seed: int | None = None, capacity: int = 32,
                   shared_name: str | None = None, summary_name: str | None = None, name: str | None = None,
                   cancel_op: Any = None) -> QueueBase:
    """Outputs the rows of `input_tensor` to a queue, one epoch per enqueue (TF 1.x `tf.train.input_producer`).

    Adds a QueueRunner to GraphKeys.QUEUE_RUNNERS; with `summary_name`, a scalar summary of how full
    the queue is.

    Args:
        input_tensor: a tensor of rank >= 1; its rows are the queue's elements.
        element_shape: the shape of a row, when `input_tensor`'s is not fully defined.
        num_epochs: None (cycle forever) or the number of passes before the queue closes.
        shuffle: shuffle the rows anew each epoch.
        seed: the op seed for the shuffle.
        capacity: the queue's capacity.
        shared_name: share the queue under this name across sessions.
        summary_name: the name of the fraction-full summary (None: no summary).
        name: the name scope (and the queue's name).
        cancel_op: the QueueRunner's cancel op (default: close the queue, cancelling pending enqueues).

    Returns:
        The FIFOQueue (dequeue it to get the rows).

    Raises:
        ValueError: the row shape is not fully defined and `element_shape` is not given.
    """
    with name_scope(name, "input_producer", [input_tensor]) as scope:
        input_tensor = convert_to_tensor(input_tensor, name="input_tensor")
        element_shape = input_tensor.get_shape()[1:].merge_with(as_shape(element_shape))
        if not element_shape.is_fully_defined():
            raise ValueError("Either `input_tensor` must have a fully defined shape or `element_shape` must be "
                             "specified")
        if shuffle:
            input_tensor = random_shuffle(input_tensor, seed=seed)
        input_tensor = limit_epochs(input_tensor, num_epochs)
        q = FIFOQueue(capacity=capacity, dtypes=[input_tensor.dtype.base_dtype], shapes=[element_shape],
                      shared_name=shared_name, name=scope)
        enq = q.enqueue_many([input_tensor])
        add_queue_runner(QueueRunner(q, [enq], cancel_op=cancel_op))
        if summary_name is not None:
            _summary_scalar(summary_name, to_float(q.size()) * (1.0 / capacity))
        return q


def string_input_producer(string_tensor: Any, num_epochs: int | None = None, shuffle: bool = True,
                          seed: int | None = None, capacity: int = 32, shared_name: str | None = None,
                          name: str | None = None, cancel_op: Any = None) -> QueueBase:
    """A queue of the strings (usually file names) of a 1-D string tensor (TF 1.x `string_input_producer`).

    Args:
        string_tensor: a 1-D string tensor or list, not empty (a tensor is checked when the enqueue runs).
        num_epochs, shuffle, seed, capacity, shared_name, name, cancel_op: as for `input_producer`.

    Returns:
        The FIFOQueue of strings (with a "fraction_of_<capacity>_full" summary).

    Raises:
        ValueError: `string_tensor` is an empty Python list.
    """
    not_null_err = "string_input_producer requires a non-null input tensor"
    if not isinstance(string_tensor, Tensor) and not len(string_tensor):
        raise ValueError(not_null_err)
    with name_scope(name, "input_producer", [string_tensor]) as scope:
        string_tensor = convert_to_tensor(string_tensor, dtype=_dt.string)
        with control_dependencies([Assert(greater(size(string_tensor), 0), [not_null_err])]):
            string_tensor = identity(string_tensor)
        return input_producer(string_tensor, element_shape=[], num_epochs=num_epochs, shuffle=shuffle, seed=seed,
                              capacity=capacity, shared_name=shared_name, name=scope,
                              summary_name=f"fraction_of_{capacity}_full", cancel_op=cancel_op)


def range_input_producer(limit: Any, num_epochs: int | None = None, shuffle: bool = True, seed: int | None = None,
                         capacity: int = 32, shared_name: str | None = None, name: str | None = None) -> QueueBase:
    """A queue of the integers 0 .. limit-1 (int32), optionally shuffled (TF 1.x `range_input_producer`).

    Args:
        limit: an int32 scalar (a Python int or a tensor).
        num_epochs, shuffle, seed, capacity, shared_name, name: as for `input_producer`.

    Returns:
        The FIFOQueue of int32 scalars.
    """
    with name_scope(name, "input_producer", [limit]) as scope:
        range_tensor = _range(limit)
        return input_producer(range_tensor, [], num_epochs, shuffle, seed, capacity, shared_name,
                              f"fraction_of_{capacity}_full", scope)


def slice_input_producer(tensor_list: Any, num_epochs: int | None = None, shuffle: bool = True,
                         seed: int | None = None, capacity: int = 32, shared_name: str | None = None,
                         name: str | None = None) -> list[Tensor]:
    """One row of every tensor in `tensor_list` at a time, the same row of each (TF 1.x `slice_input_producer`).

    A `range_input_producer` over the first dimension feeds a `gather` on every tensor, so rows stay
    aligned (images with their labels) even when shuffled.

    Args:
        tensor_list: tensors with the same first dimension.
        num_epochs, shuffle, seed, capacity, shared_name, name: as for `input_producer`.

    Returns:
        A list with one row-tensor per input tensor.

    Raises:
        ValueError: no tensors, or first dimensions that are known and differ (labflow checks what TF
            left as a TODO).
    """
    with name_scope(name, "input_producer", list(tensor_list)):
        tensor_list = convert_n_to_tensor(list(tensor_list))
        if not tensor_list:
            raise ValueError("Expected at least one tensor in slice_input_producer().")
        first = [t.get_shape().with_rank_at_least(1)[0] for t in tensor_list]
        known = {d.value for d in first if d.value is not None}
        if len(known) > 1:
            raise ValueError(f"slice_input_producer: all tensors must have the same first dimension, got "
                             f"{[d.value for d in first]}")
        range_size = shape(tensor_list[0])[0]
        queue = range_input_producer(range_size, num_epochs=num_epochs, shuffle=shuffle, seed=seed,
                                     capacity=capacity, shared_name=shared_name)
        index = queue.dequeue()
        return [gather(t, index) for t in tensor_list]


# -- batching helpers ----------------------------------------------------------------------------------------
def _as_tensor_list(tensors: Any) -> list:
    """A dict's values in key order (str of the key, TF's rule), a sequence as a list, one tensor as [t]."""
    if isinstance(tensors, dict):
        return [tensors[k] for k in sorted(tensors, key=str)]
    if isinstance(tensors, (list, tuple)):
        return list(tensors)
    return [tensors]  # labflow: a single tensor is accepted (TF needs a list)


def _as_tensor_list_list(tensors_list: Any) -> list[list]:
    if not tensors_list:
        raise ValueError("Expected at least one set of tensors")
    if isinstance(tensors_list[0], dict):
        expected_keys = set(tensors_list[0].keys())
        for tensors in tensors_list[1:]:
            if not isinstance(tensors, dict) or set(tensors.keys()) != expected_keys:
                raise ValueError("All dictionaries in tensors_list must have the same keys")
    return [_as_tensor_list(tensors) for tensors in tensors_list]


def _as_original_type(original: Any, dequeued: Any) -> Any:
    """The dequeued tensors in the structure of the input: a dict, or (TF's rule) a list, or one tensor."""
    if isinstance(original, dict):
        parts = [dequeued] if len(original) == 1 else dequeued  # one component dequeues as a bare tensor
        return {k: parts[i] for i, k in enumerate(sorted(original, key=str))}
    return dequeued


def _validate_keep_input(keep_input: Any, enqueue_many: bool) -> Tensor:
    keep_input = convert_to_tensor(keep_input, dtype=_dt.bool)
    ndims = keep_input.get_shape().ndims
    if ndims is None:
        raise ValueError("`keep_input` dimensions must be known at graph construction.")
    if not enqueue_many and ndims == 1:
        raise ValueError("`keep_input` cannot be a vector when `enqueue_many=False`.")
    if ndims > 1:
        raise ValueError("`keep_input` must be 0 or 1 dimensions.")
    return keep_input


def _check_sizes(batch_size: Any, capacity: int, min_after_dequeue: int | None) -> None:
    """Static checks; a batch that can never fit the open queue would block until it closes."""
    n = batch_size if isinstance(batch_size, (int, np.integer)) else constant_value(batch_size)
    if n is not None and int(n) <= 0:
        raise ValueError(f"`batch_size` must be positive, got {int(n)}.")
    if min_after_dequeue is None:
        min_after_dequeue = 0
    elif min_after_dequeue >= capacity:
        raise ValueError(f"`min_after_dequeue` ({min_after_dequeue}) must be less than `capacity` ({capacity}).")
    if n is not None and int(n) + min_after_dequeue > capacity:
        need = int(n) + min_after_dequeue
        raise ValueError(f"batch_size{' + min_after_dequeue' * bool(min_after_dequeue)} ({need}) exceeds capacity "
                         f"({capacity}): no batch could ever be dequeued while the queue is open.")


def _dtypes(tensor_list_list: list[list[Tensor]]) -> list:
    all_types = [[t.dtype.base_dtype for t in tl] for tl in tensor_list_list]
    types = all_types[0]
    for other in all_types[1:]:
        if other != types:
            raise TypeError(f"Expected types to be consistent: {', '.join(x.name for x in types)} vs. "
                            f"{', '.join(x.name for x in other)}.")
    return types


def _merge_shapes(shape_list: list[TensorShape], enqueue_many: bool) -> TensorShape:
    if enqueue_many:
        shape_list = [s.with_rank_at_least(1)[1:] for s in shape_list]
    merged = shape_list[0]
    for s in shape_list[1:]:
        merged = merged.merge_with(s)  # TF discards this merge (a bug); labflow keeps it
    return merged


def _shapes(tensor_list_list: list[list[Tensor]], shapes: Any, enqueue_many: bool) -> Any:
    """The queue's component shapes: `shapes`, else the inputs' static shapes (the batch dim dropped)."""
    if shapes is not None:
        return shapes
    for tl in tensor_list_list:
        for t in tl:
            if t.get_shape().ndims is None:
                raise ValueError(f"Cannot infer Tensor's rank: {t}")
    return [_merge_shapes([tl[i].get_shape() for tl in tensor_list_list], enqueue_many)
            for i in range(len(tensor_list_list[0]))]


def _kept(tensor_list: list[Tensor], keep_input: Tensor, enqueue_many: bool) -> tuple[list[Tensor], bool]:
    """The part of the input to enqueue, and whether it is a batch (a filtered input is always one).

    TF uses `cond` (scalar keep_input) or `dynamic_partition` (a vector); labflow selects rows with
    `gather`/`boolean_mask` and enqueue_many, which enqueues nothing when no row is kept.
    """
    keep = constant_value(keep_input)
    if keep is not None and np.all(keep):
        return tensor_list, enqueue_many
    if keep_input.get_shape().ndims == 1:
        return [boolean_mask(t, keep_input) for t in tensor_list], True
    if not enqueue_many:
        tensor_list = [expand_dims(t, 0) for t in tensor_list]
    # rows [0, n * keep): all of them, or none
    idx = _range(shape(tensor_list[0])[0] * cast(keep_input, _dt.int32))
    return [gather(t, idx) for t in tensor_list], True


def _enqueue(queue: QueueBase, tensor_list: list[Tensor], threads: int, enqueue_many: bool,
             keep_input: Tensor) -> None:
    tensor_list, many = _kept(tensor_list, keep_input, enqueue_many)
    enqueue_fn = queue.enqueue_many if many else queue.enqueue
    # One op, run by `threads` threads: TF's way of overlapping the preprocessing of several examples.
    add_queue_runner(QueueRunner(queue, [enqueue_fn(tensor_list)] * threads))


def _enqueue_join(queue: QueueBase, tensor_list_list: list[list[Tensor]], enqueue_many: bool,
                  keep_input: Tensor) -> None:
    ops = []
    for tl in tensor_list_list:  # one thread per input list
        tl, many = _kept(tl, keep_input, enqueue_many)
        ops.append(queue.enqueue_many(tl) if many else queue.enqueue(tl))
    add_queue_runner(QueueRunner(queue, ops))


def _batch_join_impl(tensors_list: list, batch_size: Any, keep_input: Any, capacity: int, enqueue_many: bool,
                     shapes: Any, dynamic_pad: bool, allow_smaller_final_batch: bool, shared_name: str | None,
                     name: str | None, default_name: str, threads: int | None,
                     shuffle: tuple | None = None) -> Any:
    """The body of every batcher: `threads` None means one thread per element of `tensors_list` (join).

    `shuffle` is (min_after_dequeue, seed) for the random-shuffle batchers.
    """
    tensor_list_list = _as_tensor_list_list(tensors_list)
    flat = [t for tl in tensor_list_list for t in tl]
    with name_scope(name, default_name, flat + [keep_input]) as scope:
        tensor_list_list = [convert_n_to_tensor(tl) for tl in tensor_list_list]
        if not all(tensor_list_list):
            raise ValueError(f"Expected at least one tensor in {'batch_join' if threads is None else 'batch'}().")
        keep_input = _validate_keep_input(keep_input, enqueue_many)
        min_after_dequeue = 0 if shuffle is None else int(shuffle[0])
        _check_sizes(batch_size, capacity, None if shuffle is None else min_after_dequeue)
        types = _dtypes(tensor_list_list)
        shapes = _shapes(tensor_list_list, shapes, enqueue_many)
        if shuffle is not None:
            queue: QueueBase = RandomShuffleQueue(capacity=capacity, min_after_dequeue=min_after_dequeue,
                                                  seed=shuffle[1], dtypes=types, shapes=shapes,
                                                  shared_name=shared_name)
        else:
            cls = PaddingFIFOQueue if dynamic_pad else FIFOQueue
            queue = cls(capacity=capacity, dtypes=types, shapes=shapes, shared_name=shared_name)
        if threads is None:
            _enqueue_join(queue, tensor_list_list, enqueue_many, keep_input)
        else:
            _enqueue(queue, tensor_list_list[0], threads, enqueue_many, keep_input)
        if shuffle is None:
            _summary_scalar(f"fraction_of_{capacity}_full", to_float(queue.size()) * (1.0 / capacity))
        else:
            # How full the part above min_after_dequeue is: what is ready to be dequeued.
            full = to_float(maximum(0, queue.size() - min_after_dequeue)) * (1.0 / (capacity - min_after_dequeue))
            _summary_scalar(f"fraction_over_{min_after_dequeue}_of_{capacity - min_after_dequeue}_full", full)
        dequeue = queue.dequeue_up_to if allow_smaller_final_batch else queue.dequeue_many
        return _as_original_type(tensors_list[0], dequeue(batch_size, name=scope))


_BATCH_ARGS_DOC = """
    Args:
        tensors: a tensor, a list or a dict of tensors: one example (or a batch, with enqueue_many).
        tensors_list: (the _join forms) a list of such lists or dicts, alike in dtypes and keys.
        keep_input: (the maybe_ forms) a bool scalar, or with enqueue_many a bool vector (one per
            example): only kept examples are enqueued.
        batch_size: the number of examples per batch (a positive int or int32 scalar).
        num_threads: the number of threads running the enqueue op (the _join forms: one per list).
        capacity: the queue's capacity (>= batch_size + min_after_dequeue, else no batch could ever be
            dequeued while the queue is open).
        min_after_dequeue: (shuffle forms) examples kept in the queue after a dequeue: the mixing.
        seed: (shuffle forms) the seed of the queue's shuffle.
        enqueue_many: each tensor is a batch of examples (its first dimension) rather than one.
        shapes: the shape of one example per component (default: the inputs' static shapes).
        dynamic_pad: (FIFO forms) use a PaddingFIFOQueue: unknown dimensions are padded with zeros
            (b"" for strings) to the longest in the batch.
        allow_smaller_final_batch: after the input closes, return the remaining < batch_size examples
            (the batch dimension is then statically unknown).
        shared_name: share the queue under this name across sessions.
        name: a name scope; the dequeue op takes its name.

    Returns:
        The batched tensors in the structure of the input: a dict stays a dict; a list or tuple gives a
        list, except that one component gives a bare tensor (TF's rule).

    Raises:
        ValueError: no tensors, a non-positive batch_size, min_after_dequeue >= capacity, batch_size
            (+ min_after_dequeue) > capacity, shapes not fully defined (and no dynamic_pad), or a
            keep_input of the wrong rank.
        TypeError: _join inputs of different dtypes.
"""


def batch(tensors: Any, batch_size: Any, num_threads: int = 1, capacity: int = 32, enqueue_many: bool = False,
          shapes: Any = None, dynamic_pad: bool = False, allow_smaller_final_batch: bool = False,
          shared_name: str | None = None, name: str | None = None) -> Any:
    """Creates batches of `tensors` in input order (TF 1.x `tf.train.batch`)."""
    return _batch_join_impl([tensors], batch_size, True, capacity, enqueue_many, shapes, dynamic_pad,
                            allow_smaller_final_batch, shared_name, name, "batch", num_threads)


def maybe_batch(tensors: Any, keep_input: Any, batch_size: Any, num_threads: int = 1, capacity: int = 32,
                enqueue_many: bool = False, shapes: Any = None, dynamic_pad: bool = False,
                allow_smaller_final_batch: bool = False, shared_name: str | None = None,
                name: str | None = None) -> Any:
    """`batch`, enqueuing only the examples where the bool `keep_input` (scalar, or per example) is true."""
    return _batch_join_impl([tensors], batch_size, keep_input, capacity, enqueue_many, shapes, dynamic_pad,
                            allow_smaller_final_batch, shared_name, name, "batch", num_threads)


def batch_join(tensors_list: list, batch_size: Any, capacity: int = 32, enqueue_many: bool = False,
               shapes: Any = None, dynamic_pad: bool = False, allow_smaller_final_batch: bool = False,
               shared_name: str | None = None, name: str | None = None) -> Any:
    """Batches examples from several lists of tensors, one enqueue thread each (TF 1.x `batch_join`)."""
    return _batch_join_impl(tensors_list, batch_size, True, capacity, enqueue_many, shapes, dynamic_pad,
                            allow_smaller_final_batch, shared_name, name, "batch_join", None)


def maybe_batch_join(tensors_list: list, keep_input: Any, batch_size: Any, capacity: int = 32,
                     enqueue_many: bool = False, shapes: Any = None, dynamic_pad: bool = False,
                     allow_smaller_final_batch: bool = False, shared_name: str | None = None,
                     name: str | None = None) -> Any:
    """`batch_join`, enqueuing only where `keep_input` is true."""
    return _batch_join_impl(tensors_list, batch_size, keep_input, capacity, enqueue_many, shapes, dynamic_pad,
                            allow_smaller_final_batch, shared_name, name, "batch_join", None)


def shuffle_batch(tensors: Any, batch_size: Any, capacity: int, min_after_dequeue: int, num_threads: int = 1,
                  seed: int | None = None, enqueue_many: bool = False, shapes: Any = None,
                  allow_smaller_final_batch: bool = False, shared_name: str | None = None,
                  name: str | None = None) -> Any:
    """Creates batches by randomly shuffling `tensors` (TF 1.x `tf.train.shuffle_batch`).

    A RandomShuffleQueue keeps at least `min_after_dequeue` examples while open, so each batch is
    drawn from that many plus one batch; `seed` seeds the queue's shuffle.
    """
    return _batch_join_impl([tensors], batch_size, True, capacity, enqueue_many, shapes, False,
                            allow_smaller_final_batch, shared_name, name, "shuffle_batch", num_threads,
                            (min_after_dequeue, seed))


def maybe_shuffle_batch(tensors: Any, batch_size: Any, capacity: int, min_after_dequeue: int, keep_input: Any,
                        num_threads: int = 1, seed: int | None = None, enqueue_many: bool = False,
                        shapes: Any = None, allow_smaller_final_batch: bool = False,
                        shared_name: str | None = None, name: str | None = None) -> Any:
    """`shuffle_batch`, enqueuing only where `keep_input` is true."""
    return _batch_join_impl([tensors], batch_size, keep_input, capacity, enqueue_many, shapes, False,
                            allow_smaller_final_batch, shared_name, name, "shuffle_batch", num_threads,
                            (min_after_dequeue, seed))


def shuffle_batch_join(tensors_list: list, batch_size: Any, capacity: int, min_after_dequeue: int,
                       seed: int | None = None, enqueue_many: bool = False, shapes: Any = None,
                       allow_smaller_final_batch: bool = False, shared_name: str | None = None,
                       name: str | None = None) -> Any:
    """`shuffle_batch` over several lists of tensors, one enqueue thread each (TF 1.x `shuffle_batch_join`)."""
    return _batch_join_impl(tensors_list, batch_size, True, capacity, enqueue_many, shapes, False,
                            allow_smaller_final_batch, shared_name, name, "shuffle_batch_join", None,
                            (min_after_dequeue, seed))


def maybe_shuffle_batch_join(tensors_list: list, batch_size: Any, capacity: int, min_after_dequeue: int,
                             keep_input: Any, seed: int | None = None, enqueue_many: bool = False,
                             shapes: Any = None, allow_smaller_final_batch: bool = False,
                             shared_name: str | None = None, name: str | None = None) -> Any:
    """`shuffle_batch_join`, enqueuing only where `keep_input` is true."""
    return _batch_join_impl(tensors_list, batch_size, keep_input, capacity, enqueue_many, shapes, False,
                            allow_smaller_final_batch, shared_name, name, "shuffle_batch_join", None,
                            (min_after_dequeue, seed))


for _f in (batch, maybe_batch, batch_join, maybe_batch_join, shuffle_batch, maybe_shuffle_batch,
           shuffle_batch_join, maybe_shuffle_batch_join):
    _f.__doc__ = (_f.__doc__ or "") + "\n" + _BATCH_ARGS_DOC
del _f
