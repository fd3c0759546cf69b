"""Index tables: vocabularies as string -> id (with out-of-vocabulary hash buckets) and id -> string tables.

`index_table_from_tensor` / `index_table_from_file` map each vocabulary entry to its position; with
`num_oov_buckets` > 0 a missing key goes to bucket `vocab_size + Fingerprint64(key) % num_oov_buckets`,
bit-exact with TF, so ids (and the embeddings trained on them) carry over between labflow and TF.
"""

from __future__ import annotations

import collections
from typing import Any

from labflow import dtypes as _dt
from labflow.framework.graph import name_scope
from labflow.framework.tensor import Operation, Tensor
from labflow.ops.common import convert_to_tensor
from labflow.ops.lookup_ops import (
    LINE_NUMBER,
    WHOLE_LINE,
    HashTable,
    KeyValueTensorInitializer,
    LookupInterface,
    TableInitializerBase,
    TextFileIdTableInitializer,
    TextFileInitializer,
)

__all__ = ["HasherSpec", "FastHashSpec", "StrongHashSpec", "IdTableWithHashBuckets", "StaticVocabularyTable",
           "index_table_from_tensor", "index_table_from_file", "index_to_string_table_from_tensor",
           "index_to_string_table_from_file", "string_to_index", "index_to_string"]

HasherSpec = collections.namedtuple("HasherSpec", ["hasher", "key"])
HasherSpec.__doc__ = "Which hash puts out-of-vocabulary keys into buckets: 'fasthash' (FarmHash) or 'stronghash'."
FastHashSpec = HasherSpec("fasthash", None)


class StrongHashSpec(HasherSpec):
    """Keyed SipHash bucketing (StringToHashBucketStrong) with a 2-int key, for adversarial inputs."""

    __slots__ = ()

    def __new__(cls, key: Any) -> StrongHashSpec:
        if len(key) != 2:
            raise ValueError(f"key must have size 2, got {len(key)}.")
        if not isinstance(key[0], int) or not isinstance(key[1], int):
            raise TypeError(f"Invalid key {key}. Must be unsigned integer values.")
        return super().__new__(cls, "stronghash", key)


def _as_string(t: Tensor) -> Tensor:
    from labflow.ops.string_convert_ops import as_string
    return t if t.dtype.base_dtype == _dt.string else as_string(t)


