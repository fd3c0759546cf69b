"""labflow's checkpoint files: TensorFlow's V2 format (the "tensor bundle"), so TF and labflow read each other's.

A checkpoint with prefix P is ``P.index`` (an SSTable of BundleEntryProtos, see tensor_bundle.py and sstable.py)
and ``P.data-00000-of-00001`` (the tensors' bytes). Writes are byte-for-byte what TF's BundleWriter writes for the
same tensors, and deterministic. Files go to temporary names that are flushed, fsynced and renamed, data first and
index last, so a prefix whose index exists is complete; a crash mid-write leaves the previous checkpoint intact.

Reading also accepts TF checkpoints with several data shards, and labflow's earlier format (a JSON index, told
apart by its first byte), so checkpoints written before the switch still restore.
"""

from __future__ import annotations

import glob
import json
import os
import struct
import zlib
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.fileio import atomic_write  # noqa: F401 - re-exported for the Saver
from labflow.train import tensor_bundle

FORMAT_VERSION = 2  # SaverDef.V2
DATA_SUFFIX = ".data-00000-of-00001"
INDEX_SUFFIX = ".index"


def write_checkpoint(prefix: str, tensors: dict[str, np.ndarray]) -> None:
    """Writes `tensors` under `prefix` in TF's V2 format (data file first, then the index)."""
    data, index = tensor_bundle.encode_bundle(tensors)
    atomic_write(prefix + DATA_SUFFIX, data)
    atomic_write(prefix + INDEX_SUFFIX, index)


def checkpoint_exists(prefix: str) -> bool:
    return os.path.exists(prefix + INDEX_SUFFIX)


def _open(prefix: str) -> tuple[dict, dict]:
    """(index summary as `read_index` returns it, {name: BundleEntryProto} or {} for a legacy checkpoint)."""
    path = prefix + INDEX_SUFFIX
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise errors.NotFoundError(None, None, f"Checkpoint not found: no index file {path}. Check the path "
                                   "(tf.train.latest_checkpoint(dir) gives the newest prefix in a folder).") from None
    if raw[:1] == b"{":  # labflow's JSON index (before the switch to TF's format); an SSTable starts with a 0 byte
        return _legacy_index(raw, path), {}
    header, entries = tensor_bundle.read_entries(raw, path)
    hidden = tensor_bundle.slice_keys(entries)
    tensors = {name: {"dtype": tensor_bundle.entry_dtype(e).name, "shape": tensor_bundle.entry_shape(e),
                      "shard_id": e.shard_id, "offset": e.offset, "length": e.size, "crc32c": e.crc32c,
                      "num_slices": len(e.slices)}
               for name, e in entries.items() if name not in hidden}
    return {"format": "tensor-bundle", "version": header.version.producer, "num_shards": header.num_shards,
            "tensors": tensors}, entries


def read_index(prefix: str) -> dict:
    """The checkpoint's table of contents: ``{"tensors": {name: {"dtype": name, "shape": [...], ...}}, ...}``.

    Raises:
        NotFoundError: no index file at `prefix`.
        DataLossError: the index is corrupt or truncated (the message names the file and the problem).
    """
    return _open(prefix)[0]


def read_tensors(prefix: str, names: list[str] | None = None) -> dict[str, np.ndarray]:
    """Reads (some of) the tensors of a checkpoint, verifying sizes and checksums.

    Raises:
        NotFoundError: the checkpoint, or one of `names` in it, does not exist.
        DataLossError: a file is missing, truncated or fails its checksum.
    """
    meta, entries = _open(prefix)
    index = meta["tensors"]
    want = list(index) if names is None else names
    for name in want:
        if name not in index:
            raise errors.NotFoundError(None, None, f"Key {name} not found in checkpoint {prefix}. It has: "
                                       f"{', '.join(sorted(index)) or 'no tensors'}.")
    if meta["format"] != "tensor-bundle":
        return _legacy_read(prefix, index, want)
    return {name: tensor_bundle.read_tensor(prefix, meta["num_shards"], name, entries[name], entries)
            for name in want}


def list_variables(prefix: str) -> list[tuple[str, list[int]]]:
    """(name, shape) of every tensor in a checkpoint, like `tf.train.list_variables`."""
    meta = read_index(prefix)
    return [(k, v["shape"]) for k, v in sorted(meta["tensors"].items())]


def delete_checkpoint(prefix: str) -> None:
    paths = [prefix + INDEX_SUFFIX, prefix + ".meta"] + glob.glob(glob.escape(prefix) + ".data-?????-of-?????")
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def describe(value: Any) -> str:
    a = np.asarray(value)
    return f"{_dt.as_dtype(a.dtype).name}{list(a.shape)}"


# -- labflow's earlier format: read only ---------------------------------------------------------------------
# A JSON index ({"format": "labflow-checkpoint", "tensors": {name: dtype, shape, offset, length, crc32}}) and one
# data file of raw little-endian bytes; strings as uint64-length-prefixed items; zlib CRC-32 per tensor.

