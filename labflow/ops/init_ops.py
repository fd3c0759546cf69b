"""Initializers (TF 1.x `tf.*_initializer`): callables `init(shape, dtype=None, partition_info=None)`.

Each returns a tensor of the requested shape; `tf.get_variable` calls them inside the variable's
`Initializer` name scope. The snake_case names are the classes themselves, as in TF 1.x
(`tf.zeros_initializer()` builds a `Zeros`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from labflow import dtypes as _dt

__all__ = ["zeros_initializer", "ones_initializer", "constant_initializer", "random_normal_initializer",
           "truncated_normal_initializer", "random_uniform_initializer", "uniform_unit_scaling_initializer",
           "variance_scaling_initializer", "glorot_uniform_initializer", "glorot_normal_initializer",
           "orthogonal_initializer"]


def _assert_float_dtype(dtype: _dt.DType) -> _dt.DType:
    if not dtype.is_floating:
        raise ValueError(f"Expected floating point type, got {dtype.name}.")
    return dtype


def _compute_fans(shape: Any) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shape; conv kernels [h, w, in, out] multiply by the receptive field."""
    shape = list(shape)
    if len(shape) < 1:
        fan_in = fan_out = 1
    elif len(shape) == 1:
        fan_in = fan_out = shape[0]
    elif len(shape) == 2:
        fan_in, fan_out = shape
    else:
        receptive = 1
        for d in shape[:-2]:
            receptive *= d
        fan_in = shape[-2] * receptive
        fan_out = shape[-1] * receptive
    return int(fan_in), int(fan_out)


class Initializer:
    """Base class: `__call__(shape, dtype=None, partition_info=None)` returns the initial value tensor."""

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Any:
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> Initializer:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """Initializer producing zeros."""

    def __init__(self, dtype: Any = _dt.float32):
        self.dtype = _dt.as_dtype(dtype)

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Any:
        from labflow.ops import array_ops
        return array_ops.zeros(shape, _dt.as_dtype(dtype or self.dtype).base_dtype)

    def get_config(self) -> dict:
        return {"dtype": self.dtype.name}


class Ones(Initializer):
    """Initializer producing ones."""

    def __init__(self, dtype: Any = _dt.float32):
        self.dtype = _dt.as_dtype(dtype)

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Any:
        from labflow.ops import array_ops
        return array_ops.ones(shape, _dt.as_dtype(dtype or self.dtype).base_dtype)

    def get_config(self) -> dict:
        return {"dtype": self.dtype.name}


class Constant(Initializer):
    """Initializer producing a constant: a scalar fills the shape; a list/array must fit it."""

    def __init__(self, value: Any = 0, dtype: Any = _dt.float32, verify_shape: bool = False):
        if not (np.isscalar(value) or isinstance(value, (list, tuple, np.ndarray))):
            raise TypeError(f"Invalid type for initial value: {type(value)} (expected Python scalar, list or "
                            "tuple of values, or numpy.ndarray).")
        self.value = value
        self.dtype = _dt.as_dtype(dtype)
        self._verify_shape = verify_shape

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None,
                 verify_shape: bool | None = None) -> Any:
        from labflow.ops.array_ops import constant
        vs = self._verify_shape if verify_shape is None else verify_shape
        return constant(self.value, dtype=_dt.as_dtype(dtype or self.dtype).base_dtype, shape=shape,
                        verify_shape=vs)

    def get_config(self) -> dict:
        return {"value": self.value, "dtype": self.dtype.name}


class RandomUniform(Initializer):
    """Uniform values in [minval, maxval) (maxval defaults to 1 for floats)."""

    def __init__(self, minval: Any = 0, maxval: Any = None, seed: int | None = None,
                 dtype: Any = _dt.float32):
        self.minval, self.maxval, self.seed = minval, maxval, seed
        self.dtype = _dt.as_dtype(dtype)

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Any:
        from labflow.ops.random_ops import random_uniform
        return random_uniform(shape, self.minval, self.maxval, _dt.as_dtype(dtype or self.dtype).base_dtype,
                              seed=self.seed)

    def get_config(self) -> dict:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed, "dtype": self.dtype.name}


