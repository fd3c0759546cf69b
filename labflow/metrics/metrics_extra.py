"""More `tf.metrics` (TF 1.x): RMSE, mean_tensor, percentage_below, relative and cosine errors, mean IoU and
mean per-class accuracy. Each returns `(value, update_op)` over local metric variables, like metrics_impl.py.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.tensor import Tensor
from labflow.losses.util import remove_squeezable_dimensions
from labflow.metrics.metrics_impl import (
    _compatible,
    _publish,
    _running_mean,
    _squeeze,
    _weigh,
    mean,
    mean_squared_error,
    metric_variable,
)
from labflow.ops import array_ops, math_ops, state_ops
from labflow.ops.array_matrix_ops import diag_part
from labflow.ops.common import convert_to_tensor
from labflow.ops.variable_scope import variable_scope

__all__ = ["root_mean_squared_error", "mean_tensor", "percentage_below", "mean_relative_error",
           "mean_cosine_distance", "mean_iou", "mean_per_class_accuracy"]


def _float_pair(labels: Any, predictions: Any, weights: Any) -> tuple:
    """labels and predictions as float32, squeezed to one shape (ValueError where they cannot be)."""
    predictions = math_ops.cast(convert_to_tensor(predictions), _dt.float32)
    labels = math_ops.cast(convert_to_tensor(labels), _dt.float32)
    predictions, labels, weights = _squeeze(predictions, labels, weights)
    _compatible(predictions, labels)
    return labels, predictions, weights


def root_mean_squared_error(labels: Any, predictions: Any, weights: Any = None, metrics_collections: Any = None,
                            updates_collections: Any = None, name: str | None = None) -> tuple:
    """The square root of the (weighted) mean squared error over all the batches seen.

    Returns:
        `(rmse, update_op)`: float32 scalars.
    """
    mse, update_mse = mean_squared_error(labels, predictions, weights, None, None, name or "root_mean_squared_error")
    return _publish(math_ops.sqrt(mse), math_ops.sqrt(update_mse), metrics_collections, updates_collections)


def mean_tensor(values: Any, weights: Any = None, metrics_collections: Any = None, updates_collections: Any = None,
                name: str | None = None) -> tuple:
    """The elementwise (weighted) mean of `values` over all the batches seen.

    Args:
        values: a Tensor of fully defined shape; the result has that shape.
        weights: None, or a Tensor broadcastable to `values`.
        metrics_collections, updates_collections: collections for the value and the update op.
        name: a variable scope (default "mean").

    Returns:
        `(mean, update_op)`: float32 tensors of the shape of `values` (0 where nothing was counted).
    """
    with variable_scope(name, "mean"):
        values = math_ops.cast(values, _dt.float32)
        if not values.get_shape().is_fully_defined():
            raise ValueError(f"mean_tensor needs values of fully defined shape, got {values.get_shape()}")
        shape = values.get_shape().as_list()
        total = metric_variable(shape, _dt.float32, name="total_tensor")
        count = metric_variable(shape, _dt.float32, name="count_tensor")
        num_values = array_ops.ones_like(values)
        if weights is not None:
            values, weights = _weigh(values, weights)
            num_values = math_ops.multiply(num_values, weights)
        return _running_mean(total, count, values, num_values, metrics_collections, updates_collections)


def percentage_below(values: Any, threshold: float, weights: Any = None, metrics_collections: Any = None,
                     updates_collections: Any = None, name: str | None = None) -> tuple:
    """The (weighted) fraction of `values` below `threshold` over all the batches seen.

    Returns:
        `(percentage, update_op)`: float32 scalars in [0, 1].
    """
    is_below = math_ops.cast(math_ops.less(values, threshold), _dt.float32)
    return mean(is_below, weights, metrics_collections, updates_collections, name or "percentage_below_threshold")


def mean_relative_error(labels: Any, predictions: Any, normalizer: Any, weights: Any = None,
                        metrics_collections: Any = None, updates_collections: Any = None,
                        name: str | None = None) -> tuple:
    """The (weighted) mean of |predictions - labels| / normalizer (0 where normalizer is 0).

    Returns:
        `(mean_relative_error, update_op)`: float32 scalars.
    """
    labels, predictions, weights = _float_pair(labels, predictions, weights)
    normalizer = math_ops.cast(convert_to_tensor(normalizer), _dt.float32)
    normalizer, predictions = remove_squeezable_dimensions(normalizer, predictions)
    _compatible(predictions, normalizer)
    relative = array_ops.where(math_ops.equal(normalizer, 0.0), array_ops.zeros_like(labels),
                               math_ops.divide(math_ops.abs(math_ops.subtract(labels, predictions)), normalizer))
    return mean(relative, weights, metrics_collections, updates_collections, name or "mean_relative_error")


def mean_cosine_distance(labels: Any, predictions: Any, dim: int, weights: Any = None,
                         metrics_collections: Any = None, updates_collections: Any = None,
                         name: str | None = None) -> tuple:
    """1 - the (weighted) mean dot product of unit-normalized `predictions` and `labels` along `dim`.

    Args:
        labels, predictions: Tensors of one shape, already unit-normalized along `dim`.
        dim: the dimension holding the vectors.
        weights: None, or a Tensor broadcastable to the dot products (size 1 along `dim`).

    Returns:
        `(mean_distance, update_op)`: float32 scalars.
    """
    labels, predictions, weights = _float_pair(labels, predictions, weights)
    radial = math_ops.reduce_sum(math_ops.multiply(predictions, labels), axis=[dim], keepdims=True)
    mean_d, update_d = mean(radial, weights, None, None, name or "mean_cosine_distance")
    one = convert_to_tensor(1.0)
    return _publish(math_ops.subtract(one, mean_d), math_ops.subtract(one, update_d), metrics_collections,
                    updates_collections)


def _flat(t: Tensor) -> Tensor:
    return array_ops.reshape(t, [-1]) if t.get_shape().ndims != 1 else t


def _streaming_confusion_matrix(labels: Any, predictions: Any, num_classes: int, weights: Any) -> tuple:
    from labflow.ops.array_sort_ops import confusion_matrix
    total_cm = metric_variable([num_classes, num_classes], _dt.float64, name="total_confusion_matrix")
    predictions = _flat(math_ops.cast(predictions, _dt.int64))
    labels = _flat(math_ops.cast(labels, _dt.int64))
    if weights is not None:
        weights = convert_to_tensor(weights)
        if weights.get_shape().ndims != 1:
            weights = array_ops.reshape(weights, [-1])
    current = confusion_matrix(labels, predictions, num_classes, weights=weights, dtype=_dt.float64)
    return total_cm, state_ops.assign_add(total_cm, current)


def mean_iou(labels: Any, predictions: Any, num_classes: int, weights: Any = None, metrics_collections: Any = None,
             updates_collections: Any = None, name: str | None = None) -> tuple:
    """The mean intersection-over-union over classes, from a streaming confusion matrix (TF 1.x).

    IoU of class c is TP / (TP + FP + FN); classes never seen in labels nor predictions are left out of
    the mean.

    Args:
        labels, predictions: integer Tensors of one shape with class ids in [0, num_classes).
        num_classes: the number of classes.
        weights: None, or a Tensor of the shape of `labels` (0 drops an entry).

    Returns:
        `(mean_iou, update_op)`: a float32 scalar, and the op that adds the batch's confusion matrix (as in
        TF 1.x it returns the updated [num_classes, num_classes] float64 matrix, not the IoU).
    """
    with variable_scope(name, "mean_iou"):
        predictions = convert_to_tensor(predictions)
        labels = convert_to_tensor(labels)
        _compatible(predictions, labels)
        total_cm, update_op = _streaming_confusion_matrix(labels, predictions, num_classes, weights)
        row = math_ops.cast(math_ops.reduce_sum(total_cm, 0), _dt.float32)
        col = math_ops.cast(math_ops.reduce_sum(total_cm, 1), _dt.float32)
        diag = math_ops.cast(diag_part(total_cm), _dt.float32)
        denominator = math_ops.subtract(math_ops.add(row, col), diag)
        valid = math_ops.reduce_sum(math_ops.cast(math_ops.not_equal(denominator, 0.0), _dt.float32))
        denominator = array_ops.where(math_ops.greater(denominator, 0.0), denominator,
                                      array_ops.ones_like(denominator))
        iou = math_ops.divide(diag, denominator)
        value = array_ops.where(math_ops.greater(valid, 0.0), math_ops.divide(math_ops.reduce_sum(iou), valid),
                                convert_to_tensor(0.0), name="mean_iou")
        return _publish(value, update_op, metrics_collections, updates_collections)


def mean_per_class_accuracy(labels: Any, predictions: Any, num_classes: int, weights: Any = None,
                            metrics_collections: Any = None, updates_collections: Any = None,
                            name: str | None = None) -> tuple:
    """The mean over all `num_classes` classes of each class's accuracy (TF 1.x).

    A class's accuracy is the (weighted) fraction of its labels predicted right; classes with no labels
    yet count as 0 in the mean, as in TF.

    Returns:
        `(mean_accuracy, update_op)`: a float32 scalar, and (as in TF 1.x) the op returning the updated
        per-class accuracies, a float32 [num_classes] vector.
    """
    with variable_scope(name, "mean_accuracy"):
        labels = _flat(math_ops.cast(convert_to_tensor(labels), _dt.int64))
        predictions = _flat(math_ops.cast(convert_to_tensor(predictions), _dt.int64))
        _compatible(predictions, labels)
        total = metric_variable([num_classes], _dt.float32, name="total")
        count = metric_variable([num_classes], _dt.float32, name="count")
        ones = array_ops.ones_like(labels, dtype=_dt.float32)
        is_correct = math_ops.cast(math_ops.equal(predictions, labels), _dt.float32)
        if weights is not None:
            w = _flat(math_ops.cast(convert_to_tensor(weights), _dt.float32))
            ones = math_ops.multiply(ones, w)
            is_correct = math_ops.multiply(is_correct, w)
        update_total = state_ops.scatter_add(total, labels, ones)
        update_count = state_ops.scatter_add(count, labels, is_correct)
        zero = convert_to_tensor(0.0)
        value = math_ops.reduce_mean(math_ops.div_no_nan(count, math_ops.maximum(total, zero)), name="mean_accuracy")
        update_op = math_ops.div_no_nan(update_count, math_ops.maximum(update_total, zero), name="update_op")
        return _publish(value, update_op, metrics_collections, updates_collections)
