"""TensorFlow's V2 checkpoint format, the "tensor bundle" (tensorflow/core/util/tensor_bundle/tensor_bundle.cc).

A bundle with prefix P is ``P.index``, an SSTable (see sstable.py) whose key "" holds a BundleHeaderProto and whose
every other key, a tensor name, holds a BundleEntryProto (dtype, shape, shard, offset, size, masked CRC-32C), and
the data files ``P.data-SSSSS-of-NNNNN``: the tensors' little-endian bytes back to back, unaligned. A string tensor
is its elements' lengths as varint64s, a masked CRC-32C of those lengths (each as a little-endian uint32), then the
elements' bytes; its CRC covers the uint32 lengths, the length checksum and the bytes, as TF computes it.
"""

from __future__ import annotations

import os
import struct
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.protos import tensor_bundle_pb2
from labflow.train import sstable

__all__ = ["data_filename", "encode_bundle", "read_entries", "read_tensor", "entry_dtype", "entry_shape",
           "slice_key", "slice_keys", "merge_indexes"]

BUNDLE_VERSION = 1  # TF's kTensorBundleVersion
_RESOURCE, _VARIANT = 20, 21  # DataType enums of tensors that are handles, not values


def data_filename(prefix: str, shard_id: int = 0, num_shards: int = 1) -> str:
    return f"{prefix}.data-{shard_id:05d}-of-{num_shards:05d}"


def _string_bytes(value: np.ndarray, name: str) -> tuple[bytes, int]:
    items = []
    for v in value.reshape(-1):
        if not isinstance(v, (str, bytes)):
            raise errors.InvalidArgumentError(None, None, f"Cannot save tensor '{name}': a string tensor holds "
                                              f"{type(v).__name__} {v!r}; string tensors hold bytes or str.")
        items.append(v.encode() if isinstance(v, str) else bytes(v))
    lengths = b"".join(sstable.put_varint(len(b)) for b in items)
    crc = 0
    for b in items:
        crc = sstable.crc32c_extend(crc, struct.pack("<I", len(b)) if len(b) <= 0xFFFFFFFF
                                    else struct.pack("<Q", len(b)))
    length_crc = struct.pack("<I", sstable.mask(crc))
    body = b"".join(items)
    crc = sstable.crc32c_extend(sstable.crc32c_extend(crc, length_crc), body)
    return lengths + length_crc + body, crc


def _tensor_bytes(value: np.ndarray, name: str) -> tuple[bytes, int, int]:
    """(bytes, DataType enum, unmasked CRC-32C) of one tensor as TF's BundleWriter::Add writes it."""
    if value.dtype == object or value.dtype.kind in "SU":
        raw, crc = _string_bytes(value, name)
        return raw, _dt.string.as_datatype_enum, crc
    dt = _dt.as_dtype(value.dtype)
    raw = np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<"), copy=False).tobytes()
    return raw, dt.as_datatype_enum, sstable.crc32c_extend(0, raw)


def encode_bundle(tensors: dict[str, Any]) -> tuple[bytes, bytes]:
    """(data file bytes, index file bytes) of a one-shard bundle holding `tensors`, exactly as TF writes them."""
    header = tensor_bundle_pb2.BundleHeaderProto(num_shards=1, endianness=tensor_bundle_pb2.BundleHeaderProto.LITTLE)
    header.version.producer = BUNDLE_VERSION
    entries = [(b"", header.SerializeToString())]
    chunks, offset = [], 0
    for name in sorted(tensors, key=lambda n: n.encode()):
        value = np.asarray(tensors[name])
        raw, enum, crc = _tensor_bytes(value, name)
        entry = tensor_bundle_pb2.BundleEntryProto(dtype=enum, offset=offset, size=len(raw), crc32c=sstable.mask(crc))
        entry.shape.SetInParent()  # TF writes a scalar's empty shape too
        for d in value.shape:
            entry.shape.dim.add(size=d)
        entries.append((name.encode(), entry.SerializeToString(deterministic=True)))
        chunks.append(raw)
        offset += len(raw)
    return b"".join(chunks), sstable.build_table(entries)


