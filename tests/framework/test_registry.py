"""The op registry: duplicates name the earlier site, every op has a gradient decision, kernel lookup."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.framework import registry
from labflow.framework.registry import RegistrationError, op
from labflow.ops.common import same_as_input


@pytest.fixture
def scratch_ops():
    names: list[str] = []
    yield names
    for n in names:
        registry._REGISTRY.pop(n, None)


def test_duplicate_registration_names_the_earlier_site(scratch_ops):
    scratch_ops.append("_TestDup")

    @op("_TestDup", inputs=("x",), shape=same_as_input, not_differentiable=True)
    def first(xp, x):
        return x

    with pytest.raises(RegistrationError, match=r"'_TestDup' registered twice: first at .*test_registry.py:\d+"):
        @op("_TestDup", inputs=("x",), shape=same_as_input, not_differentiable=True)
        def second(xp, x):
            return x


def test_missing_gradient_decision_fails_verification(scratch_ops):
    scratch_ops.append("_TestNoGrad")

    @op("_TestNoGrad", inputs=("x",), shape=same_as_input)
    def k(xp, x):
        return x

    with pytest.raises(RegistrationError, match="_TestNoGrad"):
        registry.verify_complete()
    k.grad(lambda o, g: [g])
    registry.verify_complete()
    with pytest.raises(RegistrationError, match="registered twice"):
        k.grad(lambda o, g: [g])


def test_missing_shape_function_is_an_error(scratch_ops):
    scratch_ops.append("_TestNoShape")
    with pytest.raises(RegistrationError, match="no shape function"):
        @op("_TestNoShape", inputs=("x",), shape=None, not_differentiable=True)
        def k(xp, x):
            return x


def test_unknown_op_type_suggests_close_names():
    with pytest.raises(tf.errors.NotFoundError, match="Did you mean.*Reshape"):
        registry.get("Reshap")


def test_device_override_and_kernel_devices(scratch_ops):
    scratch_ops.append("_TestCpuOnly")

    @op("_TestCpuOnly", inputs=("x",), shape=same_as_input, devices=("CPU",), not_differentiable=True)
    def k(xp, x):
        return x + 1

    assert k.kernel_devices() == ["CPU"] and not k.has_kernel("GPU")

    @k.kernel("GPU")
    def k_gpu(xp, x):
        return x + 2

    assert k.kernel_for("GPU") is k_gpu and k.kernel_for("CPU") is not k_gpu


def test_user_op_runs_through_the_session_with_its_attrs(scratch_ops):
    scratch_ops.append("_TestScale")

    @op("_TestScale", inputs=("x",), attrs={"factor": 2.0}, types=(tf.float32,), shape=same_as_input)
    def scale(xp, x, *, factor):
        return x * np.float32(factor)

    @scale.grad
    def _scale_grad(o, grad):
        return [tf.get_default_graph().create_op("_TestScale", [grad], attrs={"factor": o.get_attr("factor")})
                .outputs[0]]

    x = tf.placeholder(tf.float32, [2])
    y = tf.get_default_graph().create_op("_TestScale", [x], attrs={"factor": 3.0}).outputs[0]
    (g,) = tf.gradients(tf.reduce_sum(y), x)
    with tf.Session() as s:
        np.testing.assert_array_equal(s.run([y, g], {x: [1, 2]}), [[3, 6], [3, 3]])
    with pytest.raises(TypeError, match="unexpected attr 'bogus'"):
        tf.get_default_graph().create_op("_TestScale", [x], attrs={"bogus": 1})
    i = tf.placeholder(tf.int32, [2])
    with pytest.raises(TypeError, match="DataType int32 not in list of allowed values: float32"):
        tf.get_default_graph().create_op("_TestScale", [i])
