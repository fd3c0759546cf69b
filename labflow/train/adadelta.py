"""`tf.train.AdadeltaOptimizer` (Zeiler, 2012): per-coordinate steps scaled by RMS(update) / RMS(grad)."""

from __future__ import annotations

from typing import Any

from labflow.framework.tensor import IndexedSlices
from labflow.train import training_ops
from labflow.train.optimizer import Optimizer, cast_to, hyper


class AdadeltaOptimizer(Optimizer):
    """Adadelta, with slots "accum" (`W/Adadelta`) and "accum_update" (`W/Adadelta_1`), both starting at 0.

    accum = rho accum + (1-rho) g^2; update = sqrt(accum_update + eps) / sqrt(accum + eps) g;
    var -= lr update; accum_update = rho accum_update + (1-rho) update^2.
    """

    def __init__(self, learning_rate: Any = 0.001, rho: Any = 0.95, epsilon: Any = 1e-8, use_locking: bool = False,
                 name: str = "Adadelta"):
        """Creates the optimizer.

        Args:
            learning_rate: a float, scalar Tensor or callable (Zeiler's method uses 1.0).
            rho: the decay of both running averages.
            epsilon: added inside both square roots.
            use_locking: update under the variables' locks.
            name: prefix of the ops and slot names.
        """
        super().__init__(use_locking, name)
        self._lr = learning_rate
        self._rho = rho
        self._epsilon = epsilon

    def _create_slots(self, var_list: list) -> None:
        for v in var_list:
            self._zeros_slot(v, "accum", self._name)
            self._zeros_slot(v, "accum_update", self._name)

    def _prepare(self) -> None:
        self._lr_t = hyper(self._lr, "lr")
        self._rho_t = hyper(self._rho, "rho")
        self._epsilon_t = hyper(self._epsilon, "epsilon")

    def _hypers(self, var: Any) -> list:
        dt = var.dtype.base_dtype
        return [cast_to(self._lr_t, dt), cast_to(self._rho_t, dt), cast_to(self._epsilon_t, dt)]

    def _apply_dense(self, grad: Any, var: Any) -> Any:
        return training_ops.apply_adadelta(var, self.get_slot(var, "accum"), self.get_slot(var, "accum_update"),
                                           *self._hypers(var), grad, use_locking=self._use_locking).op

    def _apply_sparse(self, grad: IndexedSlices, var: Any) -> Any:
        return training_ops.sparse_apply_adadelta(var, self.get_slot(var, "accum"),
                                                  self.get_slot(var, "accum_update"), *self._hypers(var),
                                                  grad.values, grad.indices, use_locking=self._use_locking).op
