"""Matrix decompositions: QR, SVD and the self-adjoint eigen-decomposition (SelfAdjointEigV2), batched, with
TF's gradients. Part of the linalg_ops family (which re-exports these names)."""

from __future__ import annotations

from typing import Any

from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops import math_ops as m
from labflow.ops.common import base, convert_to_tensor, dims, make_op
from labflow.ops.linalg_ops import _LINALG_TYPES, _adj, _eig_shape, _lapack, _qr_shape, _svd_shape
from labflow.ops.math_helpers import op_scope


def _ax() -> Any:
    from labflow.ops import array_extra_ops
    return array_extra_ops


def _adjoint(x: Tensor) -> Tensor:
    from labflow.ops.linalg_extra_ops import adjoint
    return adjoint(x)


def _real_only(op, what: str) -> None:
    if base(op.inputs[0]).is_complex:
        raise NotImplementedError(f"The {what} gradient is implemented for real matrices only (op "
                                  f"'{op.name}' has a {base(op.inputs[0]).name} input)")


def _safe_reciprocal(x: Tensor, epsilon: float = 1e-20) -> Tensor:
    """x / (x^2 + eps): 1/x away from 0, and 0 (not inf) at 0, as TF's _SafeReciprocal."""
    return m.multiply(x, m.reciprocal(m.add(m.multiply(x, x), convert_to_tensor(epsilon, dtype=base(x)))))


def _gap_reciprocals(vals: Tensor) -> Tensor:
    """F[i, j] = 1 / (vals[j] - vals[i]) off the diagonal, 0 on it."""
    from labflow.ops.array_ops import expand_dims, zeros_like
    f = _safe_reciprocal(m.subtract(expand_dims(vals, -2), expand_dims(vals, -1)))
    return _ax().matrix_set_diag(f, zeros_like(vals))


# -- Qr ---------------------------------------------------------------------------------------------
@op("Qr", inputs=("input",), attrs={"full_matrices": False}, types=_LINALG_TYPES, shape=_qr_shape, outputs=2,
    output_names=("q", "r"))
def qr_kernel(xp, input, *, full_matrices):
    q, r = _lapack(lambda: xp.linalg.qr(input, mode="complete" if full_matrices else "reduced"),
                   "QR decomposition failed: the input has NaN or infinite values.")
    return [q.astype(input.dtype), r.astype(input.dtype)]


def _triangular_solve_right(x: Tensor, r: Tensor) -> Tensor:
    """x @ inverse(r)^H for upper-triangular r, by a triangular solve."""
    from labflow.ops.linalg_ops import matrix_triangular_solve
    return _adjoint(matrix_triangular_solve(r, _adjoint(x), lower=False, adjoint=False))


def _qr_grad_square_or_deep(q: Tensor, r: Tensor, dq: Tensor, dr: Tensor) -> Tensor:
    qdq = m.matmul(q, dq, adjoint_a=True)
    qdq_ = m.subtract(qdq, _adjoint(qdq))
    rdr = m.matmul(r, dr, adjoint_b=True)
    rdr_ = m.subtract(rdr, _adjoint(rdr))
    tril = _ax().matrix_band_part(m.add(qdq_, rdr_), -1, 0)
    grad_a = m.matmul(q, m.add(dr, _triangular_solve_right(tril, r)))
    grad_b = _triangular_solve_right(m.subtract(dq, m.matmul(q, qdq)), r)
    return m.add(grad_a, grad_b)


@qr_kernel.grad
def _qr_grad(op, dq, dr):
    _real_only(op, "QR")
    q, r = op.outputs
    qd, rd = dims(q), dims(r)
    if qd is None or rd is None or None in (qd[-2], qd[-1], rd[-1]):
        raise NotImplementedError("QrGrad not implemented with dynamic shapes: the matrix dimensions must be "
                                  "known at graph construction")
    if rd[-2] > rd[-1] and qd[-2] == qd[-1]:
        raise NotImplementedError("QrGrad not implemented when nrows > ncols and full_matrices is true")
    from labflow.ops.array_join_ops import concat
    from labflow.ops.array_ops import zeros_like
    dq = zeros_like(q) if dq is None else dq
    dr = zeros_like(r) if dr is None else dr
    rows, cols = qd[-2], rd[-1]
    if rows >= cols:
        return [_qr_grad_square_or_deep(q, r, dq, dr)]
    # a wide matrix [X | Y] with X square: X = Q U is a square QR, and Y = Q V is linear in Q
    y = op.inputs[0][..., :, rows:]
    u, dv, du = r[..., :, :rows], dr[..., :, rows:], dr[..., :, :rows]
    dx = _qr_grad_square_or_deep(q, u, m.add(dq, m.matmul(y, dv, adjoint_b=True)), du)
    return [concat([dx, m.matmul(q, dv)], -1)]


