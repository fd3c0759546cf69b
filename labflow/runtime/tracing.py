"""Step stats: turn the per-node records of a traced plan into TF's `StepStats` protobuf."""

from __future__ import annotations

import time
from typing import Any

from labflow.framework.protos import step_stats_pb2


def _nbytes(v: Any) -> int:
    return int(getattr(v, "nbytes", 0) or 0)


class Traces(list):
    """The per-partition record lists of a traced step, plus `functions`: the records of the plans that
    control-flow ops ran (a loop body per iteration), as (device name, name prefix, nodes, records)."""

    def __init__(self, n: int):
        super().__init__([] for _ in range(n))
        self.functions: list[tuple] = []


def build_step_stats(partitions: list, traces: list[list], perf_origin: float, wall_origin: float
                     ) -> step_stats_pb2.StepStats:
    """One DeviceStepStats per partition, one NodeExecStats per executed node, times in wall-clock µs.

    `perf_origin`/`wall_origin` are `time.perf_counter()` and `time.time()` read at the same moment,
    so the monotonic timestamps of the plan become TF's absolute `all_start_micros`. The nodes a
    control-flow op ran inside its functions appear on its device as "<op>/<node>", once per run (TF 1.x's
    timelines show a loop's ops once per iteration too).
    """
    stats = step_stats_pb2.StepStats()
    by_device: dict[str, Any] = {}
    for cp, records in zip(partitions, traces):
        ds = by_device[cp.device.name] = stats.dev_stats.add(device=cp.device.name)
        _add_records(ds, cp.device.device_type, cp.nodes, records, perf_origin, wall_origin, "")
    for device, prefix, nodes, records in getattr(traces, "functions", ()):
        ds = by_device.get(device)
        if ds is None:
            ds = by_device[device] = stats.dev_stats.add(device=device)
        _add_records(ds, "GPU" if "/device:GPU" in device else "CPU", nodes, records, perf_origin, wall_origin,
                     prefix)
    return stats


def _add_records(ds: Any, device_type: str, nodes: list, records: list, perf_origin: float, wall_origin: float,
                 prefix: str) -> None:
    allocator = "gpu_bfc" if device_type == "GPU" else "cpu"
    live = peak = 0
    for i, t0, t1, outs, *rest in records:
        n = nodes[i]
        start_us = int((wall_origin + (t0 - perf_origin)) * 1e6)
        dur_us = max(0, int(round((t1 - t0) * 1e6)))
        name = prefix + n.name
        ns = ds.node_stats.add(node_name=name, all_start_micros=start_us, op_start_rel_micros=0,
                               op_end_rel_micros=dur_us, all_end_rel_micros=dur_us,
                               all_start_nanos=start_us * 1000, op_end_rel_nanos=dur_us * 1000,
                               all_end_rel_nanos=dur_us * 1000, thread_id=rest[0] if rest else 0)
        ins = ", ".join(src.name if k == 0 else f"{src.name}:{k}" for src, k in n.inputs)
        ns.timeline_label = f"{name} = {n.type}({ins})"
        total = 0
        for slot, v in enumerate(outs):
            b = _nbytes(v)
            total += b
            out = ns.output.add(slot=slot)
            td = out.tensor_description
            if slot < len(n.out_dtypes):
                td.dtype = n.out_dtypes[slot].base_dtype.as_datatype_enum
            for d in getattr(v, "shape", ()):
                td.shape.dim.add(size=int(d))
            td.allocation_description.requested_bytes = b
            td.allocation_description.allocated_bytes = b
            td.allocation_description.allocator_name = allocator
        live += total
        peak = max(peak, live)
        if total:
            mem = ns.memory.add(allocator_name=allocator, total_bytes=total, peak_bytes=total)
            del mem
        ns.memory_stats.temp_memory_size = 0
    del live, peak


def clock_origin() -> tuple[float, float]:
    return time.perf_counter(), time.time()
