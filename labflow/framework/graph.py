"""Graph: ops and tensors, name scopes, control dependencies, device scopes, collections."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from typing import Any, Iterator

from labflow import dtypes as _dtypes
from labflow.framework import registry
from labflow.framework.device_spec import DeviceSpec, canonical_name
from labflow.framework.shapes import shape_str
from labflow.framework.tensor import IndexedSlices, Operation, Tensor

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_VALID_OP_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\-/>]*$")
_VALID_SCOPE_NAME = re.compile(r"^[A-Za-z0-9_.\-/>]*$")


class GraphKeys:
    """Standard collection names (TF 1.x `tf.GraphKeys`)."""

    GLOBAL_VARIABLES = "variables"
    LOCAL_VARIABLES = "local_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    SUMMARIES = "summaries"
    QUEUE_RUNNERS = "queue_runners"
    TABLE_INITIALIZERS = "table_initializer"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    REGULARIZATION_LOSSES = "regularization_losses"
    LOSSES = "losses"
    SAVERS = "savers"
    UPDATE_OPS = "update_ops"
    GLOBAL_STEP = "global_step"
    TRAIN_OP = "train_op"
    INIT_OP = "init_op"
    LOCAL_INIT_OP = "local_init_op"
    READY_OP = "ready_op"
    SUMMARY_OP = "summary_op"
    CONCATENATED_VARIABLES = "concatenated_variables"
    COND_CONTEXT = "cond_context"
    WHILE_CONTEXT = "while_context"
    VARIABLES = GLOBAL_VARIABLES  # the 2016 name


def _user_frames(limit: int = 8) -> list[tuple[str, int, str]]:
    """Innermost-first user frames (outside labflow and site-packages) where an op is being created."""
    f = sys._getframe(2)
    out = []
    while f is not None and len(out) < limit:
        fn = f.f_code.co_filename
        if not fn.startswith(_PKG_DIR) and "site-packages" not in fn and not fn.startswith("<frozen"):
            out.append((fn, f.f_lineno, f.f_code.co_name))
        f = f.f_back
    return out


class Graph:
    """A dataflow graph (TF 1.x `tf.Graph`): ops, the tensors between them, and collections."""

    def __init__(self):
        self._ops: list[Operation] = []
        self._ops_by_name: dict[str, Operation] = {}
        self._names_in_use: dict[str, int] = {}
        self._version = 0
        self._next_id = 0
        self._finalized = False
        self._collections: dict[str, list] = {}
        self.seed: int | None = None
        self._lock = threading.RLock()
        self._scope = threading.local()
        self._gradient_forward_op: Operation | None = None  # set by gradients.py while building grads
        self._gradient_override_map: dict[str, str] = {}
        self._last_op_id = -1
        self._variable_store = None  # framework/variable_scope's store, made on first use

    # -- per-thread scope state ---------------------------------------------------------------------
    @property
    def _s(self):
        s = self._scope
        if not hasattr(s, "name_stack"):
            s.name_stack = ""
            s.control = []  # list of lists of ops; None entry clears the outer ones
            s.devices = []  # device functions / None
            s.colocation = []
        return s

    # -- basics --------------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        return self._version

    @property
    def finalized(self) -> bool:
        return self._finalized

    def finalize(self) -> None:
        """Makes the graph read-only: adding an op afterwards raises RuntimeError."""
        self._finalized = True

    def _unsafe_unfinalize(self) -> None:
        self._finalized = False

    def get_operations(self) -> list[Operation]:
        return list(self._ops)

    def get_operation_by_name(self, name: str) -> Operation:
        op = self._ops_by_name.get(name)
        if op is None:
            raise KeyError(f"The name '{name}' refers to an Operation not in the graph.")
        return op

    def get_tensor_by_name(self, name: str) -> Tensor:
        op_name, _, idx = name.rpartition(":")
        if not op_name or not idx.isdigit():
            raise ValueError(f"The name '{name}' looks like an Operation name, not a Tensor name: tensor "
                             f"names have the form '<op_name>:<output_index>', e.g. '{name}:0'.")
        op = self._ops_by_name.get(op_name)
        if op is None:
            raise KeyError(f"The name '{name}' refers to a Tensor which does not exist. The operation, "
                           f"'{op_name}', does not exist in the graph.")
        i = int(idx)
        if i >= len(op._outputs):
            raise KeyError(f"The name '{name}' refers to a Tensor which does not exist. The operation, "
                           f"'{op_name}', exists but only has {len(op._outputs)} outputs.")
        return op._outputs[i]

    def as_graph_element(self, obj: Any, allow_tensor: bool = True, allow_operation: bool = True) -> Any:
        """Resolves a Tensor, Operation, Variable or name ("x:0" / "train_op") to an element of this graph."""
        if hasattr(obj, "_as_graph_element"):
            obj = obj._as_graph_element()
        if isinstance(obj, str):
            if ":" in obj and allow_tensor:
                return self.get_tensor_by_name(obj)
            if ":" in obj:
                raise ValueError(f"Name '{obj}' refers to a Tensor, but an Operation is expected here.")
            if not allow_operation:
                raise ValueError(f"The name '{obj}' refers to an Operation, not a Tensor. Tensor names "
                                 f"must be of the form '<op_name>:<output_index>', e.g. '{obj}:0'.")
            return self.get_operation_by_name(obj)
        if isinstance(obj, Tensor) and allow_tensor:
            if obj.graph is not self:
                raise ValueError(f"Tensor {obj.name} is not an element of this graph.")
            return obj
        if isinstance(obj, Operation) and allow_operation:
            if obj._graph is not self:
                raise ValueError(f"Operation {obj.name} is not an element of this graph.")
            return obj
        kinds = " or ".join(k for k, ok in (("Tensor", allow_tensor), ("Operation", allow_operation)) if ok)
        raise TypeError(f"Can not convert a {type(obj).__name__} into a {kinds}.")

    def is_fetchable(self, obj: Any) -> bool:
        return True

    # -- names -----------------------------------------------------------------------------------------
    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        stack = self._s.name_stack
        if stack:
            name = stack + "/" + name
        key = name.lower()
        i = self._names_in_use.get(key, 0)
        if mark_as_used:
            self._names_in_use[key] = i + 1
        if i > 0:
            base = name
            while name.lower() in self._names_in_use:
                name = f"{base}_{i}"
                i += 1
            if mark_as_used:
                self._names_in_use[name.lower()] = 1
        return name

    def get_name_scope(self) -> str:
        return self._s.name_stack

    @contextlib.contextmanager
    def name_scope(self, name: str | None) -> Iterator[str]:
        """TF's name scope: `foo`, then `foo_1` when re-opened; `foo/` re-enters; None/'' resets."""
        s = self._s
        old = s.name_stack
        if not name:
            new = ""
        elif name.endswith("/"):
            if not _VALID_SCOPE_NAME.match(name):
                raise ValueError(f"'{name}' is not a valid scope name")
            new = name[:-1]
        else:
            if not _VALID_SCOPE_NAME.match(name):
                raise ValueError(f"'{name}' is not a valid scope name: use letters, digits, '_', '.', '-'")
            new = self.unique_name(name)
        s.name_stack = new
        try:
            yield "" if not new else new + "/"
        finally:
            s.name_stack = old

    # -- control dependencies --------------------------------------------------------------------------
    @contextlib.contextmanager
    def control_dependencies(self, control_inputs: list | None) -> Iterator[None]:
        """Ops created inside run after `control_inputs`; `None` clears the enclosing dependencies."""
        s = self._s
        if control_inputs is None:
            entry = None
        else:
            entry = []
            for c in control_inputs:
                if hasattr(c, "_as_graph_element"):
                    c = c._as_graph_element()
                if isinstance(c, IndexedSlices):
                    c = c.op
                if isinstance(c, Tensor):
                    c = c.op
                if not isinstance(c, Operation):
                    raise TypeError(f"Control input must be an Operation, a Tensor or a Variable: got {c!r}")
                if c._graph is not self:
                    raise ValueError(f"Control input {c.name} must be from the same graph.")
                entry.append(c)
        s.control.append(entry)
        try:
            yield
        finally:
            s.control.pop()

    def _current_control_deps(self) -> list[Operation]:
        out: list[Operation] = []
        for entry in reversed(self._s.control):
            if entry is None:
                break
            out.extend(entry)
        return out

    # -- devices ---------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def device(self, device_name_or_function: Any) -> Iterator[None]:
        """Device scope: a (partial) name, a DeviceSpec, a function op -> name, or None to clear."""
        d = device_name_or_function
        if d is None:
            fn = None
        elif callable(d) and not isinstance(d, (str, DeviceSpec)):
            fn = d
        else:
            spec = DeviceSpec.from_string(d) if isinstance(d, str) else d.copy()

            def fn(op, _spec=spec):
                merged = _spec.copy()
                merged.merge_from(DeviceSpec.from_string(op.device))
                return merged.to_string()
        self._s.devices.append(fn)
        try:
            yield
        finally:
            self._s.devices.pop()

    def _apply_device_functions(self, op: Operation) -> None:
        for fn in reversed(self._s.devices):
            if fn is None:
                break
            op._device = canonical_name(fn(op))

    @contextlib.contextmanager
    def colocate_with(self, op: Any, ignore_existing: bool = False) -> Iterator[None]:
        """Ops created inside share `op`'s device and colocation group (device scopes are ignored)."""
        if op is None:
            if not ignore_existing:
                raise ValueError("Trying to reset colocation (op is None) but ignore_existing is not True")
            target = None
        else:
            if hasattr(op, "_as_graph_element"):
                op = op._as_graph_element()
            target = op.op if isinstance(op, (Tensor, IndexedSlices)) else op
        s = self._s
        old_col, old_dev = s.colocation, s.devices
        s.colocation = [target] if ignore_existing else s.colocation + [target]
        s.devices = [None]  # the colocation device wins over enclosing device scopes
        try:
            yield
        finally:
            s.colocation, s.devices = old_col, old_dev

    @contextlib.contextmanager
    def gradient_override_map(self, op_type_map: dict[str, str]) -> Iterator[None]:
        old = dict(self._gradient_override_map)
        self._gradient_override_map.update(op_type_map)
        try:
            yield
        finally:
            self._gradient_override_map = old

    # -- collections -----------------------------------------------------------------------------------
    def add_to_collection(self, name: str, value: Any) -> None:
        self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names: Any, value: Any) -> None:
        for n in ([names] if isinstance(names, str) else set(names)):
            self.add_to_collection(n, value)

    def get_collection_ref(self, name: str) -> list:
        return self._collections.setdefault(name, [])

    def get_collection(self, name: str, scope: str | None = None) -> list:
        items = self._collections.get(name, [])
        if scope is None:
            return list(items)
        rx = re.compile(scope)
        return [v for v in items if hasattr(v, "name") and rx.match(v.name)]

    def get_all_collection_keys(self) -> list[str]:
        return [k for k, v in self._collections.items() if v]

    def clear_collection(self, name: str) -> None:
        self._collections.pop(name, None)

    # -- default graph ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def as_default(self) -> Iterator[Graph]:
        _default_graph_stack.push(self)
        try:
            yield self
        finally:
            _default_graph_stack.pop(self)

    def as_graph_def(self, from_version: int | None = None, add_shapes: bool = False):
        """The graph as a `GraphDef` protocol buffer (TF-wire-compatible)."""
        from labflow.framework.graph_io import graph_to_graph_def
        return graph_to_graph_def(self, add_shapes=add_shapes)

    @property
    def graph_def_versions(self):
        from labflow.framework.protos import versions_pb2
        return versions_pb2.VersionDef(producer=27, min_consumer=0)

    # -- op creation -----------------------------------------------------------------------------------
    def create_op(self, op_type: str, inputs: list, dtypes: Any = None, input_types: Any = None,
                  name: str | None = None, attrs: dict | None = None, op_def: Any = None,
                  compute_device: bool = True, *, control_inputs: list | None = None) -> Operation:
        """Adds an op of a registered type: checks dtypes and shapes, names it, records scopes and site.

        Raises:
            ValueError / TypeError: with TF's message naming the op when inputs do not fit.
        """
        if self._finalized:
            raise RuntimeError("Graph is finalized and cannot be modified (e.g. by a MonitoredSession "
                               f"or Supervisor) — tried to add a '{op_type}' op.")
        opdef = registry.get(op_type)
        with self._lock:
            if name and name.endswith("/"):
                full = name[:-1]  # an exact name taken from a name scope (TF's rule)
                if full in self._ops_by_name:
                    raise ValueError(f"Duplicate node name in graph: '{full}'")
            else:
                full = self.unique_name(name or op_type.lstrip("_"))
        if not _VALID_OP_NAME.match(full):
            raise ValueError(f"'{full}' is not a valid node name: use letters, digits, '_', '.', '-' and '/'")
        inputs = list(inputs)
        for i, t in enumerate(inputs):
            if not isinstance(t, Tensor):
                raise TypeError(f"Input {i} of op '{full}' (op: '{op_type}') must be a Tensor, got {t!r}")
            if t.graph is not self:
                raise ValueError(f"Tensor {t.name} must be from the same graph as op '{full}': a tensor of "
                                 "another graph was passed (e.g. built before tf.reset_default_graph()).")
        a = self._bind_attrs(opdef, full, attrs or {})
        self._check_types(opdef, full, inputs, a)
        try:
            res = opdef.shape_fn(inputs, a)
        except (ValueError, TypeError) as e:
            shapes = ", ".join(shape_str(t._shape_dims) for t in inputs)
            raise type(e)(f"{e} for '{full}' (op: '{op_type}') with input shapes: {shapes}.") from None
        if res and isinstance(res[0], _dtypes.DType):
            res = [res]
        deps = [] if control_inputs is None else list(control_inputs)
        for c in self._current_control_deps():
            if c not in deps and all(t.op is not c for t in inputs):
                deps.append(c)
        with self._lock:
            self._next_id += 1
            op = Operation(self, full, op_type, opdef, inputs, a, "", deps, _user_frames(), self._next_id)
            op._outputs = [Tensor(op, i, dt, None if dims is None else tuple(dims))
                           for i, (dt, dims) in enumerate(res)]
            for t in inputs:
                t._consumers.append(op)
            for c in deps:
                c._control_outputs.append(op)
            col = self._s.colocation
            if col and col[-1] is not None:
                groups: list[str] = []
                for c in col:
                    if c is not None:
                        for g in c.colocation_groups():
                            g = g.decode()
                            if g not in groups:
                                groups.append(g)
                op._colocation = groups
                op._device = col[-1].device
            if compute_device:
                self._apply_device_functions(op)
            op._forward_op = self._gradient_forward_op
            self._ops.append(op)
            self._ops_by_name[full] = op
            self._version += 1
        return op

    def _bind_attrs(self, opdef, name: str, attrs: dict) -> dict:
        out = {}
        for k, default in opdef.attrs.items():
            if k in attrs:
                out[k] = attrs[k]
            elif default is registry.REQUIRED:
                raise TypeError(f"Op '{name}' (op: '{opdef.name}') is missing the required attr '{k}'.")
            else:
                out[k] = default
        for k, v in attrs.items():
            if k not in out:
                if k.startswith("_") or k in ("T", "dtype", "Tidx", "Tshape"):
                    out[k] = v
                else:
                    raise TypeError(f"Op '{name}' (op: '{opdef.name}') got an unexpected attr '{k}'. "
                                    f"Its attrs are: {', '.join(opdef.attrs) or 'none'}.")
        return out

    @staticmethod
    def _check_types(opdef, name: str, inputs: list[Tensor], attrs: dict) -> None:
        if opdef.types is None or not inputs:
            return
        names = opdef.type_inputs
        first_name, first_dt = None, None
        idx = _input_index_names(opdef, len(inputs))
        for t, iname in zip(inputs, idx):
            if iname not in names:
                continue
            dt = t.dtype.base_dtype
            if first_dt is None:
                first_name, first_dt = iname, dt
                if dt not in opdef.types:
                    allowed = ", ".join(d.name for d in opdef.types)
                    raise TypeError(f"Value passed to parameter '{iname}' has DataType {dt.name} not in list "
                                    f"of allowed values: {allowed} (op '{name}', type {opdef.name})")
            elif dt != first_dt:
                raise TypeError(f"Input '{iname}' of '{opdef.name}' Op has type {dt.name} that does not match "
                                f"type {first_dt.name} of argument '{first_name}' (op '{name}').")
        if first_dt is not None:
            attrs.setdefault("T", first_dt)

    def __repr__(self) -> str:
        return f"<labflow.Graph with {len(self._ops)} ops at {id(self):#x}>"


