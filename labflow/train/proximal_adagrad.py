"""`tf.train.ProximalAdagradOptimizer`: Adagrad's step, then the L1/L2 proximal operator."""

from __future__ import annotations

from typing import Any

from labflow.framework.tensor import IndexedSlices
from labflow.train import training_ops
from labflow.train.adagrad import AdagradOptimizer
from labflow.train.proximal_gradient_descent import ProximalHypers


class ProximalAdagradOptimizer(ProximalHypers, AdagradOptimizer):
    """Slot "accumulator" (`W/ProximalAdagrad`), starting at `initial_accumulator_value`.

    accum += g^2; rate = lr / sqrt(accum); prox = var - rate g;
    var = sign(prox) max(|prox| - rate l1, 0) / (1 + rate l2).
    """

    def __init__(self, learning_rate: Any, initial_accumulator_value: float = 0.1,
                 l1_regularization_strength: float = 0.0, l2_regularization_strength: float = 0.0,
                 use_locking: bool = False, name: str = "ProximalAdagrad"):
        """Creates the optimizer.

        Args:
            learning_rate: a float, scalar Tensor or callable.
            initial_accumulator_value: the accumulators' starting value; must be positive.
            l1_regularization_strength: L1 strength (>= 0).
            l2_regularization_strength: L2 strength (>= 0).
            use_locking: update under the variables' locks.
            name: prefix of the ops and slot names.

        Raises:
            ValueError: initial_accumulator_value is not positive.
        """
        super().__init__(learning_rate, initial_accumulator_value, use_locking, name)
        self._l1_regularization_strength = l1_regularization_strength
        self._l2_regularization_strength = l2_regularization_strength


    def _apply_dense(self, grad: Any, var: Any) -> Any:
        return training_ops.apply_proximal_adagrad(var, self.get_slot(var, "accumulator"), *self._hypers(var),
                                                   grad, use_locking=self._use_locking).op

    def _apply_sparse(self, grad: IndexedSlices, var: Any) -> Any:
        return training_ops.sparse_apply_proximal_adagrad(var, self.get_slot(var, "accumulator"),
                                                          *self._hypers(var), grad.values, grad.indices,
                                                          use_locking=self._use_locking).op
