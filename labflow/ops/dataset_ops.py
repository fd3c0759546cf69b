"""The ops behind `tf.data`: MakeIterator (an iterator's initializer), IteratorGetNext and ReduceDataset.

A dataset pipeline is Python (labflow/data/): it lives in a process-local registry under a token, as
py_func's callables do, so a GraphDef holding these ops exports (a string attr) and imports in the same
process; elsewhere the op fails with an error saying why. The iterator itself is a per-session resource
on the op's (CPU) device: a Python iterator over NumPy elements, guarded by a lock so several threads
may call get_next at once.
"""

from __future__ import annotations

import itertools
import secrets
import threading
from typing import Any

from labflow import errors
from labflow.framework.registry import REQUIRED, op
from labflow.ops.common import no_outputs

_TAG = secrets.token_hex(4)
_ids = itertools.count()
_DATASETS: dict[str, Any] = {}
_lock = threading.Lock()


def register(dataset: Any) -> str:
    """A token naming `dataset` in this process (kept as long as the process lives, like TF's)."""
    with _lock:
        token = f"dataset_{next(_ids)}_{_TAG}"
        _DATASETS[token] = dataset
    return token


def _dataset(token: str, op: Any) -> Any:
    ds = _DATASETS.get(token)
    if ds is None:
        raise errors.NotFoundError(None, op, f"Dataset {token!r} is not registered in this process: a tf.data "
                                   "pipeline is Python and lives in the process that built it (a GraphDef "
                                   "holding it runs only there).")
    return ds


class IteratorResource:
    """One iterator's state in a session: the running Python iterator and the step it pulls in."""

    def __init__(self):
        self.lock = threading.Lock()
        self.it: Any = None
        self.runner: Any = None

    def start(self, dataset: Any, values: list, runner: Any) -> None:
        """(Re)starts the iterator over `dataset` with its input tensors' `values` (an initializer run)."""
        self.stop()
        self.runner = runner
        self.it = iter(dataset._elements(dict(zip(dataset._input_ids(), values)), runner))

    def stop(self) -> None:
        """Ends the running pipeline now (its prefetch threads stop) rather than whenever it is collected."""
        it, self.it = self.it, None
        close = getattr(it, "close", None)
        if close is not None:
            close()


def _resource(ctx: Any, shared_name: str) -> IteratorResource:
    return ctx.resources.lookup_or_create("iterators", shared_name, IteratorResource)


@op("MakeIterator", inputs=("*inputs",), attrs={"dataset": REQUIRED, "shared_name": REQUIRED}, shape=no_outputs,
    outputs=0, stateful=True, not_differentiable=True, needs_ctx=True, needs_step=True, devices=("CPU",))
def make_iterator_kernel(xp, *inputs, dataset, shared_name, ctx, step):
    ds = _dataset(dataset, ctx.op)
    res = _resource(ctx, shared_name)
    with res.lock:
        res.start(ds, list(inputs), _Runner(ctx, step))


class _Runner:
    """How a dataset's traced functions (map, filter) run: on the iterator op's device, in the current step."""

    def __init__(self, ctx: Any, step: Any):
        self.device = ctx.device
        self.step = step
        self.op = ctx.op

    def call(self, fg: Any, args: list) -> list:
        from labflow.runtime import functions
        return functions.get(fg, self.device, fg.inputs, fg.outputs)(args, self.step, fg.name)

    def check_cancelled(self) -> None:
        """Raises the pulling step's abort error (session closed, step cancelled)."""
        self.step.check_cancelled()

    def background(self) -> _Runner:
        """A runner for a producer thread (prefetch): the current step's rendezvous and session, no tracing
        (its functions run between steps, so their nodes belong to no step's trace)."""
        bg = _Runner.__new__(_Runner)
        bg.device, bg.op = self.device, self.op
        s = self.step
        bg.step = type(s)(s.rendezvous, s.step_id, s.session, None)
        return bg

    def stopped(self) -> bool:
        """Whether a producer thread should end: its step was aborted or its session closed."""
        s = self.step
        # Session.close aborts the live rendezvous and sets `_closed`; a finished multi-partition step's
        # rendezvous is no longer aborted, so the session flag is read as well.
        return getattr(s.rendezvous, "error", None) is not None or bool(getattr(s.session, "_closed", False))


def _get_next_shape(ins: list, attrs: dict) -> list:
    return [(dt, s.as_tuple() if hasattr(s, "as_tuple") else s)
            for dt, s in zip(attrs["output_types"], attrs["output_shapes"])]


@op("IteratorGetNext", inputs=("*inputs",), attrs={"shared_name": REQUIRED, "output_types": REQUIRED,
                                                   "output_shapes": REQUIRED, "one_shot": ""},
    shape=_get_next_shape, outputs=lambda attrs, n: len(attrs["output_types"]), stateful=True,
    not_differentiable=True, needs_ctx=True, needs_step=True, devices=("CPU",))
def get_next_kernel(xp, *inputs, shared_name, output_types, output_shapes, one_shot, ctx, step):
    res = _resource(ctx, shared_name)
    with res.lock:
        if res.it is None:
            if not one_shot:
                raise errors.FailedPreconditionError(
                    None, ctx.op, "GetNext() failed because the iterator has not been initialized. Ensure that you "
                    "have run the initializer operation for this iterator before getting the next element.")
            res.start(_dataset(one_shot, ctx.op), list(inputs), _Runner(ctx, step))
        res.runner.step = step  # the pipeline's functions run inside the step that pulls
        try:
            values = next(res.it)
        except StopIteration:
            raise errors.OutOfRangeError(None, ctx.op, "End of sequence") from None
    return values[0] if len(values) == 1 else tuple(values)


@op("ReduceDataset", inputs=("*inputs",), attrs={"reducer": REQUIRED, "output_types": REQUIRED,
                                                 "output_shapes": REQUIRED},
    shape=_get_next_shape, outputs=lambda attrs, n: len(attrs["output_types"]), stateful=True,
    not_differentiable=True, needs_ctx=True, needs_step=True, devices=("CPU",))
def reduce_dataset_kernel(xp, *inputs, reducer, output_types, output_shapes, ctx, step):
    """Runs a whole pipeline, folding each element into the state with the traced reduce function."""
    dataset, fg, n_inputs, n_state = _dataset(reducer, ctx.op)
    runner = _Runner(ctx, step)
    values = dict(zip(dataset._input_ids(), inputs[:n_inputs]))
    state = list(inputs[n_inputs:n_inputs + n_state])
    caps = list(inputs[n_inputs + n_state:])
    for comps in dataset._elements(values, runner):
        state = runner.call(fg, state + list(comps) + caps)
    return state[0] if len(state) == 1 else tuple(state)
