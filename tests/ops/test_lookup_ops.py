"""Lookup tables: HashTable / MutableHashTable, initializers, tables_initializer and the index tables.

Out-of-vocabulary bucket ids below were computed with TensorFlow's index_table_from_tensor: labflow
buckets keys bit-exactly like TF.
"""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.ops import lookup_index as li
from labflow.ops import lookup_ops as lo


@pytest.fixture
def vocab_file(tmp_path):
    def make(text: str) -> str:
        p = tmp_path / "vocab.txt"
        p.write_bytes(text.encode())
        return str(p)
    return make


def _strings(*vals):
    out = np.empty(len(vals), dtype=object)
    out[:] = list(vals)
    return out


def test_public_names():
    assert tf.tables_initializer is lo.tables_initializer
    assert tf.initialize_all_tables is lo.initialize_all_tables
    assert tf.lookup.StaticHashTable is lo.StaticHashTable
    assert tf.lookup.KeyValueTensorInitializer is lo.KeyValueTensorInitializer
    assert tf.lookup.TextFileIndex.WHOLE_LINE == -2 and tf.lookup.TextFileIndex.LINE_NUMBER == -1


def test_hash_table_lookup_and_default():
    init = lo.KeyValueTensorInitializer(["a", "b", "c"], tf.constant([0, 1, 2], tf.int64))
    table = lo.HashTable(init, -1)
    assert table.key_dtype == tf.string and table.value_dtype == tf.int64 and table.name == "hash_table"
    assert table.table_ref.op.type == "HashTable"
    assert table.init in tf.get_collection(tf.GraphKeys.TABLE_INITIALIZERS)
    ids = table.lookup(tf.constant([["b", "z"], ["c", "a"]]))
    assert ids.get_shape().as_list() == [2, 2] and ids.dtype == tf.int64
    with tf.Session() as s:
        s.run(tf.tables_initializer())
        np.testing.assert_array_equal(s.run(ids), [[1, -1], [2, 0]])
        assert s.run(table.size()) == 3
        s.run(tf.tables_initializer())  # re-running with the same data is a no-op


def test_lookup_before_init_names_the_table_and_the_fix():
    table = lo.StaticHashTable(lo.KeyValueTensorInitializer(["a"], [1]), 0, name="vocab")
    with tf.Session() as s:
        assert s.run(table.size()) == 0
        with pytest.raises(tf.errors.FailedPreconditionError, match=r"Table 'vocab' is not initialized.*"
                                                                      r"tf.tables_initializer\(\)"):
            s.run(table.lookup(tf.constant(["a"])))


def test_tables_are_per_session():
    table = lo.HashTable(lo.KeyValueTensorInitializer([1, 2], [10, 20]), 0)
    out = table.lookup(tf.constant([2], tf.int32))
    with tf.Session() as s:
        s.run(tf.tables_initializer())
        assert s.run(out)[0] == 20
    with tf.Session() as s:
        with pytest.raises(tf.errors.FailedPreconditionError):
            s.run(out)


def test_duplicate_keys_and_reinitialization_with_other_data_fail():
    bad = lo.HashTable(lo.KeyValueTensorInitializer(["a", "a"], [1, 2]), -1)
    with tf.Session() as s:
        with pytest.raises(tf.errors.FailedPreconditionError, match="different value for same key. Key a has 1"):
            s.run(bad.init)
    keys = tf.placeholder(tf.string, [None])
    t = lo.HashTable(lo.KeyValueTensorInitializer(keys, tf.constant([1, 2])), -1)
    with tf.Session() as s:
        s.run(t.init, {keys: _strings(b"x", b"y")})
        with pytest.raises(tf.errors.FailedPreconditionError, match="already initialized with different data"):
            s.run(t.init, {keys: _strings(b"x", b"q")})
        with pytest.raises(tf.errors.InvalidArgumentError, match="same size 1 vs 2"):
            s.run(t.init, {keys: _strings(b"x")})


