"""`convert_to_tensor`: Python/NumPy values, Variables, lists of tensors and IndexedSlices to Tensors."""

from __future__ import annotations

import numbers
from typing import Any, Callable

import numpy as np

from labflow import dtypes as _dtypes
from labflow.framework.graph import _graph_of, get_default_graph
from labflow.framework.shapes import Dimension
from labflow.framework.tensor import IndexedSlices, Tensor

_conversion_fns: list[tuple[int, int, type, Callable]] = []  # (priority, order, base_type, fn)


def register_tensor_conversion_function(base_type: Any, conversion_func: Callable,
                                        priority: int = 100) -> None:
    """TF's hook: `conversion_func(value, dtype=None, name=None, as_ref=False) -> Tensor`.

    Lower priorities are tried first; a function may return NotImplemented to pass. Registered functions
    run before the built-in conversion of Python and NumPy values.

    Raises:
        TypeError: `base_type` is not a type (or tuple of types), or `conversion_func` is not callable.
    """
    if not (isinstance(base_type, type) or isinstance(base_type, tuple)
            and all(isinstance(x, type) for x in base_type)):
        raise TypeError("base_type must be a type or a tuple of types.")
    if not callable(conversion_func):
        raise TypeError("conversion_func must be callable.")
    _conversion_fns.append((priority, len(_conversion_fns), base_type, conversion_func))
    _conversion_fns.sort(key=lambda x: (x[0], x[1]))


# -- Python and NumPy values --------------------------------------------------------------------------
def _leaf_ok(dt: _dtypes.DType) -> Callable[[Any], bool]:
    """TF's per-dtype check of Python leaves (`_AssertCompatible`): 1.0 is not an int32, 1 not a bool."""
    if dt is _dtypes.string:
        return lambda v: isinstance(v, (str, bytes, np.str_, np.bytes_))
    if dt is _dtypes.bool:
        return lambda v: isinstance(v, (bool, np.bool_))
    if dt.is_integer:
        return lambda v: isinstance(v, (int, np.integer)) or isinstance(v, Dimension) and v.value is not None
    if dt.is_floating:
        return lambda v: isinstance(v, (numbers.Real, np.integer, np.floating))
    return lambda v: isinstance(v, (numbers.Complex, np.number))


def _first_mismatch(value: Any, ok: Callable[[Any], bool], dt: _dtypes.DType) -> tuple[bool, Any]:
    if isinstance(value, (list, tuple)):
        for v in value:
            bad, m = _first_mismatch(v, ok, dt)
            if bad:
                return True, m
        return False, None
    if isinstance(value, (np.ndarray, np.generic)) and value.ndim:  # a NumPy block inside a list
        kind = value.dtype.kind
        good = {"string": "SUO", "bool": "b"}.get(dt.name) or ("iub" if dt.is_integer else "iufb" if
                                                                 dt.is_floating else "iufcb")
        return (False, None) if kind in good else (True, value)
    return (False, None) if ok(value) else (True, value)


def _dense_shape(value: Any) -> list[int]:
    """The shape TF expects from the first element at each depth (to report ragged lists)."""
    out = []
    while isinstance(value, (list, tuple)):
        out.append(len(value))
        if not value:
            break
        value = value[0]
    return out + list(np.shape(value)) if isinstance(value, np.ndarray) else out


def _ragged_shape(value: Any) -> list[int]:
    """The dims over which a nested list is regular (what it really has, for TF's ragged-list error)."""
    out = []
    level = [value]
    while all(isinstance(v, (list, tuple)) for v in level) and level:
        lens = {len(v) for v in level}
        if len(lens) != 1:
            break
        out.append(lens.pop())
        level = [x for v in level for x in v]
    return out


def _to_bytes_array(arr: np.ndarray) -> np.ndarray:
    """String tensors hold `bytes` (UTF-8 for `str`), as TF's do."""
    out = np.empty(arr.shape, dtype=object)
    flat = out.reshape(-1)
    for i, x in enumerate(arr.reshape(-1).tolist()):
        if isinstance(x, str):
            x = x.encode("utf-8")
        elif not isinstance(x, bytes):
            raise TypeError(f"Expected string, got {x!r} of type '{type(x).__name__}' instead.")
        flat[i] = x
    return out


def _python_array(value: Any, npd: Any) -> np.ndarray:
    try:
        arr = np.array(value, dtype=npd)
    except ValueError as e:
        if "inhomogeneous" in str(e) or "sequence" in str(e):
            raise ValueError(f"Argument must be a dense tensor: {value!r} - got shape "
                             f"{_ragged_shape(value)}, but wanted {_dense_shape(value)}.") from None
        raise
    except OverflowError:
        raise ValueError(f"{value!r} is out of range for {np.dtype(npd).name}: a Python int must fit the "
                         "requested integer dtype.") from None
    if npd is None and list(arr.shape) != _dense_shape(value) and arr.dtype != object:
        raise ValueError(f"Argument must be a dense tensor: {value!r} - got shape {list(arr.shape)}, but "
                         f"wanted {_dense_shape(value)}.")
    return arr


