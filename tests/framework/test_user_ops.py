"""User op libraries: tf.load_op_library, the labflow.user_ops API, and the extensions/ examples."""

from __future__ import annotations

import inspect
import os
import textwrap

import numpy as np
import pytest

import labflow as tf
from labflow import errors, user_ops
from labflow.framework import registry
from labflow.ops import load_library
from labflow.testing import op_sweep

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ZERO_OUT = os.path.join(ROOT, "extensions", "zero_out")
FUSED_SWISH = os.path.join(ROOT, "extensions", "fused_swish")


@pytest.fixture
def scratch_library(tmp_path):
    """Writes throw-away libraries; whatever they registered is removed afterwards (the registry is global)."""
    before = set(registry.registered_ops())
    written = []

    def write(name: str, body: str) -> str:
        path = tmp_path / name
        path.write_text(textwrap.dedent(body))
        written.append(os.path.realpath(path))
        return str(path)
    grads_before = set(registry._GRADIENTS_BY_NAME)
    yield write
    for n in set(registry._GRADIENTS_BY_NAME) - grads_before:
        registry._GRADIENTS_BY_NAME.pop(n, None)
    for n in set(registry.registered_ops()) - before:
        registry._REGISTRY.pop(n, None)
        op_sweep._SAMPLES.pop(n, None)
    for p in written:
        load_library._LOADED.pop(p, None)


# -- the extensions --------------------------------------------------------------------------------
def test_zero_out_loads_once_and_runs():
    m = tf.load_op_library(ZERO_OUT)
    assert tf.load_op_library(ZERO_OUT + "/") is m  # same path again: same module, nothing re-registered
    assert m.OP_LIST == ("ZeroOut",) and "zero_out" in dir(m)
    assert str(inspect.signature(m.zero_out)) == "(to_zero, name=None)"
    y = m.zero_out([[1, 2], [3, 4]], name="zo")
    assert y.op.type == "ZeroOut" and y.op.name == "zo" and y.dtype == tf.int32 and y.get_shape() == [2, 2]
    with tf.Session() as sess:
        np.testing.assert_array_equal(sess.run(y), [[1, 0], [0, 0]])
    with pytest.raises(TypeError, match="float32 not in list of allowed values: int32"):
        m.zero_out(tf.constant([1.0]))
    assert tf.gradients(tf.cast(y, tf.float32), [tf.constant(0.0)]) == [None]


def test_zero_out_passes_the_registry_sweep():
    tf.load_op_library(ZERO_OUT)
    assert "ZeroOut" not in op_sweep.missing_samples()
    assert user_ops.check_op("ZeroOut") >= 3


def test_fused_swish_forward_gradient_and_sweep():
    m = tf.load_op_library(FUSED_SWISH)
    assert m.OP_LIST == ("FusedSwish",)
    assert m.fused_swish is m.LIBRARY.fused_swish  # the library's own wrapper is kept
    x = tf.placeholder(tf.float64, [3])
    y = m.fused_swish(x, beta=2.0)
    assert y.get_shape() == [3] and y.op.get_attr("beta") == 2.0
    (dx,) = tf.gradients(tf.reduce_sum(y), [x])
    (ddx,) = tf.gradients(tf.reduce_sum(dx), [x])  # the gradient is built from graph ops: 2nd order works
    xs = np.array([-1.0, 0.5, 2.0])
    s = 1 / (1 + np.exp(-2 * xs))
    with tf.Session() as sess:
        yv, dv, ddv = sess.run([y, dx, ddx], {x: xs})
    np.testing.assert_allclose(yv, xs * s)
    np.testing.assert_allclose(dv, s + 2 * xs * s * (1 - s))
    assert np.all(np.isfinite(ddv))
    assert "FusedSwish" not in op_sweep.missing_samples()
    assert user_ops.check_op("FusedSwish") >= 9


def test_zero_out_on_the_emulated_gpu():
    from labflow.testing.emulated_gpu import emulated_gpu
    m = tf.load_op_library(ZERO_OUT)
    f = tf.load_op_library(FUSED_SWISH)
    with emulated_gpu():
        with tf.device("/gpu:0"):
            y = m.zero_out(tf.constant([5, 6, 7]))
            z = f.fused_swish(tf.constant([0.0, 1.0]))
        with tf.Session() as sess:
            yv, zv = sess.run([y, z])
            placed = {p.node: p.device for p in sess.placements()}
    np.testing.assert_array_equal(yv, [5, 0, 0])
    np.testing.assert_allclose(zv, [0.0, 1 / (1 + np.exp(-1.0))], rtol=1e-6)
    assert placed[y.op.name].endswith("GPU:0") and placed[z.op.name].endswith("GPU:0")


@pytest.mark.gpu
def test_extensions_on_a_real_gpu():
    tf.load_op_library(ZERO_OUT)
    tf.load_op_library(FUSED_SWISH)
    user_ops.check_op("ZeroOut", devices=("/gpu:0",))
    user_ops.check_op("FusedSwish", devices=("/gpu:0",))


