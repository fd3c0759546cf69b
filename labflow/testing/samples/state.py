"""Sweep samples for the state ops (variables, assignment, scatter) and the optimizers' apply ops.

These ops are stateful, but a Case can still express them: the sample creates a fresh (uninitialized)
VariableV2 per input, initializes it from the fed value with Assign, and runs the op under a control
dependency on those assigns. The fetched ref output is the updated variable; slot values are read after
the update. References are NumPy re-implementations of TF 1.x's kernels (training_ops.cc). Multi-step
optimizer behaviour (slots, Adam's bias correction, global step) is tested in tests/train/test_optimizers.py.
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.ops import state_ops
from labflow.ops.common import make_op
from labflow.testing.op_sweep import Case, samples
from labflow.train import training_ops as T

R = np.random.RandomState(7)
FLOATS = (_dt.float16, _dt.float32, _dt.float64)


def _var(x):
    """A fresh variable shaped like `x` and the Assign that initializes it from `x`."""
    v = state_ops.variable_op_v2(x.get_shape(), x.dtype)
    return v, tf.assign(v, x)


def _after(deps, fn):
    with tf.control_dependencies(deps):
        return fn()


def _read_after(op, refs):
    """Reads of `refs` that run after `op`."""
    with tf.control_dependencies([op.op]):
        return [tf.identity(r) for r in refs]


def _stateful(n_refs, fn):
    """build(*inputs): the first n_refs inputs initialize variables; returns fn's update + slot reads."""
    def build(*xs):
        pairs = [_var(x) for x in xs[:n_refs]]
        refs = [p[0] for p in pairs]
        out = _after([p[1] for p in pairs], lambda: fn(*refs, *xs[n_refs:]))
        return [out] + _read_after(out, refs[1:])
    return build


def _rand(*shape):
    return R.rand(*shape) - 0.5


def _pos(*shape):
    return R.rand(*shape) + 0.5


# -- variables and assignment -------------------------------------------------------------------------
@samples("VariableV2", "Assign")
def _assign():
    def build(x):
        v, a = _var(x)
        return [a, _after([a], lambda: tf.identity(v))]

    def build_reshape(x):
        v = state_ops.variable_op_v2(None, x.dtype)
        return tf.assign(v, x, validate_shape=False)

    return [Case(build, [_rand(3, 4)], lambda x: [x, x], dtypes=FLOATS, grad=False),
            Case(build, [np.arange(6, dtype=np.int32).reshape(2, 3)], lambda x: [x, x], grad=False,
                 name="int32"),
            Case(build, [np.array([True, False])], lambda x: [x, x], grad=False, name="bool"),
            Case(build_reshape, [_rand(5)], lambda x: x, grad=False, name="unknown_shape")]


@samples("AssignAdd")
def _assign_add():
    return [Case(_stateful(1, tf.assign_add), [_rand(2, 3), _rand(2, 3)], lambda x, y: x + y, dtypes=FLOATS,
                 grad=False),
            Case(_stateful(1, tf.assign_add), [np.array([1, 2], np.int64), np.array([5, -7], np.int64)],
                 lambda x, y: x + y, grad=False, name="int64")]


@samples("_AssignMul")
def _assign_mul():
    mul = lambda ref, c: make_op("_AssignMul", [ref, c]).outputs[0]  # noqa: E731
    return [Case(_stateful(1, mul), [_rand(2, 3), _rand(2, 3)], lambda x, y: x * y, dtypes=FLOATS, grad=False),
            Case(_stateful(1, mul), [_rand(2, 3), np.array(0.9)], lambda x, y: x * y, dtypes=FLOATS, grad=False,
                 name="scalar"),  # what runtime/fusion.py makes of Adam's beta1_power.assign(beta1_power * beta1)
            Case(_stateful(1, mul), [np.array([1, 2], np.int32), np.array([5, -7], np.int32)],
                 lambda x, y: x * y, grad=False, name="int32")]


@samples("AssignSub")
def _assign_sub():
    return [Case(_stateful(1, tf.assign_sub), [_rand(4), _rand(4)], lambda x, y: x - y, dtypes=FLOATS,
                 grad=False),
            Case(_stateful(1, tf.assign_sub), [np.array([1, 2], np.int32), np.array([5, -7], np.int32)],
                 lambda x, y: x - y, grad=False, name="int32")]