class IdTableWithHashBuckets(LookupInterface):
    """A string/int -> int64 table whose missing keys go to `num_oov_buckets` hash buckets after it (TF 1.x).

    The ids of `table` keep their values; a key the table lacks (it returns its default_value) gets
    `table.size() + hash(key) % num_oov_buckets`. Without a table every key is hashed.
    """

    def __init__(self, table: Any, num_oov_buckets: int, hasher_spec: HasherSpec = FastHashSpec,
                 name: str | None = None, key_dtype: Any = None):
        """Args:
            table: an int64-valued table with string or int64 keys, or None (hash every key).
            num_oov_buckets: the number of buckets (> 0 when `table` is None).
            hasher_spec: FastHashSpec (FarmHash) or StrongHashSpec(key) (SipHash).
            name: a name for the lookup ops.
            key_dtype: the dtype of looked-up keys (integer keys are hashed as their decimal strings).

        Raises:
            TypeError: a table with other key/value dtypes, a bad hasher_spec.
            ValueError: no table and no buckets.
        """
        name = name.rstrip("/") if name else name
        if table is not None:
            key_dtype = table.key_dtype if key_dtype is None else key_dtype
            if table.key_dtype not in (_dt.int64, _dt.string):
                raise TypeError(f"Invalid key dtype, expected one of int64, string, but got {table.key_dtype.name}.")
            if table.value_dtype != _dt.int64:
                raise TypeError(f"Invalid value dtype, expected int64 but got {table.value_dtype.name}.")
            name = name or table.name
        else:
            if not isinstance(num_oov_buckets, int) or num_oov_buckets <= 0:
                raise ValueError("oov_buckets must be > 0 if no table is supplied.")
            key_dtype = _dt.string if key_dtype is None else key_dtype
            name = name or "hash_bucket"
        key_dtype = _dt.as_dtype(key_dtype).base_dtype
        if not key_dtype.is_integer and key_dtype != _dt.string:
            raise TypeError(f"Invalid key_dtype, expected integer or string, got {key_dtype.name}.")
        if not isinstance(hasher_spec, HasherSpec) or hasher_spec.hasher not in ("fasthash", "stronghash"):
            raise TypeError(f"hasher_spec must be of type HasherSpec (FastHashSpec or StrongHashSpec), got "
                            f"{hasher_spec!r}")
        self._table = table
        self._num_oov_buckets = int(num_oov_buckets)
        self._hasher_spec = hasher_spec
        super().__init__(key_dtype, _dt.int64, name)

    @property
    def init(self) -> Operation:
        """The wrapped table's initializer (a no-op without a table)."""
        if self._table is not None:
            return self._table.init
        from labflow.ops.control_flow_ops import no_op
        with name_scope(None, "init"):
            return no_op()

    initializer = init

    def size(self, name: str | None = None) -> Tensor:
        """An int64 scalar: the table's size plus the number of buckets."""
        from labflow.ops import math_ops
        with name_scope(name, f"{self.name}_Size"):
            n = convert_to_tensor(self._num_oov_buckets, dtype=_dt.int64)
            return n if self._table is None else math_ops.add(self._table.size(), n)

    def _buckets(self, values: Tensor) -> Tensor:
        from labflow.ops.string_convert_ops import string_to_hash_bucket_fast, string_to_hash_bucket_strong
        s = _as_string(values)
        if self._hasher_spec.hasher == "fasthash":
            return string_to_hash_bucket_fast(s, num_buckets=self._num_oov_buckets, name="hash_bucket")
        return string_to_hash_bucket_strong(s, num_buckets=self._num_oov_buckets, key=self._hasher_spec.key,
                                            name="hash_bucket")

    def lookup(self, keys: Any, name: str | None = None) -> Any:
        """The int64 ids of `keys` (a Tensor or SparseTensor); missing keys get their bucket's id."""
        from labflow.framework.sparse_tensor import SparseTensor
        from labflow.ops import math_ops
        from labflow.ops.array_gather_ops import where
        sparse = keys if isinstance(keys, SparseTensor) else None
        values = keys.values if sparse is not None else convert_to_tensor(keys, dtype=self._key_dtype, name="keys")
        if values.dtype.base_dtype != self._key_dtype:
            raise TypeError(f"Signature mismatch. Keys must be dtype {self._key_dtype.name}, got "
                            f"{values.dtype.base_dtype.name}.")
        if self._table is not None and self._table.key_dtype == _dt.int64 and values.dtype.base_dtype != _dt.int64:
            values = math_ops.cast(values, _dt.int64)
        if self._num_oov_buckets == 0:
            ids = self._table.lookup(values, name=name)
        else:
            with name_scope(name, f"{self.name}_Lookup"):
                buckets = self._buckets(values)
                if self._table is None:
                    ids = buckets
                else:
                    found = self._table.lookup(values)
                    buckets = math_ops.add(buckets, self._table.size())
                    ids = where(math_ops.not_equal(found, self._table.default_value), found, buckets)
        return SparseTensor(sparse.indices, ids, sparse.dense_shape) if sparse is not None else ids


class StaticVocabularyTable(IdTableWithHashBuckets):
    """A vocabulary table with out-of-vocabulary buckets (TF 1.15 `tf.lookup.StaticVocabularyTable`)."""

    def __init__(self, initializer: TableInitializerBase, num_oov_buckets: int, lookup_key_dtype: Any = None,
                 name: str | None = None):
        """Args:
            initializer: fills the string/int64 -> int64 vocabulary (e.g. a TextFileInitializer).
            num_oov_buckets: the number of out-of-vocabulary buckets (> 0).
            lookup_key_dtype: the dtype of looked-up keys (default: the initializer's key dtype).
            name: a name scope.
        """
        if num_oov_buckets <= 0:
            raise ValueError("oov_buckets must be > 0.")
        if initializer.value_dtype != _dt.int64:
            raise TypeError(f"Invalid value dtype, expected int64 but got {initializer.value_dtype.name}.")
        with name_scope(name, "vocab_table"):
            table = HashTable(initializer, -1)
        super().__init__(table, num_oov_buckets, FastHashSpec, name or "vocab_table", lookup_key_dtype)


