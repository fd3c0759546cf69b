"""The optimizers' update ops (TF's training_ops): fused, in-place updates of a variable and its slots.

Each kernel receives the variable (and slot) `VarRef`s and updates the stored arrays in place with
NumPy/CuPy `out=` arithmetic, allocating at most one or two temporaries the size of the gradient. The
formulas are TF 1.x's (tensorflow/core/kernels/training_ops.cc). The Sparse* kernels update only the
rows named by `indices`; duplicate indices are summed first, which is what TF's Optimizer does before
calling them (`_apply_sparse_duplicate_indices`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.backend import threads
from labflow.framework.registry import op
from labflow.framework.shapes import shape_str
from labflow.framework.tensor import Tensor
from labflow.ops.common import FLOAT_TYPES, INDEX_TYPES, convert_to_tensor, dims, make_tensor, merge_dims
from labflow.ops.state_ops import as_ref, check_ref, check_scalar
from labflow.runtime.devices import deref
from labflow.train import gpu_update_kernels

# input name -> role: "ref" (variable or slot), "scalar" (hyperparameter), "dense" (like var), "grad", "idx",
# "step" (an int64 scalar: AdagradDA's global step)
_SIGS = {
    "ApplyGradientDescent": ("var:ref", "alpha:scalar", "delta:dense"),
    "ApplyMomentum": ("var:ref", "accum:ref", "lr:scalar", "grad:dense", "momentum:scalar"),
    "ApplyAdagrad": ("var:ref", "accum:ref", "lr:scalar", "grad:dense"),
    "ApplyRMSProp": ("var:ref", "ms:ref", "mom:ref", "lr:scalar", "rho:scalar", "momentum:scalar",
                     "epsilon:scalar", "grad:dense"),
    "ApplyCenteredRMSProp": ("var:ref", "mg:ref", "ms:ref", "mom:ref", "lr:scalar", "rho:scalar",
                             "momentum:scalar", "epsilon:scalar", "grad:dense"),
    "ApplyAdam": ("var:ref", "m:ref", "v:ref", "beta1_power:scalar", "beta2_power:scalar", "lr:scalar",
                  "beta1:scalar", "beta2:scalar", "epsilon:scalar", "grad:dense"),
    "SparseApplyMomentum": ("var:ref", "accum:ref", "lr:scalar", "grad:grad", "indices:idx",
                            "momentum:scalar"),
    "SparseApplyAdagrad": ("var:ref", "accum:ref", "lr:scalar", "grad:grad", "indices:idx"),
    "SparseApplyRMSProp": ("var:ref", "ms:ref", "mom:ref", "lr:scalar", "rho:scalar", "momentum:scalar",
                           "epsilon:scalar", "grad:grad", "indices:idx"),
    "SparseApplyCenteredRMSProp": ("var:ref", "mg:ref", "ms:ref", "mom:ref", "lr:scalar", "rho:scalar",
                                   "momentum:scalar", "epsilon:scalar", "grad:grad", "indices:idx"),
}


def _shape_fn(op_type: str):
    sig = [s.split(":") for s in _SIGS[op_type]]

    def fn(ins, attrs):
        var = ins[0]
        vd = dims(var)
        idx_d = None
        for i, ((name, role), t) in enumerate(zip(sig, ins)):
            if role == "ref":
                check_ref(ins, op_type, name, i)
            if role in ("ref", "dense"):
                try:
                    vd = merge_dims(vd, dims(t))
                except ValueError as e:
                    raise ValueError(f"{e} (input '{name}' must have the shape of 'var')") from None
            elif role in ("scalar", "step"):
                check_scalar(t, name)
            elif role == "idx":
                idx_d = dims(t)
                if idx_d is not None and len(idx_d) != 1:
                    raise ValueError(f"Shape must be rank 1 but is rank {len(idx_d)} (indices must be a "
                                     "vector)")
        if op_type.startswith("Sparse"):
            gd = dims(ins[[n for n, _ in sig].index("grad")])
            if gd is not None and vd is not None:
                if len(gd) != len(vd):
                    raise ValueError(f"Shapes must be equal rank, but are {len(gd)} and {len(vd)} (grad must "
                                     f"be [len(indices)] + var.shape[1:], got grad {shape_str(gd)}, var "
                                     f"{shape_str(vd)})")
                merge_dims(gd[1:], vd[1:])
            if gd is not None and idx_d is not None:
                merge_dims(gd[:1], idx_d)
        return var.dtype, vd
    return fn


def _declare(op_type: str, extra_attrs: dict | None = None):
    names = [s.split(":")[0] for s in _SIGS[op_type]]
    roles = [s.split(":")[1] for s in _SIGS[op_type]]
    attrs = {"use_locking": False, **(extra_attrs or {})}
    if "idx" in roles:
        attrs["Tindices"] = _dt.int32
    return op(op_type, inputs=tuple(names), attrs=attrs, types=FLOAT_TYPES,
              type_inputs=tuple(n for n, r in zip(names, roles) if r not in ("idx", "step")), shape=_shape_fn(op_type),
              ref_inputs=tuple(i for i, r in enumerate(roles) if r == "ref"), stateful=True,
              not_differentiable=True)


# -- dense kernels ------------------------------------------------------------------------------------
@_declare("ApplyGradientDescent")
def apply_gradient_descent_kernel(xp, var, alpha, delta, *, use_locking):
    sgd_update(xp, deref(var), alpha, delta)
    return var


def sgd_update(xp, v, alpha, delta) -> None:
    """ApplyGradientDescent's update of the array `v`, in place."""
    if xp is np and v.size >= 2 * _ADAM_CHUNK and v.flags.c_contiguous and v.shape == delta.shape:
        # In cache-sized blocks split over the intra-op threads: no variable-sized temporary.
        vf, df = v.reshape(-1), np.ascontiguousarray(delta).reshape(-1)

        def block(s: int, e: int, tmp: np.ndarray) -> None:
            np.multiply(df[s:e], alpha, out=tmp)
            vf[s:e] -= tmp

        _in_blocks(vf.size, v.dtype, 1, block)
        return
    if xp is not np and gpu_update_kernels.apply_gradient_descent(xp, v, alpha, delta):
        return
    v -= xp.multiply(delta, alpha)


