"""Rearrangements between space, depth and batch: space_to_depth, depth_to_space, space_to_batch(_nd) and
batch_to_space(_nd). Each kernel is one reshape + transpose (+ pad or crop); each gradient is its inverse."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.registry import op
from labflow.framework.shapes import shape_str
from labflow.framework.tensor import Tensor
from labflow.ops.array_ops import _set_attrs
from labflow.ops.common import ALL_TYPES, INDEX_TYPES, base, constant_value, convert_to_tensor, dims, make_tensor
from labflow.ops.conv_ops import from_nhwc, kernel_in, kernel_out, to_nhwc

__all__ = ["space_to_depth", "depth_to_space", "space_to_batch_nd", "batch_to_space_nd", "space_to_batch",
           "batch_to_space", "required_space_to_batch_paddings"]


# -- SpaceToDepth / DepthToSpace ---------------------------------------------------------------------------
def _depth_shape(op_type: str):
    def fn(ins, attrs):
        b, fmt = attrs["block_size"], attrs["data_format"]
        if b < 2:
            raise ValueError(f"{op_type}: block_size must be at least 2, got {b}")
        if fmt not in ("NHWC", "NCHW"):
            raise ValueError(f"{op_type}: data_format must be 'NHWC' or 'NCHW', got {fmt!r}")
        d = dims(ins[0])
        if d is None:
            return base(ins[0]), None
        if len(d) != 4:
            raise ValueError(f"Shape must be rank 4 but is rank {len(d)} for '{op_type}' (input {shape_str(d)})")
        n, h, w, c = to_nhwc(d, fmt)
        if op_type == "SpaceToDepth":
            for v, what in ((h, "height"), (w, "width")):
                if v is not None and v % b:
                    raise ValueError(f"SpaceToDepth: image {what} {v} is not divisible by block_size {b}")
            out = (n, None if h is None else h // b, None if w is None else w // b, None if c is None else c * b * b)
        else:
            if c is not None and c % (b * b):
                raise ValueError(f"DepthToSpace: input depth {c} is not divisible by block_size * block_size "
                                 f"({b * b})")
            out = (n, None if h is None else h * b, None if w is None else w * b,
                   None if c is None else c // (b * b))
        return base(ins[0]), from_nhwc(out, fmt)
    return fn


@op("SpaceToDepth", inputs=("input",), attrs={"block_size": 2, "data_format": "NHWC"}, types=ALL_TYPES,
    shape=_depth_shape("SpaceToDepth"))
def space_to_depth_kernel(xp, input, *, block_size, data_format):
    x = kernel_in(xp, input, data_format)
    n, h, w, c = x.shape
    b = block_size
    if h % b or w % b:
        raise errors.InvalidArgumentError(None, None, f"SpaceToDepth: image size [{h}, {w}] is not divisible by "
                                          f"block_size {b}")
    y = x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, h // b, w // b, b * b * c)
    return kernel_out(xp, y, data_format)


@op("DepthToSpace", inputs=("input",), attrs={"block_size": 2, "data_format": "NHWC"}, types=ALL_TYPES,
    shape=_depth_shape("DepthToSpace"))
def depth_to_space_kernel(xp, input, *, block_size, data_format):
    x = kernel_in(xp, input, data_format)
    n, h, w, c = x.shape
    b = block_size
    if c % (b * b):
        raise errors.InvalidArgumentError(None, None, f"DepthToSpace: input depth {c} is not divisible by "
                                          f"block_size * block_size ({b * b})")
    y = x.reshape(n, h, w, b, b, c // (b * b)).transpose(0, 1, 3, 2, 4, 5).reshape(n, h * b, w * b, c // (b * b))
    return kernel_out(xp, y, data_format)


@space_to_depth_kernel.grad
def _space_to_depth_grad(op, grad):
    grad = convert_to_tensor(grad)
    return [depth_to_space(grad, op.get_attr("block_size"), data_format=op.get_attr("data_format"))]


@depth_to_space_kernel.grad
def _depth_to_space_grad(op, grad):
    grad = convert_to_tensor(grad)
    return [space_to_depth(grad, op.get_attr("block_size"), data_format=op.get_attr("data_format"))]


def space_to_depth(input: Any, block_size: int, name: str | None = None, data_format: str = "NHWC") -> Tensor:  # noqa: A002
    """Moves each `block_size` x `block_size` spatial block of a 4-D image into the depth dimension:
    [N, H, W, C] -> [N, H/b, W/b, b*b*C] (NHWC; NCHW likewise)."""
    x = convert_to_tensor(input, name="input")
    return make_tensor("SpaceToDepth", [x], {"block_size": int(block_size), "data_format": data_format},
                       name or "SpaceToDepth")


def depth_to_space(input: Any, block_size: int, name: str | None = None, data_format: str = "NHWC") -> Tensor:  # noqa: A002
    """The inverse of space_to_depth: [N, H, W, b*b*C] -> [N, H*b, W*b, C] (NHWC; NCHW likewise)."""
    x = convert_to_tensor(input, name="input")
    return make_tensor("DepthToSpace", [x], {"block_size": int(block_size), "data_format": data_format},
                       name or "DepthToSpace")


# -- SpaceToBatchND / BatchToSpaceND ---------------------------------------------------------------------------
def _block_and_pads(ins: list, attrs: dict, op_type: str, pads_name: str) -> tuple:
    """Checks block_shape and the paddings/crops input named `pads_name` (and the input's rank against them);
    returns (input dims, block list, [[before, after], ...]), each None where unknown."""
    x, block, pads = ins
    for t, what in ((block, "block_shape"), (pads, pads_name)):
        if base(t) not in INDEX_TYPES:
            raise TypeError(f"{op_type}: {what} must be int32 or int64, got {base(t).name}")
    bd, pd = dims(block), dims(pads)
    if bd is not None and len(bd) != 1:
        raise ValueError(f"{op_type}: block_shape must be 1-D, got shape {shape_str(bd)}")
    if pd is not None and (len(pd) != 2 or pd[1] not in (2, None)):
        raise ValueError(f"{op_type}: {pads_name} must have shape [M, 2], got {shape_str(pd)}")
    bv, pv = constant_value(block), constant_value(pads)
    b = None if bv is None else [int(v) for v in np.reshape(bv, [-1])]
    p = None if pv is None else np.reshape(pv, [-1, 2]).astype(np.int64).tolist()
    if b is not None and any(v < 1 for v in b):
        raise ValueError(f"{op_type}: block_shape must be positive, got {b}")
    if p is not None and any(v < 0 for row in p for v in row):
        raise ValueError(f"{op_type}: {pads_name} must be non-negative, got {p}")
    if b is not None and p is not None and len(b) != len(p):
        raise ValueError(f"{op_type}: block_shape has {len(b)} entries but {pads_name} has {len(p)} rows")
    _set_attrs(attrs, Tblock_shape=base(block), **{f"T{pads_name}": base(pads)})  # Tpaddings or Tcrops
    xd = dims(x)
    if xd is not None and b is not None and len(xd) < len(b) + 1:
        raise ValueError(f"{op_type}: input of rank {len(xd)} has fewer than {len(b)} spatial dimensions after the "
                         "batch dimension")
    return xd, b, p


def _space_to_batch_shape(ins, attrs):
    xd, b, p = _block_and_pads(ins, attrs, "SpaceToBatchND", "paddings")
    if xd is None or b is None:
        return base(ins[0]), None
    m = len(b)
    prod = int(np.prod(b))
    out = [None if xd[0] is None else xd[0] * prod]
    for i in range(m):
        d = xd[i + 1]
        if d is None or p is None:
            out.append(None)
            continue
        padded = d + p[i][0] + p[i][1]
        if padded % b[i]:
            raise ValueError(f"SpaceToBatchND: padded size {padded} of dimension {i + 1} is not divisible by "
                             f"block_shape[{i}] = {b[i]}")
        out.append(padded // b[i])
    return base(ins[0]), tuple(out) + tuple(xd[m + 1:])


def _batch_to_space_shape(ins, attrs):
    xd, b, c = _block_and_pads(ins, attrs, "BatchToSpaceND", "crops")
    if xd is None or b is None:
        return base(ins[0]), None
    m = len(b)
    prod = int(np.prod(b))
    if xd[0] is not None and xd[0] % prod:
        raise ValueError(f"BatchToSpaceND: batch size {xd[0]} is not divisible by the product of block_shape {prod}")
    out = [None if xd[0] is None else xd[0] // prod]
    for i in range(m):
        d = xd[i + 1]
        if d is None or c is None:
            out.append(None)
            continue
        size = d * b[i] - c[i][0] - c[i][1]
        if size < 0:
            raise ValueError(f"BatchToSpaceND: crops {c[i]} are larger than dimension {i + 1} ({d * b[i]})")
        out.append(size)
    return base(ins[0]), tuple(out) + tuple(xd[m + 1:])


def _host_block(block_shape: Any, pads: Any, op_type: str, what: str) -> tuple[list, list]:
    b = [int(v) for v in np.reshape(block_shape, [-1]).tolist()]
    p = np.reshape(pads, [-1, 2]).astype(np.int64).tolist()
    if len(p) != len(b) or any(v < 1 for v in b) or any(v < 0 for row in p for v in row):
        raise errors.InvalidArgumentError(None, None, f"{op_type}: block_shape {b} must be positive and {what} {p} "
                                          "non-negative, with one row per block dimension")
    return b, p


@op("SpaceToBatchND", inputs=("input", "block_shape", "paddings"), attrs={"Tblock_shape": None, "Tpaddings": None},
    types=ALL_TYPES, type_inputs=("input",), shape=_space_to_batch_shape, host_inputs=(1, 2))
def space_to_batch_nd_kernel(xp, input, block_shape, paddings):
    b, p = _host_block(block_shape, paddings, "SpaceToBatchND", "paddings")
    m = len(b)
    if input.ndim < m + 1:
        raise errors.InvalidArgumentError(None, None, f"SpaceToBatchND: input rank {input.ndim} must be >= {m + 1}")
    x = xp.pad(input, [(0, 0)] + [tuple(r) for r in p] + [(0, 0)] * (input.ndim - m - 1))
    n, rest = x.shape[0], x.shape[m + 1:]
    split = [n]
    for i in range(m):
        if x.shape[i + 1] % b[i]:
            raise errors.InvalidArgumentError(None, None, f"SpaceToBatchND: padded shape {list(x.shape)} dimension "
                                              f"{i + 1} must be divisible by block_shape[{i}] = {b[i]}")
        split += [x.shape[i + 1] // b[i], b[i]]
    y = x.reshape(split + list(rest))
    k = len(rest)
    # [n, d1, b1, ..., dm, bm, rest] -> [b1, ..., bm, n, d1, ..., dm, rest]
    perm = [2 + 2 * i for i in range(m)] + [0] + [1 + 2 * i for i in range(m)] + list(range(1 + 2 * m, 1 + 2 * m + k))
    out_shape = [n * int(np.prod(b))] + [split[1 + 2 * i] for i in range(m)] + list(rest)
    return xp.ascontiguousarray(y.transpose(perm)).reshape(out_shape)


@op("BatchToSpaceND", inputs=("input", "block_shape", "crops"), attrs={"Tblock_shape": None, "Tcrops": None},
    types=ALL_TYPES, type_inputs=("input",), shape=_batch_to_space_shape, host_inputs=(1, 2))
def batch_to_space_nd_kernel(xp, input, block_shape, crops):
    b, c = _host_block(block_shape, crops, "BatchToSpaceND", "crops")
    m = len(b)
    prod = int(np.prod(b))
    if input.ndim < m + 1 or input.shape[0] % prod:
        raise errors.InvalidArgumentError(None, None, f"BatchToSpaceND: input shape {list(input.shape)} needs rank >= "
                                          f"{m + 1} and a batch divisible by prod(block_shape) = {prod}")
    n = input.shape[0] // prod
    sp, rest = list(input.shape[1:m + 1]), list(input.shape[m + 1:])
    y = input.reshape(b + [n] + sp + rest)
    k = len(rest)
    # [b1, ..., bm, n, d1, ..., dm, rest] -> [n, d1, b1, ..., dm, bm, rest]
    perm = [m]
    for i in range(m):
        perm += [m + 1 + i, i]
    perm += list(range(2 * m + 1, 2 * m + 1 + k))
    full = y.transpose(perm).reshape([n] + [sp[i] * b[i] for i in range(m)] + rest)
    index = [slice(None)]
    for i in range(m):
        lo, hi = c[i]
        if lo + hi > full.shape[i + 1]:
            raise errors.InvalidArgumentError(None, None, f"BatchToSpaceND: crops {c[i]} exceed dimension {i + 1} "
                                              f"({full.shape[i + 1]})")
        index.append(slice(lo, full.shape[i + 1] - hi))
    return xp.ascontiguousarray(full[tuple(index)])


@space_to_batch_nd_kernel.grad
def _space_to_batch_nd_grad(op, grad):
    grad = convert_to_tensor(grad)
    return [batch_to_space_nd(grad, op.inputs[1], op.inputs[2]), None, None]


@batch_to_space_nd_kernel.grad
def _batch_to_space_nd_grad(op, grad):
    grad = convert_to_tensor(grad)
    return [space_to_batch_nd(grad, op.inputs[1], op.inputs[2]), None, None]


def _index_input(v: Any, name: str) -> Tensor:
    t = convert_to_tensor(v, dtype_hint=_dt.int32, name=name)
    if base(t) not in INDEX_TYPES:
        raise TypeError(f"{name} must be int32 or int64, got {base(t).name}")
    return t


def space_to_batch_nd(input: Any, block_shape: Any, paddings: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """Pads the M spatial dimensions after the batch by `paddings` ([M, 2]), splits each into blocks of
    `block_shape` and moves the block offsets into the batch: [N, ...] -> [N * prod(block_shape), ...]."""
    x = convert_to_tensor(input, name="input")
    return make_tensor("SpaceToBatchND", [x, _index_input(block_shape, "block_shape"),
                                          _index_input(paddings, "paddings")], None, name or "SpaceToBatchND")


def batch_to_space_nd(input: Any, block_shape: Any, crops: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """The inverse of space_to_batch_nd: moves batch blocks back into the M spatial dimensions, then crops
    them by `crops` ([M, 2])."""
    x = convert_to_tensor(input, name="input")
    return make_tensor("BatchToSpaceND", [x, _index_input(block_shape, "block_shape"),
                                          _index_input(crops, "crops")], None, name or "BatchToSpaceND")


def _square_block(block_size: Any, block_shape: Any, fn: str) -> list[int]:
    if block_size is not None and block_shape is not None and block_size != block_shape:
        raise ValueError(f"{fn}: cannot specify both 'block_size' and 'block_shape'")
    b = block_size if block_size is not None else block_shape
    if b is None or np.ndim(b) != 0:
        raise TypeError(f"{fn}() needs an int block_size (for an N-d block use {fn}_nd)")
    return [int(b), int(b)]


def space_to_batch(input: Any, paddings: Any, block_size: int | None = None, name: str | None = None,  # noqa: A002
                   block_shape: Any = None) -> Tensor:
    """TF 1.x `tf.space_to_batch` for 4-D NHWC input: space_to_batch_nd with block [block_size, block_size]
    (`block_shape` is the newer spelling of `block_size`)."""
    return space_to_batch_nd(input, _square_block(block_size, block_shape, "space_to_batch"), paddings, name)


def batch_to_space(input: Any, crops: Any, block_size: int | None = None, name: str | None = None,  # noqa: A002
                   block_shape: Any = None) -> Tensor:
    """TF 1.x `tf.batch_to_space` for 4-D NHWC input: batch_to_space_nd with block [block_size, block_size]
    (`block_shape` is the newer spelling of `block_size`)."""
    return batch_to_space_nd(input, _square_block(block_size, block_shape, "batch_to_space"), crops, name)


def required_space_to_batch_paddings(input_shape: Any, block_shape: Any, base_paddings: Any = None,
                                     name: str | None = None) -> tuple[Tensor, Tensor]:
    """The paddings and crops that make the spatial `input_shape` (1-D, M entries) divisible by `block_shape`.

    Returns `(paddings, crops)`, both int32 [M, 2]: `paddings` is `base_paddings` (default zeros) with the end
    padding grown just enough, `crops` removes that extra again after batch_to_space_nd. A composite, as in TF.
    """
    from labflow.framework.graph import name_scope
    from labflow.ops import math_ops
    from labflow.ops.array_join_ops import stack
    from labflow.ops.array_ops import zeros
    with name_scope(name, "required_space_to_batch_paddings", [input_shape, block_shape]):
        shape = convert_to_tensor(input_shape, dtype=_dt.int32, name="input_shape")
        block = convert_to_tensor(block_shape, dtype=_dt.int32, name="block_shape")
        bd = dims(block)
        if bd is None or len(bd) != 1 or bd[0] is None:
            raise ValueError(f"required_space_to_batch_paddings: block_shape must be a 1-D tensor of known size, got "
                             f"shape {shape_str(bd)}")
        m = bd[0]
        base_p = zeros([m, 2], _dt.int32) if base_paddings is None else convert_to_tensor(
            base_paddings, dtype=_dt.int32, name="base_paddings")
        start, end = base_p[:, 0], base_p[:, 1]
        full = math_ops.add(math_ops.add(shape, start), end)
        extra = math_ops.floormod(math_ops.subtract(block, math_ops.floormod(full, block)), block)
        new_end = math_ops.add(end, extra)
        paddings = stack([stack([start[i], new_end[i]]) for i in range(m)]) if m else zeros([0, 2], _dt.int32)
        crops = stack([stack([0, extra[i]]) for i in range(m)]) if m else zeros([0, 2], _dt.int32)
        return paddings, crops
