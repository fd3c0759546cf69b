"""Sweep samples for the training ops of training_extra_ops.py: Adadelta, FTRL and proximal, dense and sparse.

The apply ops run like those of state.py: fresh variables initialized from the fed values, the update
under a control dependency, the slots read after it. References are NumPy re-implementations of TF
1.x's kernels (training_ops.cc), written out separately from labflow's kernels; optimizer-level,
multi-step behaviour is in tests/train/test_optimizers_extra.py.
"""

from __future__ import annotations

import numpy as np

from labflow.testing.op_sweep import Case, samples
from labflow.testing.samples.state import _SIDX, FLOATS, _pos, _rand, _sparse_ref, _stateful
from labflow.train import training_ops as T


def _adadelta_ref(v, a, au, lr, rho, eps, g):
    a = rho * a + (1 - rho) * g * g
    upd = np.sqrt(au + eps) * (1 / np.sqrt(a + eps)) * g
    return [v - lr * upd, a, rho * au + (1 - rho) * upd * upd]


def _ftrl_ref(shrinkage):
    def ref(v, a, lin, g, lr, l1, l2, *rest):
        shrink, power = (rest if shrinkage else (None,) + rest)
        gs = g + 2 * shrink * v if shrinkage else g
        na = a + g * g
        if power == -0.5:
            lin = lin + gs - (np.sqrt(na) - np.sqrt(a)) / lr * v
            y = np.sqrt(na) / lr + 2 * l2
        else:
            lin = lin + gs - (na ** -power - a ** -power) / lr * v
            y = na ** -power / lr + 2 * l2
        new_v = np.where(np.abs(lin) > l1, (l1 * np.sign(lin) - lin) / y, 0).astype(v.dtype)
        return [new_v, na, lin]
    return ref


def _prox(p, lr, l1, l2):
    if l1 > 0:
        return np.sign(p) * np.maximum(np.abs(p) - lr * l1, 0) / (1 + lr * l2)
    return p / (1 + lr * l2)


def _pgd_ref(v, alpha, l1, l2, d):
    return _prox(v - alpha * d, alpha, l1, l2)


def _padagrad_ref(v, a, lr, l1, l2, g):
    a = a + g * g
    rate = lr / np.sqrt(a)
    return [_prox(v - rate * g, rate, l1, l2), a]


@samples("ApplyAdadelta")
def _apply_adadelta():
    ins = [_rand(3, 2), _pos(3, 2), _pos(3, 2), np.array(0.5), np.array(0.9), np.array(1e-3), _rand(3, 2)]
    scalar = [np.array(0.2), np.array(0.7), np.array(0.3)] + ins[3:6] + [np.array(-0.4)]
    return [Case(_stateful(3, T.apply_adadelta), ins, _adadelta_ref, dtypes=FLOATS, grad=False),
            Case(_stateful(3, T.apply_adadelta), scalar, _adadelta_ref, dtypes=FLOATS, grad=False, name="scalar")]


@samples("SparseApplyAdadelta")
def _sparse_adadelta():
    ins = [_rand(4, 2), _pos(4, 2), _pos(4, 2), np.array(0.5), np.array(0.9), np.array(1e-3), _rand(3, 2), _SIDX]
    return [Case(_stateful(3, T.sparse_apply_adadelta), ins, _sparse_ref(_adadelta_ref, 3, 6), dtypes=FLOATS,
                 grad=False)]


def _ftrl_ins(shrinkage, power, rows=3):
    scal = [np.array(0.1), np.array(0.05), np.array(0.2)] + ([np.array(0.3)] if shrinkage else []) + [
        np.array(power)]
    return [_rand(rows, 3), _pos(rows, 3), _rand(rows, 3), _rand(rows, 3)], scal


@samples("ApplyFtrl")
def _apply_ftrl():
    cases = []
    for power, label in ((-0.5, ""), (-0.7, "power")):
        refs, scal = _ftrl_ins(False, power)
        cases.append(Case(_stateful(3, T.apply_ftrl), refs + scal, _ftrl_ref(False), dtypes=FLOATS, grad=False,
                          name=label))
    big_l1 = [_rand(3, 3) * 0.01, _pos(3, 3), _rand(3, 3) * 0.01, _rand(3, 3) * 0.01, np.array(0.1),
              np.array(5.0), np.array(0.0), np.array(-0.5)]
    cases.append(Case(_stateful(3, T.apply_ftrl), big_l1, _ftrl_ref(False), dtypes=FLOATS, grad=False,
                      name="l1_zeroes"))
    return cases


@samples("ApplyFtrlV2")
def _apply_ftrl_v2():
    refs, scal = _ftrl_ins(True, -0.5)
    return [Case(_stateful(3, T.apply_ftrl_v2), refs + scal, _ftrl_ref(True), dtypes=FLOATS, grad=False)]


