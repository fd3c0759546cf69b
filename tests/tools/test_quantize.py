"""labflow.tools.quantize: TF-style 8-bit rewrites of frozen graphs (eightbit, calibrated, weights only),
tf.graph_util freezing, the `labflow quantize` command, and 8-bit MNIST accuracy against float.
"""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.framework.proto_convert import make_ndarray
from labflow.tools import quantize as qz
from labflow.tools.cli import main as cli_main

R = np.random.RandomState(3)


def _frozen(build) -> tuple:
    """(frozen GraphDef, output name, input name) of a model built by build() under a fresh graph."""
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(0)
        x, y = build()
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            gd = tf.graph_util.convert_variables_to_constants(s, g.as_graph_def(), [y.op.name])
    return gd, y.op.name, x.op.name


def _mlp():
    x = tf.placeholder(tf.float32, [None, 64], name="x")
    h = x
    for i, (n_in, n_out) in enumerate(((64, 256), (256, 128), (128, 10))):
        w = tf.Variable((R.randn(n_in, n_out) * np.sqrt(2.0 / n_in)).astype(np.float32), name=f"w{i}")
        b = tf.Variable(R.uniform(-0.1, 0.1, n_out).astype(np.float32), name=f"b{i}")
        h = tf.nn.bias_add(tf.matmul(h, w), b) if i == 1 else tf.matmul(h, w) + b
        h = tf.nn.relu(h) if i < 2 else h
    return x, tf.identity(h, name="logits")