@_declare("ApplyMomentum", {"use_nesterov": False})
def apply_momentum_kernel(xp, var, accum, lr, grad, momentum, *, use_locking, use_nesterov):
    v, a = deref(var), deref(accum)
    a *= momentum
    a += grad
    if use_nesterov:
        tmp = xp.multiply(a, momentum)
        tmp += grad
        tmp *= lr
    else:
        tmp = xp.multiply(a, lr)
    v -= tmp
    return var


@_declare("ApplyAdagrad", {"update_slots": True})
def apply_adagrad_kernel(xp, var, accum, lr, grad, *, use_locking, update_slots):
    v, a = deref(var), deref(accum)
    tmp = xp.empty_like(v)  # an array even for 0-d variables (ufuncs return scalars there), so out= works
    if update_slots:
        xp.square(grad, out=tmp)
        a += tmp
    xp.sqrt(a, out=tmp)
    xp.divide(grad, tmp, out=tmp)
    tmp *= lr
    v -= tmp
    return var


def _rms_update(xp, ms, grad, rho, tmp):
    # ms += (grad^2 - ms) * (1 - rho)
    xp.square(grad, out=tmp)
    tmp -= ms
    tmp *= 1 - rho
    ms += tmp


@_declare("ApplyRMSProp")
def apply_rms_prop_kernel(xp, var, ms, mom, lr, rho, momentum, epsilon, grad, *, use_locking):
    v, s, m = deref(var), deref(ms), deref(mom)
    tmp = xp.empty_like(v)
    _rms_update(xp, s, grad, rho, tmp)
    xp.add(s, epsilon, out=tmp)
    xp.sqrt(tmp, out=tmp)
    xp.divide(grad, tmp, out=tmp)
    tmp *= lr
    m *= momentum
    m += tmp
    v -= m
    return var


@_declare("ApplyCenteredRMSProp")
def apply_centered_rms_prop_kernel(xp, var, mg, ms, mom, lr, rho, momentum, epsilon, grad, *, use_locking):
    v, g_avg, s, m = deref(var), deref(mg), deref(ms), deref(mom)
    tmp = xp.empty_like(v)
    _rms_update(xp, s, grad, rho, tmp)
    xp.subtract(grad, g_avg, out=tmp)
    tmp *= 1 - rho
    g_avg += tmp
    xp.square(g_avg, out=tmp)
    xp.subtract(s, tmp, out=tmp)
    tmp += epsilon
    xp.sqrt(tmp, out=tmp)
    xp.divide(grad, tmp, out=tmp)
    tmp *= lr
    m *= momentum
    m += tmp
    v -= m
    return var


