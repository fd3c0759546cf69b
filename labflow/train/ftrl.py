"""`tf.train.FtrlOptimizer`: FTRL-Proximal (McMahan et al., 2013), with optional L2 shrinkage (FtrlV2)."""

from __future__ import annotations

from typing import Any

from labflow.framework.tensor import IndexedSlices
from labflow.train import training_ops
from labflow.train.adagrad import constant_slot
from labflow.train.optimizer import Optimizer, cast_to, hyper


class FtrlOptimizer(Optimizer):
    """FTRL-Proximal with slots "accum" (`W/Ftrl`, starting at `initial_accumulator_value`) and "linear"
    (`W/Ftrl_1`, starting at 0). With `l2_shrinkage_regularization_strength > 0` the updates are
    ApplyFtrlV2 / SparseApplyFtrlV2, else ApplyFtrl / SparseApplyFtrl, as in TF.
    """

    def __init__(self, learning_rate: Any, learning_rate_power: float = -0.5, initial_accumulator_value: float = 0.1,
                 l1_regularization_strength: float = 0.0, l2_regularization_strength: float = 0.0,
                 use_locking: bool = False, name: str = "Ftrl", accum_name: str | None = None,
                 linear_name: str | None = None, l2_shrinkage_regularization_strength: float = 0.0,
                 beta: float | None = None):
        """Creates the optimizer.

        Args:
            learning_rate: a float, scalar Tensor or callable.
            learning_rate_power: how the per-coordinate rate decays with the accumulated squared gradient
                (<= 0; -0.5 is AdaGrad-like, 0 a constant rate).
            initial_accumulator_value: the accumulators' starting value (>= 0).
            l1_regularization_strength: L1 strength (>= 0).
            l2_regularization_strength: L2 strength (>= 0), a stabilisation penalty.
            use_locking: update under the variables' locks.
            name: prefix of the ops and (unless accum_name / linear_name) of the slot names.
            accum_name: the name of the accumulator slots' scope (default `name`).
            linear_name: the name of the linear slots' scope (default `name`).
            l2_shrinkage_regularization_strength: L2 strength (>= 0) applied as a magnitude penalty through
                the gradient (FtrlV2).
            beta: added to the L2 term as beta / (2 learning_rate) (default 0).

        Raises:
            ValueError: a strength or the accumulator value is negative, or learning_rate_power > 0.
        """
        super().__init__(use_locking, name)
        if initial_accumulator_value < 0.0:
            raise ValueError(f"initial_accumulator_value {initial_accumulator_value:f} needs to be positive or "
                             "zero")
        if learning_rate_power > 0.0:
            raise ValueError(f"learning_rate_power {learning_rate_power:f} needs to be negative or zero")
        if l1_regularization_strength < 0.0:
            raise ValueError(f"l1_regularization_strength {l1_regularization_strength:f} needs to be positive or "
                             "zero")
        if l2_regularization_strength < 0.0:
            raise ValueError(f"l2_regularization_strength {l2_regularization_strength:f} needs to be positive or "
                             "zero")
        if l2_shrinkage_regularization_strength < 0.0:
            raise ValueError("l2_shrinkage_regularization_strength "
                             f"{l2_shrinkage_regularization_strength:f} needs to be positive or zero")
        self._learning_rate = learning_rate
        self._learning_rate_power = learning_rate_power
        self._initial_accumulator_value = initial_accumulator_value
        self._l1_regularization_strength = l1_regularization_strength
        self._l2_regularization_strength = l2_regularization_strength
        self._beta = 0.0 if beta is None else beta
        self._l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self._accum_name = accum_name
        self._linear_name = linear_name

    def _create_slots(self, var_list: list) -> None:
        for v in var_list:
            constant_slot(self, v, self._initial_accumulator_value, "accum", self._accum_name or self._name)
            self._zeros_slot(v, "linear", self._linear_name or self._name)

    def _prepare(self) -> None:
        from labflow.ops import math_ops
        lr = self._call_if_callable(self._learning_rate)
        self._learning_rate_tensor = hyper(lr, "learning_rate")
        self._l1_regularization_strength_tensor = hyper(self._l1_regularization_strength,
                                                        "l1_regularization_strength")
        # beta folds into L2 here, so the kernels need no beta input (TF's formulation).
        adjusted = self._l2_regularization_strength
        if self._beta:
            adjusted = adjusted + self._beta / (2.0 * math_ops.maximum(self._learning_rate_tensor, 1e-36))
        self._adjusted_l2_regularization_strength_tensor = hyper(adjusted, "adjusted_l2_regularization_strength")
        self._l2_shrinkage_regularization_strength_tensor = hyper(self._l2_shrinkage_regularization_strength,
                                                                  "l2_shrinkage_regularization_strength")
        self._learning_rate_power_tensor = hyper(self._learning_rate_power, "learning_rate_power")

    def _hypers(self, var: Any) -> tuple:
        dt = var.dtype.base_dtype
        lr, l1, l2, shrink, power = (cast_to(t, dt) for t in (
            self._learning_rate_tensor, self._l1_regularization_strength_tensor,
            self._adjusted_l2_regularization_strength_tensor, self._l2_shrinkage_regularization_strength_tensor,
            self._learning_rate_power_tensor))
        if self._l2_shrinkage_regularization_strength <= 0.0:
            return [lr, l1, l2, power]
        return [lr, l1, l2, shrink, power]

    def _apply_dense(self, grad: Any, var: Any) -> Any:
        slots = (self.get_slot(var, "accum"), self.get_slot(var, "linear"))
        hypers = self._hypers(var)
        fn = training_ops.apply_ftrl if len(hypers) == 4 else training_ops.apply_ftrl_v2
        return fn(var, *slots, grad, *hypers, use_locking=self._use_locking).op

    def _apply_sparse(self, grad: IndexedSlices, var: Any) -> Any:
        slots = (self.get_slot(var, "accum"), self.get_slot(var, "linear"))
        hypers = self._hypers(var)
        fn = training_ops.sparse_apply_ftrl if len(hypers) == 4 else training_ops.sparse_apply_ftrl_v2
        return fn(var, *slots, grad.values, grad.indices, *hypers, use_locking=self._use_locking).op
