"""`tf.Variable` (TF 1.x ref variables), variable collections and their initializers.

A Variable is three ops, like TF 1.x: `W` (VariableV2, the storage), `W/Assign` (its initializer) and
`W/read` (an Identity colocated with `W`, the value every consumer reads). Python values and constant
initial values become `W/initial_value`; a callable's ops go under `W/Initializer/`.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Iterator

from labflow import dtypes as _dt
from labflow.framework.convert import convert_to_tensor, register_tensor_conversion_function
from labflow.framework.graph import GraphKeys, get_default_graph
from labflow.framework.shapes import TensorShape, as_shape
from labflow.framework.tensor import IndexedSlices, Operation, Tensor
from labflow.ops import state_ops

__all__ = ["Variable", "global_variables", "all_variables", "trainable_variables", "local_variables",
           "model_variables", "moving_average_variables", "global_variables_initializer",
           "initialize_all_variables", "local_variables_initializer", "initialize_local_variables",
           "variables_initializer", "initialize_variables", "report_uninitialized_variables",
           "is_variable_initialized", "assert_variables_initialized"]


@contextlib.contextmanager
def _init_scope(g) -> Iterator[None]:
    """TF's `init_scope` in graph mode: variables are created outside any control dependencies."""
    with g.control_dependencies(None):
        yield


def _scope_name(g, name: str | None, default: str) -> contextlib.AbstractContextManager:
    return g.name_scope(name if name else default)


