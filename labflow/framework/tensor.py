"""Operation, Tensor and IndexedSlices: the nodes and edges of a Graph."""

from __future__ import annotations

import linecache
from typing import Any

from labflow import dtypes as _dtypes
from labflow.framework.shapes import TensorShape, as_shape


class Tensor:
    """A symbolic handle to one output of an `Operation` (TF 1.x `tf.Tensor`)."""

    __slots__ = ("_op", "_value_index", "_dtype", "_shape_dims", "_consumers", "__weakref__")

    # Tensor ops give priority over NumPy arrays in mixed arithmetic (np_array + tensor -> tensor).
    __array_priority__ = 100

    def __init__(self, op: Operation, value_index: int, dtype: _dtypes.DType, dims: tuple | None):
        self._op = op
        self._value_index = value_index
        self._dtype = dtype
        self._shape_dims = dims
        self._consumers: list[Operation] = []

    @property
    def op(self) -> Operation:
        return self._op

    @property
    def graph(self):
        return self._op._graph

    @property
    def name(self) -> str:
        return f"{self._op._name}:{self._value_index}"

    @property
    def value_index(self) -> int:
        return self._value_index

    @property
    def dtype(self) -> _dtypes.DType:
        return self._dtype

    @property
    def device(self) -> str:
        return self._op.device

    @property
    def shape(self) -> TensorShape:
        return TensorShape(self._shape_dims)

    def get_shape(self) -> TensorShape:
        return TensorShape(self._shape_dims)

    def set_shape(self, shape: Any) -> None:
        """Refines the static shape; raises ValueError when incompatible with what is known."""
        try:
            merged = TensorShape(self._shape_dims).merge_with(as_shape(shape))
        except ValueError:
            raise ValueError(f"Shapes {TensorShape(self._shape_dims)} and {as_shape(shape)} are not "
                             f"compatible: cannot set the shape of tensor '{self.name}' (set_shape only "
                             "refines unknown dimensions; use tf.reshape to change a shape).") from None
        self._shape_dims = merged.as_tuple()
        self._op._graph._version += 1

    def consumers(self) -> list[Operation]:
        return list(self._consumers)

    def eval(self, feed_dict: dict | None = None, session: Any = None) -> Any:
        """Runs the default (or given) session to compute this tensor."""
        from labflow.runtime.session import _eval_using_default_session
        return _eval_using_default_session(self, feed_dict, self.graph, session)

    def _as_node_def_input(self) -> str:
        """How a NodeDef names this tensor as an input: "op" for output 0, else "op:i"."""
        return self._op._name if self._value_index == 0 else self.name

    def __repr__(self) -> str:
        return f"<tf.Tensor '{self.name}' shape={self.get_shape()} dtype={self._dtype.name}>"

    def __str__(self) -> str:
        dev = f", device={self._op._device}" if self._op._device else ""
        return f'Tensor("{self.name}", shape={self.get_shape()}, dtype={self._dtype.name}{dev})'

    def _repr_html_(self) -> str:
        from labflow.notebook.repr import tensor_html
        return tensor_html(self)

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __bool__(self) -> bool:
        raise TypeError("Using a `tf.Tensor` as a Python `bool` is not allowed. Use `if t is not None:` "
                        "instead of `if t:` to test if a tensor is defined, and use TensorFlow ops such as "
                        "tf.cond to execute subgraphs conditioned on the value of a tensor.")

    __nonzero__ = __bool__

    def __iter__(self):
        # TF 1.x graph mode never iterates; labflow iterates when the first dimension is static.
        d = self._shape_dims
        if d is None:
            raise TypeError(f"Cannot iterate over a tensor with unknown shape ('{self.name}'): use "
                            "tf.unstack(t, num=...) instead.")
        if not d:
            raise TypeError(f"Cannot iterate over a scalar tensor ('{self.name}').")
        if d[0] is None:
            raise TypeError(f"Cannot iterate over a tensor with unknown first dimension ('{self.name}', "
                            f"shape {self.get_shape()}): use tf.unstack(t, num=...) instead.")
        return (self[i] for i in range(d[0]))

    def __len__(self) -> int:
        d = self._shape_dims
        if d is None or not d or d[0] is None:
            raise TypeError(f"len is not well defined for tensor '{self.name}' with shape "
                            f"{self.get_shape()}: use tf.shape(t)[0].")
        return d[0]

    def __array__(self, dtype=None):
        raise TypeError(f"Cannot convert the symbolic tensor '{self.name}' to a NumPy array: run it in a "
                        "session first (sess.run(t) or t.eval()).")

    @classmethod
    def _override_operator(cls, name: str, fn: Any) -> None:
        setattr(cls, name, fn)


