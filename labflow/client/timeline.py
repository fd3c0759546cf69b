"""Chrome trace ("traceEvents") JSON from StepStats, like TF's `tensorflow.python.client.timeline`.

The output loads in chrome://tracing, Perfetto UI and speedscope: one process per device, one
thread row per executor thread, an "X" event per node, flow arrows from each _Send to its _Recv,
and (optionally) a memory counter per allocator.
"""

from __future__ import annotations

import json
import re
from typing import Any

_LABEL = re.compile(r"^(?P<name>.*?) = (?P<op>[^(]*)\((?P<inputs>.*)\)$")
_EDGE = re.compile(r"/_(send|recv)_(\d+)$")


class Timeline:
    """A timeline of one traced step.

    Args:
        step_stats: a `StepStats` (e.g. `run_metadata.step_stats`).
        graph: accepted for TF compatibility (unused: node details come from the stats).
    """

    def __init__(self, step_stats: Any, graph: Any = None):
        self._step_stats = step_stats
        self._graph = graph

    def _events(self, show_dataflow: bool, show_memory: bool) -> list[dict]:
        events: list[dict] = []
        sends: dict[str, tuple[int, int, float]] = {}
        recvs: dict[str, tuple[int, int, float]] = {}
        t_min = min((ns.all_start_micros for ds in self._step_stats.dev_stats for ns in ds.node_stats),
                    default=0)
        for pid, ds in enumerate(self._step_stats.dev_stats):
            events.append({"name": "process_name", "ph": "M", "pid": pid,
                           "args": {"name": f"{ds.device} Compute"}})
            events.append({"name": "process_sort_index", "ph": "M", "pid": pid, "args": {"sort_index": pid}})
            threads: set[int] = set()
            mem_series: list[tuple[float, int]] = []
            live = 0
            for ns in ds.node_stats:
                tid = ns.thread_id
                if tid not in threads:
                    threads.add(tid)
                    events.append({"name": "thread_name", "ph": "M", "pid": pid, "tid": tid,
                                   "args": {"name": f"executor thread {tid}"}})
                m = _LABEL.match(ns.timeline_label or "")
                op = m.group("op") if m else ns.node_name
                inputs = [s for s in (m.group("inputs").split(", ") if m else []) if s]
                ts = ns.all_start_micros - t_min
                dur = max(ns.all_end_rel_micros, 0)
                args: dict[str, Any] = {"name": ns.node_name, "op": op}
                for i, s in enumerate(inputs):
                    args[f"input{i}"] = s
                out_bytes = sum(o.tensor_description.allocation_description.requested_bytes for o in ns.output)
                if ns.output:
                    args["output_bytes"] = out_bytes
                    args["output_shapes"] = [[d.size for d in o.tensor_description.shape.dim] for o in ns.output]
                events.append({"name": op, "cat": "Op", "ph": "X", "pid": pid, "tid": tid, "ts": ts,
                               "dur": dur, "args": args})
                e = _EDGE.search(ns.node_name)
                if e:
                    (sends if e.group(1) == "send" else recvs)[e.group(2)] = (pid, tid, ts, dur)
                if show_memory and out_bytes:
                    live += out_bytes
                    mem_series.append((ts, live))
            if show_memory:
                for ts, total in mem_series:
                    events.append({"name": "Memory", "ph": "C", "pid": pid, "ts": ts,
                                   "args": {"allocated_bytes": total}})
        if show_dataflow:
            for fid, key in enumerate(sorted(set(sends) & set(recvs))):
                spid, stid, sts, sdur = sends[key]
                rpid, rtid, rts, _ = recvs[key]
                events.append({"name": "Send/Recv", "cat": "DataFlow", "ph": "s", "id": fid, "pid": spid,
                               "tid": stid, "ts": sts})
                events.append({"name": "Send/Recv", "cat": "DataFlow", "ph": "f", "bp": "e", "id": fid,
                               "pid": rpid, "tid": rtid, "ts": max(rts, sts)})
        return events

    def generate_chrome_trace_format(self, show_dataflow: bool = True, show_memory: bool = False) -> str:
        """The trace as a JSON string (`{"traceEvents": [...]}`)."""
        return json.dumps({"traceEvents": self._events(show_dataflow, show_memory), "displayTimeUnit": "ns"})

    def totals_by_op_type(self) -> dict[str, dict]:
        """Total and count of node time (µs) per op type, busiest first."""
        out: dict[str, dict] = {}
        for ds in self._step_stats.dev_stats:
            for ns in ds.node_stats:
                m = _LABEL.match(ns.timeline_label or "")
                op = m.group("op") if m else ns.node_name
                e = out.setdefault(op, {"total_us": 0, "count": 0})
                e["total_us"] += ns.all_end_rel_micros
                e["count"] += 1
        return dict(sorted(out.items(), key=lambda kv: -kv[1]["total_us"]))

    def save(self, path: str, show_dataflow: bool = True, show_memory: bool = False) -> str:
        with open(path, "w") as f:
            f.write(self.generate_chrome_trace_format(show_dataflow, show_memory))
        return path
