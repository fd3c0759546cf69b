"""`tf.contrib.seq2seq`: sequence_loss (the PTB tutorial's loss)."""

from labflow.nn.sequence_loss import sequence_loss  # noqa: F401

__all__ = ["sequence_loss"]
