"""ClusterView: the tasks of a LocalCluster as a table (plain HTML), or live with stop/restart buttons.

    cluster = tf.LocalCluster(ps=1, workers=2)
    cluster                       # HTML table: job, task, address, pid, state, live steps (a snapshot)
    cluster.widget()              # ipywidgets: refreshed every second, stop/restart/kill per task
    ClusterView(cluster, refresh_s=0.5).widget()

Each refresh calls `LocalCluster.status()`: whether each process is alive and answers GetStatus (with
the cluster's token), and its live steps and registered graphs. The view holds the cluster weakly, so
an open widget never keeps a forgotten cluster's processes alive; its refresh thread (a daemon) ends
when the widget is closed, the cluster is closed, or the cluster is collected.
"""

from __future__ import annotations

import time
import weakref
from html import escape
from typing import Any

from labflow.notebook import html as _html
from labflow.notebook.svg import FONT, esc

STATE_COLORS = {"running": ("#d6f0d2", "#2e7d32"), "starting": ("#fff3c4", "#b8860b"),
                "exited": ("#ffd6d6", "#c62828"), "killed": ("#ffd6d6", "#c62828"),
                "stopped": ("#eeeeee", "#757575")}
COLUMNS = ["task", "address", "pid", "state", "live steps", "graphs", "devices", "note"]
_TD = ' style="border:1px solid #e3e3e3;padding:2px 6px;text-align:left;vertical-align:top"'


def state_html(state: str) -> str:
    fill, stroke = STATE_COLORS.get(state, ("#ffffff", "#333333"))
    return (f'<span style="background:{fill};color:{stroke};border:1px solid {stroke};border-radius:3px;'
            f'padding:0 5px">{escape(state)}</span>')


def row_cells(row: dict[str, Any]) -> list[str]:
    """The table cells of one `LocalCluster.status()` row, as HTML."""
    def code(v: Any) -> str:
        return "" if v is None else f"<code>{escape(str(v))}</code>"
    note = ""
    if row.get("returncode") is not None:
        from labflow.distributed.launcher import describe_returncode
        note = f"return code {describe_returncode(row['returncode'])}"
    elif row.get("alive") and not row.get("answers") and row.get("error"):
        note = "not answering: " + row["error"].split("\n", 1)[0][:160]
    if row.get("last_log"):
        note += (" — " if note else "") + row["last_log"][:200]
    devices = ", ".join(d.rsplit("/", 1)[-1].removeprefix("device:") for d in row.get("devices", []))
    return [code(f"/job:{row['job']}/task:{row['index']}"), code(row["address"]), code(row.get("pid")),
            state_html(row["state"]), code(row.get("live_steps")), code(row.get("registered_graphs")),
            escape(devices), escape(note)]