def _sparse_ftrl_ref(shrinkage):
    """SparseApplyFtrl's inputs are (var, accum, linear, grad, indices, scalars...): the dense reference's
    order with indices after grad, which is what _sparse_ref expects (grad at position 3)."""
    return _sparse_ref(_ftrl_ref(shrinkage), 3, 3)


def _sparse_ftrl_cases(shrinkage, power, fn):
    refs, scal = _ftrl_ins(shrinkage, power, rows=4)
    g = _rand(3, 3)
    return [Case(_stateful(3, fn), refs[:3] + [g, _SIDX] + scal, _sparse_ftrl_ref(shrinkage), dtypes=FLOATS,
                 grad=False)]


@samples("SparseApplyFtrl")
def _sparse_ftrl():
    return _sparse_ftrl_cases(False, -0.5, T.sparse_apply_ftrl)


@samples("SparseApplyFtrlV2")
def _sparse_ftrl_v2():
    return _sparse_ftrl_cases(True, -0.6, T.sparse_apply_ftrl_v2)


def _l1_cases(n_refs, fn, ins, ref, l1_at, no_l1_name):
    """A case, and the same with l1 = 0 (where TF's kernels take their other branch)."""
    no_l1 = ins[:l1_at] + [np.array(0.0)] + ins[l1_at + 1:]
    return [Case(_stateful(n_refs, fn), ins, ref, dtypes=FLOATS, grad=False),
            Case(_stateful(n_refs, fn), no_l1, ref, dtypes=FLOATS, grad=False, name=no_l1_name)]


@samples("ApplyProximalGradientDescent")
def _apply_pgd():
    ins = [_rand(4, 3), np.array(0.5), np.array(0.2), np.array(0.3), _rand(4, 3)]
    scalar = [np.array(0.3), np.array(0.5), np.array(0.2), np.array(0.1), np.array(-0.4)]
    return _l1_cases(1, T.apply_proximal_gradient_descent, ins, _pgd_ref, 2, "l2_only") + [
        Case(_stateful(1, T.apply_proximal_gradient_descent), scalar, _pgd_ref, dtypes=FLOATS, grad=False,
             name="scalar")]


@samples("SparseApplyProximalGradientDescent")
def _sparse_pgd():
    ins = [_rand(4, 3), np.array(0.5), np.array(0.2), np.array(0.3), _rand(3, 3), _SIDX]
    return [Case(_stateful(1, T.sparse_apply_proximal_gradient_descent), ins, _sparse_ref(_pgd_ref, 1, 4),
                 dtypes=FLOATS, grad=False)]


@samples("ApplyProximalAdagrad")
def _apply_padagrad():
    ins = [_rand(5), _pos(5), np.array(0.3), np.array(0.1), np.array(0.2), _rand(5)]
    return _l1_cases(2, T.apply_proximal_adagrad, ins, _padagrad_ref, 3, "l2_only")


@samples("SparseApplyProximalAdagrad")
def _sparse_padagrad():
    ins = [_rand(4, 2), _pos(4, 2), np.array(0.3), np.array(0.1), np.array(0.2), _rand(3, 2), _SIDX]
    return [Case(_stateful(2, T.sparse_apply_proximal_adagrad), ins, _sparse_ref(_padagrad_ref, 2, 5),
                 dtypes=FLOATS, grad=False)]


def _adagrad_da_ref(v, ga, gga, g, lr, l1, l2, step):
    ga = ga + g
    gga = gga + g * g
    t = float(step)
    denom = l2 * t * lr + np.sqrt(gga)
    if l1 > 0:
        new_v = -lr * np.sign(ga) * np.maximum(np.abs(ga) - l1 * t, 0) / denom
    else:
        new_v = -lr * ga / denom
    return [new_v.astype(v.dtype), ga, gga]


@samples("ApplyAdagradDA")
def _apply_adagrad_da():
    ins = [_rand(3, 2), _rand(3, 2), _pos(3, 2), _rand(3, 2), np.array(0.5), np.array(0.05), np.array(0.1),
           np.array(3, np.int64)]
    return _l1_cases(3, T.apply_adagrad_da, ins, _adagrad_da_ref, 5, "no_l1")


@samples("SparseApplyAdagradDA")
def _sparse_adagrad_da():
    ins = [_rand(4, 2), _rand(4, 2), _pos(4, 2), _rand(3, 2), _SIDX, np.array(0.5), np.array(0.05), np.array(0.1),
           np.array(2, np.int64)]
    return [Case(_stateful(3, T.sparse_apply_adagrad_da), ins, _sparse_ref(_adagrad_da_ref, 3, 3), dtypes=FLOATS,
                 grad=False)]
