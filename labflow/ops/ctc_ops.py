"""Connectionist temporal classification: tf.nn.ctc_loss and the greedy and beam-search decoders (TF 1.x).

CTCLoss runs the forward-backward recursion of Graves et al. in log space, over every row of the batch at
once (states padded to the longest label), and returns the gradient with respect to the logits as its
second output (softmax minus the state occupancy), which the op's gradient scales, as TF's. The blank is
the last class. The ops run on the host, as TF's CPU kernels, and the decoders are not differentiable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.framework.sparse_tensor import SparseTensor
from labflow.framework.tensor import Tensor
from labflow.ops import array_reshape_ops, compare_ops, math_ops
from labflow.ops.common import base, convert_to_tensor, dims, make_op

__all__ = ["ctc_loss", "ctc_loss_v2", "ctc_greedy_decoder", "ctc_beam_search_decoder", "ctc_beam_search_decoder_v2",
           "collapse_repeated", "ctc_unique_labels"]

_CTC_TYPES = (_dt.float32, _dt.float64)


def _err(msg: str) -> errors.InvalidArgumentError:
    return errors.InvalidArgumentError(None, None, msg)


def _logits_dims(op_type: str, t: Any) -> tuple:
    if base(t) not in _CTC_TYPES:
        raise TypeError(f"{op_type}: inputs must be float32 or float64, got {base(t).name}")
    d = dims(t)
    if d is not None and len(d) != 3:
        raise ValueError(f"{op_type}: inputs must be 3-D [max_time, batch_size, num_classes], got rank {len(d)}")
    return (None, None, None) if d is None else d


def _check_vector(op_type: str, nm: str, t: Any, rank: int = 1) -> tuple | None:
    d = dims(t)
    if d is not None and len(d) != rank:
        raise ValueError(f"{op_type}: {nm} must be rank {rank}, got rank {len(d)}")
    return d


def _check_seq_len(op_type: str, seq_len: np.ndarray, max_time: int, batch: int) -> None:
    if seq_len.shape != (batch,):
        raise _err(f"{op_type}: len(sequence_length) != batch_size: sequence_length has shape "
                   f"{list(seq_len.shape)} and the inputs a batch of {batch}")
    bad = np.flatnonzero((seq_len < 0) | (seq_len > max_time))
    if bad.size:
        b = int(bad[0])
        raise _err(f"{op_type}: sequence_length({b}) = {int(seq_len[b])} is outside [0, max_time = {max_time}]")


def _sequence_length(sequence_length: Any) -> Tensor:
    seq = convert_to_tensor(sequence_length, dtype_hint=_dt.int32, name="sequence_length")
    return seq if base(seq) == _dt.int32 else compare_ops.cast(seq, _dt.int32)


# -- CTCLoss --------------------------------------------------------------------------------------------
def _ctc_loss_shape(ins: list, attrs: dict) -> list:
    t, b, c = _logits_dims("CTCLoss", ins[0])
    _check_vector("CTCLoss", "labels_indices", ins[1], 2)
    _check_vector("CTCLoss", "labels_values", ins[2])
    sd = _check_vector("CTCLoss", "sequence_length", ins[3])
    for nm, x, want in (("labels_indices", ins[1], _dt.int64), ("labels_values", ins[2], _dt.int32),
                        ("sequence_length", ins[3], _dt.int32)):
        if base(x) != want:
            raise TypeError(f"Input '{nm}' of 'CTCLoss' Op has type {base(x).name} that does not match expected "
                            f"type of {want.name}")
    if sd is not None and sd[0] is not None and b is not None and sd[0] != b:
        raise ValueError(f"CTCLoss: len(sequence_length) = {sd[0]} != batch_size = {b}")
    b = b if b is not None else (None if sd is None else sd[0])
    return [(base(ins[0]), (b,)), (base(ins[0]), (t, b, c))]


def _label_sequences(indices: np.ndarray, values: np.ndarray, batch: int) -> list:
    """The labels of each batch row, from a SparseTensor's (ordered) indices, with TF's validity errors."""
    n = indices.shape[0]
    if indices.ndim != 2 or indices.shape[1] != 2 or values.shape != (n,):
        raise _err(f"CTCLoss: labels must be a 2-D SparseTensor: labels_indices [N, 2] and labels_values [N], "
                   f"got shapes {list(indices.shape)} and {list(values.shape)}")
    if n:
        rows = indices[:, 0]
        if rows.min() < 0 or rows.max() >= batch:
            i = int(np.flatnonzero((rows < 0) | (rows >= batch))[0])
            raise _err(f"CTCLoss: labels batch index must be between 0 and batch_size = {batch}, but "
                       f"labels_indices[{i}] = {indices[i].tolist()}")
        key = indices[:, 0] * (int(indices[:, 1].max()) + 1) + indices[:, 1]
        if n > 1 and (np.diff(key) <= 0).any():
            i = int(np.flatnonzero(np.diff(key) <= 0)[0]) + 1
            raise _err(f"CTCLoss: label SparseTensor is not valid: indices[{i}] = {indices[i].tolist()} is out of "
                       "order. Use `tf.sparse_reorder` to create a correctly ordered copy.")
    splits = np.searchsorted(indices[:, 0], np.arange(batch + 1)) if n else np.zeros(batch + 1, np.int64)
    return [values[splits[b]:splits[b + 1]].tolist() for b in range(batch)]


def _clean_labels(label: list, b: int, num_classes: int, collapse: bool) -> list:
    """TF's PopulateLPrimes: optional collapse of repeats; a label >= num_classes - 1 ends the sequence."""
    if not label:
        raise _err(f"CTCLoss: Labels length is zero in batch {b}")
    out: list = []
    finished = False
    for i, v in enumerate(label):
        if i == 0 or not collapse or v != label[i - 1]:
            if v >= num_classes - 1:
                finished = True
            elif finished:
                raise _err(f"CTCLoss: Saw a non-null label (index >= num_classes - 1) following a null label, "
                           f"batch: {b} num_classes: {num_classes} labels: {','.join(map(str, label))}")
            else:
                out.append(v)
    if any(v < 0 for v in out):
        raise _err(f"CTCLoss: All labels must be nonnegative integers, batch: {b} labels: "
                   f"{','.join(map(str, out))}")
    return out


