"""String <-> number ops: AsString, StringToNumber and the hash-bucket ops (host ops, not differentiable).

The hash buckets are bit-exact with TF (string_hashing.py): a vocabulary hashed here lands in the same
buckets as in TF, so checkpoints of embeddings indexed by hash buckets carry over.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import REQUIRED, op
from labflow.framework.tensor import Tensor
from labflow.ops.common import convert_to_tensor, dims, make_op
from labflow.ops.string_common import HOST, as_bytes_array, check_string, map_strings
from labflow.ops.string_hashing import fingerprint64, legacy_hash64, siphash

__all__ = ["as_string", "string_to_number", "string_to_hash_bucket", "string_to_hash_bucket_fast",
           "string_to_hash_bucket_strong"]

# -- AsString ------------------------------------------------------------------------------------------------
_AS_STRING_TYPES = (_dt.int8, _dt.int16, _dt.int32, _dt.int64, _dt.uint8, _dt.uint16, _dt.uint32, _dt.uint64,
                    _dt.float16, _dt.bfloat16, _dt.float32, _dt.float64, _dt.complex64, _dt.complex128, _dt.bool,
                    _dt.string)
_FILLS = (" ", "+", "-", "0", "#")


def _as_string_format(dtype: _dt.DType, precision: int, scientific: bool, shortest: bool, width: int,
                      fill: str) -> str:
    """TF's printf format for AsString; ValueError with TF's words on a bad attr combination."""
    name = dtype.name
    is_float = dtype.is_floating or dtype.is_complex
    if scientific and shortest:
        raise ValueError("Cannot select both scientific and shortest notation")
    if len(fill) > 1:
        raise ValueError("Fill string must be one or fewer characters")
    if fill and fill not in _FILLS:
        raise ValueError(f'Fill argument not supported: "{fill}" (use one of {", ".join(map(repr, _FILLS))})')
    if not is_float:
        for attr, on in (("precision", precision > -1), ("scientific", scientific), ("shortest", shortest)):
            if on:
                raise ValueError(f"{attr} not supported for datatype {name}")
    fmt = "%" + fill + (str(width) if width > -1 else "") + (f".{precision}" if precision > -1 else "")
    if not is_float:
        return fmt + ("s" if dtype in (_dt.bool, _dt.string) else "d")
    fmt += "g" if shortest else "e" if scientific else "f"
    return f"({fmt},{fmt})" if dtype.is_complex else fmt


def _as_string_shape(ins, attrs):
    dt = ins[0].dtype.base_dtype
    if dt not in _AS_STRING_TYPES:
        raise TypeError(f"Value for attr 'T' of {dt.name} is not in the list of allowed values (AsString takes "
                        "numbers, bools and strings)")
    _as_string_format(dt, attrs["precision"], attrs["scientific"], attrs["shortest"], attrs["width"], attrs["fill"])
    return _dt.string, dims(ins[0])


@op("AsString", inputs=("input",), attrs={"precision": -1, "scientific": False, "shortest": False, "width": -1,
                                          "fill": ""}, types=_AS_STRING_TYPES, type_inputs=("input",),
    shape=_as_string_shape, **HOST)
def as_string_kernel(xp, input, *, precision, scientific, shortest, width, fill):
    arr = np.asarray(input)
    dt = _dt.string if arr.dtype == object else _dt.as_dtype(arr.dtype)
    fmt = _as_string_format(dt, precision, scientific, shortest, width, fill)
    if dt == _dt.string:
        return map_strings(lambda v: (fmt % v.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape"),
                    as_bytes_array(arr), object)
    if dt == _dt.bool:
        return map_strings(lambda v: (fmt % ("true" if v else "false")).encode(), arr, object)
    if dt.is_complex:
        return map_strings(lambda v: (fmt % (v.real, v.imag)).encode(), arr, object)
    if dt.is_floating:
        return map_strings(lambda v: (fmt % float(v)).encode(), arr, object)
    return map_strings(lambda v: (fmt % int(v)).encode(), arr, object)


def as_string(input: Any, precision: int = -1, scientific: bool = False, shortest: bool = False, width: int = -1,
              fill: str = "", name: str | None = None) -> Tensor:
    """Formats each number as a string, like C's printf (TF 1.x `tf.as_string`, `tf.strings.as_string`).

    Args:
        input: a numeric, bool or string tensor.
        precision: digits after the point for floats (-1: printf's default, 6).
        scientific: use scientific notation for floats.
        shortest: use the shorter of fixed and scientific notation (%g) for floats.
        width: pad to this width (-1: no padding).
        fill: the padding flag: "" or " " (spaces), "0" (zeros), "-" (left-align), "+" or "#".
        name: a name for the op.

    Returns:
        A string tensor of the shape of `input`.

    Raises:
        ValueError: both scientific and shortest, precision for a non-float, a fill other than those above.
    """
    with name_scope(name, "AsString") as scope:
        t = convert_to_tensor(input, name="input")
        return make_op("AsString", [t], attrs={"precision": int(precision), "scientific": bool(scientific),
                                               "shortest": bool(shortest), "width": int(width), "fill": fill},
                       name=scope).outputs[0]


# -- StringToNumber ------------------------------------------------------------------------------------------
_NUMBER_TYPES = (_dt.float32, _dt.float64, _dt.int32, _dt.int64)
_INT = re.compile(rb"[+-]?[0-9]+")
_WS = b" \t\n\v\f\r"
_HEX = re.compile(rb"[+-]?0[xX]")


def _parse_number(s: bytes, dtype: _dt.DType) -> Any:
    text = s.strip(_WS)
    bad = errors.InvalidArgumentError(None, None, f"StringToNumberOp could not correctly convert string: "
                                      f"{s.decode('utf-8', 'replace')}")
    if dtype.is_integer:
        if not _INT.fullmatch(text):
            raise bad
        v = int(text)
        info = np.iinfo(dtype.as_numpy_dtype)
        if not info.min <= v <= info.max:
            raise bad
        return v
    if not text or b"_" in text:  # Python's float() takes "1_0"; C's strtod does not
        raise bad
    try:
        return float(text)
    except ValueError:
        pass
    if not _HEX.match(text):
        raise bad
    try:  # strtod also reads hexadecimal ("0x1p3", "0x10")
        return float.fromhex(text.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise bad from None


def _string_to_number_shape(ins, attrs):
    check_string(ins[0], "StringToNumber", "string_tensor")
    if attrs["out_type"] not in _NUMBER_TYPES:
        raise TypeError(f"Value for attr 'out_type' of {attrs['out_type'].name} is not in the list of allowed values: "
                        "float, double, int32, int64")
    return attrs["out_type"], dims(ins[0])


@op("StringToNumber", inputs=("string_tensor",), attrs={"out_type": _dt.float32}, shape=_string_to_number_shape,
    **HOST)
def string_to_number_kernel(xp, string_tensor, *, out_type):
    arr = as_bytes_array(string_tensor)
    vals = map_strings(lambda s: _parse_number(s, out_type), arr, object)
    with np.errstate(over="ignore"):  # 1e40 as float32 is inf, as in TF
        return vals.astype(out_type.as_numpy_dtype)


def string_to_number(string_tensor: Any, out_type: Any = _dt.float32, name: str | None = None) -> Tensor:
    """Parses each string as a number (TF 1.x `tf.string_to_number`, `tf.strings.to_number`).

    Args:
        string_tensor: a string tensor; surrounding whitespace is ignored.
        out_type: tf.float32 (default), tf.float64, tf.int32 or tf.int64.
        name: a name for the op.

    Returns:
        A tensor of `out_type` with the shape of `string_tensor`.

    Raises:
        InvalidArgumentError (at run time): a string that is not a number of `out_type` (named in the message).
    """
    with name_scope(name, "StringToNumber") as scope:
        t = convert_to_tensor(string_tensor, dtype=_dt.string, name="string_tensor")
        return make_op("StringToNumber", [t], attrs={"out_type": _dt.as_dtype(out_type).base_dtype},
                       name=scope).outputs[0]


# -- hash buckets ----------------------------------------------------------------------------------------------
def _bucket_shape(op_type: str, arg: str):
    def fn(ins, attrs):
        check_string(ins[0], op_type, arg)
        if attrs["num_buckets"] < 1:
            raise ValueError(f"Value for attr 'num_buckets' of {attrs['num_buckets']} must be at least minimum 1 "
                             f"({op_type})")
        if "key" in attrs and len(attrs["key"]) != 2:
            raise ValueError(f"Key must have 2 elements, got {len(attrs['key'])} ({op_type})")
        return _dt.int64, dims(ins[0])
    return fn


def _buckets(hash_fn: Any, arr: Any, num_buckets: int) -> np.ndarray:
    seen: dict = {}  # token streams repeat words: hash each distinct string once (pure-Python hashes are slow)

    def bucket(s: bytes) -> int:
        b = seen.get(s)
        if b is None:
            b = seen[s] = hash_fn(s) % num_buckets
        return b
    return map_strings(bucket, as_bytes_array(arr), np.int64)


@op("StringToHashBucketFast", inputs=("input",), attrs={"num_buckets": REQUIRED},
    shape=_bucket_shape("StringToHashBucketFast", "input"), **HOST)
def string_to_hash_bucket_fast_kernel(xp, input, *, num_buckets):
    return _buckets(fingerprint64, input, num_buckets)


@op("StringToHashBucketStrong", inputs=("input",), attrs={"num_buckets": REQUIRED, "key": REQUIRED},
    shape=_bucket_shape("StringToHashBucketStrong", "input"), **HOST)
def string_to_hash_bucket_strong_kernel(xp, input, *, num_buckets, key):
    k = (int(key[0]), int(key[1]))
    return _buckets(lambda s: siphash(k, s), input, num_buckets)


@op("StringToHashBucket", inputs=("string_tensor",), attrs={"num_buckets": REQUIRED},
    shape=_bucket_shape("StringToHashBucket", "string_tensor"), **HOST)
def string_to_hash_bucket_kernel(xp, string_tensor, *, num_buckets):
    return _buckets(legacy_hash64, string_tensor, num_buckets)


def _bucket_op(op_type: str, arg: str, input: Any, attrs: dict, name: str | None) -> Tensor:
    with name_scope(name, op_type) as scope:
        t = convert_to_tensor(input, dtype=_dt.string, name=arg)
        return make_op(op_type, [t], attrs=attrs, name=scope).outputs[0]


def string_to_hash_bucket_fast(input: Any, num_buckets: int, name: str | None = None) -> Tensor:
    """`Fingerprint64(s) % num_buckets` for each string (TF 1.x `tf.string_to_hash_bucket_fast`).

    The hash is FarmHash Fingerprint64, bit-exact with TF. Not for adversarial inputs: use
    `string_to_hash_bucket_strong` there.

    Returns:
        An int64 tensor of the shape of `input`, values in [0, num_buckets).
    """
    return _bucket_op("StringToHashBucketFast", "input", input, {"num_buckets": int(num_buckets)}, name)


def string_to_hash_bucket_strong(input: Any, num_buckets: int, key: Any, name: str | None = None) -> Tensor:
    """`SipHash-2-4(key, s) % num_buckets` for each string (TF 1.x `tf.string_to_hash_bucket_strong`).

    Args:
        input: a string tensor.
        num_buckets: the number of buckets (>= 1).
        key: two ints, the 128-bit SipHash key (keep it secret against adversarial inputs).
        name: a name for the op.

    Returns:
        An int64 tensor of the shape of `input`, values in [0, num_buckets).
    """
    return _bucket_op("StringToHashBucketStrong", "input", input,
                      {"num_buckets": int(num_buckets), "key": [int(k) for k in key]}, name)


def string_to_hash_bucket(string_tensor: Any, num_buckets: int, name: str | None = None) -> Tensor:
    """TF's deprecated hash bucketing (its own Hash64); prefer `string_to_hash_bucket_fast`.

    Returns:
        An int64 tensor of the shape of `string_tensor`, values in [0, num_buckets).
    """
    return _bucket_op("StringToHashBucket", "string_tensor", string_tensor, {"num_buckets": int(num_buckets)}, name)
