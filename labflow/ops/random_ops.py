"""Random ops (normal, truncated normal, uniform, shuffle, multinomial) and TF1's seed rules.

Seeds follow TF 1.x exactly: `tf.set_random_seed(s)` sets the graph seed; `get_seed(op_seed)` turns
(graph seed, op seed) into the op's `seed`/`seed2` attrs. Each random op keeps its generator in the
session device's ResourceMgr under "rng/<node name>", seeded from (seed, seed2): the same program
draws the same numbers in every new session and every process, while successive runs within one
session continue the sequence. seed = seed2 = 0 means "seed from OS entropy" (nondeterministic).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import get_default_graph, name_scope
from labflow.framework.registry import op
from labflow.framework.shapes import TensorShape
from labflow.ops import math_ops
from labflow.ops.common import (
    FLOAT_TYPES,
    INDEX_TYPES,
    base,
    constant_shape,
    constant_value,
    convert_to_tensor,
    dims,
    make_tensor,
)

__all__ = ["set_random_seed", "get_seed", "random_normal", "truncated_normal", "random_uniform",
           "random_shuffle", "multinomial"]

DEFAULT_GRAPH_SEED = 87654321
_MAXINT32 = 2**31 - 1
_RANDOM_FLOATS = (_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64)


# -- seeds ------------------------------------------------------------------------------------------
def set_random_seed(seed: int | None) -> None:
    """Sets the graph-level random seed of the default graph (TF1 `tf.set_random_seed`).

    Random ops created afterwards without an op seed get one derived from the graph seed and the
    number of ops in the graph so far, so a whole program becomes repeatable.

    Args:
        seed: an int, or None to clear the graph seed.
    """
    get_default_graph().seed = seed


def _truncate_seed(seed: int) -> int:
    return int(seed) % _MAXINT32  # fit a 32-bit signed int, as TF does


def get_seed(op_seed: int | None) -> tuple[int | None, int | None]:
    """TF1's `random_seed.get_seed`: the (graph seed, op seed) pair a random op is created with.

    - graph seed set, op seed None: the op seed is the id of the graph's last created op;
    - graph seed None, op seed set: the graph seed is DEFAULT_GRAPH_SEED (87654321);
    - both None: (None, None), i.e. nondeterministic;
    - (0, 0) becomes (0, 2**31 - 1), since the kernels read (0, 0) as "nondeterministic".
    """
    g = get_default_graph()
    global_seed = g.seed
    if global_seed is not None:
        if op_seed is None:
            op_seed = g._next_id  # TF's graph._last_id: the id of the most recently created op
        seeds = _truncate_seed(global_seed), _truncate_seed(op_seed)
    elif op_seed is not None:
        seeds = DEFAULT_GRAPH_SEED, _truncate_seed(op_seed)
    else:
        seeds = None, None
    if seeds == (0, 0):
        return 0, _MAXINT32
    return seeds


def _seed_attrs(seed: int | None) -> dict:
    s1, s2 = get_seed(seed)
    return {"seed": s1 or 0, "seed2": s2 or 0}


# -- generators (per session, per node) -------------------------------------------------------------
class _Rng:
    """A seeded generator over either array module (NumPy's Philox, or CuPy's RandomState)."""

    __slots__ = ("gen", "host")

    def __init__(self, xp: Any, seed: int, seed2: int):
        self.host = xp is np
        if seed == 0 and seed2 == 0:
            ss = np.random.SeedSequence()  # OS entropy: TF's "no seed given"
        else:
            ss = np.random.SeedSequence([int(seed), int(seed2)])
        if self.host:
            self.gen = np.random.Generator(np.random.Philox(ss))
        else:
            self.gen = xp.random.RandomState(int(ss.generate_state(1, np.uint32)[0]))

    def normal(self, shape: tuple, np_dtype: Any) -> Any:
        dt = np_dtype if np_dtype in (np.float32, np.float64) else np.float32
        return self.gen.standard_normal(shape, dtype=dt)

    def uniform(self, shape: tuple, np_dtype: Any) -> Any:
        dt = np_dtype if np_dtype in (np.float32, np.float64) else np.float32
        return self.gen.random(shape, dtype=dt) if self.host else self.gen.random_sample(shape, dtype=dt)

    def integers(self, lo: int, hi: int, shape: tuple, np_dtype: Any) -> Any:
        if self.host:
            return self.gen.integers(lo, hi, size=shape, dtype=np_dtype)
        return self.gen.randint(lo, hi, size=shape, dtype=np_dtype)

    def permutation(self, n: int) -> Any:
        return self.gen.permutation(n)


def _rng(xp: Any, ctx: Any, seed: int, seed2: int) -> _Rng:
    r = ctx.state  # cached per compiled plan; every plan of a session shares the device's generator
    if r is None:
        r = ctx.state = ctx.resources.lookup_or_create("", "rng/" + ctx.name, lambda: _Rng(xp, seed, seed2))
    return r


def _dims_of(shape: Any) -> tuple:
    return tuple(int(s) for s in shape)


# -- shape functions --------------------------------------------------------------------------------
def _shape_from_input(t: Any) -> tuple | None:
    d = dims(t)
    if d is not None and len(d) != 1:
        raise ValueError(f"Shape must be rank 1 but is rank {len(d)}")
    if base(t) not in INDEX_TYPES:
        raise TypeError(f"Value passed to parameter 'shape' has DataType {base(t).name} not in list of "
                        "allowed values: int32, int64")
    v = constant_value(t)
    if v is not None and (np.asarray(v) < 0).any():
        raise ValueError(f"Shape dimensions must be non-negative, got {np.asarray(v).tolist()}")
    out = constant_shape(t)
    if out is None and d is not None and d[0] is not None:
        out = (None,) * d[0]
    return out


def _random_shape(ins, attrs):
    dt = attrs["dtype"]
    if dt not in _RANDOM_FLOATS:
        allowed = ", ".join(d.name for d in _RANDOM_FLOATS)
        raise TypeError(f"Value for attr 'dtype' of {dt.name} is not in the list of allowed values: "
                        f"{allowed}")
    return dt, _shape_from_input(ins[0])


_RANDOM_ATTRS = {"seed": 0, "seed2": 0, "dtype": _dt.float32}


# -- RandomStandardNormal ---------------------------------------------------------------------------
@op("RandomStandardNormal", inputs=("shape",), attrs=dict(_RANDOM_ATTRS), types=INDEX_TYPES,
    shape=_random_shape, stateful=True, needs_ctx=True, not_differentiable=True, host_inputs=(0,))
def random_standard_normal_kernel(xp, shape, *, seed, seed2, dtype, ctx):
    npd = dtype.as_numpy_dtype
    return _rng(xp, ctx, seed, seed2).normal(_dims_of(shape), npd).astype(npd, copy=False)


# -- TruncatedNormal --------------------------------------------------------------------------------
@op("TruncatedNormal", inputs=("shape",), attrs=dict(_RANDOM_ATTRS), types=INDEX_TYPES, shape=_random_shape,
    stateful=True, needs_ctx=True, not_differentiable=True, host_inputs=(0,))
def truncated_normal_kernel(xp, shape, *, seed, seed2, dtype, ctx):
    npd = dtype.as_numpy_dtype
    rng = _rng(xp, ctx, seed, seed2)
    out = rng.normal(_dims_of(shape), npd)
    flat = out.reshape(-1)
    # Redraw the values outside two standard deviations; each round rejects ~4.6% of the previous.
    bad = xp.flatnonzero(xp.abs(flat) > 2)
    while bad.size:
        flat[bad] = rng.normal((int(bad.size),), flat.dtype.type)
        bad = bad[xp.abs(flat[bad]) > 2]
    return out.astype(npd, copy=False)


# -- RandomUniform ----------------------------------------------------------------------------------
# Mantissa bits + 1 of the 16-bit floats: a float32 draw floored onto that grid stays below 1.0.
_GRID = {np.dtype(np.float16): 2.0**11, np.dtype(_dt.bfloat16.as_numpy_dtype): 2.0**8}


@op("RandomUniform", inputs=("shape",), attrs=dict(_RANDOM_ATTRS), types=INDEX_TYPES, shape=_random_shape,
    stateful=True, needs_ctx=True, not_differentiable=True, host_inputs=(0,))
def random_uniform_kernel(xp, shape, *, seed, seed2, dtype, ctx):
    npd = np.dtype(dtype.as_numpy_dtype)
    u = _rng(xp, ctx, seed, seed2).uniform(_dims_of(shape), npd.type)
    grid = _GRID.get(npd)
    if grid is not None:
        u = xp.floor(u * grid) / grid  # [0, 1) exactly, even after rounding to 16 bits
    return u.astype(npd, copy=False)


def _uniform_int_shape(ins, attrs):
    s, lo, hi = ins
    for nm, t in (("minval", lo), ("maxval", hi)):
        d = dims(t)
        if d is not None and len(d) != 0:
            raise ValueError(f"Shape must be rank 0 but is rank {len(d)} (the {nm} argument)")
    if base(lo) != base(hi):
        raise TypeError(f"Input 'maxval' of 'RandomUniformInt' Op has type {base(hi).name} that does not "
                        f"match type {base(lo).name} of argument 'minval'.")
    if base(lo) not in INDEX_TYPES:
        raise TypeError(f"Value passed to parameter 'minval' has DataType {base(lo).name} not in list of "
                        "allowed values: int32, int64")
    return base(lo), _shape_from_input(s)


@op("RandomUniformInt", inputs=("shape", "minval", "maxval"),
    attrs={"seed": 0, "seed2": 0, "Tout": _dt.int32},
    types=INDEX_TYPES, type_inputs=("shape",), shape=_uniform_int_shape, stateful=True, needs_ctx=True,
    not_differentiable=True, host_inputs=(0, 1, 2))
def random_uniform_int_kernel(xp, shape, minval, maxval, *, seed, seed2, Tout, ctx):
    lo, hi = int(minval), int(maxval)
    if lo >= hi:
        raise errors.InvalidArgumentError(None, None, f"Need minval < maxval: {lo} >= {hi}")
    return _rng(xp, ctx, seed, seed2).integers(lo, hi, _dims_of(shape), Tout.as_numpy_dtype)


# -- RandomShuffle ----------------------------------------------------------------------------------
@op("RandomShuffle", inputs=("value",), attrs={"seed": 0, "seed2": 0},
    shape=lambda ins, attrs: (base(ins[0]), dims(ins[0])), stateful=True, needs_ctx=True,
    not_differentiable=True)
def random_shuffle_kernel(xp, value, *, seed, seed2, ctx):
    if value.ndim == 0 or value.shape[0] <= 1:
        return value.copy()
    return value[_rng(xp, ctx, seed, seed2).permutation(value.shape[0])]


# -- Multinomial ------------------------------------------------------------------------------------
def _multinomial_shape(ins, attrs):
    d = dims(ins[0])
    if d is not None and len(d) != 2:
        raise ValueError(f"Shape must be rank 2 but is rank {len(d)}")
    nd = dims(ins[1])
    if nd is not None and len(nd) != 0:
        raise ValueError(f"Shape must be rank 0 but is rank {len(nd)}")
    n = constant_value(ins[1])
    if n is not None and int(n) < 0:
        raise ValueError(f"num_samples should be nonnegative, got {int(n)}")
    out_dt = attrs["output_dtype"]
    if out_dt not in INDEX_TYPES:
        raise TypeError(f"Value for attr 'output_dtype' of {out_dt.name} is not in the list of allowed "
                        "values: int32, int64")
    return out_dt, (None if d is None else d[0], None if n is None else int(n))


@op("Multinomial", inputs=("logits", "num_samples"), attrs={"seed": 0, "seed2": 0, "output_dtype": _dt.int64},
    types=FLOAT_TYPES, type_inputs=("logits",), shape=_multinomial_shape, stateful=True, needs_ctx=True,
    not_differentiable=True)
def multinomial_kernel(xp, logits, num_samples, *, seed, seed2, output_dtype, ctx):
    return categorical_samples(xp, logits, num_samples, output_dtype, "Multinomial",
                               lambda shape: _rng(xp, ctx, seed, seed2).uniform(shape, np.float64))


def categorical_samples(xp: Any, logits: Any, num_samples: Any, output_dtype: _dt.DType, op_type: str,
                        uniform: Any) -> Any:
    """[batch, num_samples] class ids drawn from softmax(logits) by inverting each row's CDF at the float64
    uniforms `uniform((batch, num_samples))` gives (the stateful and the stateless op differ only there)."""
    b, c = logits.shape
    s = int(num_samples)
    npd = output_dtype.as_numpy_dtype
    if c == 0 and b * s:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: num_classes should be positive, got 0")
    if b * s == 0:
        return xp.zeros((b, s), npd)
    x = logits.astype(xp.float64)
    p = xp.exp(x - xp.max(x, axis=1, keepdims=True))
    cdf = xp.cumsum(p, axis=1)
    cdf /= cdf[:, -1:]
    cdf[:, -1] = 1.0
    u = uniform((b, s))
    # One searchsorted over all rows: shift row i's cdf and draws by i so the rows never interleave.
    off = xp.arange(b, dtype=xp.float64)[:, None]
    idx = xp.searchsorted((cdf + off).reshape(-1), (u + off).reshape(-1), side="right").reshape(b, s)
    idx -= (xp.arange(b) * c)[:, None]
    return xp.minimum(idx, c - 1).astype(npd)


# -- public wrappers --------------------------------------------------------------------------------
def _shape_tensor(shape: Any) -> Any:
    """TF's tensor_util.shape_tensor: a list/tuple/TensorShape/Tensor as an int32 (or int64) 1-D tensor."""
    if isinstance(shape, TensorShape):
        if not shape.is_fully_defined():
            raise ValueError(f"Cannot convert a partially known TensorShape {shape} to a Tensor")
        shape = shape.as_list()
    if isinstance(shape, (list, tuple)) and not shape:
        return convert_to_tensor(np.zeros([0], np.int32), name="shape")
    t = convert_to_tensor(shape, dtype_hint=_dt.int32, name="shape")
    if base(t) not in INDEX_TYPES:
        raise TypeError(f"shape must be a list of ints or an int32/int64 tensor, got {base(t).name}")
    return t