def qr(input: Any, full_matrices: bool = False, name: str | None = None) -> tuple:  # noqa: A002
    """The QR decomposition input = q @ r of each matrix [..., M, N] (op type Qr).

    Args:
        input: float32/float64/complex tensor of rank >= 2.
        full_matrices: q is [..., M, M] and r [..., M, N]; else (default) q is [..., M, P] and r [..., P, N],
            P = min(M, N).
        name: the op name.

    Returns:
        (q, r): q with orthonormal columns, r upper triangular. The gradient needs static matrix dimensions
        (and full_matrices=False when M > N), as TF.
    """
    with op_scope(name, "Qr", [input]) as scope:
        x = convert_to_tensor(input, name="input")
        outs = make_op("Qr", [x], {"full_matrices": bool(full_matrices)}, scope)._outputs
        return outs[0], outs[1]


# -- Svd --------------------------------------------------------------------------------------------
@op("Svd", inputs=("input",), attrs={"compute_uv": True, "full_matrices": False}, types=_LINALG_TYPES,
    shape=_svd_shape, outputs=3, output_names=("s", "u", "v"))
def svd_kernel(xp, input, *, compute_uv, full_matrices):
    real = input.real.dtype if input.dtype.kind == "c" else input.dtype
    msg = "SVD did not converge: the input has NaN or infinite values."
    if not compute_uv:
        s = _lapack(lambda: xp.linalg.svd(input, compute_uv=False), msg)
        empty = xp.zeros((0,), dtype=input.dtype)
        return [s.astype(real), empty, empty.copy()]
    u, s, vh = _lapack(lambda: xp.linalg.svd(input, full_matrices=full_matrices, compute_uv=True), msg)
    return [s.astype(real), u.astype(input.dtype), _adj(xp, vh).astype(input.dtype)]


@svd_kernel.grad
def _svd_grad(op, grad_s, grad_u, grad_v):
    _real_only(op, "SVD")
    from labflow.ops.array_ops import zeros_like
    ax = _ax()
    a = op.inputs[0]
    s = op.outputs[0]
    grad_s = zeros_like(s) if grad_s is None else grad_s
    grad_s_mat = ax.matrix_diag(grad_s)
    if not op.get_attr("compute_uv"):
        _, u, v = svd(a, compute_uv=True)
        return [m.matmul(u, m.matmul(grad_s_mat, v, adjoint_b=True))]
    if op.get_attr("full_matrices"):
        raise NotImplementedError("The SVD gradient is implemented for full_matrices=False only")
    ad = dims(a)
    if ad is None or ad[-1] is None or ad[-2] is None:
        raise NotImplementedError("SVD gradient has not been implemented for input with unknown inner matrix "
                                  "shape.")
    rows, cols = ad[-2], ad[-1]
    u, v = op.outputs[1], op.outputs[2]
    grad_u = zeros_like(u) if grad_u is None else grad_u
    grad_v = zeros_like(v) if grad_v is None else grad_v
    use_adjoint = rows > cols
    if use_adjoint:  # differentiate A^H = V S U^H, then take the adjoint of the result
        rows, cols = cols, rows
        u, v, grad_u, grad_v = v, u, grad_v, grad_u
    s_mat = ax.matrix_diag(s)
    f = _gap_reciprocals(m.square(s))
    s_inv_mat = ax.matrix_diag(_safe_reciprocal(s))
    f_u = m.multiply(f, m.matmul(u, grad_u, adjoint_a=True))
    f_v = m.multiply(f, m.matmul(v, grad_v, adjoint_a=True))
    term1_nouv = m.add(m.add(grad_s_mat, m.matmul(m.add(f_u, _adjoint(f_u)), s_mat)),
                       m.matmul(s_mat, m.add(f_v, _adjoint(f_v))))
    grad_a = m.matmul(u, m.matmul(term1_nouv, v, adjoint_b=True))
    if rows != cols:
        gv1t = _adjoint(grad_v)
        term2_nous = m.subtract(gv1t, m.matmul(m.matmul(gv1t, v), v, adjoint_b=True))
        grad_a = m.add(grad_a, m.matmul(m.matmul(u, s_inv_mat), term2_nous))
    return [_adjoint(grad_a) if use_adjoint else grad_a]


