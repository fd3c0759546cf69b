"""TF 1.x's "Deep MNIST for Experts" CNN (`mnist_deep.py`) and a training loop bounded in steps and time.

The model is the tutorial's, layer for layer: two 5x5 SAME convolutions (32 then 64 filters), each
followed by ReLU and 2x2 max pooling, a 1024-unit fully connected layer with dropout, and a 10-way
readout, trained with Adam at 1e-4 on batches of 50 with keep_prob 0.5. TF reached ~99.2% test
accuracy after 20000 steps.

    import labflow as tf
    from labflow.examples import deep_mnist
    from labflow.examples.tutorials.mnist import input_data

    mnist = input_data.read_data_sets("MNIST_data", one_hot=True)
    model = deep_mnist.build_model()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        result = deep_mnist.train(sess, model, mnist, max_steps=20000)
    print(result.test_accuracy)

`labflow demo` (labflow/examples/demo.py) and benchmarks/deep_mnist_full.py both use this module;
notebooks/02_deep_mnist.ipynb spells the same model out cell by cell.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import labflow as tf

__all__ = [
    "weight_variable",
    "bias_variable",
    "conv2d",
    "max_pool_2x2",
    "deepnn",
    "Model",
    "build_model",
    "evaluate",
    "TrainResult",
    "train",
    "smoothed",
]


# -- the tutorial's helpers, as written --------------------------------------------------------------
def weight_variable(shape: list[int]) -> Any:
    """A weight Variable initialised from a truncated normal with stddev 0.1 (breaks symmetry)."""
    initial = tf.truncated_normal(shape, stddev=0.1)
    return tf.Variable(initial)


def bias_variable(shape: list[int]) -> Any:
    """A bias Variable initialised to 0.1 (slightly positive, so ReLUs start alive)."""
    initial = tf.constant(0.1, shape=shape)
    return tf.Variable(initial)


def conv2d(x: Any, W: Any) -> Any:
    """A stride-1, zero-padded ("SAME") convolution: the output has the input's height and width."""
    return tf.nn.conv2d(x, W, strides=[1, 1, 1, 1], padding="SAME")