def _lse(*xs: np.ndarray) -> np.ndarray:
    out = xs[0]
    for x in xs[1:]:
        out = np.logaddexp(out, x)
    return out


def _shift(a: np.ndarray, k: int, fill: float) -> np.ndarray:
    """a shifted right (k > 0) or left (k < 0) along the last axis, padded with `fill`."""
    out = np.full_like(a, fill)
    if k > 0:
        out[..., k:] = a[..., :-k]
    else:
        out[..., :k] = a[..., -k:]
    return out


def ctc_forward_backward(logits: np.ndarray, labels: list, seq_len: np.ndarray, merge_repeated: bool) -> tuple:
    """Loss [B] and gradient [T, B, C] w.r.t. the logits for per-row label lists (NumPy, float64).

    Rows whose label list is None are skipped (zero loss and gradient)."""
    t_max, batch, c = logits.shape
    x = logits.astype(np.float64)
    logy = x - x.max(axis=2, keepdims=True)
    logy = logy - np.log(np.exp(logy).sum(axis=2, keepdims=True))
    blank = c - 1
    s_max = 2 * max((len(lab) for lab in labels if lab is not None), default=0) + 1
    lp = np.full((batch, s_max), blank, np.int64)
    n_states = np.ones(batch, np.int64)
    for b, lab in enumerate(labels):
        if lab is not None:
            lp[b, 1:2 * len(lab):2] = lab
            n_states[b] = 2 * len(lab) + 1
    u = np.arange(s_max)
    valid = u[None, :] < n_states[:, None]
    is_blank = lp == blank
    stay = np.ones_like(valid) if merge_repeated else is_blank
    prev2 = _shift(lp, 2, -1)
    skip = (~is_blank) & (u[None, :] >= 2) & ~(merge_repeated & (lp == prev2))
    skip_back = _shift(skip, -2, False)  # may state u move to u + 2
    neg = -np.inf
    lens = seq_len.astype(np.int64)
    emit = np.take_along_axis(logy, np.broadcast_to(lp[None], (t_max, batch, s_max)), axis=2)  # [T, B, S]

    alpha = np.full((t_max, batch, s_max), neg)
    if t_max:
        alpha[0, :, 0] = emit[0, :, 0]
        if s_max > 1:
            alpha[0, :, 1] = np.where(n_states > 1, emit[0, :, 1], neg)
    with np.errstate(invalid="ignore"):
        for t in range(1, t_max):
            a = alpha[t - 1]
            s = _lse(np.where(stay, a, neg), _shift(a, 1, neg), np.where(skip, _shift(a, 2, neg), neg))
            alpha[t] = np.where(valid & (t < lens)[:, None], s + emit[t], neg)

        beta = np.full((t_max, batch, s_max), neg)
        end = (u[None, :] >= n_states[:, None] - 2) & valid
        for t in range(t_max - 1, -1, -1):
            if t + 1 < t_max:
                nb = beta[t + 1] + emit[t + 1]
                s = _lse(np.where(stay, nb, neg), _shift(nb, -1, neg), np.where(skip_back, _shift(nb, -2, neg), neg))
                s = np.where(valid, s, neg)
            else:
                s = np.full((batch, s_max), neg)
            last = (t == lens - 1)[:, None]
            beta[t] = np.where(last, np.where(end, 0.0, neg), np.where((t < lens - 1)[:, None], s, neg))

        ab = alpha + beta
        log_p = _lse(*[ab[0, :, k] for k in range(s_max)]) if t_max else np.full(batch, neg)
        occupancy = np.exp(ab - log_p[None, :, None])
    occupancy = np.where(np.isfinite(log_p)[None, :, None], occupancy, 0.0)
    onehot = (lp[:, :, None] == np.arange(c)[None, None, :]).astype(np.float64)  # [B, S, C]
    occ = np.einsum("tbs,bsc->tbc", np.nan_to_num(occupancy), onehot)
    y = np.exp(logy)
    grad = y - occ
    active = (np.arange(t_max)[:, None] < lens[None, :])
    skipped = np.array([lab is None for lab in labels]) | (lens == 0)
    grad = np.where(active[:, :, None] & ~skipped[None, :, None], grad, 0.0)
    loss = np.where(skipped, 0.0, -log_p)
    return loss, grad


