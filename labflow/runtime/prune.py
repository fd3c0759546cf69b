"""Step 1: keep only the ops the fetches and targets need, cut at the fed tensors."""

from __future__ import annotations

import heapq

from labflow import errors
from labflow.framework.shapes import shape_str
from labflow.framework.tensor import Operation, Tensor


def prune(fetch_tensors: list[Tensor], targets: list[Operation], feeds: set[Tensor]) -> list[Operation]:
    """Returns the needed ops in a topological order (creation order among ready ops).

    Raises:
        InvalidArgumentError: an unfed Placeholder is needed; the message names it and the path from
            the fetch that needs it.
    """
    parent: dict[Operation, Operation | None] = {}
    stack: list[Operation] = []
    for t in fetch_tensors:
        if t not in feeds and t.op not in parent:
            parent[t.op] = None
            stack.append(t.op)
    for op in targets:
        if op not in parent:
            parent[op] = None
            stack.append(op)
    while stack:
        op = stack.pop()
        if op._type == "Placeholder":
            _unfed_placeholder(op, parent)
        for t in op._inputs:
            if t in feeds:
                continue
            p = t._op
            if p not in parent:
                parent[p] = op
                stack.append(p)
        for c in op._control_inputs:
            if c._outputs and all(t in feeds for t in c._outputs):
                continue  # a fed op has "run": its value came from the feed (TF's rule)
            if c not in parent:
                parent[c] = op
                stack.append(c)
    return topological_order(list(parent), feeds)


def topological_order(ops: list[Operation], feeds: set[Tensor] = frozenset()) -> list[Operation]:
    """Kahn's algorithm over data and control edges inside `ops`; ties broken by creation order."""
    inside = set(ops)
    indeg: dict[Operation, int] = {}
    users: dict[Operation, list[Operation]] = {op: [] for op in ops}
    for op in ops:
        n = 0
        for t in op._inputs:
            if t in feeds:
                continue
            if t._op in inside:
                users[t._op].append(op)
                n += 1
        for c in op._control_inputs:
            if c in inside:
                users[c].append(op)
                n += 1
        indeg[op] = n
    ready = [(op._id, op) for op in ops if indeg[op] == 0]
    heapq.heapify(ready)
    order: list[Operation] = []
    while ready:
        _, op = heapq.heappop(ready)
        order.append(op)
        for u in users[op]:
            indeg[u] -= 1
            if indeg[u] == 0:
                heapq.heappush(ready, (u._id, u))
    if len(order) != len(ops):
        stuck = sorted(o.name for o in ops if indeg[o] > 0)[:5]
        raise errors.InvalidArgumentError(None, None, "The graph has a cycle (through control "
                                          f"dependencies?) involving: {', '.join(stuck)}")
    return order


def _unfed_placeholder(op: Operation, parent: dict) -> None:
    path = [op.name]
    p = parent.get(op)
    while p is not None:
        path.append(p.name)
        p = parent.get(p)
    dt = op._attrs["dtype"].name
    shp = op._attrs.get("shape")
    shape = shape_str(None if shp is None else shp.as_tuple())
    raise errors.InvalidArgumentError(
        None, op, f"You must feed a value for placeholder tensor '{op.name}' with dtype {dt} and shape "
        f"{shape}: it is needed to compute {' <- '.join(reversed(path))}. Pass it in feed_dict, e.g. "
        f"sess.run(..., feed_dict={{{op.name}: value}}).")
