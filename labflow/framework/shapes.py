"""Static shapes: `TensorShape` and `Dimension` with TF 1.x semantics (unknown rank, unknown dims)."""

from __future__ import annotations

from typing import Any, Iterable


class Dimension:
    """One dimension of a static shape; `value` is an int or None when unknown."""

    __slots__ = ("_value",)

    def __init__(self, value: Any):
        if isinstance(value, Dimension):
            value = value._value
        if value is not None:
            try:
                value = int(value.__index__()) if hasattr(value, "__index__") else int(value)
            except (TypeError, ValueError):
                raise TypeError(f"Dimension value must be an integer or None, got {value!r}") from None
            if value < 0:
                raise ValueError(f"Dimension {value} must be >= 0")
        self._value = value

    @property
    def value(self) -> int | None:
        return self._value

    def is_compatible_with(self, other: Any) -> bool:
        o = Dimension(other)._value
        return self._value is None or o is None or self._value == o

    def merge_with(self, other: Any) -> Dimension:
        o = Dimension(other)._value
        if self._value is None:
            return Dimension(o)
        if o is not None and o != self._value:
            raise ValueError(f"Dimensions {self._value} and {o} are not compatible")
        return self

    def __int__(self) -> int:
        if self._value is None:
            raise TypeError("Cannot convert an unknown Dimension to int")
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
        eq = self.__eq__(other)
        return eq if eq is None or eq is NotImplemented else not eq

    def __hash__(self) -> int:
        return hash(self._value)

    def _arith(self, other: Any, fn) -> Dimension:
        o = Dimension(other)._value
        return Dimension(None if self._value is None or o is None else fn(self._value, o))

    def __add__(self, other): return self._arith(other, lambda a, b: a + b)
    __radd__ = __add__
    def __sub__(self, other): return self._arith(other, lambda a, b: a - b)
    def __mul__(self, other): return self._arith(other, lambda a, b: a * b)
    __rmul__ = __mul__
    def __floordiv__(self, other): return self._arith(other, lambda a, b: a // b)

    def __lt__(self, other): return None if self._value is None else self._value < int(Dimension(other))
    def __le__(self, other): return None if self._value is None else self._value <= int(Dimension(other))
    def __gt__(self, other): return None if self._value is None else self._value > int(Dimension(other))
    def __ge__(self, other): return None if self._value is None else self._value >= int(Dimension(other))

    def __repr__(self) -> str:
        return f"Dimension({self._value})"

    def __str__(self) -> str:
        return "?" if self._value is None else str(self._value)


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
            raise ValueError(f"Shapes {self} and {other} must have the same rank")
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
            raise ValueError("Cannot take the length of a shape with unknown rank.")
        return len(self._dims)

    def __bool__(self) -> bool:
        return self._dims is not None

    def __iter__(self):
        if self._dims is None:
            raise ValueError("Cannot iterate over a shape with unknown rank.")
        return iter(Dimension(d) for d in self._dims)

    def __getitem__(self, key: Any) -> Any:
        if self._dims is None:
            return TensorShape(None) if isinstance(key, slice) else Dimension(None)
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
        return f"TensorShape({list(self._dims)!r})"

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