def _np_value(value: Any, dtype: _dtypes.DType | None) -> np.ndarray:
    """A value as the array a Const holds, with TF's rules (`tensor_util.make_tensor_proto`).

    NumPy values keep their dtype (or are cast to `dtype`). Python values: floats become float32, ints
    int32 (int64 when they do not fit), str/bytes string (held as bytes); with `dtype`, each element must
    suit it (1.0 is not an int32, 1 is not a bool).

    Raises:
        TypeError: an element does not suit `dtype`, or the value is not a tensor value at all.
        ValueError: a ragged nested list, or an int too large for `dtype`.
    """
    dt = None if dtype is None else dtype.base_dtype
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if dt is _dtypes.string or (dt is None and arr.dtype.kind in "SUO"):
            return _to_bytes_array(arr)
        if dt is None:
            return arr
        if arr.dtype.kind in "SUO":
            raise TypeError(f"Expected {dt.name}, got an array of strings ({arr.dtype}) instead.")
        return arr.astype(dt.np, copy=False)
    if value is None:
        raise TypeError("Failed to convert object of type <class 'NoneType'> to Tensor. Contents: None. "
                        "Consider casting elements to a supported type.")
    if dt is not None:
        bad, m = _first_mismatch(value, _leaf_ok(dt), dt)
        if bad:
            raise TypeError(f"Expected {dt.name}, got {m!r} of type '{type(m).__name__}' instead.")
        if dt is _dtypes.string:
            return _to_bytes_array(_python_array(value, object))
        return _python_array(value, dt.np)
    arr = _python_array(value, None)
    kind = arr.dtype.kind
    if kind == "f":
        return arr.astype(np.float32)
    if kind in "iu":
        if not arr.size or (arr.min() >= np.iinfo(np.int32).min and arr.max() <= np.iinfo(np.int32).max):
            return arr.astype(np.int32)
        return arr
    if kind == "c":
        return arr.astype(np.complex128)
    if kind in "SU":
        return _to_bytes_array(arr)
    if kind == "O":
        if all(isinstance(x, (str, bytes)) for x in arr.reshape(-1).tolist()):
            return _to_bytes_array(arr)
        raise TypeError(f"Failed to convert object of type {type(value)} to Tensor. Contents: {value!r}. "
                        "Consider casting elements to a supported type.")
    return arr


def make_const(value: Any, dtype: Any = None, name: str | None = None, graph=None) -> Tensor:
    """A Const op holding `value` (TF's constant rules, see `_np_value`)."""
    dt = None if dtype is None else _dtypes.as_dtype(dtype)
    arr = _np_value(value, dt)
    d = dt.base_dtype if dt is not None else _dtypes.as_dtype(arr.dtype)
    g = graph or get_default_graph()
    return g.create_op("Const", [], attrs={"value": arr, "dtype": d}, name=name or "Const").outputs[0]


# -- lists holding tensors (TF's autopacking) ------------------------------------------------------------
def _is_tensor_like(v: Any) -> bool:
    return isinstance(v, Tensor) or (hasattr(v, "_as_graph_element") and hasattr(v, "dtype"))


def _nested_dtype(value: Any) -> _dtypes.DType | None:
    """The dtype of the first tensor in a nested list (None when it holds no tensor)."""
    if isinstance(value, (list, tuple)):
        for v in value:
            d = _nested_dtype(v)
            if d is not None:
                return d
        return None
    return _dtypes.as_dtype(value.dtype).base_dtype if _is_tensor_like(value) else None


def _flat_tensors(value: Any) -> list:
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flat_tensors(v)]
    return [value] if _is_tensor_like(value) else []


def _autopack(value: Any, dtype: _dtypes.DType, name: str) -> Any:
    """TF's `_autopacking_helper`: a Pack op (named `name`) over the elements; plain lists stay lists."""
    g = _graph_of(*_flat_tensors(value))
    with g.name_scope(name) as scope:
        elems, must_pack = [], False
        for i, v in enumerate(value):
            if _is_tensor_like(v):
                t = convert_to_tensor(v)
                if t.dtype.base_dtype != dtype:
                    raise TypeError(f"Cannot convert a list containing a tensor of dtype {t.dtype.name} to "
                                    f"{dtype.name} (Tensor is: {t!r})")
                elems.append(t)
                must_pack = True
            elif isinstance(v, (list, tuple)):
                sub = _autopack(v, dtype, str(i))
                must_pack = must_pack or isinstance(sub, Tensor)
                elems.append(sub)
            else:
                elems.append(v)
        if not must_pack:
            return elems
        parts = [e if isinstance(e, Tensor) else make_const(e, dtype, name=str(i), graph=g)
                 for i, e in enumerate(elems)]
        return g.create_op("Pack", parts, attrs={"axis": 0, "N": len(parts), "T": dtype},
                           name=scope).outputs[0]


