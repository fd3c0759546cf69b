"""Sweep samples for the linear algebra ops: MatrixInverse, MatrixDeterminant, LogMatrixDeterminant, Cholesky,
MatrixSolve, MatrixTriangularSolve, MatrixSolveLs, Qr, Svd and SelfAdjointEigV2. Inputs are well conditioned
(decompositions are differentiated through sign- and order-invariant functions of their outputs)."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(41)
F32_64 = (_dt.float32, _dt.float64)


def _well(*shape):
    """Random square matrices, diagonally dominant (invertible, moderate condition number)."""
    n = shape[-1]
    return R.randn(*shape) + 2 * n ** 0.5 * np.eye(n)


def _spd(*shape):
    a = R.randn(*shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def _cast(fn):
    def ref(*a):
        out = fn(*[x.astype(np.float64) for x in a])
        if isinstance(out, (list, tuple)):
            return [np.asarray(o).astype(a[0].dtype) for o in out]
        return np.asarray(out).astype(a[0].dtype)
    return ref


@samples("MatrixInverse")
def _inverse():
    return [Case(tf.matrix_inverse, [_well(3, 3)], _cast(np.linalg.inv), dtypes=F32_64, rtol=1e-4),
            Case(lambda x: tf.matrix_inverse(x, adjoint=True), [_well(2, 4, 4)],
                 _cast(lambda x: np.linalg.inv(np.swapaxes(x, -1, -2))), rtol=1e-4, name="batch_adjoint")]


@samples("MatrixDeterminant")
def _det():
    return [Case(tf.matrix_determinant, [_well(3, 3)], _cast(np.linalg.det), dtypes=F32_64, rtol=1e-4),
            Case(tf.matrix_determinant, [_well(2, 3, 2, 2)], _cast(np.linalg.det), rtol=1e-4, name="batch")]


@samples("LogMatrixDeterminant")
def _slogdet():
    x = _well(2, 3, 3)
    x[0] *= -1  # a negative determinant: sign -1
    return [Case(lambda x: list(tf.linalg.slogdet(x)), [x], _cast(lambda x: list(np.linalg.slogdet(x))),
                 dtypes=F32_64, rtol=1e-4)]


@samples("Cholesky")
def _cholesky():
    def sym(x):  # the op reads the lower triangle: differentiate through a symmetric input
        return tf.cholesky((x + tf.matrix_transpose(x)) * 0.5)
    return [Case(tf.cholesky, [_spd(3, 3)], _cast(np.linalg.cholesky), dtypes=F32_64, rtol=1e-4, grad=False),
            Case(sym, [_spd(2, 4, 4)], _cast(np.linalg.cholesky), rtol=1e-4, name="batch_symmetrized")]


@samples("MatrixSolve")
def _solve():
    return [Case(tf.matrix_solve, [_well(3, 3), R.randn(3, 2)], _cast(np.linalg.solve), dtypes=F32_64, rtol=1e-4),
            Case(lambda a, b: tf.matrix_solve(a, b, adjoint=True), [_well(2, 3, 3), R.randn(2, 3, 1)],
                 _cast(lambda a, b: np.linalg.solve(np.swapaxes(a, -1, -2), b)), rtol=1e-4, name="batch_adjoint")]


@samples("MatrixTriangularSolve")
def _triangular_solve():
    a = _well(2, 3, 3)
    return [Case(tf.matrix_triangular_solve, [a, R.randn(2, 3, 2)],
                 _cast(lambda a, b: np.linalg.solve(np.tril(a), b)), dtypes=F32_64, rtol=1e-4),
            Case(lambda a, b: tf.matrix_triangular_solve(a, b, lower=False, adjoint=True), [a[0], R.randn(3, 2)],
                 _cast(lambda a, b: np.linalg.solve(np.triu(a).T, b)), rtol=1e-4, name="upper_adjoint")]


def _np_lstsq(a, b, l2=0.0):
    at = np.swapaxes(a, -1, -2)
    if a.shape[-2] >= a.shape[-1]:
        return np.linalg.solve(at @ a + l2 * np.eye(a.shape[-1]), at @ b)
    return at @ np.linalg.solve(a @ at + l2 * np.eye(a.shape[-2]), b)


@samples("MatrixSolveLs")
def _solve_ls():
    return [Case(tf.matrix_solve_ls, [R.randn(5, 3), R.randn(5, 2)], _cast(_np_lstsq), dtypes=F32_64, rtol=1e-4,
                 name="overdetermined"),
            Case(lambda a, b: tf.matrix_solve_ls(a, b, l2_regularizer=0.5), [R.randn(2, 3, 5), R.randn(2, 3, 1)],
                 _cast(lambda a, b: _np_lstsq(a, b, 0.5)), rtol=1e-4, name="underdetermined_l2"),
            Case(lambda a, b: tf.matrix_solve_ls(a, b, fast=False), [R.randn(4, 2), R.randn(4, 1)],
                 _cast(lambda a, b: np.linalg.lstsq(a, b, rcond=None)[0]), rtol=1e-4, grad=False, name="not_fast")]


def _sign_fixed_qr(x):
    q, r = np.linalg.qr(x)
    return [q, r]


@samples("Qr")
def _qr():
    def recon(x):  # q @ r and r's diagonal squared: invariant to the sign convention of the factors
        q, r = tf.qr(x)
        return [tf.matmul(q, r), tf.square(r)]

    def ref(x):
        q, r = np.linalg.qr(x)
        return [x, np.square(r)]
    return [Case(lambda x: list(tf.qr(x)), [R.randn(4, 3)], _cast(_sign_fixed_qr), dtypes=F32_64, rtol=1e-4,
                 grad=False, name="deep"),
            Case(recon, [R.randn(2, 4, 3)], _cast(ref), rtol=1e-4, name="batch_grad"),
            Case(recon, [R.randn(3, 5)], _cast(ref), rtol=1e-4, name="wide_grad"),
            Case(lambda x: list(tf.qr(x)), [R.randn(3, 3)], _cast(_sign_fixed_qr), rtol=1e-4, name="square"),
            Case(lambda x: list(tf.qr(x, full_matrices=True)), [R.randn(4, 3)],
                 _cast(lambda x: list(np.linalg.qr(x, mode="complete"))), rtol=1e-4, grad=False, name="full")]


@samples("Svd")
def _svd():
    def recon(x):  # s, u @ diag(s) @ v^T and the projector u u^T: sign invariant
        s, u, v = tf.svd(x)
        return [s, tf.matmul(u * tf.expand_dims(s, -2), v, transpose_b=True), tf.matmul(u, u, transpose_b=True)]

    def ref(x):
        u, s, vt = np.linalg.svd(x, full_matrices=False)
        return [s, x, u @ np.swapaxes(u, -1, -2)]
    return [Case(lambda x: tf.svd(x, compute_uv=False), [R.randn(4, 3)], _cast(lambda x: np.linalg.svd(x)[1]),
                 dtypes=F32_64, rtol=1e-4, name="values_only"),
            Case(recon, [R.randn(2, 4, 3)], _cast(ref), rtol=1e-4, name="deep"),
            Case(recon, [R.randn(3, 5)], _cast(ref), rtol=1e-4, name="wide"),
            Case(recon, [R.randn(3, 3)], _cast(ref), rtol=1e-4, name="square")]


@samples("SelfAdjointEigV2")
def _eigh():
    def vecs(x):  # eigenvalues and the projector onto the first eigenvector: sign invariant
        e, v = tf.self_adjoint_eig(x)
        first = v[..., :1]
        return [e, tf.matmul(first, first, transpose_b=True)]

    def ref(x):
        e, v = np.linalg.eigh(x)
        return [e, v[..., :1] @ np.swapaxes(v[..., :1], -1, -2)]
    sym = _spd(2, 3, 3)
    return [Case(tf.self_adjoint_eigvals, [sym], _cast(np.linalg.eigvalsh), dtypes=F32_64, rtol=1e-4,
                 name="values_only"),
            Case(vecs, [sym], _cast(ref), rtol=1e-4, name="vectors", grad=False),
            Case(lambda x: vecs((x + tf.matrix_transpose(x)) * 0.5), [sym], _cast(ref), rtol=1e-4,
                 name="vectors_grad_symmetrized")]
