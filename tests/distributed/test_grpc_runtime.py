"""The gRPC runtime in one process: servers, distributed sessions, tokens, malformed and oversized calls."""

from __future__ import annotations

import socket

import numpy as np
import pytest

import labflow as tf
from labflow import errors
from labflow.distributed import auth
from labflow.distributed.server import Server, free_port

grpc = pytest.importorskip("grpc")
pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def servers():
    ports = [free_port() for _ in range(3)]
    cluster = tf.train.ClusterSpec({"ps": [f"localhost:{ports[0]}"],
                                    "worker": [f"localhost:{ports[1]}", f"localhost:{ports[2]}"]})
    started = []
    try:
        for job, i in (("ps", 0), ("worker", 0), ("worker", 1)):
            started.append(Server(cluster, job, i))
        yield started
    finally:
        for s in started:
            s.stop()


def test_distributed_session_runs_across_tasks(servers):
    ps, w0, w1 = servers
    with tf.device("/job:ps/task:0"):
        v = tf.Variable(tf.zeros([4]), name="acc")
    with tf.device("/job:worker/task:1"):
        x = tf.placeholder(tf.float32, [4], name="x")
        doubled = x * 2.0
    update = tf.assign_add(v, doubled)
    with tf.Session(w0.target) as sess:
        sess.run(v.initializer)
        for _ in range(3):
            sess.run(update, {x: np.arange(4, dtype=np.float32)})
        out = sess.run({"v": v, "d": doubled}, {x: np.ones(4, np.float32)})
        np.testing.assert_allclose(out["v"], [0, 6, 12, 18])
        np.testing.assert_allclose(out["d"], [2, 2, 2, 2])
        assert out["v"].flags.writeable
        names = [d.name for d in sess.list_devices()]
        assert "/job:ps/replica:0/task:0/device:CPU:0" in names
        assert "/job:worker/replica:0/task:1/device:CPU:0" in names
        placed = {p.node: p.device for p in sess.placements()}
        assert placed["acc"].startswith("/job:ps/replica:0/task:0")
    # Another client session (through another task's master) sees the same variable.
    with tf.Session(w1.target) as sess:
        np.testing.assert_allclose(sess.run(v), [0, 6, 12, 18])


def test_graph_grows_between_runs_and_scalars_come_back_as_numpy(servers):
    a = tf.constant(3.0)
    with tf.Session(servers[1].target) as sess:
        assert sess.run(a) == 3.0
        b = a * 4.0
        c = tf.constant(b"bytes")
        out = sess.run([b, c])
        assert out[0] == 12.0 and isinstance(out[0], np.float32)
        assert out[1] == b"bytes"


def test_remote_errors_name_the_op_and_where_it_was_defined(servers):
    x = tf.placeholder(tf.float32, [None])
    with tf.device("/job:worker/task:1"):
        r = tf.reshape(x, [3], name="misfit")
    with tf.Session(servers[1].target) as sess:
        with pytest.raises(tf.errors.InvalidArgumentError) as ei:
            sess.run(r, {x: [1.0, 2.0]})
    assert ei.value.op is r.op
    assert "misfit" in str(ei.value) and "test_grpc_runtime.py" in str(ei.value)


def test_fp16_on_the_wire_between_tasks(servers):
    with tf.device("/job:ps/task:0"):
        a = tf.constant(np.linspace(0, 1, 1000, dtype=np.float32))
    with tf.device("/job:worker/task:0"):
        b = a + 0.0
    config = tf.ConfigProto(graph_options=tf.GraphOptions(send_recv_dtype="float16"))
    with tf.Session(servers[1].target, config=config) as sess:
        out = sess.run(b)
    np.testing.assert_allclose(out, np.linspace(0, 1, 1000), atol=1e-3)
    assert not np.array_equal(out, np.linspace(0, 1, 1000, dtype=np.float32))  # it was narrowed


def test_session_reset_clears_variables(servers):
    with tf.device("/job:ps/task:0"):
        v = tf.Variable(1.0, name="to_reset", collections=[])
    with tf.Session(servers[1].target) as sess:
        sess.run(v.initializer)
    tf.Session.reset(servers[1].target, ["unused-container"])
    with tf.Session(servers[1].target) as sess:
        assert sess.run(v) == 1.0
    tf.Session.reset(servers[1].target)
    with tf.Session(servers[1].target) as sess:
        with pytest.raises(tf.errors.FailedPreconditionError, match="to_reset"):
            sess.run(v)


