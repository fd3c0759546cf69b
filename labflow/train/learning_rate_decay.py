"""Learning-rate schedules of `tf.train` (TF 1.x learning_rate_decay.py): graph ops of the global step.

Each returns a scalar Tensor computed from `global_step` every time it is evaluated, so passing it to an
optimizer as the learning rate makes the rate follow the step.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator

from labflow import dtypes as _dt
from labflow.framework.graph import name_scope
from labflow.framework.tensor import Tensor
from labflow.ops import array_ops, math_ops
from labflow.ops.common import base, convert_to_tensor

__all__ = ["exponential_decay", "piecewise_constant", "piecewise_constant_decay", "inverse_time_decay",
           "natural_exp_decay", "polynomial_decay", "cosine_decay", "cosine_decay_restarts", "linear_cosine_decay",
           "noisy_linear_cosine_decay"]


@contextlib.contextmanager
def _schedule(global_step: Any, what: str, name: str | None, default_name: str, learning_rate: Any,
              lr_name: str = "learning_rate") -> Iterator[tuple]:
    """Every schedule's start: the step check, then (scope, learning rate tensor, its dtype) in the scope."""
    if global_step is None:
        raise ValueError(f"global_step is required for {what}.")
    with name_scope(name, default_name) as scope:
        lr = convert_to_tensor(learning_rate, name=lr_name)
        yield scope, lr, base(lr)


def _as(v: Any, dtype: _dt.DType) -> Tensor:
    """`v` as `dtype`: Python numbers directly (no float32 round trip), tensors by a cast."""
    if isinstance(v, Tensor) or hasattr(v, "_as_graph_element"):
        return math_ops.cast(v, dtype)
    return convert_to_tensor(float(v), dtype=dtype)


def _decayed_p(global_step: Any, decay_steps: Any, dtype: _dt.DType, staircase: bool) -> Tensor:
    p = math_ops.divide(math_ops.cast(global_step, dtype), _as(decay_steps, dtype))
    return math_ops.floor(p) if staircase else p


def _capped_step(global_step: Any, decay_steps: Any, dt: _dt.DType) -> tuple:
    """(min(step, decay_steps), decay_steps), both as `dt`."""
    steps = _as(decay_steps, dt)
    return math_ops.minimum(math_ops.cast(global_step, dt), steps), steps


def _cosine(fraction: Tensor, dt: _dt.DType) -> Tensor:
    """0.5 * (1 + cos(pi * fraction))."""
    cos = math_ops.cos(math_ops.multiply(convert_to_tensor(math.pi, dtype=dt), fraction))
    return math_ops.multiply(convert_to_tensor(0.5, dtype=dt), math_ops.add(convert_to_tensor(1.0, dtype=dt), cos))


def exponential_decay(learning_rate: Any, global_step: Any, decay_steps: Any, decay_rate: Any,
                      staircase: bool = False, name: str | None = None) -> Tensor:
    """`learning_rate * decay_rate ** (global_step / decay_steps)` (the exponent floored if `staircase`).

    Args:
        learning_rate: the initial rate (a float or scalar Tensor; its dtype is the result's).
        global_step: the step (an integer Variable or Tensor; must not be negative).
        decay_steps: steps per decay period (must be positive).
        decay_rate: the decay per period.
        staircase: decay at discrete intervals (integer division of the step).
        name: a name scope (default "ExponentialDecay").

    Returns:
        A scalar Tensor: the decayed learning rate.

    Raises:
        ValueError: `global_step` is None.
    """
    with _schedule(global_step, "exponential_decay", name, "ExponentialDecay", learning_rate) as (scope, lr, dt):
        p = _decayed_p(global_step, decay_steps, dt, staircase)
        return math_ops.multiply(lr, math_ops.pow(_as(decay_rate, dt), p), name=scope)


def natural_exp_decay(learning_rate: Any, global_step: Any, decay_steps: Any, decay_rate: Any,
                      staircase: bool = False, name: str | None = None) -> Tensor:
    """`learning_rate * exp(-decay_rate * global_step / decay_steps)` (floored if `staircase`).

    Raises:
        ValueError: `global_step` is None.
    """
    with _schedule(global_step, "natural_exp_decay", name, "NaturalExpDecay", learning_rate) as (scope, lr, dt):
        p = _decayed_p(global_step, decay_steps, dt, staircase)
        exponent = math_ops.exp(math_ops.multiply(math_ops.negative(_as(decay_rate, dt)), p))
        return math_ops.multiply(lr, exponent, name=scope)


def inverse_time_decay(learning_rate: Any, global_step: Any, decay_steps: Any, decay_rate: Any,
                       staircase: bool = False, name: str | None = None) -> Tensor:
    """`learning_rate / (1 + decay_rate * global_step / decay_steps)` (floored if `staircase`).

    Raises:
        ValueError: `global_step` is None.
    """
    with _schedule(global_step, "inverse_time_decay", name, "InverseTimeDecay", learning_rate) as (scope, lr, dt):
        p = _decayed_p(global_step, decay_steps, dt, staircase)
        denom = math_ops.add(convert_to_tensor(1, dtype=dt), math_ops.multiply(_as(decay_rate, dt), p))
        return math_ops.divide(lr, denom, name=scope)


