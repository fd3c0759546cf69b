"""Model parallelism, as in the talk's deep-LSTM slide: one layer per device, same numbers as one device."""

from __future__ import annotations

import numpy as np

import labflow as tf

LAYERS, B, T, H = 4, 8, 6, 16


def _weights():
    rs = np.random.RandomState(0)
    return [(rs.uniform(-0.3, 0.3, (2 * H, 4 * H)).astype(np.float32), np.zeros(4 * H, np.float32))
            for _ in range(LAYERS)]


def _build(per_layer_device: bool):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [T, B, H], name="x")
        inputs = tf.unstack(x, axis=0)
        params = []
        for layer, (w0, b0) in enumerate(_weights()):
            dev = f"/cpu:{layer}" if per_layer_device else "/cpu:0"
            with tf.device(dev), tf.variable_scope(f"lstm{layer}"):
                w = tf.Variable(w0, name="W")
                b = tf.Variable(b0, name="b")
                params += [w, b]
                h = tf.zeros([B, H])
                c = tf.zeros([B, H])
                outs = []
                for xt in inputs:
                    z = tf.matmul(tf.concat([xt, h], 1), w) + b
                    i, j, f, o = tf.split(z, 4, axis=1)
                    c = c * tf.sigmoid(f) + tf.sigmoid(i) * tf.tanh(j)
                    h = tf.sigmoid(o) * tf.tanh(c)
                    outs.append(h)
                inputs = outs
        loss = tf.reduce_mean(tf.square(tf.stack(inputs)))
        train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
        init = tf.global_variables_initializer()
    return g, x, loss, train, init, params


def _train(per_layer_device: bool):
    g, x, loss, train, init, params = _build(per_layer_device)
    feed = {x: np.random.RandomState(1).randn(T, B, H).astype(np.float32)}
    cfg = tf.ConfigProto(device_count={"CPU": LAYERS if per_layer_device else 1})
    with tf.Session(graph=g, config=cfg) as sess:
        sess.run(init)
        losses = [sess.run([train, loss], feed)[1] for _ in range(3)]
        final = sess.run(params)
        devices = {p.device for p in sess.placements()}
        n_parts = len(next(iter(sess._cache.values())).partitions)
    return losses, final, devices, n_parts


def test_deep_lstm_one_layer_per_device_matches_single_device():
    l1, p1, d1, n1 = _train(False)
    l4, p4, d4, n4 = _train(True)
    assert n1 == 1 and len(d1) == 1
    assert n4 == LAYERS and len(d4) == LAYERS
    np.testing.assert_allclose(l4, l1, rtol=1e-5)
    for a, b in zip(p4, p1):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert l1[2] < l1[0]  # it trains
