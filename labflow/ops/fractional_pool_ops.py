"""Fractional max and average pooling (tf.nn.fractional_max_pool / fractional_avg_pool) and their gradients.

A pooling sequence splits each spatial dimension into cells of size floor(ratio) or ceil(ratio) (TF's random
or pseudo-random generators; the draws are labflow's own, so the sequences differ from TF's for the same
seed, and match it wherever they are forced, e.g. an integer ratio). The kernel gathers every cell padded to
the largest cell size (the padding repeats the cell's last index, which changes neither max nor first argmax;
averages use a validity mask), so the work is whole-array NumPy/CuPy.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.registry import REQUIRED, op
from labflow.framework.shapes import shape_str
from labflow.framework.tensor import Tensor
from labflow.ops.array_ops import _scatter_add
from labflow.ops.common import base, constant_value, convert_to_tensor, dims

__all__ = ["fractional_max_pool", "fractional_avg_pool"]

_TYPES = (_dt.float32, _dt.float64, _dt.int32, _dt.int64)
_ATTRS = {"pooling_ratio": REQUIRED, "pseudo_random": False, "overlapping": False, "deterministic": False,
          "seed": 0, "seed2": 0}


def _ratios(attrs: dict, op_type: str) -> list[float]:
    r = [float(v) for v in attrs["pooling_ratio"]]
    if len(r) != 4:
        raise ValueError(f"{op_type}: pooling_ratio must have 4 entries [1, rows, cols, 1], got {r}")
    if r[0] != 1.0 or r[3] != 1.0:
        raise ValueError(f"{op_type}: pooling on the batch and depth dimensions is not supported: pooling_ratio "
                         f"must be [1.0, rows, cols, 1.0], got {r}")
    if min(r) < 1.0:
        raise ValueError(f"{op_type}: pooling_ratio cannot be smaller than 1, got {r}")
    return r


def _out(size: int | None, ratio: float, op_type: str) -> int | None:
    if size is None:
        return None
    o = int(math.floor(size / ratio))
    if o <= 0:
        raise ValueError(f"{op_type}: input size {size} divided by pooling ratio {ratio} gives an empty output")
    return o


def _pool_shape(op_type: str):
    def fn(ins, attrs):
        r = _ratios(attrs, op_type)
        d = dims(ins[0])
        if d is not None and len(d) != 4:
            raise ValueError(f"{op_type}: value must be 4-D [batch, rows, cols, depth], got {shape_str(d)}")
        n, h, w, c = d or (None,) * 4
        oh, ow = _out(h, r[1], op_type), _out(w, r[2], op_type)
        return [(base(ins[0]), (n, oh, ow, c)), (_dt.int64, (None if oh is None else oh + 1,)),
                (_dt.int64, (None if ow is None else ow + 1,))]
    return fn


def pooling_sequence(size: int, out: int, pseudo_random: bool, rng: np.random.RandomState) -> np.ndarray:
    """Cell boundaries [out + 1] of one dimension: TF's random (shuffled cell sizes) or pseudo-random
    (ceil(alpha * (i + u)) with u drawn in TF's range) generators."""
    if pseudo_random:
        alpha = size / out
        k = size // out
        max_u = min((k + 2) / alpha - 1, (size + 1 - k) / alpha - (out - 1))
        u = rng.uniform() * max_u
        seq = [int(math.ceil(alpha * (i + u))) - int(math.ceil(alpha * u)) for i in range(out)] + [size]
        return np.asarray(seq, dtype=np.int64)
    diff = np.full(out, size // out, dtype=np.int64)
    diff[:size % out] += 1
    rng.shuffle(diff)
    return np.concatenate([[0], np.cumsum(diff)]).astype(np.int64)


def _rng(ctx: Any, deterministic: bool, seed: int, seed2: int) -> np.random.RandomState:
    if deterministic:
        if seed == 0 and seed2 == 0:  # TF draws the seeds once per node: the same cells on every run
            if ctx.state is None:
                ctx.state = [int(v) for v in np.random.randint(1, 2**31 - 1, size=2)]
            seed, seed2 = ctx.state
        return np.random.RandomState([seed & 0xFFFFFFFF, seed2 & 0xFFFFFFFF])
    if ctx.state is None:  # one stream per node: new cells on every run, reproducible from the seeds
        ctx.state = np.random.RandomState(None if seed == 0 and seed2 == 0 else [seed & 0xFFFFFFFF,
                                                                                   seed2 & 0xFFFFFFFF])
    return ctx.state


def _sequences(ctx: Any, h: int, w: int, ratio: list, pseudo_random: bool, deterministic: bool, seed: int,
               seed2: int) -> tuple[np.ndarray, np.ndarray]:
    """This run's row and column cell boundaries."""
    rng = _rng(ctx, deterministic, seed, seed2)
    rs = pooling_sequence(h, int(h // ratio[1]), pseudo_random, rng)
    return rs, pooling_sequence(w, int(w // ratio[2]), pseudo_random, rng)


def cell_index(seq: np.ndarray, size: int, overlapping: bool) -> tuple[np.ndarray, np.ndarray]:
    """([cells, widest] input positions of each cell, padded by repeating its last one; the validity mask)."""
    seq = np.asarray(seq, dtype=np.int64)
    start = seq[:-1]
    end = np.minimum(seq[1:] + (1 if overlapping else 0), size)  # exclusive; an overlapping cell shares its end
    width = end - start
    widest = int(width.max()) if width.size else 1
    offs = np.arange(widest)[None, :]
    valid = offs < width[:, None]
    idx = start[:, None] + np.minimum(offs, width[:, None] - 1)
    return idx, valid


def _cells(xp: Any, x: Any, rows: np.ndarray, cols: np.ndarray) -> Any:
    """[batch, out_rows, cell_rows, out_cols, cell_cols, depth] gathered from x."""
    return x[:, xp.asarray(rows)[:, :, None, None], xp.asarray(cols)[None, None, :, :], :]


def _check_sequences(row_seq: Any, col_seq: Any, h: int, w: int, op_type: str) -> None:
    from labflow import errors
    for seq, size, what in ((row_seq, h, "row"), (col_seq, w, "col")):
        s = np.asarray(seq)
        if s.ndim != 1 or s.size < 2 or s[0] != 0 or s[-1] != size or np.any(np.diff(s) <= 0):
            raise errors.InvalidArgumentError(None, None, f"{op_type}: {what}_pooling_sequence must increase from "
                                              f"0 to the input size {size}, got {s.tolist()}")


@op("FractionalMaxPool", inputs=("value",), attrs=_ATTRS, types=_TYPES, shape=_pool_shape("FractionalMaxPool"),
    outputs=3, output_names=("output", "row_pooling_sequence", "col_pooling_sequence"), stateful=True,
    needs_ctx=True, devices=("CPU",))
def fractional_max_pool_kernel(xp, value, *, pooling_ratio, pseudo_random, overlapping, deterministic, seed, seed2,
                               ctx):
    _, h, w, _ = value.shape
    rs, cs = _sequences(ctx, h, w, pooling_ratio, pseudo_random, deterministic, seed, seed2)
    rows, _ = cell_index(rs, h, overlapping)
    cols, _ = cell_index(cs, w, overlapping)
    return _cells(xp, value, rows, cols).max(axis=(2, 4)), rs, cs


@op("FractionalAvgPool", inputs=("value",), attrs=_ATTRS, types=_TYPES, shape=_pool_shape("FractionalAvgPool"),
    outputs=3, output_names=("output", "row_pooling_sequence", "col_pooling_sequence"), stateful=True,
    needs_ctx=True, devices=("CPU",))
def fractional_avg_pool_kernel(xp, value, *, pooling_ratio, pseudo_random, overlapping, deterministic, seed, seed2,
                               ctx):
    _, h, w, _ = value.shape
    rs, cs = _sequences(ctx, h, w, pooling_ratio, pseudo_random, deterministic, seed, seed2)
    return _average(xp, value, rs, cs, overlapping), rs, cs


def _average(xp: Any, value: Any, rs: np.ndarray, cs: np.ndarray, overlapping: bool) -> Any:
    _, h, w, _ = value.shape
    rows, rv = cell_index(rs, h, overlapping)
    cols, cv = cell_index(cs, w, overlapping)
    mask = xp.asarray((rv[:, :, None, None] & cv[None, None, :, :])[None, ..., None])
    cells = _cells(xp, value, rows, cols)
    total = xp.where(mask, cells, xp.zeros((), dtype=cells.dtype)).sum(axis=(2, 4))
    count = mask.sum(axis=(2, 4)).astype(total.dtype)
    if value.dtype.kind == "f":
        return (total / count).astype(value.dtype)
    return xp.trunc(total / count).astype(value.dtype)  # TF's integer average truncates


@fractional_max_pool_kernel.grad
def _fractional_max_pool_grad(op, grad, _row_grad=None, _col_grad=None):
    from labflow.ops.common import make_tensor
    return [make_tensor("FractionalMaxPoolGrad", [op.inputs[0], op.outputs[0], grad, op.outputs[1], op.outputs[2]],
                        {"overlapping": op.get_attr("overlapping")})]


@fractional_avg_pool_kernel.grad
def _fractional_avg_pool_grad(op, grad, _row_grad=None, _col_grad=None):
    from labflow.ops import array_ops
    from labflow.ops.common import make_tensor
    return [make_tensor("FractionalAvgPoolGrad", [array_ops.shape(op.inputs[0], out_type=_dt.int64), grad,
                                                  op.outputs[1], op.outputs[2]],
                        {"overlapping": op.get_attr("overlapping")})]


def _max_grad_shape(ins, attrs):
    return base(ins[0]), dims(ins[0])


def _avg_grad_shape(ins, attrs):
    shape = constant_value(ins[0])
    return base(ins[1]), (None,) * 4 if shape is None else tuple(int(v) for v in shape)


@op("FractionalMaxPoolGrad", inputs=("orig_input", "orig_output", "out_backprop", "row_pooling_sequence",
                                     "col_pooling_sequence"), attrs={"overlapping": False}, types=_TYPES,
    type_inputs=("orig_input", "orig_output", "out_backprop"), shape=_max_grad_shape, host_inputs=(3, 4))
def fractional_max_pool_grad_kernel(xp, orig_input, orig_output, out_backprop, row_pooling_sequence,
                                    col_pooling_sequence, *, overlapping):
    n, h, w, c = orig_input.shape
    _check_sequences(row_pooling_sequence, col_pooling_sequence, h, w, "FractionalMaxPoolGrad")
    rows, _ = cell_index(row_pooling_sequence, h, overlapping)
    cols, _ = cell_index(col_pooling_sequence, w, overlapping)
    cells = _cells(xp, orig_input, rows, cols)  # [n, oh, kh, ow, kw, c]
    oh, kh, ow, kw = rows.shape[0], rows.shape[1], cols.shape[0], cols.shape[1]
    flat = cells.transpose(0, 1, 3, 5, 2, 4).reshape(n, oh, ow, c, kh * kw)
    first = xp.argmax(flat, axis=-1)  # the first maximum in row-major cell order, as TF's loop
    r = xp.asarray(rows)[xp.arange(oh)[None, :, None, None], first // kw]  # [n, oh, ow, c] input rows
    q = xp.asarray(cols)[xp.arange(ow)[None, None, :, None], first % kw]
    b = xp.arange(n)[:, None, None, None]
    d = xp.arange(c)[None, None, None, :]
    target = ((b * h + r) * w + q) * c + d
    out = xp.zeros(n * h * w * c, dtype=out_backprop.dtype)
    _scatter_add(xp, out, target.reshape(-1), out_backprop.reshape(-1))
    return out.reshape(n, h, w, c)


@op("FractionalAvgPoolGrad", inputs=("orig_input_tensor_shape", "out_backprop", "row_pooling_sequence",
                                     "col_pooling_sequence"), attrs={"overlapping": False}, types=_TYPES,
    type_inputs=("out_backprop",), shape=_avg_grad_shape, host_inputs=(0, 2, 3))
def fractional_avg_pool_grad_kernel(xp, orig_input_tensor_shape, out_backprop, row_pooling_sequence,
                                    col_pooling_sequence, *, overlapping):
    n, h, w, c = (int(v) for v in orig_input_tensor_shape)
    _check_sequences(row_pooling_sequence, col_pooling_sequence, h, w, "FractionalAvgPoolGrad")
    rows, rv = cell_index(row_pooling_sequence, h, overlapping)
    cols, cv = cell_index(col_pooling_sequence, w, overlapping)
    valid = rv[:, :, None, None] & cv[None, None, :, :]  # [oh, kh, ow, kw]
    share = out_backprop / xp.asarray(valid.sum(axis=(1, 3)), dtype=out_backprop.dtype)[None, :, :, None]
    r = np.broadcast_to(rows[:, :, None, None], valid.shape)[valid]
    q = np.broadcast_to(cols[None, None, :, :], valid.shape)[valid]
    cell = np.broadcast_to((np.arange(rows.shape[0])[:, None, None, None] * cols.shape[0]
                            + np.arange(cols.shape[0])[None, None, :, None]), valid.shape)[valid]
    vals = share.reshape(n, -1, c)[:, xp.asarray(cell), :]  # [n, entries, c]
    out = xp.zeros((h * w, n, c), dtype=out_backprop.dtype)
    _scatter_add(xp, out, xp.asarray(r * w + q), vals.transpose(1, 0, 2))
    return out.reshape(h, w, n, c).transpose(2, 0, 1, 3)


def _no_gradient(op_type: str) -> Any:
    def grad(op, *grads):
        raise LookupError(f"No gradient defined for operation '{op.name}' (op type: {op_type}), as in TF")
    return grad


fractional_max_pool_grad_kernel.grad(_no_gradient("FractionalMaxPoolGrad"))
fractional_avg_pool_grad_kernel.grad(_no_gradient("FractionalAvgPoolGrad"))


def _pool(op_type: str, value: Any, pooling_ratio: Any, pseudo_random: bool, overlapping: bool, deterministic: bool,
          seed: int, seed2: int, name: str | None) -> tuple[Tensor, Tensor, Tensor]:
    from labflow.ops.common import make_op
    x = convert_to_tensor(value, name="value")
    ratio = [float(v) for v in pooling_ratio]
    o = make_op(op_type, [x], {"pooling_ratio": ratio, "pseudo_random": bool(pseudo_random),
                               "overlapping": bool(overlapping), "deterministic": bool(deterministic),
                               "seed": int(seed), "seed2": int(seed2)}, name=name or op_type)
    return tuple(o.outputs)


def fractional_max_pool(value: Any, pooling_ratio: Any, pseudo_random: bool = False, overlapping: bool = False,
                        deterministic: bool = False, seed: int = 0, seed2: int = 0, name: str | None = None
                        ) -> tuple[Tensor, Tensor, Tensor]:
    """Max pooling over cells of fractional average size (TF 1.x `tf.nn.fractional_max_pool`, Graham 2014).

    Args:
        value: [batch, rows, cols, depth].
        pooling_ratio: [1.0, row ratio, col ratio, 1.0], each >= 1: the output has floor(size / ratio) cells.
        pseudo_random: cells from the pseudo-random generator (else the random one).
        overlapping: neighbouring cells share their boundary row/column.
        deterministic: the same cells on every run of this node.
        seed, seed2: seeds for the cell generator (both 0: random).
        name: the op name.

    Returns:
        (output, row_pooling_sequence, col_pooling_sequence): the pooled values and the int64 cell boundaries.
    """
    return _pool("FractionalMaxPool", value, pooling_ratio, pseudo_random, overlapping, deterministic, seed, seed2,
                 name)


def fractional_avg_pool(value: Any, pooling_ratio: Any, pseudo_random: bool = False, overlapping: bool = False,
                        deterministic: bool = False, seed: int = 0, seed2: int = 0, name: str | None = None
                        ) -> tuple[Tensor, Tensor, Tensor]:
    """Average pooling over cells of fractional average size (TF 1.x `tf.nn.fractional_avg_pool`).

    Arguments and results as fractional_max_pool.
    """
    return _pool("FractionalAvgPool", value, pooling_ratio, pseudo_random, overlapping, deterministic, seed, seed2,
                 name)