# -- convert_to_tensor ----------------------------------------------------------------------------------
def _convert_once(value: Any, dt: _dtypes.DType | None, name: str | None) -> Any:
    """One conversion attempt with dtype `dt` (None: the value's own); NotImplemented when no rule applies."""
    if isinstance(value, Tensor):
        if dt is not None and not dt.is_compatible_with(value.dtype):
            raise ValueError(f"Tensor conversion requested dtype {dt.name} for Tensor with dtype "
                             f"{value.dtype.name}: {value!r}")
        return value
    for _, _, base, fn in _conversion_fns:
        if isinstance(value, base):
            t = fn(value, dtype=dt, name=name, as_ref=False)
            if t is NotImplemented:
                continue
            if not isinstance(t, Tensor):
                raise RuntimeError(f"Conversion function {fn!r} for type {base} returned non-Tensor: {t!r}")
            if dt is not None and not dt.is_compatible_with(t.dtype):
                raise RuntimeError(f"Conversion function {fn!r} for type {base} returned incompatible dtype: "
                                   f"requested = {dt.name}, actual = {t.dtype.name}")
            return t
    if isinstance(value, IndexedSlices):
        if dt is not None and not dt.is_compatible_with(value.dtype):
            raise ValueError(f"Tensor conversion requested dtype {dt.name} for IndexedSlices with dtype "
                             f"{value.dtype.name}: {value!r}")
        from labflow.framework.gradients import densify
        return densify(value)
    if hasattr(value, "_as_graph_element"):  # a Variable-like object without a registered conversion
        return _convert_once(value._as_graph_element(), dt, name)
    if isinstance(value, (list, tuple)):
        inferred = _nested_dtype(value)
        if inferred is not None:
            return _autopack(value, dt.base_dtype if dt is not None else inferred, name or "packed")
    return make_const(value, dt, name=name)


def convert_to_tensor(value: Any, dtype: Any = None, name: str | None = None,
                      preferred_dtype: Any = None, dtype_hint: Any = None) -> Tensor:
    """Converts `value` to a Tensor (TF 1.x `tf.convert_to_tensor`).

    Args:
        value: a Tensor, Variable, IndexedSlices, NumPy array, Python scalar or nested list (which may hold
            tensors: they are packed with a Pack op, like TF).
        dtype: the required element type; a value that does not suit it raises.
        name: name of a new op, if one is made.
        preferred_dtype: tried when `dtype` is None; silently dropped when the value does not suit it.
        dtype_hint: TF 2's name for `preferred_dtype`.

    Raises:
        ValueError: a Tensor (or IndexedSlices) of another dtype was given with `dtype` set, or a ragged list.
        TypeError: the value cannot become a tensor (of the requested dtype).
    """
    dt = None if dtype is None else _dtypes.as_dtype(dtype)
    pref = dtype_hint if dtype_hint is not None else preferred_dtype
    if dt is None and pref is not None:
        pdt = _dtypes.as_dtype(pref)
        try:
            t = _convert_once(value, pdt, name)
        except (TypeError, ValueError):
            t = None
        if t is not None:
            if t.dtype.base_dtype != pdt.base_dtype:
                raise TypeError(f"convert_to_tensor did not convert to the preferred dtype: "
                                f"{t.dtype.base_dtype.name} vs {pdt.base_dtype.name}")
            return t
    return _convert_once(value, dt, name)


def convert_n_to_tensor(values: list, dtype: Any = None, name: str | None = None,
                        preferred_dtype: Any = None) -> list[Tensor]:
    """Converts each of `values` (TF's `convert_n_to_tensor`); new ops are named `name_0`, `name_1`, ..."""
    if not isinstance(values, (list, tuple)):
        raise TypeError("values must be a sequence.")
    return [convert_to_tensor(v, dtype=dtype, preferred_dtype=preferred_dtype,
                              name=None if name is None else f"{name}_{i}") for i, v in enumerate(values)]


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


def convert_to_tensor_or_indexed_slices(value: Any, dtype: Any = None, name: str | None = None) -> Any:
    """Like `convert_to_tensor`, but an IndexedSlices passes through (TF 1.x).

    Raises:
        ValueError: an IndexedSlices of another dtype than `dtype`.
    """
    if isinstance(value, IndexedSlices):
        dt = None if dtype is None else _dtypes.as_dtype(dtype)
        if dt is not None and not dt.is_compatible_with(value.dtype):
            raise ValueError(f"Tensor conversion requested dtype {dt.name} for Tensor with dtype "
                             f"{value.dtype.name}: {value!r}")
        return value
    return convert_to_tensor(value, dtype=dtype, name=name)
