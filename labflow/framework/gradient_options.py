"""The option values of `tf.gradients`: `tf.AggregationMethod` and `tf.UnconnectedGradients`."""

from __future__ import annotations

import enum
from typing import Any

__all__ = ["AggregationMethod", "UnconnectedGradients"]


class AggregationMethod:
    """How `tf.gradients` sums the gradient contributions that reach one tensor (TF 1.x constants).

    labflow adds the contributions with one AddN (or concatenates IndexedSlices) whichever method is
    asked for: the methods differ in TF only in peak memory and op count, never in the value.
    """

    ADD_N = 0
    DEFAULT = ADD_N
    EXPERIMENTAL_TREE = 1
    EXPERIMENTAL_ACCUMULATE_N = 2


_AGGREGATION_METHODS = (AggregationMethod.ADD_N, AggregationMethod.EXPERIMENTAL_TREE,
                        AggregationMethod.EXPERIMENTAL_ACCUMULATE_N)


def check_aggregation_method(aggregation_method: Any) -> None:
    """Raises ValueError (TF's message) for a value that is not None or an AggregationMethod constant."""
    if aggregation_method is not None and aggregation_method not in _AGGREGATION_METHODS:
        raise ValueError(f"Invalid `aggregation_method` specified {aggregation_method}. Accepted values are "
                         f"{list(_AGGREGATION_METHODS)}.")


class UnconnectedGradients(enum.Enum):
    """What `tf.gradients` returns for an x that the ys do not depend on: None, or zeros shaped like x."""

    NONE = "none"
    ZERO = "zero"


def as_unconnected_gradients(value: Any) -> UnconnectedGradients:
    """`value` (an UnconnectedGradients or its string "none" / "zero") as the enum member.

    Raises:
        ValueError: any other value (TF's message).
    """
    try:
        return UnconnectedGradients(value)
    except ValueError:
        raise ValueError(f"Unknown value for unconnected_gradients: {value!r}") from None
