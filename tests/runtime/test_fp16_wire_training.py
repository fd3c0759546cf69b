"""fp16 on the wire: MNIST softmax split over two devices trains as well with half the bytes moved."""

from __future__ import annotations

import labflow as tf
from labflow.datasets import mnist


def _train(data, wire):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 784])
    y_ = tf.placeholder(tf.float32, [None, 10])
    with tf.device("/cpu:0"):  # parameters and the model on one device ...
        W = tf.Variable(tf.zeros([784, 10]))
        b = tf.Variable(tf.zeros([10]))
        logits = tf.matmul(x, W) + b
    with tf.device("/cpu:1"):  # ... the loss (and so the first gradients) on the other
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y_, logits=logits))
        correct = tf.equal(tf.argmax(logits, 1), tf.argmax(y_, 1))
        accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
    cfg = tf.ConfigProto(device_count={"CPU": 2}, graph_options=tf.GraphOptions(send_recv_dtype=wire))
    moved = 0
    with tf.Session(config=cfg) as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(300):
            bx, by = data.train.next_batch(100)
            sess.run(train, {x: bx, y_: by})
            moved += sess.transfer_stats()["bytes"]
        acc = sess.run(accuracy, {x: data.test.images, y_: data.test.labels})
    return acc, moved


def test_fp16_wire_halves_bytes_and_still_converges(mnist_dir):
    data = mnist.read_data_sets(mnist_dir, one_hot=True, seed=1)
    acc32, bytes32 = _train(data, None)
    data = mnist.read_data_sets(mnist_dir, one_hot=True, seed=1)
    acc16, bytes16 = _train(data, "float16")
    # float32 tensors travel at half size; a few int32 shape tensors per step keep their width
    assert bytes32 > 0 and 0.49 < bytes16 / bytes32 < 0.51
    assert acc32 > 0.89 and acc16 > 0.89
    assert abs(acc16 - acc32) < 0.01
