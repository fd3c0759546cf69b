"""Lookup tables: the table ops, HashTable / MutableHashTable, their initializers and tf.tables_initializer.

Tables follow TF 1.x's reference-handle design (the one labflow's queues use): HashTable and
MutableHashTable output a `string_ref` handle whose kernel looks up or creates the table's state
(lookup_tables.HashTableState) in the device's ResourceMgr under (container, shared_name or node name),
so a table outlives steps, lives as long as its session, and is shared by name. Every op using a table
takes the handle as a ref input, so the placer colocates it with the table. The ops are TF's
(HashTable, LookupTableFind, InitializeTable, InitializeTableFromTextFile, ...), host-only and stateful.

A HashTable must be initialized (`sess.run(tf.tables_initializer())`) before a lookup; its initializer
joins GraphKeys.TABLE_INITIALIZERS. Missing keys give `default_value`. The index tables built on these
(`index_table_from_tensor`, ...) are in lookup_index.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import GraphKeys, add_to_collection, get_collection, get_default_graph, name_scope
from labflow.framework.registry import REQUIRED, op
from labflow.framework.tensor import Operation, Tensor
from labflow.ops.common import convert_to_tensor, dims, make_op, no_outputs
from labflow.ops.lookup_tables import (
    LINE_NUMBER,
    WHOLE_LINE,
    HashTableState,
    MutableHashTableState,
    read_text_file_pairs,
)
from labflow.ops.queue_runtime import lookup_or_create

__all__ = ["tables_initializer", "initialize_all_tables"]

_COMMON = dict(stateful=True, not_differentiable=True, devices=("CPU",))
KEY_TYPES = (_dt.string, _dt.int32, _dt.int64)
VALUE_TYPES = (_dt.string, _dt.int32, _dt.int64, _dt.float32, _dt.float64, _dt.bool)
TABLE_OPS = ("HashTable", "MutableHashTable")


def _check_handle(ins: list, op_type: str) -> None:
    t = ins[0]
    if not (t.dtype.is_ref_dtype and t.dtype.base_dtype == _dt.string):
        raise TypeError(f"Input 'table_handle' of '{op_type}' Op requires l-value input: pass a table's "
                        f"table_ref (a string_ref tensor), got tensor '{t.name}' of dtype {t.dtype.name}")


def _table_dtypes(handle: Tensor) -> tuple | None:
    """(key_dtype, value_dtype) of the table behind `handle`, when its creating op is visible."""
    if handle.op.type in TABLE_OPS:
        return handle.op.get_attr("key_dtype"), handle.op.get_attr("value_dtype")
    return None


def _check_dtypes(ins: list, op_type: str, key_i: int | None, value_i: int | None) -> None:
    _check_handle(ins, op_type)
    want = _table_dtypes(ins[0])
    if want is None:
        return
    for i, w, what in ((key_i, want[0], "key"), (value_i, want[1], "value")):
        if i is not None and ins[i].dtype.base_dtype != w:
            raise TypeError(f"Invalid {what} dtype for '{op_type}': the table holds {w.name} {what}s, got "
                            f"{ins[i].dtype.base_dtype.name}")


# -- the table-creating ops ------------------------------------------------------------------------------------
def _table_shape(op_type):
    def fn(ins, attrs):
        if attrs["key_dtype"] not in KEY_TYPES:
            raise TypeError(f"{op_type}: key_dtype {attrs['key_dtype'].name} is not supported (use string, int32 "
                            "or int64 keys)")
        if attrs["value_dtype"] not in VALUE_TYPES:
            raise TypeError(f"{op_type}: value_dtype {attrs['value_dtype'].name} is not supported (use "
                            f"{', '.join(d.name for d in VALUE_TYPES)})")
        return _dt.string._as_ref, (2,)
    return fn


_TABLE_ATTRS = {"container": "", "shared_name": "", "use_node_name_sharing": False, "key_dtype": REQUIRED,
                "value_dtype": REQUIRED}


def _lookup_table(ctx, cls, container, shared_name, use_node_name_sharing, key_dtype, value_dtype):
    shared = shared_name or (ctx.name if use_node_name_sharing else "")

    def make(name):
        return cls(name, container, ctx.name, key_dtype, value_dtype)
    t = lookup_or_create(ctx.resources, container, shared, ctx.name, make)
    t.check_compatible((cls.kind, key_dtype.name, value_dtype.name))
    # Also under its resource name: a function (tf.data map, cond) receives the handle's value, the
    # [container, name] pair, and finds the table by it (see _table).
    ctx.resources.lookup_or_create(container, _BY_NAME + t.name, lambda: t)
    return t


_BY_NAME = "__lookup_table__/"


def _table(handle: Any, ctx: Any) -> HashTableState:
    """The table behind a ref input: the state itself, or a [container, name] handle value."""
    if isinstance(handle, HashTableState):
        return handle
    container, name = (v.decode("utf-8") if isinstance(v, bytes) else str(v)
                       for v in np.asarray(handle, dtype=object).reshape(-1)[:2])
    t = ctx.resources.lookup(container, _BY_NAME + name)
    if t is None:
        raise errors.NotFoundError(None, None, f"Lookup table '{name}' (container '{container}') does not exist on "
                                   f"{ctx.device.name}: was it created in this session?")
    return t


@op("HashTable", attrs=_TABLE_ATTRS, shape=_table_shape("HashTable"), needs_ctx=True, session_constant=True,
    **_COMMON)
def hash_table_kernel(xp, *, container, shared_name, use_node_name_sharing, key_dtype, value_dtype, ctx):
    return _lookup_table(ctx, HashTableState, container, shared_name, use_node_name_sharing, key_dtype, value_dtype)


@op("MutableHashTable", attrs=_TABLE_ATTRS, shape=_table_shape("MutableHashTable"), needs_ctx=True,
    session_constant=True, **_COMMON)
def mutable_hash_table_kernel(xp, *, container, shared_name, use_node_name_sharing, key_dtype, value_dtype, ctx):
    return _lookup_table(ctx, MutableHashTableState, container, shared_name, use_node_name_sharing, key_dtype,
                         value_dtype)


# -- the ops on a table ----------------------------------------------------------------------------------------
def _find_shape(ins, attrs):
    _check_dtypes(ins, "LookupTableFind", 1, 2)
    d = dims(ins[2])
    if d is not None and len(d) != 0:
        raise ValueError(f"Shape must be rank 0 but is rank {len(d)} for 'LookupTableFind' input 'default_value' "
                         "(the default is one scalar)")
    return attrs["Tout"], dims(ins[1])


@op("LookupTableFind", inputs=("table_handle", "keys", "default_value"), attrs={"Tin": REQUIRED, "Tout": REQUIRED},
    shape=_find_shape, ref_inputs=(0,), needs_ctx=True, **_COMMON)
def lookup_table_find_kernel(xp, table_handle, keys, default_value, *, ctx):
    return _table(table_handle, ctx).find(keys, default_value)


def _size_shape(ins, attrs):
    _check_handle(ins, "LookupTableSize")
    return _dt.int64, ()


@op("LookupTableSize", inputs=("table_handle",), shape=_size_shape, ref_inputs=(0,), needs_ctx=True, **_COMMON)
def lookup_table_size_kernel(xp, table_handle, *, ctx):
    return np.asarray(_table(table_handle, ctx).size(), dtype=np.int64)


def _kv_shape(op_type):
    def fn(ins, attrs):
        _check_dtypes(ins, op_type, 1, 2)
        return no_outputs(ins, attrs)
    return fn


_KV = dict(inputs=("table_handle", "keys", "values"), outputs=0, ref_inputs=(0,), needs_ctx=True, **_COMMON)
_INIT_ATTRS = {"Tkey": REQUIRED, "Tval": REQUIRED}  # TF names the dtypes so on InitializeTable ...
_UPDATE_ATTRS = {"Tin": REQUIRED, "Tout": REQUIRED}  # ... and so on LookupTableInsert / LookupTableImport


@op("InitializeTable", attrs=_INIT_ATTRS, shape=_kv_shape("InitializeTable"), **_KV)
def initialize_table_kernel(xp, table_handle, keys, values, *, ctx):
    t = _table(table_handle, ctx)
    t.initialize(t._pairs(keys, values, "InitializeTable"), "tensors")


@op("LookupTableInsert", attrs=_UPDATE_ATTRS, shape=_kv_shape("LookupTableInsert"), **_KV)
def lookup_table_insert_kernel(xp, table_handle, keys, values, *, ctx):
    _table(table_handle, ctx).insert(keys, values)


@op("LookupTableImport", attrs=_UPDATE_ATTRS, shape=_kv_shape("LookupTableImport"), **_KV)
def lookup_table_import_kernel(xp, table_handle, keys, values, *, ctx):
    _table(table_handle, ctx).import_values(keys, values)


def _export_shape(ins, attrs):
    _check_handle(ins, "LookupTableExport")
    return [(attrs["Tkeys"], (None,)), (attrs["Tvalues"], (None,))]


@op("LookupTableExport", inputs=("table_handle",), attrs={"Tkeys": REQUIRED, "Tvalues": REQUIRED},
    shape=_export_shape, outputs=2, output_names=("keys", "values"), ref_inputs=(0,), needs_ctx=True, **_COMMON)
def lookup_table_export_kernel(xp, table_handle, *, ctx):
    return _table(table_handle, ctx).export()


def _text_init_shape(ins, attrs):
    _check_handle(ins, "InitializeTableFromTextFile")
    if ins[1].dtype.base_dtype != _dt.string or dims(ins[1]) not in (None, ()):
        raise ValueError("Input 'filename' of 'InitializeTableFromTextFile' must be a string scalar")
    for a in ("key_index", "value_index"):
        if attrs[a] < WHOLE_LINE:
            raise ValueError(f"Value for attr '{a}' of {attrs[a]} must be at least minimum -2")
    return no_outputs(ins, attrs)


@op("InitializeTableFromTextFile", inputs=("table_handle", "filename"),
    attrs={"key_index": REQUIRED, "value_index": REQUIRED, "vocab_size": -1, "delimiter": "\t"},
    shape=_text_init_shape, outputs=0, ref_inputs=(0,), needs_ctx=True, **_COMMON)
def initialize_table_from_text_file_kernel(xp, table_handle, filename, *, key_index, value_index, vocab_size,
                                           delimiter, ctx):
    table_handle = _table(table_handle, ctx)
    name = np.asarray(filename, dtype=object).item()
    name = name.decode("utf-8") if isinstance(name, bytes) else str(name)
    pairs = read_text_file_pairs(name, key_index, value_index, vocab_size, delimiter, table_handle.key_dtype,
                                 table_handle.value_dtype)
    table_handle.initialize(pairs, name)


# -- Python: tables ----------------------------------------------------------------------------------------------
def _create_table(op_type: str, key_dtype: Any, value_dtype: Any, shared_name: str | None, name: str) -> Tensor:
    g = get_default_graph()
    attrs = {"container": getattr(g._s, "container", ""), "shared_name": shared_name or "",
             "use_node_name_sharing": False, "key_dtype": key_dtype, "value_dtype": value_dtype}
    return g.create_op(op_type, [], attrs=attrs, name=name).outputs[0]


def _sparse_or_tensor(keys: Any, dtype: Any) -> tuple:
    from labflow.framework.sparse_tensor import SparseTensor
    if isinstance(keys, SparseTensor):
        return keys, keys.values
    return None, convert_to_tensor(keys, dtype=dtype, name="keys")


class _KeyValueDtypes:
    """The key and value dtypes that a table and its initializer both carry."""

    def __init__(self, key_dtype: Any, value_dtype: Any):
        self._key_dtype = _dt.as_dtype(key_dtype).base_dtype
        self._value_dtype = _dt.as_dtype(value_dtype).base_dtype

    @property
    def key_dtype(self) -> _dt.DType:
        return self._key_dtype

    @property
    def value_dtype(self) -> _dt.DType:
        return self._value_dtype


class LookupInterface(_KeyValueDtypes):
    """What every lookup table has: key and value dtypes, a name, `lookup` and `size` (TF 1.x)."""

    def __init__(self, key_dtype: Any, value_dtype: Any, name: str):
        super().__init__(key_dtype, value_dtype)
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def check_table_dtypes(self, key_dtype: Any, value_dtype: Any) -> None:
        """Raises TypeError when the given dtypes are not the table's."""
        if _dt.as_dtype(key_dtype).base_dtype != self.key_dtype:
            raise TypeError(f"Invalid key dtype, expected {self.key_dtype.name} but got "
                            f"{_dt.as_dtype(key_dtype).base_dtype.name}.")
        if _dt.as_dtype(value_dtype).base_dtype != self.value_dtype:
            raise TypeError(f"Invalid value dtype, expected {self.value_dtype.name} but got "
                            f"{_dt.as_dtype(value_dtype).base_dtype.name}.")


