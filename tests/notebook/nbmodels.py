"""Small models the notebook tests draw (imported by the tests in this folder)."""

from __future__ import annotations

import numpy as np

import labflow as tf

CPU0 = "/job:localhost/replica:0/task:0/device:CPU:0"
CPU1 = "/job:localhost/replica:0/task:0/device:CPU:1"


def mlp(dev1: str | None = None, dev2: str | None = None):
    """x -> layer1 (W, b, relu) -> out (W) -> xent loss -> Adam; returns (x, y_, loss, train, init)."""
    x = tf.placeholder(tf.float32, [None, 784], name="x")
    y_ = tf.placeholder(tf.float32, [None, 10], name="y_")
    with tf.device(dev1), tf.name_scope("layer1"):
        w = tf.Variable(tf.truncated_normal([784, 100], stddev=0.1), name="W")
        b = tf.Variable(tf.zeros([100]), name="b")
        h = tf.nn.relu(tf.matmul(x, w) + b)
    with tf.device(dev2):
        with tf.variable_scope("out"):
            w2 = tf.get_variable("W", [100, 10])
            y = tf.matmul(h, w2)
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y_, logits=y))
        train = tf.train.AdamOptimizer(0.01).minimize(loss)
    init = tf.global_variables_initializer()
    return x, y_, loss, train, init


def feed(x, y_, n: int = 8) -> dict:
    rng = np.random.default_rng(0)
    return {x: rng.random((n, 784), dtype=np.float32), y_: np.eye(10, dtype=np.float32)[np.arange(n) % 10]}


def traced_two_device_step():
    """Runs one Adam step of `mlp` over two CPU devices; returns (session, run_metadata, loss)."""
    x, y_, loss, train, init = mlp("/cpu:0", "/cpu:1")
    sess = tf.Session(config=tf.ConfigProto(device_count={"CPU": 2}))
    sess.run(init)
    md = tf.RunMetadata()
    opts = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE, output_partition_graphs=True)
    sess.run(train, feed(x, y_), options=opts, run_metadata=md)
    return sess, md, loss


def view_data(html: str) -> list[dict]:
    """The embedded data of every view in an HTML output (packed parts inflated)."""
    import json
    import re

    from labflow.notebook.html import unpack
    out = []
    for blob in re.findall(r'<script type="application/json" id="[^"]+-data">(.*?)</script>', html, re.S):
        d = json.loads(blob)
        if "z" in d:
            d.update(unpack(d.pop("z")))
        out.append(d)
    return out


def live_svg(html: str) -> str:
    """The live SVG(s) the script swaps in for the static pictures of an HTML output."""
    return "\n".join(d.get("@", "") for d in view_data(html))
