"""ipywidgets versions of the views, with their state synced from Python (the ONLY ipywidgets import).

    w = GraphView(graph).widget()      # or widget_for(view)
    w.view.expand("layer1")            # the widget redraws
    w.search.value = "MatMul"          # the view highlights (as typing in the box does)

The drawing is the same static SVG as the HTML view, computed in Python for exactly the state the
controls ask for (so any combination of expanded scopes works, not only pre-rendered ones), shown
in an `ipywidgets.HTML`. New views register a widget class in `_WIDGETS`.
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from html import escape
from typing import Any

try:
    import ipywidgets as W
    import traitlets
except ImportError as e:  # pragma: no cover - exercised by the no-ipywidgets test
    raise ImportError("labflow's notebook widgets need ipywidgets: pip install 'labflow[notebook]' (or "
                      "ipywidgets>=8). The views display without it: just show the view itself.") from e

from labflow.notebook.cluster_view import COLUMNS, ClusterView, row_cells
from labflow.notebook.summary_view import SummaryView
from labflow.notebook.svg import legend_svg
from labflow.notebook.timeline_view import TimelineView
from labflow.notebook.views import GraphView, PlacementView, short_device

_CANVAS = W.Layout(overflow="auto", max_height="680px", border="1px solid #ddd")


def _scaled(svg: str, zoom: float) -> str:
    """The SVG with its width/height attributes scaled (its viewBox stays: a zoom)."""
    def f(m: Any) -> str:
        return f'{m.group(1)}="{float(m.group(2)) * zoom:.0f}"'
    head, sep, rest = svg.partition(">")
    return re.sub(r'\b(width|height)="([\d.]+)"', f, head, count=2) + sep + rest


class GraphWidget(W.VBox):
    """Controls (search, scope expand/collapse, hidden subgraphs, zoom) around a GraphView's SVG."""

    expanded = traitlets.List(traitlets.Unicode())
    query = traitlets.Unicode("")

    def __init__(self, view: GraphView, **kwargs: Any):
        self.view = view
        self.search = W.Text(placeholder="search ops", description="find", layout=W.Layout(width="260px"))
        self.matches = W.Dropdown(options=[], description="match", layout=W.Layout(width="360px"))
        self.scope = W.Dropdown(options=self._scope_options(), description="scope", layout=W.Layout(width="360px"))
        self.expand_button = W.Button(description="expand", icon="plus-square-o", layout=W.Layout(width="90px"))
        self.collapse_button = W.Button(description="collapse", icon="minus-square-o", layout=W.Layout(width="90px"))
        self.all_button = W.Button(description="expand all", layout=W.Layout(width="95px"))
        self.none_button = W.Button(description="collapse all", layout=W.Layout(width="95px"))
        cats = ("gradients", "init", "save", "summaries")
        self.show = {c: W.Checkbox(value=c not in view.hide, description=c, indent=False,
                                   layout=W.Layout(width="110px")) for c in cats}
        self.zoom = W.FloatLogSlider(value=1.0, base=2, min=-3, max=2, step=0.25, description="zoom",
                                     readout_format=".2f")
        self.canvas = W.HTML(layout=_CANVAS)
        self.details = W.HTML()
        self.legend = W.HTML()
        rows = [W.HBox([self.search, self.matches]),
                W.HBox([self.scope, self.expand_button, self.collapse_button, self.all_button, self.none_button]),
                W.HBox([W.Label("show:"), *self.show.values(), self.zoom]),
                self.canvas, self.legend, self.details]
        super().__init__(rows + self._extra_rows(), **kwargs)
        self.expand_button.on_click(lambda _: self.scope.value and view.expand(self.scope.value))
        self.collapse_button.on_click(lambda _: self.scope.value and view.collapse(self.scope.value))
        self.all_button.on_click(lambda _: view.expand("*"))
        self.none_button.on_click(lambda _: view.collapse())
        self.search.observe(lambda ch: setattr(self, "query", ch["new"]), "value")
        self.matches.observe(self._on_match, "value")
        self.zoom.observe(lambda ch: self.render(), "value")
        for box in self.show.values():
            box.observe(self._on_show, "value")
        me = weakref.ref(self)  # a closed, forgotten widget must not be kept alive by its view
        view.on_change(lambda v: me() is not None and me().render())
        self.render()

    def _extra_rows(self) -> list:
        return []

    def _scope_options(self) -> list:
        return [("(choose a scope)", "")] + [(s + "/", s) for s in self.view.scopes]

    @traitlets.observe("query")
    def _on_query(self, change: dict) -> None:
        if self.search.value != change["new"]:
            self.search.value = change["new"]
        hits = self.view.search(change["new"], reveal=False) if change["new"] else []
        if not change["new"]:
            self.view.highlight = frozenset()
            self.render()
        self.matches.options = [(h, h) for h in hits[:200]]

    @traitlets.observe("expanded")
    def _on_expanded(self, change: dict) -> None:
        new = set(change["new"])
        if new != self.view.expanded:
            self.view.expanded = set()
            self.view.expand(*new) if new else self.view.collapse()

    def _on_match(self, change: dict) -> None:
        name = change["new"]
        if not name:
            return
        g = self.view.tree.group.get(name, "")
        if g and not set(self.view.tree.ancestors(g)) <= self.view.expanded:
            self.view.expand(g)
        self.details.value = self.view.details_html(name)

    def _on_show(self, change: dict) -> None:
        cats = ("gradients", "init", "save", "summaries")
        others = [h for h in self.view.hide if h not in cats]
        self.view.set_hide([c for c in cats if not self.show[c].value] + others)
        self.scope.options = self._scope_options()

    def render(self) -> None:
        """Redraws from the view's current state (called on every change of the view)."""
        v = self.view
        exp = sorted(v.expanded)
        if exp != list(self.expanded):
            self.expanded = exp
        head = f'<div style="font-size:12px;color:#333">{v._head()}</div>'
        self.canvas.value = head + _scaled(v.svg(), self.zoom.value)
        self.legend.value = legend_svg(v.legend())


