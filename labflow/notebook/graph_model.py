"""What a graph view draws: nodes and edges read from a Graph, GraphDef or Session; hidden subgraphs; scopes.

Everything here is plain data (no HTML, no layout), so scripts and tests can use it directly:

    model = as_model(graph)                       # Graph, GraphDef, MetaGraphDef, Session or bytes
    hidden = hidden_nodes(model, ("gradients", "init"))   # name -> the category that hides it
    tree = ScopeTree([n for n in model.nodes if n not in hidden])
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

# Op types that hold state or are fed: hiding never spreads through them to the ops they feed.
VARIABLE_TYPES = frozenset({"VariableV2", "Variable", "VarHandleOp", "TemporaryVariable"})
INPUT_TYPES = frozenset({"Placeholder", "PlaceholderWithDefault", "PlaceholderV2"})
_ASSIGN_TYPES = frozenset({"Assign", "AssignVariableOp"})
_HIDE_CATEGORIES = ("gradients", "init", "save", "summaries")
_GRADIENTS = re.compile(r"^gradients(_\d+)?$")
_SAVE = re.compile(r"^save(_\d+)?$")
_INIT = re.compile(r"(^|/)(init|init_all_tables|init_\d+|report_uninitialized_variables)$")
_SUFFIX = re.compile(r"_\d+$")


@dataclass
class Node:
    """One op as the views show it: strings only, ready for display."""

    name: str
    type: str
    device: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    inputs: list[tuple[str, int]] = field(default_factory=list)  # (producer op name, output index)
    control_inputs: list[str] = field(default_factory=list)
    outputs: list[tuple[str, str]] = field(default_factory=list)  # (dtype name, shape "[?,784]")
    site: str = ""  # innermost user frame where the op was created: "file.py:12: code"

    @property
    def shape(self) -> str:
        """The shape of output 0 ("" for ops without outputs)."""
        return self.outputs[0][1] if self.outputs else ""


@dataclass
class Edge:
    src: str
    dst: str
    index: int  # output index of src (-1 for a control edge)
    dtype: str = ""
    shape: str = ""

    @property
    def control(self) -> bool:
        return self.index < 0

    @property
    def label(self) -> str:
        return "" if self.control else f"{self.dtype} {self.shape}".strip()


class GraphModel:
    """Nodes (in graph order) and the edges between them."""

    def __init__(self, nodes: Iterable[Node]):
        self.nodes: dict[str, Node] = {n.name: n for n in nodes}

    def edges(self) -> list[Edge]:
        """Every data and control edge whose producer is in the model."""
        out = []
        for n in self.nodes.values():
            for src, k in n.inputs:
                p = self.nodes.get(src)
                if p is None:
                    continue
                dt, sh = p.outputs[k] if k < len(p.outputs) else ("", "")
                out.append(Edge(src, n.name, k, dt, sh))
            for c in n.control_inputs:
                if c in self.nodes:
                    out.append(Edge(c, n.name, -1))
        return out

    def consumers(self) -> dict[str, set[str]]:
        cons: dict[str, set[str]] = {n: set() for n in self.nodes}
        for e in self.edges():
            cons[e.src].add(e.dst)
        return cons

    def __len__(self) -> int:
        return len(self.nodes)


# -- reading graphs --------------------------------------------------------------------------------------
def shape_text(dims: Any) -> str:
    """"[?,784]" for a dims tuple / TensorShape; "?" for an unknown rank."""
    if dims is None:
        return "?"
    if hasattr(dims, "as_list"):
        if getattr(dims, "ndims", 0) is None:
            return "?"
        dims = dims.as_list()
    return "[" + ",".join("?" if d is None or d == -1 else str(d) for d in dims) + "]"


def attr_text(v: Any, limit: int = 80) -> str:
    """A short display form of an attr value (arrays show dtype and shape, not their contents)."""
    if hasattr(v, "name") and hasattr(v, "as_numpy_dtype"):  # a DType
        s = v.name
    elif hasattr(v, "shape") and hasattr(v, "dtype") and hasattr(v, "size"):  # a NumPy array
        s = (repr(v.tolist()) if v.size <= 8 else f"{v.dtype} array {shape_text(v.shape)}")
    elif hasattr(v, "as_list") and hasattr(v, "ndims"):
        s = shape_text(v)
    elif isinstance(v, bytes):
        s = repr(v)
    elif isinstance(v, (list, tuple)):
        s = "[" + ", ".join(attr_text(x, limit) for x in v) + "]"
    else:
        s = str(v)
    return s if len(s) <= limit else s[:limit - 1] + "…"


_CELL_FILE = re.compile(r"^<ipython-input-|ipykernel_\d+[\\/]")


def display_file(filename: str) -> str:
    """A frame's file as users know it: "cell" for a notebook cell, else the file's base name."""
    return "cell" if _CELL_FILE.search(filename) else os.path.basename(filename)


def _site_text(op: Any) -> str:
    tb = op.traceback
    if not tb:
        return ""
    f, n, _fn, line = tb[-1]
    return f"{display_file(f)}:{n}: {line}".rstrip(": ")


def from_graph(graph: Any) -> GraphModel:
    """A model of a labflow `Graph` (every op, its inferred shapes and where it was created).

    The functions of control-flow ops are drawn inside the op's own scope: a `tf.while_loop` named
    "while" gets the scopes "while/cond" and "while/body" (a `tf.cond`, "cond/then" and "cond/else"),
    their arguments fed by the op's inputs. The gradient ops built inside a function are left out: the
    IfGrad/WhileGrad op stands for them.
    """
    nodes: list[Node] = []
    for op in graph.get_operations():
        nodes.append(_op_node(op, op.name, [(t.op.name, t.value_index) for t in op.inputs],
                              [c.name for c in op.control_inputs], op.device))
        _function_nodes(op, op.name, nodes)
    return GraphModel(nodes)


_FUNCTION_ROLES = {"If": (("then_branch", "then"), ("else_branch", "else")),
                   "While": (("cond", "cond"), ("body", "body"))}


def _op_node(op: Any, name: str, inputs: list, control: list, device: str) -> Node:
    attrs = {k: attr_text(v) for k, v in op._attrs.items()
             if v is not None and not k.startswith("_") and k not in ("record",)}
    if op._colocation:
        attrs["_class"] = attr_text(op._colocation)
    return Node(name, op.type, device, attrs, inputs, control,
                [(t.dtype.name, shape_text(t._shape_dims)) for t in op.outputs], _site_text(op))


def _function_nodes(op: Any, name: str, nodes: list[Node]) -> None:
    """The ops of `op`'s functions (none for other ops) as nodes under `name`/<role>/."""
    roles = _FUNCTION_ROLES.get(op.type)
    if roles is None:
        return
    outer = [(t.op.name, t.value_index) for t in op.inputs]
    if op.type == "If":
        feeds = {"then_branch": outer[1:], "else_branch": outer[1:]}
    else:
        n, n_cond = len(op.get_attr("Tout")), op.get_attr("n_cond_captures")
        feeds = {"cond": outer[:n] + outer[n:n + n_cond], "body": outer[:n] + outer[n + n_cond:]}
    for attr, role in roles:
        fg = op.get_attr(attr)
        prefix = f"{name}/{role}/"
        args = {id(ph.op): src for ph, src in zip(fg.inputs, feeds[attr])}
        for inner in fg.get_operations():
            if _GRADIENTS.match(inner.name.split("/", 1)[0]):
                continue
            inputs = [(prefix + t.op.name, t.value_index) for t in inner.inputs]
            if id(inner) in args:
                inputs = [args[id(inner)]]
            nodes.append(_op_node(inner, prefix + inner.name, inputs,
                                  [prefix + c.name for c in inner.control_inputs], op.device))
            _function_nodes(inner, prefix + inner.name, nodes)


