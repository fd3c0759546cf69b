"""`labflow.LocalCluster`: a ps/worker cluster of `labflow server` processes on this machine, for notebooks.

    with tf.LocalCluster(ps=1, workers=2) as cluster:
        with tf.device("/job:ps/task:0"):
            v = tf.Variable(0.0)
        with tf.Session(cluster.target("worker", 0)) as sess:   # the token is used automatically
            ...
        cluster.kill("worker", 1)      # fault experiments: the task's state becomes "killed"
        cluster.logs("worker", 1)      # what the task printed
        cluster.restart("worker", 1)   # the same port, so the cluster spec still holds

Every task is a separate `python -m labflow server` process (its own GIL, its own crash) in its own
session (a Ctrl-C or interrupt in the notebook does not reach it), listening on a free 127.0.0.1 port,
with stdout and stderr in a log file. The cluster spec and a random token live in a private temporary
folder (the token file is readable only by this user); every task checks that token on every call, and
the token is registered in this process so `tf.Session(cluster.target(...))` needs no arguments.

The processes are stopped by `close()` (or leaving the `with` block), when the LocalCluster is garbage
collected, and at interpreter exit. A task that dies on its own is reported: its state becomes "exited"
with the return code, `logs()` shows why, and `check()` raises listing every dead task.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections import deque
from typing import Any

from labflow.distributed import auth
from labflow.distributed.cluster import ClusterSpec
from labflow.distributed.server import free_port
from labflow.distributed.server_main import READY_LINE

_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_SOURCE_CHECKOUT = os.path.exists(os.path.join(_REPO_ROOT, "pyproject.toml"))
_STOP_GRACE_S = 5.0
_BIND_RETRIES = 3
LIVE_STATES = ("starting", "running")


class TaskInfo:
    """One task of a LocalCluster: its process, address, log and state.

    `state` is "starting" (launched, not answering yet), "running" (answered GetStatus), "exited" (the
    process ended on its own: see `returncode` and the log), "killed" (by `LocalCluster.kill`) or
    "stopped" (by `LocalCluster.stop`/`close`).
    """

    def __init__(self, job: str, index: int, port: int, log_path: str):
        self.job, self.index, self.port, self.log_path = job, index, port, log_path
        self.proc: subprocess.Popen | None = None
        self.state = "stopped"
        self.returncode: int | None = None
        self.starts = 0
        self.log_offset = 0  # where the current run's output starts in the log

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"

    @property
    def target(self) -> str:
        return f"grpc://localhost:{self.port}"

    @property
    def name(self) -> str:
        return f"/job:{self.job}/task:{self.index}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def poll(self) -> str:
        """Refreshes `state`/`returncode` from the process (reaping it when it ended)."""
        if self.proc is not None and self.returncode is None:
            rc = self.proc.poll()
            if rc is not None:
                self.returncode = rc
                if self.state in LIVE_STATES:
                    self.state = "exited"
        return self.state

    def tail(self, lines: int = 20) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(deque(f, maxlen=lines))
        except OSError:
            return ""

    def __repr__(self) -> str:
        rc = f" returncode={self.returncode}" if self.returncode is not None else ""
        return f"<TaskInfo {self.name} {self.address} pid={self.pid} {self.state}{rc}>"


class _State:
    """Everything the finalizer needs (it must not reference the LocalCluster itself)."""

    def __init__(self, tmpdir: str, log_dir: str):
        self.tmpdir = tmpdir
        self.log_dir = log_dir
        self.tasks: list[TaskInfo] = []
        self.registered: set[str] = set()
        self.closed = False
        self.lock = threading.RLock()

    def shutdown(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            stop_processes(self.tasks, "stopped")
            for address in self.registered:
                auth.unregister(address)
            self.registered.clear()
            shutil.rmtree(self.tmpdir, ignore_errors=True)


def _signal(proc: subprocess.Popen, sig: int) -> None:
    # The task leads its own process group (start_new_session): signal the group, so helpers it
    # started go too.
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def stop_processes(tasks: list[TaskInfo], state: str, grace: float = _STOP_GRACE_S) -> None:
    """SIGTERM to every live task, up to `grace` seconds for all to exit, then SIGKILL; all are reaped."""
    for t in tasks:
        t.poll()  # one that already died on its own stays "exited"
    live = [t for t in tasks if t.proc is not None and t.proc.poll() is None]
    for t in live:
        if t.state in LIVE_STATES:
            t.state = state
        _signal(t.proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for t in live:
        try:
            t.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal(t.proc, signal.SIGKILL)
            t.proc.wait()
    for t in tasks:
        t.poll()


class LocalCluster:
    """A TF 1.x ps/worker cluster of local `labflow server` processes (a context manager).

    Args:
        ps: number of parameter-server tasks (job "ps", no GPUs).
        workers: number of worker tasks (job "worker").
        gpus_per_worker: GPUs each worker may use (`--gpus`; 0: CPU only). Workers on one machine see
            the same GPUs: set CUDA_VISIBLE_DEVICES in `env` to restrict them.
        cpus_per_task: CPU devices of each task (`--cpus`).
        start_timeout: seconds for every task to answer after starting.
        env: extra environment variables for the task processes.
        python: the interpreter that runs the tasks.
        log_dir: where the task logs go (kept after `close()`); default: the cluster's temporary folder,
            removed on close.

    Raises:
        RuntimeError: a task exited while starting or did not answer within `start_timeout` (the message
            names it and shows the end of its log).
    """

    def __init__(self, ps: int = 1, workers: int = 2, gpus_per_worker: int = 0, *, cpus_per_task: int = 1,
                 start_timeout: float = 60.0, env: dict[str, str] | None = None, python: str = sys.executable,
                 log_dir: str | None = None):
        if ps < 0 or workers < 0 or ps + workers == 0:
            raise ValueError(f"A LocalCluster needs at least one task (got ps={ps}, workers={workers})")
        if gpus_per_worker < 0 or cpus_per_task < 1:
            raise ValueError("gpus_per_worker must be >= 0 and cpus_per_task >= 1")
        self.gpus_per_worker, self.cpus_per_task = int(gpus_per_worker), int(cpus_per_task)
        self.start_timeout = float(start_timeout)
        self.python = python
        self._env = dict(env or {})
        if log_dir is not None:
            os.makedirs(log_dir, exist_ok=True)
        tmpdir = tempfile.mkdtemp(prefix="labflow-cluster-")  # mode 0700: the token file lives here
        self._st = _State(tmpdir, os.path.abspath(log_dir) if log_dir is not None else tmpdir)
        self._finalizer = weakref.finalize(self, _State.shutdown, self._st)
        self._token = secrets.token_urlsafe(32)
        self._token_file = os.path.join(tmpdir, "token")
        fd = os.open(self._token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self._token + "\n")
        self._spec_file = os.path.join(tmpdir, "cluster.json")
        self._st.tasks = [self._new_task("ps", i) for i in range(ps)] + \
            [self._new_task("worker", i) for i in range(workers)]
        try:
            self._start_all(fresh_ports=True)
        except BaseException:
            self.close()
            raise

    # -- the cluster ------------------------------------------------------------------------------------
    @property
    def tasks(self) -> list[TaskInfo]:
        """The tasks (ps first, then workers), their states refreshed."""
        for t in self._st.tasks:
            t.poll()
        return list(self._st.tasks)

    @property
    def token(self) -> str:
        """The token every task checks (registered in this process for the cluster's addresses)."""
        return self._token

    @property
    def closed(self) -> bool:
        return self._st.closed

    @property
    def log_dir(self) -> str:
        return self._st.log_dir

    @property
    def cluster_spec(self) -> ClusterSpec:
        """The cluster as `tf.train.ClusterSpec` ({"ps": [...], "worker": [...]}, "localhost:PORT")."""
        return ClusterSpec(self._spec_dict())

    def task(self, job: str, index: int) -> TaskInfo:
        for t in self._st.tasks:
            if t.job == job and t.index == index:
                t.poll()
                return t
        names = ", ".join(t.name for t in self._st.tasks)
        raise KeyError(f"No task /job:{job}/task:{index} in this LocalCluster (tasks: {names})")

    def target(self, job: str = "worker", index: int = 0) -> str:
        """The session target of a task: "grpc://localhost:PORT"."""
        return self.task(job, index).target

    def logs(self, job: str, index: int, lines: int | None = None) -> str:
        """The task's log (all of it, or its last `lines` lines); restarts are appended to the same file."""
        t = self.task(job, index)
        if lines is not None:
            return t.tail(lines)
        try:
            with open(t.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -- lifecycle of tasks ------------------------------------------------------------------------------
    def restart(self, job: str, index: int) -> TaskInfo:
        """Stops the task if it runs and starts it again on the same port; waits until it answers.

        A restarted task has lost its state (a ps task: its variables; run the initializers again).
        """
        t = self.task(job, index)
        self._check_open()
        with self._st.lock:
            stop_processes([t], "stopped")
            self._launch(t)
            try:
                self._wait_ready([t])
            except _BindError as e:
                raise RuntimeError(f"Cannot restart {t.name}: its port was taken by another program. {e}") from None
        return t

    def kill(self, job: str, index: int, sig: int = signal.SIGKILL) -> TaskInfo:
        """Sends `sig` (default SIGKILL: a crash) to the task, for fault-tolerance experiments.

        Its state becomes "killed"; for SIGKILL/SIGTERM/SIGINT it is reaped before this returns.
        """
        t = self.task(job, index)
        with self._st.lock:
            if t.proc is None or t.poll() not in LIVE_STATES:
                raise RuntimeError(f"Task {t.name} is not running (state {t.state!r})")
            _signal(t.proc, sig)
            t.state = "killed"
            if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
                try:
                    t.returncode = t.proc.wait(_STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    pass
        return t

    def stop(self, job: str, index: int) -> TaskInfo:
        """Stops the task gracefully (SIGTERM, then SIGKILL after 5 s); its state becomes "stopped"."""
        t = self.task(job, index)
        with self._st.lock:
            stop_processes([t], "stopped")
        return t

    def scale(self, workers: int) -> LocalCluster:
        """Changes the number of worker tasks to `workers`, restarting EVERY task with the new spec.

        In TF 1.x a server knows the cluster only from the spec it was started with, so existing tasks
        cannot learn about new ones: scale rewrites the spec and restarts all tasks. Existing tasks keep
        their ports (targets stay valid) but lose their state (variables on ps tasks: initialize again);
        open sessions on the old processes fail and must be recreated. Removed workers are the highest
        indices. (Should another program take one of the ports meanwhile, every task gets a new port.)
        """
        if workers < 0 or (workers == 0 and not any(t.job != "worker" for t in self._st.tasks)):
            raise ValueError(f"Cannot scale to {workers} workers")
        self._check_open()
        with self._st.lock:
            stop_processes(self._st.tasks, "stopped")
            kept = [t for t in self._st.tasks if t.job != "worker" or t.index < workers]
            have = sum(t.job == "worker" for t in kept)
            used = {t.port for t in kept}
            for i in range(have, workers):
                t = self._new_task("worker", i)
                t.port = _free_port(used)
                used.add(t.port)
                kept.append(t)
            for t in self._st.tasks:
                if t not in kept:
                    self._unregister(t)
            self._st.tasks = kept
            self._start_all(fresh_ports=False)
        return self

    def close(self) -> None:
        """Stops every task (SIGTERM, 5 s, SIGKILL), reaps them, forgets the token, removes the temp folder
        (the logs stay when `log_dir` was given). Idempotent."""
        self._finalizer()

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- health ------------------------------------------------------------------------------------------
    def status(self, timeout: float = 1.0) -> list[dict[str, Any]]:
        """Polls every task: is its process alive, does it answer GetStatus? One dict per task with job,
        index, address, pid, state, returncode, alive, answers, and (when it answers) live_steps,
        registered_graphs, incarnation and devices; `error` when it did not answer."""
        from labflow.distributed.grpc_transport import WorkerClient
        from labflow.distributed.protos import worker_pb2
        out = []
        for t in self.tasks:
            row: dict[str, Any] = {"job": t.job, "index": t.index, "address": t.address, "pid": t.pid,
                                   "state": t.state, "returncode": t.returncode,
                                   "alive": t.state in LIVE_STATES, "answers": False}
            if t.state in LIVE_STATES:
                client = WorkerClient(t.address, t.name, token=self._token)
                try:
                    r = client.GetStatus(worker_pb2.GetStatusRequest(), timeout=timeout)
                    row.update(answers=True, live_steps=r.live_steps, registered_graphs=r.registered_graphs,
                               incarnation=r.incarnation, devices=[d.name for d in r.device_attributes])
                    if t.state == "starting":
                        t.state = "running"
                except Exception as e:  # noqa: BLE001 - any failure is "does not answer", shown as is
                    row["error"] = f"{type(e).__name__}: {e}"
                finally:
                    client.close()
            out.append(row)
        return out

    def dead_tasks(self) -> list[TaskInfo]:
        """Tasks whose process ended without `stop`/`close` ("exited" or "killed")."""
        return [t for t in self.tasks if t.state in ("exited", "killed")]

    def check(self, lines: int = 20) -> None:
        """Raises RuntimeError naming every dead task with its return code and last log lines."""
        dead = self.dead_tasks()
        if dead:
            parts = [f"{len(dead)} task(s) of the LocalCluster are dead:"]
            for t in dead:
                how = "was killed" if t.state == "killed" else "exited"
                parts.append(f"  {t.name} ({t.address}, pid {t.pid}) {how} with return code "
                             f"{describe_returncode(t.returncode)}; last lines of {t.log_path}:\n"
                             f"{_indent(t.tail(lines))}")
            parts.append("Restart one with cluster.restart(job, index).")
            raise RuntimeError("\n".join(parts))

    # -- notebook ---------------------------------------------------------------------------------------
    def view(self, refresh_s: float = 1.0) -> Any:
        """A ClusterView of the tasks (HTML table; `.widget()` for the live table with buttons)."""
        from labflow.notebook.cluster_view import ClusterView
        return ClusterView(self, refresh_s=refresh_s)

    def widget(self, refresh_s: float = 1.0) -> Any:
        """The live ipywidgets table (refreshed every `refresh_s` s, stop/restart buttons); needs ipywidgets."""
        return self.view(refresh_s).widget()

    def _repr_html_(self) -> str:
        return self.view().to_html()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        """In a Jupyter kernel with ipywidgets: the live table (stop/restart buttons), with the HTML table
        alongside for static renderers (nbconvert, GitHub); elsewhere the HTML table."""
        bundle = {"text/html": self._repr_html_(), "text/plain": repr(self)}
        try:
            from IPython import get_ipython
            shell = get_ipython()
            if shell is None or getattr(shell, "kernel", None) is None or self.closed:
                return bundle
            widget_bundle = self.widget()._repr_mimebundle_()
        except Exception:  # noqa: BLE001 - no ipywidgets / no kernel: the HTML table is the display
            return bundle
        if isinstance(widget_bundle, tuple):
            widget_bundle = widget_bundle[0]
        bundle.update({k: v for k, v in (widget_bundle or {}).items() if k != "text/plain"})
        return bundle

    def __repr__(self) -> str:
        if self.closed:
            return f"<LocalCluster closed, {len(self._st.tasks)} tasks>"
        states = ", ".join(f"{t.job}:{t.index}@{t.port} {t.state}" for t in self.tasks)
        return f"<LocalCluster {states}>"

    # -- internals --------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("This LocalCluster is closed")

    def _new_task(self, job: str, index: int) -> TaskInfo:
        return TaskInfo(job, index, 0, os.path.join(self._st.log_dir, f"{job}-{index}.log"))

    def _spec_dict(self) -> dict[str, list[str]]:
        spec: dict[str, list[str]] = {}
        for t in self._st.tasks:
            spec.setdefault(t.job, []).append(t.address)
        return spec

    def _write_spec(self) -> None:
        import json
        tmp = self._spec_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self._spec_dict(), f)
        os.replace(tmp, self._spec_file)

    def _unregister(self, t: TaskInfo) -> None:
        auth.unregister(t.address)
        self._st.registered.discard(f"127.0.0.1:{t.port}")

    def _start_all(self, fresh_ports: bool) -> None:
        """Starts every task; when one cannot bind its port (another process took it since it was chosen),
        picks new ports for all and starts everything again (each task must know every address)."""
        for attempt in range(_BIND_RETRIES + 1):
            if fresh_ports or attempt:
                used: set[int] = set()
                for t in self._st.tasks:
                    if t.port:
                        self._unregister(t)
                    t.port = _free_port(used)
                    used.add(t.port)
            self._write_spec()
            for t in self._st.tasks:
                self._launch(t)
            try:
                self._wait_ready(self._st.tasks)
                return
            except _BindError:
                stop_processes(self._st.tasks, "stopped")
                if attempt == _BIND_RETRIES:
                    raise RuntimeError(f"Could not bind free ports for the LocalCluster after {attempt + 1} "
                                       "tries (another program keeps taking them)") from None

    def _launch(self, t: TaskInfo) -> None:
        env = dict(os.environ)
        env.update(self._env)
        if _SOURCE_CHECKOUT:  # an installed labflow is importable as is (and site-packages must not go first)
            paths = [_REPO_ROOT] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
            env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        env["PYTHONUNBUFFERED"] = "1"
        gpus = self.gpus_per_worker if t.job == "worker" else 0
        cmd = [self.python, "-m", "labflow", "server", "--cluster", self._spec_file, "--job", t.job,
               "--task", str(t.index), "--token-file", self._token_file, "--cpus", str(self.cpus_per_task),
               "--gpus", str(gpus), "--exit-with-parent", str(os.getpid()), "--cleanup-dir", self._st.tmpdir]
        t.starts += 1
        with open(t.log_path, "ab") as log:
            if t.starts > 1:
                log.write(f"\n--- labflow LocalCluster: start #{t.starts} of {t.name} at "
                          f"{time.strftime('%H:%M:%S')} ---\n".encode())
                log.flush()
            t.log_offset = log.tell()
            t.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                      env=env, cwd=self._st.tmpdir, start_new_session=True, close_fds=True)
        t.state, t.returncode = "starting", None
        auth.register(t.address, self._token, task=f"/job:{t.job}/replica:0/task:{t.index}")
        self._st.registered.add(f"127.0.0.1:{t.port}")

    def _wait_ready(self, tasks: list[TaskInfo]) -> None:
        """Waits until every task printed its ready line and answers GetStatus with the token."""
        from labflow.distributed.grpc_transport import WorkerClient
        from labflow.distributed.protos import worker_pb2
        deadline = time.monotonic() + self.start_timeout
        pending = list(tasks)
        while pending:
            for t in list(pending):
                if t.poll() == "exited":
                    tail = t.tail(20)
                    if "Cannot bind" in _read_from(t.log_path, t.log_offset):
                        raise _BindError(f"{t.name} could not bind port {t.port}; last lines of {t.log_path}:\n"
                                         f"{_indent(tail)}")
                    raise RuntimeError(f"LocalCluster task {t.name} ({t.address}) exited with code "
                                       f"{describe_returncode(t.returncode)} while starting; last lines of "
                                       f"{t.log_path}:\n{_indent(tail)}")
                # The ready line first: a gRPC channel that met a refused connection backs off for a
                # while, so it is not polled before the server listens.
                if READY_LINE not in _read_from(t.log_path, t.log_offset):
                    continue
                client = WorkerClient(t.address, t.name, token=self._token)
                try:
                    client.GetStatus(worker_pb2.GetStatusRequest(), timeout=2.0)
                except Exception:  # noqa: BLE001 - not answering yet; the deadline decides
                    continue
                finally:
                    client.close()
                t.state = "running"
                pending.remove(t)
            if not pending:
                return
            if time.monotonic() > deadline:
                names = ", ".join(f"{t.name} (pid {t.pid})" for t in pending)
                tails = "\n".join(f"  {t.name}, last lines of {t.log_path}:\n{_indent(t.tail(20))}" for t in pending)
                raise RuntimeError(f"LocalCluster tasks did not answer within {self.start_timeout:g} s: {names}\n"
                                   f"{tails}")
            time.sleep(0.05)


class _BindError(Exception):
    pass


def _free_port(used: set[int]) -> int:
    for _ in range(100):
        p = free_port()
        if p not in used:
            return p
    raise RuntimeError("No free port found")


def _read_from(path: str, offset: int) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            f.seek(offset)
            return f.read()
    except OSError:
        return ""


def describe_returncode(rc: int | None) -> str:
    """A return code with the signal's name when a signal ended the process ("-9 (SIGKILL)")."""
    if rc is not None and rc < 0:
        try:
            return f"{rc} ({signal.Signals(-rc).name})"
        except ValueError:
            pass
    return str(rc)


def _indent(text: str) -> str:
    return "\n".join("    | " + line for line in text.rstrip("\n").splitlines()) or "    | (empty log)"


__all__ = ["LocalCluster", "TaskInfo", "describe_returncode"]
