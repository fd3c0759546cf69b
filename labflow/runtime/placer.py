"""Step 2: give every node a full device name.

Rules in TF's order: explicit (partial) device constraints, colocation groups (`colocate_with`, and
ops that take a variable's ref share its device), kernel availability (soft placement falls back),
then a default choice for nodes left free. Every decision is recorded with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from labflow import errors
from labflow.framework.device_spec import DeviceSpec
from labflow.framework.tensor import Operation
from labflow.runtime import cost_model
from labflow.runtime.devices import Device


@dataclass
class Placement:
    """One placement decision, as data for logs and notebook views."""

    node: str
    op_type: str
    device: str
    requested: str
    reason: str


class _UnionFind:
    def __init__(self):
        self.parent: dict = {}

    def find(self, x):
        p = self.parent.setdefault(x, x)
        while p != self.parent[p]:
            self.parent[p] = self.parent[self.parent[p]]
            p = self.parent[p]
        self.parent[x] = p
        return p

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def _type_rank(device_type: str) -> int:
    return 0 if device_type == "GPU" else 1


def _finish_time(op: Operation, dev: Device, placement: dict, finish: dict, free_at: dict) -> float:
    start = free_at[dev.name]
    for t in op._inputs:
        src = t.op
        if src in finish:
            ready = finish[src]
            sd = placement[src]
            if sd is not dev:
                nbytes = cost_model.output_bytes(src) // max(1, len(src._outputs))
                ready += cost_model.transfer_time(nbytes, sd.device_type, dev.device_type)
            start = max(start, ready)
    for c in op._control_inputs:
        if c in finish:
            start = max(start, finish[c])
    return start + cost_model.compute_time(op, dev.device_type)


def _candidates(members: list[Operation], devices: list[Device], allow_soft_placement: bool,
                default_device: str) -> tuple[list[Device], str, str]:
    """The devices a colocation group may go to, its merged request, and why."""
    spec = DeviceSpec()
    # Ops that reach the group only by taking a variable's ref (Assign, apply ops) yield to the
    # variable's device: TF's "a variable and its update ops share a device".
    constrained = sorted((m for m in members if m.device), key=lambda m: bool(m._opdef.ref_inputs))
    requested_by = None
    overridden: list[str] = []
    for m in constrained:
        ms = DeviceSpec.from_string(m.device)
        conflict = any(getattr(spec, f) is not None and getattr(ms, f) is not None
                       and getattr(spec, f) != getattr(ms, f)
                       for f in ("job", "replica", "task", "device_type", "device_index"))
        if conflict and requested_by is not None:
            if m._opdef.ref_inputs:
                overridden.append(m.name)
                continue
            raise errors.InvalidArgumentError(
                None, m, f"Cannot colocate nodes '{requested_by.name}' and '{m.name}': their "
                f"device constraints '{requested_by.device}' and '{m.device}' conflict.")
        spec.merge_from(ms)
        requested_by = requested_by or m
    req = spec.to_string()
    kernel_ok = [d for d in devices if all(m._opdef.has_kernel(d.device_type) for m in members)]
    matching = [d for d in kernel_ok if spec.matches(DeviceSpec.from_string(d.name))]
    reason = "explicit constraint" if constrained else "unconstrained"
    if len(members) > 1:
        reason += f", colocated with {len(members) - 1} other node(s)"
    if overridden:
        reason += f" (device request of {', '.join(overridden)} overridden by the variable it updates)"
    if not matching:
        exists = [d for d in devices if spec.matches(DeviceSpec.from_string(d.name))]
        if allow_soft_placement and kernel_ok:
            soft = DeviceSpec(job=spec.job, replica=spec.replica, task=spec.task)
            matching = [d for d in kernel_ok if soft.matches(DeviceSpec.from_string(d.name))] or kernel_ok
            matching = sorted(matching, key=lambda d: (_type_rank(d.device_type), d.index))[:1]
            reason = ("soft placement: " + ("no kernel on the requested device" if exists
                                            else "requested device does not exist"))
        else:
            bad = members[0] if not constrained else constrained[0]
            if exists:
                no_kernel = [m for m in members if not all(m._opdef.has_kernel(d.device_type)
                                                           for d in exists)][0]
                raise errors.InvalidArgumentError(
                    None, no_kernel, f"Cannot assign a device for operation '{no_kernel.name}': no "
                    f"kernel for op '{no_kernel.type}' on the requested device '{req}'. Kernels exist "
                    f"for: {', '.join(no_kernel._opdef.kernel_devices()) or 'no device'}. Set "
                    "ConfigProto(allow_soft_placement=True) to let labflow fall back to such a device.")
            raise errors.InvalidArgumentError(
                None, bad, f"Cannot assign a device for operation '{bad.name}': Could not satisfy "
                f"explicit device specification '{req}' because no devices matching that "
                f"specification are registered in this process; available devices: "
                f"{', '.join(d.name for d in devices)}. Set ConfigProto(allow_soft_placement=True) "
                "to fall back to an available device.")
    if default_device and len(matching) > 1:
        # A distributed master's own task ("near the client") wins over other tasks that also match;
        # an unconstrained node therefore never wanders onto a ps or another worker.
        near = DeviceSpec.from_string(default_device)
        matching = [d for d in matching if near.matches(DeviceSpec.from_string(d.name))] or matching
    # A GPU, when one fits, is preferred like TF does; the cost model picks among the rest.
    gpus = [d for d in matching if d.device_type == "GPU"]
    if gpus and len(gpus) < len(matching) and not any(
            DeviceSpec.from_string(m.device).device_type == "CPU" for m in constrained):
        matching = gpus
    return sorted(matching, key=lambda d: (_type_rank(d.device_type), d.index)), req, reason


def place(ops: list[Operation], devices: list[Device], allow_soft_placement: bool = False,
          default_device: str = "", pinned: dict[str, Device] | None = None
          ) -> tuple[dict[Operation, Device], list[Placement]]:
    """Assigns each op a Device; returns the map and the decisions in op order.

    `pinned` maps names of stateful ops to the device an earlier step of the same session gave them:
    a variable must stay where its value lives (TF's stateful placements), so its whole colocation
    group follows it.

    Raises:
        InvalidArgumentError: a constraint no device satisfies, or colocated ops with conflicting
            constraints (names the ops, the request and the devices that have kernels).
    """
    uf = _UnionFind()
    by_name = {op.name: op for op in ops}
    inside = set(ops)
    for op in ops:
        uf.find(op)
        for g in op._colocation:
            other = by_name.get(g[len("loc:@"):]) if g.startswith("loc:@") else None
            if other is not None:
                uf.union(other, op)
        for i in op._opdef.ref_inputs:
            if i < len(op._inputs) and op._inputs[i].dtype.is_ref_dtype and op._inputs[i].op in inside:
                uf.union(op._inputs[i].op, op)
    groups: dict[Operation, list[Operation]] = {}
    for op in ops:
        groups.setdefault(uf.find(op), []).append(op)

    placement: dict[Operation, Device] = {}
    log: dict[Operation, Placement] = {}
    group_of = {op: uf.find(op) for op in ops}
    candidates: dict[Operation, tuple[list[Device], str, str]] = {}
    for root, members in groups.items():
        fixed = next((pinned[m.name] for m in members if pinned and m.name in pinned), None)
        if fixed is not None:
            candidates[root] = ([fixed], fixed.name, "stateful: kept where an earlier step of this session "
                                "placed it")
        else:
            candidates[root] = _candidates(members, devices, allow_soft_placement, default_device)

    # Greedy simulation (the TF whitepaper's placer): walk nodes in dependency order; a group whose
    # constraints leave several devices goes where its first node would finish earliest.
    free_at = {d.name: 0.0 for d in devices}
    finish: dict[Operation, float] = {}
    chosen_for: dict[Operation, Device] = {}
    for op in ops:
        root = group_of[op]
        devs, req, reason = candidates[root]
        dev = chosen_for.get(root)
        if dev is None:
            if len(devs) == 1:
                dev = devs[0]
            else:
                best = []
                for d in devs:
                    t = _finish_time(op, d, placement, finish, free_at)
                    best.append((t, _type_rank(d.device_type), d.index, d))
                best.sort(key=lambda x: x[:3])
                dev = best[0][3]
                alt = ", ".join(f"{b[3].name.rsplit('/', 1)[-1]} {cost_model.fmt_us(b[0])}" for b in best[:3])
                reason = f"{reason}; cost model: earliest finish ({alt})"
            chosen_for[root] = dev
            candidates[root] = (devs, req, reason)
        placement[op] = dev
        t = _finish_time(op, dev, placement, finish, free_at)
        finish[op] = t
        free_at[dev.name] = t
        log[op] = Placement(op.name, op.type, dev.name, op.device or req, reason)
    return placement, [log[op] for op in ops]


def relocate_control_only_noops(ops: list[Operation], placement: dict[Operation, Device],
                                decisions: list[Placement]) -> None:
    """Moves a NoOp next to the ops it orders when they all sit on one other device.

    A NoOp (e.g. an optimizer's `update` group) only carries control edges; placed apart from them (as a
    device function like replica_device_setter puts it on the worker while the updates run on a ps) it
    turns into two extra cross-device round trips per step, which over gRPC cost far more than the node.
    """
    inside = set(ops)
    consumers: dict[Operation, list[Operation]] = {}
    for op in ops:
        for c in op._control_inputs:
            if c in inside:
                consumers.setdefault(c, []).append(op)
    index = {d.node: i for i, d in enumerate(decisions)}
    for op in ops:
        if op.type != "NoOp" or op._inputs or not op._control_inputs:
            continue
        near = {placement[c] for c in op._control_inputs if c in inside}
        near |= {placement[c] for c in consumers.get(op, [])}
        if len(near) != 1:
            continue
        dev = next(iter(near))
        if dev is placement[op]:
            continue
        placement[op] = dev
        i = index.get(op.name)
        if i is not None:
            d = decisions[i]
            decisions[i] = Placement(d.node, d.op_type, dev.name, d.requested, d.reason + "; moved next to the ops "
                                     "it orders (a NoOp carries only control edges: no cross-device round trip)")