@op("CTCLoss", inputs=("inputs", "labels_indices", "labels_values", "sequence_length"),
    attrs={"preprocess_collapse_repeated": False, "ctc_merge_repeated": True,
           "ignore_longer_outputs_than_inputs": False}, shape=_ctc_loss_shape, outputs=2,
    output_names=("loss", "gradient"), devices=("CPU",))
def ctc_loss_kernel(xp, inputs, labels_indices, labels_values, sequence_length, *, preprocess_collapse_repeated,
                    ctc_merge_repeated, ignore_longer_outputs_than_inputs):
    t_max, batch, c = inputs.shape
    seq = np.asarray(sequence_length)
    _check_seq_len("CTCLoss", seq, t_max, batch)
    raw = _label_sequences(np.asarray(labels_indices), np.asarray(labels_values), batch)
    labels: list = []
    for b, lab in enumerate(raw):
        clean = _clean_labels(lab, b, c, preprocess_collapse_repeated)
        if len(lab) > seq[b]:
            if not ignore_longer_outputs_than_inputs:
                raise _err(f"CTCLoss: Not enough time for target transition sequence (required: {len(lab)}, "
                           f"available: {int(seq[b])}) in batch {b}. You can turn this error into a warning by "
                           "using the flag ignore_longer_outputs_than_inputs")
            clean = None
        labels.append(clean)
    loss, grad = ctc_forward_backward(inputs, labels, seq, ctc_merge_repeated)
    return loss.astype(inputs.dtype), grad.astype(inputs.dtype)


@ctc_loss_kernel.grad
def _ctc_loss_grad(op: Any, grad_loss: Any, grad_gradient: Any = None) -> list:
    unused = grad_gradient is None or (grad_gradient.op.type == "ZerosLike"
                                       and grad_gradient.op.inputs[0] is op.outputs[1])
    if not unused:
        # TF blocks this path with PreventGradient: the fused gradient output has no gradient of its own.
        raise LookupError(f"Currently there is no way to take the second derivative of ctc_loss due to the fused "
                          f"implementation's interaction with tf.gradients() (op '{op.name}')")
    # d loss / d logits is the op's second output: scale it by each row's incoming gradient.
    scale = array_reshape_ops.expand_dims(array_reshape_ops.expand_dims(grad_loss, 0), 2)
    return [math_ops.multiply(scale, op.outputs[1]), None, None, None]


