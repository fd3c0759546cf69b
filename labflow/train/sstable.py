"""LevelDB-style SSTables as TensorFlow writes them (tensorflow/core/lib/io/table_builder.cc): the `.index` file of a
V2 checkpoint.

Layout: data blocks of prefix-compressed key/value entries (a restart point every 16 entries), each followed by a
5-byte trailer (compression type 0, masked CRC-32C of block + type byte); an empty metaindex block; an index block
(restart interval 1) mapping a separator key per data block to its BlockHandle (varint64 offset, size); and a 48-byte
footer (metaindex handle, index handle, zero padding to 40 bytes, magic 0xdb4775248b80fb57). The writer follows
TF's choices exactly (block size, separators, successor key), so the bytes match TF's for the same entries.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from labflow import errors
from labflow.summary.event_file_writer import crc32c

__all__ = ["TABLE_MAGIC", "mask", "unmask_crc32c", "crc32c_extend", "put_varint", "get_varint",
           "build_table", "read_table"]

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5
BLOCK_SIZE = 262144  # TF's table::Options::block_size (256 KiB; LevelDB's is 4 KiB)
RESTART_INTERVAL = 16
_MASK_DELTA = 0xA282EAD8


def mask(crc: int) -> int:
    """TF's crc32c::Mask of a CRC value (event_file_writer.masked_crc32c masks the CRC of bytes)."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def unmask_crc32c(masked: int) -> int:
    """Inverse of `mask`."""
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def crc32c_extend(crc: int, data: bytes) -> int:
    """crc32c::Extend: the CRC-32C of (the bytes behind `crc`) + `data`."""
    import google_crc32c
    return google_crc32c.extend(crc, data)


def put_varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def get_varint(buf: bytes, pos: int, limit: int | None = None) -> tuple[int, int]:
    """Decodes a varint64 at `pos`; returns (value, next position). Raises ValueError if it runs off the end."""
    end = len(buf) if limit is None else limit
    result = shift = 0
    while pos < end and shift <= 63:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
    raise ValueError("truncated or overlong varint")


class _BlockBuilder:
    def __init__(self, restart_interval: int):
        self.interval = restart_interval
        self.reset()

    def reset(self) -> None:
        self.buf = bytearray()
        self.restarts = [0]
        self.counter = 0
        self.last_key = b""

    def empty(self) -> bool:
        return not self.buf

    def size_estimate(self) -> int:
        return len(self.buf) + 4 * len(self.restarts) + 4

    def add(self, key: bytes, value: bytes) -> None:
        shared = 0
        if self.counter < self.interval:
            n = min(len(self.last_key), len(key))
            while shared < n and self.last_key[shared] == key[shared]:
                shared += 1
        else:
            self.restarts.append(len(self.buf))
            self.counter = 0
        self.buf += put_varint(shared) + put_varint(len(key) - shared) + put_varint(len(value))
        self.buf += key[shared:] + value
        self.last_key = key
        self.counter += 1

    def finish(self) -> bytes:
        return bytes(self.buf) + b"".join(struct.pack("<I", r) for r in self.restarts) + struct.pack(
            "<I", len(self.restarts))


def _shortest_separator(start: bytes, limit: bytes) -> bytes:
    n = min(len(start), len(limit))
    i = 0
    while i < n and start[i] == limit[i]:
        i += 1
    if i < n and start[i] < 0xFF and start[i] + 1 < limit[i]:
        return start[:i] + bytes([start[i] + 1])
    return start


def _short_successor(key: bytes) -> bytes:
    for i, b in enumerate(key):
        if b != 0xFF:
            return key[:i] + bytes([b + 1])
    return key