def _dtype_name(enum: int) -> str:
    try:
        from labflow import dtypes
        return dtypes.as_dtype(enum).name
    except Exception:  # noqa: BLE001 - a dtype labflow lacks still displays
        return f"dtype{enum}"


def from_graph_def(graph_def: Any) -> GraphModel:
    """A model of a `GraphDef` (TF's or labflow's, partition graphs with _Send/_Recv included).

    Shapes come from `_output_shapes` attrs when present; dtypes from the usual type attrs.
    """
    from labflow.framework.graph_io import _as_graph_def
    from labflow.framework.proto_convert import attr_value_to_python
    gd = _as_graph_def(graph_def)
    nodes = []
    for nd in gd.node:
        attrs: dict[str, str] = {}
        dtype = ""
        shapes: list[str] = []
        for k, av in sorted(nd.attr.items()):
            if k == "_output_shapes":
                shapes = [shape_text(None if s.unknown_rank else [d.size for d in s.dim]) for s in av.list.shape]
                continue
            if av.WhichOneof("value") == "type" and k in ("T", "dtype", "DstT", "out_type", "tensor_type"):
                dtype = dtype if k == "T" and dtype else _dtype_name(av.type)
            try:
                v = attr_value_to_python(av)
            except Exception:  # noqa: BLE001 - function attrs etc.: show the proto text
                v = str(av).strip()
            attrs[k] = attr_text(v)
        inputs, ctrl = [], []
        for s in nd.input:
            if s.startswith("^"):
                ctrl.append(s[1:])
            else:
                name, sep, idx = s.rpartition(":")
                inputs.append((name, int(idx)) if sep and idx.isdigit() else (s, 0))
        n_out = max(len(shapes), 0 if nd.op in ("NoOp", "_Send", "_Fetch") else 1)
        outputs = [(dtype, shapes[i] if i < len(shapes) else "?") for i in range(n_out)]
        nodes.append(Node(nd.name, nd.op, nd.device, attrs, inputs, ctrl, outputs))
    # An input that names output k of a producer proves it has > k outputs.
    by = {n.name: n for n in nodes}
    for n in nodes:
        for src, k in n.inputs:
            p = by.get(src)
            if p is not None and k >= len(p.outputs):
                p.outputs.extend([(p.outputs[0][0] if p.outputs else "", "?")] * (k + 1 - len(p.outputs)))
    return GraphModel(nodes)


