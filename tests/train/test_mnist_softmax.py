"""TF's "MNIST For ML Beginners" tutorial, as written, with `import labflow as tf`: >= 91% test accuracy."""

from __future__ import annotations

import functools
import gzip
import os
import struct

import numpy as np
import pytest

import labflow as tf


def _read_idx(path: str, magic: int) -> np.ndarray:
    """An IDX file (gzip): big-endian int32 magic and dims, then uint8 data."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    got_magic, = struct.unpack(">i", data[:4])
    assert got_magic == magic, f"{path}: magic {got_magic}, expected {magic}"
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "i" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    assert arr.size == int(np.prod(dims)), f"{path}: {arr.size} bytes for dims {dims}"
    return arr.reshape(dims)


@functools.cache
def _load(mnist_dir: str, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Images as float32 [N, 784] in [0, 1] and one-hot float32 labels [N, 10], like input_data."""
    images = _read_idx(os.path.join(mnist_dir, f"{kind}-images-idx3-ubyte.gz"), 2051)
    labels = _read_idx(os.path.join(mnist_dir, f"{kind}-labels-idx1-ubyte.gz"), 2049)
    x = images.reshape(len(images), 784).astype(np.float32) * (1.0 / 255.0)
    return x, np.eye(10, dtype=np.float32)[labels]


@pytest.mark.parametrize("loss", ["softmax_cross_entropy_with_logits", "log_of_softmax"])
def test_mnist_softmax_regression(mnist_dir, loss):
    train_x, train_y = _load(mnist_dir, "train")
    train_x, train_y = train_x[:55000], train_y[:55000]  # read_data_sets keeps 5000 for validation
    test_x, test_y = _load(mnist_dir, "t10k")
    rng = np.random.RandomState(0)

    # -- the tutorial -------------------------------------------------------------------------------------
    x = tf.placeholder(tf.float32, [None, 784])
    W = tf.Variable(tf.zeros([784, 10]))
    b = tf.Variable(tf.zeros([10]))
    y_ = tf.placeholder(tf.float32, [None, 10])
    if loss == "log_of_softmax":  # the r0.12 text
        y = tf.nn.softmax(tf.matmul(x, W) + b)
        cross_entropy = tf.reduce_mean(-tf.reduce_sum(y_ * tf.log(y), reduction_indices=[1]))
    else:  # the r1.x text
        y = tf.matmul(x, W) + b
        cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y))
    train_step = tf.train.GradientDescentOptimizer(0.5).minimize(cross_entropy)
    sess = tf.InteractiveSession()
    tf.global_variables_initializer().run()
    for _ in range(1000):
        idx = rng.randint(0, len(train_x), 100)
        batch_xs, batch_ys = train_x[idx], train_y[idx]
        sess.run(train_step, feed_dict={x: batch_xs, y_: batch_ys})
    correct_prediction = tf.equal(tf.argmax(y, 1), tf.argmax(y_, 1))
    accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
    acc = sess.run(accuracy, feed_dict={x: test_x, y_: test_y})
    sess.close()
    # -------------------------------------------------------------------------------------------------------
    assert acc >= 0.91, f"test accuracy {acc:.4f}"
