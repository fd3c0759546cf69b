"""`tf.train.warm_start` and `tf.train.VocabInfo`: initialize a new model's variables from an old checkpoint.

Variables without a vocabulary get init_from_checkpoint's restoring initializers. A variable with a VocabInfo
is remapped row by row (axis 0) or column by column (axis 1): each token of the new vocabulary takes the
old slice of the same token; new tokens and OOV buckets take `backup_initializer` (zeros by default). The
vocabulary files are read when warm_start is called (TF reads them in the initializer); the checkpoint
tensor is read when the initializer runs, and the remap is a gather with a host-computed index.
"""

from __future__ import annotations

import collections
import logging
import re
from typing import Any

import numpy as np

from labflow.framework.graph import GraphKeys, get_default_graph

__all__ = ["VocabInfo", "warm_start"]

_log = logging.getLogger("labflow")


class VocabInfo(collections.namedtuple("VocabInfo", ["new_vocab", "new_vocab_size", "num_oov_buckets", "old_vocab",
                                                     "old_vocab_size", "backup_initializer", "axis"])):
    """How a vocabulary-backed variable is warm-started (TF 1.x `tf.train.VocabInfo`).

    Attributes:
        new_vocab: the current vocabulary file (one token a line).
        new_vocab_size: how many of its first tokens the variable has slices for.
        num_oov_buckets: OOV slices after the vocabulary (initialized by backup_initializer).
        old_vocab: the vocabulary file of the checkpoint's tensor.
        old_vocab_size: how many of its first tokens to use (-1: all).
        backup_initializer: the initializer of slices without an old counterpart (None: zeros).
        axis: 0 when the vocabulary indexes rows, 1 when it indexes columns.
    """

    def __new__(cls, new_vocab: str, new_vocab_size: int, num_oov_buckets: int, old_vocab: str,
                old_vocab_size: int = -1, backup_initializer: Any = None, axis: int = 0):
        if axis not in (0, 1):
            raise ValueError(f"The only supported values for the axis argument are 0 and 1.  Provided axis: {axis}")
        return super().__new__(cls, new_vocab, new_vocab_size, num_oov_buckets, old_vocab, old_vocab_size,
                               backup_initializer, axis)


def _is_variable(v: Any) -> bool:
    from labflow.train.checkpoint_utils import _is_variable as is_var
    return is_var(v)


def _grouped_variables(vars_to_warm_start: Any) -> dict[str, list]:
    """{variable name (without ':0' or '/part_i'): its variables}, chosen as TF chooses them."""
    g = get_default_graph()
    if isinstance(vars_to_warm_start, str) or vars_to_warm_start is None:
        found = g.get_collection(GraphKeys.TRAINABLE_VARIABLES, scope=vars_to_warm_start)
    elif isinstance(vars_to_warm_start, list):
        if all(isinstance(v, str) for v in vars_to_warm_start):
            found = [x for v in vars_to_warm_start for x in g.get_collection(GraphKeys.GLOBAL_VARIABLES, scope=v)]
        elif all(_is_variable(v) for v in vars_to_warm_start):
            found = list(vars_to_warm_start)
        else:
            raise ValueError("If `vars_to_warm_start` is a list, it must be all `Variable` or all `str`.  Given "
                             f"types are {[type(v).__name__ for v in vars_to_warm_start]}")
    else:
        raise ValueError("`vars_to_warm_start must be a `list` or `str`.  Given type is "
                         f"{type(vars_to_warm_start).__name__}")
    grouped: dict[str, list] = {}
    for v in found:
        name = re.sub(r"/part_\d+$", "", v.op.name)
        grouped.setdefault(name, []).append(v)
    return grouped


def _read_vocab(path: str, size: int) -> list[bytes]:
    from labflow import errors
    try:
        with open(path, "rb") as f:
            tokens = [line.rstrip(b"\r\n") for line in f]
    except FileNotFoundError:
        raise errors.NotFoundError(None, None, f"{path}; No such file or directory (a warm_start vocabulary)") \
            from None
    if size is not None and size >= 0:
        if size > len(tokens):
            raise ValueError(f"Vocabulary {path} has {len(tokens)} entries, fewer than the {size} asked for")
        tokens = tokens[:size]
    return tokens


