"""`labflow demo`: build, train and evaluate a small classifier, printing what happened at each stage.

The model is a 2-hidden-layer MLP on a synthetic, non-linearly separable problem (three interleaved
spirals), so the demo needs no downloads and finishes in seconds on a laptop CPU.
"""

from __future__ import annotations

import time

import numpy as np


def spirals(n_per_class: int = 300, classes: int = 3, noise: float = 0.2, seed: int = 0):
    """Points on `classes` interleaved spiral arms, with one-hot labels."""
    rs = np.random.RandomState(seed)
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) + rs.randn(n_per_class) * noise
        xs.append(np.c_[r * np.sin(t), r * np.cos(t)])
        ys.append(np.full(n_per_class, c))
    x = np.concatenate(xs).astype(np.float32)
    y = np.eye(classes, dtype=np.float32)[np.concatenate(ys)]
    perm = rs.permutation(len(x))
    return x[perm], y[perm]


def main(steps: int = 1500, hidden: int = 64, seed: int = 0) -> float:
    """Trains the demo model and returns its test accuracy."""
    import labflow as tf

    x_all, y_all = spirals(seed=seed)
    split = int(0.8 * len(x_all))
    x_train, y_train, x_test, y_test = x_all[:split], y_all[:split], x_all[split:], y_all[split:]
    print(f"labflow {tf.__version__} demo: 3-class spirals, {len(x_train)} train / {len(x_test)} test points")

    tf.reset_default_graph()
    tf.set_random_seed(seed)
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    y_ = tf.placeholder(tf.float32, [None, 3], name="labels")
    h = x
    for i, width in enumerate([hidden, hidden]):
        with tf.variable_scope(f"layer{i + 1}"):
            w = tf.get_variable("W", [h.get_shape()[1].value, width])
            b = tf.get_variable("b", [width], initializer=tf.zeros_initializer())
            h = tf.nn.relu(tf.matmul(h, w) + b)
    with tf.variable_scope("logits"):
        w = tf.get_variable("W", [hidden, 3])
        b = tf.get_variable("b", [3], initializer=tf.zeros_initializer())
        logits = tf.matmul(h, w) + b
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y_, logits=logits))
    global_step = tf.train.get_or_create_global_step()
    train_op = tf.train.AdamOptimizer(0.01).minimize(loss, global_step=global_step)
    correct = tf.equal(tf.argmax(logits, 1), tf.argmax(y_, 1))
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    graph = tf.get_default_graph()
    n_params = sum(int(np.prod(v.get_shape().as_list())) for v in tf.trainable_variables())
    print(f"graph: {len(graph.get_operations())} ops, {len(tf.trainable_variables())} trainable "
          f"variables ({n_params} parameters)")

    rs = np.random.RandomState(seed)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        t0 = time.perf_counter()
        for step in range(1, steps + 1):
            idx = rs.randint(0, len(x_train), 64)
            _, l = sess.run([train_op, loss], {x: x_train[idx], y_: y_train[idx]})
            if step == 1 or step % (steps // 5) == 0:
                print(f"  step {step:5d}  loss {l:.4f}")
        dt = time.perf_counter() - t0
        acc = sess.run(accuracy, {x: x_test, y_: y_test})
        devices = sorted({p.device for p in sess.placements()})
        print(f"trained {steps} steps in {dt:.2f} s ({dt / steps * 1e3:.2f} ms/step) on {', '.join(devices)}")
        print(f"test accuracy: {acc:.3f} (global step {sess.run(global_step)})")
    return float(acc)


if __name__ == "__main__":
    main()
