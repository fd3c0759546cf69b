"""Graph: ops and tensors, op creation, collections and the default graph (scopes: graph_scopes.py)."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from typing import Any, Iterator

from labflow import dtypes as _dtypes
from labflow.framework import registry
from labflow.framework.graph_scopes import _VALID_SCOPE_NAME, ScopesMixin
from labflow.framework.shapes import shape_str
from labflow.framework.tensor import IndexedSlices, Operation, Tensor

_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# TF's op-name rule, except that a leading '_' is allowed: labflow's internal op types ("_Recv",
# "_IndexedSlicesToDense") are their ops' default names, and GraphDefs holding them must import.
_VALID_NODE_NAME = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9_.\-/>]*$")


class GraphKeys:
    """Standard collection names (TF 1.x `tf.GraphKeys`; the values are TF's strings)."""

    GLOBAL_VARIABLES = "variables"
    LOCAL_VARIABLES = "local_variables"
    METRIC_VARIABLES = "metric_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    SUMMARIES = "summaries"
    QUEUE_RUNNERS = "queue_runners"
    TABLE_INITIALIZERS = "table_initializer"
    ASSET_FILEPATHS = "asset_filepaths"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    REGULARIZATION_LOSSES = "regularization_losses"
    CONCATENATED_VARIABLES = "concatenated_variables"
    SAVERS = "savers"
    WEIGHTS = "weights"
    BIASES = "biases"
    ACTIVATIONS = "activations"
    UPDATE_OPS = "update_ops"
    LOSSES = "losses"
    SAVEABLE_OBJECTS = "saveable_objects"
    RESOURCES = "resources"
    LOCAL_RESOURCES = "local_resources"
    TRAINABLE_RESOURCE_VARIABLES = "trainable_resource_variables"
    INIT_OP = "init_op"
    LOCAL_INIT_OP = "local_init_op"
    READY_OP = "ready_op"
    READY_FOR_LOCAL_INIT_OP = "ready_for_local_init_op"
    SUMMARY_OP = "summary_op"
    GLOBAL_STEP = "global_step"
    EVAL_STEP = "eval_step"
    TRAIN_OP = "train_op"
    COND_CONTEXT = "cond_context"
    WHILE_CONTEXT = "while_context"
    VARIABLES = GLOBAL_VARIABLES  # the 2016 name (deprecated in TF)


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


class Graph(ScopesMixin):
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
        self._unfeedable: set[int] = set()
        self._unfetchable: set[int] = set()
        self._last_op_id = -1
        self._variable_store = None  # framework/variable_scope's store, made on first use

    # -- basics --------------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        """A counter that increases with every change to the graph's ops (creation, devices, attrs)."""
        return self._version

    @property
    def finalized(self) -> bool:
        return self._finalized

    @property
    def building_function(self) -> bool:
        return False

    @property
    def collections(self) -> list[str]:
        return list(self._collections)

    def finalize(self) -> None:
        """Makes the graph read-only: adding an op or a collection item afterwards raises RuntimeError."""
        self._finalized = True

    def _unsafe_unfinalize(self) -> None:
        self._finalized = False

    def _check_not_finalized(self, what: str) -> None:
        if self._finalized:
            raise RuntimeError("Graph is finalized and cannot be modified (e.g. by a MonitoredSession or "
                               f"Supervisor): tried to add {what}.")

    def switch_to_thread_local(self) -> None:
        """No-op: labflow's scope stacks are always per thread."""

    def get_operations(self) -> list[Operation]:
        """All ops, in creation order."""
        return list(self._ops)

    def get_operation_by_name(self, name: str) -> Operation:
        if not isinstance(name, str):
            raise TypeError(f"Operation names are strings (or similar), not {type(name).__name__}.")
        return self.as_graph_element(name, allow_tensor=False, allow_operation=True)

    def get_tensor_by_name(self, name: str) -> Tensor:
        if not isinstance(name, str):
            raise TypeError(f"Tensor names are strings (or similar), not {type(name).__name__}.")
        return self.as_graph_element(name, allow_tensor=True, allow_operation=False)

    def as_graph_element(self, obj: Any, allow_tensor: bool = True, allow_operation: bool = True) -> Any:
        """Resolves a Tensor, Operation, Variable or name ("x:0" / "train_op") to an element of this graph.

        Raises:
            KeyError: a well-formed name that is not in the graph.
            ValueError: a name of the wrong kind, or an element of another graph.
            TypeError: an object that is neither.
        """
        if allow_tensor and allow_operation:
            types = "Tensor or Operation"
        elif allow_tensor or allow_operation:
            types = "Tensor" if allow_tensor else "Operation"
        else:
            raise ValueError("allow_tensor and allow_operation can't both be False.")
        if hasattr(obj, "_as_graph_element"):
            obj = obj._as_graph_element()
        if isinstance(obj, bytes):
            obj = obj.decode()
        if isinstance(obj, str):
            return self._element_by_name(obj, allow_tensor, allow_operation, types)
        if isinstance(obj, Tensor) and allow_tensor:
            if obj.graph is not self:
                raise ValueError(f"Tensor {obj} is not an element of this graph.")
            return obj
        if isinstance(obj, Operation) and allow_operation:
            if obj._graph is not self:
                raise ValueError(f"Operation '{obj.name}' is not an element of this graph.")
            return obj
        raise TypeError(f"Can not convert a {type(obj).__name__} into a {types}.")

    def _element_by_name(self, name: str, allow_tensor: bool, allow_operation: bool, types: str) -> Any:
        if ":" in name and allow_tensor:
            op_name, _, idx = name.rpartition(":")
            if not op_name or ":" in op_name or not idx.isdigit():
                raise ValueError(f"The name {name!r} looks a like a Tensor name, but is not a valid one. "
                                 'Tensor names must be of the form "<op_name>:<output_index>".')
            op = self._ops_by_name.get(op_name)
            if op is None:
                raise KeyError(f"The name {name!r} refers to a Tensor which does not exist. The operation, "
                               f"{op_name!r}, does not exist in the graph.")
            if int(idx) >= len(op._outputs):
                raise KeyError(f"The name {name!r} refers to a Tensor which does not exist. The operation, "
                               f"{op_name!r}, exists but only has {len(op._outputs)} outputs.")
            return op._outputs[int(idx)]
        if ":" in name:
            raise ValueError(f"Name {name!r} appears to refer to a Tensor, not a {types}.")
        if allow_operation:
            op = self._ops_by_name.get(name)
            if op is None:
                raise KeyError(f"The name {name!r} refers to an Operation not in the graph.")
            return op
        if name in self._ops_by_name:
            msg = f"The name {name!r} refers to an Operation, not a {types}."
        else:
            msg = f"The name {name!r} looks like an (invalid) Operation name, not a {types}."
        raise ValueError(msg + f' Tensor names must be of the form "<op_name>:<output_index>", e.g. '
                               f"'{name}:0'.")

    def prevent_feeding(self, tensor: Tensor) -> None:
        self._unfeedable.add(id(tensor))

    def is_feedable(self, tensor: Tensor) -> bool:
        return id(tensor) not in self._unfeedable

    def prevent_fetching(self, op: Operation) -> None:
        self._unfetchable.add(id(op))

    def is_fetchable(self, tensor_or_op: Any) -> bool:
        op = tensor_or_op.op if isinstance(tensor_or_op, Tensor) else tensor_or_op
        return id(op) not in self._unfetchable

    # -- collections -----------------------------------------------------------------------------------
    def add_to_collection(self, name: str, value: Any) -> None:
        self._check_not_finalized(f"an item to collection '{name}'")
        with self._lock:
            self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names: Any, value: Any) -> None:
        """Adds `value` to each collection once (a string is one name, not a list of letters)."""
        for n in ([names] if isinstance(names, str) else set(names)):
            self.add_to_collection(n, value)

    def get_collection_ref(self, name: str) -> list:
        """The collection's list itself (created empty if missing): changes to it change the collection."""
        with self._lock:
            return self._collections.setdefault(name, [])

    def get_collection(self, name: str, scope: str | None = None) -> list:
        """A copy of the collection; with `scope`, only items whose `.name` matches it (`re.match`)."""
        with self._lock:
            items = list(self._collections.get(name, []))
        if scope is None:
            return items
        rx = re.compile(scope)
        out = []
        for v in items:
            try:
                if rx.match(v.name):
                    out.append(v)
            except AttributeError:  # items with no name are left out, as in TF
                pass
        return out

    def get_all_collection_keys(self) -> list[str]:
        return [k for k in self._collections if isinstance(k, str)]

    def clear_collection(self, name: str) -> None:
        with self._lock:
            self._collections.pop(name, None)

    # -- default graph ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def as_default(self) -> Iterator[Graph]:
        """Makes this graph the default graph of the current thread inside the block."""
        stack = _default_graph_stack.stack
        stack.append(self)
        try:
            yield self
        finally:
            if stack:  # reset_default_graph() may not empty it (it refuses), but be safe
                if stack[-1] is not self:
                    raise AssertionError("Nesting violated for default stack of <class 'labflow.Graph'> "
                                         "objects: graphs' as_default() blocks must exit in reverse order.")
                stack.pop()

    def as_graph_def(self, from_version: int | None = None, add_shapes: bool = False):
        """The graph as a `GraphDef` protocol buffer (TF-wire-compatible)."""
        from labflow.framework.graph_io import graph_to_graph_def
        return graph_to_graph_def(self, add_shapes=add_shapes)

    @property
    def graph_def_versions(self):
        from labflow import versions
        from labflow.framework.protos import versions_pb2
        return versions_pb2.VersionDef(producer=versions.GRAPH_DEF_VERSION,
                                       min_consumer=versions.GRAPH_DEF_VERSION_MIN_CONSUMER)

    # -- op creation -----------------------------------------------------------------------------------
    def create_op(self, op_type: str, inputs: list, dtypes: Any = None, input_types: Any = None,
                  name: str | None = None, attrs: dict | None = None, op_def: Any = None,
                  compute_shapes: bool = True, compute_device: bool = True, *,
                  control_inputs: list | None = None) -> Operation:
        """Adds an op of a registered type: checks dtypes and shapes, names it, records scopes and site.

        `name` is made unique under the current name scope; a name ending in '/' (a scope string) is
        used as is. `dtypes`, `input_types`, `op_def` and `compute_shapes` are accepted for TF
        compatibility: the registry's OpDef decides them.

        Raises:
            RuntimeError: the graph is finalized.
            ValueError / TypeError: with TF's message naming the op when inputs do not fit.
        """
        self._check_not_finalized(f"a '{op_type}' op")
        opdef = registry.get(op_type)
        name = name or op_type
        with self._lock:
            if name.endswith("/"):
                full = name[:-1]  # an exact name taken from a name scope (TF's rule)
                if full in self._ops_by_name:
                    raise ValueError(f"Duplicate node name in graph: '{full}'")
                self._names_in_use.setdefault(full.lower(), 1)
            else:
                if not _VALID_SCOPE_NAME.match(name):
                    raise ValueError(f"'{name}' is not a valid node name: use letters, digits, '_', '.', "
                                     "'-', '/' and '>'.")
                full = self.unique_name(name)
        if not _VALID_NODE_NAME.match(full):
            raise ValueError(f"'{full}' is not a valid node name: a node name starts with a letter, a digit, "
                             "'.' or '_', then uses letters, digits, '_', '.', '-', '/' and '>'.")
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
        s = self._s
        override = self._gradient_override_map.get(op_type)
        if override is not None:
            a.setdefault("_gradient_op_type", override)
        deps = [] if control_inputs is None else list(control_inputs)
        if s.control:
            deps.extend(c for c in self._control_deps_for([t._op for t in inputs]) if c not in deps)
        with self._lock:
            self._next_id += 1
            op = Operation(self, full, op_type, opdef, inputs, a, "", deps, _user_frames(), self._next_id)
            op._outputs = [Tensor(op, i, dt, None if dims is None else tuple(dims))
                           for i, (dt, dims) in enumerate(res)]
            for t in inputs:
                t._consumers.append(op)
            for c in deps:
                c._control_outputs.append(op)
            for fr in s.control:
                fr.seen.add(op._id)
            if compute_device:
                self._apply_device_functions(op)
            ref = next((inputs[i]._op for i in sorted(opdef.ref_inputs)
                        if i < len(inputs) and inputs[i].dtype.is_ref_dtype), None)
            if ref is not None:
                # TF's op_def_library: an op taking a ref input (Assign, apply ops, queue ops) is created
                # inside colocate_with(that input): device scopes give way to the variable's device.
                op._device = ""
                self._colocate(op, [*s.colocation, ref])
            elif s.colocation:
                self._colocate(op, s.colocation)
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
                raise TypeError(f"Input '{iname}' of '{opdef.name}' Op has type {dt.name} that does not "
                                f"match type {first_dt.name} of argument '{first_name}' (op '{name}').")
        if first_dt is not None:
            attrs.setdefault("T", first_dt)

    def _repr_html_(self) -> str:
        from labflow.notebook.repr import graph_html
        return graph_html(self)

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
    """Per thread, like TF 1.x: the `as_default()` stack and the thread's own global default graph."""

    def __init__(self):
        self.stack: list[Graph] = []
        self.global_default: Graph | None = None