def _check_oov(num_oov_buckets: int) -> None:
    if num_oov_buckets < 0:
        raise ValueError(f"num_oov_buckets must be greater or equal than 0, got {num_oov_buckets}.")


def _key_table(table: HashTable, num_oov_buckets: int, hasher_spec: HasherSpec, dtype: _dt.DType) -> Any:
    # int32 keys look up an int64 table: the wrapper casts them (with or without buckets).
    if num_oov_buckets or dtype != table.key_dtype:
        return IdTableWithHashBuckets(table, num_oov_buckets=num_oov_buckets, hasher_spec=hasher_spec, key_dtype=dtype)
    return table


def index_table_from_tensor(vocabulary_list: Any, num_oov_buckets: int = 0, default_value: int = -1,
                            hasher_spec: HasherSpec = FastHashSpec, dtype: Any = _dt.string,
                            name: str | None = None) -> Any:
    """A table mapping each vocabulary entry to its position (TF 1.x `tf.contrib.lookup.index_table_from_tensor`).

    Args:
        vocabulary_list: a 1-D tensor (or list) of unique strings or integers.
        num_oov_buckets: buckets for keys outside the vocabulary (ids vocab_size.. vocab_size + n - 1).
        default_value: the id of a missing key when there are no buckets.
        hasher_spec: how keys are hashed into buckets.
        dtype: the key dtype (string or an integer type).
        name: a name scope (default "string_to_index").

    Returns:
        A table whose `lookup(keys)` gives int64 ids; run `tf.tables_initializer()` first.

    Raises:
        ValueError: no vocabulary, negative buckets, a vocabulary of another kind than `dtype`.
        FailedPreconditionError (at initialization): duplicate vocabulary entries.
    """
    if vocabulary_list is None:
        raise ValueError("vocabulary_list must be specified.")
    _check_oov(num_oov_buckets)
    dtype = _dt.as_dtype(dtype).base_dtype
    if not dtype.is_integer and dtype != _dt.string:
        raise TypeError("Only integer and string keys are supported.")
    from labflow.ops import math_ops
    from labflow.ops.array_ops import size
    from labflow.ops.array_reshape_ops import range as lf_range
    with name_scope(name, "string_to_index"):
        keys = convert_to_tensor(vocabulary_list, name="vocabulary_list")
        if keys.dtype.is_integer != dtype.is_integer or (not dtype.is_integer and keys.dtype.base_dtype != dtype):
            raise ValueError(f"Expected {'integer' if dtype.is_integer else dtype.name}, got {keys.dtype.name}.")
        values = math_ops.cast(lf_range(size(keys)), _dt.int64)
        with name_scope(None, "hash_table"):
            table_keys = math_ops.cast(keys, _dt.int64) if keys.dtype.is_integer else keys
            init = KeyValueTensorInitializer(table_keys, values, table_keys.dtype.base_dtype, _dt.int64,
                                             name="table_init")
            table = HashTable(init, default_value)
        return _key_table(table, num_oov_buckets, hasher_spec, dtype)


