"""Notebook re-runs: start a cell from a fresh graph, and a warning when a re-run cell doubles the graph.

Re-running a cell that builds ops adds them again ("x" becomes "x_1") to the same default graph. The
watcher needs no hook inside the Graph: before each cell it notes how many ops the default graph
has; after it, an op created in the cell whose uniquified name and creation stack (line numbers and
source lines of the user frames) match an op that existed before the cell is a duplicate.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from typing import Any, Iterator

from labflow.notebook.graph_model import display_file

_SUFFIX = re.compile(r"_\d+$")


class GraphRerunWarning(UserWarning):
    """A notebook cell added ops that an earlier run of the same code had already added."""


warnings.simplefilter("always", GraphRerunWarning)


def reset() -> Any:
    """Starts over in a notebook: closes the default InteractiveSession(s) and resets the default graph.

    Returns:
        The new (empty) default graph.

    Raises:
        AssertionError: inside a `with graph.as_default():` (or `with tf.Session():`) block, like
            `tf.reset_default_graph()`.
    """
    from labflow.framework.graph import get_default_graph, reset_default_graph
    from labflow.runtime.session import InteractiveSession, get_default_session
    seen = set()
    s = get_default_session()
    while isinstance(s, InteractiveSession) and id(s) not in seen:
        seen.add(id(s))
        s.close()
        s = get_default_session()
    reset_default_graph()
    return get_default_graph()


@contextlib.contextmanager
def fresh_graph() -> Iterator[Any]:
    """`with fresh_graph() as g:` builds the block's ops into a new, empty Graph (the default inside).

    Re-running the cell makes a new graph again instead of doubling an old one; keep `g` to run it.
    """
    from labflow.framework.graph import Graph
    g = Graph()
    with g.as_default():
        yield g


def _unsuffixed(name: str) -> str:
    """"layer1_1/MatMul_2" -> "layer1/MatMul": the name before labflow made its parts unique."""
    return "/".join(_SUFFIX.sub("", p) for p in name.split("/"))


def _stack_key(op: Any) -> tuple | None:
    tb = op.traceback  # outermost first
    if not tb:
        return None
    # Frames outside the cell (whoever runs it) are not part of what the cell did.
    for i, (f, *_rest) in enumerate(tb):
        if display_file(f) == "cell":
            tb = tb[i:]
            break
    # Line numbers and source text, not file names: plain IPython names each run's file differently.
    return tuple((n, line) for _f, n, _fn, line in tb)


def find_duplicates(before: list, added: list) -> list[tuple[str, str]]:
    """(earlier op, new op) name pairs: ops in `added` that re-create an op of `before`.

    Two ops match when their names agree up to labflow's "_N" suffixes, their types agree, and they
    were created by the same stack of user lines (so a helper called from two different cells does
    not count; re-running one cell does).
    """
    index: dict[tuple, str] = {}
    for op in before:
        k = _stack_key(op)
        if k is not None:
            index.setdefault((_unsuffixed(op.name), op.type, k), op.name)
    out = []
    for op in added:
        k = _stack_key(op)
        if k is None:
            continue
        old = index.get((_unsuffixed(op.name), op.type, k))
        if old is not None and old != op.name:
            out.append((old, op.name))
    return out


def rerun_message(dups: list[tuple[str, str]]) -> str:
    ex = ", ".join(f"'{a}' → '{b}'" for a, b in dups[:4]) + (", …" if len(dups) > 4 else "")
    return (f"This cell added {len(dups)} op(s) that an earlier run of the same code had already added "
            f"({ex}): the default graph now holds both copies. Put labflow.notebook.reset() at the top "
            "of the cell, or start it with %%labflow_graph, so a re-run starts from a fresh graph.")


class RerunWatcher:
    """Watches cell executions (IPython's pre_run_cell / post_run_cell events) for doubled graphs."""

    def __init__(self):
        self.enabled = True
        self._before: tuple[Any, int] | None = None
        self.last: list[tuple[str, str]] = []

    def pre_run_cell(self, info: Any = None) -> None:
        from labflow.framework.graph import get_default_graph
        g = get_default_graph()
        self._before = (g, len(g.get_operations()))

    def post_run_cell(self, result: Any = None) -> None:
        from labflow.framework.graph import get_default_graph
        before, self._before = self._before, None
        self.last = []
        if not self.enabled or before is None:
            return
        g, n = before
        if get_default_graph() is not g:
            return
        ops = g.get_operations()
        if len(ops) <= n:
            return
        self.last = find_duplicates(ops[:n], ops[n:])
        if self.last:
            # No source location: the cell is the culprit, not the event loop that calls us.
            warnings.warn_explicit(rerun_message(self.last), GraphRerunWarning, "labflow", 0,
                                   module="labflow.notebook")

    def register(self, shell: Any) -> None:
        for ev in ("pre_run_cell", "post_run_cell"):
            cb = getattr(self, ev)
            with contextlib.suppress(ValueError):
                shell.events.unregister(ev, cb)
            shell.events.register(ev, cb)

    def unregister(self, shell: Any) -> None:
        for ev in ("pre_run_cell", "post_run_cell"):
            with contextlib.suppress(ValueError):
                shell.events.unregister(ev, getattr(self, ev))


def labflow_graph_magic(shell: Any, line: str, cell: str) -> None:
    """`%%labflow_graph [name]`: run the cell from a fresh graph.

    Without a name the default graph is reset first (`labflow.notebook.reset()`), so re-running
    the cell rebuilds instead of doubling. With a name, the cell builds into a new Graph stored in
    the variable `name`, made the default graph while the cell runs.
    """
    name = line.strip()
    if name and not name.isidentifier():
        raise ValueError(f"%%labflow_graph takes an optional variable name, got {name!r}.")
    if not name:
        reset()
        result = shell.run_cell(cell, store_history=False)
    else:
        from labflow.framework.graph import Graph
        g = Graph()
        shell.user_ns[name] = g
        with g.as_default():
            result = shell.run_cell(cell, store_history=False)
    if not result.success:  # shown once already by run_cell; the cell must still count as failed
        raise _CellFailed()


class _CellFailed(Exception):
    """Marks a %%labflow_graph cell as failed without printing its traceback a second time."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return ["(the %%labflow_graph cell failed: see the error above)"]