def read_entries(index: bytes, path: str) -> tuple[Any, dict[str, Any]]:
    """(BundleHeaderProto, {tensor name: BundleEntryProto}) of the index file `path` whose contents are `index`.

    Raises:
        DataLossError: a corrupt table, header or entry, or a bundle from a newer or big-endian writer.
    """
    rows = sstable.read_table(index, path)
    if not rows or rows[0][0] != b"":
        raise errors.DataLossError(None, None, f"Checkpoint index {path} has no bundle header (key \"\"): it is "
                                   "not a TensorFlow V2 checkpoint index.")
    header = tensor_bundle_pb2.BundleHeaderProto()
    try:
        header.ParseFromString(rows[0][1])
    except Exception:  # protobuf raises DecodeError, or RuntimeWarning-derived errors on some runtimes
        raise errors.DataLossError(None, None, f"Checkpoint index {path}: unable to parse the bundle header.") from None
    if header.endianness != tensor_bundle_pb2.BundleHeaderProto.LITTLE:
        raise errors.UnimplementedError(None, None, f"Checkpoint {path} was written on a big-endian machine; "
                                        "only little-endian checkpoints are read.")
    if header.version.min_consumer > BUNDLE_VERSION or BUNDLE_VERSION in header.version.bad_consumers:
        raise errors.InvalidArgumentError(None, None, f"Checkpoint {path} needs a reader of bundle version "
                                          f">= {header.version.min_consumer}; labflow reads version {BUNDLE_VERSION}.")
    entries = {}
    for key, value in rows[1:]:
        entry = tensor_bundle_pb2.BundleEntryProto()
        try:
            entry.ParseFromString(value)
            name = key.decode("latin-1" if key[:1] == b"\x00" else "utf-8")  # slice keys are binary
        except Exception:
            raise errors.DataLossError(None, None, f"Checkpoint index {path}: entry for key {key!r} is not "
                                       "parseable.") from None
        entries[name] = entry
    return header, entries


# -- tensors saved as slices (TF's partitioned variables) ----------------------------------------------------
# The full tensor's entry lists its slices; each slice is an ordinary entry under a key built with TF's
# OrderedCode (tensorflow/core/util/saved_tensor_slice_util.cc EncodeTensorNameSlice): 0, the name, the rank, then
# each dimension's start and length (-1 for a whole dimension) as order-preserving signed numbers.
_SIGNED_HEADER = [(0, 0), (0x80, 0), (0xC0, 0), (0xE0, 0), (0xF0, 0), (0xF8, 0), (0xFC, 0), (0xFE, 0), (0xFF, 0),
                  (0xFF, 0x80), (0xFF, 0xC0)]


