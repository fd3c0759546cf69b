"""Sweep samples for MatrixBandPart, MatrixDiag, MatrixDiagPart, MatrixSetDiag, Diag, DiagPart, Einsum, Cross (and
the eye / tensordot composites), SpaceToDepth, DepthToSpace, SpaceToBatchND, BatchToSpaceND and ExtractImagePatches."""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow import dtypes as _dt
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(37)
F16 = (_dt.float16, _dt.float32, _dt.float64)


def r(*shape):
    return R.standard_normal(shape)


def i32(v):
    return np.asarray(v, np.int32)


def _np_band(x, lo, hi):
    m, n = x.shape[-2:]
    off = np.arange(n)[None, :] - np.arange(m)[:, None]
    keep = ((lo < 0) | (off >= -lo)) & ((hi < 0) | (off <= hi))
    return np.where(keep, x, 0).astype(x.dtype)


@samples("MatrixBandPart")
def _band_part():
    return [Case(lambda x: tf.matrix_band_part(x, 1, 0), [r(2, 3, 4)], lambda x: _np_band(x, 1, 0), dtypes=F16),
            Case(lambda x: tf.matrix_band_part(x, -1, 1), [r(4, 3)], lambda x: _np_band(x, -1, 1), name="all_lower"),
            Case(lambda x, lo, hi: tf.matrix_band_part(x, lo, hi), [i32([[1, 2], [3, 4]]), np.int64(0), np.int64(-1)],
                 lambda x, lo, hi: _np_band(x, 0, -1), grad=False, name="int32_tensors")]


def _np_matrix_diag(d):
    out = np.zeros(d.shape + d.shape[-1:], d.dtype)
    i = np.arange(d.shape[-1])
    out[..., i, i] = d
    return out


@samples("MatrixDiag")
def _matrix_diag():
    return [Case(tf.matrix_diag, [r(2, 3)], _np_matrix_diag, dtypes=F16),
            Case(tf.matrix_diag, [i32([1, 2])], _np_matrix_diag, grad=False, name="int32"),
            Case(lambda: tf.eye(3, dtype=tf.float64), [], lambda: np.eye(3), grad=False, name="eye"),
            Case(lambda n: tf.eye(n, batch_shape=[2]), [np.int32(2)],
                 lambda n: np.stack([np.eye(2, dtype=np.float32)] * 2),
                 grad=False, name="eye_tensor_batch")]


@samples("MatrixDiagPart")
def _matrix_diag_part():
    return [Case(tf.matrix_diag_part, [r(2, 3, 4)], lambda x: np.diagonal(x, axis1=-2, axis2=-1).copy(), dtypes=F16),
            Case(tf.matrix_diag_part, [r(4, 2)], lambda x: np.diagonal(x).copy(), name="tall")]


def _np_set_diag(x, d):
    out = x.copy()
    i = np.arange(d.shape[-1])
    out[..., i, i] = d
    return out


@samples("MatrixSetDiag")
def _matrix_set_diag():
    return [Case(tf.matrix_set_diag, [r(2, 3, 4), r(2, 3)], _np_set_diag, dtypes=F16),
            Case(lambda: tf.eye(2, 4, dtype=tf.int32), [], lambda: np.eye(2, 4, dtype=np.int32), grad=False,
                 name="eye_rect")]


@samples("Diag")
def _diag():
    return [Case(tf.diag, [r(3)], np.diag, dtypes=F16),
            Case(tf.diag, [r(2, 2)], lambda d: np.diag(d.reshape(-1)).reshape(2, 2, 2, 2), name="rank2")]


@samples("DiagPart")
def _diag_part():
    return [Case(tf.diag_part, [r(3, 3)], lambda x: np.diagonal(x).copy(), dtypes=F16),
            Case(tf.diag_part, [r(2, 3, 2, 3)], lambda x: np.diagonal(x.reshape(6, 6)).reshape(2, 3), name="rank4")]


