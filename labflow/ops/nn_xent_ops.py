"""Cross-entropy ops of `tf.nn`: the fused softmax cross-entropies (dense and sparse labels), sigmoid.

Like TF, the softmax cross-entropies are primitive ops with two outputs, the per-example loss and
the backprop (softmax - labels), computed together with one log-sum-exp; the gradient reuses the
backprop output. Imported by nn_ops (which re-exports these names).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.backend import threads
from labflow.framework.gradients import unbroadcast
from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.framework.shapes import TensorShape, broadcast_dims
from labflow.ops import array_ops, math_ops
from labflow.ops.common import FLOAT_TYPES, INDEX_TYPES, base, convert_to_tensor, dims, downcast, make_op
from labflow.ops.fused_elementwise_ops import device_constant, evaluate, fused, per_backend
from labflow.ops.nn_ops import is_zero, log_softmax_last, pick_axis, softmax_grad, swap_to_last, upcast

__all__ = ["softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits_v2",
           "sparse_softmax_cross_entropy_with_logits", "sigmoid_cross_entropy_with_logits"]


def _shape_list(d: tuple) -> str:
    return "[" + ",".join(str(x) for x in d) + "]"


def _expand_last(t: Any) -> Any:
    return array_ops.expand_dims(t, -1)


# -- SoftmaxCrossEntropyWithLogits ------------------------------------------------------------------
def _xent_shape(ins, attrs):
    f, lab = dims(ins[0]), dims(ins[1])
    for d in (f, lab):
        if d is not None and len(d) != 2:
            raise ValueError(f"Shape must be rank 2 but is rank {len(d)}")
    b = broadcast_dims(f, lab)
    if b is None:
        b = f if f is not None else lab
    dt = base(ins[0])
    if b is None:
        return [(dt, (None,)), (dt, (None, None))]
    return [(dt, (b[0],)), (dt, b)]


@op("SoftmaxCrossEntropyWithLogits", inputs=("features", "labels"), types=FLOAT_TYPES, shape=_xent_shape,
    outputs=2, output_names=("loss", "backprop"))
def softmax_xent_kernel(xp, features, labels):
    fs, ls = features.shape, labels.shape
    if fs != ls and any(a != b and a != 1 and b != 1 for a, b in zip(fs, ls)):
        # Only reachable when static shapes were unknown at graph construction.
        raise errors.InvalidArgumentError(None, None, "logits and labels must be broadcastable: logits_size="
                                          f"{_shape_list(fs)} labels_size={_shape_list(ls)}")
    if xp is np and fs == ls and fs[-1]:
        return _softmax_xent_cpu(upcast(xp, features), upcast(xp, labels), features.dtype)
    if xp is not np and fs[-1]:
        return _softmax_xent_gpu(xp, upcast(xp, features), upcast(xp, labels), features.dtype)
    logp = log_softmax_last(xp, upcast(xp, features))
    y = upcast(xp, labels)
    loss = -xp.sum(y * logp, axis=-1)
    backprop = xp.exp(logp)
    backprop = backprop - y
    return loss.astype(features.dtype, copy=False), backprop.astype(features.dtype, copy=False)


def _softmax_xent_cpu(x: np.ndarray, y: np.ndarray, dtype: Any) -> tuple:
    # The same math in fewer NumPy calls, through the ufuncs' C reductions (np.max/np.sum add ~3 us of
    # Python each): the tutorials' [100, 10] softmax costs ~30 us instead of ~45.
    shifted = x - np.maximum.reduce(x, axis=-1, keepdims=True)
    e = np.exp(shifted)
    total = np.add.reduce(e, axis=-1, keepdims=True)
    np.subtract(np.log(total), shifted, out=shifted)  # -log softmax
    loss = np.add.reduce(np.multiply(y, shifted, out=shifted), axis=-1)
    e /= total
    e -= y
    return loss.astype(dtype, copy=False), e.astype(dtype, copy=False)


# Up to this many classes a dense cross-entropy on a GPU is one kernel with a thread per row (a loop over
# the classes); wider rows (a vocabulary) take the kernels below, which spread a row over threads.
ROW_KERNEL_CLASSES = 1024


def _softmax_xent_gpu(xp: Any, x: Any, y: Any, dtype: Any) -> tuple:
    if x.shape == y.shape and x.ndim == 2 and x.shape[1] <= ROW_KERNEL_CLASSES:
        done = _softmax_xent_rows(xp, x, y)
        if done is not None:
            return downcast(done[0], dtype), downcast(done[1], dtype)
    # The same math with its elementwise passes fused: 6 kernel launches instead of 11.
    m = xp.max(x, axis=-1, keepdims=True)
    e = evaluate(xp, ["Sub 0 1", "Exp 2"], [3], x, m)  # exp(x - max)
    total = xp.sum(e, axis=-1, keepdims=True)
    back = evaluate(xp, ["RealDiv 0 1", "Sub 3 2"], [4], e, total, y)  # softmax - labels
    # labels * -log softmax = labels * (log(total) - (x - max))
    loss = xp.sum(evaluate(xp, ["Log 3", "Sub 1 2", "Sub 4 5", "Mul 0 6"], [7], y, x, m, total), axis=-1)
    return downcast(loss, dtype), downcast(back, dtype)


def _softmax_xent_rows(xp: Any, x: Any, y: Any) -> tuple | None:
    """(loss, backprop) from one launch of gpu_raw_kernels' row kernel; None where it does not apply."""
    from labflow.ops import gpu_raw_kernels as gik
    loss = xp.empty(x.shape[:1], dtype=x.dtype)
    back = xp.empty(x.shape, dtype=x.dtype)
    if not gik.supported(x, y):
        return None
    run = gik.kernel(xp, "softmax_xent_rows", x.dtype, _softmax_xent_rows_reference)
    x = x if x.flags.c_contiguous else xp.ascontiguousarray(x)
    y = y if y.flags.c_contiguous else xp.ascontiguousarray(y)
    return (loss, back) if run is not None and run(x.shape[0], x, y, np.int32(x.shape[1]), loss, back) else None


