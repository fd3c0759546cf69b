"""Feature crosses (TF 1.x `tf.sparse.cross`, `tf.sparse.cross_hashed`; op SparseCross): per batch row, every
combination of one value from each input, as "a_X_b" strings or as TF's FingerprintCat64 hashes."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.registry import REQUIRED, op
from labflow.framework.sparse_tensor import SparseTensor
from labflow.ops.common import base, convert_to_tensor, dims, make_op
from labflow.ops.sparse_indexing import check_triple, host, sparse_of

_MASK = (1 << 64) - 1
_MUL = 0xC6A4A7935BD1E995
_DEFAULT_HASH_KEY = 0xDECAFCAFFE  # TF's default for cross_hashed


def _shift_mix(v: int) -> int:
    return v ^ (v >> 47)


def fingerprint_cat64(fp1: int, fp2: int) -> int:
    """TF's FingerprintCat64: combines two 64-bit fingerprints (tensorflow/core/platform/fingerprint.h)."""
    result = fp1 ^ _MUL
    result ^= (_shift_mix((fp2 * _MUL) & _MASK) * _MUL) & _MASK
    result = (result * _MUL) & _MASK
    result = (_shift_mix(result) * _MUL) & _MASK
    return _shift_mix(result)


def _shape(ins, attrs):
    for t in ins[3 * attrs["N"]:]:
        d = dims(t)
        if d is not None and len(d) != 2:
            raise ValueError(f"SparseCross: a dense input must be a matrix [batch, n], got shape {list(d)}")
    return [(_dt.int64, (None, 2)), (attrs["out_type"], (None,)), (_dt.int64, (2,))]


@op("SparseCross", inputs=("*indices", "*values", "*shapes", "*dense_inputs"),
    attrs={"N": None, "hashed_output": REQUIRED, "num_buckets": REQUIRED, "hash_key": REQUIRED, "sparse_types": [],
           "dense_types": [], "out_type": REQUIRED, "internal_type": REQUIRED},
    shape=_shape, outputs=3, output_names=("output_indices", "output_values", "output_shape"),
    not_differentiable=True, devices=("CPU",))
def sparse_cross_kernel(xp, *args, N, hashed_output, num_buckets, hash_key, sparse_types, dense_types, out_type,
                        internal_type):
    columns, batch = [], None
    for k in range(N):
        idx, shp = check_triple("SparseCross", args[k], args[N + k], args[2 * N + k], f"sparse input {k}")
        if len(shp) != 2:
            raise errors.InvalidArgumentError(None, None, f"SparseCross: sparse input {k} must be rank 2 [batch, n], "
                                              f"got dense shape {shp}")
        vals = host(args[N + k]).tolist()
        per_row: list[list] = [[] for _ in range(shp[0])]
        for (b, _), v in zip(idx.tolist(), vals):
            per_row[b].append(v)
        columns.append(per_row)
        batch = shp[0] if batch is None else batch
    for k in range(len(dense_types)):
        d = host(args[3 * N + k])
        columns.append([list(r) for r in d.tolist()])
        batch = d.shape[0] if batch is None else batch
    if any(len(c) != batch for c in columns):
        raise errors.InvalidArgumentError(None, None, f"SparseCross: the inputs have different batch sizes "
                                          f"{[len(c) for c in columns]}; they must share one")
    out_idx, out_vals = [], []
    longest = 0
    for b in range(batch or 0):
        crosses = list(itertools.product(*(c[b] for c in columns)))
        longest = max(longest, len(crosses))
        for j, combo in enumerate(crosses):
            out_idx.append([b, j])
            out_vals.append(_hash(combo, num_buckets, hash_key) if hashed_output else _join(combo))
    if hashed_output:
        vals = np.asarray(out_vals, np.int64)
    else:
        vals = np.empty(len(out_vals), object)
        vals[:] = out_vals
    return (np.asarray(out_idx, np.int64).reshape(-1, 2), vals,
            np.asarray([batch or 0, longest], np.int64))


def _as_bytes(v: Any) -> bytes:
    return v if isinstance(v, bytes) else str(int(v)).encode()


def _join(combo: tuple) -> bytes:
    return b"_X_".join(_as_bytes(v) for v in combo)


def _hash(combo: tuple, num_buckets: int, hash_key: int) -> int:
    from labflow.ops.string_hashing import fingerprint64
    h = hash_key & _MASK
    for v in combo:
        f = fingerprint64(v) if isinstance(v, bytes) else int(v) & _MASK
        h = fingerprint_cat64(h, f)
    return h % num_buckets if num_buckets > 0 else h % ((1 << 63) - 1)


def _cross(inputs: list, hashed: bool, num_buckets: int, hash_key: int, name: str | None) -> SparseTensor:
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise TypeError("sparse.cross: inputs must be a non-empty list of SparseTensors and dense matrices")
    sparse = [x for x in inputs if isinstance(x, SparseTensor)]
    dense = [convert_to_tensor(x) for x in inputs if not isinstance(x, SparseTensor)]
    for t in [s.values for s in sparse] + dense:
        if base(t) not in (_dt.int64, _dt.string):
            raise TypeError(f"sparse.cross: inputs must hold int64 or string values, got {base(t).name}")
    # as in TF, the sparse inputs are crossed first, then the dense ones, whatever their order in `inputs`
    attrs = {"N": len(sparse), "hashed_output": hashed, "num_buckets": int(num_buckets),
             "hash_key": int(hash_key), "sparse_types": [base(s.values) for s in sparse],
             "dense_types": [base(d) for d in dense], "out_type": _dt.int64 if hashed else _dt.string,
             "internal_type": _dt.int64 if hashed else _dt.string}
    o = make_op("SparseCross", [s.indices for s in sparse] + [s.values for s in sparse] +
                [s.dense_shape for s in sparse] + dense, attrs, name or "SparseCross")
    return sparse_of(o)


def sparse_cross(inputs: list, name: str | None = None) -> SparseTensor:
    """The string crosses "a_X_b_X_..." of the inputs' values per batch row (`tf.sparse.cross`).

    Args:
        inputs: SparseTensors [batch, n] and dense matrices [batch, n] of int64 or string.
        name: a name for the op.
    """
    return _cross(inputs, False, 0, 0, name)


def sparse_cross_hashed(inputs: list, num_buckets: int = 0, hash_key: int | None = None,
                        name: str | None = None) -> SparseTensor:
    """The hashed crosses of the inputs' values per batch row, in [0, num_buckets) when num_buckets > 0
    (`tf.sparse.cross_hashed`; TF's FingerprintCat64 hashes, so the buckets match TF's)."""
    return _cross(inputs, True, num_buckets, _DEFAULT_HASH_KEY if hash_key is None else hash_key, name)
