"""Top-k `tf.metrics` (TF 1.x): precision/recall at k, their `*_at_top_k` forms and average precision at k.

`labels` hold each example's relevant class ids: an int Tensor [batch, n] (or [batch], one id each) or a
SparseTensor (its rows may differ in length). A row's ids are taken as a set and should be unique.
Each top-k prediction that is in its row's labels is a true positive; the others are false positives;
labels not among the top k are false negatives (ids outside [0, num_classes) can never be predicted,
so they always count as false negatives, as in TF). The counts are float64 local metric variables and
the metrics are float64; a ratio with nothing counted is NaN, as in TF.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.tensor import Tensor
from labflow.metrics.metrics_impl import _publish, metric_variable
from labflow.ops import array_ops, math_ops, state_ops
from labflow.ops.common import convert_to_tensor
from labflow.ops.variable_scope import variable_scope

__all__ = ["precision_at_k", "recall_at_k", "precision_at_top_k", "recall_at_top_k", "average_precision_at_k",
           "sparse_precision_at_k", "sparse_average_precision_at_k"]


def _at_k_name(name: str, k: int, class_id: int | None = None) -> str:
    """TF's scope names: precision_at_2, recall_at_5_class3."""
    return f"{name}_at_{k}" + ("" if class_id is None else f"_class{class_id}")


def _labels_and_mask(labels: Any, predictions_idx: Tensor) -> tuple:
    """(labels [batch, n] int64, present [batch, n] float64): which label slots hold an id."""
    from labflow.framework.sparse_tensor import SparseTensor
    from labflow.ops.sparse_ops import sparse_tensor_to_dense
    if isinstance(labels, SparseTensor):
        if labels.get_shape().ndims not in (None, 2):
            raise ValueError(f"SparseTensor labels must be [batch, n], got rank {labels.get_shape().ndims}")
        ids = math_ops.cast(labels.values, _dt.int64)
        dense = sparse_tensor_to_dense(SparseTensor(labels.indices, ids, labels.dense_shape), default_value=-1)
        flags = SparseTensor(labels.indices, array_ops.ones_like(ids, dtype=_dt.float64), labels.dense_shape)
        return dense, sparse_tensor_to_dense(flags, default_value=0.0)
    t = math_ops.cast(convert_to_tensor(labels, name="labels"), _dt.int64)
    pr, lr = predictions_idx.get_shape().ndims, t.get_shape().ndims
    if pr is not None and lr is not None and lr == pr - 1:
        t = array_ops.expand_dims(t, -1)
    elif lr is not None and lr != 2:
        raise ValueError(f"labels must be [batch] or [batch, n] (or a SparseTensor), got shape {t.get_shape()}")
    return t, array_ops.ones_like(t, dtype=_dt.float64)


def _hits(labels: Tensor, present: Tensor, predictions_idx: Tensor) -> Tensor:
    """[batch, k] float64: 1 where the i-th prediction is one of the row's labels."""
    eq = math_ops.equal(array_ops.expand_dims(predictions_idx, 2), array_ops.expand_dims(labels, 1))
    matches = math_ops.multiply(math_ops.cast(eq, _dt.float64), array_ops.expand_dims(present, 1))
    return math_ops.reduce_max(matches, axis=2)


def _class_flags(labels: Tensor, present: Tensor, predictions_idx: Tensor, class_id: int) -> tuple:
    """([batch] in_labels, [batch] in_predictions), float64, for one class."""
    cid = convert_to_tensor(int(class_id), dtype=_dt.int64)
    in_labels = math_ops.reduce_max(math_ops.multiply(math_ops.cast(math_ops.equal(labels, cid), _dt.float64),
                                                      present), axis=1)
    in_preds = math_ops.reduce_max(math_ops.cast(math_ops.equal(predictions_idx, cid), _dt.float64), axis=1)
    return in_labels, in_preds


def _row_weights(weights: Any, like: Tensor) -> Tensor | None:
    if weights is None:
        return None
    w = math_ops.cast(convert_to_tensor(weights, name="weights"), _dt.float64)
    if w.get_shape().ndims == 2:
        w = array_ops.reshape(w, [-1])
    return math_ops.multiply(w, array_ops.ones_like(like))


