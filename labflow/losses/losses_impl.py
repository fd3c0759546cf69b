"""`tf.losses`: weighted, reduced losses added to GraphKeys.LOSSES (TF 1.x losses_impl.py).

Every loss computes per-element losses, multiplies them by `weights` (a scalar or a tensor broadcastable
to the losses) and reduces them as `reduction` says. Like TF, the weighting and reduction run in float32
and the result is cast back to the losses' dtype.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.graph import GraphKeys, name_scope
from labflow.framework.tensor import Tensor
from labflow.losses import util
from labflow.ops import array_ops, math_ops
from labflow.ops.common import base, convert_to_tensor
from labflow.ops.nn_ops import relu
from labflow.ops.nn_xent_ops import (
    sigmoid_cross_entropy_with_logits,
    softmax_cross_entropy_with_logits_v2,
    sparse_softmax_cross_entropy_with_logits,
)

__all__ = ["Reduction", "compute_weighted_loss", "softmax_cross_entropy", "sparse_softmax_cross_entropy",
           "sigmoid_cross_entropy", "mean_squared_error", "absolute_difference", "log_loss", "huber_loss",
           "hinge_loss", "cosine_distance"]

_LOSSES = GraphKeys.LOSSES


class Reduction:
    """How a loss reduces its weighted per-element losses (TF 1.x `tf.losses.Reduction`).

    NONE: no reduction (the weighted losses, shaped like the input).
    SUM: the sum of the weighted losses.
    MEAN: SUM divided by the sum of the weights.
    SUM_OVER_BATCH_SIZE: SUM divided by the number of elements of the losses.
    SUM_BY_NONZERO_WEIGHTS (= SUM_OVER_NONZERO_WEIGHTS, the default): SUM divided by the number of
        elements whose weight is not zero.
    """

    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls) -> tuple:
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE, cls.SUM_OVER_NONZERO_WEIGHTS,
                cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, key: Any) -> None:
        if key not in cls.all():
            raise ValueError(f"Invalid Reduction Key {key}.")


def _safe_mean(total: Tensor, count: Tensor) -> Tensor:
    """total / count, 0 when count is 0."""
    return math_ops.div_no_nan(total, count, name="value")


def _num_elements(losses: Tensor) -> Tensor:
    with name_scope(None, "num_elements") as scope:
        return math_ops.cast(array_ops.size(losses, name=scope), base(losses))


def _num_present(losses: Tensor, weights: Tensor) -> Tensor:
    """The number of elements of `losses` whose (broadcast) weight is not zero, as float32."""
    with name_scope(None, "num_present") as scope:
        weights = math_ops.cast(weights, _dt.float32)
        zero = convert_to_tensor(0.0, dtype=_dt.float32)
        present = array_ops.where(math_ops.equal(weights, zero), array_ops.zeros_like(weights),
                                  array_ops.ones_like(weights))
        present = util.broadcast_weights(present, losses)
        return math_ops.reduce_sum(present, name=scope)


def compute_weighted_loss(losses: Any, weights: Any = 1.0, scope: str | None = None,
                          loss_collection: str | None = _LOSSES,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Weights `losses` and reduces them; adds the result to `loss_collection`.

    Args:
        losses: a Tensor of per-element losses.
        weights: a scalar, or a Tensor of the rank of `losses` whose dimensions are 1 or equal to
            those of `losses`.
        scope: a name scope (default "weighted_loss").
        loss_collection: the collection to add the loss to (None: none).
        reduction: a `Reduction` key.

    Returns:
        The weighted loss, with the dtype of `losses`: a scalar unless `reduction` is NONE.

    Raises:
        ValueError: an invalid reduction, or weights that cannot broadcast to the losses.
    """
    Reduction.validate(reduction)
    with name_scope(scope, "weighted_loss"):
        losses = convert_to_tensor(losses)
        input_dtype = base(losses)
        weights_t = convert_to_tensor(weights)
        util.assert_broadcastable(weights_t, losses)
        losses = math_ops.cast(losses, _dt.float32)
        weights_t = math_ops.cast(weights_t, _dt.float32)
        weighted = math_ops.multiply(losses, weights_t)
        if reduction == Reduction.NONE:
            loss = weighted
        else:
            loss = math_ops.reduce_sum(weighted)
            if reduction == Reduction.MEAN:
                loss = _safe_mean(loss, math_ops.reduce_sum(math_ops.multiply(array_ops.ones_like(losses),
                                                                              weights_t)))
            elif reduction == Reduction.SUM_BY_NONZERO_WEIGHTS:
                loss = _safe_mean(loss, _num_present(losses, weights_t))
            elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
                loss = _safe_mean(loss, _num_elements(losses))
        loss = math_ops.cast(loss, input_dtype)
        util.add_loss(loss, loss_collection)
        return loss


def _require(value: Any, what: str) -> None:
    if value is None:
        raise ValueError(f"{what} must not be None.")


