"""SVG for graph layouts and legends: presentation attributes only (no CSS needed), so the drawing
survives notebook sanitizers that strip <style> and <script> from untrusted outputs."""

from __future__ import annotations

import hashlib
from html import escape
from typing import Callable

from labflow.notebook.graph_layout import Layout, Route
from labflow.notebook.graph_model import GraphModel, ScopeTree

FONT = "Helvetica, Arial, sans-serif"
FONT_SIZE = 11
OP_H, SCOPE_H = 34.0, 40.0

# Light fills with a darker stroke of the same hue (ColorBrewer Set3/Paired-like), for devices and types.
PALETTE = [("#a6cee3", "#1f78b4"), ("#b2df8a", "#33a02c"), ("#fdbf6f", "#e07b00"), ("#cab2d6", "#6a3d9a"),
           ("#fb9a99", "#e31a1c"), ("#8dd3c7", "#1b9e77"), ("#ffffb3", "#b8a400"), ("#bebada", "#5e4fa2"),
           ("#fccde5", "#c51b7d"), ("#d9d9d9", "#737373"), ("#ccebc5", "#4daf4a"), ("#ffed6f", "#c9a800")]
TYPE_STYLE = {  # op category -> (fill, stroke)
    "variable": ("#fde6c4", "#d08a1e"), "input": ("#d6f0d2", "#3f9b35"), "const": ("#eeeeee", "#9a9a9a"),
    "op": ("#dce9f7", "#4a7fb5"), "sendrecv": ("#ffd9c7", "#e0601b"), "control": ("#f4f4f4", "#8c8c8c")}
SCOPE_STYLE = ("#e9eef5", "#6d7f99")
CLUSTER_STYLE = ("#fafbfd", "#aab6c8")
EDGE_COLOR, SENDRECV_COLOR, HIT_COLOR = "#8a8a8a", "#e0601b", "#e6194b"


def text_width(s: str, size: float = FONT_SIZE, bold: bool = False) -> float:
    """An estimate of rendered width (sans-serif averages ~0.58 em per character)."""
    return len(s) * size * (0.62 if bold else 0.58)


def esc(s: str) -> str:
    return escape(str(s), quote=True)


def color_for(key: str) -> tuple[str, str]:
    """A stable palette colour for any string (an op type, say)."""
    h = int(hashlib.md5(key.encode()).hexdigest()[:6], 16)
    return PALETTE[h % len(PALETTE)]


def op_category(op_type: str) -> str:
    from labflow.notebook.graph_model import INPUT_TYPES, VARIABLE_TYPES
    if op_type in VARIABLE_TYPES:
        return "variable"
    if op_type in INPUT_TYPES:
        return "input"
    if op_type == "Const":
        return "const"
    if op_type in ("_Send", "_Recv", "_HostSend", "_HostRecv"):
        return "sendrecv"
    if op_type in ("NoOp", "_ControlTrigger"):
        return "control"
    return "op"


def short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def op_lines(model: GraphModel, tree: ScopeTree, name: str) -> tuple[str, str]:
    """The two lines of an op node: its name inside its scope, then its type and output shape."""
    n = model.nodes[name]
    extra = f" +{len(n.outputs) - 1}" if len(n.outputs) > 1 else ""
    g = tree.group.get(name, "")
    label = name[len(g) + 1:] if g and g != name and name.startswith(g + "/") else short(name)
    return label, f"{n.type} {n.shape}{extra}".strip()


def scope_lines(model: GraphModel, tree: ScopeTree, scope: str) -> tuple[str, str]:
    own = model.nodes.get(tree.own_op.get(scope, ""))
    desc = f"{tree.count[scope]} ops"
    if own is not None:
        desc = f"{own.type} {own.shape} · {desc}"
    return short(scope), desc


