"""labflow versions of the workloads in ../shared/BENCHMARKS.md (same data, shapes and updates as the peers)."""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

import labflow as tf

f32 = np.float32


class Step:
    """One step of a workload: `step()` runs it as the tutorials do (feeds in, the loss out), and
    `step(options=..., run_metadata=...)` runs it traced (benchmarks/overhead.py)."""

    def __init__(self, session: tf.Session, fetches: Any, feeds: dict | None, pick: Callable):
        self.session, self.fetches, self.feeds, self.pick = session, fetches, feeds, pick

    def __call__(self, **run_kwargs: Any) -> Any:
        return self.pick(self.session.run(self.fetches, self.feeds, **run_kwargs))


def data(w: str) -> dict:
    """Identical to the peers' data(): same seeds, same shapes, same initial weights."""
    rs = np.random.RandomState({"softmax_regression": 1, "mlp": 2, "cnn": 3, "lstm_lm": 5}[w])
    oh = lambda n: np.eye(10, dtype=f32)[rs.randint(0, 10, n)]  # noqa: E731
    img = lambda n, r=rs: r.rand(n, 784) * (r.rand(n, 784) < 0.2)  # noqa: E731
    if w == "softmax_regression":
        d = dict(x=img(100), y=oh(100), W=np.zeros((784, 10)), b=np.zeros(10))
    elif w == "mlp":
        he = lambda i, o: rs.randn(i, o) * np.sqrt(2.0 / i)  # noqa: E731
        d = dict(x=img(128), y=oh(128), W1=he(784, 512), b1=np.zeros(512), W2=he(512, 512), b2=np.zeros(512),
                 W3=he(512, 10), b3=np.zeros(10))
    elif w == "cnn":
        tn = lambda *s: np.clip(rs.randn(*s), -2, 2) * 0.1  # noqa: E731
        d = dict(x=img(50), y=oh(50), Wc1=tn(5, 5, 1, 32), bc1=np.full(32, 0.1), Wc2=tn(5, 5, 32, 64),
                 bc2=np.full(64, 0.1), Wf1=tn(3136, 1024), bf1=np.full(1024, 0.1), Wf2=tn(1024, 10),
                 bf2=np.full(10, 0.1))
        d["xi"] = img(1000, np.random.RandomState(4))
    else:
        tok = rs.randint(0, 10000, (20, 21))
        u = lambda *s: rs.uniform(-0.1, 0.1, s)  # noqa: E731
        d = dict(x=tok[:, :20], y=tok[:, 1:], emb=u(10000, 200), W0=u(400, 800), b0=np.zeros(800),
                 W1=u(400, 800), b1=np.zeros(800), Wsm=u(200, 10000), bsm=np.zeros(10000))
    return {k: (v.astype(f32) if v.dtype.kind == "f" else v.astype(np.int32)) for k, v in d.items()}


def _device():
    dev = os.environ.get("LABFLOW_BENCH_DEVICE")
    return tf.device(dev) if dev else tf.device(None)


def _config() -> tf.ConfigProto:
    # LABFLOW_BENCH_JIT (step_profile.py): "off" turns elementwise clustering off everywhere, "on" also
    # clusters CPU partitions; unset or "default" keeps the session's default (GPU partitions only).
    jit = os.environ.get("LABFLOW_BENCH_JIT", "default")
    opts = tf.OptimizerOptions(global_jit_level={"off": tf.OptimizerOptions.OFF, "on": tf.OptimizerOptions.ON_1}
                               .get(jit, tf.OptimizerOptions.DEFAULT), cpu_global_jit=jit == "on")
    return tf.ConfigProto(allow_soft_placement=True, graph_options=tf.GraphOptions(optimizer_options=opts))


def _session(g: tf.Graph) -> tf.Session:
    s = tf.Session(graph=g, config=_config())
    with g.as_default():
        s.run(tf.global_variables_initializer())
    return s


def w_run_overhead() -> Callable:
    g = tf.Graph()
    with g.as_default(), _device():
        c = tf.constant(1.0) + tf.constant(2.0)
    s = _session(g)
    return Step(s, c, None, lambda r: r)


def w_chain1000() -> Callable:
    g = tf.Graph()
    with g.as_default(), _device():
        x = tf.Variable(np.zeros(1, f32))
        y = x
        for _ in range(1000):
            y = y + 1.0
    s = _session(g)
    return Step(s, y, None, lambda r: r[0])