_default_graph_stack = _DefaultGraphStack()


def get_default_graph() -> Graph:
    """The innermost `as_default()` graph of this thread, else the thread's global default graph.

    As in TF 1.x, each thread has its own default graph: a new thread that should build into an existing
    graph must enter `with g.as_default():` itself.
    """
    st = _default_graph_stack
    if st.stack:
        return st.stack[-1]
    g = st.global_default
    if g is None:
        g = st.global_default = Graph()
    return g


def reset_default_graph() -> None:
    """Replaces the (thread's) global default graph with a new, empty one.

    Raises:
        AssertionError: inside a `with g.as_default():` block (TF's rule), since the block's graph would
            silently stay the default.
    """
    st = _default_graph_stack
    if st.stack:
        raise AssertionError("Do not use tf.reset_default_graph() to clear nested graphs. If you need a "
                             "cleared graph, exit the nesting and create a new graph.")
    from labflow.runtime.session import _clear_default_session_for
    old = st.global_default
    st.global_default = Graph()
    if old is not None:
        _clear_default_session_for(old)


def _graph_of(*values: Any) -> Graph:
    """The graph the given tensors/ops/variables live in (or the default graph).

    Raises:
        ValueError: the values come from different graphs.
    """
    g, first = None, None
    default = get_default_graph()
    inside_function = default.building_function
    for v in values:
        e = v
        if not isinstance(e, (Tensor, Operation, IndexedSlices)) and hasattr(e, "_as_graph_element"):
            e = e._as_graph_element()
        if isinstance(e, (Tensor, Operation, IndexedSlices)):
            if inside_function and _encloses(e.graph, default):
                continue  # a closure over an outer graph's value: the function being built captures it
            if g is None:
                g, first = e.graph, e
            elif e.graph is not g:
                raise ValueError(f"{e!r} must be from the same graph as {first!r}.")
    return g or default