def _cnn():
    x = tf.placeholder(tf.float32, [None, 16, 16, 3], name="images")
    h = x
    for i, (cin, cout) in enumerate(((3, 16), (16, 32))):
        w = tf.Variable(tf.truncated_normal([3, 3, cin, cout], stddev=0.2), name=f"conv{i}/w")
        b = tf.Variable(tf.constant(0.05, shape=[cout]), name=f"conv{i}/b")
        h = tf.nn.relu6(tf.nn.conv2d(h, w, [1, 1, 1, 1], "SAME") + b) if i else tf.nn.relu(
            tf.nn.conv2d(h, w, [1, 1, 1, 1], "SAME") + b)
        h = (tf.nn.max_pool if i == 0 else tf.nn.avg_pool)(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    h = tf.reshape(h, [-1, 4 * 4 * 32])
    w = tf.Variable(tf.truncated_normal([4 * 4 * 32, 10], stddev=0.1), name="fc/w")
    return x, tf.add(tf.matmul(h, w), tf.constant(np.linspace(-0.2, 0.2, 10).astype(np.float32)), name="logits")


def _run(gd, out, feeds):
    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(gd, name="")
    with tf.Session(graph=g) as s:
        return s.run(out + ":0", {k + ":0": v for k, v in feeds.items()})


def _ops(gd) -> list[str]:
    return [n.op for n in gd.node]


def _const_bytes(gd) -> int:
    return sum(make_ndarray(n.attr["value"].tensor).nbytes for n in gd.node if n.op == "Const")


MODELS = {"mlp": (_mlp, lambda: R.rand(200, 64).astype(np.float32)),
          "cnn": (_cnn, lambda: R.rand(100, 16, 16, 3).astype(np.float32))}


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_eightbit_replaces_float_compute_and_stays_close(model):
    build, data = MODELS[model]
    gd, out, inp = _frozen(build)
    xs = data()
    q = qz.quantize_graph(gd, [out])
    ops = _ops(q)
    assert "MatMul" not in ops and "Conv2D" not in ops and "Relu" not in ops and "MaxPool" not in ops
    assert "QuantizedMatMul" in ops and "QuantizedBiasAdd" in ops and "Requantize" in ops
    if model == "cnn":
        assert {"QuantizedConv2D", "QuantizedRelu", "QuantizedRelu6", "QuantizedMaxPool", "QuantizedAvgPool",
                "QuantizedReshape"} <= set(ops)
    # weights are quint8 constants; no float weight is left (only range scalars and shapes)
    big = [make_ndarray(n.attr["value"].tensor) for n in q.node if n.op == "Const"]
    assert all(v.dtype != np.float32 or v.size == 1 for v in big)
    assert 3.5 < _const_bytes(gd) / _const_bytes(q) <= 4.0
    # no Dequantize feeds a QuantizeV2: consecutive quantized ops pass 8-bit tensors straight through
    by_name = {n.name: n for n in q.node}
    assert not [n.name for n in q.node if n.op == "QuantizeV2" and by_name[n.input[0].split(":")[0]].op == "Dequantize"]
    assert ops.count("QuantizeV2") == 1  # only the graph's float input is quantized at run time
    f, y = _run(gd, out, {inp: xs}), _run(q, out, {inp: xs})
    assert y.dtype == np.float32 and y.shape == f.shape
    # ranges measured each run: TF's eightbit graph, with its Requantize half-step bias (see
    # quantize_rewrite.zero_exact_range); measured 4.5% (mlp) and 3% (cnn) of the largest logit
    assert np.abs(y - f).max() < 0.1 * np.abs(f).max()
    assert (y.argmax(1) == f.argmax(1)).mean() > 0.9


def test_calibrated_ranges_remove_run_time_range_reductions():
    gd, out, inp = _frozen(_cnn)
    calib, xs = MODELS["cnn"][1](), MODELS["cnn"][1]()
    ranges = qz.calibrate(gd, [out], [{inp: calib[:50]}, {inp: calib[50:]}])
    assert ranges["Conv2D:0"][0] < 0 < ranges["Conv2D:0"][1] and ranges["Relu:0"][0] == 0.0
    q = qz.quantize_graph(gd, [out], ranges=ranges)
    ops = _ops(q)
    assert "RequantizationRange" not in ops and "Min" not in ops and "Max" not in ops
    assert "QuantizedRelu" not in ops and "QuantizedRelu6" not in ops  # requantized into their ranges
    f, y = _run(gd, out, {inp: xs}), _run(q, out, {inp: xs})
    assert np.abs(y - f).max() < 0.04 * np.abs(f).max()  # measured 1.8%
    fixed = qz.quantize_graph(gd, [out], fallback_range=(-10.0, 10.0))
    assert "RequantizationRange" not in _ops(fixed) and "Min" not in _ops(fixed)


def test_quantize_weights_is_4x_smaller_and_keeps_float_compute():
    gd, out, inp = _frozen(_mlp)
    w = qz.quantize_weights(gd, minimum_size=1000)
    assert "MatMul" in _ops(w) and "QuantizedMatMul" not in _ops(w)
    assert {n.name for n in w.node if n.op == "Dequantize"} == {"w0", "w1", "w2"}  # readers keep their inputs
    assert gd.ByteSize() / w.ByteSize() > 3.5
    xs = MODELS["mlp"][1]()
    f, y = _run(gd, out, {inp: xs}), _run(w, out, {inp: xs})
    assert np.abs(y - f).max() < 0.02 * np.abs(f).max()
    # eightbit on top of weights-only quantization reuses the quint8 constants (no second quantization)
    q = qz.quantize_graph(w, [out])
    assert [n.op for n in q.node].count("Dequantize") == 1  # the output's
    assert [n.op for n in q.node].count("QuantizeV2") == 1  # the input's


def test_quantized_graph_serializes_and_runs_from_bytes(tmp_path):
    gd, out, inp = _frozen(_mlp)
    q = qz.quantize_graph(gd, [out])
    xs = MODELS["mlp"][1]()
    np.testing.assert_array_equal(_run(q.SerializeToString(), out, {inp: xs}), _run(q, out, {inp: xs}))
    src, dst = tmp_path / "frozen.pb", tmp_path / "q.pb"
    src.write_bytes(gd.SerializeToString())
    assert cli_main(["quantize", "--in", str(src), "--out", str(dst), "--outputs", out]) == 0
    np.testing.assert_array_equal(_run(dst.read_bytes(), out, {inp: xs}), _run(q, out, {inp: xs}))


def test_freezing_keeps_only_what_the_outputs_need():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        w = tf.Variable(np.arange(6, dtype=np.float32).reshape(3, 2), name="w")
        y = tf.matmul(x, w, name="y")
        step = tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(y))
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            s.run(step, {x: np.ones((1, 3), np.float32)})
            want = s.run(y, {x: np.eye(3, dtype=np.float32)})
            gd = tf.graph_util.convert_variables_to_constants(s, g.as_graph_def(), ["y"])
    assert not [n for n in gd.node if n.op in ("VariableV2", "Assign", "ApplyGradientDescent")]
    assert [n.op for n in gd.node if n.name == "w"] == ["Const"]
    np.testing.assert_array_equal(_run(gd, "y", {"x": np.eye(3, dtype=np.float32)}), want)
    stripped = tf.graph_util.remove_training_nodes(gd, protected_nodes=["y"])
    assert "Identity" not in _ops(stripped)
    np.testing.assert_array_equal(_run(stripped, "y", {"x": np.eye(3, dtype=np.float32)}), want)


