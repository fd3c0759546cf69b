"""The master service without transport: sessions over a cluster's devices, and the steps they run.

A client's graph arrives as a GraphDef. The master imports it and runs the SAME pipeline a local session
runs (runtime/pipeline.py: prune -> place -> partition), over every device of every task in the cluster;
it registers each task's partitions on that task (RegisterGraph) once per signature, then runs each step
with one RunGraph per task, watching the tasks with GetStatus heartbeats so that a task that dies fails
the step (UnavailableError naming it) and the step is cancelled everywhere else.
"""

from __future__ import annotations

import concurrent.futures
import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from labflow import errors
from labflow.distributed import wire
from labflow.distributed.protos import master_pb2 as mpb
from labflow.distributed.protos import worker_pb2 as wpb
from labflow.distributed.worker import Worker, check_allowed, task_of
from labflow.distributed.worker_graph import partition_to_graph_def
from labflow.framework.device_spec import DeviceSpec
from labflow.framework.graph import Graph
from labflow.framework.graph_io import import_graph_def
from labflow.runtime import partition as partition_mod
from labflow.runtime import pipeline
from labflow.runtime.config import config_from_proto
from labflow.runtime.devices import Device

_log = logging.getLogger("labflow.distributed")

STATUS_TIMEOUT_S = 5.0
REGISTER_TIMEOUT_S = 120.0
HEARTBEAT_S = 1.0
ABORT_GRACE_S = 2.0
DEFAULT_STEP_TIMEOUT_S = 24 * 3600.0


class LocalWorkerClient:
    """Calls a `Worker` in this process directly (the master's own task, and in-process tests)."""

    def __init__(self, worker: Worker):
        self.worker = worker
        self.task_name = worker.task_name

    def __getattr__(self, name: str) -> Callable:
        method = getattr(self.worker, name)

        def call(request: Any, timeout: float | None = None) -> Any:
            return method(request)
        return call

    def RecvTensor(self, request: Any, timeout: float | None = None) -> Any:  # noqa: N802 - RPC name
        return _LocalStream(self.worker, request)


class _LocalStream:
    """An in-process RecvTensor stream with gRPC's `cancel()`."""

    def __init__(self, worker: Worker, request: Any):
        self._cancelled = False
        self._it = worker.RecvTensor(request, alive=lambda: not self._cancelled)

    def __iter__(self):
        return self._it

    def cancel(self) -> None:
        self._cancelled = True


def cluster_tasks(cluster: Any) -> list[str]:
    """Every task name of a ClusterSpec, jobs in order, tasks by index."""
    return [f"/job:{job}/replica:0/task:{i}" for job in cluster.jobs for i in cluster.task_indices(job)]


def _device_index(name: str) -> int:
    spec = DeviceSpec.from_string(name)
    return spec.device_index or 0


class _TaskGraph:
    __slots__ = ("task", "client", "handle", "feed_indices", "nfetch")

    def __init__(self, task: str, client: Any, handle: str, feed_indices: list[int]):
        self.task, self.client, self.handle, self.feed_indices = task, client, handle, feed_indices


class _MasterStep:
    def __init__(self, plan: pipeline.StepPlan, tasks: list[_TaskGraph]):
        self.plan = plan
        self.tasks = tasks


