"""GraphView and PlacementView: a graph drawn with collapsible name scopes, plain or coloured by device."""

from __future__ import annotations

from html import escape
from typing import Any, Callable, Iterable

from labflow.notebook import html as _html
from labflow.notebook.graph_layout import GraphLayout, Layout
from labflow.notebook.graph_model import (
    GraphModel,
    ScopeTree,
    as_model,
    from_graph_def,
    hidden_nodes,
    parent_scope,
)
from labflow.notebook.svg import (
    PALETTE,
    SCOPE_STYLE,
    TYPE_STYLE,
    GraphPainter,
    legend_svg,
    op_category,
    size_of,
)

DEFAULT_HIDE = ("gradients", "init", "save", "summaries")


def short_device(name: str) -> str:
    """"/job:localhost/replica:0/task:0/device:CPU:0" -> "CPU:0"; other jobs keep job and task."""
    if not name:
        return "(unplaced)"
    parts = {}
    for p in name.strip("/").split("/"):
        k, _, v = p.partition(":")
        parts[k] = v
    dev = parts.get("device") or ""
    if parts.get("job", "localhost") == "localhost":
        return dev or name
    return f"{parts.get('job')}:{parts.get('task', '0')}/{dev}".rstrip("/")


class GraphView(_html.View):
    """A graph with name scopes collapsed into boxes that expand on click.

    Args:
        graph: a labflow `Graph`, a `GraphDef` (or its bytes), a `MetaGraphDef` or a `Session`.
        hide: subgraphs left out: "gradients", "init" (init ops, variable initializers), "save",
            "summaries", or any name scope. `hide=()` draws everything.
        expand: scopes drawn open at first ("*" for all).
        edge_labels: write dtype and shape on every edge.
        max_states: how many "one branch open" states the HTML embeds for click-to-expand in the
            browser (the widget computes any state on demand).

    Every node shows its op type and output shape; hovering (or clicking, in a trusted notebook)
    shows its attrs, device and the line that created it.
    """

    color_by = "type"

    def __init__(self, graph: Any, hide: Iterable[str] = DEFAULT_HIDE, expand: Iterable[str] = (),
                 edge_labels: bool = True, max_states: int = 80, max_bytes: int = 3_000_000,
                 title: str | None = None):
        self.source = graph
        self.hide = tuple(hide)
        self.edge_labels = edge_labels
        self.max_states = max_states
        self.max_bytes = max_bytes
        self.title = title
        self.highlight: frozenset[str] = frozenset()
        self._listeners: list[Callable[[GraphView], None]] = []
        self._load(as_model(graph))
        self.expanded: set[str] = set()
        self.expand(*expand)

    # -- model ---------------------------------------------------------------------------------------
    def _load(self, model: GraphModel) -> None:
        self.model = model
        self.hidden = hidden_nodes(model, self.hide)
        self.tree = ScopeTree([n for n in model.nodes if n not in self.hidden])
        self._engine = GraphLayout(model, self.tree, size_of(model, self.tree))
        visible = set(self.tree.group)
        self.hidden_inputs: dict[str, int] = {}
        for e in model.edges():
            if e.dst in visible and e.src in self.hidden:
                self.hidden_inputs[e.dst] = self.hidden_inputs.get(e.dst, 0) + 1
        self.uid = _html.new_uid("graph")

    def refresh(self) -> GraphView:
        """Re-reads the graph (after more ops were added to it); keeps what is expanded."""
        self._load(as_model(self.source))
        self.expanded &= self.tree.scopes
        self._changed()
        return self

    def set_hide(self, hide: Iterable[str]) -> GraphView:
        self.hide = tuple(hide)
        return self.refresh()

    def on_change(self, fn: Callable[[GraphView], None]) -> None:
        """Calls `fn(view)` after every change of what the view shows (the widget listens here)."""
        self._listeners.append(fn)

    def _changed(self) -> None:
        for fn in list(self._listeners):
            fn(self)

    # -- expansion and search -----------------------------------------------------------------------
    @property
    def scopes(self) -> list[str]:
        """Every collapsible scope, outermost first."""
        return sorted(self.tree.scopes, key=lambda s: (s.count("/"), s))

    def _resolve_scope(self, s: str) -> str:
        s = s.rstrip("/")
        if s in self.tree.scopes:
            return s
        if s in self.tree.group:  # an op: open the scopes around it
            return self.tree.group[s]
        raise KeyError(f"No scope named {s!r} in this view. Scopes: {', '.join(self.scopes[:20])}"
                       + (" …" if len(self.scopes) > 20 else ""))

    def expand(self, *scopes: str) -> GraphView:
        """Opens the scopes (and the scopes around them); "*" opens all. An op name opens its scope."""
        for s in scopes:
            if s == "*":
                self.expanded = set(self.tree.scopes)
                continue
            s = self._resolve_scope(s)
            self.expanded.update(self.tree.ancestors(s))
        self._changed()
        return self

    def collapse(self, *scopes: str) -> GraphView:
        """Closes the scopes (no argument: all of them)."""
        if not scopes:
            self.expanded.clear()
        for s in scopes:
            s = self._resolve_scope(s)
            self.expanded = {e for e in self.expanded if e != s and not e.startswith(s + "/")}
        self._changed()
        return self

    def find(self, query: str) -> list[str]:
        """Visible op names containing `query` (case-insensitive)."""
        q = query.strip().lower()
        return [n for n in self.tree.group if q and q in n.lower()]

    def search(self, query: str, reveal: bool = True) -> list[str]:
        """Highlights the ops whose names contain `query`; with `reveal`, opens the first one's scope."""
        hits = self.find(query)
        self.highlight = frozenset(hits)
        if hits and reveal and self.tree.group[hits[0]]:
            self.expanded.update(self.tree.ancestors(self.tree.group[hits[0]]))
        self._changed()
        return hits

    # -- drawing -------------------------------------------------------------------------------------
    def layout(self, expanded: Iterable[str] | None = None) -> Layout:
        return self._engine.layout(frozenset(self.expanded if expanded is None else expanded))

    def _style_of(self, name: str) -> tuple[str, str]:
        return TYPE_STYLE[op_category(self.model.nodes[name].type)]

    def _painter(self) -> GraphPainter:
        return GraphPainter(self.model, self.tree, self.uid, self._style_of,
                            hidden_inputs=self.hidden_inputs, edge_labels=self.edge_labels)

    def svg(self, expanded: Iterable[str] | None = None, highlight: Iterable[str] | None = None,
            titles: bool = True) -> str:
        """The graph as standalone SVG (`expanded`: scopes to open instead of the view's own)."""
        hl = self.highlight if highlight is None else frozenset(highlight)
        return self._painter().svg(self.layout(expanded), hl, titles)

    def legend(self) -> list[tuple[str, str, str]]:
        cats = {op_category(self.model.nodes[n].type) for n in self.tree.group}
        names = {"variable": "variable", "input": "placeholder", "const": "constant", "op": "op",
                 "sendrecv": "Send/Recv", "control": "NoOp / control"}
        items = [(names[c], *TYPE_STYLE[c]) for c in names if c in cats]
        if self.tree.scopes:
            items.append(("name scope (click to expand)", *SCOPE_STYLE))
        return items

    def summary(self) -> str:
        n_hidden: dict[str, int] = {}
        for c in self.hidden.values():
            n_hidden[c] = n_hidden.get(c, 0) + 1
        s = f"{len(self.tree.group)} ops shown"
        if n_hidden:
            s += "; hidden: " + ", ".join(f"{c} ({k} ops)" for c, k in sorted(n_hidden.items()))
            s += " — pass hide=() to show them"
        return s

    def details_html(self, name: str) -> str:
        """An HTML table of one op: type, device, inputs, outputs, attrs, where it was created."""
        n = self.model.nodes[name]
        rows = [("name", n.name), ("type", n.type), ("device", self._device_text(name))]
        rows += [("output", f"{i}: {d} {s}") for i, (d, s) in enumerate(n.outputs)]
        rows += [("input", f"{s}:{k}") for s, k in n.inputs]
        rows += [("control input", c) for c in n.control_inputs]
        rows += [(f"attr {k}", v) for k, v in n.attrs.items()]
        if n.site:
            rows.append(("created at", n.site))
        return ("<table>" + "".join(f"<tr><th>{escape(a)}</th><td><code>{escape(str(b))}</code></td></tr>"
                                    for a, b in rows) + "</table>")

    def _device_text(self, name: str) -> str:
        return self.model.nodes[name].device or "(any: chosen by the placer)"

    def _states(self) -> dict[str, str]:
        """Pre-rendered SVGs: all collapsed (""), each scope open with its ancestors, all open ("*")."""
        painter = self._painter()
        states: dict[str, str] = {}
        budget = self.max_bytes
        keys = [""] + self.scopes
        if len(self.tree.group) <= 400:
            keys.insert(1, "*")
        for key in keys[: self.max_states + 1]:
            exp = set(self.tree.scopes) if key == "*" else set(self.tree.ancestors(key))
            s = painter.svg(self._engine.layout(frozenset(exp)), self.highlight, True)
            budget -= len(s)
            if budget < 0:
                break
            states[key] = s
        return states

    def _below(self) -> str:
        return _html.svg_img(legend_svg(self.legend()), "legend")

    def _head(self) -> str:
        t = f"<b>{escape(self.title)}</b> — " if self.title else ""
        return t + escape(self.summary())

    def to_html(self) -> str:
        """The interactive HTML (static SVG + an inline script; no ipywidgets, nothing from the web)."""
        states = self._states()
        data = {"states": states,
                "parent": {s: parent_scope(s) for s in self.tree.scopes},
                "group": {n: g for n, g in self.tree.group.items() if g},
                "names": list(self.tree.group),
                "details": {n: self.details_html(n) for n in self.tree.group}}
        tools = _html.tools_html(search=True, scopes=bool(self.tree.scopes), all_state="*" in states)
        return _html.page(self.uid, self.svg(), head=self._head(), below=self._below(), packed=data,
                          tools=tools, alt=f"graph: {self.summary()}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.summary()}; {len(self.tree.scopes)} scopes>"


def _placements_of(obj: Any) -> list:
    if hasattr(obj, "placements") and callable(obj.placements):
        return list(obj.placements())
    return list(obj or [])


def _field(p: Any, k: str) -> Any:
    return p.get(k, "") if isinstance(p, dict) else getattr(p, k, "")


class PlacementView(GraphView):
    """The graph coloured by the device each op was placed on, with Send/Recv edges marked and a table
    of placement decisions and their reasons.

    Args:
        session_or_placements: a Session (its most recently compiled step) or a list of `Placement`s.
        graph: the graph to draw (default: the session's; else the partition graphs').
        run_metadata: a `RunMetadata` from a run with `RunOptions(output_partition_graphs=True)`:
            Send/Recv pairs are read from its partition graphs (otherwise they are inferred from
            edges whose two ends were placed on different devices, which is where the partitioner
            puts them).
    """

    color_by = "device"

    def __init__(self, session_or_placements: Any, graph: Any = None, run_metadata: Any = None,
                 hide: Iterable[str] = DEFAULT_HIDE, **kwargs: Any):
        self.placements = _placements_of(session_or_placements)
        self.partition_graphs = list(getattr(run_metadata, "partition_graphs", None) or
                                     (run_metadata if isinstance(run_metadata, (list, tuple)) else []))
        if graph is None:
            graph = getattr(session_or_placements, "graph", None)
        if graph is None:
            if not self.partition_graphs:
                raise ValueError("PlacementView needs the graph: pass a Session, graph=..., or a run_metadata "
                                 "with partition graphs (RunOptions(output_partition_graphs=True)).")
            graph = self._merged_partitions()
        self.device_of_op = {_field(p, "node"): _field(p, "device") for p in self.placements}
        for pg in self.partition_graphs:
            for nd in pg.node:
                self.device_of_op.setdefault(nd.name, nd.device)
        devs = sorted({d for d in self.device_of_op.values() if d})
        self.devices = devs
        self.device_style = {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(devs)}
        super().__init__(graph, hide=hide, **kwargs)
        self.send_recv = self._send_recv_pairs()

    def _merged_partitions(self) -> GraphModel:
        nodes = []
        for pg in self.partition_graphs:
            nodes.extend(from_graph_def(pg).nodes.values())
        return GraphModel(n for n in nodes if n.type not in ("_Feed", "_Fetch"))

    def _send_recv_pairs(self) -> list[dict]:
        """One entry per Send/Recv pair: tensor, producer op, consumers, devices."""
        pairs: list[dict] = []
        if self.partition_graphs:
            sends, recvs, consumers, triggers = {}, {}, {}, {}
            for pg in self.partition_graphs:
                for nd in pg.node:
                    if nd.op == "_ControlTrigger" and nd.input:  # a control edge crossing devices
                        triggers[nd.name] = nd.input[0].lstrip("^")
                    tn = nd.attr["tensor_name"].s.decode() if "tensor_name" in nd.attr else ""
                    if nd.op == "_Send":
                        sends[tn] = nd
                    elif nd.op == "_Recv":
                        recvs[tn] = nd
                    for i in nd.input:
                        consumers.setdefault(i.lstrip("^").split(":")[0], []).append(nd.name)
            for tn, s in sends.items():
                r = recvs.get(tn)
                if r is None or not s.input:
                    continue
                src = s.input[0].split(":")[0]
                src = triggers.get(src, src)
                pairs.append({"tensor": tn, "src": src, "dst": consumers.get(r.name, []),
                              "from": s.device, "to": r.device, "send": s.name, "recv": r.name})
        else:
            for e in self.model.edges():
                a, b = self.device_of_op.get(e.src), self.device_of_op.get(e.dst)
                if a and b and a != b:
                    pairs.append({"tensor": f"{e.src}:{e.index}" if not e.control else f"^{e.src}",
                                  "src": e.src, "dst": [e.dst], "from": a, "to": b, "send": "", "recv": ""})
        return pairs

    def _special_edges(self) -> dict[tuple[str, str], str]:
        out = {}
        for p in self.send_recv:
            for d in p["dst"]:
                out[(p["src"], d)] = f"{short_device(p['from'])}→{short_device(p['to'])}"
        return out

    def _style_of(self, name: str) -> tuple[str, str]:
        d = self.device_of_op.get(name)
        if d:
            return self.device_style.get(d, PALETTE[-1])
        if op_category(self.model.nodes[name].type) == "sendrecv":
            return TYPE_STYLE["sendrecv"]
        return ("#ffffff", "#b0b0b0")

    def _scope_devices(self, scope: str) -> list[str]:
        return sorted({self.device_of_op[n] for n in self.tree.ops_under(scope) if self.device_of_op.get(n)})

    def _scope_style(self, scope: str) -> tuple[str, str]:
        ds = self._scope_devices(scope)
        return self.device_style[ds[0]] if len(ds) == 1 else SCOPE_STYLE

    def _painter(self) -> GraphPainter:
        return GraphPainter(self.model, self.tree, self.uid, self._style_of, self._scope_style,
                            lambda s: [self.device_style[d][0] for d in self._scope_devices(s)]
                            if len(self._scope_devices(s)) > 1 else [],
                            lambda n: self.device_of_op.get(n, ""),
                            self.hidden_inputs, self._special_edges(), self.edge_labels)

    def _device_text(self, name: str) -> str:
        d = self.device_of_op.get(name)
        return d or "(not placed: fed, or not part of the most recent step)"

    def legend(self) -> list[tuple[str, str, str]]:
        items = [(short_device(d), *self.device_style[d]) for d in self.devices]
        if any(n not in self.device_of_op for n in self.tree.group):
            items.append(("not placed (fed, or not in the last step)", "#ffffff", "#b0b0b0"))
        if self.send_recv:
            items.append(("Send/Recv edge", "#ffffff", "#e0601b"))
        if len(self.devices) > 1:
            items.append(("scope on several devices (dots)", *SCOPE_STYLE))
        return items

    def summary(self) -> str:
        per: dict[str, int] = {}
        for p in self.placements:
            d = short_device(_field(p, "device"))
            per[d] = per.get(d, 0) + 1
        s = ", ".join(f"{d}: {k} ops" for d, k in sorted(per.items())) or "no placements yet (run a step first)"
        return f"{s}; {len(self.send_recv)} Send/Recv pair(s). " + super().summary()

    def table_rows(self) -> list[list[str]]:
        return [[_field(p, "node"), _field(p, "op_type"), short_device(_field(p, "device")),
                 _field(p, "requested") or "", _field(p, "reason")] for p in self.placements]

    def _below(self) -> str:
        out = [super()._below()]
        if self.send_recv:
            rows = [[p["tensor"], p["src"], ", ".join(p["dst"][:4]) + (" …" if len(p["dst"]) > 4 else ""),
                     short_device(p["from"]), short_device(p["to"])] for p in self.send_recv]
            out.append("<details open><summary><b>Send/Recv pairs</b></summary>"
                       + _html.table(["tensor", "from op", "to op(s)", "from", "to"], rows) + "</details>")
        out.append("<details><summary><b>Placement decisions</b> "
                   f"({len(self.placements)} ops)</summary><div style=\"max-height:300px;overflow:auto\">"
                   + _html.table(["node", "op", "device", "requested", "reason"], self.table_rows())
                   + "</div></details>")
        return "".join(out)
