"""The ops of TensorFlow's sharded Saver graph: ShardedFilename, ShardedFilespec and MergeV2Checkpoints.

TF 1.x's `tf.train.Saver(sharded=True)` (and `simple_save`/`SavedModelBuilder`, which use it) writes each device's
variables to a temporary shard named by ShardedFilename and merges the shards into the final prefix with
MergeV2Checkpoints; these ops let labflow import and run the save graph of such a MetaGraphDef or SavedModel.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.registry import op
from labflow.framework.tensor import Operation, Tensor
from labflow.ops.common import convert_to_tensor, dims, make_op
from labflow.ops.string_common import as_bytes_array

__all__: list[str] = []


def _scalar_inputs(op_type: str, names: tuple[str, ...], dtypes: tuple[_dt.DType, ...]) -> Any:
    """Shape function: TF's type check of each input and a scalar string output (TF checks ranks in the kernel)."""
    def fn(ins: list, attrs: dict) -> tuple:
        for t, arg, want in zip(ins, names, dtypes):
            if t.dtype.base_dtype != want:
                raise TypeError(f"Input '{arg}' of '{op_type}' Op has type {t.dtype.base_dtype.name} that does not "
                                f"match expected type of {want.name}.")
        return _dt.string, ()
    return fn


def _scalar(value: Any, op_type: str, arg: str) -> Any:
    arr = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
    if arr.ndim != 0:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: {arg} must be a scalar, got shape "
                                          f"{list(arr.shape)}.")
    return arr.reshape(()).item() if arr.dtype != object else arr.reshape(-1)[0]


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _string_scalar(text: str) -> np.ndarray:
    out = np.empty((), dtype=object)
    out[()] = text.encode("utf-8")
    return out


@op("ShardedFilename", inputs=("basename", "shard", "num_shards"),
    shape=_scalar_inputs("ShardedFilename", ("basename", "shard", "num_shards"), (_dt.string, _dt.int32, _dt.int32)),
    host_op=True, not_differentiable=True)
def sharded_filename_kernel(xp, basename, shard, num_shards):
    base = _text(_scalar(as_bytes_array(basename), "ShardedFilename", "basename"))
    s = int(_scalar(np.asarray(shard), "ShardedFilename", "shard"))
    n = int(_scalar(np.asarray(num_shards), "ShardedFilename", "num_shards"))
    return _string_scalar(f"{base}-{s:05d}-of-{n:05d}")


@op("ShardedFilespec", inputs=("basename", "num_shards"),
    shape=_scalar_inputs("ShardedFilespec", ("basename", "num_shards"), (_dt.string, _dt.int32)),
    host_op=True, not_differentiable=True)
def sharded_filespec_kernel(xp, basename, num_shards):
    base = _text(_scalar(as_bytes_array(basename), "ShardedFilespec", "basename"))
    n = int(_scalar(np.asarray(num_shards), "ShardedFilespec", "num_shards"))
    return _string_scalar(f"{base}-?????-of-{n:05d}")


def _merge_shape(ins: list, attrs: dict) -> list:
    for t, arg in zip(ins, ("checkpoint_prefixes", "destination_prefix")):
        if t.dtype.base_dtype != _dt.string:
            raise TypeError(f"Input '{arg}' of 'MergeV2Checkpoints' Op has type {t.dtype.base_dtype.name} that "
                            "does not match expected type of string.")
    d = dims(ins[1])
    if d is not None and len(d) != 0:
        raise ValueError(f"Shape must be rank 0 but is rank {len(d)} for 'MergeV2Checkpoints' (destination_prefix "
                         "is one checkpoint prefix).")
    return []


@op("MergeV2Checkpoints", inputs=("checkpoint_prefixes", "destination_prefix"),
    attrs={"delete_old_dirs": True, "allow_missing_files": False}, shape=_merge_shape, outputs=0,
    stateful=True, devices=("CPU",), not_differentiable=True)
def merge_v2_checkpoints_kernel(xp, checkpoint_prefixes, destination_prefix, *, delete_old_dirs,
                                allow_missing_files):
    from labflow.train import checkpoint_format as ckpt  # the format lives with the Saver
    prefixes = as_bytes_array(checkpoint_prefixes)
    if prefixes.ndim != 1:
        raise errors.InvalidArgumentError(None, None, "MergeV2Checkpoints: checkpoint_prefixes should be a 1-D "
                                          f"tensor, got shape {list(prefixes.shape)}.")
    dest = _text(_scalar(as_bytes_array(destination_prefix), "MergeV2Checkpoints", "destination_prefix"))
    ckpt.merge_checkpoints([_text(p) for p in prefixes], dest, delete_old_dirs=bool(delete_old_dirs),
                           allow_missing_files=bool(allow_missing_files))


def sharded_filename(basename: Any, shard: Any, num_shards: Any, name: str | None = None) -> Tensor:
    """The name of shard `shard` of `num_shards`: "basename-00002-of-00005" (TF's `gen_io_ops.sharded_filename`).

    Args:
        basename: a scalar string tensor, the checkpoint prefix.
        shard: a scalar int32 tensor, the shard number.
        num_shards: a scalar int32 tensor, the number of shards.
        name: a name for the op.
    """
    ins = [convert_to_tensor(basename, dtype=_dt.string), convert_to_tensor(shard, dtype=_dt.int32),
           convert_to_tensor(num_shards, dtype=_dt.int32)]
    return make_op("ShardedFilename", ins, name=name or "ShardedFilename").outputs[0]


def sharded_filespec(basename: Any, num_shards: Any, name: str | None = None) -> Tensor:
    """The glob of all `num_shards` shards: "basename-?????-of-00005" (TF's `gen_io_ops.sharded_filespec`)."""
    ins = [convert_to_tensor(basename, dtype=_dt.string), convert_to_tensor(num_shards, dtype=_dt.int32)]
    return make_op("ShardedFilespec", ins, name=name or "ShardedFilespec").outputs[0]


def merge_v2_checkpoints(checkpoint_prefixes: Any, destination_prefix: Any, delete_old_dirs: bool = True,
                         allow_missing_files: bool = False, name: str | None = None) -> Operation:
    """Merges the checkpoints `checkpoint_prefixes` into `destination_prefix` (TF's `gen_io_ops.merge_v2_checkpoints`).

    Args:
        checkpoint_prefixes: a 1-D string tensor of checkpoint prefixes (one per shard).
        destination_prefix: a scalar string tensor, the merged checkpoint's prefix.
        delete_old_dirs: also remove the sources' folders once empty.
        allow_missing_files: skip sources that do not exist instead of failing (at least one must exist).
        name: a name for the op.
    """
    ins = [convert_to_tensor(checkpoint_prefixes, dtype=_dt.string),
           convert_to_tensor(destination_prefix, dtype=_dt.string)]
    return make_op("MergeV2Checkpoints", ins, attrs={"delete_old_dirs": bool(delete_old_dirs),
                                                      "allow_missing_files": bool(allow_missing_files)},
                   name=name or "MergeV2Checkpoints")