def polynomial_decay(learning_rate: Any, global_step: Any, decay_steps: Any, end_learning_rate: Any = 0.0001,
                     power: Any = 1.0, cycle: bool = False, name: str | None = None) -> Tensor:
    """Polynomial decay from `learning_rate` to `end_learning_rate` over `decay_steps`.

    `(learning_rate - end_learning_rate) * (1 - step / decay_steps) ** power + end_learning_rate`, with
    the step capped at `decay_steps`; with `cycle`, `decay_steps` grows to the next multiple past the
    step instead (restarting the decay).

    Raises:
        ValueError: `global_step` is None.
    """
    with _schedule(global_step, "polynomial_decay", name, "PolynomialDecay", learning_rate) as (scope, lr, dt):
        end_lr = _as(end_learning_rate, dt)
        pw = _as(power, dt)
        step = math_ops.cast(global_step, dt)
        steps = _as(decay_steps, dt)
        if cycle:
            zero, one = convert_to_tensor(0, dtype=dt), convert_to_tensor(1, dtype=dt)
            mult = array_ops.where(math_ops.equal(step, zero), one, math_ops.ceil(math_ops.divide(step, steps)))
            steps = math_ops.multiply(steps, mult)
        else:
            step = math_ops.minimum(step, steps)
        p = math_ops.divide(step, steps)
        one = convert_to_tensor(1, dtype=dt)
        return math_ops.add(math_ops.multiply(math_ops.subtract(lr, end_lr),
                                              math_ops.pow(math_ops.subtract(one, p), pw)), end_lr, name=scope)


def cosine_decay(learning_rate: Any, global_step: Any, decay_steps: Any, alpha: float = 0.0,
                 name: str | None = None) -> Tensor:
    """Cosine decay: `learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * step / decay_steps)) + alpha)`,
    with the step capped at `decay_steps`.

    Raises:
        ValueError: `global_step` is None.
    """
    with _schedule(global_step, "cosine_decay", name, "CosineDecay", learning_rate) as (scope, lr, dt):
        step, steps = _capped_step(global_step, decay_steps, dt)
        decayed = _cosine(math_ops.divide(step, steps), dt)
        one, a = convert_to_tensor(1.0, dtype=dt), convert_to_tensor(alpha, dtype=dt)
        decayed = math_ops.add(math_ops.multiply(math_ops.subtract(one, a), decayed), a)
        return math_ops.multiply(lr, decayed, name=scope)


def piecewise_constant(x: Any, boundaries: list, values: list, name: str | None = None) -> Tensor:
    """A step function of `x`: `values[0]` for x <= boundaries[0], `values[i]` for
    boundaries[i-1] < x <= boundaries[i], and `values[-1]` for x > boundaries[-1].

    Args:
        x: a scalar Tensor (usually the global step).
        boundaries: increasing entries of x's dtype (Python ints are accepted for an int64 step).
        values: one more entry than `boundaries`, all of one dtype.
        name: a name scope (default "PiecewiseConstant").

    Returns:
        A scalar Tensor of the values' dtype.

    Raises:
        ValueError: the lengths do not match, or the dtypes differ (TF's rules).
    """
    if len(boundaries) != len(values) - 1:
        raise ValueError("The length of boundaries should be 1 less than the length of values")
    with name_scope(name, "PiecewiseConstant") as scope:
        x_t = convert_to_tensor(x)
        xdt = base(x_t)
        bs = []
        for b in boundaries:
            bt = convert_to_tensor(b)
            if base(bt) != xdt:
                if base(bt) == _dt.int32 and xdt == _dt.int64:
                    bt = math_ops.cast(bt, _dt.int64)
                else:
                    raise ValueError(f"Boundaries ({base(bt).name}) must have the same dtype as x "
                                     f"({xdt.name}).")
            bs.append(bt)
        vs = [convert_to_tensor(v) for v in values]
        for v in vs[1:]:
            if base(v) != base(vs[0]):
                raise ValueError(f"Values must have elements all with the same dtype ({base(vs[0]).name} vs "
                                 f"{base(v).name}).")
        # The interval index is the number of boundaries x exceeds; no control flow needed.
        if bs:
            above = math_ops.cast(math_ops.greater(x_t, array_ops.stack(bs)), _dt.int32)
            index = math_ops.reduce_sum(above)
        else:
            index = convert_to_tensor(0, dtype=_dt.int32)
        return array_ops.gather(array_ops.stack(vs), index, name=scope)


piecewise_constant_decay = piecewise_constant  # TF 1.x's second name for it


