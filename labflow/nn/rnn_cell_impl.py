"""`tf.nn.rnn_cell` (also `tf.contrib.rnn`): the TF 1.x recurrent cells and wrappers.

A cell is a `tf.layers.Layer` that maps (inputs, state) to (output, new_state) for one time step. Its
weights are made on the first call in the current variable scope, under the cell's own name, exactly
as TF 1.x names them (`rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel`, `.../bias`), so a TF
checkpoint's names match; every later call (the next time step) reuses them. Gate layouts are TF's:
an LSTM's kernel is [input_depth + h_depth, 4 * units] with the gates in the order i, j, f, o.

Wrappers (DropoutWrapper, ResidualWrapper, DeviceWrapper) add no variable scope of their own, as in TF.
"""

from __future__ import annotations

import collections
import numbers
from typing import Any

from labflow import dtypes as _dt
from labflow.framework import nest
from labflow.framework.graph import _graph_of, get_default_graph
from labflow.framework.graph import device as _device
from labflow.framework.tensor import Tensor
from labflow.layers.base import Layer
from labflow.ops import array_join_ops, array_ops, clip_ops, init_ops, matmul_ops, nn_ops, unary_ops
from labflow.ops.common import convert_to_tensor
from labflow.ops.variable_scope import variable_scope

__all__ = ["RNNCell", "LayerRNNCell", "BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell", "MultiRNNCell",
           "DropoutWrapper", "ResidualWrapper", "DeviceWrapper", "LSTMStateTuple"]


class LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
    """An LSTM's state: `c` the memory cell, `h` the output (TF's order: c first)."""

    __slots__ = ()

    @property
    def dtype(self) -> Any:
        c, h = self
        if c.dtype != h.dtype:
            raise TypeError(f"Inconsistent internal state: {c.dtype} vs {h.dtype}")
        return c.dtype


def _zeros(batch_size: Any, size: Any, dtype: Any) -> Tensor:
    dims = list(size) if isinstance(size, (list, tuple)) else [int(size)]
    if isinstance(batch_size, numbers.Integral):
        return array_ops.zeros([int(batch_size)] + dims, dtype=dtype)
    return array_ops.zeros(array_join_ops.stack([batch_size] + dims), dtype=dtype)


def _is_size(x: Any) -> bool:
    return isinstance(x, numbers.Integral) or (isinstance(x, (list, tuple)) and not hasattr(x, "_fields")
                                               and all(isinstance(d, numbers.Integral) for d in x))


def _map_sizes(fn: Any, sizes: Any) -> Any:
    """fn over every leaf size of a (nested) state size; a plain list of ints is one size (a shape)."""
    if _is_size(sizes):
        return fn(sizes)
    return nest.pack_sequence_as(sizes, [_map_sizes(fn, s) for s in (sizes if not isinstance(sizes, dict)
                                                                      else [sizes[k] for k in sorted(sizes)])])


class RNNCell(Layer):
    """The abstract cell: subclasses define `state_size`, `output_size` and `call(inputs, state)`."""

    def __call__(self, inputs: Any, state: Any, scope: Any = None) -> tuple:
        """One step: returns (output [batch, output_size], new_state shaped like `state_size`)."""
        if scope is not None:
            return super().__call__(inputs, state, scope=scope)
        return super().__call__(inputs, state)

    @property
    def state_size(self) -> Any:
        """The size(s) of the state: an int, a TensorShape-like list, or a nested tuple of them."""
        raise NotImplementedError(f"{type(self).__name__}.state_size")

    @property
    def output_size(self) -> Any:
        """The size of the output of one step."""
        raise NotImplementedError(f"{type(self).__name__}.output_size")

    def build(self, input_shape: Any) -> None:
        self.built = True

    def zero_state(self, batch_size: Any, dtype: Any) -> Any:
        """Zeros shaped like `state_size` for `batch_size` rows (an int or a scalar int Tensor)."""
        dtype = _dt.as_dtype(dtype)
        with get_default_graph().name_scope(type(self).__name__ + "ZeroState"):
            return _map_sizes(lambda s: _zeros(batch_size, s, dtype), self.state_size)

    add_variable = Layer.add_weight


