"""Gamma and Poisson sampling (stateful, TF 1.x seeds) and the stateless random ops (a [2] seed tensor).

RandomGamma and RandomPoissonV2 draw from the per-session generator of random_ops (graph seed + op
seed as TF). The stateless ops are pure functions of (shape, seed): TF's Philox4x32-10 keyed by the
seed (labflow/ops/philox.py), so the same seed gives the same numbers in every session, process and
device. Compared with TensorFlow on CPU: StatelessRandomUniform (every float type), ...UniformInt,
...UniformFullInt (hence tf.random.split and fold_in), and float64 and float16 StatelessRandomNormal /
float64 StatelessTruncatedNormal give TF's values bit for bit. float32 normals match to one ulp: TF's
kernel goes through libm's logf/sinf/cosf, which are not correctly rounded, and about 1.5% of its values
differ from the correctly rounded ones computed here; a truncated normal can then, rarely, keep a
different draw. StatelessMultinomial is deterministic but does not reproduce TF's draws (TF's CPU
kernel consumes Philox counters per thread shard).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.ops import math_ops, philox
from labflow.ops.common import FLOAT_TYPES, INDEX_TYPES, base, constant_value, convert_to_tensor, dims, make_tensor
from labflow.ops.random_ops import _float_dtype, _rng, _seed_attrs, _shape_from_input, _shape_tensor

__all__ = ["random_gamma", "random_poisson"]

_RANDOM_FLOATS = (_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64)


def _concat_dims(a: tuple | None, b: tuple | None) -> tuple | None:
    return None if a is None or b is None else a + b


# -- RandomGamma ------------------------------------------------------------------------------------
def _gamma_shape(ins: list, attrs: dict) -> tuple:
    return base(ins[1]), _concat_dims(_shape_from_input(ins[0]), dims(ins[1]))


@op("RandomGamma", inputs=("shape", "alpha"), attrs={"seed": 0, "seed2": 0, "S": _dt.int32}, types=FLOAT_TYPES,
    type_inputs=("alpha",), shape=_gamma_shape, stateful=True, needs_ctx=True, host_inputs=(0,))
def random_gamma_kernel(xp, shape, alpha, *, seed, seed2, ctx):
    dims_ = tuple(int(s) for s in shape)
    a = alpha.astype(xp.float64)
    rng = _rng(xp, ctx, seed, seed2)
    if a.size == 0 or int(np.prod(dims_)) == 0:
        return xp.zeros(dims_ + alpha.shape, alpha.dtype)
    # alpha <= 0 (or nan) has no gamma distribution: TF returns nan there
    bad = ~(a > 0)
    safe = xp.where(bad, 1.0, a)
    out = rng.gen.standard_gamma(xp.broadcast_to(safe, dims_ + alpha.shape), size=dims_ + alpha.shape)
    out = xp.where(xp.broadcast_to(bad, out.shape), xp.nan, out)
    return out.astype(alpha.dtype)


@random_gamma_kernel.grad
def _random_gamma_grad(op, grad):
    # TF's implicit reparameterisation: d sample / d alpha from RandomGammaGrad, summed over the sample dims
    from labflow.ops import array_ops, reduction_ops
    from labflow.ops.array_join_ops import concat
    from labflow.ops.array_reshape_ops import range as range_
    shape, alpha = op.inputs
    sample = op.outputs[0]
    n = array_ops.shape(shape)[0]
    a_b = array_ops.reshape(alpha, concat([array_ops.ones([n], _dt.int32), array_ops.shape(alpha)], 0))
    partial = make_tensor("RandomGammaGrad", [a_b, sample], {"T": base(alpha)}, "RandomGammaGrad")
    return [None, reduction_ops.reduce_sum(grad * partial, axis=range_(n))]


def _gamma_grad_shape(ins: list, attrs: dict) -> tuple:
    from labflow.ops.common import broadcast_shape
    return broadcast_shape(ins, attrs)


@op("RandomGammaGrad", inputs=("alpha", "sample"), types=(_dt.float32, _dt.float64), shape=_gamma_grad_shape,
    not_differentiable=True, host_op=True)
def random_gamma_grad_kernel(xp, alpha, sample):
    """d sample / d alpha = -(dP(alpha, x)/d alpha) / p(x; alpha): the derivative of the regularized
    incomplete gamma function by a 5-point central difference in float64 (of Q = 1 - P in the upper
    tail), divided by the gamma density. TF computes the same quantity with Eigen's series; the two
    agree to about 1e-9 relative."""
    from scipy import special
    a, x = np.broadcast_arrays(alpha.astype(np.float64), sample.astype(np.float64))
    h = 1e-3 * np.maximum(a, 1e-2)
    h = np.minimum(h, 0.5 * a)
    # in the upper tail P is 1 - (tiny Q): differentiate -Q there, which keeps its relative precision
    upper = x > a + 1

    def cdf(shift: Any) -> Any:
        return np.where(upper, -special.gammaincc(a + shift, x), special.gammainc(a + shift, x))
    d = (-cdf(2 * h) + 8 * cdf(h) - 8 * cdf(-h) + cdf(-2 * h)) / (12 * h)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_pdf = (a - 1) * np.log(x) - x - special.gammaln(a)
        out = -d / np.exp(log_pdf)
    return np.where((a > 0) & (x > 0), out, np.nan).astype(alpha.dtype)


def random_gamma(shape: Any, alpha: Any, beta: Any = None, dtype: Any = _dt.float32, seed: int | None = None,
                 name: str | None = None) -> Any:
    """Samples from Gamma(alpha, beta) distributions (TF's `tf.random_gamma` / `tf.random.gamma`).

    Args:
        shape: the sample shape for each distribution (list of ints or 1-D int tensor).
        alpha: the concentration (shape) parameters; any shape, broadcast against beta.
        beta: the inverse scale (rate) parameters; default 1.
        dtype: half, float32 or float64.
        seed: the op seed (combined with the graph seed as in `tf.set_random_seed`).
        name: the name scope (default "random_gamma").

    Returns:
        A Tensor of shape `shape + broadcast(alpha, beta).shape`, at least the smallest positive
        normal of `dtype`. Differentiable w.r.t. alpha and beta (implicit reparameterisation, as TF).
    """
    dt = _float_dtype(dtype, "random_gamma")
    if dt == _dt.bfloat16:
        raise ValueError("random_gamma: dtype must be half, float32 or float64, got bfloat16")
    from labflow.ops import array_ops
    from labflow.ops.array_seq_ops import broadcast_dynamic_shape
    with name_scope(name, "random_gamma") as scope:
        s = _shape_tensor(shape)
        a = convert_to_tensor(alpha, dtype=dt, name="alpha")
        b = convert_to_tensor(1 if beta is None else beta, dtype=dt, name="beta")
        if beta is None:
            a_b = a
        elif a.get_shape().is_fully_defined() and b.get_shape().is_fully_defined():
            target = np.broadcast_shapes(tuple(a.get_shape().as_list()), tuple(b.get_shape().as_list()))
            a_b = array_ops.broadcast_to(a, list(target))
        else:
            a_b = array_ops.broadcast_to(a, broadcast_dynamic_shape(array_ops.shape(a), array_ops.shape(b)))
        sample = make_tensor("RandomGamma", [s, a_b], dict(_seed_attrs(seed), S=base(s), T=dt), "RandomGamma")
        tiny = np.finfo(dt.as_numpy_dtype).tiny
        return math_ops.maximum(tiny, math_ops.divide(sample, b), name=scope)


# -- RandomPoissonV2 --------------------------------------------------------------------------------
_POISSON_OUT = (_dt.float16, _dt.float32, _dt.float64, _dt.int32, _dt.int64)


def _poisson_shape(ins: list, attrs: dict) -> tuple:
    if base(ins[1]) not in _POISSON_OUT:
        raise TypeError(f"random_poisson: rate must be half, float32, float64, int32 or int64, got "
                        f"{base(ins[1]).name}")
    if attrs["dtype"] not in _POISSON_OUT:
        raise TypeError(f"random_poisson: dtype must be half, float32, float64, int32 or int64, got "
                        f"{attrs['dtype'].name}")
    return attrs["dtype"], _concat_dims(_shape_from_input(ins[0]), dims(ins[1]))


@op("RandomPoissonV2", inputs=("shape", "rate"), attrs={"seed": 0, "seed2": 0, "S": _dt.int32, "R": _dt.float64,
                                                         "dtype": _dt.int64},
    shape=_poisson_shape, stateful=True, needs_ctx=True, not_differentiable=True, host_inputs=(0,))
def random_poisson_kernel(xp, shape, rate, *, seed, seed2, dtype, ctx):
    dims_ = tuple(int(s) for s in shape)
    lam = rate.astype(xp.float64)
    out_shape = dims_ + rate.shape
    if int(np.prod(out_shape)) == 0:
        return xp.zeros(out_shape, dtype.as_numpy_dtype)
    bad = ~(lam >= 0)  # TF: a negative or nan rate gives nan (or the integer's minimum)
    lam_b = xp.broadcast_to(xp.where(bad, 0.0, lam), out_shape)
    out = _rng(xp, ctx, seed, seed2).gen.poisson(lam_b, size=out_shape).astype(xp.float64)
    npd = np.dtype(dtype.as_numpy_dtype)
    fill = np.nan if npd.kind == "f" else np.iinfo(npd).min
    return xp.where(xp.broadcast_to(bad, out_shape), fill, out).astype(npd)


def random_poisson(lam: Any, shape: Any, dtype: Any = _dt.float32, seed: int | None = None,
                   name: str | None = None) -> Any:
    """Samples from Poisson(lam) distributions (TF 1.x `tf.random_poisson`; op RandomPoissonV2).

    Args:
        lam: the rates (any shape; half, float32, float64, int32 or int64).
        shape: the sample shape for each rate.
        dtype: the output dtype (half, float32, float64, int32 or int64).
        seed: the op seed.
        name: the name scope (default "random_poisson").

    Returns:
        A Tensor of shape `shape + lam.shape`. Not differentiable (as in TF).
    """
    with name_scope(name, "random_poisson") as scope:
        s = _shape_tensor(shape)
        r = convert_to_tensor(lam, name="lam")
        if not r.dtype.is_floating and not r.dtype.is_integer:
            raise TypeError(f"random_poisson: lam must be a number tensor, got {base(r).name}")
        attrs = dict(_seed_attrs(seed), S=base(s), R=base(r), dtype=_dt.as_dtype(dtype).base_dtype)
        return make_tensor("RandomPoissonV2", [s, r], attrs, scope)


# -- the stateless ops ------------------------------------------------------------------------------
def _seed_check(seed: Any) -> None:
    d = dims(seed)
    if base(seed) not in INDEX_TYPES:
        raise TypeError(f"seed must be an int32 or int64 tensor of shape [2], got {base(seed).name}")
    if d is not None and (len(d) != 1 or d[0] not in (None, 2)):
        raise ValueError(f"seed must have shape [2], not {list(d)}")


_STATELESS_ATTRS = {"dtype": _dt.float32, "T": _dt.int32, "Tseed": _dt.int64}


def _stateless_shape(ins: list, attrs: dict) -> tuple:
    _seed_check(ins[1])
    dt = attrs["dtype"]
    if dt not in _RANDOM_FLOATS:
        raise TypeError(f"Value for attr 'dtype' of {dt.name} is not in the list of allowed values: "
                        "half, bfloat16, float, double")
    return dt, _shape_from_input(ins[0])


def _key_counter(seed: Any) -> tuple:
    s = np.asarray(seed.get() if hasattr(seed, "get") else seed).reshape(-1)
    if s.size != 2:
        raise errors.InvalidArgumentError(None, None, f"seed must have shape [2], not [{s.size}]")
    return philox.key_counter(int(s[0]), int(s[1]))


def _uniform_bits(xp: Any, seed: Any, n: int, per_block: int) -> Any:
    key, ctr = _key_counter(seed)
    return philox.blocks(xp, key, ctr, 0, -(-n // per_block))


def _dims(shape: Any) -> tuple:
    return tuple(int(s) for s in shape)


def _count(d: tuple) -> int:
    return int(np.prod(d)) if d else 1


def _floats(xp: Any, seed: Any, n: int, dtype: _dt.DType) -> Any:
    """n uniform [0, 1) values of `dtype` as TF's UniformDistribution makes them."""
    if dtype == _dt.float64:
        b = _uniform_bits(xp, seed, n, 2)
        return philox.uint64_to_double(xp, b[:, 0::2].reshape(-1), b[:, 1::2].reshape(-1))[:n]
    bits = _uniform_bits(xp, seed, n, 4).reshape(-1)[:n]
    if dtype == _dt.float16:
        return philox.uint32_to_half(xp, bits)
    if dtype == _dt.bfloat16:
        # TF's Uint16ToGfloat16: 7 random mantissa bits under exponent 0, minus 1 (exact in float32)
        f = ((bits & xp.uint32(0x7F)) << xp.uint32(16)) | xp.uint32(0x3F800000)
        return (f.view(xp.float32) - xp.float32(1.0)).astype(dtype.as_numpy_dtype)
    return philox.uint32_to_float(xp, bits)


@op("StatelessRandomUniform", inputs=("shape", "seed"), attrs=dict(_STATELESS_ATTRS), shape=_stateless_shape,
    not_differentiable=True, host_inputs=(0, 1))
def stateless_random_uniform_kernel(xp, shape, seed, *, dtype):
    d = _dims(shape)
    return _floats(xp, seed, _count(d), dtype).reshape(d)


def _normals(xp: Any, key: tuple, ctr: tuple, start: int, n_blocks: int, stride: int, double: bool) -> Any:
    """[n_blocks, k] normals from blocks counter + start + i * stride (k = 4 float, 2 double)."""
    b = philox.blocks(xp, key, ctr, start, n_blocks, stride)
    if double:
        f0, f1 = philox.box_muller_double(xp, b[:, 0], b[:, 1], b[:, 2], b[:, 3])
        return xp.stack([f0, f1], axis=1)
    f0, f1 = philox.box_muller_float(xp, b[:, 0::2], b[:, 1::2])
    return xp.stack([f0, f1], axis=2).reshape(n_blocks, 4)


@op("StatelessRandomNormal", inputs=("shape", "seed"), attrs=dict(_STATELESS_ATTRS), shape=_stateless_shape,
    not_differentiable=True, host_inputs=(0, 1))
def stateless_random_normal_kernel(xp, shape, seed, *, dtype):
    d = _dims(shape)
    n = _count(d)
    double = dtype == _dt.float64
    per = 2 if double else 4
    key, ctr = _key_counter(seed)
    out = _normals(xp, key, ctr, 0, -(-n // per), 1, double).reshape(-1)[:n]
    return out.astype(dtype.as_numpy_dtype).reshape(d)


@op("StatelessTruncatedNormal", inputs=("shape", "seed"), attrs=dict(_STATELESS_ATTRS),
    shape=_stateless_shape, not_differentiable=True, host_inputs=(0, 1))
def stateless_truncated_normal_kernel(xp, shape, seed, *, dtype):
    d = _dims(shape)
    n = _count(d)
    double = dtype == _dt.float64
    per = 2 if double else 4
    groups = -(-n // per)
    key, ctr = _key_counter(seed)
    # TF: output group i draws from its own stream at counter + i * (256 samples reserved per output, in
    # blocks of 4 samples), taking normals in order and keeping the first `per` with |x| < 2. Two blocks
    # per group nearly always suffice; more are drawn as needed.
    stride = per * 256 // 4
    vals = xp.zeros((groups, 0), xp.float64 if double else xp.float32)
    used = 0
    while True:
        more = _normals(xp, key, ctr, used, groups, stride, double) if groups else vals
        vals = xp.concatenate([vals, more], axis=1) if groups else vals
        used += 1
        keep = xp.abs(vals) < 2.0
        if used >= 2 and (groups == 0 or int(keep.sum(axis=1).min()) >= per):
            break
        if used >= stride:  # past the reserved blocks: with P(|x| < 2) = 0.95 this never happens
            raise errors.InternalError(None, None, "StatelessTruncatedNormal: ran out of reserved samples")
    rank = xp.cumsum(keep, axis=1) - 1
    cols = [xp.sum(xp.where(keep & (rank == k), vals, 0), axis=1) for k in range(per)]
    out = xp.stack(cols, axis=1).reshape(-1)[:n] if groups else vals.reshape(-1)
    return out.astype(dtype.as_numpy_dtype).reshape(d)


def _stateless_int_shape(ins: list, attrs: dict) -> tuple:
    _seed_check(ins[1])
    lo, hi = ins[2], ins[3]
    for nm, t in (("minval", lo), ("maxval", hi)):
        if dims(t) is not None and len(dims(t)) != 0:
            raise ValueError(f"{nm} must be a scalar, got rank {len(dims(t))}")
    if base(lo) not in INDEX_TYPES or base(hi) != base(lo):
        raise TypeError(f"minval and maxval must both be int32 or int64, got {base(lo).name} and {base(hi).name}")
    return base(lo), _shape_from_input(ins[0])


@op("StatelessRandomUniformInt", inputs=("shape", "seed", "minval", "maxval"),
    attrs=dict(_STATELESS_ATTRS, dtype=_dt.int32), shape=_stateless_int_shape, not_differentiable=True,
    host_inputs=(0, 1, 2, 3))
def stateless_random_uniform_int_kernel(xp, shape, seed, minval, maxval, *, dtype):
    lo, hi = int(minval), int(maxval)
    if lo >= hi:
        raise errors.InvalidArgumentError(None, None, f"StatelessRandomUniformInt: need minval < maxval, got "
                                          f"{lo} >= {hi}")
    d = _dims(shape)
    wide = dtype == _dt.int64
    bits = _int_bits(xp, seed, _count(d), wide)
    # TF: lo + bits % range in the unsigned type of the output's width, wrapping into the signed type
    off = bits % xp.uint64(hi - lo) + xp.uint64(lo & 0xFFFFFFFFFFFFFFFF)
    return (off.view(xp.int64) if wide else off.astype(xp.uint32).view(xp.int32)).reshape(d)


def _int_bits(xp: Any, seed: Any, n: int, wide: bool) -> Any:
    """n random integers as uint64: one Philox word each, or two (low, high) for 64-bit outputs."""
    if not wide:
        return _uniform_bits(xp, seed, n, 4).reshape(-1)[:n].astype(xp.uint64)
    b = _uniform_bits(xp, seed, n, 2)
    return (b[:, 0::2].reshape(-1).astype(xp.uint64) | (b[:, 1::2].reshape(-1).astype(xp.uint64)
                                                        << xp.uint64(32)))[:n]


_FULL_INT_TYPES = (_dt.int32, _dt.int64, _dt.uint32, _dt.uint64)


def _full_int_shape(ins: list, attrs: dict) -> tuple:
    _seed_check(ins[1])
    if attrs["dtype"] not in _FULL_INT_TYPES:
        raise TypeError(f"StatelessRandomUniformFullInt: dtype must be int32, int64, uint32 or uint64, got "
                        f"{attrs['dtype'].name}")
    return attrs["dtype"], _shape_from_input(ins[0])


@op("StatelessRandomUniformFullInt", inputs=("shape", "seed"), attrs=dict(_STATELESS_ATTRS, dtype=_dt.uint64),
    shape=_full_int_shape, not_differentiable=True, host_inputs=(0, 1))
def stateless_random_uniform_full_int_kernel(xp, shape, seed, *, dtype):
    d = _dims(shape)
    npd = np.dtype(dtype.as_numpy_dtype)
    bits = _int_bits(xp, seed, _count(d), npd.itemsize == 8)
    return (bits if npd.itemsize == 8 else bits.astype(xp.uint32)).view(npd).reshape(d)


def _stateless_multinomial_shape(ins: list, attrs: dict) -> tuple:
    _seed_check(ins[2])
    d = dims(ins[0])
    if d is not None and len(d) != 2:
        raise ValueError(f"logits must be 2-D [batch_size, num_classes], got rank {len(d)}")
    n = constant_value(ins[1])
    if n is not None and int(n) < 0:
        raise ValueError(f"num_samples should be nonnegative, got {int(n)}")
    if attrs["output_dtype"] not in INDEX_TYPES:
        raise TypeError(f"output_dtype must be int32 or int64, got {attrs['output_dtype'].name}")
    return attrs["output_dtype"], (None if d is None else d[0], None if n is None else int(n))


@op("StatelessMultinomial", inputs=("logits", "num_samples", "seed"),
    attrs={"output_dtype": _dt.int64, "Tseed": _dt.int64}, types=FLOAT_TYPES, type_inputs=("logits",),
    shape=_stateless_multinomial_shape, not_differentiable=True,
    host_inputs=(1, 2))
def stateless_multinomial_kernel(xp, logits, num_samples, seed, *, output_dtype):
    from labflow.ops.random_ops import categorical_samples
    return categorical_samples(xp, logits, num_samples, output_dtype, "StatelessMultinomial",
                               lambda shape: _floats(xp, seed, shape[0] * shape[1], _dt.float64).reshape(shape))


# -- stateless wrappers (tf.random.stateless_*) -------------------------------------------------------
def _seed_tensor(seed: Any) -> Any:
    t = convert_to_tensor(seed, dtype_hint=_dt.int32, name="seed")
    _seed_check(t)
    return t


def stateless_random_uniform(shape: Any, seed: Any, minval: Any = 0, maxval: Any = None, dtype: Any = _dt.float32,
                             name: str | None = None) -> Any:
    """Deterministic uniform values in [minval, maxval) for a [2] seed (TF's `tf.random.stateless_uniform`).

    Same (shape, seed, dtype): the same values in every session and process, equal to TensorFlow's.
    Integer dtypes (int32/int64) need maxval, or minval=None and maxval=None for integers over the
    dtype's whole range (also uint32/uint64; op StatelessRandomUniformFullInt); floats default to [0, 1).

    Raises:
        ValueError: an integer dtype without maxval, a seed not of shape [2], or an unsupported dtype.
    """
    dt = _dt.as_dtype(dtype).base_dtype
    if dt.is_integer and minval is None and maxval is None:
        if dt not in _FULL_INT_TYPES:
            raise ValueError(f"stateless_random_uniform: invalid dtype {dt.name} for the full integer range (use "
                             "int32, int64, uint32 or uint64)")
        with name_scope(name, "stateless_random_uniform") as scope:
            s = _shape_tensor(shape)
            sd = _seed_tensor(seed)
            return make_tensor("StatelessRandomUniformFullInt", [s, sd],
                               {"dtype": dt, "T": base(s), "Tseed": base(sd)}, scope)
    if dt not in _RANDOM_FLOATS + INDEX_TYPES:
        raise ValueError(f"stateless_random_uniform: invalid dtype {dt.name} (use a float type, int32 or int64)")
    if maxval is None:
        if dt.is_integer:
            raise ValueError(f"Must specify maxval for integer dtype {dt.name}")
        maxval = 1
    with name_scope(name, "stateless_random_uniform") as scope:
        s = _shape_tensor(shape)
        sd = _seed_tensor(seed)
        lo = convert_to_tensor(minval, dtype=dt, name="min")
        hi = convert_to_tensor(maxval, dtype=dt, name="max")
        if dt.is_integer:
            return make_tensor("StatelessRandomUniformInt", [s, sd, lo, hi],
                               {"dtype": dt, "T": base(s), "Tseed": base(sd)}, scope)
        rnd = make_tensor("StatelessRandomUniform", [s, sd], {"dtype": dt, "T": base(s), "Tseed": base(sd)},
                          "StatelessRandomUniform")
        return math_ops.add(math_ops.multiply(rnd, math_ops.subtract(hi, lo)), lo, name=scope)


def _stateless_scaled(op_type: str, default: str, shape: Any, seed: Any, mean: Any, stddev: Any, dtype: Any,
                      name: str | None) -> Any:
    dt = _float_dtype(dtype, default)
    with name_scope(name, default) as scope:
        s = _shape_tensor(shape)
        sd = _seed_tensor(seed)
        m = convert_to_tensor(mean, dtype=dt, name="mean")
        sdev = convert_to_tensor(stddev, dtype=dt, name="stddev")
        rnd = make_tensor(op_type, [s, sd], {"dtype": dt, "T": base(s), "Tseed": base(sd)}, op_type)
        return math_ops.add(math_ops.multiply(rnd, sdev), m, name=scope)


def stateless_random_normal(shape: Any, seed: Any, mean: Any = 0.0, stddev: Any = 1.0, dtype: Any = _dt.float32,
                            name: str | None = None) -> Any:
    """Deterministic normal values for a [2] seed (TF's `tf.random.stateless_normal`).

    float64 values equal TensorFlow's bit for bit; float32 ones to one ulp (see the module notes).
    """
    return _stateless_scaled("StatelessRandomNormal", "stateless_random_normal", shape, seed, mean, stddev, dtype,
                             name)


def stateless_truncated_normal(shape: Any, seed: Any, mean: Any = 0.0, stddev: Any = 1.0,
                               dtype: Any = _dt.float32, name: str | None = None) -> Any:
    """Deterministic normal values within 2 stddev of the mean for a [2] seed
    (TF's `tf.random.stateless_truncated_normal`, TF's rejection order)."""
    return _stateless_scaled("StatelessTruncatedNormal", "stateless_truncated_normal", shape, seed, mean, stddev,
                             dtype, name)


def split(seed: Any, num: int = 2, alg: str = "auto_select") -> Any:
    """`num` new seeds derived from `seed` (TF's `tf.random.split`): a [num, 2] tensor of seed's dtype.

    Equals TensorFlow's result for the same seed (full-range stateless integers).
    """
    del alg  # labflow has one algorithm: Philox, TF's choice on CPU
    sd = _seed_tensor(seed)
    return stateless_random_uniform([num, 2], sd, minval=None, maxval=None, dtype=base(sd), name="split")


def fold_in(seed: Any, data: Any, alg: str = "auto_select") -> Any:
    """A new seed from `seed` and an integer `data` (TF's `tf.random.fold_in`): [random int, data]."""
    del alg
    d = convert_to_tensor(data, dtype_hint=_dt.int32, name="data")
    if base(d) not in INDEX_TYPES:
        raise TypeError(f"fold_in: data must be int32 or int64, got {base(d).name}")
    from labflow.ops.array_join_ops import stack
    first = stateless_random_uniform([], seed, minval=None, maxval=None, dtype=base(d), name="fold_in")
    return stack([first, d])


def stateless_multinomial(logits: Any, num_samples: Any, seed: Any, output_dtype: Any = _dt.int64,
                          name: str | None = None) -> Any:
    """Deterministic samples from categorical distributions for a [2] seed (TF's
    `tf.random.stateless_multinomial`): [batch_size, num_samples] class indices. The draws are
    reproducible in labflow but are not the ones TensorFlow draws."""
    with name_scope(name, "stateless_multinomial") as scope:
        lg = convert_to_tensor(logits, name="logits")
        n = convert_to_tensor(num_samples, dtype=_dt.int32, name="num_samples")
        sd = _seed_tensor(seed)
        return make_tensor("StatelessMultinomial", [lg, n, sd],
                           {"output_dtype": _dt.as_dtype(output_dtype).base_dtype, "Tseed": base(sd)}, scope)


def stateless_categorical(logits: Any, num_samples: Any, seed: Any, dtype: Any = _dt.int64,
                          name: str | None = None) -> Any:
    """`stateless_multinomial` under its TF 1.13+ name (`dtype` is the output dtype)."""
    return stateless_multinomial(logits, num_samples, seed, output_dtype=dtype, name=name)

