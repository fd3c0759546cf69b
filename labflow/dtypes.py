"""Data types: TF's DType objects, enum values and names, mapped onto NumPy dtypes."""

from __future__ import annotations

import builtins as _builtins
from typing import Any

import ml_dtypes
import numpy as np

__all__ = [
    "DType", "as_dtype", "float16", "half", "bfloat16", "float32", "float64", "double", "int8", "int16",
    "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool", "string", "complex64", "complex128",
    "variant", "qint8", "quint8", "qint16", "quint16", "qint32",
]

_REF_OFFSET = 100


class DType:
    """A tensor element type, as in TF 1.x (`tf.float32`, `tf.int64`, ...).

    Attributes:
        name: TF's name, e.g. "float32"; ref types end in "_ref".
        as_datatype_enum: the `DataType` enum value used in GraphDefs (TF's values; refs are +100).
        as_numpy_dtype: the NumPy scalar type (ml_dtypes.bfloat16 for bfloat16, np.object_ for string).
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
    def is_numpy_compatible(self) -> bool:
        return True

    @property
    def is_ref_dtype(self) -> bool:
        return self._enum > _REF_OFFSET

    _is_ref_dtype = is_ref_dtype

    @property
    def base_dtype(self) -> DType:
        return _BY_ENUM[self._enum - _REF_OFFSET] if self._enum > _REF_OFFSET else self

    @property
    def _as_ref(self) -> DType:
        return self if self._enum > _REF_OFFSET else _BY_ENUM[self._enum + _REF_OFFSET]

    @property
    def real_dtype(self) -> DType:
        """float32 for complex64, float64 for complex128, else this dtype (TF's rule)."""
        b = self.base_dtype
        if b is complex64:
            return float32
        if b is complex128:
            return float64
        return self

    @property
    def is_floating(self) -> bool:
        return self.base_dtype in (float16, bfloat16, float32, float64)

    @property
    def is_integer(self) -> bool:
        return self.base_dtype in (int8, int16, int32, int64, uint8, uint16, uint32, uint64)

    @property
    def is_unsigned(self) -> bool:
        """True for uint8..uint64; bool, strings and complex types are not "unsigned" (TF's rule)."""
        try:
            return self.min == 0
        except TypeError:
            return False

    @property
    def is_complex(self) -> bool:
        return self.base_dtype in (complex64, complex128)

    @property
    def is_quantized(self) -> bool:
        return self.base_dtype in _QUANTIZED

    @property
    def is_bool(self) -> bool:
        return self.base_dtype is bool

    @property
    def is_numeric(self) -> bool:
        return self.base_dtype is not string

    @property
    def size(self) -> int:
        """Bytes per element (1 for string, like TF)."""
        return 1 if self.base_dtype is string else np.dtype(self._np).itemsize

    def _limit(self, which: str) -> Any:
        b = self.base_dtype
        if b in (bool, string, complex64, complex128) or b.is_quantized:
            raise TypeError(f"Cannot find {'minimum' if which == 'min' else 'maximum'} value of {self}.")
        info = ml_dtypes.finfo(b._np) if b.is_floating else np.iinfo(b._np)
        return getattr(info, which)

    @property
    def min(self) -> Any:
        """The smallest finite value (TypeError for bool, string and complex types, like TF)."""
        return self._limit("min")

    @property
    def max(self) -> Any:
        """The largest finite value (TypeError for bool, string and complex types, like TF)."""
        return self._limit("max")

    @property
    def limits(self, clip_negative: _builtins.bool = True) -> tuple:
        """TF's image-intensity (min, max): (0, 1) for floats, (0, max) for ints, (False, True) for bool."""
        b = self.base_dtype
        if b is bool:
            lo, hi = False, True
        elif b.is_floating:
            lo, hi = -1, 1
        elif b.is_integer:
            info = np.iinfo(b._np)
            lo, hi = int(info.min), int(info.max)
        else:
            raise TypeError(f"{self} has no intensity limits.")
        return (0 if clip_negative else lo), hi

    def is_compatible_with(self, other: Any) -> _builtins.bool:
        """True if a tensor of dtype `other` converts to this one (T takes T and T_ref; T_ref only T_ref)."""
        other = as_dtype(other)
        return self._enum in (other._enum, other.base_dtype._enum)

    def __eq__(self, other: object) -> _builtins.bool:
        if other is None:
            return False
        if isinstance(other, DType):
            return self._enum == other._enum
        try:
            return self._enum == as_dtype(other)._enum
        except TypeError:
            return False

    def __ne__(self, other: object) -> _builtins.bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return self._enum

    def __repr__(self) -> str:
        return f"tf.{self._name}"

    def __str__(self) -> str:
        return f"<dtype: {self._name!r}>"

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
uint32 = DType(22, "uint32", np.uint32)
uint64 = DType(23, "uint64", np.uint64)
bool = DType(10, "bool", np.bool_)  # noqa: A001 - TF's public name
string = DType(7, "string", np.object_)
complex64 = DType(8, "complex64", np.complex64)
complex128 = DType(18, "complex128", np.complex128)
# An opaque host object (TF's DT_VARIANT): what a control-flow op hands its gradient (the values one
# loop iteration or branch recorded). Never fed, fetched or converted from user data.
variant = DType(21, "variant", np.object_)

_BASE = [float16, bfloat16, float32, float64, int8, int16, int32, int64, uint8, uint16, uint32, uint64, bool,
         string, complex64, complex128, variant]
_BY_ENUM: dict[int, DType] = {d._enum: d for d in _BASE}
for _d in _BASE:
    _BY_ENUM[_d._enum + _REF_OFFSET] = DType(_d._enum + _REF_OFFSET, _d._name + "_ref", _d._np)
    globals()[_d._name + "_ref"] = _BY_ENUM[_d._enum + _REF_OFFSET]
half_ref = float16_ref  # noqa: F821 - made just above
double_ref = float64_ref  # noqa: F821
_BY_NAME: dict[str, DType] = {d._name: d for d in _BY_ENUM.values()}
# TF's non-canonical aliases; nothing else ("int", "str", "f4") is a TF type name.
_BY_NAME.update({"half": float16, "half_ref": half_ref, "float": float32, "float_ref": float32_ref,  # noqa: F821
                 "double": float64, "double_ref": double_ref})
_BY_NP_TYPE: dict[Any, DType] = {d._np: d for d in _BASE if d not in (string, variant)}
_BY_NP_TYPE.update({np.object_: string, np.bytes_: string, np.str_: string})
for _t in (np.intc, np.uintc, np.int_, np.uint, np.longlong, np.ulonglong):
    _BY_NP_TYPE.setdefault(_t, next(d for d in _BASE if d is not string and np.dtype(d._np) == np.dtype(_t)))
# TF's quantized types (8-bit inference: QuantizeV2, QuantizedMatMul, ...). Their values are plain NumPy
# integer arrays (TF uses one-field structured dtypes), so kernels compute on them directly. They stay out
# of _BASE and _BY_NP_TYPE: an array's dtype always means the plain type (uint8 -> uint8); a quantized
# dtype comes only from its name, its enum or an op's declared output.
qint8 = DType(11, "qint8", np.int8)
quint8 = DType(12, "quint8", np.uint8)
qint32 = DType(13, "qint32", np.int32)
qint16 = DType(15, "qint16", np.int16)
quint16 = DType(16, "quint16", np.uint16)
_QUANTIZED = (qint8, quint8, qint16, quint16, qint32)
for _d in _QUANTIZED:
    _BY_ENUM[_d._enum] = _d
    _BY_ENUM[_d._enum + _REF_OFFSET] = DType(_d._enum + _REF_OFFSET, _d._name + "_ref", _d._np)
    globals()[_d._name + "_ref"] = _BY_ENUM[_d._enum + _REF_OFFSET]
    _BY_NAME[_d._name] = _d
    _BY_NAME[_d._name + "_ref"] = _BY_ENUM[_d._enum + _REF_OFFSET]
# Python types TF accepts: float -> float32, bool -> bool, object -> string (int and str are ambiguous).
_BY_PY = {float: float32, _builtins.bool: bool, object: string}


def as_dtype(type_value: Any) -> DType:
    """Converts a DType, NumPy dtype or scalar type, TF type name, DataType enum or Python type to a `DType`.

    Raises:
        TypeError: if `type_value` names no TF type (TF's message).
    """
    if isinstance(type_value, DType):
        return type_value
    if isinstance(type_value, (_builtins.bool, np.bool_)):
        pass  # True/False are not enum values (TF would take True for 1, float32)
    elif isinstance(type_value, np.dtype):
        d = _BY_NP_TYPE.get(type_value.type)
        if d is None and type_value.kind not in "SUOV":
            d = next((x for x in _BASE if x is not string and np.dtype(x._np) == type_value), None)
        if d is not None:
            return d
    else:
        try:
            d = (_BY_NAME.get(type_value) if isinstance(type_value, str)
                 else _BY_ENUM.get(type_value) if isinstance(type_value, int)
                 else _BY_PY.get(type_value) or _BY_NP_TYPE.get(type_value))
        except TypeError:  # unhashable
            d = None
        if d is not None:
            return d
    raise TypeError(f"Cannot convert value {type_value!r} to a TensorFlow DType.")


FLOAT_TYPES = (float16, bfloat16, float32, float64)
INT_TYPES = (int8, int16, int32, int64, uint8, uint16, uint32, uint64)
NUMERIC_TYPES = FLOAT_TYPES + INT_TYPES
