"""SummaryView: a logdir's scalars and histograms as SVG line charts, re-read while training runs.

    writer = tf.summary.FileWriter(logdir, sess.graph)
    view = SummaryView(writer)        # or SummaryView("/tmp/logs"): every subfolder is a run
    view                              # static charts (no ipywidgets, nothing from the web)
    view.widget(refresh_secs=2)       # live: re-reads new events every 2 s while the next cell trains

Like TensorBoard, every folder under the logdir holding an event file is a run (the logdir itself is
run "."), tags are grouped by their first path component, each scalar tag is one chart with a line
per run, and each histogram tag (per run) is a distribution chart: the min/max and the 7%, 16%, 31%,
69%, 84%, 93% percentiles as bands around the median, over steps. Files are read incrementally with
`labflow.summary.summary_iterator` (a record still being written is read on the next refresh).
"""

from __future__ import annotations

import math
import os
import threading
from html import escape
from typing import Any

import numpy as np

from labflow import errors
from labflow.notebook import html as _html
from labflow.notebook.svg import FONT, PALETTE, esc
from labflow.summary.reader import summary_iterator

# TensorBoard's distribution chart percentiles (basis points 0, 668, 1587, 3085, 5000, ...).
QUANTILES = (0.0, 0.0668, 0.1587, 0.3085, 0.5, 0.6915, 0.8413, 0.9332, 1.0)
MAX_POINTS = 1000  # per line: longer series are drawn strided (always keeping the last point)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About `n` round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def fmt(v: float) -> str:
    if v == 0 or not math.isfinite(v):
        return str(v if not math.isfinite(v) else 0)
    a = abs(v)
    if a >= 1e5 or a < 1e-3:
        return f"{v:.3g}"
    return f"{v:.4g}"


def _scalar_of(value: Any) -> float | None:
    kind = value.WhichOneof("value")
    if kind == "simple_value":
        return float(value.simple_value)
    if kind == "tensor":  # TF2-style scalar summaries: a 0-d numeric tensor
        from labflow.framework.proto_convert import make_ndarray
        try:
            a = make_ndarray(value.tensor)
        except Exception:  # noqa: BLE001 - strings, unsupported dtypes: not a scalar
            return None
        if a.size == 1 and a.dtype.kind in "fiub":
            return float(a.reshape(-1)[0])
    return None


def histogram_quantiles(h: Any, qs: tuple[float, ...] = QUANTILES) -> list[float]:
    """Percentiles of a HistogramProto (linear within a bucket, clipped to [min, max])."""
    counts = np.asarray(h.bucket, dtype=np.float64)
    limits = np.asarray(h.bucket_limit, dtype=np.float64)
    total = counts.sum()
    if total <= 0 or not len(limits):
        return [float(h.min)] * len(qs)
    lo, hi = float(h.min), float(h.max)
    right = np.clip(limits, lo, hi)
    left = np.clip(np.concatenate([[lo], limits[:-1]]), lo, hi)
    cum = np.cumsum(counts)
    out = []
    for q in qs:
        t = q * total
        i = int(np.searchsorted(cum, t, side="left"))
        i = min(i, len(cum) - 1)
        before = cum[i] - counts[i]
        frac = (t - before) / counts[i] if counts[i] > 0 else 0.0
        out.append(float(left[i] + (right[i] - left[i]) * min(max(frac, 0.0), 1.0)))
    out[0], out[-1] = lo, hi
    return out


class _FileState:
    __slots__ = ("size", "events")

    def __init__(self) -> None:
        self.size = -1
        self.events = 0


