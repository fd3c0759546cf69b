"""One-kernel optimizer updates on a GPU (CuPy ElementwiseKernels).

The generic (xp) Adam update is ~13 in-place array operations plus the scalar step size, each a
kernel launch on a GPU: ~20 launches per variable per step, for work that is one pass over four
arrays. Here it is one launch. The arithmetic is the generic kernel's, in the same order, per element.
"""

from __future__ import annotations

import logging
from typing import Any

_log = logging.getLogger("labflow.gpu")

_ADAM = """
T one = 1;
T alpha = lr * sqrt(one - beta2_power) / (one - beta1_power);
m += (grad - m) * (one - beta1);
v += (grad * grad - v) * (one - beta2);
w -= alpha * ({update}) / (sqrt(v) + epsilon);
"""
_kernels: dict[tuple, Any] = {}
_broken: set[tuple] = set()


def apply_adam(xp: Any, w: Any, m: Any, v: Any, beta1_power: Any, beta2_power: Any, lr: Any, beta1: Any,
               beta2: Any, epsilon: Any, grad: Any, use_nesterov: bool) -> bool:
    """Runs the Adam update of `w`, `m`, `v` in place as one kernel; False when it cannot (a dtype
    without a kernel here, or a kernel that failed to compile: the caller runs the generic update)."""
    key = ("adam", bool(use_nesterov), str(w.dtype))
    if key in _broken or str(w.dtype) not in ("float32", "float64") or grad.dtype != w.dtype or not (
            w.shape == m.shape == v.shape == grad.shape):
        return False
    kernel = _kernels.get(key)
    if kernel is None:
        update = "grad * (one - beta1) + beta1 * m" if use_nesterov else "m"
        kernel = _kernels[key] = xp.ElementwiseKernel(
            "T grad, T lr, T beta1_power, T beta2_power, T beta1, T beta2, T epsilon", "T w, T m, T v",
            _ADAM.format(update=update), f"labflow_apply_adam{'_nesterov' if use_nesterov else ''}")
    dt = w.dtype
    scalars = [xp.asarray(s, dtype=dt) for s in (lr, beta1_power, beta2_power, beta1, beta2, epsilon)]
    try:
        kernel(grad, *scalars, w, m, v)
    except Exception as e:  # noqa: BLE001 - a compile failure must not fail training: fall back
        if type(e).__name__ not in ("CompileException", "CUDADriverError", "NVRTCError"):
            raise
        _broken.add(key)
        _log.warning("labflow: the one-kernel Adam update did not compile (%s); using the generic update", e)
        return False
    return True
