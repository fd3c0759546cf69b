"""The worker service without transport: registered partitions, steps, and the remote rendezvous.

Every task runs one `Worker`. A master registers the partitions of a step signature on the tasks
that own their devices (`RegisterGraph`), then runs each step with one `RunGraph` per task. Tensors
crossing tasks meet in the step's rendezvous: a Send stores locally, and the receiving task pulls the
value with `RecvTensor` (as TF does). `channels(task_name)` gives a client for another task; the
gRPC server passes one that speaks gRPC, the unit tests one that calls the other `Worker` directly.
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Any

from labflow import errors
from labflow.distributed import tensor_coding, wire
from labflow.distributed.protos import worker_pb2 as pb
from labflow.distributed.worker_graph import partition_from_graph_def
from labflow.runtime import executor, tracing
from labflow.runtime.devices import make_local_devices
from labflow.runtime.rendezvous import LocalRendezvous

_log = logging.getLogger("labflow.distributed")
_handles = itertools.count(1)
FAILED_STEP_LINGER_S = 1.0


INTERNAL_OPS = frozenset({"_Send", "_Recv", "_Feed", "_Fetch", "_ControlTrigger", "Placeholder", "NoOp", "Const",
                          "Identity"})


def check_allowed(graph_def: Any, allowed: frozenset | None, where: str) -> None:
    """PermissionDeniedError naming the first node whose op type the cluster's op list does not allow."""
    if allowed is None:
        return
    for nd in graph_def.node:
        if nd.op not in allowed:
            raise errors.PermissionDeniedError(None, None, f"Op type '{nd.op}' (node '{nd.name}') is not allowed on "
                                               f"{where}: the cluster restricts graphs to its op list.")


def task_of(device_name: str) -> str:
    """'/job:ps/replica:0/task:0/device:CPU:0' -> '/job:ps/replica:0/task:0'."""
    return device_name.rsplit("/device:", 1)[0]


class StepRendezvous(LocalRendezvous):
    """One step's rendezvous on one task: local keys wait here, keys sent by other tasks are pulled."""

    def __init__(self, worker: Worker, step_id: int):
        super().__init__()
        self._worker = worker
        self.step_id = step_id
        self._calls: set = set()
        self.bytes_received = 0
        # Keys peers will pull from here this step; once RunGraph ended and all were pulled, the step
        # removes itself, so a successful step needs no CleanupGraph call.
        self.expected_pulls: int | None = None
        self.pulls = 0
        self._prefetched: dict[str, Any] = {}

    def prefetch(self, keys: list[tuple[str, str]]) -> None:
        """Starts the RecvTensor calls of this step's remote Recvs at once, as TF's async Recvs do.

        A Recv node then only reads its already-running stream: a partition that needs several remote
        tensors pays one round trip, not one per tensor in node order.
        """
        for src_task, key in keys:
            if key not in self._prefetched:
                call = self._worker._start_pull(src_task, self, key)
                if call is not None:
                    self._prefetched[key] = (src_task, call)

    def take_prefetched(self, key: str) -> Any:
        with self._cond:
            return self._prefetched.pop(key, None)

    def recv(self, key: str, timeout: float | None = None) -> Any:
        src_task = task_of(key.split(";", 1)[0])
        if src_task == self._worker.task_name:
            return super().recv(key, timeout)
        if self.error is not None:
            raise self.error
        value = self._worker._pull(src_task, self, key)
        self.bytes_received += int(getattr(value, "nbytes", 0))
        return value

    def wait_local(self, key: str, alive: Callable[[], bool]) -> Any:
        """A local value for a peer's RecvTensor: waits in slices while the peer's call is alive."""
        while True:
            try:
                return LocalRendezvous.recv(self, key, timeout=0.25)
            except errors.DeadlineExceededError:
                if not alive():
                    raise errors.CancelledError(None, None, f"RecvTensor for {key} was cancelled by the "
                                                "receiving task") from None

    def track(self, call: Any) -> None:
        with self._cond:
            if self.error is not None:
                call.cancel()
            self._calls.add(call)

    def untrack(self, call: Any) -> None:
        with self._cond:
            self._calls.discard(call)

    def abort(self, error: BaseException) -> None:
        super().abort(error)
        with self._cond:
            calls = list(self._calls)
        for c in calls:
            c.cancel()


class _Registered:
    def __init__(self, session_handle: str, compiled: list, num_fetches: int, feed_indices: list[int],
                 remote_sends: int, traced: bool, remote_recvs: list[tuple[str, str]]):
        self.remote_recvs = remote_recvs
        self.session_handle = session_handle
        self.compiled = compiled
        self.num_fetches = num_fetches
        self.feed_indices = feed_indices
        self.remote_sends = remote_sends
        self.traced = traced


