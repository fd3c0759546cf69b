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
        self.plan = executor.compile_partition(parts[0], function=True) if parts else None
        self.n_out = len(outputs)

    def __call__(self, args: list, step: Any) -> list:
        out: list = [None] * self.n_out
        if self.plan is not None:
            try:
                self.plan.fn(args, out, step)
            except Exception as e:  # noqa: BLE001 - named after the node inside the function
                err = executor.translate_error(e, self.plan)
                if isinstance(err, errors.OpError) and "in function '" not in err.message:
                    err = type(err)(None, err.op, f"{err.message}\n\t in function '{self.name}'")
                raise err from None
        for i, j in self.from_args:
            out[i] = args[j]
        return out


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
