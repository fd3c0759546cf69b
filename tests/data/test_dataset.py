"""tf.data: sources, transformations, iterators, their errors, and a training loop fed by a dataset."""

from __future__ import annotations

import numpy as np
import pytest
from drain import drain as _all

import labflow as tf


def test_slices_map_filter_batch_repeat_take_skip():
    x = np.arange(10, dtype=np.float32)
    ds = tf.data.Dataset.from_tensor_slices((x, np.arange(10) % 3))
    ds = ds.map(lambda a, b: (a * 2.0, b)).filter(lambda a, b: b > 0).batch(3).repeat(2)
    assert ds.output_types == (tf.float32, tf.int64)
    assert [s.as_list() for s in ds.output_shapes] == [[None], [None]]
    with tf.Session() as s:
        got = _all(s, ds.make_one_shot_iterator().get_next())
    kept = [v * 2 for v in range(10) if v % 3]
    want = [kept[i:i + 3] for i in range(0, len(kept), 3)] * 2
    assert [list(a) for a, _ in got] == want
    dropped = tf.data.Dataset.range(10).skip(2).take(5).batch(2, drop_remainder=True)
    assert dropped.output_shapes.as_list() == [2]
    with tf.Session() as s:
        assert [list(v) for v in _all(s, dropped.make_one_shot_iterator().get_next())] == [[2, 3], [4, 5]]


def test_dict_elements_zip_concatenate_from_tensors_and_generators():
    d = tf.data.Dataset.from_tensor_slices({"a": [1, 2, 3], "b": [[1.0], [2.0], [3.0]]})
    z = tf.data.Dataset.zip((d, tf.data.Dataset.range(3)))
    c = tf.data.Dataset.range(2).concatenate(tf.data.Dataset.range(5, 7))
    one = tf.data.Dataset.from_tensors([1, 2, 3])
    gen = tf.data.Dataset.from_generator(lambda: ((i, [i] * i) for i in range(1, 4)), (tf.int32, tf.int32),
                                         (tf.TensorShape([]), tf.TensorShape([None])))
    with tf.Session() as s:
        zs = _all(s, z.make_one_shot_iterator().get_next())
        assert zs[1][0]["a"] == 2 and zs[1][0]["b"].tolist() == [2.0] and zs[1][1] == 1
        assert _all(s, c.make_one_shot_iterator().get_next()) == [0, 1, 5, 6]
        assert [v.tolist() for v in _all(s, one.make_one_shot_iterator().get_next())] == [[1, 2, 3]]
        gs = _all(s, gen.make_one_shot_iterator().get_next())
        assert [(i, list(v)) for i, v in gs] == [(1, [1]), (2, [2, 2]), (3, [3, 3, 3])]


def test_shuffle_keeps_every_element_and_is_seeded():
    ds = tf.data.Dataset.range(50).shuffle(10, seed=3)
    with tf.Session() as s:
        a = _all(s, ds.make_one_shot_iterator().get_next())
    assert sorted(a) == list(range(50)) and a != list(range(50))
    with tf.Session() as s:
        b = _all(s, tf.data.Dataset.range(50).shuffle(10, seed=3).make_one_shot_iterator().get_next())
    assert a == b


def test_initializable_and_reinitializable_iterators():
    ph = tf.placeholder(tf.float32, [None])
    scale = tf.placeholder(tf.float32, [])
    ds = tf.data.Dataset.from_tensor_slices(ph).map(lambda v: v * scale)  # the map captures `scale`
    it = ds.make_initializable_iterator()
    nxt = it.get_next()
    train = tf.data.Dataset.range(3)
    valid = tf.data.Dataset.range(10, 12)
    re = tf.data.Iterator.from_structure(train.output_types, train.output_shapes)
    re_next = re.get_next()
    init_train, init_valid = re.make_initializer(train), re.make_initializer(valid)
    with tf.Session() as s:
        with pytest.raises(tf.errors.FailedPreconditionError, match="iterator has not been initialized"):
            s.run(nxt)
        s.run(it.initializer, {ph: [1, 2, 3], scale: 10.0})
        assert _all(s, nxt) == [10, 20, 30]
        s.run(it.initializer, {ph: [5], scale: -1.0})
        assert _all(s, nxt) == [-5]
        s.run(init_valid)
        assert _all(s, re_next) == [10, 11]
        s.run(init_train)
        assert _all(s, re_next) == [0, 1, 2]
    with pytest.raises(TypeError, match="Expected output types"):
        re.make_initializer(tf.data.Dataset.from_tensor_slices([1.0]))


