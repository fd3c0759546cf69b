"""One-kernel optimizer updates on a GPU.

The generic (xp) Adam update is ~13 in-place array operations plus the scalar step size, each a
kernel launch on a GPU: ~20 launches per variable per step, for work that is one pass over four
arrays. Here it is one launch: a RawKernel (labflow/ops/gpu_raw_kernels.py) when the scalars are device
values, else an ElementwiseKernel; and one launch for all of an optimizer's variables at once
(`apply_adam_multi`, `apply_gradient_descent_multi`, for train/multi_apply_ops.py). The arithmetic is
the generic kernel's, in the same order, per element.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

_log = logging.getLogger("labflow.gpu")

_ADAM = """
T one = 1;
T alpha = lr * sqrt(one - beta2_power) / (one - beta1_power);
m += (grad - m) * (one - beta1);
v += (grad * grad - v) * (one - beta2);
w -= alpha * ({update}) / (sqrt(v) + epsilon);
"""
_SGD = "w -= delta * alpha;"
_kernels: dict[tuple, Any] = {}
_broken: set[tuple] = set()
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _scalar(xp: Any, s: Any, dtype: Any) -> Any:
    # A device scalar of the dtype is read by the kernel as it is; a host one goes by value as a kernel
    # parameter (no host->device copy). cupy.asarray on each measured ~4 us of host time per scalar.
    if isinstance(s, getattr(xp, "ndarray", ())) and s.dtype == dtype:
        return s
    if isinstance(s, np.ndarray | np.generic | float | int):
        return dtype.type(s)
    return xp.asarray(s, dtype=dtype)


def _launch(xp: Any, key: tuple, make: Any, w: Any, arrays: list, scalars: list, outs: list) -> bool:
    """Runs the kernel `make()` builds (once per key) on arrays + scalars (cast to w's dtype) + outs;
    False when it cannot run here (see apply_adam)."""
    if key in _broken or w.dtype not in _FLOATS or any(
            a.dtype != w.dtype or a.shape != w.shape for a in arrays + outs):
        return False
    kernel = _kernels.get(key)
    if kernel is None:
        kernel = _kernels[key] = make()
    try:
        kernel(*arrays, *[_scalar(xp, s, w.dtype) for s in scalars], *outs)
    except Exception as e:  # noqa: BLE001 - a compile failure must not fail training: fall back
        if type(e).__name__ not in ("CompileException", "CUDADriverError", "NVRTCError"):
            raise
        _broken.add(key)
        _log.warning("labflow: the one-kernel %s update did not compile (%s); using the generic update", key[0], e)
        return False
    return True


def apply_adam(xp: Any, w: Any, m: Any, v: Any, beta1_power: Any, beta2_power: Any, lr: Any, beta1: Any,
               beta2: Any, epsilon: Any, grad: Any, use_nesterov: bool) -> bool:
    """Runs the Adam update of `w`, `m`, `v` in place as one kernel; False when it cannot (a dtype
    without a kernel here, or a kernel that failed to compile: the caller runs the generic update)."""
    if _raw_adam(xp, w, m, v, grad, [lr, beta1_power, beta2_power, beta1, beta2, epsilon], use_nesterov):
        return True
    def make() -> Any:
        update = "grad * (one - beta1) + beta1 * m" if use_nesterov else "m"
        return xp.ElementwiseKernel(
            "T grad, T lr, T beta1_power, T beta2_power, T beta1, T beta2, T epsilon", "T w, T m, T v",
            _ADAM.format(update=update), f"labflow_apply_adam{'_nesterov' if use_nesterov else ''}")
    return _launch(xp, ("adam", bool(use_nesterov), w.dtype.char), make, w, [grad],
                   [lr, beta1_power, beta2_power, beta1, beta2, epsilon], [w, m, v])


def apply_gradient_descent(xp: Any, w: Any, alpha: Any, delta: Any) -> bool:
    """`w -= delta * alpha` in place as one kernel (the generic update is two launches); False as for
    apply_adam."""
    def make() -> Any:
        return xp.ElementwiseKernel("T delta, T alpha", "T w", _SGD, "labflow_apply_gradient_descent")
    return _launch(xp, ("gradient descent", w.dtype.char), make, w, [delta], [alpha], [w])


def _raw_adam(xp: Any, w: Any, m: Any, v: Any, grad: Any, scalars: list, nesterov: bool) -> bool:
    # With every scalar already on the device (the usual case: beta powers are GPU variables, the
    # hyperparameters GPU constants) the update is a RawKernel reading them through pointers, whose
    # launch costs a fraction of an ElementwiseKernel's argument processing (~25 us on an H200).
    device, dtype, shape = getattr(xp, "ndarray", ()), w.dtype, w.shape
    for s in scalars:
        if not isinstance(s, device) or s.dtype != dtype or s.size != 1:
            return False
    for a in (w, m, v, grad):
        if not isinstance(a, device) or a.dtype != dtype or a.shape != shape or not a.flags.c_contiguous:
            return False
    from labflow.ops import gpu_raw_kernels
    run = gpu_raw_kernels.kernel(xp, "apply_adam_nesterov" if nesterov else "apply_adam", w.dtype,
                                 _adam_nesterov_reference if nesterov else _adam_reference)
    return bool(run is not None and run(w.size, w, m, v, grad, *scalars))


def _adam_reference(w, m, v, grad, lr, beta1_power, beta2_power, beta1, beta2, epsilon, nesterov=False) -> None:
    """NumPy twin of the RawKernel Adam (what the emulated GPU runs), in place."""
    one = w.dtype.type(1)
    alpha = lr * np.sqrt(one - beta2_power) / (one - beta1_power)
    m += (grad - m) * (one - beta1)
    v += (grad * grad - v) * (one - beta2)
    w -= alpha * (grad * (one - beta1) + beta1 * m if nesterov else m) / (np.sqrt(v) + epsilon)


def _adam_nesterov_reference(*args) -> None:
    _adam_reference(*args, nesterov=True)


# -- several variables' updates sharing their scalars in one launch (train/multi_apply_ops.py) ---------
MAX_MULTI = 16  # updates per kernel: <= 5 parameters each, far inside CUDA's 4 KB of kernel parameters
_multi_checked: set[tuple] = set()
_multi_broken: set[tuple] = set()


def apply_adam_multi(xp: Any, ws: list, ms: list, vs: list, grads: list, scalars: list, nesterov: bool) -> bool:
    """The Adam updates of every (w, m, v) in place as one RawKernel; False when it cannot run (then the
    caller updates them one by one). `scalars` in ApplyAdam's order: beta1_power, beta2_power, lr,
    beta1, beta2, epsilon. Checked on its first run (`_checked`)."""
    beta1_power, beta2_power, lr, beta1, beta2, epsilon = scalars
    ordered = [lr, beta1_power, beta2_power, beta1, beta2, epsilon]
    groups = list(zip(ws, ms, vs, grads))
    packed = _multi_args(xp, groups, ordered)
    if packed is None:
        return False
    from labflow.ops import gpu_raw_kernels
    run = gpu_raw_kernels.kernel(xp, gpu_raw_kernels.multi_adam(len(ws), nesterov), ws[0].dtype,
                                 _multi_adam_nesterov_reference if nesterov else _multi_adam_reference)

    def single(copies: list) -> None:
        for t, (_, _, _, g) in enumerate(groups):
            w, m, v = copies[3 * t:3 * t + 3]
            if not _raw_adam(xp, w, m, v, g, ordered, nesterov):
                _adam_reference(w, m, v, g, *ordered, nesterov=nesterov)
    return _checked(xp, ("adam", len(ws), bool(nesterov), ws[0].dtype), run, packed,
                    [a for w, m, v, _ in groups for a in (w, m, v)], single)


def apply_gradient_descent_multi(xp: Any, ws: list, deltas: list, alpha: Any) -> bool:
    """`w -= delta * alpha` for every (w, delta) in place as one RawKernel; False when it cannot run.
    Checked on its first run (`_checked`)."""
    groups = list(zip(ws, deltas))
    packed = _multi_args(xp, groups, [alpha])
    if packed is None:
        return False
    from labflow.ops import gpu_raw_kernels
    run = gpu_raw_kernels.kernel(xp, gpu_raw_kernels.multi_sgd(len(ws)), ws[0].dtype, _multi_sgd_reference)

    def single(copies: list) -> None:
        for w, (_, d) in zip(copies, groups):
            if not apply_gradient_descent(xp, w, alpha, d):
                w -= d * alpha
    return _checked(xp, ("gradient descent", len(ws), ws[0].dtype), run, packed, list(ws), single)


def _multi_args(xp: Any, groups: list, scalars: list) -> tuple[list, int] | None:
    """(The multi-update kernel's arguments, their element count): each group's arrays, then its end in
    the joint element range; then the scalars. None unless all are C-contiguous device arrays of one
    dtype (scalars of size 1), each group's arrays of one shape, and there are 1..MAX_MULTI groups."""
    if not 1 <= len(groups) <= MAX_MULTI:
        return None
    device, dtype = getattr(xp, "ndarray", ()), groups[0][0].dtype
    for s in scalars:
        if not isinstance(s, device) or s.dtype != dtype or s.size != 1:
            return None
    args: list = []
    end = 0
    for arrays in groups:
        shape = arrays[0].shape
        for a in arrays:
            if not isinstance(a, device) or a.dtype != dtype or a.shape != shape or not a.flags.c_contiguous:
                return None
        end += arrays[0].size
        args += [*arrays, np.int64(end)]
    return args + list(scalars), end


def _checked(xp: Any, key: tuple, run: Any, packed: tuple, updated: list, single: Any) -> bool:
    """Runs a multi-update kernel on `packed` (its arguments and element count, from _multi_args), which
    updates the arrays `updated` in place; False when it cannot run.

    Its first run per key in a process is checked against `single(copies)`, the one-update-at-a-time
    path, applied to copies of `updated` (one device sync): a kernel that computes anything else is
    dropped for good, with an error in the log, and that step keeps the one-at-a-time values. These
    kernels' CUDA was written without a GPU at hand; the check makes a mistake in it cost speed, never a
    wrong model."""
    if run is None or key in _multi_broken:
        return False
    args, total = packed
    if key in _multi_checked:
        return bool(run(total, *args))
    before = [a.copy() for a in updated]
    if not run(total, *args):
        return False
    single(before)
    if all(bool(xp.allclose(a, b, rtol=1e-6, atol=1e-30, equal_nan=True)) for a, b in zip(updated, before)):
        _multi_checked.add(key)
        return True
    _multi_broken.add(key)
    _log.error("labflow: the %s kernel for %d variables disagreed with the one-variable updates on its first "
               "run; updating variables one by one from now on (please report this)", key[0], key[1])
    for a, b in zip(updated, before):
        a[...] = b
    return True


def _multi_adam_reference(*args, nesterov: bool = False) -> None:
    """NumPy twin of the multi-update Adam kernel (what the emulated GPU runs): (w, m, v, grad, end) per
    update, then lr, beta1_power, beta2_power, beta1, beta2, epsilon."""
    n = (len(args) - 6) // 5
    for t in range(n):
        w, m, v, g, _ = args[5 * t:5 * t + 5]
        _adam_reference(w, m, v, g, *args[5 * n:], nesterov=nesterov)


def _multi_adam_nesterov_reference(*args) -> None:
    _multi_adam_reference(*args, nesterov=True)


def _multi_sgd_reference(*args) -> None:
    """NumPy twin of the multi-update gradient-descent kernel: (w, delta, end) per update, then alpha."""
    alpha = args[-1]
    for t in range((len(args) - 1) // 3):
        w, d, _ = args[3 * t:3 * t + 3]
        w -= d * alpha
