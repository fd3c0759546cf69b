"""Linear algebra that TF composes from other ops: matrix_transpose/adjoint, trace, norm, matvec, logdet,
cholesky_solve and pinv. Part of the linalg_ops family (which re-exports the TF 1.x top-level names)."""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.tensor import Tensor
from labflow.ops import math_ops as m
from labflow.ops.common import base, convert_to_tensor, dims
from labflow.ops.math_helpers import op_scope, pick

__all__ = ["matrix_transpose", "trace", "norm", "cholesky_solve"]


def matrix_transpose(a: Any, name: str = "matrix_transpose", conjugate: bool = False) -> Tensor:
    """Transposes the last two dimensions of `a` (a batch of matrices); `conjugate` also conjugates.

    Raises:
        ValueError: `a` has static rank below 2.
    """
    from labflow.ops.array_join_ops import concat
    from labflow.ops.array_ops import range as range_
    from labflow.ops.array_ops import rank
    from labflow.ops.array_reshape_ops import transpose
    with op_scope(name, "matrix_transpose", [a]):
        a = convert_to_tensor(a, name="a")
        d = dims(a)
        if d is not None:
            if len(d) < 2:
                raise ValueError(f"Argument 'a' should be a (batch) matrix, with rank >= 2. Found: {a.get_shape()}")
            perm: Any = np.array(list(range(len(d) - 2)) + [len(d) - 1, len(d) - 2], np.int32)
        else:
            r = rank(a)
            two = convert_to_tensor(2, dtype=_dt.int32)
            one = convert_to_tensor(1, dtype=_dt.int32)
            perm = concat([range_(0, m.subtract(r, two)), [m.subtract(r, one), m.subtract(r, two)]], 0)
        out = transpose(a, perm)
        return m.conj(out) if conjugate and a.dtype.is_complex else out


def adjoint(matrix: Any, name: str | None = None) -> Tensor:
    """The conjugate transpose of the last two dimensions of `matrix`."""
    with op_scope(name, "adjoint", [matrix]):
        return matrix_transpose(matrix, conjugate=True)


def trace(x: Any, name: str | None = None) -> Tensor:
    """The sum of the main diagonal of each matrix in `x` [..., M, N]; the result is [...]."""
    from labflow.ops import array_extra_ops as ax
    with op_scope(name, "Trace", [x]):
        x = convert_to_tensor(x, name="x")
        return m.reduce_sum(ax.matrix_diag_part(x), [-1])


def matvec(a: Any, b: Any, transpose_a: bool = False, adjoint_a: bool = False, a_is_sparse: bool = False,
           b_is_sparse: bool = False, name: str | None = None) -> Tensor:
    """The matrix-vector product a @ b for a [..., M, N] and b [..., N]; the result is [..., M]."""
    from labflow.ops.array_reshape_ops import expand_dims, squeeze
    with op_scope(name, "MatVec", [a, b]):
        prod = m.matmul(a, expand_dims(convert_to_tensor(b, name="b"), -1), transpose_a=transpose_a,
                        adjoint_a=adjoint_a, a_is_sparse=a_is_sparse, b_is_sparse=b_is_sparse)
        return squeeze(prod, [-1])


def logdet(matrix: Any, name: str | None = None) -> Tensor:
    """log(det(matrix)) for Hermitian positive-definite matrices, through their Cholesky factor (stable
    where the determinant itself would overflow)."""
    from labflow.ops import array_extra_ops as ax
    from labflow.ops.linalg_ops import cholesky
    with op_scope(name, "logdet", [matrix]):
        chol = cholesky(matrix)
        two = convert_to_tensor(2, dtype=base(chol))
        return m.multiply(two, m.reduce_sum(m.log(ax.matrix_diag_part(chol)), [-1]))


def cholesky_solve(chol: Any, rhs: Any, name: str | None = None) -> Tensor:
    """Solves A X = rhs given the Cholesky factor `chol` of A (A = chol @ adjoint(chol)), by two
    triangular solves.

    Args:
        chol: [..., M, M] lower-triangular factors (tf.cholesky's output).
        rhs: [..., M, K].
        name: the name scope.
    """
    from labflow.ops.linalg_ops import matrix_triangular_solve
    with op_scope(name, "cholesky_solve", [chol, rhs]):
        y = matrix_triangular_solve(chol, rhs, lower=True, adjoint=False)
        return matrix_triangular_solve(chol, y, lower=True, adjoint=True)


def pinv(a: Any, rcond: Any = None, validate_args: bool = False, name: str | None = None) -> Tensor:
    """The Moore-Penrose pseudo-inverse of each matrix [..., M, N] -> [..., N, M], through the SVD.

    Singular values at or below rcond * max(s) count as zero; rcond defaults to 10 * max(M, N) * eps (as TF).

    Raises:
        ValueError: `a` is not a float tensor, or rcond is None and the matrix dimensions are unknown.
    """
    from labflow.ops.array_ops import expand_dims, where, zeros_like
    from labflow.ops.linalg_decomp_ops import svd
    with op_scope(name, "pinv", [a, rcond]):
        a = convert_to_tensor(a, name="a")
        if not a.dtype.is_floating:
            raise ValueError(f"pinv needs a float32/float64 matrix, got {a.dtype.name}")
        if rcond is None:
            d = dims(a)
            if d is None or d[-1] is None or d[-2] is None:
                raise ValueError("pinv needs rcond when the matrix dimensions are unknown at graph construction")
            rcond = 10.0 * max(d[-1], d[-2]) * float(np.finfo(a.dtype.as_numpy_dtype).eps)
        s, u, v = svd(a, full_matrices=False, compute_uv=True)
        cutoff = m.multiply(convert_to_tensor(rcond, dtype=base(a)), m.reduce_max(s, axis=-1, keepdims=True))
        keep = m.greater(s, cutoff)
        safe = where(keep, s, m.add(zeros_like(s), convert_to_tensor(1, dtype=base(a))))
        s_inv = where(keep, m.reciprocal(safe), zeros_like(s))
        return m.matmul(m.multiply(v, expand_dims(s_inv, -2)), u, adjoint_b=True)