def test_errors_name_the_problem():
    ragged = tf.data.Dataset.from_generator(lambda: iter([[1], [1, 2]]), tf.int32, tf.TensorShape([None])).batch(2)
    with tf.Session() as s:
        with pytest.raises(tf.errors.InvalidArgumentError, match="Cannot batch tensors with different shapes"):
            s.run(ragged.make_one_shot_iterator().get_next())
    with pytest.raises(ValueError, match="scalar bool"):
        tf.data.Dataset.range(3).filter(lambda v: v * 2)
    with pytest.raises(ValueError, match="batch_size must be positive"):
        tf.data.Dataset.range(3).batch(0)


def test_files_as_datasets(tmp_path):
    rec = str(tmp_path / "data.tfrecord")
    with tf.python_io.TFRecordWriter(rec) as w:
        for i in range(3):
            w.write(f"record {i}".encode())
    txt = tmp_path / "lines.txt"
    txt.write_bytes(b"first\r\nsecond\nthird")
    with tf.Session() as s:
        assert _all(s, tf.data.TFRecordDataset([rec]).make_one_shot_iterator().get_next()) == [
            b"record 0", b"record 1", b"record 2"]
        lines = tf.data.TextLineDataset(str(txt))
        assert _all(s, lines.make_one_shot_iterator().get_next()) == [b"first", b"second", b"third"]


def test_a_model_trains_from_a_dataset_and_the_graph_exports(tmp_path):
    r = np.random.RandomState(0)
    xs = r.randn(400, 5).astype(np.float32)
    ys = (xs @ r.randn(5) > 0).astype(np.int64)
    ds = tf.data.Dataset.from_tensor_slices((xs, ys)).shuffle(100, seed=0).batch(40).repeat()
    x, y = ds.make_one_shot_iterator().get_next()
    w = tf.Variable(tf.zeros([5, 2]))
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=tf.matmul(x, w)))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    saver = tf.train.Saver()
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        losses = [s.run([train, loss])[1] for _ in range(60)]
        saver.save(s, str(tmp_path / "model"))  # the graph (with its iterator ops) exports
    assert losses[0] > 0.6 and np.mean(losses[-10:]) < 0.3, (losses[0], losses[-10:])


def test_padded_batch_flat_map_and_interleave():
    seqs = tf.data.Dataset.from_generator(lambda: iter([[1], [2, 2], [3, 3, 3]]), tf.int32, tf.TensorShape([None]))
    padded = seqs.padded_batch(2, padded_shapes=[None], padding_values=-1)
    fixed = seqs.padded_batch(3, padded_shapes=[4])
    flat = tf.data.Dataset.from_tensor_slices([[1, 2], [3, 4]]).flat_map(tf.data.Dataset.from_tensor_slices)
    inter = tf.data.Dataset.range(1, 6).interleave(  # the example of TF's docs
        lambda n: tf.data.Dataset.from_tensors(n).repeat(6), cycle_length=2, block_length=4)
    assert padded.output_shapes.as_list() == [None, None] and fixed.output_shapes.as_list() == [None, 4]
    with tf.Session() as s:
        assert [v.tolist() for v in _all(s, padded.make_one_shot_iterator().get_next())] == [
            [[1, -1], [2, 2]], [[3, 3, 3]]]
        assert _all(s, fixed.make_one_shot_iterator().get_next())[0].tolist() == [
            [1, 0, 0, 0], [2, 2, 0, 0], [3, 3, 3, 0]]
        assert _all(s, flat.make_one_shot_iterator().get_next()) == [1, 2, 3, 4]
        assert _all(s, inter.make_one_shot_iterator().get_next()) == [
            1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3, 4, 4, 5, 5, 5, 5, 5, 5]


def test_cache_computes_each_element_once():
    calls = []

    def count(v):
        calls.append(1)
        return v

    ds = tf.data.Dataset.range(4).map(lambda v: tf.py_func(count, [v], tf.int64)).cache().repeat(3)
    with tf.Session() as s:
        got = _all(s, ds.make_one_shot_iterator().get_next())
    assert [int(v) for v in got] == [0, 1, 2, 3] * 3 and len(calls) == 4
    with pytest.raises(NotImplementedError, match="in memory only"):
        tf.data.Dataset.range(3).cache("/tmp/x")


def test_cache_starts_over_when_an_iterator_is_initialized_again():
    ph = tf.placeholder(tf.int64, [None])
    it = tf.data.Dataset.from_tensor_slices(ph).cache().repeat(2).make_initializable_iterator()
    nxt = it.get_next()
    with tf.Session() as s:
        s.run(it.initializer, {ph: [1, 2]})
        assert _all(s, nxt) == [1, 2, 1, 2]
        s.run(it.initializer, {ph: [7]})
        assert _all(s, nxt) == [7, 7]
