"""LocalCluster: local ps/worker server processes, sessions across them, faults, scaling and cleanup.

Each cluster start costs about a second of Python start-up per task, so most tests share one module
cluster and leave it healthy (a killed task is restarted before the test ends).
"""

from __future__ import annotations

import gc
import os
import signal
import socket
import stat
import sys
import time

import pytest

import labflow as tf
from labflow import errors
from labflow.distributed import launcher
from labflow.distributed.grpc_transport import MasterClient, WorkerClient
from labflow.distributed.launcher import LocalCluster
from labflow.distributed.protos import worker_pb2


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As a server binds (SO_REUSEADDR): connections of the stopped task left in TIME_WAIT do not count.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _counter_graph():
    with tf.device("/job:ps/task:0"):
        v = tf.Variable(0.0, name="counter")
        inc = tf.assign_add(v, 1.0)
    with tf.device("/job:worker/task:1"):
        doubled = v * 2.0
    return v, inc, doubled


@pytest.mark.timeout(120)
def test_cluster_spec_targets_and_files(cluster):
    spec = cluster.cluster_spec
    assert spec.jobs == ["ps", "worker"]
    assert spec.num_tasks("ps") == 1 and spec.num_tasks("worker") == 2
    ports = [t.port for t in cluster.tasks]
    assert len(set(ports)) == 3
    assert cluster.target("worker", 1) == f"grpc://localhost:{cluster.task('worker', 1).port}"
    assert spec.task_address("worker", 1) == f"localhost:{cluster.task('worker', 1).port}"
    assert [(t.job, t.index, t.state) for t in cluster.tasks] == [("ps", 0, "running"), ("worker", 0, "running"),
                                                                 ("worker", 1, "running")]
    token_file = os.path.join(cluster._st.tmpdir, "token")
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cluster._st.tmpdir).st_mode) == 0o700
    with open(token_file) as f:
        assert f.read().strip() == cluster.token
    assert "labflow server ready /job:worker/task:0" in cluster.logs("worker", 0)
    assert "worker:1@" in repr(cluster) and "running" in repr(cluster)
    with pytest.raises(KeyError, match="/job:worker/task:7"):
        cluster.task("worker", 7)


@pytest.mark.timeout(120)
def test_status_answers_for_every_task(cluster):
    rows = cluster.status()
    assert [(r["job"], r["index"]) for r in rows] == [("ps", 0), ("worker", 0), ("worker", 1)]
    for r, t in zip(rows, cluster.tasks):
        assert r["alive"] and r["answers"] and r["pid"] == t.pid and r["state"] == "running"
        assert r["devices"] == [f"/job:{t.job}/replica:0/task:{t.index}/device:CPU:0"]
        assert r["live_steps"] == 0


@pytest.mark.timeout(120)
def test_variable_on_ps_persists_across_sessions_on_different_workers(cluster):
    v, inc, doubled = _counter_graph()
    with tf.Session(cluster.target("worker", 0)) as sess:  # the token is registered: no arguments
        sess.run(tf.global_variables_initializer())
        assert sess.run(inc) == 1.0
        assert sess.run(inc) == 2.0
    with tf.Session(cluster.target("worker", 1)) as sess:
        assert sess.run([v, doubled]) == [2.0, 4.0]


@pytest.mark.timeout(120)
def test_wrong_token_is_refused(cluster):
    address = cluster.task("worker", 0).address
    c = WorkerClient(address, "/job:worker/task:0", token="not-the-token")
    try:
        with pytest.raises(errors.UnauthenticatedError, match="token"):
            c.GetStatus(worker_pb2.GetStatusRequest(), timeout=10)
    finally:
        c.close()
    m = MasterClient(cluster.target("worker", 0), token="not-the-token")
    try:
        from labflow.distributed.protos import master_pb2
        with pytest.raises(errors.UnauthenticatedError):
            m.ListDevices(master_pb2.ListDevicesRequest(), timeout=10)
    finally:
        m.close()
    good = WorkerClient(address, "/job:worker/task:0", token=cluster.token)
    try:
        assert good.GetStatus(worker_pb2.GetStatusRequest(), timeout=10).task_name == "/job:worker/replica:0/task:0"
    finally:
        good.close()


