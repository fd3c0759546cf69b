"""More of TF's training_ops: Adadelta, FTRL (v1 and with l2 shrinkage), proximal gradient descent,
proximal Adagrad and Adagrad dual averaging, dense and sparse, declared like the ops of training_ops.py
(same signature table, shape checks and wrappers).

Formulas are TF 1.x's (tensorflow/core/kernels/training_ops.cc). The kernels compute the new rows with
whole-array expressions and store them in place (`x[...] = new`): these optimizers are rare on hot paths,
so clarity wins over the temporaries the Adam kernel avoids. FTRL's `lr_power` is applied with `power`
even at -0.5 (TF's special case uses sqrt; the results agree to an ulp) so no scalar is read on the host.
"""

from __future__ import annotations

from typing import Any

from labflow.framework.tensor import Tensor
from labflow.runtime.devices import deref
from labflow.train.training_ops import _SIGS, _apply, _declare, _unique_rows

__all__ = ["apply_adadelta", "sparse_apply_adadelta", "apply_ftrl", "sparse_apply_ftrl", "apply_ftrl_v2",
           "sparse_apply_ftrl_v2", "apply_proximal_gradient_descent", "sparse_apply_proximal_gradient_descent",
           "apply_proximal_adagrad", "sparse_apply_proximal_adagrad", "apply_adagrad_da", "sparse_apply_adagrad_da"]

_FTRL = ("var:ref", "accum:ref", "linear:ref", "grad:dense")
_FTRL_SCALARS = ("lr:scalar", "l1:scalar", "l2:scalar")
_SIGS.update({
    "ApplyAdadelta": ("var:ref", "accum:ref", "accum_update:ref", "lr:scalar", "rho:scalar", "epsilon:scalar",
                      "grad:dense"),
    "SparseApplyAdadelta": ("var:ref", "accum:ref", "accum_update:ref", "lr:scalar", "rho:scalar",
                            "epsilon:scalar", "grad:grad", "indices:idx"),
    "ApplyFtrl": _FTRL + _FTRL_SCALARS + ("lr_power:scalar",),
    "SparseApplyFtrl": _FTRL[:3] + ("grad:grad", "indices:idx") + _FTRL_SCALARS + ("lr_power:scalar",),
    "ApplyFtrlV2": _FTRL + _FTRL_SCALARS + ("l2_shrinkage:scalar", "lr_power:scalar"),
    "SparseApplyFtrlV2": _FTRL[:3] + ("grad:grad", "indices:idx") + _FTRL_SCALARS
    + ("l2_shrinkage:scalar", "lr_power:scalar"),
    "ApplyProximalGradientDescent": ("var:ref", "alpha:scalar", "l1:scalar", "l2:scalar", "delta:dense"),
    "SparseApplyProximalGradientDescent": ("var:ref", "alpha:scalar", "l1:scalar", "l2:scalar", "grad:grad",
                                           "indices:idx"),
    "ApplyProximalAdagrad": ("var:ref", "accum:ref", "lr:scalar", "l1:scalar", "l2:scalar", "grad:dense"),
    "SparseApplyProximalAdagrad": ("var:ref", "accum:ref", "lr:scalar", "l1:scalar", "l2:scalar", "grad:grad",
                                   "indices:idx"),
    "ApplyAdagradDA": ("var:ref", "gradient_accumulator:ref", "gradient_squared_accumulator:ref", "grad:dense",
                       "lr:scalar", "l1:scalar", "l2:scalar", "global_step:step"),
    "SparseApplyAdagradDA": ("var:ref", "gradient_accumulator:ref", "gradient_squared_accumulator:ref", "grad:grad",
                             "indices:idx", "lr:scalar", "l1:scalar", "l2:scalar", "global_step:step"),
})


# -- the updates, on whole arrays or on gathered rows ------------------------------------------------------
def _adadelta(xp, v, a, au, lr, rho, epsilon, g):
    """New (var, accum, accum_update)."""
    a = a * rho + g * g * (1 - rho)
    update = xp.sqrt(au + epsilon) / xp.sqrt(a + epsilon) * g
    return v - update * lr, a, au * rho + update * update * (1 - rho)


def _ftrl(xp, v, a, lin, g, lr, l1, l2, l2_shrinkage, lr_power):
    """New (var, accum, linear); l2_shrinkage None is ApplyFtrl, else ApplyFtrlV2."""
    g_shrunk = g if l2_shrinkage is None else g + 2 * l2_shrinkage * v
    new_a = a + g * g
    lin = lin + g_shrunk - (xp.power(new_a, -lr_power) - xp.power(a, -lr_power)) / lr * v
    x = l1 * xp.sign(lin) - lin
    y = xp.power(new_a, -lr_power) / lr + 2 * l2
    new_v = xp.where(xp.abs(lin) > l1, x / y, xp.zeros_like(v))
    return new_v, new_a, lin


