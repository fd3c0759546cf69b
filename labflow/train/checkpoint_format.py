"""labflow's checkpoint files: tensors only, never pickle.

A checkpoint with prefix P is two files:

- ``P.data-00000-of-00001``: the tensors' raw bytes, back to back (C order, little endian);
- ``P.index``: JSON with, per tensor name, its dtype, shape, byte offset, byte length and CRC32.

Writes go to temporary names that are flushed, fsynced and renamed, data first and index last, so a
prefix whose index exists is complete; a crash mid-write leaves the previous checkpoint intact.
String tensors are stored as length-prefixed UTF-8/bytes items.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.fileio import atomic_write  # noqa: F401 - re-exported for the Saver

FORMAT_VERSION = 1
DATA_SUFFIX = ".data-00000-of-00001"
INDEX_SUFFIX = ".index"


def _encode(value: np.ndarray) -> tuple[bytes, str]:
    if value.dtype == object or value.dtype.kind in "SU":
        parts = []
        for item in value.reshape(-1):
            b = item.encode() if isinstance(item, str) else bytes(item)
            parts.append(struct.pack("<Q", len(b)) + b)
        return b"".join(parts), "string"
    dt = _dt.as_dtype(value.dtype)
    return np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<"), copy=False).tobytes(), dt.name


def _decode(buf: bytes, dtype_name: str, shape: list[int], name: str, path: str) -> np.ndarray:
    if dtype_name == "string":
        items, pos = [], 0
        count = int(np.prod(shape, dtype=np.int64))
        for _ in range(count):
            (n,) = struct.unpack_from("<Q", buf, pos)
            pos += 8
            items.append(buf[pos:pos + n])
            pos += n
        return np.array(items, dtype=object).reshape(shape)
    npd = np.dtype(_dt.as_dtype(dtype_name).as_numpy_dtype).newbyteorder("<")
    expected = int(np.prod(shape, dtype=np.int64)) * npd.itemsize
    if len(buf) != expected:
        raise errors.DataLossError(None, None, f"Checkpoint tensor '{name}' in {path} has {len(buf)} bytes, "
                                   f"expected {expected} for {dtype_name}{shape}: the file is truncated.")
    return np.frombuffer(buf, dtype=npd).astype(npd.newbyteorder("="), copy=True).reshape(shape)


def write_checkpoint(prefix: str, tensors: dict[str, np.ndarray]) -> None:
    """Writes `tensors` under `prefix` (data file first, then the index)."""
    chunks, index, offset = [], {}, 0
    for name in sorted(tensors):
        value = np.asarray(tensors[name])
        raw, dtype_name = _encode(value)
        index[name] = {"dtype": dtype_name, "shape": list(value.shape), "offset": offset,
                       "length": len(raw), "crc32": zlib.crc32(raw)}
        chunks.append(raw)
        offset += len(raw)
    atomic_write(prefix + DATA_SUFFIX, b"".join(chunks))
    meta = {"format": "labflow-checkpoint", "version": FORMAT_VERSION, "data_file": os.path.basename(
        prefix + DATA_SUFFIX), "data_bytes": offset, "tensors": index}
    atomic_write(prefix + INDEX_SUFFIX, json.dumps(meta, indent=1).encode())


def checkpoint_exists(prefix: str) -> bool:
    return os.path.exists(prefix + INDEX_SUFFIX)


def read_index(prefix: str) -> dict:
    path = prefix + INDEX_SUFFIX
    if not os.path.exists(path):
        raise errors.NotFoundError(None, None, f"Checkpoint not found: no index file {path}. Check the path "
                                   "(tf.train.latest_checkpoint(dir) gives the newest prefix in a folder).")
    try:
        with open(path, "rb") as f:
            meta = json.loads(f.read().decode())
    except (ValueError, UnicodeDecodeError) as e:
        raise errors.DataLossError(None, None, f"Checkpoint index {path} is corrupt: {e}") from None
    if meta.get("format") != "labflow-checkpoint":
        raise errors.DataLossError(None, None, f"{path} is not a labflow checkpoint index.")
    return meta


def read_tensors(prefix: str, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Reads (some of) the tensors of a checkpoint, verifying sizes and checksums."""
    meta = read_index(prefix)
    index = meta["tensors"]
    want = list(index) if names is None else names
    data_path = prefix + DATA_SUFFIX
    if not os.path.exists(data_path):
        raise errors.DataLossError(None, None, f"Checkpoint data file {data_path} is missing (its index "
                                   f"{prefix + INDEX_SUFFIX} exists).")
    size = os.path.getsize(data_path)
    out = {}
    with open(data_path, "rb") as f:
        for name in want:
            e = index.get(name)
            if e is None:
                raise errors.NotFoundError(None, None, f"Key {name} not found in checkpoint {prefix}. It has: "
                                           f"{', '.join(sorted(index)) or 'no tensors'}.")
            if e["offset"] + e["length"] > size:
                raise errors.DataLossError(None, None, f"Checkpoint data file {data_path} is truncated: "
                                           f"tensor '{name}' needs bytes up to {e['offset'] + e['length']}, "
                                           f"the file has {size}.")
            f.seek(e["offset"])
            raw = f.read(e["length"])
            if zlib.crc32(raw) != e["crc32"]:
                raise errors.DataLossError(None, None, f"Checksum mismatch for tensor '{name}' in "
                                           f"{data_path}: the file is corrupt.")
            out[name] = _decode(raw, e["dtype"], e["shape"], name, data_path)
    return out


def list_variables(prefix: str) -> list[tuple[str, list[int]]]:
    """(name, shape) of every tensor in a checkpoint, like `tf.train.list_variables`."""
    meta = read_index(prefix)
    return [(k, v["shape"]) for k, v in sorted(meta["tensors"].items())]


def delete_checkpoint(prefix: str) -> None:
    for suffix in (INDEX_SUFFIX, DATA_SUFFIX, ".meta"):
        try:
            os.unlink(prefix + suffix)
        except FileNotFoundError:
            pass


def describe(value: Any) -> str:
    a = np.asarray(value)
    return f"{_dt.as_dtype(a.dtype).name}{list(a.shape)}"
