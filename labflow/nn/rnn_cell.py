"""`tf.nn.rnn_cell`: the recurrent cells and wrappers (defined in rnn_cell_impl)."""

from labflow.nn.rnn_cell_impl import *  # noqa: F401,F403
from labflow.nn.rnn_cell_impl import __all__  # noqa: F401
