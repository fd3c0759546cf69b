"""The emulated GPU (labflow.testing.emulated_gpu): sessions get a GPU device whose kernels take the
GPU code paths, and its launch counts mean what they say."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.backend import cuda
from labflow.testing.emulated_gpu import emulated_gpu


def test_a_session_inside_gets_a_gpu_and_fetches_host_arrays():
    before = cuda._cupy
    with emulated_gpu():
        assert cuda.is_available()
        x = tf.placeholder(tf.float32, [2, 3])
        with tf.device("/gpu:0"):
            y = tf.reduce_sum(tf.tanh(x) * 2.0, axis=1)
        with tf.Session() as s:
            out = s.run(y, {x: np.ones((2, 3))})
            placed = {p.node: p.device for p in s.placements()}
    assert type(out) is np.ndarray  # fetched values come back to the host
    np.testing.assert_allclose(out, [6 * np.tanh(1.0)] * 2, rtol=1e-6)
    assert placed[y.op.name].endswith("GPU:0")
    assert cuda._cupy is before  # restored after the block


def test_launches_are_counted_per_operation():
    with emulated_gpu() as emu:
        cp = emu.module
        a = cp.asarray(np.arange(6, dtype=np.float32).reshape(2, 3))
        assert emu.transfers == 1 and emu.launches == 0
        b = cp.exp(a) + 1  # two ufunc calls
        c = a[:, 1:]  # a view: no launch
        assert emu.launches == 2 and isinstance(b, cp.ndarray) and isinstance(c, cp.ndarray)
        s = b.sum(axis=0)  # a reduction
        fused = cp.fuse(kernel_name="k")(lambda u, v: u * v + u)(a, b)  # one kernel, whatever inside
        assert emu.launches == 4
        assert emu.by_kind["fuse:k"] == 1
        np.testing.assert_allclose(cp.asnumpy(fused), np.asarray(a) * np.asarray(b) + np.asarray(a))
        np.testing.assert_allclose(cp.asnumpy(s), (np.exp(np.arange(6.0).reshape(2, 3)) + 1).sum(0), rtol=1e-6)
        assert emu.transfers == 3


def test_elementwise_kernel_updates_outputs_in_place():
    with emulated_gpu() as emu:
        cp = emu.module
        k = cp.ElementwiseKernel("T x, T s", "T y", "T t = x * s;\ny += t;", "axpy")
        x, y = cp.asarray(np.ones(4, np.float32)), cp.asarray(np.zeros(4, np.float32))
        k(x, cp.asarray(np.float32(3)), y)
        np.testing.assert_array_equal(cp.asnumpy(y), [3, 3, 3, 3])
        assert emu.by_kind["kernel:axpy"] == 1


def test_launches_are_attributed_to_the_nodes_of_a_traced_run():
    with emulated_gpu() as emu:
        x = tf.placeholder(tf.float32, [4])
        with tf.device("/gpu:0"):
            y = tf.exp(x) + tf.reduce_sum(x)
        cfg = tf.ConfigProto(graph_options=tf.GraphOptions(optimizer_options=tf.OptimizerOptions(
            global_jit_level=tf.OptimizerOptions.OFF)))
        with tf.Session(config=cfg) as s:
            s.run(y, {x: np.ones(4)})
            emu.reset()
            md = tf.RunMetadata()
            s.run(y, {x: np.ones(4)}, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE), run_metadata=md)
        per_node = {t: n for _, t, n in emu.node_launches(md)}
    assert per_node["Exp"] == 1 and per_node["Sum"] == 1 and per_node["Add"] == 1
    assert sum(per_node.values()) == emu.launches


def test_the_gpu_launch_cost_benchmark_runs_on_the_emulated_gpu():
    # benchmarks/gpu_launch_cost.py runs in `make gpu-check`, where device time is scarce: it must not
    # fail there for a reason the emulator can show here.
    import json
    import os
    import subprocess
    import sys
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    r = subprocess.run([sys.executable, os.path.join(root, "benchmarks", "gpu_launch_cost.py"), "--emulate",
                        "--calls", "20"], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": os.path.abspath(root)})
    assert r.returncode == 0, r.stderr
    lines = [json.loads(s) for s in r.stdout.splitlines()]
    assert len(lines) == 11 and all(x["host_us"] > 0 for x in lines)
    assert lines[-1]["what"].startswith("labflow node")