class SummaryView(_html.View):
    """Scalars and histograms of a TensorBoard logdir as charts, refreshed on demand or live.

    Args:
        logdir: a folder of event files (its subfolders with event files are more runs), or a
            `tf.summary.FileWriter` (its `get_logdir()`; `refresh()` flushes it first so that what
            was added is on disk, whatever its `flush_secs`).
        tags: only these tags (default: all); `runs`: only these runs (default: all).
        smoothing: TensorBoard's exponential moving average weight in [0, 1): draws the smoothed line
            over the faint raw one.
        columns: charts per row; `chart_size`: (width, height) of one chart in pixels.
    """

    def __init__(self, logdir: Any, tags: list[str] | None = None, runs: list[str] | None = None,
                 smoothing: float = 0.0, columns: int = 3, chart_size: tuple[int, int] = (380, 230)):
        self.writer = logdir if hasattr(logdir, "get_logdir") else None
        self.logdir = os.fspath(self.writer.get_logdir() if self.writer is not None else logdir)
        if not 0.0 <= smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
        self.tags, self.runs_filter = (set(tags) if tags else None), (set(runs) if runs else None)
        self.smoothing, self.columns, self.chart_size = smoothing, max(1, int(columns)), chart_size
        self.uid = _html.new_uid("summary")
        # run -> tag -> [(step, wall_time, value)]; run -> tag -> [(step, wall_time, quantiles)]
        self.scalars: dict[str, dict[str, list[tuple[int, float, float]]]] = {}
        self.histograms: dict[str, dict[str, list[tuple[int, float, list[float]]]]] = {}
        self.n_events = 0
        self._files: dict[str, _FileState] = {}
        self._lock = threading.RLock()
        self.refresh()

    # -- reading ---------------------------------------------------------------------------------------
    def event_files(self) -> dict[str, list[str]]:
        """run name -> its event files (sorted), for every folder under the logdir that has one."""
        out: dict[str, list[str]] = {}
        if not os.path.isdir(self.logdir):
            return out
        for d, _, files in os.walk(self.logdir):
            ev = sorted(f for f in files if "tfevents" in f)
            if ev:
                run = os.path.relpath(d, self.logdir).replace(os.sep, "/")
                if self.runs_filter is None or run in self.runs_filter:
                    out[run] = [os.path.join(d, f) for f in ev]
        return dict(sorted(out.items()))

    def refresh(self) -> bool:
        """Reads the events written since the last refresh; True when any were new."""
        if self.writer is not None and not getattr(self.writer, "_closed", False):
            try:
                self.writer.flush()
            except Exception:  # noqa: BLE001 - a failing writer must not break the view; its file is read
                pass
        new = 0
        with self._lock:
            for run, files in self.event_files().items():
                for path in files:
                    new += self._read_file(run, path)
            self.n_events += new
        return new > 0

    def _read_file(self, run: str, path: str) -> int:
        st = self._files.setdefault(path, _FileState())
        try:
            size = os.path.getsize(path)
        except OSError:
            return 0
        if size == st.size:
            return 0
        n = 0
        try:
            for i, event in enumerate(summary_iterator(path)):
                if i < st.events:
                    continue
                self._add_event(run, event)
                st.events = i + 1
                n += 1
        except errors.DataLossError:  # the writer is in the middle of a record: the rest comes next time
            return n
        except OSError:
            return n
        st.size = size
        return n

    def _add_event(self, run: str, event: Any) -> None:
        if not event.HasField("summary"):
            return
        for v in event.summary.value:
            if self.tags is not None and v.tag not in self.tags:
                continue
            if v.WhichOneof("value") == "histo":
                self.histograms.setdefault(run, {}).setdefault(v.tag, []).append(
                    (event.step, event.wall_time, histogram_quantiles(v.histo)))
                continue
            x = _scalar_of(v)
            if x is not None:
                self.scalars.setdefault(run, {}).setdefault(v.tag, []).append((event.step, event.wall_time, x))

    # -- the data, by tag ------------------------------------------------------------------------------
    @property
    def run_names(self) -> list[str]:
        return sorted(set(self.scalars) | set(self.histograms))

    def scalar_tags(self) -> list[str]:
        return sorted({t for per in self.scalars.values() for t in per})

    def histogram_tags(self) -> list[str]:
        return sorted({t for per in self.histograms.values() for t in per})

    def points(self, tag: str, run: str | None = None) -> list[tuple[int, float]]:
        """(step, value) of a scalar tag, in step order (`run`: default the only/first run with it)."""
        runs = [r for r in self.run_names if tag in self.scalars.get(r, {})]
        if run is None:
            if not runs:
                raise KeyError(f"No scalar tag {tag!r}; tags: {self.scalar_tags()}")
            run = runs[0]
        return sorted((s, v) for s, _, v in self.scalars[run][tag])

    def groups(self) -> dict[str, list[tuple[str, str]]]:
        """group (a tag's first path component) -> [(kind, tag)], as TensorBoard groups its charts."""
        out: dict[str, list[tuple[str, str]]] = {}
        for kind, tags in (("scalar", self.scalar_tags()), ("histogram", self.histogram_tags())):
            for t in tags:
                out.setdefault(t.split("/", 1)[0], []).append((kind, t))
        return dict(sorted(out.items()))

    def run_color(self, run: str) -> str:
        names = self.run_names
        return PALETTE[names.index(run) % len(PALETTE)][1] if run in names else "#555"

    # -- drawing ---------------------------------------------------------------------------------------
    def _frame(self, x0: float, y0: float, title: str, xs: tuple[float, float], ys: tuple[float, float],
               kind: str, tag: str) -> tuple[list[str], Any, Any]:
        """A chart's box, title, axes and ticks; returns (svg parts, x->px, y->px)."""
        w, h = self.chart_size
        left, right, top, bottom = 56, 10, 22, 28
        pw, ph = w - left - right, h - top - bottom
        xlo, xhi = xs
        ylo, yhi = ys
        if xhi <= xlo:
            xlo, xhi = xlo - 1, xhi + 1
        if yhi <= ylo:
            pad = abs(ylo) * 0.05 or 1.0
            ylo, yhi = ylo - pad, yhi + pad
        else:
            pad = (yhi - ylo) * 0.05
            ylo, yhi = ylo - pad, yhi + pad

        def px(s: float) -> float:
            return x0 + left + (s - xlo) / (xhi - xlo) * pw

        def py(v: float) -> float:
            return y0 + top + (yhi - v) / (yhi - ylo) * ph

        out = [f'<g class="lf-chart" data-kind="{kind}" data-tag="{esc(tag)}">',
               f'<rect x="{x0 + 0.5}" y="{y0 + 0.5}" width="{w - 1}" height="{h - 1}" fill="#fff" stroke="#ddd"/>',
               f'<text x="{x0 + 8}" y="{y0 + 15}" font-size="12" font-weight="bold" fill="#333">{esc(title)}</text>']
        for t in nice_ticks(ylo, yhi):
            y = py(t)
            out.append(f'<line x1="{x0 + left}" x2="{x0 + left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
                       f'<text x="{x0 + left - 4}" y="{y + 3:.1f}" font-size="9" fill="#666" '
                       f'text-anchor="end">{esc(fmt(t))}</text>')
        for t in nice_ticks(xlo, xhi, 4):
            x = px(t)
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y0 + top + ph}" y2="{y0 + top + ph + 3}" '
                       f'stroke="#999"/><text x="{x:.1f}" y="{y0 + top + ph + 13}" font-size="9" fill="#666" '
                       f'text-anchor="middle">{esc(fmt(t))}</text>')
        out.append(f'<rect x="{x0 + left}" y="{y0 + top}" width="{pw}" height="{ph}" fill="none" stroke="#bbb"/>'
                   f'<text x="{x0 + w - right}" y="{y0 + h - 3}" font-size="9" fill="#888" '
                   'text-anchor="end">step</text>')
        return out, px, py

    def _smooth(self, vals: list[float]) -> list[float]:
        # TensorBoard's debiased exponential moving average
        out, last, n = [], 0.0, 0
        for v in vals:
            n += 1
            last = last * self.smoothing + (1 - self.smoothing) * v
            out.append(last / (1 - self.smoothing ** n))
        return out

    def _scalar_chart(self, x0: float, y0: float, tag: str) -> list[str]:
        series = {r: sorted(((s, v) for s, _, v in self.scalars[r][tag]), key=lambda p: p[0])
                  for r in self.run_names if tag in self.scalars.get(r, {})}
        allp = [p for ps in series.values() for p in ps if math.isfinite(p[1])]
        xs = (min(p[0] for p in allp), max(p[0] for p in allp)) if allp else (0, 1)
        ys = (min(p[1] for p in allp), max(p[1] for p in allp)) if allp else (0, 1)
        out, px, py = self._frame(x0, y0, tag, xs, ys, "scalar", tag)
        for run, ps in series.items():
            if len(ps) > MAX_POINTS:
                k = math.ceil(len(ps) / MAX_POINTS)
                ps = ps[::k] + ([ps[-1]] if (len(ps) - 1) % k else [])
            ps = [p for p in ps if math.isfinite(p[1])]
            if not ps:
                continue
            color = self.run_color(run)
            raw = " ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in ps)
            data = " ".join(f"{s}:{v:.6g}" for s, v in ps)
            faint = self.smoothing > 0
            out.append(f'<polyline class="lf-line" data-run="{esc(run)}" data-xy="{data}" points="{raw}" '
                       f'fill="none" stroke="{color}" stroke-width="{1 if faint else 1.6}" '
                       f'stroke-opacity="{0.3 if faint else 1}"><title>{esc(run)}: {esc(tag)}</title></polyline>')
            if faint:
                sm = self._smooth([v for _, v in ps])
                pts = " ".join(f"{px(s):.1f},{py(v):.1f}" for (s, _), v in zip(ps, sm))
                out.append(f'<polyline class="lf-smooth" points="{pts}" fill="none" stroke="{color}" '
                           'stroke-width="1.8"/>')
            s, v = ps[-1]
            out.append(f'<circle cx="{px(s):.1f}" cy="{py(v):.1f}" r="2.5" fill="{color}">'
                       f'<title>{esc(run)} step {s}: {esc(fmt(v))}</title></circle>')
        out.append("</g>")
        return out

    def _histogram_chart(self, x0: float, y0: float, tag: str, run: str) -> list[str]:
        rows = sorted(self.histograms[run][tag], key=lambda r: r[0])
        steps = [r[0] for r in rows]
        qs = np.asarray([r[2] for r in rows], dtype=np.float64)
        fin = qs[np.isfinite(qs)]
        ys = (float(fin.min()), float(fin.max())) if fin.size else (0.0, 1.0)
        title = tag if len(self.run_names) == 1 else f"{tag} ({run})"
        out, px, py = self._frame(x0, y0, title, (min(steps), max(steps)), ys, "histogram", tag)
        color = self.run_color(run)
        n = len(QUANTILES)
        for i in range(n // 2):  # outer bands first, more opaque towards the median
            lo, hi = qs[:, i], qs[:, n - 1 - i]
            if len(steps) == 1:
                x = px(steps[0])
                out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{py(lo[0]):.1f}" y2="{py(hi[0]):.1f}" '
                           f'stroke="{color}" stroke-width="6" stroke-opacity="{0.15 + 0.15 * i:.2f}"/>')
                continue
            pts = [f"{px(s):.1f},{py(v):.1f}" for s, v in zip(steps, hi)]
            pts += [f"{px(s):.1f},{py(v):.1f}" for s, v in zip(reversed(steps), lo[::-1])]
            out.append(f'<polygon class="lf-band" points="{" ".join(pts)}" fill="{color}" '
                       f'fill-opacity="{0.15 + 0.15 * i:.2f}" stroke="none"/>')
        med = qs[:, n // 2]
        data = " ".join(f"{s}:{v:.6g}" for s, v in zip(steps, med))
        out.append(f'<polyline class="lf-median" data-run="{esc(run)}" data-xy="{data}" '
                   f'points="{" ".join(f"{px(s):.1f},{py(v):.1f}" for s, v in zip(steps, med))}" fill="none" '
                   f'stroke="{color}" stroke-width="1.4"><title>{esc(run)}: median of {esc(tag)}</title></polyline>')
        out.append("</g>")
        return out

    def svg(self) -> str:
        """All charts in one standalone SVG: a run legend, then per group a heading and its charts."""
        with self._lock:
            return self._svg()

    def _svg(self) -> str:
        cw, ch = self.chart_size
        gap, head = 12, 24
        width = self.columns * (cw + gap) + gap
        body: list[str] = []
        y = 8.0
        runs = self.run_names
        if runs:  # the legend: a coloured line per run
            x = gap
            for r in runs:
                body.append(f'<line x1="{x}" x2="{x + 18}" y1="{y + 8}" y2="{y + 8}" stroke="{self.run_color(r)}" '
                            f'stroke-width="3"/><text x="{x + 23}" y="{y + 12}" font-size="12" '
                            f'fill="#333" class="lf-run">{esc(r)}</text>')
                x += 40 + 7 * len(r)
                if x > width - 120:
                    x, y = gap, y + 18
            y += 24
        groups = self.groups()
        if not groups:
            body.append(f'<text x="{gap}" y="{y + 14}" font-size="13" fill="#888">No scalar or histogram '
                        f'summaries in {esc(self.logdir)} yet.</text>')
            y += 24
        for group, items in groups.items():
            body.append(f'<text class="lf-group" x="{gap}" y="{y + 16}" font-size="14" font-weight="bold" '
                        f'fill="#222">{esc(group)}</text>')
            y += head
            charts = [(k, t, None) for k, t in items if k == "scalar"]
            charts += [(k, t, r) for k, t in items if k == "histogram" for r in runs
                       if t in self.histograms.get(r, {})]
            for i, (kind, tag, run) in enumerate(charts):
                col = i % self.columns
                if i and col == 0:
                    y += ch + gap
                x0 = gap + col * (cw + gap)
                body += self._scalar_chart(x0, y, tag) if kind == "scalar" else self._histogram_chart(x0, y, tag, run)
            y += ch + gap
        h = y + 4
        return (f'<svg xmlns="http://www.w3.org/2000/svg" class="lf-summary lf-zoom" width="{width:.0f}" '
                f'height="{h:.0f}" data-w="{width:.0f}" data-h="{h:.0f}" viewBox="0 0 {width:.0f} {h:.0f}" '
                f'font-family="{FONT}">' + "".join(body) + "</svg>")

    # -- HTML -------------------------------------------------------------------------------------------
    def summary(self) -> str:
        last = [s for per in self.scalars.values() for ps in per.values() for s, _, _ in ps[-1:]]
        s = (f"{len(self.run_names)} run(s), {len(self.scalar_tags())} scalar and {len(self.histogram_tags())} "
             f"histogram tag(s), {self.n_events} events")
        return s + (f", last step {max(last)}" if last else "")

    def _head(self) -> str:
        return f"<b>Summaries</b> in <code>{escape(self.logdir)}</code> — {escape(self.summary())}"

    def to_html(self) -> str:
        """Self-contained HTML (static picture without JS; zoom and pan with it). Re-display, or use
        `.widget()`, to see newer events."""
        with self._lock:
            svg = self._svg()
            head = self._head()
        tools = _html.tools_html(search=False, scopes=False)
        return _html.page(self.uid, svg, head=head, tools=tools, alt=f"summaries: {self.summary()}")

    def widget(self, refresh_secs: float | None = 2.0) -> Any:  # type: ignore[override]
        """A live ipywidgets widget: re-reads the logdir every `refresh_secs` in a background thread
        (None or 0: only on its "refresh" button) until it is closed; needs ipywidgets."""
        from labflow.notebook import widgets
        return widgets.SummaryWidget(self, refresh_secs=refresh_secs)

    def __repr__(self) -> str:
        return f"<SummaryView of {self.logdir}: {self.summary()}>"


__all__ = ["SummaryView", "histogram_quantiles", "nice_ticks"]