def build_table(entries: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The SSTable holding `entries` (keys strictly increasing), byte-for-byte as TF's TableBuilder writes it."""
    out = bytearray()
    data, index = _BlockBuilder(RESTART_INTERVAL), _BlockBuilder(1)
    pending: tuple[int, int] | None = None
    last_key: bytes | None = None

    def write_block(block: _BlockBuilder) -> tuple[int, int]:
        raw = block.finish()
        handle = (len(out), len(raw))
        out.extend(raw)
        out.extend(b"\x00" + struct.pack("<I", mask(crc32c_extend(crc32c(raw), b"\x00"))))
        block.reset()
        return handle

    def flush() -> None:
        nonlocal pending
        if not data.empty():
            pending = write_block(data)

    for key, value in entries:
        if last_key is not None:
            if key <= last_key:
                raise ValueError(f"SSTable keys must be strictly increasing: {key!r} after {last_key!r}")
            if len(key) + len(value) >= 2 * BLOCK_SIZE:
                flush()
        if pending is not None:
            index.add(_shortest_separator(last_key, key), put_varint(pending[0]) + put_varint(pending[1]))
            pending = None
        last_key = key
        data.add(key, value)
        if data.size_estimate() >= BLOCK_SIZE:
            flush()
    flush()
    meta_handle = write_block(_BlockBuilder(RESTART_INTERVAL))
    if pending is not None:
        index.add(_short_successor(last_key), put_varint(pending[0]) + put_varint(pending[1]))
    index_handle = write_block(index)
    handles = b"".join(put_varint(v) for v in (*meta_handle, *index_handle))
    out += handles.ljust(40, b"\x00") + struct.pack("<II", TABLE_MAGIC & 0xFFFFFFFF, TABLE_MAGIC >> 32)
    return bytes(out)


def _corrupt(path: str, what: str) -> errors.DataLossError:
    return errors.DataLossError(None, None, f"Checkpoint index {path} is corrupt: {what}. It is not a complete "
                                "TensorFlow V2 checkpoint index; restore from another checkpoint.")


def _read_block(buf: bytes, handle: tuple[int, int], path: str, what: str) -> bytes:
    offset, size = handle
    end = offset + size + BLOCK_TRAILER_SIZE
    if end > len(buf) - FOOTER_SIZE:
        raise _corrupt(path, f"the {what} block (bytes {offset}..{end}) runs past the end of the file's data")
    block, kind = buf[offset:offset + size], buf[offset + size]
    (stored,) = struct.unpack_from("<I", buf, offset + size + 1)
    if unmask_crc32c(stored) != crc32c_extend(crc32c(block), bytes([kind])):
        raise _corrupt(path, f"crc mismatch in the {what} block at offset {offset}")
    if kind != 0:
        raise _corrupt(path, f"the {what} block is compressed (type {kind}); only uncompressed tables are read")
    return block


def _block_entries(block: bytes, path: str, what: str) -> list[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise _corrupt(path, f"the {what} block is too short")
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * num_restarts
    if limit < 0:
        raise _corrupt(path, f"the {what} block has a bad restart count")
    out, key, pos = [], b"", 0
    try:
        while pos < limit:
            shared, pos = get_varint(block, pos, limit)
            non_shared, pos = get_varint(block, pos, limit)
            value_len, pos = get_varint(block, pos, limit)
            if shared > len(key) or pos + non_shared + value_len > limit:
                raise ValueError("entry overruns the block")
            key = key[:shared] + block[pos:pos + non_shared]
            pos += non_shared
            out.append((key, block[pos:pos + value_len]))
            pos += value_len
    except ValueError as e:
        raise _corrupt(path, f"bad entry in the {what} block ({e})") from None
    return out


def _handle(value: bytes, path: str) -> tuple[int, int]:
    try:
        offset, pos = get_varint(value, 0)
        size, _ = get_varint(value, pos)
    except ValueError:
        raise _corrupt(path, "bad block handle") from None
    return offset, size


def read_table(buf: bytes, path: str) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of the SSTable `buf` (the contents of file `path`), in key order, checksums verified.

    Raises:
        DataLossError: the file is truncated, has no SSTable footer (bad magic number) or a block fails its CRC.
    """
    if len(buf) < FOOTER_SIZE:
        raise _corrupt(path, f"the file has {len(buf)} bytes, fewer than an SSTable footer's {FOOTER_SIZE} "
                       "(truncated?)")
    lo, hi = struct.unpack_from("<II", buf, len(buf) - 8)
    if (hi << 32) | lo != TABLE_MAGIC:
        raise _corrupt(path, "not an sstable (bad magic number)")
    footer = buf[len(buf) - FOOTER_SIZE:]
    try:
        meta_off, pos = get_varint(footer, 0)
        meta_size, pos = get_varint(footer, pos)
        index_off, pos = get_varint(footer, pos)
        index_size, _ = get_varint(footer, pos)
    except ValueError:
        raise _corrupt(path, "bad footer") from None
    del meta_off, meta_size  # TF writes no meta blocks
    entries = []
    for _, handle in _block_entries(_read_block(buf, (index_off, index_size), path, "index"), path, "index"):
        entries += _block_entries(_read_block(buf, _handle(handle, path), path, "data"), path, "data")
    return entries