class Variable:
    """A TF 1.x (ref) variable: state that persists across `Session.run` calls.

    `v.dtype` is the ref dtype (e.g. float32_ref) like TF 1.x; using `v` where a tensor is expected reads
    `v.value()` (the `v/read` tensor). Python operators (`v + 1`, `v[0]`, `-v`, `x @ v`) act on that value.
    """

    # Variables take part in mixed arithmetic with NumPy arrays the way Tensors do.
    __array_priority__ = 100
    _save_slice_info = None  # partitioned-variable slice info (TF's Saver reads it); never partitioned here

    def __init__(self, initial_value: Any = None, trainable: bool = True, collections: list | None = None,
                 validate_shape: bool = True, caching_device: Any = None, name: str | None = None,
                 variable_def: Any = None, dtype: Any = None, expected_shape: Any = None,
                 import_scope: str | None = None, constraint: Callable | None = None,
                 use_resource: bool | None = None, synchronization: Any = None, aggregation: Any = None,
                 shape: Any = None):
        """Creates a variable holding `initial_value` once its initializer has run.

        Args:
            initial_value: a Tensor, a Python/NumPy value, or a callable taking no arguments returning one.
            trainable: also add the variable to GraphKeys.TRAINABLE_VARIABLES (optimizers' default list).
            collections: graph collections to add the variable to (default [GLOBAL_VARIABLES]).
            validate_shape: if False, the variable may be initialized with a value of unknown shape.
            caching_device: a device for the `read` op (default: the variable's device).
            name: the variable's op name (default "Variable", uniquified).
            variable_def: a VariableDef-like object naming existing ops (re-creates a Python Variable
                for a graph that already holds one, e.g. after importing a MetaGraphDef).
            dtype: the dtype to convert `initial_value` to.
            expected_shape: accepted for TF 1.x compatibility (ignored, as in TF).
            import_scope: name scope prefix for `variable_def`'s names.
            constraint: a function applied to the variable's value after each optimizer update.
            use_resource, synchronization, aggregation: accepted for TF 1.x compatibility.
            shape: the variable's static shape when it must differ from the initial value's.

        Raises:
            ValueError: no initial value, or both `initial_value` and `variable_def` given.
        """
        if variable_def is not None:
            if initial_value is not None:
                raise ValueError("variable_def and initial_value are mutually exclusive.")
            self._init_from_proto(variable_def, import_scope)
            return
        if initial_value is None:
            raise ValueError("initial_value must be specified.")
        if constraint is not None and not callable(constraint):
            raise ValueError("The `constraint` argument must be a callable.")
        self._trainable = bool(trainable)
        self._constraint = constraint
        self._caching_device = caching_device
        if collections is None:
            collections = [GraphKeys.GLOBAL_VARIABLES]
        if isinstance(collections, (set, tuple)):
            collections = list(collections)
        if not isinstance(collections, list):
            raise ValueError("collections argument to Variable constructor must be a list, tuple, or set. "
                             f"Got {collections} of type {type(collections)}")
        if trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections = list(collections) + [GraphKeys.TRAINABLE_VARIABLES]
        g = _graph_for(initial_value)
        with g.as_default(), _init_scope(g):
            self._build(g, initial_value, validate_shape, name, dtype, shape, caching_device)
        g.add_to_collections(collections, self)

    def _build(self, g, initial_value: Any, validate_shape: bool, name: str | None, dtype: Any, shape: Any,
               caching_device: Any) -> None:
        from labflow.ops.array_ops import identity
        with _scope_name(g, name, "Variable") as scope:
            true_name = scope[:-1]
            if callable(initial_value):
                n0 = len(g._ops)
                with g.name_scope("Initializer"), g.device(None):
                    init = convert_to_tensor(initial_value(), dtype=dtype, name="initial_value")
                # TF's `_class` attr scope: the initializer's ops live with the variable.
                for o in g._ops[n0:]:
                    o._colocation = [f"loc:@{true_name}"]
            else:
                init = convert_to_tensor(initial_value, dtype=dtype, name="initial_value")
            if isinstance(init, IndexedSlices):
                raise TypeError("A variable's initial value cannot be an IndexedSlices; convert it with "
                                "tf.convert_to_tensor first.")
            if shape is not None:
                vshape = as_shape(shape)
            elif validate_shape:
                vshape = init.get_shape()
                if not vshape.is_fully_defined():
                    raise ValueError(f"initial_value must have a shape specified: {init}. Pass "
                                     "validate_shape=False to create a variable whose shape is set when it "
                                     "is initialized.")
            else:
                vshape = TensorShape(None)
            self._initial_value = init
            self._variable = state_ops.variable_op_v2(vshape, init.dtype.base_dtype, name=scope)
            self._initializer_op = state_ops.assign(self._variable, init, validate_shape=validate_shape,
                                                    name="Assign").op
            if caching_device is not None:
                with g.device(caching_device):
                    self._snapshot = identity(self._variable, name="read")
            else:
                with g.colocate_with(self._variable.op):
                    self._snapshot = identity(self._variable, name="read")

    def _init_from_proto(self, variable_def: Any, import_scope: str | None) -> None:
        g = get_default_graph()

        def full(n: str) -> str:
            return f"{import_scope}/{n}" if import_scope else n

        self._variable = g.as_graph_element(full(variable_def.variable_name))
        self._initializer_op = g.as_graph_element(full(variable_def.initializer_name))
        init_name = getattr(variable_def, "initial_value_name", "")
        self._initial_value = g.as_graph_element(full(init_name)) if init_name else None
        self._snapshot = g.as_graph_element(full(variable_def.snapshot_name))
        self._trainable = bool(getattr(variable_def, "trainable", True))
        self._constraint = None
        self._caching_device = None

    # -- identity ---------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._variable.name

    @property
    def _shared_name(self) -> str:
        return self.name[:self.name.index(":")]

    @property
    def op(self) -> Operation:
        return self._variable.op

    @property
    def dtype(self) -> _dt.DType:
        return self._variable.dtype

    @property
    def shape(self) -> TensorShape:
        return self._variable.get_shape()

    def get_shape(self) -> TensorShape:
        return self._variable.get_shape()

    def set_shape(self, shape: Any) -> None:
        self._variable.set_shape(shape)
        self._snapshot.set_shape(shape)

    @property
    def device(self) -> str:
        return self._variable.device

    @property
    def graph(self):
        return self._variable.graph

    @property
    def trainable(self) -> bool:
        return self._trainable

    @property
    def constraint(self) -> Callable | None:
        return self._constraint

    @property
    def initializer(self) -> Operation:
        """The op (`name/Assign`) that stores the initial value."""
        return self._initializer_op

    @property
    def initial_value(self) -> Tensor:
        return self._initial_value

    # -- reading ----------------------------------------------------------------------------------------
    def value(self) -> Tensor:
        """The `name/read` tensor: what every op consuming this variable reads."""
        return self._snapshot

    def read_value(self) -> Tensor:
        """A new Identity reading the variable (under the current name scope)."""
        from labflow.ops.array_ops import identity
        return identity(self._variable, name="read")

    def _ref(self) -> Tensor:
        """The ref-typed output of the VariableV2 op (what assign ops and gradients take)."""
        return self._variable

    def _as_graph_element(self) -> Tensor:
        return self._snapshot

    def initialized_value(self) -> Tensor:
        """The variable's value, running its initializer first (for initial values built from others)."""
        from labflow.ops.array_ops import identity
        g = self.graph
        with g.control_dependencies(None), g.control_dependencies([self._initializer_op]):
            return identity(self._variable)

    def eval(self, session: Any = None) -> Any:
        """The variable's current value in `session` (default: the default session)."""
        return self._variable.eval(session=session)

    def load(self, value: Any, session: Any = None) -> None:
        """Stores `value` by running the initializer with its initial value fed (no new ops)."""
        from labflow.runtime.session import get_default_session
        session = session or get_default_session()
        if session is None:
            raise ValueError("Either session argument should be provided or default session should be "
                             "established")
        session.run(self._initializer_op, {self._initializer_op.inputs[1]: value})

    # -- writing ------------------------------------------------------------------------------------------
    def assign(self, value: Any, use_locking: bool = False, name: str | None = None,
               read_value: bool = True) -> Any:
        """An op storing `value`; returns the ref tensor (or the op when `read_value` is False)."""
        t = state_ops.assign(self._variable, value, use_locking=use_locking, name=name)
        return t if read_value else t.op

    def assign_add(self, delta: Any, use_locking: bool = False, name: str | None = None,
                   read_value: bool = True) -> Any:
        t = state_ops.assign_add(self._variable, delta, use_locking=use_locking, name=name)
        return t if read_value else t.op

    def assign_sub(self, delta: Any, use_locking: bool = False, name: str | None = None,
                   read_value: bool = True) -> Any:
        t = state_ops.assign_sub(self._variable, delta, use_locking=use_locking, name=name)
        return t if read_value else t.op

    def count_up_to(self, limit: int) -> Tensor:
        """Increments this scalar int variable until it reaches `limit` (see `tf.count_up_to`)."""
        return state_ops.count_up_to(self._variable, limit)

    def _scatter(self, fn: Callable, sparse_delta: IndexedSlices, use_locking: bool,
                 name: str | None) -> Tensor:
        if not isinstance(sparse_delta, IndexedSlices):
            raise TypeError(f"sparse_delta is not IndexedSlices: {sparse_delta}")
        return fn(self._variable, sparse_delta.indices, sparse_delta.values, use_locking=use_locking,
                  name=name)

    def scatter_add(self, sparse_delta: IndexedSlices, use_locking: bool = False,
                    name: str | None = None) -> Tensor:
        """`ref[indices] += values` for an IndexedSlices delta."""
        return self._scatter(state_ops.scatter_add, sparse_delta, use_locking, name)

    def scatter_sub(self, sparse_delta: IndexedSlices, use_locking: bool = False,
                    name: str | None = None) -> Tensor:
        """`ref[indices] -= values` for an IndexedSlices delta (how optimizers apply sparse steps)."""
        return self._scatter(state_ops.scatter_sub, sparse_delta, use_locking, name)

    def scatter_update(self, sparse_delta: IndexedSlices, use_locking: bool = True,
                       name: str | None = None) -> Tensor:
        return self._scatter(state_ops.scatter_update, sparse_delta, use_locking, name)

    def batch_scatter_update(self, sparse_delta: IndexedSlices, use_locking: bool = True,
                             name: str | None = None) -> Tensor:
        """`tf.batch_scatter_update` of this variable: indices address the last batch dimension."""
        from labflow.ops.array_scatter_state_ops import batch_scatter_update
        return self._scatter(batch_scatter_update, sparse_delta, use_locking, name)

    def scatter_nd_update(self, indices: Any, updates: Any, name: str | None = None) -> Tensor:
        """`ref[indices] = updates` with N-d indices (`tf.scatter_nd_update` of this variable)."""
        from labflow.ops.array_scatter_state_ops import scatter_nd_update
        return scatter_nd_update(self._variable, indices, updates, use_locking=True, name=name)

    def scatter_nd_add(self, indices: Any, updates: Any, name: str | None = None) -> Tensor:
        """`ref[indices] += updates` with N-d indices."""
        from labflow.ops.array_scatter_state_ops import scatter_nd_add
        return scatter_nd_add(self._variable, indices, updates, name=name)

    def scatter_nd_sub(self, indices: Any, updates: Any, name: str | None = None) -> Tensor:
        """`ref[indices] -= updates` with N-d indices."""
        from labflow.ops.array_scatter_state_ops import scatter_nd_sub
        return scatter_nd_sub(self._variable, indices, updates, name=name)

    def to_proto(self, export_scope: str | None = None) -> Any:
        """A VariableDef protocol buffer naming this variable's ops (needs the VariableDef proto)."""
        try:
            from labflow.framework.protos import variable_pb2
        except ImportError:
            raise NotImplementedError("Variable.to_proto needs labflow.framework.protos.variable_pb2 (the "
                                      "VariableDef message), which this build does not have") from None

        def strip(n: str) -> str:
            if export_scope and n.startswith(export_scope + "/"):
                return n[len(export_scope) + 1:]
            return n

        return variable_pb2.VariableDef(
            variable_name=strip(self._variable.name), initializer_name=strip(self._initializer_op.name),
            snapshot_name=strip(self._snapshot.name), trainable=self._trainable,
            initial_value_name=strip(self._initial_value.name) if self._initial_value is not None else "")

    @staticmethod
    def from_proto(variable_def: Any, import_scope: str | None = None) -> Variable:
        """The Variable for the ops a VariableDef names (in the default graph)."""
        return Variable(variable_def=variable_def, import_scope=import_scope)

    # -- Python protocol -----------------------------------------------------------------------------------
    def __repr__(self) -> str:
        d = self._variable._shape_dims
        shp = "<unknown>" if d is None else "(" + ", ".join("?" if x is None else str(x) for x in d) + \
            ("," if len(d) == 1 else "") + ")"
        return f"<tf.Variable '{self.name}' shape={shp} dtype={self.dtype.name}>"

    def _repr_html_(self) -> str:
        from labflow.notebook.repr import variable_html
        return variable_html(self)

    def __iter__(self):
        raise TypeError("'Variable' object is not iterable.")

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    def __ne__(self, other: object) -> bool:
        return self is not other


