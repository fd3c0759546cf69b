"""A worker rebuilds the partitions a master registered: GraphDef -> PNodes, ready for the executor.

The master serializes each partition (`partition_to_graph_def`) with its feeds and fetches as the
pseudo-nodes `_Feed` / `_Fetch`. The worker imports everything else through `import_graph_def` (so only
registered ops are accepted and every attr and shape is checked as for a user's graph), then rebuilds
the partition in the master's node order, which is a topological order of the whole step: keeping it
is what makes cross-partition Send/Recv pairs deadlock-free.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes, errors
from labflow.framework.graph import Graph
from labflow.framework.graph_io import import_graph_def
from labflow.framework.proto_convert import attr_value_from_python, shape_proto
from labflow.framework.protos import graph_pb2
from labflow.runtime.devices import Device
from labflow.runtime.partition import FEED, FETCH, Partition, PNode, partition_graph_def


def partition_to_graph_def(part: Partition) -> graph_pb2.GraphDef:
    """A partition as the GraphDef a worker registers: `_Feed` nodes carry their dtype and shape."""
    gd = partition_graph_def(part)
    for nd, n in zip(gd.node, part.nodes):
        if n.type == FEED:
            nd.attr["dtype"].CopyFrom(attr_value_from_python(n.out_dtypes[0]))
            nd.attr["shape"].shape.CopyFrom(shape_proto(n.out_dims[0]))
            nd.attr["index"].i = n.attrs["index"]
        elif n.type == FETCH:
            nd.attr["index"].i = n.attrs["index"]
    return gd


def partition_from_graph_def(gd: Any, devices: dict[str, Device]) -> Partition:
    """Rebuilds a registered partition on this worker's devices.

    Raises:
        InvalidArgumentError: an unregistered op, a node for a device this task does not have, or a
            malformed graph (the message names the node).
    """
    names = {nd.device for nd in gd.node}
    if len(names) != 1:
        raise errors.InvalidArgumentError(None, None, f"A registered partition must be on one device, got "
                                          f"{sorted(names)}")
    dev_name = names.pop()
    dev = devices.get(dev_name)
    if dev is None:
        raise errors.InvalidArgumentError(None, None, f"Partition for device '{dev_name}', which this task "
                                          f"does not have (it has {', '.join(sorted(devices))})")
    body = graph_pb2.GraphDef()
    body.library.CopyFrom(gd.library)  # the functions of control-flow ops
    feeds: dict[str, tuple[int, Any]] = {}
    fetches: list[tuple[str, str, int]] = []
    for nd in gd.node:
        if nd.op == "_Feed":
            dt = dtypes.as_dtype(nd.attr["dtype"].type)
            ph = body.node.add(name=nd.name, op="Placeholder", device=nd.device)
            ph.attr["dtype"].type = nd.attr["dtype"].type
            ph.attr["shape"].CopyFrom(nd.attr["shape"])
            feeds[nd.name] = (int(nd.attr["index"].i), dt)
        elif nd.op == "_Fetch":
            if len(nd.input) != 1:
                raise errors.InvalidArgumentError(None, None, f"Malformed fetch node '{nd.name}'")
            fetches.append((nd.name, nd.input[0], int(nd.attr["index"].i)))
        else:
            body.node.add().CopyFrom(nd)
    graph = Graph()
    try:
        with graph.as_default():
            import_graph_def(body, name="")
    except (ValueError, TypeError, KeyError) as e:
        raise errors.InvalidArgumentError(None, None, f"Cannot register partition for {dev_name}: {e}") from None
    part = Partition(dev)
    made: dict[str, PNode] = {}
    for nd in body.node:
        op = graph.get_operation_by_name(nd.name)
        outs = op._outputs
        if nd.name in feeds:
            index, dt = feeds[nd.name]
            n = PNode(nd.name, FEED, None, {"index": index, "tensor": nd.name}, dev, None, [dt],
                      [outs[0]._shape_dims])
            part.feed_indices.append(index)
        else:
            n = PNode(op.name, op.type, op._opdef, dict(op._attrs), dev, None, [t.dtype for t in outs],
                      [t._shape_dims for t in outs])
            n.inputs = [(made[t.op.name], t.value_index) for t in op._inputs]
            n.control_inputs = [made[c.name] for c in op._control_inputs]
        made[nd.name] = n
        part.nodes.append(n)
    for name, src, index in fetches:
        src_name, _, k = src.partition(":")
        if src_name not in made:
            raise errors.InvalidArgumentError(None, None, f"Fetch node '{name}' reads unknown node '{src_name}'")
        f = PNode(name, FETCH, None, {"index": index, "tensor": src}, dev, None, [], [])
        f.inputs.append((made[src_name], int(k or 0)))
        part.nodes.append(f)
    return part