class _RefTable(LookupInterface):
    """A table backed by a HashTable/MutableHashTable op: `table_ref` is its handle."""

    _table_ref: Tensor
    _default_value: Tensor

    @property
    def table_ref(self) -> Tensor:
        """The table's handle (a string_ref tensor)."""
        return self._table_ref

    resource_handle = table_ref

    @property
    def default_value(self) -> Tensor:
        """The value looked-up keys that are missing get."""
        return self._default_value

    def size(self, name: str | None = None) -> Tensor:
        """An int64 scalar: the number of entries (0 before a HashTable is initialized)."""
        with name_scope(name, f"{self.name}_Size") as scope:
            return make_op("LookupTableSize", [self._table_ref], name=scope).outputs[0]

    def lookup(self, keys: Any, name: str | None = None) -> Any:
        """Looks up `keys` (a Tensor or SparseTensor of key_dtype); missing keys give `default_value`.

        Returns:
            A tensor of value_dtype with the shape of `keys` (a SparseTensor for SparseTensor keys).

        Raises:
            TypeError: keys of another dtype than the table's.
            FailedPreconditionError (at run time): an uninitialized HashTable.
        """
        # The default graph, not the table's: inside a function (tf.data map, tf.cond) the handle is captured.
        with name_scope(name, f"{self.name}_Lookup") as scope:
            sparse, k = _sparse_or_tensor(keys, self._key_dtype)
            if k.dtype.base_dtype != self._key_dtype:
                raise TypeError(f"Signature mismatch. Keys must be dtype {self._key_dtype.name}, got "
                                f"{k.dtype.base_dtype.name}.")
            values = make_op("LookupTableFind", [self._table_ref, k, self._default_value],
                             attrs={"Tin": self._key_dtype, "Tout": self._value_dtype}, name=scope).outputs[0]
        if sparse is not None:
            from labflow.framework.sparse_tensor import SparseTensor
            return SparseTensor(sparse.indices, values, sparse.dense_shape)
        return values


