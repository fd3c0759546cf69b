"""`labflow demo`: trains the Deep MNIST CNN within its budget, prints accuracy, saves a checkpoint and a GraphDef;
offline without MNIST it says where to put the files and exits non-zero without a traceback. Also the example
modules behind it: labflow.examples.deep_mnist and the Mechanics 101 `mnist.py`."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import urllib.error

import numpy as np
import pytest

import labflow as tf
from labflow.datasets import _download, mnist
from labflow.examples import deep_mnist, demo
from labflow.tools import cli


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(extra)
    return env


def test_demo_trains_and_saves_checkpoint_and_graphdef(tmp_path, mnist_dir):
    logdir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "labflow", "demo", "--steps", "3", "--log-every", "1", "--logdir", str(logdir),
         "--test-examples", "200"],
        cwd=tmp_path, env=_env(LABFLOW_DATA=os.path.dirname(mnist_dir), HOME=str(tmp_path / "home")),
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "step 0, training accuracy" in out and "step 2, training accuracy" in out, out
    assert "trained 3 steps" in out and "stopped by steps" in out, out
    assert "test accuracy: " in out and "on 200 test images" in out, out
    for name in ("checkpoint", "model.ckpt-3.index", "model.ckpt-3.data-00000-of-00001", "model.ckpt-3.meta",
                 "graph.pbtxt"):
        assert (logdir / name).is_file(), (name, sorted(os.listdir(logdir)))
    assert f"checkpoint: {logdir / 'model.ckpt-3'}" in out
    assert not (tmp_path / "home" / ".cache").exists(), "the demo must read LABFLOW_DATA, not download"

    # The GraphDef is the tutorial's CNN.
    from labflow.framework.graph_io import read_graph_def
    ops = {n.op for n in read_graph_def(str(logdir / "graph.pbtxt")).node}
    assert {"Conv2D", "MaxPool", "MatMul", "Relu"} <= ops, ops

    # The checkpoint restores into a freshly built model: the step count and the weights come back.
    model = deep_mnist.build_model()
    saver = tf.train.Saver()
    with tf.Session() as sess:
        saver.restore(sess, tf.train.latest_checkpoint(str(logdir)))
        assert sess.run(model.global_step) == 3

    # --resume continues from that checkpoint; a tiny --minutes budget stops after the first step.
    buf = io.StringIO()
    tf.reset_default_graph()
    rc = demo.main(minutes=1e-6, steps=1000, logdir=str(logdir), resume=True, test_examples=100, log_every=1,
                   out=buf)
    text = buf.getvalue()
    assert rc == 0, text
    assert f"resumed from {logdir / 'model.ckpt-3'} (step 3)" in text, text
    assert "step 3, training accuracy" in text, text  # numbered from the restored global step
    assert "trained 1 steps" in text and "stopped by time" in text and "global step 4" in text, text
    assert (logdir / "model.ckpt-4.index").is_file()


def _tiny_datasets(n: int = 64) -> mnist.Datasets:
    rs = np.random.RandomState(0)
    images = rs.randint(0, 256, (n, 28, 28, 1)).astype(np.uint8)
    labels = mnist.dense_to_one_hot(rs.randint(0, 10, n), 10)
    sets = [mnist.DataSet(images, labels, seed=0) for _ in range(3)]
    return mnist.Datasets(*sets)


def test_train_stops_at_step_and_time_limits():
    fake = _tiny_datasets()
    model = deep_mnist.build_model()
    seen = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        r = deep_mnist.train(sess, model, fake, max_steps=2, log=None, evaluate_test=False,
                             on_step=lambda step, loss: seen.append(step))
        assert (r.steps, r.stopped_by, seen, len(r.losses)) == (2, "steps", [1, 2], 2)
        r = deep_mnist.train(sess, model, fake, max_steps=100, max_seconds=0.0, log=None, evaluate_test=False)
        assert (r.steps, r.stopped_by) == (1, "time")  # always at least one step
        assert sess.run(model.global_step) == 3
        assert 0.0 <= deep_mnist.evaluate(sess, model, fake.test, batch_size=10, limit=25) <= 1.0
        lines = []
        deep_mnist.train(sess, model, fake, max_steps=2, log_every=0, log_seconds=0.0, log=lines.append,
                         evaluate_test=False, first_step=7)
        assert [line.split(",")[0] for line in lines[:2]] == ["step 7", "step 8"], lines
    with pytest.raises(ValueError, match="max_steps"):
        deep_mnist.train(None, model, fake, max_steps=0)


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty $LABFLOW_DATA, an empty HOME, the cwd in tmp_path, and every download failing."""
    data = tmp_path / "data"
    data.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("LABFLOW_DATA", str(data))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)

    def no_network(url, timeout):
        raise urllib.error.URLError("network is unreachable (test)")
    monkeypatch.setattr(_download, "_urlopen", no_network)
    return tmp_path


def test_demo_offline_without_data_says_where_to_put_the_files(offline, capsys):
    rc = cli.main(["demo", "--logdir", str(offline / "out")])
    out, err = capsys.readouterr()
    assert rc == demo.EXIT_NO_DATA != 0
    for name in mnist.FILES:
        assert name in err, err
    assert str(offline / "data" / "mnist") in err, err  # $LABFLOW_DATA/mnist
    assert os.path.join(str(offline / "home"), ".cache", "labflow", "mnist") in err, err
    assert "network is unreachable (test)" in err and "Traceback" not in out + err
    assert not (offline / "out").exists()


def test_demo_offline_in_a_subprocess_has_no_traceback(tmp_path):
    (tmp_path / "data").mkdir()
    # Every download goes through a proxy that refuses connections: offline, without waiting on DNS.
    env = _env(LABFLOW_DATA=str(tmp_path / "data"), HOME=str(tmp_path / "home"),
               http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    proc = subprocess.run([sys.executable, "-m", "labflow", "demo", "--logdir", str(tmp_path / "out")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == demo.EXIT_NO_DATA, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "t10k-labels-idx1-ubyte" in proc.stderr and str(tmp_path / "data" / "mnist") in proc.stderr


def test_mechanics_mnist_module_is_tfs():
    from labflow.examples.tutorials.mnist import mnist as mnist_py
    images = tf.placeholder(tf.float32, shape=(100, mnist_py.IMAGE_PIXELS))
    labels = tf.placeholder(tf.int32, shape=(100,))
    logits = mnist_py.inference(images, 128, 32)
    loss = mnist_py.loss(logits, labels)
    train_op = mnist_py.training(loss, 0.01)
    eval_correct = mnist_py.evaluation(logits, labels)
    assert logits.get_shape().as_list() == [100, 10]
    assert loss.op.name == "xentropy_mean" and eval_correct.dtype == tf.int32
    assert [v.op.name for v in tf.global_variables()] == [
        "hidden1/weights", "hidden1/biases", "hidden2/weights", "hidden2/biases", "softmax_linear/weights",
        "softmax_linear/biases", "global_step"]
    assert len(tf.get_collection(tf.GraphKeys.SUMMARIES)) == 1  # training() adds the "loss" scalar
    rs = np.random.RandomState(0)
    feed = {images: rs.rand(100, 784).astype(np.float32), labels: rs.randint(0, 10, 100).astype(np.int32)}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = sess.run(loss, feed)
        for _ in range(5):
            sess.run(train_op, feed)
        assert sess.run(loss, feed) < before
        assert 0 <= sess.run(eval_correct, feed) <= 100
        assert sess.run(tf.train.get_global_step()) == 5
