"""`tf.train.ClusterSpec` with TF 1.x semantics, and `TF_CONFIG` parsing."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from labflow.framework.protos import cluster_pb2

__all__ = ["ClusterSpec", "cluster_from_tf_config", "is_chief_task"]


def _as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    raise TypeError


class ClusterSpec:
    """Represents a cluster as a set of jobs, each a set of tasks with network addresses (TF's ClusterSpec).

    A job's tasks are given as a list of addresses (task indices 0, 1, ...) or as a dict from task index to
    address (sparse jobs, e.g. a single worker of a larger cluster):

        cluster = tf.train.ClusterSpec({"worker": ["w0:2222", "w1:2222"], "ps": {1: "ps1:2222"}})
    """

    __hash__ = None  # mutable-looking like TF's: defines __eq__ and is unhashable

    def __init__(self, cluster: Any):
        """Creates a `ClusterSpec`.

        Args:
            cluster: a dict mapping job names to lists of addresses or to {task_index: address} dicts,
                a `ClusterDef` protocol buffer, or another `ClusterSpec`.

        Raises:
            TypeError: if `cluster` is none of those, or a job's tasks are neither a list nor a dict.
            ValueError: if a task index is not an integer or an address is not a string.
        """
        if isinstance(cluster, dict):
            spec: dict[str, dict[int, str]] = {}
            for job_name, tasks in cluster.items():
                if isinstance(tasks, (list, tuple)):
                    job_tasks = dict(enumerate(tasks))
                elif isinstance(tasks, dict):
                    try:
                        job_tasks = {int(i): t for i, t in tasks.items()}
                    except (TypeError, ValueError):
                        raise ValueError(f"Task indices of job {job_name!r} must be integers, got "
                                         f"{list(tasks)!r}") from None
                else:
                    raise TypeError(f"The tasks for job {job_name!r} must be a list or a dictionary "
                                    "from integers to strings.")
                spec[job_name] = job_tasks
            self._cluster_spec = spec
            self._make_cluster_def()
        elif isinstance(cluster, (cluster_pb2.ClusterDef, ClusterSpec)):
            cluster_def = cluster if isinstance(cluster, cluster_pb2.ClusterDef) else cluster.as_cluster_def()
            self._cluster_def = cluster_pb2.ClusterDef()
            self._cluster_def.MergeFrom(cluster_def)
            self._cluster_spec = {job.name: dict(job.tasks.items()) for job in self._cluster_def.job}
        else:
            raise TypeError("`cluster` must be a dictionary mapping one or more job names to lists of network "
                            "addresses, or a `ClusterDef` protocol buffer")

    def _make_cluster_def(self) -> None:
        self._cluster_def = cluster_pb2.ClusterDef()
        for job_name, tasks in sorted(self._cluster_spec.items(), key=lambda kv: str(kv[0])):
            try:
                name = _as_text(job_name)
            except TypeError:
                raise TypeError(f"Job name {job_name!r} must be bytes or unicode") from None
            job_def = self._cluster_def.job.add()
            job_def.name = name
            for i, address in sorted(tasks.items()):
                try:
                    job_def.tasks[i] = _as_text(address)
                except TypeError:
                    raise ValueError(f"Task address {address!r} must be bytes or unicode") from None
        # Normalise bytes names/addresses to str so lookups by str work.
        self._cluster_spec = {_as_text(j): {i: _as_text(a) for i, a in t.items()}
                              for j, t in self._cluster_spec.items()}

    def __bool__(self) -> bool:
        return bool(self._cluster_spec)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, dict):
            try:
                other = ClusterSpec(other)
            except (TypeError, ValueError):
                return False
        if isinstance(other, ClusterSpec):
            return self._cluster_spec == other._cluster_spec
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __repr__(self) -> str:
        d = self.as_dict()
        return "ClusterSpec({" + ", ".join(f"{k!r}: {d[k]!r}" for k in sorted(d)) + "})"

    def as_dict(self) -> dict[str, Any]:
        """Returns a dict from job name to a list of addresses (dense tasks 0..n-1) or a {index: address} dict."""
        ret: dict[str, Any] = {}
        for job in self.jobs:
            indices = self.task_indices(job)
            if not indices:
                ret[job] = {}
            elif max(indices) + 1 == len(indices):
                ret[job] = self.job_tasks(job)
            else:
                ret[job] = {i: self.task_address(job, i) for i in indices}
        return ret

    def as_cluster_def(self) -> cluster_pb2.ClusterDef:
        """Returns the `ClusterDef` protocol buffer for this cluster (jobs and tasks sorted)."""
        return self._cluster_def

    @property
    def jobs(self) -> list[str]:
        """The job names in this cluster."""
        return list(self._cluster_spec.keys())

    def _job(self, job_name: str) -> dict[int, str]:
        try:
            return self._cluster_spec[job_name]
        except (KeyError, TypeError):
            raise ValueError(f"No such job in cluster: {job_name!r}") from None

    def num_tasks(self, job_name: str) -> int:
        """Returns the number of tasks defined in `job_name`.

        Raises:
            ValueError: if `job_name` is not a job in the cluster.
        """
        return len(self._job(job_name))

    def task_indices(self, job_name: str) -> list[int]:
        """Returns the sorted task indices defined in `job_name`.

        Raises:
            ValueError: if `job_name` is not a job in the cluster.
        """
        return sorted(self._job(job_name))

    def task_address(self, job_name: str, task_index: int) -> str:
        """Returns the address of task `task_index` of `job_name`.

        Raises:
            ValueError: if the job or the task does not exist.
        """
        job = self._job(job_name)
        try:
            return job[task_index]
        except (KeyError, TypeError):
            raise ValueError(f"No task with index {task_index!r} in job {job_name!r}") from None

    def job_tasks(self, job_name: str) -> list[str | None]:
        """Returns the addresses of `job_name`'s tasks indexed by task index, with None for missing indices.

        Raises:
            ValueError: if `job_name` is not a job in the cluster.
        """
        job = self._job(job_name)
        ret: list[str | None] = [None] * (max(job) + 1 if job else 0)
        for i, address in job.items():
            ret[i] = address
        return ret


def is_chief_task(cluster: ClusterSpec, job_name: str | None, task_index: int | None) -> bool:
    """Whether a task is the chief, as TF decides it.

    The chief is task 0 of the "chief" job (or of the legacy "master" job); a cluster with neither makes
    task 0 of "worker" the chief. An empty cluster (local training) has a single, chief task.

    Args:
        cluster: the cluster.
        job_name: the task's job (None for the local task).
        task_index: the task's index.
    """
    if not cluster:
        return True
    jobs = cluster.jobs
    chief_job = "chief" if "chief" in jobs else "master" if "master" in jobs else "worker"
    return job_name == chief_job and (task_index or 0) == 0


def cluster_from_tf_config(env: Mapping[str, str] | None = None) -> tuple[ClusterSpec, str | None, int | None]:
    """Parses the `TF_CONFIG` environment variable, as TF's launchers (e.g. Kubernetes operators) set it.

    `TF_CONFIG` is JSON such as `{"cluster": {"chief": ["c:2222"], "worker": ["w0:2222", "w1:2222"],
    "ps": ["p:2222"]}, "task": {"type": "worker", "index": 1}, "rpc_layer": "grpc"}`. As in TF, an absent or
    empty `TF_CONFIG` means local training: an empty cluster and no task. A "chief" job may hold only one
    task; an "evaluator" task may lie outside the cluster. Use `is_chief_task` to tell the chief.

    Args:
        env: the environment to read (default: `os.environ`).

    Returns:
        `(cluster_spec, job_name, task_index)`; `job_name` and `task_index` are None without a cluster.

    Raises:
        ValueError: for malformed JSON, a missing or malformed "cluster" or "task", a task that is not in the
            cluster, more than one chief, or an rpc_layer other than gRPC.
    """
    raw = (os.environ if env is None else env).get("TF_CONFIG", "")
    if not raw or not raw.strip():
        return ClusterSpec({}), None, None
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e}): {raw[:200]!r}") from None
    if not isinstance(config, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object, got {type(config).__name__}")
    rpc_layer = config.get("rpc_layer", "grpc")
    if not isinstance(rpc_layer, str) or not rpc_layer.startswith("grpc"):
        raise ValueError(f"TF_CONFIG rpc_layer {rpc_layer!r} is not supported: labflow only speaks 'grpc'")
    if "cluster" not in config:
        raise ValueError('TF_CONFIG has no "cluster" (expected {"cluster": {job: [address, ...]}, "task": '
                         '{"type": job, "index": i}})')
    if not isinstance(config["cluster"], dict):
        raise ValueError(f'TF_CONFIG "cluster" must be an object, got {config["cluster"]!r}')
    try:
        cluster = ClusterSpec(config["cluster"])
    except (TypeError, ValueError) as e:
        raise ValueError(f'TF_CONFIG "cluster" is malformed: {e}') from None
    if "chief" in cluster.jobs and cluster.num_tasks("chief") > 1:
        raise ValueError('The "cluster" in TF_CONFIG must have only one "chief" node.')
    task = config.get("task")
    if not cluster and task is None:
        return cluster, None, None
    if not isinstance(task, dict):
        raise ValueError(f'TF_CONFIG needs a "task" object such as {{"type": "worker", "index": 0}}, got {task!r}')
    job_name = task.get("type")
    if not isinstance(job_name, str) or not job_name:
        raise ValueError(f'TF_CONFIG "task" has no "type" (the job name): {task!r}')
    index = task.get("index", 0)
    try:
        if isinstance(index, (bool, float)):
            raise TypeError
        task_index = int(index)
    except (TypeError, ValueError):
        raise ValueError(f'TF_CONFIG "task" index must be an integer, got {index!r}') from None
    if task_index < 0:
        raise ValueError(f'TF_CONFIG "task" index must be >= 0, got {task_index}')
    if job_name == "evaluator" and "evaluator" not in cluster.jobs:
        return cluster, job_name, task_index
    if job_name not in cluster.jobs:
        raise ValueError(f'TF_CONFIG task type {job_name!r} is not a job in the cluster {sorted(cluster.jobs)}')
    if task_index not in cluster.task_indices(job_name):
        raise ValueError(f'TF_CONFIG task index {task_index} is not a task of job {job_name!r} (tasks: '
                         f"{cluster.task_indices(job_name)})")
    return cluster, job_name, task_index
