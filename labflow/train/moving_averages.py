"""`tf.train.ExponentialMovingAverage` and `assign_moving_average` (TF 1.x's moving_averages.py).

A shadow variable of `W` is the slot `W/ExponentialMovingAverage` (the EMA's name), colocated with `W`
and initialized to W's initial value, so checkpoints and `variables_to_restore()` look like TF's.
Shadows of plain tensors (a loss, say) start at zero and may be zero-debiased (Adam-style), which adds
the variables `<shadow>/biased` and `<shadow>/local_step`.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.convert import convert_to_tensor
from labflow.framework.graph import GraphKeys, get_default_graph
from labflow.framework.tensor import Operation, Tensor
from labflow.ops.variables import Variable

__all__ = ["ExponentialMovingAverage", "assign_moving_average"]

_FLOAT_DTYPES = (_dt.bfloat16, _dt.float16, _dt.float32, _dt.float64)
_VARIABLE_OP_TYPES = ("Variable", "VariableV2", "VarHandleOp")


def assign_moving_average(variable: Variable, value: Any, decay: Any, zero_debias: bool = True,
                          name: str | None = None) -> Tensor:
    """variable -= (1 - decay) * (variable - value), in place (an AssignSub op).

    Args:
        variable: the Variable holding the average.
        value: a tensor of the variable's shape: the new observation.
        decay: a float or scalar tensor; close to 1 for slow averages (0.999, 0.9999).
        zero_debias: divide out the bias towards the average's zero start (Adam's correction); keeps
            the variables `<variable>/biased` and `<variable>/local_step`. Use it for averages that
            start at zero.
        name: name scope of the ops (default "AssignMovingAvg").

    Returns:
        The updated variable (the AssignSub's ref output).
    """
    from labflow.ops import math_ops, state_ops
    g = variable.graph
    with g.as_default(), g.name_scope(name or "AssignMovingAvg") as scope:
        with g.colocate_with(variable.op):
            decay = convert_to_tensor(1.0 - convert_to_tensor(decay), name="decay")
            if decay.dtype.base_dtype != variable.dtype.base_dtype:
                decay = math_ops.cast(decay, variable.dtype.base_dtype)
            value = convert_to_tensor(value)
            if zero_debias:
                update_delta = _zero_debias(variable, value, decay)
            else:
                update_delta = (variable - value) * decay
            return state_ops.assign_sub(variable, update_delta, name=scope)


def _zero_debias(unbiased_var: Variable, value: Tensor, decay: Tensor) -> Tensor:
    """The delta that moves `unbiased_var` to the debiased average `biased / (1 - decay^t)`.

    `decay` here is `1 - decay` (what assign_moving_average computes), as in TF.
    """
    from labflow.ops import init_ops, math_ops, state_ops, variable_scope
    g = unbiased_var.graph
    with variable_scope.variable_scope(unbiased_var.op.name, values=[unbiased_var, value, decay]) as scope:
        with g.colocate_with(unbiased_var.op):
            with g.control_dependencies(None):  # TF's init_scope: the state starts outside any deps
                biased_initializer = init_ops.zeros_initializer(dtype=unbiased_var.dtype.base_dtype)
                local_step_initializer = init_ops.zeros_initializer()

            def unique(name: str) -> str:
                # A second average of the same variable gets biased_1 / local_step_1, as in TF.
                if variable_scope.get_variable_scope().reuse:
                    return name
                taken = {v.op.name for v in variable_scope.get_variable_scope().global_variables()}
                full = variable_scope.get_variable_scope().name + "/" + name
                if full not in taken:
                    return name
                idx = 1
                while f"{full}_{idx}" in taken:
                    idx += 1
                return f"{name}_{idx}"

            with g.control_dependencies(None):
                biased_var = variable_scope.get_variable(unique("biased"), shape=unbiased_var.get_shape(),
                                                         initializer=biased_initializer, trainable=False,
                                                         dtype=unbiased_var.dtype.base_dtype)
                local_step = variable_scope.get_variable(unique("local_step"), shape=[],
                                                         dtype=unbiased_var.dtype.base_dtype,
                                                         initializer=local_step_initializer, trainable=False)
            update_biased = state_ops.assign_sub(biased_var, (biased_var - value) * decay, name=scope.name)
            update_local_step = local_step.assign_add(1)
            # Read the biased average and the step after their updates.
            with g.control_dependencies([update_biased.op, update_local_step.op]):
                return unbiased_var - biased_var.read_value() / (
                    1 - math_ops.pow(1.0 - decay, local_step.read_value()))


class ExponentialMovingAverage:
    """Keeps exponential moving averages of variables and tensors (TF 1.x API).

    `apply(var_list)` creates one shadow variable per entry and returns an op that updates them all:
    `shadow = decay * shadow + (1 - decay) * value`. With `num_updates`, the decay used is
    `min(decay, (1 + num_updates) / (10 + num_updates))` (faster averaging early in training).

    The CIFAR-10 pattern::

        ema = tf.train.ExponentialMovingAverage(0.9999, global_step)
        with tf.control_dependencies([apply_gradient_op]):
            train_op = ema.apply(tf.trainable_variables())
        saver = tf.train.Saver(ema.variables_to_restore())   # evaluation: restore the averages
    """

    def __init__(self, decay: Any, num_updates: Any = None, zero_debias: bool = False,
                 name: str = "ExponentialMovingAverage"):
        """Creates the object; no ops yet.

        Args:
            decay: the decay (a float or scalar tensor).
            num_updates: an optional count of updates (usually the global step) that caps the decay.
            zero_debias: zero-debias the averages of tensors (never of variables, whose shadows start at
                the variable's initial value), as TF does.
            name: the shadow variables' suffix and the name scope of the update ops.
        """
        self._decay = decay
        self._num_updates = num_updates
        self._zero_debias = zero_debias
        self._name = name
        self._averages: dict = {}

    @property
    def name(self) -> str:
        """The name of this ExponentialMovingAverage object."""
        return self._name

    def apply(self, var_list: list | None = None) -> Operation:
        """Creates the shadow variables of `var_list` (once) and returns the op updating them.

        Args:
            var_list: Variables and/or Tensors of a floating type (default: trainable variables).

        Returns:
            An op that updates every average (a NoOp grouping the AssignSubs, named after the EMA).

        Raises:
            TypeError: an entry is not half, bfloat16, float or double.
        """
        from labflow.ops import math_ops
        from labflow.ops.control_flow_ops import group
        from labflow.ops.variables import trainable_variables
        from labflow.train import slot_creator
        if var_list is None:
            var_list = trainable_variables()
        var_list = list(var_list)
        g = var_list[0].graph if var_list else get_default_graph()
        zero_debias_true = set()
        for var in var_list:
            if var.dtype.base_dtype not in _FLOAT_DTYPES:
                raise TypeError(f"The variables must be half, float, or double: {var.name}")
            if var in self._averages:
                continue
            # Averages live next to their variables (no cross-device traffic for the update);
            # tensors' averages are placed like any other variable.
            with g.as_default(), g.control_dependencies(None):
                if isinstance(var, Variable):
                    avg = slot_creator.create_slot(var, var.initialized_value(), self._name)
                    # Only Variables go into MOVING_AVERAGE_VARIABLES (TF's rule).
                    g.add_to_collection(GraphKeys.MOVING_AVERAGE_VARIABLES, var)
                else:
                    avg = slot_creator.create_zeros_slot(
                        var, self._name, colocate_with_primary=var.op.type in _VARIABLE_OP_TYPES)
                    if self._zero_debias:
                        zero_debias_true.add(avg)
            self._averages[var] = avg

        with g.as_default(), g.name_scope(self._name) as scope:
            decay = convert_to_tensor(self._decay, name="decay")
            if self._num_updates is not None:
                num_updates = math_ops.cast(self._num_updates, _dt.float32, name="num_updates")
                decay = math_ops.minimum(decay, (1.0 + num_updates) / (10.0 + num_updates))
            updates = [assign_moving_average(self._averages[var], var, decay,
                                             zero_debias=self._averages[var] in zero_debias_true)
                       for var in var_list]
            return group(*updates, name=scope)

    def average(self, var: Any) -> Variable | None:
        """The shadow variable of `var`, or None when `apply` never saw it."""
        return self._averages.get(var, None)

    def average_name(self, var: Any) -> str:
        """The op name of `var`'s shadow variable: existing, or the one `apply` would give it."""
        if var in self._averages:
            return self._averages[var].op.name
        return var.op.graph.unique_name(var.op.name + "/" + self._name, mark_as_used=False)

    def variables_to_restore(self, moving_avg_variables: list | None = None) -> dict:
        """A Saver `var_list` that restores each variable from its average's checkpoint entry.

        Maps `average_name(v)` -> v for the averaged variables (default: trainable variables plus
        MOVING_AVERAGE_VARIABLES) and `v.op.name` -> v for every other global variable.
        """
        from labflow.ops.variables import global_variables, moving_average_variables, trainable_variables
        if moving_avg_variables is None:
            moving_avg_variables = trainable_variables() + moving_average_variables()
        moving_avg_variables = list(dict.fromkeys(moving_avg_variables))
        name_map = {self.average_name(v): v for v in moving_avg_variables}
        averaged_names = {v.name for v in moving_avg_variables}
        for v in global_variables():
            if v.name not in averaged_names and v.op.name not in name_map:
                name_map[v.op.name] = v
        return name_map
