"""Bidirectional RNNs: `tf.nn.bidirectional_dynamic_rnn` and `tf.nn.static_bidirectional_rnn` (TF 1.x).

The backward cell reads each row's valid steps in reverse (the first `sequence_length[b]` steps of row b
are reversed, the padding stays in place, as TF's reverse_sequence), and its outputs are reversed back so
both directions line up in time. Variables are TF's: `bidirectional_rnn/fw/<cell>/...` and
`bidirectional_rnn/bw/<cell>/...`.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework import nest
from labflow.framework.tensor import Tensor
from labflow.nn.rnn import _check_cell, _step_inputs, dynamic_rnn, static_rnn
from labflow.ops import (
    array_gather_ops,
    array_join_ops,
    array_ops,
    array_reshape_ops,
    array_slice_ops,
    compare_ops,
    math_ops,
)
from labflow.ops.common import convert_to_tensor
from labflow.ops.variable_scope import variable_scope

__all__ = ["bidirectional_dynamic_rnn", "static_bidirectional_rnn"]


def _reverse_sequence(x: Tensor, lengths: Tensor | None, time_axis: int) -> Tensor:
    """Reverses the first lengths[b] steps of each row b along `time_axis` (0 or 1; the batch is the other).

    One gather over the flattened [time, batch] (or [batch, time]) leading dims, so the gradient is the
    gather's."""
    if lengths is None:
        return array_reshape_ops.reverse(x, [time_axis])
    shape = array_ops.shape(x)
    steps, batch = shape[time_axis], shape[1 - time_axis]
    t = array_ops.reshape(array_reshape_ops.range(steps), [-1, 1])
    n = array_ops.reshape(compare_ops.cast(lengths, _dt.int32), [1, -1])
    src = array_gather_ops.where(compare_ops.less(array_ops.zeros_like(n) + t, n),
                                 math_ops.subtract(math_ops.subtract(n, 1), t),
                                 math_ops.add(t, array_ops.zeros_like(n)))  # [time, batch]
    b = array_ops.reshape(array_reshape_ops.range(batch), [1, -1])
    if time_axis == 0:
        flat_idx = math_ops.add(math_ops.multiply(src, batch), b)
    else:
        flat_idx = array_reshape_ops.transpose(math_ops.add(math_ops.multiply(b, steps), src), [1, 0])
    rest = array_slice_ops.slice(shape, [2], [-1])
    flat = array_ops.reshape(x, array_join_ops.concat([[-1], rest], 0))
    out = array_ops.reshape(array_gather_ops.gather(flat, array_ops.reshape(flat_idx, [-1])), shape)
    out.set_shape(x.get_shape())
    return out


def _lengths(sequence_length: Any) -> Tensor | None:
    if sequence_length is None:
        return None
    return compare_ops.cast(convert_to_tensor(sequence_length, name="sequence_length"), _dt.int32)


