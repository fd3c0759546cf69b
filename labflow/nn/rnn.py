"""Running a cell over a sequence: `tf.nn.static_rnn` and `tf.nn.dynamic_rnn` (TF 1.x signatures).

Both unroll the cell in the graph, one step per time step, in variable scope "rnn" (the variables are
TF's: `rnn/basic_lstm_cell/kernel` from either function, so checkpoints are interchangeable with TF's).
dynamic_rnn unrolls the same way when the number of time steps is in the inputs' static shape (the
fastest form: every step's ops are in one plan, fused across steps); when it is not (a placeholder
[batch, None, depth]), it runs the cell in a `tf.while_loop` over TensorArrays, as TF does. The results
are TF's: with `sequence_length`, outputs past a row's length are zeros and its final state is the
state at its last step.
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
    dims = first._shape_dims
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
    dims = seq._shape_dims
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


def _step_inputs(inputs: Any) -> list:
    """static_rnn's `inputs` (a non-empty list of per-step tensors or nested structures), as tensors."""
    if not isinstance(inputs, (list, tuple)):
        raise TypeError("inputs must be a sequence (a Python list of per-step tensors)")
    if not inputs:
        raise ValueError("inputs must not be empty")
    return [nest.map_structure(convert_to_tensor, x) for x in inputs]


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
    inputs = _step_inputs(inputs)
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
            of such tensors (an unknown time dimension runs a while_loop; see the module docstring).
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
        ValueError: inputs of rank < 3 or different lengths, or as `static_rnn`.
    """
    del parallel_iterations, swap_memory
    _check_cell(cell)
    flat = [convert_to_tensor(x) for x in nest.flatten(inputs)]
    axis = 0 if time_major else 1
    steps = set()
    for x in flat:
        dims = x._shape_dims
        if dims is None or len(dims) < 3:
            raise ValueError(f"dynamic_rnn inputs must be at least rank 3 ([batch, time, depth]), saw shape "
                             f"{x.get_shape()}")
        steps.add(dims[axis])
    if len(steps) > 1 and None not in steps:
        raise ValueError(f"dynamic_rnn inputs disagree on the number of time steps: {sorted(steps)}")
    steps = steps.pop() if len(steps) == 1 else None
    if steps is None:
        return _while_rnn(cell, inputs, flat, axis, sequence_length, initial_state, dtype, scope)
    with _graph_of(*flat).as_default(), variable_scope(scope or "rnn") as varscope:
        per_input = [array_join_ops.unstack(x, num=steps, axis=axis) for x in flat]
        step_inputs = [nest.pack_sequence_as(inputs, [p[t] for p in per_input]) for t in range(steps)]
        batch = _batch_size(per_input[0][0])
        state = _initial_state(cell, batch, initial_state, dtype)
        outputs, state = _unroll(cell, step_inputs, state, _sequence_length(sequence_length), varscope)
        return nest.map_structure(lambda *ys: array_join_ops.stack(list(ys), axis=axis), *outputs), state


def _while_rnn(cell: Any, inputs: Any, flat: list, axis: int, sequence_length: Any, initial_state: Any,
               dtype: Any, scope: Any) -> tuple:
    """dynamic_rnn over a time dimension known only at run time: a while_loop over the time steps, inputs
    read from and outputs written to TensorArrays (as TF's dynamic_rnn)."""
    from labflow.framework.shapes import TensorShape
    from labflow.ops import array_reshape_ops
    from labflow.ops.cond_while import while_loop
    from labflow.ops.tensor_array_ops import TensorArray
    g = _graph_of(*flat)
    with g.as_default(), variable_scope(scope or "rnn"):
        time_major = [x if axis == 0 else array_reshape_ops.transpose(
            x, [1, 0] + list(range(2, len(x._shape_dims)))) for x in flat]
        first = time_major[0]
        n_steps = array_ops.shape(first)[0]
        batch_dims = first._shape_dims[1]
        batch = batch_dims if batch_dims is not None else array_ops.shape(first)[1]
        state = _initial_state(cell, batch, initial_state, dtype)
        seq = _sequence_length(sequence_length)
        out_dtype = nest.flatten(state)[0].dtype.base_dtype
        in_arrays = [TensorArray(x.dtype, size=n_steps, element_shape=list(x._shape_dims[1:])).unstack(x)
                     for x in time_major]
        out_arrays = [TensorArray(out_dtype, size=n_steps, element_shape=[batch_dims, int(n)])
                      for n in nest.flatten(cell.output_size)]

        def body(t: Any, st: Any, outs: list) -> tuple:
            step = nest.pack_sequence_as(inputs, [a.read(t) for a in in_arrays])
            output, new_state = cell(step, st)
            if seq is not None:
                done = compare_ops.greater_equal(t, seq)
                output = nest.map_structure(lambda o: array_gather_ops.where(done, array_ops.zeros_like(o), o),
                                            output)
                new_state = nest.map_structure(lambda old, new: array_gather_ops.where(done, old, new), st,
                                               new_state)
            return t + 1, new_state, [a.write(t, o) for a, o in zip(outs, nest.flatten(output))]

        invariants = (TensorShape([]), nest.map_structure(lambda s: TensorShape(s.get_shape().as_list()), state),
                      [TensorShape([]) for _ in out_arrays])
        _, state, outs = while_loop(lambda t, st, outs: t < n_steps, body,
                                    (array_ops.constant(0), state, out_arrays), shape_invariants=invariants,
                                    name="while")
        stacked = [a.stack() for a in outs]
        if axis == 1:
            stacked = [array_reshape_ops.transpose(a, [1, 0, 2]) for a in stacked]
        return nest.pack_sequence_as(cell.output_size, stacked), state