def _forward(name: str) -> Callable:
    # Resolved at call time: the Tensor operators are installed by the math ops after this module loads.
    def method(self, *args):
        fn = getattr(self.value(), name, None)
        if fn is None:
            raise TypeError(f"Tensors do not support operator {name} yet (no labflow op installed it)")
        return fn(*args)
    method.__name__ = name
    return method


for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
              "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__", "__rpow__",
              "__matmul__", "__rmatmul__", "__neg__", "__abs__", "__invert__", "__and__", "__rand__",
              "__or__", "__ror__", "__xor__", "__rxor__", "__lt__", "__le__", "__gt__", "__ge__",
              "__getitem__"):
    setattr(Variable, _name, _forward(_name))
del _name


def _graph_for(initial_value: Any):
    if isinstance(initial_value, (Tensor, IndexedSlices)):
        g = initial_value.graph
        if g.building_function:
            raise ValueError(f"The initial value of a variable ({initial_value.name}) was computed inside "
                             "a tf.cond / tf.while_loop function: variables are created in the outer graph "
                             "(TF's init_scope). Pass a callable initial value (as tf.get_variable does) or a "
                             "value computed outside.")
        return g
    if isinstance(initial_value, Variable):
        return initial_value.graph
    from labflow.framework.func_graph import outermost_graph
    return outermost_graph(get_default_graph())


