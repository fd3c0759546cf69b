"""GPU (CuPy) execution: every swept op on /gpu:0 matches the CPU, and the benchmark steps run there.

Marked `gpu`: skipped where CuPy or an NVIDIA GPU is missing (see tests/conftest.py).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import labflow as tf
from labflow.backend import cuda
from labflow.testing import op_sweep

pytestmark = pytest.mark.gpu

CASES = op_sweep.all_cases() if cuda.is_available() else []


def _run(case, dtype, device):
    xs = op_sweep._cast_inputs(case, dtype)
    g = tf.Graph()
    with g.as_default(), tf.device(device):
        phs = [tf.placeholder(tf.as_dtype(x.dtype), shape=x.shape) for x in xs]
        outs = op_sweep._as_list(case.build(*phs))
    cfg = tf.ConfigProto(allow_soft_placement=True)
    with tf.Session(graph=g, config=cfg) as sess:
        vals = sess.run(outs, dict(zip(phs, xs)))
        placed = {p.node: p.device for p in sess.placements()}
    return vals, placed


def test_gpu_device_is_listed():
    with tf.Session() as sess:
        gpus = [d for d in sess.list_devices() if d.device_type == "GPU"]
    assert gpus and gpus[0].name.endswith("/device:GPU:0") and gpus[0].memory_limit_bytes > 0


@pytest.mark.parametrize("op_type,case", [pytest.param(t, c, id=f"{t}-{c.name or i}") for t, i, c in CASES])
def test_op_on_gpu_matches_cpu(op_type, case):
    dtype = op_sweep.sweep_dtypes(case)[0]
    cpu_vals, _ = _run(case, dtype, "/cpu:0")
    gpu_vals, _ = _run(case, dtype, "/gpu:0")
    for c, gv in zip(cpu_vals, gpu_vals):
        # fetches are host values: NumPy arrays/scalars, or bytes for a scalar string (as in TF)
        assert isinstance(gv, (np.ndarray, np.generic, bytes)), f"fetch returned {type(gv)}, not a host value"
        if isinstance(gv, bytes):
            assert gv == c
            continue
        c, gv = np.asarray(c), np.asarray(gv)
        assert c.shape == gv.shape and c.dtype == gv.dtype
        if case.name.startswith("duplicate"):
            continue  # documented: which duplicate wins is unspecified on CuPy (DynamicStitch, scatter)
        if c.dtype.kind in "fc":
            rtol, atol = op_sweep._tol(dtype, case)
            wide = np.complex128 if c.dtype.kind == "c" else np.float64
            np.testing.assert_allclose(gv.astype(wide), c.astype(wide), rtol=max(rtol, 1e-4), atol=max(atol, 1e-4))
        elif c.dtype.kind != "O" and op_type not in ("RandomStandardNormal", "RandomUniform",
                                                     "TruncatedNormal", "RandomUniformInt", "RandomShuffle"):
            np.testing.assert_array_equal(gv, c)


@pytest.mark.parametrize("workload", ["softmax_regression", "mlp", "cnn", "lstm_lm"])
def test_benchmark_step_on_gpu_matches_cpu(workload, monkeypatch):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks"))
    import workloads
    build = dict(workloads.WORKLOADS)[workload]
    monkeypatch.setenv("NODROP", "1")
    monkeypatch.delenv("LABFLOW_BENCH_DEVICE", raising=False)
    cpu = build()
    want = [float(cpu()), float(cpu())]
    monkeypatch.setenv("LABFLOW_BENCH_DEVICE", "/gpu:0")
    gpu = build()
    got = [float(gpu()), float(gpu())]
    np.testing.assert_allclose(got, want, rtol=2e-3)


def test_gpu_clusters_elementwise_ops_into_one_kernel_each():
    # GPU partitions cluster elementwise ops by default (runtime/elementwise_fusion.py); OFF turns it off.
    rng = np.random.RandomState(0)
    g = tf.Graph()
    with g.as_default(), tf.device("/gpu:0"):
        x = tf.constant(rng.randn(6, 8).astype(np.float32))
        w = tf.constant(rng.randn(16, 32).astype(np.float32) * 0.3)
        h = c = tf.zeros([6, 8])
        for _ in range(3):
            i, j, f, o = tf.split(tf.matmul(tf.concat([x, h], 1), w), 4, axis=1)
            c = c * tf.sigmoid(f) + tf.sigmoid(i) * tf.tanh(j)
            h = tf.sigmoid(o) * tf.tanh(c)
        grads = tf.gradients(tf.reduce_sum(h * h), [w])
    got = {}
    for level in (tf.OptimizerOptions.DEFAULT, tf.OptimizerOptions.OFF):
        cfg = tf.ConfigProto(graph_options=tf.GraphOptions(optimizer_options=tf.OptimizerOptions(
            global_jit_level=level)))
        with tf.Session(graph=g, config=cfg) as sess:
            md = tf.RunMetadata()
            got[level] = sess.run([h, grads[0]], options=tf.RunOptions(output_partition_graphs=True),
                                  run_metadata=md)
            got[level].append(sum(n.op == "_FusedElementwise" for gd in md.partition_graphs for n in gd.node))
    assert got[tf.OptimizerOptions.DEFAULT][2] >= 6 and got[tf.OptimizerOptions.OFF][2] == 0
    for a, b in zip(got[tf.OptimizerOptions.DEFAULT][:2], got[tf.OptimizerOptions.OFF][:2]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("labels", [np.array([1, -1, 0], np.int32), np.array([1, 5, 0], np.int64)])
def test_sparse_xent_with_a_bad_label_on_gpu_names_it(labels):
    # One unsigned max checks both bounds on the GPU (a negative label reads as a huge one).
    g = tf.Graph()
    with g.as_default(), tf.device("/gpu:0"):
        lab = tf.placeholder(tf.as_dtype(labels.dtype), [3])
        loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=lab, logits=tf.zeros([3, 5]))
    with tf.Session(graph=g) as sess:
        np.testing.assert_allclose(sess.run(loss, {lab: [4, 0, 2]}), [np.log(5)] * 3, rtol=1e-6)
        bad = int(labels[1])
        with pytest.raises(tf.errors.InvalidArgumentError, match=rf"label value of {bad} which is outside the "
                                                               r"valid range of \[0, 5\)"):
            sess.run(loss, {lab: labels})
