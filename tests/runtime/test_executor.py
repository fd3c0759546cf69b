"""The compiled plan: one generated line per node, values released after their last use."""

from __future__ import annotations

import re

import numpy as np

import labflow as tf


def _plan_source(sess) -> str:
    (step,) = sess._cache.values()
    (part,) = step.partitions
    return part.source


def test_values_are_released_after_last_consumer():
    x = tf.placeholder(tf.float32, [3], name="x")
    a = tf.add(x, x)
    b = tf.add(a, a)
    c = tf.add(b, b)
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(c, {x: [1, 1, 1]}), [8, 8, 8])
        src = _plan_source(sess)
    assigned = re.findall(r"^\s+(v\d+) = ", src, re.M)
    deleted = re.findall(r"del ([v\d, ]+)", src)
    deleted = {v.strip() for group in deleted for v in group.split(",")}
    assert set(assigned) == deleted  # every value is dropped as soon as nothing needs it
    # x is needed by the first add only, so it is deleted on that line
    first_add = next(line for line in src.splitlines() if "k1(" in line)
    assert "del v0" in first_add


def test_attrs_and_constants_are_bound_at_compile_time():
    x = tf.placeholder(tf.float32, [2, 2])
    y = tf.reduce_sum(tf.add(x, tf.constant(1.0)), axis=1, keepdims=True)
    with tf.Session() as sess:
        sess.run(y, {x: np.zeros((2, 2))})
        src = _plan_source(sess)
    assert "keep_dims=a" in src  # attrs are globals of the generated function, not looked up per run
    assert "ctx=" not in src  # the constant is bound directly; no kernel call for it


def test_plan_is_reused_across_runs():
    x = tf.placeholder(tf.float32, [])
    y = tf.add(x, x)
    with tf.Session() as sess:
        sess.run(y, {x: 1.0})
        (step,) = sess._cache.values()
        for i in range(5):
            assert sess.run(y, {x: float(i)}) == 2.0 * i
        assert list(sess._cache.values()) == [step]


def test_gpu_integer_math_on_host_values_runs_on_the_host():
    # TF keeps a GPU's int32 tensors in host memory: the shape arithmetic of a gradient (Mean over an
    # unknown batch: Prod(Shape) // Maximum(...)) launches nothing; a device int tensor stays on it.
    from labflow.testing.emulated_gpu import emulated_gpu
    xs = np.arange(12, dtype=np.float32).reshape(4, 3)
    with emulated_gpu() as emu:
        x = tf.placeholder(tf.float32, [None, 3])
        with tf.device("/gpu:0"):
            w = tf.Variable(np.ones(3, np.float32))
            loss = tf.reduce_mean(x * w)
            (g,) = tf.gradients(loss, [w])
            top = tf.argmax(x, axis=1) + 1
        with tf.Session() as s:
            s.run(w.initializer)
            s.run([g, top], {x: xs})
            emu.reset()
            md = tf.RunMetadata()
            gv, tv = s.run([g, top], {x: xs}, options=tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE),
                           run_metadata=md)
        per_node = {name: (op, n) for name, op, n in emu.node_launches(md)}
    np.testing.assert_allclose(gv, xs.sum(0) / 12, rtol=1e-6)
    np.testing.assert_array_equal(tv, [3, 3, 3, 3])
    int_math = {name: n for name, (op, n) in per_node.items() if op in ("Prod", "Maximum", "FloorDiv")}
    assert int_math and not any(int_math.values()), per_node
    # ... and so does the scalar float math after it (1 / Cast(count)); OnesLike(loss) became a constant
    scalar_math = {name: n for name, (op, n) in per_node.items() if op in ("Cast", "RealDiv")}
    assert scalar_math and not any(scalar_math.values()), per_node
    assert not any(op == "OnesLike" for op, _ in per_node.values())
    assert per_node[top.op.name] == ("Add", 1)  # argmax's output lives on the device: added there
