"""TF 1.x's `mnist.py` from "TensorFlow Mechanics 101": the fully connected MNIST model in four functions.

Build a graph in four steps, as the tutorial does (`fully_connected_feed.py` drives them):

1. `inference()`: as much of the graph as is needed to make predictions (logits);
2. `loss()`: adds the op computing the loss;
3. `training()`: adds the ops that compute and apply gradients (and a loss summary);
4. `evaluation()`: adds the op counting correct predictions.

    import labflow as tf
    from labflow.examples.tutorials.mnist import mnist

    images = tf.placeholder(tf.float32, shape=(100, mnist.IMAGE_PIXELS))
    labels = tf.placeholder(tf.int32, shape=(100,))
    logits = mnist.inference(images, 128, 32)
    loss = mnist.loss(logits, labels)
    train_op = mnist.training(loss, 0.01)
    eval_correct = mnist.evaluation(logits, labels)

Also importable under TF's path, `labflow.examples.tutorials.mnist.mnist`.
"""

from __future__ import annotations

import math
from typing import Any

import labflow as tf

__all__ = ["NUM_CLASSES", "IMAGE_SIZE", "IMAGE_PIXELS", "inference", "loss", "training", "evaluation"]

# The MNIST dataset has 10 classes, representing the digits 0 through 9.
NUM_CLASSES = 10

# The MNIST images are always 28x28 pixels.
IMAGE_SIZE = 28
IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE


def inference(images: Any, hidden1_units: int, hidden2_units: int) -> Any:
    """Builds the MNIST model up to where it may be used for inference.

    Args:
        images: images placeholder, float32 [batch_size, IMAGE_PIXELS].
        hidden1_units: size of the first hidden layer.
        hidden2_units: size of the second hidden layer.

    Returns:
        softmax_linear: output tensor with the computed logits, [batch_size, NUM_CLASSES].
    """
    # Hidden 1
    with tf.name_scope("hidden1"):
        weights = tf.Variable(
            tf.truncated_normal([IMAGE_PIXELS, hidden1_units], stddev=1.0 / math.sqrt(float(IMAGE_PIXELS))),
            name="weights")
        biases = tf.Variable(tf.zeros([hidden1_units]), name="biases")
        hidden1 = tf.nn.relu(tf.matmul(images, weights) + biases)
    # Hidden 2
    with tf.name_scope("hidden2"):
        weights = tf.Variable(
            tf.truncated_normal([hidden1_units, hidden2_units], stddev=1.0 / math.sqrt(float(hidden1_units))),
            name="weights")
        biases = tf.Variable(tf.zeros([hidden2_units]), name="biases")
        hidden2 = tf.nn.relu(tf.matmul(hidden1, weights) + biases)
    # Linear
    with tf.name_scope("softmax_linear"):
        weights = tf.Variable(
            tf.truncated_normal([hidden2_units, NUM_CLASSES], stddev=1.0 / math.sqrt(float(hidden2_units))),
            name="weights")
        biases = tf.Variable(tf.zeros([NUM_CLASSES]), name="biases")
        logits = tf.matmul(hidden2, weights) + biases
    return logits


def loss(logits: Any, labels: Any) -> Any:
    """Calculates the loss from the logits and the labels.

    Args:
        logits: logits tensor, float [batch_size, NUM_CLASSES].
        labels: labels tensor, int32 [batch_size].

    Returns:
        loss: the mean cross-entropy of the batch, a float scalar.
    """
    labels = tf.to_int64(labels)
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits, name="xentropy")
    return tf.reduce_mean(cross_entropy, name="xentropy_mean")


def training(loss: Any, learning_rate: float) -> Any:
    """Sets up the training ops.

    Creates a summarizer to track the loss over time in TensorBoard, a gradient-descent optimizer,
    and a `global_step` counter that the training op increments. The returned op is what
    `sess.run()` must be called with to train the model.

    Args:
        loss: loss tensor, from `loss()`.
        learning_rate: the learning rate to use for gradient descent.

    Returns:
        train_op: the op for training.
    """
    # Add a scalar summary for the snapshot loss.
    tf.summary.scalar("loss", loss)
    # Create the gradient descent optimizer with the given learning rate.
    optimizer = tf.train.GradientDescentOptimizer(learning_rate)
    # Create a variable to track the global step.
    global_step = tf.Variable(0, name="global_step", trainable=False)
    # Use the optimizer to apply the gradients that minimize the loss (and also increment the global
    # step counter) as a single training step.
    train_op = optimizer.minimize(loss, global_step=global_step)
    return train_op


def evaluation(logits: Any, labels: Any) -> Any:
    """Evaluates the quality of the logits at predicting the label.

    Args:
        logits: logits tensor, float [batch_size, NUM_CLASSES].
        labels: labels tensor, int32 [batch_size], with values in [0, NUM_CLASSES).

    Returns:
        A scalar int32 tensor with the number of examples (out of batch_size) that were predicted
        correctly.
    """
    # For a classifier model, we can use the in_top_k op. It returns a bool tensor with shape
    # [batch_size] that is true for the examples where the label is in the top k (here k=1) of all
    # logits for that example.
    correct = tf.nn.in_top_k(logits, labels, 1)
    # Return the number of true entries.
    return tf.reduce_sum(tf.cast(correct, tf.int32))
