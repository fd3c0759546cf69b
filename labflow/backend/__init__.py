"""Array backends: NumPy on the CPU, CuPy on NVIDIA GPUs (imported only in backend/cuda.py)."""

from __future__ import annotations

from typing import Any

import numpy as np


def get_array_module(*arrays: Any) -> Any:
    """`cupy` if any argument is a CuPy array, else `numpy` (CuPy's own convention)."""
    for a in arrays:
        if type(a).__module__.startswith("cupy"):
            from labflow.backend import cuda
            return cuda.cupy_module()
    return np


def to_numpy(value: Any) -> Any:
    """Host copy of a device array (NumPy arrays pass through)."""
    if type(value).__module__.startswith("cupy"):
        from labflow.backend import cuda
        return cuda.asnumpy(value)
    return value