def _softmax_xent_rows_reference(x: Any, y: Any, classes: Any, loss: Any, back: Any) -> None:
    """NumPy twin of the row kernel (what the emulated GPU runs)."""
    loss[...], back[...] = _softmax_xent_cpu(x, y, x.dtype)


def _xent_grad_common(op, grad_loss, grad_grad):
    """d loss / d logits = backprop; d backprop / d logits is the softmax Jacobian (2nd derivatives)."""
    from labflow.ops.nn_ops import softmax
    logits = op.inputs[0]
    g = _expand_last(grad_loss)
    grad = math_ops.multiply(g, op.outputs[1])
    if not is_zero(grad_grad):
        grad = math_ops.add(grad, softmax_grad(grad_grad, softmax(logits)))
    return g, grad


@softmax_xent_kernel.grad
def _softmax_xent_grad(op, grad_loss, grad_grad):
    from labflow.ops.nn_ops import log_softmax
    g, grad = _xent_grad_common(op, grad_loss, grad_grad)
    logits, labels = op.inputs
    grad_labels = math_ops.multiply(g, math_ops.negative(log_softmax(logits)))
    if not is_zero(grad_grad):
        # backprop = softmax - labels (TF 1.x drops this term; second derivatives need it).
        grad_labels = math_ops.subtract(grad_labels, grad_grad)
    return [unbroadcast(grad, logits, labels), unbroadcast(grad_labels, labels, logits)]


def _ensure_xent_args(name: str, sentinel: Any, labels: Any, logits: Any) -> None:
    if sentinel is not None:
        raise ValueError(f"Only call `{name}` with named arguments (labels=..., logits=..., ...): "
                         f"positional arguments are ambiguous (TF1 swapped their order once)")
    if labels is None or logits is None:
        raise ValueError("Both labels and logits must be provided.")


