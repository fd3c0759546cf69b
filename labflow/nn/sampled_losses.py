"""Sampled losses for large output vocabularies (nce_loss, sampled_softmax_loss) and log_poisson_loss.

Both sampled losses score each example against its true classes and one shared set of sampled classes
(TF's _compute_sampled_logits): the class embeddings are one embedding_lookup of `labels ++ sampled`, so the
gradient reaches `weights` and `biases` as IndexedSlices of just those rows, and the logits are corrected
by `-log(expected_count)` (subtract_log_q) so the estimator is unbiased for the sampler's distribution.
"""

from __future__ import annotations

import math
from typing import Any

from labflow import dtypes as _dt
from labflow.framework.graph import name_scope
from labflow.framework.tensor import Tensor
from labflow.ops import (
    array_gather_ops,
    array_join_ops,
    array_ops,
    array_reshape_ops,
    array_slice_ops,
    compare_ops,
    math_ops,
    matmul_ops,
    nn_xent_ops,
    reduction_ops,
    sparse_ops,
    unary_ops,
)
from labflow.ops import candidate_sampling_ops as _samplers
from labflow.ops.common import convert_to_tensor
from labflow.ops.embedding_ops import embedding_lookup

__all__ = ["nce_loss", "sampled_softmax_loss", "log_poisson_loss"]


def _param_list(weights: Any) -> list:
    return list(weights) if isinstance(weights, (list, tuple)) else [weights]


def _compute_sampled_logits(weights: Any, biases: Any, labels: Any, inputs: Any, num_sampled: int,
                            num_classes: int, num_true: int = 1, sampled_values: Any = None,
                            subtract_log_q: bool = True, remove_accidental_hits: bool = False,
                            partition_strategy: str = "mod", name: str | None = None,
                            seed: int | None = None) -> tuple:
    """The logits and target probabilities of the true and sampled classes (TF's helper of the same name).

    Returns:
        (out_logits, out_labels), both [batch_size, num_true + num_sampled]; the true classes come first,
        each with target probability 1 / num_true, the sampled ones with 0.
    """
    weights = _param_list(weights)
    with name_scope(name, "compute_sampled_logits"):
        labels = convert_to_tensor(labels, dtype_hint=_dt.int64, name="labels")
        if labels.dtype.base_dtype != _dt.int64:
            labels = compare_ops.cast(labels, _dt.int64)
        inputs = convert_to_tensor(inputs, name="inputs")
        labels_flat = array_ops.reshape(labels, [-1])
        if sampled_values is None:
            sampled_values = _samplers.log_uniform_candidate_sampler(
                true_classes=labels, num_true=num_true, num_sampled=num_sampled, unique=True,
                range_max=num_classes, seed=seed)
        sampled, true_expected_count, sampled_expected_count = (
            array_ops.stop_gradient(s) for s in sampled_values)
        sampled = compare_ops.cast(sampled, _dt.int64)
        all_ids = array_join_ops.concat([labels_flat, sampled], 0)
        n_true = array_ops.shape(labels_flat)[0]

        def rows(params: Any) -> Tensor:
            # cast adds no op when the dtypes already agree.
            return compare_ops.cast(embedding_lookup(params, all_ids, partition_strategy=partition_strategy),
                                    inputs.dtype.base_dtype)

        all_w = rows(weights)
        true_w = array_slice_ops.slice(all_w, [0, 0], array_join_ops.stack([n_true, -1]))
        sampled_w = array_slice_ops.slice(all_w, array_join_ops.stack([n_true, 0]), [-1, -1])
        sampled_logits = matmul_ops.matmul(inputs, sampled_w, transpose_b=True)

        all_b = rows(biases)
        true_b = array_slice_ops.slice(all_b, [0], array_ops.shape(labels_flat))
        sampled_b = array_slice_ops.slice(all_b, array_ops.shape(labels_flat), [-1])

        # Each example's own true classes: [batch, 1, dim] * [batch, num_true, dim], summed over dim.
        dim = array_ops.shape(true_w)[1:2]
        true_w = array_ops.reshape(true_w, array_join_ops.concat([[-1, num_true], dim], 0))
        true_logits = reduction_ops.reduce_sum(
            math_ops.multiply(array_reshape_ops.expand_dims(inputs, 1), true_w), 2)
        true_logits = math_ops.add(true_logits, array_ops.reshape(true_b, [-1, num_true]))
        sampled_logits = math_ops.add(sampled_logits, sampled_b)

        if remove_accidental_hits:
            acc_indices, acc_ids, acc_weights = _samplers.compute_accidental_hits(labels, sampled,
                                                                                 num_true=num_true)
            # int64 coordinates: acc_ids (the sampled ids) are int64.
            sparse_indices = array_join_ops.concat(
                [array_ops.reshape(compare_ops.cast(acc_indices, _dt.int64), [-1, 1]),
                 array_ops.reshape(acc_ids, [-1, 1])], 1, name="sparse_indices")
            logits_shape = array_join_ops.concat(
                [array_ops.shape(labels, out_type=_dt.int64)[:1],
                 array_reshape_ops.expand_dims(compare_ops.cast(num_sampled, _dt.int64), 0)], 0)
            if acc_weights.dtype.base_dtype != sampled_logits.dtype.base_dtype:
                acc_weights = compare_ops.cast(acc_weights, sampled_logits.dtype.base_dtype)
            sampled_logits = math_ops.add(sampled_logits, sparse_ops.sparse_to_dense(
                sparse_indices, logits_shape, acc_weights, default_value=0.0, validate_indices=False))

        if subtract_log_q:
            true_logits = math_ops.subtract(true_logits, unary_ops.log(
                compare_ops.cast(true_expected_count, true_logits.dtype.base_dtype)))
            sampled_logits = math_ops.subtract(sampled_logits, unary_ops.log(
                compare_ops.cast(sampled_expected_count, sampled_logits.dtype.base_dtype)))

        out_logits = array_join_ops.concat([true_logits, sampled_logits], 1)
        out_labels = array_join_ops.concat([
            math_ops.divide(array_ops.ones_like(true_logits), float(num_true)),
            array_ops.zeros_like(sampled_logits)], 1)
        return out_logits, out_labels


