"""Layered (Sugiyama-style) layout of a graph with name scopes, in pure Python (no Graphviz needed).

Each expanded scope is laid out on its own (its child scopes are boxes, or clusters laid out the
same way first), so the layout of a scope is reused whatever is expanded elsewhere. One level:
cycles broken by reversing DFS back edges, longest-path layering with sources pulled down next to
their first consumer, dummy nodes on long edges, barycenter ordering sweeps, then x positions that
move toward the median of their neighbours while keeping order and spacing.

    lay = GraphLayout(model, tree, size_of).layout(expanded={"layer1"})
    lay.boxes["op:layer1/MatMul"].x, lay.routes[0].points
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from labflow.notebook.graph_model import Edge, GraphModel, ScopeTree, parent_scope

HGAP, VGAP, DUMMY_W, PAD, HEADER = 22.0, 38.0, 8.0, 12.0, 24.0


@dataclass
class Box:
    """A drawn item, absolute coordinates of its top-left corner. kind: op, scope (collapsed) or cluster."""

    key: str
    kind: str
    x: float
    y: float
    w: float
    h: float

    @property
    def name(self) -> str:
        return self.key.split(":", 1)[1]


@dataclass
class Route:
    """One drawn edge between two visible items (several graph edges when a scope is collapsed)."""

    src: str
    dst: str
    points: list[tuple[float, float]]
    edges: list[Edge] = field(default_factory=list)

    @property
    def control(self) -> bool:
        return all(e.control for e in self.edges)

    @property
    def label(self) -> str:
        data = [e for e in self.edges if not e.control]
        if not data:
            return ""
        if len({(e.src, e.index) for e in data}) == 1:
            return data[0].label
        return f"{len({(e.src, e.index) for e in data})} tensors"


@dataclass
class Layout:
    boxes: dict[str, Box]
    routes: list[Route]
    width: float
    height: float


@dataclass
class _Level:
    """The layout of one scope's children, relative to the scope's content origin."""

    pos: dict[str, tuple[float, float]]  # key -> top-left
    size: dict[str, tuple[float, float]]
    waypoints: dict[tuple[str, str], list[tuple[float, float]]]
    width: float
    height: float
    inner: dict[str, _Level]  # expanded child scope key -> its level


@dataclass
class _Order:
    """The size-independent half of a level's layout: layers, their order, dummy chains."""

    layers: list[list[str]]
    layer: dict[str, int]
    up: dict[str, list[str]]
    down: dict[str, list[str]]
    chains: dict[tuple[str, str], list[str]]  # dag edge -> its dummy nodes
    reversed_e: set[tuple[str, str]]


