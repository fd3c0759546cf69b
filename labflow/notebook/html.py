"""The HTML shell every view renders into, and the small script that makes it interactive.

Design (why this shape): a notebook shows `text/html` outputs, but JupyterLab sanitizes outputs of
untrusted notebooks: <script>, <style> and inline styles go, and so does everything inside an
inline <svg>. So the HTML first holds the drawing as an <img> with a data: URI (a static picture
that survives the sanitizer, drawn with SVG presentation attributes, no CSS needed) plus plain
HTML tables. A trusted output (any cell the user just ran) also runs an inline script, with no
external resources, that replaces the picture by the live SVG (hover tooltips on every node) and
adds a toolbar: click-to-expand scopes (every "open one branch" state is pre-rendered in Python and
embedded gzip'ed, so no layout code runs in the browser), search, zoom (buttons, Ctrl/⌘+wheel,
pinch), pan (drag) and a details panel. Python-driven interactivity (state synced both ways) is the
ipywidgets path in widgets.py.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import os
from html import escape
from typing import Any

_ids = itertools.count(1)
_SESSION = os.urandom(3).hex()


def new_uid(kind: str) -> str:
    """A DOM id unique within a page, also across kernels writing into the same notebook."""
    return f"lf-{kind}-{_SESSION}-{next(_ids)}"


_CSS = """
#{uid} {{font-family: Helvetica, Arial, sans-serif; font-size: 12px; max-width: 100%;}}
#{uid} .lf-tools {{display: flex; gap: 6px; align-items: center; flex-wrap: wrap; margin: 4px 0;}}
#{uid} .lf-tools button {{font-size: 11px; padding: 1px 7px; cursor: pointer;}}
#{uid} .lf-tools input {{font-size: 12px; padding: 1px 4px; width: 14em;}}
#{uid} .lf-canvas {{overflow: auto; max-height: {maxh}px; border: 1px solid #ddd; border-radius: 4px;
  background: #fff; touch-action: none;}}
#{uid} .lf-canvas svg {{display: block;}}
#{uid} .lf-hit > rect {{stroke: #e6194b; stroke-width: 3px;}}
#{uid} .lf-msg {{color: #b35900;}}
#{uid} .lf-info table, #{uid} table.lf-table {{border-collapse: collapse; font-size: 11px; margin: 4px 0;}}
#{uid} .lf-info td, #{uid} .lf-info th, #{uid} table.lf-table td, #{uid} table.lf-table th {{
  border: 1px solid #e3e3e3; padding: 2px 6px; text-align: left; vertical-align: top;}}