@samples("IsVariableInitialized")
def _is_initialized():
    def build(x):
        v, a = _var(x)
        other = state_ops.variable_op_v2(x.get_shape(), x.dtype)
        return [_after([a], lambda: tf.is_variable_initialized(v)), tf.is_variable_initialized(other)]
    return [Case(build, [_rand(2)], lambda x: [np.array(True), np.array(False)], grad=False)]


# -- scatter ------------------------------------------------------------------------------------------------
def _np_scatter(fn):
    def ref(x, idx, u):
        out = x.copy()
        fn(out, idx, u)
        return out
    return ref


_IDX = np.array([3, 0, 3], np.int32)  # a duplicate: ScatterAdd/Sub accumulate it


@samples("ScatterAdd")
def _scatter_add():
    return [Case(_stateful(1, tf.scatter_add), [_rand(5, 2), _IDX, _rand(3, 2)], _np_scatter(np.add.at),
                 dtypes=FLOATS, grad=False),
            Case(_stateful(1, tf.scatter_add), [np.arange(4, dtype=np.int32),
                                                np.array([[1, 2], [1, 0]], np.int64),
                                                np.array([[10, 20], [30, 40]], np.int32)],
                 _np_scatter(np.add.at), grad=False, name="int32_2d_indices")]


@samples("ScatterSub")
def _scatter_sub():
    return [Case(_stateful(1, tf.scatter_sub), [_rand(5, 2), _IDX, _rand(3, 2)], _np_scatter(np.subtract.at),
                 dtypes=FLOATS, grad=False)]


@samples("ScatterUpdate")
def _scatter_update():
    def setitem(out, idx, u):
        out[idx] = u
    return [Case(_stateful(1, tf.scatter_update), [_rand(5, 2), np.array([4, 1], np.int32), _rand(2, 2)],
                 _np_scatter(setitem), dtypes=FLOATS, grad=False),
            Case(_stateful(1, tf.scatter_update), [np.arange(5, dtype=np.int64), np.array([0], np.int32),
                                                   np.array([9], np.int64)],
                 _np_scatter(setitem), grad=False, name="int64")]


# -- dense apply ops --------------------------------------------------------------------------------------
@samples("ApplyGradientDescent")
def _apply_gd():
    return [Case(_stateful(1, T.apply_gradient_descent), [_rand(3, 2), np.array(0.1), _rand(3, 2)],
                 lambda v, lr, g: v - lr * g, dtypes=FLOATS, grad=False),
            Case(_stateful(1, T.apply_gradient_descent), [np.array(0.5), np.array(0.1), np.array(2.0)],
                 lambda v, lr, g: v - lr * g, dtypes=FLOATS, grad=False, name="scalar")]


def _momentum_ref(nesterov):
    def ref(v, a, lr, g, m):
        a = a * m + g
        step = (g * lr + a * m * lr) if nesterov else a * lr
        return [v - step, a]
    return ref


@samples("ApplyMomentum")
def _apply_momentum():
    ins = [_rand(4, 3), _rand(4, 3), np.array(0.1), _rand(4, 3), np.array(0.9)]
    scalar = [np.array(0.2), np.array(0.1), np.array(0.1), np.array(-0.3), np.array(0.9)]
    return [Case(_stateful(2, T.apply_momentum), ins, _momentum_ref(False), dtypes=FLOATS, grad=False),
            Case(_stateful(2, T.apply_momentum), scalar, _momentum_ref(False), dtypes=FLOATS, grad=False,
                 name="scalar"),
            Case(_stateful(2, lambda *a: T.apply_momentum(*a, use_nesterov=True)), ins, _momentum_ref(True),
                 dtypes=FLOATS, grad=False, name="nesterov")]


@samples("ApplyAdagrad")
def _apply_adagrad():
    def ref(v, a, lr, g):
        a = a + g * g
        return [v - lr * g / np.sqrt(a), a]
    return [Case(_stateful(2, T.apply_adagrad), [_rand(5), _pos(5), np.array(0.1), _rand(5)], ref,
                 dtypes=FLOATS, grad=False),
            Case(_stateful(2, T.apply_adagrad), [np.array(0.3), np.array(1.5), np.array(0.1), np.array(-0.4)],
                 ref, dtypes=FLOATS, grad=False, name="scalar")]


def _rms_ref(v, ms, mom, lr, rho, momentum, eps, g):
    ms = ms + (g * g - ms) * (1 - rho)
    mom = mom * momentum + lr * g / np.sqrt(ms + eps)
    return [v - mom, ms, mom]