def test_dtype_errors():
    table = lo.HashTable(lo.KeyValueTensorInitializer(["a"], [1]), -1)
    with pytest.raises((TypeError, ValueError)):
        table.lookup(tf.constant([1]))
    with pytest.raises((TypeError, ValueError)):
        lo.HashTable(lo.KeyValueTensorInitializer(["a"], [1]), "x")
    with pytest.raises(ValueError, match="scalar"):
        lo.HashTable(lo.KeyValueTensorInitializer(["a"], [1]), [1, 2])
    with pytest.raises(TypeError, match="key_dtype float32"):
        lo.MutableHashTable(tf.float32, tf.int64, 0)


def test_sparse_keys_give_sparse_values():
    table = lo.HashTable(lo.KeyValueTensorInitializer(["a", "b"], [5, 6]), 0)
    sp = tf.SparseTensor([[0, 0], [1, 2]], ["b", "q"], [2, 3])
    out = table.lookup(sp)
    with tf.Session() as s:
        s.run(tf.tables_initializer())
        idx, vals, shape = s.run([out.indices, out.values, out.dense_shape])
    np.testing.assert_array_equal(vals, [6, 0])
    np.testing.assert_array_equal(idx, [[0, 0], [1, 2]])
    np.testing.assert_array_equal(shape, [2, 3])


def test_text_file_initializer_columns(vocab_file):
    path = vocab_file("the\t3.5\nof\t-1\r\nand\t0.25\n")
    t = lo.HashTable(lo.TextFileInitializer(path, tf.string, 0, tf.float32, 1), 9.0)
    whole = lo.HashTable(lo.TextFileInitializer(path, tf.int64, lo.TextFileIndex.LINE_NUMBER, tf.string,
                                                lo.TextFileIndex.WHOLE_LINE), "?")
    with tf.Session() as s:
        s.run(tf.tables_initializer())
        np.testing.assert_allclose(s.run(t.lookup(tf.constant(["of", "zz", "and"]))), [-1, 9, 0.25])
        got = s.run(whole.lookup(tf.constant([0, 1, 7], tf.int64)))
    assert list(got) == [b"the\t3.5", b"of\t-1", b"?"]


@pytest.mark.parametrize("text,kwargs,error,match", [
    ("a\n\nb\n", {}, tf.errors.InvalidArgumentError, "empty line"),
    ("a\nb\n", {"vocab_size": 5}, tf.errors.InvalidArgumentError, "Invalid vocab_size .* expected 5 but got 2"),
    ("a\tx\nb\n", {"key_column_index": 1}, tf.errors.InvalidArgumentError, "Invalid number of columns"),
])
def test_text_file_errors(vocab_file, text, kwargs, error, match):
    table = lo.HashTable(lo.TextFileIdTableInitializer(vocab_file(text), **kwargs), -1)
    with tf.Session() as s:
        with pytest.raises(error, match=match):
            s.run(table.init)


def test_text_file_bad_number_and_missing_file(vocab_file, tmp_path):
    t = lo.HashTable(lo.TextFileInitializer(vocab_file("a\tx\n"), tf.string, 0, tf.int64, 1), -1)
    missing = lo.HashTable(lo.TextFileIdTableInitializer(str(tmp_path / "nope.txt")), -1)
    with tf.Session() as s:
        with pytest.raises(tf.errors.InvalidArgumentError, match="Field x in line 0 .* is not a valid int64"):
            s.run(t.init)
        with pytest.raises(tf.errors.NotFoundError, match="nope.txt"):
            s.run(missing.init)
    with pytest.raises(ValueError, match="must be dtype int64"):
        lo.TextFileInitializer("f", tf.int32, lo.TextFileIndex.LINE_NUMBER, tf.string, 0)