def _precise(logits: Any) -> Any:
    """16-bit logits are computed in float32 (TF does this for half), then the loss is cast back."""
    if base(logits) in (_dt.float16, _dt.bfloat16):
        return math_ops.cast(logits, _dt.float32)
    return logits


def _flatten_outer_dims(x: Any) -> Any:
    """Reshapes a rank != 2 tensor to [-1, last_dim] (static when possible, else with shape ops)."""
    d = dims(x)
    if d is not None and d[-1] is not None:
        return array_ops.reshape(x, [-1, d[-1]])
    last = array_ops.slice(array_ops.shape(x), [math_ops.subtract(array_ops.rank(x), 1)], [1])
    out = array_ops.reshape(x, array_ops.concat([[-1], last], 0))
    if d is not None:
        out.set_shape([None, d[-1]])
    return out


def softmax_cross_entropy_with_logits_v2(labels: Any, logits: Any, axis: Any = None, name: str | None = None,
                                         dim: Any = None) -> Any:
    """Softmax cross-entropy between `logits` and a probability distribution `labels`, per example.

    Gradients flow into both `logits` and `labels` (wrap labels in `tf.stop_gradient` to stop them).

    Args:
        labels: a Tensor of the shape of `logits`; each vector along `axis` a valid distribution.
        logits: unscaled log-probabilities (half, bfloat16, float32, float64).
        axis: the class dimension (default -1, the last).
        name: a name for the op.
        dim: the TF1 name of `axis`.

    Returns:
        A Tensor of the shape of `logits` without `axis`, and the dtype of `logits`.
    """
    axis = pick_axis(axis, dim)
    with name_scope(name, "softmax_cross_entropy_with_logits") as scope:
        logits = convert_to_tensor(logits, name="logits")
        labels = convert_to_tensor(labels, name="labels")
        if not base(logits).is_floating:
            raise TypeError(f"softmax_cross_entropy_with_logits: logits must be a float tensor, got "
                            f"{base(logits).name}")
        precise = _precise(logits)
        if base(labels) != base(precise):
            labels = math_ops.cast(labels, base(precise))
        if logits.get_shape().ndims == 0 or labels.get_shape().ndims == 0:
            raise ValueError("softmax_cross_entropy_with_logits: logits and labels must have rank >= 1, got "
                             f"shapes {logits.get_shape()} and {labels.get_shape()}")
        what = "softmax_cross_entropy_with_logits"
        rank = precise.get_shape().ndims
        precise, _ = swap_to_last(precise, axis, what)
        labels, _ = swap_to_last(labels, axis, what, rank)
        shape = precise.get_shape()
        if shape.ndims == 2:
            cost = make_op("SoftmaxCrossEntropyWithLogits", [precise, labels], None, scope)._outputs[0]
        else:
            out_dims = None if shape.ndims is None else shape.as_list()[:-1]
            in_shape = array_ops.shape(precise)
            cost = make_op("SoftmaxCrossEntropyWithLogits",
                           [_flatten_outer_dims(precise), _flatten_outer_dims(labels)], None,
                           scope)._outputs[0]
            if out_dims is not None and all(v is not None for v in out_dims):
                cost = array_ops.reshape(cost, out_dims)
            else:
                out_shape = array_ops.slice(in_shape, [0], [math_ops.subtract(array_ops.rank(precise), 1)])
                cost = array_ops.reshape(cost, out_shape)
                if out_dims is not None:
                    cost.set_shape(out_dims)
        if base(cost) != base(logits):
            cost = math_ops.cast(cost, base(logits))
        return cost