class LayerRNNCell(RNNCell):
    """A cell whose weights are made in `build`, like TF's LayerRNNCell."""


def _input_depth(cell: RNNCell, inputs_shape: Any) -> int:
    dims = getattr(inputs_shape, "as_list", lambda: None)()
    if dims is None or not dims or dims[-1] is None:
        raise ValueError(f"{type(cell).__name__}: expected inputs.shape[-1] to be known, saw shape: "
                         f"{inputs_shape}. Give the inputs a static depth (e.g. a placeholder [None, depth]).")
    return int(dims[-1])


def _activation(activation: Any) -> Any:
    return unary_ops.tanh if activation is None else activation


def _linear(args: list, kernel: Any, bias: Any) -> Tensor:
    x = args[0] if len(args) == 1 else array_join_ops.concat(args, 1)
    return nn_ops.bias_add(matmul_ops.matmul(x, kernel), bias)


class BasicRNNCell(LayerRNNCell):
    """The plain RNN step: output = new_state = activation(W [inputs, state] + b)."""

    def __init__(self, num_units: int, activation: Any = None, reuse: Any = None, name: str | None = None,
                 dtype: Any = None, **kwargs: Any):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        self._num_units = int(num_units)
        self._activation = _activation(activation)

    state_size = property(lambda self: self._num_units, doc="The state is the output: num_units wide.")
    output_size = state_size

    def build(self, inputs_shape: Any) -> None:
        depth = _input_depth(self, inputs_shape)
        self._kernel = self.add_weight("kernel", [depth + self._num_units, self._num_units])
        self._bias = self.add_weight("bias", [self._num_units], initializer=init_ops.zeros_initializer())
        self.built = True

    def call(self, inputs: Any, state: Any) -> tuple:
        output = self._activation(_linear([inputs, state], self._kernel, self._bias))
        return output, output


class GRUCell(BasicRNNCell):
    """The gated recurrent unit (Cho et al. 2014), TF's variables `gates/*` and `candidate/*`."""

    def __init__(self, num_units: int, activation: Any = None, reuse: Any = None, kernel_initializer: Any = None,
                 bias_initializer: Any = None, name: str | None = None, dtype: Any = None, **kwargs: Any):
        super().__init__(num_units, activation, reuse=reuse, name=name, dtype=dtype, **kwargs)
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    def build(self, inputs_shape: Any) -> None:
        depth = _input_depth(self, inputs_shape) + self._num_units
        n = self._num_units
        self._gate_kernel = self.add_weight("gates/kernel", [depth, 2 * n], initializer=self._kernel_initializer)
        self._gate_bias = self.add_weight("gates/bias", [2 * n], initializer=self._bias_initializer
                                          or init_ops.constant_initializer(1.0))
        self._candidate_kernel = self.add_weight("candidate/kernel", [depth, n], initializer=self._kernel_initializer)
        self._candidate_bias = self.add_weight("candidate/bias", [n], initializer=self._bias_initializer
                                               or init_ops.zeros_initializer())
        self.built = True

    def call(self, inputs: Any, state: Any) -> tuple:
        value = unary_ops.sigmoid(_linear([inputs, state], self._gate_kernel, self._gate_bias))
        r, u = array_join_ops.split(value, 2, axis=1)
        c = self._activation(_linear([inputs, r * state], self._candidate_kernel, self._candidate_bias))
        new_h = u * state + (1 - u) * c
        return new_h, new_h


