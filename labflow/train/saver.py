"""`tf.train.Saver` and the checkpoint-state helpers (`latest_checkpoint`, `get_checkpoint_state`).

The Saver adds SaveV2/RestoreV2 ops to the graph (named like TF's: save/Const, save/SaveV2,
save/control_dependency, save/RestoreV2, save/restore_all), so a model exported with its
MetaGraphDef can be restored without its Python code. Files: see checkpoint_format.py. The
`checkpoint` state file (CheckpointState in text format, as TF writes it) is replaced atomically and
only after the new checkpoint is complete; old checkpoints are deleted after that.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from labflow import errors
from labflow.framework.graph import GraphKeys, get_default_graph
from labflow.framework.protos import checkpoint_state_pb2, saver_pb2
from labflow.train import checkpoint_format as ckpt

__all__ = ["Saver", "latest_checkpoint", "get_checkpoint_state", "checkpoint_exists",
           "NewCheckpointReader", "update_checkpoint_state"]


def _var_name(v: Any) -> str:
    return v.op.name


def _var_list(var_list: Any) -> dict:
    if var_list is None:
        from labflow.ops.variables import global_variables
        var_list = global_variables() + get_default_graph().get_collection("saveable_objects")
    if isinstance(var_list, dict):
        return dict(var_list)
    out: dict = {}
    for v in var_list:
        name = _var_name(v)
        if name in out:
            raise ValueError(f"At least two variables have the same name: {name}")
        out[name] = v
    return out


class Saver:
    """Saves and restores variables (TF 1.x `tf.train.Saver`)."""

    def __init__(self, var_list: Any = None, reshape: bool = False, sharded: bool = False,
                 max_to_keep: int = 5, keep_checkpoint_every_n_hours: float = 10000.0, name: str | None = None,
                 restore_sequentially: bool = False, saver_def: Any = None, builder: Any = None,
                 defer_build: bool = False, allow_empty: bool = False, write_version: int = 2,
                 pad_step_number: bool = False, save_relative_paths: bool = False, filename: str | None = None):
        self._max_to_keep = max_to_keep
        self._keep_every_s = keep_checkpoint_every_n_hours * 3600.0
        self._next_keep_time = time.time() + self._keep_every_s
        self._last_checkpoints: list[tuple[str, float]] = []
        self._save_relative_paths = save_relative_paths
        self._pad_step_number = pad_step_number
        self._filename = filename
        self._var_list = var_list
        self._name = name
        self._allow_empty = allow_empty
        self._sharded = sharded
        self._graph = get_default_graph()
        self.saver_def = saver_def
        if saver_def is None and not defer_build:
            self.build()

    # -- graph construction --------------------------------------------------------------------------
    def build(self) -> None:
        from labflow.ops import array_ops, control_flow_ops, io_ops, state_ops
        g = self._graph
        variables = _var_list(self._var_list)
        if not variables and not self._allow_empty:
            raise ValueError("No variables to save")
        names = sorted(variables)
        self._names = names
        with g.as_default(), g.name_scope(self._name or "save") as scope:
            filename = array_ops.constant(self._filename or "model", name="Const")
            values = [variables[n].value() if hasattr(variables[n], "value") else variables[n] for n in names]
            if names and self._sharded:
                save_tensor = _sharded_save(filename, names, values)
            else:
                save = io_ops.save_v2(filename, names, [""] * len(names), values, name="SaveV2") if names else None
                with g.control_dependencies([save] if save is not None else []):
                    save_tensor = array_ops.identity(filename, name="control_dependency")
            assigns = []
            if names:
                restored = io_ops.restore_v2(filename, names, [""] * len(names),
                                             [v.dtype.base_dtype for v in values], name="RestoreV2",
                                             shapes=[v.get_shape() for v in values])
                for n, r in zip(names, restored):
                    assigns.append(state_ops.assign(variables[n], r, name="Assign"))
            restore = control_flow_ops.group(*assigns, name="restore_all")
        del scope
        self.saver_def = saver_pb2.SaverDef(
            filename_tensor_name=filename.name, save_tensor_name=save_tensor.name,
            restore_op_name=restore.name, max_to_keep=self._max_to_keep, sharded=self._sharded,
            keep_checkpoint_every_n_hours=self._keep_every_s / 3600.0, version=saver_pb2.SaverDef.V2)

    def as_saver_def(self):
        return self.saver_def

    def to_proto(self, export_scope: str | None = None):
        return self.saver_def

    @staticmethod
    def from_proto(saver_def: Any, import_scope: str | None = None) -> Saver:
        return Saver(saver_def=saver_def, name=import_scope)

    # -- checkpoints ----------------------------------------------------------------------------------
    @property
    def last_checkpoints(self) -> list[str]:
        """Prefixes of the checkpoints still kept, oldest first."""
        return [p for p, _ in self._last_checkpoints]

    def set_last_checkpoints(self, last_checkpoints: list[str]) -> None:
        self._last_checkpoints = [(p, time.time()) for p in last_checkpoints]

    def set_last_checkpoints_with_time(self, last_checkpoints_with_time: list) -> None:
        self._last_checkpoints = list(last_checkpoints_with_time)

    def recover_last_checkpoints(self, checkpoint_paths: list[str]) -> None:
        self.set_last_checkpoints([p for p in checkpoint_paths if ckpt.checkpoint_exists(p)])

    def save(self, sess: Any, save_path: str, global_step: Any = None, latest_filename: str | None = None,
             meta_graph_suffix: str = "meta", write_meta_graph: bool = True, write_state: bool = True,
             strip_default_attrs: bool = False, save_debug_info: bool = False) -> str:
        """Saves the variables to `save_path` (suffixed "-<global_step>"); returns the prefix."""
        if global_step is not None:
            step = global_step if isinstance(global_step, (int, np.integer)) else sess.run(global_step)
            prefix = f"{save_path}-{int(step):08d}" if self._pad_step_number else f"{save_path}-{int(step)}"
        else:
            prefix = save_path
        parent = os.path.dirname(os.path.abspath(prefix))
        if not os.path.isdir(parent):
            raise ValueError(f"Parent directory of {save_path} doesn't exist, can't save.")
        sd = self.saver_def
        g = sess.graph
        sess.run(g.get_tensor_by_name(sd.save_tensor_name), {g.get_tensor_by_name(sd.filename_tensor_name):
                                                             prefix})
        if write_meta_graph:
            from labflow.train.meta_graph import export_meta_graph
            export_meta_graph(prefix + "." + meta_graph_suffix, graph=g, saver_def=sd)
        if write_state:
            self._record(prefix)
            update_checkpoint_state(os.path.dirname(prefix) or ".", prefix, self.last_checkpoints,
                                    latest_filename, self._save_relative_paths,
                                    [t for _, t in self._last_checkpoints])
            self._delete_old()
        return prefix

    def _record(self, prefix: str) -> None:
        # TF's order: trim the list, write the state file naming only kept checkpoints, then delete.
        self._last_checkpoints = [(p, t) for p, t in self._last_checkpoints if p != prefix]
        self._last_checkpoints.append((prefix, time.time()))
        self._to_delete = []
        while self._max_to_keep and len(self._last_checkpoints) > self._max_to_keep:
            self._to_delete.append(self._last_checkpoints.pop(0))

    def _delete_old(self) -> None:
        for prefix, t in getattr(self, "_to_delete", []):
            if t > self._next_keep_time:  # keep_checkpoint_every_n_hours: this one is preserved
                self._next_keep_time += self._keep_every_s
                continue
            ckpt.delete_checkpoint(prefix)
        self._to_delete = []

    def restore(self, sess: Any, save_path: str) -> None:
        """Restores every variable of this Saver from checkpoint `save_path`.

        Raises:
            ValueError: `save_path` is None.
            NotFoundError: no checkpoint at `save_path`.
            DataLossError / InvalidArgumentError: truncated, corrupt or mismatched checkpoint (names
                the variable and the file).
        """
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        if not ckpt.checkpoint_exists(save_path):
            raise errors.NotFoundError(None, None, f"The passed save_path is not a valid checkpoint: {save_path}"
                                       f" (no {save_path}{ckpt.INDEX_SUFFIX}). Use tf.train.latest_checkpoint"
                                       "(folder) to find the newest one.")
        sd = self.saver_def
        g = sess.graph
        sess.run(g.get_operation_by_name(sd.restore_op_name), {g.get_tensor_by_name(sd.filename_tensor_name):
                                                               save_path})

    def export_meta_graph(self, filename: str | None = None, collection_list: list | None = None,
                          as_text: bool = False, export_scope: str | None = None, clear_devices: bool = False,
                          clear_extraneous_savers: bool = False, strip_default_attrs: bool = False,
                          save_debug_info: bool = False):
        from labflow.train.meta_graph import export_meta_graph
        return export_meta_graph(filename, graph=self._graph, saver_def=self.saver_def,
                                 collection_list=collection_list, as_text=as_text, clear_devices=clear_devices)


# -- checkpoint state ------------------------------------------------------------------------------
def _sharded_save(filename: Any, names: list[str], values: list) -> Any:
    """TF's sharded save graph for one device: SaveV2 to a temporary shard, then MergeV2Checkpoints into `filename`.

    The ops and names are TF's (Saver._AddShardedSaveOpsForV2), so a MetaGraphDef or SavedModel that labflow writes
    saves the way TF's does when TF runs it; the shard's folder "<prefix>_temp" is removed by the merge.
    """
    from labflow.ops import array_gather_ops, array_join_ops, array_ops, io_ops, saver_ops, string_ops
    from labflow.ops.string_regex_ops import regex_full_match
    g = filename.graph
    # On S3 TF writes the shard beside the prefix: a folder rename there is not atomic.
    suffix = array_gather_ops.where(regex_full_match(filename, "^s3://.*"), array_ops.constant(".part"),
                                    array_ops.constant("_temp/part"))
    tmp = string_ops.string_join([filename, suffix])
    shard = saver_ops.sharded_filename(tmp, array_ops.constant(0, name="ShardedFilename/shard"),
                                       array_ops.constant(1, name="num_shards"))
    save = io_ops.save_v2(shard, names, [""] * len(names), values, name="SaveV2")
    with g.control_dependencies([save]):
        written = array_ops.identity(shard, name="control_dependency")
    with g.control_dependencies([written]):
        prefixes = array_join_ops.stack([shard], name="MergeV2Checkpoints/checkpoint_prefixes")
    merge = saver_ops.merge_v2_checkpoints(prefixes, filename, delete_old_dirs=True)
    with g.control_dependencies([merge, written]):
        return array_ops.identity(filename, name="Identity")


def _state_path(checkpoint_dir: str, latest_filename: str | None) -> str:
    return os.path.join(checkpoint_dir, latest_filename or "checkpoint")


def update_checkpoint_state(save_dir: str, model_checkpoint_path: str,
                            all_model_checkpoint_paths: list[str] | None = None,
                            latest_filename: str | None = None, save_relative_paths: bool = False,
                            all_model_checkpoint_timestamps: list[float] | None = None) -> None:
    """Atomically rewrites the `checkpoint` file (CheckpointState text format, like TF's)."""
    from google.protobuf import text_format
    paths = list(all_model_checkpoint_paths or [])
    if model_checkpoint_path not in paths:
        paths.append(model_checkpoint_path)
    if save_relative_paths:
        rel = lambda p: os.path.relpath(p, save_dir) if os.path.isabs(p) else p  # noqa: E731
        model_checkpoint_path, paths = rel(model_checkpoint_path), [rel(p) for p in paths]
    st = checkpoint_state_pb2.CheckpointState(model_checkpoint_path=model_checkpoint_path,
                                              all_model_checkpoint_paths=paths)
    if all_model_checkpoint_timestamps:
        st.all_model_checkpoint_timestamps.extend(all_model_checkpoint_timestamps)
    ckpt.atomic_write(_state_path(save_dir, latest_filename), text_format.MessageToString(st).encode())


def get_checkpoint_state(checkpoint_dir: str, latest_filename: str | None = None):
    """The parsed `checkpoint` file of a folder (paths made absolute), or None when there is none."""
    from google.protobuf import text_format
    path = _state_path(checkpoint_dir, latest_filename)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            st = text_format.Parse(f.read(), checkpoint_state_pb2.CheckpointState())
    except text_format.ParseError as e:
        raise errors.DataLossError(None, None, f"Checkpoint state file {path} is corrupt: {e}") from None
    if not st.model_checkpoint_path:
        raise ValueError(f"Invalid checkpoint state loaded from {checkpoint_dir}")
    fix = lambda p: p if os.path.isabs(p) else os.path.join(checkpoint_dir, p)  # noqa: E731
    if not os.path.isabs(st.model_checkpoint_path) and not os.path.exists(
            st.model_checkpoint_path + ckpt.INDEX_SUFFIX):
        st.model_checkpoint_path = fix(st.model_checkpoint_path)
        paths = [fix(p) for p in st.all_model_checkpoint_paths]
        del st.all_model_checkpoint_paths[:]
        st.all_model_checkpoint_paths.extend(paths)
    return st


def latest_checkpoint(checkpoint_dir: str, latest_filename: str | None = None) -> str | None:
    """The prefix of the newest complete checkpoint in `checkpoint_dir`, or None."""
    st = get_checkpoint_state(checkpoint_dir, latest_filename)
    if st is not None and ckpt.checkpoint_exists(st.model_checkpoint_path):
        return st.model_checkpoint_path
    return None


def checkpoint_exists(checkpoint_prefix: str) -> bool:
    return ckpt.checkpoint_exists(checkpoint_prefix)


def _resolve(ckpt_dir_or_file: str) -> str:
    if os.path.isdir(ckpt_dir_or_file):
        p = latest_checkpoint(ckpt_dir_or_file)
        if p is None:
            raise errors.NotFoundError(None, None, f"No checkpoint found in {ckpt_dir_or_file}")
        return p
    return ckpt_dir_or_file


class NewCheckpointReader:
    """Reads a checkpoint without a graph (TF's `tf.train.NewCheckpointReader`)."""

    def __init__(self, filepattern: str):
        self._prefix = _resolve(filepattern)
        self._index = ckpt.read_index(self._prefix)["tensors"]

    def get_variable_to_shape_map(self) -> dict:
        return {k: v["shape"] for k, v in self._index.items()}

    def get_variable_to_dtype_map(self) -> dict:
        from labflow import dtypes
        return {k: dtypes.as_dtype(v["dtype"]) for k, v in self._index.items()}

    def has_tensor(self, name: str) -> bool:
        return name in self._index

    def get_tensor(self, name: str) -> np.ndarray:
        return ckpt.read_tensors(self._prefix, [name])[name]

    def debug_string(self) -> bytes:
        return "".join(f"{k} ({v['dtype']}) {v['shape']}\n" for k, v in sorted(self._index.items())).encode()


del GraphKeys