class PlacementWidget(GraphWidget):
    """GraphWidget coloured by device, with a device filter and the placement table."""

    def __init__(self, view: PlacementView, **kwargs: Any):
        self.device = W.Dropdown(options=[("(highlight a device)", "")] + [(short_device(d), d) for d in view.devices],
                                 description="device", layout=W.Layout(width="360px"))
        self.table = W.HTML()
        super().__init__(view, **kwargs)
        self.device.observe(self._on_device, "value")

    def _extra_rows(self) -> list:
        return [self.device, self.table]

    def _on_device(self, change: dict) -> None:
        d = change["new"]
        v = self.view
        v.highlight = frozenset(n for n in v.tree.group if d and v.device_of_op.get(n) == d)
        self.render()

    def render(self) -> None:
        super().render()
        self.table.value = self.view._below()


class TimelineWidget(W.VBox):
    """A TimelineView with a time-axis width slider, the totals table and a save-to-file control."""

    def __init__(self, view: TimelineView, **kwargs: Any):
        self.view = view
        self.width = W.IntSlider(value=view.width, min=300, max=8000, step=100, description="width")
        self.path = W.Text(value="timeline.json", description="trace file")
        self.save_button = W.Button(description="save Chrome trace", icon="download")
        self.status = W.HTML()
        self.canvas = W.HTML(layout=_CANVAS)
        self.totals = W.HTML()
        super().__init__([W.HTML(f"<b>Timeline</b>: {view.summary()}"), self.width,
                          self.canvas, self.totals, W.HBox([self.path, self.save_button, self.status])], **kwargs)
        self.width.observe(lambda ch: self.render(), "value")
        self.save_button.on_click(lambda _: self._save())
        self.render()

    def _save(self) -> None:
        p = self.view.save(self.path.value)
        self.status.value = f"wrote <code>{p}</code>"

    def render(self) -> None:
        self.view.width = self.width.value
        self.canvas.value = self.view.svg()
        self.totals.value = self.view.totals_html()


def _refresh_loop(ref: Any, stop: threading.Event, secs: float) -> None:
    # Holds the widget only weakly between refreshes, so a forgotten widget can be collected; ends when
    # the widget says there is nothing left to watch (a closed cluster).
    while not stop.wait(secs):
        w = ref()
        if w is None:
            return
        w.refresh()
        if not w._still_live():
            stop.set()
            w._thread = None
            w.live.value = False
            return
        del w


