"""`tf.nest`: nested structures of tuples, lists, namedtuples and dicts (TF's `nest`, as RNN states use it).

A structure's leaves come out in a fixed order: sequences in order, dicts by sorted key, so a state
like `(LSTMStateTuple(c, h), LSTMStateTuple(c, h))` flattens to [c0, h0, c1, h1] and packs back the
same way. Strings are leaves, not sequences.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["is_nested", "flatten", "pack_sequence_as", "map_structure", "assert_same_structure"]


def is_nested(x: Any) -> bool:
    """True for a tuple, list, namedtuple or dict (a node of a structure, not a leaf)."""
    return isinstance(x, (tuple, list, Mapping))


is_sequence = is_nested


def _children(x: Any) -> list:
    if isinstance(x, Mapping):
        return [x[k] for k in sorted(x)]
    return list(x)


def flatten(structure: Any) -> list:
    """The leaves of `structure`, depth first (a leaf alone gives [leaf])."""
    if not is_nested(structure):
        return [structure]
    out: list = []
    for child in _children(structure):
        out.extend(flatten(child))
    return out


def _rebuild(like: Any, children: list) -> Any:
    if isinstance(like, Mapping):
        return type(like)((k, v) for k, v in zip(sorted(like), children))
    if isinstance(like, tuple) and hasattr(like, "_fields"):  # a namedtuple
        return type(like)(*children)
    return type(like)(children)


def pack_sequence_as(structure: Any, flat_sequence: list) -> Any:
    """`flat_sequence`'s items in the shape of `structure` (the inverse of `flatten`).

    Raises:
        ValueError: the item count differs from `structure`'s leaf count.
    """
    flat_sequence = list(flat_sequence)
    n = len(flatten(structure))
    if len(flat_sequence) != n:
        raise ValueError(f"Could not pack sequence. Structure had {n} elements, but flat_sequence had "
                         f"{len(flat_sequence)} elements. Structure: {structure!r}")
    it = iter(flat_sequence)

    def build(s: Any) -> Any:
        if not is_nested(s):
            return next(it)
        return _rebuild(s, [build(c) for c in _children(s)])

    return build(structure)


def assert_same_structure(nest1: Any, nest2: Any, check_types: bool = True) -> None:
    """Raises ValueError (TypeError for differing sequence types) unless both have the same nesting."""
    if is_nested(nest1) != is_nested(nest2):
        raise ValueError(f"The two structures don't have the same nested structure.\n\nFirst structure: "
                         f"{nest1!r}\n\nSecond structure: {nest2!r}")
    if not is_nested(nest1):
        return
    if check_types and type(nest1) is not type(nest2):
        raise TypeError(f"The two structures don't have the same sequence type. First structure has type "
                        f"{type(nest1)}, while second structure has type {type(nest2)}.")
    c1, c2 = _children(nest1), _children(nest2)
    if len(c1) != len(c2):
        raise ValueError(f"The two structures don't have the same number of elements.\n\nFirst structure: "
                         f"{nest1!r}\n\nSecond structure: {nest2!r}")
    for a, b in zip(c1, c2):
        assert_same_structure(a, b, check_types)


def map_structure(func: Callable, *structures: Any, check_types: bool = True) -> Any:
    """func applied leaf by leaf to structures of the same nesting, in the first one's shape."""
    if not structures:
        raise ValueError("Must provide at least one structure")
    for other in structures[1:]:
        assert_same_structure(structures[0], other, check_types)
    leaves = [flatten(s) for s in structures]
    return pack_sequence_as(structures[0], [func(*xs) for xs in zip(*leaves)])
