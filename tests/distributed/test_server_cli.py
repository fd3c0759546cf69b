"""`labflow server`: one task in the foreground, configured by flags or TF_CONFIG, stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest

import labflow as tf
from labflow.distributed.server import free_port

pytest.importorskip("grpc")
pytestmark = pytest.mark.timeout(60)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), **extra)
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _start(args, env):
    return subprocess.Popen([sys.executable, "-m", "labflow", "server", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_server_from_tf_config_serves_until_sigterm(tmp_path, monkeypatch):
    port = free_port()
    tf_config = {"cluster": {"worker": [f"localhost:{port}"]}, "task": {"type": "worker", "index": 0}}
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    proc = _start(["--token-file", str(token)], _env(TF_CONFIG=json.dumps(tf_config)))
    try:
        line = proc.stdout.readline()
        assert line.startswith("labflow server ready /job:worker/task:0 grpc://localhost:")
        monkeypatch.setenv("LABFLOW_CLUSTER_TOKEN", "s3cret")
        with tf.Session(f"grpc://localhost:{port}") as sess:
            assert sess.run(tf.constant(20.0) + 1.0) == 21.0
            assert [d.name for d in sess.list_devices()] == ["/job:worker/replica:0/task:0/device:CPU:0"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server binds: TIME_WAIT does not count
            s.bind(("127.0.0.1", port))  # the port is free again
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("args,message", [
    (["--job", "worker", "--task", "0"], "No cluster"),
    (["--cluster", "{not json", "--job", "worker", "--task", "0"], "neither a file nor JSON"),
    (["--cluster", '{"worker": ["10.9.8.7:2222"]}', "--job", "worker", "--task", "0"], "without TLS"),
    (["--cluster", '{"worker": ["localhost:1"]}', "--job", "worker", "--task", "0", "--token-file", "/nonexistent"],
     "Cannot read the cluster token file"),
])
def test_bad_arguments_exit_2_with_a_message(args, message):
    proc = _start(args, _env())
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert message in err


def test_without_grpc_the_error_says_what_to_install(monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "grpc" else real(name, *a))
    with pytest.raises(ImportError, match=r"labflow\[distributed\]"):
        tf.Session("grpc://localhost:1")
    with pytest.raises(ImportError, match="grpcio"):
        tf.train.Server.create_local_server()