def _float_dtype(dtype: Any, what: str) -> _dt.DType:
    dt = _dt.as_dtype(dtype).base_dtype
    if dt not in _RANDOM_FLOATS:
        raise ValueError(f"{what}: dtype must be a floating point type (half, bfloat16, float32, float64), "
                         f"got {dt.name}")
    return dt


def _scaled(op_type: str, shape: Any, mean: Any, stddev: Any, dtype: Any, seed: Any, name: Any,
            default: str) -> Any:
    dt = _float_dtype(dtype, default)
    with name_scope(name, default) as scope:
        s = _shape_tensor(shape)
        mean_t = convert_to_tensor(mean, dtype=dt, name="mean")
        std_t = convert_to_tensor(stddev, dtype=dt, name="stddev")
        rnd = make_tensor(op_type, [s], dict(_seed_attrs(seed), dtype=dt), op_type)
        mul = math_ops.multiply(rnd, std_t)
        return math_ops.add(mul, mean_t, name=scope)


def random_normal(shape: Any, mean: Any = 0.0, stddev: Any = 1.0, dtype: Any = _dt.float32,
                  seed: int | None = None, name: str | None = None) -> Any:
    """Values from a normal distribution: `RandomStandardNormal * stddev + mean`.

    Args:
        shape: the output shape (list of ints, TensorShape, or 1-D int32/int64 Tensor).
        mean: scalar (or broadcastable) mean.
        stddev: scalar (or broadcastable) standard deviation.
        dtype: half, bfloat16, float32 or float64.
        seed: the op seed (see `set_random_seed` for how it combines with the graph seed).
        name: a name for the operation (default scope "random_normal").

    Returns:
        A Tensor of the given shape filled with random normal values.
    """
    return _scaled("RandomStandardNormal", shape, mean, stddev, dtype, seed, name, "random_normal")