class RandomNormal(Initializer):
    """Normal values with the given mean and stddev."""

    def __init__(self, mean: float = 0.0, stddev: float = 1.0, seed: int | None = None,
                 dtype: Any = _dt.float32):
        self.mean, self.stddev, self.seed = mean, stddev, seed
        self.dtype = _assert_float_dtype(_dt.as_dtype(dtype))

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Any:
        from labflow.ops.random_ops import random_normal
        return random_normal(shape, self.mean, self.stddev, _dt.as_dtype(dtype or self.dtype).base_dtype,
                             seed=self.seed)

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed, "dtype": self.dtype.name}


class TruncatedNormal(Initializer):
    """Normal values redrawn when more than two stddevs from the mean (the usual weight init)."""

    def __init__(self, mean: float = 0.0, stddev: float = 1.0, seed: int | None = None,
                 dtype: Any = _dt.float32):
        self.mean, self.stddev, self.seed = mean, stddev, seed
        self.dtype = _assert_float_dtype(_dt.as_dtype(dtype))

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Any:
        from labflow.ops.random_ops import truncated_normal
        return truncated_normal(shape, self.mean, self.stddev, _dt.as_dtype(dtype or self.dtype).base_dtype,
                                seed=self.seed)

    def get_config(self) -> dict:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed, "dtype": self.dtype.name}


class UniformUnitScaling(Initializer):
    """Deprecated TF 1.x initializer: uniform in ±sqrt(3 / fan_in) * factor."""

    def __init__(self, factor: float = 1.0, seed: int | None = None, dtype: Any = _dt.float32):
        self.factor, self.seed = factor, seed
        self.dtype = _assert_float_dtype(_dt.as_dtype(dtype))

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Any:
        from labflow.ops.random_ops import random_uniform
        input_size = 1.0
        for d in list(shape)[:-1]:
            input_size *= float(d)
        max_val = math.sqrt(3 / max(input_size, 1.0)) * self.factor
        return random_uniform(shape, -max_val, max_val, _dt.as_dtype(dtype or self.dtype).base_dtype,
                              seed=self.seed)

    def get_config(self) -> dict:
        return {"factor": self.factor, "seed": self.seed, "dtype": self.dtype.name}


class VarianceScaling(Initializer):
    """Scales the variance to `scale / n`, n from `mode` (fan_in, fan_out, fan_avg).

    `distribution`: "truncated_normal" (or "normal"; stddev corrected for the truncation),
    "untruncated_normal", or "uniform" (limit sqrt(3 * scale / n)).
    """

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: int | None = None, dtype: Any = _dt.float32):
        if scale <= 0.0:
            raise ValueError("`scale` must be positive float.")
        if mode not in {"fan_in", "fan_out", "fan_avg"}:
            raise ValueError(f"Invalid `mode` argument: {mode}")
        distribution = distribution.lower()
        if distribution not in {"normal", "uniform", "truncated_normal", "untruncated_normal"}:
            raise ValueError(f"Invalid `distribution` argument: {distribution}")
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed
        self.dtype = _assert_float_dtype(_dt.as_dtype(dtype))

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Any:
        from labflow.ops import random_ops
        dt = _dt.as_dtype(dtype or self.dtype).base_dtype
        scale_shape = shape if partition_info is None else partition_info.full_shape
        fan_in, fan_out = _compute_fans(scale_shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution in ("normal", "truncated_normal"):
            # The stddev of a unit normal truncated to [-2, 2] (scipy.stats.truncnorm.std(-2, 2)).
            stddev = math.sqrt(scale) / 0.87962566103423978
            return random_ops.truncated_normal(shape, 0.0, stddev, dt, seed=self.seed)
        if self.distribution == "untruncated_normal":
            return random_ops.random_normal(shape, 0.0, math.sqrt(scale), dt, seed=self.seed)
        limit = math.sqrt(3.0 * scale)
        return random_ops.random_uniform(shape, -limit, limit, dt, seed=self.seed)

    def get_config(self) -> dict:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed,
                "dtype": self.dtype.name}