def max_pool_2x2(x: Any) -> Any:
    """Max pooling over 2x2 blocks: halves height and width."""
    return tf.nn.max_pool(x, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")


def deepnn(x: Any) -> tuple[Any, Any]:
    """Builds the tutorial's CNN on flattened images.

    Args:
        x: float32 [N, 784], MNIST images flattened.

    Returns:
        (y_conv, keep_prob): the logits [N, 10], and the dropout keep-probability placeholder (feed
        0.5 while training and 1.0 when evaluating).
    """
    with tf.name_scope("reshape"):
        x_image = tf.reshape(x, [-1, 28, 28, 1])
    with tf.name_scope("conv1"):
        W_conv1 = weight_variable([5, 5, 1, 32])
        b_conv1 = bias_variable([32])
        h_conv1 = tf.nn.relu(conv2d(x_image, W_conv1) + b_conv1)
    with tf.name_scope("pool1"):
        h_pool1 = max_pool_2x2(h_conv1)
    with tf.name_scope("conv2"):
        W_conv2 = weight_variable([5, 5, 32, 64])
        b_conv2 = bias_variable([64])
        h_conv2 = tf.nn.relu(conv2d(h_pool1, W_conv2) + b_conv2)
    with tf.name_scope("pool2"):
        h_pool2 = max_pool_2x2(h_conv2)
    with tf.name_scope("fc1"):
        W_fc1 = weight_variable([7 * 7 * 64, 1024])
        b_fc1 = bias_variable([1024])
        h_pool2_flat = tf.reshape(h_pool2, [-1, 7 * 7 * 64])
        h_fc1 = tf.nn.relu(tf.matmul(h_pool2_flat, W_fc1) + b_fc1)
    with tf.name_scope("dropout"):
        keep_prob = tf.placeholder(tf.float32, name="keep_prob")
        h_fc1_drop = tf.nn.dropout(h_fc1, keep_prob)
    with tf.name_scope("fc2"):
        W_fc2 = weight_variable([1024, 10])
        b_fc2 = bias_variable([10])
        y_conv = tf.matmul(h_fc1_drop, W_fc2) + b_fc2
    return y_conv, keep_prob


# -- the whole training graph --------------------------------------------------------------------------
@dataclasses.dataclass
class Model:
    """The tensors and ops of the Deep MNIST training graph (see `build_model`)."""

    x: Any
    y_: Any
    keep_prob: Any
    logits: Any
    cross_entropy: Any
    train_step: Any
    accuracy: Any
    correct_count: Any
    global_step: Any


def build_model(learning_rate: float = 1e-4) -> Model:
    """Builds the tutorial's graph in the default graph: placeholders, CNN, loss, Adam, accuracy.

    Labels are one-hot float32 [N, 10] (read the data with `one_hot=True`), as in the tutorial text.

    Args:
        learning_rate: Adam's step size (the tutorial's 1e-4).

    Returns:
        A `Model` holding the placeholders (`x`, `y_`, `keep_prob`), `logits`, the mean
        `cross_entropy`, `train_step` (which also increments `global_step`), `accuracy` (mean over
        the fed batch) and `correct_count` (how many of the fed examples are right, for batched
        evaluation).
    """
    x = tf.placeholder(tf.float32, [None, 784], name="x")
    y_ = tf.placeholder(tf.float32, [None, 10], name="y_")
    y_conv, keep_prob = deepnn(x)
    with tf.name_scope("loss"):
        cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y_, logits=y_conv))
    global_step = tf.train.get_or_create_global_step()
    with tf.name_scope("adam_optimizer"):
        train_step = tf.train.AdamOptimizer(learning_rate).minimize(cross_entropy, global_step=global_step)
    with tf.name_scope("accuracy"):
        correct_prediction = tf.cast(tf.equal(tf.argmax(y_conv, 1), tf.argmax(y_, 1)), tf.float32)
        accuracy = tf.reduce_mean(correct_prediction, name="accuracy")
        correct_count = tf.reduce_sum(correct_prediction, name="correct_count")
    return Model(x=x, y_=y_, keep_prob=keep_prob, logits=y_conv, cross_entropy=cross_entropy,
                 train_step=train_step, accuracy=accuracy, correct_count=correct_count, global_step=global_step)


def evaluate(sess: Any, model: Model, dataset: Any, batch_size: int = 1000, limit: int | None = None) -> float:
    """Accuracy of the model on a `DataSet` (e.g. `mnist.test`), with dropout off.

    The tutorial fed all 10000 test images at once; feeding them in batches gives the same number
    with a bounded peak memory (the lowered convolution input of 10000 images is gigabytes).

    Args:
        sess: a Session holding the model's variables.
        model: from `build_model`.
        dataset: has `.images` [N, 784] and one-hot `.labels` [N, 10].
        batch_size: images per `sess.run`.
        limit: evaluate only the first `limit` examples (None: all).

    Returns:
        The fraction of examples classified correctly.
    """
    images, labels = dataset.images, dataset.labels
    n = len(images) if limit is None else min(int(limit), len(images))
    if n == 0:
        raise ValueError("evaluate: the dataset is empty")
    correct = 0.0
    for start in range(0, n, batch_size):
        end = min(start + batch_size, n)
        correct += float(sess.run(model.correct_count, {model.x: images[start:end], model.y_: labels[start:end],
                                                        model.keep_prob: 1.0}))
    return correct / n


# -- training bounded in steps and in time -------------------------------------------------------------
@dataclasses.dataclass
class TrainResult:
    """What `train` did.

    Attributes:
        steps: training steps run in this call.
        seconds: wall time spent in the training steps (evaluation excluded).
        stopped_by: "steps" when max_steps was reached, "time" when max_seconds ran out.
        losses: the training loss of every step, in order.
        train_accuracies: (step, accuracy on that step's batch with dropout off), every `log_every` steps
            (the tutorial's "training accuracy" lines).
        test_accuracy: accuracy on `mnist.test` after training (None when `evaluate_test=False`).
    """

    steps: int
    seconds: float
    stopped_by: str
    losses: list[float]
    train_accuracies: list[tuple[int, float]]
    test_accuracy: float | None = None

    @property
    def ms_per_step(self) -> float:
        return 1e3 * self.seconds / max(self.steps, 1)


