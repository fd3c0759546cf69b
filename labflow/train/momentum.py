"""`tf.train.MomentumOptimizer`: accum = momentum * accum + grad; var -= lr * accum."""

from __future__ import annotations

from typing import Any

from labflow.framework.tensor import IndexedSlices
from labflow.train import training_ops
from labflow.train.optimizer import Optimizer, cast_to, hyper


class MomentumOptimizer(Optimizer):
    """Momentum (optionally Nesterov), with one slot per variable: "momentum" (`W/Momentum`)."""

    def __init__(self, learning_rate: Any, momentum: Any, use_locking: bool = False, name: str = "Momentum",
                 use_nesterov: bool = False):
        """Creates the optimizer.

        Args:
            learning_rate: a float, scalar Tensor or callable.
            momentum: a float, scalar Tensor or callable.
            use_locking: update under the variables' locks.
            name: prefix of the ops and slot names.
            use_nesterov: Nesterov momentum: var -= lr * (grad + momentum * accum).
        """
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._momentum = momentum
        self._use_nesterov = use_nesterov

    def _create_slots(self, var_list: list) -> None:
        for v in var_list:
            self._zeros_slot(v, "momentum", self._name)

    def _prepare(self) -> None:
        self._learning_rate_tensor = hyper(self._learning_rate, "learning_rate")
        self._momentum_tensor = hyper(self._momentum, "momentum")

    def _hyper(self, var: Any) -> tuple:
        dt = var.dtype.base_dtype
        return cast_to(self._learning_rate_tensor, dt), cast_to(self._momentum_tensor, dt)

    def _apply_dense(self, grad: Any, var: Any) -> Any:
        lr, mom = self._hyper(var)
        return training_ops.apply_momentum(var, self.get_slot(var, "momentum"), lr, grad, mom,
                                           use_locking=self._use_locking, use_nesterov=self._use_nesterov).op

    def _apply_sparse(self, grad: IndexedSlices, var: Any) -> Any:
        lr, mom = self._hyper(var)
        return training_ops.sparse_apply_momentum(var, self.get_slot(var, "momentum"), lr, grad.values,
                                                  grad.indices, mom, use_locking=self._use_locking,
                                                  use_nesterov=self._use_nesterov).op