def _encloses(outer: Graph, g: Graph) -> bool:
    while g is not None:
        if g is outer:
            return True
        g = getattr(g, "outer_graph", None)
    return False


class name_scope:  # noqa: N801 - TF's public name
    """TF1 `tf.name_scope(name, default_name=None, values=None)`: a context manager yielding the scope string.

    `name=None` uses `default_name` (made unique); the graph is that of `values` (entered as default).

    Raises:
        ValueError: both names are None while `values` is given, or an invalid name.
    """

    def __init__(self, name: str | None, default_name: str | None = None, values: list | None = None):
        self._name = default_name if name is None else name
        self._default_name = default_name
        self._values = values
        self._stack: contextlib.ExitStack | None = None

    @property
    def name(self) -> str | None:
        return self._name

    def __enter__(self) -> str:
        if self._name is None and self._values is not None:
            raise ValueError(f"At least one of name ({self._name}) and default_name ({self._default_name}) "
                             "must be provided.")
        g = _graph_of(*(self._values or []))
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(g.as_default())
            scope = stack.enter_context(g.name_scope(self._name))
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return scope

    def __exit__(self, *exc: Any) -> bool:
        stack, self._stack = self._stack, None
        return bool(stack.__exit__(*exc))


def control_dependencies(control_inputs: list | None):
    """TF1 `tf.control_dependencies` on the default graph."""
    return get_default_graph().control_dependencies(control_inputs)


def device(device_name_or_function: Any):
    """TF1 `tf.device` on the default graph."""
    return get_default_graph().device(device_name_or_function)


def colocate_with(op: Any, ignore_existing: bool = False):
    """TF1 `tf.colocate_with` on the default graph."""
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
    """TF1 `tf.container`; all containers share the session's resources in labflow."""
    return get_default_graph().container(container_name)