def _to_tensor(v: Variable, dtype: Any = None, name: str | None = None, as_ref: bool = False) -> Tensor:
    if dtype is not None and not _dt.as_dtype(dtype).is_compatible_with(v.dtype.base_dtype):
        raise ValueError(f"Incompatible type conversion requested to type '{_dt.as_dtype(dtype).name}' for "
                         f"variable of type '{v.dtype.name}'")
    return v._ref() if as_ref else v.value()


register_tensor_conversion_function(Variable, _to_tensor)


# -- collections ---------------------------------------------------------------------------------------------
def global_variables(scope: str | None = None) -> list:
    """Variables in GraphKeys.GLOBAL_VARIABLES (optionally those whose name matches the regex `scope`)."""
    return get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


def all_variables() -> list:
    """Deprecated alias of `global_variables()`."""
    return global_variables()


def trainable_variables(scope: str | None = None) -> list:
    """Variables created with trainable=True (what optimizers update by default)."""
    return get_default_graph().get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope: str | None = None) -> list:
    """Variables in GraphKeys.LOCAL_VARIABLES (per-process, not saved)."""
    return get_default_graph().get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def model_variables(scope: str | None = None) -> list:
    return get_default_graph().get_collection(GraphKeys.MODEL_VARIABLES, scope)


