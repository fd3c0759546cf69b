"""tf.nn.raw_rnn: an RNN whose inputs, stopping and emitted outputs come from a user loop function.

TF's protocol: `loop_fn(time, cell_output, cell_state, loop_state)` returns `(finished, next_input,
next_cell_state, emit_output, next_loop_state)`; it is called once with time 0 and `cell_output=None`
for the initial values, then after every cell step. The loop is a labflow while_loop carrying TensorArrays
of the emitted outputs; rows that have finished keep their state and emit zeros, as in TF.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labflow import dtypes as _dt
from labflow.framework import nest
from labflow.framework.shapes import Dimension, TensorShape
from labflow.framework.tensor import Tensor
from labflow.ops import array_gather_ops, array_ops, compare_ops, reduction_ops
from labflow.ops.common import convert_to_tensor
from labflow.ops.variable_scope import variable_scope

__all__ = ["raw_rnn"]


def raw_rnn(cell: Any, loop_fn: Callable, parallel_iterations: int | None = None, swap_memory: bool = False,
            scope: Any = None) -> tuple[Any, Any, Any]:
    """Runs `cell` in a while loop driven by `loop_fn` (TF 1.x `tf.nn.raw_rnn`).

    Args:
        cell: an RNNCell.
        loop_fn: `loop_fn(time, cell_output, cell_state, loop_state) -> (finished, next_input, next_cell_state,
            emit_output, next_loop_state)`. At time 0 (`cell_output` None) it gives the initial state (instead
            of a next state), the emit structure (None: the cell's output_size) and the initial loop state.
            `finished` is a bool [batch] vector; the loop ends when every row has finished.
        parallel_iterations, swap_memory: accepted for TF compatibility.
        scope: the variable scope (default "rnn").

    Returns:
        (emit_ta, final_state, final_loop_state): TensorArrays (in the emit structure) of the emitted outputs per
        time step, the last cell state, and the last loop state (None when loop_fn's initial one was None).

    Raises:
        TypeError: cell is not an RNNCell or loop_fn is not callable.
    """
    from labflow.ops.cond_while import while_loop
    from labflow.ops.tensor_array_ops import TensorArray
    if not callable(cell) or not hasattr(cell, "state_size") or not hasattr(cell, "output_size"):
        raise TypeError(f"cell must be an instance of RNNCell, saw: {cell!r}")
    if not callable(loop_fn):
        raise TypeError("loop_fn must be a callable")
    parallel_iterations = parallel_iterations or 32
    with variable_scope(scope or "rnn"):
        time = array_ops.constant(0, dtype=_dt.int32)
        finished, next_input, initial_state, emit_structure, init_loop_state = loop_fn(
            time=time, cell_output=None, cell_state=None, loop_state=None)
        flat_input = [convert_to_tensor(x) for x in nest.flatten(next_input)]
        next_input = nest.pack_sequence_as(next_input, flat_input)
        loop_state = init_loop_state if init_loop_state is not None else array_ops.constant(0, dtype=_dt.int32)
        static_batch = Dimension(None)
        for x in flat_input:
            shape = x.get_shape()
            if shape.ndims is not None and shape.ndims >= 1:
                static_batch = static_batch.merge_with(shape[0])
        batch = static_batch.value if static_batch.value is not None else array_ops.shape(flat_input[0])[0]
        nest.assert_same_structure(initial_state, cell.state_size)
        flat_state = [convert_to_tensor(s) for s in nest.flatten(initial_state)]
        state = nest.pack_sequence_as(initial_state, flat_state)

        if emit_structure is not None:
            flat_emit = [convert_to_tensor(e) for e in nest.flatten(emit_structure)]
            flat_size = [e.get_shape() if e.get_shape().is_fully_defined() else array_ops.shape(e) for e in flat_emit]
            flat_dtypes = [e.dtype.base_dtype for e in flat_emit]
        else:
            emit_structure = cell.output_size
            flat_size = [TensorShape(s) for s in nest.flatten(emit_structure)]
            flat_dtypes = [flat_state[0].dtype.base_dtype] * len(flat_size)

        def element_shape(size: Any) -> TensorShape:
            tail = size if isinstance(size, TensorShape) else TensorShape(None)
            return TensorShape([static_batch.value]).concatenate(tail)

        emit_ta = nest.pack_sequence_as(emit_structure, [
            TensorArray(dt, size=0, dynamic_size=True, element_shape=element_shape(sz), name=f"rnn_output_{i}")
            for i, (sz, dt) in enumerate(zip(flat_size, flat_dtypes))])
        zero_emit = nest.pack_sequence_as(emit_structure, [
            array_ops.zeros(_concat(batch, sz), dt) for sz, dt in zip(flat_size, flat_dtypes)])

        def condition(unused_time: Any, elements_finished: Any, *_: Any) -> Tensor:
            return compare_ops.logical_not(reduction_ops.reduce_all(elements_finished))

        def body(time: Any, elements_finished: Any, current_input: Any, emit_ta: Any, state: Any,
                 loop_state: Any) -> tuple:
            next_output, cell_state = cell(current_input, state)
            nest.assert_same_structure(state, cell_state)
            nest.assert_same_structure(cell.output_size, next_output)
            next_time = time + 1
            next_finished, next_input, next_state, emit_output, next_loop_state = loop_fn(
                next_time, next_output, cell_state, loop_state)
            nest.assert_same_structure(state, next_state)
            nest.assert_same_structure(current_input, next_input)
            nest.assert_same_structure(emit_ta, emit_output)
            loop_state = loop_state if next_loop_state is None else next_loop_state

            def copy_some_through(current: Any, candidate: Any) -> Any:
                def copy(cur: Any, cand: Any) -> Any:
                    if isinstance(cur, TensorArray) or cur.get_shape().ndims == 0:
                        return cand  # TensorArrays and scalars pass through, as TF's
                    return array_gather_ops.where(elements_finished, cur, cand)
                return nest.map_structure(copy, current, candidate)

            emit_output = copy_some_through(zero_emit, emit_output)
            next_state = copy_some_through(state, next_state)
            emit_ta = nest.map_structure(lambda ta, emit: ta.write(time, emit), emit_ta, emit_output)
            elements_finished = compare_ops.logical_or(elements_finished, next_finished)
            return next_time, elements_finished, next_input, emit_ta, next_state, loop_state

        returned = while_loop(condition, body, [time, convert_to_tensor(finished, dtype=_dt.bool), next_input,
                                                emit_ta, state, loop_state],
                              parallel_iterations=parallel_iterations, swap_memory=swap_memory)
        emit_ta, final_state, final_loop_state = returned[-3:]
        if init_loop_state is None:
            final_loop_state = None
        return emit_ta, final_state, final_loop_state


def _concat(batch: Any, size: Any) -> Any:
    """[batch] + size as a shape for zeros (a list when both are static, else a tensor)."""
    from labflow.ops.array_join_ops import concat
    if isinstance(size, TensorShape):
        if isinstance(batch, int) and size.is_fully_defined():
            return [batch] + size.as_list()
        size = array_ops.constant(size.as_list(), dtype=_dt.int32)
    b = array_ops.reshape(convert_to_tensor(batch, dtype=_dt.int32), [1])
    return concat([b, convert_to_tensor(size, dtype=_dt.int32)], 0)
