"""The scope half of `Graph`: name scopes, control dependencies, device and colocation scopes.

Every stack here is per thread: ops built in a worker thread do not pick up the scopes another
thread has open. (TF 1.x keeps only the name stack per thread by default, and the others too after
`Graph.switch_to_thread_local()`; labflow always behaves as after that call.)
"""

from __future__ import annotations

import contextlib
import re
from typing import Any, Iterator

from labflow.framework.device_spec import DeviceSpec, canonical_name
from labflow.framework.tensor import IndexedSlices, Operation, Tensor

# TF's rules: an op name (and a root-level scope) cannot start with '_', '-', '/' or '>'.
_VALID_OP_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\-/>]*$")
_VALID_SCOPE_NAME = re.compile(r"^[A-Za-z0-9_.\-/>]*$")


def _as_op(c: Any, what: str) -> Operation:
    """An Operation from an Operation, Tensor, IndexedSlices or Variable (the variable's own op, like TF)."""
    if isinstance(c, Operation):
        return c
    if isinstance(c, (Tensor, IndexedSlices)):
        return c.op
    if hasattr(c, "_as_graph_element"):
        op = getattr(c, "op", None)
        if isinstance(op, Operation):
            return op
        c = c._as_graph_element()
        if isinstance(c, (Tensor, Operation)):
            return c if isinstance(c, Operation) else c.op
    raise TypeError(f"{what} must be an Operation, a Tensor or a Variable, got {type(c).__name__}: {c!r}")


class _ControlFrame:
    """One `control_dependencies` block: its ops and the ids of ops created inside it."""

    __slots__ = ("ops", "seen")

    def __init__(self, ops: list[Operation]):
        self.ops = ops
        self.seen: set[int] = set()