def moving_average_variables(scope: str | None = None) -> list:
    return get_default_graph().get_collection(GraphKeys.MOVING_AVERAGE_VARIABLES, scope)


def variables_initializer(var_list: list, name: str = "init") -> Operation:
    """One op running the initializers of `var_list` (a NoOp when the list is empty)."""
    from labflow.ops.control_flow_ops import group, no_op
    if var_list:
        return group(*[v.initializer for v in var_list], name=name)
    return no_op(name=name)


def initialize_variables(var_list: list, name: str = "init") -> Operation:
    """Deprecated alias of `variables_initializer`."""
    return variables_initializer(var_list, name=name)


def global_variables_initializer() -> Operation:
    """The op (named "init") that initializes every global variable."""
    return variables_initializer(global_variables())


def initialize_all_variables() -> Operation:
    """Deprecated alias of `global_variables_initializer`."""
    return global_variables_initializer()


def local_variables_initializer() -> Operation:
    """The op (named "init") that initializes every local variable."""
    return variables_initializer(local_variables())


def initialize_local_variables() -> Operation:
    """Deprecated alias of `local_variables_initializer`."""
    return local_variables_initializer()


def is_variable_initialized(variable: Any) -> Tensor:
    """A scalar bool tensor: whether `variable` has been initialized."""
    return state_ops.is_variable_initialized(variable)


def report_uninitialized_variables(var_list: list | None = None,
                                   name: str = "report_uninitialized_variables") -> Tensor:
    """A 1-D string tensor with the names of the variables of `var_list` not yet initialized.

    `var_list` defaults to all global and local variables (or, when there are none, every VariableV2 op
    of the graph).
    """
    from labflow.ops import array_ops, math_ops
    g = get_default_graph()
    if var_list is None:
        var_list = global_variables() + local_variables()
        if not var_list:
            var_list = [o.outputs[0] for o in g.get_operations() if o.type in ("Variable", "VariableV2")]
    with g.name_scope(name):
        # The checks run where each variable lives; the string work on the CPU (TF's rule, with TF's
        # environment variable to move it).
        init = [state_ops.is_variable_initialized(v) for v in var_list]
        with g.device(os.environ.get("TF_DEVICE_FOR_UNINITIALIZED_VARIABLE_REPORTING", "/cpu:0")):
            if not var_list:
                return array_ops.constant([], dtype=_dt.string)
            names = array_ops.constant([v.op.name for v in var_list])
            return array_ops.boolean_mask(names, math_ops.logical_not(array_ops.stack(init)))


def assert_variables_initialized(var_list: list | None = None) -> Operation | None:
    """An op that fails (FailedPreconditionError naming the variable) when any variable is uninitialized.

    Reading any uninitialized variable already raises that error; this op just checks all of them at once.
    """
    from labflow.ops.control_flow_ops import group
    if var_list is None:
        var_list = global_variables() + local_variables()
    if not var_list:
        return None
    from labflow.ops.array_ops import identity
    with get_default_graph().name_scope("assert_variables_initialized"):
        return group(*[identity(v._ref() if hasattr(v, "_ref") else v) for v in var_list])
