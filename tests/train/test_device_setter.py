"""replica_device_setter: variables round robin / greedy on ps tasks, other ops on the worker."""

from __future__ import annotations

import pytest

import labflow as tf
from labflow.distributed.cluster import ClusterSpec
from labflow.train.device_setter import GreedyLoadBalancingStrategy, byte_size_load_fn, replica_device_setter

CLUSTER = {"ps": ["ps0:2222", "ps1:2222"], "worker": ["w0:2222", "w1:2222", "w2:2222"]}


def test_round_robin_variables_on_ps_rest_on_worker():
    with tf.device(replica_device_setter(ps_tasks=2)):
        v = tf.Variable([1.0, 2.0], name="v")
        w = tf.Variable([3.0, 4.0], name="w")
        u = tf.Variable(5.0, name="u")
        a = v + w
    assert v.op.device == "/job:ps/task:0"
    assert w.op.device == "/job:ps/task:1"
    assert u.op.device == "/job:ps/task:0"
    assert a.op.device == "/job:worker"
    # The `read` Identity is colocated with its variable (TF: colocate_with), so it follows it to the ps.
    assert v.value().op.device == "/job:ps/task:0"
    assert v.value().op.colocation_groups() == [b"loc:@v"]
    assert w.value().op.device == "/job:ps/task:1"


@pytest.mark.parametrize("make", [lambda: CLUSTER, lambda: ClusterSpec(CLUSTER),
                                  lambda: ClusterSpec(CLUSTER).as_cluster_def()])
def test_cluster_forms(make):
    with tf.device(replica_device_setter(cluster=make(), worker_device="/job:worker/task:1")):
        v = tf.Variable(1.0, name="v")
        w = tf.Variable(1.0, name="w")
        s = tf.add(v, w, name="s")
    assert (v.op.device, w.op.device) == ("/job:ps/task:0", "/job:ps/task:1")
    assert s.op.device == "/job:worker/task:1"


def test_none_without_ps():
    assert replica_device_setter() is None
    assert replica_device_setter(cluster={"worker": ["w0:1"]}) is None
    assert replica_device_setter(ps_tasks=0, cluster=None) is None


def test_inner_device_scopes_merge():
    with tf.device(replica_device_setter(ps_tasks=2)):
        with tf.device("/cpu:0"):
            v = tf.Variable(1.0, name="v")
            x = tf.identity(v, name="x")
        with tf.device("/job:ps/task:1"):
            w = tf.Variable(1.0, name="w")  # the op's own task wins over the strategy's
        with tf.device("/job:other"):
            z = tf.Variable(1.0, name="z")  # another job: no task chosen
    assert v.op.device == "/job:ps/task:0/device:CPU:0"
    assert x.op.device == "/job:worker/device:CPU:0"
    assert w.op.device == "/job:ps/task:1"
    assert z.op.device == "/job:other"


def test_merge_devices_false_keeps_existing_device():
    with tf.device(replica_device_setter(ps_tasks=2, merge_devices=False)):
        with tf.device("/cpu:0"):
            x = tf.constant(1.0, name="x")
        y = tf.constant(2.0, name="y")
    assert x.op.device == "/device:CPU:0"
    assert y.op.device == "/job:worker"


def test_custom_ps_ops_and_devices():
    with tf.device(replica_device_setter(ps_tasks=3, ps_device="/job:params", worker_device="/job:trainer/task:2",
                                         ps_ops=["Const"])):
        c1 = tf.constant(1.0, name="c1")
        c2 = tf.constant(2.0, name="c2")
        s = tf.add(c1, c2)
    assert (c1.op.device, c2.op.device) == ("/job:params/task:0", "/job:params/task:1")
    assert s.op.device == "/job:trainer/task:2"


def test_ps_strategy_must_be_callable():
    with pytest.raises(TypeError, match="ps_strategy must be callable"):
        replica_device_setter(ps_tasks=2, ps_strategy=3)


def test_greedy_strategy_balances_by_bytes():
    strategy = GreedyLoadBalancingStrategy(2, byte_size_load_fn)
    with tf.device(replica_device_setter(ps_tasks=2, ps_strategy=strategy)):
        big = tf.Variable(tf.zeros([100, 100]), name="big")         # 40000 bytes -> task 0
        smalls = [tf.Variable(tf.zeros([10]), name=f"s{i}") for i in range(5)]  # 40 bytes each -> task 1
        mid = tf.Variable(tf.zeros([1000], dtype=tf.float64), name="mid")  # 8000 bytes -> still task 1
    assert big.op.device == "/job:ps/task:0"
    assert {s.op.device for s in smalls} == {"/job:ps/task:1"}
    assert mid.op.device == "/job:ps/task:1"
    assert list(strategy._ps_loads) == [40000, 5 * 40 + 8000]


def test_byte_size_load_fn():
    v = tf.Variable(tf.zeros([3, 4], dtype=tf.float64))
    assert byte_size_load_fn(v.op) == 96
    s = tf.Variable(tf.constant(1, dtype=tf.int32))
    assert byte_size_load_fn(s.op) == 4
    x = tf.placeholder(tf.float32, [None, 3])
    with pytest.raises(ValueError, match="not fully defined"):
        byte_size_load_fn(x.op)
    a, _ = tf.unstack(tf.zeros([2, 3]))
    with pytest.raises(ValueError, match="single output"):
        byte_size_load_fn(a.op)


def test_optimizer_slots_go_to_ps():
    with tf.device(replica_device_setter(ps_tasks=2)):
        gs = tf.train.get_or_create_global_step()
        w = tf.Variable(tf.ones([4]), name="w")
        loss = tf.reduce_sum(tf.square(w))
        tf.train.AdamOptimizer(0.1).minimize(loss, global_step=gs)
    for v in tf.global_variables():
        assert v.op.device.startswith("/job:ps/task:"), (v.op.name, v.op.device)
    assert loss.op.device == "/job:worker"


def test_ref_consumers_take_the_variable_device_at_build_time():
    """TF's op_def_library colocates an op with its ref input: the initializer and updates sit on the ps."""
    with tf.device(tf.train.replica_device_setter(ps_tasks=2)):
        v = tf.Variable([1.0, 2.0], name="v")
        w = tf.Variable([3.0, 4.0], name="w")
        upd = tf.assign_add(w, [1.0, 1.0])
        a = v + w
    assert v.device == "/job:ps/task:0" and v.initializer.device == "/job:ps/task:0"
    assert w.initializer.device == "/job:ps/task:1" and upd.op.device == "/job:ps/task:1"
    assert upd.op.colocation_groups() == [b"loc:@w"]
    assert a.device == "/job:worker"