class BasicLSTMCell(LayerRNNCell):
    """The LSTM of Zaremba et al. 2014 (no peepholes, no projection): TF's `basic_lstm_cell`.

    new_c = c * sigmoid(f + forget_bias) + sigmoid(i) * tanh(j); new_h = tanh(new_c) * sigmoid(o).
    """

    def __init__(self, num_units: int, forget_bias: float = 1.0, state_is_tuple: bool = True, activation: Any = None,
                 reuse: Any = None, name: str | None = None, dtype: Any = None, **kwargs: Any):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        self._num_units = int(num_units)
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)

    @property
    def state_size(self) -> Any:
        n = self._num_units
        return LSTMStateTuple(n, n) if self._state_is_tuple else 2 * n

    @property
    def output_size(self) -> int:
        return self._num_units

    def build(self, inputs_shape: Any) -> None:
        depth = _input_depth(self, inputs_shape)
        n = self._num_units
        self._kernel = self.add_weight("kernel", [depth + n, 4 * n])
        self._bias = self.add_weight("bias", [4 * n], initializer=init_ops.zeros_initializer())
        self.built = True

    def call(self, inputs: Any, state: Any) -> tuple:
        c, h = _split_state(self, state, self._num_units, self._num_units)
        i, j, f, o = array_join_ops.split(_linear([inputs, h], self._kernel, self._bias), 4, axis=1)
        sigmoid = unary_ops.sigmoid
        forget = f + self._forget_bias if self._forget_bias else f
        new_c = c * sigmoid(forget) + sigmoid(i) * self._activation(j)
        new_h = self._activation(new_c) * sigmoid(o)
        new_state = LSTMStateTuple(new_c, new_h) if self._state_is_tuple else array_join_ops.concat([new_c, new_h], 1)
        return new_h, new_state


def _split_state(cell: Any, state: Any, c_size: int, h_size: int) -> tuple:
    if cell._state_is_tuple:
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise ValueError(f"{type(cell).__name__}: expected state to be an LSTMStateTuple (c, h), got {state!r}")
        return tuple(state)
    state = convert_to_tensor(state)
    c = array_ops.slice(state, [0, 0], [-1, c_size])
    return c, array_ops.slice(state, [0, c_size], [-1, h_size])


class LSTMCell(LayerRNNCell):
    """The LSTM with optional peepholes (Gers & Schmidhuber), cell clipping and an output projection
    (Sak et al. 2014): TF's `lstm_cell`, variables kernel, bias, w_f_diag/w_i_diag/w_o_diag,
    projection/kernel."""

    def __init__(self, num_units: int, use_peepholes: bool = False, cell_clip: float | None = None,
                 initializer: Any = None, num_proj: int | None = None, proj_clip: float | None = None,
                 num_unit_shards: int | None = None, num_proj_shards: int | None = None, forget_bias: float = 1.0,
                 state_is_tuple: bool = True, activation: Any = None, reuse: Any = None, name: str | None = None,
                 dtype: Any = None, **kwargs: Any):
        super().__init__(_reuse=reuse, name=name, dtype=dtype, **kwargs)
        if num_unit_shards is not None or num_proj_shards is not None:
            raise ValueError("LSTMCell: num_unit_shards and num_proj_shards (deprecated in TF 1.x) are not "
                             "supported; use a partitioner in the variable scope instead.")
        self._num_units = int(num_units)
        self._use_peepholes = use_peepholes
        self._cell_clip = cell_clip
        self._initializer = initializer
        self._num_proj = None if num_proj is None else int(num_proj)
        self._proj_clip = proj_clip
        self._forget_bias = forget_bias
        self._state_is_tuple = state_is_tuple
        self._activation = _activation(activation)

    @property
    def state_size(self) -> Any:
        m = self._num_proj or self._num_units
        return LSTMStateTuple(self._num_units, m) if self._state_is_tuple else self._num_units + m

    @property
    def output_size(self) -> int:
        return self._num_proj or self._num_units

    def build(self, inputs_shape: Any) -> None:
        depth = _input_depth(self, inputs_shape)
        n, m = self._num_units, self._num_proj or self._num_units
        init = self._initializer
        self._kernel = self.add_weight("kernel", [depth + m, 4 * n], initializer=init)
        self._bias = self.add_weight("bias", [4 * n], initializer=init_ops.zeros_initializer())
        if self._use_peepholes:
            self._w_f_diag = self.add_weight("w_f_diag", [n], initializer=init)
            self._w_i_diag = self.add_weight("w_i_diag", [n], initializer=init)
            self._w_o_diag = self.add_weight("w_o_diag", [n], initializer=init)
        if self._num_proj is not None:
            self._proj_kernel = self.add_weight("projection/kernel", [n, self._num_proj], initializer=init)
        self.built = True

    def call(self, inputs: Any, state: Any) -> tuple:
        sigmoid, act = unary_ops.sigmoid, self._activation
        c_prev, m_prev = _split_state(self, state, self._num_units, self._num_proj or self._num_units)
        i, j, f, o = array_join_ops.split(_linear([inputs, m_prev], self._kernel, self._bias), 4, axis=1)
        if self._use_peepholes:
            c = (sigmoid(f + self._forget_bias + self._w_f_diag * c_prev) * c_prev
                 + sigmoid(i + self._w_i_diag * c_prev) * act(j))
        else:
            c = sigmoid(f + self._forget_bias) * c_prev + sigmoid(i) * act(j)
        if self._cell_clip is not None:
            c = clip_ops.clip_by_value(c, -self._cell_clip, self._cell_clip)
        m = sigmoid(o + self._w_o_diag * c) * act(c) if self._use_peepholes else sigmoid(o) * act(c)
        if self._num_proj is not None:
            m = matmul_ops.matmul(m, self._proj_kernel)
            if self._proj_clip is not None:
                m = clip_ops.clip_by_value(m, -self._proj_clip, self._proj_clip)
        new_state = LSTMStateTuple(c, m) if self._state_is_tuple else array_join_ops.concat([c, m], 1)
        return m, new_state