def truncated_normal(shape: Any, mean: Any = 0.0, stddev: Any = 1.0, dtype: Any = _dt.float32,
                     seed: int | None = None, name: str | None = None) -> Any:
    """Normal values, redrawn when more than 2 standard deviations from the mean.

    Args:
        shape: the output shape (list of ints, TensorShape, or 1-D int32/int64 Tensor).
        mean: the mean of the (untruncated) normal distribution.
        stddev: its standard deviation (before truncation).
        dtype: half, bfloat16, float32 or float64.
        seed: the op seed.
        name: a name for the operation (default scope "truncated_normal").

    Returns:
        A Tensor of the given shape with values in [mean - 2 stddev, mean + 2 stddev].
    """
    return _scaled("TruncatedNormal", shape, mean, stddev, dtype, seed, name, "truncated_normal")


def random_uniform(shape: Any, minval: Any = 0, maxval: Any = None, dtype: Any = _dt.float32,
                   seed: int | None = None, name: str | None = None) -> Any:
    """Uniform values in [minval, maxval).

    Floats: `RandomUniform * (maxval - minval) + minval` with maxval defaulting to 1. Integers
    (int32/int64): RandomUniformInt, and maxval is required.

    Args:
        shape: the output shape (list of ints, TensorShape, or 1-D int32/int64 Tensor).
        minval: the lower bound (inclusive).
        maxval: the upper bound (exclusive); defaults to 1 for floats.
        dtype: half, bfloat16, float32, float64, int32 or int64.
        seed: the op seed.
        name: a name for the operation (default scope "random_uniform").

    Returns:
        A Tensor of the given shape and dtype.

    Raises:
        ValueError: an integer dtype without maxval, or an unsupported dtype.
    """
    dt = _dt.as_dtype(dtype).base_dtype
    if dt not in _RANDOM_FLOATS + INDEX_TYPES:
        raise ValueError(f"Invalid dtype {dt.name} for random_uniform: use a float type, int32 or int64")
    if maxval is None:
        if dt.is_integer:
            raise ValueError(f"Must specify maxval for integer dtype {dt.name}")
        maxval = 1
    with name_scope(name, "random_uniform") as scope:
        s = _shape_tensor(shape)
        lo = convert_to_tensor(minval, dtype=dt, name="min")
        hi = convert_to_tensor(maxval, dtype=dt, name="max")
        attrs = _seed_attrs(seed)
        if dt.is_integer:
            return make_tensor("RandomUniformInt", [s, lo, hi], dict(attrs, Tout=dt), scope)
        rnd = make_tensor("RandomUniform", [s], dict(attrs, dtype=dt), "RandomUniform")
        return math_ops.add(math_ops.multiply(rnd, math_ops.subtract(hi, lo)), lo, name=scope)