def nce_loss(weights: Any, biases: Any, labels: Any, inputs: Any, num_sampled: int, num_classes: int,
             num_true: int = 1, sampled_values: Any = None, remove_accidental_hits: bool = False,
             partition_strategy: str = "mod", name: str = "nce_loss") -> Tensor:
    """The noise-contrastive estimation loss (TF 1.x `tf.nn.nce_loss`), per example.

    Each true class and each sampled class is a binary logistic regression (sigmoid cross-entropy) on
    its logit minus log(expected count); the loss of an example sums them. With num_true > 1 each true
    class has target 1 / num_true. Use it for training only; evaluate with the full softmax.

    Args:
        weights: [num_classes, dim] class embeddings, or a list of its partitions.
        biases: [num_classes] class biases.
        labels: int64 [batch_size, num_true] target classes (int32 is cast).
        inputs: [batch_size, dim] the input network's activations.
        num_sampled: the number of classes sampled per batch.
        num_classes: the number of possible classes.
        num_true: the number of target classes per example.
        sampled_values: a sampler's (sampled_candidates, true_expected_count, sampled_expected_count);
            default: `log_uniform_candidate_sampler(unique=True)`.
        remove_accidental_hits: mask sampled classes that equal a true class of the example.
        partition_strategy: "mod" or "div", for partitioned weights (see `tf.nn.embedding_lookup`).
        name: a name for the operation.

    Returns:
        A [batch_size] Tensor of per-example NCE losses.
    """
    logits, labels = _compute_sampled_logits(
        weights=weights, biases=biases, labels=labels, inputs=inputs, num_sampled=num_sampled,
        num_classes=num_classes, num_true=num_true, sampled_values=sampled_values, subtract_log_q=True,
        remove_accidental_hits=remove_accidental_hits, partition_strategy=partition_strategy, name=name)
    losses = nn_xent_ops.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits, name="sampled_losses")
    return reduction_ops.reduce_sum(losses, 1)


