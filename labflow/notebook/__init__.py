"""labflow in notebooks: graph, placement and timeline views, rich reprs, and safe cell re-runs.

    from labflow.notebook import GraphView, PlacementView, TimelineView
    GraphView(tf.get_default_graph())            # name scopes collapsed; click to expand
    PlacementView(sess, run_metadata=md)         # coloured by device, Send/Recv marked, reasons
    TimelineView(md)                             # Gantt chart of a FULL_TRACE step
    SummaryView(writer).widget(refresh_secs=2)   # a logdir's scalars/histograms, live while training

Every view displays as self-contained HTML (an SVG that works without JS; a trusted notebook adds
search, zoom/pan and click-to-expand through an inline script; nothing loads from the web), and
`.widget()` gives an ipywidgets version whose state is synced from Python. Only widgets.py imports
ipywidgets, and only when a widget is asked for.

In IPython, `%load_ext labflow.notebook` (done automatically when labflow is imported inside
IPython) adds rich displays for RunMetadata/StepStats/GraphDef, the `%%labflow_graph` cell magic,
`%labflow_reset`, and a warning when re-running a cell doubles the default graph.
"""

from __future__ import annotations

import sys
from typing import Any

from labflow.notebook.cluster_view import ClusterView
from labflow.notebook.graph_model import GraphModel, ScopeTree, as_model, hidden_nodes
from labflow.notebook.html import View
from labflow.notebook.rerun import GraphRerunWarning, RerunWatcher, find_duplicates, fresh_graph, reset
from labflow.notebook.summary_view import SummaryView
from labflow.notebook.timeline_view import TimelineView
from labflow.notebook.views import GraphView, PlacementView

__all__ = ["GraphView", "PlacementView", "TimelineView", "SummaryView", "ClusterView",
           "View", "reset", "fresh_graph", "GraphRerunWarning",
           "install", "load_ipython_extension", "unload_ipython_extension", "as_model", "hidden_nodes",
           "GraphModel", "ScopeTree", "find_duplicates", "install_reprs", "rerun_warnings"]

_watcher = RerunWatcher()


def _display(fn_name: str):
    def f(obj: Any, *args: Any) -> str:
        from labflow.notebook import repr as _r
        return getattr(_r, fn_name)(obj)
    f.__name__ = fn_name
    return f


def install_reprs() -> None:
    """Gives Tensor, Operation, Variable, Graph and Session their rich `_repr_html_` (idempotent).

    Prefer the one-line delegations in the classes themselves (see the module docs); this is for
    labflow versions without them.
    """
    from labflow.framework.graph import Graph
    from labflow.framework.tensor import Operation, Tensor
    from labflow.ops.variables import Variable
    from labflow.runtime.session import BaseSession
    for cls, fn in ((Tensor, "tensor_html"), (Operation, "operation_html"), (Graph, "graph_html"),
                    (BaseSession, "session_html"), (Variable, "variable_html")):
        cls._repr_html_ = _display(fn)


def install(shell: Any = None) -> bool:
    """Registers the notebook integration with the running IPython (no-op outside IPython).

    HTML formatters for the protobuf results (RunMetadata, StepStats, GraphDef), which cannot carry
    their own `_repr_html_`; the `%%labflow_graph` and `%labflow_reset` magics; the re-run watcher.
    Returns True when an IPython shell was found.
    """
    if shell is None:
        if "IPython" not in sys.modules:  # no shell can be running: do not import IPython for nothing
            return False
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    html = shell.display_formatter.formatters["text/html"]
    mod = "labflow.framework.protos"
    html.for_type_by_name(f"{mod}.config_pb2", "RunMetadata", _display("run_metadata_html"))
    html.for_type_by_name(f"{mod}.step_stats_pb2", "StepStats", _display("step_stats_html"))
    html.for_type_by_name(f"{mod}.graph_pb2", "GraphDef", _display("graph_def_html"))
    if hasattr(shell, "register_magic_function"):
        from labflow.notebook.rerun import labflow_graph_magic

        def labflow_graph(line: str, cell: str) -> None:
            labflow_graph_magic(shell, line, cell)
        labflow_graph.__doc__ = labflow_graph_magic.__doc__

        def labflow_reset(line: str = "") -> None:
            """%labflow_reset: close the default InteractiveSession and reset the default graph."""
            reset()
        shell.register_magic_function(labflow_graph, "cell", "labflow_graph")
        shell.register_magic_function(labflow_reset, "line", "labflow_reset")
    if hasattr(shell, "events"):
        _watcher.register(shell)
    return True


def load_ipython_extension(shell: Any) -> None:
    """`%load_ext labflow.notebook`."""
    install(shell)


def unload_ipython_extension(shell: Any) -> None:
    _watcher.unregister(shell)


def rerun_warnings(enabled: bool = True) -> None:
    """Turns the "this cell doubled the graph" warning on or off."""
    _watcher.enabled = enabled
