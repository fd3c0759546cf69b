"""The client half of a distributed session: ships the graph to a master and runs steps there.

`tf.Session("grpc://host:port")` keeps its graph, fetch structures and feeds on the client (the same
FetchMapper and feed checks as a local session) and sends the master only names and tensors. The graph
travels once (CreateSession) and then grows by the nodes added since (ExtendSession), as in TF.
"""

from __future__ import annotations

import threading
from typing import Any

from labflow import errors
from labflow.distributed import wire
from labflow.distributed.protos import master_pb2 as mpb
from labflow.distributed.protos import worker_pb2 as wpb
from labflow.framework.graph_io import op_to_node_def
from labflow.framework.protos import graph_pb2
from labflow.framework.tensor import Tensor
from labflow.runtime import placer
from labflow.runtime.config import config_to_proto
from labflow.runtime.devices import DeviceAttributes

CREATE_TIMEOUT_S = 120.0
CALL_TIMEOUT_S = 30.0


def parse_target(target: str) -> str:
    if not isinstance(target, str) or not target.startswith("grpc://"):
        raise errors.InvalidArgumentError(None, None, f"Session target {target!r} is not supported: use '' for "
                                          "a local session or 'grpc://host:port' for a labflow server.")
    address = target[len("grpc://"):]
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise errors.InvalidArgumentError(None, None, f"Session target {target!r} must be 'grpc://host:port'")
    return address


class RemoteSession:
    """A session handle on a master: graph shipping, RunStep, and errors mapped back onto the graph."""

    def __init__(self, target: str, graph: Any, config: Any, master: Any = None):
        self.address = parse_target(target)
        if master is None:
            from labflow.distributed import require_grpc
            require_grpc(f"tf.Session({target!r})")
            from labflow.distributed.grpc_transport import MasterClient
            master = MasterClient(self.address)
        self.master = master
        self.graph = graph
        self.config = config
        self.handle: str | None = None
        self._sent = 0  # ops of the graph the master has
        self._lock = threading.Lock()
        self.last_placements: list[placer.Placement] = []
        self.bytes_transferred = 0

    def _sync_graph(self) -> None:
        ops = self.graph._ops
        if self.handle is not None and self._sent == len(ops):
            return
        with self._lock:
            ops = list(self.graph._ops)
            if self.handle is not None and self._sent == len(ops):
                return
            gd = graph_pb2.GraphDef()
            for op in ops[self._sent:]:
                gd.node.add().CopyFrom(op_to_node_def(op))
            if self.handle is None:
                req = mpb.CreateSessionRequest(graph_def=gd, config=config_to_proto(self.config))
                wire_dt = self.config.graph_options.send_recv_dtype
                if wire_dt is not None:
                    req.send_recv_dtype = getattr(wire_dt, "name", str(wire_dt))
                self.handle = self.master.CreateSession(req, CREATE_TIMEOUT_S).session_handle
            else:
                self.master.ExtendSession(mpb.ExtendSessionRequest(
                    session_handle=self.handle, graph_def=gd, current_graph_version=self._sent), CALL_TIMEOUT_S)
            self._sent = len(ops)

    def run(self, elements: list, feed_tensors: tuple, feed_values: list, options: Any = None,
            run_metadata: Any = None) -> list:
        self._sync_graph()
        req = mpb.RunStepRequest(session_handle=self.handle)
        for t, v in zip(feed_tensors, feed_values):
            wire.named(req.feed, t.name, v)
        fetch_pos = []
        for i, e in enumerate(elements):
            if isinstance(e, Tensor):
                req.fetch.append(e.name)
                fetch_pos.append(i)
            else:
                req.target.append(e.name)
        if options is not None:
            req.options.CopyFrom(options)
        resp = self.master.RunStep(req, self._step_deadline(options))
        if resp.status.code:
            raise wire.error_from_status(resp.status, self.graph)
        if resp.placement:
            self.last_placements = [placer.Placement(p.node, p.op_type, p.device, p.requested, p.reason)
                                    for p in resp.placement]
        if run_metadata is not None and resp.HasField("metadata"):
            run_metadata.CopyFrom(resp.metadata)
        out: list = [None] * len(elements)
        for i, nt in zip(fetch_pos, resp.tensor):
            out[i] = _user_value(wire.from_wire(nt.tensor))
        return out

    def _step_deadline(self, options: Any) -> float:
        """RunStep's deadline: the step's own timeout (the master enforces it), plus time for the reply."""
        from labflow.distributed.master import DEFAULT_STEP_TIMEOUT_S
        ms = (options.timeout_in_ms if options is not None else 0) or getattr(self.config, "operation_timeout_in_ms", 0)
        return (ms / 1000 if ms else DEFAULT_STEP_TIMEOUT_S) + CALL_TIMEOUT_S

    def list_devices(self) -> list[DeviceAttributes]:
        resp = self.master.ListDevices(mpb.ListDevicesRequest(session_handle=self.handle or ""), CREATE_TIMEOUT_S)
        devs = list(resp.local_device) + list(resp.remote_device)
        return [DeviceAttributes(d.name, d.device_type, d.memory_limit, i + 1, d.physical_device_desc)
                for i, d in enumerate(sorted(devs, key=lambda d: d.name))]

    def close(self) -> None:
        if self.handle is not None:
            handle, self.handle = self.handle, None
            try:
                self.master.CloseSession(mpb.CloseSessionRequest(session_handle=handle), CALL_TIMEOUT_S)
            except errors.OpError:
                pass  # the master is gone: nothing left to free there
        close = getattr(self.master, "close", None)
        if close is not None:
            close()


def _user_value(v: Any) -> Any:
    """What a local session returns: writable arrays, 0-d results as NumPy scalars (or bytes)."""
    if getattr(v, "ndim", 1) == 0:
        return v[()]
    return v if v.flags.writeable else v.copy()


def reset(target: str, containers: list[str] | None = None, config: Any = None) -> None:
    """`tf.Session.reset`: clears the named resource containers (all when None) on every task."""
    from labflow.distributed.grpc_transport import MasterClient
    client = MasterClient(parse_target(target))
    try:
        client.Reset(wpb.ResetRequest(container=list(containers or [])), CREATE_TIMEOUT_S)
    finally:
        client.close()