def ctc_loss(labels: SparseTensor, inputs: Any = None, sequence_length: Any = None,
             preprocess_collapse_repeated: bool = False, ctc_merge_repeated: bool = True,
             ignore_longer_outputs_than_inputs: bool = False, time_major: bool = True, logits: Any = None) -> Tensor:
    """The CTC loss (negative log probability of each label sequence), TF 1.x `tf.nn.ctc_loss`.

    The blank is class `num_classes - 1`; a softmax is applied to the logits inside the op.

    Args:
        labels: an int32 SparseTensor [batch_size, max_label_len]: row b holds the labels of example b
            (indices in row-major order).
        inputs: float logits [max_time, batch_size, num_classes] ([batch, time, classes] when not time_major).
        sequence_length: int32 [batch_size]: the number of valid time steps of each example.
        preprocess_collapse_repeated: merge repeated labels before computing the loss.
        ctc_merge_repeated: when False, a label repeated on consecutive steps counts as several labels.
        ignore_longer_outputs_than_inputs: give loss 0 and gradient 0 to examples whose labels are longer
            than their sequence (instead of an error).
        time_major: the layout of `inputs`.
        logits: an alias of `inputs`.

    Returns:
        A [batch_size] Tensor of losses. Its gradient w.r.t. the logits is the op's second output.

    Raises:
        TypeError: labels is not a SparseTensor.
    """
    if not isinstance(labels, SparseTensor):
        raise TypeError("Expected labels (first argument) to be a SparseTensor")
    if inputs is None:
        inputs = logits
    if inputs is None or sequence_length is None:
        raise ValueError("ctc_loss needs inputs (logits) and sequence_length")
    with name_scope(None, "CTCLoss") as scope:
        x = convert_to_tensor(inputs, name="inputs")
        if not time_major:
            x = array_reshape_ops.transpose(x, [1, 0, 2])
        vals = labels.values
        if base(vals) != _dt.int32:
            vals = compare_ops.cast(vals, _dt.int32)
        o = make_op("CTCLoss", [x, labels.indices, vals, _sequence_length(sequence_length)],
                    {"preprocess_collapse_repeated": bool(preprocess_collapse_repeated),
                     "ctc_merge_repeated": bool(ctc_merge_repeated),
                     "ignore_longer_outputs_than_inputs": bool(ignore_longer_outputs_than_inputs)}, scope)
        return o.outputs[0]


def ctc_loss_v2(labels: Any, logits: Any, label_length: Any, logit_length: Any, logits_time_major: bool = True,
                unique: Any = None, blank_index: int | None = None, name: str | None = None) -> Tensor:
    """The CTC loss with dense or sparse labels and a choosable blank (TF 1.x `tf.nn.ctc_loss_v2`).

    The blank's logits are moved to the last class and the labels above it shifted down, then the CTCLoss op
    runs: the same losses and gradients as TF's for every feasible alignment. A label sequence longer than its
    logit sequence is an InvalidArgumentError here (TF's dense path returns a large finite loss for it).

    Args:
        labels: int [batch, max_label_len] dense labels (with `label_length`), or a SparseTensor.
        logits: [frames, batch, classes] ([batch, frames, classes] when not logits_time_major).
        label_length: int [batch] label lengths (dense labels; None for a SparseTensor).
        logit_length: int [batch] frame counts.
        logits_time_major: the layout of `logits`.
        unique: TF's precomputed ctc_unique_labels, an optimization only: accepted and unused.
        blank_index: the blank class (default 0 for dense labels; required for sparse labels; negative counts
            from the end).
        name: the name scope.

    Returns:
        A [batch] Tensor of losses.

    Raises:
        ValueError: sparse labels without blank_index, or dense labels without label_length.
    """
    import labflow as tf
    sparse = isinstance(labels, SparseTensor)
    if sparse and blank_index is None:
        raise ValueError("blank_index must be given when using SparseTensor labels.")
    if not sparse and label_length is None:
        raise ValueError("ctc_loss_v2 with dense labels needs label_length")
    blank = 0 if blank_index is None else int(blank_index)
    with name_scope(name, "ctc_loss_dense" if not sparse else "ctc_loss_v2"):
        x = convert_to_tensor(logits, name="logits")
        n_classes = _dim(x, 2)
        if blank < 0:
            blank += n_classes
        if sparse:
            indices, values, shape = labels.indices, labels.values, labels.dense_shape
        else:
            dense = convert_to_tensor(labels, name="labels")
            mask = tf.sequence_mask(label_length, maxlen=_dim(dense, 1))
            indices = tf.where(mask)
            values = tf.gather_nd(dense, indices)
            shape = tf.shape(dense, out_type=_dt.int64)
        if not isinstance(n_classes, int) or blank != n_classes - 1:
            x = tf.concat([x[:, :, :blank], x[:, :, blank + 1:], x[:, :, blank:blank + 1]], axis=2)
            values = tf.where(values < blank, values, values - 1)
        return ctc_loss(SparseTensor(indices, values, shape), x, logit_length, time_major=logits_time_major)


