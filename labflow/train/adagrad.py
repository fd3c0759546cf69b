"""`tf.train.AdagradOptimizer`: accum += grad^2; var -= lr * grad / sqrt(accum)."""

from __future__ import annotations

from typing import Any

from labflow.framework.tensor import IndexedSlices
from labflow.ops import init_ops
from labflow.train import training_ops
from labflow.train.optimizer import Optimizer, cast_to, hyper


def constant_slot(optimizer: Optimizer, var: Any, value: float, slot_name: str, op_name: str) -> Any:
    """`optimizer`'s slot `slot_name` of `var`, filled with `value` (Adagrad's and FTRL's accumulators).

    A variable of partly unknown shape takes the slot's shape from its initial value at run time."""
    dtype = var.dtype.base_dtype
    if var.get_shape().is_fully_defined():
        init = init_ops.constant_initializer(value, dtype=dtype)
        return optimizer._get_or_make_slot_with_initializer(var, init, var.get_shape(), dtype, slot_name, op_name)
    from labflow.ops import array_ops, math_ops
    val = math_ops.multiply(array_ops.ones_like(var.initial_value, dtype=dtype), value)
    return optimizer._get_or_make_slot(var, val, slot_name, op_name)


class AdagradOptimizer(Optimizer):
    """Adagrad, with one slot per variable: "accumulator" (`W/Adagrad`), starting at the initial value."""

    def __init__(self, learning_rate: Any, initial_accumulator_value: float = 0.1, use_locking: bool = False,
                 name: str = "Adagrad"):
        """Creates the optimizer.

        Args:
            learning_rate: a float, scalar Tensor or callable.
            initial_accumulator_value: the accumulators' starting value; must be positive.
            use_locking: update under the variables' locks.
            name: prefix of the ops and slot names.

        Raises:
            ValueError: initial_accumulator_value is not positive.
        """
        if initial_accumulator_value <= 0.0:
            raise ValueError(f"initial_accumulator_value must be positive: {initial_accumulator_value}")
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._initial_accumulator_value = initial_accumulator_value

    def _create_slots(self, var_list: list) -> None:
        for v in var_list:
            constant_slot(self, v, self._initial_accumulator_value, "accumulator", self._name)

    def _prepare(self) -> None:
        self._learning_rate_tensor = hyper(self._learning_rate, "learning_rate")

    def _apply_dense(self, grad: Any, var: Any) -> Any:
        lr = cast_to(self._learning_rate_tensor, var.dtype.base_dtype)
        return training_ops.apply_adagrad(var, self.get_slot(var, "accumulator"), lr, grad,
                                          use_locking=self._use_locking).op

    def _apply_sparse(self, grad: IndexedSlices, var: Any) -> Any:
        lr = cast_to(self._learning_rate_tensor, var.dtype.base_dtype)
        return training_ops.sparse_apply_adagrad(var, self.get_slot(var, "accumulator"), lr, grad.values,
                                                 grad.indices, use_locking=self._use_locking).op