def _proximal(xp, prox_v, lr, l1, l2):
    """The proximal step of a (learning-rate scaled) gradient step `prox_v`: l1 shrinkage, l2 scaling."""
    shrunk = xp.sign(prox_v) * xp.maximum(xp.abs(prox_v) - lr * l1, 0)
    # TF uses the l1 form only when l1 > 0; with l1 == 0 it is prox_v exactly, so one expression serves.
    return shrunk / (1 + lr * l2)


def _proximal_adagrad(xp, v, a, lr, l1, l2, g):
    a = a + g * g
    rate = lr / xp.sqrt(a)
    return _proximal(xp, v - g * rate, rate, l1, l2), a


def _adagrad_da(xp, ga, gga, g, lr, l1, l2, step):
    """New (var, gradient_accumulator, gradient_squared_accumulator): the dual-averaging solution
    var = -lr sign(ga) max(|ga| - l1 T, 0) / (l2 T lr + sqrt(gga)) for the step count T."""
    ga = ga + g
    gga = gga + g * g
    t = step.astype(ga.dtype)
    shrunk = xp.sign(ga) * xp.maximum(xp.abs(ga) - l1 * t, 0)  # equals ga when l1 == 0, TF's other branch
    return -lr * shrunk / (l2 * t * lr + xp.sqrt(gga)), ga, gga


def _store(*pairs):
    for dst, src in pairs:
        dst[...] = src


def _store_rows(idx, *pairs):
    for dst, src in pairs:
        dst[idx] = src


# -- kernels ----------------------------------------------------------------------------------------------
@_declare("ApplyAdadelta")
def apply_adadelta_kernel(xp, var, accum, accum_update, lr, rho, epsilon, grad, *, use_locking):
    v, a, au = deref(var), deref(accum), deref(accum_update)
    nv, na, nau = _adadelta(xp, v, a, au, lr, rho, epsilon, grad)
    _store((v, nv), (a, na), (au, nau))
    return var


@_declare("SparseApplyAdadelta")
def sparse_apply_adadelta_kernel(xp, var, accum, accum_update, lr, rho, epsilon, grad, indices, *, use_locking,
                                 Tindices):
    v, a, au = deref(var), deref(accum), deref(accum_update)
    g, idx = _unique_rows(xp, grad, indices)
    nv, na, nau = _adadelta(xp, v[idx], a[idx], au[idx], lr, rho, epsilon, g)
    _store_rows(idx, (v, nv), (a, na), (au, nau))
    return var


def _ftrl_in_place(xp, var, accum, linear, grad, indices, lr, l1, l2, l2_shrinkage, lr_power):
    """The four FTRL kernels: every row, or with `indices` those rows only; l2_shrinkage None is FTRL v1."""
    v, a, lin = deref(var), deref(accum), deref(linear)
    if indices is None:
        nv, na, nlin = _ftrl(xp, v, a, lin, grad, lr, l1, l2, l2_shrinkage, lr_power)
        _store((v, nv), (a, na), (lin, nlin))
    else:
        g, idx = _unique_rows(xp, grad, indices)
        nv, na, nlin = _ftrl(xp, v[idx], a[idx], lin[idx], g, lr, l1, l2, l2_shrinkage, lr_power)
        _store_rows(idx, (v, nv), (a, na), (lin, nlin))
    return var


@_declare("ApplyFtrl")
def apply_ftrl_kernel(xp, var, accum, linear, grad, lr, l1, l2, lr_power, *, use_locking):
    return _ftrl_in_place(xp, var, accum, linear, grad, None, lr, l1, l2, None, lr_power)


@_declare("SparseApplyFtrl")
def sparse_apply_ftrl_kernel(xp, var, accum, linear, grad, indices, lr, l1, l2, lr_power, *, use_locking,
                             Tindices):
    return _ftrl_in_place(xp, var, accum, linear, grad, indices, lr, l1, l2, None, lr_power)


@_declare("ApplyFtrlV2")
def apply_ftrl_v2_kernel(xp, var, accum, linear, grad, lr, l1, l2, l2_shrinkage, lr_power, *, use_locking):
    return _ftrl_in_place(xp, var, accum, linear, grad, None, lr, l1, l2, l2_shrinkage, lr_power)


