"""`tf.metrics` over score thresholds (TF 1.x): confusion counts at thresholds, precision/recall at
thresholds, AUC (ROC and PR), sensitivity at specificity and specificity at sensitivity.

All of them stream four float32 count vectors (true/false positives/negatives, one entry per
threshold) in local metric variables; a prediction counts as positive at threshold t when it is > t.
Predictions must be in [0, 1]: a run with others fails an assertion, as in TF.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.graph import control_dependencies
from labflow.framework.tensor import Tensor
from labflow.losses.util import broadcast_weights
from labflow.metrics.metrics_impl import _compatible, _publish, _squeeze, metric_variable
from labflow.ops import array_ops, math_ops, state_ops
from labflow.ops.common import convert_to_tensor
from labflow.ops.variable_scope import variable_scope

__all__ = ["true_positives_at_thresholds", "false_positives_at_thresholds", "true_negatives_at_thresholds",
           "false_negatives_at_thresholds", "precision_at_thresholds", "recall_at_thresholds", "auc",
           "sensitivity_at_specificity", "specificity_at_sensitivity"]

_NAMES = {"tp": "true_positives", "fn": "false_negatives", "tn": "true_negatives", "fp": "false_positives"}
_KEPSILON = 1e-7


def _checked_predictions(predictions: Any) -> Tensor:
    """`predictions` as float32, only available after asserting they lie in [0, 1] (TF's check)."""
    from labflow.ops import check_ops
    p = math_ops.cast(convert_to_tensor(predictions), _dt.float32)
    lo = check_ops.assert_greater_equal(p, convert_to_tensor(0.0), message="predictions must be in [0, 1]")
    hi = check_ops.assert_less_equal(p, convert_to_tensor(1.0), message="predictions must be in [0, 1]")
    with control_dependencies([lo, hi]):
        return array_ops.identity(p)


def confusion_matrix_at_thresholds(labels: Any, predictions: Any, thresholds: list, weights: Any = None,
                                   includes: tuple = ("tp", "fn", "tn", "fp")) -> tuple:
    """(values, update_ops): dicts of the counts named in `includes`, each a [len(thresholds)] float32 tensor."""
    for k in includes:
        if k not in _NAMES:
            raise ValueError(f"Invalid key: {k} (use tp, fn, tn, fp)")
    predictions = _checked_predictions(predictions)
    labels = math_ops.cast(convert_to_tensor(labels), _dt.bool)
    predictions, labels, weights = _squeeze(predictions, labels, weights)
    _compatible(predictions, labels)
    n = len(thresholds)
    # [T, 1] against [1, N]: broadcasting replaces TF's tiles with the same result.
    thresh = convert_to_tensor([[float(t)] for t in thresholds], dtype=_dt.float32, name="thresholds")
    pred_pos = math_ops.greater(array_ops.reshape(predictions, [1, -1]), thresh)
    label_pos = array_ops.reshape(labels, [1, -1])
    w = None
    if weights is not None:
        w = array_ops.reshape(broadcast_weights(math_ops.cast(weights, _dt.float32), predictions), [1, -1])
    conds = {"tp": lambda: math_ops.logical_and(label_pos, pred_pos),
             "fn": lambda: math_ops.logical_and(label_pos, math_ops.logical_not(pred_pos)),
             "tn": lambda: math_ops.logical_and(math_ops.logical_not(label_pos), math_ops.logical_not(pred_pos)),
             "fp": lambda: math_ops.logical_and(math_ops.logical_not(label_pos), pred_pos)}
    values, updates = {}, {}
    for k in includes:
        var = metric_variable([n], _dt.float32, name=_NAMES[k])
        hits = math_ops.cast(conds[k](), _dt.float32)
        if w is not None:
            hits = math_ops.multiply(hits, w)
        values[k] = var
        updates[k] = state_ops.assign_add(var, math_ops.reduce_sum(hits, 1))
    return values, updates


def _count_metric(key: str) -> Any:
    default = f"{_NAMES[key]}_at_thresholds"

    def metric(labels: Any, predictions: Any, thresholds: list, weights: Any = None, metrics_collections: Any = None,
               updates_collections: Any = None, name: str | None = None) -> tuple:
        with variable_scope(name, _NAMES[key]):
            values, updates = confusion_matrix_at_thresholds(labels, predictions, thresholds, weights, (key,))
            value = array_ops.identity(values[key])
            return _publish(value, updates[key], metrics_collections, updates_collections)
    metric.__name__ = default
    metric.__doc__ = (f"The (weighted) number of {_NAMES[key].replace('_', ' ')} at each threshold over all the "
                      "batches seen.\n\nArgs:\n    labels: ground truth, cast to bool.\n    predictions: scores in "
                      "[0, 1].\n    thresholds: a list of floats; a score > t is positive at t.\n\nReturns:\n    "
                      "`(counts, update_op)`: float32 tensors of shape [len(thresholds)].\n")
    return metric


true_positives_at_thresholds = _count_metric("tp")
false_positives_at_thresholds = _count_metric("fp")
true_negatives_at_thresholds = _count_metric("tn")
false_negatives_at_thresholds = _count_metric("fn")


def _ratio_at_thresholds(default: str, other: str) -> Any:
    def metric(labels: Any, predictions: Any, thresholds: list, weights: Any = None, metrics_collections: Any = None,
               updates_collections: Any = None, name: str | None = None) -> tuple:
        with variable_scope(name, default):
            values, updates = confusion_matrix_at_thresholds(labels, predictions, thresholds, weights, ("tp", other))
            eps = convert_to_tensor(_KEPSILON)

            def ratio(d: dict, label: str) -> Tensor:
                return math_ops.divide(d["tp"], math_ops.add(eps, math_ops.add(d["tp"], d[other])), name=label)
            value, update_op = ratio(values, "value"), ratio(updates, "update_op")
            return _publish(value, update_op, metrics_collections, updates_collections)
    return metric


precision_at_thresholds = _ratio_at_thresholds("precision_at_thresholds", "fp")
precision_at_thresholds.__name__ = "precision_at_thresholds"
precision_at_thresholds.__doc__ = """tp / (tp + fp) at each threshold over all the batches seen (TF 1.x).

Returns:
    `(precision, update_op)`: float32 tensors of shape [len(thresholds)].
"""
recall_at_thresholds = _ratio_at_thresholds("recall_at_thresholds", "fn")
recall_at_thresholds.__name__ = "recall_at_thresholds"
recall_at_thresholds.__doc__ = """tp / (tp + fn) at each threshold over all the batches seen (TF 1.x).

Returns:
    `(recall, update_op)`: float32 tensors of shape [len(thresholds)].
"""


def _default_thresholds(num_thresholds: int) -> list:
    inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
    return [0.0 - _KEPSILON] + inner + [1.0 + _KEPSILON]


def _interpolate_pr_auc(tp: Tensor, fp: Tensor, fn: Tensor, n: int, label: str) -> Tensor:
    """Davis & Goadrich's PR-AUC interpolation (TF's careful_interpolation)."""
    zero = convert_to_tensor(0.0)
    dtp = math_ops.subtract(tp[:n - 1], tp[1:])
    p = math_ops.add(tp, fp)
    slope = math_ops.div_no_nan(dtp, math_ops.maximum(math_ops.subtract(p[:n - 1], p[1:]), zero))
    intercept = math_ops.subtract(tp[1:], math_ops.multiply(slope, p[1:]))
    safe_ratio = array_ops.where(math_ops.logical_and(math_ops.greater(p[:n - 1], zero), math_ops.greater(p[1:], zero)),
                                 math_ops.div_no_nan(p[:n - 1], math_ops.maximum(p[1:], zero)),
                                 array_ops.ones_like(p[1:]))
    term = math_ops.multiply(slope, math_ops.add(dtp, math_ops.multiply(intercept, math_ops.log(safe_ratio))))
    return math_ops.reduce_sum(math_ops.div_no_nan(term, math_ops.maximum(math_ops.add(tp[1:], fn[1:]), zero)),
                               name=label)


def _compute_auc(d: dict, n: int, curve: str, summation_method: str, label: str) -> Tensor:
    tp, fn, tn, fp = d["tp"], d["fn"], d["tn"], d["fp"]
    if curve == "PR" and summation_method == "careful_interpolation":
        return _interpolate_pr_auc(tp, fp, fn, n, label)
    eps = convert_to_tensor(1.0e-6)
    rec = math_ops.divide(math_ops.add(tp, eps), math_ops.add(math_ops.add(tp, fn), eps))
    if curve == "ROC":
        x, y = math_ops.divide(fp, math_ops.add(math_ops.add(fp, tn), eps)), rec
    else:
        x, y = rec, math_ops.divide(math_ops.add(tp, eps), math_ops.add(math_ops.add(tp, fp), eps))
    dx = math_ops.subtract(x[:n - 1], x[1:])
    if summation_method in ("trapezoidal", "careful_interpolation"):
        height = math_ops.divide(math_ops.add(y[:n - 1], y[1:]), 2.0)
    elif summation_method == "minoring":
        height = math_ops.minimum(y[:n - 1], y[1:])
    else:
        height = math_ops.maximum(y[:n - 1], y[1:])
    return math_ops.reduce_sum(math_ops.multiply(dx, height), name=label)


def auc(labels: Any, predictions: Any, weights: Any = None, num_thresholds: int = 200,
        metrics_collections: Any = None, updates_collections: Any = None, curve: str = "ROC",
        name: str | None = None, summation_method: str = "trapezoidal", thresholds: list | None = None) -> tuple:
    """The area under the ROC or precision-recall curve, approximated over thresholds (TF 1.x `tf.metrics.auc`).

    Args:
        labels: ground truth, cast to bool.
        predictions: scores in [0, 1], the shape of `labels`.
        weights: None, or a Tensor broadcastable to `labels`.
        num_thresholds: the number of evenly spaced thresholds (> 1).
        curve: "ROC" or "PR".
        summation_method: "trapezoidal" (default), "careful_interpolation" (PR: Davis & Goadrich's
            interpolation; ROC: trapezoidal), "minoring" or "majoring" (lower / upper Riemann sums).
        thresholds: explicit thresholds in [0, 1] instead of num_thresholds (0 - eps and 1 + eps are added).

    Returns:
        `(auc, update_op)`: float32 scalars.

    Raises:
        ValueError: a bad curve, summation_method or num_thresholds.
    """
    if curve not in ("ROC", "PR"):
        raise ValueError(f"curve must be either ROC or PR, {curve} unknown")
    if summation_method not in ("trapezoidal", "careful_interpolation", "minoring", "majoring"):
        raise ValueError(f"Invalid summation_method: {summation_method} (use trapezoidal, careful_interpolation, "
                         "minoring or majoring)")
    with variable_scope(name, "auc"):
        if thresholds is not None:
            ts = [0.0 - _KEPSILON] + sorted(float(t) for t in thresholds) + [1.0 + _KEPSILON]
        else:
            if num_thresholds < 2:
                raise ValueError(f"num_thresholds must be > 1, got {num_thresholds}")
            ts = _default_thresholds(num_thresholds)
        n = len(ts)
        values, updates = confusion_matrix_at_thresholds(labels, predictions, ts, weights)
        value = _compute_auc(values, n, curve, summation_method, "value")
        update_op = _compute_auc(updates, n, curve, summation_method, "update_op")
        return _publish(value, update_op, metrics_collections, updates_collections)


def _at_operating_point(default: str, target_name: str, compute: Any) -> Any:
    def metric(labels: Any, predictions: Any, target: float, weights: Any = None, num_thresholds: int = 200,
               metrics_collections: Any = None, updates_collections: Any = None, name: str | None = None) -> tuple:
        if target < 0 or target > 1:
            raise ValueError(f"`{target_name}` must be in the range [0, 1].")
        with variable_scope(name, default):
            ts = _default_thresholds(num_thresholds)
            values, updates = confusion_matrix_at_thresholds(labels, predictions, ts, weights)
            value = compute(values, float(target), "value")
            update_op = compute(updates, float(target), "update_op")
            return _publish(value, update_op, metrics_collections, updates_collections)
    return metric


def _sensitivity(d: dict, specificity: float, label: str) -> Tensor:
    eps = convert_to_tensor(_KEPSILON)
    specs = math_ops.divide(d["tn"], math_ops.add(math_ops.add(d["tn"], d["fp"]), eps))
    i = math_ops.cast(math_ops.argmin(math_ops.abs(math_ops.subtract(specs, specificity)), 0), _dt.int32)
    tp, fn = array_ops.gather(d["tp"], i), array_ops.gather(d["fn"], i)
    return math_ops.divide(tp, math_ops.add(math_ops.add(tp, fn), eps), name=label)


def _specificity(d: dict, sensitivity: float, label: str) -> Tensor:
    eps = convert_to_tensor(_KEPSILON)
    sens = math_ops.divide(d["tp"], math_ops.add(math_ops.add(d["tp"], d["fn"]), eps))
    dist = math_ops.abs(math_ops.subtract(sens, sensitivity))
    at_min = math_ops.cast(math_ops.equal(dist, math_ops.reduce_min(dist)), _dt.int64)
    # the last threshold at the minimal distance: where the running count of minima first peaks
    i = math_ops.cast(math_ops.argmax(math_ops.cumsum(at_min), 0), _dt.int32)
    tn, fp = array_ops.gather(d["tn"], i), array_ops.gather(d["fp"], i)
    return math_ops.divide(tn, math_ops.add(math_ops.add(tn, fp), eps), name=label)


_sensitivity_metric = _at_operating_point("sensitivity_at_specificity", "specificity", _sensitivity)
_specificity_metric = _at_operating_point("specificity_at_sensitivity", "sensitivity", _specificity)


def sensitivity_at_specificity(labels: Any, predictions: Any, specificity: float, weights: Any = None,
                               num_thresholds: int = 200, metrics_collections: Any = None,
                               updates_collections: Any = None, name: str | None = None) -> tuple:
    """The sensitivity (recall) at the threshold whose specificity is closest to `specificity` (TF 1.x).

    Returns:
        `(sensitivity, update_op)`: float32 scalars.

    Raises:
        ValueError: `specificity` outside [0, 1].
    """
    return _sensitivity_metric(labels, predictions, specificity, weights, num_thresholds, metrics_collections,
                               updates_collections, name)


def specificity_at_sensitivity(labels: Any, predictions: Any, sensitivity: float, weights: Any = None,
                               num_thresholds: int = 200, metrics_collections: Any = None,
                               updates_collections: Any = None, name: str | None = None) -> tuple:
    """The specificity at the (last) threshold whose sensitivity is closest to `sensitivity` (TF 1.x).

    Returns:
        `(specificity, update_op)`: float32 scalars.

    Raises:
        ValueError: `sensitivity` outside [0, 1].
    """
    return _specificity_metric(labels, predictions, sensitivity, weights, num_thresholds, metrics_collections,
                               updates_collections, name)