class MasterSession:
    """One client session: its graph, its compiled signatures, and where its stateful nodes live."""

    def __init__(self, master: Master, handle: str, graph_def: Any, config: Any, devices: list[Device]):
        self.master = master
        self.handle = handle
        self.config = config
        self.devices = devices
        self.graph = Graph()
        with self.graph.as_default():
            import_graph_def(graph_def, name="")
        self.version = len(graph_def.node)
        self.pinned: dict[str, Device] = {}
        self._cache: dict = {}
        self._lock = threading.Lock()
        self._live: dict[int, _MasterStep] = {}
        self.closed = False

    def extend(self, graph_def: Any, current_version: int) -> int:
        with self._lock:
            if current_version != self.version:
                raise errors.AbortedError(None, None, f"ExtendSession from graph version {current_version}, but "
                                          f"the session is at {self.version}: another client extended it.")
            new = {nd.name for nd in graph_def.node}
            imap: dict[str, Any] = {}
            for nd in graph_def.node:
                for inp in nd.input:
                    name = inp[1:] if inp.startswith("^") else inp.split(":")[0]
                    if name in new or inp in imap:
                        continue
                    try:
                        imap[inp] = (self.graph.get_operation_by_name(name) if inp.startswith("^")
                                     else self.graph.get_tensor_by_name(inp if ":" in inp else inp + ":0"))
                    except (KeyError, ValueError):
                        raise errors.InvalidArgumentError(None, None, f"ExtendSession: node '{nd.name}' reads "
                                                          f"unknown node '{name}'") from None
            with self.graph.as_default():
                import_graph_def(graph_def, input_map=imap, name="")
            self.version += len(graph_def.node)
            return self.version

    # -- RunStep -------------------------------------------------------------------------------------------
    def run_step(self, req: Any, resp: Any) -> None:
        g = self.graph
        try:
            feed_tensors = tuple(g.get_tensor_by_name(nt.name) for nt in req.feed)
            fetches = [g.get_tensor_by_name(n) for n in req.fetch]
            targets = [g.get_operation_by_name(n) for n in req.target]
        except (KeyError, ValueError) as e:
            raise errors.InvalidArgumentError(None, None, f"RunStep: {e}") from None
        feed_values = [wire.from_wire(nt.tensor) for nt in req.feed]
        traced = req.options.trace_level > 0
        key = (self.version, tuple(req.fetch), tuple(nt.name for nt in req.feed), tuple(req.target), traced)
        step = self._cache.get(key)
        if step is None:
            with self._lock:
                step = self._cache.get(key)
                if step is None:
                    step = self._compile([*fetches, *targets], feed_tensors, traced)
                    self._cache[key] = step
                    for d in step.plan.decisions:
                        resp.placement.add(node=d.node, op_type=d.op_type, device=d.device, requested=d.requested,
                                           reason=d.reason)
        out = self._execute(step, feed_values, req, resp)
        for i, name in enumerate(req.fetch):
            wire.named(resp.tensor, name, out[i])
        if req.options.output_partition_graphs:
            for p in step.plan.partitions:
                resp.metadata.partition_graphs.add().CopyFrom(partition_mod.partition_graph_def(p))

    def _compile(self, elements: list, feed_tensors: tuple, traced: bool) -> _MasterStep:
        plan = pipeline.plan_step(elements, feed_tensors, self.devices, self.config, self.pinned,
                                  default_device=self.master.task_name)
        by_task: dict[str, list] = {}
        for p in plan.partitions:
            by_task.setdefault(task_of(p.device.name), []).append(p)
        tasks: list[_TaskGraph] = []
        try:
            futs = {}
            for task, parts in by_task.items():
                client = self.master.client(task)
                req = wpb.RegisterGraphRequest(session_handle=self.handle, num_fetches=plan.nfetch, traced=traced)
                for p in parts:
                    req.partition.add().CopyFrom(partition_to_graph_def(p))
                futs[task] = (client, sorted({i for p in parts for i in p.feed_indices}),
                              self.master.pool.submit(client.RegisterGraph, req, REGISTER_TIMEOUT_S))
            for task, (client, feeds, fut) in futs.items():
                tasks.append(_TaskGraph(task, client, fut.result().graph_handle, feeds))
        except BaseException:
            for tg in tasks:
                self.master.pool.submit(tg.client.DeregisterGraph, wpb.DeregisterGraphRequest(
                    graph_handle=tg.handle), STATUS_TIMEOUT_S)
            raise
        # Remote tasks first: their RunGraph calls are on the wire before the local partitions start
        # (which hold the GIL until they block).
        tasks.sort(key=lambda t: t.task == self.master.task_name)
        return _MasterStep(plan, tasks)

    def _execute(self, step: _MasterStep, feed_values: list, req: Any, resp: Any) -> list:
        plan = step.plan
        out: list = [None] * plan.nfetch
        step_id = secrets.randbits(62) + 1
        ms = req.options.timeout_in_ms or self.config.operation_timeout_in_ms
        timeout = ms / 1000 if ms else DEFAULT_STEP_TIMEOUT_S
        if self.closed:
            raise errors.CancelledError(None, None, "Session has been closed.")
        self._live[step_id] = step
        try:
            return self._run_tasks(step, step_id, feed_values, resp, out, timeout)
        finally:
            self._live.pop(step_id, None)

    def _run_tasks(self, step: _MasterStep, step_id: int, feed_values: list, resp: Any, out: list,
                   timeout: float) -> list:
        plan = step.plan
        pool = self.master.pool
        futs: dict = {}
        requests = []
        for tg in step.tasks:
            rg = wpb.RunGraphRequest(graph_handle=tg.handle, step_id=step_id)
            for i in tg.feed_indices:
                wire.named(rg.send, str(i), feed_values[i])
            requests.append(rg)
        if len(step.tasks) == 1 and step.tasks[0].task == self.master.task_name:  # (sorted: local is last)
            # All on the master's own task: no peer to watch, so no thread hop either.
            f: concurrent.futures.Future = concurrent.futures.Future()
            try:
                f.set_result(step.tasks[0].client.RunGraph(requests[0], timeout))
            except Exception as e:  # noqa: BLE001 - handled with the others below
                f.set_exception(e)
            futs[f] = step.tasks[0]
        else:
            for tg, rg in zip(step.tasks, requests):
                futs[pool.submit(tg.client.RunGraph, rg, timeout)] = tg
        first: list[BaseException] = []
        aborted = threading.Event()

        def fail(err: BaseException, tg: _TaskGraph | None) -> None:
            if isinstance(err, errors.CancelledError) and first:
                return
            if not first or (isinstance(first[0], errors.CancelledError)
                             and not isinstance(err, errors.CancelledError)):
                first[:] = [err]
            if not aborted.is_set():
                aborted.set()
                status = wpb.Status()
                wire.set_status(status, err if isinstance(err, errors.OpError) else errors.InternalError(
                    None, None, str(err)), tg.task if tg is not None else "")
                status.code = errors.CANCELLED if status.code == 0 else status.code
                self._cleanup(step, step_id, status)

        pending = set(futs)
        deadline = time.monotonic() + timeout
        give_up = None
        while pending:
            if aborted.is_set():
                # Cancelled tasks answer at once; one that hangs (a dead peer whose connection has not
                # broken yet) must not hold the error back: its call finishes in the background.
                give_up = give_up or time.monotonic() + ABORT_GRACE_S
                if time.monotonic() > give_up:
                    break
            done, pending = concurrent.futures.wait(pending, timeout=HEARTBEAT_S,
                                                    return_when=concurrent.futures.FIRST_COMPLETED)
            for f in done:
                tg = futs[f]
                try:
                    r = f.result()
                except errors.OpError as e:
                    fail(e, tg)
                    continue
                except Exception as e:  # noqa: BLE001 - a transport bug must still fail the step cleanly
                    fail(errors.InternalError(None, None, f"RunGraph on {tg.task}: {type(e).__name__}: {e}"), tg)
                    continue
                if r.status.code:
                    fail(wire.error_from_status(r.status), tg)
                    continue
                for nt in r.recv:
                    out[int(nt.name)] = wire.from_wire(nt.tensor)
                if r.HasField("step_stats"):
                    resp.metadata.step_stats.dev_stats.extend(r.step_stats.dev_stats)
            if pending and not done and not aborted.is_set():
                dead = self.master.check_alive({futs[f].task for f in pending})
                if dead:
                    fail(dead, None)
                    # A task that does not answer GetStatus will not answer RunGraph either: wait only for the
                    # others (cancelled, they answer at once) instead of for ABORT_GRACE_S.
                    pending = {f for f in pending if futs[f].task != dead.task}
                elif time.monotonic() > deadline:
                    fail(errors.DeadlineExceededError(None, None, f"Step timed out after {timeout:.0f} s"), None)
        if first:
            err = first[0]
            if isinstance(err, (errors.UnavailableError, errors.AbortedError)):
                self._cache.clear()  # a task restarted or died: register afresh next time
            raise err
        for i, j in plan.fetch_from_feed:
            out[i] = feed_values[j]
        return out

    def _cleanup(self, step: _MasterStep, step_id: int, abort: Any) -> None:
        req = wpb.CleanupGraphRequest(step_id=step_id)
        if abort is not None:
            req.abort.CopyFrom(abort)
        for tg in step.tasks:
            self.master.pool.submit(_quiet, tg.client.CleanupGraph, req, STATUS_TIMEOUT_S)

    def close(self) -> None:
        self.closed = True
        # Steps still running (a queue runner blocked in a dequeue) are cancelled on every task.
        for step_id, step in list(self._live.items()):
            self._cleanup(step, step_id, wpb.Status(code=errors.CANCELLED, message="Session has been closed.",
                                                    task=self.master.task_name))
        handles = [tg for s in self._cache.values() for tg in s.tasks]
        self._cache.clear()
        for tg in handles:
            self.master.pool.submit(_quiet, tg.client.DeregisterGraph,
                                    wpb.DeregisterGraphRequest(graph_handle=tg.handle), STATUS_TIMEOUT_S)