def test_call_without_the_token_is_refused(servers, caplog):
    from labflow.distributed.grpc_transport import WorkerClient
    from labflow.distributed.protos import worker_pb2
    addr = servers[0].target.removeprefix("grpc://")
    bad = WorkerClient(addr, "ps0", token="not-the-token")
    try:
        with caplog.at_level("WARNING", logger="labflow.distributed"):
            with pytest.raises(errors.UnauthenticatedError, match="token"):
                bad.GetStatus(worker_pb2.GetStatusRequest(), timeout=5)
        assert any("rejected unauthenticated call" in r.message for r in caplog.records)
    finally:
        bad.close()
    # No metadata at all: refused as well, and the server still serves the right token.
    channel = grpc.insecure_channel(addr)
    try:
        stub = channel.unary_unary("/labflow.distributed.WorkerService/GetStatus")
        with pytest.raises(grpc.RpcError) as ei:
            stub(b"", timeout=5)
        assert ei.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        channel.close()
    good = WorkerClient(addr, "ps0")
    try:
        assert good.GetStatus(worker_pb2.GetStatusRequest(), timeout=5).task_name == "/job:ps/replica:0/task:0"
    finally:
        good.close()


def test_malformed_and_oversized_messages_get_clean_errors(servers):
    addr = servers[0].target.removeprefix("grpc://")
    md = ((auth.METADATA_KEY, auth.token_for(addr)),)
    channel = grpc.insecure_channel(addr, options=[("grpc.max_send_message_length", -1)])
    try:
        stub = channel.unary_unary("/labflow.distributed.WorkerService/RunGraph")
        with pytest.raises(grpc.RpcError) as ei:
            stub(b"\xff\xff\xff\xff garbage", timeout=5, metadata=md)
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "Malformed RunGraph" in ei.value.details()
        huge = bytes((1 << 30) + 64)  # past the 1 GiB limit
        with pytest.raises(grpc.RpcError) as ei:
            stub(huge, timeout=30, metadata=md)
        del huge
        assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        channel.close()
    with tf.Session(servers[1].target) as sess:  # still serving
        assert sess.run(tf.constant(1.0) + 1.0) == 2.0


def test_unreachable_target_fails_fast_with_unavailable():
    port = free_port()
    with tf.Session(f"grpc://localhost:{port}") as sess:
        with pytest.raises(tf.errors.UnavailableError, match="unavailable"):
            sess.run(tf.constant(1.0))


def test_bad_targets_are_rejected():
    with pytest.raises(tf.errors.InvalidArgumentError, match="grpc://host:port"):
        tf.Session("grpc://nohostport")
    with pytest.raises(tf.errors.InvalidArgumentError, match="not supported"):
        tf.Session("http://localhost:1")


def test_local_server_and_stop_frees_the_port():
    server = tf.train.Server.create_local_server()
    port = server.port
    with tf.Session(server.target) as sess:
        assert sess.run(tf.constant(2.0) * 2.0) == 4.0
        names = [d.name for d in sess.list_devices()]
    assert names == ["/job:localhost/replica:0/task:0/device:CPU:0"]
    server.stop()
    server.stop()  # idempotent
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server binds: TIME_WAIT does not count
        s.bind(("127.0.0.1", port))  # free again
    assert "stopped" in repr(server)


def test_non_loopback_address_needs_tls_or_insecure():
    cluster = tf.train.ClusterSpec({"worker": ["10.1.2.3:2222"]})
    with pytest.raises(ValueError, match="without TLS"):
        Server(cluster, "worker", 0, start=False)
    s = Server(cluster, "worker", 0, start=False, insecure=True)
    assert s.job_name == "worker"


def test_server_argument_defaults_and_checks():
    with pytest.raises(ValueError, match="job_name"):
        Server({"a": ["localhost:1"], "b": ["localhost:2"]}, start=False)
    with pytest.raises(ValueError, match="task_index"):
        Server({"a": ["localhost:1", "localhost:2"]}, start=False)
    with pytest.raises(ValueError, match="protocol"):
        Server({"a": ["localhost:1"]}, protocol="mpi", start=False)


def test_an_op_list_restricts_received_graphs():
    server = Server({"localhost": ["localhost:0"]}, allowed_ops=["Add", "Mul"])
    try:
        a = tf.constant(2.0)
        b = a * 3.0 + 1.0
        with tf.Session(server.target) as sess:
            assert sess.run(b) == 7.0
        c = tf.sqrt(b, name="not_on_the_list")
        with tf.Session(server.target) as sess:
            with pytest.raises(tf.errors.PermissionDeniedError, match="'Sqrt'.*not_on_the_list"):
                sess.run(c)
    finally:
        server.stop()


