"""`tf.sparse` (TF 1.x's later namespace for the sparse ops)."""

from labflow.framework.sparse_tensor import SparseTensor  # noqa: F401
from labflow.ops.sparse_ops import sparse_placeholder as placeholder  # noqa: F401
from labflow.ops.sparse_ops import sparse_reduce_sum as reduce_sum  # noqa: F401
from labflow.ops.sparse_ops import sparse_tensor_dense_matmul as sparse_dense_matmul  # noqa: F401
from labflow.ops.sparse_ops import sparse_tensor_to_dense as to_dense  # noqa: F401
from labflow.ops.sparse_segment_ops import sparse_segment_mean as segment_mean  # noqa: F401
from labflow.ops.sparse_segment_ops import sparse_segment_sqrt_n as segment_sqrt_n  # noqa: F401
from labflow.ops.sparse_segment_ops import sparse_segment_sum as segment_sum  # noqa: F401
