"""`convert_to_tensor`: Python/NumPy values, Variables, lists of tensors and IndexedSlices to Tensors."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from labflow import dtypes as _dtypes
from labflow.framework.graph import get_default_graph
from labflow.framework.tensor import IndexedSlices, Tensor

_conversion_fns: list[tuple[int, type, Callable]] = []


def register_tensor_conversion_function(base_type: type, conversion_func: Callable,
                                        priority: int = 100) -> None:
    """TF's hook: `conversion_func(value, dtype=None, name=None, as_ref=False) -> Tensor`."""
    _conversion_fns.append((priority, base_type, conversion_func))
    _conversion_fns.sort(key=lambda x: x[0])


def _np_value(value: Any, dtype: _dtypes.DType | None) -> np.ndarray:
    """TF's constant rules: Python floats are float32, ints int32 (int64 when too big)."""
    if dtype is not None:
        npd = dtype.base_dtype.as_numpy_dtype
        if dtype.base_dtype is _dtypes.string:
            return np.array(value, dtype=object)
        arr = np.asarray(value)
        if arr.dtype.kind in "fc" and dtype.base_dtype.is_integer:
            if not np.all(np.equal(np.mod(arr, 1), 0)):
                raise TypeError(f"Expected {dtype.name}, got {value!r} of type '{type(value).__name__}' "
                                "instead: the value has a fractional part.")
        if arr.dtype.kind in "SUO" and dtype.base_dtype is not _dtypes.string:
            raise TypeError(f"Expected {dtype.name}, got {value!r} of type '{type(value).__name__}' instead.")
        if arr.dtype.kind == "b" and not dtype.base_dtype.is_bool and arr.size:
            raise TypeError(f"Expected {dtype.name}, got {value!r} of type 'bool' instead.")
        return np.asarray(arr, dtype=npd)
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        arr = np.asarray(value)
        if arr.dtype.kind in "SUO":
            return arr.astype(object)
        return arr
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        return arr.astype(np.float32)
    if arr.dtype.kind in "iu":
        if arr.size and (arr.max() > np.iinfo(np.int32).max or arr.min() < np.iinfo(np.int32).min):
            return arr.astype(np.int64)
        return arr.astype(np.int32)
    if arr.dtype.kind == "c":
        return arr.astype(np.complex128)
    if arr.dtype.kind in "SU":
        return arr.astype(object)
    if arr.dtype.kind == "O":
        raise TypeError(f"Failed to convert object of type {type(value).__name__} to Tensor. Contents: "
                        f"{value!r}. Consider casting elements to a supported type.")
    return arr


def make_const(value: Any, dtype: Any = None, name: str | None = None, graph=None) -> Tensor:
    dt = None if dtype is None else _dtypes.as_dtype(dtype)
    arr = _np_value(value, dt)
    d = dt or _dtypes.as_dtype(arr.dtype)
    g = graph or get_default_graph()
    return g.create_op("Const", [], attrs={"value": arr, "dtype": d}, name=name or "Const").outputs[0]


def _contains_tensor(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_contains_tensor(v) for v in value)
    return isinstance(value, Tensor) or hasattr(value, "_as_graph_element")


def convert_to_tensor(value: Any, dtype: Any = None, name: str | None = None,
                      preferred_dtype: Any = None, dtype_hint: Any = None) -> Tensor:
    """Converts `value` to a Tensor (TF 1.x `tf.convert_to_tensor`).

    Raises:
        ValueError: a Tensor of another dtype was given with `dtype` set.
        TypeError: the value cannot become a tensor of the requested dtype.
    """
    dt = None if dtype is None else _dtypes.as_dtype(dtype)
    if isinstance(value, Tensor):
        if dt is not None and not dt.is_compatible_with(value.dtype):
            raise ValueError(f"Tensor conversion requested dtype {dt.name} for Tensor with dtype "
                             f"{value.dtype.name}: {value!r}")
        return value
    for _, base, fn in _conversion_fns:
        if isinstance(value, base):
            t = fn(value, dtype=dt, name=name, as_ref=False)
            if dt is not None and not dt.is_compatible_with(t.dtype):
                raise ValueError(f"Tensor conversion requested dtype {dt.name} for {type(value).__name__} "
                                 f"with dtype {t.dtype.name}")
            return t
    if isinstance(value, IndexedSlices):
        from labflow.framework.gradients import densify
        return densify(value)
    if isinstance(value, (list, tuple)) and _contains_tensor(value):
        parts = [convert_to_tensor(v, dtype=dt) for v in value]
        dts = {p.dtype.base_dtype for p in parts}
        if len(dts) > 1:
            raise TypeError(f"Cannot pack a list of tensors of different dtypes "
                            f"({', '.join(d.name for d in dts)}) into one tensor.")
        g = parts[0].graph
        return g.create_op("Pack", parts, attrs={"axis": 0, "N": len(parts)},
                           name=name or "packed").outputs[0]
    pref = dtype_hint if dtype_hint is not None else preferred_dtype
    if dt is None and pref is not None:
        try:
            return make_const(value, pref, name=name)
        except (TypeError, ValueError):
            pass
    return make_const(value, dt, name=name)


def convert_n_to_tensor(values: list, dtype: Any = None, name: str | None = None) -> list[Tensor]:
    return [convert_to_tensor(v, dtype=dtype) for v in values]


def convert_same_dtype(values: list, name: str | None = None) -> list[Tensor]:
    """Converts values to tensors sharing the dtype of the first Tensor among them (TF's operator rule)."""
    hint = None
    for v in values:
        if isinstance(v, Tensor):
            hint = v.dtype.base_dtype
            break
        if hasattr(v, "_as_graph_element") and hasattr(v, "dtype"):
            hint = _dtypes.as_dtype(v.dtype).base_dtype
            break
    return [convert_to_tensor(v, dtype=hint) if not isinstance(v, Tensor) else v for v in values]