def softmax_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None, logits: Any = None,
                                      dim: Any = -1, name: str | None = None, axis: Any = None) -> Any:
    """TF1's softmax cross-entropy: like the `_v2` op, but no gradient flows into `labels`.

    Call it with keyword arguments only (`labels=..., logits=...`), as in TF.

    Args:
        _sentinel: guards against positional arguments; must not be given.
        labels: a Tensor of the shape of `logits`; each row a valid probability distribution.
        logits: unscaled log-probabilities.
        dim: the class dimension (default -1, the last).
        name: a name for the op.
        axis: the newer name of `dim`.

    Returns:
        A Tensor of the shape of `logits` without the class dimension.

    Raises:
        ValueError: positional arguments, or labels/logits missing.
    """
    _ensure_xent_args("softmax_cross_entropy_with_logits", _sentinel, labels, logits)
    if axis is not None and dim is not None and dim != -1:
        raise ValueError("Cannot specify both 'axis' and 'dim'")
    ax = axis if axis is not None else dim
    with name_scope(name, "softmax_cross_entropy_with_logits_sg") as scope:
        labels = array_ops.stop_gradient(labels, name="labels_stop_gradient")
    return softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits, axis=ax, name=scope)


# -- SparseSoftmaxCrossEntropyWithLogits ------------------------------------------------------------
def _sparse_xent_shape(ins, attrs):
    f, lab = dims(ins[0]), dims(ins[1])
    lt = base(ins[1])
    if lt not in INDEX_TYPES:
        raise TypeError(f"Value passed to parameter 'labels' has DataType {lt.name} not in list of allowed "
                        "values: int32, int64")
    if f is not None and len(f) != 2:
        raise ValueError(f"Shape must be rank 2 but is rank {len(f)}")
    if lab is not None and len(lab) != 1:
        raise ValueError(f"Shape must be rank 1 but is rank {len(lab)}")
    batch = None if f is None else f[0]
    lb = None if lab is None else lab[0]
    if batch is not None and lb is not None and batch != lb:
        raise ValueError(f"Dimensions must be equal, but are {batch} and {lb}")
    batch = batch if batch is not None else lb
    dt = base(ins[0])
    return [(dt, (batch,)), (dt, (batch, None if f is None else f[1]))]


def _bad_label_message(labels: Any, n: int) -> str:
    flat = (labels.get() if hasattr(labels, "get") else np.asarray(labels)).reshape(-1)  # .get(): CuPy
    bad = flat[(flat < 0) | (flat >= n)]
    shown = " ".join(str(int(v)) for v in flat[:20]) + (" ..." if flat.size > 20 else "")
    return (f"Received a label value of {int(bad[0])} which is outside the valid range of [0, {n}).  "
            f"Label values: {shown}")


@op("SparseSoftmaxCrossEntropyWithLogits", inputs=("features", "labels"), attrs={"Tlabels": _dt.int64},
    types=FLOAT_TYPES, type_inputs=("features",), shape=_sparse_xent_shape, outputs=2,
    output_names=("loss", "backprop"))
def sparse_softmax_xent_kernel(xp, features, labels, *, Tlabels):
    if labels.shape[0] != features.shape[0]:
        raise errors.InvalidArgumentError(
            None, None, "logits and labels must have the same first dimension, got logits shape "
            f"{_shape_list(features.shape)} and labels shape {_shape_list(labels.shape)}")
    n = features.shape[-1]
    x = upcast(xp, features)
    if xp is not np:
        return _sparse_xent_gpu(xp, x, labels, features.dtype)
    if bool(((labels < 0) | (labels >= n)).any()):
        raise errors.InvalidArgumentError(None, None, _bad_label_message(labels, n))
    idx = labels.astype(np.intp, copy=False)
    if not n:
        empty = np.zeros(x.shape[:1], x.dtype)
        return empty.astype(features.dtype, copy=False), x.astype(features.dtype, copy=True)
    return _sparse_xent_cpu(x, idx, features.dtype)


def _gpu_xent_kernels(xp: Any) -> tuple:
    def shifted_exp(x: Any, m: Any) -> Any:
        return xp.exp(x - m)

    def backprop(e: Any, total: Any, cols: Any, lab: Any) -> Any:
        return e / total - (cols == lab)

    def loss(total: Any, picked: Any, m: Any) -> Any:
        return xp.log(total) - (picked - m)
    return tuple(fused(xp, f) for f in (shifted_exp, backprop, loss))