class MultiRNNCell(RNNCell):
    """Cells stacked in layers: the output of cell i is the input of cell i + 1, each in scope `cell_i`."""

    def __init__(self, cells: list, state_is_tuple: bool = True):
        super().__init__()
        if not cells:
            raise ValueError("Must specify at least one cell for MultiRNNCell.")
        if not isinstance(cells, (list, tuple)):
            raise TypeError(f"cells must be a list or tuple, but saw: {cells!r}.")
        if len({id(c) for c in cells}) != len(cells):
            raise ValueError("MultiRNNCell got the same cell object more than once: each layer needs a cell of "
                             "its own (weights are per cell), e.g. [tf.nn.rnn_cell.BasicLSTMCell(n) for _ in "
                             "range(k)], not [cell] * k.")
        self._cells = list(cells)
        self._state_is_tuple = state_is_tuple
        if not state_is_tuple and any(nest.is_nested(c.state_size) for c in self._cells):
            raise ValueError("Some cells return tuples of states, but the flag state_is_tuple is not set. "
                             f"State sizes are: {[c.state_size for c in self._cells]}")

    @property
    def state_size(self) -> Any:
        if self._state_is_tuple:
            return tuple(c.state_size for c in self._cells)
        return sum(c.state_size for c in self._cells)

    @property
    def output_size(self) -> Any:
        return self._cells[-1].output_size

    def zero_state(self, batch_size: Any, dtype: Any) -> Any:
        with get_default_graph().name_scope(type(self).__name__ + "ZeroState"):
            if self._state_is_tuple:
                return tuple(c.zero_state(batch_size, dtype) for c in self._cells)
            return super().zero_state(batch_size, dtype)

    @property
    def trainable_weights(self) -> list:
        return [w for c in self._cells for w in c.trainable_weights]

    @property
    def non_trainable_weights(self) -> list:
        return [w for c in self._cells for w in c.non_trainable_weights]

    trainable_variables = trainable_weights

    def call(self, inputs: Any, state: Any) -> tuple:
        if self._state_is_tuple and (not nest.is_nested(state) or len(state) != len(self._cells)):
            raise ValueError(f"Expected state to be a tuple of length {len(self._cells)}, but received: {state!r}")
        cur, new_states, pos = inputs, [], 0
        for i, cell in enumerate(self._cells):
            with variable_scope(f"cell_{i}"):
                if self._state_is_tuple:
                    cur_state = state[i]
                else:
                    cur_state = array_ops.slice(state, [0, pos], [-1, cell.state_size])
                    pos += cell.state_size
                cur, new_state = cell(cur, cur_state)
                new_states.append(new_state)
        return cur, (tuple(new_states) if self._state_is_tuple else array_join_ops.concat(new_states, 1))