@_declare("ApplyAdam", {"use_nesterov": False})
def apply_adam_kernel(xp, var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad, *,
                      use_locking, use_nesterov):
    adam_update(xp, deref(var), deref(m), deref(v), beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad,
                use_nesterov)
    return var


def adam_update(xp, w, m_, v_, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad, use_nesterov) -> None:
    """ApplyAdam's update of the arrays `w`, `m_`, `v_`, in place."""
    if xp is not np and gpu_update_kernels.apply_adam(xp, w, m_, v_, beta1_power, beta2_power, lr, beta1, beta2,
                                                      epsilon, grad, use_nesterov):
        return
    alpha = lr * xp.sqrt(1 - beta2_power) / (1 - beta1_power)
    if xp is np and w.size >= 2 * _ADAM_CHUNK and w.flags.c_contiguous and m_.flags.c_contiguous \
            and v_.flags.c_contiguous:
        # ~10 passes over var/m/v/grad: walking them in cache-sized chunks keeps every pass in L2
        # (1.8x faster on the CNN's 3.2M-parameter layer); the arithmetic per element is unchanged.
        # The chunks are also split over the intra-op threads (each part with its own scratch).
        g = np.ascontiguousarray(grad).reshape(-1)
        wf, mf, vf = w.reshape(-1), m_.reshape(-1), v_.reshape(-1)

        def block(s: int, e: int, t1: np.ndarray, t2: np.ndarray) -> None:
            _adam_block(xp, wf[s:e], mf[s:e], vf[s:e], g[s:e], t1, t2, alpha, beta1, beta2, epsilon,
                        use_nesterov)

        _in_blocks(wf.size, w.dtype, 2, block)
        return
    _adam_block(xp, w, m_, v_, grad, xp.empty_like(w), xp.empty_like(w), alpha, beta1, beta2, epsilon,
                use_nesterov)


# Elements per block of the blocked updates: measured on the CNN's 3.2M-parameter layer, 1 << 17 ran Adam
# in 6.7 ms on two threads and 10.8 ms on one, 1 << 15 in 9.2 and 12.5 ms (fewer NumPy calls per element,
# while the blocks still come from cache).
_ADAM_CHUNK = 1 << 17


def _in_blocks(n: int, dtype: Any, scratch: int, block: Any) -> None:
    """block(s, e, *scratch) over [0, n) in _ADAM_CHUNK-element blocks, the blocks split over the intra-op
    threads; each thread gets its own `scratch` temporaries of the block's length."""
    def part(lo: int, hi: int) -> None:
        bufs = [np.empty(_ADAM_CHUNK, dtype) for _ in range(scratch)]
        for s in range(lo, hi, _ADAM_CHUNK):
            e = min(hi, s + _ADAM_CHUNK)
            block(s, e, *(b[:e - s] for b in bufs))

    threads.parallel_for(n, part, 2 * _ADAM_CHUNK)


def _adam_block(xp, w, m_, v_, grad, tmp, den, alpha, beta1, beta2, epsilon, use_nesterov):
    xp.subtract(grad, m_, out=tmp)
    tmp *= 1 - beta1
    m_ += tmp
    xp.square(grad, out=tmp)
    tmp -= v_
    tmp *= 1 - beta2
    v_ += tmp
    xp.sqrt(v_, out=den)
    den += epsilon
    if use_nesterov:
        xp.multiply(grad, 1 - beta1, out=tmp)
        tmp += beta1 * m_
        tmp *= alpha
    else:
        xp.multiply(m_, alpha, out=tmp)
    tmp /= den
    w -= tmp


# -- sparse kernels -----------------------------------------------------------------------------------
def _unique_rows(xp, grad, indices):
    """Sums the gradient rows of duplicate indices; returns (rows, unique indices)."""
    uniq, inv = xp.unique(indices, return_inverse=True)
    if uniq.shape[0] == indices.shape[0]:
        return grad, indices
    out = xp.zeros((uniq.shape[0],) + tuple(grad.shape[1:]), dtype=grad.dtype)
    xp.add.at(out, inv.reshape(-1), grad)
    return out, uniq