def svd(tensor: Any, full_matrices: bool = False, compute_uv: bool = True, name: str | None = None) -> Any:
    """The singular value decomposition tensor = u @ diag(s) @ adjoint(v) of each matrix (op type Svd).

    Args:
        tensor: [..., M, N] float32/float64/complex.
        full_matrices: u is [..., M, M] and v [..., N, N]; else (default) [..., M, P] and [..., N, P],
            P = min(M, N).
        compute_uv: also compute u and v; else only s is computed and returned.
        name: the op name.

    Returns:
        (s, u, v) with compute_uv, else s; s [..., P] is real and descending. The gradient with respect to
        u and v needs full_matrices=False and static matrix dimensions; it is unstable for repeated singular
        values (as in TF).
    """
    with op_scope(name, "Svd", [tensor]) as scope:
        x = convert_to_tensor(tensor, name="input")
        outs = make_op("Svd", [x], {"compute_uv": bool(compute_uv), "full_matrices": bool(full_matrices)},
                       scope)._outputs
        return (outs[0], outs[1], outs[2]) if compute_uv else outs[0]


# -- SelfAdjointEigV2 -------------------------------------------------------------------------------
@op("SelfAdjointEigV2", inputs=("input",), attrs={"compute_v": True}, types=_LINALG_TYPES, shape=_eig_shape,
    outputs=2, output_names=("e", "v"))
def self_adjoint_eig_kernel(xp, input, *, compute_v):
    real = input.real.dtype if input.dtype.kind == "c" else input.dtype
    msg = "Self-adjoint eigen decomposition was not successful. The input might not be valid."
    # LAPACK reads the lower triangle only, as TF does
    if not compute_v:
        e = _lapack(lambda: xp.linalg.eigvalsh(input), msg)
        return [e.astype(real), xp.zeros((0,), dtype=input.dtype)]
    e, v = _lapack(lambda: xp.linalg.eigh(input), msg)
    return [e.astype(real), v.astype(input.dtype)]


@self_adjoint_eig_kernel.grad
def _self_adjoint_eig_grad(op, grad_e, grad_v):
    _real_only(op, "self-adjoint eigen-decomposition")
    from labflow.ops.array_ops import zeros_like
    ax = _ax()
    e = op.outputs[0]
    grad_e = zeros_like(e) if grad_e is None else grad_e
    if op.get_attr("compute_v"):
        v = op.outputs[1]
        grad_v = zeros_like(v) if grad_v is None else grad_v
        inner = m.add(ax.matrix_diag(grad_e), m.multiply(_gap_reciprocals(e), m.matmul(v, grad_v, adjoint_a=True)))
    else:
        _, v = self_adjoint_eig(op.inputs[0])
        inner = ax.matrix_diag(grad_e)
    grad_a = m.matmul(v, m.matmul(inner, v, adjoint_b=True))
    # the forward op reads the lower triangle only: symmetrize, then keep that triangle (diagonal once)
    grad_a = ax.matrix_band_part(m.add(grad_a, _adjoint(grad_a)), -1, 0)
    half = convert_to_tensor(0.5, dtype=base(grad_a))
    return [ax.matrix_set_diag(grad_a, m.multiply(ax.matrix_diag_part(grad_a), half))]


def self_adjoint_eig(tensor: Any, name: str | None = None) -> tuple:
    """Eigenvalues (ascending) and eigenvectors (columns) of each self-adjoint matrix (op type
    SelfAdjointEigV2). Only the lower triangle is read.

    Returns:
        (e, v): e [..., N], v [..., N, N].
    """
    with op_scope(name, "self_adjoint_eig", [tensor]) as scope:
        x = convert_to_tensor(tensor, name="tensor")
        outs = make_op("SelfAdjointEigV2", [x], {"compute_v": True}, scope)._outputs
        return outs[0], outs[1]


def self_adjoint_eigvals(tensor: Any, name: str | None = None) -> Tensor:
    """The eigenvalues (ascending) of each self-adjoint matrix, [..., N] (op type SelfAdjointEigV2 with
    compute_v=False). Only the lower triangle is read."""
    with op_scope(name, "self_adjoint_eigvals", [tensor]) as scope:
        x = convert_to_tensor(tensor, name="tensor")
        return make_op("SelfAdjointEigV2", [x], {"compute_v": False}, scope)._outputs[0]
