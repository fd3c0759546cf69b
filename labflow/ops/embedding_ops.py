"""`tf.nn.embedding_lookup`, and the primitives it needs for partitioned params: DynamicPartition and
DynamicStitch (`tf.dynamic_partition`, `tf.dynamic_stitch`).

The lookup is a gather on each partition, so its gradient with respect to the params is an IndexedSlices
(only the looked-up rows): the optimizers apply it sparsely.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import _graph_of, name_scope
from labflow.framework.registry import REQUIRED, op
from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Tensor
from labflow.ops import array_ops, math_ops
from labflow.ops.common import ALL_TYPES, base, constant_value, convert_to_tensor, dims, make_op, make_tensor

__all__ = ["embedding_lookup", "dynamic_partition", "dynamic_stitch"]


def _prefix_error(what: str, outer: tuple, inner: tuple) -> ValueError:
    return ValueError(f"{what}.shape = {TensorShape(inner)} does not start with {what}.shape = "
                      f"{TensorShape(outer)}")


# -- DynamicPartition -------------------------------------------------------------------------------
def _partition_shape(ins, attrs):
    data, parts = ins
    n = attrs["num_partitions"]
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"num_partitions must be an int >= 1, got {n!r}")
    if base(parts) != _dt.int32:
        raise TypeError(f"Value passed to parameter 'partitions' has DataType {base(parts).name} not in list "
                        "of allowed values: int32")
    dd, pd = dims(data), dims(parts)
    if dd is None or pd is None:
        out = None
    else:
        if len(pd) > len(dd) or not TensorShape(dd[:len(pd)]).is_compatible_with(TensorShape(pd)):
            raise ValueError(f"data.shape = {TensorShape(dd)} does not start with partitions.shape = "
                             f"{TensorShape(pd)}")
        out = (None,) + dd[len(pd):]
    return [(base(data), out)] * int(n)


@op("DynamicPartition", inputs=("data", "partitions"), attrs={"num_partitions": REQUIRED}, types=ALL_TYPES,
    type_inputs=("data",), shape=_partition_shape, outputs=lambda attrs, n: int(attrs["num_partitions"]))
def dynamic_partition_kernel(xp, data, partitions, *, num_partitions):
    p = partitions.reshape(-1)
    bad = (p < 0) | (p >= num_partitions)
    # One scalar read (a sync on GPU) buys TF's error instead of silently dropped rows.
    if p.size and bool(bad.any()):
        i = int(xp.argmax(bad))
        raise errors.InvalidArgumentError(None, None, f"partitions[{i}] = {int(p[i])} is not in [0, "
                                          f"{num_partitions})")
    d = data.reshape(p.shape + data.shape[partitions.ndim:])
    outs = [d[p == i] for i in range(num_partitions)]
    return outs[0] if num_partitions == 1 else outs


@dynamic_partition_kernel.grad
def _dynamic_partition_grad(op, *grads):
    # TF's _DynamicPartitionGrads: stitch the gradients back by the positions each row came from.
    data, parts = op.inputs
    n = op.get_attr("num_partitions")
    pshape = array_ops.shape(parts)
    original = array_ops.reshape(array_ops.range(array_ops.size(parts)), pshape)
    pieces = dynamic_partition(original, parts, n)
    if not isinstance(pieces, list):
        pieces = [pieces]
    stitched = dynamic_stitch(pieces, list(grads))
    return [array_ops.reshape(stitched, array_ops.shape(data)), None]


def dynamic_partition(data: Any, partitions: Any, num_partitions: int, name: str | None = None) -> Any:
    """Splits `data` into `num_partitions` tensors by the partition index of each slice.

    `outputs[i]` holds the slices `data[j]` with `partitions[j] == i`, in order. `partitions.shape`
    must be a prefix of `data.shape`.

    Args:
        data: a Tensor.
        partitions: an int32 Tensor with values in [0, num_partitions).
        num_partitions: the number of outputs (an int >= 1).
        name: a name for the op (default "DynamicPartition").

    Returns:
        A list of `num_partitions` Tensors of shape `[None] + data.shape[partitions.ndim:]`.
    """
    d = convert_to_tensor(data, name="data")
    p = convert_to_tensor(partitions, dtype_hint=_dt.int32, name="partitions")
    o = make_op("DynamicPartition", [d, p], {"num_partitions": int(num_partitions)}, name or "DynamicPartition")
    return list(o.outputs)


# -- DynamicStitch ----------------------------------------------------------------------------------
def _stitch_shape(ins, attrs):
    if len(ins) % 2 or not ins:
        raise ValueError(f"DynamicStitch takes N indices and N data tensors, got {len(ins)} inputs")
    n = len(ins) // 2
    attrs["N"] = n
    idx, data = ins[:n], ins[n:]
    for t in idx:
        if base(t) != _dt.int32:
            raise TypeError(f"Value passed to parameter 'indices' has DataType {base(t).name} not in list of "
                            "allowed values: int32")
    dt = base(data[0])
    for t in data[1:]:
        if base(t) != dt:
            raise TypeError(f"Input 'data' of 'DynamicStitch' Op has type {base(t).name} that does not match "
                            f"type {dt.name} of argument 'data'.")
    attrs["T"] = dt
    inner = TensorShape(None)
    for i, (it, dtn) in enumerate(zip(idx, data)):
        idd, ddd = dims(it), dims(dtn)
        if idd is None or ddd is None:
            continue
        if len(idd) > len(ddd) or not TensorShape(ddd[:len(idd)]).is_compatible_with(TensorShape(idd)):
            raise ValueError(f"data[{i}].shape = {TensorShape(ddd)} does not start with indices[{i}].shape = "
                             f"{TensorShape(idd)}")
        try:
            inner = inner.merge_with(TensorShape(ddd[len(idd):]))
        except ValueError:
            raise ValueError(f"All data[i].shape - indices[i].shape must match: {inner} vs "
                             f"{TensorShape(ddd[len(idd):])}") from None
    first = None
    vals = [constant_value(t) for t in idx]
    if all(v is not None for v in vals):
        first = max((int(np.max(v)) + 1 for v in vals if np.size(v)), default=0)
    if inner.ndims is None:
        return dt, None
    return dt, (first,) + inner.as_tuple()


@op("DynamicStitch", inputs=("*indices", "*data"), attrs={"N": None}, shape=_stitch_shape)
def dynamic_stitch_kernel(xp, *args, N):
    idx, data = args[:N], args[N:]
    inner = data[0].shape[idx[0].ndim:]
    flat_i = xp.concatenate([i.reshape(-1) for i in idx])
    flat_d = xp.concatenate([d.reshape((-1,) + inner) for d in data])
    n = int(flat_i.max()) + 1 if flat_i.size else 0
    out = xp.zeros((n,) + inner, dtype=data[0].dtype)
    # For a repeated index the later value wins, as in TF (fancy assignment writes in order).
    out[flat_i] = flat_d
    return out


@dynamic_stitch_kernel.grad
def _dynamic_stitch_grad(op, grad):
    n = op.get_attr("N")
    idx = op.inputs[:n]
    return [None] * n + [array_ops.gather(grad, i) for i in idx]


def dynamic_stitch(indices: list, data: list, name: str | None = None) -> Tensor:
    """Interleaves the `data` tensors into one: `merged[indices[m][i]] = data[m][i]`.

    Args:
        indices: a list of N int32 Tensors.
        data: a list of N Tensors of one dtype; `indices[m].shape` must be a prefix of `data[m].shape`.
        name: a name for the op (default "DynamicStitch").

    Returns:
        A Tensor of shape `[max(indices) + 1] + data[0].shape[indices[0].ndim:]`.

    Raises:
        ValueError: the lists differ in length or are empty.
    """
    indices, data = list(indices), list(data)
    if len(indices) != len(data) or not indices:
        raise ValueError(f"dynamic_stitch needs as many indices as data tensors (and at least one), got "
                         f"{len(indices)} and {len(data)}")
    ii = [convert_to_tensor(i, dtype_hint=_dt.int32, name="indices") for i in indices]
    dd = [convert_to_tensor(d, name="data") for d in data]
    return make_tensor("DynamicStitch", ii + dd, {"N": len(ii)}, name or "DynamicStitch")


# -- embedding_lookup -------------------------------------------------------------------------------
def _clip(params: Tensor, ids: Tensor, max_norm: Any) -> Tensor:
    """Rescales each embedding (the dims after the ids' dims) to an L2 norm of at most `max_norm`."""
    if max_norm is None:
        return params
    from labflow.ops.clip_ops import clip_by_norm
    ir, pr = ids.get_shape().ndims, params.get_shape().ndims
    if ir is not None and pr is not None:
        axes: Any = list(range(ir, pr))
    else:
        axes = array_ops.range(array_ops.rank(ids), array_ops.rank(params))
    return clip_by_norm(params, max_norm, axes=axes)


def _as_params(params: Any) -> list:
    if params is None:
        raise ValueError("params must be specified")
    if isinstance(params, (list, tuple)):
        params = list(params)
    else:
        params = [params]
    if not params:
        raise ValueError("Need at least one param")
    return params


def _to_tensor(p: Any) -> Tensor:
    # A Variable reads its value; the gradient still reaches the variable through the read.
    return convert_to_tensor(p, name="params")


def embedding_lookup(params: Any, ids: Any, partition_strategy: str = "mod", name: str | None = None,
                     validate_indices: bool = True, max_norm: Any = None) -> Tensor:
    """Looks up the rows `ids` in a list of embedding tensors (a gather that may span partitions).

    With one params tensor this is `tf.gather(params, ids)`. With a list of P tensors (the rows of one
    large embedding split across them), `partition_strategy` says which tensor holds row `id`:
    "mod": tensor `id % P`, row `id // P`; "div": contiguous blocks, the first `total % P` tensors
    holding one row more. The gradient with respect to each params tensor is an IndexedSlices.

    Args:
        params: a Tensor or Variable, or a list of them with the same shape after dimension 0.
        ids: an int32 or int64 Tensor of any shape.
        partition_strategy: "mod" (default) or "div"; only used when `params` has several tensors.
        name: a name for the operation (default "embedding_lookup").
        validate_indices: ignored (like TF; out-of-range ids raise at run time on CPU).
        max_norm: if not None, each embedding is clipped to this L2 norm.

    Returns:
        A Tensor of shape `ids.shape + params.shape[1:]` with the params' dtype.

    Raises:
        ValueError: no params, or an unknown `partition_strategy`.
    """
    params = _as_params(params)
    if partition_strategy not in ("mod", "div"):
        raise ValueError(f"Unrecognized partition strategy: {partition_strategy}")
    g = _graph_of(*params, *([ids] if isinstance(ids, Tensor) else []))
    with g.as_default(), name_scope(name, "embedding_lookup") as scope:
        np_ = len(params)
        ps = [_to_tensor(p) for p in params]
        ids_t = convert_to_tensor(ids, dtype_hint=_dt.int32, name="ids")
        if not base(ids_t).is_integer:
            raise TypeError(f"embedding_lookup: ids must be int32 or int64, got {base(ids_t).name}")
        if np_ == 1:
            with g.colocate_with(ps[0].op):
                result = _clip(array_ops.gather(ps[0], ids_t, name=scope), ids_t, max_norm)
            # The result carries no colocation constraint with the params (TF does the same).
            return array_ops.identity(result)
        return _partitioned_lookup(g, ps, ids_t, np_, partition_strategy, scope, max_norm)


def _partitioned_lookup(g: Any, ps: list, ids: Tensor, np_: int, strategy: str, scope: str,
                        max_norm: Any) -> Tensor:
    elem = TensorShape(None if dims(ps[0]) is None else dims(ps[0])[1:])
    for p in ps[1:]:
        pd = dims(p)
        try:
            elem = elem.merge_with(TensorShape(None if pd is None else pd[1:]))
        except ValueError:
            raise ValueError(f"embedding_lookup: the params must have the same shape after dimension 0, got "
                             f"{ps[0].get_shape()} and {p.get_shape()}") from None
    flat_ids = array_ops.reshape(ids, [-1])
    idt = base(flat_ids)
    original = array_ops.range(array_ops.size(flat_ids))
    nparts = convert_to_tensor(np_, dtype=idt)
    if strategy == "mod":
        assign = math_ops.floormod(flat_ids, nparts)
        new_ids = math_ops.floordiv(flat_ids, nparts)
    else:
        sizes = [dims(p)[0] if dims(p) is not None else None for p in ps]
        if all(s is not None for s in sizes):
            total = convert_to_tensor(sum(sizes), dtype=idt)
        else:
            firsts = [math_ops.cast(array_ops.shape(p)[0], idt) for p in ps]
            total = math_ops.add_n(firsts)
        per = math_ops.floordiv(total, nparts)
        extras = math_ops.floormod(total, nparts)
        one = convert_to_tensor(1, dtype=idt)
        per1 = math_ops.add(per, one)
        assign = math_ops.maximum(math_ops.floordiv(flat_ids, per1),
                                  math_ops.floordiv(math_ops.subtract(flat_ids, extras), per))
        new_ids = array_ops.where(math_ops.less(assign, extras), math_ops.floormod(flat_ids, per1),
                                  math_ops.floormod(math_ops.subtract(flat_ids, extras), per))
    assign = math_ops.cast(assign, _dt.int32)
    gather_ids = dynamic_partition(new_ids, assign, np_)
    pindices = dynamic_partition(original, assign, np_)
    results = []
    for p, pids in zip(ps, gather_ids):
        with g.colocate_with(p.op):
            results.append(array_ops.gather(p, pids))
    ret = dynamic_stitch(pindices, results, name=scope)
    if elem.is_fully_defined():
        elem_d: Any = convert_to_tensor(np.array(elem.as_list(), np.int32))
    else:
        with g.colocate_with(ps[0].op):
            elem_d = array_ops.shape(ps[0])[1:]
    ret = array_ops.reshape(ret, array_ops.concat([array_ops.shape(ids), elem_d], 0))
    ret.set_shape(ids.get_shape().concatenate(elem))
    return _clip(ret, ids, max_norm)
