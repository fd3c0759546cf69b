"""`tf.train.Server`: one task of a cluster, serving the master and worker services over gRPC."""

from __future__ import annotations

import atexit
import ipaddress
import logging
import socket
import threading
import weakref
from typing import Any

from labflow.distributed import auth
from labflow.distributed.cluster import ClusterSpec

_log = logging.getLogger("labflow.distributed")
_LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]", "ip6-localhost"}
_live: weakref.WeakSet = weakref.WeakSet()


def is_loopback(host: str) -> bool:
    if host in _LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _split(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"Task address {address!r} must be 'host:port'")
    return host, int(port)


class Server:
    """An in-process server for one task of a cluster (TF 1.x `tf.train.Server`).

        cluster = tf.train.ClusterSpec({"ps": ["localhost:2222"], "worker": ["localhost:2223"]})
        server = tf.train.Server(cluster, job_name="worker", task_index=0)
        with tf.Session(server.target) as sess: ...
        server.stop()   # frees the port (labflow; TF1 servers could not be stopped)

    The server binds the host of its own address in the cluster; a port of 0 picks a free one. A host
    that is not loopback needs TLS (`tls_cert`/`tls_key`, optionally `tls_ca` to require client
    certificates) unless `insecure=True` says otherwise on purpose. Every call must carry the cluster
    token (`token`, else LABFLOW_CLUSTER_TOKEN / LABFLOW_TOKEN_FILE, else this process's token).
    Received graphs may only use registered ops; `allowed_ops` (op type names) restricts them further.
    """

    def __init__(self, server_or_cluster_def: Any, job_name: str | None = None, task_index: int | None = None,
                 protocol: str | None = None, config: Any = None, start: bool = True, *, token: str | None = None,
                 tls_cert: bytes | None = None, tls_key: bytes | None = None, tls_ca: bytes | None = None,
                 insecure: bool = False, allowed_ops: Any = None):
        if protocol not in (None, "grpc", "grpc+verbs"):
            raise ValueError(f"Server protocol {protocol!r} is not supported: labflow speaks 'grpc'")
        cluster = server_or_cluster_def if isinstance(server_or_cluster_def, ClusterSpec) else ClusterSpec(
            server_or_cluster_def)
        if job_name is None:
            if len(cluster.jobs) != 1:
                raise ValueError(f"job_name must be given for a cluster with jobs {cluster.jobs}")
            job_name = cluster.jobs[0]
        if task_index is None:
            indices = cluster.task_indices(job_name)
            if len(indices) != 1:
                raise ValueError(f"task_index must be given: job {job_name!r} has tasks {indices}")
            task_index = indices[0]
        self._address = cluster.task_address(job_name, task_index)
        self._host, port = _split(self._address)
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("TLS needs both tls_cert and tls_key")
        if not is_loopback(self._host) and tls_cert is None and not insecure:
            raise ValueError(f"Refusing to serve {self._address} without TLS: it is not a loopback address. Pass "
                             "tls_cert/tls_key (--tls-cert/--tls-key), or insecure=True (--insecure) if the "
                             "network is trusted.")
        self.job_name, self.task_index, self.config = job_name, int(task_index), config
        self._requested_port = port
        self._cluster = cluster
        self._token = token or auth.default_token()
        self._tls = (tls_key, tls_cert, tls_ca) if tls_cert is not None else None
        self._grpc = None
        self._port = 0
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self.worker = self.master = self._channels = None
        self._allowed_ops = None if allowed_ops is None else frozenset(allowed_ops)
        if start:
            self.start()

    # -- TF's API ------------------------------------------------------------------------------------------
    @staticmethod
    def create_local_server(config: Any = None, start: bool = True) -> Server:
        """A single-task server on a free loopback port (`/job:localhost/replica:0/task:0`)."""
        return Server({"localhost": ["localhost:0"]}, job_name="localhost", task_index=0, config=config,
                      start=start)

    @property
    def target(self) -> str:
        """The session target for this server: "grpc://localhost:PORT"."""
        if not self._port:
            raise RuntimeError("The server is not started: call server.start()")
        host = "localhost" if is_loopback(self._host) else self._host
        return f"grpc://{host}:{self._port}"

    @property
    def server_def(self) -> dict:
        return {"cluster": self._cluster.as_dict(), "job_name": self.job_name, "task_index": self.task_index,
                "protocol": "grpc"}

    @property
    def cluster_spec(self) -> ClusterSpec:
        """The cluster with this task's real address (after a port of 0 was resolved)."""
        return self._cluster

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> None:
        """Starts serving (a no-op when already started)."""
        with self._lock:
            if self._grpc is not None:
                return
            from labflow.distributed import require_grpc
            require_grpc("tf.train.Server")
            from labflow.distributed import grpc_transport
            from labflow.distributed.master import Master
            from labflow.distributed.worker import Worker
            bind_host = "127.0.0.1" if self._host in ("localhost", "ip6-localhost") else self._host
            self._channels = grpc_transport.ChannelCache({}, self._token, self._client_tls())
            self.worker = Worker(self.job_name, self.task_index, self.config, self._channels, self._allowed_ops)
            try:
                self._grpc, self._port = grpc_transport.start_server(
                    f"{bind_host}:{self._requested_port}", _MasterProxy(self), self.worker, self._token, tls=self._tls)
            except BaseException:
                self.worker.close()
                raise
            if self._requested_port == 0:
                self._cluster = _with_address(self._cluster, self.job_name, self.task_index,
                                              f"{self._host}:{self._port}")
            self._channels._addresses.update(_task_addresses(self._cluster))
            self.master = Master(self.worker, self._cluster, self._channels)
            auth.register(f"{bind_host}:{self._port}", self._token, self._client_tls(), task=self.worker.task_name)
            self._stopped.clear()
            _live.add(self)
        _log.info("Started server for %s on %s", self.worker.task_name, self.target)

    def join(self) -> None:
        """Blocks until the server is stopped (from another thread, a signal handler, or `stop()`)."""
        while not self._stopped.wait(0.5):
            pass

    def stop(self, grace: float | None = 0.5) -> None:
        """Stops serving and frees the port; pending calls fail with UNAVAILABLE. Idempotent."""
        with self._lock:
            srv, self._grpc = self._grpc, None
            if srv is None:
                return
            bind_host = "127.0.0.1" if self._host in ("localhost", "ip6-localhost") else self._host
            auth.unregister(f"{bind_host}:{self._port}")
            if self.master is not None:
                self.master.close()
            if self.worker is not None:
                self.worker.close()
            srv.stop(grace).wait(5)
            if self._channels is not None:
                self._channels.close()
            self._stopped.set()
        _log.info("Stopped server for /job:%s/task:%d", self.job_name, self.task_index)

    def _client_tls(self) -> Any:
        """What this task presents to its peers: its own key/cert, trusting the CA (else its own cert,
        the common case of one self-signed certificate shared by the cluster)."""
        if self._tls is None:
            return None
        key, cert, ca = self._tls
        return (ca or cert, key, cert)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __del__(self):
        try:
            self.stop(grace=0)
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def __repr__(self) -> str:
        state = f"serving {self.target}" if self._grpc is not None else "stopped"
        return f"<labflow.train.Server /job:{self.job_name}/task:{self.task_index} {state}>"


