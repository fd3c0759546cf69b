"""Checkpoint utilities of `tf.train` (TF 1.x checkpoint_utils.py and checkpoint_management.py):
reading checkpoints without a graph, warm-starting variables from one, waiting for new ones, managing
their files; and `basic_train_loop`, `match_filenames_once`.
"""

from __future__ import annotations

import glob
import os
import time
from typing import Any, Callable, Iterator

import numpy as np

from labflow import errors
from labflow.framework.graph import GraphKeys, get_default_graph
from labflow.framework.protos import checkpoint_state_pb2
from labflow.train import checkpoint_format as ckpt
from labflow.train.saver import NewCheckpointReader, latest_checkpoint

__all__ = ["load_checkpoint", "list_variables", "load_variable", "init_from_checkpoint", "checkpoints_iterator",
           "get_checkpoint_mtimes", "remove_checkpoint", "generate_checkpoint_state_proto", "basic_train_loop",
           "match_filenames_once", "CheckpointReader"]

CheckpointReader = NewCheckpointReader


def _get_checkpoint_filename(ckpt_dir_or_file: str) -> str | None:
    if os.path.isdir(ckpt_dir_or_file):
        return latest_checkpoint(ckpt_dir_or_file)
    return ckpt_dir_or_file


def load_checkpoint(ckpt_dir_or_file: str) -> CheckpointReader:
    """A CheckpointReader (get_tensor, has_tensor, get_variable_to_shape_map, get_variable_to_dtype_map)
    for a checkpoint prefix, or for the newest checkpoint of a folder.

    Raises:
        ValueError: a folder without a `checkpoint` state file naming an existing checkpoint.
        NotFoundError: no checkpoint at the given prefix.
    """
    filename = _get_checkpoint_filename(ckpt_dir_or_file)
    if filename is None:
        raise ValueError(f"Couldn't find 'checkpoint' file or checkpoints in given directory {ckpt_dir_or_file}")
    if not ckpt.checkpoint_exists(filename):
        raise errors.NotFoundError(None, None, "Unsuccessful TensorSliceReader constructor: Failed to find any "
                                   f"matching files for {filename} (no {filename}{ckpt.INDEX_SUFFIX}). Pass a "
                                   "checkpoint prefix such as 'model.ckpt-1000' or its folder.")
    return CheckpointReader(filename)


def list_variables(ckpt_dir_or_file: str) -> list[tuple[str, list[int]]]:
    """(name, shape) of every tensor in the checkpoint, sorted by name."""
    shapes = load_checkpoint(ckpt_dir_or_file).get_variable_to_shape_map()
    return [(name, shapes[name]) for name in sorted(shapes)]


def load_variable(ckpt_dir_or_file: str, name: str) -> np.ndarray:
    """The saved value of tensor `name` (a trailing ":0" is ignored).

    Raises:
        NotFoundError: the checkpoint has no tensor `name`.
    """
    if name.endswith(":0"):
        name = name[:-2]
    return load_checkpoint(ckpt_dir_or_file).get_tensor(name)


# -- init_from_checkpoint -----------------------------------------------------------------------------------
def _is_variable(x: Any) -> bool:
    from labflow.ops.variables import Variable
    return isinstance(x, Variable)


def _store_vars() -> dict:
    from labflow.ops import variable_scope
    return variable_scope._store()._vars


def _collect_partitioned_variable(name: str, all_vars: dict) -> list | None:
    if name + "/part_0" in all_vars:
        parts = []
        i = 0
        while name + f"/part_{i}" in all_vars:
            parts.append(all_vars[name + f"/part_{i}"])
            i += 1
        return parts
    return None


def _set_checkpoint_initializer(variable: Any, ckpt_file: str, tensor_name: str) -> None:
    """Makes `variable`'s initializer restore `tensor_name` from `ckpt_file` (a RestoreV2 on the CPU)."""
    from labflow.ops import io_ops, state_ops
    g = variable.graph
    base_type = variable.dtype.base_dtype
    # Not colocated with the variable: RestoreV2 runs on the CPU, and colocation would pull the variable
    # there too. The initializer runs once, so its placement does not matter.
    with g.as_default(), g.control_dependencies(None), g.device(variable.device), g.device("/cpu:0"):
        restore = io_ops.restore_v2(ckpt_file, [tensor_name], [""], [base_type], name="checkpoint_initializer",
                                    shapes=[variable.get_shape()])[0]
    with g.as_default(), g.control_dependencies(None), g.name_scope(variable.op.name + "/"):
        init_op = state_ops.assign(variable, restore, name="Assign")
    variable._initializer_op = init_op.op
    variable._initial_value = restore