@samples("Einsum")
def _einsum():
    return [Case(lambda a, b: tf.einsum("ij,jk->ik", a, b), [r(2, 3), r(3, 4)], lambda a, b: a @ b, dtypes=F16),
            Case(lambda a: tf.einsum("bij->bji", a), [r(2, 3, 4)], lambda a: a.transpose(0, 2, 1), name="transpose"),
            Case(lambda a, b: tf.einsum("ij,ij->i", a, b), [r(3, 2), r(3, 2)], lambda a, b: (a * b).sum(1),
                 name="row_dot"),
            Case(lambda a: tf.einsum("ij->", a), [r(2, 3)], lambda a: a.sum(), name="sum_all"),
            Case(lambda a, b: tf.einsum("i,j", a, b), [r(3), r(2)], np.outer, name="implicit_outer"),
            Case(lambda a, b: tf.einsum("...ij,...jk->...ik", a, b), [r(2, 2, 3), r(1, 3, 2)],
                 lambda a, b: np.matmul(a, b), name="ellipsis_broadcast"),
            Case(lambda a: tf.einsum("ii->", a), [r(3, 3)], lambda a: np.trace(a), name="trace"),
            Case(lambda a, b: tf.einsum("iji,j->ij", a, b), [r(2, 3, 2), r(3)],
                 lambda a, b: np.einsum("iji,j->ij", a, b), name="diagonal_times_vector"),
            Case(lambda a, b: tf.einsum("ij,jk", a, b), [i32([[1, 2]]), i32([[3], [4]])], lambda a, b: a @ b,
                 grad=False, name="int32")]


@samples("Cross")
def _cross():
    return [Case(tf.cross, [r(2, 3), r(2, 3)], lambda a, b: np.cross(a, b), dtypes=F16),
            Case(tf.cross, [i32([1, 0, 0]), i32([0, 1, 0])], lambda a, b: i32([0, 0, 1]), grad=False, name="int32")]


@samples("MatMul")
def _tensordot():
    return [Case(lambda a, b: tf.tensordot(a, b, 1), [r(2, 3), r(3, 4)], lambda a, b: np.tensordot(a, b, 1),
                 unknown_shapes=False, name="tensordot"),
            Case(lambda a, b: tf.tensordot(a, b, [[0, 2], [1, 0]]), [r(3, 2, 4), r(4, 3, 5)],
                 lambda a, b: np.tensordot(a, b, [[0, 2], [1, 0]]), unknown_shapes=False, name="tensordot_axes")]


# -- space / depth / batch ------------------------------------------------------------------------------------
def _np_s2d(x, b):
    n, h, w, c = x.shape
    return x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, h // b, w // b, b * b * c)