def test_mutable_hash_table_insert_export_size():
    t = lo.MutableHashTable(tf.int64, tf.string, "UNK")
    ins = t.insert(tf.constant([3, 4], tf.int64), ["three", "four"])
    over = t.insert(tf.constant([4], tf.int64), ["FOUR"])
    with tf.Session() as s:
        assert s.run(t.size()) == 0
        s.run(ins)
        s.run(over)
        assert list(s.run(t.lookup(tf.constant([4, 5, 3], tf.int64)))) == [b"FOUR", b"UNK", b"three"]
        keys, vals = s.run(t.export())
    assert dict(zip(keys.tolist(), vals.tolist())) == {3: b"three", 4: b"FOUR"}


def test_shared_name_shares_a_table_within_a_session():
    a = lo.MutableHashTable(tf.string, tf.int64, -1, shared_name="shared")
    b = lo.MutableHashTable(tf.string, tf.int64, -1, shared_name="shared")
    with tf.Session() as s:
        s.run(a.insert(["k"], tf.constant([7], tf.int64)))
        assert s.run(b.lookup(tf.constant(["k"])))[0] == 7


def test_tables_initializer_without_tables_is_a_no_op():
    op = tf.tables_initializer()
    assert op.type == "NoOp" and op.name == "init_all_tables"
    with tf.Session() as s:
        s.run(op)


# -- index tables ----------------------------------------------------------------------------------------------------
def test_index_table_from_tensor_oov_buckets_match_tensorflow():
    t = li.index_table_from_tensor(["a", "b", "c"], num_oov_buckets=5)
    ints = li.index_table_from_tensor([10, 20], num_oov_buckets=7, dtype=tf.int64)
    strong = li.index_table_from_tensor(["a", "b"], num_oov_buckets=4, hasher_spec=li.StrongHashSpec([7, 9]))
    int32 = li.index_table_from_tensor([10, 20], num_oov_buckets=3, dtype=tf.int32)
    with tf.Session() as s:
        s.run(tf.tables_initializer())
        np.testing.assert_array_equal(s.run(t.lookup(tf.constant(["a", "zz", "c", "hello", "world", "x"]))),
                                      [0, 5, 2, 4, 6, 3])
        np.testing.assert_array_equal(s.run(ints.lookup(tf.constant([10, 5, 20, 123456], tf.int64))), [0, 3, 1, 7])
        np.testing.assert_array_equal(s.run(strong.lookup(tf.constant(["a", "q", "r", "s"]))), [0, 3, 4, 3])
        np.testing.assert_array_equal(s.run(int32.lookup(tf.constant([10, 5, 20, 99], tf.int32))), [0, 3, 1, 2])
        assert s.run(t.size()) == 8


def test_index_table_from_tensor_default_value_and_errors():
    t = li.index_table_from_tensor(tf.constant(["x", "y"]), default_value=-7)
    with tf.Session() as s:
        s.run(tf.tables_initializer())
        np.testing.assert_array_equal(s.run(t.lookup(tf.constant(["y", "w"]))), [1, -7])
    with pytest.raises(ValueError, match="must be specified"):
        li.index_table_from_tensor(None)
    with pytest.raises(ValueError, match="greater or equal than 0"):
        li.index_table_from_tensor(["a"], num_oov_buckets=-1)
    with pytest.raises(ValueError, match="Expected integer"):
        li.index_table_from_tensor(["a"], dtype=tf.int64)
    with pytest.raises(TypeError, match="Only integer and string"):
        li.index_table_from_tensor([1.0], dtype=tf.float32)


def test_index_table_from_file_and_back(vocab_file):
    path = vocab_file("apple\nbanana\ncherry\n")
    ids = li.index_table_from_file(path, num_oov_buckets=1)
    small = li.index_table_from_file(path, vocab_size=2)
    words = li.index_to_string_table_from_file(path)
    words_t = li.index_to_string_table_from_tensor(["p", "q"], default_value="?")
    with tf.Session() as s:
        s.run(tf.tables_initializer())
        np.testing.assert_array_equal(s.run(ids.lookup(tf.constant(["cherry", "kiwi", "apple"]))), [2, 3, 0])
        np.testing.assert_array_equal(s.run(small.lookup(tf.constant(["cherry", "banana"]))), [-1, 1])
        assert list(s.run(words.lookup(tf.constant([1, 9], tf.int64)))) == [b"banana", b"UNK"]
        assert list(s.run(words_t.lookup(tf.constant([1, 2], tf.int64)))) == [b"q", b"?"]
    with pytest.raises(ValueError, match="must be specified"):
        li.index_table_from_file("")