class Worker:
    """The service logic of one task (`/job:J/replica:0/task:I`): its devices, graphs and steps."""

    def __init__(self, job: str, task: int, config: Any = None,
                 channels: Callable[[str], Any] | None = None, allowed_ops: Any = None):
        device_count = getattr(config, "device_count", None) if config is not None else None
        gpu_options = getattr(config, "gpu_options", None) if config is not None else None
        self.job, self.task = job, task
        self.task_name = f"/job:{job}/replica:0/task:{task}"
        self.devices = make_local_devices(device_count, job=job, task=task, gpu_options=gpu_options)
        self._by_name = {d.name: d for d in self.devices}
        self.incarnation = secrets.randbits(63) | 1
        self.channels = channels
        self._graphs: dict[str, _Registered] = {}
        self._steps: dict[int, StepRendezvous] = {}
        self._done_steps: collections.OrderedDict[int, str] = collections.OrderedDict()
        self._lock = threading.Lock()
        # Blocked partitions (queue waits, Recvs) hold threads: a high cap, threads made on demand.
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=256, thread_name_prefix=f"labflow-{job}{task}")
        self.recv_timeout_s: float | None = None
        # Op types a received graph may use (None: every registered op); the runtime's own always pass.
        self.allowed_ops = None if allowed_ops is None else frozenset(allowed_ops) | INTERNAL_OPS

    # -- service methods -----------------------------------------------------------------------------
    def GetStatus(self, request: pb.GetStatusRequest) -> pb.GetStatusResponse:  # noqa: N802 - RPC name
        resp = pb.GetStatusResponse(task_name=self.task_name, incarnation=self.incarnation, pid=os.getpid(),
                                    live_steps=len(self._steps), registered_graphs=len(self._graphs))
        for d in self.devices:
            resp.device_attributes.add(name=d.name, device_type=d.device_type, memory_limit=d.memory_limit,
                                       incarnation=self.incarnation, physical_device_desc=d.description)
        return resp

    def RegisterGraph(self, request: pb.RegisterGraphRequest) -> pb.RegisterGraphResponse:  # noqa: N802
        compiled, feeds, remote_sends, remote_recvs = [], [], 0, []
        for gd in request.partition:
            check_allowed(gd, self.allowed_ops, self.task_name)
        for i, gd in enumerate(request.partition):
            part = partition_from_graph_def(gd, self._by_name)
            compiled.append(executor.compile_partition(part, request.traced, i))
            feeds.extend(part.feed_indices)
            remote_sends += sum(1 for n in part.nodes if n.type == "_Send"
                                and task_of(n.attrs["recv_device"]) != self.task_name)
            remote_recvs += [(task_of(n.attrs["send_device"]), n.attrs["key"]) for n in part.nodes
                             if n.type == "_Recv" and task_of(n.attrs["send_device"]) != self.task_name]
        # The incarnation makes the handle unique across restarts of this task: a restarted process counts
        # from 1 again, and a master still holding an old handle must get AbortedError, not another graph.
        handle = f"{self.task_name}/graph_{self.incarnation:x}_{next(_handles)}"
        with self._lock:
            self._graphs[handle] = _Registered(request.session_handle, compiled, request.num_fetches,
                                               sorted(set(feeds)), remote_sends, request.traced, remote_recvs)
        return pb.RegisterGraphResponse(graph_handle=handle)

    def DeregisterGraph(self, request: pb.DeregisterGraphRequest) -> pb.DeregisterGraphResponse:  # noqa: N802
        with self._lock:
            self._graphs.pop(request.graph_handle, None)
        return pb.DeregisterGraphResponse()

    def RunGraph(self, request: pb.RunGraphRequest) -> pb.RunGraphResponse:  # noqa: N802
        resp = pb.RunGraphResponse()
        reg = self._graphs.get(request.graph_handle)
        if reg is None:
            wire.set_status(resp.status, errors.AbortedError(None, None, f"Graph handle {request.graph_handle} is "
                            f"not registered on {self.task_name} (the task restarted?); rerun the step."),
                            self.task_name)
            return resp
        try:
            rdv = self._rendezvous(request.step_id)
            feeds: list = [None] * (max(reg.feed_indices) + 1 if reg.feed_indices else 0)
            for nt in request.send:
                feeds[int(nt.name)] = wire.from_wire(nt.tensor)
        except (errors.OpError, ValueError, IndexError) as e:
            err = e if isinstance(e, errors.OpError) else errors.InvalidArgumentError(None, None, f"Bad feed: {e}")
            wire.set_status(resp.status, err, self.task_name)
            return resp
        out: list = [None] * reg.num_fetches
        if reg.remote_recvs:
            rdv.prefetch(reg.remote_recvs)
        traced = reg.traced
        traces: list | None = tracing.Traces(len(reg.compiled)) if traced else None
        origin = tracing.clock_origin() if traced else None
        st = executor.Step(rdv, request.step_id, None, traces)
        err = executor.run_partitions(reg.compiled, feeds, out, st, self._pool)
        if err is not None:
            wire.set_status(resp.status, err, self.task_name)
            self._finish_later(request.step_id, f"failed: {resp.status.message}")
            return resp
        with rdv._cond:
            rdv.expected_pulls = reg.remote_sends
            finished = rdv.pulls >= reg.remote_sends
        if finished:
            self._finish(request.step_id, "finished")
        for i, v in enumerate(out):
            if v is not None:
                wire.named(resp.recv, str(i), v)
        if traced:
            resp.step_stats.CopyFrom(tracing.build_step_stats(reg.compiled, traces, *origin))
        return resp

    def RecvTensor(self, request: pb.RecvTensorRequest,  # noqa: N802
                   alive: Callable[[], bool] = lambda: True) -> Iterator[bytes]:
        """Streams the tensor a local Send stored under the key, as hand-framed RecvTensorResponse bytes."""
        try:
            rdv = self._rendezvous(request.step_id)
            value = rdv.wait_local(request.rendezvous_key, alive)
            with rdv._cond:
                rdv.pulls += 1
                finished = rdv.expected_pulls is not None and rdv.pulls >= rdv.expected_pulls
            if finished:
                self._finish(request.step_id, "finished")
            head = pb.RecvTensorResponse()
            payload = wire.fill_wire(head.header, value, with_content=False)
        except errors.OpError as e:
            resp = pb.RecvTensorResponse()
            wire.set_status(resp.status, e, self.task_name)
            yield resp.SerializeToString()
            return
        head.total_bytes = payload.nbytes
        for offset, piece in tensor_coding.chunks(payload, wire.CHUNK_BYTES):
            yield wire.encode_chunk(offset, piece, head if offset == 0 else None)

    def CleanupGraph(self, request: pb.CleanupGraphRequest) -> pb.CleanupGraphResponse:  # noqa: N802
        rdv = self._finish(request.step_id, request.abort.message or "finished")
        if rdv is not None and request.abort.code:
            rdv.abort(wire.error_from_status(request.abort))
        return pb.CleanupGraphResponse()

    def Reset(self, request: pb.ResetRequest) -> pb.ResetResponse:  # noqa: N802
        for d in self.devices:
            if request.container:
                for c in request.container:
                    d.resources.clear(c)
            else:
                d.resources.clear()
        return pb.ResetResponse()

    # -- helpers -------------------------------------------------------------------------------------
    def _finish(self, step_id: int, why: str) -> StepRendezvous | None:
        with self._lock:
            rdv = self._steps.pop(step_id, None)
            self._done_steps[step_id] = why
            while len(self._done_steps) > 4096:
                self._done_steps.popitem(last=False)
        return rdv

    def _finish_later(self, step_id: int, why: str) -> None:
        """Drops a failed step after FAILED_STEP_LINGER_S unless the master's CleanupGraph did first.

        The master cleans up a failed step on every task, but not when it died with the step (the failure
        here may be its death); the delay lets the peers of the step see its root cause first rather than
        "step already ended" (TF's Worker::AbortStep waits the same way).
        """
        def finish() -> None:
            if step_id in self._steps:
                self._finish(step_id, why)
        t = threading.Timer(FAILED_STEP_LINGER_S, finish)
        t.daemon = True
        t.start()

    def _rendezvous(self, step_id: int) -> StepRendezvous:
        rdv = self._steps.get(step_id)
        if rdv is None:
            with self._lock:
                rdv = self._steps.get(step_id)
                if rdv is None:
                    done = self._done_steps.get(step_id)
                    if done is not None:
                        raise errors.AbortedError(None, None, f"Step {step_id} already ended on "
                                                  f"{self.task_name} ({done})")
                    rdv = self._steps[step_id] = StepRendezvous(self, step_id)
        return rdv

    def _start_pull(self, src_task: str, rdv: StepRendezvous, key: str) -> Any:
        if self.channels is None:
            raise errors.InternalError(None, None, f"No channel to {src_task}: this worker has no peers")
        client = self.channels(src_task)
        call = client.RecvTensor(pb.RecvTensorRequest(step_id=rdv.step_id, rendezvous_key=key),
                                 timeout=self.recv_timeout_s)
        rdv.track(call)
        return call

    def _pull(self, src_task: str, rdv: StepRendezvous, key: str) -> Any:
        """RecvTensor from the task that sent `key` (a prefetched call, or a new one), reassembling chunks."""
        pre = rdv.take_prefetched(key)
        call = pre[1] if pre is not None else self._start_pull(src_task, rdv, key)
        try:
            header = assembler = None
            for data in call:
                msg, offset, piece = wire.parse_chunk(data)
                if msg.status.code:
                    raise wire.error_from_status(msg.status)
                if header is None:
                    header = wire.header_of(msg.header, msg.total_bytes)
                    if header.nbytes == len(piece):
                        return wire.decode(header, piece)
                    assembler = tensor_coding.Reassembler.for_header(header)
                assembler.add(offset, piece)
            if assembler is None:
                raise errors.DataLossError(None, None, f"RecvTensor from {src_task} ended without data ({key})")
            return wire.decode(header, assembler.finish())
        except errors.OpError as e:
            if rdv.error is not None:
                raise rdv.error from None
            raise e
        finally:
            rdv.untrack(call)

    def close(self) -> None:
        err = errors.CancelledError(None, None, f"Task {self.task_name} is shutting down")
        with self._lock:
            steps = list(self._steps.values())
            self._steps.clear()
            self._graphs.clear()
        for rdv in steps:
            rdv.abort(err)
        self._pool.shutdown(wait=False, cancel_futures=True)
