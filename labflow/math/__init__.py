"""`tf.math`: the math ops under their TF 1.13+ namespace."""
# ruff: noqa: F401, F403 - a namespace of re-exports

from labflow.nn.impl import l2_normalize, zero_fraction
from labflow.ops import special_math_ops as _special
from labflow.ops.activation_extra import softsign
from labflow.ops.array_ops import invert_permutation, range, unsorted_segment_sum
from labflow.ops.array_sort_ops import bincount, confusion_matrix
from labflow.ops.bitwise_ops import population_count as popcount
from labflow.ops.complex_ops import angle, imag, real
from labflow.ops.math_ops import *
from labflow.ops.nn_extra_ops import in_top_k, softplus, top_k
from labflow.ops.nn_ops import log_softmax, softmax
from labflow.ops.segment_ops import (
    segment_max,
    segment_mean,
    segment_min,
    segment_prod,
    segment_sum,
    unsorted_segment_max,
    unsorted_segment_mean,
    unsorted_segment_min,
    unsorted_segment_prod,
    unsorted_segment_sqrt_n,
)

# TF's tf.math has the special functions except the TF 1.x-only spellings of truncating/floor division
globals().update({n: getattr(_special, n) for n in _special.__all__ + _special.MATH_ONLY
                  if n not in ("truncatediv", "truncatemod", "floor_div")})

