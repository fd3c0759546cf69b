"""tf.data additions: background prefetch, FixedLengthRecordDataset, list_files, unbatch, enumerate, Options,
AUTOTUNE, get_output_*, and tf.data.experimental's transformations."""

from __future__ import annotations

import gzip
import threading
import time

import numpy as np
import pytest
from drain import drain as _all

import labflow as tf


def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "labflow-prefetch"]


def _wait_for(cond, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


# -- prefetch --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("buffer_size", [1, 3, tf.data.experimental.AUTOTUNE, 0])
def test_prefetch_keeps_elements_and_order(buffer_size):
    ds = tf.data.Dataset.range(10).map(lambda x: x * 3, num_parallel_calls=tf.data.AUTOTUNE).batch(4)
    with tf.Session() as s:
        got = _all(s, ds.prefetch(buffer_size).make_one_shot_iterator().get_next())
    assert [list(v) for v in got] == [[0, 3, 6, 9], [12, 15, 18, 21], [24, 27]]


def test_prefetch_produces_ahead_into_a_bounded_buffer():
    produced = []

    def gen():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    ds = tf.data.Dataset.from_generator(gen, tf.int64, []).prefetch(4)
    nxt = ds.make_one_shot_iterator().get_next()
    with tf.Session() as s:
        assert s.run(nxt) == 0
        # the producer fills the buffer without further get_next calls ...
        assert _wait_for(lambda: len(produced) >= 5)
        time.sleep(0.2)
        # ... and then waits: 4 buffered, 1 handed out, at most 1 more held by the blocked producer
        assert len(produced) <= 6
        assert [s.run(nxt) for _ in range(3)] == [1, 2, 3]
    assert _wait_for(lambda: not _prefetch_threads())


def test_prefetch_thread_stops_on_close_and_on_reinitialization():
    ds = tf.data.Dataset.range(10 ** 9).prefetch(2)
    it = ds.make_initializable_iterator()
    nxt = it.get_next()
    s = tf.Session()
    s.run(it.initializer)
    assert s.run(nxt) == 0
    assert _wait_for(lambda: len(_prefetch_threads()) == 1)
    s.run(it.initializer)  # restarting the iterator ends the old producer and starts over
    assert s.run(nxt) == 0
    assert _wait_for(lambda: len(_prefetch_threads()) == 1)
    s.close()
    assert _wait_for(lambda: not _prefetch_threads())


def test_prefetch_errors_surface_at_the_get_next_that_reaches_them():
    def gen():
        yield 1
        yield 2
        raise ValueError("broken input")

    ds = tf.data.Dataset.from_generator(gen, tf.int64, [])
    raised = []
    for d in (ds, ds.prefetch(5)):
        nxt = d.make_one_shot_iterator().get_next()
        with tf.Session() as s:
            assert [s.run(nxt), s.run(nxt)] == [1, 2]
            with pytest.raises(Exception, match="broken input") as info:
                s.run(nxt)
            raised.append(info.type)
    assert raised[0] is raised[1]  # prefetching does not change what the user catches


def test_prefetch_end_of_sequence_and_map_errors():
    x = tf.placeholder(tf.float32, [None])
    ds = tf.data.Dataset.from_tensor_slices(x).map(lambda v: tf.debugging.check_numerics(v, "bad value")).prefetch(2)
    it = ds.make_initializable_iterator()
    nxt = it.get_next()
    with tf.Session() as s:
        s.run(it.initializer, {x: [1.0, np.nan]})
        assert s.run(nxt) == 1.0
        with pytest.raises(tf.errors.InvalidArgumentError, match="bad value"):
            s.run(nxt)
        s.run(it.initializer, {x: [5.0]})
        assert s.run(nxt) == 5.0
        with pytest.raises(tf.errors.OutOfRangeError):
            s.run(nxt)


def test_bad_buffer_and_parallel_calls_are_rejected():
    ds = tf.data.Dataset.range(3)
    with pytest.raises(ValueError, match="buffer_size must be >= 0"):
        ds.prefetch(-2)
    with pytest.raises(ValueError, match="num_parallel_calls must be greater than zero"):
        ds.map(lambda v: v, num_parallel_calls=0)
    assert tf.data.AUTOTUNE == tf.data.experimental.AUTOTUNE == -1


# -- FixedLengthRecordDataset -------------------------------------------------------------------------------------
def test_fixed_length_records_with_header_footer_and_several_files(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"HH" + b"abcdef" + b"F")
    b.write_bytes(b"HH" + b"xyz" + b"F")
    ds = tf.data.FixedLengthRecordDataset([str(a), str(b)], 3, header_bytes=2, footer_bytes=1)
    assert ds.output_types == tf.string and ds.output_shapes.as_list() == []
    with tf.Session() as s:
        assert _all(s, ds.make_one_shot_iterator().get_next()) == [b"abc", b"def", b"xyz"]
    names = tf.placeholder(tf.string, [None])
    it = tf.data.FixedLengthRecordDataset(names, 3, 2, 1).make_initializable_iterator()
    with tf.Session() as s:
        s.run(it.initializer, {names: [str(b)]})
        assert _all(s, it.get_next()) == [b"xyz"]


def test_fixed_length_records_compressed_and_errors(tmp_path):
    z = tmp_path / "z.bin.gz"
    z.write_bytes(gzip.compress(b"0123456789ab"))
    ds = tf.data.FixedLengthRecordDataset(str(z), 4, compression_type="GZIP")
    with tf.Session() as s:
        assert _all(s, ds.make_one_shot_iterator().get_next()) == [b"0123", b"4567", b"89ab"]
    odd = tmp_path / "odd.bin"
    odd.write_bytes(b"HH" + b"abcdefghij" + b"F")
    nxt = tf.data.FixedLengthRecordDataset(str(odd), 3, 2, 1).make_one_shot_iterator().get_next()
    with tf.Session() as s, pytest.raises(tf.errors.InvalidArgumentError, match="not an exact multiple"):
        s.run(nxt)
    nxt = tf.data.FixedLengthRecordDataset(str(tmp_path / "missing"), 3).make_one_shot_iterator().get_next()
    with tf.Session() as s, pytest.raises(tf.errors.NotFoundError, match="missing"):
        s.run(nxt)
    with pytest.raises(ValueError, match="record_bytes"):
        tf.data.FixedLengthRecordDataset(str(odd), 0)
    with pytest.raises(ValueError, match="compression_type"):
        tf.data.FixedLengthRecordDataset(str(odd), 3, compression_type="LZ4")


# -- list_files, unbatch, enumerate ---------------------------------------------------------------------------
def test_list_files_sorted_shuffled_and_no_match(tmp_path):
    for n in ("b.txt", "a.txt", "c.txt", "skip.csv"):
        (tmp_path / n).write_text("x")
    want = [str(tmp_path / n).encode() for n in ("a.txt", "b.txt", "c.txt")]
    ds = tf.data.Dataset.list_files(str(tmp_path / "*.txt"), shuffle=False)
    with tf.Session() as s:
        assert _all(s, ds.make_one_shot_iterator().get_next()) == want
    shuffled = tf.data.Dataset.list_files(str(tmp_path / "*.txt"), seed=4).repeat(3)
    with tf.Session() as s:
        got = _all(s, shuffled.make_one_shot_iterator().get_next())
    epochs = [got[i:i + 3] for i in range(0, 9, 3)]
    assert all(sorted(e) == want for e in epochs)
    nxt = tf.data.Dataset.list_files(str(tmp_path / "*.none")).make_one_shot_iterator().get_next()
    with tf.Session() as s, pytest.raises(tf.errors.InvalidArgumentError, match="No files matched pattern"):
        s.run(nxt)


def test_unbatch_enumerate_and_apply_helpers():
    ds = tf.data.Dataset.from_tensor_slices((np.arange(6).reshape(3, 2), np.arange(3))).batch(2)
    with pytest.raises(ValueError, match="scalar"):
        tf.data.Dataset.range(3).unbatch()
    un = tf.data.Dataset.from_tensor_slices(np.arange(12).reshape(3, 2, 2)).unbatch()
    assert un.output_shapes.as_list() == [2]
    en = tf.data.Dataset.range(3).map(lambda v: v * 10).enumerate(start=5)
    assert en.output_types == (tf.int64, tf.int64)
    mb = tf.data.Dataset.range(5).apply(tf.data.experimental.map_and_batch(lambda v: v + 1, 2, drop_remainder=True))
    sr = tf.data.Dataset.range(3).apply(tf.data.experimental.shuffle_and_repeat(3, count=2, seed=1))
    with tf.Session() as s:
        assert [list(v) for v in _all(s, un.make_one_shot_iterator().get_next())] == [[0, 1], [2, 3], [4, 5],
                                                                                      [6, 7], [8, 9], [10, 11]]
        assert _all(s, en.make_one_shot_iterator().get_next()) == [(5, 0), (6, 10), (7, 20)]
        assert [list(v) for v in _all(s, mb.make_one_shot_iterator().get_next())] == [[1, 2], [3, 4]]
        got = _all(s, sr.make_one_shot_iterator().get_next())
        assert sorted(got[:3]) == [0, 1, 2] and sorted(got[3:]) == [0, 1, 2]
        pairs = _all(s, ds.unbatch().make_one_shot_iterator().get_next())
        assert [(list(a), b) for a, b in pairs] == [([0, 1], 0), ([2, 3], 1), ([4, 5], 2)]
    with pytest.raises(ValueError, match="mutually exclusive"):
        tf.data.experimental.map_and_batch(lambda v: v, 2, num_parallel_batches=1, num_parallel_calls=1)


# -- Options and output structure -------------------------------------------------------------------------------
def test_options_are_kept_merged_and_checked():
    opts = tf.data.Options()
    opts.experimental_deterministic = False
    opts.experimental_optimization.map_fusion = True
    opts.experimental_threading.private_threadpool_size = 4
    with pytest.raises(AttributeError, match="Cannot set the property no_such_option"):
        opts.no_such_option = 1
    more = tf.data.Options()
    more.experimental_slack = True
    ds = tf.data.Dataset.range(4).with_options(opts).map(lambda v: v + 1).with_options(more)
    got = ds.options()
    assert got.experimental_deterministic is False and got.experimental_slack is True
    assert got.experimental_optimization.map_fusion is True
    assert got.experimental_threading.private_threadpool_size == 4
    assert tf.data.Dataset.range(2).options() == tf.data.Options()
    with pytest.raises(TypeError, match="tf.data.Options"):
        ds.with_options({"experimental_slack": True})
    with tf.Session() as s:
        assert _all(s, ds.make_one_shot_iterator().get_next()) == [1, 2, 3, 4]


def test_get_output_structure_of_datasets_and_iterators():
    ds = tf.data.Dataset.from_tensor_slices({"a": np.zeros((4, 2), np.float32), "b": np.arange(4)})
    it = ds.make_initializable_iterator()
    for obj in (ds, it):
        assert tf.data.get_output_types(obj) == {"a": tf.float32, "b": tf.int64}
        assert {k: v.as_list() for k, v in tf.data.get_output_shapes(obj).items()} == {"a": [2], "b": []}
        assert tf.data.get_output_classes(obj) == {"a": tf.Tensor, "b": tf.Tensor}
    assert tf.compat.v1.data.get_output_types(ds) == ds.output_types


# -- reduce ----------------------------------------------------------------------------------------------------
def test_reduce_folds_every_element_with_a_relaxed_state_shape():
    total = tf.data.Dataset.range(5).reduce(tf.constant(0, tf.int64), lambda s, x: s + x)
    x = tf.placeholder(tf.float32, [None])
    pair = tf.data.Dataset.from_tensor_slices(x).reduce((np.float32(0), np.int64(0)),
                                                        lambda s, v: (s[0] + v * 2.0, s[1] + 1))
    grown = tf.data.Dataset.range(3).reduce(tf.zeros([0], tf.int64), lambda s, v: tf.concat([s, [v]], 0))
    assert total.op.type == "ReduceDataset" and grown.get_shape().as_list() == [None]
    with tf.Session() as s:
        assert s.run(total) == 10
        assert s.run(pair, {x: [1, 2, 3]}) == (12.0, 3)
        assert s.run(pair, {x: []}) == (0.0, 0)  # the pipeline runs anew on each evaluation
        assert s.run(grown).tolist() == [0, 1, 2]


def test_reduce_errors():
    ds = tf.data.Dataset.range(3)
    with pytest.raises(TypeError, match="dtypes of initial_state"):
        ds.reduce(tf.constant(0.0), lambda s, v: v)
    with pytest.raises(TypeError, match="structure of initial_state"):
        ds.reduce((np.int64(0), np.int64(0)), lambda s, v: v)
    bad = tf.data.Dataset.from_tensor_slices(np.array([1.0, np.nan], np.float32)).reduce(
        np.float32(0), lambda s, v: s + tf.debugging.check_numerics(v, "nan element"))
    with tf.Session() as s, pytest.raises(tf.errors.InvalidArgumentError, match="nan element"):
        s.run(bad)