def _counts(kind: str, labels: Any, predictions_idx: Tensor, k: int, class_id: int | None, weights: Any) -> tuple:
    """(tp per row, other per row): other is fp (kind "precision") or fn (kind "recall"), float64 [batch]."""
    lab, present = _labels_and_mask(labels, predictions_idx)
    if class_id is None:
        hits = _hits(lab, present, predictions_idx)
        tp = math_ops.reduce_sum(hits, axis=1)
        if kind == "precision":
            other = math_ops.subtract(math_ops.cast(array_ops.shape(predictions_idx)[1], _dt.float64), tp)
        else:
            other = math_ops.subtract(math_ops.reduce_sum(present, axis=1), tp)
    else:
        in_labels, in_preds = _class_flags(lab, present, predictions_idx, class_id)
        tp = math_ops.multiply(in_labels, in_preds)
        other = math_ops.subtract(in_preds if kind == "precision" else in_labels, tp)
    w = _row_weights(weights, tp)
    if w is not None:
        tp, other = math_ops.multiply(tp, w), math_ops.multiply(other, w)
    return tp, other


def _streaming_ratio(kind: str, labels: Any, predictions_idx: Tensor, k: int, class_id: int | None, weights: Any,
                     metrics_collections: Any, updates_collections: Any) -> tuple:
    suffix = _at_k_name("", k, class_id)[1:]
    other_name = "false_positive" if kind == "precision" else "false_negative"
    tp_row, other_row = _counts(kind, labels, predictions_idx, k, class_id, weights)
    tp_var = metric_variable([], _dt.float64, name=f"true_positive_{suffix}")
    other_var = metric_variable([], _dt.float64, name=f"{other_name}_{suffix}")
    tp_up = state_ops.assign_add(tp_var, math_ops.reduce_sum(tp_row))
    other_up = state_ops.assign_add(other_var, math_ops.reduce_sum(other_row))
    value = math_ops.divide(tp_var, math_ops.add(tp_var, other_var), name="value")
    update_op = math_ops.divide(tp_up, math_ops.add(tp_up, other_up), name="update_op")
    return _publish(value, update_op, metrics_collections, updates_collections)


def _top_k_idx(predictions: Any, k: int) -> Tensor:
    from labflow.ops.nn_extra_ops import top_k
    return math_ops.cast(top_k(convert_to_tensor(predictions, name="predictions"), k)[1], _dt.int64)


def _idx(predictions_idx: Any, k: int | None) -> tuple:
    p = math_ops.cast(convert_to_tensor(predictions_idx, name="predictions_idx"), _dt.int64)
    last = p.get_shape().as_list()[-1] if p.get_shape().ndims else None
    if k is None:
        if last is None:
            raise ValueError("k is None and predictions_idx has an unknown last dimension: give k")
        k = last
    elif last is not None and last != k:
        raise ValueError(f"predictions_idx has {last} predictions per row, but k is {k}")
    return p, k


def precision_at_top_k(labels: Any, predictions_idx: Any, k: int | None = None, class_id: int | None = None,
                       weights: Any = None, metrics_collections: Any = None, updates_collections: Any = None,
                       name: str | None = None) -> tuple:
    """Precision of already-chosen top-k class ids `predictions_idx` [batch, k] (TF 1.x).

    Returns:
        `(precision, update_op)`: float64 scalars (NaN while nothing was predicted).
    """
    p, k = _idx(predictions_idx, k)
    with variable_scope(name, _at_k_name("precision", k, class_id)):
        return _streaming_ratio("precision", labels, p, k, class_id, weights, metrics_collections,
                                updates_collections)


def recall_at_top_k(labels: Any, predictions_idx: Any, k: int | None = None, class_id: int | None = None,
                    weights: Any = None, metrics_collections: Any = None, updates_collections: Any = None,
                    name: str | None = None) -> tuple:
    """Recall of already-chosen top-k class ids `predictions_idx` [batch, k] (TF 1.x).

    Returns:
        `(recall, update_op)`: float64 scalars (NaN while no label was seen).
    """
    p, k = _idx(predictions_idx, k)
    with variable_scope(name, _at_k_name("recall", k, class_id)):
        return _streaming_ratio("recall", labels, p, k, class_id, weights, metrics_collections, updates_collections)