def dense_train(w: str, hidden: int) -> Callable:
    d = data(w)
    g = tf.Graph()
    with g.as_default(), _device():
        tf.set_random_seed(0)
        x = tf.placeholder(tf.float32, [None, 784])
        y = tf.placeholder(tf.float32, [None, 10])
        P = {k: tf.Variable(v) for k, v in d.items() if k not in ("x", "y")}
        h = x
        for i in range(1, hidden + 1):
            h = tf.nn.relu(tf.matmul(h, P[f"W{i}"]) + P[f"b{i}"])
        if hidden:
            logits = tf.matmul(h, P[f"W{hidden + 1}"]) + P[f"b{hidden + 1}"]
        else:
            logits = tf.matmul(h, P["W"]) + P["b"]
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
        train = tf.train.GradientDescentOptimizer(0.5 if hidden == 0 else 0.1).minimize(loss)
    s = _session(g)
    return Step(s, [train, loss], {x: d["x"], y: d["y"]}, lambda r: r[1])


def cnn_graph():
    d = data("cnn")
    g = tf.Graph()
    with g.as_default(), _device():
        tf.set_random_seed(0)
        P = {k: tf.Variable(v) for k, v in d.items() if k not in ("x", "y", "xi")}

        def model(x, train):
            h = tf.reshape(x, [-1, 28, 28, 1])
            for i in (1, 2):
                h = tf.nn.relu(tf.nn.conv2d(h, P[f"Wc{i}"], strides=[1, 1, 1, 1], padding="SAME") + P[f"bc{i}"])
                h = tf.nn.max_pool2d(h, ksize=2, strides=2, padding="SAME")
            h = tf.nn.relu(tf.matmul(tf.reshape(h, [-1, 3136]), P["Wf1"]) + P["bf1"])
            if train and os.environ.get("NODROP") != "1":
                h = tf.nn.dropout(h, rate=0.5)
            return tf.matmul(h, P["Wf2"]) + P["bf2"]

        x = tf.placeholder(tf.float32, [None, 784])
        y = tf.placeholder(tf.float32, [None, 10])
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=model(x, True)))
        train = tf.train.AdamOptimizer(1e-4).minimize(loss)
        logits_inf = model(x, False)
    return d, _session(g), x, y, loss, train, logits_inf


def w_cnn() -> Callable:
    d, s, x, y, loss, train, _ = cnn_graph()
    return Step(s, [train, loss], {x: d["x"], y: d["y"]}, lambda r: r[1])


def w_inference_cnn() -> Callable:
    d, s, x, y, loss, train, logits = cnn_graph()
    return Step(s, logits, {x: d["xi"]}, lambda r: r.sum())


def w_lstm_lm() -> Callable:
    d = data("lstm_lm")
    g = tf.Graph()
    B, T, H = 20, 20, 200
    with g.as_default(), _device():
        P = {k: tf.Variable(v) for k, v in d.items() if k not in ("x", "y")}
        inp = tf.placeholder(tf.int32, [B, T])
        tgt = tf.placeholder(tf.int32, [B, T])
        e = tf.nn.embedding_lookup(P["emb"], inp)
        h = [tf.zeros([B, H])] * 2
        c = [tf.zeros([B, H])] * 2
        outs = []
        for t in range(T):
            xt = e[:, t, :]
            for layer in range(2):
                z = tf.matmul(tf.concat([xt, h[layer]], 1), P[f"W{layer}"]) + P[f"b{layer}"]
                i, j, f, o = tf.split(z, 4, axis=1)
                c[layer] = c[layer] * tf.sigmoid(f) + tf.sigmoid(i) * tf.tanh(j)
                h[layer] = xt = tf.sigmoid(o) * tf.tanh(c[layer])
            outs.append(xt)
        logits = tf.matmul(tf.reshape(tf.stack(outs, 1), [-1, H]), P["Wsm"]) + P["bsm"]
        loss = tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.reshape(tgt, [-1]), logits=logits)) / B
        tv = list(P.values())
        grads, _ = tf.clip_by_global_norm(tf.gradients(loss, tv), 5.0)
        train = tf.train.GradientDescentOptimizer(1.0).apply_gradients(zip(grads, tv))
    s = _session(g)
    return Step(s, [train, loss], {inp: d["x"], tgt: d["y"]}, lambda r: r[1])


WORKLOADS = [("run_overhead", w_run_overhead), ("chain1000", w_chain1000),
             ("softmax_regression", lambda: dense_train("softmax_regression", 0)),
             ("mlp", lambda: dense_train("mlp", 2)), ("cnn", w_cnn), ("lstm_lm", w_lstm_lm),
             ("inference_cnn", w_inference_cnn)]