class Operation:
    """A node of the graph: one op invocation (TF 1.x `tf.Operation`)."""

    __slots__ = ("_graph", "_name", "_type", "_opdef", "_inputs", "_control_inputs", "_attrs", "_device",
                 "_outputs", "_site", "_forward_op", "_id", "_control_outputs", "__weakref__", "_colocation")

    def __init__(self, graph, name: str, op_type: str, opdef, inputs: list[Tensor], attrs: dict,
                 device: str, control_inputs: list[Operation], site: list, op_id: int):
        self._graph = graph
        self._name = name
        self._type = op_type
        self._opdef = opdef
        self._inputs = list(inputs)
        self._control_inputs = list(control_inputs)
        self._attrs = attrs
        self._device = device
        self._outputs: list[Tensor] = []
        self._site = site
        self._forward_op: Operation | None = None
        self._id = op_id
        self._control_outputs: list[Operation] = []
        self._colocation: list[str] = []

    @property
    def name(self) -> str:
        return self._name

    @property
    def type(self) -> str:
        return self._type

    @property
    def graph(self):
        return self._graph

    @property
    def inputs(self) -> list[Tensor]:
        return list(self._inputs)

    @property
    def control_inputs(self) -> list[Operation]:
        return list(self._control_inputs)

    @property
    def outputs(self) -> list[Tensor]:
        return list(self._outputs)

    def values(self) -> tuple:
        return tuple(self._outputs)

    @property
    def device(self) -> str:
        return self._device

    def _set_device(self, device: Any) -> None:
        from labflow.framework.device_spec import canonical_name
        self._device = canonical_name(device)
        self._graph._version += 1

    @property
    def node_def(self):
        from labflow.framework.graph_io import op_to_node_def
        return op_to_node_def(self)

    @property
    def op_def(self):
        return self._opdef

    @property
    def attrs(self) -> dict:
        return dict(self._attrs)

    def get_attr(self, name: str) -> Any:
        """The value of attr `name` (colocation groups for "_class", as bytes, like TF).

        Raises:
            ValueError: the op has no such attr (TF's message, with the attrs it has).
        """
        if name == "_class" and self._colocation:
            return [s.encode() for s in self._colocation]
        if name not in self._attrs:
            have = sorted(self._attrs) + (["_class"] if self._colocation else [])
            raise ValueError(f"Operation '{self._name}' has no attr named '{name}'. (type: {self._type}; its "
                             f"attrs: {', '.join(have) or 'none'})")
        return self._attrs[name]

    def _set_attr(self, name: str, value: Any) -> None:
        self._attrs[name] = value
        self._graph._version += 1

    def _add_control_input(self, op: Operation) -> None:
        if op not in self._control_inputs:
            self._control_inputs.append(op)
            op._control_outputs.append(self)
            self._graph._version += 1

    def _add_control_inputs(self, ops: list[Operation]) -> None:
        for o in ops:
            self._add_control_input(o)

    def colocation_groups(self) -> list[bytes]:
        return [s.encode() for s in self._colocation] or [f"loc:@{self._name}".encode()]

    @property
    def traceback(self) -> list[tuple]:
        """The user frames (filename, lineno, function, line) where this op was created, outermost first."""
        return [(f, n, fn, linecache.getline(f, n).strip()) for f, n, fn in reversed(self._site)]

    @property
    def creation_site_text(self) -> str:
        """TF's "Caused by op 'x', defined at:" section for error messages."""
        lines = [f"Caused by op '{self._name}' (type: {self._type}"
                 + (f", device: {self._device}" if self._device else "") + "), defined at:"]
        lines += _format_site(self._site)
        if self._forward_op is not None:
            f = self._forward_op
            lines.append(f"\n...which was originally created as op '{f._name}' (type: {f._type}), "
                         "defined at:")
            lines += _format_site(f._site)
        return "\n".join(lines)

    def run(self, feed_dict: dict | None = None, session: Any = None) -> None:
        from labflow.runtime.session import _run_using_default_session
        _run_using_default_session(self, feed_dict, self._graph, session)

    def __repr__(self) -> str:
        return f"<tf.Operation '{self._name}' type={self._type}>"

    def __str__(self) -> str:
        try:
            return str(self.node_def)  # TF prints the NodeDef
        except Exception:  # noqa: BLE001 - an attr no proto can hold must not break printing
            return repr(self)

    def _repr_html_(self) -> str:
        from labflow.notebook.repr import operation_html
        return operation_html(self)

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other


def _format_site(site: list) -> list[str]:
    out = []
    for f, n, fn in reversed(site):
        out.append(f'  File "{f}", line {n}, in {fn}')
        src = linecache.getline(f, n).strip()
        if src:
            out.append(f"    {src}")
    return out or ["  (no user frame recorded)"]


class IndexedSlices:
    """A sparse representation of a dense tensor: `values` rows at `indices` of a `dense_shape` tensor.

    Gradients of `gather` are IndexedSlices; they are densified where a dense tensor is needed.
    """

    def __init__(self, values: Tensor, indices: Tensor, dense_shape: Tensor | None = None):
        self.values = values
        self.indices = indices
        self.dense_shape = dense_shape

    @property
    def dtype(self) -> _dtypes.DType:
        return self.values.dtype

    @property
    def graph(self):
        return self.values.graph

    @property
    def op(self) -> Operation:
        return self.values.op

    @property
    def name(self) -> str:
        return self.values.name

    @property
    def device(self) -> str:
        return self.values.device

    def get_shape(self) -> TensorShape:
        from labflow.framework.constant_value import constant_value
        if self.dense_shape is not None:
            v = constant_value(self.dense_shape)
            if v is not None:
                return TensorShape([int(x) for x in v])
        vs = self.values.get_shape()
        return TensorShape(None) if vs.ndims is None else TensorShape([None]).concatenate(vs[1:])

    shape = property(get_shape)

    def __repr__(self) -> str:
        return (f"IndexedSlices(indices={self.indices.name}, values={self.values.name}"
                + (f", dense_shape={self.dense_shape.name})" if self.dense_shape is not None else ")"))
