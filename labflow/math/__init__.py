"""`tf.math`: the math ops under their TF 1.13+ namespace."""

from labflow.ops.array_ops import range, unsorted_segment_sum  # noqa: F401
from labflow.ops.math_ops import *  # noqa: F401,F403
