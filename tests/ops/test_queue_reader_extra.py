"""PriorityQueue (tf.PriorityQueue / tf.queue.PriorityQueue), FixedLengthRecordReader and IdentityReader."""

from __future__ import annotations

import gzip
import threading

import numpy as np
import pytest

import labflow as tf
from labflow.ops.data_flow_ops import PriorityQueue
from labflow.ops.reader_ops import FixedLengthRecordReader, IdentityReader


def test_priority_queue_dequeues_smallest_priority_first_ties_in_order():
    q = PriorityQueue(10, [tf.string, tf.float32], shapes=[[], [2]])
    assert q.dtypes == [tf.int64, tf.string, tf.float32]
    assert [s.as_list() for s in q.shapes] == [[], [], [2]]
    assert q.queue_ref.op.type == "PriorityQueue"
    enq = q.enqueue_many(([3, 1, 2, 1], [b"c", b"a", b"b", b"a2"], np.arange(8, dtype=np.float32).reshape(4, 2)))
    one = q.enqueue((0, b"first", [9.0, 9.0]))
    p, s, v = q.dequeue()
    many = q.dequeue_many(3)
    assert many[0].get_shape().as_list() == [3] and many[2].get_shape().as_list() == [3, 2]
    with tf.Session() as sess:
        sess.run(enq)
        sess.run(one)
        assert sess.run([p, s]) == [0, b"first"]
        got = sess.run(many)
        assert list(got[0]) == [1, 1, 2] and list(got[1]) == [b"a", b"a2", b"b"]
        np.testing.assert_array_equal(got[2], [[2, 3], [6, 7], [4, 5]])
        assert sess.run(q.size()) == 1


def test_priority_queue_checks_priorities_shapes_and_closing():
    q = PriorityQueue(2, [tf.int32], shapes=[[]])
    with pytest.raises(ValueError, match="incompatible"):
        q.enqueue(([1, 2], 5))
    priority = tf.placeholder(tf.int64)
    bad = q.enqueue((priority, 5))
    with tf.Session() as sess:
        with pytest.raises(tf.errors.InvalidArgumentError, match="scalar priority"):
            sess.run(bad, {priority: [1, 2]})
        sess.run(q.enqueue((7, 70)))
        sess.run(q.close())
        assert sess.run(q.dequeue()) == [7, 70]
        with pytest.raises(tf.errors.OutOfRangeError, match="closed"):
            sess.run(q.dequeue())
    with pytest.raises(ValueError, match="Shapes must be provided for all components"):
        PriorityQueue(2, [tf.int32, tf.float32], shapes=[[]])
    unknown = PriorityQueue(2, tf.float32)
    with tf.Session() as sess:
        sess.run(unknown.enqueue((1, [1.0, 2.0])))
        with pytest.raises(tf.errors.InvalidArgumentError, match="specified shapes"):
            sess.run(unknown.dequeue_many(1))


def test_priority_queue_blocks_until_an_element_arrives_and_is_shared():
    q = PriorityQueue(4, [tf.int64], shapes=[[]], shared_name="pq_shared")
    other = PriorityQueue(4, [tf.int64], shapes=[[]], shared_name="pq_shared")
    out = []
    with tf.Session() as sess:
        t = threading.Thread(target=lambda: out.append(sess.run(q.dequeue())))
        t.start()
        sess.run(other.enqueue((5, 50)))
        t.join(10)
        assert out == [[5, 50]]


def test_queue_namespace():
    assert tf.queue.PriorityQueue is PriorityQueue
    assert tf.queue.FIFOQueue is tf.FIFOQueue and tf.queue.QueueBase is tf.QueueBase
    assert tf.queue.RandomShuffleQueue is tf.RandomShuffleQueue and tf.queue.PaddingFIFOQueue is tf.PaddingFIFOQueue


def _names(paths):
    q = tf.FIFOQueue(10, tf.string)
    return q, q.enqueue_many([paths]), q.close()


def test_fixed_length_reader_header_footer_hop_and_keys(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(b"HH" + b"abcdefghij" + b"FFF")
    g = tmp_path / "g.bin"
    g.write_bytes(b"HH" + b"xyz" + b"FFF")
    q, enq, close = _names([str(f), str(g)])
    r = FixedLengthRecordReader(record_bytes=3, header_bytes=2, footer_bytes=3, hop_bytes=2)
    assert r.reader_ref.op.type == "FixedLengthRecordReader"
    k, v = r.read(q)
    with tf.Session() as s:
        s.run([enq, close])
        got = [s.run([k, v]) for _ in range(5)]
        with pytest.raises(tf.errors.OutOfRangeError):
            s.run(k)
        assert s.run(r.num_records_produced()) == 5 and s.run(r.num_work_units_completed()) == 2
    assert got == [[f"{f}:{i}".encode(), rec] for i, rec in enumerate([b"abc", b"cde", b"efg", b"ghi"])] + [
        [f"{g}:0".encode(), b"xyz"]]


def test_fixed_length_reader_contiguous_compressed_and_errors(tmp_path):
    z = tmp_path / "z.gz"
    z.write_bytes(gzip.compress(b"0123456789"))
    q, enq, close = _names([str(z), str(tmp_path / "missing")])
    r = FixedLengthRecordReader(5, encoding="GZIP")
    k, v = r.read_up_to(q, 2)
    with tf.Session() as s:
        s.run([enq, close])
        assert list(s.run(v)) == [b"01234", b"56789"]
        with pytest.raises(tf.errors.NotFoundError, match="missing"):
            s.run(v)
    with pytest.raises(ValueError, match="record_bytes"):
        FixedLengthRecordReader(0)
    with pytest.raises(ValueError, match="encoding"):
        FixedLengthRecordReader(4, encoding="LZ4")


def test_identity_reader_outputs_work_units():
    q, enq, close = _names(["unit-a", "unit-b"])
    r = IdentityReader()
    assert r.reader_ref.op.type == "IdentityReader"
    k, v = r.read(q)
    with tf.Session() as s:
        s.run([enq, close])
        assert [s.run([k, v]) for _ in range(2)] == [[b"unit-a", b"unit-a"], [b"unit-b", b"unit-b"]]
        with pytest.raises(tf.errors.OutOfRangeError):
            s.run(k)
        s.run(r.reset())
        assert s.run(r.num_records_produced()) == 0