def test_in_graph_replication_towers_on_two_workers(servers):
    """One client, one graph: a tower per worker task, shared variables on the ps, averaged gradients."""
    rng = np.random.RandomState(0)
    xs = rng.rand(2, 32, 3).astype(np.float32)
    true_w = np.array([[1.0], [-2.0], [0.5]], np.float32)
    with tf.device("/job:ps/task:0"):
        w = tf.Variable(tf.zeros([3, 1]), name="tower_w")
    grads, placeholders = [], []
    for i in range(2):
        with tf.device(f"/job:worker/task:{i}"), tf.name_scope(f"tower_{i}"):
            x = tf.placeholder(tf.float32, [None, 3])
            loss = tf.reduce_mean(tf.square(tf.matmul(x, w) - tf.matmul(x, tf.constant(true_w))))
            grads.append(tf.gradients(loss, [w])[0])
            placeholders.append(x)
    avg = tf.add_n(grads) / 2.0
    train = tf.train.GradientDescentOptimizer(0.5).apply_gradients([(avg, w)])
    feed = {placeholders[0]: xs[0], placeholders[1]: xs[1]}
    with tf.Session(servers[1].target) as sess:
        sess.run(w.initializer)
        for _ in range(200):
            sess.run(train, feed)
        placed = {p.node: p.device for p in sess.placements()}
        got = sess.run(w)
    assert placed["tower_0/MatMul"].startswith("/job:worker/replica:0/task:0")
    assert placed["tower_1/MatMul"].startswith("/job:worker/replica:0/task:1")
    np.testing.assert_allclose(got, true_w, atol=0.05)


def _self_signed(tmp_path):
    import shutil
    import subprocess
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return key.read_bytes(), cert.read_bytes()


def test_tls_cluster_serves_tls_clients_and_refuses_plaintext(tmp_path, monkeypatch):
    key, cert = _self_signed(tmp_path)
    ports = [free_port(), free_port()]
    cluster = tf.train.ClusterSpec({"ps": [f"127.0.0.1:{ports[0]}"], "worker": [f"127.0.0.1:{ports[1]}"]})
    servers = [Server(cluster, "ps", 0, tls_cert=cert, tls_key=key), Server(cluster, "worker", 0, tls_cert=cert,
                                                                           tls_key=key)]
    try:
        with tf.device("/job:ps/task:0"):
            v = tf.Variable(3.0, name="over_tls")
        with tf.device("/job:worker/task:0"):
            y = v * 2.0
        with tf.Session(f"grpc://127.0.0.1:{ports[1]}") as sess:  # TLS settings registered in-process
            sess.run(v.initializer)
            assert sess.run(y) == 6.0
        from labflow.distributed import auth
        from labflow.distributed.grpc_transport import WorkerClient
        from labflow.distributed.protos import worker_pb2
        plain = WorkerClient(f"127.0.0.1:{ports[0]}", "ps0", token=auth.token_for(f"127.0.0.1:{ports[0]}"),
                             tls=None, channel=grpc.insecure_channel(f"127.0.0.1:{ports[0]}"))
        with pytest.raises(errors.UnavailableError):
            plain.GetStatus(worker_pb2.GetStatusRequest(), timeout=5)
        plain.channel.close()
        # Another process would use LABFLOW_TLS_CA: the same works through the environment.
        (tmp_path / "ca.pem").write_bytes(cert)
        auth.unregister(f"127.0.0.1:{ports[1]}")
        monkeypatch.setenv(auth.TLS_CA_ENV, str(tmp_path / "ca.pem"))
        monkeypatch.setenv(auth.TOKEN_ENV, servers[1]._token)
        with tf.Session(f"grpc://127.0.0.1:{ports[1]}") as sess:
            assert sess.run(y) == 6.0
    finally:
        for s in servers:
            s.stop()


def test_traced_distributed_step_has_stats_from_every_task(servers):
    with tf.device("/job:ps/task:0"):
        a = tf.constant([1.0, 2.0]) * 2.0
    with tf.device("/job:worker/task:1"):
        b = a + 1.0
    with tf.Session(servers[1].target) as sess:
        with sess.trace() as tr:
            np.testing.assert_allclose(sess.run(b), [3.0, 5.0])
        md = tr.run_metadata[-1]
        devices = {d.device for d in md.step_stats.dev_stats}
        assert {"/job:ps/replica:0/task:0/device:CPU:0", "/job:worker/replica:0/task:1/device:CPU:0"} <= devices
        assert "traceEvents" in tr.timeline().generate_chrome_trace_format()
        md2 = tf.RunMetadata()
        sess.run(b, options=tf.RunOptions(output_partition_graphs=True), run_metadata=md2)
        assert {nd.device for g in md2.partition_graphs for nd in g.node} >= devices
