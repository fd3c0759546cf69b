"""`tensorflow.examples.tutorials.mnist`: the MNIST tutorial input reader."""

from labflow.examples.tutorials.mnist import input_data

__all__ = ["input_data"]