def _sparse_xent_gpu(xp: Any, x: Any, labels: Any, dtype: Any) -> tuple:
    """7 launches: the label check, row max, exp, row sum, the backprop in one kernel (the one-hot made
    from a cached column index), the picked logits and the loss in one (the generic math was 18).
    One exp pass serves both outputs (the PTB softmax is [400, 10000]):
    loss = log(sum(e)) - (x[label] - max), backprop = e / sum(e) - onehot(label)."""
    b, n = x.shape
    # One scalar read (a sync) buys a clear error; TF's GPU kernel gave NaN. Negative labels read as
    # huge unsigned ones, so one max checks both bounds.
    if b and int(labels.view(xp.uint64 if labels.dtype.itemsize == 8 else xp.uint32).max()) >= n:
        raise errors.InvalidArgumentError(None, None, _bad_label_message(labels, n))
    if not n or not b:
        return xp.zeros((b,), dtype), x.astype(dtype, copy=True)
    shifted_exp, backprop, loss = per_backend(xp, _gpu_xent_kernels)
    cols = device_constant(xp, x, ("columns", n), lambda: xp.arange(n, dtype=xp.int32))
    lab = labels.reshape(b, 1)
    m = xp.max(x, axis=1, keepdims=True)
    e = shifted_exp(x, m)
    total = xp.sum(e, axis=1, keepdims=True)
    back = backprop(e, total, cols, lab)
    picked = xp.take_along_axis(x, lab, 1)
    cost = loss(total, picked, m).reshape(b)
    return downcast(cost, dtype), downcast(back, dtype)


# Bytes of logits per row block on the CPU: every pass of a block stays in L2.
_XENT_BLOCK_BYTES = 256 << 10


def _sparse_xent_cpu(x: np.ndarray, idx: np.ndarray, dtype: Any) -> tuple:
    """The same math in row blocks that stay in cache (all passes of a block run while it is in L2),
    the blocks split over the intra-op threads; backprop is built in place in its output buffer."""
    b, n = x.shape
    loss = np.empty(b, x.dtype)
    back = np.empty_like(x)
    rows_per_block = max(1, _XENT_BLOCK_BYTES // max(n * x.itemsize, 1))

    def part(lo: int, hi: int) -> None:
        for r0 in range(lo, hi, rows_per_block):
            r1 = min(hi, r0 + rows_per_block)
            out, r = back[r0:r1], np.arange(r1 - r0)
            np.subtract(x[r0:r1], x[r0:r1].max(axis=1, keepdims=True), out=out)
            picked = out[r, idx[r0:r1]]
            np.exp(out, out=out)
            total = out.sum(axis=1, keepdims=True)
            np.subtract(np.log(total[:, 0]), picked, out=loss[r0:r1])
            out *= 1 / total
            out[r, idx[r0:r1]] -= 1

    threads.parallel_for(b, part, rows_per_block)
    return downcast(loss, dtype), downcast(back, dtype)


@sparse_softmax_xent_kernel.grad
def _sparse_softmax_xent_grad(op, grad_loss, grad_grad):
    # Unlike TF 1.x (which blocks it with PreventGradient), second derivatives work here.
    _, grad = _xent_grad_common(op, grad_loss, grad_grad)
    return [grad, None]


def sparse_softmax_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None, logits: Any = None,
                                             name: str | None = None) -> Any:
    """Softmax cross-entropy between `logits` and integer class `labels`, per example.

    Call it with keyword arguments only (`labels=..., logits=...`), as in TF.

    Args:
        _sentinel: guards against positional arguments; must not be given.
        labels: int32/int64 Tensor of shape `logits.shape[:-1]`, values in [0, num_classes). An
            out-of-range value fails the run with InvalidArgumentError naming the op.
        logits: unscaled log-probabilities of shape [d_0, ..., d_{r-1}, num_classes], float.
        name: a name for the op.

    Returns:
        A Tensor of the shape of `labels` and the dtype of `logits`.

    Raises:
        ValueError: positional arguments, missing inputs, scalar logits, or mismatched ranks/shapes.
    """
    _ensure_xent_args("sparse_softmax_cross_entropy_with_logits", _sentinel, labels, logits)
    with name_scope(name, "SparseSoftmaxCrossEntropyWithLogits"):
        labels = convert_to_tensor(labels, name="labels")
        logits = convert_to_tensor(logits, name="logits")
        if not base(logits).is_floating:
            raise TypeError(f"sparse_softmax_cross_entropy_with_logits: logits must be a float tensor, got "
                            f"{base(logits).name}")
        precise = _precise(logits)
        ls, gs = labels.get_shape(), logits.get_shape()
        if gs.ndims == 0:
            raise ValueError(f"Logits cannot be scalars - received shape {gs}.")
        if gs.ndims is not None and ls.ndims is not None and ls.ndims != gs.ndims - 1:
            raise ValueError(f"Rank mismatch: Rank of labels (received {ls.ndims}) should equal rank of "
                             f"logits minus 1 (received {gs.ndims}).")
        if gs.ndims is not None and ls.ndims is not None and not ls.is_compatible_with(gs[:-1]):
            raise ValueError(f"Shape mismatch: The shape of labels (received {ls}) should equal the shape of "
                             f"logits except for the last dimension (received {gs}).")
        attrs = {"Tlabels": base(labels)}
        if gs.ndims == 2:
            cost = make_op("SparseSoftmaxCrossEntropyWithLogits", [precise, labels], attrs, name)._outputs[0]
        else:
            labels_shape = array_ops.shape(labels)
            flat_labels = array_ops.reshape(labels, [-1])
            attrs = {"Tlabels": base(flat_labels)}
            cost = make_op("SparseSoftmaxCrossEntropyWithLogits", [_flatten_outer_dims(precise), flat_labels],
                           attrs, name)._outputs[0]
            cost = array_ops.reshape(cost, labels_shape)
            cost.set_shape(TensorShape(ls.as_tuple()).merge_with(gs[:-1]) if gs.ndims is not None else ls)
        if base(cost) != base(logits):
            cost = math_ops.cast(cost, base(logits))
        return cost