@pytest.mark.timeout(180)
def test_kill_is_reported_then_restart_on_the_same_port(cluster):
    old = cluster.task("worker", 1)
    old_pid, port = old.pid, old.port
    try:
        cluster.check()  # all healthy: no error
        t = cluster.kill("worker", 1)
        assert t.state == "killed" and t.returncode == -signal.SIGKILL and _gone(old_pid)
        assert [r["state"] for r in cluster.status()] == ["running", "running", "killed"]
        assert not cluster.status()[2]["answers"]
        with pytest.raises(RuntimeError, match=r"(?s)/job:worker/task:1 .*killed with return code -9 \(SIGKILL\)"
                                               r".*labflow server ready"):
            cluster.check()
        c = WorkerClient(old.address, "/job:worker/task:1", token=cluster.token)
        try:
            with pytest.raises(errors.UnavailableError):
                c.GetStatus(worker_pb2.GetStatusRequest(), timeout=5)
        finally:
            c.close()
    finally:
        t = cluster.restart("worker", 1)
    assert t.state == "running" and t.port == port and t.pid != old_pid and t.returncode is None
    cluster.check()
    assert "start #2 of /job:worker/task:1" in cluster.logs("worker", 1)
    assert cluster.logs("worker", 1, lines=1).startswith("labflow server ready /job:worker/task:1")
    v, inc, doubled = _counter_graph()
    with tf.Session(cluster.target("worker", 0)) as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(inc) == 1.0
        assert sess.run(doubled) == 2.0  # runs on the restarted worker 1


@pytest.mark.timeout(120)
def test_task_that_exits_on_its_own_is_reported(cluster):
    t = cluster.task("worker", 1)
    try:
        os.kill(t.pid, signal.SIGTERM)  # not through the cluster: it just dies
        deadline = time.monotonic() + 10
        while cluster.task("worker", 1).state != "exited" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert t.state == "exited" and t.returncode == 0
        assert "Stopped server for /job:worker/task:1" in cluster.logs("worker", 1, lines=5)
        assert cluster.dead_tasks() == [t]
        with pytest.raises(RuntimeError, match=r"/job:worker/task:1 .*exited with return code 0"):
            cluster.check()
    finally:
        cluster.restart("worker", 1)
    cluster.check()


@pytest.mark.timeout(120)
def test_html_repr(cluster):
    html = cluster._repr_html_()
    assert "LocalCluster" in html and "/job:worker/task:1" in html and "running" in html
    assert str(cluster.task("ps", 0).pid) in html


def _script(tmp_path, body: str) -> str:
    p = tmp_path / "fake_python"
    p.write_text("#!/bin/sh\n" + body + "\n")
    p.chmod(0o755)
    return str(p)


@pytest.mark.timeout(60)
def test_start_failure_names_the_task_code_and_log(tmp_path):
    fake = _script(tmp_path, 'echo "boom: no such module" >&2; exit 3')
    with pytest.raises(RuntimeError, match=r"(?s)/job:(ps|worker)/task:0 .*exited with code 3.*boom: no such module"):
        LocalCluster(ps=1, workers=1, python=fake, start_timeout=20)


@pytest.mark.timeout(60)
def test_start_timeout_stops_the_processes(tmp_path):
    pidfile = tmp_path / "pids"
    fake = _script(tmp_path, f'echo $$ >> {pidfile}; exec sleep 60')
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="did not answer within 1 s"):
        LocalCluster(ps=0, workers=2, python=fake, start_timeout=1)
    assert time.monotonic() - t0 < 15
    pids = [int(p) for p in pidfile.read_text().split()]
    assert len(pids) == 2 and all(_gone(p) for p in pids)


@pytest.mark.timeout(120)
def test_port_taken_before_start_is_retried_on_new_ports(monkeypatch):
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    real, calls = launcher.free_port, []

    def racy_free_port() -> int:  # the first port handed out is grabbed by "another program"
        calls.append(1)
        return taken if len(calls) == 1 else real()
    monkeypatch.setattr(launcher, "free_port", racy_free_port)
    c = None
    try:
        c = LocalCluster(ps=0, workers=1, start_timeout=60)
        t = c.task("worker", 0)
        assert t.port != taken and t.state == "running" and t.starts == 2
        assert "Cannot bind" in c.logs("worker", 0)
    finally:
        blocker.close()
        if c is not None:
            c.close()