class InitializableLookupTableBase(_RefTable):
    """A table filled once by a `TableInitializerBase` (TF 1.x)."""

    def __init__(self, default_value: Any, initializer: TableInitializerBase, table_ref: Tensor, name: str):
        super().__init__(initializer.key_dtype, initializer.value_dtype, name)
        self._table_ref = table_ref
        self._default_value = convert_to_tensor(default_value, dtype=self._value_dtype, name="default_value")
        if dims(self._default_value) not in (None, ()):
            raise ValueError(f"default_value must be a scalar, got shape {list(dims(self._default_value))}")
        self._initializer = initializer
        self._init = initializer.initialize(self)

    @property
    def init(self) -> Operation:
        """The op that fills the table (also in GraphKeys.TABLE_INITIALIZERS)."""
        return self._init

    initializer = init


class HashTable(InitializableLookupTableBase):
    """An immutable hash table filled by an initializer (TF 1.x `tf.contrib.lookup.HashTable`).

    Example:
        table = HashTable(KeyValueTensorInitializer(["a", "b"], [0, 1], value_dtype=tf.int64), -1)
        ids = table.lookup(tf.constant(["b", "z"]))   # [1, -1] once tf.tables_initializer() ran
    """

    def __init__(self, initializer: TableInitializerBase, default_value: Any, shared_name: str | None = None,
                 name: str | None = None):
        """Creates the table.

        Args:
            initializer: a KeyValueTensorInitializer or TextFileInitializer (it fixes the dtypes).
            default_value: the scalar value missing keys get.
            shared_name: if set, every table op of this name on the device is one table (in the session).
            name: a name scope for the table's ops (default "hash_table").
        """
        if not isinstance(initializer, TableInitializerBase):
            raise TypeError(f"initializer must be a TableInitializerBase (e.g. KeyValueTensorInitializer), got "
                            f"{type(initializer).__name__}")
        with name_scope(name, "hash_table") as scope:
            ref = _create_table("HashTable", initializer.key_dtype, initializer.value_dtype, shared_name, scope)
            super().__init__(default_value, initializer, ref, scope.rstrip("/").split("/")[-1])


