"""`tf.metrics`: streaming metrics over local variables (TF 1.x metrics_impl.py).

Each metric returns `(value, update_op)`: running `update_op` folds a batch into the metric's
accumulators (local variables in GraphKeys.LOCAL_VARIABLES and GraphKeys.METRIC_VARIABLES, so
`tf.local_variables_initializer()` resets them) and returns the updated value; `value` reads the
current value without updating.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.graph import GraphKeys, add_to_collections
from labflow.framework.tensor import Tensor
from labflow.losses.util import broadcast_weights, remove_squeezable_dimensions, remove_squeezable_weights
from labflow.ops import array_ops, math_ops, state_ops
from labflow.ops.common import base, convert_to_tensor
from labflow.ops.variable_scope import variable_scope
from labflow.ops.variables import Variable

__all__ = ["metric_variable", "mean", "accuracy", "true_positives", "false_positives", "true_negatives",
           "false_negatives", "precision", "recall", "mean_absolute_error", "mean_squared_error"]


def metric_variable(shape: Any, dtype: Any, validate_shape: bool = True, name: str | None = None) -> Variable:
    """A zero-initialized local variable for a metric (LOCAL_VARIABLES and METRIC_VARIABLES, not trainable)."""
    dt = _dt.as_dtype(dtype).base_dtype
    return Variable(lambda: array_ops.zeros(shape, dt), trainable=False,
                    collections=[GraphKeys.LOCAL_VARIABLES, GraphKeys.METRIC_VARIABLES],
                    validate_shape=validate_shape, name=name)


def _add(collections: Any, value: Any) -> None:
    if collections:
        add_to_collections(collections, value)


def _publish(value: Tensor, update_op: Any, metrics_collections: Any, updates_collections: Any) -> tuple:
    """Adds a metric's value and update op to the caller's collections; returns `(value, update_op)`."""
    _add(metrics_collections, value)
    _add(updates_collections, update_op)
    return value, update_op


def _compatible(a: Tensor, b: Tensor) -> None:
    if not a.get_shape().is_compatible_with(b.get_shape()):
        raise ValueError(f"Shapes {a.get_shape()} and {b.get_shape()} are incompatible")


def _squeeze(predictions: Tensor, labels: Tensor | None, weights: Any) -> tuple:
    """TF's _remove_squeezable_dimensions for metrics (labels and predictions of equal rank)."""
    if labels is not None:
        labels, predictions = remove_squeezable_dimensions(labels, predictions)
    weights = remove_squeezable_weights(predictions, weights)
    return predictions, labels, weights


def _weigh(values: Tensor, weights: Any) -> tuple:
    """(values * weights, weights): the weights squeezed, cast to float32 and broadcast to `values`."""
    values, _, weights = _squeeze(values, None, weights)
    weights = broadcast_weights(math_ops.cast(weights, _dt.float32), values)
    return math_ops.multiply(values, weights), weights


def _running_mean(total: Variable, count: Variable, values: Tensor, num_values: Tensor, metrics_collections: Any,
                  updates_collections: Any) -> tuple:
    """`total / count` after adding a batch's (weighted) `values` and `num_values` to the accumulators."""
    update_total = state_ops.assign_add(total, values)
    # TF adds a control dependency on `values` here; it only orders the two updates, and the runtime
    # cannot yet take a control input from a fed placeholder, so it is left out.
    update_count = state_ops.assign_add(count, num_values)
    zero = convert_to_tensor(0.0)
    mean_t = math_ops.div_no_nan(total, math_ops.maximum(count, zero), name="value")
    update_op = math_ops.div_no_nan(update_total, math_ops.maximum(update_count, zero), name="update_op")
    return _publish(mean_t, update_op, metrics_collections, updates_collections)


def mean(values: Any, weights: Any = None, metrics_collections: Any = None, updates_collections: Any = None,
         name: str | None = None) -> tuple:
    """The (weighted) mean of `values` over all the batches seen.

    Args:
        values: a Tensor of any shape.
        weights: None, or a Tensor broadcastable to `values` (its rank, or a scalar).
        metrics_collections: collections the mean is added to.
        updates_collections: collections the update op is added to.
        name: a variable scope (default "mean").

    Returns:
        `(mean, update_op)`: float32 scalars (0 before any value was seen).
    """
    with variable_scope(name, "mean"):
        values = math_ops.cast(values, _dt.float32)
        total = metric_variable([], _dt.float32, name="total")
        count = metric_variable([], _dt.float32, name="count")
        if weights is None:
            num_values = math_ops.cast(array_ops.size(values), _dt.float32)
        else:
            values, weights = _weigh(values, weights)
            num_values = math_ops.reduce_sum(weights)
        return _running_mean(total, count, math_ops.reduce_sum(values), num_values, metrics_collections,
                             updates_collections)


def accuracy(labels: Any, predictions: Any, weights: Any = None, metrics_collections: Any = None,
             updates_collections: Any = None, name: str | None = None) -> tuple:
    """The fraction of `predictions` equal to `labels` over all the batches seen.

    Args:
        labels: the ground truth, a Tensor of the shape of `predictions`.
        predictions: the predicted values (e.g. `tf.argmax(logits, 1)`).
        weights: None, or a Tensor broadcastable to `labels`.
        metrics_collections, updates_collections: collections for the value and the update op.
        name: a variable scope (default "accuracy").

    Returns:
        `(accuracy, update_op)`: float32 scalars.

    Raises:
        ValueError: predictions and labels have incompatible shapes.
    """
    predictions = convert_to_tensor(predictions)
    labels = convert_to_tensor(labels)
    predictions, labels, weights = _squeeze(predictions, labels, weights)
    _compatible(predictions, labels)
    if base(labels) != base(predictions):
        predictions = math_ops.cast(predictions, base(labels))
    is_correct = math_ops.cast(math_ops.equal(predictions, labels), _dt.float32)
    return mean(is_correct, weights, metrics_collections, updates_collections, name or "accuracy")


