"""`tf.test.assert_equal_graph_def`: GraphDefs equal up to node order (TF's EqualGraphDef)."""

from __future__ import annotations

from typing import Any

__all__ = ["assert_equal_graph_def"]


def _split_inputs(node: Any) -> tuple[list[str], set[str]]:
    data = [i for i in node.input if not i.startswith("^")]
    control = {i for i in node.input if i.startswith("^")}
    return data, control


def _diff_node(actual: Any, expected: Any) -> str | None:
    name = actual.name
    if actual.op != expected.op:
        return f"Node named '{name}' has op {actual.op} that does not match expected {expected.op}"
    if actual.device != expected.device:
        return f"Node named '{name}' has device '{actual.device}' that does not match expected '{expected.device}'"
    a_data, a_ctrl = _split_inputs(actual)
    e_data, e_ctrl = _split_inputs(expected)
    if a_data != e_data:
        return f"Node named '{name}' has inputs {a_data} that do not match expected {e_data}"
    if a_ctrl != e_ctrl:
        return (f"Node named '{name}' has control inputs {sorted(a_ctrl)} that do not match expected "
                f"{sorted(e_ctrl)}")
    for key in sorted(set(actual.attr) | set(expected.attr)):
        if key not in expected.attr:
            return f"Node named '{name}' has unexpected attr '{key}' with value: {actual.attr[key]}"
        if key not in actual.attr:
            return f"Node named '{name}' missing expected attr '{key}' with value: {expected.attr[key]}"
        if actual.attr[key] != expected.attr[key]:
            return (f"Node named '{name}' has attr '{key}' with value: {actual.attr[key]} that does not match "
                    f"expected: {expected.attr[key]}")
    return None


def assert_equal_graph_def(actual: Any, expected: Any, checkpoint_v2: bool = False,
                           hash_table_shared_name: bool = False) -> None:
    """Raises AssertionError describing the first difference between two GraphDefs (node order ignored).

    Nodes are compared by name: op, device, data inputs (in order), control inputs (as a set) and attrs.
    `checkpoint_v2` and `hash_table_shared_name` are accepted for TF's signature; labflow's graphs hold
    no randomized checkpoint or table names to strip.

    Raises:
        TypeError: an argument is not a GraphDef.
        AssertionError: the graphs differ.
    """
    del checkpoint_v2, hash_table_shared_name
    for what, g in (("actual", actual), ("expected", expected)):
        if type(g).__name__ != "GraphDef" or not hasattr(g, "node"):
            raise TypeError(f"Expected tf.GraphDef for {what}, got {type(g).__name__}")
    a_nodes = {n.name: n for n in actual.node}
    e_nodes = {n.name: n for n in expected.node}
    for name in a_nodes:
        if name not in e_nodes:
            raise AssertionError(f"Found unexpected node '{name}' (op {a_nodes[name].op}) not in expected graph")
    for name, e in e_nodes.items():
        if name not in a_nodes:
            raise AssertionError(f"Expected node '{name}' (op {e.op}) not found in actual graph")
        diff = _diff_node(a_nodes[name], e)
        if diff:
            raise AssertionError(diff)