# -- norm -------------------------------------------------------------------------------------------
_VECTOR_ORDS = ("euclidean", 1, 2, np.inf)
_MATRIX_ORDS = ("euclidean", "fro", 1, 2, np.inf)


def _norm_axes(axis: Any) -> tuple | None:
    if axis is None:
        return None
    if isinstance(axis, (list, tuple)):
        ax = tuple(axis)
        ok = len(ax) in (1, 2) and all(isinstance(a, (int, np.integer)) for a in ax) and len(set(ax)) == len(ax)
        if not ok:
            raise ValueError(f"'axis' must be None, an integer, or a tuple of 2 unique integers, got {axis}")
        return tuple(int(a) for a in ax)
    if isinstance(axis, (int, np.integer)):
        return (int(axis),)
    raise ValueError(f"'axis' must be None, an integer, or a tuple of 2 unique integers, got {axis}")


def norm(tensor: Any, ord: Any = "euclidean", axis: Any = None, keepdims: Any = None,  # noqa: A002
         name: str | None = None, keep_dims: Any = None) -> Tensor:
    """The vector norm of `tensor` (over every entry, or along one axis), or the matrix norm over two axes.

    Args:
        tensor: a float tensor.
        ord: 'euclidean' (default), 'fro' (matrices only), 1, 2, np.inf, or any p > 0 (vectors only).
        axis: None (the whole tensor is one vector), an int (vectors along it) or a pair of ints (the
            matrices over those two dimensions).
        keepdims: keep the reduced dimensions with length 1.
        name: the name scope (default "norm").
        keep_dims: the TF 1.x spelling of `keepdims`.

    Raises:
        ValueError: an unsupported `ord` or `axis`, or both keepdims spellings.
    """
    from labflow.ops.array_reshape_ops import squeeze
    keepdims = bool(pick(keepdims, keep_dims, "keepdims", "keep_dims"))
    axes = _norm_axes(axis)
    is_matrix = axes is not None and len(axes) == 2
    if is_matrix:
        if not (isinstance(ord, str) and ord in ("euclidean", "fro")) and ord not in (1, 2, np.inf):
            raise ValueError(f"'ord' must be a supported matrix norm in ['euclidean', 'fro', 1, 2, inf], got {ord}")
    else:
        numeric = isinstance(ord, (int, float, np.number)) and not isinstance(ord, bool)
        if not ((numeric and ord > 0) or ord == "euclidean"):
            raise ValueError(f"'ord' must be a supported vector norm, got {ord}")
    with op_scope(name, "norm", [tensor]):
        x = convert_to_tensor(tensor, name="tensor")
        red: Any = list(axes) if axes is not None else None
        if (isinstance(ord, str) and ord in ("euclidean", "fro")) or (ord == 2 and not is_matrix):
            result = m.sqrt(m.reduce_sum(m.multiply(x, m.conj(x)), red, keepdims=True))
        elif is_matrix and ord == 2:
            result = _spectral_norm(x, axes)
        else:
            result = m.abs(x)
            if is_matrix and ord == 1:
                result = m.reduce_max(m.reduce_sum(result, [axes[0]], keepdims=True), [axes[1]], keepdims=True)
            elif is_matrix:
                result = m.reduce_max(m.reduce_sum(result, [axes[1]], keepdims=True), [axes[0]], keepdims=True)
            elif ord == 1:
                result = m.reduce_sum(result, red, keepdims=True)
            elif ord == np.inf:
                result = m.reduce_max(result, red, keepdims=True)
            else:
                p = convert_to_tensor(float(ord), dtype=base(x))
                result = m.pow(m.reduce_sum(m.pow(result, p), red, keepdims=True), m.reciprocal(p))
        if not keepdims:
            result = squeeze(result, red)
        return result


def _spectral_norm(x: Tensor, axes: tuple) -> Tensor:
    """The largest singular value of the matrices over `axes`, with those axes kept as 1s."""
    from labflow.ops.array_reshape_ops import expand_dims, transpose
    from labflow.ops.linalg_decomp_ops import svd
    d = dims(x)
    if d is None:
        raise ValueError("norm(ord=2) over two axes needs a tensor of known rank")
    r = len(d)
    a0, a1 = axes[0] % r, axes[1] % r
    rest = [i for i in range(r) if i not in (a0, a1)]
    moved = transpose(x, np.array(rest + [a0, a1], np.int32))
    top = m.reduce_max(svd(moved, compute_uv=False), [-1])
    for a in sorted((a0, a1)):
        top = expand_dims(top, a)
    return top
