"""The datasets that read files: TFRecordDataset, TextLineDataset and FixedLengthRecordDataset (tf.data)."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.data.dataset_ops import Dataset
from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Tensor

__all__ = ["TFRecordDataset", "TextLineDataset", "FixedLengthRecordDataset"]


def _file_list(filenames: Any) -> tuple[list, list[Tensor]]:
    """Python file names (a string or list) or one string tensor read when the iterator starts."""
    if isinstance(filenames, Tensor):
        if filenames.dtype.base_dtype != _dt.string:
            raise TypeError(f"filenames must be a tf.string tensor, got {filenames.dtype.name}")
        return [], [filenames]
    return ([filenames] if isinstance(filenames, (str, bytes)) else list(filenames)), []


def _names(values: dict, files: list, tensors: list[Tensor]) -> list[str]:
    raw = files if not tensors else list(np.asarray(values[id(tensors[0])], dtype=object).reshape(-1))
    return [f.decode() if isinstance(f, bytes) else str(f) for f in raw]


class FixedLengthRecordDataset(Dataset):
    """The fixed-length records of binary files, as scalar strings (TF 1.x `tf.data.FixedLengthRecordDataset`).

    Each file is `header_bytes`, then records of `record_bytes`, then `footer_bytes`; a body that is not a
    whole number of records is an InvalidArgumentError at get_next, as in TF.
    """

    def __init__(self, filenames: Any, record_bytes: int, header_bytes: int | None = None,
                 footer_bytes: int | None = None, buffer_size: int | None = None,
                 compression_type: str | None = None):
        """Args:
            filenames: a file name, a list of them, or a string tensor of them.
            record_bytes: the length of each record.
            header_bytes: bytes to skip at the start of each file (None: 0).
            footer_bytes: bytes to ignore at the end of each file (None: 0).
            buffer_size: read buffering in TF; accepted and unused (files are read whole).
            compression_type: "", "ZLIB" or "GZIP".
        """
        super().__init__(_dt.string, [_dt.string], [TensorShape([])])
        self._files, self._tensors = _file_list(filenames)
        self._record = int(record_bytes)
        self._header, self._footer = int(header_bytes or 0), int(footer_bytes or 0)
        if self._record <= 0:
            raise ValueError(f"record_bytes must be positive, got {record_bytes}")
        if self._header < 0 or self._footer < 0:
            raise ValueError("header_bytes and footer_bytes must be >= 0")
        self._compression = (compression_type or "").upper()
        if self._compression not in ("", "ZLIB", "GZIP"):
            raise ValueError(f"compression_type must be '', 'ZLIB' or 'GZIP', got {compression_type!r}")

    def _own_inputs(self) -> list[Tensor]:
        return self._tensors

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        for name in _names(values, self._files, self._tensors):
            data = read_file_bytes(name, self._compression)
            body = len(data) - self._header - self._footer
            if body < 0 or body % self._record:
                raise errors.InvalidArgumentError(
                    None, None, f"Excluding the header ({self._header} bytes) and footer ({self._footer} bytes), "
                    f"input file \"{name}\" has body length {max(body, 0)} bytes, which is not an exact multiple "
                    f"of the record length ({self._record} bytes).")
            for off in range(self._header, self._header + body, self._record):
                yield [np.asarray(data[off:off + self._record], dtype=object)]


def read_file_bytes(name: str, compression: str = "") -> bytes:
    """A file's bytes, decompressed ("ZLIB" / "GZIP"); a missing file is a NotFoundError."""
    try:
        with open(name, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise errors.NotFoundError(None, None, f"{name}; No such file or directory") from None
    try:
        if compression == "GZIP":
            return gzip.decompress(data)
        if compression == "ZLIB":
            return zlib.decompress(data)
    except (OSError, zlib.error) as e:
        raise errors.DataLossError(None, None, f"{name}: not a valid {compression} file ({e})") from None
    return data


class TFRecordDataset(Dataset):
    """The records of TFRecord files, as scalar strings (TF 1.x `tf.data.TFRecordDataset`)."""

    def __init__(self, filenames: Any, compression_type: str | None = None, buffer_size: int | None = None):
        super().__init__(_dt.string, [_dt.string], [TensorShape([])])
        self._files = [filenames] if isinstance(filenames, (str, bytes)) else list(filenames)
        self._compression = compression_type

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        from labflow import python_io
        opts = python_io.TFRecordOptions(self._compression) if self._compression else None
        for f in self._files:
            for rec in python_io.tf_record_iterator(f.decode() if isinstance(f, bytes) else f, opts):
                yield [np.asarray(rec, dtype=object)]


class TextLineDataset(Dataset):
    """The lines of text files (without their newlines), as scalar strings (TF 1.x `tf.data.TextLineDataset`)."""

    def __init__(self, filenames: Any, compression_type: str | None = None, buffer_size: int | None = None):
        super().__init__(_dt.string, [_dt.string], [TensorShape([])])
        self._files = [filenames] if isinstance(filenames, (str, bytes)) else list(filenames)

    def _elements(self, values: dict, runner: Any) -> Iterator[list]:
        for f in self._files:
            with open(f.decode() if isinstance(f, bytes) else f, "rb") as fh:
                for line in fh:
                    yield [np.asarray(line.rstrip(b"\n").rstrip(b"\r"), dtype=object)]
