"""`tf.manip`: TF 1.x's namespace for a few array ops (the same functions as at the top level)."""

from labflow.ops.array_nd_ops import gather_nd, scatter_nd
from labflow.ops.array_ops import reshape
from labflow.ops.array_reshape_ops import reverse, tile
from labflow.ops.array_seq_ops import roll
from labflow.ops.array_space_ops import batch_to_space_nd, space_to_batch_nd

__all__ = ["batch_to_space_nd", "gather_nd", "reshape", "reverse", "roll", "scatter_nd", "space_to_batch_nd", "tile"]