def cosine_decay_restarts(learning_rate: Any, global_step: Any, first_decay_steps: Any, t_mul: Any = 2.0,
                          m_mul: Any = 1.0, alpha: Any = 0.0, name: str | None = None) -> Tensor:
    """Cosine decay with warm restarts (SGDR, Loshchilov & Hutter): period i lasts
    `first_decay_steps * t_mul^i` steps and starts from `learning_rate * m_mul^i`; within a period the
    rate follows cosine_decay down to `alpha` times the period's initial rate.

    Raises:
        ValueError: `global_step` is None.
    """
    with _schedule(global_step, "cosine decay restarts", name, "SGDRDecay", learning_rate,
                   "initial_learning_rate") as (scope, lr, dt):
        first = _as(first_decay_steps, dt)
        a, tm, mm = _as(alpha, dt), _as(t_mul, dt), _as(m_mul, dt)
        one = convert_to_tensor(1.0, dtype=dt)
        completed = math_ops.divide(math_ops.cast(global_step, dt), first)
        # Equal periods (t_mul == 1): the restart index is the integer part.
        i_equal = math_ops.floor(completed)
        frac_equal = math_ops.subtract(completed, i_equal)
        # Geometric periods: invert the partial sum (1 - t_mul^i) / (1 - t_mul).
        i_geo = math_ops.floor(math_ops.divide(
            math_ops.log(math_ops.subtract(one, math_ops.multiply(completed, math_ops.subtract(one, tm)))),
            math_ops.log(tm)))
        sum_r = math_ops.divide(math_ops.subtract(one, math_ops.pow(tm, i_geo)), math_ops.subtract(one, tm))
        frac_geo = math_ops.divide(math_ops.subtract(completed, sum_r), math_ops.pow(tm, i_geo))
        equal = math_ops.equal(tm, one)
        i_restart = array_ops.where(equal, i_equal, i_geo)
        fraction = array_ops.where(equal, frac_equal, frac_geo)
        cosine_decayed = math_ops.multiply(math_ops.pow(mm, i_restart), _cosine(fraction, dt))
        decayed = math_ops.add(math_ops.multiply(math_ops.subtract(one, a), cosine_decayed), a)
        return math_ops.multiply(lr, decayed, name=scope)


def _linear_and_fraction(global_step: Any, decay_steps: Any, num_periods: Any, dt: _dt.DType) -> tuple:
    step, steps = _capped_step(global_step, decay_steps, dt)
    linear = math_ops.divide(math_ops.subtract(steps, step), steps)
    fraction = math_ops.multiply(math_ops.multiply(convert_to_tensor(2.0, dtype=dt), _as(num_periods, dt)),
                                 math_ops.divide(step, steps))
    return step, linear, fraction


def linear_cosine_decay(learning_rate: Any, global_step: Any, decay_steps: Any, num_periods: Any = 0.5,
                        alpha: Any = 0.0, beta: Any = 0.001, name: str | None = None) -> Tensor:
    """Linear cosine decay (Bello et al., 2017):
    `learning_rate * ((alpha + linear) * 0.5 * (1 + cos(2 pi num_periods step / decay_steps)) + beta)` with
    `linear = (decay_steps - step) / decay_steps` and the step capped at `decay_steps`.

    Raises:
        ValueError: `global_step` is None.
    """
    with _schedule(global_step, "linear cosine decay", name, "LinearCosineDecay", learning_rate) as (scope, lr, dt):
        _, linear, fraction = _linear_and_fraction(global_step, decay_steps, num_periods, dt)
        decayed = math_ops.add(math_ops.multiply(math_ops.add(_as(alpha, dt), linear), _cosine(fraction, dt)),
                               _as(beta, dt))
        return math_ops.multiply(lr, decayed, name=scope)


def noisy_linear_cosine_decay(learning_rate: Any, global_step: Any, decay_steps: Any, initial_variance: Any = 1.0,
                              variance_decay: Any = 0.55, num_periods: Any = 0.5, alpha: Any = 0.0,
                              beta: Any = 0.001, name: str | None = None) -> Tensor:
    """linear_cosine_decay with Gaussian noise added to the linear term, of variance
    `initial_variance / (1 + step)^variance_decay` (a fresh draw each time it is evaluated).

    Raises:
        ValueError: `global_step` is None.
    """
    from labflow.ops import random_ops
    with _schedule(global_step, "noisy linear cosine decay", name, "NoisyLinearCosineDecay",
                   learning_rate) as (scope, lr, dt):
        step, linear, fraction = _linear_and_fraction(global_step, decay_steps, num_periods, dt)
        variance = math_ops.divide(_as(initial_variance, dt),
                                   math_ops.pow(math_ops.add(convert_to_tensor(1.0, dtype=dt), step),
                                                _as(variance_decay, dt)))
        noisy = math_ops.add(linear, random_ops.random_normal([], stddev=math_ops.sqrt(variance), dtype=dt))
        decayed = math_ops.add(math_ops.multiply(math_ops.add(_as(alpha, dt), noisy), _cosine(fraction, dt)),
                               _as(beta, dt))
        return math_ops.multiply(lr, decayed, name=scope)
