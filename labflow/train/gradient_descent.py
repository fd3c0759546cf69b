"""`tf.train.GradientDescentOptimizer`: var -= learning_rate * grad."""

from __future__ import annotations

from typing import Any

from labflow.framework.tensor import IndexedSlices
from labflow.train import training_ops
from labflow.train.optimizer import Optimizer, cast_to, hyper


class GradientDescentOptimizer(Optimizer):
    """Plain gradient descent, updating each variable in place (ApplyGradientDescent).

    Sparse gradients (from tf.gather) update only the gathered rows (ScatterSub).
    """

    def __init__(self, learning_rate: Any, use_locking: bool = False, name: str = "GradientDescent"):
        """Creates the optimizer.

        Args:
            learning_rate: a float, a scalar Tensor, or a callable returning one.
            use_locking: update under the variable's lock.
            name: prefix of the ops this optimizer adds.
        """
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._learning_rate_tensor = None

    def _prepare(self) -> None:
        self._learning_rate_tensor = hyper(self._learning_rate, "learning_rate")

    def _apply_dense(self, grad: Any, var: Any) -> Any:
        lr = cast_to(self._learning_rate_tensor, var.dtype.base_dtype)
        return training_ops.apply_gradient_descent(var, lr, grad, use_locking=self._use_locking).op

    def _apply_sparse_duplicate_indices(self, grad: IndexedSlices, var: Any) -> Any:
        lr = cast_to(self._learning_rate_tensor, var.dtype.base_dtype)
        delta = IndexedSlices(grad.values * lr, grad.indices, grad.dense_shape)
        return var.scatter_sub(delta, use_locking=self._use_locking)

    def _apply_sparse(self, grad: IndexedSlices, var: Any) -> Any:
        return self._apply_sparse_duplicate_indices(grad, var)
