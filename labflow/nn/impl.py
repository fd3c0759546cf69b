"""Composite `tf.nn` functions built from primitives, as TF 1.x builds them (nn_impl.py): moments,
batch_normalization, l2_normalize, xw_plus_b, relu_layer, weighted_cross_entropy_with_logits,
sufficient_statistics, normalize_moments, weighted_moments, zero_fraction, batch_norm_with_global_normalization,
and the per-replica loss scaling of TF 1.x's compat API (compute_average_loss, scale_regularization_loss).
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.graph import name_scope
from labflow.framework.tensor import Tensor
from labflow.ops import array_ops, math_ops
from labflow.ops.common import base, convert_to_tensor
from labflow.ops.nn_ops import bias_add, pick_axis, relu

__all__ = ["moments", "batch_normalization", "l2_normalize", "xw_plus_b", "relu_layer",
           "weighted_cross_entropy_with_logits", "sufficient_statistics", "normalize_moments", "weighted_moments",
           "zero_fraction", "batch_norm_with_global_normalization", "compute_average_loss",
           "scale_regularization_loss"]


def _pick_keepdims(keep_dims: Any, keepdims: Any) -> bool:
    if keep_dims is not None and keepdims is not None:
        raise ValueError("Cannot specify both 'keepdims' and 'keep_dims'")
    v = keepdims if keepdims is not None else keep_dims
    return bool(v) if v is not None else False


def _axes(axes: Any) -> Any:
    if isinstance(axes, Tensor):
        return axes
    return list(axes) if isinstance(axes, (list, tuple)) else [axes]


def _moments_out(mean: Tensor, variance: Tensor, ax: Any, keep: bool, half: bool) -> tuple[Tensor, Tensor]:
    """(mean, variance) as the moments functions return them: reduced axes dropped unless `keep`, and back in
    float16 for a float16 input (computed in float32)."""
    if not keep:
        mean = array_ops.squeeze(mean, ax)
        variance = array_ops.squeeze(variance, ax)
    if half:
        return math_ops.cast(mean, _dt.float16), math_ops.cast(variance, _dt.float16)
    return mean, variance


def moments(x: Any, axes: Any, shift: Any = None, name: str | None = None, keep_dims: Any = None,
            keepdims: Any = None) -> tuple[Tensor, Tensor]:
    """The mean and variance of `x` over `axes`.

    For a batch of vectors of shape [batch, d], `axes=[0]` gives per-feature statistics; for NHWC images
    `axes=[0, 1, 2]` gives per-channel statistics (what batch normalization needs). half inputs are
    computed in float32 and the results cast back.

    Args:
        x: a float Tensor.
        axes: the dimensions to reduce (a list of ints).
        shift: unused (kept for TF 1.x compatibility).
        name: a name scope (default "moments").
        keep_dims: keep the reduced dimensions with length 1.
        keepdims: the new spelling of `keep_dims`.

    Returns:
        Two Tensors `(mean, variance)`.
    """
    keep = _pick_keepdims(keep_dims, keepdims)
    with name_scope(name, "moments"):
        x = convert_to_tensor(x, name="x")
        half = base(x) == _dt.float16
        y = math_ops.cast(x, _dt.float32) if half else x
        ax = _axes(axes)
        mean = math_ops.reduce_mean(y, ax, keepdims=True, name="mean")
        # The mean's own gradient through the variance is zero: stop it, as TF does.
        variance = math_ops.reduce_mean(math_ops.squared_difference(y, array_ops.stop_gradient(mean)), ax,
                                        keepdims=True, name="variance")
        return _moments_out(mean, variance, ax, keep, half)


def batch_normalization(x: Any, mean: Any, variance: Any, offset: Any, scale: Any, variance_epsilon: float,
                        name: str | None = None) -> Tensor:
    """Normalizes `x` by `mean` and `variance`, then scales by `scale` and shifts by `offset`.

    `scale * (x - mean) / sqrt(variance + variance_epsilon) + offset`, with all of mean, variance,
    offset and scale broadcast against `x` (e.g. per-channel vectors from `moments`).

    Args:
        x: the input Tensor.
        mean, variance: Tensors broadcastable to `x`.
        offset: the beta term (None for none).
        scale: the gamma term (None for none).
        variance_epsilon: a small float added to the variance to avoid dividing by zero.
        name: a name scope (default "batchnorm").

    Returns:
        The normalized, scaled and shifted Tensor.
    """
    with name_scope(name, "batchnorm"):
        x = convert_to_tensor(x, name="x")
        mean = convert_to_tensor(mean, name="mean")
        variance = convert_to_tensor(variance, name="variance")
        eps = convert_to_tensor(variance_epsilon, dtype=base(variance))
        # Operators, not math_ops calls, so the op names match TF's graph ("batchnorm/add_1").
        inv = math_ops.rsqrt(variance + eps)
        if scale is not None:
            inv *= scale
        shift = offset - mean * inv if offset is not None else -mean * inv
        return x * math_ops.cast(inv, base(x)) + math_ops.cast(shift, base(x))


def l2_normalize(x: Any, axis: Any = None, epsilon: float = 1e-12, name: str | None = None,
                 dim: Any = None) -> Tensor:
    """`x / sqrt(max(sum(x ** 2, axis), epsilon))`: unit L2 norm along `axis`.

    Args:
        x: a float Tensor.
        axis: the dimension(s) to normalize along (default: all).
        epsilon: a lower bound on the squared norm (avoids dividing by zero).
        name: a name for the op (default "l2_normalize").
        dim: the TF1 spelling of `axis`.

    Returns:
        A Tensor with the shape of `x`.
    """
    axis = pick_axis(axis, dim, default=None)
    with name_scope(name, "l2_normalize") as scope:
        x = convert_to_tensor(x, name="x")
        square_sum = math_ops.reduce_sum(math_ops.square(x), axis, keepdims=True)
        inv_norm = math_ops.rsqrt(math_ops.maximum(square_sum, convert_to_tensor(epsilon, dtype=base(x))))
        return math_ops.multiply(x, inv_norm, name=scope)


def xw_plus_b(x: Any, weights: Any, biases: Any, name: str | None = None) -> Tensor:
    """`matmul(x, weights) + biases`.

    Args:
        x: a 2-D Tensor [batch, in_units].
        weights: a 2-D Tensor [in_units, out_units].
        biases: a 1-D Tensor [out_units].
        name: a name for the op (default "xw_plus_b").

    Returns:
        A 2-D Tensor [batch, out_units].
    """
    with name_scope(name, "xw_plus_b") as scope:
        x = convert_to_tensor(x, name="x")
        weights = convert_to_tensor(weights, name="weights")
        biases = convert_to_tensor(biases, name="biases")
        mm = math_ops.matmul(x, weights)
        return bias_add(mm, biases, name=scope)


def relu_layer(x: Any, weights: Any, biases: Any, name: str | None = None) -> Tensor:
    """`relu(matmul(x, weights) + biases)`.

    Args:
        x: a 2-D Tensor [batch, in_units].
        weights: a 2-D Tensor [in_units, out_units].
        biases: a 1-D Tensor [out_units].
        name: a name for the op (default "relu_layer").

    Returns:
        A 2-D Tensor [batch, out_units].
    """
    with name_scope(name, "relu_layer") as scope:
        x = convert_to_tensor(x, name="x")
        weights = convert_to_tensor(weights, name="weights")
        biases = convert_to_tensor(biases, name="biases")
        xw_plus_b_ = bias_add(math_ops.matmul(x, weights), biases)
        return relu(xw_plus_b_, name=scope)


def weighted_cross_entropy_with_logits(labels: Any = None, logits: Any = None, pos_weight: Any = None,
                                       name: str | None = None, targets: Any = None) -> Tensor:
    """Sigmoid cross-entropy with the positive term weighted by `pos_weight`, computed stably.

    `labels * -log(sigmoid(logits)) * pos_weight + (1 - labels) * -log(1 - sigmoid(logits))`, as
    `(1 - labels) * logits + (1 + (pos_weight - 1) * labels) * (log1p(exp(-|logits|)) + relu(-logits))`.

    Args:
        labels: a Tensor of the type and shape of `logits` (TF 1.x also accepted it as `targets`).
        logits: a float Tensor.
        pos_weight: the coefficient of the positive examples.
        name: a name for the op (default "logistic_loss").
        targets: the deprecated name of `labels`.

    Returns:
        A Tensor of the shape of `logits`: the per-element weighted logistic losses.

    Raises:
        ValueError: labels and logits have different shapes, or both/neither of labels and targets.
    """
    if labels is not None and targets is not None:
        raise ValueError("Cannot specify both 'labels' and 'targets'")
    labels = labels if labels is not None else targets
    if labels is None or logits is None or pos_weight is None:
        raise ValueError("weighted_cross_entropy_with_logits needs labels, logits and pos_weight")
    with name_scope(name, "logistic_loss") as scope:
        logits = convert_to_tensor(logits, name="logits")
        labels = convert_to_tensor(labels, dtype=base(logits), name="labels")
        try:
            labels.get_shape().merge_with(logits.get_shape())
        except ValueError:
            raise ValueError(f"logits and labels must have the same shape ({logits.get_shape()} vs "
                             f"{labels.get_shape()})") from None
        dt = base(logits)
        one = convert_to_tensor(1, dtype=dt)
        pw = convert_to_tensor(pos_weight, dtype=dt, name="pos_weight")
        log_weight = math_ops.add(one, math_ops.multiply(math_ops.subtract(pw, one), labels))
        softplus_neg = math_ops.add(math_ops.log1p(math_ops.exp(math_ops.negative(math_ops.abs(logits)))),
                                    relu(math_ops.negative(logits)))
        return math_ops.add(math_ops.multiply(math_ops.subtract(one, labels), logits),
                            math_ops.multiply(log_weight, softplus_neg), name=scope)


def sufficient_statistics(x: Any, axes: Any, shift: Any = None, keep_dims: Any = None, name: str | None = None,
                          keepdims: Any = None) -> tuple:
    """The sufficient statistics for the mean and variance of `x` over `axes`.

    Args:
        x: a Tensor.
        axes: the dimensions to reduce (a list of ints).
        shift: None, or a Tensor subtracted from `x` first (improves numerical accuracy).
        keep_dims: keep the reduced dimensions with length 1.
        name: a name scope (default "sufficient_statistics").
        keepdims: the new spelling of `keep_dims`.

    Returns:
        `(count, mean_ss, variance_ss, shift)`: the number of elements reduced, the (shifted) sum,
        the (shifted) sum of squares, and `shift` (None when not given).
    """
    keep = _pick_keepdims(keep_dims, keepdims)
    with name_scope(name, "sufficient_statistics"):
        x = convert_to_tensor(x, name="x")
        ax = _axes(axes)
        xd = x.get_shape()
        if xd.ndims is not None and all(xd.as_list()[a] is not None for a in ax):
            n = 1
            for a in ax:
                n *= xd.as_list()[a]
            counts = convert_to_tensor(float(n), dtype=base(x), name="count")
        else:
            shp = array_ops.shape(x)
            picked = array_ops.gather(shp, ax)
            counts = math_ops.cast(math_ops.reduce_prod(picked), base(x), name="count")
        if shift is not None:
            shift = convert_to_tensor(shift, dtype=base(x), name="shift")
            m_ss = math_ops.subtract(x, shift)
            v_ss = math_ops.squared_difference(x, shift)
        else:
            m_ss, v_ss = x, math_ops.square(x)
        m_ss = math_ops.reduce_sum(m_ss, ax, keepdims=keep, name="mean_ss")
        v_ss = math_ops.reduce_sum(v_ss, ax, keepdims=keep, name="var_ss")
    return counts, m_ss, v_ss, shift


def normalize_moments(counts: Any, mean_ss: Any, variance_ss: Any, shift: Any,
                      name: str | None = None) -> tuple:
    """The mean and variance from sufficient statistics (see `sufficient_statistics`).

    Returns:
        `(mean, variance)`.
    """
    with name_scope(name, "normalize"):
        divisor = math_ops.reciprocal(convert_to_tensor(counts), name="divisor")
        if shift is not None:
            shifted_mean = math_ops.multiply(mean_ss, divisor, name="shifted_mean")
            mean = math_ops.add(shifted_mean, shift, name="mean")
        else:
            shifted_mean = math_ops.multiply(mean_ss, divisor, name="mean")
            mean = shifted_mean
        variance = math_ops.subtract(math_ops.multiply(variance_ss, divisor), math_ops.square(shifted_mean),
                                     name="variance")
    return mean, variance


def weighted_moments(x: Any, axes: Any, frequency_weights: Any, name: str | None = None, keep_dims: Any = None,
                     keepdims: Any = None) -> tuple[Tensor, Tensor]:
    """The frequency-weighted mean and variance of `x` over `axes`.

    Args:
        x: a float Tensor.
        axes: the dimensions to reduce.
        frequency_weights: weights broadcastable to `x` (how often each element counts).
        name: a name scope (default "weighted_moments").
        keep_dims: keep the reduced dimensions with length 1.
        keepdims: the new spelling of `keep_dims`.

    Returns:
        `(weighted_mean, weighted_variance)`; 0 where the weights sum to 0 (TF's div_no_nan).
    """
    keep = _pick_keepdims(keep_dims, keepdims)
    with name_scope(name, "weighted_moments"):
        x = convert_to_tensor(x, name="x")
        w = convert_to_tensor(frequency_weights, name="frequency_weights")
        half = base(x) == _dt.float16
        if half:
            x = math_ops.cast(x, _dt.float32)
        if base(w) != base(x):
            w = math_ops.cast(w, base(x))
        ax = _axes(axes)
        weighted_sum = math_ops.reduce_sum(math_ops.multiply(w, x), ax, keepdims=True, name="weighted_input_sum")
        sum_of_weights = math_ops.reduce_sum(math_ops.add(w, array_ops.zeros_like(x)), ax, keepdims=True,
                                             name="sum_of_weights")
        mean = math_ops.div_no_nan(weighted_sum, sum_of_weights)
        distsq = math_ops.reduce_sum(math_ops.multiply(w, math_ops.squared_difference(x, mean)), ax, keepdims=True,
                                     name="weighted_distsq")
        variance = math_ops.div_no_nan(distsq, sum_of_weights)
        return _moments_out(mean, variance, ax, keep, half)


def zero_fraction(value: Any, name: str | None = None) -> Tensor:
    """The fraction of zeros in `value` (a float32 scalar), e.g. the sparsity of ReLU activations.

    Args:
        value: a numeric Tensor.
        name: a name scope (default "zero_fraction").

    Returns:
        A float32 scalar in [0, 1] (NaN for an empty tensor, as TF's 0 / 0).
    """
    with name_scope(name, "zero_fraction"):
        value = convert_to_tensor(value, name="value")
        zero = convert_to_tensor(0, dtype=base(value))
        is_zero = math_ops.cast(math_ops.equal(value, zero), _dt.float32)
        num_zero = math_ops.reduce_sum(is_zero)
        size = math_ops.cast(array_ops.size(value), _dt.float32)
        return array_ops.identity(math_ops.divide(num_zero, size), name="fraction")


def batch_norm_with_global_normalization(t: Any = None, m: Any = None, v: Any = None, beta: Any = None,
                                         gamma: Any = None, variance_epsilon: Any = None,
                                         scale_after_normalization: Any = None, name: str | None = None,
                                         input: Any = None, mean: Any = None,  # noqa: A002 - TF's name
                                         variance: Any = None) -> Tensor:
    """TF 1.x's deprecated batch normalization: `batch_normalization` with gamma used only when
    `scale_after_normalization`.

    Args:
        t: the input (alias `input`).
        m: the mean (alias `mean`).
        v: the variance (alias `variance`).
        beta: the offset.
        gamma: the scale, applied when `scale_after_normalization`.
        variance_epsilon: a small float added to the variance.
        scale_after_normalization: whether to multiply by gamma.
        name: a name scope (default "batchnorm").
        input, mean, variance: the new spellings of t, m, v.

    Returns:
        The normalized Tensor.
    """
    t = input if input is not None else t
    m = mean if mean is not None else m
    v = variance if variance is not None else v
    return batch_normalization(t, m, v, beta, gamma if scale_after_normalization else None, variance_epsilon, name)


def compute_average_loss(per_example_loss: Any, sample_weight: Any = None, global_batch_size: Any = None) -> Tensor:
    """The sum of the (weighted) per-example losses divided by the global batch size.

    labflow runs one replica per graph, so the global batch size defaults to the first dimension of
    `per_example_loss`.

    Args:
        per_example_loss: a Tensor of rank >= 1: one loss per example.
        sample_weight: optional weights broadcastable to `per_example_loss`.
        global_batch_size: an optional integer (default: the batch dimension of the losses).

    Returns:
        A scalar: sum(losses) / global_batch_size (0 when the batch size is 0).

    Raises:
        ValueError: a scalar `per_example_loss`, or a non-integer or negative `global_batch_size`.
    """
    loss = convert_to_tensor(per_example_loss)
    dtype = base(loss)
    if loss.get_shape().ndims == 0:
        raise ValueError("Invalid value passed for `per_example_loss`. Expected a tensor with at least rank 1, "
                         f"received: {loss}")
    if sample_weight is not None:
        loss = math_ops.multiply(loss, math_ops.cast(convert_to_tensor(sample_weight), dtype))
    if global_batch_size is None:
        global_batch_size = array_ops.shape(loss)[0]
    elif not isinstance(global_batch_size, Tensor):
        if int(global_batch_size) != global_batch_size or global_batch_size < 0:
            raise ValueError(f"global_batch_size must be a non-negative integer, got {global_batch_size}")
    return math_ops.div_no_nan(math_ops.reduce_sum(loss), math_ops.cast(global_batch_size, dtype))


def scale_regularization_loss(regularization_loss: Any) -> Tensor:
    """The summed regularization loss divided by the number of replicas (one in labflow).

    Args:
        regularization_loss: a Tensor or a list of them (e.g. `tf.losses.get_regularization_losses()`).

    Returns:
        A scalar: the sum of the regularization losses.
    """
    if isinstance(regularization_loss, (list, tuple)):
        regularization_loss = math_ops.add_n([convert_to_tensor(r) for r in regularization_loss])
    return math_ops.reduce_sum(regularization_loss)