def sampled_softmax_loss(weights: Any, biases: Any, labels: Any, inputs: Any, num_sampled: int,
                         num_classes: int, num_true: int = 1, sampled_values: Any = None,
                         remove_accidental_hits: bool = True, partition_strategy: str = "mod",
                         name: str = "sampled_softmax_loss", seed: int | None = None) -> Tensor:
    """The sampled softmax loss (TF 1.x `tf.nn.sampled_softmax_loss`), per example.

    A softmax cross-entropy over the true classes and the sampled ones only, each logit corrected by
    -log(expected count). Use it for training only; evaluate with the full softmax.

    Args:
        weights: [num_classes, dim] class embeddings, or a list of its partitions.
        biases: [num_classes] class biases.
        labels: int64 [batch_size, num_true] target classes (int32 is cast).
        inputs: [batch_size, dim] the input network's activations.
        num_sampled: the number of classes sampled per batch.
        num_classes: the number of possible classes.
        num_true: the number of target classes per example.
        sampled_values: a sampler's (sampled_candidates, true_expected_count, sampled_expected_count);
            default: `log_uniform_candidate_sampler(unique=True)`.
        remove_accidental_hits: mask sampled classes that equal a true class of the example (default True).
        partition_strategy: "mod" or "div", for partitioned weights.
        name: a name for the operation.
        seed: the op seed of the default sampler.

    Returns:
        A [batch_size] Tensor of per-example sampled softmax losses.
    """
    logits, labels = _compute_sampled_logits(
        weights=weights, biases=biases, labels=labels, inputs=inputs, num_sampled=num_sampled,
        num_classes=num_classes, num_true=num_true, sampled_values=sampled_values, subtract_log_q=True,
        remove_accidental_hits=remove_accidental_hits, partition_strategy=partition_strategy, name=name,
        seed=seed)
    labels = array_ops.stop_gradient(labels, name="labels_stop_gradient")
    return nn_xent_ops.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)


def log_poisson_loss(targets: Any, log_input: Any, compute_full_loss: bool = False,
                     name: str | None = None) -> Tensor:
    """The negative log-likelihood of `targets` under a Poisson with log-rate `log_input` (elementwise).

    `exp(log_input) - log_input * targets`; with `compute_full_loss` the Stirling approximation of
    `log(targets!)` is added where targets > 1 (it does not depend on log_input).

    Args:
        targets: a Tensor of counts.
        log_input: a Tensor of the same shape and type: the log of the predicted rate.
        compute_full_loss: add the Stirling term.
        name: a name for the operation (default "log_poisson_loss").

    Returns:
        A Tensor of the shape of `targets`: the elementwise loss.

    Raises:
        ValueError: `log_input` and `targets` have incompatible shapes.
    """
    with name_scope(name, "log_poisson_loss", [targets, log_input]) as scope:
        log_input = convert_to_tensor(log_input, name="log_input")
        targets = convert_to_tensor(targets, dtype=log_input.dtype.base_dtype, name="targets")
        if not log_input.get_shape().is_compatible_with(targets.get_shape()):
            raise ValueError(f"log_input and targets must have the same shape ({log_input.get_shape()} vs "
                             f"{targets.get_shape()})")
        result = math_ops.subtract(unary_ops.exp(log_input), math_ops.multiply(log_input, targets))
        if not compute_full_loss:
            return array_ops.identity(result, name=scope)
        stirling = math_ops.add(
            math_ops.subtract(math_ops.multiply(targets, unary_ops.log(targets)), targets),
            math_ops.multiply(0.5, unary_ops.log(math_ops.multiply(2.0 * math.pi, targets))))
        zeros = array_ops.zeros_like(targets)
        small = compare_ops.logical_and(compare_ops.greater_equal(targets, zeros),
                                     compare_ops.less_equal(targets, array_ops.ones_like(targets)))
        return math_ops.add(result, array_gather_ops.where(small, zeros, stirling), name=scope)
