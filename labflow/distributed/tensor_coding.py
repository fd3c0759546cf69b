"""Tensors as raw bytes for the wire, never pickle: a small header plus a C-order little-endian payload.

Numeric payloads are the array's own bytes (encode hands out a memoryview of the array; decode wraps the
received buffer with `np.frombuffer`), so neither side copies. String tensors are a table of uint64
little-endian item lengths followed by the concatenated items. Large payloads travel in chunks (`chunks`)
and are put back together, in any order, by a `Reassembler` that checks the size and the CRC-32.
"""

from __future__ import annotations

import bisect
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors

__all__ = [
    "TensorHeader", "encode", "decode", "chunks", "Reassembler", "to_tensor_proto", "from_tensor_proto",
    "DEFAULT_MAX_BYTES", "DEFAULT_CHUNK_SIZE", "DEFAULT_INLINE_LIMIT",
]

DEFAULT_MAX_BYTES = 2 << 30  # one tensor on the wire: 2 GiB, TF's protobuf ceiling
DEFAULT_CHUNK_SIZE = 1 << 20  # 1 MiB chunks keep each gRPC message well under its 4 MiB default
DEFAULT_INLINE_LIMIT = 64 << 10  # tensors up to 64 KiB may travel inline as a TensorProto
_LEN = np.dtype("<u8")