@samples("ApplyRMSProp")
def _apply_rms():
    ins = [_rand(3, 3), _pos(3, 3), _rand(3, 3), np.array(0.01), np.array(0.9), np.array(0.5), np.array(1e-3),
           _rand(3, 3)]
    scalar = [np.array(0.2), np.array(1.2), np.array(0.1)] + ins[3:7] + [np.array(-0.3)]
    return [Case(_stateful(3, T.apply_rms_prop), ins, _rms_ref, dtypes=FLOATS, grad=False),
            Case(_stateful(3, T.apply_rms_prop), scalar, _rms_ref, dtypes=FLOATS, grad=False, name="scalar")]


def _centered_ref(v, mg, ms, mom, lr, rho, momentum, eps, g):
    mg = mg + (g - mg) * (1 - rho)
    ms = ms + (g * g - ms) * (1 - rho)
    mom = mom * momentum + lr * g / np.sqrt(ms - mg * mg + eps)
    return [v - mom, mg, ms, mom]


@samples("ApplyCenteredRMSProp")
def _apply_centered_rms():
    ins = [_rand(4), _rand(4) * 0.1, _pos(4), _rand(4), np.array(0.01), np.array(0.9), np.array(0.5),
           np.array(1e-3), _rand(4)]
    scalar = [np.array(0.2), np.array(0.05), np.array(1.2), np.array(0.1)] + ins[4:8] + [np.array(-0.3)]
    return [Case(_stateful(4, T.apply_centered_rms_prop), ins, _centered_ref, dtypes=FLOATS, grad=False),
            Case(_stateful(4, T.apply_centered_rms_prop), scalar, _centered_ref, dtypes=FLOATS, grad=False,
                 name="scalar")]


def _adam_ref(nesterov):
    def ref(w, m, v, b1p, b2p, lr, b1, b2, eps, g):
        alpha = lr * np.sqrt(1 - b2p) / (1 - b1p)
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        num = (g * (1 - b1) + b1 * m) if nesterov else m
        return [w - alpha * num / (np.sqrt(v) + eps), m, v]
    return ref


@samples("ApplyAdam")
def _apply_adam():
    ins = [_rand(3, 2), _rand(3, 2), _pos(3, 2), np.array(0.9 ** 2), np.array(0.999 ** 2), np.array(0.01),
           np.array(0.9), np.array(0.999), np.array(1e-3), _rand(3, 2)]
    scalar = [np.array(0.2), np.array(0.1), np.array(0.5)] + ins[3:9] + [np.array(-0.3)]
    return [Case(_stateful(3, T.apply_adam), ins, _adam_ref(False), dtypes=FLOATS, grad=False),
            Case(_stateful(3, T.apply_adam), scalar, _adam_ref(False), dtypes=FLOATS, grad=False,
                 name="scalar"),
            Case(_stateful(3, lambda *a: T.apply_adam(*a, use_nesterov=True)), ins, _adam_ref(True),
                 dtypes=FLOATS, grad=False, name="nesterov")]


def _multi_adam(nesterov):
    """build(w0, m0, v0, w1, m1, v1, g0, g1, six scalars): two variables' updates as one
    _MultiApplyAdam (as runtime/fusion.py makes it), then every variable and slot read after it."""
    def build(*xs):
        pairs = [_var(x) for x in xs[:6]]
        refs = [p[0] for p in pairs]
        update = _after([p[1] for p in pairs], lambda: make_op(
            "_MultiApplyAdam", refs + list(xs[6:]), {"N": 2, "use_nesterov": nesterov}))
        with tf.control_dependencies([update]):
            return [tf.identity(r) for r in refs]

    def ref(w0, m0, v0, w1, m1, v1, g0, g1, *scalars):
        one = _adam_ref(nesterov)
        return one(w0, m0, v0, *scalars, g0) + one(w1, m1, v1, *scalars, g1)
    return build, ref


@samples("_MultiApplyAdam")
def _multi_apply_adam():
    scalars = [np.array(0.9 ** 2), np.array(0.999 ** 2), np.array(0.01), np.array(0.9), np.array(0.999),
               np.array(1e-3)]
    ins = [_rand(3, 2), _rand(3, 2), _pos(3, 2), _rand(4), _rand(4), _pos(4), _rand(3, 2), _rand(4)] + scalars
    return [Case(build, ins, ref, dtypes=FLOATS, grad=False, unknown_shapes=False, name=name)
            for name, (build, ref) in (("", _multi_adam(False)), ("nesterov", _multi_adam(True)))]