@_declare("SparseApplyFtrlV2")
def sparse_apply_ftrl_v2_kernel(xp, var, accum, linear, grad, indices, lr, l1, l2, l2_shrinkage, lr_power, *,
                                use_locking, Tindices):
    return _ftrl_in_place(xp, var, accum, linear, grad, indices, lr, l1, l2, l2_shrinkage, lr_power)


@_declare("ApplyProximalGradientDescent")
def apply_proximal_gradient_descent_kernel(xp, var, alpha, l1, l2, delta, *, use_locking):
    v = deref(var)
    v[...] = _proximal(xp, v - alpha * delta, alpha, l1, l2)
    return var


@_declare("SparseApplyProximalGradientDescent")
def sparse_apply_proximal_gradient_descent_kernel(xp, var, alpha, l1, l2, grad, indices, *, use_locking,
                                                  Tindices):
    v = deref(var)
    g, idx = _unique_rows(xp, grad, indices)
    v[idx] = _proximal(xp, v[idx] - alpha * g, alpha, l1, l2)
    return var


@_declare("ApplyProximalAdagrad")
def apply_proximal_adagrad_kernel(xp, var, accum, lr, l1, l2, grad, *, use_locking):
    v, a = deref(var), deref(accum)
    nv, na = _proximal_adagrad(xp, v, a, lr, l1, l2, grad)
    _store((v, nv), (a, na))
    return var


@_declare("SparseApplyProximalAdagrad")
def sparse_apply_proximal_adagrad_kernel(xp, var, accum, lr, l1, l2, grad, indices, *, use_locking, Tindices):
    v, a = deref(var), deref(accum)
    g, idx = _unique_rows(xp, grad, indices)
    nv, na = _proximal_adagrad(xp, v[idx], a[idx], lr, l1, l2, g)
    _store_rows(idx, (v, nv), (a, na))
    return var


@_declare("ApplyAdagradDA")
def apply_adagrad_da_kernel(xp, var, gradient_accumulator, gradient_squared_accumulator, grad, lr, l1, l2,
                            global_step, *, use_locking):
    v, ga, gga = deref(var), deref(gradient_accumulator), deref(gradient_squared_accumulator)
    nv, nga, ngga = _adagrad_da(xp, ga, gga, grad, lr, l1, l2, global_step)
    _store((v, nv), (ga, nga), (gga, ngga))
    return var


@_declare("SparseApplyAdagradDA")
def sparse_apply_adagrad_da_kernel(xp, var, gradient_accumulator, gradient_squared_accumulator, grad, indices, lr,
                                   l1, l2, global_step, *, use_locking, Tindices):
    v, ga, gga = deref(var), deref(gradient_accumulator), deref(gradient_squared_accumulator)
    g, idx = _unique_rows(xp, grad, indices)
    nv, nga, ngga = _adagrad_da(xp, ga[idx], gga[idx], g, lr, l1, l2, global_step)
    _store_rows(idx, (v, nv), (ga, nga), (gga, ngga))
    return var


# -- wrappers (TF's gen_training_ops signatures) ------------------------------------------------------------
def _attrs(use_locking: bool) -> dict:
    return {"use_locking": use_locking}


def apply_adadelta(var: Any, accum: Any, accum_update: Any, lr: Any, rho: Any, epsilon: Any, grad: Any,
                   use_locking: bool = False, name: str | None = None) -> Tensor:
    """accum = rho accum + (1-rho) grad^2; update = sqrt(accum_update + eps) / sqrt(accum + eps) grad;
    var -= lr update; accum_update = rho accum_update + (1-rho) update^2. Returns the variable's ref."""
    return _apply("ApplyAdadelta", [var, accum, accum_update, lr, rho, epsilon, grad], _attrs(use_locking), name)


def sparse_apply_adadelta(var: Any, accum: Any, accum_update: Any, lr: Any, rho: Any, epsilon: Any, grad: Any,
                          indices: Any, use_locking: bool = False, name: str | None = None) -> Tensor:
    """apply_adadelta on the rows `indices` only (grad holds those rows; duplicates are summed)."""
    return _apply("SparseApplyAdadelta", [var, accum, accum_update, lr, rho, epsilon, grad, indices],
                  _attrs(use_locking), name)


def apply_ftrl(var: Any, accum: Any, linear: Any, grad: Any, lr: Any, l1: Any, l2: Any, lr_power: Any,
               use_locking: bool = False, name: str | None = None) -> Tensor:
    """FTRL-Proximal: new_accum = accum + grad^2;
    linear += grad - (new_accum^-lr_power - accum^-lr_power) / lr * var;
    var = (sign(linear) l1 - linear) / (new_accum^-lr_power / lr + 2 l2) where |linear| > l1, else 0."""
    return _apply("ApplyFtrl", [var, accum, linear, grad, lr, l1, l2, lr_power], _attrs(use_locking), name)