def index_table_from_file(vocabulary_file: Any = None, num_oov_buckets: int = 0, vocab_size: int | None = None,
                          default_value: int = -1, hasher_spec: HasherSpec = FastHashSpec, key_dtype: Any = _dt.string,
                          name: str | None = None, key_column_index: int = WHOLE_LINE,
                          value_column_index: int = LINE_NUMBER, delimiter: str = "\t") -> Any:
    """A table mapping each line of a vocabulary file to its line number (TF 1.x `index_table_from_file`).

    Args:
        vocabulary_file: the file's path; one entry per line (or a column of it, see key_column_index).
        num_oov_buckets: buckets for keys outside the vocabulary.
        vocab_size: read only this many lines (None: all).
        default_value: the id of a missing key when there are no buckets.
        hasher_spec: how keys are hashed into buckets.
        key_dtype: string or an integer type.
        name: a name scope (default "string_to_index").
        key_column_index, value_column_index, delimiter: as for TextFileInitializer.

    Returns:
        A table whose `lookup(keys)` gives int64 ids; run `tf.tables_initializer()` first.
    """
    if vocabulary_file is None or (isinstance(vocabulary_file, str) and not vocabulary_file):
        raise ValueError("vocabulary_file must be specified and must not be empty.")
    _check_oov(num_oov_buckets)
    if vocab_size is not None and vocab_size < 1:
        raise ValueError(f"vocab_size must be greater than 0, got {vocab_size}. vocabulary_file: {vocabulary_file}")
    key_dtype = _dt.as_dtype(key_dtype).base_dtype
    if not key_dtype.is_integer and key_dtype != _dt.string:
        raise TypeError("Only integer and string keys are supported.")
    with name_scope(name, "string_to_index"):
        with name_scope(None, "hash_table"):
            init = TextFileIdTableInitializer(vocabulary_file, vocab_size=vocab_size,
                                              key_dtype=_dt.int64 if key_dtype.is_integer else key_dtype,
                                              name="table_init", key_column_index=key_column_index,
                                              value_column_index=value_column_index, delimiter=delimiter)
            table = HashTable(init, default_value)
        return _key_table(table, num_oov_buckets, hasher_spec, key_dtype)


def index_to_string_table_from_tensor(vocabulary_list: Any, default_value: str = "UNK",
                                      name: str | None = None) -> HashTable:
    """An int64 id -> vocabulary string table (TF 1.x `index_to_string_table_from_tensor`).

    Returns:
        A HashTable: `lookup(ids)` gives strings, `default_value` for ids outside [0, vocab size).
    """
    if vocabulary_list is None:
        raise ValueError("vocabulary_list must be specified.")
    from labflow.ops import math_ops
    from labflow.ops.array_ops import size
    from labflow.ops.array_reshape_ops import range as lf_range
    with name_scope(name, "index_to_string"):
        vocab = convert_to_tensor(vocabulary_list, dtype=_dt.string, name="vocabulary_list")
        keys = math_ops.cast(lf_range(size(vocab)), _dt.int64)
        init = KeyValueTensorInitializer(keys, vocab, _dt.int64, _dt.string, name="table_init")
        return HashTable(init, default_value)


def index_to_string_table_from_file(vocabulary_file: Any, vocab_size: int | None = None, default_value: str = "UNK",
                                    name: str | None = None, key_column_index: int = LINE_NUMBER,
                                    value_column_index: int = WHOLE_LINE, delimiter: str = "\t") -> HashTable:
    """An int64 line number -> line table from a vocabulary file (TF 1.x `index_to_string_table_from_file`)."""
    if vocabulary_file is None or (isinstance(vocabulary_file, str) and not vocabulary_file):
        raise ValueError("vocabulary_file must be specified and must not be empty.")
    if vocab_size is not None and vocab_size < 1:
        raise ValueError(f"vocab_size must be greater than 0, got {vocab_size}.")
    with name_scope(name, "index_to_string"):
        init = TextFileInitializer(vocabulary_file, _dt.int64, key_column_index, _dt.string, value_column_index,
                                   vocab_size=vocab_size, delimiter=delimiter, name="table_init")
        return HashTable(init, default_value)


def string_to_index(tensor: Any, mapping: Any, default_value: int = -1, name: str | None = None) -> Tensor:
    """Deprecated TF 1.x `tf.contrib.lookup.string_to_index`: the positions of `tensor`'s strings in `mapping`.

    Returns:
        An int64 tensor; strings not in `mapping` get `default_value`. Needs `tf.tables_initializer()`.
    """
    table = index_table_from_tensor(mapping, default_value=default_value, name=name)
    return table.lookup(tensor)


def index_to_string(tensor: Any, mapping: Any, default_value: str = "UNK", name: str | None = None) -> Tensor:
    """Deprecated TF 1.x `tf.contrib.lookup.index_to_string`: the strings of `mapping` at int64 `tensor`.

    Returns:
        A string tensor; ids outside [0, len(mapping)) get `default_value`. Needs `tf.tables_initializer()`.
    """
    table = index_to_string_table_from_tensor(mapping, default_value=default_value, name=name)
    return table.lookup(tensor)