def _legacy_index(raw: bytes, path: str) -> dict:
    try:
        meta = json.loads(raw.decode())
    except (ValueError, UnicodeDecodeError) as e:
        raise errors.DataLossError(None, None, f"Checkpoint index {path} is corrupt: {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != "labflow-checkpoint":
        raise errors.DataLossError(None, None, f"{path} is neither a TensorFlow V2 nor a labflow checkpoint index.")
    return meta


def _legacy_decode(buf: bytes, dtype_name: str, shape: list[int], name: str, path: str) -> np.ndarray:
    if dtype_name == "string":
        items, pos = [], 0
        for _ in range(int(np.prod(shape, dtype=np.int64))):
            (n,) = struct.unpack_from("<Q", buf, pos)
            items.append(buf[pos + 8:pos + 8 + n])
            pos += 8 + n
        return np.array(items + [None], dtype=object)[:-1].reshape(shape)
    npd = np.dtype(_dt.as_dtype(dtype_name).as_numpy_dtype).newbyteorder("<")
    expected = int(np.prod(shape, dtype=np.int64)) * npd.itemsize
    if len(buf) != expected:
        raise errors.DataLossError(None, None, f"Checkpoint tensor '{name}' in {path} has {len(buf)} bytes, "
                                   f"expected {expected} for {dtype_name}{shape}: the file is truncated.")
    return np.frombuffer(buf, dtype=npd).astype(npd.newbyteorder("="), copy=True).reshape(shape)


def _legacy_read(prefix: str, index: dict, want: list[str]) -> dict[str, np.ndarray]:
    data_path = prefix + DATA_SUFFIX
    if not os.path.exists(data_path):
        raise errors.DataLossError(None, None, f"Checkpoint data file {data_path} is missing (its index "
                                   f"{prefix + INDEX_SUFFIX} exists).")
    size = os.path.getsize(data_path)
    out = {}
    with open(data_path, "rb") as f:
        for name in want:
            e = index[name]
            if e["offset"] + e["length"] > size:
                raise errors.DataLossError(None, None, f"Checkpoint data file {data_path} is truncated: "
                                           f"tensor '{name}' needs bytes up to {e['offset'] + e['length']}, "
                                           f"the file has {size}.")
            f.seek(e["offset"])
            raw = f.read(e["length"])
            if zlib.crc32(raw) != e["crc32"]:
                raise errors.DataLossError(None, None, f"Checksum mismatch for tensor '{name}' in "
                                           f"{data_path}: the file is corrupt.")
            out[name] = _legacy_decode(raw, e["dtype"], e["shape"], name, data_path)
    return out


def merge_checkpoints(prefixes: list[str], dest: str, delete_old_dirs: bool = True,
                      allow_missing_files: bool = False) -> None:
    """Merges the one-writer checkpoints `prefixes` into one checkpoint `dest` (TF's MergeV2Checkpoints).

    The data files are renamed into `dest`'s shard names, the merged index is written last (so `dest` only
    exists once complete), then the sources' index files are deleted and, with `delete_old_dirs`, their folders
    too where that leaves them empty (TF's sharded Saver writes each shard under a temporary folder).

    Raises:
        InvalidArgumentError: a source has no index (and `allow_missing_files` is False), none of them has
            one, two sources hold the same tensor, or a source is in labflow's legacy format.
        NotFoundError: a source's data file is missing.
    """
    sources = []
    for prefix in prefixes:
        path = prefix + INDEX_SUFFIX
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            if allow_missing_files:
                continue
            raise errors.InvalidArgumentError(None, None, f"MergeV2Checkpoints: allow_missing_files is False and "
                                              f"{path} does not exist; pass allow_missing_files=True to skip "
                                              "missing shards.") from None
        if raw[:1] == b"{":
            raise errors.InvalidArgumentError(None, None, f"MergeV2Checkpoints: {path} is labflow's legacy JSON "
                                              "checkpoint; only tensor-bundle checkpoints can be merged.")
        header, entries = tensor_bundle.read_entries(raw, path)
        sources.append((prefix, header, entries))
    if not sources:
        raise errors.InvalidArgumentError(None, None, f"MergeV2Checkpoints: at least one checkpoint must exist, "
                                          f"but none of {list(prefixes)} does.")
    index, layout = tensor_bundle.merge_indexes(sources)
    total = sum(n for _, n in layout)
    dest_dir = os.path.dirname(dest)
    if dest_dir:
        os.makedirs(dest_dir, exist_ok=True)
    for (prefix, _, _), (first, count) in zip(sources, layout):
        for i in range(count):
            src = tensor_bundle.data_filename(prefix, i, count)
            if not os.path.exists(src):
                raise errors.NotFoundError(None, None, f"MergeV2Checkpoints: data file {src} of {prefix} is "
                                           "missing; the shard was not fully written.")
            os.replace(src, tensor_bundle.data_filename(dest, first + i, total))
    atomic_write(dest + INDEX_SUFFIX, index)
    for prefix, _, _ in sources:
        if os.path.abspath(prefix) != os.path.abspath(dest):
            try:
                os.unlink(prefix + INDEX_SUFFIX)
            except FileNotFoundError:
                pass
        if delete_old_dirs:
            folder = os.path.dirname(os.path.abspath(prefix))
            if folder != os.path.dirname(os.path.abspath(dest)):
                try:
                    os.rmdir(folder)  # only an empty folder: TF also tolerates failure here
                except OSError:
                    pass
