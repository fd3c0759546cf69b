"""Fast Fourier transforms over the innermost 1, 2 or 3 axes: FFT/IFFT (complex) and RFFT/IRFFT (real signals).

Kernels call `xp.fft` (numpy.fft on the CPU, cupy.fft / cuFFT on a GPU). RFFT and IRFFT take `fft_length`
(read on the host) and crop or zero-pad the input's transformed axes to it, as NumPy's `s` argument does.

Gradients are TF's: FFT's is n * IFFT(g); IFFT's is FFT(g) / n; IRFFT's is RFFT(g) / n with the interior
(Hermitian-paired) bins doubled; RFFT's is the real part of n * IFFT of g zero-extended to the full spectrum,
which equals TF's 0.5 * (n * IRFFT(g) + DC and Nyquist terms). Where `fft_length` crops or pads the input,
the gradient is cropped or zero-padded back to the input's shape (TF's raises a shape error there), and
RFFT3D/IRFFT3D get the same exact gradient, which TF does not register.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.constant_value import constant_value
from labflow.framework.registry import op
from labflow.framework.shapes import shape_str
from labflow.framework.tensor import Tensor
from labflow.ops.common import base, convert_to_tensor, dims, make_tensor
from labflow.ops.complex_ops import complex as _complex
from labflow.ops.complex_ops import real as _real
from labflow.ops.math_helpers import op_scope

__all__ = ["fft", "ifft", "fft2d", "ifft2d", "fft3d", "ifft3d"]

_REAL_OF = {_dt.complex64: _dt.float32, _dt.complex128: _dt.float64}
_COMPLEX_OF = {_dt.float32: _dt.complex64, _dt.float64: _dt.complex128}
_SUFFIX = {1: "", 2: "2D", 3: "3D"}


# -- shape functions --------------------------------------------------------------------------------
def _check_rank(t: Any, rank: int, op_type: str) -> tuple | None:
    d = dims(t)
    if d is not None and len(d) < rank:
        raise ValueError(f"Shape must be at least rank {rank} but is rank {len(d)}: {op_type} transforms the "
                         f"innermost {rank} dimension(s)")
    return d


def _complex_fft_shape(rank: int, op_type: str) -> Any:
    def shape(ins: list, attrs: dict) -> tuple:
        dt = base(ins[0])
        if dt not in _REAL_OF:
            raise TypeError(f"Value passed to parameter 'input' has DataType {dt.name} not in list of allowed "
                            f"values: complex64, complex128 (op {op_type}): convert real tensors with tf.complex "
                            "or tf.cast, or use the RFFT ops")
        attrs["Tcomplex"] = dt
        return dt, _check_rank(ins[0], rank, op_type)
    return shape


def _fft_lengths(t: Any, rank: int, op_type: str) -> list | None:
    d = dims(t)
    if d is not None and (len(d) != 1 or d[0] not in (None, rank)):
        raise ValueError(f"{op_type}: fft_length must be a vector of {rank} lengths, got shape {shape_str(d)}")
    v = constant_value(t)
    return None if v is None else [int(n) for n in np.reshape(v, [-1])]


def _real_fft_shape(rank: int, op_type: str, inverse: bool) -> Any:
    def shape(ins: list, attrs: dict) -> tuple:
        dt = base(ins[0])
        table = _REAL_OF if inverse else _COMPLEX_OF
        if dt not in table:
            want = "complex64, complex128" if inverse else "float32, float64"
            raise TypeError(f"Value passed to parameter 'input' has DataType {dt.name} not in list of allowed "
                            f"values: {want} (op {op_type})")
        if base(ins[1]) != _dt.int32:
            raise TypeError(f"{op_type}: fft_length must be int32, got {base(ins[1]).name}")
        out_dt = table[dt]
        attrs["Treal"], attrs["Tcomplex"] = (out_dt, dt) if inverse else (dt, out_dt)
        d = _check_rank(ins[0], rank, op_type)
        n = _fft_lengths(ins[1], rank, op_type)
        if d is None:
            return out_dt, None
        if n is None:
            return out_dt, d[:len(d) - rank] + (None,) * rank
        if any(v < 0 for v in n):
            raise ValueError(f"{op_type}: fft_length must not be negative, got {n}")
        last = n[-1] if inverse else n[-1] // 2 + 1
        return out_dt, d[:len(d) - rank] + tuple(n[:-1]) + (last,)
    return shape


# -- kernels ----------------------------------------------------------------------------------------
def _complex_kernel(rank: int, inverse: bool) -> Any:
    name = ("ifft" if inverse else "fft") + ("" if rank == 1 else "n")

    op_type = ("IFFT" if inverse else "FFT") + _SUFFIX[rank]

    def kernel(xp, input):
        _runtime_rank(input, rank, op_type)
        if input.size == 0:
            return input.copy()
        if rank == 1:
            out = getattr(xp.fft, name)(input, axis=-1)
        else:
            out = getattr(xp.fft, name)(input, axes=tuple(range(-rank, 0)))
        return xp.asarray(out).astype(input.dtype, copy=False)
    return kernel


def _runtime_rank(x: Any, rank: int, op_type: str) -> None:
    if x.ndim < rank:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: the input must have rank at least {rank}, got "
                                          f"shape {list(x.shape)}")


def _host_lengths(fft_length: Any, rank: int, op_type: str) -> list:
    n = [int(v) for v in np.reshape(fft_length, [-1])]
    if len(n) != rank or any(v < 0 for v in n):
        raise errors.InvalidArgumentError(None, None, f"{op_type}: fft_length must hold {rank} non-negative "
                                          f"lengths, got {n}")
    return n


def _real_kernel(rank: int, inverse: bool, op_type: str) -> Any:
    def kernel(xp, input, fft_length):
        _runtime_rank(input, rank, op_type)
        n = _host_lengths(fft_length, rank, op_type)
        lead = input.shape[:input.ndim - rank]
        if inverse:
            out_shape, out_dt = lead + tuple(n), input.real.dtype
        else:
            out_shape, out_dt = lead + tuple(n[:-1]) + (n[-1] // 2 + 1,), np.result_type(input.dtype, np.complex64)
        if 0 in out_shape or 0 in n or input.size == 0:
            # no points to transform, or only zero padding: the spectrum (or signal) is all zeros
            return xp.zeros(out_shape, dtype=out_dt)
        axes = tuple(range(-rank, 0))
        if inverse:
            out = xp.fft.irfftn(input, s=n, axes=axes)
        else:
            out = xp.fft.rfftn(input, s=n, axes=axes)
        return xp.asarray(out).astype(out_dt, copy=False)
    return kernel


# -- gradient helpers -------------------------------------------------------------------------------
def _inner_size(t: Tensor, rank: int, dtype: _dt.DType) -> Tensor:
    """The number of points of the innermost `rank` axes of `t`, as a scalar of `dtype`."""
    d = dims(t)
    if d is not None and None not in d[len(d) - rank:]:
        return convert_to_tensor(float(np.prod(d[len(d) - rank:], dtype=np.int64)), dtype=dtype)
    from labflow.ops import array_ops, compare_ops, reduction_ops
    inner = array_ops.shape(t)[-rank:]
    return compare_ops.cast(reduction_ops.reduce_prod(inner), dtype)


def _fit_to(g: Tensor, like: Tensor) -> Tensor:
    """`g` zero-padded and cropped at the end of each axis to the shape of `like` (a gradient flowing back
    through the crop/pad that fft_length applied to the input)."""
    gd, ld = dims(g), dims(like)
    if gd is not None and ld is not None and None not in gd and None not in ld:
        if gd == ld:
            return g
        from labflow.ops import array_ops
        pads = [[0, max(b - a, 0)] for a, b in zip(gd, ld)]
        if any(p[1] for p in pads):
            g = array_ops.pad(g, pads)
        if any(a > b for a, b in zip(gd, ld)):
            g = array_ops.slice(g, [0] * len(ld), list(ld))
        return g
    from labflow.ops import array_ops, math_ops
    target, cur = array_ops.shape(like), array_ops.shape(g)
    grow = math_ops.maximum(math_ops.subtract(target, cur), 0)
    g = array_ops.pad(g, array_ops.stack([array_ops.zeros_like(grow), grow], axis=1))
    out = array_ops.slice(g, array_ops.zeros_like(target), target)
    if ld is not None:
        out.set_shape(ld)
    return out


def _scale(t: Tensor, s: Tensor) -> Tensor:
    return make_tensor("Mul", [t, s])


def _complex_grad(rank: int, inverse: bool) -> Any:
    def grad_fn(op, grad):
        size = _inner_size(grad, rank, grad.dtype.base_dtype)
        if inverse:
            return [_scale(_transform(rank, False)(grad), make_tensor("Reciprocal", [size]))]
        return [_scale(_transform(rank, True)(grad), size)]
    return grad_fn


def _rfft_grad(rank: int) -> Any:
    def grad_fn(op, grad):
        # Re(A^H g) for A = the first n//2+1 bins of the full n-point transform: A^H g = size * IFFT(g padded
        # with zeros to the full spectrum). The doubled interior bins of TF's formula come from Re().
        from labflow.ops import array_ops, math_ops
        x, fft_length = op.inputs
        gd = dims(grad)
        n_static = constant_value(fft_length)
        if n_static is not None and gd is not None and gd[-1] is not None:
            extra = int(n_static[-1]) - gd[-1]
            full = grad if extra == 0 else array_ops.pad(grad, [[0, 0]] * (len(gd) - 1) + [[0, extra]])
        else:
            gs = array_ops.shape(grad)
            extra = array_ops.reshape(math_ops.subtract(fft_length[-1], gs[-1]), [1])
            pads = array_ops.stack([array_ops.zeros_like(gs), array_ops.concat([array_ops.zeros_like(gs[:-1]), extra],
                                                                               0)], axis=1)
            full = array_ops.pad(grad, pads)
        size = _inner_size(full, rank, grad.dtype.base_dtype)
        gx = _real(_scale(_transform(rank, True)(full), size))
        return [_fit_to(gx, x), None]
    return grad_fn


def _irfft_grad(rank: int) -> Any:
    def grad_fn(op, grad):
        # The c2r transform reads each interior bin twice (as itself and as its conjugate pair): doubled.
        from labflow.ops import array_ops, compare_ops, math_ops
        c, fft_length = op.inputs
        real_dt = grad.dtype.base_dtype
        n_last = fft_length[-1]
        k = array_ops.range(0, math_ops.add(math_ops.floordiv(n_last, 2), 1))
        single = math_ops.logical_or(math_ops.equal(k, 0), math_ops.equal(math_ops.multiply(k, 2), n_last))
        mask = array_ops.where(single, array_ops.ones_like(k), math_ops.multiply(array_ops.ones_like(k), 2))
        weights = math_ops.divide(compare_ops.cast(mask, real_dt), _inner_size(grad, rank, real_dt))
        spec = _RFFT_BY_RANK[rank](grad, fft_length)
        gc = _scale(spec, _complex(weights, array_ops.zeros_like(weights)))
        return [_fit_to(gc, c), None]
    return grad_fn


# -- registration -----------------------------------------------------------------------------------
def _register(rank: int) -> None:
    sfx = _SUFFIX[rank]
    for inverse in (False, True):
        t = ("IFFT" if inverse else "FFT") + sfx
        d = op(t, inputs=("input",), attrs={"Tcomplex": _dt.complex64}, shape=_complex_fft_shape(rank, t))(
            _complex_kernel(rank, inverse))
        d.grad(_complex_grad(rank, inverse))
        t = ("IRFFT" if inverse else "RFFT") + sfx
        d = op(t, inputs=("input", "fft_length"), attrs={"Treal": _dt.float32, "Tcomplex": _dt.complex64},
               shape=_real_fft_shape(rank, t, inverse), host_inputs=(1,))(_real_kernel(rank, inverse, t))
        d.grad(_irfft_grad(rank) if inverse else _rfft_grad(rank))


for _rank in (1, 2, 3):
    _register(_rank)


# -- public wrappers --------------------------------------------------------------------------------
def _transform(rank: int, inverse: bool) -> Any:
    t = ("IFFT" if inverse else "FFT") + _SUFFIX[rank]

    def fn(input: Any, name: str | None = None) -> Tensor:  # noqa: A002 - TF's argument name
        with op_scope(name, t, [input]) as scope:
            x = convert_to_tensor(input, name="input")
            return make_tensor(t, [x], None, scope)
    return fn


def _real_transform(rank: int, inverse: bool) -> Any:
    t = ("IRFFT" if inverse else "RFFT") + _SUFFIX[rank]

    def fn(input_tensor: Any, fft_length: Any = None, name: str | None = None) -> Tensor:
        with op_scope(name, t.lower(), [input_tensor, fft_length]) as scope:
            x = convert_to_tensor(input_tensor, dtype_hint=_dt.complex64 if inverse else _dt.float32,
                                  name="input_tensor")
            if x.dtype.base_dtype not in (_REAL_OF if inverse else _COMPLEX_OF):
                want = "tf.complex64 or tf.complex128" if inverse else "tf.float32 or tf.float64"
                raise ValueError(f"{t[:-2] if rank > 1 else t} requires {want} inputs, got: {x}")
            if fft_length is None:
                fft_length = _infer_fft_length(x, rank, inverse, t)
            n = convert_to_tensor(fft_length, dtype=_dt.int32, name="fft_length")
            return make_tensor(t, [x, n], None, scope)
    return fn


def _infer_fft_length(x: Tensor, rank: int, inverse: bool, op_type: str) -> Any:
    """TF's default fft_length: the input's inner dims; for an inverse, the last is 2 * (bins - 1)."""
    d = _check_rank(x, rank, op_type)
    if d is not None and None not in d[len(d) - rank:]:
        n = list(d[len(d) - rank:])
        if inverse:
            n[-1] = 2 * (n[-1] - 1)
        return np.array(n, np.int32)
    from labflow.ops import array_ops, math_ops
    inner = array_ops.shape(x)[-rank:]
    if not inverse:
        return inner
    last = math_ops.multiply(math_ops.subtract(inner[-1:], 1), 2)
    return array_ops.concat([inner[:-1], last], 0)


def _doc(fn: Any, name: str, text: str) -> Any:
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = text
    return fn


_C_DOC = """{what} over the innermost {rank} dimension(s) of a complex64/complex128 tensor (op type {t}).

    Args:
        input: a complex64 or complex128 tensor of rank >= {rank}.
        name: a name for the operation.

    Returns:
        A tensor of the same shape and dtype.

    Raises:
        TypeError: the input is not complex.
        ValueError: the input has rank < {rank}.
    """

_R_DOC = """{what} over the innermost {rank} dimension(s) (op type {t}).

    Args:
        input_tensor: {inp}.
        fft_length: int32 vector of {rank} transform lengths; the input's transformed dimensions are cropped or
            zero-padded to them{inner}. Default: {default}.
        name: a name for the operation.

    Returns:
        {out}.
    """

fft = _doc(_transform(1, False), "fft", _C_DOC.format(what="The discrete Fourier transform", rank=1, t="FFT"))
ifft = _doc(_transform(1, True), "ifft", _C_DOC.format(what="The inverse DFT", rank=1, t="IFFT"))
fft2d = _doc(_transform(2, False), "fft2d", _C_DOC.format(what="The 2-D DFT", rank=2, t="FFT2D"))
ifft2d = _doc(_transform(2, True), "ifft2d", _C_DOC.format(what="The inverse 2-D DFT", rank=2, t="IFFT2D"))
fft3d = _doc(_transform(3, False), "fft3d", _C_DOC.format(what="The 3-D DFT", rank=3, t="FFT3D"))
ifft3d = _doc(_transform(3, True), "ifft3d", _C_DOC.format(what="The inverse 3-D DFT", rank=3, t="IFFT3D"))


def _rdoc(rank: int, inverse: bool) -> str:
    t = ("IRFFT" if inverse else "RFFT") + _SUFFIX[rank]
    if inverse:
        return _R_DOC.format(what="The inverse DFT of a Hermitian spectrum, a real signal", rank=rank, t=t,
                             inp="a complex64/complex128 tensor holding the non-negative-frequency bins",
                             inner=" (the last one to fft_length[-1] // 2 + 1 bins)",
                             default="the inner dims, the last as 2 * (bins - 1)",
                             out="A float32 (complex64 input) or float64 tensor whose inner dims are fft_length")
    return _R_DOC.format(what="The DFT of a real signal, non-negative frequencies only", rank=rank, t=t,
                         inp="a float32 or float64 tensor", inner="", default="the input's inner dims",
                         out="A complex64 (float32 input) or complex128 tensor whose last dim is "
                             "fft_length[-1] // 2 + 1")


rfft = _doc(_real_transform(1, False), "rfft", _rdoc(1, False))
irfft = _doc(_real_transform(1, True), "irfft", _rdoc(1, True))
rfft2d = _doc(_real_transform(2, False), "rfft2d", _rdoc(2, False))
irfft2d = _doc(_real_transform(2, True), "irfft2d", _rdoc(2, True))
rfft3d = _doc(_real_transform(3, False), "rfft3d", _rdoc(3, False))
irfft3d = _doc(_real_transform(3, True), "irfft3d", _rdoc(3, True))

_RFFT_BY_RANK = {1: rfft, 2: rfft2d, 3: rfft3d}


def _shift(x: Any, axes: Any, name: str | None, default: str, sign: int) -> Tensor:
    from labflow.ops import array_ops, math_ops
    from labflow.ops.array_seq_ops import roll
    with op_scope(name, default, [x]):
        x = convert_to_tensor(x, name="x")
        d = dims(x)
        if axes is None:
            if d is None:
                raise ValueError(f"{default}: axes=None needs an input of known rank")
            axes = list(range(len(d)))
        ax = [int(a) for a in (axes if isinstance(axes, (list, tuple)) else [axes])]
        if d is not None and None not in [d[a] for a in ax]:
            shift = [sign * (d[a] // 2) for a in ax]
        else:
            s = array_ops.gather(array_ops.shape(x), ax)
            shift = math_ops.multiply(math_ops.floordiv(s, 2), sign)
        return roll(x, shift, ax)


def fftshift(x: Any, axes: Any = None, name: str | None = None) -> Tensor:
    """Moves the zero-frequency bin to the centre of `axes` (default: all), like numpy.fft.fftshift."""
    return _shift(x, axes, name, "fftshift", 1)


def ifftshift(x: Any, axes: Any = None, name: str | None = None) -> Tensor:
    """The inverse of `fftshift` (they differ for odd lengths), like numpy.fft.ifftshift."""
    return _shift(x, axes, name, "ifftshift", -1)
