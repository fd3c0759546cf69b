"""Elementwise clustering (runtime/elementwise_fusion.py) and the _FusedElementwise kernel."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.ops import fused_elementwise_ops as fe
from labflow.runtime import elementwise_fusion

JIT = tf.ConfigProto(graph_options=tf.GraphOptions(optimizer_options=tf.OptimizerOptions(
    global_jit_level=tf.OptimizerOptions.ON_1, cpu_global_jit=True)))


def _run(fetches, feeds=None, config=None):
    """(values, partition nodes) of one run."""
    with tf.Session(config=config) as s:
        s.run(tf.global_variables_initializer())
        md = tf.RunMetadata()
        out = s.run(fetches, feeds, options=tf.RunOptions(output_partition_graphs=True), run_metadata=md)
    return out, [n for gd in md.partition_graphs for n in gd.node]


def _fused(nodes):
    return [n for n in nodes if n.op == "_FusedElementwise"]


def _lstm_cell(x, h, c, w):
    i, j, f, o = tf.split(tf.matmul(tf.concat([x, h], 1), w), 4, axis=1)
    c = c * tf.sigmoid(f) + tf.sigmoid(i) * tf.tanh(j)
    return tf.sigmoid(o) * tf.tanh(c), c


def test_cpu_is_not_clustered_by_default_and_gpu_is():
    opts = tf.OptimizerOptions()
    assert not elementwise_fusion.enabled("CPU", opts)
    assert elementwise_fusion.enabled("GPU", opts)
    assert not elementwise_fusion.enabled("GPU", tf.OptimizerOptions(global_jit_level=tf.OptimizerOptions.OFF))
    assert not elementwise_fusion.enabled("CPU", tf.OptimizerOptions(global_jit_level=tf.OptimizerOptions.ON_1))
    assert elementwise_fusion.enabled("CPU", JIT.graph_options.optimizer_options)


def test_lstm_training_matches_unfused_and_each_cell_is_one_node():
    rng = np.random.RandomState(0)
    x = tf.constant(rng.randn(3, 4, 5).astype(np.float32))
    w = tf.Variable(rng.uniform(-0.3, 0.3, (10, 20)).astype(np.float32))
    h = c = tf.zeros([4, 5])
    for t in range(3):
        h, c = _lstm_cell(x[t], h, c, w)
    loss = tf.reduce_sum(h * h)
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    losses = {}
    for name, cfg in (("plain", None), ("jit", JIT)):
        with tf.Session(config=cfg) as s:
            s.run(tf.global_variables_initializer())
            losses[name] = [s.run([train, loss])[1] for _ in range(4)]
    np.testing.assert_allclose(losses["jit"], losses["plain"], rtol=1e-6)
    assert losses["jit"][-1] < losses["jit"][0]
    _, nodes = _run(loss, config=JIT)
    fused = _fused(nodes)
    # The forward gate math of each of the three cells: ten ops each, one node each.
    assert len(fused) == 3
    assert all(len(n.attr["fused_names"].list.s) >= 9 for n in fused)
    _, nodes = _run(train, config=JIT)
    assert len(_fused(nodes)) >= 6  # and the backward pass's


def test_a_path_that_leaves_the_cluster_and_comes_back_splits_it():
    # b -> Sum (not fusable) -> d, and b -> d directly: fusing b with d would make d wait for itself.
    a = tf.placeholder(tf.float32, [2, 3])
    b = tf.tanh(a) * 2.0
    s = tf.reduce_sum(b, axis=1, keepdims=True)
    d = tf.sigmoid(b + s)
    out, nodes = _run(d, {a: np.ones((2, 3))}, JIT)
    t = np.tanh(1.0) * 2
    np.testing.assert_allclose(out, np.full((2, 3), 1 / (1 + np.exp(-(t + 3 * t)))), rtol=1e-6)
    for n in _fused(nodes):
        names = {v.decode() for v in n.attr["fused_names"].list.s}
        assert not ({"mul", "Sigmoid"} <= names), names


def test_values_read_outside_the_cluster_become_outputs():
    a = tf.placeholder(tf.float32, [4])
    e = tf.exp(a)
    f = tf.square(e) - e
    g = tf.reduce_sum(e)  # a non-member reads e
    av = np.array([0.0, 1.0, -1.0, 2.0], np.float32)
    (ev, fv, gv), nodes = _run([e, f, g], {a: av}, JIT)
    np.testing.assert_allclose(ev, np.exp(av), rtol=1e-6)
    np.testing.assert_allclose(fv, np.exp(av) ** 2 - np.exp(av), rtol=1e-6)
    np.testing.assert_allclose(gv, np.exp(av).sum(), rtol=1e-6)
    (n,) = _fused(nodes)
    assert len(n.attr["outputs"].list.i) == 2


def test_control_edges_are_kept():
    v = tf.Variable(0.0)
    a = tf.placeholder(tf.float32, [3])
    bump = tf.assign_add(v, 1.0)
    with tf.control_dependencies([bump]):
        b = tf.tanh(a) + 1.0
    c = tf.sigmoid(b) * b
    with tf.control_dependencies([c.op]):  # c gates another node: it is not fused away
        after = tf.identity(v)
    with tf.Session(config=JIT) as s:
        s.run(v.initializer)
        out, n = s.run([c, after], {a: np.zeros(3)})
        assert n == 1.0 and s.run(v) == 1.0
    np.testing.assert_allclose(out, 1 / (1 + np.exp(-1.0)), rtol=1e-6)


def test_unknown_batch_dimension_and_broadcast_inputs():
    a = tf.placeholder(tf.float32, [None, 3])
    bias = tf.constant([1.0, 2.0, 3.0])
    y = tf.nn.relu(tf.tanh(a) * bias - 0.5)
    for rows in (1, 5):
        av = np.random.RandomState(rows).randn(rows, 3).astype(np.float32)
        out, nodes = _run(y, {a: av}, JIT)
        np.testing.assert_allclose(out, np.maximum(np.tanh(av) * [1, 2, 3] - 0.5, 0), rtol=1e-6)
        assert len(_fused(nodes)) == 1


def test_one_kernel_only_when_every_output_has_the_full_shape():
    prog = ["Neg 0", "Mul 2 1"]
    assert fe.fits_one_kernel([(4, 3), (4, 3)], prog, [3])
    assert fe.fits_one_kernel([(1, 3), (4, 3)], prog, [3])
    # Neg of the [1, 3] input is an output of its own: one kernel over [4, 3] would return it broadcast.
    assert not fe.fits_one_kernel([(1, 3), (4, 3)], prog, [2, 3])


def test_bad_programs_name_the_problem():
    x = tf.constant([1.0, 2.0])
    g = tf.get_default_graph()
    with pytest.raises(ValueError, match="not one of the fusable op types"):
        g.create_op("_FusedElementwise", [x], attrs={"program": ["MatMul 0 0"], "outputs": [1]})
    with pytest.raises(ValueError, match="does not exist yet"):
        g.create_op("_FusedElementwise", [x], attrs={"program": ["Neg 1"], "outputs": [1]})
    with pytest.raises(ValueError, match="takes 2 operands"):
        g.create_op("_FusedElementwise", [x], attrs={"program": ["Mul 0"], "outputs": [1]})
    with pytest.raises(ValueError, match="outputs"):
        g.create_op("_FusedElementwise", [x], attrs={"program": ["Neg 0"], "outputs": [5]})


def test_fused_partition_survives_a_graph_def_round_trip():
    # A master sends partitions to workers as GraphDefs: the program travels as string and int lists.
    pytest.importorskip("grpc")
    from labflow.distributed.worker_graph import partition_from_graph_def, partition_to_graph_def
    from labflow.runtime import executor, partition, placer, prune
    from labflow.runtime.devices import make_local_devices

    a = tf.placeholder(tf.float32, [2])
    y = tf.sigmoid(a) * tf.tanh(a)
    devs = make_local_devices({"CPU": 1})
    order = prune.prune([y], [], {a})
    placement, _ = placer.place(order, devs, False)
    (part,) = partition.partition(order, placement, [a], [y], [])
    assert elementwise_fusion.fuse_elementwise(part) == 2
    back = partition_from_graph_def(partition_to_graph_def(part), {d.name: d for d in devs})
    assert [n.type for n in back.nodes] == [n.type for n in part.nodes]
    out = [None]
    executor.compile_partition(back).fn([np.array([0.5, -1.0], np.float32)], out, None)
    av = np.array([0.5, -1.0])
    np.testing.assert_allclose(out[0], np.tanh(av) / (1 + np.exp(-av)), rtol=1e-6)


def test_a_program_cupy_cannot_fuse_runs_op_by_op(monkeypatch):
    from labflow.testing.emulated_gpu import emulated_gpu
    monkeypatch.setattr(fe, "_compiled", {})
    with emulated_gpu() as emu:
        cp = emu.module

        def no_fuse(kernel_name=None):
            def deco(fn):
                def call(*a):
                    raise NotImplementedError("this CuPy cannot fuse it")
                return call
            return deco
        monkeypatch.setattr(cp, "fuse", no_fuse, raising=False)
        x = cp.asarray(np.array([0.5, -1.0], np.float32))
        for _ in range(2):
            out = fe.evaluate(cp, ["Tanh 0", "Mul 1 0"], [2], x)
            np.testing.assert_allclose(cp.asnumpy(out), np.tanh([0.5, -1.0]) * [0.5, -1.0], rtol=1e-6)
        assert emu.by_kind["tanh"] == 2  # fell back once, then ran plain without trying to fuse again
        with pytest.raises(ValueError):  # an error of the inputs' own still propagates
            fe.evaluate(cp, ["Mul 0 1"], [2], x, cp.asarray(np.ones(3, np.float32)))


def test_long_chains_are_cut_into_bounded_clusters():
    a = tf.placeholder(tf.float32, [3])
    y = a
    for i in range(150):
        y = tf.tanh(y) if i % 2 else tf.square(y)
    out, nodes = _run(y, {a: np.full(3, 0.5, np.float32)}, JIT)
    want = np.full(3, 0.5, np.float32)
    for i in range(150):
        want = np.tanh(want) if i % 2 else want * want
    np.testing.assert_allclose(out, want, rtol=1e-6)
    sizes = [len(n.attr["fused_names"].list.s) for n in _fused(nodes)]
    assert max(sizes) <= elementwise_fusion.MAX_MEMBERS and sum(sizes) == 150


def test_gpu_bias_add_before_a_split_joins_the_gate_clusters():
    # split(matmul(a, w) + b) on a GPU: the bias is added per piece inside each cell's gate kernel, so the
    # product is a plain MatMul (the _FusedMatMul's bias add was a launch of its own).
    from labflow.testing.emulated_gpu import emulated_gpu
    rng = np.random.RandomState(1)
    xs = rng.randn(3, 4, 5).astype(np.float32)
    w0 = rng.uniform(-0.3, 0.3, (10, 20)).astype(np.float32)
    b0 = rng.uniform(-0.3, 0.3, 20).astype(np.float32)

    def build():
        x = tf.constant(xs)
        w, b = tf.Variable(w0), tf.Variable(b0)
        h = c = tf.zeros([4, 5])
        for t in range(3):
            i, j, f, o = tf.split(tf.matmul(tf.concat([x[t], h], 1), w) + b, 4, axis=1)
            c = c * tf.sigmoid(f) + tf.sigmoid(i) * tf.tanh(j)
            h = tf.sigmoid(o) * tf.tanh(c)
        loss = tf.reduce_sum(h * h)
        return loss, tf.train.GradientDescentOptimizer(0.5).minimize(loss)

    got = {}
    with emulated_gpu() as emu:
        for level in (tf.OptimizerOptions.DEFAULT, tf.OptimizerOptions.OFF):
            g = tf.Graph()
            with g.as_default(), tf.device("/gpu:0"):
                loss, train = build()
            cfg = tf.ConfigProto(graph_options=tf.GraphOptions(optimizer_options=tf.OptimizerOptions(
                global_jit_level=level)))
            with tf.Session(graph=g, config=cfg) as s:
                s.run(tf.global_variables_initializer())
                losses = [s.run([train, loss])[1] for _ in range(3)]
                md = tf.RunMetadata()
                emu.reset()
                s.run(loss, options=tf.RunOptions(output_partition_graphs=True), run_metadata=md)
                ops = [n.op for gd in md.partition_graphs for n in gd.node]
            got[level] = losses, ops, emu.launches
    (fused_losses, fused_ops, fused_launches), (plain_losses, plain_ops, plain_launches) = got.values()
    np.testing.assert_allclose(fused_losses, plain_losses, rtol=1e-6)
    assert plain_ops.count("_FusedMatMul") == 3 and fused_ops.count("_FusedMatMul") == 0
    assert fused_ops.count("MatMul") == 3 and fused_ops.count("_FusedElementwise") == 3
    assert fused_ops.count("Split") == 3 + 1  # the cells' own, and one of the bias that every cell shares
    # Per cell: concat (folded in the first: both operands are constants), MatMul, one gate kernel (the
    # bias split into views is free); then the loss's sum.
    assert fused_launches <= 3 * 3, (fused_launches, plain_launches)


def test_a_dropout_mask_joins_the_clusters_around_it():
    # Cast(GreaterEqual(random, rate)) becomes _CastGreaterEqual, a float op, so the random scaling, the
    # mask and its use are one cluster (CPU clustering here; a GPU does it by default).
    xv = np.random.RandomState(2).randn(4, 8).astype(np.float32)
    off = tf.ConfigProto(graph_options=tf.GraphOptions(optimizer_options=tf.OptimizerOptions(
        global_jit_level=tf.OptimizerOptions.OFF)))
    results = []
    for config in (JIT, off):
        g = tf.Graph()
        with g.as_default():
            tf.set_random_seed(1)
            x = tf.placeholder(tf.float32, [4, 8])
            y = tf.nn.dropout(tf.nn.relu(x) * 2.0, rate=0.5, seed=3)
            (gx,) = tf.gradients(tf.reduce_sum(y * y), [x])
            with tf.Session(graph=g, config=config) as s:
                md = tf.RunMetadata()
                out = s.run([y, gx], {x: xv}, options=tf.RunOptions(output_partition_graphs=True), run_metadata=md)
        results.append((out, [n.op for gd in md.partition_graphs for n in gd.node]))
    (on, on_ops), (plain, plain_ops) = results
    for a, b in zip(on, plain):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert "GreaterEqual" in plain_ops and "GreaterEqual" not in on_ops and "Cast" not in on_ops
    assert (on[0] == 0).any() and (on[0] != 0).any()  # the mask did drop, and keep