class StaticHashTable(HashTable):
    """TF 1.15's name for HashTable (`tf.lookup.StaticHashTable`)."""

    def __init__(self, initializer: TableInitializerBase, default_value: Any, name: str | None = None):
        super().__init__(initializer, default_value, name=name)


class MutableHashTable(_RefTable):
    """A hash table updated by `insert` (TF 1.x `tf.contrib.lookup.MutableHashTable`): needs no initializer.

    labflow's MutableHashTable holds scalar values and is not saved by tf.train.Saver.
    """

    def __init__(self, key_dtype: Any, value_dtype: Any, default_value: Any, shared_name: str | None = None,
                 name: str = "MutableHashTable", checkpoint: bool = True):
        """Creates an empty table.

        Args:
            key_dtype: string, int32 or int64.
            value_dtype: the dtype of the (scalar) values.
            default_value: the scalar value missing keys get.
            shared_name: if set, every table op of this name on the device is one table (in the session).
            name: the op name.
            checkpoint: accepted for TF compatibility; labflow does not save mutable tables.
        """
        super().__init__(key_dtype, value_dtype, name)
        with name_scope(name, "MutableHashTable") as scope:
            self._default_value = convert_to_tensor(default_value, dtype=self._value_dtype, name="default_value")
            if dims(self._default_value) not in (None, ()):
                raise ValueError(f"default_value must be a scalar (labflow's MutableHashTable holds scalar values), "
                                 f"got shape {list(dims(self._default_value))}")
            self._table_ref = _create_table("MutableHashTable", self._key_dtype, self._value_dtype, shared_name,
                                            scope)

    def _kv(self, op_type: str, keys: Any, values: Any, name: str) -> Operation:
        with name_scope(name, f"{self.name}_{op_type[11:].lower()}") as scope:
            k = convert_to_tensor(keys, dtype=self._key_dtype, name="keys")
            v = convert_to_tensor(values, dtype=self._value_dtype, name="values")
            return make_op(op_type, [self._table_ref, k, v], attrs={"Tin": self._key_dtype,
                                                                     "Tout": self._value_dtype}, name=scope)

    def insert(self, keys: Any, values: Any, name: str | None = None) -> Operation:
        """Adds or overwrites `keys` -> `values` (tensors of one shape)."""
        return self._kv("LookupTableInsert", keys, values, name)

    def export(self, name: str | None = None) -> tuple:
        """(keys, values): two 1-D tensors holding every entry (in no particular order)."""
        with name_scope(name, f"{self.name}_lookup_table_export_values") as scope:
            o = make_op("LookupTableExport", [self._table_ref],
                        attrs={"Tkeys": self._key_dtype, "Tvalues": self._value_dtype}, name=scope)
        return o.outputs[0], o.outputs[1]