def size_of(model: GraphModel, tree: ScopeTree) -> Callable[[str, str], tuple[float, float]]:
    def f(kind: str, name: str) -> tuple[float, float]:
        if kind == "op":
            a, b = op_lines(model, tree, name)
            return max(56.0, text_width(a, bold=True), text_width(b, 10)) + 16, OP_H
        a, b = scope_lines(model, tree, name)
        return max(70.0, text_width(a, 12, bold=True), text_width(b, 10)) + 30, SCOPE_H
    return f


def op_title(model: GraphModel, name: str, hidden_inputs: int = 0, device: str | None = None) -> str:
    n = model.nodes[name]
    lines = [n.name, f"type: {n.type}", f"device: {(device if device is not None else n.device) or '(any)'}"]
    if n.outputs:
        lines.append("outputs: " + ", ".join(f"{d} {s}".strip() for d, s in n.outputs))
    if n.inputs:
        ins = [f"{s}:{k}" if k else s for s, k in n.inputs]
        lines.append("inputs: " + ", ".join(ins[:6]) + (f", … ({len(ins)})" if len(ins) > 6 else ""))
    if n.control_inputs:
        lines.append(f"control inputs: {len(n.control_inputs)}")
    if hidden_inputs:
        lines.append(f"({hidden_inputs} input(s) from hidden subgraphs)")
    lines += [f"  {k} = {v}" for k, v in list(n.attrs.items())[:12]]
    if n.site:
        lines.append(f"created at {n.site}")
    return "\n".join(lines)


def scope_title(model: GraphModel, tree: ScopeTree, scope: str) -> str:
    types: dict[str, int] = {}
    for n in tree.ops_under(scope):
        t = model.nodes[n].type
        types[t] = types.get(t, 0) + 1
    top = sorted(types.items(), key=lambda kv: -kv[1])[:8]
    return (f"{scope}/ ({tree.count[scope]} ops; click to expand)\n"
            + ", ".join(f"{t}×{c}" if c > 1 else t for t, c in top))


def _path(points: list[tuple[float, float]]) -> str:
    (x0, y0), rest = points[0], points[1:]
    d = [f"M{x0:.1f},{y0:.1f}"]
    px, py = x0, y0
    for x, y in rest:
        dy = max(abs(y - py) / 2, 12.0)
        d.append(f"C{px:.1f},{py + dy:.1f} {x:.1f},{y - dy:.1f} {x:.1f},{y:.1f}")
        px, py = x, y
    return " ".join(d)


def _label_at(points: list[tuple[float, float]]) -> tuple[float, float]:
    i = (len(points) - 1) // 2
    (x0, y0), (x1, y1) = points[i], points[i + 1]
    return (x0 + x1) / 2, (y0 + y1) / 2


