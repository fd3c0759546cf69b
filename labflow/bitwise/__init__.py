"""`tf.bitwise`: bitwise integer ops (and, or, xor, invert, shifts with TF's clamping of the shift)."""

from labflow.ops.bitwise_ops import bitwise_and, bitwise_or, bitwise_xor, invert, left_shift, right_shift

__all__ = ["bitwise_and", "bitwise_or", "bitwise_xor", "invert", "left_shift", "right_shift"]