class GlorotUniform(VarianceScaling):
    """Glorot/Xavier uniform: limit sqrt(6 / (fan_in + fan_out)); get_variable's default for floats."""

    def __init__(self, seed: int | None = None, dtype: Any = _dt.float32):
        super().__init__(scale=1.0, mode="fan_avg", distribution="uniform", seed=seed, dtype=dtype)

    def get_config(self) -> dict:
        return {"seed": self.seed, "dtype": self.dtype.name}


class GlorotNormal(VarianceScaling):
    """Glorot/Xavier truncated normal: stddev sqrt(2 / (fan_in + fan_out)) before truncation."""

    def __init__(self, seed: int | None = None, dtype: Any = _dt.float32):
        super().__init__(scale=1.0, mode="fan_avg", distribution="truncated_normal", seed=seed, dtype=dtype)

    def get_config(self) -> dict:
        return {"seed": self.seed, "dtype": self.dtype.name}


class Orthogonal(Initializer):
    """An orthogonal matrix (reshaped to `shape`), from the QR decomposition of a normal matrix."""

    def __init__(self, gain: float = 1.0, seed: int | None = None, dtype: Any = _dt.float32):
        self.gain, self.seed = gain, seed
        self.dtype = _assert_float_dtype(_dt.as_dtype(dtype))

    def __call__(self, shape: Any, dtype: Any = None, partition_info: Any = None) -> Any:
        import labflow as tf  # qr/diag_part/sign come from the linalg and math families
        if not hasattr(tf, "qr"):
            raise NotImplementedError("orthogonal_initializer needs tf.qr, which this labflow build lacks")
        dt = _dt.as_dtype(dtype or self.dtype).base_dtype
        shape = [int(d) for d in shape]
        if len(shape) < 2:
            raise ValueError("The tensor to initialize must be at least two-dimensional")
        num_rows = 1
        for d in shape[:-1]:
            num_rows *= d
        num_cols = shape[-1]
        flat = (max(num_cols, num_rows), min(num_cols, num_rows))
        a = tf.random_normal(flat, dtype=dt, seed=self.seed)
        q, r = tf.qr(a, full_matrices=False)
        q = q * tf.sign(tf.diag_part(r))
        if num_rows < num_cols:
            q = tf.transpose(q)
        return self.gain * tf.reshape(q, shape)

    def get_config(self) -> dict:
        return {"gain": self.gain, "seed": self.seed, "dtype": self.dtype.name}


zeros_initializer = Zeros
ones_initializer = Ones
constant_initializer = Constant
random_uniform_initializer = RandomUniform
random_normal_initializer = RandomNormal
truncated_normal_initializer = TruncatedNormal
uniform_unit_scaling_initializer = UniformUnitScaling
variance_scaling_initializer = VarianceScaling
glorot_uniform_initializer = GlorotUniform
glorot_normal_initializer = GlorotNormal
orthogonal_initializer = Orthogonal


def lecun_normal(seed: int | None = None) -> VarianceScaling:
    """LeCun normal: truncated normal with variance 1 / fan_in."""
    return VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal", seed=seed)


def lecun_uniform(seed: int | None = None) -> VarianceScaling:
    """LeCun uniform: limit sqrt(3 / fan_in)."""
    return VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform", seed=seed)


def he_normal(seed: int | None = None) -> VarianceScaling:
    """He normal: truncated normal with variance 2 / fan_in."""
    return VarianceScaling(scale=2.0, mode="fan_in", distribution="truncated_normal", seed=seed)


def he_uniform(seed: int | None = None) -> VarianceScaling:
    """He uniform: limit sqrt(6 / fan_in)."""
    return VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform", seed=seed)
