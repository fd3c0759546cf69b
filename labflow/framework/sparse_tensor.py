"""`tf.SparseTensor` (TF 1.x): a tensor given by the coordinates and values of its non-default entries.

Three dense tensors: `indices` [N, rank] int64, `values` [N], `dense_shape` [rank] int64. A session
fetches it as a `tf.SparseTensorValue` and feeds a `tf.sparse_placeholder` from one (or any
(indices, values, dense_shape) triple), as TF does.
"""

from __future__ import annotations

import collections
from typing import Any

from labflow import dtypes as _dt
from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Tensor

__all__ = ["SparseTensor", "SparseTensorValue"]

SparseTensorValue = collections.namedtuple("SparseTensorValue", ["indices", "values", "dense_shape"])


class SparseTensor:
    """Represents a sparse tensor (TF 1.x `tf.SparseTensor`).

    Args:
        indices: [N, rank] int64 coordinates of the entries (in row-major order, as TF expects).
        values: [N] the entries' values.
        dense_shape: [rank] int64, the dense tensor's shape.
    """

    def __init__(self, indices: Any, values: Any, dense_shape: Any):
        from labflow.framework.convert import convert_to_tensor
        self._indices = convert_to_tensor(indices, dtype=_dt.int64, name="indices")
        self._values = convert_to_tensor(values, name="values")
        self._dense_shape = convert_to_tensor(dense_shape, dtype=_dt.int64, name="dense_shape")
        d = self._indices._shape_dims
        if d is not None and len(d) != 2:
            raise ValueError(f"SparseTensor indices must be a matrix [N, rank], got shape {TensorShape(d)}")
        v = self._values._shape_dims
        if v is not None and len(v) != 1:
            raise ValueError(f"SparseTensor values must be a vector [N], got shape {TensorShape(v)}")

    @classmethod
    def from_value(cls, value: Any) -> SparseTensor:
        return value if isinstance(value, SparseTensor) else cls(*value)

    indices = property(lambda self: self._indices)
    values = property(lambda self: self._values)
    dense_shape = property(lambda self: self._dense_shape)

    @property
    def dtype(self) -> _dt.DType:
        return self._values.dtype.base_dtype

    @property
    def graph(self) -> Any:
        return self._values.graph

    @property
    def op(self) -> Any:
        return self._values.op

    def get_shape(self) -> TensorShape:
        """The dense shape where it is known statically (a constant dense_shape), else its rank if known."""
        from labflow.framework.constant_value import constant_value
        v = constant_value(self._dense_shape)
        if v is not None:
            return TensorShape([int(x) for x in v])
        d = self._dense_shape._shape_dims
        return TensorShape(None if d is None or d[0] is None else [None] * d[0])

    shape = property(get_shape)

    def eval(self, feed_dict: dict | None = None, session: Any = None) -> SparseTensorValue:
        from labflow.runtime.session import _session_for
        return _session_for(self.graph, session, "SparseTensor").run(self, feed_dict)

    # TF 1.x overloads only these three for a SparseTensor and a dense operand (SparseDenseCwiseMul/Div).
    def __mul__(self, other: Any) -> SparseTensor:
        from labflow.ops.sparse_math_ops import sparse_dense_cwise_mul
        return sparse_dense_cwise_mul(self, other)

    def __truediv__(self, other: Any) -> SparseTensor:
        from labflow.ops.sparse_math_ops import sparse_dense_cwise_div
        return sparse_dense_cwise_div(self, other)

    __div__ = __truediv__

    def _components(self) -> list[Tensor]:
        return [self._indices, self._values, self._dense_shape]

    def __repr__(self) -> str:
        return (f"SparseTensor(indices={self._indices!r}, values={self._values!r}, "
                f"dense_shape={self._dense_shape!r})")
