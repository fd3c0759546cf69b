"""Running a cell over a sequence: `tf.nn.static_rnn` and `tf.nn.dynamic_rnn` (TF 1.x signatures).

Both unroll the cell in the graph, one step per time step, in variable scope "rnn" (the variables are
TF's: `rnn/basic_lstm_cell/kernel` from either function, so checkpoints are interchangeable with TF's).
TF's dynamic_rnn builds a while_loop instead; labflow has no while_loop yet, so dynamic_rnn needs the
number of time steps in the inputs' static shape (a placeholder [batch, 35, depth], not [batch, None,
depth]) and says so otherwise. The results are TF's: with `sequence_length`, outputs past a row's length
are zeros and its final state is the state at its last step.
"""

from __future__ import annotations

from typing import Any

from labflow.framework import nest
from labflow.framework.graph import _graph_of
from labflow.framework.tensor import Tensor
from labflow.ops import array_gather_ops, array_join_ops, array_ops, compare_ops
from labflow.ops.common import convert_to_tensor
from labflow.ops.variable_scope import variable_scope

__all__ = ["static_rnn", "dynamic_rnn"]


def _check_cell(cell: Any) -> None:
    if not callable(cell) or not hasattr(cell, "state_size") or not hasattr(cell, "output_size"):
        raise TypeError(f"cell must be an instance of RNNCell (with state_size and output_size), saw: {cell!r}")


def _batch_size(first: Tensor) -> Any:
    dims = first.get_shape().as_list()
    if dims is None or len(dims) < 2:
        raise ValueError(f"RNN inputs must be at least rank 2 ([batch, depth] per time step), saw shape "
                         f"{first.get_shape()}")
    if dims[-1] is None:
        raise ValueError("Input size (depth of inputs) must be accessible via shape inference, but saw value None.")
    return dims[0] if dims[0] is not None else array_ops.shape(first)[0]


def _initial_state(cell: Any, batch: Any, initial_state: Any, dtype: Any) -> Any:
    if initial_state is not None:
        return initial_state
    if dtype is None:
        raise ValueError("If no initial_state is provided, dtype must be specified")
    return cell.zero_state(batch, dtype)


def _sequence_length(sequence_length: Any) -> Tensor | None:
    if sequence_length is None:
        return None
    seq = compare_ops.cast(convert_to_tensor(sequence_length), "int32")
    dims = seq.get_shape().as_list()
    if dims is not None and len(dims) != 1:
        raise ValueError(f"sequence_length must be a vector of length batch_size, but saw shape: {seq.get_shape()}")
    return array_ops.identity(seq, name="sequence_length")


def _unroll(cell: Any, steps: list, state: Any, seq: Tensor | None, varscope: Any) -> tuple:
    """The cell over `steps` (flat lists of per-step inputs); past a row's length the output is zero and
    the state is carried (TF's _rnn_step, computed for every row and selected, instead of a cond)."""
    outputs = []
    zero_output = None
    for t, step in enumerate(steps):
        if t > 0:
            varscope.reuse_variables()
        output, new_state = cell(step, state)
        if seq is not None:
            done = compare_ops.greater_equal(t, seq)
            if zero_output is None:
                zero_output = nest.map_structure(array_ops.zeros_like, output)
            output = nest.map_structure(lambda z, o, d=done: array_gather_ops.where(d, z, o), zero_output, output)
            new_state = nest.map_structure(lambda old, new, d=done: array_gather_ops.where(d, old, new), state,
                                           new_state)
        state = new_state
        outputs.append(output)
    return outputs, state


