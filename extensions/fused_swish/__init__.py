"""FusedSwish: a differentiable user op, `x * sigmoid(beta * x)` with a float attr `beta`.

Shows an attr with a default, a float type constraint, a kernel written once for NumPy and CuPy, and a
gradient built from graph ops (so its second derivative comes free). Load it with
`tf.load_op_library("extensions/fused_swish")`; its wrapper is `fused_swish(x, beta=1.0, name=None)`.
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow import user_ops as uo


def _sigmoid(xp, z):
    # exp of a negative argument only: no overflow warning for large |z|
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)


@uo.op("FusedSwish", inputs=("x",), attrs={"beta": 1.0}, types=uo.FLOAT_TYPES, shape=uo.same_as_input)
def fused_swish_kernel(xp, x, *, beta):
    b = xp.asarray(beta, dtype=x.dtype)
    return x * _sigmoid(xp, b * x)


@fused_swish_kernel.grad
def _fused_swish_grad(op, grad):
    # d/dx x*s(bx) = s + b*x*s*(1-s), with s = sigmoid(beta * x): built from graph ops.
    x = op.inputs[0]
    beta = tf.cast(op.get_attr("beta"), x.dtype)
    s = tf.sigmoid(beta * x)
    return [grad * (s + beta * x * s * (1 - s))]


def fused_swish(x, beta: float = 1.0, name: str | None = None):
    """Returns `x * sigmoid(beta * x)` elementwise (op type FusedSwish).

    Args:
        x: a float Tensor (or a value convertible to one).
        beta: the slope of the sigmoid gate.
        name: a name for the op.
    """
    return uo.apply("FusedSwish", [("x", x, uo.T)], attrs={"beta": float(beta)}, name=name)


def _reference(beta: float):
    def ref(x):
        x64 = x.astype(np.float64)
        return (x64 / (1 + np.exp(-beta * x64))).astype(x.dtype)
    return ref


@uo.samples("FusedSwish")
def _fused_swish_samples() -> list:
    r = np.random.RandomState(1)
    f16 = (uo.float16, uo.bfloat16, uo.float32, uo.float64)
    return [uo.Case(fused_swish, [r.randn(3, 4)], _reference(1.0), dtypes=f16),
            uo.Case(lambda x: fused_swish(x, beta=2.5), [r.randn(5) * 4], _reference(2.5), name="beta2.5"),
            uo.Case(lambda x: fused_swish(x, beta=-0.5), [np.array(1.5)], _reference(-0.5), name="scalar")]