def _input_index_names(opdef, n: int) -> list[str]:
    """Maps each flat input position to its declared name (variadic lists repeat their name)."""
    names = opdef.inputs
    if not opdef.variadic:
        return [i for i in names][:n]
    fixed = [x for x in names if not x.startswith("*")]
    nvar = n - len(fixed)
    out: list[str] = []
    for x in names:
        if x.startswith("*"):
            out.extend([x[1:]] * nvar)
        else:
            out.append(x)
    return out


class _DefaultGraphStack(threading.local):
    def __init__(self):
        self.stack: list[Graph] = []

    def push(self, g: Graph) -> None:
        self.stack.append(g)

    def pop(self, g: Graph) -> None:
        if self.stack and self.stack[-1] is g:
            self.stack.pop()


_default_graph_stack = _DefaultGraphStack()
_global_default_graph: list[Graph | None] = [None]


def get_default_graph() -> Graph:
    """The innermost `as_default()` graph of this thread, else the global default graph."""
    st = _default_graph_stack.stack
    if st:
        return st[-1]
    g = _global_default_graph[0]
    if g is None:
        g = _global_default_graph[0] = Graph()
    return g


def reset_default_graph() -> None:
    """Replaces the global default graph with a new, empty one.

    Raises:
        AssertionError: inside a `with g.as_default():` block (TF's rule), since the block's graph would
            silently stay the default.
    """
    if _default_graph_stack.stack:
        raise AssertionError("Do not use tf.reset_default_graph() to clear nested graphs. If you need a "
                             "cleared graph, exit the nesting and create a new graph.")
    from labflow.runtime.session import _clear_default_session_for
    old = _global_default_graph[0]
    _global_default_graph[0] = Graph()
    if old is not None:
        _clear_default_session_for(old)