def test_duplicate_vocabulary_fails_at_initialization():
    li.index_table_from_tensor(["a", "b", "a"])
    with tf.Session() as s:
        with pytest.raises(tf.errors.FailedPreconditionError, match="different value for same key"):
            s.run(tf.tables_initializer())


def test_static_vocabulary_table_and_hash_only_table():
    init = lo.KeyValueTensorInitializer(["a", "b", "c"], tf.constant([0, 1, 2], tf.int64))
    vocab = tf.lookup.StaticVocabularyTable(init, num_oov_buckets=5)
    hashed = li.IdTableWithHashBuckets(None, num_oov_buckets=5)
    with tf.Session() as s:
        s.run(tf.tables_initializer())
        np.testing.assert_array_equal(s.run(vocab.lookup(tf.constant(["a", "zz", "hello"]))), [0, 5, 4])
        np.testing.assert_array_equal(s.run(hashed.lookup(tf.constant(["zz", "hello"]))), [2, 1])
    with pytest.raises(ValueError, match="oov_buckets must be > 0"):
        li.IdTableWithHashBuckets(None, 0)


def test_graph_def_uses_tensorflows_table_ops():
    t = lo.MutableHashTable(tf.string, tf.int64, -1, name="m")
    t.insert(["a"], tf.constant([1], tf.int64), name="ins")
    h = lo.HashTable(lo.KeyValueTensorInitializer(["a"], tf.constant([1], tf.int64)), -1, name="h")
    h.lookup(tf.constant(["a"]), name="find")
    nodes = {n.name: n for n in tf.get_default_graph().as_graph_def().node}

    def attrs(name):  # leading "_" attrs are labflow's colocation info, which TF ignores
        return {a for a in nodes[name].attr if not a.startswith("_")}
    assert nodes["m"].op == "MutableHashTable" and nodes["h"].op == "HashTable"
    assert attrs("ins") == {"Tin", "Tout"}
    assert nodes["find"].op == "LookupTableFind" and attrs("find") == {"Tin", "Tout"}
    assert nodes["h/key_value_init"].op == "InitializeTable" and attrs("h/key_value_init") == {"Tkey", "Tval"}


def test_lookup_inside_dataset_map_and_cond():
    table = li.index_table_from_tensor(["a", "b", "c"], num_oov_buckets=1)
    ds = tf.data.Dataset.from_tensor_slices(["a b", "c zz"]).map(lambda s: table.lookup(tf.string_split([s]).values))
    it = ds.make_initializable_iterator()
    nxt = it.get_next()
    flag = tf.placeholder(tf.bool)
    picked = tf.cond(flag, lambda: table.lookup(tf.constant(["b"])), lambda: table.size() + tf.constant([0], tf.int64))
    with tf.Session() as s:
        s.run([tf.tables_initializer(), it.initializer])
        np.testing.assert_array_equal(s.run(nxt), [0, 1])
        np.testing.assert_array_equal(s.run(nxt), [2, 3])
        assert s.run(picked, {flag: True})[0] == 1 and s.run(picked, {flag: False})[0] == 4


def test_deprecated_string_to_index_and_back():
    ids = li.string_to_index(tf.constant(["b", "x"]), ["a", "b"])
    words = li.index_to_string(tf.constant([0, 5], tf.int64), ["a", "b"])
    with tf.Session() as s:
        s.run(tf.tables_initializer())
        np.testing.assert_array_equal(s.run(ids), [1, -1])
        assert list(s.run(words)) == [b"a", b"UNK"]
