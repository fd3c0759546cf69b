"""`tf.train.ProximalGradientDescentOptimizer`: a gradient step, then the L1/L2 proximal operator (FOBOS)."""

from __future__ import annotations

from typing import Any

from labflow.framework.tensor import IndexedSlices
from labflow.train import training_ops
from labflow.train.optimizer import Optimizer, cast_to, hyper


class ProximalHypers:
    """The hyperparameters both proximal optimizers pass to their updates: (lr, l1, l2) in each variable's
    dtype. A mixin: the optimizer sets `_learning_rate` and the two `_l*_regularization_strength`s."""

    def _prepare(self) -> None:
        self._learning_rate_tensor = hyper(self._learning_rate, "learning_rate")
        self._l1_regularization_strength_tensor = hyper(self._l1_regularization_strength,
                                                        "l1_regularization_strength")
        self._l2_regularization_strength_tensor = hyper(self._l2_regularization_strength,
                                                        "l2_regularization_strength")

    def _hypers(self, var: Any) -> list:
        dt = var.dtype.base_dtype
        return [cast_to(t, dt) for t in (self._learning_rate_tensor, self._l1_regularization_strength_tensor,
                                         self._l2_regularization_strength_tensor)]


class ProximalGradientDescentOptimizer(ProximalHypers, Optimizer):
    """prox = var - lr g; var = sign(prox) max(|prox| - lr l1, 0) / (1 + lr l2). No slots."""

    def __init__(self, learning_rate: Any, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0, use_locking: bool = False,
                 name: str = "ProximalGradientDescent"):
        """Creates the optimizer.

        Args:
            learning_rate: a float, scalar Tensor or callable.
            l1_regularization_strength: L1 strength (>= 0): drives small weights to exactly zero.
            l2_regularization_strength: L2 strength (>= 0).
            use_locking: update under the variables' locks.
            name: prefix of the ops.
        """
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._l1_regularization_strength = l1_regularization_strength
        self._l2_regularization_strength = l2_regularization_strength

    def _apply_dense(self, grad: Any, var: Any) -> Any:
        return training_ops.apply_proximal_gradient_descent(var, *self._hypers(var), grad,
                                                            use_locking=self._use_locking).op

    def _apply_sparse(self, grad: IndexedSlices, var: Any) -> Any:
        return training_ops.sparse_apply_proximal_gradient_descent(var, *self._hypers(var), grad.values,
                                                                   grad.indices, use_locking=self._use_locking).op
