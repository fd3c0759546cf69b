"""`tf.saved_model.main_op`: the usual main op of a SavedModel (initialize variables and tables)."""

from __future__ import annotations

from typing import Any

from labflow.framework.graph import get_default_graph
from labflow.framework.tensor import Operation

__all__ = ["main_op", "main_op_with_restore"]


def main_op() -> Operation:
    """Returns an op that initializes all global and local variables and all lookup tables."""
    from labflow.ops.control_flow_ops import group
    from labflow.ops.lookup_ops import tables_initializer
    from labflow.ops.variables import global_variables_initializer, local_variables_initializer
    return group(global_variables_initializer(), local_variables_initializer(), tables_initializer())


def main_op_with_restore(restore_op_name: Any) -> Operation:
    """Returns an op that runs `main_op()` and then the op named `restore_op_name` (e.g. "save/restore_all").

    Raises:
        KeyError: no op of that name in the default graph.
    """
    from labflow.ops.control_flow_ops import group
    g = get_default_graph()
    restore_op = g.as_graph_element(restore_op_name, allow_tensor=False, allow_operation=True)
    with g.control_dependencies([main_op()]):
        return group(restore_op)
