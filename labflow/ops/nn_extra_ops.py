"""More `tf.nn` primitives: relu6, elu, leaky_relu, softplus (with TF's fused gradient ops), top_k, in_top_k.

Each activation has TF's op pair (e.g. Elu / EluGrad) so GraphDefs look like TF's, and each *Grad op has
its own gradient, so second derivatives work.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Tensor
from labflow.ops import array_ops, math_ops
from labflow.ops.common import (
    FLOAT_TYPES,
    INDEX_TYPES,
    REAL_TYPES,
    base,
    constant_value,
    convert_to_tensor,
    dims,
    make_op,
    make_tensor,
    same_as_input,
)
from labflow.ops.nn_ops import same_shape, upcast

__all__ = ["relu6", "elu", "leaky_relu", "softplus", "top_k", "in_top_k"]


def _zero(x: Any) -> Any:
    return x.dtype.type(0)


def _features(features: Any, name: str = "features") -> Tensor:
    return convert_to_tensor(features, name=name)


def _unary(op_type: str, features: Any, name: str | None) -> Tensor:
    """The public wrapper of a one-input activation op: the op named `name` (default its type)."""
    with name_scope(name, op_type, [features]) as scope:
        return make_tensor(op_type, [_features(features)], None, scope)


def _exp_linear_grad_grad(grad_type: str):
    """The gradient of EluGrad / SeluGrad (TF's _EluGradGrad / _SeluGradGrad): both are linear in g and are
    g * (y + c) on the negative side, so d/dy is g there (and 0 elsewhere)."""
    def fn(op, grad):
        dy, y = op.inputs
        zero = convert_to_tensor(0, dtype=base(y))
        d_out = array_ops.where(math_ops.less(y, zero), math_ops.multiply(grad, dy), array_ops.zeros_like(y))
        return [make_tensor(grad_type, [grad, y]), d_out]
    return fn


# -- Relu6 ------------------------------------------------------------------------------------------
@op("Relu6", inputs=("features",), types=REAL_TYPES, shape=same_as_input)
def relu6_kernel(xp, features):
    return xp.clip(features, _zero(features), features.dtype.type(6))


@relu6_kernel.grad
def _relu6_grad(op, grad):
    # TF reads the input here (the output loses which side of 6 an input equal to 6 came from).
    return [make_tensor("Relu6Grad", [grad, op.inputs[0]])]


@op("Relu6Grad", inputs=("gradients", "features"), types=REAL_TYPES, shape=same_shape)
def relu6_grad_kernel(xp, gradients, features):
    inside = (features > 0) & (features < 6)
    return xp.where(inside, gradients, xp.zeros((), gradients.dtype))


@relu6_grad_kernel.grad
def _relu6_grad_grad(op, grad):
    x = op.inputs[1]
    return [make_tensor("Relu6Grad", [grad, x]), array_ops.zeros_like(x)]


def relu6(features: Any, name: str | None = None) -> Tensor:
    """Rectified linear 6: `min(max(features, 0), 6)`.

    Args:
        features: a real-valued Tensor.
        name: a name for the op (default "Relu6").

    Returns:
        A Tensor with the type and shape of `features`.
    """
    return _unary("Relu6", features, name)


# -- Elu --------------------------------------------------------------------------------------------
@op("Elu", inputs=("features",), types=FLOAT_TYPES, shape=same_as_input)
def elu_kernel(xp, features):
    # expm1 of a large positive input overflows in the branch that `where` discards: clip it away.
    neg = xp.expm1(xp.minimum(features, _zero(features)))
    return xp.where(features < 0, neg, features)


@elu_kernel.grad
def _elu_grad(op, grad):
    return [make_tensor("EluGrad", [grad, op.outputs[0]])]


@op("EluGrad", inputs=("gradients", "outputs"), types=FLOAT_TYPES, shape=same_shape)
def elu_grad_kernel(xp, gradients, outputs):
    return xp.where(outputs < 0, gradients * (outputs + outputs.dtype.type(1)), gradients)


elu_grad_kernel.grad(_exp_linear_grad_grad("EluGrad"))


def elu(features: Any, name: str | None = None) -> Tensor:
    """Exponential linear unit: `exp(features) - 1` where negative, `features` elsewhere.

    Args:
        features: a float Tensor.
        name: a name for the op (default "Elu").

    Returns:
        A Tensor with the type and shape of `features`.
    """
    return _unary("Elu", features, name)


# -- LeakyRelu --------------------------------------------------------------------------------------
@op("LeakyRelu", inputs=("features",), attrs={"alpha": 0.2}, types=FLOAT_TYPES, shape=same_as_input)
def leaky_relu_kernel(xp, features, *, alpha):
    return xp.where(features > 0, features, features * features.dtype.type(alpha))


@leaky_relu_kernel.grad
def _leaky_relu_grad(op, grad):
    return [make_tensor("LeakyReluGrad", [grad, op.inputs[0]], {"alpha": op.get_attr("alpha")})]


@op("LeakyReluGrad", inputs=("gradients", "features"), attrs={"alpha": 0.2}, types=FLOAT_TYPES,
    shape=same_shape)
def leaky_relu_grad_kernel(xp, gradients, features, *, alpha):
    return xp.where(features > 0, gradients, gradients * gradients.dtype.type(alpha))


@leaky_relu_grad_kernel.grad
def _leaky_relu_grad_grad(op, grad):
    x = op.inputs[1]
    return [make_tensor("LeakyReluGrad", [grad, x], {"alpha": op.get_attr("alpha")}), array_ops.zeros_like(x)]


def leaky_relu(features: Any, alpha: float = 0.2, name: str | None = None) -> Tensor:
    """Leaky rectified linear: `features` where positive, `alpha * features` elsewhere.

    Args:
        features: a Tensor; integer tensors are converted to float32 first (like TF).
        alpha: the slope for negative inputs (a Python or NumPy scalar).
        name: a name for the op (default "LeakyRelu").

    Returns:
        A float Tensor with the shape of `features`.

    Raises:
        TypeError: `alpha` is a Tensor (TF's LeakyRelu takes it as an attr).
    """
    with name_scope(name, "LeakyRelu", [features]) as scope:
        x = _features(features)
        if x.dtype.is_integer:
            x = math_ops.cast(x, _dt.float32)
        if isinstance(alpha, Tensor) or hasattr(alpha, "_as_graph_element"):
            cv = constant_value(convert_to_tensor(alpha))
            if cv is None:
                raise TypeError("leaky_relu: alpha must be a Python or NumPy number (it is an attr of the "
                                "LeakyRelu op), got a non-constant Tensor")
            alpha = cv
        a = float(np.asarray(alpha).item())
        return make_tensor("LeakyRelu", [x], {"alpha": a}, scope)


# -- Softplus ---------------------------------------------------------------------------------------
@op("Softplus", inputs=("features",), types=FLOAT_TYPES, shape=same_as_input)
def softplus_kernel(xp, features):
    x = upcast(xp, features)
    # log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): never overflows.
    out = xp.maximum(x, _zero(x)) + xp.log1p(xp.exp(-xp.abs(x)))
    return out.astype(features.dtype, copy=False)


@softplus_kernel.grad
def _softplus_grad(op, grad):
    return [make_tensor("SoftplusGrad", [grad, op.inputs[0]])]


def _stable_sigmoid(xp: Any, x: Any) -> Any:
    half = x.dtype.type(0.5)
    return half * (xp.tanh(x * half) + x.dtype.type(1))


@op("SoftplusGrad", inputs=("gradients", "features"), types=FLOAT_TYPES, shape=same_shape)
def softplus_grad_kernel(xp, gradients, features):
    s = _stable_sigmoid(xp, upcast(xp, features))
    return (upcast(xp, gradients) * s).astype(gradients.dtype, copy=False)


@softplus_grad_kernel.grad
def _softplus_grad_grad(op, grad):
    # TF's _SoftplusGradGrad: d/dx [dy * sigmoid(x)] = dy * sigmoid'(x) = dy / (exp(-x) + 2 + exp(x)).
    dy, x = op.inputs
    two = convert_to_tensor(2, dtype=base(x))
    denom = math_ops.add(math_ops.add(math_ops.exp(math_ops.negative(x)), two), math_ops.exp(x))
    d2x = math_ops.divide(math_ops.multiply(grad, dy), denom)
    return [make_tensor("SoftplusGrad", [grad, x]), d2x]


def softplus(features: Any, name: str | None = None) -> Tensor:
    """Softplus: `log(exp(features) + 1)`, computed without overflow.

    Args:
        features: a float Tensor.
        name: a name for the op (default "Softplus").

    Returns:
        A Tensor with the type and shape of `features`.
    """
    return _unary("Softplus", features, name)


# -- TopKV2 -----------------------------------------------------------------------------------------
def _top_k_shape(ins, attrs):
    x, k = ins
    if base(k) != _dt.int32:
        raise TypeError(f"Value passed to parameter 'k' has DataType {base(k).name} not in list of allowed "
                        "values: int32")
    kd = dims(k)
    if kd is not None and len(kd) != 0:
        raise ValueError(f"Shape must be rank 0 but is rank {len(kd)}")
    kv = constant_value(k)
    kk = None if kv is None else int(kv)
    if kk is not None and kk < 0:
        raise ValueError(f"Need k >= 0, got {kk}")
    xd = dims(x)
    if xd is None:
        out = None
    else:
        if len(xd) < 1:
            raise ValueError(f"Shape must be at least rank 1 but is rank {len(xd)}")
        if kk is not None and xd[-1] is not None and xd[-1] < kk:
            raise ValueError(f"input must have at least k columns. Had {xd[-1]}, needed {kk}")
        out = xd[:-1] + (kk,)
    return [(base(x), out), (_dt.int32, out)]


@op("TopKV2", inputs=("input", "k"), attrs={"sorted": True}, types=REAL_TYPES, type_inputs=("input",),
    shape=_top_k_shape, outputs=2, output_names=("values", "indices"), host_inputs=(1,))
def top_k_kernel(xp, input, k):
    kk = int(k)
    # Descending and stable (equal values keep index order, as TF documents): a stable ascending sort
    # of the reversed row, reversed back. No negation, so unsigned inputs work too.
    n = input.shape[-1]
    order = xp.argsort(input[..., ::-1], axis=-1, kind="stable")[..., ::-1][..., :kk]
    idx = (n - 1) - order
    values = xp.take_along_axis(input, idx, axis=-1)
    return values, idx.astype(np.int32, copy=False)


@top_k_kernel.grad
def _top_k_grad(op, grad_values, grad_indices):
    x, indices = op.inputs[0], op.outputs[1]
    g = x.graph
    xd = dims(x)
    in_shape = array_ops._shape_of(x)
    if xd is not None and all(d is not None for d in xd):
        n = int(xd[-1])
        total = int(np.prod(xd, dtype=np.int64))
        starts = np.arange(0, total, max(n, 1), dtype=np.int32).reshape(xd[:-1] + (1,))
        offsets = array_ops._int_const(starts, g)
        num = array_ops._int_const(total, g)
    else:
        n_t = in_shape[-1]
        num = array_ops.size(x)
        outer = array_ops.range(0, num, math_ops.maximum(n_t, 1))
        lead = array_ops._shape_of(indices)[:-1]
        offsets = array_ops.reshape(outer, array_ops.concat([lead, [1]], 0))
    flat_idx = array_ops.reshape(math_ops.add(indices, offsets), [-1])
    flat_grad = array_ops.reshape(grad_values, [-1])
    dense = array_ops.unsorted_segment_sum(flat_grad, flat_idx, num)
    return [array_ops.reshape(dense, in_shape), None]


def top_k(input: Any, k: Any = 1, sorted: bool = True, name: str | None = None) -> tuple:  # noqa: A002
    """The `k` largest entries of the last dimension of `input`, and their indices.

    Args:
        input: a real Tensor of rank >= 1 with at least `k` entries in its last dimension.
        k: a 0-D int32 Tensor (or Python int): how many entries to return per row.
        sorted: return the values in descending order (labflow always sorts; equal values keep the
            order of their indices).
        name: a name for the op (default "TopKV2").

    Returns:
        A tuple `(values, indices)`: values of input's dtype and int32 indices, both of shape
        `input.shape[:-1] + [k]`.

    Raises:
        ValueError: k < 0 or greater than the last dimension (when static).
    """
    x = convert_to_tensor(input, name="input")
    kt = convert_to_tensor(k, dtype=_dt.int32, name="k")
    o = make_op("TopKV2", [x, kt], {"sorted": bool(sorted)}, name or "TopKV2")
    return _TopKResult(o.outputs[0], o.outputs[1])


class _TopKResult(tuple):
    """`(values, indices)` that also has `.values` and `.indices` (TF's namedtuple TopKV2)."""

    def __new__(cls, values: Tensor, indices: Tensor) -> _TopKResult:
        return super().__new__(cls, (values, indices))

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])


# -- InTopKV2 ---------------------------------------------------------------------------------------
def _in_top_k_shape(ins, attrs):
    p, t, k = ins
    if base(p) != _dt.float32:
        raise TypeError(f"Value passed to parameter 'predictions' has DataType {base(p).name} not in list of "
                        "allowed values: float32")
    pd, td, kd = dims(p), dims(t), dims(k)
    if pd is not None and len(pd) != 2:
        raise ValueError(f"Shape must be rank 2 but is rank {len(pd)}")
    if td is not None and len(td) != 1:
        raise ValueError(f"Shape must be rank 1 but is rank {len(td)}")
    if kd is not None and len(kd) != 0:
        raise ValueError(f"Shape must be rank 0 but is rank {len(kd)}")
    b = TensorShape(None if pd is None else pd[:1])
    try:
        b = b.merge_with(TensorShape(td))
    except ValueError:
        raise ValueError(f"Dimensions must be equal, but are {pd[0]} and {td[0]}") from None
    return _dt.bool, (b.as_tuple() if b.ndims is not None else (None,))


@op("InTopKV2", inputs=("predictions", "targets", "k"), types=INDEX_TYPES, type_inputs=("targets", "k"),
    shape=_in_top_k_shape, not_differentiable=True, host_inputs=(2,))
def in_top_k_kernel(xp, predictions, targets, k):
    n = predictions.shape[1]
    kk = int(k)
    valid = (targets >= 0) & (targets < n)
    if n == 0:
        return xp.zeros(targets.shape, dtype=bool)
    t = xp.clip(targets, 0, n - 1).astype(xp.intp, copy=False)
    target_pred = xp.take_along_axis(predictions, t[:, None], axis=1)
    # TF: a row with any non-finite prediction cannot say (False); ties at the boundary are all in.
    finite = xp.all(xp.isfinite(predictions), axis=1)
    more = xp.sum(predictions > target_pred, axis=1)
    return valid & finite & (more < kk)


def in_top_k(predictions: Any, targets: Any, k: Any, name: str | None = None) -> Tensor:
    """Whether each target is among the top `k` predictions of its row.

    Classes tied with the k-th largest prediction all count as in the top k; a row with a non-finite
    prediction, or a target outside [0, num_classes), gives False.

    Args:
        predictions: a float32 Tensor of shape [batch, num_classes].
        targets: an int32 or int64 Tensor of shape [batch] (class ids).
        k: a Python int or 0-D Tensor of the targets' dtype.
        name: a name for the op (default "in_top_k").

    Returns:
        A bool Tensor of shape [batch].
    """
    with name_scope(name, "in_top_k"):
        p = convert_to_tensor(predictions, name="predictions")
        t = convert_to_tensor(targets, dtype_hint=_dt.int32, name="targets")
        kt = convert_to_tensor(k, dtype=base(t), name="k")
        return make_tensor("InTopKV2", [p, t, kt], None, "InTopKV2")