class _LiveRefresh:
    """The background refresh SummaryWidget and ClusterWidget share: a daemon thread and a live toggle."""

    _stop: threading.Event
    _thread: threading.Thread | None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _still_live(self) -> bool:
        return True

    def _start_refresh(self, secs: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=_refresh_loop, args=(weakref.ref(self), self._stop, secs),
                                        name=f"labflow-{type(self).__name__}", daemon=True)
        self._thread.start()
        self._status()

    def stop(self) -> None:
        """Stops the background refresh (never waits for one in progress)."""
        self._stop.set()
        self._thread = None
        if self.live.value:
            self.live.value = False
        self._status()


class SummaryWidget(_LiveRefresh, W.VBox):
    """A SummaryView that re-reads its logdir every `refresh_secs` while other cells run (e.g. training).

    The re-reading runs in a daemon thread that only sleeps, reads new events and, when there are
    any, sets the `ipywidgets.HTML` value (the kernel sends that to the browser from any thread), so
    the kernel is never blocked. It stops when the widget is closed or "live" is switched off.
    """

    def __init__(self, view: SummaryView, refresh_secs: float | None = 2.0, **kwargs: Any):
        self.view = view
        self.refresh_secs = float(refresh_secs or 0)
        self.live = W.ToggleButton(value=self.refresh_secs > 0, description="live", icon="refresh",
                                   tooltip=f"re-read the logdir every {self.refresh_secs:g} s",
                                   disabled=self.refresh_secs <= 0, layout=W.Layout(width="80px"))
        self.refresh_button = W.Button(description="refresh now", layout=W.Layout(width="110px"))
        self.status = W.HTML()
        self.head = W.HTML()
        self.canvas = W.HTML(layout=_CANVAS)
        super().__init__([W.HBox([self.live, self.refresh_button, self.status]), self.head, self.canvas], **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refresh_button.on_click(lambda _: self.refresh(force=True))
        self.live.observe(lambda ch: self.start() if ch["new"] else self.stop(), "value")
        self.render()
        if self.live.value:
            self.start()

    def refresh(self, force: bool = False) -> bool:
        """Reads new events; redraws when there were any (or `force`). True when there were new events."""
        try:
            new = self.view.refresh()
        except Exception as e:  # noqa: BLE001 - show it, keep the loop alive
            self.status.value = f'<span style="color:#b00">refresh failed: {type(e).__name__}: {e}</span>'
            return False
        if new or force:
            self.render()
        else:
            self._status()
        return new

    def _status(self) -> None:
        state = f"live, every {self.refresh_secs:g} s" if self.running else "paused"
        self.status.value = f'<span style="color:#666">{state} · read at {time.strftime("%H:%M:%S")}</span>'

    def render(self) -> None:
        self.head.value = f'<div style="font-size:12px;color:#333">{self.view._head()}</div>'
        self.canvas.value = self.view.svg()
        self._status()

    def start(self) -> None:
        """Starts the background re-reading (a no-op when running or when refresh_secs is 0)."""
        if self.running or self.refresh_secs <= 0:
            return
        self._start_refresh(self.refresh_secs)

    def close(self) -> None:
        self._stop.set()
        self._thread = None
        super().close()


class ClusterWidget(_LiveRefresh, W.VBox):
    """A ClusterView refreshed every `refresh_s` seconds, with stop/restart/kill buttons per task.

    Like SummaryWidget, the refresh runs in a daemon thread holding the widget weakly; it ends when the
    widget is closed, "live" is switched off, or the cluster is closed or collected. A button runs the
    LocalCluster method in the kernel (a restart waits until the task answers) and then refreshes.
    """

    def __init__(self, view: ClusterView, refresh_s: float | None = None, **kwargs: Any):
        self.view = view
        self.refresh_s = float(view.refresh_s if refresh_s is None else refresh_s or 0)
        self.live = W.ToggleButton(value=self.refresh_s > 0 and view.active, description="live", icon="refresh",
                                   tooltip=f"poll the tasks every {self.refresh_s:g} s",
                                   disabled=self.refresh_s <= 0, layout=W.Layout(width="80px"))
        self.refresh_button = W.Button(description="refresh now", layout=W.Layout(width="110px"))
        self.status = W.HTML()
        self.head = W.HTML()
        self.grid = W.GridBox(layout=W.Layout(grid_template_columns=f"repeat({len(COLUMNS)}, auto) 70px 70px 60px",
                                              grid_gap="2px 8px", align_items="center"))
        self._header = [W.HTML(f"<b>{h}</b>") for h in COLUMNS] + [W.HTML("") for _ in range(3)]
        self.cells: dict[tuple[str, int], list[W.HTML]] = {}
        self.buttons: dict[tuple[str, int], dict[str, W.Button]] = {}
        self._lock = threading.RLock()
        super().__init__([W.HBox([self.live, self.refresh_button, self.status]), self.head, self.grid], **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.refresh_button.on_click(lambda _: self.refresh())
        self.live.observe(lambda ch: self.start() if ch["new"] else self.stop(), "value")
        self.render()
        if self.live.value:
            self.start()

    def refresh(self) -> None:
        """Polls the tasks now and redraws."""
        try:
            self.view.refresh()
        except Exception as e:  # noqa: BLE001 - show it, keep the loop alive
            self.status.value = f'<span style="color:#b00">refresh failed: {type(e).__name__}: {e}</span>'
            return
        self.render()

    def render(self) -> None:
        with self._lock:
            rows = self.view.rows
            keys = [(r["job"], r["index"]) for r in rows]
            if keys != list(self.cells):
                self._rebuild(keys)
            active = self.view.active
            for key, r in zip(keys, rows):
                for cell, html in zip(self.cells[key], row_cells(r)):
                    if cell.value != html:
                        cell.value = html
                b = self.buttons[key]
                b["stop"].disabled = b["kill"].disabled = not (active and r.get("alive"))
                b["restart"].disabled = not active
            self.head.value = f'<div style="font-size:12px;color:#333">{self.view._head()}</div>'
            self._status()

    def _rebuild(self, keys: list[tuple[str, int]]) -> None:
        old = self._row_widgets()
        self.cells, self.buttons = {}, {}
        children: list[W.Widget] = list(self._header)
        for key in keys:
            self.cells[key] = [W.HTML() for _ in COLUMNS]
            self.buttons[key] = {a: W.Button(description=a, layout=W.Layout(width="auto"),
                                             tooltip=f"{a} /job:{key[0]}/task:{key[1]}")
                                 for a in ("stop", "restart", "kill")}
            for action, b in self.buttons[key].items():
                b.on_click(lambda _, k=key, a=action: self.act(k[0], k[1], a))
            children += self.cells[key] + list(self.buttons[key].values())
        self.grid.children = children
        for w in old:
            w.close()

    def act(self, job: str, index: int, action: str) -> None:
        """Runs `cluster.<action>(job, index)` ("stop", "restart" or "kill") and refreshes."""
        c = self.view.cluster
        if c is None or c.closed:
            self.status.value = '<span style="color:#b00">the cluster is closed</span>'
            return
        self.status.value = f'<span style="color:#666">{action} /job:{job}/task:{index}…</span>'
        try:
            getattr(c, action)(job, index)
        except Exception as e:  # noqa: BLE001 - shown in the widget, the kernel goes on
            self.refresh()
            self.status.value = f'<span style="color:#b00">{action} failed: {escape(f"{type(e).__name__}: {e}")}</span>'
            return
        self.refresh()

    def _status(self) -> None:
        state = f"live, every {self.refresh_s:g} s" if self.running else "paused"
        self.status.value = f'<span style="color:#666">{state} · read at {self.view.read_at}</span>'

    def start(self) -> None:
        """Starts the background polling (a no-op when running, when refresh_s is 0 or the cluster is closed)."""
        if self.running or self.refresh_s <= 0 or not self.view.active:
            return
        self._start_refresh(self.refresh_s)

    def _still_live(self) -> bool:
        return self.view.active

    def close(self) -> None:
        self._stop.set()
        self._thread = None
        for w in self._row_widgets() + self._header:
            w.close()
        super().close()

    def _row_widgets(self) -> list[W.Widget]:
        return [w for cs in self.cells.values() for w in cs] + [b for bs in self.buttons.values() for b in bs.values()]


_WIDGETS: list[tuple[type, type]] = [(PlacementView, PlacementWidget), (GraphView, GraphWidget),
                                     (TimelineView, TimelineWidget), (SummaryView, SummaryWidget),
                                     (ClusterView, ClusterWidget)]


def widget_for(view: Any) -> W.Widget:
    """The widget for a view (the first registered class the view is an instance of)."""
    for cls, wcls in _WIDGETS:
        if isinstance(view, cls):
            return wcls(view)
    raise TypeError(f"No widget for {type(view).__name__}.")


__all__ = ["GraphWidget", "PlacementWidget", "TimelineWidget", "SummaryWidget", "ClusterWidget", "widget_for"]
