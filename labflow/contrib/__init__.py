"""`tf.contrib`: the TF 1.x contrib names the tutorials use, pointing at labflow's implementations.

Only what labflow implements is here (`tf.contrib.rnn`, `tf.contrib.seq2seq.sequence_loss`,
`tf.contrib.legacy_seq2seq`, `tf.contrib.lookup`); any other contrib name raises AttributeError.
"""

from labflow.contrib import legacy_seq2seq, lookup, rnn, seq2seq

__all__ = ["rnn", "seq2seq", "legacy_seq2seq", "lookup"]