@dataclass(frozen=True)
class TensorHeader:
    """What a receiver needs to rebuild a tensor from its payload.

    Attributes:
        dtype: the tensor's `DType` (a base dtype).
        shape: the tensor's dimensions.
        nbytes: the payload's size in bytes.
        crc32: `zlib.crc32` of the payload, or None when the sender did not compute one.
    """

    dtype: _dt.DType
    shape: tuple[int, ...]
    nbytes: int
    crc32: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The header as JSON-compatible plain values (dtype as its `DataType` enum)."""
        return {"dtype": self.dtype.as_datatype_enum, "shape": list(self.shape), "nbytes": self.nbytes,
                "crc32": self.crc32}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TensorHeader:
        """Validates and builds a header from `as_dict`'s output (e.g. a received message).

        Raises:
            errors.InvalidArgumentError: for a missing field, an unknown dtype or a negative size.
        """
        try:
            dtype = _dt.as_dtype(int(d["dtype"])).base_dtype
            shape = tuple(int(x) for x in d["shape"])
            nbytes = int(d["nbytes"])
            crc = d.get("crc32")
            crc = None if crc is None else int(crc)
        except (KeyError, TypeError, ValueError) as e:
            raise errors.InvalidArgumentError(None, None, f"Malformed tensor header {d!r}: {e}") from None
        if any(x < 0 for x in shape) or nbytes < 0:
            raise errors.InvalidArgumentError(None, None, f"Malformed tensor header {d!r}: negative size")
        return cls(dtype, shape, nbytes, crc)


def _wire_dtype(dt: _dt.DType) -> np.dtype:
    # ml_dtypes types (kind "V", e.g. bfloat16) have no byte order of their own: they are native.
    return dt.np if dt.np.kind == "V" or dt.np.itemsize == 1 else dt.np.newbyteorder("<")


def _bytes_view(data: Any) -> memoryview:
    buf = memoryview(data)
    if buf.format != "B" or buf.ndim != 1:
        if not buf.c_contiguous:
            raise errors.InvalidArgumentError(None, None, "Tensor payloads must be contiguous buffers")
        buf = buf.cast("B")
    return buf


def _check_limit(nbytes: int, max_bytes: int | None, what: str) -> None:
    if max_bytes is not None and nbytes > max_bytes:
        raise errors.ResourceExhaustedError(None, None, f"{what} of {nbytes} bytes exceeds the limit of "
                                            f"{max_bytes} bytes")


def _encode_strings(arr: np.ndarray) -> bytes:
    items = []
    for x in arr.reshape(-1).tolist():
        if isinstance(x, str):
            x = x.encode("utf-8")
        elif not isinstance(x, (bytes, bytearray, memoryview)):
            raise errors.InvalidArgumentError(None, None, f"String tensor item {x!r} is not bytes or str")
        items.append(bytes(x))
    lengths = np.fromiter((len(x) for x in items), dtype=_LEN, count=len(items))
    return lengths.tobytes() + b"".join(items)


def encode(value: Any, dtype: Any = None, *, checksum: bool = True,
           max_bytes: int | None = DEFAULT_MAX_BYTES) -> tuple[TensorHeader, memoryview]:
    """Encodes a tensor value as a header and a byte payload, without copying numeric C-order arrays.

    Args:
        value: a NumPy array or array-like (strings as bytes or str; str is sent as UTF-8).
        dtype: the tensor dtype (default: from the array). The value is converted if it differs.
        checksum: compute the payload's CRC-32 into the header.
        max_bytes: refuse payloads larger than this (None: no limit).

    Returns:
        `(header, payload)`; the payload is a byte memoryview that keeps the array alive.

    Raises:
        TypeError: if no labflow dtype holds the value.
        errors.InvalidArgumentError: for string items that are not bytes/str.
        errors.ResourceExhaustedError: if the payload exceeds `max_bytes`.
    """
    dt = None if dtype is None else _dt.as_dtype(dtype).base_dtype
    try:
        arr = None if dt is _dt.string else np.asarray(value) if dt is None else np.asarray(value, dtype=dt.np)
    except UnicodeError:
        if dt is not None:
            raise
        arr = None  # non-ASCII bytes mixed with str: only a string tensor holds them
    if arr is None or (dt is None and arr.dtype.kind in "OSU"):
        # From the value itself: NumPy would turn a mixed bytes/str list into str (mangling non-ASCII bytes).
        arr = np.asarray(value, dtype=object)
        payload = memoryview(_encode_strings(arr))
        dt = _dt.string
    else:
        dt = _dt.as_dtype(arr.dtype).base_dtype if dt is None else dt
        wire = _wire_dtype(dt)
        if arr.dtype != wire:
            arr = arr.astype(wire)  # big-endian input: one byte-swapping copy
        if sys.byteorder == "big" and wire.kind == "V":  # pragma: no cover - ml_dtypes on big-endian hosts
            arr = arr.byteswap()
        # Flattened first: ascontiguousarray alone would turn a 0-d array into 1-d. Copies only strided input.
        payload = memoryview(np.ascontiguousarray(arr.reshape(-1)).view(np.uint8))
    _check_limit(payload.nbytes, max_bytes, "Tensor payload")
    crc = zlib.crc32(payload) if checksum else None
    return TensorHeader(dt, tuple(int(x) for x in arr.shape), payload.nbytes, crc), payload


def _decode_strings(buf: memoryview, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape, dtype=np.int64))
    if buf.nbytes < n * _LEN.itemsize:
        raise errors.DataLossError(None, None, f"String tensor payload of {buf.nbytes} bytes is too short for "
                                   f"the lengths of {n} items")
    lengths = np.frombuffer(buf, dtype=_LEN, count=n)
    if n and int(lengths.max()) > buf.nbytes:  # also keeps the uint64 sum below from wrapping
        raise errors.DataLossError(None, None, f"String tensor item length {int(lengths.max())} exceeds its "
                                   f"payload of {buf.nbytes} bytes")
    ends = np.cumsum(lengths, dtype=np.uint64) + np.uint64(n * _LEN.itemsize)
    expected = int(ends[-1]) if n else 0
    if expected != buf.nbytes:
        raise errors.DataLossError(None, None, f"String tensor payload has {buf.nbytes} bytes but its item "
                                   f"lengths need {expected}")
    data = bytes(buf)
    out = np.empty(n, dtype=object)
    start = n * _LEN.itemsize
    out[:] = [data[s:e] for s, e in zip([start, *ends[:-1].tolist()], ends.tolist())] if n else []
    return out.reshape(shape)


def decode(header: TensorHeader, payload: Any, *, verify: bool = True, copy: bool = False,
           max_bytes: int | None = DEFAULT_MAX_BYTES) -> np.ndarray:
    """Rebuilds a tensor from its header and payload.

    Args:
        header: the `TensorHeader` from `encode` (or `TensorHeader.from_dict`).
        payload: a bytes-like object; numeric results share its memory unless `copy`.
        verify: check the CRC-32 when the header carries one.
        copy: return a writable array that owns its data (shared payloads, e.g. bytes, are read-only).
        max_bytes: refuse payloads larger than this (None: no limit).

    Raises:
        errors.DataLossError: if the payload is truncated, too long for the shape, or fails the checksum.
        errors.ResourceExhaustedError: if the payload exceeds `max_bytes`.
    """
    buf = _bytes_view(payload)
    _check_limit(buf.nbytes, max_bytes, "Tensor payload")
    if buf.nbytes != header.nbytes:
        kind = "truncated" if buf.nbytes < header.nbytes else "oversized"
        raise errors.DataLossError(None, None, f"Tensor payload {kind}: got {buf.nbytes} bytes, the header "
                                   f"says {header.nbytes}")
    if verify and header.crc32 is not None and zlib.crc32(buf) != header.crc32:
        raise errors.DataLossError(None, None, f"Tensor payload of {buf.nbytes} bytes failed its CRC-32 check")
    if header.dtype is _dt.string:
        return _decode_strings(buf, header.shape)
    wire = _wire_dtype(header.dtype)
    n = int(np.prod(header.shape, dtype=np.int64))
    if n * wire.itemsize != buf.nbytes:
        raise errors.DataLossError(None, None, f"Tensor payload of {buf.nbytes} bytes does not fit a "
                                   f"{header.dtype.name} tensor of shape {list(header.shape)}")
    arr = np.frombuffer(buf, dtype=wire, count=n).reshape(header.shape)
    if sys.byteorder == "big":  # pragma: no cover - the wire is little-endian
        arr = arr.astype(header.dtype.np) if wire.kind != "V" else arr.byteswap()
    return arr.copy() if copy else arr


def chunks(payload: Any, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[tuple[int, memoryview]]:
    """Splits a payload into `(offset, piece)` chunks of at most `chunk_size` bytes, without copying.

    An empty payload still yields one empty chunk, so every stream carries at least one message.

    Raises:
        errors.InvalidArgumentError: if `chunk_size` is not positive.
    """
    if not isinstance(chunk_size, int) or chunk_size <= 0:
        raise errors.InvalidArgumentError(None, None, f"chunk_size must be a positive integer, got {chunk_size!r}")
    buf = _bytes_view(payload)
    if buf.nbytes == 0:
        yield 0, buf
        return
    for off in range(0, buf.nbytes, chunk_size):
        yield off, buf[off:off + chunk_size]


class Reassembler:
    """Collects a payload's chunks, in any order, into one preallocated buffer and checks it when complete."""

    def __init__(self, nbytes: int, crc32: int | None = None, *, max_bytes: int | None = DEFAULT_MAX_BYTES):
        """Creates a reassembler for a payload of `nbytes` bytes.

        Args:
            nbytes: the payload's total size (from its header).
            crc32: the expected `zlib.crc32` of the payload, or None to skip the check.
            max_bytes: refuse payloads larger than this before allocating (None: no limit).

        Raises:
            errors.InvalidArgumentError: for a negative size.
            errors.ResourceExhaustedError: if `nbytes` exceeds `max_bytes`.
        """
        if not isinstance(nbytes, int) or nbytes < 0:
            raise errors.InvalidArgumentError(None, None, f"Payload size must be a non-negative int, got {nbytes!r}")
        _check_limit(nbytes, max_bytes, "Tensor payload")
        self._nbytes = nbytes
        self._crc32 = crc32
        self._buf = np.empty(nbytes, dtype=np.uint8)
        self._starts: list[int] = []  # sorted disjoint ranges received, with the matching ends
        self._ends: list[int] = []
        self._received = 0

    @classmethod
    def for_header(cls, header: TensorHeader, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> Reassembler:
        """A reassembler for the payload described by `header` (size and CRC-32)."""
        return cls(header.nbytes, header.crc32, max_bytes=max_bytes)

    @property
    def received(self) -> int:
        """Bytes received so far."""
        return self._received

    @property
    def complete(self) -> bool:
        """Whether every byte has arrived."""
        return self._received == self._nbytes

    def add(self, offset: int, data: Any) -> None:
        """Stores one chunk at `offset`.

        Raises:
            errors.DataLossError: if the chunk lies outside the payload or overlaps one already received.
        """
        piece = _bytes_view(data)
        end = offset + piece.nbytes
        if offset < 0 or end > self._nbytes:
            raise errors.DataLossError(None, None, f"Chunk [{offset}, {end}) lies outside the payload of "
                                       f"{self._nbytes} bytes")
        if piece.nbytes == 0:
            return
        i = bisect.bisect_right(self._starts, offset)
        if (i > 0 and self._ends[i - 1] > offset) or (i < len(self._starts) and self._starts[i] < end):
            raise errors.DataLossError(None, None, f"Chunk [{offset}, {end}) overlaps a chunk already received")
        # Merge with touching neighbours so in-order streams keep a single range.
        if i > 0 and self._ends[i - 1] == offset:
            i -= 1
            self._ends[i] = end
        else:
            self._starts.insert(i, offset)
            self._ends.insert(i, end)
        if i + 1 < len(self._starts) and self._starts[i + 1] == end:
            self._ends[i] = self._ends.pop(i + 1)
            self._starts.pop(i + 1)
        self._buf[offset:end] = np.frombuffer(piece, dtype=np.uint8)
        self._received += piece.nbytes

    def finish(self) -> memoryview:
        """Returns the whole payload after checking that it is complete and matches its CRC-32.

        The result can go to `decode(header, payload, verify=False)`: its checksum is already checked.

        Raises:
            errors.DataLossError: if bytes are missing or the checksum fails.
        """
        if not self.complete:
            raise errors.DataLossError(None, None, f"Tensor payload incomplete: received {self._received} of "
                                       f"{self._nbytes} bytes")
        out = memoryview(self._buf)
        if self._crc32 is not None and zlib.crc32(out) != self._crc32:
            raise errors.DataLossError(None, None, f"Tensor payload of {self._nbytes} bytes failed its CRC-32 "
                                       "check")
        return out


def to_tensor_proto(value: Any, dtype: Any = None, *, max_bytes: int = DEFAULT_INLINE_LIMIT) -> Any:
    """A small tensor as a `TensorProto` (for inline transfer inside a message).

    Raises:
        errors.ResourceExhaustedError: if the encoded proto exceeds `max_bytes`; send such tensors as chunks.
        TypeError / ValueError: as `make_tensor_proto` raises them.
    """
    from labflow.framework.proto_convert import make_tensor_proto

    proto = make_tensor_proto(value, dtype=dtype)
    _check_limit(proto.ByteSize(), max_bytes, "Inline TensorProto")
    return proto


def from_tensor_proto(proto: Any) -> np.ndarray:
    """A `TensorProto` (labflow's or TF's) as a NumPy array.

    Raises:
        errors.InvalidArgumentError: for a proto that does not describe a valid tensor.
    """
    from labflow.framework.proto_convert import make_ndarray

    try:
        return make_ndarray(proto)
    except (TypeError, ValueError) as e:
        raise errors.InvalidArgumentError(None, None, f"Invalid TensorProto: {e}") from None