class _Wrapper(RNNCell):
    """A cell around another cell: no variable scope of its own (TF's wrappers add none)."""

    def __init__(self, cell: Any):
        super().__init__()
        if not callable(cell) or not hasattr(cell, "state_size"):
            raise TypeError(f"The parameter cell is not a RNNCell: {cell!r}")
        self._cell = cell

    @property
    def wrapped_cell(self) -> Any:
        return self._cell

    @property
    def state_size(self) -> Any:
        return self._cell.state_size

    @property
    def output_size(self) -> Any:
        return self._cell.output_size

    @property
    def trainable_weights(self) -> list:
        return self._cell.trainable_weights

    trainable_variables = trainable_weights

    def zero_state(self, batch_size: Any, dtype: Any) -> Any:
        with get_default_graph().name_scope(type(self).__name__ + "ZeroState"):
            return self._cell.zero_state(batch_size, dtype)

    def __call__(self, inputs: Any, state: Any, scope: Any = None) -> tuple:
        return self._step(inputs, state, scope)

    def _step(self, inputs: Any, state: Any, scope: Any) -> tuple:
        return self._cell(inputs, state, scope=scope)


def _check_keep_prob(name: str, v: Any) -> Any:
    if isinstance(v, numbers.Real) and not 0 < float(v) <= 1:
        raise ValueError(f"Parameter {name} must be between 0 and 1: {v}")
    return v


class DropoutWrapper(_Wrapper):
    """Dropout on a cell's inputs, outputs and (new) state, with TF 1.x's arguments.

    Keep probabilities are floats or scalar Tensors (a placeholder fed 1.0 at evaluation); a float 1.0
    adds no ops. The state's dropout skips an LSTM's memory cell `c` (TF's default state filter). With
    `variational_recurrent` one mask per structure element is drawn per run and used at every time step,
    the same for every row of the batch, as TF does (Gal & Ghahramani 2016).
    """

    def __init__(self, cell: Any, input_keep_prob: Any = 1.0, output_keep_prob: Any = 1.0,
                 state_keep_prob: Any = 1.0, variational_recurrent: bool = False, input_size: Any = None,
                 dtype: Any = None, seed: int | None = None, dropout_state_filter_visitor: Any = None):
        super().__init__(cell)
        self._input_keep_prob = _check_keep_prob("input_keep_prob", input_keep_prob)
        self._output_keep_prob = _check_keep_prob("output_keep_prob", output_keep_prob)
        self._state_keep_prob = _check_keep_prob("state_keep_prob", state_keep_prob)
        self._variational = variational_recurrent
        self._seed = seed
        self._filter = dropout_state_filter_visitor or _default_state_filter
        self._masks: dict[tuple, Tensor] = {}

    @staticmethod
    def _active(keep: Any) -> bool:
        return not (isinstance(keep, numbers.Real) and float(keep) == 1.0)

    def _dropout(self, values: Any, keep: Any, kind: str, flags: list | None = None) -> Any:
        flat = nest.flatten(values)
        out = []
        for i, (v, use) in enumerate(zip(flat, flags or [True] * len(flat))):
            if not use:
                out.append(v)
            elif not self._variational:
                seed = None if self._seed is None else self._seed + i
                out.append(nn_ops.dropout(v, keep_prob=keep, seed=seed))
            else:
                out.append(self._variational_dropout(v, keep, (kind, i)))
        return nest.pack_sequence_as(values, out)

    def _variational_dropout(self, v: Tensor, keep: Any, key: tuple) -> Tensor:
        from labflow.ops import random_ops
        mask = self._masks.get(key)
        if mask is None:
            depth = v.get_shape().as_list()[-1]
            if depth is None:
                raise ValueError("DropoutWrapper(variational_recurrent=True) needs each value's last dimension to "
                                 f"be known; got {v.get_shape()}")
            g = _graph_of(v)
            with g.name_scope("variational_dropout"):
                keep_t = convert_to_tensor(keep, dtype=v.dtype.base_dtype)
                noise = random_ops.random_uniform([1, depth], seed=self._seed, dtype=v.dtype.base_dtype)
                mask = self._masks[key] = unary_ops.floor(keep_t + noise) / keep_t
        return v * mask

    def _step(self, inputs: Any, state: Any, scope: Any) -> tuple:
        if self._active(self._input_keep_prob):
            inputs = self._dropout(inputs, self._input_keep_prob, "input")
        output, new_state = self._cell(inputs, state, scope=scope)
        if self._active(self._state_keep_prob):
            new_state = self._dropout(new_state, self._state_keep_prob, "state", _filter_flags(self._filter, new_state))
        if self._active(self._output_keep_prob):
            output = self._dropout(output, self._output_keep_prob, "output")
        return output, new_state