def random_shuffle(value: Any, seed: int | None = None, name: str | None = None) -> Any:
    """Randomly shuffles a tensor along its first dimension.

    Args:
        value: a Tensor to be shuffled.
        seed: the op seed.
        name: a name for the operation (default "RandomShuffle").

    Returns:
        A Tensor of the shape and dtype of `value`.
    """
    v = convert_to_tensor(value, name="value")
    return make_tensor("RandomShuffle", [v], dict(_seed_attrs(seed), T=base(v)), name or "RandomShuffle")


def multinomial(logits: Any, num_samples: Any, seed: int | None = None, name: str | None = None,
                output_dtype: Any = None) -> Any:
    """Draws samples from categorical distributions (TF1 `tf.multinomial`).

    Args:
        logits: a 2-D Tensor [batch_size, num_classes] of unnormalized log-probabilities.
        num_samples: a scalar: the number of samples per row.
        seed: the op seed.
        name: a name for the operation (default scope "multinomial").
        output_dtype: int32 or int64 (default).

    Returns:
        An int Tensor [batch_size, num_samples] of class indices.
    """
    with name_scope(name, "multinomial") as scope:
        lg = convert_to_tensor(logits, name="logits")
        n = convert_to_tensor(num_samples, dtype=_dt.int32, name="num_samples")
        out_dt = _dt.int64 if output_dtype is None else _dt.as_dtype(output_dtype)
        return make_tensor("Multinomial", [lg, n], dict(_seed_attrs(seed), output_dtype=out_dt), scope)