def _warm_start_with_vocab(var: Any, ckpt: str, prev_name: str, info: VocabInfo) -> None:
    from labflow.ops import array_gather_ops, array_ops, io_ops, state_ops
    from labflow.ops.array_seq_ops import where_v2
    from labflow.ops.common import convert_to_tensor
    from labflow.train.checkpoint_utils import _get_checkpoint_filename, load_checkpoint
    if isinstance(var, (list, tuple)):
        if len(var) != 1:
            raise NotImplementedError(f"warm_start: vocabulary remapping of the partitioned variable "
                                      f"{var[0].op.name} is not supported by labflow; use an unpartitioned variable")
        var = var[0]
    if not (info.new_vocab and info.new_vocab_size and info.old_vocab):
        raise ValueError("Invalid args: Must provide all of [current_vocab_path, current_vocab_size, prev_ckpt, "
                         "prev_vocab_path}.")
    shape = var.get_shape().as_list()
    axis = info.axis
    if len(shape) not in (1, 2) or (axis == 1 and len(shape) != 2) or any(d is None for d in shape):
        raise ValueError(f"warm_start: vocabulary variable {var.op.name} must be 1-D (axis 0) or 2-D with a static "
                         f"shape, got {shape}")
    want = info.new_vocab_size + info.num_oov_buckets
    if shape[axis] != want:
        raise ValueError(f"warm_start: variable {var.op.name} has {shape[axis]} slices along axis {axis}, but its "
                         f"VocabInfo gives new_vocab_size + num_oov_buckets = {want}")
    old_shape = load_checkpoint(ckpt).get_variable_to_shape_map().get(prev_name)
    if old_shape is None:
        raise ValueError(f"Tensor {prev_name} is not found in {ckpt} checkpoint")
    old_index = {t: i for i, t in enumerate(_read_vocab(info.old_vocab, info.old_vocab_size))}
    idx = np.array([old_index.get(t, -1) for t in _read_vocab(info.new_vocab, info.new_vocab_size)]
                   + [-1] * info.num_oov_buckets, dtype=np.int64)
    if idx.size and int(idx.max()) >= old_shape[axis]:
        raise ValueError(f"warm_start: old vocabulary {info.old_vocab} is longer than tensor {prev_name}'s axis "
                         f"{axis} ({old_shape[axis]})")
    other = [d for i, d in enumerate(shape) if i != axis]
    if [d for i, d in enumerate(old_shape) if i != axis] != other:
        raise ValueError(f"warm_start: tensor {prev_name} of shape {old_shape} does not match variable "
                         f"{var.op.name} of shape {shape} outside the vocabulary axis")
    g = var.graph
    base = var.dtype.base_dtype
    init = info.backup_initializer
    with g.as_default(), g.control_dependencies(None), g.device("/cpu:0"):
        old = io_ops.restore_v2(_get_checkpoint_filename(ckpt), [prev_name], [""], [base],
                                name="warm_start_vocab_restore", shapes=[old_shape])[0]
        taken = array_gather_ops.gather(old, array_ops.constant(np.maximum(idx, 0)), axis=axis)
        mask_shape = [-1] + [1] * (len(shape) - 1) if axis == 0 else [1, -1]
        found = array_ops.constant((idx >= 0).reshape(mask_shape))
        backup = (array_ops.zeros(shape, base) if init is None
                  else convert_to_tensor(init(shape, dtype=base), dtype=base))
        value = where_v2(found, taken, backup)
    with g.as_default(), g.control_dependencies(None), g.name_scope(var.op.name + "/"):
        var._initializer_op = state_ops.assign(var, value, name="Assign").op
    var._initial_value = value


def warm_start(ckpt_to_initialize_from: str, vars_to_warm_start: Any = ".*", var_name_to_vocab_info: Any = None,
               var_name_to_prev_var_name: Any = None) -> None:
    """Makes the chosen variables' initializers load from a checkpoint (TF 1.x `tf.train.warm_start`).

    Call it after building the model and before `tf.global_variables_initializer()`.

    Args:
        ckpt_to_initialize_from: a checkpoint file prefix or a directory with a checkpoint.
        vars_to_warm_start: a regex over TRAINABLE_VARIABLES names (default: all of them); a list of regexes over
            GLOBAL_VARIABLES (e.g. optimizer slots); a list of Variables; or None: only the trainable variables
            named in var_name_to_vocab_info.
        var_name_to_vocab_info: {variable name: VocabInfo} for vocabulary-backed variables.
        var_name_to_prev_var_name: {variable name: its name in the checkpoint} for renamed variables.

    Raises:
        ValueError: a name in var_name_to_vocab_info / var_name_to_prev_var_name matched no chosen variable, a
            tensor missing from the checkpoint, or mismatched shapes.
    """
    from labflow.train.checkpoint_utils import init_from_checkpoint
    _log.info("Warm-starting from: %s", ckpt_to_initialize_from)
    grouped = _grouped_variables(vars_to_warm_start)
    vocab_infos = dict(var_name_to_vocab_info or {})
    prev_names = dict(var_name_to_prev_var_name or {})
    prev_used, vocab_used = set(), set()
    vocabless: dict[str, Any] = {}
    count = 0
    for name, variables in grouped.items():
        prev = prev_names.get(name)
        if prev:
            prev_used.add(name)
        info = vocab_infos.get(name)
        if info:
            vocab_used.add(name)
            count += 1
            _warm_start_with_vocab(variables, ckpt_to_initialize_from, prev or name, info)
        elif vars_to_warm_start:
            count += 1
            var = variables[0] if len(variables) == 1 else variables
            key = prev or name
            if key in vocabless:  # one tensor warm-starting two variables: flush the map first, as TF does
                init_from_checkpoint(ckpt_to_initialize_from, vocabless)
                vocabless.clear()
            vocabless[key] = var
    if vocabless:
        init_from_checkpoint(ckpt_to_initialize_from, vocabless)
    _log.info("Warm-started %d variables.", count)
    for given, used, what in ((prev_names, prev_used, "var_name_to_prev_var_name"),
                              (vocab_infos, vocab_used, "var_name_to_vocab_info")):
        unused = set(given) - used
        if unused:
            raise ValueError(f"You provided the following variables in {what} that were not used: {unused}.  "
                             f"Perhaps you misspelled them?  Here is the list of viable variable names: "
                             f"{list(grouped)}")

