"""TF1 readers: TFRecordReader, TextLineReader, WholeFileReader, FixedLengthRecordReader, IdentityReader, read_file.

A reader-creating op outputs a `string_ref` handle like a queue does: its kernel looks up or creates a
ReaderState in the device's ResourceMgr, so the reader keeps its current file and position across steps.
`reader.read(queue)` runs ReaderRead, which takes the reader and a queue of file names (both as ref
inputs, so they are colocated) and returns the next (key, value) record; when the current file is
exhausted it dequeues the next file name, and it fails with OutOfRangeError once that queue is closed
and empty (which is how `string_input_producer(num_epochs=...)` ends a training loop).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework import tf_record
from labflow.framework.graph import get_default_graph
from labflow.framework.registry import REQUIRED, op
from labflow.framework.tensor import Operation, Tensor
from labflow.ops.common import convert_to_tensor, dims, make_op, no_outputs
from labflow.ops.queue_runtime import WAIT_SLICE, handle_value, lookup_or_create

__all__ = ["ReaderBase", "TFRecordReader", "TextLineReader", "WholeFileReader", "FixedLengthRecordReader",
           "IdentityReader", "read_file"]

_COMMON = dict(stateful=True, not_differentiable=True, devices=("CPU",))


def _scalar(v: Any) -> np.ndarray:
    return np.array(v, dtype=object)


class ReaderState:
    """One reader's run-time state: the current file (work unit), the position in it and the counters.

    Subclasses implement `_open(path)` and `_next()` -> (key, value) or None at the end of the file.
    """

    kind = "ReaderBase"

    def __init__(self, name: str, container: str):
        self.name = name
        self.value = handle_value(container, name)
        # One read at a time, as TF's ReaderBase mutex: the position must advance atomically.
        self.lock = threading.Lock()
        self.work: str | None = None
        self.records_produced = 0
        self.work_units_completed = 0
        self.signature: tuple = (self.kind,)  # what a second op sharing this reader must ask for

    def __repr__(self) -> str:
        return f"<{self.kind} '{self.name}' work={self.work!r}>"

    def _acquire(self, step: Any) -> None:
        # In slices: a thread waiting behind a blocked read must still see the step's cancellation.
        while not self.lock.acquire(timeout=WAIT_SLICE):
            if step is not None:
                step.check_cancelled()

    def _open(self, path: str) -> None:
        raise NotImplementedError

    def _next(self) -> tuple[bytes, bytes] | None:
        raise NotImplementedError

    def _close(self) -> None:
        pass

    def _read_locked(self, queue: Any, step: Any) -> tuple[np.ndarray, np.ndarray]:
        while True:
            if self.work is None:
                name = np.asarray(queue.dequeue(1, step, many=False), dtype=object).reshape(-1)[0]
                self.work = name.decode() if isinstance(name, bytes) else str(name)
                self._open(self.work)
            rec = self._next()
            if rec is not None:
                self.records_produced += 1
                return _scalar(rec[0]), _scalar(rec[1])
            self._close()
            self.work = None
            self.work_units_completed += 1

    def read(self, queue: Any, step: Any) -> tuple[np.ndarray, np.ndarray]:
        """The next (key, value), dequeuing file names from `queue` as needed."""
        self._acquire(step)
        try:
            return self._read_locked(queue, step)
        finally:
            self.lock.release()

    def read_up_to(self, queue: Any, n: int, step: Any) -> tuple[np.ndarray, np.ndarray]:
        """Up to `n` records; fewer only when the queue ran out (OutOfRangeError when there are none)."""
        keys, values = [], []
        self._acquire(step)
        try:
            while len(keys) < n:
                try:
                    k, v = self._read_locked(queue, step)
                except errors.OutOfRangeError:
                    if keys:
                        break
                    raise
                keys.append(k.item())
                values.append(v.item())
        finally:
            self.lock.release()
        out_k, out_v = np.empty(len(keys), dtype=object), np.empty(len(values), dtype=object)
        out_k[:], out_v[:] = keys, values
        return out_k, out_v

    def reset(self) -> None:
        with self.lock:
            self._close()
            self.work = None
            self.records_produced = self.work_units_completed = 0


class TFRecordReaderState(ReaderState):
    kind = "TFRecordReader"

    def __init__(self, name: str, container: str, compression_type: str):
        super().__init__(name, container)
        self.compression_type = compression_type
        self.signature += (compression_type,)
        self._f: Any = None
        self._offset = 0

    def _open(self, path: str) -> None:
        self._f = tf_record._open_for_reading(path, self.compression_type)
        self._offset = 0

    def _next(self) -> tuple[bytes, bytes] | None:
        data = tf_record.read_record(self._f, self.work, self._offset)
        if data is None:
            return None
        key = f"{self.work}:{self._offset}".encode()  # TF's key: "<file>:<offset of the record>"
        self._offset += 16 + len(data)
        return key, data

    def _close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


def _open_file(path: str) -> Any:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise errors.NotFoundError(None, None, f"{path}; No such file or directory") from None


class TextLineReaderState(ReaderState):
    kind = "TextLineReader"

    def __init__(self, name: str, container: str, skip_header_lines: int):
        super().__init__(name, container)
        self.skip = skip_header_lines
        self.signature += (skip_header_lines,)
        self._f: Any = None
        self._line = 0

    def _open(self, path: str) -> None:
        self._f = _open_file(path)
        self._line = 0
        for _ in range(self.skip):
            if not self._f.readline():
                break
            self._line += 1

    def _next(self) -> tuple[bytes, bytes] | None:
        line = self._f.readline()
        if not line:
            return None
        self._line += 1
        # TF's ReadLine drops the newline and a '\r' before it (files written on Windows).
        line = line[:-1] if line.endswith(b"\n") else line
        line = line[:-1] if line.endswith(b"\r") else line
        return f"{self.work}:{self._line}".encode(), line

    def _close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


class WholeFileReaderState(ReaderState):
    kind = "WholeFileReader"

    def __init__(self, name: str, container: str):
        super().__init__(name, container)
        self._done = True

    def _open(self, path: str) -> None:
        self._done = False

    def _next(self) -> tuple[bytes, bytes] | None:
        if self._done:
            return None
        self._done = True
        return self._record()

    def _record(self) -> tuple[bytes, bytes]:
        with _open_file(self.work) as f:
            return self.work.encode(), f.read()


class FixedLengthRecordReaderState(ReaderState):
    """Records of `record_bytes` starting every `hop_bytes` after the header, up to the footer (TF's reader)."""

    kind = "FixedLengthRecordReader"

    def __init__(self, name: str, container: str, header: int, record: int, footer: int, hop: int, encoding: str):
        super().__init__(name, container)
        self.header, self.record, self.footer, self.encoding = header, record, footer, encoding
        self.hop = hop if hop > 0 else record
        self.signature += (header, record, footer, hop, encoding)
        self._data = b""
        self._pos = self._limit = self._index = 0

    def _open(self, path: str) -> None:
        from labflow.data.file_datasets import read_file_bytes
        self._data = read_file_bytes(path, self.encoding)
        self._pos, self._limit, self._index = self.header, len(self._data) - self.footer, 0

    def _next(self) -> tuple[bytes, bytes] | None:
        if self._pos + self.record > self._limit:
            return None
        key = f"{self.work}:{self._index}".encode()  # TF's key: "<file>:<record number>"
        value = self._data[self._pos:self._pos + self.record]
        self._pos += self.hop
        self._index += 1
        return key, value

    def _close(self) -> None:
        self._data = b""


class IdentityReaderState(WholeFileReaderState):
    """Each work unit (a queued string) is one record whose key and value are that string."""

    kind = "IdentityReader"

    def _record(self) -> tuple[bytes, bytes]:
        return self.work.encode(), self.work.encode()


# -- the reader-creating ops ---------------------------------------------------------------------------------
def _reader_shape(ins, attrs):
    return _dt.string._as_ref, (2,)


_READER = dict(shape=_reader_shape, needs_ctx=True, session_constant=True, **_COMMON)
_BASE_ATTRS = {"container": "", "shared_name": ""}


def _lookup(ctx: Any, container: str, shared_name: str, make: Any) -> ReaderState:
    r = lookup_or_create(ctx.resources, container, shared_name, ctx.name, make)
    if r.signature != make(r.name).signature:
        raise errors.InvalidArgumentError(None, None, f"Shared reader '{r.name}' has a different definition "
                                          f"({r.kind}); use another shared_name or the same arguments.")
    return r


@op("TFRecordReader", attrs={**_BASE_ATTRS, "compression_type": ""}, **_READER)
def tf_record_reader_kernel(xp, *, container, shared_name, compression_type, ctx):
    return _lookup(ctx, container, shared_name, lambda n: TFRecordReaderState(n, container, compression_type))


@op("TextLineReader", attrs={**_BASE_ATTRS, "skip_header_lines": 0}, **_READER)
def text_line_reader_kernel(xp, *, container, shared_name, skip_header_lines, ctx):
    return _lookup(ctx, container, shared_name, lambda n: TextLineReaderState(n, container, skip_header_lines))


@op("WholeFileReader", attrs=dict(_BASE_ATTRS), **_READER)
def whole_file_reader_kernel(xp, *, container, shared_name, ctx):
    return _lookup(ctx, container, shared_name, lambda n: WholeFileReaderState(n, container))


def _fixed_length_reader_shape(ins, attrs):
    if attrs["record_bytes"] <= 0:
        raise ValueError(f"Attr 'record_bytes' of 'FixedLengthRecordReader' must be positive, got "
                         f"{attrs['record_bytes']}")
    for k in ("header_bytes", "footer_bytes", "hop_bytes"):
        if attrs[k] < 0:
            raise ValueError(f"Attr '{k}' of 'FixedLengthRecordReader' must be >= 0, got {attrs[k]}")
    if attrs["encoding"] not in ("", "ZLIB", "GZIP"):
        raise ValueError(f"Attr 'encoding' of 'FixedLengthRecordReader' must be '', 'ZLIB' or 'GZIP', got "
                         f"{attrs['encoding']!r}")
    return _reader_shape(ins, attrs)


@op("FixedLengthRecordReader", attrs={**_BASE_ATTRS, "header_bytes": 0, "record_bytes": REQUIRED, "footer_bytes": 0,
                                      "hop_bytes": 0, "encoding": ""},
    **{**_READER, "shape": _fixed_length_reader_shape})
def fixed_length_record_reader_kernel(xp, *, container, shared_name, header_bytes, record_bytes, footer_bytes,
                                      hop_bytes, encoding, ctx):
    return _lookup(ctx, container, shared_name, lambda n: FixedLengthRecordReaderState(
        n, container, header_bytes, record_bytes, footer_bytes, hop_bytes, encoding))


@op("IdentityReader", attrs=dict(_BASE_ATTRS), **_READER)
def identity_reader_kernel(xp, *, container, shared_name, ctx):
    return _lookup(ctx, container, shared_name, lambda n: IdentityReaderState(n, container))


# -- the verbs -----------------------------------------------------------------------------------------------
def _check_refs(ins: list, op_type: str, n: int) -> None:
    for i, what in list(enumerate(("reader_handle", "queue_handle")))[:n]:
        t = ins[i]
        if not (t.dtype.is_ref_dtype and t.dtype.base_dtype == _dt.string):
            raise TypeError(f"Input '{what}' of '{op_type}' Op requires l-value input: pass a "
                            f"{'reader' if i == 0 else 'queue'}'s ref (a string_ref tensor), got tensor "
                            f"'{t.name}' of dtype {t.dtype.name}")


def _read_shape(ins, attrs):
    _check_refs(ins, "ReaderRead", 2)
    return [(_dt.string, ()), (_dt.string, ())]


def _read_up_to_shape(ins, attrs):
    _check_refs(ins, "ReaderReadUpTo", 2)
    d = dims(ins[2])
    if d is not None and len(d) != 0:
        raise ValueError(f"Shape must be rank 0 but is rank {len(d)} (input 'num_records' of ReaderReadUpTo)")
    return [(_dt.string, (None,)), (_dt.string, (None,))]


@op("ReaderRead", inputs=("reader_handle", "queue_handle"), shape=_read_shape, outputs=2, ref_inputs=(0, 1),
    needs_step=True, output_names=("key", "value"), **_COMMON)
def reader_read_kernel(xp, reader, queue, *, step):
    return reader.read(queue, step)


@op("ReaderReadUpTo", inputs=("reader_handle", "queue_handle", "num_records"), shape=_read_up_to_shape, outputs=2,
    ref_inputs=(0, 1), needs_step=True, output_names=("keys", "values"), **_COMMON)
def reader_read_up_to_kernel(xp, reader, queue, num_records, *, step):
    return reader.read_up_to(queue, int(num_records), step)


def _counter_shape(op_type):
    def fn(ins, attrs):
        _check_refs(ins, op_type, 1)
        return _dt.int64, ()
    return fn


@op("ReaderNumRecordsProduced", inputs=("reader_handle",), shape=_counter_shape("ReaderNumRecordsProduced"),
    ref_inputs=(0,), **_COMMON)
def reader_num_records_produced_kernel(xp, reader):
    return np.int64(reader.records_produced)


@op("ReaderNumWorkUnitsCompleted", inputs=("reader_handle",), ref_inputs=(0,),
    shape=_counter_shape("ReaderNumWorkUnitsCompleted"), **_COMMON)
def reader_num_work_units_completed_kernel(xp, reader):
    return np.int64(reader.work_units_completed)


def _reset_shape(ins, attrs):
    _check_refs(ins, "ReaderReset", 1)
    return no_outputs(ins, attrs)


@op("ReaderReset", inputs=("reader_handle",), shape=_reset_shape, outputs=0, ref_inputs=(0,), **_COMMON)
def reader_reset_kernel(xp, reader):
    reader.reset()


def _read_file_shape(ins, attrs):
    d = dims(ins[0])
    if d is not None and len(d) != 0:
        raise ValueError(f"Shape must be rank 0 but is rank {len(d)} (input 'filename' of ReadFile)")
    return _dt.string, ()


# Stateful so it is never constant-folded: the file is read when the step runs, not when the graph is built.
# A host op (no queue to colocate with): under a GPU scope it still reads on the host.
@op("ReadFile", inputs=("filename",), shape=_read_file_shape, stateful=True, not_differentiable=True, host_op=True)
def read_file_kernel(xp, filename):
    name = np.asarray(filename, dtype=object).item()
    path = name.decode() if isinstance(name, bytes) else str(name)
    with _open_file(path) as f:
        return _scalar(f.read())


def read_file(filename: Any, name: str | None = None) -> Tensor:
    """The contents of the file `filename` as a string scalar (TF 1.x `tf.read_file`)."""
    t = convert_to_tensor(filename, dtype=_dt.string, name="filename")
    return make_op("ReadFile", [t], name=name or "ReadFile").outputs[0]


# -- the Python classes ------------------------------------------------------------------------------------
class ReaderBase:
    """Base class of the readers (TF 1.x `tf.ReaderBase`): outputs records from a queue of file names."""

    def __init__(self, reader_ref: Tensor, supports_serialize: bool = False):
        self._reader_ref = reader_ref
        self._supports_serialize = supports_serialize

    @property
    def reader_ref(self) -> Tensor:
        """The reader's handle (a string_ref tensor)."""
        return self._reader_ref

    @property
    def supports_serialize(self) -> bool:
        return self._supports_serialize

    def _queue_ref(self, queue: Any) -> Tensor:
        return queue.queue_ref if hasattr(queue, "queue_ref") else queue

    def _op(self, op_type: str, inputs: list, name: str | None) -> Operation:
        return self._reader_ref.graph.create_op(op_type, inputs, name=name or op_type)

    def read(self, queue: Any, name: str | None = None) -> tuple[Tensor, Tensor]:
        """The next (key, value) record; dequeues a file name from `queue` when the current file is done.

        Raises (at run time):
            OutOfRangeError: `queue` is closed and empty, and the current file is finished.
        """
        o = self._op("ReaderRead", [self._reader_ref, self._queue_ref(queue)], name)
        return o.outputs[0], o.outputs[1]

    def read_up_to(self, queue: Any, num_records: Any, name: str | None = None) -> tuple[Tensor, Tensor]:
        """Up to `num_records` (keys, values) as vectors (fewer only when the queue runs out)."""
        with self._reader_ref.graph.as_default():
            n = convert_to_tensor(num_records, dtype=_dt.int64, name="num_records")
        o = self._op("ReaderReadUpTo", [self._reader_ref, self._queue_ref(queue), n], name)
        return o.outputs[0], o.outputs[1]

    def num_records_produced(self, name: str | None = None) -> Tensor:
        """An int64 scalar: records this reader has produced."""
        return self._op("ReaderNumRecordsProduced", [self._reader_ref], name).outputs[0]

    def num_work_units_completed(self, name: str | None = None) -> Tensor:
        """An int64 scalar: files this reader has finished."""
        return self._op("ReaderNumWorkUnitsCompleted", [self._reader_ref], name).outputs[0]

    def reset(self, name: str | None = None) -> Operation:
        """Forgets the current file and zeroes the counters."""
        return self._op("ReaderReset", [self._reader_ref], name)


def _create_reader(op_type: str, attrs: dict, name: str | None) -> Tensor:
    g = get_default_graph()
    attrs = {**attrs, "container": getattr(g._s, "container", "")}
    return g.create_op(op_type, [], attrs=attrs, name=name or op_type).outputs[0]


class TFRecordReader(ReaderBase):
    """Reads the records of TFRecord files; keys are "<file>:<offset>" (TF 1.x `tf.TFRecordReader`)."""

    def __init__(self, name: str | None = None, options: Any = None):
        """Args:
            name: the op name.
            options: a tf.python_io.TFRecordOptions (or compression type) for GZIP/ZLIB files.
        """
        kind = tf_record.TFRecordOptions.get_compression_type_string(options)
        super().__init__(_create_reader("TFRecordReader", {"compression_type": kind, "shared_name": ""}, name))


class TextLineReader(ReaderBase):
    """Reads the lines of text files; keys are "<file>:<line number>" (TF 1.x `tf.TextLineReader`)."""

    def __init__(self, skip_header_lines: int | None = None, name: str | None = None):
        """Args:
            skip_header_lines: lines to skip at the start of every file (None: 0).
            name: the op name.
        """
        super().__init__(_create_reader("TextLineReader", {"skip_header_lines": int(skip_header_lines or 0),
                                                           "shared_name": ""}, name))


class WholeFileReader(ReaderBase):
    """Reads each file whole: the key is the file name, the value its contents (TF 1.x `tf.WholeFileReader`)."""

    def __init__(self, name: str | None = None):
        super().__init__(_create_reader("WholeFileReader", {"shared_name": ""}, name))


class FixedLengthRecordReader(ReaderBase):
    """Reads fixed-length records of binary files; keys are "<file>:<record number>" (TF 1.x
    `tf.FixedLengthRecordReader`)."""

    def __init__(self, record_bytes: int, header_bytes: int | None = None, footer_bytes: int | None = None,
                 hop_bytes: int | None = None, name: str | None = None, encoding: str | None = None):
        """Args:
            record_bytes: the length of each record.
            header_bytes: bytes to skip at the start of each file (None: 0).
            footer_bytes: bytes to ignore at the end of each file (None: 0).
            hop_bytes: the distance from one record's start to the next's (None or 0: record_bytes, so records
                are contiguous; smaller values overlap them). A record must end before the footer.
            name: the op name.
            encoding: None, "ZLIB" or "GZIP" for compressed files.
        """
        super().__init__(_create_reader("FixedLengthRecordReader", {
            "record_bytes": int(record_bytes), "header_bytes": int(header_bytes or 0),
            "footer_bytes": int(footer_bytes or 0), "hop_bytes": int(hop_bytes or 0),
            "encoding": (encoding or "").upper(), "shared_name": ""}, name))


class IdentityReader(ReaderBase):
    """Outputs each queued work unit as a record whose key and value are the work unit (TF 1.x
    `tf.IdentityReader`)."""

    def __init__(self, name: str | None = None):
        super().__init__(_create_reader("IdentityReader", {"shared_name": ""}, name))
