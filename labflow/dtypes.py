"""Data types: TF's DType objects, enum values and names, mapped onto NumPy dtypes."""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np

__all__ = [
    "DType", "as_dtype", "float16", "half", "bfloat16", "float32", "float64", "double", "int8", "int16",
    "int32", "int64", "uint8", "uint16", "bool", "string", "complex64", "complex128",
]

_REF_OFFSET = 100


class DType:
    """A tensor element type, as in TF 1.x (`tf.float32`, `tf.int64`, ...).

    Attributes:
        name: TF's name, e.g. "float32"; ref types end in "_ref".
        as_datatype_enum: the `DataType` enum value used in GraphDefs.
        as_numpy_dtype: the NumPy scalar type (ml_dtypes.bfloat16 for bfloat16, object for string).
    """

    __slots__ = ("_enum", "_name", "_np")

    def __init__(self, enum: int, name: str, np_type: Any):
        self._enum = enum
        self._name = name
        self._np = np_type

    @property
    def name(self) -> str:
        return self._name

    @property
    def as_datatype_enum(self) -> int:
        return self._enum

    @property
    def as_numpy_dtype(self) -> Any:
        return self._np

    @property
    def np(self) -> np.dtype:
        """The NumPy dtype object (what kernels allocate with)."""
        return np.dtype(self._np)

    @property
    def is_ref_dtype(self) -> bool:
        return self._enum > _REF_OFFSET

    @property
    def base_dtype(self) -> DType:
        return _BY_ENUM[self._enum - _REF_OFFSET] if self.is_ref_dtype else self

    @property
    def _as_ref(self) -> DType:
        return self if self.is_ref_dtype else _BY_ENUM[self._enum + _REF_OFFSET]

    @property
    def real_dtype(self) -> DType:
        b = self.base_dtype
        return {complex64: float32, complex128: float64}.get(b, b)

    @property
    def is_floating(self) -> bool:
        return self.base_dtype in (float16, bfloat16, float32, float64)

    @property
    def is_integer(self) -> bool:
        return self.base_dtype in (int8, int16, int32, int64, uint8, uint16)

    @property
    def is_unsigned(self) -> bool:
        return self.base_dtype in (uint8, uint16, bool)

    @property
    def is_complex(self) -> bool:
        return self.base_dtype in (complex64, complex128)

    @property
    def is_bool(self) -> bool:
        return self.base_dtype is bool

    @property
    def is_numeric(self) -> bool:
        return self.base_dtype not in (string,)

    @property
    def size(self) -> int:
        return 0 if self.base_dtype is string else np.dtype(self.base_dtype._np).itemsize

    @property
    def min(self) -> Any:
        b = self.base_dtype
        if b.is_floating:
            return ml_dtypes.finfo(b._np).min if b is bfloat16 else np.finfo(b._np).min
        if b.is_integer:
            return np.iinfo(b._np).min
        raise TypeError(f"Cannot find minimum value of {b.name}.")

    @property
    def max(self) -> Any:
        b = self.base_dtype
        if b.is_floating:
            return ml_dtypes.finfo(b._np).max if b is bfloat16 else np.finfo(b._np).max
        if b.is_integer:
            return np.iinfo(b._np).max
        raise TypeError(f"Cannot find maximum value of {b.name}.")

    def is_compatible_with(self, other: Any) -> bool:
        return self.base_dtype is as_dtype(other).base_dtype

    def __eq__(self, other: object) -> bool:
        if other is None:
            return False
        if isinstance(other, DType):
            return self._enum == other._enum
        try:
            return self._enum == as_dtype(other)._enum
        except TypeError:
            return False

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return self._enum

    def __repr__(self) -> str:
        return f"tf.{self._name}"

    def __reduce__(self):
        return as_dtype, (self._name,)


float16 = DType(19, "float16", np.float16)
half = float16
bfloat16 = DType(14, "bfloat16", ml_dtypes.bfloat16)
float32 = DType(1, "float32", np.float32)
float64 = DType(2, "float64", np.float64)
double = float64
int8 = DType(6, "int8", np.int8)
int16 = DType(5, "int16", np.int16)
int32 = DType(3, "int32", np.int32)
int64 = DType(9, "int64", np.int64)
uint8 = DType(4, "uint8", np.uint8)
uint16 = DType(17, "uint16", np.uint16)
bool = DType(10, "bool", np.bool_)  # noqa: A001 - TF's public name
string = DType(7, "string", object)
complex64 = DType(8, "complex64", np.complex64)
complex128 = DType(18, "complex128", np.complex128)

_BASE = [float16, bfloat16, float32, float64, int8, int16, int32, int64, uint8, uint16, bool, string,
         complex64, complex128]
_BY_ENUM: dict[int, DType] = {d._enum: d for d in _BASE}
for _d in _BASE:
    _BY_ENUM[_d._enum + _REF_OFFSET] = DType(_d._enum + _REF_OFFSET, _d._name + "_ref", _d._np)
_BY_NAME: dict[str, DType] = {d._name: d for d in _BY_ENUM.values()}
_BY_NAME.update({"half": float16, "double": float64, "float": float32, "int": int32, "str": string})
_BY_NP: dict[Any, DType] = {np.dtype(d._np): d for d in _BASE if d is not string}
_BY_PY = {float: float32, int: int32, __builtins__["bool"] if isinstance(__builtins__, dict)
          else __builtins__.bool: bool, str: string, bytes: string, complex: complex128}


def as_dtype(type_value: Any) -> DType:
    """Converts a DType, NumPy dtype, Python type, name or enum value to a `DType`.

    Raises:
        TypeError: if `type_value` names no known type.
    """
    if isinstance(type_value, DType):
        return type_value
    if isinstance(type_value, str):
        d = _BY_NAME.get(type_value)
        if d is not None:
            return d
    elif isinstance(type_value, int) and not isinstance(type_value, type(True)):
        d = _BY_ENUM.get(type_value)
        if d is not None:
            return d
    elif isinstance(type_value, type) and type_value in _BY_PY:
        return _BY_PY[type_value]
    try:
        npd = np.dtype(type_value)
    except TypeError:
        npd = None
    if npd is not None:
        if npd.kind in "SUO":
            return string
        d = _BY_NP.get(npd)
        if d is not None:
            return d
    raise TypeError(f"Cannot convert {type_value!r} to a labflow DType. Known types: "
                    f"{', '.join(d.name for d in _BASE)}.")


FLOAT_TYPES = (float16, bfloat16, float32, float64)
INT_TYPES = (int8, int16, int32, int64, uint8, uint16)
NUMERIC_TYPES = FLOAT_TYPES + INT_TYPES
