"""Sequence losses of the TF 1.x language-model tutorials: `tf.contrib.seq2seq.sequence_loss` and
`tf.contrib.legacy_seq2seq.sequence_loss_by_example` / `sequence_loss`."""

from __future__ import annotations

from typing import Any

from labflow.framework.graph import get_default_graph
from labflow.framework.tensor import Tensor
from labflow.ops import array_ops, math_ops, nn_xent_ops, reduction_ops
from labflow.ops.common import convert_to_tensor

__all__ = ["sequence_loss", "sequence_loss_by_example", "legacy_sequence_loss"]


def _xent(labels: Tensor, logits: Tensor, softmax_loss_function: Any) -> Tensor:
    if softmax_loss_function is None:
        return nn_xent_ops.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    return softmax_loss_function(labels=labels, logits=logits)


def _rank(t: Tensor, want: int, what: str) -> None:
    dims = t._shape_dims
    if dims is not None and len(dims) != want:
        raise ValueError(f"{what}, got shape {t.get_shape()}")


def sequence_loss(logits: Any, targets: Any, weights: Any, average_across_timesteps: bool = True,
                  average_across_batch: bool = True, softmax_loss_function: Any = None,
                  name: str | None = None) -> Tensor:
    """Weighted cross-entropy of a sequence of logits (TF 1.x `tf.contrib.seq2seq.sequence_loss`).

    Args:
        logits: [batch, steps, classes] float.
        targets: [batch, steps] int class ids.
        weights: [batch, steps] float (1 for real tokens, 0 for padding).
        average_across_timesteps: divide the sum over steps by the sum of the weights over steps.
        average_across_batch: divide the sum over the batch by the sum of the weights over the batch.
        softmax_loss_function: f(labels=, logits=) replacing the sparse softmax cross-entropy.
        name: the name scope (default "sequence_loss").

    Returns:
        A scalar with both averages, [steps] or [batch] with one, [batch, steps] with neither.

    Raises:
        ValueError: a rank other than the above.
    """
    with get_default_graph().name_scope(name or "sequence_loss"):
        logits, targets = convert_to_tensor(logits), convert_to_tensor(targets)
        weights = convert_to_tensor(weights, dtype=logits.dtype.base_dtype)
        _rank(logits, 3, "Logits must be a [batch_size x sequence_length x logits] tensor")
        _rank(targets, 2, "Targets must be a [batch_size x sequence_length] tensor")
        _rank(weights, 2, "Weights must be a [batch_size x sequence_length] tensor")
        classes = logits._shape_dims[2] if logits._shape_dims is not None else None
        flat = array_ops.reshape(logits, [-1, classes if classes is not None else array_ops.shape(logits)[2]])
        crossent = _xent(array_ops.reshape(targets, [-1]), flat, softmax_loss_function)
        crossent = crossent * array_ops.reshape(weights, [-1])
        if average_across_timesteps and average_across_batch:
            return reduction_ops.reduce_sum(crossent) / (reduction_ops.reduce_sum(weights) + 1e-12)
        shape = array_ops.shape(logits)
        crossent = array_ops.reshape(crossent, [shape[0], shape[1]])
        if average_across_timesteps:
            return reduction_ops.reduce_sum(crossent, axis=[1]) / (reduction_ops.reduce_sum(weights, axis=[1]) + 1e-12)
        if average_across_batch:
            return reduction_ops.reduce_sum(crossent, axis=[0]) / (reduction_ops.reduce_sum(weights, axis=[0]) + 1e-12)
        return crossent


def sequence_loss_by_example(logits: list, targets: list, weights: list, average_across_timesteps: bool = True,
                             softmax_loss_function: Any = None, name: str | None = None) -> Tensor:
    """Per-row weighted cross-entropy of lists of per-step logits [batch, classes], targets [batch] and
    weights [batch] (TF 1.x `tf.contrib.legacy_seq2seq.sequence_loss_by_example`): a [batch] vector.

    Raises:
        ValueError: the three lists differ in length.
    """
    if len(targets) != len(logits) or len(weights) != len(logits):
        raise ValueError(f"Lengths of logits, weights, and targets must be the same {len(logits)}, {len(weights)}, "
                         f"{len(targets)}.")
    with get_default_graph().name_scope(name or "sequence_loss_by_example"):
        terms = [_xent(array_ops.reshape(t, [-1]), lg, softmax_loss_function) * w
                 for lg, t, w in zip(logits, targets, weights)]
        log_perps = math_ops.add_n(terms)
        if average_across_timesteps:
            log_perps = log_perps / (math_ops.add_n(list(weights)) + 1e-12)
        return log_perps


def legacy_sequence_loss(logits: list, targets: list, weights: list, average_across_timesteps: bool = True,
                         average_across_batch: bool = True, softmax_loss_function: Any = None,
                         name: str | None = None) -> Tensor:
    """`tf.contrib.legacy_seq2seq.sequence_loss`: the sum of sequence_loss_by_example, over the batch size
    when `average_across_batch`."""
    with get_default_graph().name_scope(name or "sequence_loss"):
        cost = reduction_ops.reduce_sum(sequence_loss_by_example(
            logits, targets, weights, average_across_timesteps, softmax_loss_function))
        if average_across_batch:
            from labflow.ops import compare_ops
            batch = array_ops.shape(targets[0])[0]
            return cost / compare_ops.cast(batch, cost.dtype.base_dtype)
        return cost
