"""`tensorflow.examples.tutorials.mnist.mnist`: the Mechanics 101 model (inference, loss, training, evaluation).

Everything here is `labflow.examples.mnist_mechanics`.
"""

from labflow.examples.mnist_mechanics import (
    IMAGE_PIXELS,
    IMAGE_SIZE,
    NUM_CLASSES,
    evaluation,
    inference,
    loss,
    training,
)

__all__ = ["NUM_CLASSES", "IMAGE_SIZE", "IMAGE_PIXELS", "inference", "loss", "training", "evaluation"]