# The decoders: one family, split for size (importing them here registers their ops).
def _dim(t: Tensor, i: int) -> Any:
    """The static size of dimension i, else a scalar tensor holding it (TF's _get_dim)."""
    d = dims(t)
    if d is not None and d[i] is not None:
        return d[i]
    from labflow.ops.array_ops import shape
    return shape(t)[i]


def collapse_repeated(labels: Any, seq_length: Any, name: str | None = None) -> tuple[Tensor, Tensor]:
    """Merges runs of a repeated label into one, per row of a padded label batch (TF 1.x `tf.nn.collapse_repeated`).

    Args:
        labels: [batch, max_len] labels.
        seq_length: [batch] valid lengths of the rows.
        name: the name scope.

    Returns:
        (collapsed labels [batch, new_max_len] zero padded, their lengths in seq_length's dtype).
    """
    import labflow as tf
    with name_scope(name, "collapse_repeated_labels", [labels, seq_length]):
        labels = convert_to_tensor(labels, name="labels")
        seq_length = convert_to_tensor(seq_length, name="seq_length")
        label_mask = tf.concat([tf.ones_like(labels[:, :1], _dt.bool), tf.not_equal(labels[:, 1:], labels[:, :-1])],
                               axis=1)
        label_mask = tf.logical_and(label_mask, tf.sequence_mask(seq_length, maxlen=_dim(labels, 1)))
        new_seq_len = tf.reduce_sum(tf.cast(label_mask, _dt.int32), axis=1)
        new_maxlen = tf.reduce_max(new_seq_len)
        idx_mask = tf.reshape(tf.sequence_mask(new_seq_len, maxlen=new_maxlen), [-1])
        idx = tf.range(_dim(idx_mask, 0))
        flat = tf.scatter_nd(indices=tf.expand_dims(tf.boolean_mask(idx, idx_mask), axis=1),
                             updates=tf.boolean_mask(tf.reshape(labels, [-1]), tf.reshape(label_mask, [-1])),
                             shape=tf.shape(idx_mask))
        return tf.reshape(flat, [_dim(labels, 0), new_maxlen]), tf.cast(new_seq_len, seq_length.dtype)


def ctc_unique_labels(labels: Any, name: str | None = None) -> tuple[Tensor, Tensor]:
    """Each row's unique labels in order of first appearance, zero padded, and the index of every label in them
    (TF 1.x `tf.nn.ctc_unique_labels`, tf.unique per row).

    Args:
        labels: [batch, max_len] labels.
        name: the name scope.

    Returns:
        (unique labels [batch, max_len] int64, indices [batch, max_len] int32).
    """
    import labflow as tf
    with name_scope(name, "ctc_unique_labels", [labels]):
        labels = convert_to_tensor(labels, name="labels")

        def unique_row(x: Tensor) -> list:
            y, idx = tf.unique(x)
            y = tf.pad(y, [[0, _dim(idx, 0) - _dim(y, 0)]])
            return [tf.cast(y, _dt.int64), idx]
        y, idx = tf.map_fn(unique_row, labels, dtype=[_dt.int64, _dt.int32])
        return y, idx


from labflow.ops.ctc_decoders import (  # noqa: E402,F401
    ctc_beam_search_decoder,
    ctc_beam_search_decoder_v2,
    ctc_greedy_decoder,
)
