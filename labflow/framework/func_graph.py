"""FuncGraph: the body of a control-flow construct (a cond branch, a while loop's condition or body).

A FuncGraph is a Graph whose inputs are placeholders. Code building it may use tensors of the graphs
around it (closures, as in `tf.cond(p, lambda: x * 2, ...)`): each such tensor is *captured* on first
use, becoming a placeholder here and an extra input of the op that calls the function, which passes its
value in. Variables made while building a function (an RNN cell building its weights inside a loop body)
are lifted to the outermost graph, as TF's `init_scope` does, and share its variable store, so their names
and reuse behave as anywhere else.
"""

from __future__ import annotations

from typing import Any

from labflow.framework.graph import Graph, _encloses
from labflow.framework.tensor import Operation, Tensor

__all__ = ["FuncGraph", "outermost_graph"]


def outermost_graph(g: Graph) -> Graph:
    """The graph that holds `g` (itself unless `g` is a FuncGraph)."""
    while isinstance(g, FuncGraph):
        g = g.outer_graph
    return g


def encloses(outer: Graph, g: Graph) -> bool:
    """True when `g` is `outer` or a function graph nested (at any depth) inside it."""
    return _encloses(outer, g)


class FuncGraph(Graph):
    """A function body: `inputs` (placeholders), `outputs`, and the outer tensors it captured.

    Attributes:
        name: a readable name (e.g. "cond/true_branch"), used in errors.
        outer_graph: the graph the function is called from.
        inputs: the argument placeholders, then one placeholder per captured tensor.
        outputs: the result tensors (set by whoever builds the function).
        captures: (outer tensor, inner placeholder) pairs, in capture order.
        outer_control: ops of outer graphs that ops inside asked to run after; the calling op runs after them.
    """

    def __init__(self, name: str, outer_graph: Graph):
        super().__init__()
        self.name = name
        self.outer_graph = outer_graph
        self.inputs: list[Tensor] = []
        self.outputs: list[Tensor] = []
        self.captures: list[tuple[Tensor, Tensor]] = []
        self._captured: dict[int, Tensor] = {}
        self.outer_control: list[Operation] = []
        self.seed = outer_graph.seed
        self._variable_store = outermost_graph(outer_graph)._variable_store

    @property
    def building_function(self) -> bool:
        return True

    def add_input(self, dtype: Any, shape: Any, name: str) -> Tensor:
        """A new argument placeholder (appended to `inputs`)."""
        from labflow.ops.array_ops import placeholder
        with self.as_default(), self.control_dependencies(None):
            t = placeholder(dtype, shape, name=name)
        self.inputs.append(t)
        return t

    def capture(self, t: Tensor) -> Tensor:
        """The placeholder standing for outer tensor `t` here (made on first use)."""
        if t.graph is self:
            return t
        inner = self._captured.get(id(t))
        if inner is not None:
            return inner
        if not encloses(t.graph, self):
            raise ValueError(f"Tensor {t.name} is from a graph that does not enclose the function "
                             f"'{self.name}' it is used in (a tensor of another graph?).")
        outer = t
        if isinstance(self.outer_graph, FuncGraph) and t.graph is not self.outer_graph:
            outer = self.outer_graph.capture(t)  # nested: the enclosing function captures it first
        dims = t._shape_dims
        ph = self.add_input(t.dtype if t.dtype.is_ref_dtype else t.dtype.base_dtype,
                            None if dims is None else list(dims), f"capture_{len(self.captures)}")
        self.captures.append((outer, ph))
        self._captured[id(t)] = self._captured[id(outer)] = ph
        return ph

    @property
    def captured_outer(self) -> list[Tensor]:
        return [o for o, _ in self.captures]

    def create_op(self, op_type: str, inputs: list, *args: Any, **kwargs: Any) -> Operation:
        inputs = [self.capture(t) if isinstance(t, Tensor) and t.graph is not self else t for t in inputs]
        control = kwargs.get("control_inputs")
        if control:
            kwargs["control_inputs"] = self._inner_control(control)
        return super().create_op(op_type, inputs, *args, **kwargs)

    def _inner_control(self, ops: list) -> list:
        inner = []
        for c in ops:
            if isinstance(c, Operation) and c.graph is not self:
                if c not in self.outer_control:
                    self.outer_control.append(c)
            else:
                inner.append(c)
        return inner

    def _control_deps_for(self, input_ops: list[Operation]) -> list[Operation]:
        # `tf.control_dependencies([outer_op])` inside a branch: the calling op waits for outer_op instead.
        return self._inner_control(super()._control_deps_for(input_ops))

    def __repr__(self) -> str:
        return f"<FuncGraph '{self.name}': {len(self._ops)} ops, {len(self.inputs)} inputs>"
