"""TimelineView: a traced step as a Gantt chart, one row per device and executor thread."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from html import escape
from typing import Any

from labflow.notebook import html as _html
from labflow.notebook.svg import FONT, SENDRECV_COLOR, color_for, esc, text_width
from labflow.notebook.views import short_device

_LABEL = re.compile(r"^(?P<name>.*?) = (?P<op>[^(]*)\(")
_EDGE = re.compile(r"/_(send|recv)_(\d+)$")
GUTTER, ROW_H, BAR_H, AXIS_H = 170.0, 22.0, 16.0, 26.0


@dataclass
class Bar:
    """One executed node of the step (times in µs from the step's first start)."""

    device: str
    thread: int
    name: str
    op: str
    start: float
    duration: float
    outputs: list[str] = field(default_factory=list)  # "float32 [4,4] (64 B)"
    nbytes: int = 0


def step_stats_of(obj: Any) -> Any:
    """The StepStats in a RunMetadata, a Timeline, a `sess.trace()` tracer, or a StepStats itself.

    Raises:
        TypeError: for anything else.
    """
    if hasattr(obj, "run_metadata") and isinstance(obj.run_metadata, list):  # Session.trace() tracer
        if not obj.run_metadata:
            raise ValueError("No run was traced: call sess.run inside `with sess.trace():`.")
        obj = obj.run_metadata[-1]
    if hasattr(obj, "_step_stats"):
        obj = obj._step_stats
    if hasattr(obj, "step_stats"):
        obj = obj.step_stats
    if not hasattr(obj, "dev_stats"):
        raise TypeError(f"TimelineView needs a RunMetadata (from a run with RunOptions(trace_level="
                        f"RunOptions.FULL_TRACE)), a StepStats or a Timeline, not {type(obj).__name__}.")
    return obj


def _dtype_name(enum: int) -> str:
    try:
        from labflow import dtypes
        return dtypes.as_dtype(enum).name
    except Exception:  # noqa: BLE001
        return f"dtype{enum}"


def bars_of(step_stats: Any) -> list[Bar]:
    t0 = min((ns.all_start_micros for ds in step_stats.dev_stats for ns in ds.node_stats), default=0)
    out = []
    for ds in step_stats.dev_stats:
        for ns in ds.node_stats:
            m = _LABEL.match(ns.timeline_label or "")
            outs, total = [], 0
            for o in ns.output:
                td = o.tensor_description
                b = td.allocation_description.requested_bytes
                total += b
                dims = "[" + ",".join(str(d.size) for d in td.shape.dim) + "]"
                outs.append(f"{_dtype_name(td.dtype) if td.dtype else ''} {dims} ({b} B)".strip())
            out.append(Bar(ds.device, ns.thread_id, ns.node_name, m.group("op") if m else ns.node_name,
                           float(ns.all_start_micros - t0), float(max(ns.all_end_rel_micros, 0)), outs, total))
    return out


def fmt_us(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:.3g} s"
    if us >= 1e3:
        return f"{us / 1e3:.3g} ms"
    return f"{us:.3g} µs"


def _ticks(span: float) -> list[float]:
    raw = span / 8
    mag = 10 ** len(str(int(max(raw, 1)))) / 10
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return [i * step for i in range(int(span // step) + 1)]


class TimelineView(_html.View):
    """A Gantt chart of one traced step: a row per (device, thread), a bar per node (hover: op,
    output shapes, duration), arrows from each _Send to its _Recv, totals per op type, and the
    Chrome trace JSON to download (`save`, or the link under the chart).

    Args:
        trace: a `RunMetadata` of a FULL_TRACE run, its `step_stats`, a `Timeline`, or the tracer of
            `with sess.trace() as tr:` (its last run).
        width: pixels for the time axis.
    """

    def __init__(self, trace: Any, width: int = 900, max_download_bytes: int = 4_000_000):
        self.step_stats = step_stats_of(trace)
        self.width = width
        self.max_download_bytes = max_download_bytes
        self.bars = bars_of(self.step_stats)
        self.uid = _html.new_uid("timeline")

    # -- data ----------------------------------------------------------------------------------------
    def rows(self) -> list[tuple[str, int]]:
        """(device, thread) rows in device order, threads sorted."""
        out: list[tuple[str, int]] = []
        for ds in self.step_stats.dev_stats:
            for t in sorted({ns.thread_id for ns in ds.node_stats}):
                if (ds.device, t) not in out:
                    out.append((ds.device, t))
        return out

    def flows(self) -> list[tuple[Bar, Bar]]:
        """(send, recv) bar pairs, matched by their rendezvous edge number."""
        sends, recvs = {}, {}
        for b in self.bars:
            m = _EDGE.search(b.name)
            if m:
                (sends if m.group(1) == "send" else recvs)[m.group(2)] = b
        return [(sends[k], recvs[k]) for k in sorted(set(sends) & set(recvs), key=int)]

    def totals(self) -> dict[str, dict]:
        from labflow.client.timeline import Timeline
        return Timeline(self.step_stats).totals_by_op_type()

    @property
    def span_us(self) -> float:
        return max((b.start + b.duration for b in self.bars), default=0.0)

    def chrome_trace(self, show_memory: bool = True) -> str:
        """The step as Chrome trace JSON (chrome://tracing, Perfetto UI, speedscope)."""
        from labflow.client.timeline import Timeline
        return Timeline(self.step_stats).generate_chrome_trace_format(show_dataflow=True, show_memory=show_memory)

    def save(self, path: str, show_memory: bool = True) -> str:
        """Writes the Chrome trace JSON to `path` and returns the path."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.chrome_trace(show_memory))
        return path

    # -- drawing -------------------------------------------------------------------------------------
    def svg(self) -> str:
        rows = self.rows()
        span = max(self.span_us, 1.0)
        scale = self.width / span
        w = GUTTER + self.width + 20
        h = AXIS_H + ROW_H * len(rows) + 10
        uid = self.uid
        row_of = {r: i for i, r in enumerate(rows)}
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="lf-tl lf-zoom" width="{w:.0f}" height="{h:.0f}" '
               f'data-w="{w:.0f}" data-h="{h:.0f}" viewBox="0 0 {w:.0f} {h:.0f}" font-family="{FONT}" '
               'font-size="11">',
               f'<defs><marker id="{uid}-f" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" '
               f'markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="{SENDRECV_COLOR}"/></marker></defs>']
        last_dev = None
        dev_index = -1
        for i, (dev, tid) in enumerate(rows):
            y = AXIS_H + i * ROW_H
            if dev != last_dev:
                dev_index += 1
                last_dev = dev
                out.append(f'<line x1="0" x2="{w:.0f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#bbb"/>')
                out.append(f'<text x="4" y="{y + 15:.1f}" font-weight="bold"><title>{esc(dev)}</title>'
                           f'{esc(short_device(dev))}</text>')
            fill = "#f6f8fb" if dev_index % 2 == 0 else "#ffffff"
            out.append(f'<rect x="{GUTTER:.0f}" y="{y:.1f}" width="{self.width + 20:.0f}" height="{ROW_H:.0f}" '
                       f'fill="{fill}"/>')
            out.append(f'<text x="{GUTTER - 6:.0f}" y="{y + 15:.1f}" text-anchor="end" fill="#666" '
                       f'font-size="10">thread {tid}</text>')
        for t in _ticks(span):
            x = GUTTER + t * scale
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{AXIS_H - 6:.0f}" y2="{h - 10:.0f}" stroke="#e2e2e2"/>'
                       f'<text x="{x:.1f}" y="{AXIS_H - 9:.0f}" text-anchor="middle" fill="#555" '
                       f'font-size="10">{esc(fmt_us(t))}</text>')
        for b in self.bars:
            y = AXIS_H + row_of[(b.device, b.thread)] * ROW_H + (ROW_H - BAR_H) / 2
            x = GUTTER + b.start * scale
            bw = max(b.duration * scale, 1.0)
            fill, stroke = color_for(b.op)
            if _EDGE.search(b.name):
                fill, stroke = "#ffd9c7", SENDRECV_COLOR
            tip = "\n".join([f"{b.name} ({b.op})", f"{b.device}, thread {b.thread}",
                             f"start +{fmt_us(b.start)}, duration {fmt_us(b.duration)}"]
                            + [f"output {i}: {o}" for i, o in enumerate(b.outputs)])
            out.append(f'<g class="lf-bar-g"><title>{esc(tip)}</title><rect class="lf-bar" data-node="{esc(b.name)}" '
                       f'x="{x:.2f}" y="{y:.1f}" width="{bw:.2f}" height="{BAR_H:.0f}" fill="{fill}" '
                       f'stroke="{stroke}" stroke-width="0.6"/>')
            if bw > text_width(b.op, 10) + 6:
                out.append(f'<text x="{x + 3:.1f}" y="{y + 12:.1f}" font-size="10" fill="#222">{esc(b.op)}</text>')
            out.append("</g>")
        for s, r in self.flows():
            x0 = GUTTER + (s.start + s.duration) * scale
            y0 = AXIS_H + row_of[(s.device, s.thread)] * ROW_H + ROW_H / 2
            x1 = GUTTER + max(r.start, s.start) * scale
            y1 = AXIS_H + row_of[(r.device, r.thread)] * ROW_H + ROW_H / 2
            mx = (x0 + x1) / 2
            out.append(f'<path class="lf-flow" d="M{x0:.1f},{y0:.1f} C{mx:.1f},{y0:.1f} {mx:.1f},{y1:.1f} '
                       f'{x1:.1f},{y1:.1f}" fill="none" stroke="{SENDRECV_COLOR}" stroke-width="1.4" '
                       f'marker-end="url(#{uid}-f)"><title>{esc(s.name)} → {esc(r.name)}</title></path>')
        out.append("</svg>")
        return "\n".join(out)

    def totals_html(self) -> str:
        totals = self.totals()
        all_us = sum(v["total_us"] for v in totals.values()) or 1
        rows = [[op, v["count"], fmt_us(v["total_us"]), f"{100 * v['total_us'] / all_us:.1f}%",
                 fmt_us(v["total_us"] / max(v["count"], 1))] for op, v in totals.items()]
        return _html.table(["op type", "count", "total", "share", "mean"], rows, limit=40)

    def download_html(self) -> str:
        js = self.chrome_trace().encode()
        if len(js) > self.max_download_bytes:
            return (f"<div>Chrome trace: {len(js) // 1024} KiB — write it with <code>view.save('trace.json')"
                    "</code>.</div>")
        b64 = base64.b64encode(js).decode("ascii")
        return (f'<div><a download="labflow_timeline.json" href="data:application/json;base64,{b64}">'
                "⤓ Chrome trace JSON</a> <span style=\"color:#888\">(chrome://tracing, Perfetto UI, "
                "speedscope; or <code>view.save(path)</code>)</span></div>")

    def summary(self) -> str:
        return (f"{len(self.bars)} nodes on {len(self.step_stats.dev_stats)} device(s), step time "
                f"{fmt_us(self.span_us)}, {len(self.flows())} Send/Recv transfer(s)")

    def legend(self) -> list[tuple[str, str, str]]:
        ops = list(self.totals())[:12]
        return [(op, *color_for(op)) for op in ops]

    def to_html(self) -> str:
        if not self.bars:
            return ("<div><b>Timeline</b>: the step stats are empty — run with "
                    "<code>options=RunOptions(trace_level=RunOptions.FULL_TRACE)</code> and a RunMetadata.</div>")
        below = ("<details open><summary><b>Time per op type</b></summary>" + self.totals_html() + "</details>"
                 + self.download_html())
        return _html.page(self.uid, self.svg(), head=escape(self.summary()), below=below,
                          tools=_html.tools_html(search=False, scopes=False), maxh=480,
                          alt=f"timeline: {self.summary()}")

    def __repr__(self) -> str:
        return f"<TimelineView: {self.summary()}>"