def precision_at_k(labels: Any, predictions: Any, k: int, class_id: int | None = None, weights: Any = None,
                   metrics_collections: Any = None, updates_collections: Any = None, name: str | None = None) -> tuple:
    """The fraction of the k highest-scored classes that are labels, over all the batches seen (TF 1.x).

    Args:
        labels: the relevant class ids per example (see the module docstring).
        predictions: scores [batch, num_classes].
        k: how many top classes each example predicts.
        class_id: count only predictions of this class.
        weights: None, or per-example weights [batch].

    Returns:
        `(precision, update_op)`: float64 scalars.
    """
    with variable_scope(name, _at_k_name("precision", k, class_id)):
        return _streaming_ratio("precision", labels, _top_k_idx(predictions, k), k, class_id, weights,
                                metrics_collections, updates_collections)


def recall_at_k(labels: Any, predictions: Any, k: int, class_id: int | None = None, weights: Any = None,
                metrics_collections: Any = None, updates_collections: Any = None, name: str | None = None) -> tuple:
    """The fraction of labels among the k highest-scored classes, over all the batches seen (TF 1.x).

    Returns:
        `(recall, update_op)`: float64 scalars.
    """
    with variable_scope(name, _at_k_name("recall", k, class_id)):
        return _streaming_ratio("recall", labels, _top_k_idx(predictions, k), k, class_id, weights,
                                metrics_collections, updates_collections)


sparse_precision_at_k = precision_at_k


def average_precision_at_k(labels: Any, predictions: Any, k: int, weights: Any = None,
                           metrics_collections: Any = None, updates_collections: Any = None,
                           name: str | None = None) -> tuple:
    """The mean over examples of average precision at k (TF 1.x).

    An example's AP@k is sum_i precision@i * rel(i) / min(#labels, k) over its top k predictions, rel(i)
    being 1 when the i-th prediction is a label. Dense labels outside [0, num_classes) are ignored here
    (as in TF); an example with no labels has AP NaN, which makes the metric NaN, as in TF.

    Returns:
        `(mean_average_precision, update_op)`: float64 scalars.

    Raises:
        ValueError: k < 1.
    """
    if k < 1:
        raise ValueError(f"Invalid k={k}.")
    from labflow.ops.array_reshape_ops import range as lf_range
    with variable_scope(name, _at_k_name("average_precision", k)):
        # made first, so the ops below (a reduce_max is named "Max") cannot take their names
        max_var = metric_variable([], _dt.float64, name="max")
        total_var = metric_variable([], _dt.float64, name="total")
        predictions = convert_to_tensor(predictions, name="predictions")
        idx = _top_k_idx(predictions, k)
        lab, present = _labels_and_mask(labels, idx)
        from labflow.framework.sparse_tensor import SparseTensor
        if not isinstance(labels, SparseTensor):
            # TF drops dense labels outside [0, num_classes) here (they do count for recall_at_k).
            num_classes = math_ops.cast(array_ops.shape(predictions)[-1], _dt.int64)
            zero = convert_to_tensor(0, _dt.int64)
            valid = math_ops.logical_and(math_ops.greater_equal(lab, zero), math_ops.less(lab, num_classes))
            present = math_ops.multiply(present, math_ops.cast(valid, _dt.float64))
        rel = _hits(lab, present, idx)
        ranks = math_ops.cast(lf_range(1, k + 1), _dt.float64)
        precision_per_k = math_ops.divide(math_ops.cumsum(rel, axis=1), ranks)
        precision_sum = math_ops.reduce_sum(math_ops.multiply(precision_per_k, rel), axis=1)
        num_relevant = math_ops.minimum(math_ops.reduce_sum(present, axis=1), convert_to_tensor(float(k), _dt.float64))
        ap = math_ops.divide(precision_sum, num_relevant)
        w = _row_weights(weights, ap)
        if w is not None:
            ap = math_ops.multiply(ap, w)
        batch_max = math_ops.cast(array_ops.size(ap), _dt.float64) if w is None else math_ops.reduce_sum(w)
        max_up = state_ops.assign_add(max_var, batch_max)
        total_up = state_ops.assign_add(total_var, math_ops.reduce_sum(ap))
        zero = convert_to_tensor(0.0, _dt.float64)

        def safe_div(a: Tensor, b: Tensor, label: str) -> Tensor:
            return array_ops.where(math_ops.greater(b, zero), math_ops.divide(a, b), zero, name=label)
        value = safe_div(total_var, max_var, "value")
        update_op = safe_div(total_up, max_up, "update_op")
        return _publish(value, update_op, metrics_collections, updates_collections)


sparse_average_precision_at_k = average_precision_at_k
