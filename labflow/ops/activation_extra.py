"""`tf.nn` activations beyond the basic set: selu, softsign (TF's op pairs), swish/silu and crelu (composites).

Selu and Softsign have TF's *Grad ops so GraphDefs look like TF's; each *Grad op has its own gradient, so
second derivatives work. swish and crelu are built from existing ops, as TF 1.x builds them in Python.
"""

from __future__ import annotations

from typing import Any

from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops import array_ops, math_ops, nn_ops
from labflow.ops.common import FLOAT_TYPES, base, convert_to_tensor, make_tensor, same_as_input
from labflow.ops.nn_extra_ops import _exp_linear_grad_grad, _unary, _zero
from labflow.ops.nn_ops import same_shape, upcast

__all__ = ["selu", "softsign", "swish", "silu", "crelu"]

# The constants of Klambauer et al. (2017), as TF's kernels use them.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


# -- Selu -------------------------------------------------------------------------------------------
@op("Selu", inputs=("features",), types=FLOAT_TYPES, shape=same_as_input)
def selu_kernel(xp, features):
    x = upcast(xp, features)
    # expm1 of a large positive input overflows in the branch `where` discards: clip it away.
    neg = xp.expm1(xp.minimum(x, _zero(x))) * x.dtype.type(SELU_SCALE * SELU_ALPHA)
    out = xp.where(x > 0, x * x.dtype.type(SELU_SCALE), neg)
    return out.astype(features.dtype, copy=False)


@selu_kernel.grad
def _selu_grad(op, grad):
    return [make_tensor("SeluGrad", [grad, op.outputs[0]])]


@op("SeluGrad", inputs=("gradients", "outputs"), types=FLOAT_TYPES, shape=same_shape)
def selu_grad_kernel(xp, gradients, outputs):
    g, y = upcast(xp, gradients), upcast(xp, outputs)
    # On the negative side d/dx [s*a*(exp(x) - 1)] = s*a*exp(x) = y + s*a.
    out = xp.where(y > 0, g * g.dtype.type(SELU_SCALE), g * (y + y.dtype.type(SELU_SCALE * SELU_ALPHA)))
    return out.astype(gradients.dtype, copy=False)


selu_grad_kernel.grad(_exp_linear_grad_grad("SeluGrad"))


def selu(features: Any, name: str | None = None) -> Tensor:
    """Scaled exponential linear unit: `scale * features` where positive, `scale * alpha * (exp(x) - 1)`
    elsewhere, with alpha ~ 1.6733 and scale ~ 1.0507 (Klambauer et al., 2017).

    Args:
        features: a float Tensor.
        name: a name for the op (default "Selu").

    Returns:
        A Tensor with the type and shape of `features`.
    """
    return _unary("Selu", features, name)


# -- Softsign ---------------------------------------------------------------------------------------
@op("Softsign", inputs=("features",), types=FLOAT_TYPES, shape=same_as_input)
def softsign_kernel(xp, features):
    x = upcast(xp, features)
    return (x / (xp.abs(x) + x.dtype.type(1))).astype(features.dtype, copy=False)


@softsign_kernel.grad
def _softsign_grad(op, grad):
    return [make_tensor("SoftsignGrad", [grad, op.inputs[0]])]


@op("SoftsignGrad", inputs=("gradients", "features"), types=FLOAT_TYPES, shape=same_shape)
def softsign_grad_kernel(xp, gradients, features):
    g, x = upcast(xp, gradients), upcast(xp, features)
    d = xp.abs(x) + x.dtype.type(1)
    return (g / (d * d)).astype(gradients.dtype, copy=False)


@softsign_grad_kernel.grad
def _softsign_grad_grad(op, grad):
    # d/dx [g / (1 + |x|)^2] = -2 g sign(x) / (1 + |x|)^3 (TF registers none; labflow keeps 2nd derivatives).
    dy, x = op.inputs
    one = convert_to_tensor(1, dtype=base(x))
    minus_two = convert_to_tensor(-2, dtype=base(x))
    d = math_ops.add(math_ops.abs(x), one)
    d3 = math_ops.multiply(math_ops.square(d), d)
    num = math_ops.multiply(math_ops.multiply(grad, dy), math_ops.multiply(minus_two, math_ops.sign(x)))
    return [make_tensor("SoftsignGrad", [grad, x]), math_ops.divide(num, d3)]


def softsign(features: Any, name: str | None = None) -> Tensor:
    """Softsign: `features / (abs(features) + 1)`.

    Args:
        features: a float Tensor.
        name: a name for the op (default "Softsign").

    Returns:
        A Tensor with the type and shape of `features`.
    """
    return _unary("Softsign", features, name)


# -- composites -------------------------------------------------------------------------------------
def swish(features: Any, beta: float = 1.0, name: str | None = None) -> Tensor:
    """Swish (SiLU): `features * sigmoid(beta * features)` (Ramachandran et al., 2017).

    Args:
        features: a float Tensor.
        beta: a Python float or float Tensor scaling the sigmoid's input (TF 2.x argument; default 1).
        name: a name scope for the ops (default "swish").

    Returns:
        A Tensor with the type and shape of `features`.
    """
    with name_scope(name, "swish", [features]):
        x = convert_to_tensor(features, name="features")
        if isinstance(beta, (int, float)) and float(beta) == 1.0:
            return math_ops.multiply(x, math_ops.sigmoid(x))
        b = convert_to_tensor(beta, dtype=base(x), name="beta")
        return math_ops.multiply(x, math_ops.sigmoid(math_ops.multiply(b, x)))


def silu(features: Any, beta: float = 1.0, name: str | None = None) -> Tensor:
    """`swish` under its other name (tf.compat.v1.nn.silu)."""
    return swish(features, beta=beta, name=name or "silu")


def crelu(features: Any, name: str | None = None, axis: int = -1) -> Tensor:
    """Concatenated ReLU: `concat([relu(features), relu(-features)], axis)`, doubling that dimension.

    Args:
        features: a real Tensor.
        name: a name scope for the ops (default "CRelu").
        axis: the dimension the two halves are concatenated along (default the last).

    Returns:
        A Tensor of `features`' dtype, twice as large along `axis`.
    """
    with name_scope(name, "CRelu", [features]):
        x = convert_to_tensor(features, name="features")
        c = array_ops.concat([x, math_ops.negative(x)], axis, name="concat")
        return nn_ops.relu(c)
