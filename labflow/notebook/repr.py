"""Rich notebook reprs (`text/html`) of labflow objects; plain HTML, no ipywidgets, no script needed.

Each function takes the object and returns an HTML fragment; `install()` in labflow.notebook wires
them up as `_repr_html_` / IPython formatters.
"""

from __future__ import annotations

from html import escape
from typing import Any

from labflow.notebook.graph_model import attr_text, display_file, shape_text

_BOX = ('<div class="lf-repr" style="font-family:Helvetica,Arial,sans-serif;font-size:12px;'
        'line-height:1.45">')
_TD = ' style="border:1px solid #e3e3e3;padding:1px 6px;text-align:left;vertical-align:top"'


def _kv(rows: list[tuple[str, str]], raw: bool = False) -> str:
    cell = (lambda v: v) if raw else (lambda v: f"<code>{escape(str(v))}</code>")
    return ('<table style="border-collapse:collapse;font-size:11px;margin:3px 0">'
            + "".join(f"<tr><th{_TD}>{escape(k)}</th><td{_TD}>{cell(v)}</td></tr>" for k, v in rows)
            + "</table>")


def _site_html(op: Any, limit: int = 6) -> str:
    tb = op.traceback
    if not tb:
        return ""
    f, n, fn, line = tb[-1]
    head = f"{escape(display_file(f))}:{n} in {escape(fn)}: <code>{escape(line)}</code>"
    if len(tb) == 1:
        return head
    rest = "<br>".join(f"{escape(display_file(a))}:{b} in {escape(c)}: <code>{escape(d)}</code>"
                       for a, b, c, d in tb[-limit:])
    return f"<details><summary>{head}</summary>{rest}</details>"


def _tensor_brief(t: Any) -> str:
    return f"{t.name} {t.dtype.name}{shape_text(t._shape_dims)}"


def tensor_html(t: Any) -> str:
    """Tensor: name, dtype, shape, the op that makes it (type) and its device."""
    cons = [c.name for c in t.consumers()]
    rows = [("dtype", t.dtype.name), ("shape", shape_text(t._shape_dims)),
            ("op", f"{t.op.name} ({t.op.type})"), ("device", t.op.device or "(any: chosen by the placer)")]
    if cons:
        rows.append(("consumers", ", ".join(cons[:6]) + (f" … ({len(cons)})" if len(cons) > 6 else "")))
    return (_BOX + f"<b>Tensor</b> <code>{escape(t.name)}</code> "
            f"<code>{escape(t.dtype.name)}{escape(shape_text(t._shape_dims))}</code>" + _kv(rows) + "</div>")


def variable_html(v: Any) -> str:
    """Variable: dtype, shape, device, trainable, its initializer and where it was created."""
    d = v.op._outputs[0]._shape_dims if v.op._outputs else None
    rows = [("dtype", v.dtype.base_dtype.name), ("shape", shape_text(d)),
            ("device", v.device or "(any: chosen by the placer)"), ("trainable", str(v.trainable)),
            ("op", f"{v.op.name} ({v.op.type})"), ("initializer", v.initializer.name)]
    site = _site_html(v.op)
    return (_BOX + f"<b>Variable</b> <code>{escape(v.name)}</code> "
            f"<code>{escape(v.dtype.base_dtype.name)}{escape(shape_text(d))}</code>" + _kv(rows)
            + (f"<div>created at {site}</div>" if site else "") + "</div>")


def operation_html(op: Any) -> str:
    """Operation: type, device, inputs, outputs, control inputs, attrs and where it was created."""
    rows: list[tuple[str, str]] = [("type", op.type), ("device", op.device or "(any: chosen by the placer)")]
    rows += [(f"input {i}", _tensor_brief(t)) for i, t in enumerate(op.inputs)]
    rows += [(f"output {i}", _tensor_brief(t)) for i, t in enumerate(op.outputs)]
    if op.control_inputs:
        rows.append(("control inputs", ", ".join(c.name for c in op.control_inputs)))
    rows += [(f"attr {k}", attr_text(v)) for k, v in op._attrs.items() if v is not None]
    site = _site_html(op)
    return (_BOX + f"<b>Operation</b> <code>{escape(op.name)}</code> ({escape(op.type)})" + _kv(rows)
            + (f"<div>created at {site}</div>" if site else "") + "</div>")


def session_html(sess: Any) -> str:
    """Session: target, graph size, devices, and the most recent step's placement and transfers."""
    from labflow.notebook.views import short_device
    closed = getattr(sess, "_closed", False)
    graph = sess.graph
    n_ops = len(graph.get_operations())
    rows = [("state", "closed" if closed else "open"),
            ("target", sess.sess_str or "local (in-process)"),
            ("graph", f"{n_ops} ops (version {graph.version})")]
    devs = sess.list_devices()
    rows.append(("devices", ", ".join(f"{short_device(d.name)} ({d.device_type})" for d in devs)))
    placements = sess.placements()
    if placements:
        per: dict[str, int] = {}
        for p in placements:
            per[short_device(p.device)] = per.get(short_device(p.device), 0) + 1
        rows.append(("last step", ", ".join(f"{k}: {v} ops" for k, v in sorted(per.items()))))
        tr = sess.transfer_stats()
        if tr.get("tensors"):
            rows.append(("Send/Recv", f"{tr['tensors']} tensors, {tr['bytes']} bytes"))
    hint = ("<div style=\"color:#888\">PlacementView(sess) draws where each op ran; "
            "GraphView(sess) the graph.</div>")
    return _BOX + f"<b>{escape(type(sess).__name__)}</b>" + _kv(rows) + hint + "</div>"


def run_metadata_html(md: Any) -> str:
    """RunMetadata: a summary, the timeline of its step stats, and its partition graphs."""
    from labflow.notebook.timeline_view import TimelineView
    from labflow.notebook.views import short_device
    parts = [_BOX + "<b>RunMetadata</b>"]
    n_nodes = sum(len(ds.node_stats) for ds in md.step_stats.dev_stats)
    rows = [("step stats", f"{n_nodes} nodes on {len(md.step_stats.dev_stats)} device(s)" if n_nodes
             else "empty (run with RunOptions(trace_level=RunOptions.FULL_TRACE))")]
    if len(md.partition_graphs):
        rows.append(("partition graphs", ", ".join(
            f"{short_device(pg.node[0].device) if len(pg.node) else '?'}: {len(pg.node)} nodes"
            for pg in md.partition_graphs)))
    parts.append(_kv(rows))
    if n_nodes:
        parts.append(TimelineView(md).to_html())
    parts.append("</div>")
    return "".join(parts)


def step_stats_html(ss: Any) -> str:
    from labflow.notebook.timeline_view import TimelineView
    return TimelineView(ss).to_html()


def graph_html(graph: Any, max_ops: int = 2000) -> str:
    """Graph: an inline GraphView (or a note for an empty or very large graph)."""
    from labflow.notebook.views import GraphView
    n = len(graph.get_operations())
    if n == 0:
        return _BOX + "<b>Graph</b>: empty</div>"
    if n > max_ops:
        return (_BOX + f"<b>Graph</b> with {n} ops — too many to draw inline; use "
                "<code>labflow.notebook.GraphView(graph)</code> (and its <code>hide=</code>).</div>")
    return GraphView(graph, max_states=40).to_html()


def graph_def_html(gd: Any) -> str:
    from labflow.notebook.views import GraphView
    return GraphView(gd, max_states=40).to_html()