# -- load_op_library -------------------------------------------------------------------------------
def test_generated_wrappers_follow_tf_conventions(scratch_library):
    path = scratch_library("my_ops.py", """
        from labflow import user_ops as uo

        def _two(ins, attrs):
            return [(uo.base(ins[0]), uo.dims(ins[0])), (uo.base(ins[0]), uo.dims(ins[0]))]

        @uo.op("ScaleAndShiftTest", inputs=("x", "y"), attrs={"scale": uo.REQUIRED, "shift": 0.0},
               types=uo.FLOAT_TYPES, shape=uo.broadcast_shape, not_differentiable=True)
        def k(xp, x, y, *, scale, shift):
            return x * scale + y + shift

        @uo.op("HTTPSplitTest", inputs=("x",), shape=_two, output_names=("lo", "hi"), not_differentiable=True)
        def split(xp, x):
            return x - 1, x + 1

        @uo.op("_HiddenTest", inputs=("x",), shape=uo.same_as_input, not_differentiable=True)
        def hidden(xp, x):
            return x
    """)
    m = tf.load_op_library(path)
    assert set(m.OP_LIST) == {"ScaleAndShiftTest", "HTTPSplitTest", "_HiddenTest"}
    assert not hasattr(m, "_hidden_test")
    assert str(inspect.signature(m.scale_and_shift_test)) == "(x, y, scale, shift=0.0, name=None)"
    x = tf.constant([1.0, 2.0], tf.float64)
    y = m.scale_and_shift_test(x, 1, scale=3.0)  # a Python int takes x's dtype (TF's type-attr rule)
    assert y.op.inputs[1].dtype == tf.float64 and y.op.name == "ScaleAndShiftTest"
    lo, hi = parts = m.http_split_test(tf.constant([5]))
    assert type(parts).__name__ == "HTTPSplitTest" and parts.lo is lo
    with tf.Session() as sess:
        np.testing.assert_allclose(sess.run(y), [4.0, 7.0])
        assert sess.run([lo, hi]) == [[4], [6]]
    with pytest.raises(TypeError, match="missing a required argument: 'scale'"):
        m.scale_and_shift_test(x, x)


@pytest.mark.parametrize("name,snake", [("ZeroOut", "zero_out"), ("Conv2D", "conv2d"), ("MatMul", "mat_mul"),
                                        ("HTTPGet", "http_get"), ("FusedSwish", "fused_swish"), ("Add", "add")])
def test_wrapper_names_are_tf_snake_case(name, snake):
    assert user_ops.camel_to_snake(name) == snake


def test_duplicate_op_type_names_both_sites(scratch_library):
    tf.load_op_library(ZERO_OUT)
    path = scratch_library("dup_ops.py", """
        from labflow import user_ops as uo

        @uo.op("DupFirstTest", inputs=("x",), shape=uo.same_as_input, not_differentiable=True)
        def first(xp, x):
            return x

        @uo.op("ZeroOut", inputs=("x",), shape=uo.same_as_input, not_differentiable=True)
        def again(xp, x):
            return x
    """)
    with pytest.raises(user_ops.RegistrationError,
                       match=r"'ZeroOut' registered twice: first at .*zero_out.__init__\.py:\d+, again at "
                             r".*dup_ops\.py:\d+"):
        tf.load_op_library(path)
    # nothing the failed library registered is kept, and ZeroOut is still the extension's
    assert registry.lookup("DupFirstTest") is None
    assert "zero_out" in registry.get("ZeroOut").site


def test_a_failed_load_can_be_fixed_and_retried(scratch_library):
    path = scratch_library("flaky_ops.py", """
        from labflow import user_ops as uo

        @uo.op("FlakyTest", inputs=("x",), shape=uo.same_as_input, not_differentiable=True)
        def k(xp, x):
            return x

        @uo.samples("FlakyTest")
        def _s():
            return []

        @uo.register_gradient("FlakyTestGrad")
        def _g(op, grad):
            return [grad]
        raise RuntimeError("library bug")
    """)
    with pytest.raises(RuntimeError, match="library bug"):
        tf.load_op_library(path)
    assert registry.lookup("FlakyTest") is None and "FlakyTest" not in op_sweep._SAMPLES
    assert registry.gradient_function("FlakyTestGrad") is None
    with open(path) as f:
        fixed = f.read().replace('raise RuntimeError("library bug")', "")
    with open(path, "w") as f:
        f.write(fixed)
    assert tf.load_op_library(path).OP_LIST == ("FlakyTest",)


def test_a_package_library_with_relative_imports(scratch_library, tmp_path):
    pkg = tmp_path / "pkg_ops"
    pkg.mkdir()
    (pkg / "kernels.py").write_text("def double(xp, x):\n    return x * 2\n")
    scratch_library("pkg_ops/__init__.py", """
        from labflow import user_ops as uo
        from .kernels import double

        uo.op("DoubleItTest", inputs=("x",), shape=uo.same_as_input, not_differentiable=True)(double)
    """)
    m = tf.load_op_library(str(pkg))
    load_library._LOADED.pop(os.path.realpath(pkg), None)
    with tf.Session() as sess:
        assert sess.run(m.double_it_test(tf.constant(4))) == 8


def test_bad_paths():
    missing = os.path.join(ROOT, "extensions", "no_such_op_lib.py")
    with pytest.raises(errors.NotFoundError, match="no_such_op_lib.py"):
        tf.load_op_library(missing)
    with pytest.raises(errors.NotFoundError, match="has no __init__.py"):
        tf.load_op_library(os.path.join(ROOT, "tests", "framework"))
    with pytest.raises(errors.UnimplementedError, match="not compiled shared objects"):
        tf.load_op_library(os.path.join(ROOT, "pyproject.toml"))


def test_the_public_api_is_what_extensions_use():
    for name in ("op", "REQUIRED", "samples", "Case", "exempt", "check_op", "make_wrapper", "apply", "T",
                 "same_as_input", "FLOAT_TYPES", "register_gradient", "load_op_library"):
        assert hasattr(user_ops, name), name
    assert user_ops.op is registry.op and tf.user_ops is user_ops
    assert tf.load_op_library is user_ops.load_op_library