# -- Python: initializers ----------------------------------------------------------------------------------------
class TableInitializerBase(_KeyValueDtypes):
    """Fills a table: `initialize(table)` returns the op and adds it to GraphKeys.TABLE_INITIALIZERS."""

    def initialize(self, table: Any) -> Operation:
        raise NotImplementedError


class KeyValueTensorInitializer(TableInitializerBase):
    """Fills a table from a keys tensor and a values tensor of one size (TF 1.x)."""

    def __init__(self, keys: Any, values: Any, key_dtype: Any = None, value_dtype: Any = None,
                 name: str | None = None):
        """Args:
            keys: the keys (a Tensor or anything convertible; duplicates fail at initialization).
            values: the values, one per key.
            key_dtype, value_dtype: the dtypes (default: those of keys and values).
            name: a name for the initializer op (default "key_value_init").
        """
        with name_scope(name, "key_value_init"):
            self._keys = convert_to_tensor(keys, dtype=key_dtype, name="keys")
            self._values = convert_to_tensor(values, dtype=value_dtype, name="values")
        self._name = name or "key_value_init"
        super().__init__(self._keys.dtype, self._values.dtype)

    def initialize(self, table: Any) -> Operation:
        """The InitializeTable op filling `table` (added to GraphKeys.TABLE_INITIALIZERS)."""
        table.check_table_dtypes(self._keys.dtype, self._values.dtype)
        with name_scope(self._name) as scope:
            o = make_op("InitializeTable", [table.table_ref, self._keys, self._values],
                        attrs={"Tkey": self._key_dtype, "Tval": self._value_dtype}, name=scope)
        add_to_collection(GraphKeys.TABLE_INITIALIZERS, o)
        return o


class TextFileIndex:
    """Which part of a vocabulary file's line is a key or value: a column number, or one of these."""

    WHOLE_LINE = WHOLE_LINE
    LINE_NUMBER = LINE_NUMBER


