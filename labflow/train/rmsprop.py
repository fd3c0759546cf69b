"""`tf.train.RMSPropOptimizer`: Hinton's RMSProp with momentum, optionally centered."""

from __future__ import annotations

from typing import Any

from labflow.framework.tensor import IndexedSlices
from labflow.ops import init_ops
from labflow.train import training_ops
from labflow.train.optimizer import Optimizer, cast_to, hyper


class RMSPropOptimizer(Optimizer):
    """RMSProp (TF 1.x): ms = decay ms + (1-decay) grad^2; mom = momentum mom + lr grad / sqrt(ms + eps);
    var -= mom. Centered: the denominator is sqrt(ms - mg^2 + eps), mg the moving mean of the gradient.

    Slots: "rms" (`W/RMSProp`, starts at ONE, like TF 1.x), "mg" when centered, "momentum".
    """

    def __init__(self, learning_rate: Any, decay: float = 0.9, momentum: float = 0.0, epsilon: float = 1e-10,
                 use_locking: bool = False, centered: bool = False, name: str = "RMSProp"):
        """Creates the optimizer.

        Args:
            learning_rate: a float, scalar Tensor or callable.
            decay: discount of the moving average of squared gradients (rho).
            momentum: momentum of the update.
            epsilon: added inside the square root of the denominator.
            use_locking: update under the variables' locks.
            centered: normalize by the estimated variance of the gradient, not its second moment.
            name: prefix of the ops and slot names.
        """
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._decay = decay
        self._momentum = momentum
        self._epsilon = epsilon
        self._centered = centered

    def _create_slots(self, var_list: list) -> None:
        for v in var_list:
            dt = v.dtype.base_dtype
            if v.get_shape().is_fully_defined():
                ones = init_ops.ones_initializer(dtype=dt)
                self._get_or_make_slot_with_initializer(v, ones, v.get_shape(), dt, "rms", self._name)
            else:
                from labflow.ops import array_ops
                self._get_or_make_slot(v, array_ops.ones_like(v.initial_value, dtype=dt), "rms", self._name)
            if self._centered:
                self._zeros_slot(v, "mg", self._name)
            self._zeros_slot(v, "momentum", self._name)

    def _prepare(self) -> None:
        self._learning_rate_tensor = hyper(self._learning_rate, "learning_rate")
        self._decay_tensor = hyper(self._decay, "decay")
        self._momentum_tensor = hyper(self._momentum, "momentum")
        self._epsilon_tensor = hyper(self._epsilon, "epsilon")

    def _hyper(self, var: Any) -> list:
        dt = var.dtype.base_dtype
        ts = (self._learning_rate_tensor, self._decay_tensor, self._momentum_tensor, self._epsilon_tensor)
        return [cast_to(t, dt) for t in ts]

    def _apply_dense(self, grad: Any, var: Any) -> Any:
        rms, mom = self.get_slot(var, "rms"), self.get_slot(var, "momentum")
        if self._centered:
            return training_ops.apply_centered_rms_prop(var, self.get_slot(var, "mg"), rms, mom,
                                                        *self._hyper(var), grad,
                                                        use_locking=self._use_locking).op
        return training_ops.apply_rms_prop(var, rms, mom, *self._hyper(var), grad,
                                           use_locking=self._use_locking).op

    def _apply_sparse(self, grad: IndexedSlices, var: Any) -> Any:
        rms, mom = self.get_slot(var, "rms"), self.get_slot(var, "momentum")
        if self._centered:
            return training_ops.sparse_apply_centered_rms_prop(
                var, self.get_slot(var, "mg"), rms, mom, *self._hyper(var), grad.values, grad.indices,
                use_locking=self._use_locking).op
        return training_ops.sparse_apply_rms_prop(var, rms, mom, *self._hyper(var), grad.values, grad.indices,
                                                  use_locking=self._use_locking).op