class ScopesMixin:
    """Name, control-dependency, device and colocation scopes of a `Graph` (mixed into it)."""

    # -- per-thread scope state (name stack, control deps, device and colocation stacks) --------------------
    @property
    def _s(self):
        s = self._scope
        if not hasattr(s, "name_stack"):
            s.name_stack = ""
            s.control = []  # _ControlFrame list, outermost first; control_dependencies(None) swaps it out
            s.devices = []  # (DeviceSpec, canonical string) merges, device functions, or None (a reset)
            s.colocation = []  # ops, innermost last
            s.container = ""
        return s

    # -- names -----------------------------------------------------------------------------------------
    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        """`name` under the current scope, suffixed `_1`, `_2`, ... if taken (case-insensitively, like TF)."""
        stack = self._s.name_stack
        if stack:
            name = stack + "/" + name
        key = name.lower()
        i = self._names_in_use.get(key, 0)
        if mark_as_used:
            self._names_in_use[key] = i + 1
        if i > 0:
            base_key = key
            while key in self._names_in_use:
                key = f"{base_key}_{i}"
                i += 1
            if mark_as_used:
                self._names_in_use[key] = 1
            name = f"{name}_{i - 1}"
        return name

    def get_name_scope(self) -> str:
        return self._s.name_stack

    @contextlib.contextmanager
    def name_scope(self, name: str | None) -> Iterator[str]:
        """TF's name scope: `foo`, then `foo_1` when re-opened; `foo/` re-enters as is; None/'' resets.

        Yields:
            The scope string ending in '/' ("" at the root), usable as an exact op name.
        """
        s = self._s
        if isinstance(name, bytes):
            name = name.decode()
        if name:
            rx = _VALID_SCOPE_NAME if s.name_stack else _VALID_OP_NAME
            if not isinstance(name, str) or not rx.match(name):
                raise ValueError(f"'{name}' is not a valid scope name: scope names use letters, digits, "
                                 "'_', '.', '-', '/' and '>', and a top-level scope cannot start with '_', "
                                 "'-' or '/'.")
        old = s.name_stack
        if not name:
            new = ""
        elif name.endswith("/"):
            new = name[:-1]
        else:
            new = self.unique_name(name)
        s.name_stack = new
        try:
            yield new + "/" if new else ""
        finally:
            s.name_stack = old

    # -- control dependencies --------------------------------------------------------------------------
    @contextlib.contextmanager
    def control_dependencies(self, control_inputs: list | None) -> Iterator[None]:
        """Ops created inside run after `control_inputs`; `None` clears the enclosing dependencies.

        Raises:
            TypeError: a control input is not an Operation, Tensor or Variable.
            ValueError: a control input is from another graph.
        """
        s = self._s
        if control_inputs is None:
            saved, s.control = s.control, []
            try:
                yield
            finally:
                s.control = saved
            return
        current = {id(c) for fr in s.control for c in fr.ops}
        ops: list[Operation] = []
        for c in control_inputs:
            if isinstance(c, str):
                c = self.as_graph_element(c)
            c = _as_op(c, "Control input")
            if c._graph is not self:
                raise ValueError(f"Control input {c.name} must be from the same graph as the ops built "
                                 "inside control_dependencies().")
            if id(c) not in current:
                current.add(id(c))
                ops.append(c)
        s.control.append(_ControlFrame(ops))
        try:
            yield
        finally:
            s.control.pop()

    def _current_control_deps(self) -> list[Operation]:
        """The ops of every active control_dependencies block, outermost first."""
        return [c for fr in self._s.control for c in fr.ops]

    def _control_deps_for(self, input_ops: list[Operation]) -> list[Operation]:
        # TF's rule: a block whose ops already precede an input (it was built inside the same block) adds
        # nothing, and an op that is already a data input is not added again as a control input.
        out: list[Operation] = []
        for fr in self._s.control:
            if any(o._id in fr.seen for o in input_ops):
                continue
            out.extend(c for c in fr.ops if c not in input_ops and c not in out)
        return out

    # -- devices ---------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def device(self, device_name_or_function: Any) -> Iterator[None]:
        """Device scope: a (partial) name, a DeviceSpec, a function op -> name, or None to clear.

        Names merge with enclosing scopes field by field, the inner scope winning ("/job:ps" then
        "/cpu:0" gives "/job:ps/device:CPU:0"); a function's result replaces the op's device (TF's rule:
        the function sees `op.device`, as set by inner scopes, and merges itself when it wants to).
        """
        d = device_name_or_function
        if d is None or callable(d) and not isinstance(d, (str, DeviceSpec)):
            entry = d
        elif isinstance(d, (str, DeviceSpec)):
            spec = DeviceSpec.from_string(d) if isinstance(d, str) else d.copy()
            entry = (spec, spec.to_string())
        else:
            raise TypeError(f"device() takes a device name, a DeviceSpec, a function or None, got {d!r}")
        devices = self._s.devices
        devices.append(entry)
        try:
            yield
        finally:
            if not devices or devices[-1] is not entry:
                raise RuntimeError("Exiting device scope without proper scope nesting.")
            devices.pop()

    def _apply_device_functions(self, op: Operation) -> None:
        for entry in reversed(self._s.devices):
            if entry is None:
                break
            if isinstance(entry, tuple):
                spec, text = entry
                if not text:
                    continue  # tf.device("") changes nothing (it does not reset, unlike None)
                if op._device:
                    merged = spec.copy()
                    merged.merge_from(DeviceSpec.from_string(op._device))
                    op._device = merged.to_string()
                else:
                    op._device = text
            else:
                op._device = canonical_name(entry(op))

    @contextlib.contextmanager
    def colocate_with(self, op: Any, ignore_existing: bool = False) -> Iterator[None]:
        """Ops created inside join `op`'s colocation group and get its device (device scopes are reset).

        Raises:
            ValueError: `op` is None without `ignore_existing=True`.
        """
        if op is None and not ignore_existing:
            raise ValueError("Trying to reset colocation (op is None) but ignore_existing is not True")
        target = None if op is None else _as_op(op, "colocate_with() target")
        s = self._s
        saved_dev, s.devices = s.devices, []
        saved_col = s.colocation
        if ignore_existing:
            s.colocation = []
        if target is not None:
            s.colocation = s.colocation + [target]
        try:
            yield
        finally:
            s.devices, s.colocation = saved_dev, saved_col

    @contextlib.contextmanager
    def gradient_override_map(self, op_type_map: dict[str, str]) -> Iterator[None]:
        """Ops of the mapped types created inside use the gradient registered under the mapped name."""
        if not isinstance(op_type_map, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in op_type_map.items()):
            raise TypeError("op_type_map must be a dictionary mapping strings to strings")
        old = dict(self._gradient_override_map)
        self._gradient_override_map.update(op_type_map)
        try:
            yield
        finally:
            self._gradient_override_map = old

    @contextlib.contextmanager
    def container(self, container_name: str) -> Iterator[str]:
        """TF's resource container scope; recorded, while all containers share the session's resources."""
        s = self._s
        old, s.container = s.container, container_name
        try:
            yield container_name
        finally:
            s.container = old

    @staticmethod
    def _colocate(op: Operation, stack: list[Operation]) -> None:
        # TF: the groups of every enclosing colocate_with target, sorted; the device of the innermost
        # target that has one overrides whatever device scopes gave.
        groups: set[str] = set()
        device_set = False
        for c in reversed(stack):
            groups.update(g.decode() for g in c.colocation_groups())
            if c._device and not device_set:
                op._device = c._device
                device_set = True
        op._colocation = sorted(groups)