class TextFileInitializer(TableInitializerBase):
    """Fills a table from a text file, one entry per line (TF 1.x `TextFileInitializer`).

    Keys and values are each the whole line (TextFileIndex.WHOLE_LINE), the line number (LINE_NUMBER,
    int64) or the n-th field of the line split at `delimiter`.
    """

    def __init__(self, filename: Any, key_dtype: Any, key_index: int, value_dtype: Any, value_index: int,
                 vocab_size: int | None = None, delimiter: str = "\t", name: str | None = None):
        """Args:
            filename: the file's path (a string or string scalar tensor), read when the initializer runs.
            key_dtype, value_dtype: the dtypes (int64 for LINE_NUMBER, string for WHOLE_LINE).
            key_index, value_index: TextFileIndex.WHOLE_LINE, LINE_NUMBER or a column >= 0.
            vocab_size: read only this many lines (the file must have them); None reads all.
            delimiter: the column separator.
            name: a name for the initializer op (default "text_file_init").

        Raises:
            ValueError: a bad index, a dtype that does not fit its index, vocab_size < 1.
        """
        kd, vd = _dt.as_dtype(key_dtype).base_dtype, _dt.as_dtype(value_dtype).base_dtype
        for what, idx, dt in (("key", key_index, kd), ("value", value_index, vd)):
            if idx < WHOLE_LINE:
                raise ValueError(f"Invalid {what} index {idx}.")
            if idx == LINE_NUMBER and dt != _dt.int64:
                raise ValueError(f"Signature mismatch. {what.capitalize()}s must be dtype int64, got {dt.name}.")
            if idx == WHOLE_LINE and not (dt == _dt.string or dt.is_integer):
                raise ValueError(f"Signature mismatch. {what.capitalize()}s must be integer or string, got "
                                 f"{dt.name}.")
        if vocab_size is not None and vocab_size <= 0:
            raise ValueError(f"Invalid vocab_size {vocab_size}.")
        self._filename_arg = filename
        self._key_index, self._value_index = int(key_index), int(value_index)
        self._vocab_size = -1 if vocab_size is None else int(vocab_size)
        self._delimiter = delimiter
        self._name = name or "text_file_init"
        super().__init__(kd, vd)

    def initialize(self, table: Any) -> Operation:
        """The InitializeTableFromTextFile op filling `table` (added to GraphKeys.TABLE_INITIALIZERS)."""
        table.check_table_dtypes(self.key_dtype, self.value_dtype)
        with name_scope(self._name) as scope:
            f = convert_to_tensor(self._filename_arg, dtype=_dt.string, name="asset_filepath")
            o = make_op("InitializeTableFromTextFile", [table.table_ref, f],
                        attrs={"key_index": self._key_index, "value_index": self._value_index,
                               "vocab_size": self._vocab_size, "delimiter": self._delimiter}, name=scope)
        add_to_collection(GraphKeys.TABLE_INITIALIZERS, o)
        if isinstance(self._filename_arg, (str, bytes)):
            add_to_collection(GraphKeys.ASSET_FILEPATHS, f)  # TF records vocabulary files as assets
        return o


class TextFileStringTableInitializer(TextFileInitializer):
    """A TextFileInitializer for int64 -> string tables: line number -> whole line by default."""

    def __init__(self, filename: Any, key_column_index: int = LINE_NUMBER, value_column_index: int = WHOLE_LINE,
                 vocab_size: int | None = None, delimiter: str = "\t", name: str = "text_file_string_table_init"):
        super().__init__(filename, _dt.int64, key_column_index, _dt.string, value_column_index, vocab_size,
                         delimiter, name)


class TextFileIdTableInitializer(TextFileInitializer):
    """A TextFileInitializer for string -> int64 tables: whole line -> line number by default."""

    def __init__(self, filename: Any, key_column_index: int = WHOLE_LINE, value_column_index: int = LINE_NUMBER,
                 vocab_size: int | None = None, delimiter: str = "\t", name: str = "text_file_id_table_init",
                 key_dtype: Any = _dt.string):
        super().__init__(filename, key_dtype, key_column_index, _dt.int64, value_column_index, vocab_size,
                         delimiter, name)


# -- tables_initializer --------------------------------------------------------------------------------------------
def tables_initializer(name: str = "init_all_tables") -> Operation:
    """One op running every table initializer of the default graph (TF 1.x `tf.tables_initializer`).

    Returns:
        A group of GraphKeys.TABLE_INITIALIZERS, or a no-op when there are none.
    """
    from labflow.ops.control_flow_ops import group, no_op
    inits = get_collection(GraphKeys.TABLE_INITIALIZERS)
    return group(*inits, name=name) if inits else no_op(name=name)


def initialize_all_tables(name: str = "init_all_tables") -> Operation:
    """Deprecated TF 1.x alias of `tables_initializer`."""
    return tables_initializer(name)