def _quiet(fn: Callable, *args: Any) -> None:
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - best effort: the task may be gone
        _log.debug("%s failed: %s", getattr(fn, "__name__", fn), e)


class Master:
    """The master service of one task: creates sessions over the cluster's devices and runs their steps."""

    def __init__(self, local_worker: Worker, cluster: Any = None, channels: Callable[[str], Any] | None = None):
        self.worker = local_worker
        self.task_name = local_worker.task_name
        self.cluster = cluster
        self.channels = channels
        self._local = LocalWorkerClient(local_worker)
        self._sessions: dict[str, MasterSession] = {}
        self._lock = threading.Lock()
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="labflow-master")
        self.startup_timeout_s = 60.0

    def client(self, task: str) -> Any:
        if task == self.task_name:
            return self._local
        if self.channels is None:
            raise errors.UnavailableError(None, None, f"No channel to task {task}")
        return self.channels(task)

    def tasks(self, device_filters: Any = ()) -> list[str]:
        """The cluster's tasks; with `device_filters` (TF's ConfigProto field: partial device names such as
        "/job:ps" or "/job:worker/task:1"), only the tasks they match, plus always this master's own."""
        every = cluster_tasks(self.cluster) if self.cluster is not None else [self.task_name]
        if not device_filters:
            return every
        specs = [DeviceSpec.from_string(f) for f in device_filters]
        keep = [t for t in every if t == self.task_name or any(
            s.job in (None, ts.job) and s.task in (None, ts.task) and s.replica in (None, ts.replica)
            for s in specs for ts in [DeviceSpec.from_string(t)])]
        return keep

    def cluster_devices(self, device_filters: Any = ()) -> list[Device]:
        """Every device of every task (those `device_filters` match), asking each task (GetStatus) until it
        answers or the wait ends. A session with filters neither waits for nor places on other tasks."""
        deadline = time.monotonic() + self.startup_timeout_s
        statuses: dict[str, Any] = {}
        last: dict[str, BaseException] = {}
        tasks = self.tasks(device_filters)
        while True:
            todo = [t for t in tasks if t not in statuses]
            futs = {t: self.pool.submit(self.client(t).GetStatus, wpb.GetStatusRequest(), STATUS_TIMEOUT_S)
                    for t in todo}
            for t, f in futs.items():
                try:
                    statuses[t] = f.result()
                except errors.OpError as e:
                    last[t] = e
            missing = [t for t in tasks if t not in statuses]
            if not missing:
                break
            if time.monotonic() > deadline:
                raise errors.UnavailableError(None, None, "Cannot reach task(s) " + ", ".join(
                    f"{t} ({getattr(last.get(t), 'message', last.get(t))})" for t in missing) +
                    f" after {self.startup_timeout_s:.0f} s: is every server of the cluster started?")
            time.sleep(0.2)
        devices = []
        for t in tasks:
            for da in statuses[t].device_attributes:
                devices.append(Device(da.name, da.device_type, _device_index(da.name), np, da.memory_limit,
                                      da.physical_device_desc))
        return devices

    def check_alive(self, tasks: set[str]) -> errors.OpError | None:
        """The first of `tasks` that does not answer GetStatus, as an UnavailableError naming it."""
        futs = {t: self.pool.submit(self.client(t).GetStatus, wpb.GetStatusRequest(), STATUS_TIMEOUT_S)
                for t in tasks if t != self.task_name}
        for t, f in futs.items():
            try:
                f.result()
            except errors.OpError as e:
                err = errors.UnavailableError(None, None, f"Task {t} is unavailable ({e.message}); the step was "
                                              "cancelled on every other task.")
                err.task = t
                return err
        return None

    def _session(self, handle: str) -> MasterSession:
        s = self._sessions.get(handle)
        if s is None:
            raise errors.AbortedError(None, None, f"Session {handle} is not found on {self.task_name} (closed, "
                                      "or the master restarted); create a new session.")
        return s

    # -- service methods -----------------------------------------------------------------------------
    def CreateSession(self, req: mpb.CreateSessionRequest) -> mpb.CreateSessionResponse:  # noqa: N802
        check_allowed(req.graph_def, self.worker.allowed_ops, self.task_name)
        config = config_from_proto(req.config, req.send_recv_dtype or None)
        handle = f"{self.task_name}/session_{secrets.token_hex(8)}"
        try:
            s = MasterSession(self, handle, req.graph_def, config, self.cluster_devices(config.device_filters))
        except (ValueError, TypeError) as e:
            raise errors.InvalidArgumentError(None, None, f"CreateSession: {e}") from None
        with self._lock:
            self._sessions[handle] = s
        return mpb.CreateSessionResponse(session_handle=handle, graph_version=s.version)

    def ExtendSession(self, req: mpb.ExtendSessionRequest) -> mpb.ExtendSessionResponse:  # noqa: N802
        check_allowed(req.graph_def, self.worker.allowed_ops, self.task_name)
        try:
            v = self._session(req.session_handle).extend(req.graph_def, req.current_graph_version)
        except (ValueError, TypeError) as e:
            raise errors.InvalidArgumentError(None, None, f"ExtendSession: {e}") from None
        return mpb.ExtendSessionResponse(new_graph_version=v)

    def RunStep(self, req: mpb.RunStepRequest) -> mpb.RunStepResponse:  # noqa: N802
        resp = mpb.RunStepResponse()
        try:
            self._session(req.session_handle).run_step(req, resp)
        except errors.OpError as e:
            del resp.tensor[:]
            wire.set_status(resp.status, e, getattr(e, "task", "") or "")
        except (ValueError, TypeError) as e:
            del resp.tensor[:]
            wire.set_status(resp.status, errors.InvalidArgumentError(None, None, str(e)), self.task_name)
        return resp

    def CloseSession(self, req: mpb.CloseSessionRequest) -> mpb.CloseSessionResponse:  # noqa: N802
        with self._lock:
            s = self._sessions.pop(req.session_handle, None)
        if s is not None:
            s.close()
        return mpb.CloseSessionResponse()

    def ListDevices(self, req: mpb.ListDevicesRequest) -> mpb.ListDevicesResponse:  # noqa: N802
        resp = mpb.ListDevicesResponse()
        session = self._sessions.get(req.session_handle) if req.session_handle else None
        for d in session.devices if session is not None else self.cluster_devices():
            (resp.local_device if task_of(d.name) == self.task_name else resp.remote_device).add(
                name=d.name, device_type=d.device_type, memory_limit=d.memory_limit,
                physical_device_desc=d.description)
        return resp

    def Reset(self, req: wpb.ResetRequest) -> wpb.ResetResponse:  # noqa: N802
        futs = [self.pool.submit(self.client(t).Reset, req, STATUS_TIMEOUT_S) for t in self.tasks()]
        for f in futs:
            f.result()
        return wpb.ResetResponse()

    def close(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for s in sessions:
            s.close()
        self.pool.shutdown(wait=False, cancel_futures=True)


__all__ = ["Master", "MasterSession", "LocalWorkerClient", "cluster_tasks"]
