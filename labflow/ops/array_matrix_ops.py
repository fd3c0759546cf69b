"""Matrix-shaped array ops: matrix_band_part, matrix_diag(_part), matrix_set_diag, diag, diag_part, eye,
einsum, tensordot and cross. tf.linalg re-exports several of them."""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.framework.shapes import broadcast_dims, shape_str
from labflow.framework.tensor import Tensor
from labflow.ops.array_ops import _int, _set_attrs, _shape_of, reshape, zeros_like
from labflow.ops.common import (
    ALL_TYPES,
    NUMERIC_TYPES,
    base,
    constant_value,
    convert_same_dtype,
    convert_to_tensor,
    dims,
    make_tensor,
    merge_dims,
)

__all__ = ["matrix_band_part", "matrix_diag", "matrix_diag_part", "matrix_set_diag", "diag", "diag_part", "eye",
           "einsum", "tensordot", "cross"]


def _at_least_rank(t: Tensor, r: int, op_type: str, what: str = "input") -> tuple | None:
    d = dims(t)
    if d is not None and len(d) < r:
        raise ValueError(f"Shape must be at least rank {r} but is rank {len(d)} for '{op_type}' (input '{what}' "
                         f"has shape {shape_str(d)})")
    return d


# -- MatrixBandPart -------------------------------------------------------------------------------------
def _band_shape(ins, attrs):
    x, lo, hi = ins
    _at_least_rank(x, 2, "MatrixBandPart")
    for t, what in ((lo, "num_lower"), (hi, "num_upper")):
        d = dims(t)
        if d is not None and len(d) != 0:
            raise ValueError(f"Shape must be rank 0 but is rank {len(d)} for 'MatrixBandPart' (input '{what}')")
    if base(lo) != base(hi):
        raise TypeError("MatrixBandPart: num_lower and num_upper must have the same dtype")
    _set_attrs(attrs, Tindex=base(lo))
    return base(x), dims(x)


@op("MatrixBandPart", inputs=("input", "num_lower", "num_upper"), attrs={"Tindex": None}, types=ALL_TYPES,
    type_inputs=("input",), shape=_band_shape, host_inputs=(1, 2))
def matrix_band_part_kernel(xp, input, num_lower, num_upper):
    m, n = input.shape[-2:]
    lo, hi = _int(num_lower), _int(num_upper)
    if lo > m:
        raise errors.InvalidArgumentError(None, None, f"MatrixBandPart: num_lower must be negative or less or equal "
                                          f"to number of rows ({m}) got: {lo}")
    if hi > n:
        raise errors.InvalidArgumentError(None, None, f"MatrixBandPart: num_upper must be negative or less or equal "
                                          f"to number of columns ({n}) got: {hi}")
    offset = xp.arange(n)[None, :] - xp.arange(m)[:, None]  # j - i
    keep = xp.ones((m, n), dtype=bool)
    if lo >= 0:
        keep &= offset >= -lo
    if hi >= 0:
        keep &= offset <= hi
    return xp.where(keep, input, xp.zeros((), dtype=input.dtype))


@matrix_band_part_kernel.grad
def _matrix_band_part_grad(op, grad):
    grad = convert_to_tensor(grad)
    return [matrix_band_part(grad, op.inputs[1], op.inputs[2]), None, None]