def _order(units: list[str], edges: list[tuple[str, str]]) -> _Order:
    index = {u: i for i, u in enumerate(units)}
    succ: dict[str, list[str]] = {u: [] for u in units}
    seen_e = set()
    for a, b in edges:
        if a != b and (a, b) not in seen_e and a in index and b in index:
            seen_e.add((a, b))
            succ[a].append(b)
    # Break cycles: edges that close a DFS cycle are laid out reversed.
    reversed_e: set[tuple[str, str]] = set()
    state: dict[str, int] = {}
    for root in units:
        if root in state:
            continue
        stack = [(root, iter(succ[root]))]
        state[root] = 1
        while stack:
            u, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[u] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                reversed_e.add((u, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    dag = [(b, a) if (a, b) in reversed_e else (a, b) for a, b in seen_e]
    dag = sorted(set(dag), key=lambda e: (index[e[0]], index[e[1]]))
    preds: dict[str, list[str]] = {u: [] for u in units}
    succs: dict[str, list[str]] = {u: [] for u in units}
    for a, b in dag:
        succs[a].append(b)
        preds[b].append(a)
    # Longest-path layering (Kahn order).
    indeg = {u: len(preds[u]) for u in units}
    ready = deque(u for u in units if indeg[u] == 0)
    layer = {u: 0 for u in units}
    topo = []
    while ready:
        u = ready.popleft()
        topo.append(u)
        for v in succs[u]:
            layer[v] = max(layer[v], layer[u] + 1)
            indeg[v] -= 1
            if indeg[v] == 0:
                ready.append(v)
    for u in reversed(topo):  # sources sit just above their first consumer, not all at the top
        if not preds[u] and succs[u]:
            layer[u] = min(layer[v] for v in succs[u]) - 1
    # Dummy nodes for edges spanning several layers.
    nodes = list(units)
    chains: dict[tuple[str, str], list[str]] = {}
    up: dict[str, list[str]] = {u: [] for u in units}
    down: dict[str, list[str]] = {u: [] for u in units}
    for a, b in dag:
        chain = [a]
        for k in range(layer[a] + 1, layer[b]):
            d = f"\0d{len(nodes)}"
            nodes.append(d)
            layer[d] = k
            up[d], down[d] = [], []
            chain.append(d)
        chain.append(b)
        for x, y in zip(chain, chain[1:]):
            down[x].append(y)
            up[y].append(x)
        chains[(a, b)] = chain[1:-1]
    nl = max(layer.values(), default=0) + 1
    layers: list[list[str]] = [[] for _ in range(nl)]
    for u in nodes:
        layers[layer[u]].append(u)
    # Barycenter ordering sweeps.
    pos = {u: i for row in layers for i, u in enumerate(row)}
    for sweep in range(8):
        nb = up if sweep % 2 == 0 else down
        for li in (range(1, nl) if sweep % 2 == 0 else range(nl - 2, -1, -1)):
            row = layers[li]
            keys = {}
            for u in row:
                ns = nb[u]
                keys[u] = sum(pos[v] for v in ns) / len(ns) if ns else pos[u]
            row.sort(key=keys.__getitem__)
            for i, u in enumerate(row):
                pos[u] = i
    return _Order(layers, layer, up, down, chains, reversed_e)


def _coords(o: _Order, size: dict[str, tuple[float, float]]
            ) -> tuple[dict[str, tuple[float, float]], dict[tuple[str, str], list], float, float]:
    """x/y for an ordering: each item moves toward the median of its neighbours, keeping order and gaps."""
    layers = o.layers
    nl = len(layers)

    def w_of(u: str) -> float:
        return DUMMY_W if u.startswith("\0") else size[u][0]

    def h_of(u: str) -> float:
        return 0.0 if u.startswith("\0") else size[u][1]

    heights = [max((h_of(u) for u in row), default=0.0) for row in layers]
    ytop, y = [], 0.0
    for h in heights:
        ytop.append(y)
        y += h + VGAP
    height = max(0.0, y - VGAP)
    seps = []  # per row: minimum centre distance between neighbours i-1 and i
    for row in layers:
        ws = [w_of(u) for u in row]
        dummy = [u.startswith("\0") for u in row]
        seps.append([0.0] + [(ws[i - 1] + ws[i]) / 2 + (6.0 if dummy[i - 1] and dummy[i] else HGAP)
                             for i in range(1, len(row))])
    cx: dict[str, float] = {}
    for row, sp in zip(layers, seps):
        x = 0.0
        for i, u in enumerate(row):
            x = x + sp[i] if i else w_of(u) / 2
            cx[u] = x

    def place(row: list[str], sp: list[float], nb: dict[str, list[str]]) -> None:
        # The positions closest (weighted least squares) to the median of each item's neighbours
        # that keep the order and the gaps: with y = x - cumulative gap this is isotonic regression
        # (pool adjacent violators). Real nodes weigh more than dummies, so long edges make way.
        n = len(row)
        if not n:
            return
        offs, acc = [], 0.0
        blocks: list[list[float]] = []  # [value, weight, count]
        for i, u in enumerate(row):
            acc += sp[i] if i else 0.0
            offs.append(acc)
            dummy = u.startswith("\0")
            ns = nb[u] if dummy else ([v for v in nb[u] if not v.startswith("\0")] or nb[u])
            xs = sorted(cx[v] for v in ns)  # a real node follows real neighbours: chains stay straight
            k = len(xs)
            want = (xs[(k - 1) // 2] + xs[k // 2]) / 2 if k else cx[u]
            blocks.append([want - acc, 1.0 if dummy else 8.0, 1])
            while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
                v2, w2, c2 = blocks.pop()
                v1, w1, c1 = blocks.pop()
                blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, c1 + c2])
        i = 0
        for v, _w, c in blocks:
            for _ in range(int(c)):
                cx[row[i]] = v + offs[i]
                i += 1

    for _ in range(4):
        for li in range(1, nl):
            place(layers[li], seps[li], o.up)
        for li in range(nl - 2, -1, -1):
            place(layers[li], seps[li], o.down)
    every = [u for row in layers for u in row]
    left = min((cx[u] - w_of(u) / 2 for u in every), default=0.0)
    width = max((cx[u] + w_of(u) / 2 - left for u in every), default=0.0)
    out = {}
    for row, li in zip(layers, range(nl)):
        for u in row:
            if not u.startswith("\0"):
                out[u] = (cx[u] - w_of(u) / 2 - left, ytop[li] + (heights[li] - h_of(u)) / 2)
    wps: dict[tuple[str, str], list] = {}
    for (a, b), chain in o.chains.items():
        pts = [(cx[d] - left, ytop[o.layer[d]] + heights[o.layer[d]] / 2) for d in chain]
        if (b, a) in o.reversed_e:
            wps[(b, a)] = pts[::-1]
        else:
            wps[(a, b)] = pts
    return out, wps, width, height


def _sugiyama(units: list[str], size: dict[str, tuple[float, float]], edges: list[tuple[str, str]]
              ) -> tuple[dict[str, tuple[float, float]], dict[tuple[str, str], list], float, float]:
    return _coords(_order(units, edges), size)


class GraphLayout:
    """Lays out a model's visible ops (those in `tree`) for a given set of expanded scopes.

    Args:
        model: the graph.
        tree: the scope tree of the ops to draw (hidden ops left out).
        size_of: (kind, name) -> (width, height) of an op node ("op") or a collapsed scope ("scope").
    """

    def __init__(self, model: GraphModel, tree: ScopeTree, size_of: Callable[[str, str], tuple[float, float]]):
        self.model = model
        self.tree = tree
        self.size_of = size_of
        visible = set(tree.group)
        self.edges = [e for e in model.edges() if e.src in visible and e.dst in visible]
        self._cache: dict[tuple, _Level] = {}
        self._orders: dict[tuple, _Order] = {}

    def _rep(self, op: str, expanded: frozenset) -> str:
        for s in self.tree.ancestors(self.tree.group[op]):
            if s not in expanded:
                return "scope:" + s
        return "op:" + op

    @staticmethod
    def _container(key: str, tree: ScopeTree) -> str:
        kind, name = key.split(":", 1)
        return parent_scope(name) if kind == "scope" else tree.group[name]

    def _chain(self, key: str) -> list[str]:
        """Keys from the outermost scope down to `key`'s own key."""
        scopes = self.tree.ancestors(self._container(key, self.tree))
        return ["scope:" + s for s in scopes] + [key]

    def layout(self, expanded: set[str] | frozenset = frozenset()) -> Layout:
        """The layout with `expanded` scopes open (a scope shows open only if its ancestors are)."""
        tree = self.tree
        exp = frozenset(s for s in expanded if s in tree.scopes
                        and all(a in expanded for a in tree.ancestors(s)))
        routes: dict[tuple[str, str], list[Edge]] = {}
        for e in self.edges:
            a, b = self._rep(e.src, exp), self._rep(e.dst, exp)
            if a != b:
                routes.setdefault((a, b), []).append(e)
        # Every route is laid out at the deepest scope that holds both ends.
        level_edges: dict[str, list[tuple[str, str]]] = {}
        route_level: dict[tuple[str, str], tuple[str, str, str]] = {}
        for a, b in routes:
            ca, cb = self._chain(a), self._chain(b)
            i = 0
            while i < min(len(ca), len(cb)) and ca[i] == cb[i]:
                i += 1
            lvl = ca[i - 1].split(":", 1)[1] if i else ""
            level_edges.setdefault(lvl, []).append((ca[i], cb[i]))
            route_level[(a, b)] = (lvl, ca[i], cb[i])
        root = self._level("", exp, level_edges)
        boxes: dict[str, Box] = {}
        origins: dict[str, tuple[float, float]] = {}

        def flatten(level: _Level, ox: float, oy: float, scope: str) -> None:
            origins[scope] = (ox, oy)
            for key, (x, y) in level.pos.items():
                w, h = level.size[key]
                inner = level.inner.get(key)
                kind = "cluster" if inner is not None else key.split(":", 1)[0]
                boxes[key] = Box(key, kind, ox + x, oy + y, w, h)
                if inner is not None:
                    flatten(inner, ox + x + PAD, oy + y + HEADER, key.split(":", 1)[1])

        flatten(root, PAD, PAD, "")
        out = []
        for (a, b), es in routes.items():
            lvl, ua, ub = route_level[(a, b)]
            ox, oy = origins[lvl]
            level = self._find_level(root, lvl)
            wp = [(ox + x, oy + y) for x, y in level.waypoints.get((ua, ub), [])]
            ba, bb = boxes[a], boxes[b]
            pts = [(ba.x + ba.w / 2, ba.y + ba.h)] + wp + [(bb.x + bb.w / 2, bb.y)]
            out.append(Route(a, b, pts, es))
        return Layout(boxes, out, root.width + 2 * PAD, root.height + 2 * PAD)

    def _find_level(self, root: _Level, scope: str) -> _Level:
        lvl = root
        for s in self.tree.ancestors(scope):
            lvl = lvl.inner["scope:" + s]
        return lvl

    def _level(self, scope: str, exp: frozenset, level_edges: dict[str, list[tuple[str, str]]]) -> _Level:
        tree = self.tree
        sub = frozenset(s for s in exp if s.startswith(scope + "/") or not scope)
        edges = level_edges.get(scope, [])
        key = (scope, sub, tuple(sorted(set(edges))))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        units, size, inner = [], {}, {}
        for kind, name in tree.children[scope]:
            k = f"{kind}:{name}"
            units.append(k)
            if kind == "scope" and name in exp:
                lv = self._level(name, exp, level_edges)
                inner[k] = lv
                size[k] = (max(lv.width, 120.0) + 2 * PAD, lv.height + HEADER + PAD)
            else:
                size[k] = self.size_of(kind, name)
        okey = (scope, tuple(sorted(set(edges))))
        order = self._orders.get(okey)
        if order is None:  # which scopes are open changes sizes only: the ordering is reused
            order = self._orders[okey] = _order(units, edges)
        pos, wps, w, h = _coords(order, size)
        lvl = _Level(pos, size, wps, w, h, inner)
        self._cache[key] = lvl
        return lvl