def sparse_apply_ftrl(var: Any, accum: Any, linear: Any, grad: Any, indices: Any, lr: Any, l1: Any, l2: Any,
                      lr_power: Any, use_locking: bool = False, name: str | None = None) -> Tensor:
    """apply_ftrl on the rows `indices` only."""
    return _apply("SparseApplyFtrl", [var, accum, linear, grad, indices, lr, l1, l2, lr_power],
                  _attrs(use_locking), name)


def apply_ftrl_v2(var: Any, accum: Any, linear: Any, grad: Any, lr: Any, l1: Any, l2: Any, l2_shrinkage: Any,
                  lr_power: Any, use_locking: bool = False, name: str | None = None) -> Tensor:
    """apply_ftrl with L2 shrinkage: `linear` takes grad + 2 l2_shrinkage var (accum still takes grad^2)."""
    return _apply("ApplyFtrlV2", [var, accum, linear, grad, lr, l1, l2, l2_shrinkage, lr_power],
                  _attrs(use_locking), name)


def sparse_apply_ftrl_v2(var: Any, accum: Any, linear: Any, grad: Any, indices: Any, lr: Any, l1: Any, l2: Any,
                         l2_shrinkage: Any, lr_power: Any, use_locking: bool = False,
                         name: str | None = None) -> Tensor:
    """apply_ftrl_v2 on the rows `indices` only."""
    return _apply("SparseApplyFtrlV2", [var, accum, linear, grad, indices, lr, l1, l2, l2_shrinkage, lr_power],
                  _attrs(use_locking), name)


def apply_proximal_gradient_descent(var: Any, alpha: Any, l1: Any, l2: Any, delta: Any, use_locking: bool = False,
                                    name: str | None = None) -> Tensor:
    """prox = var - alpha delta; var = sign(prox) max(|prox| - alpha l1, 0) / (1 + alpha l2)."""
    return _apply("ApplyProximalGradientDescent", [var, alpha, l1, l2, delta], _attrs(use_locking), name)


def sparse_apply_proximal_gradient_descent(var: Any, alpha: Any, l1: Any, l2: Any, grad: Any, indices: Any,
                                           use_locking: bool = False, name: str | None = None) -> Tensor:
    """apply_proximal_gradient_descent on the rows `indices` only."""
    return _apply("SparseApplyProximalGradientDescent", [var, alpha, l1, l2, grad, indices], _attrs(use_locking),
                  name)


def apply_proximal_adagrad(var: Any, accum: Any, lr: Any, l1: Any, l2: Any, grad: Any, use_locking: bool = False,
                           name: str | None = None) -> Tensor:
    """accum += grad^2; rate = lr / sqrt(accum); the proximal step of var - rate grad with rate * l1, l2."""
    return _apply("ApplyProximalAdagrad", [var, accum, lr, l1, l2, grad], _attrs(use_locking), name)


def sparse_apply_proximal_adagrad(var: Any, accum: Any, lr: Any, l1: Any, l2: Any, grad: Any, indices: Any,
                                  use_locking: bool = False, name: str | None = None) -> Tensor:
    """apply_proximal_adagrad on the rows `indices` only."""
    return _apply("SparseApplyProximalAdagrad", [var, accum, lr, l1, l2, grad, indices], _attrs(use_locking),
                  name)


def apply_adagrad_da(var: Any, gradient_accumulator: Any, gradient_squared_accumulator: Any, grad: Any, lr: Any,
                     l1: Any, l2: Any, global_step: Any, use_locking: bool = False,
                     name: str | None = None) -> Tensor:
    """Adagrad dual averaging: accumulate grad and grad^2, then solve for var in closed form at step
    `global_step` (an int64 scalar): var = -lr sign(g) max(|g| - l1 T, 0) / (l2 T lr + sqrt(gg))."""
    return _apply("ApplyAdagradDA", [var, gradient_accumulator, gradient_squared_accumulator, grad, lr, l1, l2,
                                     global_step], _attrs(use_locking), name)


def sparse_apply_adagrad_da(var: Any, gradient_accumulator: Any, gradient_squared_accumulator: Any, grad: Any,
                            indices: Any, lr: Any, l1: Any, l2: Any, global_step: Any, use_locking: bool = False,
                            name: str | None = None) -> Tensor:
    """apply_adagrad_da on the rows `indices` only."""
    return _apply("SparseApplyAdagradDA", [var, gradient_accumulator, gradient_squared_accumulator, grad, indices,
                                           lr, l1, l2, global_step], _attrs(use_locking), name)