def matrix_band_part(input: Any, num_lower: Any, num_upper: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """Keeps a band of each innermost matrix and zeroes the rest.

    Entry (i, j) survives when `(num_lower < 0 or i - j <= num_lower) and (num_upper < 0 or
    j - i <= num_upper)`: (-1, 0) is the lower triangle, (0, -1) the upper, (0, 0) the diagonal.

    Args:
        input: tensor of rank >= 2.
        num_lower: scalar int: sub-diagonals to keep (negative: all).
        num_upper: scalar int: super-diagonals to keep (negative: all).
        name: op name (default "MatrixBandPart").
    """
    x = convert_to_tensor(input, name="input")
    lo = convert_to_tensor(num_lower, dtype_hint=_dt.int64, name="num_lower")
    hi = convert_to_tensor(num_upper, dtype=base(lo), name="num_upper")
    return make_tensor("MatrixBandPart", [x, lo, hi], None, name or "MatrixBandPart")


# -- MatrixDiag / MatrixDiagPart / MatrixSetDiag -----------------------------------------------------------
def _matrix_diag_shape(ins, attrs):
    d = _at_least_rank(ins[0], 1, "MatrixDiag", "diagonal")
    return base(ins[0]), None if d is None else d + d[-1:]


@op("MatrixDiag", inputs=("diagonal",), types=ALL_TYPES, shape=_matrix_diag_shape)
def matrix_diag_kernel(xp, diagonal):
    n = diagonal.shape[-1]
    out = xp.zeros(diagonal.shape + (n,), dtype=diagonal.dtype)
    i = xp.arange(n)
    out[..., i, i] = diagonal
    return out


def _matrix_diag_part_shape(ins, attrs):
    d = _at_least_rank(ins[0], 2, "MatrixDiagPart")
    if d is None:
        return base(ins[0]), None
    m, n = d[-2:]
    k = None if m is None or n is None else min(m, n)
    return base(ins[0]), d[:-2] + (k,)


@op("MatrixDiagPart", inputs=("input",), types=ALL_TYPES, shape=_matrix_diag_part_shape)
def matrix_diag_part_kernel(xp, input):
    return xp.diagonal(input, axis1=-2, axis2=-1).copy()


def _matrix_set_diag_shape(ins, attrs):
    x, d = ins
    xd = _at_least_rank(x, 2, "MatrixSetDiag")
    dd = _at_least_rank(d, 1, "MatrixSetDiag", "diagonal")
    if xd is not None and dd is not None:
        m, n = xd[-2:]
        k = None if m is None or n is None else min(m, n)
        try:
            merge_dims(dd, xd[:-2] + (k,))
        except ValueError:
            raise ValueError(f"MatrixSetDiag: diagonal must have shape input.shape[:-2] + [min(rows, cols)] = "
                             f"{shape_str(xd[:-2] + (k,))}, got {shape_str(dd)}") from None
    return base(x), xd


@op("MatrixSetDiag", inputs=("input", "diagonal"), types=ALL_TYPES, shape=_matrix_set_diag_shape)
def matrix_set_diag_kernel(xp, input, diagonal):
    k = min(input.shape[-2:])
    want = input.shape[:-2] + (k,)
    if diagonal.shape != want:
        raise errors.InvalidArgumentError(None, None, f"MatrixSetDiag: diagonal must have shape {list(want)} "
                                          f"(input.shape[:-2] + [min(rows, cols)]), got {list(diagonal.shape)}")
    out = xp.array(input, copy=True)
    i = xp.arange(k)
    out[..., i, i] = diagonal
    return out


@matrix_diag_kernel.grad
def _matrix_diag_grad(op, grad):
    grad = convert_to_tensor(grad)
    return [matrix_diag_part(grad)]


@matrix_diag_part_kernel.grad
def _matrix_diag_part_grad(op, grad):
    grad = convert_to_tensor(grad)
    return [matrix_set_diag(zeros_like(op.inputs[0]), grad)]


@matrix_set_diag_kernel.grad
def _matrix_set_diag_grad(op, grad):
    grad = convert_to_tensor(grad)
    return [matrix_set_diag(grad, zeros_like(op.inputs[1])), matrix_diag_part(grad)]


def matrix_diag(diagonal: Any, name: str | None = None) -> Tensor:
    """A batch of diagonal matrices: shape `diagonal.shape + [diagonal.shape[-1]]`."""
    return make_tensor("MatrixDiag", [convert_to_tensor(diagonal, name="diagonal")], None, name or "MatrixDiag")


def matrix_diag_part(input: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """The main diagonals of the innermost matrices: shape `input.shape[:-2] + [min(rows, cols)]`."""
    return make_tensor("MatrixDiagPart", [convert_to_tensor(input, name="input")], None, name or "MatrixDiagPart")


def matrix_set_diag(input: Any, diagonal: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """A copy of `input` whose innermost main diagonals are replaced by `diagonal`.

    `diagonal` has shape `input.shape[:-2] + [min(rows, cols)]`.
    """
    x, d = convert_same_dtype([input, diagonal])
    return make_tensor("MatrixSetDiag", [x, d], None, name or "MatrixSetDiag")


# -- Diag / DiagPart -------------------------------------------------------------------------------------
def _diag_shape(ins, attrs):
    d = dims(ins[0])
    if d is not None and len(d) == 0:
        raise ValueError("Shape must be at least rank 1 but is rank 0 for 'Diag' (input 'diagonal')")
    return base(ins[0]), None if d is None else d + d


@op("Diag", inputs=("diagonal",), types=NUMERIC_TYPES, shape=_diag_shape)
def diag_kernel(xp, diagonal):
    n = diagonal.size
    out = xp.zeros((n, n), dtype=diagonal.dtype)
    i = xp.arange(n)
    out[i, i] = diagonal.reshape(-1)
    return out.reshape(diagonal.shape + diagonal.shape)


def _diag_part_shape(ins, attrs):
    d = dims(ins[0])
    if d is None:
        return base(ins[0]), None
    if len(d) == 0 or len(d) % 2:
        raise ValueError(f"Input must have even rank >= 2 for 'DiagPart', got shape {shape_str(d)}")
    h = len(d) // 2
    try:
        return base(ins[0]), merge_dims(d[:h], d[h:])
    except ValueError:
        raise ValueError(f"DiagPart: the first half of the input shape must equal the second half, got "
                         f"{shape_str(d)}") from None


@op("DiagPart", inputs=("input",), types=NUMERIC_TYPES, shape=_diag_part_shape)
def diag_part_kernel(xp, input):
    h = input.ndim // 2
    if input.ndim % 2 or input.ndim == 0 or input.shape[:h] != input.shape[h:]:
        raise errors.InvalidArgumentError(None, None, f"DiagPart: input must have even rank and shape "
                                          f"[d..., d...], got {list(input.shape)}")
    n = int(np.prod(input.shape[:h], dtype=np.int64))
    return xp.diagonal(input.reshape(n, n)).reshape(input.shape[:h]).copy()


@diag_kernel.grad
def _diag_grad(op, grad):
    grad = convert_to_tensor(grad)
    return [diag_part(grad)]


@diag_part_kernel.grad
def _diag_part_grad(op, grad):
    grad = convert_to_tensor(grad)
    return [diag(grad)]


def diag(diagonal: Any, name: str | None = None) -> Tensor:
    """A tensor of shape `D + D` (D = diagonal.shape) with `diagonal` on its diagonal and zeros elsewhere."""
    return make_tensor("Diag", [convert_to_tensor(diagonal, name="diagonal")], None, name or "Diag")


def diag_part(input: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """The inverse of `diag`: from a tensor of shape `D + D`, the entries `input[i..., i...]` (shape D)."""
    return make_tensor("DiagPart", [convert_to_tensor(input, name="input")], None, name or "DiagPart")


# -- Cross ------------------------------------------------------------------------------------------------
def _cross_shape(ins, attrs):
    a, b = ins
    d = merge_dims(dims(a), dims(b))
    if d is not None and (len(d) == 0 or d[-1] not in (3, None)):
        raise ValueError(f"Cross: the inner dimension of a and b must be 3, got shapes {shape_str(dims(a))} and "
                         f"{shape_str(dims(b))}")
    return base(a), d


@op("Cross", inputs=("a", "b"), types=NUMERIC_TYPES, shape=_cross_shape)
def cross_kernel(xp, a, b):
    if a.shape != b.shape or a.ndim == 0 or a.shape[-1] != 3:
        raise errors.InvalidArgumentError(None, None, f"Cross: a and b must have one shape with an inner dimension "
                                          f"of 3, got {list(a.shape)} and {list(b.shape)}")
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return xp.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


@cross_kernel.grad
def _cross_grad(op, grad):
    grad = convert_to_tensor(grad)
    a, b = op.inputs
    return [cross(b, grad), cross(grad, a)]


def cross(a: Any, b: Any, name: str | None = None) -> Tensor:
    """The pairwise cross product of the 3-vectors in the last dimension of `a` and `b` (same shapes)."""
    x, y = convert_same_dtype([a, b])
    return make_tensor("Cross", [x, y], None, name or "Cross")


# -- eye (a composite, as in TF) -----------------------------------------------------------------------
def eye(num_rows: Any, num_columns: Any = None, batch_shape: Any = None, dtype: Any = _dt.float32,
        name: str | None = None) -> Tensor:
    """An identity matrix (or a batch of them) of shape `batch_shape + [num_rows, num_columns]`.

    Args:
        num_rows: int or scalar int32 tensor.
        num_columns: int or scalar tensor (default: num_rows).
        batch_shape: list of ints or 1-D int32 tensor of leading dimensions (default: none).
        dtype: element type (default float32).
        name: name scope (default "eye").
    """
    from labflow.ops.array_join_ops import concat
    from labflow.ops.array_ops import ones, zeros
    from labflow.ops.math_ops import minimum
    dt = _dt.as_dtype(dtype).base_dtype
    with name_scope(name, "eye", [num_rows, num_columns, batch_shape]):
        square = num_columns is None
        rows = convert_to_tensor(num_rows, dtype=_dt.int32, name="num_rows")
        cols = rows if square else convert_to_tensor(num_columns, dtype=_dt.int32, name="num_columns")
        batch = [] if batch_shape is None else batch_shape
        batch_t = convert_to_tensor(batch, dtype=_dt.int32, name="batch_shape")
        rv, cv, bv = constant_value(rows), constant_value(cols), constant_value(batch_t)
        if rv is not None and cv is not None and bv is not None:
            batch_l = [int(v) for v in np.reshape(bv, [-1])]
            r, c = int(rv), int(cv)
            if r < 0 or c < 0:
                raise ValueError(f"eye: num_rows and num_columns must be non-negative, got {r} and {c}")
            diag_shape = batch_l + [min(r, c)]
            if square:
                return matrix_diag(ones(diag_shape, dtype=dt))
            return matrix_set_diag(zeros(batch_l + [r, c], dtype=dt), ones(diag_shape, dtype=dt))
        n = rows if square else minimum(rows, cols)
        diag_shape_t = concat([batch_t, reshape(n, [1])], 0)
        if square:
            return matrix_diag(ones(diag_shape_t, dtype=dt))
        full = concat([batch_t, reshape(rows, [1]), reshape(cols, [1])], 0)
        return matrix_set_diag(zeros(full, dtype=dt), ones(diag_shape_t, dtype=dt))


# -- Einsum ------------------------------------------------------------------------------------------------
def _parse_einsum(equation: str, n: int) -> tuple[list[str], str | None]:
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    subs = lhs.split(",")
    if len(subs) != n:
        raise ValueError(f"einsum: equation '{equation}' names {len(subs)} inputs but {n} were given")
    for s in subs + ([rhs] if arrow else []):
        body = s.replace("...", "")
        if "." in body or not all(ch in string.ascii_letters for ch in body):
            raise ValueError(f"einsum: invalid subscripts '{s}' in equation '{equation}' (use letters and '...')")
    if arrow:
        used = set("".join(subs).replace(".", ""))
        body = rhs.replace("...", "")
        if len(set(body)) != len(body) or not set(body) <= used:
            raise ValueError(f"einsum: output subscripts '{rhs}' must be distinct letters of the inputs (equation "
                             f"'{equation}')")
    return subs, (rhs if arrow else None)


def _implicit_output(subs: list[str]) -> str:
    counts: dict[str, int] = {}
    for s in subs:
        for ch in s.replace("...", ""):
            counts[ch] = counts.get(ch, 0) + 1
    ell = "..." if any("..." in s for s in subs) else ""
    return ell + "".join(sorted(ch for ch, c in counts.items() if c == 1))


def _einsum_shape(ins, attrs):
    eq = attrs["equation"]
    subs, out = _parse_einsum(eq, len(ins))
    out = _implicit_output(subs) if out is None else out
    sizes: dict[str, Any] = {}
    ell: tuple | None = ()
    for t, s in zip(ins, subs):
        d, body = dims(t), s.replace("...", "")
        if d is None:
            if "..." in s:
                ell = None
            continue
        nell = len(d) - len(body)
        if nell < 0 or (nell and "..." not in s):
            raise ValueError(f"einsum: input with subscripts '{s}' has rank {len(d)}, which does not match "
                             f"(equation '{eq}')")
        if "..." in s:
            pre = s.index("...")
            ell = None if ell is None else broadcast_dims(ell, d[pre:pre + nell])
            d = d[:pre] + d[pre + nell:]
        for ch, v in zip(body, d):
            have = sizes.get(ch)
            if v is not None and have is not None and v != have:
                raise ValueError(f"einsum: dimension '{ch}' has sizes {have} and {v} (equation '{eq}')")
            sizes[ch] = v if v is not None else have
    pre = out.find("...")
    res = tuple(sizes.get(ch) for ch in out.replace("...", ""))
    if pre < 0:
        return base(ins[0]), res
    if ell is None:
        return base(ins[0]), None
    return base(ins[0]), res[:pre] + tuple(ell) + res[pre:]


@op("Einsum", inputs=("*inputs",), attrs={"equation": "", "N": None}, types=NUMERIC_TYPES, shape=_einsum_shape)
def einsum_kernel(xp, *inputs, equation):
    return xp.asarray(xp.einsum(equation, *inputs))


@einsum_kernel.grad
def _einsum_grad(op, grad):
    grad = convert_to_tensor(grad)
    from labflow.framework.gradients import unbroadcast
    from labflow.ops.array_ops import ones_like
    eq = op.get_attr("equation")
    xs = list(op.inputs)
    subs, out = _parse_einsum(eq, len(xs))
    out = _implicit_output(subs) if out is None else out
    grads = []
    for i, (x, s) in enumerate(zip(xs, subs)):
        body = s.replace("...", "")
        distinct = "".join(dict.fromkeys(body))
        if len(distinct) != len(body) and "..." in s:
            raise ValueError(f"Gradient of einsum '{op.name}' with both '...' and a repeated subscript in '{s}' is "
                             "not supported")
        # The gradient w.r.t. x's diagonal form (each repeated letter once); ones shaped like it carry the
        # letters that x alone sums over back into the product.
        xd = x if distinct == body else einsum(f"{s}->{distinct}", x)
        target = s if distinct == body else distinct
        others = [(t, ss) for j, (t, ss) in enumerate(zip(xs, subs)) if j != i]
        parts = [out] + [ss for _, ss in others] + [target]
        g = einsum(",".join(parts) + "->" + target, grad, *[t for t, _ in others], ones_like(xd))
        if distinct != body:
            g = _embed_diagonal(g, x, body)
        grads.append(unbroadcast(g, x) if "..." in s else g)
    return grads


def _embed_diagonal(g: Tensor, x: Tensor, subs: str) -> Tensor:
    """`g` (subscripts: the distinct letters of `subs`, in order) placed on the diagonals of a tensor shaped
    like `x` (subscripts `subs`, some repeated) and zero elsewhere."""
    from labflow.ops.array_join_ops import stack
    from labflow.ops.math_ops import multiply
    xs = _shape_of(x)
    first = {}
    for k, ch in enumerate(subs):
        first.setdefault(ch, k)
    one = convert_to_tensor(1, dtype=_dt.int32)
    # g with a size-1 axis at every repeated position, then masked by one identity per repeat
    out = reshape(g, stack([xs[k] if first[ch] == k else one for k, ch in enumerate(subs)]))
    for k, ch in enumerate(subs):
        if first[ch] != k:
            shape = [one] * len(subs)
            shape[first[ch]] = shape[k] = xs[k]
            out = multiply(out, reshape(eye(xs[k], dtype=base(g)), stack(shape)))
    return out


def einsum(equation: str, *inputs: Any, **kwargs: Any) -> Tensor:
    """Einstein summation, e.g. `einsum('ij,jk->ik', a, b)` (matmul) or `einsum('bij->bji', x)`.

    Subscripts are letters, with `...` for broadcast dimensions; without `->` the output holds the letters
    used once, in alphabetical order (NumPy's rule). Accepts `name=`.
    """
    name = kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"einsum: unexpected keyword arguments {sorted(kwargs)}")
    if len(inputs) == 1 and isinstance(inputs[0], (list, tuple)):
        inputs = tuple(inputs[0])
    if not inputs:
        raise ValueError("einsum: no input tensors given")
    ts = convert_same_dtype(list(inputs))
    _parse_einsum(equation, len(ts))
    return make_tensor("Einsum", ts, {"equation": equation.replace(" ", ""), "N": len(ts)}, name or "Einsum")


# -- tensordot (a composite of transpose, reshape and matmul, as in TF) ------------------------------------
def _axes_pair(axes: Any, ra: int, rb: int) -> tuple[list[int], list[int]]:
    if isinstance(axes, Tensor):
        v = constant_value(axes)
        if v is None:
            raise ValueError("tensordot: axes must be a Python int, a pair of lists or a constant tensor")
        axes = v.tolist()
    if isinstance(axes, (int, np.integer)):
        k = int(axes)
        if k < 0 or k > min(ra, rb):
            raise ValueError(f"tensordot: axes={k} must be in [0, {min(ra, rb)}] for inputs of rank {ra} and {rb}")
        return list(range(ra - k, ra)), list(range(k))
    if len(axes) != 2:
        raise ValueError(f"tensordot: axes must be an int or a pair of axis lists, got {axes!r}")
    a_ax, b_ax = ([int(v)] if np.ndim(v) == 0 else [int(u) for u in v] for v in axes)
    if len(a_ax) != len(b_ax):
        raise ValueError(f"tensordot: different number of contraction axes for a and b: {a_ax} vs {b_ax}")
    return [v % ra for v in a_ax], [v % rb for v in b_ax]


def tensordot(a: Any, b: Any, axes: Any, name: str | None = None) -> Tensor:
    """Contracts `a` and `b` over the given axes (NumPy's tensordot).

    Args:
        a, b: tensors of known rank.
        axes: an int N (last N axes of a with first N of b) or a pair `[a_axes, b_axes]`.
        name: name scope (default "Tensordot").

    Returns:
        A tensor of shape `free_a + free_b`.
    """
    from labflow.ops.array_gather_ops import gather
    from labflow.ops.array_join_ops import concat
    from labflow.ops.array_reshape_ops import transpose
    from labflow.ops.math_ops import matmul, reduce_prod
    with name_scope(name, "Tensordot", [a, b, axes]):
        at, bt = convert_same_dtype([a, b])
        ad, bd = dims(at), dims(bt)
        if ad is None or bd is None:
            raise ValueError("tensordot needs inputs of known rank")
        a_ax, b_ax = _axes_pair(axes, len(ad), len(bd))
        for x, y in zip(a_ax, b_ax):
            if ad[x] is not None and bd[y] is not None and ad[x] != bd[y]:
                raise ValueError(f"tensordot: contracted dimensions differ: a.shape[{x}] = {ad[x]} but "
                                 f"b.shape[{y}] = {bd[y]}")
        a_free = [i for i in range(len(ad)) if i not in a_ax]
        b_free = [i for i in range(len(bd)) if i not in b_ax]

        def flat(t, d, first, second, free):
            """t transposed to first + second and reshaped to 2-D; and its free dims (a list when static)."""
            perm = first + second
            moved = t if perm == list(range(len(d))) else transpose(t, perm)
            if all(v is not None for v in d):
                shape2 = [int(np.prod([d[i] for i in first], dtype=np.int64)),
                          int(np.prod([d[i] for i in second], dtype=np.int64))]
                return reshape(moved, shape2), [d[i] for i in free]
            s = _shape_of(t)
            p1 = reduce_prod(gather(s, first)) if first else 1
            p2 = reduce_prod(gather(s, second)) if second else 1
            return reshape(moved, [p1, p2]), gather(s, free) if free else None

        a2, a_out = flat(at, ad, a_free, a_ax, a_free)
        b2, b_out = flat(bt, bd, b_ax, b_free, b_free)
        prod = matmul(a2, b2)
        if isinstance(a_out, list) and isinstance(b_out, list):
            return reshape(prod, a_out + b_out)
        parts = [p if not isinstance(p, list) else convert_to_tensor(p, dtype=_dt.int32)
                 for p in (a_out, b_out) if p is not None]
        out = reshape(prod, concat(parts, 0) if parts else [])
        out.set_shape([ad[i] for i in a_free] + [bd[i] for i in b_free])
        return out