def _np_d2s(x, b):
    n, h, w, c = x.shape
    return x.reshape(n, h, w, b, b, c // (b * b)).transpose(0, 1, 3, 2, 4, 5).reshape(n, h * b, w * b, c // (b * b))


@samples("SpaceToDepth")
def _space_to_depth():
    return [Case(lambda x: tf.space_to_depth(x, 2), [r(2, 4, 6, 3)], lambda x: _np_s2d(x, 2), dtypes=F16),
            Case(lambda x: tf.space_to_depth(x, 3, data_format="NCHW"), [r(1, 2, 3, 6)],
                 lambda x: _np_s2d(x.transpose(0, 2, 3, 1), 3).transpose(0, 3, 1, 2), name="nchw")]


@samples("DepthToSpace")
def _depth_to_space():
    return [Case(lambda x: tf.depth_to_space(x, 2), [r(2, 2, 3, 8)], lambda x: _np_d2s(x, 2), dtypes=F16),
            Case(lambda x: tf.depth_to_space(x, 2, data_format="NCHW"), [r(1, 8, 2, 1)],
                 lambda x: _np_d2s(x.transpose(0, 2, 3, 1), 2).transpose(0, 3, 1, 2), name="nchw")]


def _np_s2b(x, block, pads):
    m = len(block)
    x = np.pad(x, [(0, 0)] + [tuple(p) for p in pads] + [(0, 0)] * (x.ndim - m - 1))
    n = x.shape[0]
    out = []
    for offs in np.ndindex(*block):  # batch index = offset (row-major over block) * n + b
        sl = [slice(None)] + [slice(o, None, b) for o, b in zip(offs, block)]
        out.append(x[tuple(sl)])
    return np.concatenate(out, axis=0).reshape((n * int(np.prod(block)),) + out[0].shape[1:])


def _np_b2s(x, block, crops):
    m = len(block)
    prod = int(np.prod(block))
    n = x.shape[0] // prod
    sp = x.shape[1:m + 1]
    full = np.zeros((n,) + tuple(s * b for s, b in zip(sp, block)) + x.shape[m + 1:], x.dtype)
    for k, offs in enumerate(np.ndindex(*block)):
        sl = [slice(None)] + [slice(o, None, b) for o, b in zip(offs, block)]
        full[tuple(sl)] = x[k * n:(k + 1) * n]
    sl = [slice(None)] + [slice(c0, full.shape[i + 1] - c1) for i, (c0, c1) in enumerate(crops)]
    return full[tuple(sl)]


@samples("SpaceToBatchND")
def _space_to_batch_nd():
    return [Case(lambda x: tf.space_to_batch_nd(x, [2, 2], [[0, 0], [1, 1]]), [r(2, 4, 2, 3)],
                 lambda x: _np_s2b(x, [2, 2], [[0, 0], [1, 1]]), dtypes=F16),
            Case(lambda x, b, p: tf.space_to_batch_nd(x, b, p), [r(1, 5, 2), i32([3]), i32([[1, 0]])],
                 lambda x, b, p: _np_s2b(x, [3], [[1, 0]]), name="1d_tensors"),
            Case(lambda x: tf.space_to_batch(x, [[0, 0], [0, 0]], 2), [r(1, 2, 2, 1)],
                 lambda x: _np_s2b(x, [2, 2], [[0, 0], [0, 0]]), name="space_to_batch")]


@samples("BatchToSpaceND")
def _batch_to_space_nd():
    return [Case(lambda x: tf.batch_to_space_nd(x, [2, 2], [[0, 0], [1, 1]]), [r(8, 2, 2, 3)],
                 lambda x: _np_b2s(x, [2, 2], [[0, 0], [1, 1]]), dtypes=F16),
            Case(lambda x, b, c: tf.batch_to_space_nd(x, b, c), [r(3, 2, 2), i32([3]), i32([[1, 2]])],
                 lambda x, b, c: _np_b2s(x, [3], [[1, 2]]), name="1d_tensors"),
            Case(lambda x: tf.batch_to_space(x, [[0, 0], [0, 0]], 2), [r(4, 1, 1, 2)],
                 lambda x: _np_b2s(x, [2, 2], [[0, 0], [0, 0]]), name="batch_to_space")]


def _np_patches(x, ks, st, rt, padding):
    """Loop reference for ExtractImagePatches (TF's SAME/VALID geometry on the dilated window)."""
    n, h, w, c = x.shape
    geo = []
    for size, k, s, r in ((h, ks[1], st[1], rt[1]), (w, ks[2], st[2], rt[2])):
        k_eff = k + (k - 1) * (r - 1)
        if padding == "VALID":
            geo.append(((size - k_eff) // s + 1, 0))
        else:
            out = -(-size // s)
            geo.append((out, max((out - 1) * s + k_eff - size, 0) // 2))
    (oh, top), (ow, left) = geo
    out = np.zeros((n, oh, ow, ks[1] * ks[2] * c), x.dtype)
    for i in range(oh):
        for j in range(ow):
            vals = []
            for a in range(ks[1]):
                for b in range(ks[2]):
                    y, z = i * st[1] + a * rt[1] - top, j * st[2] + b * rt[2] - left
                    vals.append(x[:, y, z, :] if 0 <= y < h and 0 <= z < w else np.zeros((n, c), x.dtype))
            out[:, i, j, :] = np.concatenate(vals, axis=1)
    return out


@samples("ExtractImagePatches")
def _extract_image_patches():
    geoms = [([1, 2, 2, 1], [1, 1, 1, 1], [1, 1, 1, 1], "VALID"), ([1, 3, 2, 1], [1, 2, 3, 1], [1, 1, 2, 1], "SAME"),
             ([1, 2, 3, 1], [1, 2, 1, 1], [1, 2, 1, 1], "VALID")]
    return [Case(lambda x, g=g: tf.extract_image_patches(x, *g), [r(2, 5, 6, 2)], lambda x, g=g: _np_patches(x, *g),
                 dtypes=F16 if k == 0 else (_dt.float32, _dt.float64), name=f"{g[3]}{k}")
            for k, g in enumerate(geoms)]
