"""`tf.debugging`: the assertions and numeric checks under their TF 1.13+ names."""

from labflow.ops.check_ops import (
    assert_equal,
    assert_greater,
    assert_greater_equal,
    assert_integer,
    assert_less,
    assert_less_equal,
    assert_near,
    assert_negative,
    assert_non_negative,
    assert_non_positive,
    assert_none_equal,
    assert_positive,
    assert_proper_iterable,
    assert_rank,
    assert_rank_at_least,
    assert_rank_in,
    assert_same_float_dtype,
    assert_scalar,
    assert_type,
    check_numerics,
    is_numeric_tensor,
)
from labflow.ops.check_ops import verify_tensor_all_finite as assert_all_finite
from labflow.ops.compare_ops import is_finite, is_inf, is_nan
from labflow.ops.logging_ops import Assert
from labflow.ops.math_extra_ops import is_non_decreasing, is_strictly_increasing

__all__ = [
    "Assert", "assert_equal", "assert_greater", "assert_greater_equal", "assert_integer", "assert_less",
    "assert_less_equal", "assert_near", "assert_negative", "assert_non_negative", "assert_non_positive",
    "assert_none_equal", "assert_positive", "assert_proper_iterable", "assert_rank", "assert_rank_at_least",
    "assert_rank_in", "assert_same_float_dtype", "assert_scalar", "assert_type", "check_numerics",
    "is_numeric_tensor", "assert_all_finite", "is_finite", "is_inf", "is_nan", "is_non_decreasing",
    "is_strictly_increasing",
]
