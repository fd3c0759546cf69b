"""TFRecord files: TF 1.x's `tf.python_io.TFRecordWriter` and `tf.python_io.tf_record_iterator`.

A TFRecord file is a sequence of records, each

    uint64 length (little-endian) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)

with masked_crc32c(x) = rotate_right(crc32c(x), 15) + 0xa282ead8 (mod 2^32), CRC-32C being the
Castagnoli CRC. With GZIP or ZLIB compression the whole byte stream above is compressed as one stream
(what TF's ZlibOutputBuffer writes), not record by record.

The CRC comes from `google-crc32c` (already a runtime dependency for event files, see
summary/event_file_writer.py); it is imported lazily so `import labflow` does not load it. The framing
is repeated here rather than imported from summary/ because framework/ must not depend on summary/.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from typing import Any, BinaryIO, Callable, Iterator

from labflow import errors

__all__ = ["TFRecordCompressionType", "TFRecordOptions", "TFRecordWriter", "tf_record_iterator",
           "crc32c", "masked_crc32c", "encode_record"]

_crc32c: Callable[[bytes], int] | None = None
_MASK_DELTA = 0xA282EAD8


def crc32c(data: bytes) -> int:
    """The CRC-32C (Castagnoli) of `data` (crc32c(b"123456789") == 0xE3069283)."""
    global _crc32c
    if _crc32c is None:
        try:
            import google_crc32c
        except ImportError:
            raise ImportError("TFRecord files need the google-crc32c package (the CRC-32C checksum of each "
                              "record): pip install google-crc32c") from None
        _crc32c = google_crc32c.value
    return _crc32c(bytes(data))


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC: the CRC-32C rotated right by 15 bits plus 0xa282ead8 (mod 2^32).

    The mask exists because a CRC of data that itself embeds CRCs is weak; TF masks every stored CRC.
    """
    x = crc32c(data)
    return ((((x >> 15) | (x << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def encode_record(data: bytes) -> bytes:
    """One framed TFRecord: length, masked CRC of the length, the data, masked CRC of the data."""
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))


class TFRecordCompressionType:
    """The compression of a TFRecord file (TF 1.x `tf.python_io.TFRecordCompressionType`)."""

    NONE = 0
    ZLIB = 1
    GZIP = 2


_NAMES = {TFRecordCompressionType.NONE: "", TFRecordCompressionType.ZLIB: "ZLIB",
          TFRecordCompressionType.GZIP: "GZIP"}


class TFRecordOptions:
    """Options for reading and writing TFRecord files (TF 1.x `tf.python_io.TFRecordOptions`)."""

    compression_type_map = dict(_NAMES)

    def __init__(self, compression_type: Any = None, compression_level: int | None = None):
        """Args:
            compression_type: a TFRecordCompressionType value, or "", "ZLIB", "GZIP" (None: no compression).
            compression_level: zlib level 0..9 (None: zlib's default).
        """
        self.compression_type = _compression_name(compression_type)
        self.compression_level = compression_level

    @classmethod
    def get_compression_type_string(cls, options: Any) -> str:
        """"", "ZLIB" or "GZIP" for an options object, a compression type, a string or None."""
        if isinstance(options, TFRecordOptions):
            return options.compression_type
        return _compression_name(options)


def _compression_name(c: Any) -> str:
    if c is None:
        return ""
    if isinstance(c, TFRecordOptions):
        return c.compression_type
    if isinstance(c, int) and c in _NAMES:
        return _NAMES[c]
    if isinstance(c, str) and c.upper() in ("", "ZLIB", "GZIP"):
        return c.upper()
    raise ValueError(f"Unknown TFRecord compression type {c!r}: use '', 'ZLIB' or 'GZIP' "
                     "(or a tf.python_io.TFRecordCompressionType value)")


class _ZlibWriter:
    """A file object that zlib-compresses everything written to it as one stream."""

    def __init__(self, f: BinaryIO, level: int | None):
        self._f = f
        self._z = zlib.compressobj(-1 if level is None else level)

    def write(self, data: bytes) -> None:
        self._f.write(self._z.compress(data))

    def flush(self) -> None:
        # A sync flush makes everything written so far decodable by a reader, like TF's Flush().
        self._f.write(self._z.flush(zlib.Z_SYNC_FLUSH))
        self._f.flush()

    def close(self) -> None:
        self._f.write(self._z.flush(zlib.Z_FINISH))
        self._f.close()


class TFRecordWriter:
    """Writes records to a TFRecord file (TF 1.x `tf.python_io.TFRecordWriter`).

    Example:
        >>> with tf.python_io.TFRecordWriter("/tmp/data.tfrecords") as w:
        ...     w.write(example.SerializeToString())
    """

    def __init__(self, path: str, options: Any = None):
        """Opens (truncating) `path` for writing.

        Args:
            path: the file to write.
            options: a TFRecordOptions, a TFRecordCompressionType or "", "ZLIB", "GZIP".

        Raises:
            NotFoundError: the folder does not exist.
        """
        self._path = os.fspath(path)
        kind = TFRecordOptions.get_compression_type_string(options)
        level = options.compression_level if isinstance(options, TFRecordOptions) else None
        try:
            raw = open(self._path, "wb")
        except FileNotFoundError:
            raise errors.NotFoundError(None, None, f"{self._path}; No such file or directory") from None
        if kind == "GZIP":
            self._f: Any = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9 if level is None else level)
            self._raw: Any = raw
        elif kind == "ZLIB":
            self._f, self._raw = _ZlibWriter(raw, level), None
        else:
            self._f, self._raw = raw, None
        self._closed = False

    def write(self, record: bytes) -> None:
        """Appends one record (bytes; a str is UTF-8 encoded)."""
        if self._closed:
            raise errors.FailedPreconditionError(None, None, f"TFRecordWriter for {self._path} is closed")
        if isinstance(record, str):
            record = record.encode("utf-8")
        self._f.write(encode_record(bytes(record)))

    def flush(self) -> None:
        """Flushes the file (a reader then sees every record written so far)."""
        if not self._closed:
            self._f.flush()
            if self._raw is not None:
                self._raw.flush()

    def close(self) -> None:
        """Flushes and closes the file; closing twice is a no-op."""
        if self._closed:
            return
        self._closed = True
        self._f.close()
        if self._raw is not None:
            self._raw.close()

    def __enter__(self) -> TFRecordWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass


def _open_for_reading(path: str, options: Any) -> BinaryIO:
    kind = TFRecordOptions.get_compression_type_string(options)
    try:
        raw = open(path, "rb")
    except FileNotFoundError:
        raise errors.NotFoundError(None, None, f"{path}; No such file or directory") from None
    if kind == "GZIP":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if kind == "ZLIB":
        with raw:
            blob = raw.read()
        try:
            return io.BytesIO(zlib.decompressobj().decompress(blob))
        except zlib.error as e:
            raise errors.DataLossError(None, None, f"{path} is not a valid ZLIB stream: {e}") from None
    return raw


def read_record(f: BinaryIO, path: str, offset: int) -> bytes | None:
    """Reads one record at `offset` from `f` (None at a clean end of file), checking both CRCs.

    Raises:
        DataLossError: the record is truncated or fails a CRC check (the message names file and offset).
    """
    header = f.read(12)
    if not header:
        return None
    if len(header) < 12:
        raise errors.DataLossError(None, None, f"truncated record at {offset} in {path}")
    length_bytes, (crc,) = header[:8], struct.unpack("<I", header[8:])
    if masked_crc32c(length_bytes) != crc:
        raise errors.DataLossError(None, None, f"corrupted record at {offset} in {path}: the length fails its "
                                   "CRC check")
    (n,) = struct.unpack("<Q", length_bytes)
    data, footer = f.read(n), f.read(4)
    if len(data) < n or len(footer) < 4:
        raise errors.DataLossError(None, None, f"truncated record at {offset} in {path}")
    if masked_crc32c(data) != struct.unpack("<I", footer)[0]:
        raise errors.DataLossError(None, None, f"corrupted record at {offset} in {path}: the data fails its "
                                   "CRC check")
    return data


def tf_record_iterator(path: str, options: Any = None) -> Iterator[bytes]:
    """Yields the records of a TFRecord file in order (TF 1.x `tf.python_io.tf_record_iterator`).

    Args:
        path: the file to read.
        options: a TFRecordOptions, a TFRecordCompressionType or "", "ZLIB", "GZIP".

    Raises:
        NotFoundError: the file does not exist.
        DataLossError: a record is truncated or corrupted (every record before it is yielded first).
    """
    path = os.fspath(path)
    f = _open_for_reading(path, options)
    try:
        offset = 0
        while True:
            try:
                data = read_record(f, path, offset)
            except (OSError, EOFError, zlib.error) as e:  # a damaged GZIP stream
                raise errors.DataLossError(None, None, f"corrupted compressed data at {offset} in {path}: "
                                           f"{e}") from None
            if data is None:
                return
            yield data
            offset += 16 + len(data)
    finally:
        f.close()
