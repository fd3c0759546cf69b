"""The only module that imports CuPy. Everything here degrades to "no GPU" when CuPy is missing."""

from __future__ import annotations

from typing import Any

_cupy: Any = None
_probed = False


def _probe() -> Any:
    global _cupy, _probed
    if not _probed:
        _probed = True
        try:
            import cupy  # noqa: F401 - optional dependency
            if cupy.cuda.runtime.getDeviceCount() > 0:
                _cupy = cupy
        except Exception:  # no cupy, no driver, or no device: all mean "no GPU here"
            _cupy = None
    return _cupy


def is_available() -> bool:
    return _probe() is not None


def device_count() -> int:
    cp = _probe()
    return 0 if cp is None else int(cp.cuda.runtime.getDeviceCount())


def cupy_module() -> Any:
    cp = _probe()
    if cp is None:
        raise RuntimeError("CuPy with a visible NVIDIA GPU is required for GPU devices; install "
                           "labflow[gpu] (cupy-cuda12x or cupy-cuda13x matching your CUDA).")
    return cp


def cublas_binding() -> Any:
    """CuPy's cuBLAS binding (for backend/gpu_blas.py's direct products), or None where there is none."""
    cp = _probe()
    if cp is None:
        return None
    lib = getattr(cp.cuda, "cublas", None)
    if lib is None:
        try:
            from cupy_backends.cuda.libs import cublas as lib  # where CuPy >= 9 keeps it
        except ImportError:
            return None
    return lib


def asnumpy(value: Any) -> Any:
    return _probe().asnumpy(value)


def device_properties(index: int) -> dict:
    cp = cupy_module()
    p = cp.cuda.runtime.getDeviceProperties(index)
    name = p["name"].decode() if isinstance(p["name"], bytes) else p["name"]
    return {"name": name, "memory_limit": int(p["totalGlobalMem"]),
            "compute_capability": (int(p["major"]), int(p["minor"]))}


def use_device(index: int) -> Any:
    return cupy_module().cuda.Device(index)


def configure_memory(index: int, fraction: float = 0.0, allow_growth: bool = True) -> None:
    """Maps TF's GPUOptions onto CuPy's memory pool.

    `per_process_gpu_memory_fraction` caps the pool at that fraction of the device's memory.
    CuPy's pool always grows on demand, which is TF's `allow_growth=True`; labflow never preallocates
    the whole device (TF's default) because a notebook kernel rarely wants that.
    """
    cp = cupy_module()
    if fraction and fraction > 0:
        with cp.cuda.Device(index):
            cp.get_default_memory_pool().set_limit(fraction=float(fraction))


def special_module(xp: Any) -> Any:
    """The special-function module for `xp`'s arrays: scipy.special for NumPy, cupyx.scipy.special for
    CuPy (the emulated GPU brings its own), so special-function kernels stay on the device."""
    import numpy as np
    if xp is np:
        import scipy.special
        return scipy.special
    own = getattr(xp, "scipy_special", None)  # the emulated GPU's counted wrapper of scipy.special
    if own is not None:
        return own
    import cupyx.scipy.special  # ships with CuPy
    return cupyx.scipy.special