def test_errors_name_the_problem():
    gd, out, _ = _frozen(_mlp)
    with pytest.raises(ValueError, match="mode must be one of 'eightbit', 'weights'"):
        qz.quantize_graph(gd, [out], mode="round")
    with pytest.raises(ValueError, match="nope is not in graph"):
        qz.quantize_graph(gd, ["nope"])
    with pytest.raises(ValueError, match="at least one node"):
        qz.quantize_graph(gd, [])
    with pytest.raises(ValueError, match="fallback_range"):
        qz.quantize_graph(gd, [out], fallback_range=(1.0, -1.0))


@pytest.mark.gpu
def test_quantized_graph_runs_on_the_gpu_like_on_the_cpu():
    gd, out, inp = _frozen(_cnn)
    q = qz.quantize_graph(gd, [out])
    xs = MODELS["cnn"][1]()
    g = tf.Graph()
    with g.as_default(), tf.device("/gpu:0"):
        tf.import_graph_def(q, name="")
    with tf.Session(graph=g, config=tf.ConfigProto(allow_soft_placement=True)) as s:
        y = s.run(out + ":0", {inp + ":0": xs})
    np.testing.assert_allclose(y, _run(q, out, {inp: xs}), rtol=1e-5, atol=1e-5)


def test_mnist_8bit_accuracy_is_within_a_point_of_float(mnist_dir):
    from labflow.datasets import mnist
    data = mnist.read_data_sets(mnist_dir, one_hot=True, seed=1)
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(1)
        x = tf.placeholder(tf.float32, [None, 784], name="x")
        labels = tf.placeholder(tf.float32, [None, 10])
        h = tf.reshape(x, [-1, 28, 28, 1])
        for cin, cout in ((1, 16), (16, 32)):
            w = tf.Variable(tf.truncated_normal([5, 5, cin, cout], stddev=0.1))
            b = tf.Variable(tf.constant(0.1, shape=[cout]))
            h = tf.nn.max_pool(tf.nn.relu(tf.nn.conv2d(h, w, [1, 1, 1, 1], "SAME") + b), [1, 2, 2, 1], [1, 2, 2, 1],
                               "SAME")
        w1 = tf.Variable(tf.truncated_normal([7 * 7 * 32, 128], stddev=0.1))
        h = tf.nn.relu(tf.matmul(tf.reshape(h, [-1, 7 * 7 * 32]), w1) + tf.Variable(tf.constant(0.1, shape=[128])))
        w2 = tf.Variable(tf.truncated_normal([128, 10], stddev=0.1))
        logits = tf.add(tf.matmul(h, w2), tf.Variable(tf.constant(0.1, shape=[10])), name="logits")
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        train = tf.train.AdamOptimizer(1e-3).minimize(loss)
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            for _ in range(300):
                bx, by = data.train.next_batch(50)
                s.run(train, {x: bx, labels: by})
            gd = tf.graph_util.convert_variables_to_constants(s, g.as_graph_def(), ["logits"])
    test_x, test_y = data.test.images[:5000], data.test.labels[:5000].argmax(1)

    def accuracy(graph_def):
        return float((_run(graph_def, "logits", {"x": test_x}).argmax(1) == test_y).mean())

    acc_float = accuracy(gd)
    assert acc_float > 0.93
    ranges = qz.calibrate(gd, ["logits"], [{"x": data.validation.images[:1000]}])
    for q in (qz.quantize_graph(gd, ["logits"]), qz.quantize_graph(gd, ["logits"], ranges=ranges),
              qz.quantize_weights(gd)):
        assert abs(accuracy(q) - acc_float) <= 0.01, (accuracy(q), acc_float)