def _graph_of(*values: Any) -> Graph:
    """The graph the given tensors/ops live in (or the default graph); raises on a mix of graphs."""
    g = None
    for v in values:
        if hasattr(v, "_as_graph_element"):
            v = v._as_graph_element()
        vg = getattr(v, "graph", None) if isinstance(v, (Tensor, Operation, IndexedSlices)) else None
        if vg is not None:
            if g is None:
                g = vg
            elif vg is not g:
                raise ValueError(f"{v!r} must be from the same graph as the other inputs.")
    return g or get_default_graph()


def name_scope(name: str | None, default_name: str | None = None, values: list | None = None):
    """TF1 `tf.name_scope(name, default_name=None, values=None)`."""
    n = name if name is not None else default_name
    g = _graph_of(*(values or []))
    return g.name_scope(n)


def control_dependencies(control_inputs: list | None):
    return get_default_graph().control_dependencies(control_inputs)


def device(device_name_or_function: Any):
    return get_default_graph().device(device_name_or_function)


def colocate_with(op: Any, ignore_existing: bool = False):
    return get_default_graph().colocate_with(op, ignore_existing)


def add_to_collection(name: str, value: Any) -> None:
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names: Any, value: Any) -> None:
    get_default_graph().add_to_collections(names, value)


def get_collection(key: str, scope: str | None = None) -> list:
    return get_default_graph().get_collection(key, scope)


def get_collection_ref(key: str) -> list:
    return get_default_graph().get_collection_ref(key)


def container(container_name: str):
    """Accepted for TF1 compatibility; variables of all containers share the session's resources."""
    return contextlib.nullcontext()