class GraphPainter:
    """Draws a `Layout`. `style_of(name)` gives an op's (fill, stroke); `scope_devices(scope)` the
    colours of the devices inside a scope (dots on its box, for placement views)."""

    def __init__(self, model: GraphModel, tree: ScopeTree, uid: str,
                 style_of: Callable[[str], tuple[str, str]],
                 scope_style: Callable[[str], tuple[str, str]] | None = None,
                 scope_dots: Callable[[str], list[str]] | None = None,
                 device_of: Callable[[str], str | None] | None = None,
                 hidden_inputs: dict[str, int] | None = None,
                 special_edges: dict[tuple[str, str], str] | None = None,
                 edge_labels: bool = True):
        self.model, self.tree, self.uid = model, tree, uid
        self.style_of = style_of
        self.scope_style = scope_style or (lambda s: SCOPE_STYLE)
        self.scope_dots = scope_dots or (lambda s: [])
        self.device_of = device_of or (lambda n: None)
        self.hidden_inputs = hidden_inputs or {}
        self.special = special_edges or {}  # (src op, dst op) -> badge text (Send/Recv)
        self.edge_labels = edge_labels

    def _route_special(self, r: Route) -> str | None:
        for e in r.edges:
            s = self.special.get((e.src, e.dst))
            if s:
                return s
        return None

    def svg(self, lay: Layout, highlight: set[str] | frozenset = frozenset(), titles: bool = True) -> str:
        uid = self.uid
        w, h = max(lay.width, 60.0), max(lay.height, 40.0)
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="lf-graph lf-zoom" width="{w:.0f}" '
               f'height="{h:.0f}" data-w="{w:.0f}" data-h="{h:.0f}" viewBox="0 0 {w:.0f} {h:.0f}" '
               f'font-family="{FONT}" font-size="{FONT_SIZE}">',
               "<defs>",
               *(f'<marker id="{uid}-{k}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
                 f'markerHeight="7" orient="auto"><path d="M0,0L10,5L0,10z" fill="{c}"/></marker>'
                 for k, c in (("a", EDGE_COLOR), ("s", SENDRECV_COLOR))),
               "</defs>"]
        boxes = sorted(lay.boxes.values(), key=lambda b: (b.kind != "cluster", b.key.count("/")))
        clusters = [self._cluster(b, titles) for b in boxes if b.kind == "cluster"]
        out.extend(c[0] for c in clusters)
        for r in lay.routes:
            out.append(self._edge(r, titles))
        out.extend(c[1] for c in clusters)  # headers above the edges: they must take the clicks
        for b in boxes:
            if b.kind == "scope":
                out.append(self._scope(b, b.name in highlight or any(
                    x.startswith(b.name + "/") for x in highlight), titles))
            elif b.kind == "op":
                out.append(self._op(b, b.name in highlight, titles))
        out.append("</svg>")
        return "\n".join(out)

    def _cluster(self, b, titles: bool) -> tuple[str, str]:
        """An open scope: its frame (drawn under the edges) and its header (drawn above them)."""
        fill, stroke = CLUSTER_STYLE
        name = b.name
        t = f"<title>{esc(name)}/ ({self.tree.count[name]} ops; click the header to collapse)</title>" \
            if titles else ""
        frame = (f'<g class="lf-cl" data-scope="{esc(name)}">'
                 f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="8" fill="{fill}" '
                 f'stroke="{stroke}" stroke-dasharray="5 3"/></g>')
        header = (f'<g class="lf-clh" data-scope="{esc(name)}" cursor="pointer">{t}'
                  f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="20" rx="8" fill="#e4e9f0"/>'
                  f'<text x="{b.x + 8:.1f}" y="{b.y + 14:.1f}" font-weight="bold" fill="#34495e">▾ {esc(name)}'
                  f'</text></g>')
        return frame, header

    def _scope(self, b, hit: bool, titles: bool) -> str:
        fill, stroke = self.scope_style(b.name)
        a, d = scope_lines(self.model, self.tree, b.name)
        t = f"<title>{esc(scope_title(self.model, self.tree, b.name))}</title>" if titles else ""
        sw, sc = ("3", HIT_COLOR) if hit else ("1.4", stroke)
        dots = "".join(f'<circle cx="{b.x + b.w - 10 - 9 * i:.1f}" cy="{b.y + b.h - 8:.1f}" r="3.5" '
                       f'fill="{c}" stroke="#555" stroke-width="0.5"/>'
                       for i, c in enumerate(self.scope_dots(b.name)[:8]))
        return (f'<g class="lf-sc" data-scope="{esc(b.name)}" cursor="pointer">{t}'
                f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="10" fill="{fill}" '
                f'stroke="{sc}" stroke-width="{sw}"/>'
                f'<rect x="{b.x + 3:.1f}" y="{b.y + 3:.1f}" width="{b.w - 6:.1f}" height="{b.h - 6:.1f}" rx="8" '
                f'fill="none" stroke="{stroke}" stroke-opacity="0.45"/>'
                f'<text x="{b.x + b.w / 2:.1f}" y="{b.y + 16:.1f}" text-anchor="middle" font-weight="bold" '
                f'font-size="12">{esc(a)}</text>'
                f'<text x="{b.x + b.w / 2:.1f}" y="{b.y + 30:.1f}" text-anchor="middle" font-size="10" '
                f'fill="#444">{esc(d)}</text>'
                f'<text x="{b.x + 9:.1f}" y="{b.y + 15:.1f}" font-size="11" fill="{stroke}">⊞</text>{dots}</g>')

    def _op(self, b, hit: bool, titles: bool) -> str:
        name = b.name
        fill, stroke = self.style_of(name)
        a, d = op_lines(self.model, self.tree, name)
        t = (f"<title>{esc(op_title(self.model, name, self.hidden_inputs.get(name, 0), self.device_of(name)))}"
             "</title>") if titles else ""
        sw, sc = ("3", HIT_COLOR) if hit else ("1.2", stroke)
        rx = 17 if op_category(self.model.nodes[name].type) in ("variable", "input") else 4
        return (f'<g class="lf-op" data-name="{esc(name)}" cursor="pointer">{t}'
                f'<rect x="{b.x:.1f}" y="{b.y:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="{rx}" fill="{fill}" '
                f'stroke="{sc}" stroke-width="{sw}"/>'
                f'<text x="{b.x + b.w / 2:.1f}" y="{b.y + 14:.1f}" text-anchor="middle" font-weight="bold">'
                f'{esc(a)}</text>'
                f'<text x="{b.x + b.w / 2:.1f}" y="{b.y + 27:.1f}" text-anchor="middle" font-size="10" '
                f'fill="#333">{esc(d)}</text></g>')

    def _edge(self, r: Route, titles: bool) -> str:
        special = self._route_special(r)
        color = SENDRECV_COLOR if special else EDGE_COLOR
        width = 2.4 if special else (1.0 + min(len(r.edges), 6) * 0.25)
        dash = ' stroke-dasharray="4 3"' if r.control else ""
        label = r.label
        if special:
            label = f"⇄ {special}" + (f" · {label}" if label else "")
        t = ""
        if titles:
            kinds = "control " if r.control else ""
            t = (f"<title>{esc(r.src.split(':', 1)[1])} → {esc(r.dst.split(':', 1)[1])}: {len(r.edges)} "
                 f"{kinds}edge(s) {esc(label)}</title>")
        cls = "lf-e lf-sr" if special else ("lf-e lf-ctl" if r.control else "lf-e")
        out = [f'<g class="{cls}">{t}<path d="{_path(r.points)}" fill="none" stroke="{color}" '
               f'stroke-width="{width:.1f}"{dash} marker-end="url(#{self.uid}-{"s" if special else "a"})"/>']
        if label and (self.edge_labels or special):
            x, y = _label_at(r.points)
            out.append(f'<text x="{x + 4:.1f}" y="{y + 3:.1f}" font-size="9" fill="{color}" stroke="white" '
                       f'stroke-width="3" paint-order="stroke">{esc(label)}</text>')
        out.append("</g>")
        return "".join(out)


def legend_svg(items: list[tuple[str, str, str]], width: float = 900.0) -> str:
    """A wrapped row of colour swatches: items are (label, fill, stroke)."""
    x = y = 0.0
    parts = []
    for label, fill, stroke in items:
        w = 22 + text_width(label) + 16
        if x and x + w > width:
            x, y = 0.0, y + 20
        parts.append(f'<rect x="{x + 1:.0f}" y="{y + 3:.0f}" width="14" height="12" rx="3" fill="{fill}" '
                     f'stroke="{stroke}"/><text x="{x + 20:.0f}" y="{y + 13:.0f}">{esc(label)}</text>')
        x += w
    h = y + 20
    wtot = width if y else x
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="lf-legend" width="{wtot:.0f}" height="{h:.0f}" '
            f'font-family="{FONT}" font-size="{FONT_SIZE}">' + "".join(parts) + "</svg>")