def _default_state_filter(substate: Any) -> Any:
    """TF's default: dropout on every part of the state except an LSTM's memory cell c."""
    if isinstance(substate, LSTMStateTuple):
        return LSTMStateTuple(c=False, h=True)
    return True


def _filter_flags(visitor: Any, state: Any) -> list:
    """One flag per leaf of `state`: the visitor is asked top-down, as TF's state filter is; True on a
    structure asks again for each part, False skips the whole part, a structure of bools decides per part."""
    def children(x: Any) -> list:
        return [x[k] for k in sorted(x)] if isinstance(x, dict) else list(x)

    verdict = visitor(state)
    if isinstance(verdict, bool):
        if not verdict:
            return [False] * len(nest.flatten(state))
        if not nest.is_nested(state):
            return [True]
        return [f for part in children(state) for f in _filter_flags(visitor, part)]
    if not nest.is_nested(verdict) or not nest.is_nested(state) or len(children(verdict)) != len(children(state)):
        raise TypeError("dropout_state_filter_visitor must return a bool or, for a structure, one entry per part "
                        f"of it; got {verdict!r} for {state!r}")
    return [f for part, v in zip(children(state), children(verdict))
            for f in (_filter_flags(visitor, part) if v else [False] * len(nest.flatten(part)))]


class ResidualWrapper(_Wrapper):
    """output = residual_fn(inputs, cell output), by default inputs + output (shapes must match)."""

    def __init__(self, cell: Any, residual_fn: Any = None):
        super().__init__(cell)
        self._residual_fn = residual_fn

    def _step(self, inputs: Any, state: Any, scope: Any) -> tuple:
        output, new_state = self._cell(inputs, state, scope=scope)
        if self._residual_fn is not None:
            return self._residual_fn(inputs, output), new_state
        nest.assert_same_structure(inputs, output)
        return nest.map_structure(lambda i, o: i + o, inputs, output), new_state


class DeviceWrapper(_Wrapper):
    """Runs the wrapped cell's ops (and its zero state) on `device`: one way to write model parallelism."""

    def __init__(self, cell: Any, device: str):
        super().__init__(cell)
        self._device_name = device

    def zero_state(self, batch_size: Any, dtype: Any) -> Any:
        with _device(self._device_name):
            return super().zero_state(batch_size, dtype)

    def _step(self, inputs: Any, state: Any, scope: Any) -> tuple:
        with _device(self._device_name):
            return self._cell(inputs, state, scope=scope)
