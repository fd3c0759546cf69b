"""TF 1.x's `tf.graph_util`: freezing a trained graph for inference and trimming GraphDefs.

`convert_variables_to_constants(sess, graph_def, ["logits"])` is the first step of TF's deployment path
(freeze, then optionally quantize with labflow/tools/quantize.py): every variable the outputs need
becomes a Const holding its current value, and everything the outputs do not need (initializers,
optimizer slots, the training step) is dropped.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

from labflow.framework.graph_io import _as_graph_def
from labflow.framework.proto_convert import attr_value_from_python
from labflow.framework.protos import graph_pb2

__all__ = ["extract_sub_graph", "convert_variables_to_constants", "remove_training_nodes", "node_name"]

_VARIABLE_OPS = ("VariableV2", "Variable")


def node_name(name: str) -> str:
    """"^x", "x:1" and "x" all name node "x"."""
    name = name[1:] if name.startswith("^") else name
    base, sep, idx = name.rpartition(":")
    return base if sep and idx.isdigit() else name


def _names(dest_nodes: Any) -> list[str]:
    if isinstance(dest_nodes, str):
        raise TypeError("dest_nodes must be a list of node names, not a string.")
    return [node_name(n) for n in dest_nodes]


def extract_sub_graph(graph_def: Any, dest_nodes: Iterable[str]) -> graph_pb2.GraphDef:
    """The nodes `dest_nodes` need (through data and control inputs), in their original order.

    Raises:
        TypeError: `dest_nodes` is a string.
        AssertionError / ValueError: a destination is not in the graph (TF raises AssertionError).
    """
    gd = _as_graph_def(graph_def)
    by_name = {n.name: n for n in gd.node}
    wanted = _names(dest_nodes)
    for d in wanted:
        if d not in by_name:
            raise ValueError(f"{d} is not in graph")
    keep: set[str] = set()
    stack = list(wanted)
    while stack:
        n = stack.pop()
        if n in keep:
            continue
        keep.add(n)
        stack.extend(node_name(i) for i in by_name[n].input if node_name(i) in by_name)
    out = graph_pb2.GraphDef()
    out.node.extend(copy.deepcopy(n) for n in gd.node if n.name in keep)
    out.versions.CopyFrom(gd.versions)
    return out


def convert_variables_to_constants(sess: Any, input_graph_def: Any, output_node_names: Iterable[str],
                                   variable_names_whitelist: Iterable[str] | None = None,
                                   variable_names_blacklist: Iterable[str] | None = None) -> graph_pb2.GraphDef:
    """Freezes a graph: the variables `output_node_names` need become Consts with their values in `sess`.

    Args:
        sess: a Session holding the variables' current values.
        input_graph_def: the GraphDef (e.g. `sess.graph.as_graph_def()`).
        output_node_names: names of the nodes the frozen graph must compute.
        variable_names_whitelist: only these variables are converted (default: all).
        variable_names_blacklist: these variables are not converted.

    Returns:
        A GraphDef with only the nodes the outputs need, variables as Consts.
    """
    sub = extract_sub_graph(input_graph_def, output_node_names)
    allow = None if variable_names_whitelist is None else {node_name(v) for v in variable_names_whitelist}
    deny = {node_name(v) for v in variable_names_blacklist or ()}
    names = [n.name for n in sub.node if n.op in _VARIABLE_OPS and (allow is None or n.name in allow)
             and n.name not in deny]
    values = dict(zip(names, sess.run([n + ":0" for n in names]))) if names else {}
    out = graph_pb2.GraphDef()
    for n in sub.node:
        if n.name not in values:
            out.node.add().CopyFrom(n)
            continue
        c = out.node.add()
        c.name, c.op = n.name, "Const"
        if n.device:
            c.device = n.device
        c.attr["dtype"].CopyFrom(n.attr["dtype"])
        c.attr["value"].CopyFrom(attr_value_from_python(values[n.name]))
    out.versions.CopyFrom(sub.versions)
    return out


def remove_training_nodes(input_graph: Any, protected_nodes: Iterable[str] | None = None) -> graph_pb2.GraphDef:
    """Drops Identity and CheckNumerics nodes (rewiring their consumers to their input), as TF 1.x does
    before inference, keeping the `protected_nodes` and any node referenced by a control input."""
    gd = _as_graph_def(input_graph)
    protected = {node_name(n) for n in protected_nodes or ()}
    controlled = {node_name(i) for n in gd.node for i in n.input if i.startswith("^")}
    skip = {n.name: n.input[0] for n in gd.node
            if n.op in ("Identity", "CheckNumerics") and n.name not in protected and n.name not in controlled
            and n.input and not n.input[0].startswith("^")}

    def resolve(i: str) -> str:
        seen: set[str] = set()  # an Identity has one output: "x" and "x:0" both become its input
        while not i.startswith("^") and node_name(i) in skip and node_name(i) not in seen:
            seen.add(node_name(i))
            i = skip[node_name(i)]
        return i

    out = graph_pb2.GraphDef()
    for n in gd.node:
        if n.name in skip:
            continue
        c = out.node.add()
        c.CopyFrom(n)
        del c.input[:]
        c.input.extend(resolve(i) for i in n.input)
    out.versions.CopyFrom(gd.versions)
    return out
