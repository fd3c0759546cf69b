"""`tf.contrib.rnn`: TF 1.x's home of the RNN cells (the same classes as `tf.nn.rnn_cell`)."""

from labflow.nn.bidirectional import bidirectional_dynamic_rnn, static_bidirectional_rnn  # noqa: F401
from labflow.nn.rnn import dynamic_rnn, static_rnn  # noqa: F401
from labflow.nn.rnn_cell_impl import *  # noqa: F401,F403