#{uid} .lf-head {{margin: 2px 0 4px 0; color: #333;}}
#{uid} .lf-nojs {{font-size: 11px; color: #888;}}
"""

_JS = r"""
(function () {
  var root = document.getElementById(UID);
  if (!root || root.getAttribute("data-lf-init")) return;
  root.setAttribute("data-lf-init", "1");
  var el = document.getElementById(UID + "-data");
  var D = el ? JSON.parse(el.textContent) : {};
  var canvas = root.querySelector(".lf-canvas"), info = root.querySelector(".lf-info");
  var nojs = root.querySelector(".lf-nojs");
  if (nojs) nojs.parentNode.removeChild(nojs);
  if (D.tools) {  // controls exist only where this script runs
    var bar = document.createElement("div");
    bar.className = "lf-tools"; bar.innerHTML = D.tools;
    canvas.parentNode.insertBefore(bar, canvas);
  }
  var msg = root.querySelector(".lf-msg"), count = root.querySelector(".lf-n"), q = root.querySelector(".lf-q");
  var states = {}, names = [], query = "", vb = null, full = null, ready = false;
  function unpack(P) {
    for (var k in P) D[k] = P[k];
    states = D.states || {}; names = D.names || [];
    if (D["@"] !== undefined) states["@"] = D["@"];
    ready = true;
    if (states["@"] !== undefined) go("@");  // the live SVG replaces the static picture
    root.setAttribute("data-lf-ready", "1");
  }
  if (D.z) {
    // Packed data is gzip'ed JSON (base64): the browser's own DecompressionStream inflates it.
    try {
      var bin = atob(D.z), u = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
      new Response(new Blob([u]).stream().pipeThrough(new DecompressionStream("gzip"))).text()
        .then(function (t) { unpack(JSON.parse(t)); })
        .catch(function (err) { if (msg) msg.textContent = "could not unpack the view: " + err; });
    } catch (err) { if (msg) msg.textContent = "this browser cannot unpack the view (" + err + ")"; }
  }
  function svg() { return canvas.querySelector("svg.lf-zoom"); }
  function say(t) { if (msg) msg.textContent = t; }
  function apply() { var s = svg(); if (s && vb) s.setAttribute("viewBox", vb.join(" ")); }
  function fit(whole) {
    // Readable first: full width (never enlarged), the top of a tall drawing; "fit" shows it whole.
    var s = svg(); if (!s) return;
    var w = +s.getAttribute("data-w"), h = +s.getAttribute("data-h");
    var cw = canvas.clientWidth || 900, k = Math.min(1, cw / w);
    var ph = Math.max(60, Math.min(D.maxh || 640, h * k));
    full = [0, 0, w, h];
    vb = whole ? full.slice() : [0, 0, w, Math.min(h, ph / k)];
    s.setAttribute("width", "100%");
    s.setAttribute("height", ph);
    s.setAttribute("preserveAspectRatio", "xMinYMin meet");
    apply();
  }
  function zoom(f, cx, cy) {
    if (!vb) return;
    var nw = Math.min(Math.max(vb[2] * f, full[2] / 40), Math.max(full[2], full[3]) * 4), g = nw / vb[2];
    if (cx === undefined) { cx = vb[0] + vb[2] / 2; cy = vb[1] + vb[3] / 2; }
    vb = [cx - (cx - vb[0]) * g, cy - (cy - vb[1]) * g, vb[2] * g, vb[3] * g];
    apply();
  }
  function toSvg(s, e) {
    var m = s.getScreenCTM(); if (!m) return null;
    var p = s.createSVGPoint(); p.x = e.clientX; p.y = e.clientY;
    return p.matrixTransform(m.inverse());
  }
  function mark() {
    var s = svg(); if (!s) return;
    var hit = query ? names.filter(function (n) { return n.toLowerCase().indexOf(query) >= 0; }) : [];
    s.querySelectorAll(".lf-op").forEach(function (g) {
      g.classList.toggle("lf-hit", hit.indexOf(g.getAttribute("data-name")) >= 0);
    });
    s.querySelectorAll(".lf-sc").forEach(function (g) {
      var sc = g.getAttribute("data-scope");
      g.classList.toggle("lf-hit", hit.some(function (n) { return n === sc || n.indexOf(sc + "/") === 0; }));
    });
    if (count) count.textContent = query ? hit.length + " match" + (hit.length === 1 ? "" : "es") : "";
    return hit;
  }
  function go(key) {
    if (!ready) { say("loading…"); return false; }
    if (states[key] === undefined) {
      say("Not pre-rendered (large graph): use view.expand(...) in Python, or view.widget().");
      return false;
    }
    canvas.innerHTML = states[key]; say(""); fit(); mark(); return true;
  }
  function show(name) {
    if (!info) return;
    info.innerHTML = (D.details && D.details[name]) || "";
  }
  if (q) {
    q.addEventListener("input", function () { query = q.value.trim().toLowerCase(); mark(); });
    q.addEventListener("keydown", function (e) {
      if (e.key !== "Enter") return;
      var hit = mark(); if (!hit || !hit.length) return;
      var s = (D.group || {})[hit[0]] || "";
      while (s && states[s] === undefined) s = (D.parent || {})[s] || "";
      go(s); show(hit[0]);
    });
  }
  root.querySelectorAll("button[data-act]").forEach(function (b) {
    b.addEventListener("click", function () {
      var a = b.getAttribute("data-act");
      if (a === "in") zoom(1 / 1.3); else if (a === "out") zoom(1.3); else if (a === "fit") fit(true);
      else if (a === "root") go(""); else if (a === "all") go("*"); else if (a === "init") go("@");
    });
  });
  canvas.addEventListener("wheel", function (e) {
    if (!(e.ctrlKey || e.metaKey)) return;
    var s = svg(); if (!s) return;
    e.preventDefault();
    var p = toSvg(s, e);
    zoom(e.deltaY > 0 ? 1.15 : 1 / 1.15, p ? p.x : undefined, p ? p.y : undefined);
  }, {passive: false});
  var drag = null, moved = false;
  canvas.addEventListener("pointerdown", function (e) {
    if (e.button !== 0 || !vb) return;
    drag = {x: e.clientX, y: e.clientY, vb: vb.slice(), id: e.pointerId}; moved = false;
  });
  canvas.addEventListener("pointermove", function (e) {
    if (!drag) return;
    var dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    if (!moved) { moved = true; try { canvas.setPointerCapture(drag.id); } catch (err) {} }
    var s = svg(), m = s && s.getScreenCTM(), k = m ? 1 / m.a : 1;
    vb = [drag.vb[0] - dx * k, drag.vb[1] - dy * k, vb[2], vb[3]]; apply();
  });
  function end() { drag = null; }
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("click", function (e) {
    if (moved) { moved = false; return; }
    var g = e.target.closest ? e.target.closest(".lf-sc,.lf-clh,.lf-op,[data-detail]") : null;
    if (!g) return;
    if (g.classList.contains("lf-sc")) go(g.getAttribute("data-scope"));
    else if (g.classList.contains("lf-clh")) go((D.parent || {})[g.getAttribute("data-scope")] || "");
    else if (g.classList.contains("lf-op")) show(g.getAttribute("data-name"));
    else show(g.getAttribute("data-detail"));
  });
  if (!D.z) unpack({});
})();
"""


def json_for_script(data: Any) -> str:
    """JSON safe inside <script type="application/json"> (no "</script>" or "<!--" can close it)."""
    return (json.dumps(data, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def tools_html(search: bool = True, scopes: bool = True, all_state: bool = False) -> str:
    parts = []
    if search:
        parts.append('<input class="lf-q" type="search" placeholder="search ops (Enter: go to)"/>'
                     '<span class="lf-n"></span>')
    parts.append('<button data-act="in" title="zoom in">+</button><button data-act="out" title="zoom out">−'
                 '</button><button data-act="fit" title="show the whole drawing">fit</button>')
    if scopes:
        parts.append('<button data-act="root" title="collapse every scope">collapse all</button>'
                     '<button data-act="init" title="the view as displayed first">reset</button>')
        if all_state:
            parts.append('<button data-act="all" title="expand every scope">expand all</button>')
    parts.append('<span style="color:#888">drag: pan · Ctrl/⌘+wheel: zoom'
                 + (" · click a scope to open or close it" if scopes else "") + '</span>'
                 '<span class="lf-msg"></span>')
    return "".join(parts)


def pack(data: Any) -> str:
    """gzip + base64 of the JSON (inflated in the browser by DecompressionStream): pre-rendered states
    are very repetitive SVG text, so this makes the notebook output ~10x smaller."""
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.b64encode(gzip.compress(raw, compresslevel=9, mtime=0)).decode("ascii")


def unpack(blob: str) -> Any:
    """The inverse of `pack` (for tests and tools reading a saved view)."""
    return json.loads(gzip.decompress(base64.b64decode(blob)))


def svg_img(svg: str, alt: str = "") -> str:
    """The SVG as an <img> with a data: URI: what survives the HTML sanitizer of an untrusted notebook
    (it strips inline <svg> content), at the price of per-element tooltips."""
    b64 = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f'<img class="lf-img" alt="{escape(alt)}" src="data:image/svg+xml;base64,{b64}"/>'


def page(uid: str, svg: str, *, head: str = "", below: str = "", data: dict | None = None,
         packed: dict | None = None, tools: str = "", maxh: int = 640, alt: str = "") -> str:
    """One view's HTML fragment: header, the drawing, extra HTML (tables, legend), the script.

    Without the script (an untrusted notebook, a sanitizing viewer) the drawing is a static picture.
    The script swaps in the live SVG (`packed["@"]`), adds the toolbar (`tools`) and the handlers.
    `data` is embedded as JSON; `packed` (large, repetitive: pre-rendered states, details) gzip'ed.
    """
    d = dict(data or {})
    d["maxh"] = maxh
    d["tools"] = tools
    d["z"] = pack(dict(packed or {}, **{"@": svg}))
    out = [f'<div id="{uid}" class="lf-view">', "<style>", _CSS.format(uid=uid, maxh=maxh + 40), "</style>"]
    if head:
        out.append(f'<div class="lf-head">{head}</div>')
    out.append(f'<div class="lf-canvas" style="overflow:auto;max-height:{maxh + 40}px">{svg_img(svg, alt)}</div>')
    out.append('<div class="lf-info"></div>')
    out.append(below)
    out.append('<div class="lf-nojs"><small>Static picture: run the cell (in a trusted notebook) for hover '
               "details, search, zoom and expanding scopes, or use <code>.widget()</code>.</small></div>")
    out.append(f'<script type="application/json" id="{uid}-data">{json_for_script(d)}</script>')
    out.append("<script>" + _JS.replace("UID", json.dumps(uid)) + "</script>")
    out.append("</div>")
    return "\n".join(out)


def standalone(fragment: str, title: str = "labflow") -> str:
    """A complete HTML document around a view (for `save_html`)."""
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{escape(title)}</title></head>\n'
            f"<body>\n{fragment}\n</body></html>\n")


def table(headers: list[str], rows: list[list[Any]], limit: int = 500, cls: str = "lf-table") -> str:
    """An HTML table of escaped cells (a note says how many rows were left out past `limit`)."""
    out = [f'<table class="{cls}"><tr>' + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr>"]
    for r in rows[:limit]:
        out.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>")
    out.append("</table>")
    if len(rows) > limit:
        out.append(f"<div>… {len(rows) - limit} more rows</div>")
    return "".join(out)


class View:
    """Base of the notebook views: HTML for Jupyter (no ipywidgets), a static SVG, files, and a widget.

    A new view (SummaryView over a logdir, ClusterView) subclasses this with `svg()` and `to_html()`
    (built with `page()`, so it gets the static-picture fallback, zoom and pan for free), and
    registers its ipywidgets class in `widgets._WIDGETS`; a live view refreshes from that widget.
    """

    def to_html(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def svg(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return self.to_html()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        return {"text/html": self.to_html(), "text/plain": repr(self)}

    def save_html(self, path: str) -> str:
        """Writes a standalone HTML page with the view (works offline: nothing is loaded from the web)."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(standalone(self.to_html(), type(self).__name__))
        return path

    def save_svg(self, path: str) -> str:
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.svg())
        return path

    def widget(self) -> Any:
        """An ipywidgets widget for this view (needs `pip install labflow[notebook]`)."""
        from labflow.notebook import widgets
        return widgets.widget_for(self)