# -- sigmoid cross-entropy (composite, as in TF) ----------------------------------------------------
def sigmoid_cross_entropy_with_logits(_sentinel: Any = None, labels: Any = None, logits: Any = None,
                                      name: str | None = None) -> Any:
    """Elementwise logistic loss `max(x, 0) - x * z + log(1 + exp(-|x|))` (x = logits, z = labels).

    Call it with keyword arguments only, as in TF.

    Args:
        _sentinel: guards against positional arguments; must not be given.
        labels: a Tensor of the type and shape of `logits`, values in [0, 1].
        logits: a float Tensor.
        name: a name for the op (default scope "logistic_loss").

    Returns:
        A Tensor of the shape of `logits` with the elementwise losses.

    Raises:
        ValueError: positional arguments, missing inputs, or shapes that differ.
    """
    _ensure_xent_args("sigmoid_cross_entropy_with_logits", _sentinel, labels, logits)
    with name_scope(name, "logistic_loss") as scope:
        logits = convert_to_tensor(logits, name="logits")
        labels = convert_to_tensor(labels, dtype=base(logits), name="labels")
        if not logits.get_shape().is_compatible_with(labels.get_shape()):
            raise ValueError(f"logits and labels must have the same shape ({logits.get_shape()} vs "
                             f"{labels.get_shape()})")
        zeros = array_ops.zeros_like(logits)
        cond = math_ops.greater_equal(logits, zeros)
        relu_logits = array_ops.where(cond, logits, zeros)
        neg_abs_logits = array_ops.where(cond, math_ops.negative(logits), logits)
        return math_ops.add(math_ops.subtract(relu_logits, math_ops.multiply(logits, labels)),
                            math_ops.log1p(math_ops.exp(neg_abs_logits)), name=scope)
