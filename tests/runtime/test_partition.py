"""Multi-device steps: placement by device scopes, Send/Recv partitioning, concurrency, cancellation."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import labflow as tf

TWO_CPUS = tf.ConfigProto(device_count={"CPU": 2})


def _plans(sess):
    (step,) = sess._cache.values()
    return step.partitions


def test_graph_across_two_cpus_matches_single_device():
    def build():
        x = tf.placeholder(tf.float32, [3], name="x")
        with tf.device("/cpu:0"):
            a = tf.add(x, x, name="a")
        with tf.device("/cpu:1"):
            b = tf.add(a, x, name="b")
            s = tf.reduce_sum(b, name="s")
        with tf.device("/cpu:0"):
            out = tf.add(s, a, name="out")
        return x, out

    x, out = build()
    feed = {x: np.array([1.0, 2.0, 3.0], np.float32)}
    with tf.Session(config=TWO_CPUS) as sess:
        got = sess.run(out, feed)
        parts = _plans(sess)
        devices = sorted(p.device.name for p in parts)
        kinds = [n.type for p in parts for n in p.nodes]
    assert devices == ["/job:localhost/replica:0/task:0/device:CPU:0",
                       "/job:localhost/replica:0/task:0/device:CPU:1"]
    # a -> b crosses, x is fed to both (no Send for feeds), s -> out crosses back.
    assert kinds.count("_Send") == 2 and kinds.count("_Recv") == 2
    np.testing.assert_allclose(got, 18.0 + np.array([2.0, 4.0, 6.0]))


def test_rendezvous_keys_have_tf_format():
    with tf.device("/cpu:0"):
        a = tf.constant([1.0], name="a")
    with tf.device("/cpu:1"):
        b = tf.identity(a, name="b")
    with tf.Session(config=TWO_CPUS) as sess:
        sess.run(b)
        sends = [n for p in _plans(sess) for n in p.nodes if n.type == "_Send"]
    (s,) = sends
    src, inc, dst, name, frame = s.attrs["key"].split(";")
    assert src.endswith("CPU:0") and dst.endswith("CPU:1")
    assert len(inc) == 16 and int(inc, 16) >= 0
    assert name.startswith("edge_") and name.endswith("_a") and frame == "0:0"


def test_one_send_recv_pair_per_tensor_and_destination():
    with tf.device("/cpu:0"):
        a = tf.constant([1.0, 2.0], name="a")
    with tf.device("/cpu:1"):
        b = tf.add(a, a, name="b")
        c = tf.add(a, b, name="c")
    with tf.Session(config=TWO_CPUS) as sess:
        np.testing.assert_array_equal(sess.run(c), [3.0, 6.0])
        kinds = [n.type for p in _plans(sess) for n in p.nodes]
    assert kinds.count("_Send") == 1 and kinds.count("_Recv") == 1


def test_control_dependency_across_devices_orders_execution():
    x = tf.placeholder(tf.float32, [], name="x")
    with tf.device("/cpu:0"):
        first = tf.identity(x, name="first")
    with tf.device("/cpu:1"):
        with tf.control_dependencies([first]):
            second = tf.add(x, x, name="second")
    with tf.Session(config=TWO_CPUS) as sess:
        assert sess.run(second, {x: 2.0}) == 4.0
        kinds = [n.type for p in _plans(sess) for n in p.nodes]
    assert "_ControlTrigger" in kinds and kinds.count("_Send") == 1


def test_failing_partition_cancels_the_step_without_hanging():
    x = tf.placeholder(tf.float32, name="x")
    with tf.device("/cpu:0"):
        bad = tf.reshape(x, [5], name="bad_reshape")
    with tf.device("/cpu:1"):
        out = tf.add(bad, bad, name="out")
    with tf.Session(config=TWO_CPUS) as sess:
        done = []

        def run():
            try:
                sess.run(out, {x: np.ones(3, np.float32)})
            except tf.errors.InvalidArgumentError as e:
                done.append(e)

        t = threading.Thread(target=run)
        t.start()
        t.join(20)
        assert not t.is_alive(), "step hung after a partition failed"
    (err,) = done
    assert "bad_reshape" in str(err) and err.op is bad.op


def test_partitions_run_concurrently():
    # Each partition waits on the other's Send: this only finishes if they run at the same time.
    with tf.device("/cpu:0"):
        a = tf.constant(1.0, name="a")
    with tf.device("/cpu:1"):
        b = tf.add(a, a, name="b")
    with tf.device("/cpu:0"):
        c = tf.add(b, a, name="c")
    with tf.device("/cpu:1"):
        d = tf.add(c, b, name="d")
    with tf.Session(config=TWO_CPUS) as sess:
        t0 = time.perf_counter()
        assert sess.run(d) == 5.0
        assert time.perf_counter() - t0 < 10


def test_unknown_device_errors_and_soft_placement():
    with tf.device("/cpu:7"):
        a = tf.constant(1.0, name="far")
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"far.*/device:CPU:7.*allow_soft_placement"):
            sess.run(a)
    with tf.Session(config=tf.ConfigProto(allow_soft_placement=True)) as sess:
        assert sess.run(a) == 1.0
        (p,) = sess.placements()
    assert p.device.endswith("CPU:0") and "soft placement" in p.reason


def test_colocation_overrides_device_scope():
    with tf.device("/cpu:1"):
        a = tf.constant(1.0, name="a")
    with tf.device("/cpu:0"):
        with tf.colocate_with(a):
            b = tf.identity(a, name="b")
    assert b.op.device == a.op.device
    with tf.Session(config=TWO_CPUS) as sess:
        sess.run(b)
        devs = {p.node: p.device for p in sess.placements()}
    assert devs["a"] == devs["b"] and devs["b"].endswith("CPU:1")


def test_run_metadata_partition_graphs():
    with tf.device("/cpu:0"):
        a = tf.constant([1.0, 2.0], name="a")
    with tf.device("/cpu:1"):
        b = tf.add(a, a, name="b")
    md = tf.RunMetadata()
    opts = tf.RunOptions(output_partition_graphs=True)
    with tf.Session(config=TWO_CPUS) as sess:
        sess.run(b, options=opts, run_metadata=md)
    assert len(md.partition_graphs) == 2
    by_dev = {}
    for gd in md.partition_graphs:
        devs = {n.device for n in gd.node}
        assert len(devs) == 1 and next(iter(devs)).startswith("/job:localhost/replica:0/task:0/device:CPU:")
        by_dev[next(iter(devs))] = {n.op: n for n in gd.node}
    p0 = by_dev["/job:localhost/replica:0/task:0/device:CPU:0"]
    p1 = by_dev["/job:localhost/replica:0/task:0/device:CPU:1"]
    assert "_Send" in p0 and "_Recv" in p1
    assert p0["_Send"].attr["tensor_name"].s == p1["_Recv"].attr["tensor_name"].s
    assert p0["_Send"].input == ["a"] and p1["Add"].input[0] == p1["_Recv"].name