def as_model(obj: Any) -> GraphModel:
    """A GraphModel from a Graph, GraphDef (or its bytes), MetaGraphDef, Session or GraphModel.

    Raises:
        TypeError: for anything else.
    """
    if isinstance(obj, GraphModel):
        return obj
    from labflow.framework.graph import Graph
    if isinstance(obj, Graph):
        return from_graph(obj)
    if isinstance(getattr(obj, "graph", None), Graph) and hasattr(obj, "run"):  # a Session
        return from_graph(obj.graph)
    if isinstance(obj, (bytes, bytearray)) or hasattr(obj, "node") and hasattr(obj, "versions"):
        return from_graph_def(obj)
    if hasattr(obj, "graph_def") and hasattr(obj, "meta_info_def"):  # a MetaGraphDef
        return from_graph_def(obj.graph_def)
    raise TypeError(f"Cannot draw a {type(obj).__name__}: pass a labflow Graph, a GraphDef, a MetaGraphDef "
                    "or a Session.")


# -- hidden subgraphs ------------------------------------------------------------------------------------
def _category(node: Node, extra: list[str]) -> str | None:
    top = node.name.split("/", 1)[0]
    if _GRADIENTS.match(top):
        return "gradients"
    if _SAVE.match(top):
        return "save"
    if top == "summaries" or node.type.endswith(("Summary", "SummaryV2")):
        return "summaries"
    if node.type in ("NoOp", "IsVariableInitialized") and _INIT.search(node.name):
        return "init"
    for p in extra:
        if node.name == p or node.name.startswith(p + "/"):
            return p
    return None


