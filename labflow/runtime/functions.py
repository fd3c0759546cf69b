"""Running a FuncGraph (a cond branch, a loop's condition or body) inside a kernel.

A function runs on the device of the op that calls it, through the same pipeline as a step: prune to
the wanted results (cut at the arguments), partition onto that one device, the graph rewrites, and one
flat generated plan (runtime/executor.py, in its `function` mode: results stay on the device). Plans are
compiled once per (function, device, arguments, results) and kept on the FuncGraph.
"""

from __future__ import annotations

import threading
from typing import Any

from labflow import errors
from labflow.runtime import elementwise_fusion, executor, partition, prune, rewrite
from labflow.runtime.devices import Device

_lock = threading.Lock()


class CompiledFunction:
    """One compiled plan of a FuncGraph: `fn(args, step) -> results`."""

    def __init__(self, fg: Any, device: Device, inputs: list, outputs: list):
        self.name = fg.name
        feeds = list(inputs)
        feed_pos = {id(t): i for i, t in enumerate(feeds)}
        self.from_args = [(i, feed_pos[id(t)]) for i, t in enumerate(outputs) if id(t) in feed_pos]
        fetches = [None if id(t) in feed_pos else t for t in outputs]
        targets = list(getattr(fg, "control_outputs", []))
        order = prune.prune([t for t in fetches if t is not None], targets, set(feeds))
        parts = partition.partition(order, {op: device for op in order}, feeds, fetches, targets)
        if len(parts) > 1:  # cannot happen with one device; guards the invariant the call relies on
            raise errors.InternalError(None, None, f"function '{fg.name}' split over {len(parts)} partitions")
        opts = _default_optimizer_options()
        for p in parts:
            rewrite.optimize(p)
            if elementwise_fusion.enabled(device.device_type, opts):
                elementwise_fusion.fuse_elementwise(p)
        self._part = parts[0] if parts else None
        self.plan = executor.compile_partition(self._part, function=True) if parts else None
        self._traced_plan: Any = None
        self.device_name = device.name
        self.n_out = len(outputs)

    def __call__(self, args: list, step: Any, caller: str = "") -> list:
        """The results for `args`; `caller` (the calling op's name) names the nodes in a traced step."""
        out: list = [None] * self.n_out
        if self.plan is not None:
            traces = getattr(step, "traces", None)
            if traces is not None and hasattr(traces, "functions"):
                self._run_traced(args, out, step, traces, caller)
            else:
                self._run(self.plan, args, out, step)
        for i, j in self.from_args:
            out[i] = args[j]
        return out

    def _run(self, plan: Any, args: list, out: list, step: Any) -> None:
        try:
            plan.fn(args, out, step)
        except Exception as e:  # noqa: BLE001 - named after the node inside the function
            err = executor.translate_error(e, plan)
            if isinstance(err, errors.OpError) and "in function '" not in err.message:
                err = type(err)(None, err.op, f"{err.message}\n\t in function '{self.name}'")
            raise err from None

    def _run_traced(self, args: list, out: list, step: Any, traces: Any, caller: str) -> None:
        """A FULL_TRACE step: the traced plan, its records kept for the step's stats (output values
        reduced to their shapes and sizes: a long loop would otherwise keep every intermediate alive)."""
        if self._traced_plan is None:
            self._traced_plan = executor.compile_partition(self._part, traced=True, function=True)
        prefix = getattr(traces, "prefix", "") + (caller + "/" if caller else "")
        sub = _FunctionTraces(traces.functions, prefix)
        self._run(self._traced_plan, args, out, executor.Step(step.rendezvous, step.step_id, step.session, sub))
        records = [(i, t0, t1, tuple(_Meta(v) for v in outs), *rest) for i, t0, t1, outs, *rest in sub[0]]
        traces.functions.append((self.device_name, prefix, self._traced_plan.nodes, records))


class _FunctionTraces(list):
    """What a function's traced plan records into: its own list, and the step's list of function records
    for the functions it calls in turn (named under `prefix`)."""

    def __init__(self, functions: list, prefix: str):
        super().__init__([[]])
        self.functions = functions
        self.prefix = prefix


class _Meta:
    """A traced output's shape and size, without its value."""

    __slots__ = ("shape", "nbytes")

    def __init__(self, v: Any):
        self.shape = tuple(getattr(v, "shape", ()))
        self.nbytes = int(getattr(v, "nbytes", 0) or 0)


def _default_optimizer_options() -> Any:
    from labflow.runtime.config import ConfigProto
    return ConfigProto().graph_options.optimizer_options


def get(fg: Any, device: Device, inputs: list, outputs: list) -> CompiledFunction:
    """The compiled plan computing `outputs` of `fg` from `inputs` on `device` (compiled on first use)."""
    key = (device.name, tuple(id(t) for t in inputs), tuple(id(t) for t in outputs))
    cache = fg.__dict__.setdefault("_compiled", {})
    fn = cache.get(key)
    if fn is None:
        with _lock:
            fn = cache.get(key)
            if fn is None:
                fn = cache[key] = CompiledFunction(fg, device, inputs, outputs)
    return fn
