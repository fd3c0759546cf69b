"""Static shapes: `TensorShape` and `Dimension` with TF 1.x semantics (unknown rank, unknown dims)."""

from __future__ import annotations

from typing import Any, Iterable


class Dimension:
    """One dimension of a static shape (TF 1.x `tf.Dimension`); `value` is an int or None when unknown.

    Comparisons and arithmetic with an unknown dimension give None / an unknown Dimension, like TF.
    """

    __slots__ = ("_value",)

    def __init__(self, value: Any):
        if isinstance(value, Dimension):
            value = value._value
        if value is not None:
            if hasattr(value, "as_datatype_enum"):  # a DType is not a size
                raise TypeError(f"Cannot convert {value} to Dimension")
            try:
                v = int(value)
            except (TypeError, ValueError):
                raise TypeError(f"Dimension value must be an integer or None, got {value!r}") from None
            if not isinstance(value, (str, bytes)) and v != value:
                raise ValueError(f"Ambiguous dimension: {value}")
            if v < 0:
                raise ValueError(f"Dimension {v} must be >= 0")
            value = v
        self._value = value

    @property
    def value(self) -> int | None:
        return self._value

    def is_compatible_with(self, other: Any) -> bool:
        o = Dimension(other)._value
        return self._value is None or o is None or self._value == o

    def assert_is_compatible_with(self, other: Any) -> None:
        if not self.is_compatible_with(other):
            raise ValueError(f"Dimensions {self} and {Dimension(other)} are not compatible")

    def merge_with(self, other: Any) -> Dimension:
        o = Dimension(other)
        self.assert_is_compatible_with(o)
        return Dimension(self._value if self._value is not None else o._value)

    def __int__(self) -> int:
        if self._value is None:
            raise TypeError("Cannot convert an unknown Dimension (?) to int")
        return self._value

    __index__ = __int__

    def __eq__(self, other: Any) -> Any:
        try:
            o = Dimension(other)._value
        except (TypeError, ValueError):
            return NotImplemented
        if self._value is None or o is None:
            return None
        return self._value == o

    def __ne__(self, other: Any) -> Any:
        try:
            o = Dimension(other)._value
        except (TypeError, ValueError):
            return NotImplemented
        if self._value is None or o is None:
            return None
        return self._value != o

    def __hash__(self) -> int:
        return hash(self._value)

    def _arith(self, other: Any, fn, swap: bool = False) -> Dimension:
        try:
            o = Dimension(other)._value
        except (TypeError, ValueError):
            return NotImplemented
        if self._value is None or o is None:
            return Dimension(None)
        return Dimension(fn(o, self._value) if swap else fn(self._value, o))

    def __add__(self, other): return self._arith(other, lambda a, b: a + b)
    def __radd__(self, other): return self._arith(other, lambda a, b: a + b, True)
    def __sub__(self, other): return self._arith(other, lambda a, b: a - b)
    def __rsub__(self, other): return self._arith(other, lambda a, b: a - b, True)
    def __mul__(self, other): return self._arith(other, lambda a, b: a * b)
    def __rmul__(self, other): return self._arith(other, lambda a, b: a * b, True)
    def __floordiv__(self, other): return self._arith(other, lambda a, b: a // b)
    def __rfloordiv__(self, other): return self._arith(other, lambda a, b: a // b, True)
    def __mod__(self, other): return self._arith(other, lambda a, b: a % b)
    def __rmod__(self, other): return self._arith(other, lambda a, b: a % b, True)

    def __truediv__(self, other):
        raise TypeError(f"unsupported operand type(s) for /: 'Dimension' and '{type(other).__name__}', "
                        "please use // instead")

    def _cmp(self, other: Any, fn) -> Any:
        o = Dimension(other)._value
        return None if self._value is None or o is None else fn(self._value, o)

    def __lt__(self, other): return self._cmp(other, lambda a, b: a < b)
    def __le__(self, other): return self._cmp(other, lambda a, b: a <= b)
    def __gt__(self, other): return self._cmp(other, lambda a, b: a > b)
    def __ge__(self, other): return self._cmp(other, lambda a, b: a >= b)

    def __reduce__(self):
        return Dimension, (self._value,)

    def __repr__(self) -> str:
        return f"Dimension({self._value!r})"

    def __str__(self) -> str:
        return "?" if self._value is None else str(self._value)


def as_dimension(value: Any) -> Dimension:
    return value if isinstance(value, Dimension) else Dimension(value)


def dimension_value(d: Any) -> int | None:
    return d._value if isinstance(d, Dimension) else d


class TensorShape:
    """A possibly partial static shape. `dims` is None when even the rank is unknown."""

    __slots__ = ("_dims",)

    def __init__(self, dims: Any):
        if dims is None:
            self._dims = None
        elif isinstance(dims, TensorShape):
            self._dims = dims._dims
        elif hasattr(dims, "dim") and hasattr(dims, "unknown_rank"):  # TensorShapeProto
            self._dims = None if dims.unknown_rank else tuple(
                None if d.size < 0 else int(d.size) for d in dims.dim)
        else:
            if isinstance(dims, (int, Dimension)):
                dims = [dims]
            self._dims = tuple(Dimension(d)._value for d in dims)

    @property
    def dims(self) -> list[Dimension] | None:
        return None if self._dims is None else [Dimension(d) for d in self._dims]

    @property
    def ndims(self) -> int | None:
        return None if self._dims is None else len(self._dims)

    rank = ndims

    def as_list(self) -> list[int | None]:
        if self._dims is None:
            raise ValueError("as_list() is not defined on an unknown TensorShape.")
        return list(self._dims)

    def as_tuple(self) -> tuple | None:
        """The dims as a tuple of ints/None, or None for unknown rank (labflow helper)."""
        return self._dims

    def is_fully_defined(self) -> bool:
        return self._dims is not None and all(d is not None for d in self._dims)

    def num_elements(self) -> int | None:
        if not self.is_fully_defined():
            return None
        n = 1
        for d in self._dims:
            n *= d
        return n

    def is_compatible_with(self, other: Any) -> bool:
        other = as_shape(other)
        if self._dims is None or other._dims is None:
            return True
        if len(self._dims) != len(other._dims):
            return False
        return all(a is None or b is None or a == b for a, b in zip(self._dims, other._dims))

    def merge_with(self, other: Any) -> TensorShape:
        other = as_shape(other)
        if self._dims is None:
            return other
        if other._dims is None:
            return self
        if len(self._dims) != len(other._dims):
            raise ValueError(f"Shapes {self} and {other} are not compatible")
        out = []
        for a, b in zip(self._dims, other._dims):
            if a is not None and b is not None and a != b:
                raise ValueError(f"Shapes {self} and {other} are not compatible")
            out.append(a if a is not None else b)
        return TensorShape(out)

    def concatenate(self, other: Any) -> TensorShape:
        other = as_shape(other)
        if self._dims is None or other._dims is None:
            return TensorShape(None)
        return TensorShape(self._dims + other._dims)

    def with_rank(self, rank: int) -> TensorShape:
        if self._dims is None:
            return TensorShape([None] * rank)
        if len(self._dims) != rank:
            raise ValueError(f"Shape {self} must have rank {rank}")
        return self

    def with_rank_at_most(self, rank: int) -> TensorShape:
        if self._dims is not None and len(self._dims) > rank:
            raise ValueError(f"Shape {self} must have rank at most {rank}")
        return self

    def assert_same_rank(self, other: Any) -> None:
        other = as_shape(other)
        if self._dims is not None and other._dims is not None and len(self._dims) != len(other._dims):
            raise ValueError(f"Shapes {self} and {other} must have the same rank")

    def assert_is_fully_defined(self) -> None:
        if not self.is_fully_defined():
            raise ValueError(f"Shape {self} is not fully defined")

    def most_specific_compatible_shape(self, other: Any) -> TensorShape:
        """The most specific shape compatible with both (unknown where they differ)."""
        other = as_shape(other)
        if self._dims is None or other._dims is None or len(self._dims) != len(other._dims):
            return TensorShape(None)
        return TensorShape([a if a == b else None for a, b in zip(self._dims, other._dims)])

    def with_rank_at_least(self, rank: int) -> TensorShape:
        if self._dims is not None and len(self._dims) < rank:
            raise ValueError(f"Shape {self} must have rank at least {rank}")
        return self

    def assert_is_compatible_with(self, other: Any) -> None:
        if not self.is_compatible_with(other):
            raise ValueError(f"Shapes {self} and {as_shape(other)} are incompatible")

    def assert_has_rank(self, rank: int) -> None:
        if self._dims is not None and len(self._dims) != rank:
            raise ValueError(f"Shape {self} must have rank {rank}")

    def __len__(self) -> int:
        if self._dims is None:
            raise ValueError("Cannot take the length of Shape with unknown rank.")
        return len(self._dims)

    def __bool__(self) -> bool:
        return self._dims is not None

    def __iter__(self):
        if self._dims is None:
            raise ValueError("Cannot iterate over a shape with unknown rank.")
        return iter(Dimension(d) for d in self._dims)

    def __getitem__(self, key: Any) -> Any:
        if self._dims is None:
            if not isinstance(key, slice):
                return Dimension(None)
            # TF: a slice of an unknown-rank shape has a known rank only for a non-negative [start:stop].
            if key.step is not None:
                raise ValueError("Steps are not yet handled")
            start = key.start or 0
            if key.stop is None or start < 0 or key.stop < 0:
                return TensorShape(None)
            return TensorShape([None] * max(key.stop - start, 0))
        if isinstance(key, slice):
            return TensorShape(self._dims[key])
        return Dimension(self._dims[key])

    def __eq__(self, other: Any) -> bool:
        try:
            other = as_shape(other)
        except (TypeError, ValueError):
            return NotImplemented
        return self._dims == other._dims

    def __ne__(self, other: Any) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash(self._dims)

    def __repr__(self) -> str:
        if self._dims is None:
            return "TensorShape(None)"
        return f"TensorShape({[Dimension(d) for d in self._dims]!r})"  # TF1's form

    def __str__(self) -> str:
        if self._dims is None:
            return "<unknown>"
        inner = ", ".join("?" if d is None else str(d) for d in self._dims)
        return f"({inner},)" if len(self._dims) == 1 else f"({inner})"

    def as_proto(self):
        from labflow.framework.protos import tensor_shape_pb2
        p = tensor_shape_pb2.TensorShapeProto()
        if self._dims is None:
            p.unknown_rank = True
        else:
            for d in self._dims:
                p.dim.add(size=-1 if d is None else d)
        return p


def as_shape(shape: Any) -> TensorShape:
    return shape if isinstance(shape, TensorShape) else TensorShape(shape)


def unknown_shape(rank: int | None = None) -> TensorShape:
    return TensorShape(None if rank is None else [None] * rank)


def scalar() -> TensorShape:
    return TensorShape(())


def shape_str(dims: tuple | None) -> str:
    """TF's bracket form for error messages: [?,784]."""
    if dims is None:
        return "<unknown>"
    return "[" + ",".join("?" if d is None else str(d) for d in dims) + "]"


def broadcast_dims(a: tuple | None, b: tuple | None) -> tuple | None:
    """Static NumPy broadcasting of two dim tuples; raises ValueError on a definite mismatch."""
    if a is None or b is None:
        return None
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + tuple(a)
    b = (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif x is None:
            out.append(y)
        elif y is None:
            out.append(x)
        elif x == y:
            out.append(x)
        else:
            raise ValueError(f"Dimensions must be equal, but are {x} and {y}")
    return tuple(out)


def dims_of(shapes: Iterable[TensorShape]) -> list:
    return [s._dims for s in shapes]
