"""Linear algebra ops on (batches of) matrices: inverse, determinant, slogdet, Cholesky, solves, least squares,
QR, SVD and the self-adjoint eigen-decomposition, each with TF's gradient. The matrices are the last two
dimensions; leading dimensions are a batch. Kernels call `xp.linalg` (NumPy's LAPACK, or CuPy's cuSOLVER).

QR/SVD/eigh live in linalg_decomp_ops and the composites (norm, trace, adjoint, matvec, logdet, cholesky_solve,
pinv) in linalg_extra_ops; their TF 1.x top-level names are re-exported here (tf.linalg lists the rest).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops import math_ops as m
from labflow.ops.common import COMPLEX_TYPES, base, convert_to_tensor, dims, make_op, merge_dims
from labflow.ops.math_helpers import op_scope

__all__ = ["matrix_inverse", "matrix_determinant", "cholesky", "matrix_solve", "matrix_triangular_solve",
           "matrix_solve_ls", "qr", "svd", "self_adjoint_eig", "self_adjoint_eigvals"]

_LINALG_TYPES = (_dt.float32, _dt.float64) + COMPLEX_TYPES


# -- shape functions --------------------------------------------------------------------------------
def _matrix_dims(t: Tensor, what: str = "input", square: bool = False) -> tuple | None:
    d = dims(t)
    if d is None:
        return None
    if len(d) < 2:
        raise ValueError(f"Shape must be at least rank 2 but is rank {len(d)} (the {what} is a batch of matrices "
                         "in its last two dimensions)")
    if square and d[-1] is not None and d[-2] is not None and d[-1] != d[-2]:
        raise ValueError(f"Dimensions must be equal, but are {d[-2]} and {d[-1]}: the {what} must be square")
    return d


def _square_shape(ins, attrs):
    d = _matrix_dims(ins[0], square=True)
    if d is not None:
        n = d[-1] if d[-1] is not None else d[-2]
        d = d[:-2] + (n, n)
    return base(ins[0]), d


def _det_shape(ins, attrs):
    d = _matrix_dims(ins[0], square=True)
    return base(ins[0]), None if d is None else d[:-2]


def _slogdet_shape(ins, attrs):
    dt, d = _det_shape(ins, attrs)
    return [(dt, d), (dt, d)]


def _solve_shape(ins, attrs):
    a = _matrix_dims(ins[0], "matrix", square=True)
    b = _matrix_dims(ins[1], "rhs")
    if b is None:
        return base(ins[0]), None if a is None else a[:-1] + (None,)
    if a is None:
        return base(ins[0]), b
    try:
        batch = merge_dims(a[:-2], b[:-2])
        rows = merge_dims(a[-2:-1], b[-2:-1])
    except ValueError:
        raise ValueError(f"Dimensions of matrix {list(a)} and rhs {list(b)} are incompatible: the rhs must have "
                         "the matrix's batch dimensions and as many rows as it has") from None
    return base(ins[0]), batch + rows + b[-1:]


def _solve_ls_shape(ins, attrs):
    a, b, l2 = _matrix_dims(ins[0], "matrix"), _matrix_dims(ins[1], "rhs"), dims(ins[2])
    if l2 is not None and l2 != ():
        raise ValueError(f"Shape must be rank 0 but is rank {len(l2)} (l2_regularizer)")
    if a is None or b is None:
        return base(ins[0]), None
    try:
        batch = merge_dims(a[:-2], b[:-2])
        merge_dims(a[-2:-1], b[-2:-1])
    except ValueError:
        raise ValueError(f"Dimensions of matrix {list(a)} and rhs {list(b)} are incompatible: the rhs must have "
                         "the matrix's batch dimensions and as many rows as it has") from None
    return base(ins[0]), batch + (a[-1], b[-1])


def _min(a: int | None, b: int | None) -> int | None:
    return None if a is None or b is None else min(a, b)


def _qr_shape(ins, attrs):
    d = _matrix_dims(ins[0])
    dt = base(ins[0])
    if d is None:
        return [(dt, None), (dt, None)]
    mm, n = d[-2], d[-1]
    p = mm if attrs["full_matrices"] else _min(mm, n)
    return [(dt, d[:-2] + (mm, p)), (dt, d[:-2] + (p, n))]


def _svd_shape(ins, attrs):
    d = _matrix_dims(ins[0])
    dt = base(ins[0])
    real = dt.real_dtype if dt.is_complex else dt
    if d is None:
        return [(real, None), (dt, None), (dt, None)]
    mm, n = d[-2], d[-1]
    p = _min(mm, n)
    if not attrs["compute_uv"]:
        return [(real, d[:-2] + (p,)), (dt, (0,)), (dt, (0,))]
    full = attrs["full_matrices"]
    return [(real, d[:-2] + (p,)), (dt, d[:-2] + (mm, mm if full else p)), (dt, d[:-2] + (n, n if full else p))]


def _eig_shape(ins, attrs):
    dt = base(ins[0])
    real = dt.real_dtype if dt.is_complex else dt
    _, d = _square_shape(ins, attrs)
    if d is None:
        return [(real, None), (dt, None if attrs["compute_v"] else (0,))]
    return [(real, d[:-1]), (dt, d if attrs["compute_v"] else (0,))]


# -- kernels' helpers -------------------------------------------------------------------------------
def _adj(xp, a):
    a = xp.swapaxes(a, -1, -2)
    return xp.conj(a) if a.dtype.kind == "c" else a


def _lapack(fn, message: str):
    """Runs `fn()`, turning LAPACK's LinAlgError into TF's InvalidArgumentError."""
    try:
        return fn()
    except np.linalg.LinAlgError:
        raise errors.InvalidArgumentError(None, None, message) from None


# -- MatrixInverse / MatrixDeterminant / LogMatrixDeterminant ---------------------------------------
@op("MatrixInverse", inputs=("input",), attrs={"adjoint": False}, types=_LINALG_TYPES, shape=_square_shape)
def matrix_inverse_kernel(xp, input, *, adjoint):
    a = _adj(xp, input) if adjoint else input
    return _lapack(lambda: xp.linalg.inv(a), "Input is not invertible.")


@matrix_inverse_kernel.grad
def _matrix_inverse_grad(op, grad):
    ainv, adj = op.outputs[0], op.get_attr("adjoint")
    inner = m.matmul(grad, ainv, adjoint_a=adj, adjoint_b=not adj)
    return [m.negative(m.matmul(ainv, inner, adjoint_a=not adj))]


@op("MatrixDeterminant", inputs=("input",), types=_LINALG_TYPES, shape=_det_shape)
def matrix_determinant_kernel(xp, input):
    return xp.linalg.det(input).astype(input.dtype)


def _batch_scalars(x: Tensor) -> Tensor:
    """A batch of scalars [...] as [..., 1, 1], to scale a batch of matrices."""
    from labflow.ops.array_ops import expand_dims
    return expand_dims(expand_dims(x, -1), -1)


@matrix_determinant_kernel.grad
def _matrix_determinant_grad(op, grad):
    a_adj_inv = matrix_inverse(op.inputs[0], adjoint=True)
    return [m.multiply(_batch_scalars(m.multiply(grad, op.outputs[0])), a_adj_inv)]


@op("LogMatrixDeterminant", inputs=("input",), types=_LINALG_TYPES, shape=_slogdet_shape, outputs=2,
    output_names=("sign", "log_abs_determinant"))
def log_matrix_determinant_kernel(xp, input):
    sign, logdet = xp.linalg.slogdet(input)
    return [sign.astype(input.dtype), logdet.astype(input.dtype)]


@log_matrix_determinant_kernel.grad
def _log_matrix_determinant_grad(op, _grad_sign, grad_logdet):
    if grad_logdet is None:
        return [None]
    a_adj_inv = matrix_inverse(op.inputs[0], adjoint=True)
    return [m.multiply(_batch_scalars(grad_logdet), a_adj_inv)]


def matrix_inverse(input: Any, adjoint: bool = False, name: str | None = None) -> Tensor:  # noqa: A002
    """The inverse of each square matrix in `input` [..., M, M] (op type MatrixInverse).

    Args:
        input: float32/float64/complex tensor of rank >= 2.
        adjoint: invert the adjoint (conjugate transpose) instead.
        name: the op name.

    Raises:
        InvalidArgumentError: at run time, a matrix is singular (on the CPU; a GPU gives inf/NaN).
    """
    with op_scope(name, "MatrixInverse", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        return make_op("MatrixInverse", [x], {"adjoint": bool(adjoint)}, scope)._outputs[0]


def matrix_determinant(input: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """The determinant of each square matrix in `input` [..., M, M], shape [...] (op type MatrixDeterminant)."""
    with op_scope(name, "MatrixDeterminant", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        return make_op("MatrixDeterminant", [x], None, scope)._outputs[0]


def slogdet(input: Any, name: str | None = None) -> tuple:  # noqa: A002
    """(sign, log|det|) of each square matrix in `input`, without overflow (op type LogMatrixDeterminant).

    The gradient flows through log|det| (the sign is piecewise constant).
    """
    with op_scope(name, "LogMatrixDeterminant", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        outs = make_op("LogMatrixDeterminant", [x], None, scope)._outputs
        return outs[0], outs[1]


# -- Cholesky -------------------------------------------------------------------------------------
@op("Cholesky", inputs=("input",), types=_LINALG_TYPES, shape=_square_shape)
def cholesky_kernel(xp, input):
    # LAPACK reads only the lower triangle, as TF does
    return _lapack(lambda: xp.linalg.cholesky(input), "Cholesky decomposition was not successful. The input "
                   "might not be valid: each matrix must be symmetric (Hermitian) positive definite.")


@cholesky_kernel.grad
def _cholesky_grad(op, grad):
    from labflow.ops import array_extra_ops as ax
    from labflow.ops.linalg_extra_ops import adjoint
    chol = op.outputs[0]
    middle = m.matmul(chol, grad, adjoint_a=True)
    middle = ax.matrix_set_diag(middle, m.multiply(ax.matrix_diag_part(middle), _half(middle)))
    middle = ax.matrix_band_part(middle, -1, 0)
    # chol^-H middle chol^-1, through two triangular solves instead of an explicit inverse
    left = matrix_triangular_solve(chol, middle, lower=True, adjoint=True)
    grad_a = adjoint(matrix_triangular_solve(chol, adjoint(left), lower=True, adjoint=True))
    return [m.multiply(m.add(grad_a, adjoint(grad_a)), _half(grad_a))]


def _half(like: Tensor) -> Tensor:
    return convert_to_tensor(0.5, dtype=base(like))


def cholesky(input: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """The lower-triangular Cholesky factor L (A = L L^H) of each matrix in `input` (op type Cholesky).

    Only the lower triangle of each matrix is read.

    Raises:
        InvalidArgumentError: at run time, a matrix is not positive definite (on the CPU).
    """
    with op_scope(name, "Cholesky", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        return make_op("Cholesky", [x], None, scope)._outputs[0]


# -- MatrixSolve / MatrixTriangularSolve ----------------------------------------------------------
@op("MatrixSolve", inputs=("matrix", "rhs"), attrs={"adjoint": False}, types=_LINALG_TYPES, shape=_solve_shape)
def matrix_solve_kernel(xp, matrix, rhs, *, adjoint):
    a = _adj(xp, matrix) if adjoint else matrix
    return _lapack(lambda: xp.linalg.solve(a, rhs), "Input matrix is not invertible.")


@matrix_solve_kernel.grad
def _matrix_solve_grad(op, grad):
    a, c = op.inputs[0], op.outputs[0]
    adj = op.get_attr("adjoint")
    grad_b = matrix_solve(a, grad, adjoint=not adj)
    grad_a = m.matmul(c, grad_b, adjoint_b=True) if adj else m.matmul(grad_b, c, adjoint_b=True)
    return [m.negative(grad_a), grad_b]


@op("MatrixTriangularSolve", inputs=("matrix", "rhs"), attrs={"lower": True, "adjoint": False},
    types=_LINALG_TYPES, shape=_solve_shape)
def matrix_triangular_solve_kernel(xp, matrix, rhs, *, lower, adjoint):
    # only the named triangle is read: the other is masked off before the (general) solve
    tri = xp.tril(matrix) if lower else xp.triu(matrix)
    a = _adj(xp, tri) if adjoint else tri
    return _lapack(lambda: xp.linalg.solve(a, rhs), "Input matrix is not invertible.")


@matrix_triangular_solve_kernel.grad
def _matrix_triangular_solve_grad(op, grad):
    from labflow.ops import array_extra_ops as ax
    a, c = op.inputs[0], op.outputs[0]
    adj, lower = op.get_attr("adjoint"), op.get_attr("lower")
    grad_b = matrix_triangular_solve(a, grad, lower=lower, adjoint=not adj)
    grad_a = m.negative(m.matmul(c, grad_b, adjoint_b=True) if adj else m.matmul(grad_b, c, adjoint_b=True))
    grad_a = ax.matrix_band_part(grad_a, -1, 0) if lower else ax.matrix_band_part(grad_a, 0, -1)
    return [grad_a, grad_b]


def matrix_solve(matrix: Any, rhs: Any, adjoint: bool = False, name: str | None = None) -> Tensor:
    """Solves matrix @ X = rhs for X, per batch (op type MatrixSolve).

    Args:
        matrix: [..., M, M] float32/float64/complex.
        rhs: [..., M, K] with the same batch dimensions.
        adjoint: solve adjoint(matrix) @ X = rhs instead.
        name: the op name.

    Raises:
        ValueError: the shapes are incompatible.
        InvalidArgumentError: at run time, a matrix is singular (on the CPU).
    """
    with op_scope(name, "MatrixSolve", [matrix, rhs]) as scope:
        a = convert_to_tensor(matrix, name="matrix")
        b = convert_to_tensor(rhs, dtype=a.dtype.base_dtype, name="rhs")
        return make_op("MatrixSolve", [a, b], {"adjoint": bool(adjoint)}, scope)._outputs[0]


def matrix_triangular_solve(matrix: Any, rhs: Any, lower: bool = True, adjoint: bool = False,
                            name: str | None = None) -> Tensor:
    """Solves matrix @ X = rhs for X where matrix is triangular (op type MatrixTriangularSolve).

    Only the lower (`lower=True`) or upper triangle of `matrix` is read.

    Raises:
        ValueError: the shapes are incompatible.
        InvalidArgumentError: at run time, a matrix has a zero on its diagonal (on the CPU).
    """
    with op_scope(name, "MatrixTriangularSolve", [matrix, rhs]) as scope:
        a = convert_to_tensor(matrix, name="matrix")
        b = convert_to_tensor(rhs, dtype=a.dtype.base_dtype, name="rhs")
        return make_op("MatrixTriangularSolve", [a, b], {"lower": bool(lower), "adjoint": bool(adjoint)},
                       scope)._outputs[0]


# -- MatrixSolveLs ----------------------------------------------------------------------------------
@op("MatrixSolveLs", inputs=("matrix", "rhs", "l2_regularizer"), attrs={"fast": True}, types=_LINALG_TYPES,
    type_inputs=("matrix", "rhs"), shape=_solve_ls_shape, host_inputs=(2,))
def matrix_solve_ls_kernel(xp, matrix, rhs, l2_regularizer, *, fast):
    lam = float(l2_regularizer)
    rows, cols = matrix.shape[-2], matrix.shape[-1]
    if not fast:
        # the minimum-norm least-squares solution through the pseudo-inverse (TF's complete orthogonal
        # decomposition gives the same); the regularizer does not apply here, as in TF
        return xp.matmul(xp.linalg.pinv(matrix), rhs).astype(matrix.dtype)
    ah = _adj(xp, matrix)
    msg = ("The matrix is rank deficient or ill-conditioned: the normal equations have no Cholesky factor. "
           "Pass l2_regularizer > 0 or fast=False.")
    if rows >= cols:
        gram = xp.matmul(ah, matrix) + lam * xp.eye(cols, dtype=matrix.dtype)
        return _lapack(lambda: xp.linalg.solve(gram, xp.matmul(ah, rhs)), msg)
    gram = xp.matmul(matrix, ah) + lam * xp.eye(rows, dtype=matrix.dtype)
    return xp.matmul(ah, _lapack(lambda: xp.linalg.solve(gram, rhs), msg))


def _regularized_gram_cholesky(a: Tensor, l2: Tensor, first_kind: bool) -> Tensor:
    from labflow.ops import array_extra_ops as ax
    gram = m.matmul(a, a, adjoint_a=first_kind, adjoint_b=not first_kind)
    n = dims(a)[-1 if first_kind else -2]
    eye = ax.eye(n, dtype=base(a))
    return cholesky(m.add(gram, m.multiply(m.cast(l2, base(a)), eye)))


@matrix_solve_ls_kernel.grad
def _matrix_solve_ls_grad(op, grad):
    from labflow.ops.linalg_extra_ops import cholesky_solve, matrix_transpose
    a, b, l2 = op.inputs
    x = op.outputs[0]
    if not op.get_attr("fast"):
        raise ValueError("Gradient not defined for fast=False (MatrixSolveLs)")
    d = dims(a)
    if d is None or d[-1] is None or d[-2] is None:
        raise NotImplementedError("MatrixSolveLs gradient needs the matrix's last two dimensions known at graph "
                                  "construction")
    if d[-2] >= d[-1]:
        chol = _regularized_gram_cholesky(a, l2, first_kind=True)
        z = cholesky_solve(chol, grad)
        xzt = m.matmul(x, z, adjoint_b=True)
        zx_sym = m.add(xzt, matrix_transpose(xzt))
        grad_a = m.add(m.negative(m.matmul(a, zx_sym)), m.matmul(b, z, adjoint_b=True))
        return [grad_a, m.matmul(a, z), None]
    chol = _regularized_gram_cholesky(a, l2, first_kind=False)
    grad_b = cholesky_solve(chol, m.matmul(a, grad))
    tmp = cholesky_solve(chol, b)
    a1 = m.negative(m.matmul(grad_b, m.matmul(tmp, a, adjoint_a=True)))
    a2 = m.matmul(tmp, m.subtract(grad, m.matmul(a, grad_b, adjoint_a=True)), adjoint_b=True)
    return [m.add(a1, a2), grad_b, None]


def matrix_solve_ls(matrix: Any, rhs: Any, l2_regularizer: Any = 0.0, fast: bool = True,
                    name: str | None = None) -> Tensor:
    """The least-squares solution X of matrix @ X ~= rhs, per batch (op type MatrixSolveLs).

    Args:
        matrix: [..., M, N].
        rhs: [..., M, K].
        l2_regularizer: a scalar >= 0 added to the normal equations (fast=True only).
        fast: solve the (regularized) normal equations by Cholesky; False uses the pseudo-inverse, which
            also handles rank-deficient matrices but has no gradient (as in TF).
        name: the op name.

    Returns:
        [..., N, K].
    """
    with op_scope(name, "MatrixSolveLs", [matrix, rhs, l2_regularizer]) as scope:
        a = convert_to_tensor(matrix, name="matrix")
        b = convert_to_tensor(rhs, dtype=a.dtype.base_dtype, name="rhs")
        l2 = convert_to_tensor(l2_regularizer, dtype=_dt.float64, name="l2_regularizer")
        return make_op("MatrixSolveLs", [a, b, l2], {"fast": bool(fast)}, scope)._outputs[0]


from labflow.ops import linalg_extra_ops as _extra  # noqa: E402
from labflow.ops.linalg_decomp_ops import qr, self_adjoint_eig, self_adjoint_eigvals, svd  # noqa: E402,F401
from labflow.ops.linalg_extra_ops import *  # noqa: E402,F401,F403

__all__ += _extra.__all__
