"""`tf.contrib.legacy_seq2seq`: the list-of-steps losses of the pre-1.0 tutorials."""

from labflow.nn.sequence_loss import legacy_sequence_loss as sequence_loss  # noqa: F401
from labflow.nn.sequence_loss import sequence_loss_by_example  # noqa: F401

__all__ = ["sequence_loss", "sequence_loss_by_example"]