def static_rnn(cell: Any, inputs: list, initial_state: Any = None, dtype: Any = None, sequence_length: Any = None,
               scope: Any = None) -> tuple:
    """Runs `cell` over a Python list of per-step inputs (TF 1.x `tf.nn.static_rnn`).

    Args:
        cell: an RNNCell (e.g. `tf.nn.rnn_cell.BasicLSTMCell(200)`).
        inputs: a list of T tensors [batch, depth] (or nested structures of them).
        initial_state: the state to start from; defaults to `cell.zero_state(batch, dtype)`.
        dtype: the state's dtype when no initial_state is given.
        sequence_length: an int vector [batch]: rows stop at their length (zero outputs, state carried).
        scope: the variable scope (default "rnn").

    Returns:
        (outputs, state): the list of T outputs and the final state.

    Raises:
        TypeError: `cell` is not a cell or `inputs` not a list.
        ValueError: empty inputs, unknown input depth, no dtype and no initial_state.
    """
    _check_cell(cell)
    if not isinstance(inputs, (list, tuple)):
        raise TypeError("inputs must be a sequence (a Python list of per-step tensors)")
    if not inputs:
        raise ValueError("inputs must not be empty")
    inputs = [nest.map_structure(convert_to_tensor, x) for x in inputs]
    with variable_scope(scope or "rnn") as varscope:
        batch = _batch_size(nest.flatten(inputs[0])[0])
        state = _initial_state(cell, batch, initial_state, dtype)
        return _unroll(cell, list(inputs), state, _sequence_length(sequence_length), varscope)


def dynamic_rnn(cell: Any, inputs: Any, sequence_length: Any = None, initial_state: Any = None, dtype: Any = None,
                parallel_iterations: int | None = None, swap_memory: bool = False, time_major: bool = False,
                scope: Any = None) -> tuple:
    """Runs `cell` over the time axis of `inputs` (TF 1.x `tf.nn.dynamic_rnn`), unrolled in the graph.

    Args:
        cell: an RNNCell.
        inputs: [batch, time, depth] (or [time, batch, depth] with `time_major`), or a nested structure
            of such tensors; the time dimension must be known statically (see the module docstring).
        sequence_length: an int vector [batch] of valid lengths.
        initial_state: the state to start from; defaults to `cell.zero_state(batch, dtype)`.
        dtype: the state's dtype when no initial_state is given.
        parallel_iterations, swap_memory: accepted for TF compatibility (an unrolled graph runs each step's
            ops as soon as their inputs are ready; there is no loop to bound).
        time_major: whether time is the first axis of `inputs` and of the outputs.
        scope: the variable scope (default "rnn").

    Returns:
        (outputs, state): outputs [batch, time, output_size] (time-major when `time_major`), the final state.

    Raises:
        ValueError: the number of time steps is not static, or as `static_rnn`.
    """
    del parallel_iterations, swap_memory
    _check_cell(cell)
    flat = [convert_to_tensor(x) for x in nest.flatten(inputs)]
    axis = 0 if time_major else 1
    steps = None
    for x in flat:
        dims = x.get_shape().as_list()
        if dims is None or len(dims) < 3:
            raise ValueError(f"dynamic_rnn inputs must be at least rank 3 ([batch, time, depth]), saw shape "
                             f"{x.get_shape()}")
        steps = dims[axis] if steps is None else steps
        if dims[axis] is None or dims[axis] != steps:
            raise ValueError(
                f"dynamic_rnn in labflow unrolls the cell over a static number of time steps, and input "
                f"'{x.name}' has shape {x.get_shape()} (time axis {axis}). Give the time dimension a fixed "
                "size (e.g. tf.placeholder(tf.float32, [None, num_steps, depth])), pad batches to a fixed length "
                "and pass sequence_length, or build the steps with tf.nn.static_rnn.")
    with _graph_of(*flat).as_default(), variable_scope(scope or "rnn") as varscope:
        per_input = [array_join_ops.unstack(x, num=steps, axis=axis) for x in flat]
        step_inputs = [nest.pack_sequence_as(inputs, [p[t] for p in per_input]) for t in range(steps)]
        batch = _batch_size(per_input[0][0])
        state = _initial_state(cell, batch, initial_state, dtype)
        outputs, state = _unroll(cell, step_inputs, state, _sequence_length(sequence_length), varscope)
        return nest.map_structure(lambda *ys: array_join_ops.stack(list(ys), axis=axis), *outputs), state
