"""Learning-rate schedules of `tf.train` (TF 1.x learning_rate_decay.py): graph ops of the global step.

Each returns a scalar Tensor computed from `global_step` every time it is evaluated, so passing it to an
optimizer as the learning rate makes the rate follow the step.
"""

from __future__ import annotations

import math
from typing import Any

from labflow import dtypes as _dt
from labflow.framework.graph import name_scope
from labflow.framework.tensor import Tensor
from labflow.ops import array_ops, math_ops
from labflow.ops.common import base, convert_to_tensor

__all__ = ["exponential_decay", "piecewise_constant", "inverse_time_decay", "natural_exp_decay",
           "polynomial_decay", "cosine_decay"]


def _need_step(global_step: Any, what: str) -> None:
    if global_step is None:
        raise ValueError(f"global_step is required for {what}.")


def _as(v: Any, dtype: _dt.DType) -> Tensor:
    """`v` as `dtype`: Python numbers directly (no float32 round trip), tensors by a cast."""
    if isinstance(v, Tensor) or hasattr(v, "_as_graph_element"):
        return math_ops.cast(v, dtype)
    return convert_to_tensor(float(v), dtype=dtype)


def _decayed_p(global_step: Any, decay_steps: Any, dtype: _dt.DType, staircase: bool) -> Tensor:
    p = math_ops.divide(math_ops.cast(global_step, dtype), _as(decay_steps, dtype))
    return math_ops.floor(p) if staircase else p


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
    _need_step(global_step, "exponential_decay")
    with name_scope(name, "ExponentialDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dt = base(lr)
        p = _decayed_p(global_step, decay_steps, dt, staircase)
        return math_ops.multiply(lr, math_ops.pow(_as(decay_rate, dt), p), name=scope)


def natural_exp_decay(learning_rate: Any, global_step: Any, decay_steps: Any, decay_rate: Any,
                      staircase: bool = False, name: str | None = None) -> Tensor:
    """`learning_rate * exp(-decay_rate * global_step / decay_steps)` (floored if `staircase`).

    Raises:
        ValueError: `global_step` is None.
    """
    _need_step(global_step, "natural_exp_decay")
    with name_scope(name, "NaturalExpDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dt = base(lr)
        p = _decayed_p(global_step, decay_steps, dt, staircase)
        exponent = math_ops.exp(math_ops.multiply(math_ops.negative(_as(decay_rate, dt)), p))
        return math_ops.multiply(lr, exponent, name=scope)


def inverse_time_decay(learning_rate: Any, global_step: Any, decay_steps: Any, decay_rate: Any,
                       staircase: bool = False, name: str | None = None) -> Tensor:
    """`learning_rate / (1 + decay_rate * global_step / decay_steps)` (floored if `staircase`).

    Raises:
        ValueError: `global_step` is None.
    """
    _need_step(global_step, "inverse_time_decay")
    with name_scope(name, "InverseTimeDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dt = base(lr)
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
    _need_step(global_step, "polynomial_decay")
    with name_scope(name, "PolynomialDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dt = base(lr)
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
    _need_step(global_step, "cosine_decay")
    with name_scope(name, "CosineDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        dt = base(lr)
        steps = _as(decay_steps, dt)
        step = math_ops.minimum(math_ops.cast(global_step, dt), steps)
        frac = math_ops.divide(step, steps)
        half, one = convert_to_tensor(0.5, dtype=dt), convert_to_tensor(1.0, dtype=dt)
        cos = math_ops.cos(math_ops.multiply(convert_to_tensor(math.pi, dtype=dt), frac))
        decayed = math_ops.multiply(half, math_ops.add(one, cos))
        a = convert_to_tensor(alpha, dtype=dt)
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