class _MasterProxy:
    """Lets the gRPC handlers be bound before the Master exists (it needs the resolved port)."""

    def __init__(self, server: Server):
        self._server = server

    def __getattr__(self, name: str) -> Any:
        def call(request: Any) -> Any:
            master = self._server.master
            if master is None:
                from labflow import errors
                raise errors.UnavailableError(None, None, "The server is starting or stopped")
            return getattr(master, name)(request)
        return call


def _with_address(cluster: ClusterSpec, job: str, task: int, address: str) -> ClusterSpec:
    d = {j: dict(enumerate(cluster.job_tasks(j))) for j in cluster.jobs}
    d[job][task] = address
    return ClusterSpec({j: {i: a for i, a in tasks.items() if a is not None} for j, tasks in d.items()})


def _task_addresses(cluster: ClusterSpec) -> dict[str, str]:
    out = {}
    for job in cluster.jobs:
        for i in cluster.task_indices(job):
            host, port = _split(cluster.task_address(job, i))
            out[f"/job:{job}/replica:0/task:{i}"] = f"{'127.0.0.1' if host == 'localhost' else host}:{port}"
    return out


def free_port() -> int:
    """A port that is free on 127.0.0.1 right now (for building cluster specs before starting servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@atexit.register
def _stop_all() -> None:
    for s in list(_live):
        try:
            s.stop(grace=0)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