def _ordered_unsigned(v: int) -> bytes:
    raw = v.to_bytes((v.bit_length() + 7) // 8, "big")
    return bytes([len(raw)]) + raw


def _ordered_signed(v: int) -> bytes:
    x = ~v if v < 0 else v
    n = x.bit_length() // 7 + 1
    buf = bytearray((v & ((1 << 80) - 1)).to_bytes(10, "big")[10 - n:])  # sign-extended big-endian
    buf[0] ^= _SIGNED_HEADER[n][0]
    if n > 1:
        buf[1] ^= _SIGNED_HEADER[n][1]
    return bytes(buf)


def _extents(slice_proto: Any) -> list[tuple[int, int]]:
    return [(e.start, e.length if e.HasField("length") else -1) for e in slice_proto.extent]


def slice_key(name: str, extents: list[tuple[int, int]]) -> str:
    """The key TF stores the slice `extents` ((start, length or -1) per dimension) of tensor `name` under."""
    escaped = b"".join(b"\x00\xff" if c == 0 else b"\xff\x00" if c == 0xFF else bytes([c]) for c in name.encode())
    parts = [b"\x00", escaped, b"\x00\x01", _ordered_unsigned(len(extents))]
    parts += [_ordered_signed(v) for ext in extents for v in ext]
    return b"".join(parts).decode("latin-1")


def slice_keys(entries: dict[str, Any]) -> set[str]:
    """The keys of every slice entry (hidden from listings, as TF's CheckpointReader hides them)."""
    return {slice_key(name, _extents(s)) for name, e in entries.items() for s in e.slices}


def entry_dtype(entry: Any) -> _dt.DType:
    return _dt.as_dtype(entry.dtype)


def entry_shape(entry: Any) -> list[int]:
    return [d.size for d in entry.shape.dim]


def _checksum_error(name: str, path: str) -> errors.DataLossError:
    return errors.DataLossError(None, None, f"Checksum (crc32c) mismatch for tensor '{name}' in {path}: the file "
                                "is corrupt; restore from another checkpoint.")


def _read_strings(raw: bytes, count: int, name: str, path: str, want_crc: int) -> np.ndarray:
    lengths, pos, crc = [], 0, 0
    try:
        for _ in range(count):
            n, pos = sstable.get_varint(raw, pos)
            lengths.append(n)
            crc = sstable.crc32c_extend(crc, struct.pack("<I" if n <= 0xFFFFFFFF else "<Q", n))
    except ValueError:
        raise errors.DataLossError(None, None, f"String tensor '{name}' in {path}: its lengths are "
                                   "truncated.") from None
    if pos + 4 > len(raw) or sstable.unmask_crc32c(struct.unpack_from("<I", raw, pos)[0]) != crc:
        raise errors.DataLossError(None, None, f"String tensor '{name}' in {path}: the length checksum does not "
                                   "match (crc mismatch); the file is corrupt.")
    pos += 4
    if pos + sum(lengths) != len(raw):
        raise errors.DataLossError(None, None, f"String tensor '{name}' in {path}: its lengths add up to "
                                   f"{pos + sum(lengths)} bytes, the entry has {len(raw)}.")
    if sstable.crc32c_extend(crc, raw[pos - 4:]) != want_crc:
        raise _checksum_error(name, path)
    items = []
    for n in lengths:
        items.append(raw[pos:pos + n])
        pos += n
    return np.array(items + [None], dtype=object)[:-1]  # the None keeps NumPy from making a bytes array


def _assemble(prefix: str, num_shards: int, name: str, entry: Any, entries: dict[str, Any]) -> np.ndarray:
    shape = entry_shape(entry)
    out = np.zeros(shape, dtype=entry_dtype(entry).as_numpy_dtype)
    covered = 0
    for s in entry.slices:
        extents = _extents(s)
        key = slice_key(name, extents)
        if key not in entries:
            raise errors.DataLossError(None, None, f"Checkpoint {prefix}: slice {extents} of tensor '{name}' has no "
                                       "entry in the index.")
        part = read_tensor(prefix, num_shards, key, entries[key])
        index = tuple(slice(st, st + n) if n >= 0 else slice(None) for st, n in extents)
        if out[index].shape != part.shape:
            raise errors.DataLossError(None, None, f"Checkpoint {prefix}: slice {extents} of tensor '{name}' has "
                                       f"shape {list(part.shape)}, which does not fit the tensor's {shape}.")
        out[index] = part
        covered += part.size
    if covered != out.size:
        raise errors.DataLossError(None, None, f"Checkpoint {prefix}: the slices of tensor '{name}' cover "
                                   f"{covered} of its {out.size} elements.")
    return out


def read_tensor(prefix: str, num_shards: int, name: str, entry: Any,
                entries: dict[str, Any] | None = None) -> np.ndarray:
    """The value of tensor `name` described by `entry`, read from its data file and checked against its CRC.

    A tensor saved as slices (a TF partitioned variable) is assembled from its slice entries, looked up in
    `entries` (every entry of the index).

    Raises:
        DataLossError: the data file is missing or truncated, the bytes fail their checksum, or the size is wrong.
        UnimplementedError: a resource or variant tensor.
    """
    if len(entry.slices):
        return _assemble(prefix, num_shards, name, entry, entries or {})
    if entry.dtype in (_RESOURCE, _VARIANT):
        raise errors.UnimplementedError(None, None, f"Tensor '{name}' in checkpoint {prefix} has dtype "
                                        f"{entry.dtype} (resource/variant), which labflow does not restore.")
    dt = entry_dtype(entry)
    shape = entry_shape(entry)
    path = data_filename(prefix, entry.shard_id, num_shards)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            f.seek(entry.offset)
            raw = f.read(entry.size)
    except FileNotFoundError:
        raise errors.DataLossError(None, None, f"Checkpoint data file {path} is missing (its index "
                                   f"{prefix}.index exists).") from None
    if entry.offset + entry.size > size:
        raise errors.DataLossError(None, None, f"Checkpoint data file {path} is truncated: tensor '{name}' needs "
                                   f"bytes up to {entry.offset + entry.size}, the file has {size}.")
    count = int(np.prod(shape, dtype=np.int64))
    if dt == _dt.string:
        return _read_strings(raw, count, name, path, sstable.unmask_crc32c(entry.crc32c)).reshape(shape)
    if sstable.crc32c_extend(0, raw) != sstable.unmask_crc32c(entry.crc32c):
        raise _checksum_error(name, path)
    npd = np.dtype(dt.as_numpy_dtype).newbyteorder("<")
    if len(raw) != count * npd.itemsize:
        raise errors.DataLossError(None, None, f"Invalid size in bundle entry: tensor '{name}' in {path} has "
                                   f"{len(raw)} bytes, expected {count * npd.itemsize} for {dt.name}{shape}.")
    return np.frombuffer(raw, dtype=npd).astype(npd.newbyteorder("="), copy=True).reshape(shape)


def merge_indexes(sources: list[tuple[str, Any, dict[str, Any]]]) -> tuple[bytes, list[tuple[int, int]]]:
    """The index bytes of one bundle merging `sources`, [(prefix, header, entries)], as TF's MergeBundles does.

    Each source's data shards keep their order and follow those of the sources before it, so entry shard ids
    are shifted by the shards that precede their source. Returns (index bytes, [(first new shard id, number of
    shards)] per source) so the caller can rename the data files to match.

    Raises:
        InvalidArgumentError: two sources hold the same tensor name.
    """
    merged: dict[str, Any] = {}
    layout, total = [], 0
    for prefix, header, entries in sources:
        layout.append((total, header.num_shards))
        for name, entry in entries.items():
            if name in merged:
                raise errors.InvalidArgumentError(None, None, f"Duplicate tensor keyed by {name!r} encountered, "
                                                  f"when merging prefix: {prefix}. Each shard must hold distinct "
                                                  "tensors.")
            moved = tensor_bundle_pb2.BundleEntryProto()
            moved.CopyFrom(entry)
            moved.shard_id = entry.shard_id + total
            merged[name] = moved
        total += header.num_shards
    header = tensor_bundle_pb2.BundleHeaderProto(num_shards=total,
                                                 endianness=tensor_bundle_pb2.BundleHeaderProto.LITTLE)
    header.version.producer = BUNDLE_VERSION
    rows = [(b"", header.SerializeToString())]
    for name in sorted(merged, key=lambda n: n.encode("latin-1" if n[:1] == "\x00" else "utf-8")):
        key = name.encode("latin-1" if name[:1] == "\x00" else "utf-8")
        rows.append((key, merged[name].SerializeToString(deterministic=True)))
    return sstable.build_table(rows), layout
