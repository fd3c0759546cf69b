"""Master and worker services in one process, no transport: the same pipeline over a cluster's devices."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import labflow as tf
from labflow import errors
from labflow.distributed import wire
from labflow.distributed.cluster import ClusterSpec
from labflow.distributed.master import LocalWorkerClient, Master
from labflow.distributed.protos import master_pb2 as mpb
from labflow.distributed.protos import worker_pb2 as wpb
from labflow.distributed.worker import Worker
from labflow.distributed.worker_graph import partition_from_graph_def, partition_to_graph_def
from labflow.runtime import partition, placer, prune
from labflow.runtime.devices import make_local_devices

pytestmark = pytest.mark.timeout(60)


class InProcessCluster:
    """ps:0 + worker:0..n-1 as Worker objects; the master lives on worker 0."""

    def __init__(self, workers: int = 2, ps: int = 1):
        spec = {"ps": [f"ps{i}:1" for i in range(ps)], "worker": [f"w{i}:1" for i in range(workers)]}
        self.cluster = ClusterSpec(spec)
        self.workers: dict[str, Worker] = {}
        self.dead: set[str] = set()
        for job, n in (("ps", ps), ("worker", workers)):
            for i in range(n):
                w = Worker(job, i, channels=self.channel)
                self.workers[w.task_name] = w
        self.master = Master(self.workers["/job:worker/replica:0/task:0"], self.cluster, self.channel)

    def channel(self, task):
        if task in self.dead:
            return _DeadClient(task)
        return LocalWorkerClient(self.workers[task])

    def session(self, graph):
        resp = self.master.CreateSession(mpb.CreateSessionRequest(graph_def=graph.as_graph_def()))
        return resp.session_handle

    def run(self, handle, graph, fetches=(), targets=(), feeds=None):
        req = mpb.RunStepRequest(session_handle=handle, fetch=[t.name for t in fetches],
                                 target=[o.name for o in targets])
        for t, v in (feeds or {}).items():
            wire.named(req.feed, t.name, np.asarray(v, t.dtype.as_numpy_dtype))
        resp = self.master.RunStep(req)
        if resp.status.code:
            raise wire.error_from_status(resp.status, graph)
        return [wire.from_wire(nt.tensor) for nt in resp.tensor], resp

    def close(self):
        self.master.close()
        for w in self.workers.values():
            w.close()


class _DeadClient:
    def __init__(self, task):
        self.task = task

    def __getattr__(self, name):
        def call(request, timeout=None):
            raise errors.UnavailableError(None, None, f"Task {self.task} is unavailable (test)")
        return call


@pytest.fixture
def cluster():
    c = InProcessCluster()
    yield c
    c.close()


def test_variable_on_ps_computation_on_workers(cluster):
    g = tf.Graph()
    with g.as_default():
        with tf.device("/job:ps/task:0"):
            v = tf.Variable([1.0, 2.0, 3.0], name="v")
        with tf.device("/job:worker/task:1"):
            y = v * 2.0
        x = tf.placeholder(tf.float32, [3], name="x")
        z = y + x
        inc = tf.assign_add(v, x)
    h = cluster.session(g)
    cluster.run(h, g, targets=[v.initializer])
    (out,), resp = cluster.run(h, g, [z], feeds={x: [1, 1, 1]})
    np.testing.assert_allclose(out, [3, 5, 7])
    where = {p.node: p.device for p in resp.placement}
    assert where["v"] == "/job:ps/replica:0/task:0/device:CPU:0"
    assert where["mul"] == "/job:worker/replica:0/task:1/device:CPU:0"
    # Unconstrained nodes stay on the master's own task.
    assert where["add"] == "/job:worker/replica:0/task:0/device:CPU:0"
    cluster.run(h, g, targets=[inc.op], feeds={x: [1, 1, 1]})
    (val,), _ = cluster.run(h, g, [v])
    np.testing.assert_allclose(val, [2, 3, 4])
    # The state lives on the ps task's device, outside any session.
    ps = cluster.workers["/job:ps/replica:0/task:0"]
    assert any(k[1] == "v" for k, _ in ps.devices[0].resources.items())


def test_variables_outlive_client_sessions(cluster):
    g = tf.Graph()
    with g.as_default(), tf.device("/job:ps/task:0"):
        v = tf.Variable(5.0, name="shared")
        bump = tf.assign_add(v, 1.0)
    h1 = cluster.session(g)
    cluster.run(h1, g, targets=[v.initializer])
    cluster.run(h1, g, targets=[bump.op])
    cluster.master.CloseSession(mpb.CloseSessionRequest(session_handle=h1))
    h2 = cluster.session(g)
    (val,), _ = cluster.run(h2, g, [v])
    assert val == 6.0


def test_extend_session_adds_nodes(cluster):
    g = tf.Graph()
    with g.as_default():
        a = tf.constant(2.0, name="a")
    h = cluster.session(g)
    with g.as_default():
        b = tf.multiply(a, 5.0, name="b")
    gd = g.as_graph_def()
    new = [nd for nd in gd.node if nd.name not in ("a",)]
    req = mpb.ExtendSessionRequest(session_handle=h, current_graph_version=1)
    req.graph_def.node.extend(new)
    assert cluster.master.ExtendSession(req).new_graph_version == 1 + len(new)
    (out,), _ = cluster.run(h, g, [b])
    assert out == 10.0
    with pytest.raises(errors.AbortedError, match="graph version"):
        cluster.master.ExtendSession(mpb.ExtendSessionRequest(session_handle=h, current_graph_version=1))


def test_error_names_the_op_and_the_task(cluster):
    g = tf.Graph()
    with g.as_default(), tf.device("/job:worker/task:1"):
        x = tf.placeholder(tf.float32, [None], name="x")
        m = tf.reshape(x, [3], name="bad_reshape")
    h = cluster.session(g)
    with pytest.raises(errors.InvalidArgumentError) as ei:
        cluster.run(h, g, [m], feeds={x: [1.0, 2.0]})
    assert "bad_reshape" in str(ei.value)
    assert ei.value.op is m.op  # mapped back onto the client's graph: "defined at" shows user code
    assert ei.value.task == "/job:worker/replica:0/task:1"
    assert "test_master_worker.py" in str(ei.value)


def test_failure_in_one_task_cancels_the_others(cluster):
    """A Recv waiting on a task whose partition failed is cancelled: the step fails, nothing waits."""
    g = tf.Graph()
    with g.as_default():
        with tf.device("/job:worker/task:1"):
            x = tf.placeholder(tf.float32, [None], name="x")
            bad = tf.reshape(x, [3])
        with tf.device("/job:ps/task:0"):
            y = bad * 2.0
        z = y + 1.0
    h = cluster.session(g)
    t = time.monotonic()
    with pytest.raises(errors.InvalidArgumentError):
        cluster.run(h, g, [z], feeds={x: [1.0, 2.0]})
    assert time.monotonic() - t < 2.0
    time.sleep(0.1)  # cleanup is asynchronous
    assert all(not w._steps for w in cluster.workers.values())


def test_dead_task_fails_the_step_with_unavailable(cluster):
    g = tf.Graph()
    with g.as_default():
        with tf.device("/job:ps/task:0"):
            v = tf.Variable(1.0, name="v")
        y = v + 1.0
    h = cluster.session(g)
    cluster.run(h, g, targets=[v.initializer])
    cluster.dead.add("/job:ps/replica:0/task:0")
    with pytest.raises(errors.UnavailableError, match="task:0"):
        cluster.run(h, g, [y])


def test_blocked_step_fails_when_a_task_stops_answering(cluster, monkeypatch):
    """Heartbeats: a task that hangs (never answers RunGraph) and then fails GetStatus ends the step."""
    from labflow.distributed import master as master_mod
    monkeypatch.setattr(master_mod, "HEARTBEAT_S", 0.2)
    g = tf.Graph()
    with g.as_default():
        with tf.device("/job:worker/task:1"):
            a = tf.constant(1.0) * 3.0
        b = a + 1.0
    h = cluster.session(g)
    cluster.run(h, g, [b])
    hang = threading.Event()
    w1 = cluster.workers["/job:worker/replica:0/task:1"]
    real = w1.RunGraph
    monkeypatch.setattr(w1, "RunGraph", lambda req: (hang.wait(10), real(req))[1])
    timer = threading.Timer(0.3, lambda: cluster.dead.add("/job:worker/replica:0/task:1"))
    timer.start()
    t = time.monotonic()
    try:
        with pytest.raises(errors.UnavailableError, match="task:1"):
            cluster.run(h, g, [b])
        assert time.monotonic() - t < 3.0
    finally:
        hang.set()
        timer.cancel()


def test_partition_graph_def_round_trip():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        with tf.device("/cpu:1"):
            w = tf.Variable(tf.ones([3, 2]), name="w")
        y = tf.nn.relu(tf.matmul(x, w))
    devs = make_local_devices({"CPU": 2})
    order = prune.prune([y], [], {x})
    placement, _ = placer.place(order, devs)
    parts = partition.partition(order, placement, [x], [y], [])
    by_name = {d.name: d for d in devs}
    for p in parts:
        back = partition_from_graph_def(partition_to_graph_def(p), by_name)
        assert [n.name for n in back.nodes] == [n.name for n in p.nodes]
        assert [n.type for n in back.nodes] == [n.type for n in p.nodes]
        assert back.feed_indices == p.feed_indices


def test_register_rejects_unregistered_ops_and_foreign_devices():
    w = Worker("worker", 0)
    try:
        req = wpb.RegisterGraphRequest(num_fetches=0)
        gd = req.partition.add()
        gd.node.add(name="evil", op="PyEval", device=w.devices[0].name)
        with pytest.raises(errors.InvalidArgumentError, match="not registered"):
            w.RegisterGraph(req)
        req2 = wpb.RegisterGraphRequest(num_fetches=0)
        req2.partition.add().node.add(name="c", op="NoOp", device="/job:ps/replica:0/task:3/device:CPU:0")
        with pytest.raises(errors.InvalidArgumentError, match="does not have"):
            w.RegisterGraph(req2)
    finally:
        w.close()


def test_run_graph_on_unknown_handle_is_aborted():
    w = Worker("worker", 0)
    try:
        resp = w.RunGraph(wpb.RunGraphRequest(graph_handle="nope", step_id=1))
        assert resp.status.code == errors.ABORTED
    finally:
        w.close()


def test_late_recv_for_a_finished_step_is_refused():
    w = Worker("worker", 0)
    try:
        w.CleanupGraph(wpb.CleanupGraphRequest(step_id=7))
        msgs = list(w.RecvTensor(wpb.RecvTensorRequest(step_id=7, rendezvous_key="k")))
        assert wire.parse_chunk(msgs[0])[0].status.code == errors.ABORTED
    finally:
        w.close()


def test_chunk_framing_is_valid_protobuf():
    head = wpb.RecvTensorResponse(total_bytes=5)
    head.header.shape.extend([5])
    data = wire.encode_chunk(300, memoryview(b"hello"), head)
    msg = wpb.RecvTensorResponse.FromString(data)  # what any protobuf reader sees
    assert (msg.offset, msg.data, msg.total_bytes, list(msg.header.shape)) == (300, b"hello", 5, [5])
    parsed, offset, piece = wire.parse_chunk(data)
    assert (offset, bytes(piece), parsed.total_bytes) == (300, b"hello", 5)
    with pytest.raises(errors.DataLossError):
        wire.parse_chunk(data[:-2])


def test_large_tensor_streams_in_chunks(cluster):
    g = tf.Graph()
    with g.as_default():
        with tf.device("/job:ps/task:0"):
            big = tf.random_uniform([3, 1 << 20], seed=1)  # 12 MiB: three 4 MiB chunks and more
        with tf.device("/job:worker/task:1"):
            s = tf.reduce_sum(big, axis=1)
        both = tf.stack([s, tf.reduce_sum(big, axis=1)])
    h = cluster.session(g)
    (out,), _ = cluster.run(h, g, [both])
    np.testing.assert_allclose(out[0], out[1], rtol=1e-5)


def test_device_filters_limit_a_session_to_some_tasks(cluster):
    """TF's ConfigProto.device_filters: a session sees (and waits for) only the tasks they match."""
    from labflow.runtime.config import ConfigProto, config_to_proto
    cluster.dead.add("/job:worker/replica:0/task:1")  # down, but filtered out: the session does not care
    g = tf.Graph()
    with g.as_default():
        with tf.device("/job:ps/task:0"):
            v = tf.Variable(2.0, name="filtered")
        y = v * 3.0
    req = mpb.CreateSessionRequest(graph_def=g.as_graph_def(),
                                   config=config_to_proto(ConfigProto(device_filters=["/job:ps"])))
    h = cluster.master.CreateSession(req).session_handle
    cluster.run(h, g, targets=[v.initializer])
    (out,), resp = cluster.run(h, g, [y])
    assert out == 6.0
    assert {p.device.rsplit("/device:", 1)[0] for p in resp.placement} <= {
        "/job:ps/replica:0/task:0", "/job:worker/replica:0/task:0"}
    listed = cluster.master.ListDevices(mpb.ListDevicesRequest(session_handle=h))  # the session's devices
    assert {d.name.rsplit("/device:", 1)[0] for d in [*listed.local_device, *listed.remote_device]} == {
        "/job:ps/replica:0/task:0", "/job:worker/replica:0/task:0"}


def test_control_flow_runs_on_a_remote_task_with_its_functions(cluster):
    # The While/If functions travel in the GraphDef library: client -> master -> the worker that runs them.
    g = tf.Graph()
    with g.as_default():
        with tf.device("/job:ps/task:0"):
            w = tf.Variable([0.5, 2.0], name="w")
        x = tf.placeholder(tf.float32, [2], name="x")
        with tf.device("/job:worker/task:1"):
            _, y = tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, tf.cond(
                tf.reduce_sum(a) > 100.0, lambda: a, lambda: a * w)), [0, x])
            (gw,) = tf.gradients(tf.reduce_sum(y), [w])
    h = cluster.session(g)
    cluster.run(h, g, targets=[w.initializer])
    (out, grad), resp = cluster.run(h, g, [y, gw], feeds={x: [1.0, 1.0]})
    np.testing.assert_allclose(out, [0.125, 8.0])
    np.testing.assert_allclose(grad, [3 * 0.25, 3 * 4.0])  # d(x w^3)/dw = 3 x w^2
    where = {p.node: p.device for p in resp.placement}
    assert where["while"] == "/job:worker/replica:0/task:1/device:CPU:0"
