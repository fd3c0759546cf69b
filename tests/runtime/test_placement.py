"""Placement rules: explicit and partial constraints, colocation, kernel availability, the cost model."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.framework import registry
from labflow.framework.registry import op
from labflow.ops.common import same_as_input

FOUR_CPUS = tf.ConfigProto(device_count={"CPU": 4})
CPU = "/job:localhost/replica:0/task:0/device:CPU:"


def _placed(sess) -> dict:
    return {p.node: p for p in sess.placements()}


def test_mixed_constraints_over_four_cpus():
    x = tf.placeholder(tf.float32, [64, 64], name="x")
    with tf.device("/cpu:2"):
        explicit = tf.matmul(x, x, name="explicit")
    with tf.device("/job:localhost"):  # partial: any CPU of this task
        partial = tf.matmul(explicit, x, name="partial")
    with tf.device("/cpu:3"):
        anchor = tf.identity(partial, name="anchor")
    with tf.device("/cpu:0"), tf.colocate_with(anchor):
        colocated = tf.add(anchor, anchor, name="colocated")
    free = tf.add(colocated, explicit, name="free")
    with tf.Session(config=FOUR_CPUS) as sess:
        out = sess.run(free, {x: np.eye(64, dtype=np.float32)})
        p = _placed(sess)
        parts = {cp.device.name: [n.type for n in cp.nodes] for cp in next(iter(sess._cache.values())).partitions}
    np.testing.assert_allclose(out, 3 * np.eye(64))
    assert p["explicit"].device == CPU + "2" and p["explicit"].reason.startswith("explicit")
    assert p["anchor"].device == CPU + "3"
    assert p["colocated"].device == CPU + "3"  # colocation beats the enclosing device scope
    assert "cost model" in p["partial"].reason and "cost model" in p["free"].reason
    # partial's inputs both live on CPU:2, so finishing there is cheapest (no transfer)
    assert p["partial"].device == CPU + "2"
    # every cross-device edge has exactly one Send on the producer side and one Recv on the consumer side
    sends = sum(k.count("_Send") for k in parts.values())
    recvs = sum(k.count("_Recv") for k in parts.values())
    assert sends == recvs and sends >= 2


def test_cost_model_puts_two_towers_on_two_devices():
    x = tf.placeholder(tf.float32, [256, 256], name="x")
    towers = []
    for t in range(2):
        h = x
        with tf.name_scope(f"tower{t}"):
            for i in range(4):
                h = tf.matmul(h, x, name=f"mm{i}")
        towers.append(h)
    out = tf.add(towers[0], towers[1], name="merge")
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        sess.run(out, {x: np.eye(256, dtype=np.float32)})
        p = _placed(sess)
    d0 = {p[f"tower0/mm{i}"].device for i in range(4)}
    d1 = {p[f"tower1/mm{i}"].device for i in range(4)}
    assert len(d0) == 1 and len(d1) == 1 and d0 != d1


def test_no_kernel_on_requested_device_errors_or_soft_places():
    registry._REGISTRY.pop("_TestGpuOnly", None)

    @op("_TestGpuOnly", inputs=("x",), shape=same_as_input, devices=("GPU",), not_differentiable=True)
    def k(xp, x):
        return x

    try:
        x = tf.constant([1.0])
        with tf.device("/cpu:0"):
            y = tf.get_default_graph().create_op("_TestGpuOnly", [x], name="gpu_only").outputs[0]
        with tf.Session() as sess:
            with pytest.raises(tf.errors.InvalidArgumentError, match=r"gpu_only.*Kernels exist for: GPU"):
                sess.run(y)
    finally:
        registry._REGISTRY.pop("_TestGpuOnly", None)


def test_variable_ops_share_the_variable_device():
    with tf.device("/cpu:1"):
        v = tf.Variable(1.0, name="v")
    with tf.device("/cpu:0"):
        inc = tf.assign_add(v, 2.0, name="inc")
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        sess.run(v.initializer)
        assert sess.run(inc) == 3.0
        p = _placed(sess)
    assert p["inc"].device == p["v"].device == CPU + "1"


def test_fp16_on_the_wire_halves_bytes_and_widens_back():
    x = tf.placeholder(tf.float32, [1000], name="x")
    with tf.device("/cpu:0"):
        a = tf.identity(x, name="a")
    with tf.device("/cpu:1"):
        b = tf.reduce_sum(a, name="b")
    data = np.linspace(0, 1, 1000).astype(np.float32)
    results = {}
    for wire in (None, "float16"):
        cfg = tf.ConfigProto(device_count={"CPU": 2}, graph_options=tf.GraphOptions(send_recv_dtype=wire))
        with tf.Session(config=cfg) as sess:
            v = sess.run(b, {x: data})
            results[wire] = (v, sess.transfer_stats()["bytes"])
    (v32, bytes32), (v16, bytes16) = results[None], results["float16"]
    assert v32.dtype == np.float32 and v16.dtype == np.float32
    assert bytes16 * 2 == bytes32 == 4000
    np.testing.assert_allclose(v16, v32, rtol=1e-3)


def test_variables_stay_on_their_device_across_steps():
    x = tf.placeholder(tf.float32, [None, 4])
    W = tf.Variable(tf.zeros([4, 2]), name="W")
    b = tf.Variable(tf.zeros([2]), name="b")
    train = tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(tf.matmul(x, W) + b))
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        sess.run(tf.global_variables_initializer())
        first = _placed(sess)
        sess.run(train, {x: np.ones((3, 4))})  # a different step: must find W and b initialized
        second = _placed(sess)
        np.testing.assert_allclose(sess.run(b), [-0.3, -0.3])
    assert first["W"].device == second["W"].device and first["b"].device == second["b"].device
    assert "stateful" in second["W"].reason



def test_control_only_noop_moves_next_to_the_ops_it_orders():
    """An optimizer's `update` NoOp put on a worker while its updates run elsewhere would cost two
    cross-device round trips per step; it goes where the updates are (the reason says so)."""
    with tf.device("/cpu:1"):  # the "ps"
        w = tf.Variable(tf.ones([3]), name="w")
        gs = tf.train.get_or_create_global_step()
    with tf.device("/cpu:0"):
        loss = tf.reduce_sum(tf.square(w * 2.0))
    with tf.device("/cpu:0"):
        train = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=gs)
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(train)
        placed = {p.node: p for p in sess.placements()}
    upd = placed["GradientDescent/update"]
    assert upd.device.endswith("CPU:1") and "NoOp carries only control edges" in upd.reason