@_declare("SparseApplyMomentum", {"use_nesterov": False})
def sparse_apply_momentum_kernel(xp, var, accum, lr, grad, indices, momentum, *, use_locking, use_nesterov,
                                 Tindices):
    v, a = deref(var), deref(accum)
    g, idx = _unique_rows(xp, grad, indices)
    rows = a[idx]
    rows *= momentum
    rows += g
    a[idx] = rows
    if use_nesterov:
        rows *= momentum
        rows += g
    rows *= lr
    v[idx] -= rows
    return var


@_declare("SparseApplyAdagrad", {"update_slots": True})
def sparse_apply_adagrad_kernel(xp, var, accum, lr, grad, indices, *, use_locking, update_slots, Tindices):
    v, a = deref(var), deref(accum)
    g, idx = _unique_rows(xp, grad, indices)
    rows = a[idx]
    if update_slots:
        rows += xp.square(g)
        a[idx] = rows
    xp.sqrt(rows, out=rows)
    xp.divide(g, rows, out=rows)
    rows *= lr
    v[idx] -= rows
    return var


def _sparse_rms(xp, var, mg, ms, mom, lr, rho, momentum, epsilon, grad, indices):
    v, s, m = deref(var), deref(ms), deref(mom)
    g, idx = _unique_rows(xp, grad, indices)
    s_rows = s[idx]
    _rms_update(xp, s_rows, g, rho, xp.empty_like(s_rows))
    s[idx] = s_rows
    if mg is not None:
        a = deref(mg)
        mg_rows = a[idx]
        mg_rows += (g - mg_rows) * (1 - rho)
        a[idx] = mg_rows
        s_rows -= xp.square(mg_rows)
    s_rows += epsilon
    xp.sqrt(s_rows, out=s_rows)
    xp.divide(g, s_rows, out=s_rows)
    s_rows *= lr
    m_rows = m[idx]
    m_rows *= momentum
    m_rows += s_rows
    m[idx] = m_rows
    v[idx] -= m_rows


@_declare("SparseApplyRMSProp")
def sparse_apply_rms_prop_kernel(xp, var, ms, mom, lr, rho, momentum, epsilon, grad, indices, *, use_locking,
                                 Tindices):
    _sparse_rms(xp, var, None, ms, mom, lr, rho, momentum, epsilon, grad, indices)
    return var


@_declare("SparseApplyCenteredRMSProp")
def sparse_apply_centered_rms_prop_kernel(xp, var, mg, ms, mom, lr, rho, momentum, epsilon, grad, indices, *,
                                          use_locking, Tindices):
    _sparse_rms(xp, var, mg, ms, mom, lr, rho, momentum, epsilon, grad, indices)
    return var


# -- wrappers ---------------------------------------------------------------------------------------------
def _apply(op_type: str, args: list, attrs: dict, name: str | None) -> Tensor:
    roles = [s.split(":")[1] for s in _SIGS[op_type]]
    names = [s.split(":")[0] for s in _SIGS[op_type]]
    var = as_ref(args[0], "var")
    dt = var.dtype.base_dtype
    ins: list[Tensor] = []
    for a, role, n in zip(args, roles, names):
        if role == "ref":
            ins.append(as_ref(a, n))
        elif role == "idx":
            t = convert_to_tensor(a, dtype_hint=_dt.int32, name=n)
            if t.dtype.base_dtype not in INDEX_TYPES:
                raise TypeError(f"Value passed to parameter 'indices' has DataType {t.dtype.name} not in "
                                f"list of allowed values: int32, int64 (op {op_type})")
            attrs["Tindices"] = t.dtype.base_dtype
            ins.append(t)
        elif role == "step":
            t = convert_to_tensor(a, dtype_hint=_dt.int64, name=n)
            if t.dtype.base_dtype != _dt.int64:
                raise TypeError(f"Input '{n}' of '{op_type}' Op has type {t.dtype.base_dtype.name} that does not "
                                "match expected type of int64.")
            ins.append(t)
        else:
            ins.append(convert_to_tensor(a, dtype=dt, name=n))
    return make_tensor(op_type, ins, attrs, name or op_type)


def apply_gradient_descent(var: Any, alpha: Any, delta: Any, use_locking: bool = False,
                           name: str | None = None) -> Tensor:
    """var -= alpha * delta, in place. Returns the variable's ref."""
    return _apply("ApplyGradientDescent", [var, alpha, delta], {"use_locking": use_locking}, name)


