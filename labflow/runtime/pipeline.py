"""Steps 1-3 of one `sess.run` signature: prune -> place -> partition (+ rewrites), shared by the local
session and the distributed master, which differ only in where the partitions then run."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from labflow import dtypes
from labflow.framework.tensor import Operation, Tensor
from labflow.runtime import elementwise_fusion, partition, placer, prune, rewrite
from labflow.runtime.devices import Device

_log = logging.getLogger("labflow.placement")


@dataclass
class StepPlan:
    """The partitions of one signature, the placement decisions, and fetches answered from feeds."""

    partitions: list[partition.Partition]
    decisions: list[placer.Placement]
    fetch_from_feed: list[tuple[int, int]]
    nfetch: int


def wire_dtype(config: Any) -> dtypes.DType | None:
    """The narrow dtype float32 Send/Recv tensors travel as (GraphOptions.send_recv_dtype), or None."""
    wire = config.graph_options.send_recv_dtype
    if wire is None and config.graph_options.enable_bfloat16_sendrecv:
        wire = "bfloat16"
    wire = None if wire is None else dtypes.as_dtype(wire)
    if wire is not None and wire not in (dtypes.float16, dtypes.bfloat16):
        raise ValueError(f"graph_options.send_recv_dtype must be float16 or bfloat16, got {wire.name}")
    return wire


def plan_step(elements: list, feed_tensors: tuple | list, devices: list[Device], config: Any,
              pinned: dict[str, Device], default_device: str = "") -> StepPlan:
    """Prunes, places and partitions the graph for one (fetches, feeds) signature.

    `pinned` (updated in place) keeps stateful nodes where an earlier step put them; `default_device`
    is the partial name unconstrained nodes start from (a master's own task).
    """
    feeds = set(feed_tensors)
    fetch_tensors = [e for e in elements if isinstance(e, Tensor)]
    targets = [e for e in elements if isinstance(e, Operation)]
    order = prune.prune(fetch_tensors, targets, feeds)
    placement, decisions = placer.place(order, devices, config.allow_soft_placement,
                                        default_device=default_device, pinned=pinned)
    placer.relocate_control_only_noops(order, placement, decisions)
    for op, dev in placement.items():
        if op._opdef.stateful:
            pinned.setdefault(op.name, dev)
    if config.log_device_placement:
        for d in decisions:
            _log.info("%s: (%s): %s [%s]", d.node, d.op_type, d.device, d.reason)
    part_fetches: list = []
    from_feed: list[tuple[int, int]] = []
    feed_pos = {t: i for i, t in enumerate(feed_tensors)}
    for i, e in enumerate(elements):
        if isinstance(e, Tensor) and e in feeds:
            from_feed.append((i, feed_pos[e]))
            part_fetches.append(None)
        else:
            part_fetches.append(e if isinstance(e, Tensor) else None)
    parts = partition.partition(order, placement, list(feed_tensors), part_fetches, targets,
                                wire_dtype=wire_dtype(config))
    opts = config.graph_options.optimizer_options
    if opts.do_constant_folding and opts.opt_level != opts.L0:
        for p in parts:
            rewrite.optimize(p)
    for p in parts:
        if elementwise_fusion.enabled(p.device.device_type, opts):
            elementwise_fusion.fuse_elementwise(p)
    return StepPlan(parts, decisions, from_feed, len(elements))