def _count_condition(values: Tensor, weights: Any, metrics_collections: Any, updates_collections: Any) -> tuple:
    count = metric_variable([], _dt.float32, name="count")
    values = math_ops.cast(values, _dt.float32)
    if weights is not None:
        weights = broadcast_weights(math_ops.cast(weights, _dt.float32), values)
        values = math_ops.multiply(values, weights)
    value = array_ops.identity(count)
    update_op = state_ops.assign_add(count, math_ops.reduce_sum(values))
    return _publish(value, update_op, metrics_collections, updates_collections)


def _bool_pair(labels: Any, predictions: Any, weights: Any) -> tuple:
    predictions = math_ops.cast(predictions, _dt.bool)
    labels = math_ops.cast(labels, _dt.bool)
    predictions, labels, weights = _squeeze(predictions, labels, weights)
    _compatible(predictions, labels)
    return labels, predictions, weights


def _condition_metric(default: str, cond: Any) -> Any:
    def metric(labels: Any, predictions: Any, weights: Any = None, metrics_collections: Any = None,
               updates_collections: Any = None, name: str | None = None) -> tuple:
        with variable_scope(name, default):
            lab, pred, w = _bool_pair(labels, predictions, weights)
            return _count_condition(cond(lab, pred), w, metrics_collections, updates_collections)
    metric.__name__ = default
    metric.__doc__ = (f"The (weighted) number of {default.replace('_', ' ')} over all the batches seen.\n\n"
                      "Labels and predictions are cast to bool.\n\nReturns:\n    `(value, update_op)`: float32 "
                      "scalars.\n")
    return metric


def _not(x: Tensor) -> Tensor:
    return math_ops.logical_not(x)


true_positives = _condition_metric("true_positives", lambda lab, p: math_ops.logical_and(lab, p))
false_positives = _condition_metric("false_positives", lambda lab, p: math_ops.logical_and(_not(lab), p))
true_negatives = _condition_metric("true_negatives", lambda lab, p: math_ops.logical_and(_not(lab), _not(p)))
false_negatives = _condition_metric("false_negatives", lambda lab, p: math_ops.logical_and(lab, _not(p)))


def _ratio(a: Tensor, b: Tensor, name: str) -> Tensor:
    """a / (a + b), 0 where a + b is 0 (TF's compute_precision / compute_recall)."""
    total = math_ops.add(a, b)
    zero = convert_to_tensor(0.0)
    return array_ops.where(math_ops.greater(total, zero), math_ops.divide(a, total), zero, name=name)


def precision(labels: Any, predictions: Any, weights: Any = None, metrics_collections: Any = None,
              updates_collections: Any = None, name: str | None = None) -> tuple:
    """true_positives / (true_positives + false_positives) over all the batches seen (bool-cast inputs).

    Returns:
        `(precision, update_op)`: float32 scalars (0 while nothing was predicted positive).
    """
    with variable_scope(name, "precision"):
        lab, pred, w = _bool_pair(labels, predictions, weights)
        tp, tp_up = true_positives(lab, pred, w)
        fp, fp_up = false_positives(lab, pred, w)
        return _publish(_ratio(tp, fp, "value"), _ratio(tp_up, fp_up, "update_op"), metrics_collections,
                        updates_collections)


def recall(labels: Any, predictions: Any, weights: Any = None, metrics_collections: Any = None,
           updates_collections: Any = None, name: str | None = None) -> tuple:
    """true_positives / (true_positives + false_negatives) over all the batches seen (bool-cast inputs).

    Returns:
        `(recall, update_op)`: float32 scalars (0 while no label was positive).
    """
    with variable_scope(name, "recall"):
        lab, pred, w = _bool_pair(labels, predictions, weights)
        tp, tp_up = true_positives(lab, pred, w)
        fn, fn_up = false_negatives(lab, pred, w)
        return _publish(_ratio(tp, fn, "value"), _ratio(tp_up, fn_up, "update_op"), metrics_collections,
                        updates_collections)


def _error_metric(default: str, fn: Any) -> Any:
    def metric(labels: Any, predictions: Any, weights: Any = None, metrics_collections: Any = None,
               updates_collections: Any = None, name: str | None = None) -> tuple:
        predictions = convert_to_tensor(predictions)
        labels = convert_to_tensor(labels)
        predictions, labels, weights = _squeeze(predictions, labels, weights)
        _compatible(predictions, labels)
        err = fn(math_ops.cast(predictions, _dt.float32), math_ops.cast(labels, _dt.float32))
        return mean(err, weights, metrics_collections, updates_collections, name or default)
    metric.__name__ = default
    metric.__doc__ = (f"The (weighted) {default.replace('_', ' ')} of predictions against labels over all the "
                      "batches seen.\n\nReturns:\n    `(value, update_op)`: float32 scalars.\n")
    return metric


mean_absolute_error = _error_metric("mean_absolute_error", lambda p, t: math_ops.abs(math_ops.subtract(p, t)))
mean_squared_error = _error_metric("mean_squared_error", math_ops.squared_difference)
