"""Step 3: one subgraph per device; every cross-device edge becomes a Send/Recv pair.

Partitions are built from light `PNode`s so the user's graph is never modified. Feeds enter a
partition as `_Feed` nodes and fetches leave it through `_Fetch` nodes (the local stand-ins for TF's
client-terminated _Recv/_Send).
"""

from __future__ import annotations

import heapq
from typing import Any

from labflow.framework import registry
from labflow.framework.tensor import Operation, Tensor
from labflow.runtime.devices import Device
from labflow.runtime.rendezvous import create_key

FEED, FETCH = "_Feed", "_Fetch"


class PNode:
    """A node of one partition: an op of the user's graph, or an added Send/Recv/_Feed/_Fetch."""

    __slots__ = ("name", "type", "opdef", "inputs", "control_inputs", "attrs", "device", "op",
                 "out_dtypes", "out_dims")

    def __init__(self, name: str, op_type: str, opdef: Any, attrs: dict, device: Device,
                 op: Operation | None, out_dtypes: list, out_dims: list):
        self.name = name
        self.type = op_type
        self.opdef = opdef
        self.inputs: list[tuple[PNode, int]] = []
        self.control_inputs: list[PNode] = []
        self.attrs = attrs
        self.device = device
        self.op = op
        self.out_dtypes = out_dtypes
        self.out_dims = out_dims

    def __repr__(self) -> str:
        return f"<PNode {self.name} ({self.type}) on {self.device.name}>"


class Partition:
    def __init__(self, device: Device):
        self.device = device
        self.nodes: list[PNode] = []
        self.feed_indices: list[int] = []  # which session feeds this partition reads


def partition(order: list[Operation], placement: dict[Operation, Device], feeds: list[Tensor],
              fetches: list[Tensor | None], targets: list[Operation], incarnation: int = 1,
              wire_dtype: Any = None) -> list[Partition]:
    """Splits the placed, pruned graph; `fetches[i]` is None for an op-only fetch slot.

    `wire_dtype` (float16 or bfloat16): float32 tensors crossing devices travel narrowed to it.
    """
    from labflow import dtypes
    parts: dict[str, Partition] = {}

    def part(dev: Device) -> Partition:
        p = parts.get(dev.name)
        if p is None:
            p = parts[dev.name] = Partition(dev)
        return p

    feed_index = {t: i for i, t in enumerate(feeds)}
    feed_nodes: dict[tuple[int, str], PNode] = {}
    pnode: dict[Operation, PNode] = {}
    recvs: dict[tuple[int, str], PNode] = {}  # (producer pnode id + out index, dst device) -> Recv
    control_recvs: dict[tuple[int, str], PNode] = {}
    edge_id = [0]
    send_def, recv_def = registry.get("_Send"), registry.get("_Recv")

    def feed_node(t: Tensor, dev: Device) -> PNode:
        key = (feed_index[t], dev.name)
        n = feed_nodes.get(key)
        if n is None:
            n = PNode(f"_feed/{t.op.name}_{t.value_index}", FEED, None, {"index": feed_index[t],
                      "tensor": t.name}, dev, None, [t.dtype.base_dtype], [t._shape_dims])
            feed_nodes[key] = n
            p = part(dev)
            p.nodes.append(n)
            p.feed_indices.append(feed_index[t])
        return n

    def source(t: Tensor, dst: Device) -> tuple[PNode, int]:
        if t in feed_index:
            return feed_node(t, dst), 0
        src = pnode[t.op]
        if src.device is dst:
            return src, t.value_index
        key = (id(src), t.value_index, dst.name)
        r = recvs.get(key)
        if r is None:
            edge_id[0] += 1
            tname = f"edge_{edge_id[0]}_{t.op.name}"
            rk = create_key(src.device.name, incarnation, dst.name, tname)
            narrow = wire_dtype if wire_dtype is not None and t.dtype.base_dtype == dtypes.float32 else None
            common = {"tensor_name": tname, "send_device": src.device.name, "recv_device": dst.name,
                      "send_device_incarnation": incarnation, "client_terminated": False, "key": rk,
                      "wire_dtype": narrow}
            s = PNode(f"{t.op.name}/_send_{edge_id[0]}", "_Send", send_def,
                      dict(common, T=t.dtype.base_dtype), src.device, None, [], [])
            s.inputs.append((src, t.value_index))
            part(src.device).nodes.append(s)
            r = PNode(f"{t.op.name}/_recv_{edge_id[0]}", "_Recv", recv_def,
                      # a ref crosses devices as its value (TF's rule): the Recv yields a plain tensor
                      dict(common, tensor_type=t.dtype.base_dtype), dst, None, [t.dtype.base_dtype],
                      [t._shape_dims])
            part(dst).nodes.append(r)
            recvs[key] = r
        return r, 0

    def control_source(c: Operation, dst: Device) -> PNode:
        src = pnode[c]
        if src.device is dst:
            return src
        key = (id(src), dst.name)
        r = control_recvs.get(key)
        if r is None:
            edge_id[0] += 1
            tname = f"edge_{edge_id[0]}_{c.name}_ctrl"
            rk = create_key(src.device.name, incarnation, dst.name, tname)
            common = {"tensor_name": tname, "send_device": src.device.name, "recv_device": dst.name,
                      "send_device_incarnation": incarnation, "client_terminated": False, "key": rk,
                      "wire_dtype": None}
            # A control edge crosses devices as a tiny Send of a constant, ordered after `c`.
            dummy = PNode(f"{c.name}/_ctrl_const_{edge_id[0]}", "_ControlTrigger", registry.get(
                "_ControlTrigger"), {}, src.device, None, [dtypes.bool], [()])
            dummy.control_inputs.append(src)
            s = PNode(f"{c.name}/_send_{edge_id[0]}", "_Send", send_def, dict(common, T=dtypes.bool),
                      src.device, None, [], [])
            s.inputs.append((dummy, 0))
            part(src.device).nodes.extend([dummy, s])
            r = PNode(f"{c.name}/_recv_{edge_id[0]}", "_Recv", recv_def, dict(common, tensor_type=dtypes.bool),
                      dst, None, [dtypes.bool], [()])
            part(dst).nodes.append(r)
            control_recvs[key] = r
        return r

    for op in order:
        dev = placement[op]
        n = PNode(op.name, op.type, op._opdef, op._attrs, dev, op, [t.dtype for t in op._outputs],
                  [t._shape_dims for t in op._outputs])
        pnode[op] = n
        n.inputs = [source(t, dev) for t in op._inputs]
        n.control_inputs = [control_source(c, dev) for c in op._control_inputs if c in pnode]
        part(dev).nodes.append(n)

    for i, t in enumerate(fetches):
        if t is None:
            continue  # fetches of fed tensors are answered from the feeds by the session
        src = pnode[t.op]
        f = PNode(f"_fetch/{t.op.name}_{t.value_index}", FETCH, None, {"index": i, "tensor": t.name},
                  src.device, None, [], [])
        f.inputs.append((src, t.value_index))
        part(src.device).nodes.append(f)
    return list(parts.values())


