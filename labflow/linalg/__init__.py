"""`tf.linalg`: linear algebra under its TF 1.13+ namespace.

Matrix construction and indexing (band_part, diag, eye, einsum, ...) are array ops
(labflow.ops.array_matrix_ops); the decompositions and solves are labflow.ops.linalg_ops.
"""
# ruff: noqa: F401 - a namespace of re-exports

from labflow.nn.impl import l2_normalize
from labflow.ops import array_extra_ops as _ax
from labflow.ops import linalg_ops as _la
from labflow.ops.clip_ops import global_norm
from labflow.ops.linalg_extra_ops import adjoint, cholesky_solve, logdet, matrix_transpose, matvec, norm, pinv, trace
from labflow.ops.linalg_ops import cholesky, qr, slogdet, svd
from labflow.ops.matmul_ops import matmul

det = _la.matrix_determinant
inv = _la.matrix_inverse
solve = _la.matrix_solve
triangular_solve = _la.matrix_triangular_solve
lstsq = _la.matrix_solve_ls
eigh = _la.self_adjoint_eig
eigvalsh = _la.self_adjoint_eigvals
transpose = matrix_transpose

band_part = _ax.matrix_band_part
diag = _ax.matrix_diag
diag_part = _ax.matrix_diag_part
set_diag = _ax.matrix_set_diag
eye = _ax.eye
tensordot = _ax.tensordot
einsum = _ax.einsum
cross = _ax.cross
tensor_diag = _ax.diag
tensor_diag_part = _ax.diag_part
