"""`tf.queue` (TF 1.13+): the queue classes under their namespace (the same classes as tf.FIFOQueue, ...)."""

from labflow.ops.data_flow_ops import (  # noqa: F401
    FIFOQueue,
    PaddingFIFOQueue,
    PriorityQueue,
    QueueBase,
    RandomShuffleQueue,
)

__all__ = ["FIFOQueue", "PaddingFIFOQueue", "PriorityQueue", "QueueBase", "RandomShuffleQueue"]