def hidden_nodes(model: GraphModel, hide: Iterable[str] = _HIDE_CATEGORIES) -> dict[str, str]:
    """The nodes a view leaves out, each with the category (or scope prefix) that hides it.

    Categories: "gradients" (gradients/, gradients_1/...), "init" (init NoOps and the Assign
    initializers of variables, with their initial-value subgraphs), "save" (save/...), "summaries"
    (summary ops and summaries/). Any other string hides that name scope. An op whose every consumer
    is hidden by "init" is hidden too (so an initializer's random_uniform goes with its Assign), except
    placeholders and variables. Hiding never spreads from gradients, save or summaries: the loss
    feeds only gradients, yet it is part of the model.
    """
    hide = list(hide)
    cats = [h for h in hide if h in _HIDE_CATEGORIES]
    extra = [h.rstrip("/") for h in hide if h not in _HIDE_CATEGORIES]
    out: dict[str, str] = {}
    nodes = model.nodes
    for n in nodes.values():
        c = _category(n, extra)
        if c is None and "init" in cats and n.type in _ASSIGN_TYPES and n.inputs:
            var = nodes.get(n.inputs[0][0])
            if var is not None and var.type in VARIABLE_TYPES and n.name == var.name + "/Assign":
                c = "init"
        if c is not None and (c in cats or c in extra):
            out[n.name] = c
    if "init" not in out.values():
        return out
    cons = model.consumers()
    order = list(nodes)
    changed = True
    while changed:  # creation order is topological for labflow graphs: one reverse pass usually suffices
        changed = False
        for name in reversed(order):
            n = nodes[name]
            if name in out or n.type in VARIABLE_TYPES or n.type in INPUT_TYPES:
                continue
            cs = cons[name]
            if cs and all(out.get(c) == "init" for c in cs):
                out[name] = "init"
                changed = True
    return out


# -- name scopes -----------------------------------------------------------------------------------------
def parent_scope(s: str) -> str:
    return s.rsplit("/", 1)[0] if "/" in s else ""


class ScopeTree:
    """The name-scope hierarchy of a set of op names.

    An op whose name is also a scope (the variable "layer1/W" beside "layer1/W/read") belongs to
    that scope as its "own op", like TensorBoard draws it. A scope holding a single op is dropped
    and its op shown in the enclosing scope. The root scope is "".
    """

    def __init__(self, names: Iterable[str]):
        names = list(names)
        prefixes: set[str] = set()
        for n in names:
            parts = n.split("/")
            for i in range(1, len(parts)):
                prefixes.add("/".join(parts[:i]))
        group = {n: (n if n in prefixes else parent_scope(n)) for n in names}
        count: dict[str, int] = {}
        for n in names:
            s = group[n]
            while s:
                count[s] = count.get(s, 0) + 1
                s = parent_scope(s)
        for n in names:  # single-op scopes dissolve into the nearest scope with more ops
            s = group[n]
            while s and count.get(s, 0) <= 1:
                s = parent_scope(s)
            group[n] = s
        self.scopes = {s for s, c in count.items() if c > 1}
        self.group = group
        self.count = {s: count[s] for s in self.scopes}
        self.count[""] = len(names)
        self.own_op = {s: s for s in self.scopes if group.get(s) == s}
        first: dict[str, int] = {}
        for i, n in enumerate(names):
            s = group[n]
            while s and s not in first:
                first[s] = i
                s = parent_scope(s)
        items = [(first[s], ("scope", s)) for s in self.scopes]
        items += [(i, ("op", n)) for i, n in enumerate(names)]
        items.sort(key=lambda x: x[0])  # children in order of first appearance: a good initial ordering
        self.children: dict[str, list[tuple[str, str]]] = {s: [] for s in self.scopes | {""}}
        for _, (kind, x) in items:
            self.children[parent_scope(x) if kind == "scope" else group[x]].append((kind, x))
        self._names = names
        self._under: dict[str, list[str]] | None = None

    def ancestors(self, scope: str) -> list[str]:
        """The scopes from the outermost down to `scope` itself (empty for the root)."""
        out = []
        while scope:
            out.append(scope)
            scope = parent_scope(scope)
        return out[::-1]

    def ops_under(self, scope: str) -> list[str]:
        """Every op inside `scope` (at any depth), in graph order."""
        if not scope:
            return list(self._names)
        if self._under is None:
            under: dict[str, list[str]] = {s: [] for s in self.scopes}
            for n in self._names:
                for s in self.ancestors(self.group[n]):
                    under[s].append(n)
            self._under = under
        return list(self._under.get(scope, ()))

    def depth(self, scope: str) -> int:
        return 0 if not scope else scope.count("/") + 1


def base_name(name: str) -> str:
    """"layer1/MatMul_3" -> "layer1/MatMul": the name before labflow made it unique."""
    return _SUFFIX.sub("", name)
