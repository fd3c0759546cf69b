"""String ops: join, split, strip, substr, length, case, reduce_join and base64 (TF 1.x top-level names).

Strings are `tf.string` tensors held as NumPy object arrays of `bytes`. They never live on a GPU, so
every op here is a host op (like the parsing ops): placed on any device, its kernel runs on NumPy
values. None is differentiable (TF registers no gradient for any of them). The conversions to and
from numbers and the hash-bucket ops (string_convert_ops.py) and the regex ops (string_regex_ops.py)
are re-exported here.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops.common import constant_value, convert_to_tensor, dims, make_op
from labflow.ops.string_common import HOST, as_bytes_array, check_string, map_strings, unary_op, unary_string_shape
from labflow.ops.string_convert_ops import (  # noqa: F401 - re-exported (TF1 top-level names)
    as_string,
    string_to_hash_bucket,
    string_to_hash_bucket_fast,
    string_to_hash_bucket_strong,
    string_to_number,
)
from labflow.ops.string_regex_ops import regex_full_match, regex_replace  # noqa: F401 - re-exported

__all__ = ["string_join", "string_split", "string_strip", "substr", "reduce_join", "regex_replace",
           "encode_base64", "decode_base64", "as_string", "string_to_number", "string_to_hash_bucket",
           "string_to_hash_bucket_fast", "string_to_hash_bucket_strong"]


# -- StringJoin ----------------------------------------------------------------------------------------------
def _string_join_shape(ins, attrs):
    shape: tuple | None = None
    unknown_rank = False
    for i, t in enumerate(ins):
        check_string(t, "StringJoin", f"inputs[{i}]")
        d = dims(t)
        if d is None:
            unknown_rank = True
        elif d != ():
            if shape is not None and (len(shape) != len(d) or any(
                    a is not None and b is not None and a != b for a, b in zip(shape, d))):
                raise ValueError(f"Input shapes do not match: {list(shape)} vs. {list(d)} (StringJoin joins "
                                 "scalars with tensors of one common shape)")
            shape = d if shape is None else tuple(a if a is not None else b for a, b in zip(shape, d))
    if shape is None:
        return _dt.string, None if unknown_rank else ()
    return _dt.string, shape


@op("StringJoin", inputs=("*inputs",), attrs={"N": None, "separator": ""}, shape=_string_join_shape, **HOST)
def string_join_kernel(xp, *inputs, separator):
    arrs = [as_bytes_array(a) for a in inputs]
    shape = next((a.shape for a in arrs if a.ndim), ())
    for a in arrs:
        if a.ndim and a.shape != shape:
            raise errors.InvalidArgumentError(None, None, f"Input shapes do not match: {list(shape)} vs. "
                                              f"{list(a.shape)} (each input of StringJoin is a scalar or has "
                                              "the common shape)")
    sep = separator.encode("utf-8") if isinstance(separator, str) else separator
    flats = [np.broadcast_to(a, shape).reshape(-1) for a in arrs]
    out = np.empty(int(np.prod(shape)), dtype=object)
    for i in range(out.size):
        out[i] = sep.join(f[i] for f in flats)
    return out.reshape(shape)


def string_join(inputs: list, separator: str = "", name: str | None = None) -> Tensor:
    """Joins the strings of `inputs` elementwise (TF 1.x `tf.string_join`, `tf.strings.join`).

    Args:
        inputs: a list of string tensors of one shape; scalars are broadcast.
        separator: put between the joined strings.
        name: a name for the op.

    Returns:
        A string tensor of the common shape.
    """
    with name_scope(name, "StringJoin") as scope:
        ts = [convert_to_tensor(x, dtype=_dt.string, name=f"inputs_{i}") for i, x in enumerate(inputs)]
        if not ts:
            raise ValueError("string_join needs at least one input")
        return make_op("StringJoin", ts, attrs={"N": len(ts), "separator": separator}, name=scope).outputs[0]


# -- StringSplit / StringSplitV2 -----------------------------------------------------------------------------
def _split_shape(op_type: str, delim_arg: str):
    def fn(ins, attrs):
        check_string(ins[0], op_type, "input")
        check_string(ins[1], op_type, delim_arg)
        d0, d1 = dims(ins[0]), dims(ins[1])
        if d0 is not None and len(d0) != 1:
            raise ValueError(f"Shape must be rank 1 but is rank {len(d0)} for '{op_type}' input 'input' (split "
                             "takes a vector of strings)")
        if d1 is not None and len(d1) != 0:
            raise ValueError(f"Shape must be rank 0 but is rank {len(d1)} for '{op_type}' input '{delim_arg}'")
        return [(_dt.int64, (None, 2)), (_dt.string, (None,)), (_dt.int64, (2,))]
    return fn


def _sparse_rows(rows: list) -> tuple:
    idx = [(i, j) for i, r in enumerate(rows) for j in range(len(r))]
    values = np.empty(len(idx), dtype=object)
    values[:] = [t for r in rows for t in r]
    indices = np.asarray(idx, dtype=np.int64).reshape(-1, 2)
    shape = np.asarray([len(rows), max((len(r) for r in rows), default=0)], dtype=np.int64)
    return indices, values, shape


def _check_vector(arr: np.ndarray, op_type: str) -> None:
    if arr.ndim != 1:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: input must be a vector, got shape "
                                          f"{list(arr.shape)}")


@op("StringSplit", inputs=("input", "delimiter"), attrs={"skip_empty": True}, shape=_split_shape(
    "StringSplit", "delimiter"), outputs=3, output_names=("indices", "values", "shape"), **HOST)
def string_split_kernel(xp, input, delimiter, *, skip_empty):
    arr = as_bytes_array(input)
    _check_vector(arr, "StringSplit")
    delim = as_bytes_array(delimiter).item()
    splitter = re.compile(b"[" + re.escape(delim) + b"]") if delim else None
    rows = []
    for s in arr:
        if not s:  # TF gives an empty string no tokens, even with skip_empty=False
            rows.append([])
        elif splitter is None:
            rows.append([s[i:i + 1] for i in range(len(s))])
        else:
            toks = splitter.split(s)
            rows.append([t for t in toks if t] if skip_empty else toks)
    return _sparse_rows(rows)


@op("StringSplitV2", inputs=("input", "sep"), attrs={"maxsplit": -1}, shape=_split_shape("StringSplitV2", "sep"),
    outputs=3, output_names=("indices", "values", "shape"), **HOST)
def string_split_v2_kernel(xp, input, sep, *, maxsplit):
    arr = as_bytes_array(input)
    _check_vector(arr, "StringSplitV2")
    s = as_bytes_array(sep).item()
    if s:
        return _sparse_rows([v.split(s, maxsplit) for v in arr])
    return _sparse_rows([_split_whitespace(v, maxsplit) for v in arr])


_WS = b" \t\n\v\f\r"
_NON_WS = re.compile(rb"[^ \t\n\v\f\r]+")


def _split_whitespace(text: bytes, maxsplit: int) -> list:
    """TF's SplitV2 without a separator: like bytes.split(None, maxsplit), except that once maxsplit tokens
    are taken the rest (leading whitespace removed) is always appended, even when empty."""
    if maxsplit == 0:
        return [text]
    out = []
    rest = text.lstrip(_WS)
    while rest:
        token = _NON_WS.match(rest).group(0)
        out.append(token)
        rest = rest[len(token):].lstrip(_WS)
        if maxsplit > 0 and len(out) == maxsplit:
            out.append(rest)
            break
    return out


def _sparse(o: Any) -> Any:
    from labflow.framework.sparse_tensor import SparseTensor
    return SparseTensor(*o.outputs)


def _check_result_type(result_type: str) -> None:
    if result_type != "SparseTensor":
        raise ValueError(f"result_type={result_type!r}: labflow has no RaggedTensor; use 'SparseTensor'")


def string_split(source: Any, sep: Any = None, skip_empty: bool = True, delimiter: Any = None,
                 result_type: str = "SparseTensor", name: str | None = None) -> Any:
    """Splits each string of a vector at any of the delimiter characters (TF 1.x `tf.string_split`).

    Args:
        source: a 1-D string tensor.
        sep: the delimiter characters (each one separates tokens); "" splits into single bytes. Default " ".
        skip_empty: drop empty tokens.
        delimiter: TF's older name for `sep`.
        result_type: "SparseTensor" (labflow has no RaggedTensor).
        name: a name for the op.

    Returns:
        A SparseTensor of shape [len(source), most tokens]: row i holds the tokens of source[i].
    """
    if sep is not None and delimiter is not None:
        raise ValueError("Cannot specify both 'sep' and 'delimiter' (they are the same argument)")
    _check_result_type(result_type)
    delim = sep if sep is not None else (delimiter if delimiter is not None else " ")
    with name_scope(name, "StringSplit") as scope:
        s = convert_to_tensor(source, dtype=_dt.string, name="source")
        d = convert_to_tensor(delim, dtype=_dt.string, name="delimiter")
        return _sparse(make_op("StringSplit", [s, d], attrs={"skip_empty": bool(skip_empty)}, name=scope))


def strings_split(input: Any = None, sep: Any = None, maxsplit: int = -1, result_type: str = "SparseTensor",
                  source: Any = None, name: str | None = None) -> Any:
    """Splits each string at `sep` like Python's `bytes.split` (TF 1.x `tf.strings.split`).

    Args:
        input: a 1-D string tensor.
        sep: the separator string; None or "" splits at runs of whitespace and drops empty tokens.
        maxsplit: at most this many splits per string (-1: no limit).
        result_type: "SparseTensor" (labflow has no RaggedTensor).
        source: TF's older name for `input`.
        name: a name for the op.

    Returns:
        A SparseTensor of shape [len(input), most tokens].
    """
    if input is not None and source is not None:
        raise ValueError("Cannot specify both 'input' and 'source' (they are the same argument)")
    _check_result_type(result_type)
    with name_scope(name, "StringSplit") as scope:
        s = convert_to_tensor(input if input is not None else source, dtype=_dt.string, name="input")
        d = convert_to_tensor(sep or "", dtype=_dt.string, name="sep")
        return _sparse(make_op("StringSplitV2", [s, d], attrs={"maxsplit": int(maxsplit)}, name=scope))


# -- elementwise: strip, length, case, base64 ----------------------------------------------------------------
@op("StringStrip", inputs=("input",), shape=unary_string_shape("StringStrip"), **HOST)
def string_strip_kernel(xp, input):
    return map_strings(lambda s: s.strip(b" \t\n\v\f\r"), as_bytes_array(input))


def string_strip(input: Any, name: str | None = None) -> Tensor:
    """Removes leading and trailing ASCII whitespace (TF 1.x `tf.string_strip`, `tf.strings.strip`)."""
    return unary_op("StringStrip", input, {}, name)


def _check_unit(unit: str) -> None:
    if unit not in ("BYTE", "UTF8_CHAR"):
        raise ValueError(f"unit must be 'BYTE' or 'UTF8_CHAR', got {unit!r}")


def _utf8(s: bytes, op_type: str) -> str:
    try:
        return s.decode("utf-8")
    except UnicodeDecodeError:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: {s[:40]!r} is not valid UTF-8 (unit='UTF8_CHAR' "
                                          "needs UTF-8 strings)") from None


@op("StringLength", inputs=("input",), attrs={"unit": "BYTE"}, shape=unary_string_shape("StringLength", _dt.int32),
    **HOST)
def string_length_kernel(xp, input, *, unit):
    if unit == "BYTE":
        return map_strings(len, as_bytes_array(input), np.int32)
    return map_strings(lambda s: len(_utf8(s, "StringLength")), as_bytes_array(input), np.int32)


def string_length(input: Any, name: str | None = None, unit: str = "BYTE") -> Tensor:
    """The length of each string in bytes, or in UTF-8 characters with unit="UTF8_CHAR" (`tf.strings.length`)."""
    _check_unit(unit)
    return unary_op("StringLength", input, {"unit": unit}, name)


def _ascii_case(table: bytes):
    def kernel(xp, input, *, encoding):
        return map_strings(lambda s: s.translate(table), as_bytes_array(input))
    return kernel


_UPPER = bytes(range(97)) + bytes(range(65, 91)) + bytes(range(123, 256))
_LOWER = bytes(range(65)) + bytes(range(97, 123)) + bytes(range(91, 256))
# TF changes only ASCII letters when encoding is "" (non-ASCII bytes pass through unchanged).
op("StringUpper", inputs=("input",), attrs={"encoding": ""}, shape=unary_string_shape("StringUpper"),
   **HOST)(_ascii_case(_UPPER))
op("StringLower", inputs=("input",), attrs={"encoding": ""}, shape=unary_string_shape("StringLower"),
   **HOST)(_ascii_case(_LOWER))


def _check_encoding(encoding: str) -> None:
    if encoding not in ("", "utf-8"):
        raise ValueError(f"encoding must be '' or 'utf-8', got {encoding!r}")


def upper(input: Any, encoding: str = "", name: str | None = None) -> Tensor:
    """Converts ASCII letters to upper case (TF `tf.strings.upper`; other bytes are unchanged)."""
    _check_encoding(encoding)
    return unary_op("StringUpper", input, {"encoding": encoding}, name)


def lower(input: Any, encoding: str = "", name: str | None = None) -> Tensor:
    """Converts ASCII letters to lower case (TF `tf.strings.lower`; other bytes are unchanged)."""
    _check_encoding(encoding)
    return unary_op("StringLower", input, {"encoding": encoding}, name)


@op("EncodeBase64", inputs=("input",), attrs={"pad": False}, shape=unary_string_shape("EncodeBase64"), **HOST)
def encode_base64_kernel(xp, input, *, pad):
    def enc(s):
        e = base64.urlsafe_b64encode(s)
        return e if pad else e.rstrip(b"=")
    return map_strings(enc, as_bytes_array(input))


@op("DecodeBase64", inputs=("input",), shape=unary_string_shape("DecodeBase64"), **HOST)
def decode_base64_kernel(xp, input):
    def dec(s):
        body = s.rstrip(b"=")
        if len(body) % 4 == 1:
            raise errors.InvalidArgumentError(None, None, f"Base64 string length cannot be 1 modulo 4: {s[:40]!r}")
        try:
            return base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise errors.InvalidArgumentError(None, None, f"Invalid character found in base64: {s[:40]!r} (web-safe "
                                              "base64 uses A-Z a-z 0-9 - _)") from None
    return map_strings(dec, as_bytes_array(input))


def encode_base64(input: Any, pad: bool = False, name: str | None = None) -> Tensor:
    """Encodes strings into web-safe base64 ('-' and '_'; padded with '=' only when `pad`)."""
    return unary_op("EncodeBase64", input, {"pad": bool(pad)}, name)


def decode_base64(input: Any, name: str | None = None) -> Tensor:
    """Decodes web-safe base64 strings (padding optional). InvalidArgumentError on a malformed string."""
    return unary_op("DecodeBase64", input, {}, name)


# -- Substr --------------------------------------------------------------------------------------------------
def _substr_shape(ins, attrs):
    check_string(ins[0], "Substr", "input")
    for t, arg in ((ins[1], "pos"), (ins[2], "len")):
        if t.dtype.base_dtype not in (_dt.int32, _dt.int64):
            raise TypeError(f"Input '{arg}' of 'Substr' Op has type {t.dtype.base_dtype.name} that is not int32 or "
                            "int64")
    from labflow.framework.shapes import broadcast_dims
    if dims(ins[1]) is not None and dims(ins[2]) is not None and dims(ins[1]) != dims(ins[2]) and \
            None not in dims(ins[1]) + dims(ins[2]):
        raise ValueError(f"pos and len should have the same shape, got: {list(dims(ins[1]))} vs. "
                         f"{list(dims(ins[2]))} (Substr)")
    return _dt.string, broadcast_dims(dims(ins[0]), dims(ins[1]))


@op("Substr", inputs=("input", "pos", "len"), attrs={"unit": "BYTE"}, types=(_dt.int32, _dt.int64),
    type_inputs=("pos", "len"), shape=_substr_shape, **HOST)
def substr_kernel(xp, input, pos, length, *, unit):
    arr = as_bytes_array(input)
    pos, ln = np.asarray(pos), np.asarray(length)
    if pos.shape != ln.shape:
        raise errors.InvalidArgumentError(None, None, f"pos and len should have the same shape, got: "
                                          f"{list(pos.shape)} vs. {list(ln.shape)}")
    try:
        shape = np.broadcast_shapes(arr.shape, pos.shape)
    except ValueError:
        raise errors.InvalidArgumentError(None, None, f"Substr: input of shape {list(arr.shape)} and pos/len of "
                                          f"shape {list(pos.shape)} cannot be broadcast together") from None
    a, p, n = (np.broadcast_to(x, shape).reshape(-1) for x in (arr, pos, ln))
    out = np.empty(a.size, dtype=object)
    for i, s in enumerate(a):
        text = s if unit == "BYTE" else _utf8(s, "Substr")
        size, start, count = len(text), int(p[i]), int(n[i])
        if start > size or start < -size:
            raise errors.InvalidArgumentError(None, None, f"pos {start} out of range for string {s!r} at index {i}")
        if start < 0:
            start += size
        piece = text[start:start + max(count, 0)]
        out[i] = piece if unit == "BYTE" else piece.encode("utf-8")
    return out.reshape(shape)



def substr(input: Any, pos: Any, len: Any, name: str | None = None, unit: str = "BYTE") -> Tensor:
    """The substrings `input[pos:pos + len]` (TF 1.x `tf.substr`, `tf.strings.substr`).

    Args:
        input: a string tensor.
        pos: int32/int64 start positions, a scalar or the shape of `input` (negative counts from the end).
        len: int32/int64 lengths, the shape of `pos`; a substring running past the end is cut there.
        name: a name for the op.
        unit: "BYTE" or "UTF8_CHAR" (positions and lengths in UTF-8 characters).

    Returns:
        A string tensor of the broadcast shape.

    Raises:
        InvalidArgumentError (at run time): a position outside [-length, length] of its string.
    """
    _check_unit(unit)
    with name_scope(name, "Substr") as scope:
        t = convert_to_tensor(input, dtype=_dt.string, name="input")
        p = convert_to_tensor(pos, name="pos")
        n = convert_to_tensor(len, dtype=p.dtype.base_dtype, name="len")
        return make_op("Substr", [t, p, n], attrs={"unit": unit}, name=scope).outputs[0]


# -- ReduceJoin ----------------------------------------------------------------------------------------------
def _reduce_join_axes(axes: Any, rank: int) -> list:
    out = []
    for a in np.asarray(axes).reshape(-1).tolist():
        if not -rank <= a < rank:
            raise errors.OutOfRangeError(None, None, f"Invalid reduction dimension {a} for input with {rank} "
                                         "dimension(s)")
        a %= rank
        if a in out:
            raise errors.InvalidArgumentError(None, None, f"Duplicate reduction dimension {a}")
        out.append(a)
    return out


def _reduce_join_shape(ins, attrs):
    check_string(ins[0], "ReduceJoin", "inputs")
    d = dims(ins[0])
    axes = constant_value(ins[1])
    if d is None or axes is None:
        return _dt.string, None
    try:
        ax = _reduce_join_axes(axes, len(d))
    except errors.OpError as e:
        raise ValueError(f"{e.message} (ReduceJoin)") from None
    if attrs["keep_dims"]:
        return _dt.string, tuple(1 if i in ax else n for i, n in enumerate(d))
    return _dt.string, tuple(n for i, n in enumerate(d) if i not in ax)


@op("ReduceJoin", inputs=("inputs", "reduction_indices"), attrs={"keep_dims": False, "separator": ""},
    shape=_reduce_join_shape, **HOST)
def reduce_join_kernel(xp, inputs, reduction_indices, *, keep_dims, separator):
    arr = as_bytes_array(inputs)
    ax = _reduce_join_axes(reduction_indices, arr.ndim)
    kept = [i for i in range(arr.ndim) if i not in ax]
    # The first axis listed varies fastest in the joined sequence (TF reduces in the order given).
    moved = np.transpose(arr, kept + ax[::-1])
    out_shape = tuple(arr.shape[i] for i in kept)
    n = int(np.prod([arr.shape[i] for i in ax], dtype=np.int64))
    sep = separator.encode("utf-8") if isinstance(separator, str) else separator
    out = np.empty(out_shape, dtype=object)
    flat_out = out.reshape(-1)
    rows = moved.reshape(flat_out.size, n)
    for i in range(flat_out.size):
        flat_out[i] = sep.join(rows[i])
    if keep_dims:
        out = out.reshape(tuple(1 if i in ax else n for i, n in enumerate(arr.shape)))
    return out


def reduce_join(inputs: Any, axis: Any = None, keep_dims: bool | None = None, separator: str = "",
                name: str | None = None, reduction_indices: Any = None, keepdims: bool | None = None) -> Tensor:
    """Joins the strings along `axis` (TF 1.x `tf.reduce_join`, `tf.strings.reduce_join`).

    Args:
        inputs: a string tensor.
        axis: the dimensions to join over, the first listed varying fastest; None joins all, last first.
        keep_dims: keep the joined dimensions with size 1 (`keepdims` is the newer name).
        separator: put between joined strings.
        name: a name for the op.
        reduction_indices: TF's older name for `axis`.

    Returns:
        A string tensor of the reduced shape.
    """
    if axis is not None and reduction_indices is not None:
        raise ValueError("Cannot specify both 'axis' and 'reduction_indices'")
    if keep_dims is not None and keepdims is not None:
        raise ValueError("Cannot specify both 'keep_dims' and 'keepdims'")
    axis = axis if axis is not None else reduction_indices
    keep = bool(keep_dims if keep_dims is not None else keepdims)
    with name_scope(name, "ReduceJoin") as scope:
        t = convert_to_tensor(inputs, dtype=_dt.string, name="inputs")
        if axis is None and dims(t) is None:
            from labflow.ops.array_ops import rank
            from labflow.ops.array_reshape_ops import range as lf_range
            a = lf_range(rank(t) - 1, -1, -1)
        else:
            if axis is None:
                axis = list(range(len(dims(t)) - 1, -1, -1))
            a = convert_to_tensor(axis, dtype=_dt.int32, name="reduction_indices")
        return make_op("ReduceJoin", [t, a], attrs={"keep_dims": keep, "separator": separator},
                       name=scope).outputs[0]
