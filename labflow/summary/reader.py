"""Reading event files back: TF 1.x's `tf.train.summary_iterator` (also `tf.summary.summary_iterator`)."""

from __future__ import annotations

import os
import struct
from typing import Iterator

from labflow import errors
from labflow.framework.protos import event_pb2
from labflow.summary.event_file_writer import masked_crc32c


def read_records(path: str) -> Iterator[bytes]:
    """The data of each TFRecord in `path`, with both CRCs checked.

    Raises:
        DataLossError: a record is truncated or fails its CRC check (every record before it is yielded).
    """
    with open(os.fspath(path), "rb") as f:
        offset = 0
        while True:
            header = f.read(12)
            if not header:
                return
            if len(header) < 12:
                raise errors.DataLossError(None, None, f"truncated record at {offset} in {path}")
            length_bytes, (crc,) = header[:8], struct.unpack("<I", header[8:])
            if masked_crc32c(length_bytes) != crc:
                raise errors.DataLossError(None, None, f"corrupted record at {offset} in {path}: the length "
                                           "fails its CRC check")
            (n,) = struct.unpack("<Q", length_bytes)
            data, footer = f.read(n), f.read(4)
            if len(data) < n or len(footer) < 4:
                raise errors.DataLossError(None, None, f"truncated record at {offset} in {path}")
            if masked_crc32c(data) != struct.unpack("<I", footer)[0]:
                raise errors.DataLossError(None, None, f"corrupted record at {offset} in {path}: the data "
                                           "fails its CRC check")
            yield data
            offset += 16 + n


def summary_iterator(path: str) -> Iterator[event_pb2.Event]:
    """Yields the `Event` protos of an event file in order (the first is the file_version event).

    Example:
        >>> for e in tf.train.summary_iterator(path):
        ...     for v in e.summary.value:
        ...         if v.tag == "loss":
        ...             print(e.step, v.simple_value)

    Raises:
        DataLossError: a record is truncated or corrupted (the events before it are yielded first).
    """
    for data in read_records(path):
        yield event_pb2.Event.FromString(data)