def apply_momentum(var: Any, accum: Any, lr: Any, grad: Any, momentum: Any, use_locking: bool = False,
                   use_nesterov: bool = False, name: str | None = None) -> Tensor:
    """accum = accum * momentum + grad; var -= lr * accum (Nesterov: lr * (grad + momentum * accum))."""
    return _apply("ApplyMomentum", [var, accum, lr, grad, momentum],
                  {"use_locking": use_locking, "use_nesterov": use_nesterov}, name)


def apply_adagrad(var: Any, accum: Any, lr: Any, grad: Any, use_locking: bool = False,
                  update_slots: bool = True, name: str | None = None) -> Tensor:
    """accum += grad^2; var -= lr * grad / sqrt(accum)."""
    return _apply("ApplyAdagrad", [var, accum, lr, grad], {"use_locking": use_locking,
                                                           "update_slots": update_slots}, name)


def apply_rms_prop(var: Any, ms: Any, mom: Any, lr: Any, rho: Any, momentum: Any, epsilon: Any, grad: Any,
                   use_locking: bool = False, name: str | None = None) -> Tensor:
    """ms = rho ms + (1-rho) grad^2; mom = momentum mom + lr grad / sqrt(ms + epsilon); var -= mom."""
    return _apply("ApplyRMSProp", [var, ms, mom, lr, rho, momentum, epsilon, grad],
                  {"use_locking": use_locking}, name)


def apply_centered_rms_prop(var: Any, mg: Any, ms: Any, mom: Any, lr: Any, rho: Any, momentum: Any,
                            epsilon: Any, grad: Any, use_locking: bool = False,
                            name: str | None = None) -> Tensor:
    """Like apply_rms_prop, with mg = rho mg + (1-rho) grad and denominator sqrt(ms - mg^2 + epsilon)."""
    return _apply("ApplyCenteredRMSProp", [var, mg, ms, mom, lr, rho, momentum, epsilon, grad],
                  {"use_locking": use_locking}, name)


def apply_adam(var: Any, m: Any, v: Any, beta1_power: Any, beta2_power: Any, lr: Any, beta1: Any, beta2: Any,
               epsilon: Any, grad: Any, use_locking: bool = False, use_nesterov: bool = False,
               name: str | None = None) -> Tensor:
    """Adam: lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t); var -= lr_t m / (sqrt(v) + eps)."""
    return _apply("ApplyAdam", [var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad],
                  {"use_locking": use_locking, "use_nesterov": use_nesterov}, name)


def sparse_apply_momentum(var: Any, accum: Any, lr: Any, grad: Any, indices: Any, momentum: Any,
                          use_locking: bool = False, use_nesterov: bool = False,
                          name: str | None = None) -> Tensor:
    """apply_momentum on the rows `indices` only (grad holds those rows)."""
    return _apply("SparseApplyMomentum", [var, accum, lr, grad, indices, momentum],
                  {"use_locking": use_locking, "use_nesterov": use_nesterov}, name)


def sparse_apply_adagrad(var: Any, accum: Any, lr: Any, grad: Any, indices: Any, use_locking: bool = False,
                         update_slots: bool = True, name: str | None = None) -> Tensor:
    """apply_adagrad on the rows `indices` only."""
    return _apply("SparseApplyAdagrad", [var, accum, lr, grad, indices],
                  {"use_locking": use_locking, "update_slots": update_slots}, name)


def sparse_apply_rms_prop(var: Any, ms: Any, mom: Any, lr: Any, rho: Any, momentum: Any, epsilon: Any,
                          grad: Any, indices: Any, use_locking: bool = False,
                          name: str | None = None) -> Tensor:
    """apply_rms_prop on the rows `indices` only."""
    return _apply("SparseApplyRMSProp", [var, ms, mom, lr, rho, momentum, epsilon, grad, indices],
                  {"use_locking": use_locking}, name)


def sparse_apply_centered_rms_prop(var: Any, mg: Any, ms: Any, mom: Any, lr: Any, rho: Any, momentum: Any,
                                   epsilon: Any, grad: Any, indices: Any, use_locking: bool = False,
                                   name: str | None = None) -> Tensor:
    """apply_centered_rms_prop on the rows `indices` only."""
    return _apply("SparseApplyCenteredRMSProp", [var, mg, ms, mom, lr, rho, momentum, epsilon, grad, indices],
                  {"use_locking": use_locking}, name)


# The rest of TF's training ops (Adadelta, FTRL, proximal); imported last: they use the helpers above.
from labflow.train.training_extra_ops import *  # noqa: E402,F401,F403
