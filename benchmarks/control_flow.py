"""What control flow costs: a while_loop's time per iteration, and the PTB-small LSTM step unrolled against
dynamic_rnn's while_loop (the same model, the same numbers).

Usage: python benchmarks/control_flow.py [--device gpu] [--quick]
Prints one JSON line per measurement (median ms over repeats, timed as benchmarks/run.py times):
- while_loop_1000: 1000 iterations of `a = a * 0.5 + 1` on 4 floats (the per-iteration overhead: one
  compiled condition and one compiled body call each);
- lstm_unrolled / lstm_while: a training step of the benchmark's lstm_lm shapes (2 x LSTM 200, 20 steps,
  batch 20, vocab 10000, clip 5, SGD) built with tf.nn.dynamic_rnn on a [20, 20] placeholder (static:
  unrolled) and on a [20, None] one (while_loop over TensorArrays). `check` holds the first two losses;
  they agree between the two forms.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _while_loop(device: str):
    import labflow as tf
    g = tf.Graph()
    with g.as_default(), tf.device(device):
        x = tf.placeholder(tf.float32, [4])
        _, y = tf.while_loop(lambda i, a: i < 1000, lambda i, a: (i + 1, a * 0.5 + 1.0), [0, x])
    s = tf.Session(graph=g, config=tf.ConfigProto(allow_soft_placement=True))
    feed = {x: np.zeros(4, np.float32)}
    return lambda: float(s.run(y, feed)[0])


def _lstm(device: str, steps: int | None):
    from workloads import data

    import labflow as tf
    d = data("lstm_lm")
    B, T, H = 20, 20, 200
    g = tf.Graph()
    with g.as_default(), tf.device(device):
        inp = tf.placeholder(tf.int32, [B, steps])
        tgt = tf.placeholder(tf.int32, [B, steps])
        emb = tf.Variable(d["emb"])
        cell = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.BasicLSTMCell(H, forget_bias=0.0) for _ in range(2)])
        out, _ = tf.nn.dynamic_rnn(cell, tf.nn.embedding_lookup(emb, inp), dtype=tf.float32)
        wsm, bsm = tf.Variable(d["Wsm"]), tf.Variable(d["bsm"])
        logits = tf.matmul(tf.reshape(out, [-1, H]), wsm) + bsm
        loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.reshape(tgt, [-1]), logits=logits)) / B
        tv = tf.trainable_variables()
        grads, _ = tf.clip_by_global_norm(tf.gradients(loss, tv), 5.0)
        train = tf.train.GradientDescentOptimizer(1.0).apply_gradients(zip(grads, tv))
        init = tf.global_variables_initializer()
        kernels = [v for v in tv if "kernel" in v.op.name]
        biases = [v for v in tv if "bias" in v.op.name]
    s = tf.Session(graph=g, config=tf.ConfigProto(allow_soft_placement=True))
    s.run(init)
    for i, (k, b) in enumerate(zip(kernels, biases)):  # the workload's weights, in the cells' [x, h] layout
        k.load(d[f"W{i}"], s)
        b.load(d[f"b{i}"], s)
    feed = {inp: d["x"][:, :T], tgt: d["y"][:, :T]}
    return lambda: float(s.run([train, loss], feed)[1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    from run import bench
    device = "/gpu:0" if args.device == "gpu" else "/cpu:0"
    fw = "labflow" if args.device == "cpu" else "labflow_gpu"
    for name, build in (("while_loop_1000", lambda: _while_loop(device)),
                        ("lstm_unrolled", lambda: _lstm(device, 20)), ("lstm_while", lambda: _lstm(device, None))):
        print(json.dumps(bench(name, build(), args.quick, fw)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
