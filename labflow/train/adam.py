"""`tf.train.AdamOptimizer` (Kingma & Ba), with TF 1.x's beta1_power / beta2_power accumulators."""

from __future__ import annotations

from typing import Any

from labflow.framework.tensor import IndexedSlices
from labflow.train import training_ops
from labflow.train.optimizer import Optimizer, cast_to, hyper


class AdamOptimizer(Optimizer):
    """Adam: lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t); m = beta1 m + (1-beta1) g;
    v = beta2 v + (1-beta2) g^2; var -= lr_t * m / (sqrt(v) + epsilon).

    Slots "m" (`W/Adam`) and "v" (`W/Adam_1`); beta1^t and beta2^t live in the non-slot variables
    `beta1_power` and `beta2_power` (colocated with the first variable), multiplied by beta1/beta2
    after each step. Sparse gradients are densified and applied with ApplyAdam: that is exactly TF 1.x's
    sparse Adam (which decays m and v on every row and updates every row of var).
    """

    def __init__(self, learning_rate: Any = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-08, use_locking: bool = False, name: str = "Adam"):
        """Creates the optimizer.

        Args:
            learning_rate: a float, scalar Tensor or callable.
            beta1: decay of the first-moment estimates.
            beta2: decay of the second-moment estimates.
            epsilon: added to the denominator (TF 1.x's "epsilon hat").
            use_locking: update under the variables' locks.
            name: prefix of the ops and slot names.
        """
        super().__init__(use_locking, name)
        self._lr = learning_rate
        self._beta1 = beta1
        self._beta2 = beta2
        self._epsilon = epsilon

    def _get_beta_accumulators(self) -> tuple:
        from labflow.framework.graph import get_default_graph
        g = get_default_graph()
        return self._get_non_slot_variable("beta1_power", g), self._get_non_slot_variable("beta2_power", g)

    def _create_slots(self, var_list: list) -> None:
        first_var = min(var_list, key=lambda x: x.name)
        self._create_non_slot_variable(initial_value=self._beta1, name="beta1_power", colocate_with=first_var)
        self._create_non_slot_variable(initial_value=self._beta2, name="beta2_power", colocate_with=first_var)
        for v in var_list:
            self._zeros_slot(v, "m", self._name)
            self._zeros_slot(v, "v", self._name)

    def _prepare(self) -> None:
        self._lr_t = hyper(self._lr, "learning_rate")
        self._beta1_t = hyper(self._beta1, "beta1")
        self._beta2_t = hyper(self._beta2, "beta2")
        self._epsilon_t = hyper(self._epsilon, "epsilon")

    def _apply_dense(self, grad: Any, var: Any) -> Any:
        dt = var.dtype.base_dtype
        b1p, b2p = self._get_beta_accumulators()
        return training_ops.apply_adam(
            var, self.get_slot(var, "m"), self.get_slot(var, "v"), cast_to(b1p.value(), dt),
            cast_to(b2p.value(), dt), cast_to(self._lr_t, dt), cast_to(self._beta1_t, dt),
            cast_to(self._beta2_t, dt), cast_to(self._epsilon_t, dt), grad, use_locking=self._use_locking).op

    def _apply_sparse(self, grad: IndexedSlices, var: Any) -> Any:
        from labflow.framework.gradients import densify
        return self._apply_dense(densify(grad), var)

    def _finish(self, update_ops: list, name_scope: str) -> Any:
        from labflow.ops.control_flow_ops import group
        b1p, b2p = self._get_beta_accumulators()
        g = b1p.graph
        with g.control_dependencies(update_ops), g.colocate_with(b1p.op):
            update_beta1 = b1p.assign(b1p * self._beta1_t, use_locking=self._use_locking)
            update_beta2 = b2p.assign(b2p * self._beta2_t, use_locking=self._use_locking)
        return group(*update_ops, update_beta1, update_beta2, name=name_scope)