def _check_compatible(a: Tensor, b: Tensor, what: str) -> None:
    if not a.get_shape().is_compatible_with(b.get_shape()):
        raise ValueError(f"{what}: Shapes {a.get_shape()} and {b.get_shape()} are incompatible")


def softmax_cross_entropy(onehot_labels: Any, logits: Any, weights: Any = 1.0, label_smoothing: float = 0,
                          scope: str | None = None, loss_collection: str | None = _LOSSES,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Softmax cross-entropy between one-hot (or probability) labels and logits, weighted and reduced.

    With `label_smoothing` > 0 the labels become `onehot_labels * (1 - label_smoothing) +
    label_smoothing / num_classes`. No gradient flows into the labels.

    Args:
        onehot_labels: [batch, num_classes] labels (cast to the logits' dtype).
        logits: [batch, num_classes] unscaled log-probabilities.
        weights: a scalar or a [batch] Tensor (per example).
        label_smoothing: a float in [0, 1].
        scope: a name scope (default "softmax_cross_entropy_loss").
        loss_collection: the collection the loss is added to.
        reduction: a `Reduction` key.

    Returns:
        The loss Tensor (a scalar unless `reduction` is NONE).

    Raises:
        ValueError: missing arguments, incompatible shapes, or bad weights.
    """
    _require(onehot_labels, "onehot_labels")
    _require(logits, "logits")
    with name_scope(scope, "softmax_cross_entropy_loss") as sc:
        logits = convert_to_tensor(logits)
        onehot_labels = math_ops.cast(onehot_labels, base(logits))
        _check_compatible(logits, onehot_labels, "softmax_cross_entropy")
        if label_smoothing > 0:
            num_classes = math_ops.cast(array_ops.shape(onehot_labels)[-1], base(logits))
            smooth_pos = convert_to_tensor(1.0 - label_smoothing, dtype=base(logits))
            smooth_neg = math_ops.divide(convert_to_tensor(label_smoothing, dtype=base(logits)), num_classes)
            onehot_labels = math_ops.add(math_ops.multiply(onehot_labels, smooth_pos), smooth_neg)
        onehot_labels = array_ops.stop_gradient(onehot_labels, name="labels_stop_gradient")
        losses = softmax_cross_entropy_with_logits_v2(labels=onehot_labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)


def sparse_softmax_cross_entropy(labels: Any, logits: Any, weights: Any = 1.0, scope: str | None = None,
                                 loss_collection: str | None = _LOSSES,
                                 reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Softmax cross-entropy between integer class labels and logits, weighted and reduced.

    Args:
        labels: [batch] (or [batch, 1]) int32/int64 class ids in [0, num_classes).
        logits: [batch, num_classes] unscaled log-probabilities.
        weights: a scalar or a [batch] Tensor.
        scope: a name scope (default "sparse_softmax_cross_entropy_loss").
        loss_collection: the collection the loss is added to.
        reduction: a `Reduction` key.

    Returns:
        The loss Tensor (a scalar unless `reduction` is NONE).
    """
    _require(labels, "labels")
    _require(logits, "logits")
    with name_scope(scope, "sparse_softmax_cross_entropy_loss") as sc:
        logits = convert_to_tensor(logits)
        labels = convert_to_tensor(labels, dtype_hint=_dt.int32)
        labels, logits = util.remove_squeezable_dimensions(labels, logits, expected_rank_diff=1)
        weights = util.remove_squeezable_weights(labels, weights)
        losses = sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)


def sigmoid_cross_entropy(multi_class_labels: Any, logits: Any, weights: Any = 1.0, label_smoothing: float = 0,
                          scope: str | None = None, loss_collection: str | None = _LOSSES,
                          reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """Sigmoid cross-entropy between 0/1 labels and logits, weighted and reduced.

    With `label_smoothing` > 0 the labels become `labels * (1 - label_smoothing) + 0.5 * label_smoothing`.

    Returns:
        The loss Tensor (a scalar unless `reduction` is NONE).
    """
    _require(multi_class_labels, "multi_class_labels")
    _require(logits, "logits")
    with name_scope(scope, "sigmoid_cross_entropy_loss") as sc:
        logits = convert_to_tensor(logits)
        labels = math_ops.cast(multi_class_labels, base(logits))
        _check_compatible(logits, labels, "sigmoid_cross_entropy")
        if label_smoothing > 0:
            dt = base(logits)
            labels = math_ops.add(math_ops.multiply(labels, convert_to_tensor(1 - label_smoothing, dtype=dt)),
                                  convert_to_tensor(0.5 * label_smoothing, dtype=dt))
        losses = sigmoid_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)


def _float_pair(labels: Any, predictions: Any, what: str) -> tuple:
    _require(labels, "labels")
    _require(predictions, "predictions")
    p = math_ops.cast(predictions, _dt.float32)
    lab = math_ops.cast(labels, _dt.float32)
    _check_compatible(p, lab, what)
    return lab, p


def mean_squared_error(labels: Any, predictions: Any, weights: Any = 1.0, scope: str | None = None,
                       loss_collection: str | None = _LOSSES,
                       reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """The weighted, reduced squared error `(predictions - labels) ** 2` (computed in float32).

    Returns:
        A float32 loss Tensor (a scalar unless `reduction` is NONE).
    """
    with name_scope(scope, "mean_squared_error") as sc:
        labels, predictions = _float_pair(labels, predictions, "mean_squared_error")
        losses = math_ops.squared_difference(predictions, labels)
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)


def absolute_difference(labels: Any, predictions: Any, weights: Any = 1.0, scope: str | None = None,
                        loss_collection: str | None = _LOSSES,
                        reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """The weighted, reduced absolute error `|predictions - labels|` (computed in float32).

    Returns:
        A float32 loss Tensor (a scalar unless `reduction` is NONE).
    """
    with name_scope(scope, "absolute_difference") as sc:
        labels, predictions = _float_pair(labels, predictions, "absolute_difference")
        losses = math_ops.abs(math_ops.subtract(predictions, labels))
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)


def log_loss(labels: Any, predictions: Any, weights: Any = 1.0, epsilon: float = 1e-7, scope: str | None = None,
             loss_collection: str | None = _LOSSES,
             reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """The weighted, reduced log loss of probabilities `predictions` against 0/1 `labels`.

    `-labels * log(predictions + epsilon) - (1 - labels) * log(1 - predictions + epsilon)`.

    Returns:
        A float32 loss Tensor (a scalar unless `reduction` is NONE).
    """
    with name_scope(scope, "log_loss") as sc:
        labels, predictions = _float_pair(labels, predictions, "log_loss")
        eps = convert_to_tensor(epsilon, dtype=_dt.float32)
        one = convert_to_tensor(1.0, dtype=_dt.float32)
        pos = math_ops.multiply(labels, math_ops.log(math_ops.add(predictions, eps)))
        neg = math_ops.multiply(math_ops.subtract(one, labels),
                                math_ops.log(math_ops.add(math_ops.subtract(one, predictions), eps)))
        losses = math_ops.subtract(math_ops.negative(pos), neg)
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)


def huber_loss(labels: Any, predictions: Any, weights: Any = 1.0, delta: float = 1.0, scope: str | None = None,
               loss_collection: str | None = _LOSSES,
               reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """The weighted, reduced Huber loss: quadratic for |error| <= delta, linear beyond.

    Returns:
        A float32 loss Tensor (a scalar unless `reduction` is NONE).
    """
    with name_scope(scope, "huber_loss") as sc:
        labels, predictions = _float_pair(labels, predictions, "huber_loss")
        abs_error = math_ops.abs(math_ops.subtract(predictions, labels))
        d = convert_to_tensor(delta, dtype=_dt.float32)
        quadratic = math_ops.minimum(abs_error, d)
        linear = math_ops.subtract(abs_error, quadratic)
        half = convert_to_tensor(0.5, dtype=_dt.float32)
        losses = math_ops.add(math_ops.multiply(half, math_ops.multiply(quadratic, quadratic)),
                              math_ops.multiply(d, linear))
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)


def hinge_loss(labels: Any, logits: Any, weights: Any = 1.0, scope: str | None = None,
               loss_collection: str | None = _LOSSES,
               reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS) -> Tensor:
    """The weighted, reduced hinge loss `relu(1 - (2 * labels - 1) * logits)` for 0/1 labels.

    Returns:
        A float32 loss Tensor (a scalar unless `reduction` is NONE).
    """
    _require(logits, "logits")
    with name_scope(scope, "hinge_loss") as sc:
        labels, logits = _float_pair(labels, logits, "hinge_loss")
        ones = array_ops.ones_like(labels)
        signed = math_ops.subtract(math_ops.multiply(convert_to_tensor(2.0), labels), ones)
        losses = relu(math_ops.subtract(ones, math_ops.multiply(signed, logits)))
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)


def cosine_distance(labels: Any, predictions: Any, axis: int | None = None, weights: Any = 1.0,
                    scope: str | None = None, loss_collection: str | None = _LOSSES,
                    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS, dim: int | None = None) -> Tensor:
    """The weighted, reduced cosine distance `1 - sum(labels * predictions, axis)` of unit vectors.

    Raises:
        ValueError: `axis` (or its old name `dim`) is not given.
    """
    if axis is not None and dim is not None:
        raise ValueError("Cannot specify both 'axis' and 'dim'")
    axis = axis if axis is not None else dim
    if axis is None:
        raise ValueError("You must specify 'axis'.")
    with name_scope(scope, "cosine_distance_loss") as sc:
        labels, predictions = _float_pair(labels, predictions, "cosine_distance")
        radial = math_ops.multiply(predictions, labels)
        losses = math_ops.subtract(convert_to_tensor(1.0), math_ops.reduce_sum(radial, [axis], keepdims=True))
        return compute_weighted_loss(losses, weights, sc, loss_collection, reduction=reduction)
