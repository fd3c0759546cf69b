"""The run-time state behind the lookup-table ops: one object per table, kept in its device's ResourceMgr.

The table-creating op (HashTable, MutableHashTable) returns this object as its `string_ref` handle, like
a queue; LookupTableFind/Insert/Import/Export/Size and the initializers receive it through their ref
input. Keys are held as Python scalars (`bytes` for strings) in a dict; a lock makes concurrent
inserts and finds from parallel steps safe.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from labflow import errors
from labflow.ops.queue_runtime import handle_value

WHOLE_LINE = -2
LINE_NUMBER = -1


def _py_keys(arr: Any) -> list:
    """Array elements as hashable Python scalars (strings as bytes, numbers as int/float)."""
    a = np.asarray(arr)
    if a.dtype == object:
        return [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in a.reshape(-1)]
    return a.reshape(-1).tolist()


def _show(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


class HashTableState:
    """An immutable key -> value map filled once by an initializer (TF's HashTable)."""

    kind = "HashTable"
    mutable = False

    def __init__(self, name: str, container: str, node_name: str, key_dtype: Any, value_dtype: Any):
        self.name = name
        self.node_name = node_name
        self.value = handle_value(container, name)
        self.key_dtype = key_dtype
        self.value_dtype = value_dtype
        self.signature = (self.kind, key_dtype.name, value_dtype.name)
        self.table: dict = {}
        self.initialized = self.mutable
        self.lock = threading.Lock()

    def check_compatible(self, signature: tuple) -> None:
        if signature != self.signature:
            raise errors.InvalidArgumentError(
                None, None, f"Table '{self.name}' exists as a {self.signature[0]} of {self.signature[1]} -> "
                f"{self.signature[2]}, but this op wants a {signature[0]} of {signature[1]} -> {signature[2]} "
                "(two tables share a shared_name)")

    def _check_initialized(self) -> None:
        if not self.initialized:
            raise errors.FailedPreconditionError(
                None, None, f"Table '{self.node_name}' is not initialized. Run its initializer first: "
                "sess.run(tf.tables_initializer()).")

    def _pairs(self, keys: Any, values: Any, op_type: str) -> list:
        k, v = _py_keys(keys), _py_keys(values)
        if len(k) != len(v):
            raise errors.InvalidArgumentError(None, None, f"{op_type}: Keys and values must have the same size "
                                              f"{len(k)} vs {len(v)}")
        return list(zip(k, v))

    def initialize(self, pairs: list, source: str) -> None:
        """Fills the table from (key, value) pairs; a second run with the same data is a no-op."""
        new: dict = {}
        for key, val in pairs:
            old = new.get(key, val)
            if old != val:
                raise errors.FailedPreconditionError(
                    None, None, f"HashTable has different value for same key. Key {_show(key)} has {_show(old)} "
                    f"and trying to add value {_show(val)} (initializing table '{self.node_name}' from {source}: "
                    "keys must be unique)")
            new[key] = val
        with self.lock:
            if self.initialized:
                if new != self.table:
                    raise errors.FailedPreconditionError(
                        None, None, f"Table '{self.node_name}' was already initialized with different data.")
                return
            self.table = new
            self.initialized = True

    def find(self, keys: Any, default: Any) -> np.ndarray:
        self._check_initialized()
        k = np.asarray(keys)
        d = np.asarray(default)
        if d.size != 1:
            raise errors.InvalidArgumentError(None, None, f"Table '{self.node_name}': default_value must be a scalar, "
                                              f"got shape {list(d.shape)}")
        dv = _py_keys(d)[0]
        with self.lock:
            get = self.table.get
            vals = [get(x, dv) for x in _py_keys(k)]
        out = np.empty(len(vals), dtype=self.value_dtype.as_numpy_dtype)
        out[:] = vals
        return out.reshape(k.shape)

    def size(self) -> int:
        with self.lock:
            return len(self.table) if self.initialized else 0

    def insert(self, keys: Any, values: Any) -> None:
        pairs = self._pairs(keys, values, "LookupTableInsert")
        with self.lock:
            self.table.update(pairs)

    def import_values(self, keys: Any, values: Any) -> None:
        pairs = self._pairs(keys, values, "LookupTableImport")
        with self.lock:
            self.table = dict(pairs)

    def export(self) -> tuple:
        with self.lock:
            items = list(self.table.items())
        k = np.empty(len(items), dtype=self.key_dtype.as_numpy_dtype)
        v = np.empty(len(items), dtype=self.value_dtype.as_numpy_dtype)
        k[:] = [a for a, _ in items]
        v[:] = [b for _, b in items]
        return k, v


class MutableHashTableState(HashTableState):
    """A key -> value map updated by LookupTableInsert/Import (TF's MutableHashTable): always initialized."""

    kind = "MutableHashTable"
    mutable = True


# -- text files ------------------------------------------------------------------------------------------------
def _convert_field(token: bytes, dtype: Any, filename: str, line_no: int) -> Any:
    if dtype.name == "string":
        return token
    try:
        return int(token) if dtype.is_integer else float(token)
    except ValueError:
        raise errors.InvalidArgumentError(None, None, f"Field {_show(token)} in line {line_no} of {filename} is not a "
                                          f"valid {dtype.name}.") from None


def _pick(index: int, dtype: Any, line: bytes, tokens: list, n: int, filename: str) -> Any:
    if index == LINE_NUMBER:
        return n
    return _convert_field(line if index == WHOLE_LINE else tokens[index], dtype, filename, n)


def read_text_file_pairs(filename: str, key_index: int, value_index: int, vocab_size: int, delimiter: str,
                         key_dtype: Any, value_dtype: Any) -> list:
    """(key, value) pairs from a vocabulary file, one per line, TF's TextFileLineIterator rules.

    An index of -2 (WHOLE_LINE) takes the whole line, -1 (LINE_NUMBER) the line number, n >= 0 the n-th
    field split at `delimiter`. With vocab_size >= 0 only that many lines are read (the file must have them).
    """
    try:
        with open(filename, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise errors.NotFoundError(None, None, f"{filename}; No such file or directory (the vocabulary file of a "
                                   "table initializer)") from None
    except OSError as e:
        raise errors.InvalidArgumentError(None, None, f"Cannot read vocabulary file {filename}: {e}") from None
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if vocab_size >= 0:
        if len(lines) < vocab_size:
            raise errors.InvalidArgumentError(None, None, f"Invalid vocab_size in {filename}: expected {vocab_size} "
                                              f"but got {len(lines)}")
        lines = lines[:vocab_size]
    delim = delimiter.encode("utf-8") if isinstance(delimiter, str) else delimiter
    pairs = []
    for n, line in enumerate(lines):
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            raise errors.InvalidArgumentError(None, None, f"Invalid content in {filename}: empty line found at line "
                                              f"{n}.")
        tokens = line.split(delim) if max(key_index, value_index) >= 0 else []
        if max(key_index, value_index) >= len(tokens) and max(key_index, value_index) >= 0:
            raise errors.InvalidArgumentError(
                None, None, f"Invalid number of columns in {filename} line {n} ({_show(line)}) : expected "
                f"{max(key_index, value_index)} got {len(tokens)}")

        pairs.append((_pick(key_index, key_dtype, line, tokens, n, filename),
                      _pick(value_index, value_dtype, line, tokens, n, filename)))
    return pairs