def _set_variable_or_list_initializer(var: Any, ckpt_file: str, tensor_name: str) -> None:
    if isinstance(var, (list, tuple)):
        raise ValueError(f"Variable {','.join(v.name for v in var)} is partitioned: initializing partitioned "
                         "variables from a checkpoint needs sliced checkpoints, which labflow does not write. "
                         "Map each part ('scope/var/part_0') to its own tensor instead.")
    _set_checkpoint_initializer(var, ckpt_file, tensor_name)


def init_from_checkpoint(ckpt_dir_or_file: str, assignment_map: Any) -> None:
    """Replaces variables' initializers so they load from a checkpoint (TF 1.x `tf.train.init_from_checkpoint`).

    Call it before building `tf.global_variables_initializer()`. `assignment_map` maps checkpoint names to
    current ones: `{"old/w": "new/w"}` or `{"old/w": variable}` for one variable; `{"old_scope/":
    "new_scope/"}` for every variable of a scope (made by `tf.get_variable`); `{"/": "new_scope/"}` and
    `{"old_scope/": "/"}` map the checkpoint's root or the current root.

    Raises:
        ValueError: a tensor missing from the checkpoint, a shape mismatch, or a scope mapped to a name.
    """
    ckpt_file = _get_checkpoint_filename(ckpt_dir_or_file)
    reader = load_checkpoint(ckpt_dir_or_file)
    variable_map = reader.get_variable_to_shape_map()
    items = assignment_map.items() if isinstance(assignment_map, dict) else assignment_map
    store_vars = _store_vars()
    for tensor_name_in_ckpt, current in sorted(items, key=lambda x: x[0]):
        if _is_variable(current) or (isinstance(current, list) and all(_is_variable(v) for v in current)):
            var = current
        else:
            var = store_vars.get(current) or _collect_partitioned_variable(current, store_vars)
        if var is not None:
            if tensor_name_in_ckpt not in variable_map:
                raise ValueError(f"Tensor {tensor_name_in_ckpt} is not found in {ckpt_dir_or_file} checkpoint "
                                 f"{variable_map}")
            if _is_variable(var) and not var.get_shape().is_compatible_with(variable_map[tensor_name_in_ckpt]):
                raise ValueError(f"Shape of variable {var.name} ({var.get_shape()}) doesn't match with shape of "
                                 f"tensor {tensor_name_in_ckpt} ({variable_map[tensor_name_in_ckpt]}) from "
                                 "checkpoint reader.")
            _set_variable_or_list_initializer(var, ckpt_file, tensor_name_in_ckpt)
            continue
        scopes = current[:current.rindex("/")] if "/" in current else ""
        if not tensor_name_in_ckpt.endswith("/"):
            raise ValueError(f"Assignment map with scope only name {scopes} should map to scope only "
                             f"{tensor_name_in_ckpt}. Should be 'scope/': 'other_scope/'.")
        scope_variables = set()
        for var_name in store_vars:
            if not scopes or var_name.startswith(scopes + "/"):
                if "/part_" in var_name:
                    var_name = var_name[:var_name.index("/part_")]
                scope_variables.add(var_name)
        for var_name in sorted(scope_variables):
            full_tensor_name = var_name[len(scopes):]
            if current != "/":
                full_tensor_name = full_tensor_name[1:]
            if tensor_name_in_ckpt != "/":
                full_tensor_name = tensor_name_in_ckpt + full_tensor_name
            if full_tensor_name.endswith("/"):
                full_tensor_name = full_tensor_name[:-1]
            if full_tensor_name not in variable_map:
                raise ValueError(f"Tensor {full_tensor_name} ({var_name[len(scopes) + 1:]} in "
                                 f"{tensor_name_in_ckpt}) is not found in {ckpt_dir_or_file} checkpoint")
            var = store_vars.get(var_name) or _collect_partitioned_variable(var_name, store_vars)
            _set_variable_or_list_initializer(var, ckpt_file, full_tensor_name)


# -- waiting for checkpoints ---------------------------------------------------------------------------------
def wait_for_new_checkpoint(checkpoint_dir: str, last_checkpoint: str | None = None, seconds_to_sleep: float = 1,
                            timeout: float | None = None) -> str | None:
    """The newest checkpoint of `checkpoint_dir` once it differs from `last_checkpoint`; None on timeout."""
    stop_time = time.time() + timeout if timeout is not None else None
    while True:
        path = latest_checkpoint(checkpoint_dir)
        if path is None or path == last_checkpoint:
            if stop_time is not None and time.time() + seconds_to_sleep > stop_time:
                return None
            time.sleep(seconds_to_sleep)
        else:
            return path


