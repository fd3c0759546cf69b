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