def bidirectional_dynamic_rnn(cell_fw: Any, cell_bw: Any, inputs: Any, sequence_length: Any = None,
                              initial_state_fw: Any = None, initial_state_bw: Any = None, dtype: Any = None,
                              parallel_iterations: int | None = None, swap_memory: bool = False,
                              time_major: bool = False, scope: Any = None) -> tuple:
    """A forward and a backward `dynamic_rnn` over the same inputs (TF 1.x `tf.nn.bidirectional_dynamic_rnn`).

    Args:
        cell_fw: the RNNCell of the forward direction.
        cell_bw: the RNNCell of the backward direction.
        inputs: [batch, time, depth] (or [time, batch, depth] with `time_major`), or a nested structure.
        sequence_length: an int vector [batch]: each row's number of valid steps (the backward direction
            starts at a row's last valid step, not at the padding).
        initial_state_fw: the forward initial state (default: zeros of `dtype`).
        initial_state_bw: the backward initial state.
        dtype: the states' dtype when no initial states are given.
        parallel_iterations, swap_memory: passed to `dynamic_rnn` (accepted for TF compatibility).
        time_major: whether time is the first axis of the inputs and outputs.
        scope: the variable scope (default "bidirectional_rnn").

    Returns:
        ((output_fw, output_bw), (output_state_fw, output_state_bw)): both outputs are aligned in time
        ([batch, time, units] each); concatenate them with `tf.concat(outputs, 2)`.

    Raises:
        TypeError: a cell is not an RNNCell.
    """
    _check_cell(cell_fw)
    _check_cell(cell_bw)
    time_axis = 0 if time_major else 1
    with variable_scope(scope or "bidirectional_rnn"):
        with variable_scope("fw") as fw_scope:
            output_fw, state_fw = dynamic_rnn(cell_fw, inputs, sequence_length=sequence_length,
                                              initial_state=initial_state_fw, dtype=dtype,
                                              parallel_iterations=parallel_iterations, swap_memory=swap_memory,
                                              time_major=time_major, scope=fw_scope)
        with variable_scope("bw") as bw_scope:
            lengths = _lengths(sequence_length)
            reversed_inputs = nest.map_structure(
                lambda x: _reverse_sequence(convert_to_tensor(x), lengths, time_axis), inputs)
            tmp, state_bw = dynamic_rnn(cell_bw, reversed_inputs, sequence_length=sequence_length,
                                        initial_state=initial_state_bw, dtype=dtype,
                                        parallel_iterations=parallel_iterations, swap_memory=swap_memory,
                                        time_major=time_major, scope=bw_scope)
    output_bw = nest.map_structure(lambda y: _reverse_sequence(y, lengths, time_axis), tmp)
    return (output_fw, output_bw), (state_fw, state_bw)


def _reverse_steps(steps: list, lengths: Tensor | None) -> list:
    """A list of per-step (nested) tensors, reversed per row as `_reverse_sequence` (TF's _reverse_seq)."""
    if lengths is None:
        return list(reversed(steps))
    flat = [nest.flatten(s) for s in steps]
    columns = []
    for seq in zip(*flat):
        joined = array_join_ops.stack(list(seq))
        out = array_join_ops.unstack(_reverse_sequence(joined, lengths, 0), num=len(seq))
        for o, i in zip(out, seq):
            o.set_shape(i.get_shape())
        columns.append(out)
    return [nest.pack_sequence_as(steps[t], [c[t] for c in columns]) for t in range(len(steps))]


def static_bidirectional_rnn(cell_fw: Any, cell_bw: Any, inputs: list, initial_state_fw: Any = None,
                             initial_state_bw: Any = None, dtype: Any = None, sequence_length: Any = None,
                             scope: Any = None) -> tuple:
    """A forward and a backward `static_rnn` over a list of steps (TF 1.x `tf.nn.static_bidirectional_rnn`).

    Args:
        cell_fw: the RNNCell of the forward direction.
        cell_bw: the RNNCell of the backward direction.
        inputs: a list of T tensors [batch, depth] (or nested structures of them).
        initial_state_fw: the forward initial state (default: zeros of `dtype`).
        initial_state_bw: the backward initial state.
        dtype: the states' dtype when no initial states are given.
        sequence_length: an int vector [batch] of valid lengths.
        scope: the variable scope (default "bidirectional_rnn").

    Returns:
        (outputs, output_state_fw, output_state_bw): outputs is a list of T tensors, each the forward and
        backward outputs of that step concatenated on axis 1.

    Raises:
        TypeError: a cell is not an RNNCell, or `inputs` is not a list.
        ValueError: `inputs` is empty.
    """
    _check_cell(cell_fw)
    _check_cell(cell_bw)
    inputs = _step_inputs(inputs)
    with variable_scope(scope or "bidirectional_rnn"):
        with variable_scope("fw") as fw_scope:
            output_fw, state_fw = static_rnn(cell_fw, inputs, initial_state_fw, dtype, sequence_length,
                                             scope=fw_scope)
        with variable_scope("bw") as bw_scope:
            lengths = _lengths(sequence_length)
            tmp, state_bw = static_rnn(cell_bw, _reverse_steps(inputs, lengths), initial_state_bw, dtype,
                                       sequence_length, scope=bw_scope)
    output_bw = _reverse_steps(tmp, lengths)
    outputs = [nest.pack_sequence_as(fw, [array_join_ops.concat([a, b], 1)
                                          for a, b in zip(nest.flatten(fw), nest.flatten(bw))])
               for fw, bw in zip(output_fw, output_bw)]
    return outputs, state_fw, state_bw
