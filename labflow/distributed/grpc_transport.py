"""gRPC transport: the master and worker services served over gRPC, and the clients that call them.

The only file that imports grpc (DESIGN.md: one place per optional dependency). The services themselves
are transport-free (master.py, worker.py); this file maps their messages and errors onto gRPC: the token
check, TLS, message limits and keepalive on the server side; stubs whose failed calls become labflow
OpErrors naming the task and address on the client side (UnavailableError when a task died or was never
started).
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import grpc.experimental
from google.protobuf.message import DecodeError

from labflow import errors
from labflow.distributed import auth, wire
from labflow.distributed.protos import master_pb2 as mpb
from labflow.distributed.protos import worker_pb2 as wpb

_log = logging.getLogger("labflow.distributed")

MASTER_SERVICE = "labflow.distributed.MasterService"
WORKER_SERVICE = "labflow.distributed.WorkerService"

MASTER_METHODS = {
    "CreateSession": (mpb.CreateSessionRequest, mpb.CreateSessionResponse),
    "ExtendSession": (mpb.ExtendSessionRequest, mpb.ExtendSessionResponse),
    "RunStep": (mpb.RunStepRequest, mpb.RunStepResponse),
    "CloseSession": (mpb.CloseSessionRequest, mpb.CloseSessionResponse),
    "ListDevices": (mpb.ListDevicesRequest, mpb.ListDevicesResponse),
    "Reset": (wpb.ResetRequest, wpb.ResetResponse),
}
WORKER_METHODS = {
    "GetStatus": (wpb.GetStatusRequest, wpb.GetStatusResponse),
    "RegisterGraph": (wpb.RegisterGraphRequest, wpb.RegisterGraphResponse),
    "RunGraph": (wpb.RunGraphRequest, wpb.RunGraphResponse),
    "CleanupGraph": (wpb.CleanupGraphRequest, wpb.CleanupGraphResponse),
    "DeregisterGraph": (wpb.DeregisterGraphRequest, wpb.DeregisterGraphResponse),
    "Reset": (wpb.ResetRequest, wpb.ResetResponse),
    "RecvTensor": (wpb.RecvTensorRequest, wpb.RecvTensorResponse),  # server-streaming
}
STREAMING = {"RecvTensor"}

_CODES = {sc.value[0]: sc for sc in grpc.StatusCode}


def channel_options() -> list[tuple[str, Any]]:
    """Limits and keepalive shared by servers and clients (set on purpose, see wire.MAX_MESSAGE_BYTES)."""
    return [("grpc.max_send_message_length", wire.MAX_MESSAGE_BYTES),
            ("grpc.max_receive_message_length", wire.MAX_MESSAGE_BYTES),
            ("grpc.keepalive_time_ms", 10_000), ("grpc.keepalive_timeout_ms", 5_000),
            ("grpc.http2.max_pings_without_data", 0), ("grpc.keepalive_permit_without_calls", 1),
            # As TF: reconnect to a restarted task within a second, not after gRPC's growing backoff (to 120 s).
            ("grpc.max_reconnect_backoff_ms", 1000),
            # RecvTensor streams on the calling thread: no extra thread per call.
            (grpc.experimental.ChannelOptions.SingleThreadedUnaryStream, 1)]


class _Malformed:
    """Stands for a request that did not parse, so the handler answers INVALID_ARGUMENT itself."""

    def __init__(self, error: str):
        self.error = error


def _deserializer(cls: Any) -> Callable[[bytes], Any]:
    def parse(data: bytes) -> Any:
        try:
            return cls.FromString(data)
        except (DecodeError, ValueError, TypeError) as e:
            return _Malformed(str(e) or type(e).__name__)
    return parse


def _abort(context: Any, exc: BaseException) -> None:
    code = exc.error_code if isinstance(exc, errors.OpError) else errors.INTERNAL
    msg = exc.message if isinstance(exc, errors.OpError) else f"{type(exc).__name__}: {exc}"
    context.abort(_CODES.get(code, grpc.StatusCode.UNKNOWN), msg)


def _unary(fn: Callable, name: str) -> Callable:
    def behavior(request: Any, context: Any) -> Any:
        if isinstance(request, _Malformed):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Malformed {name} request: {request.error}")
        try:
            return fn(request)
        except Exception as e:  # noqa: BLE001 - every failure becomes a gRPC status, the server keeps serving
            if not isinstance(e, errors.OpError):
                _log.exception("%s failed", name)
            _abort(context, e)
    return behavior


def _run_graph(fn: Callable, cleanup: Callable) -> Callable:
    """RunGraph, whose step is aborted on this task when the caller goes away while it runs (TF's cancel
    callback): a master that died must not leave a partition blocked here (in a dequeue) forever."""
    unary = _unary(fn, "RunGraph")

    def behavior(request: Any, context: Any) -> Any:
        running = [True]

        def on_end() -> None:  # gRPC calls it when the call ends: after the reply, or when it was cancelled
            if running[0] and not isinstance(request, _Malformed):
                cleanup(wpb.CleanupGraphRequest(step_id=request.step_id, abort=wpb.Status(
                    code=errors.CANCELLED, message="The caller of RunGraph went away (its task died, or the call "
                    "was cancelled or timed out)")))
        context.add_callback(on_end)
        try:
            return unary(request, context)
        finally:
            running[0] = False
    return behavior


def _stream(fn: Callable, name: str) -> Callable:
    def behavior(request: Any, context: Any) -> Any:
        if isinstance(request, _Malformed):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Malformed {name} request: {request.error}")
        try:
            yield from fn(request, alive=context.is_active)
        except Exception as e:  # noqa: BLE001
            _abort(context, e)
    return behavior


def _handlers(service: str, impl: Any, methods: dict) -> Any:
    table = {}
    for name, (req_cls, resp_cls) in methods.items():
        fn = getattr(impl, name)
        if name in STREAMING:
            # The worker frames RecvTensor responses itself (wire.encode_chunk): bytes go out as they are.
            table[name] = grpc.unary_stream_rpc_method_handler(
                _stream(fn, name), request_deserializer=_deserializer(req_cls), response_serializer=None)
        else:
            behavior = _run_graph(fn, impl.CleanupGraph) if name == "RunGraph" else _unary(fn, name)
            table[name] = grpc.unary_unary_rpc_method_handler(
                behavior, request_deserializer=_deserializer(req_cls),
                response_serializer=resp_cls.SerializeToString)
    return grpc.method_handlers_generic_handler(service, table)


class _TokenInterceptor(grpc.ServerInterceptor):
    """Rejects every call that does not carry the cluster token (UNAUTHENTICATED), and logs it."""

    def __init__(self, token: str, task: str):
        self._token = token
        self._task = task

        def deny(request: Any, context: Any) -> None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, f"Missing or wrong cluster token for task {task}: "
                          "pass the cluster's token (LABFLOW_CLUSTER_TOKEN or --token-file).")
        self._deny_unary = grpc.unary_unary_rpc_method_handler(deny, request_deserializer=bytes)
        self._deny_stream = grpc.unary_stream_rpc_method_handler(deny, request_deserializer=bytes)

    def intercept_service(self, continuation: Callable, details: Any) -> Any:
        presented = None
        for key, value in details.invocation_metadata or ():
            if key == auth.METADATA_KEY:
                presented = value
        if auth.check(presented, self._token):
            return continuation(details)
        _log.warning("%s: rejected unauthenticated call to %s", self._task, details.method)
        return self._deny_stream if details.method.endswith("/RecvTensor") else self._deny_unary


def start_server(bind: str, master: Any, worker: Any, token: str, *, tls: tuple[bytes, bytes, bytes | None] | None
                 = None, max_workers: int = 64) -> tuple[Any, int]:
    """Starts a gRPC server for `master` and `worker` on `bind` ("host:port", port 0 picks one).

    Returns:
        (server, port).

    Raises:
        errors.UnavailableError: the address cannot be bound (in use, or not a local address).
    """
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=max_workers,
                                                               thread_name_prefix="labflow-grpc"),
                         interceptors=[_TokenInterceptor(token, worker.task_name)],
                         options=[*channel_options(), ("grpc.so_reuseport", 0),
                                  # Accept the clients' keepalive pings (else: GOAWAY "too_many_pings").
                                  ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
                                  ("grpc.http2.max_ping_strikes", 0)])
    server.add_generic_rpc_handlers([_handlers(MASTER_SERVICE, master, MASTER_METHODS),
                                     _handlers(WORKER_SERVICE, worker, WORKER_METHODS)])
    try:
        if tls is not None:
            key, cert, ca = tls
            creds = grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=ca is not None)
            port = server.add_secure_port(bind, creds)
        else:
            port = server.add_insecure_port(bind)
    except RuntimeError as e:
        raise errors.UnavailableError(None, None, f"Cannot bind {bind}: {e} (is the port in use?)") from None
    if not port:
        raise errors.UnavailableError(None, None, f"Cannot bind {bind}: the port is in use or the host is not an "
                                      "address of this machine.")
    server.start()
    return server, port


# -- client side ----------------------------------------------------------------------------------------
def _error(e: grpc.RpcError, who: str) -> errors.OpError:
    code = e.code() if hasattr(e, "code") else grpc.StatusCode.UNKNOWN
    details = (e.details() if hasattr(e, "details") else str(e)) or code.name
    cls = errors.exception_type_from_error_code(code.value[0])
    if code is grpc.StatusCode.UNAVAILABLE:
        msg = f"{who} is unavailable: {details}. The task died or is not started; check its log."
    elif code is grpc.StatusCode.UNAUTHENTICATED:
        msg = f"{who} refused the call: {details}"
    elif code is grpc.StatusCode.DEADLINE_EXCEEDED:
        msg = f"{who} did not answer before the deadline: {details}"
    else:
        msg = f"{who}: {details}"
    err = cls(None, None, msg)
    err.task = who
    return err


def make_channel(address: str, tls: tuple[bytes | None, bytes | None, bytes | None] | None = None) -> grpc.Channel:
    """A channel to "host:port" (TLS when `tls` = (ca, client key, client cert) is given)."""
    if tls is not None:
        ca, key, cert = tls
        return grpc.secure_channel(address, grpc.ssl_channel_credentials(ca, key, cert), options=channel_options())
    return grpc.insecure_channel(address, options=channel_options())


class _Stream:
    """A RecvTensor response stream: iterate for messages, `cancel()` to drop the call."""

    def __init__(self, call: Any, who: str):
        self._call = call
        self._who = who

    def __iter__(self) -> Iterator[Any]:
        try:
            yield from self._call
        except grpc.RpcError as e:
            raise _error(e, self._who) from None

    def cancel(self) -> None:
        self._call.cancel()


class _Client:
    """Stubs for one service on one address; every method takes (request, timeout)."""

    def __init__(self, address: str, service: str, methods: dict, who: str, token: str | None = None,
                 channel: grpc.Channel | None = None, tls: Any = None):
        self.address = address.removeprefix("grpc://")
        self.who = who
        self._token = token if token is not None else auth.token_for(self.address)
        self._own_channel = channel is None
        if tls is None and channel is None:
            tls = auth.tls_for(self.address)
        self.channel = channel if channel is not None else make_channel(self.address, tls)
        self._metadata = ((auth.METADATA_KEY, self._token),)
        self._stubs: dict[str, Callable] = {}
        for name, (req_cls, resp_cls) in methods.items():
            path = f"/{service}/{name}"
            if name in STREAMING:  # hand-framed bytes, parsed by wire.parse_chunk
                self._stubs[name] = self.channel.unary_stream(path, request_serializer=req_cls.SerializeToString)
            else:
                self._stubs[name] = self.channel.unary_unary(path, request_serializer=req_cls.SerializeToString,
                                                             response_deserializer=resp_cls.FromString)

    def call(self, name: str, request: Any, timeout: float | None = None) -> Any:
        try:
            return self._stubs[name](request, timeout=timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise _error(e, self.who) from None

    def stream(self, name: str, request: Any, timeout: float | None = None) -> _Stream:
        return _Stream(self._stubs[name](request, timeout=timeout, metadata=self._metadata), self.who)

    def close(self) -> None:
        if self._own_channel:
            self.channel.close()


class WorkerClient(_Client):
    """The worker service of one task (what masters and peer workers call)."""

    def __init__(self, address: str, task_name: str = "", **kw: Any):
        super().__init__(address, WORKER_SERVICE, WORKER_METHODS, f"Task {task_name or address} ({address})", **kw)
        self.task_name = task_name

    def __getattr__(self, name: str) -> Callable:
        if name not in WORKER_METHODS:
            raise AttributeError(name)
        if name in STREAMING:
            return lambda request, timeout=None: self.stream(name, request, timeout)
        return lambda request, timeout=None: self.call(name, request, timeout)


class MasterClient(_Client):
    """The master service of the task a client session connects to."""

    def __init__(self, address: str, **kw: Any):
        addr = address.removeprefix("grpc://")
        task = auth.task_for(addr)
        super().__init__(address, MASTER_SERVICE, MASTER_METHODS,
                         f"Master of task {task} ({addr})" if task else f"Master at {addr}", **kw)

    def __getattr__(self, name: str) -> Callable:
        if name not in MASTER_METHODS:
            raise AttributeError(name)
        return lambda request, timeout=None: self.call(name, request, timeout)


class ChannelCache:
    """Clients for the tasks of a cluster, made on first use (TF's GrpcChannelCache)."""

    def __init__(self, addresses: dict[str, str], token: str, tls: Any = None):
        self._addresses = dict(addresses)
        self._token = token
        self._tls = tls
        self._clients: dict[str, WorkerClient] = {}
        self._lock = threading.Lock()

    def __call__(self, task: str) -> WorkerClient:
        c = self._clients.get(task)
        if c is None:
            with self._lock:
                c = self._clients.get(task)
                if c is None:
                    addr = self._addresses.get(task)
                    if addr is None:
                        raise errors.InvalidArgumentError(None, None, f"Task {task} is not in the cluster "
                                                          f"({', '.join(sorted(self._addresses))})")
                    c = self._clients[task] = WorkerClient(addr, task, token=self._token, tls=self._tls)
        return c

    def close(self) -> None:
        with self._lock:
            for c in self._clients.values():
                c.close()
            self._clients.clear()
