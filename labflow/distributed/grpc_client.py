"""gRPC transport, client side: stubs for the master and worker services, errors as labflow OpErrors.

With grpc_server.py, the only files that import grpc. A failed call becomes the OpError of its gRPC
status, naming the task and address (UnavailableError when a task died or was never started).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from labflow import errors
from labflow.distributed import auth
from labflow.distributed.grpc_server import (
    MASTER_METHODS,
    MASTER_SERVICE,
    STREAMING,
    WORKER_METHODS,
    WORKER_SERVICE,
    channel_options,
)


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
