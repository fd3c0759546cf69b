"""`tf.train.AdagradDAOptimizer`: Adagrad dual averaging (Duchi et al.), for sparse models trained with L1."""

from __future__ import annotations

from typing import Any

from labflow.framework.graph import get_default_graph
from labflow.framework.tensor import IndexedSlices
from labflow.ops import init_ops
from labflow.train import training_ops
from labflow.train.adagrad import constant_slot
from labflow.train.optimizer import Optimizer, cast_to, hyper


class AdagradDAOptimizer(Optimizer):
    """Adagrad dual averaging, with slots "gradient_accumulator" (`W/AdagradDA`, starting at 0) and
    "gradient_squared_accumulator" (`W/AdagradDA_1`, starting at the initial value).

    The update solves for var in closed form from the accumulated gradients and the step count, so
    `global_step` must be incremented each step (pass it to `minimize`).
    """

    def __init__(self, learning_rate: Any, global_step: Any, initial_gradient_squared_accumulator_value: float = 0.1,
                 l1_regularization_strength: float = 0.0, l2_regularization_strength: float = 0.0,
                 use_locking: bool = False, name: str = "AdagradDA"):
        """Creates the optimizer.

        Args:
            learning_rate: a float, scalar Tensor or callable.
            global_step: the int64 global step Variable (the step count T of the closed form is step + 1).
            initial_gradient_squared_accumulator_value: the squared accumulators' start; must be positive.
            l1_regularization_strength: L1 strength (>= 0).
            l2_regularization_strength: L2 strength (>= 0).
            use_locking: update under the variables' locks.
            name: prefix of the ops and slot names.

        Raises:
            ValueError: initial_gradient_squared_accumulator_value is not positive.
        """
        if initial_gradient_squared_accumulator_value <= 0.0:
            raise ValueError("initial_gradient_squared_accumulator_value must be positive: "
                             f"{initial_gradient_squared_accumulator_value}")
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._initial_gradient_squared_accumulator_value = initial_gradient_squared_accumulator_value
        self._l1_regularization_strength = l1_regularization_strength
        self._l2_regularization_strength = l2_regularization_strength
        self._global_step = global_step
        self._global_step_on_worker = None

    def _create_slots(self, var_list: list) -> None:
        for v in var_list:
            dtype = v.dtype.base_dtype
            if not v.get_shape().is_fully_defined():
                raise ValueError(f"AdagradDAOptimizer needs variables of a fully defined shape, {v.name} has "
                                 f"{v.get_shape()}.")
            self._get_or_make_slot_with_initializer(v, init_ops.zeros_initializer(), v.get_shape(), dtype,
                                                    "gradient_accumulator", self._name)
            constant_slot(self, v, self._initial_gradient_squared_accumulator_value, "gradient_squared_accumulator",
                          self._name)

    def _prepare(self) -> None:
        from labflow.ops import array_ops, math_ops
        self._learning_rate_tensor = hyper(self._learning_rate, "learning_rate")
        # One read of the global step per step (TF: a worker-side copy spares the parameter server).
        with get_default_graph().colocate_with(self._learning_rate_tensor.op):
            self._global_step_on_worker = math_ops.add(array_ops.identity(self._global_step), 1)

    def _args(self, var: Any) -> list:
        dt = var.dtype.base_dtype
        return [cast_to(self._learning_rate_tensor, dt), cast_to(hyper(self._l1_regularization_strength, "l1"), dt),
                cast_to(hyper(self._l2_regularization_strength, "l2"), dt), self._global_step_on_worker]

    def _da_slots(self, var: Any) -> list:
        return [self.get_slot(var, "gradient_accumulator"), self.get_slot(var, "gradient_squared_accumulator")]

    def _apply_dense(self, grad: Any, var: Any) -> Any:
        return training_ops.apply_adagrad_da(var, *self._da_slots(var), grad, *self._args(var),
                                             use_locking=self._use_locking).op

    def _apply_sparse(self, grad: IndexedSlices, var: Any) -> Any:
        return training_ops.sparse_apply_adagrad_da(var, *self._da_slots(var), grad.values, grad.indices,
                                                    *self._args(var), use_locking=self._use_locking).op