@samples("_MultiApplyGradientDescent")
def _multi_apply_gradient_descent():
    def build(w0, w1, d0, d1, alpha):
        pairs = [_var(x) for x in (w0, w1)]
        refs = [p[0] for p in pairs]
        update = _after([p[1] for p in pairs], lambda: make_op("_MultiApplyGradientDescent",
                                                               refs + [d0, d1, alpha], {"N": 2}))
        with tf.control_dependencies([update]):
            return [tf.identity(r) for r in refs]
    return [Case(build, [_rand(3, 2), _rand(5), _rand(3, 2), _rand(5), np.array(0.3)],
                 lambda w0, w1, d0, d1, a: [w0 - d0 * a, w1 - d1 * a], dtypes=FLOATS, grad=False,
                 unknown_shapes=False)]


# -- sparse apply ops (rows 2 and 0; row 2 twice: duplicates are summed first) -------------------------
_SIDX = np.array([2, 0, 2], np.int64)


def _dedup(g, idx):
    uniq, inv = np.unique(idx, return_inverse=True)
    out = np.zeros((len(uniq),) + g.shape[1:], g.dtype)
    np.add.at(out, inv, g)
    return out, uniq


def _sparse_ref(dense_ref, n_refs, grad_pos):
    """Applies `dense_ref` to the indexed rows of the first n_refs (variable, slots) inputs."""
    def ref(*xs):
        xs = list(xs)
        g, idx = _dedup(xs[grad_pos], xs[grad_pos + 1])
        args = [x[idx] for x in xs[:n_refs]] + xs[n_refs:grad_pos] + [g] + xs[grad_pos + 2:]
        rows = dense_ref(*args)
        rows = rows if isinstance(rows, list) else [rows]
        outs = [x.copy() for x in xs[:n_refs]]
        for o, r in zip(outs, rows):
            o[idx] = r
        return outs
    return ref


@samples("SparseApplyMomentum")
def _sparse_momentum():
    ins = [_rand(4, 3), _rand(4, 3), np.array(0.1), _rand(3, 3), _SIDX, np.array(0.9)]
    return [Case(_stateful(2, T.sparse_apply_momentum), ins, _sparse_ref(_momentum_ref(False), 2, 3),
                 dtypes=FLOATS, grad=False),
            Case(_stateful(2, lambda *a: T.sparse_apply_momentum(*a, use_nesterov=True)), ins,
                 _sparse_ref(_momentum_ref(True), 2, 3), dtypes=FLOATS, grad=False, name="nesterov")]


@samples("SparseApplyAdagrad")
def _sparse_adagrad():
    def dense(v, a, lr, g):
        a = a + g * g
        return [v - lr * g / np.sqrt(a), a]
    ins = [_rand(4, 2), _pos(4, 2), np.array(0.1), _rand(3, 2), _SIDX]
    return [Case(_stateful(2, T.sparse_apply_adagrad), ins, _sparse_ref(dense, 2, 3), dtypes=FLOATS,
                 grad=False)]


@samples("SparseApplyRMSProp")
def _sparse_rms():
    ins = [_rand(4, 2), _pos(4, 2), _rand(4, 2), np.array(0.01), np.array(0.9), np.array(0.5), np.array(1e-3),
           _rand(3, 2), _SIDX]
    return [Case(_stateful(3, T.sparse_apply_rms_prop), ins, _sparse_ref(_rms_ref, 3, 7), dtypes=FLOATS,
                 grad=False)]


@samples("SparseApplyCenteredRMSProp")
def _sparse_centered_rms():
    ins = [_rand(4, 2), _rand(4, 2) * 0.1, _pos(4, 2), _rand(4, 2), np.array(0.01), np.array(0.9),
           np.array(0.5), np.array(1e-3), _rand(3, 2), _SIDX]
    return [Case(_stateful(4, T.sparse_apply_centered_rms_prop), ins, _sparse_ref(_centered_ref, 4, 8),
                 dtypes=FLOATS, grad=False)]


@samples("CountUpTo")
def _count_up_to():
    def build(x):
        v, init = _var(x)
        with tf.control_dependencies([init]):
            return tf.count_up_to(v, 100)

    return [Case(build, [np.asarray(7, np.int64)], lambda x: x, grad=False),
            Case(build, [np.asarray(3, np.int32)], lambda x: x, grad=False, name="int32")]