def partition_graph_def(part: Partition) -> Any:
    """One partition as a GraphDef: every node with its full device name, Send/Recv included."""
    from labflow.framework import function_io
    from labflow.framework.proto_convert import attr_value_from_python
    from labflow.framework.protos import graph_pb2
    gd = graph_pb2.GraphDef()
    exporter = function_io.Exporter()
    for n in part.nodes:
        nd = gd.node.add(name=n.name, op=n.type, device=n.device.name)
        for src, k in n.inputs:
            nd.input.append(src.name if k == 0 else f"{src.name}:{k}")
        for c in n.control_inputs:
            nd.input.append("^" + c.name)
        for key, value in n.attrs.items():
            if value is None:
                continue
            try:
                if function_io.encodes(value):  # an If/While's functions travel in the library
                    nd.attr[key].CopyFrom(exporter.encode(value))
                elif key == "record" and n.type in ("If", "While"):
                    nd.attr[key].CopyFrom(function_io.encode_record(n.type, value))
                else:
                    nd.attr[key].CopyFrom(attr_value_from_python(value))
            except TypeError:
                nd.attr[key].s = repr(value).encode()  # a labflow-only attr with no proto form
    if len(exporter.library.function):
        gd.library.CopyFrom(exporter.library)
    return gd


def const_node(template: PNode, value: Any, name: str) -> PNode:
    """A Const PNode holding `value` (made read-only), on `template`'s device (for graph rewrites)."""
    from labflow import dtypes as _dt
    dt = _dt.as_dtype(value.dtype) if value.dtype != object else _dt.string
    value.setflags(write=False)
    return PNode(name, "Const", registry.get("Const"), {"value": value, "dtype": dt}, template.device, None,
                 [dt], [tuple(value.shape)])


def consumers_of(nodes: list[PNode]) -> tuple[dict[int, list[PNode]], set[int]]:
    """(node id -> the nodes reading its values, ids of nodes something depends on by a control edge)."""
    consumers: dict[int, list[PNode]] = {}
    controlled: set[int] = set()
    for n in nodes:
        for src, _ in n.inputs:
            consumers.setdefault(id(src), []).append(n)
        controlled.update(id(c) for c in n.control_inputs)
    return consumers, controlled


def toposort(nodes: list[PNode], order: dict[int, int]) -> list[PNode]:
    """The nodes in dependency order, otherwise as close to `order` as possible (Kahn's algorithm)."""
    ids = {id(n) for n in nodes}
    waiting: dict[int, int] = {}
    users: dict[int, list[PNode]] = {}
    for n in nodes:
        preds = {id(p) for p, _ in n.inputs} | {id(p) for p in n.control_inputs}
        preds &= ids
        waiting[id(n)] = len(preds)
        for p in preds:
            users.setdefault(p, []).append(n)
    ready = [(order[id(n)], i, n) for i, n in enumerate(nodes) if waiting[id(n)] == 0]
    heapq.heapify(ready)
    out: list[PNode] = []
    tie = len(nodes)
    while ready:
        _, _, n = heapq.heappop(ready)
        out.append(n)
        for u in users.get(id(n), []):
            waiting[id(u)] -= 1
            if waiting[id(u)] == 0:
                tie += 1
                heapq.heappush(ready, (order[id(u)], tie, u))
    if len(out) != len(nodes):
        raise AssertionError("a graph rewrite made a cycle")
    return out