@pytest.mark.timeout(180)
def test_scale_then_close_leaves_nothing_behind(tmp_path):
    c = LocalCluster(ps=0, workers=1, log_dir=str(tmp_path / "logs"))
    try:
        port0 = c.task("worker", 0).port
        assert c.scale(workers=2) is c
        assert c.cluster_spec.num_tasks("worker") == 2 and c.task("worker", 0).port == port0
        with tf.device("/job:worker/task:1"):
            a = tf.constant(3.0) * 2.0
        with tf.device("/job:worker/task:0"):
            b = a + 1.0
        with tf.Session(c.target("worker", 0)) as sess:
            assert sess.run(b) == 7.0
        c.scale(workers=1)
        assert [t.name for t in c.tasks] == ["/job:worker/task:0"] and c.task("worker", 0).port == port0
        pids, ports, tmpdir = [t.pid for t in c.tasks], [t.port for t in c.tasks], c._st.tmpdir
    finally:
        c.close()
    assert all(_gone(p) for p in pids) and all(_port_free(p) for p in ports)
    assert [t.state for t in c.tasks] == ["stopped"] and c.closed
    assert not os.path.exists(tmpdir)
    assert (tmp_path / "logs" / "worker-0.log").exists()  # log_dir is kept
    c.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        c.restart("worker", 0)
    from labflow.distributed import auth
    assert auth._by_address.get(f"127.0.0.1:{ports[0]}") is None


@pytest.mark.timeout(120)
def test_scale_to_three_workers(cluster):
    """Restarts every task of the shared cluster (ps state is lost), so it runs last on that cluster."""
    ports = {(t.job, t.index): t.port for t in cluster.tasks}
    cluster.scale(workers=3)
    try:
        assert cluster.cluster_spec.num_tasks("worker") == 3
        assert all(cluster.task(j, i).port == p for (j, i), p in ports.items())
        assert [r["answers"] for r in cluster.status()] == [True] * 4
        with tf.device("/job:worker/task:2"):
            x = tf.constant(5.0) + 1.0
        with tf.Session(cluster.target("worker", 0)) as sess:
            assert sess.run(x) == 6.0
    finally:
        cluster.scale(workers=2)


@pytest.mark.timeout(120)
def test_garbage_collection_reaps_the_processes():
    c = LocalCluster(ps=0, workers=1)
    pid, tmpdir = c.task("worker", 0).pid, c._st.tmpdir
    assert not _gone(pid)
    del c
    gc.collect()
    assert _gone(pid) and not os.path.exists(tmpdir)


@pytest.mark.timeout(120)
def test_interpreter_exit_reaps_the_processes(tmp_path):
    import subprocess
    code = ("from labflow.distributed.launcher import LocalCluster\n"
            "c = LocalCluster(ps=0, workers=1)\n"
            "print(c.task('worker', 0).pid, flush=True)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=100)
    assert out.returncode == 0, out.stderr
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 5
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid)


@pytest.mark.timeout(90)
def test_tasks_stop_when_the_launching_process_is_killed(tmp_path):
    """A notebook kernel killed with SIGKILL runs no cleanup: its tasks notice and stop by themselves."""
    import subprocess
    import sys
    script = tmp_path / "launch.py"
    script.write_text("import time, labflow as tf\nc = tf.LocalCluster(ps=1, workers=1)\n"
                      "print(c._st.tmpdir, ' '.join(str(t.pid) for t in c.tasks), flush=True)\ntime.sleep(120)\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    pids = []
    try:
        tmpdir, *rest = proc.stdout.readline().split()
        pids = [int(p) for p in rest]
        assert len(pids) == 2 and os.path.isdir(tmpdir)
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_pid_alive(p) for p in pids):
            time.sleep(0.2)
        assert not any(_pid_alive(p) for p in pids)
        assert not os.path.exists(tmpdir)  # the tasks removed the folder (token file included) the kernel left
    finally:
        for p in pids:
            if _pid_alive(p):
                os.kill(p, signal.SIGKILL)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False