def train(sess: Any, model: Model, mnist: Any, *, max_steps: int = 20000, max_seconds: float | None = None,
          batch_size: int = 50, keep_prob: float = 0.5, log_every: int = 100,
          log: Callable[[str], None] | None = print, on_step: Callable[[int, float], None] | None = None,
          evaluate_test: bool = True, eval_batch_size: int = 1000, first_step: int = 0,
          log_seconds: float | None = None) -> TrainResult:
    """Runs the tutorial's loop: `next_batch(50)`, one Adam step with keep_prob 0.5, a log line every 100.

    Stops after `max_steps` steps or once `max_seconds` of training have passed, whichever comes
    first (at least one step always runs), then measures test accuracy.

    Args:
        sess: a Session with the model's variables initialised (or restored).
        model: from `build_model`.
        mnist: `read_data_sets(..., one_hot=True)`.
        max_steps: the most steps to run (the tutorial ran 20000).
        max_seconds: a wall-time budget for the training steps (None: no limit).
        batch_size: examples per step.
        keep_prob: dropout keep-probability while training.
        log_every: print the training-batch accuracy every this many steps (0: never).
        log: where log lines go (None: nowhere).
        on_step: called as `on_step(step, loss)` after every step (e.g. to advance a progress bar).
        evaluate_test: measure accuracy on `mnist.test` at the end.
        eval_batch_size: images per `sess.run` while evaluating.
        first_step: the step number of the first step, for log lines and `on_step` (e.g. the global
            step of a restored checkpoint).
        log_seconds: also log a line when this many seconds have passed since the last one (None:
            only every `log_every` steps), so slow machines still show progress.

    Returns:
        A `TrainResult`.
    """
    if max_steps < 1:
        raise ValueError(f"train: max_steps must be >= 1, got {max_steps}")
    losses: list[float] = []
    train_accuracies: list[tuple[int, float]] = []
    fetches = [model.train_step, model.cross_entropy]
    stopped_by = "steps"
    t0 = time.perf_counter()
    deadline = None if max_seconds is None else t0 + float(max_seconds)
    last_log = t0
    for i in range(max_steps):
        now = time.perf_counter()
        if deadline is not None and i > 0 and now >= deadline:
            stopped_by = "time"
            break
        batch_x, batch_y = mnist.train.next_batch(batch_size)
        step = first_step + i
        due = log_seconds is not None and log is not None and now - last_log >= log_seconds
        if (log_every and step % log_every == 0) or due:
            acc = float(sess.run(model.accuracy, {model.x: batch_x, model.y_: batch_y, model.keep_prob: 1.0}))
            train_accuracies.append((step, acc))
            if log is not None:
                last_log = time.perf_counter()
                log(f"step {step}, training accuracy {acc:g}  ({last_log - t0:.1f} s)")
        _, loss = sess.run(fetches, {model.x: batch_x, model.y_: batch_y, model.keep_prob: keep_prob})
        losses.append(float(loss))
        if on_step is not None:
            on_step(step + 1, float(loss))
    seconds = time.perf_counter() - t0
    result = TrainResult(steps=len(losses), seconds=seconds, stopped_by=stopped_by, losses=losses,
                         train_accuracies=train_accuracies)
    if evaluate_test:
        result.test_accuracy = evaluate(sess, model, mnist.test, batch_size=eval_batch_size)
    if log is not None:
        line = (f"trained {result.steps} steps in {seconds:.1f} s ({result.ms_per_step:.1f} ms/step, "
                f"stopped by {stopped_by})")
        if result.test_accuracy is not None:
            line += f"; test accuracy {result.test_accuracy:g}"
        log(line)
    return result


def smoothed(values: list[float], window: int = 50) -> np.ndarray:
    """A trailing moving average of `values` (for plotting a noisy per-step loss)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return v
    window = max(1, min(int(window), len(v)))
    c = np.cumsum(np.insert(v, 0, 0.0))
    out = np.empty_like(v)
    out[window - 1:] = (c[window:] - c[:-window]) / window
    out[:window - 1] = c[1:window] / np.arange(1, window)
    return out
