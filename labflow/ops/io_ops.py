"""Checkpoint I/O ops: SaveV2 and RestoreV2 (TF's names), over labflow's checkpoint format."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.registry import REQUIRED, op
from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Operation, Tensor
from labflow.ops.common import convert_to_tensor, get_default_graph

__all__: list[str] = []


def _str(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _strs(a: Any) -> list[str]:
    return [_str(v) for v in np.asarray(a, dtype=object).reshape(-1)]


@op("SaveV2", inputs=("prefix", "tensor_names", "shape_and_slices", "*tensors"), attrs={"dtypes": []},
    shape=lambda ins, a: [], outputs=0, stateful=True, devices=("CPU",), not_differentiable=True)
def save_v2_kernel(xp, prefix, tensor_names, shape_and_slices, *tensors, dtypes):
    from labflow.train import checkpoint_format as ckpt  # the format lives with the Saver
    names = _strs(tensor_names)
    ckpt.write_checkpoint(_str(np.asarray(prefix, dtype=object).reshape(-1)[0]), dict(zip(names, tensors)))


def _restore_shape(ins, attrs):
    shapes = attrs.get("_shapes") or [None] * len(attrs["dtypes"])
    return [(dt, None if s is None else s.as_tuple()) for dt, s in zip(attrs["dtypes"], shapes)]


@op("RestoreV2", inputs=("prefix", "tensor_names", "shape_and_slices"), attrs={"dtypes": REQUIRED, "_shapes": None},
    shape=_restore_shape, outputs=lambda attrs, n: len(attrs["dtypes"]), stateful=True, devices=("CPU",),
    not_differentiable=True)
def restore_v2_kernel(xp, prefix, tensor_names, shape_and_slices, *, dtypes, _shapes):
    from labflow.train import checkpoint_format as ckpt
    path = _str(np.asarray(prefix, dtype=object).reshape(-1)[0])
    names = _strs(tensor_names)
    found = ckpt.read_tensors(path, names)
    out = []
    for i, (name, dt) in enumerate(zip(names, dtypes)):
        v = found[name]
        want = dt.base_dtype
        got = _dt.string if v.dtype == object else _dt.as_dtype(v.dtype)
        if got != want:
            raise errors.InvalidArgumentError(
                None, None, f"Checkpoint {path} stores '{name}' as {got.name}{list(v.shape)}, but the variable "
                f"is {want.name}: restore into a variable of the same dtype.")
        want_shape = None if _shapes is None or _shapes[i] is None else _shapes[i].as_tuple()
        if want_shape is not None and not TensorShape(want_shape).is_compatible_with(v.shape):
            raise errors.InvalidArgumentError(
                None, None, f"Checkpoint {path} stores '{name}' with shape {list(v.shape)}, but the variable "
                f"has shape {TensorShape(want_shape)}: the checkpoint was saved from a different model.")
        out.append(v)
    return out[0] if len(out) == 1 else tuple(out)


def save_v2(prefix: Any, tensor_names: list[str], shape_and_slices: list[str], tensors: list,
            name: str | None = None) -> Operation:
    """Writes `tensors` under checkpoint `prefix` (TF's `io_ops.save_v2`)."""
    ts = [convert_to_tensor(t) for t in tensors]
    ins = [convert_to_tensor(prefix, dtype=_dt.string), convert_to_tensor(list(tensor_names), dtype=_dt.string),
           convert_to_tensor(list(shape_and_slices), dtype=_dt.string)] + ts
    return get_default_graph().create_op("SaveV2", ins, attrs={"dtypes": [t.dtype.base_dtype for t in ts]},
                                         name=name or "SaveV2")


def restore_v2(prefix: Any, tensor_names: list[str], shape_and_slices: list[str], dtypes: list,
               name: str | None = None, shapes: list | None = None) -> list[Tensor]:
    """Reads tensors from checkpoint `prefix`; `shapes` (labflow) makes mismatches name the tensor.

    The shapes travel in the attr `_shapes`: TensorFlow accepts (and ignores) attrs whose name starts with
    an underscore, so a labflow MetaGraphDef still imports there without op-definition errors.
    """
    ins = [convert_to_tensor(prefix, dtype=_dt.string), convert_to_tensor(list(tensor_names), dtype=_dt.string),
           convert_to_tensor(list(shape_and_slices), dtype=_dt.string)]
    attrs = {"dtypes": [_dt.as_dtype(d).base_dtype for d in dtypes],
             "_shapes": None if shapes is None else [TensorShape(s) for s in shapes]}
    return get_default_graph().create_op("RestoreV2", ins, attrs=attrs, name=name or "RestoreV2").outputs
from labflow.ops import saver_ops  # noqa: E402,F401 - registers the sharded Saver's ops
