"""Sweep samples for the reader ops (TFRecordReader, TextLineReader, WholeFileReader, ReaderRead, ...).

Readers read files, so the samples write small ones into a temporary folder (removed at exit). Each Case
fills a fresh file-name queue and reads in the same step, ordered by control dependencies. Multi-file
reading, header skipping, OutOfRange at the end and a full training pipeline are in tests/ops/test_readers.py.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import numpy as np

import labflow as tf
from labflow.ops.data_flow_ops import FIFOQueue
from labflow.testing.op_sweep import Case, samples

_DIR: list[str] = []


def _file(name: str, data: bytes) -> np.ndarray:
    if not _DIR:
        _DIR.append(tempfile.mkdtemp(prefix="labflow-reader-samples-"))
        atexit.register(shutil.rmtree, _DIR[0], True)
    path = os.path.join(_DIR[0], name)
    with open(path, "wb") as f:
        f.write(data)
    return np.array(path.encode(), dtype=object)


def _after(deps, fn):
    with tf.control_dependencies(deps):
        return fn()


def _queue_of(fname, close=False):
    q = FIFOQueue(2, tf.string)
    e = q.enqueue(fname)
    return q, [_after([e], q.close)] if close else [e]


def _b(v) -> np.ndarray:
    return np.array(v, dtype=object)


@samples("TFRecordReader", "ReaderRead", "ReaderNumRecordsProduced")
def _tfrecord():
    from labflow.framework.tf_record import encode_record
    path = _file("a.tfrecords", encode_record(b"r0") + encode_record(b"r1"))

    def build(fname):
        q, deps = _queue_of(fname)
        r = tf.TFRecordReader()
        k, v = _after(deps, lambda: r.read(q))
        return [k, v, _after([k, v], r.num_records_produced)]
    return [Case(build, [path], lambda p: [_b(p.item() + b":0"), _b(b"r0"), np.int64(1)], grad=False)]


@samples("TextLineReader", "ReaderReadUpTo", "ReaderNumWorkUnitsCompleted")
def _text():
    path = _file("a.txt", b"header\nx,1\ny,2\n")

    def build(fname):
        q, deps = _queue_of(fname, close=True)
        r = tf.TextLineReader(skip_header_lines=1)
        k, v = _after(deps, lambda: r.read_up_to(q, 5))
        return [k, v, _after([k, v], r.num_work_units_completed)]

    def ref(p):
        return [_b([p.item() + b":2", p.item() + b":3"]), _b([b"x,1", b"y,2"]), np.int64(1)]
    return [Case(build, [path], ref, grad=False)]


@samples("WholeFileReader", "ReaderReset")
def _whole():
    path = _file("whole.bin", b"\x00\x01all of it")

    def build(fname):
        q, deps = _queue_of(fname)
        r = tf.WholeFileReader()
        k, v = _after(deps, lambda: r.read(q))
        reset = _after([k, v], r.reset)
        return [k, v, _after([reset], r.num_records_produced)]
    return [Case(build, [path], lambda p: [_b(p.item()), _b(b"\x00\x01all of it"), np.int64(0)], grad=False)]


@samples("ReadFile")
def _read_file():
    path = _file("r.txt", b"contents\n")
    return [Case(tf.read_file, [path], lambda p: _b(b"contents\n"), grad=False)]
