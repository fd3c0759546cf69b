"""`tf.train.replica_device_setter`: variables on parameter-server tasks, everything else on the worker.

    with tf.device(tf.train.replica_device_setter(cluster=cluster_spec)):
        w = tf.Variable(...)          # /job:ps/task:0  (round robin over the ps tasks)
        y = tf.matmul(x, w)           # /job:worker

A variable's `read` Identity and its initializer are colocated with the variable (they follow it to the
ps task). `GreedyLoadBalancingStrategy(num_tasks, byte_size_load_fn)` balances the ps tasks by bytes
instead of by count (TF's `tf.contrib.training.GreedyLoadBalancingStrategy`).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np

from labflow.framework.device_spec import DeviceSpec

__all__ = ["replica_device_setter", "GreedyLoadBalancingStrategy", "byte_size_load_fn", "STANDARD_PS_OPS"]

_log = logging.getLogger("labflow")

STANDARD_PS_OPS = ("Variable", "VariableV2", "AutoReloadVariable", "MutableHashTable", "MutableHashTableV2",
                   "MutableHashTableOfTensors", "MutableHashTableOfTensorsV2", "MutableDenseHashTable",
                   "MutableDenseHashTableV2", "VarHandleOp")


class _RoundRobinStrategy:
    """Gives the ps tasks 0, 1, ..., num_tasks-1, 0, ... to successive variables."""

    def __init__(self, num_tasks: int):
        self._num_tasks = num_tasks
        self._next_task = 0

    def __call__(self, unused_op: Any) -> int:
        task = self._next_task
        self._next_task = (self._next_task + 1) % self._num_tasks
        return task


class GreedyLoadBalancingStrategy:
    """Puts each variable on the ps task with the least load so far, `load_fn(op)` adding to it.

    Args:
        num_tasks: the number of ps tasks.
        load_fn: op -> load (e.g. `byte_size_load_fn`).
    """

    def __init__(self, num_tasks: int, load_fn: Callable[[Any], float]):
        self._num_tasks = num_tasks
        self._load_fn = load_fn
        self._ps_loads = np.zeros(num_tasks)

    def __call__(self, op: Any) -> int:
        task = int(np.argmin(self._ps_loads))
        self._ps_loads[task] += self._load_fn(op)
        return task


def byte_size_load_fn(op: Any) -> int:
    """The byte size of a single-output op's output (a variable's size), from its static shape and dtype.

    Raises:
        ValueError: `op` has not exactly one output, or its shape is not fully defined.
    """
    from labflow.framework.shapes import TensorShape
    if len(op.outputs) != 1:
        raise ValueError(f"Op {op.name} must have a single output")
    output = op.outputs[0]
    shape = output.get_shape()
    if not shape.is_fully_defined():
        try:
            shape = TensorShape(op.get_attr("shape"))
        except (ValueError, KeyError, TypeError):
            pass
    if not shape.is_fully_defined():
        raise ValueError(f"byte_size_load_fn: the shape {shape} of {op.name} is not fully defined.")
    return int(shape.num_elements()) * output.dtype.base_dtype.size


class _ReplicaDeviceChooser:
    def __init__(self, ps_tasks: int, ps_device: str, worker_device: str, merge_devices: bool, ps_ops: list,
                 ps_strategy: Callable):
        self._ps_tasks = ps_tasks
        self._ps_device = ps_device
        self._worker_device = worker_device
        self._merge_devices = merge_devices
        self._ps_ops = frozenset(ps_ops)
        self._ps_strategy = ps_strategy

    def device_function(self, op: Any) -> str:
        """The device for `op`: its ps task for a variable op, the worker device for the rest."""
        if not self._merge_devices and op.device:
            return op.device
        current = DeviceSpec.from_string(op.device or "")
        if self._ps_tasks and self._ps_device and op.type in self._ps_ops:
            ps = DeviceSpec.from_string(self._ps_device)
            # The task is only chosen when the op's own job (from an inner scope) does not override ps's.
            if ps.job and (not current.job or current.job == ps.job):
                ps = ps.replace(task=self._ps_strategy(op))
            return ps.make_merged_spec(current).to_string()
        worker = DeviceSpec.from_string(self._worker_device or "")
        return worker.make_merged_spec(current).to_string()


def replica_device_setter(ps_tasks: int = 0, ps_device: str = "/job:ps", worker_device: str = "/job:worker",
                          merge_devices: bool = True, cluster: Any = None, ps_ops: list | None = None,
                          ps_strategy: Callable | None = None) -> Callable | None:
    """A device function for `tf.device()` that places variables on ps tasks and other ops on the worker.

    Args:
        ps_tasks: the number of ps tasks (ignored when `cluster` is given: its ps job's size is used).
        ps_device: the ps job's device name; the chosen `task:k` is added to it.
        worker_device: the device for every op that is not in `ps_ops`.
        merge_devices: when True, fields an op already has (from inner `tf.device` scopes) are kept and
            the rest filled in; when False an op with any device is left alone.
        cluster: a `ClusterSpec`, a dict or a `ClusterDef` naming the ps job.
        ps_ops: the op types that go to the ps (default: the variable and mutable table ops).
        ps_strategy: op -> ps task index (default: round robin).

    Returns:
        The device function, or None when there are no ps tasks (the cluster has no ps job).

    Raises:
        TypeError: `ps_strategy` is not callable.
    """
    if cluster is not None:
        from labflow.distributed.cluster import ClusterSpec
        spec = (cluster if isinstance(cluster, ClusterSpec) else ClusterSpec(cluster)).as_dict()
        ps_job = DeviceSpec.from_string(ps_device).job
        if ps_job not in spec or spec[ps_job] is None:
            return None
        ps_tasks = len(spec[ps_job])
    if ps_tasks == 0:
        return None
    if ps_ops is None:
        ps_ops = list(STANDARD_PS_OPS)
    if not merge_devices:
        _log.warning("DEPRECATION: It is recommended to set merge_devices=true in replica_device_setter")
    if ps_strategy is None:
        ps_strategy = _RoundRobinStrategy(ps_tasks)
    if not callable(ps_strategy):
        raise TypeError("ps_strategy must be callable")
    return _ReplicaDeviceChooser(ps_tasks, ps_device, worker_device, merge_devices, ps_ops,
                                 ps_strategy).device_function
