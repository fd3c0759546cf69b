"""Linear algebra: TF1 and tf.linalg names, batching, static shapes, errors, and gradients of the composites."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf

R = np.random.RandomState(5)
A = R.randn(2, 3, 3) + 3 * np.eye(3)
SPD = A @ np.swapaxes(A, -1, -2) + np.eye(3)


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


def test_tf1_and_tf_linalg_names():
    for name in ("matrix_inverse", "matrix_determinant", "cholesky", "cholesky_solve", "matrix_solve",
                 "matrix_triangular_solve", "matrix_solve_ls", "qr", "svd", "self_adjoint_eig", "self_adjoint_eigvals",
                 "norm", "trace", "matrix_transpose"):
        assert callable(getattr(tf, name)), name
    for name in ("inv", "det", "slogdet", "logdet", "cholesky", "cholesky_solve", "solve", "triangular_solve",
                 "lstsq", "qr", "svd", "eigh", "eigvalsh", "norm", "trace", "adjoint", "matvec", "pinv", "matmul",
                 "transpose", "matrix_transpose", "band_part", "diag", "diag_part", "set_diag", "eye", "tensordot",
                 "einsum", "l2_normalize"):
        assert callable(getattr(tf.linalg, name)), name


def test_batched_results_and_static_shapes():
    x = tf.constant(SPD)
    inv, det, (sign, logabs), chol, e = tf.linalg.inv(x), tf.linalg.det(x), tf.linalg.slogdet(x), tf.cholesky(x), \
        tf.linalg.eigvalsh(x)
    assert inv.shape.as_list() == [2, 3, 3] and det.shape.as_list() == [2] and logabs.shape.as_list() == [2]
    assert e.shape.as_list() == [2, 3]
    got = _run([inv, det, sign, logabs, chol, e, tf.linalg.logdet(x), tf.linalg.trace(x)])
    np.testing.assert_allclose(got[0], np.linalg.inv(SPD), rtol=1e-10)
    np.testing.assert_allclose(got[1], np.linalg.det(SPD))
    np.testing.assert_allclose(got[2], 1.0)
    np.testing.assert_allclose(got[3], np.log(np.linalg.det(SPD)))
    np.testing.assert_allclose(got[4], np.linalg.cholesky(SPD))
    np.testing.assert_allclose(got[5], np.linalg.eigvalsh(SPD))
    np.testing.assert_allclose(got[6], np.log(np.linalg.det(SPD)))
    np.testing.assert_allclose(got[7], np.trace(SPD, axis1=-2, axis2=-1))


def test_decomposition_shapes_follow_tf():
    x = tf.placeholder(tf.float64, [5, 4, 3])
    q, r = tf.qr(x)
    assert q.shape.as_list() == [5, 4, 3] and r.shape.as_list() == [5, 3, 3]
    q, r = tf.qr(tf.placeholder(tf.float64, [5, 3, 4]), full_matrices=True)
    assert q.shape.as_list() == [5, 3, 3] and r.shape.as_list() == [5, 3, 4]
    s, u, v = tf.svd(x)
    assert s.shape.as_list() == [5, 3] and u.shape.as_list() == [5, 4, 3] and v.shape.as_list() == [5, 3, 3]
    s_only = tf.svd(x, compute_uv=False)
    assert isinstance(s_only, tf.Tensor) and s_only.shape.as_list() == [5, 3]
    e, v = tf.linalg.eigh(tf.placeholder(tf.float64, [None, 4, 4]))
    assert e.shape.as_list() == [None, 4] and v.shape.as_list() == [None, 4, 4]


def test_svd_reconstructs_and_v_is_not_transposed():
    m = R.randn(4, 3)
    s, u, v = _run(tf.svd(tf.constant(m)))
    np.testing.assert_allclose((u * s) @ v.T, m, atol=1e-12)


def test_solves():
    b = R.randn(2, 3, 2)
    a_ls = np.ones((5, 3)) + np.eye(5, 3)
    x, xt, tri, cs, ls = _run([
        tf.matrix_solve(A, b), tf.matrix_solve(A, b, adjoint=True), tf.matrix_triangular_solve(A, b, lower=False),
        tf.cholesky_solve(tf.cholesky(SPD), b), tf.linalg.lstsq(np.stack([a_ls, a_ls]), np.ones((2, 5, 1)))])
    np.testing.assert_allclose(x, np.linalg.solve(A, b))
    np.testing.assert_allclose(xt, np.linalg.solve(np.swapaxes(A, -1, -2), b))
    np.testing.assert_allclose(tri, np.linalg.solve(np.triu(A), b))
    np.testing.assert_allclose(cs, np.linalg.solve(SPD, b))
    np.testing.assert_allclose(ls[0], np.linalg.lstsq(a_ls, np.ones((5, 1)), rcond=None)[0], atol=1e-10)


def test_construction_errors():
    with pytest.raises(ValueError, match="square"):
        tf.matrix_inverse(tf.ones([2, 3]))
    with pytest.raises(ValueError, match="at least rank 2"):
        tf.cholesky(tf.ones([3]))
    with pytest.raises(ValueError, match="incompatible"):
        tf.matrix_solve(tf.ones([3, 3]), tf.ones([4, 1]))
    with pytest.raises(ValueError, match="supported vector norm"):
        tf.norm(tf.ones([3]), ord=-1)
    with pytest.raises(ValueError, match="supported matrix norm"):
        tf.norm(tf.ones([3, 3]), ord=3, axis=[0, 1])
    with pytest.raises(ValueError, match="'axis' must be"):
        tf.norm(tf.ones([3, 3]), axis=[0, 1, 2])


def test_runtime_errors_name_the_problem():
    with pytest.raises(tf.errors.InvalidArgumentError, match="not invertible"):
        _run(tf.matrix_inverse(tf.zeros([2, 2], tf.float64)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Cholesky decomposition was not successful"):
        _run(tf.cholesky(-tf.eye(2, dtype=tf.float64)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="not invertible"):
        _run(tf.matrix_solve(tf.zeros([2, 2], tf.float64), tf.ones([2, 1], tf.float64)))


@pytest.mark.parametrize("ord_,axis,ref", [
    ("euclidean", None, lambda v: np.linalg.norm(v.ravel())),
    (1, 1, lambda v: np.abs(v).sum(1)),
    (np.inf, -1, lambda v: np.abs(v).max(-1)),
    (3, 0, lambda v: (np.abs(v) ** 3).sum(0) ** (1 / 3)),
    ("fro", (0, 1), lambda v: np.linalg.norm(v, "fro")),
    (1, (0, 1), lambda v: np.linalg.norm(v, 1)),
    (np.inf, [0, 1], lambda v: np.linalg.norm(v, np.inf)),
    (2, (0, 1), lambda v: np.linalg.norm(v, 2))])
def test_norm_matches_numpy(ord_, axis, ref):
    v = R.randn(3, 4)
    got = _run(tf.norm(tf.constant(v), ord=ord_, axis=axis))
    np.testing.assert_allclose(got, ref(v), rtol=1e-10)


def test_norm_keepdims():
    y = tf.norm(tf.ones([2, 3, 4]), axis=[-2, -1], keepdims=True)
    assert y.shape.as_list() == [2, 1, 1]
    assert tf.norm(tf.ones([2, 3]), keep_dims=True).shape.as_list() == [1, 1]


def test_adjoint_matvec_pinv():
    m = R.randn(2, 3, 4)
    v = R.randn(2, 4)
    adj, mv, pinv = _run([tf.linalg.adjoint(m), tf.linalg.matvec(m, v), tf.linalg.pinv(m)])
    np.testing.assert_allclose(adj, np.swapaxes(m, -1, -2))
    np.testing.assert_allclose(mv, np.einsum("bij,bj->bi", m, v))
    np.testing.assert_allclose(pinv, np.linalg.pinv(m), atol=1e-10)


def test_determinant_gradient_and_logdet_gradient():
    x = tf.constant(SPD)
    g_det, g_logdet = _run([tf.gradients(tf.matrix_determinant(x), x)[0], tf.gradients(tf.linalg.logdet(x), x)[0]])
    inv_t = np.swapaxes(np.linalg.inv(SPD), -1, -2)
    np.testing.assert_allclose(g_det, np.linalg.det(SPD)[:, None, None] * inv_t, rtol=1e-8)
    # through Cholesky's (symmetrized) gradient, as TF: inverse(x) for a symmetric x
    np.testing.assert_allclose(g_logdet, np.linalg.inv(SPD), rtol=1e-8)


def test_gradient_limitations_raise_clearly():
    x = tf.placeholder(tf.float64, [None, None])
    s, u, v = tf.svd(x)
    with pytest.raises(NotImplementedError, match="unknown inner matrix shape"):
        tf.gradients(u, x)
    y = tf.matrix_solve_ls(tf.ones([3, 2], tf.float64), tf.ones([3, 1], tf.float64), fast=False)
    with pytest.raises(ValueError, match="fast=False"):
        tf.gradients(y, [y.op.inputs[0]])
