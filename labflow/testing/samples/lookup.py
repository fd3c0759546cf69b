"""Sweep samples for the lookup-table ops: each sample creates a table, fills it and reads it in one step.

The reference is a Python dict. Initialization errors, sharing, index tables and vocabulary files are
tested in tests/ops/test_lookup_ops.py.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

import labflow as tf
from labflow.ops import lookup_ops as lo
from labflow.testing.op_sweep import Case, samples


def _after(deps, fn):
    with tf.control_dependencies(deps):
        return fn()


def _strings(*vals: bytes) -> np.ndarray:
    out = np.empty(len(vals), dtype=object)
    out[:] = list(vals)
    return out


KEYS = [b"cat", b"dog", b"emu"]
QUERY = np.array([[b"dog", b"yak"], [b"cat", b"emu"]], dtype=object)


def _dict_lookup(table: dict, keys: np.ndarray, default, dtype) -> np.ndarray:
    out = np.empty(keys.shape, dtype=dtype)
    out.reshape(-1)[:] = [table.get(k, default) for k in keys.reshape(-1)]
    return out


@samples("HashTable", "InitializeTable", "LookupTableFind")
def _hash_table():
    def build(q):
        t = lo.HashTable(lo.KeyValueTensorInitializer(_strings(*KEYS), np.array([7, 8, 9], np.int64)), -1)
        return _after([t.init], lambda: t.lookup(q))

    def build_int(q):
        t = lo.HashTable(lo.KeyValueTensorInitializer(np.array([3, 1], np.int64), _strings(b"three", b"one")), "?")
        return _after([t.init], lambda: t.lookup(q))

    return [Case(build, [QUERY], lambda q: _dict_lookup(dict(zip(KEYS, [7, 8, 9])), q, -1, np.int64), grad=False),
            Case(build_int, [np.array([1, 2, 3], np.int64)], lambda q: _strings(b"one", b"?", b"three"), grad=False,
                 name="int64_to_string")]


@samples("LookupTableSize")
def _size():
    def build(k):
        t = lo.HashTable(lo.KeyValueTensorInitializer(k, np.arange(3, dtype=np.int32)), 0)
        return _after([t.init], t.size)
    return [Case(build, [_strings(*KEYS)], lambda k: np.int64(3), grad=False)]


@samples("MutableHashTable", "LookupTableInsert", "LookupTableExport")
def _mutable():
    def build(k, v):
        t = lo.MutableHashTable(tf.string, v.dtype, -1.0)
        ins = t.insert(k, v)
        keys, vals = _after([ins], t.export)
        order = tf.nn.top_k(-tf.strings.length(keys), k=3).indices  # export order is unspecified: sort by length
        return [tf.gather(keys, order), tf.gather(vals, order),
                _after([ins], lambda: t.lookup(tf.constant(["bb", "zz"])))]
    return [Case(build, [_strings(b"a", b"bb", b"ccc"), np.array([1.5, 2.5, 3.5], np.float32)],
                 lambda k, v: [k, v, np.array([2.5, -1.0])], dtypes=(tf.float32, tf.float64), grad=False)]


@samples("LookupTableImport")
def _import():
    def build(k):
        t = lo.MutableHashTable(tf.int64, tf.int64, 0)
        first = t.insert(tf.constant([100], tf.int64), tf.constant([5], tf.int64))
        with tf.control_dependencies([first]):
            imp = t._kv("LookupTableImport", k, k * 10, None)  # import replaces the contents
        return _after([imp], lambda: [t.lookup(tf.constant([1, 100], tf.int64)), t.size()])
    return [Case(build, [np.array([1, 2], np.int64)], lambda k: [np.array([10, 0], np.int64), np.int64(2)],
                 grad=False)]


def _vocab_file(text: str) -> str:
    fd, path = tempfile.mkstemp(prefix="labflow_vocab_", suffix=".txt")
    os.write(fd, text.encode())
    os.close(fd)
    return path


@samples("InitializeTableFromTextFile")
def _text_file():
    path = _vocab_file("the\t3.5\nof\t-1\nand\t0.25\n")

    def build(q):
        t = lo.HashTable(lo.TextFileInitializer(path, tf.string, 0, tf.float64, 1), 9.0)
        ids = lo.HashTable(lo.TextFileIdTableInitializer(path, key_column_index=0), -1)
        return _after([t.init, ids.init], lambda: [t.lookup(q), ids.lookup(q)])
    return [Case(build, [_strings(b"of", b"zzz", b"and")],
                 lambda q: [np.array([-1.0, 9.0, 0.25]), np.array([1, -1, 2], np.int64)], grad=False)]
