"""TF 1.x's top-level sparse functions beyond the core sparse_ops (tf.sparse_add, tf.sparse_concat, ...): this
module gathers the sparse_* modules that declare them and exports exactly TF's names."""

from __future__ import annotations

from labflow.ops import sparse_cross_ops  # noqa: F401 - registers SparseCross (tf.sparse.cross only)
from labflow.ops.sparse_math_ops import (
                                         sparse_add,
                                         sparse_maximum,
                                         sparse_minimum,
                                         sparse_reduce_max,
                                         sparse_reduce_max_sparse,
                                         sparse_reduce_sum_sparse,
                                         sparse_softmax,
)
from labflow.ops.sparse_matmul_ops import sparse_matmul
from labflow.ops.sparse_serialize_ops import (
                                         deserialize_many_sparse,
                                         edit_distance,
                                         serialize_many_sparse,
                                         serialize_sparse,
)
from labflow.ops.sparse_shape_ops import (
                                         sparse_concat,
                                         sparse_fill_empty_rows,
                                         sparse_reorder,
                                         sparse_reshape,
                                         sparse_slice,
                                         sparse_split,
)
from labflow.ops.sparse_transform_ops import (
                                         sparse_mask,
                                         sparse_merge,
                                         sparse_reset_shape,
                                         sparse_retain,
                                         sparse_to_indicator,
                                         sparse_transpose,
)

__all__ = ["sparse_add", "sparse_concat", "sparse_reshape", "sparse_slice", "sparse_retain", "sparse_reorder",
           "sparse_fill_empty_rows", "sparse_softmax", "sparse_maximum", "sparse_minimum", "sparse_reduce_max",
           "sparse_reduce_max_sparse", "sparse_reduce_sum_sparse", "sparse_transpose", "sparse_split",
           "sparse_to_indicator", "sparse_merge", "sparse_reset_shape", "sparse_mask", "serialize_sparse",
           "serialize_many_sparse", "deserialize_many_sparse", "edit_distance", "sparse_matmul"]