def checkpoints_iterator(checkpoint_dir: str, min_interval_secs: float = 0, timeout: float | None = None,
                         timeout_fn: Callable[[], bool] | None = None) -> Iterator[str]:
    """Yields each new checkpoint of `checkpoint_dir` as it appears (an evaluation loop's driver).

    Args:
        checkpoint_dir: the folder a trainer saves into.
        min_interval_secs: at least this many seconds between two yields (measured from the earlier one).
        timeout: stop after waiting this many seconds without a new checkpoint (None: wait forever).
        timeout_fn: on a timeout, stop if it returns True, else keep waiting.
    """
    checkpoint_path = None
    while True:
        new_path = wait_for_new_checkpoint(checkpoint_dir, checkpoint_path, timeout=timeout)
        if new_path is None:
            if not timeout_fn or timeout_fn():
                return
            continue
        start = time.time()
        checkpoint_path = new_path
        yield checkpoint_path
        time_to_next = start + min_interval_secs - time.time()
        if time_to_next > 0:
            time.sleep(time_to_next)


# -- checkpoint files ----------------------------------------------------------------------------------------
def get_checkpoint_mtimes(checkpoint_prefixes: list[str]) -> list[float]:
    """The modification times (seconds) of the checkpoints with these prefixes; missing ones are skipped."""
    mtimes = []
    for prefix in checkpoint_prefixes:
        for path in (prefix + ckpt.INDEX_SUFFIX, prefix):  # the index file; else a V1 single file
            matches = sorted(glob.glob(path))
            if matches and os.path.isfile(matches[0]):
                mtimes.append(os.stat(matches[0]).st_mtime_ns / 1e9)
                break
    return mtimes


def remove_checkpoint(checkpoint_prefix: str, checkpoint_format_version: int = 2,
                      meta_graph_suffix: str = "meta") -> None:
    """Deletes a checkpoint's files: the meta graph, the index and the data shards (V2), or the file (V1)."""
    paths = [f"{checkpoint_prefix}.{meta_graph_suffix}"]
    if checkpoint_format_version == 2:
        paths += [checkpoint_prefix + ckpt.INDEX_SUFFIX] + glob.glob(glob.escape(checkpoint_prefix)
                                                                    + ".data-?????-of-?????")
    else:
        paths.append(checkpoint_prefix)
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


def generate_checkpoint_state_proto(save_dir: str, model_checkpoint_path: str,
                                    all_model_checkpoint_paths: list[str] | None = None,
                                    all_model_checkpoint_timestamps: list[float] | None = None,
                                    last_preserved_timestamp: float | None = None) -> Any:
    """A CheckpointState proto; relative paths are made relative to a relative `save_dir`, as TF does.

    Raises:
        ValueError: timestamps given that do not match the paths one to one.
    """
    paths = list(all_model_checkpoint_paths or [])
    if not paths or paths[-1] != model_checkpoint_path:
        paths.append(model_checkpoint_path)
    if all_model_checkpoint_timestamps and len(all_model_checkpoint_timestamps) != len(paths):
        raise ValueError(f"Checkpoint timestamps, if provided, must match checkpoint paths (got paths {paths} and "
                         f"timestamps {all_model_checkpoint_timestamps})")
    if not os.path.isabs(save_dir):
        if not os.path.isabs(model_checkpoint_path):
            model_checkpoint_path = os.path.relpath(model_checkpoint_path, save_dir)
        paths = [p if os.path.isabs(p) else os.path.relpath(p, save_dir) for p in paths]
    st = checkpoint_state_pb2.CheckpointState(model_checkpoint_path=model_checkpoint_path,
                                              all_model_checkpoint_paths=paths,
                                              all_model_checkpoint_timestamps=all_model_checkpoint_timestamps or [])
    if last_preserved_timestamp is not None:
        st.last_preserved_timestamp = last_preserved_timestamp
    return st


# -- loops and file lists -----------------------------------------------------------------------------------
def basic_train_loop(supervisor: Any, train_step_fn: Callable, args: Any = None, kwargs: dict | None = None,
                     master: str = "") -> None:
    """Runs `train_step_fn(sess, *args, **kwargs)` in `supervisor.managed_session(master)` until the
    supervisor says stop; an AbortedError (a restarted server) starts a fresh session and goes on."""
    args = [] if args is None else args
    kwargs = {} if kwargs is None else kwargs
    should_retry = True
    while should_retry:
        try:
            should_retry = False
            with supervisor.managed_session(master) as sess:
                while not supervisor.should_stop():
                    train_step_fn(sess, *args, **kwargs)
        except errors.AbortedError:
            should_retry = True


def match_filenames_once(pattern: Any, name: str | None = None) -> Any:
    """A local variable holding the file names matching `pattern` (a glob, or a list of them), computed
    once when local variables are initialized (`tf.local_variables_initializer()`)."""
    from labflow.ops.io_extra_ops import matching_files
    from labflow.ops.variables import Variable
    g = get_default_graph()
    with g.name_scope(name or "matching_filenames") as scope:
        return Variable(matching_files(pattern), name=scope, trainable=False, validate_shape=False,
                        collections=[GraphKeys.LOCAL_VARIABLES])