class ClusterView(_html.View):
    """A LocalCluster's tasks: an HTML table (`_repr_html_`), an SVG of task boxes, and `.widget()`.

    Args:
        cluster: the LocalCluster (held weakly: keep your own reference).
        refresh_s: seconds between refreshes of the live widget (0: only its "refresh" button).
    """

    def __init__(self, cluster: Any, refresh_s: float = 1.0):
        self._cluster = weakref.ref(cluster)
        self.refresh_s = float(refresh_s or 0)
        self.uid = _html.new_uid("cluster")
        self.rows: list[dict[str, Any]] = []
        self.read_at = ""
        self.refresh()

    @property
    def cluster(self) -> Any:
        """The cluster, or None once it was garbage collected."""
        return self._cluster()

    @property
    def active(self) -> bool:
        """Whether the cluster still exists and is not closed."""
        c = self._cluster()
        return c is not None and not c.closed

    def refresh(self, timeout: float = 1.0) -> list[dict[str, Any]]:
        """Polls the tasks (`LocalCluster.status()`); the rows of a dead task carry its last log line."""
        c = self._cluster()
        if c is None:
            self.rows = [dict(r, state="stopped", alive=False, answers=False) for r in self.rows]
        elif c.closed:
            self.rows = [_task_row(t) for t in c.tasks]
        else:
            rows = c.status(timeout=timeout)
            for r in rows:
                if r["state"] in ("exited", "killed"):
                    tail = c.logs(r["job"], r["index"], lines=1).strip()
                    r["last_log"] = tail
            self.rows = rows
        self.read_at = time.strftime("%H:%M:%S")
        return self.rows

    def summary(self) -> str:
        c = self._cluster()
        if c is None:
            return "cluster gone (garbage collected)"
        counts: dict[str, int] = {}
        for r in self.rows:
            counts[r["state"]] = counts.get(r["state"], 0) + 1
        states = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        closed = "closed; " if c.closed else ""
        return f"{closed}{len(self.rows)} task(s): {states}"

    def _head(self) -> str:
        c = self._cluster()
        logs = f" · logs in <code>{escape(c.log_dir)}</code>" if c is not None and not c.closed else ""
        return f"<b>LocalCluster</b> — {escape(self.summary())}{logs}"

    def table_html(self) -> str:
        head = "".join(f"<th{_TD}>{escape(h)}</th>" for h in COLUMNS)
        body = "".join("<tr>" + "".join(f"<td{_TD}>{c}</td>" for c in row_cells(r)) + "</tr>" for r in self.rows)
        return (f'<table class="lf-table" style="border-collapse:collapse;font-size:11px;margin:3px 0">'
                f"<tr>{head}</tr>{body}</table>")

    def to_html(self) -> str:
        """A snapshot table (plain HTML, no script); `.widget()` for the live one with buttons."""
        return (f'<div id="{self.uid}" class="lf-view" style="font-family:{FONT};font-size:12px">'
                f'<div class="lf-head">{self._head()}</div>{self.table_html()}'
                f'<div style="font-size:11px;color:#888">read at {escape(self.read_at)} · '
                "<code>cluster.widget()</code> refreshes live, with stop/restart buttons</div></div>")

    def svg(self) -> str:
        """One box per task, coloured by state, a row per job."""
        jobs: dict[str, list[dict]] = {}
        for r in self.rows:
            jobs.setdefault(r["job"], []).append(r)
        bw, bh, gap, left = 150, 46, 10, 70
        width = left + max((len(v) for v in jobs.values()), default=1) * (bw + gap) + gap
        height = len(jobs) * (bh + gap) + gap
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
               f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="11">']
        for j, (job, rows) in enumerate(jobs.items()):
            y = gap + j * (bh + gap)
            out.append(f'<text x="8" y="{y + bh / 2 + 4}" font-weight="bold">{esc(job)}</text>')
            for i, r in enumerate(rows):
                x = left + i * (bw + gap)
                fill, stroke = STATE_COLORS.get(r["state"], ("#fff", "#333"))
                out.append(f'<g><title>{esc(r["address"])} pid {esc(r.get("pid"))}</title>'
                           f'<rect x="{x}" y="{y}" width="{bw}" height="{bh}" rx="4" fill="{fill}" '
                           f'stroke="{stroke}"/><text x="{x + 8}" y="{y + 18}">task {r["index"]} · '
                           f'{esc(r["state"])}</text><text x="{x + 8}" y="{y + 34}" fill="#555">'
                           f'{esc(r["address"])}</text></g>')
        out.append("</svg>")
        return "".join(out)

    def widget(self) -> Any:  # type: ignore[override]
        """The live ipywidgets table (needs ipywidgets): refreshed every `refresh_s` in a daemon thread
        until the widget or the cluster is closed; stop/restart/kill buttons per task."""
        from labflow.notebook import widgets
        return widgets.ClusterWidget(self, refresh_s=self.refresh_s)

    def __repr__(self) -> str:
        return f"<ClusterView: {self.summary()}>"


def _task_row(t: Any) -> dict[str, Any]:
    return {"job": t.job, "index": t.index, "address": t.address, "pid": t.pid, "state": t.state,
            "returncode": t.returncode, "alive": False, "answers": False}


__all__ = ["ClusterView"]
