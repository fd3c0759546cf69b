"""Readers over queues of file names, read_file, and a full TF1 input pipeline into a training loop."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf


@pytest.fixture(autouse=True)
def _fresh_graph():
    tf.reset_default_graph()
    yield
    tf.reset_default_graph()


def _drain(sess, fetches, limit=100):
    out = []
    try:
        for _ in range(limit):
            out.append(sess.run(fetches))
    except tf.errors.OutOfRangeError:
        return out
    raise AssertionError("the reader never reached OutOfRange")


def _run_with_runners(fn):
    """Runs fn(sess) with the queue runners started; always stops and joins them."""
    with tf.Session() as sess:
        sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(sess, coord=coord)
        try:
            return fn(sess)
        finally:
            coord.request_stop()
            coord.join(threads, stop_grace_period_secs=10)
            assert not any(t.is_alive() for t in threads)


def test_text_line_reader_two_files_skips_headers(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_bytes(b"name,v\nx,1\ny,2\n")
    b.write_bytes(b"name,v\r\nz,3\r\n\r\nlast,4")  # CRLF, an empty line and no final newline
    q = tf.train.string_input_producer([str(a), str(b)], num_epochs=1, shuffle=False)
    reader = tf.TextLineReader(skip_header_lines=1)
    key, value = reader.read(q)
    assert key.get_shape().as_list() == [] and value.dtype == tf.string
    counts = [reader.num_records_produced(), reader.num_work_units_completed()]

    def body(sess):
        return _drain(sess, [key, value]), sess.run(counts)
    rows, (n, w) = _run_with_runners(body)
    assert rows == [[f"{a}:2".encode(), b"x,1"], [f"{a}:3".encode(), b"y,2"], [f"{b}:2".encode(), b"z,3"],
                    [f"{b}:3".encode(), b""], [f"{b}:4".encode(), b"last,4"]]
    assert (n, w) == (5, 2)


def test_tfrecord_reader_keys_compression_and_read_up_to(tmp_path):
    p = str(tmp_path / "z.tfrecords")
    opts = tf.python_io.TFRecordOptions("ZLIB")
    with tf.python_io.TFRecordWriter(p, opts) as w:
        for i in range(5):
            w.write(b"rec%d" % i)
    q = tf.train.string_input_producer([p], num_epochs=1, shuffle=False)
    keys, values = tf.TFRecordReader(options=opts).read_up_to(q, 3)
    batches = _run_with_runners(lambda sess: _drain(sess, [keys, values]))
    assert [list(v) for _, v in batches] == [[b"rec0", b"rec1", b"rec2"], [b"rec3", b"rec4"]]
    assert list(batches[0][0]) == [f"{p}:0".encode(), f"{p}:20".encode(), f"{p}:40".encode()]


def test_whole_file_reader_and_read_file(tmp_path):
    p = tmp_path / "img.bin"
    p.write_bytes(bytes(range(10)))
    q = tf.FIFOQueue(3, tf.string)
    key, value = tf.WholeFileReader().read(q)
    contents = tf.read_file(str(p))
    with tf.Session() as sess:
        sess.run(q.enqueue([str(p)]))
        assert sess.run([key, value]) == [str(p).encode(), bytes(range(10))]
        assert sess.run(contents) == bytes(range(10))
        with pytest.raises(tf.errors.NotFoundError, match="nope"):
            sess.run(tf.read_file(str(tmp_path / "nope")))


def test_reader_errors_surface(tmp_path):
    bad = tmp_path / "bad.tfrecords"
    with tf.python_io.TFRecordWriter(str(bad)) as w:
        w.write(b"good")
        w.write(b"soon bad")
    raw = bytearray(bad.read_bytes())
    raw[-6] ^= 1
    bad.write_bytes(bytes(raw))
    q = tf.FIFOQueue(3, tf.string)
    key, value = tf.TFRecordReader().read(q)
    with tf.Session() as sess:
        sess.run(q.enqueue([str(bad)]))
        assert sess.run(value) == b"good"
        with pytest.raises(tf.errors.DataLossError, match=r"corrupted record at 20 in .*bad\.tfrecords"):
            sess.run(value)
    with pytest.raises(TypeError, match="l-value"):
        tf.TFRecordReader().read(tf.constant("not a queue"))


def _example(image: np.ndarray, label: int) -> bytes:
    return tf.train.Example(features=tf.train.Features(feature={
        "image_raw": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.tobytes()])),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
    })).SerializeToString()


def test_mnist_style_pipeline_trains(tmp_path):
    # Two classes an easy model separates: bright top half vs bright bottom half.
    rng = np.random.RandomState(0)
    files = []
    for shard in range(2):
        path = str(tmp_path / f"train-{shard}.tfrecords")
        with tf.python_io.TFRecordWriter(path) as w:
            for _ in range(40):
                label = int(rng.randint(2))
                img = rng.randint(0, 60, size=(28, 28)).astype(np.uint8)
                img[label * 14:(label + 1) * 14] += 150
                w.write(_example(img, label))
        files.append(path)

    tf.set_random_seed(1)
    q = tf.train.string_input_producer(files, num_epochs=None, shuffle=True, seed=3)
    _, serialized = tf.TFRecordReader().read(q)
    feats = tf.parse_single_example(serialized, {"image_raw": tf.FixedLenFeature([], tf.string),
                                                 "label": tf.FixedLenFeature([], tf.int64)})
    image = tf.decode_raw(feats["image_raw"], tf.uint8)
    image = tf.cast(tf.reshape(image, [784]), tf.float32) * (1.0 / 255)
    label = tf.cast(feats["label"], tf.int32)
    images, labels = tf.train.shuffle_batch([image, label], batch_size=16, capacity=64, min_after_dequeue=16,
                                            num_threads=2, seed=5)
    assert images.get_shape().as_list() == [16, 784]

    w = tf.Variable(tf.zeros([784, 2]))
    b = tf.Variable(tf.zeros([2]))
    logits = tf.matmul(images, w) + b
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1, output_type=tf.int32), labels), tf.float32))

    def body(sess):
        first = sess.run(loss)
        for _ in range(15):
            sess.run(train)
        return first, np.mean([sess.run([loss, acc]) for _ in range(3)], axis=0)
    first, (last, accuracy) = _run_with_runners(body)
    assert first == pytest.approx(np.log(2), rel=1e-5)
    assert last < first and accuracy > 0.9


def test_csv_pipeline_text_line_reader_decode_csv_batch(tmp_path):
    p = tmp_path / "data.csv"
    p.write_text("x,y,label\n" + "".join(f"{i},{i * 0.5},{i % 3}\n" for i in range(6)))
    q = tf.train.string_input_producer([str(p)], num_epochs=1, shuffle=False)
    _, line = tf.TextLineReader(skip_header_lines=1).read(q)
    x, y, label = tf.decode_csv(line, [[0], [0.0], [0]])
    xs, ys, labels = tf.train.batch([x, y, label], batch_size=3)
    batches = _run_with_runners(lambda sess: _drain(sess, [xs, ys, labels]))
    assert len(batches) == 2
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), np.arange(6))
    np.testing.assert_allclose(np.concatenate([b[1] for b in batches]), np.arange(6) * 0.5)
    np.testing.assert_array_equal(np.concatenate([b[2] for b in batches]), np.arange(6) % 3)
