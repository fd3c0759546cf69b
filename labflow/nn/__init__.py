"""`tf.nn`: neural-net ops (activations, softmax, cross-entropies)."""

from labflow.ops.nn_ops import *  # noqa: F401,F403
