"""`tf.losses` collection helpers (add_loss, get_losses, get_total_loss, ...) and the shape helpers the
losses and metrics share (squeezing a trailing 1-dimension, broadcasting weights).
"""

from __future__ import annotations

from typing import Any

from labflow.framework.graph import GraphKeys, add_to_collection, get_collection, name_scope
from labflow.framework.tensor import Tensor
from labflow.ops import array_ops, math_ops
from labflow.ops.common import base, convert_to_tensor

__all__ = ["add_loss", "get_losses", "get_regularization_losses", "get_regularization_loss", "get_total_loss"]


def add_loss(loss: Any, loss_collection: str | None = GraphKeys.LOSSES) -> None:
    """Adds `loss` to the collection `loss_collection` (nothing when it is None or empty)."""
    if loss_collection:
        add_to_collection(loss_collection, loss)


def get_losses(scope: str | None = None, loss_collection: str = GraphKeys.LOSSES) -> list:
    """The losses in `loss_collection` whose names match `scope` (a regex; None: all)."""
    return get_collection(loss_collection, scope)


def get_regularization_losses(scope: str | None = None) -> list:
    """The regularization losses (GraphKeys.REGULARIZATION_LOSSES) whose names match `scope`."""
    return get_collection(GraphKeys.REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope: str | None = None, name: str = "total_regularization_loss") -> Tensor:
    """The sum of the regularization losses, or a float32 0.0 when there are none."""
    losses = get_regularization_losses(scope)
    if losses:
        return math_ops.add_n(losses, name=name)
    return array_ops.constant(0.0)


def get_total_loss(add_regularization_losses: bool = True, name: str = "total_loss",
                   scope: str | None = None) -> Tensor:
    """The sum of the losses in GraphKeys.LOSSES, plus the regularization losses by default.

    Raises:
        ValueError: there are no losses to sum.
    """
    losses = get_losses(scope)
    if add_regularization_losses:
        losses = losses + get_regularization_losses(scope)
    if not losses:
        raise ValueError("No losses found: add some with tf.losses.* (or tf.losses.add_loss) before calling "
                         "tf.losses.get_total_loss().")
    return math_ops.add_n(losses, name=name)


# -- helpers shared with tf.metrics -------------------------------------------------------------------
def remove_squeezable_dimensions(labels: Tensor, predictions: Tensor, expected_rank_diff: int = 0) -> tuple:
    """Squeezes a trailing size-1 dimension of labels or predictions so their ranks differ as expected.

    Static ranks only (like TF's fast path); with an unknown rank the tensors pass through unchanged.
    """
    lr, pr = labels.get_shape().ndims, predictions.get_shape().ndims
    if lr is None or pr is None:
        return labels, predictions
    diff = pr - lr
    if diff == expected_rank_diff + 1 and predictions.get_shape()[-1].is_compatible_with(1):
        predictions = array_ops.squeeze(predictions, [-1])
    elif diff == expected_rank_diff - 1 and labels.get_shape()[-1].is_compatible_with(1):
        labels = array_ops.squeeze(labels, [-1])
    return labels, predictions


def remove_squeezable_weights(labels: Tensor, weights: Any) -> Any:
    """Squeezes the last dimension of `weights` when it has one more dimension than `labels`."""
    if weights is None:
        return None
    weights = convert_to_tensor(weights)
    lr, wr = labels.get_shape().ndims, weights.get_shape().ndims
    if lr is not None and wr is not None and wr - lr == 1:
        weights = array_ops.squeeze(weights, [-1])
    return weights


def assert_broadcastable(weights: Tensor, values: Tensor) -> None:
    """Checks statically that `weights` broadcast to `values` the way tf.losses allows.

    Weights must be a scalar, or have the rank of `values` with each dimension 1 or equal to the
    corresponding dimension of `values`.

    Raises:
        ValueError: with TF's wording, when the static shapes show they cannot.
    """
    ws, vs = weights.get_shape(), values.get_shape()
    if ws.ndims == 0 or ws.ndims is None or vs.ndims is None:
        return
    if ws.ndims != vs.ndims:
        raise ValueError(f"weights can not be broadcast to values. values.rank={vs.ndims}. "
                         f"weights.rank={ws.ndims}. values.shape={vs}. weights.shape={ws}.")
    for w, v in zip(ws.as_list(), vs.as_list()):
        if w is not None and v is not None and w != 1 and w != v:
            raise ValueError(f"weights can not be broadcast to values. values.shape={vs}. weights.shape={ws}.")


def broadcast_weights(weights: Any, values: Tensor) -> Tensor:
    """`weights` broadcast to the shape of `values` (TF's weights_broadcast_ops.broadcast_weights)."""
    with name_scope(None, "broadcast_weights") as scope:
        values = convert_to_tensor(values, name="values")
        weights = convert_to_tensor(weights, dtype=base(values), name="weights")
        ws, vs = weights.get_shape(), values.get_shape()
        if ws.is_fully_defined() and vs.is_fully_defined() and ws.is_compatible_with(vs):
            return weights
        assert_broadcastable(weights, values)
        return math_ops.multiply(weights, array_ops.ones_like(values), name=scope)
