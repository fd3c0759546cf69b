"""`tf.variable_scope` and `tf.get_variable`: named, shareable variables (TF 1.x semantics).

The store of variables made by `get_variable` lives on the Graph (`graph._variable_store`); the current
variable scope and the counters that uniquify `default_name` scopes are per thread, as in TF.
"""

from __future__ import annotations

import enum
import inspect
import threading
import traceback
from typing import Any, Callable

from labflow import dtypes as _dt
from labflow.framework.graph import GraphKeys, _graph_of, get_default_graph
from labflow.framework.shapes import TensorShape, as_shape

__all__ = ["AUTO_REUSE", "VariableScope", "get_variable_scope", "get_variable", "get_local_variable",
           "variable_scope", "variable_op_scope", "no_regularizer"]


class _ReuseMode(enum.Enum):
    """Mode for variable access within a variable scope."""

    AUTO_REUSE = 1


AUTO_REUSE = _ReuseMode.AUTO_REUSE  # get_variable creates the variable if missing, else returns it


def no_regularizer(_: Any) -> None:
    """Use this regularizer to turn off a scope's default regularizer for one variable."""
    return None


class VariableScope:
    """The defaults `get_variable` uses inside a `variable_scope`: name prefix, reuse, initializer, ..."""

    def __init__(self, reuse: Any, name: str = "", initializer: Any = None, regularizer: Any = None,
                 caching_device: Any = None, partitioner: Any = None, custom_getter: Any = None,
                 name_scope: str = "", dtype: Any = _dt.float32, use_resource: Any = None,
                 constraint: Any = None):
        self._name = name
        self._initializer = initializer
        self._regularizer = regularizer
        self._reuse = reuse
        self._caching_device = caching_device
        self._partitioner = partitioner
        self._custom_getter = custom_getter
        self._name_scope = name_scope
        self._dtype = dtype
        self._use_resource = use_resource
        self._constraint = constraint

    name = property(lambda self: self._name)
    original_name_scope = property(lambda self: self._name_scope)
    reuse = property(lambda self: self._reuse)
    initializer = property(lambda self: self._initializer)
    dtype = property(lambda self: self._dtype)
    use_resource = property(lambda self: self._use_resource)
    regularizer = property(lambda self: self._regularizer)
    caching_device = property(lambda self: self._caching_device)
    partitioner = property(lambda self: self._partitioner)
    custom_getter = property(lambda self: self._custom_getter)
    constraint = property(lambda self: self._constraint)

    def reuse_variables(self) -> None:
        """Makes `get_variable` in this scope return existing variables."""
        self._reuse = True

    def set_initializer(self, initializer: Any) -> None:
        self._initializer = initializer

    def set_dtype(self, dtype: Any) -> None:
        self._dtype = dtype

    def set_use_resource(self, use_resource: Any) -> None:
        self._use_resource = use_resource

    def set_regularizer(self, regularizer: Any) -> None:
        self._regularizer = regularizer

    def set_caching_device(self, caching_device: Any) -> None:
        self._caching_device = caching_device

    def set_partitioner(self, partitioner: Any) -> None:
        self._partitioner = partitioner

    def set_custom_getter(self, custom_getter: Any) -> None:
        self._custom_getter = custom_getter

    def get_collection(self, name: str) -> list:
        scope = self._name + "/" if self._name else ""
        return get_default_graph().get_collection(name, scope)

    def trainable_variables(self) -> list:
        return self.get_collection(GraphKeys.TRAINABLE_VARIABLES)

    def global_variables(self) -> list:
        return self.get_collection(GraphKeys.GLOBAL_VARIABLES)

    def local_variables(self) -> list:
        return self.get_collection(GraphKeys.LOCAL_VARIABLES)

    def get_variable(self, var_store: _VariableStore, name: str, shape: Any = None, dtype: Any = None,
                     initializer: Any = None, regularizer: Any = None, reuse: Any = None,
                     trainable: Any = None, collections: Any = None, caching_device: Any = None,
                     partitioner: Any = None,
                     validate_shape: bool = True, use_resource: Any = None, custom_getter: Any = None,
                     constraint: Any = None, synchronization: Any = None, aggregation: Any = None) -> Any:
        """Gets an existing variable named `<scope>/<name>` or creates it, with this scope's defaults."""
        if regularizer is None:
            regularizer = self._regularizer
        if caching_device is None:
            caching_device = self._caching_device
        if partitioner is None:
            partitioner = self._partitioner
        if custom_getter is None:
            custom_getter = self._custom_getter
        if reuse is None:
            reuse = self._reuse
        full_name = self.name + "/" + name if self.name else name
        from labflow.framework.func_graph import outermost_graph
        g = get_default_graph()
        # Variable names depend only on the variable scope, so the name scope is reset while creating
        # (in the graph that will hold the variable: a function's variables live in the outermost graph).
        with g.name_scope(None), outermost_graph(g).name_scope(None):
            if dtype is not None and initializer is not None and not callable(initializer):
                from labflow.framework.convert import convert_to_tensor
                init_dtype = convert_to_tensor(initializer).dtype.base_dtype
                if init_dtype != _dt.as_dtype(dtype):
                    raise ValueError(f"Initializer type '{init_dtype.name}' and explicit dtype "
                                     f"'{_dt.as_dtype(dtype).name}' don't match.")
            if initializer is None:
                initializer = self._initializer
            if constraint is None:
                constraint = self._constraint
            if dtype is None:
                dtype = self._dtype
            return var_store.get_variable(
                full_name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                reuse=reuse, trainable=trainable, collections=collections, caching_device=caching_device,
                partitioner=partitioner, validate_shape=validate_shape, custom_getter=custom_getter,
                constraint=constraint)

    def __repr__(self) -> str:
        return f"<VariableScope '{self._name}' reuse={self._reuse}>"


class _ScopeState(threading.local):
    """Per-thread: the current VariableScope and how often each scope name was opened."""

    def __init__(self):
        self.current_scope = VariableScope(False)
        self.variable_scopes_count: dict[str, int] = {}

    def open_variable_scope(self, scope_name: str) -> None:
        self.variable_scopes_count[scope_name] = self.variable_scopes_count.get(scope_name, 0) + 1

    def close_variable_subscopes(self, scope_name: str | None) -> None:
        for k in list(self.variable_scopes_count):
            if scope_name is None or k.startswith(scope_name + "/"):
                self.variable_scopes_count[k] = 0

    def variable_scope_count(self, scope_name: str) -> int:
        return self.variable_scopes_count.get(scope_name, 0)


class _VariableStore:
    """The variables `get_variable` made in one graph, by full name."""

    def __init__(self):
        self._vars: dict[str, Any] = {}
        self.scopes = _ScopeState()

    def get_variable(self, name: str, shape: Any = None, dtype: Any = _dt.float32, initializer: Any = None,
                     regularizer: Any = None, reuse: Any = None, trainable: Any = None,
                     collections: Any = None, caching_device: Any = None, partitioner: Any = None,
                     validate_shape: bool = True, custom_getter: Any = None, constraint: Any = None) -> Any:
        if custom_getter is not None and not callable(custom_getter):
            raise ValueError(f"Passed a custom_getter which is not callable: {custom_getter}")
        dtype = _dt.as_dtype(dtype).base_dtype

        def _true_getter(name: str, shape: Any = None, dtype: Any = _dt.float32, initializer: Any = None,
                         regularizer: Any = None, reuse: Any = None, trainable: Any = None,
                         collections: Any = None, caching_device: Any = None, partitioner: Any = None,
                         validate_shape: bool = True, use_resource: Any = None, constraint: Any = None,
                         **_: Any) -> Any:
            if partitioner is not None:
                raise NotImplementedError(f"Partitioned variables (partitioner=...) are not supported by "
                                          f"labflow yet (variable {name}).")
            return self._get_single_variable(name, shape, dtype, initializer, regularizer, reuse, trainable,
                                             collections, caching_device, validate_shape, constraint)

        if trainable is None:
            trainable = True
        if custom_getter is not None:
            kwargs = dict(getter=_true_getter, name=name, shape=shape, dtype=dtype, initializer=initializer,
                          regularizer=regularizer, reuse=reuse, trainable=trainable, collections=collections,
                          caching_device=caching_device, partitioner=partitioner,
                          validate_shape=validate_shape, use_resource=None)
            params = inspect.signature(custom_getter).parameters
            if "constraint" in params or any(p.kind == p.VAR_KEYWORD for p in params.values()):
                kwargs["constraint"] = constraint
            return custom_getter(**kwargs)
        return _true_getter(name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                            reuse=reuse, trainable=trainable, collections=collections,
                            caching_device=caching_device, partitioner=partitioner,
                            validate_shape=validate_shape, constraint=constraint)

    def _get_single_variable(self, name: str, shape: Any, dtype: _dt.DType, initializer: Any,
                             regularizer: Any, reuse: Any, trainable: bool, collections: Any,
                             caching_device: Any, validate_shape: bool, constraint: Any) -> Any:
        from labflow.ops.variables import Variable
        initializing_from_value = initializer is not None and not callable(initializer)
        if shape is not None and initializing_from_value:
            raise ValueError("If initializer is a constant, do not specify shape.")
        dtype = _dt.as_dtype(dtype)
        shape = as_shape(shape) if shape is not None else TensorShape(None)

        if name in self._vars:
            if reuse is False or reuse is None:
                var = self._vars[name]
                err = (f"Variable {name} already exists, disallowed. Did you mean to set reuse=True or "
                       "reuse=tf.AUTO_REUSE in VarScope?")
                tb = [(f, n, fn, line) for f, n, fn, line in var.op.traceback][-5:]
                raise ValueError(f"{err} Originally defined at:\n\n{''.join(traceback.format_list(tb))}")
            found = self._vars[name]
            if not shape.is_compatible_with(found.get_shape()):
                raise ValueError(f"Trying to share variable {name}, but specified shape {shape} and found "
                                 f"shape {found.get_shape()}.")
            if not dtype.is_compatible_with(found.dtype.base_dtype):
                raise ValueError(f"Trying to share variable {name}, but specified dtype {dtype.name} and "
                                 f"found dtype {found.dtype.base_dtype.name}.")
            return found

        if reuse is True:
            raise ValueError(f"Variable {name} does not exist, or was not created with tf.get_variable(). "
                             "Did you mean to set reuse=tf.AUTO_REUSE in VarScope?")

        if initializer is None:
            initializer, initializing_from_value = _default_initializer(name, dtype), False
        if initializing_from_value:
            init_val, variable_dtype = initializer, None
        else:
            if inspect.isclass(initializer):
                initializer = initializer()
            if shape.is_fully_defined():
                dims = shape.as_list()
                if _accepts(initializer, "partition_info"):
                    def init_val():
                        return initializer(dims, dtype=dtype, partition_info=None)
                else:
                    def init_val():
                        return initializer(dims, dtype=dtype)
                variable_dtype = dtype.base_dtype
            elif _all_defaulted(initializer):
                init_val, variable_dtype = initializer, None
            else:
                raise ValueError(f"Shape of a new variable ({name}) must be fully defined, but instead was "
                                 f"{shape}.")
        v = Variable(initial_value=init_val, name=name,
                     trainable=trainable, collections=collections, caching_device=caching_device,
                     dtype=variable_dtype, validate_shape=validate_shape, constraint=constraint)
        self._vars[name] = v
        if regularizer:
            g = v.graph
            with g.colocate_with(v.op), g.name_scope(name.rstrip("/") + "/Regularizer/"):
                loss = regularizer(v)
            if loss is not None:
                g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)
        return v


def _accepts(fn: Callable, arg: str) -> bool:
    try:
        return arg in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def _all_defaulted(fn: Callable) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)


def _default_initializer(name: str, dtype: _dt.DType) -> Any:
    from labflow.ops import init_ops
    if dtype.is_floating:
        return init_ops.glorot_uniform_initializer()
    if dtype.is_integer or dtype.is_bool or dtype == _dt.string or getattr(dtype, "is_unsigned", False):
        return init_ops.zeros_initializer()
    raise ValueError(f"An initializer for variable {name} of {dtype.base_dtype.name} is required")


def _store(g=None) -> _VariableStore:
    g = g or get_default_graph()
    s = g._variable_store
    if s is None:
        s = g._variable_store = _VariableStore()
    return s


def get_variable_scope() -> VariableScope:
    """The current VariableScope (of this thread, in the default graph)."""
    return _store().scopes.current_scope


def get_variable(name: str, shape: Any = None, dtype: Any = None, initializer: Any = None,
                 regularizer: Any = None, trainable: Any = None, collections: Any = None,
                 caching_device: Any = None,
                 partitioner: Any = None, validate_shape: bool = True, use_resource: Any = None,
                 custom_getter: Any = None, constraint: Any = None, synchronization: Any = None,
                 aggregation: Any = None) -> Any:
    """Gets an existing variable with these parameters or creates a new one (TF 1.x `tf.get_variable`).

    The name is prefixed with the current variable scope. Inside a scope with reuse=True the variable must
    exist; with reuse=tf.AUTO_REUSE it is created when missing; otherwise it must not exist yet.
    `initializer` defaults to the scope's, then to glorot_uniform (floats) or zeros (ints, bools);
    a Tensor or Python value is used as the initial value (then `shape` must be None).

    Raises:
        ValueError: the reuse rules are violated (TF's messages), the shape or dtype of a reused variable
            differs, or the shape of a new variable is not fully defined.
    """
    return get_variable_scope().get_variable(
        _store(), name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
        trainable=trainable, collections=collections, caching_device=caching_device, partitioner=partitioner,
        validate_shape=validate_shape, use_resource=use_resource, custom_getter=custom_getter,
        constraint=constraint)


def get_local_variable(name: str, shape: Any = None, dtype: Any = None, initializer: Any = None,
                       regularizer: Any = None, trainable: bool = False, collections: Any = None,
                       caching_device: Any = None, partitioner: Any = None, validate_shape: bool = True,
                       use_resource: Any = None, custom_getter: Any = None, constraint: Any = None,
                       synchronization: Any = None, aggregation: Any = None) -> Any:
    """Like `get_variable`, but the variable is local (GraphKeys.LOCAL_VARIABLES) and not trainable."""
    collections = list(collections or []) + [GraphKeys.LOCAL_VARIABLES]
    return get_variable(name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                        trainable=False, collections=collections, caching_device=caching_device,
                        partitioner=partitioner, validate_shape=validate_shape, use_resource=use_resource,
                        custom_getter=custom_getter, constraint=constraint)


def _maybe_wrap_custom_getter(custom_getter: Any, old_getter: Any) -> Any:
    if old_getter is None:
        return custom_getter

    def wrapped(getter, *args, **kwargs):
        import functools
        return custom_getter(functools.partial(old_getter, getter), *args, **kwargs)
    return wrapped


class _PureVariableScope:
    """Enters a VariableScope without touching name scopes."""

    def __init__(self, name_or_scope: Any, reuse: Any = None, initializer: Any = None,
                 regularizer: Any = None, caching_device: Any = None, partitioner: Any = None,
                 custom_getter: Any = None,
                 old_name_scope: str | None = None, dtype: Any = None, use_resource: Any = None,
                 constraint: Any = None):
        self._name_or_scope = name_or_scope
        self._reuse = reuse
        self._settings = dict(initializer=initializer, regularizer=regularizer, caching_device=caching_device,
                              partitioner=partitioner, dtype=dtype, use_resource=use_resource)
        self._custom_getter = custom_getter
        self._old_name_scope = old_name_scope
        self._constraint = constraint
        self._state = _store().scopes

    def _apply(self, vs: VariableScope, base_getter: Any) -> None:
        for k, v in self._settings.items():
            if v is not None:
                getattr(vs, "set_" + k)(v)
        if self._custom_getter is not None:
            vs.set_custom_getter(_maybe_wrap_custom_getter(self._custom_getter, base_getter))

    def __enter__(self) -> VariableScope:
        st = self._state
        self._old = st.current_scope
        if isinstance(self._name_or_scope, VariableScope):
            src = self._name_or_scope
            self._new_name = src.name
            st.open_variable_scope(self._new_name)
            self._old_subscopes = dict(st.variable_scopes_count)
            vs = VariableScope(src.reuse if not self._reuse else self._reuse, name=self._new_name,
                               initializer=src.initializer, regularizer=src.regularizer,
                               caching_device=src.caching_device, partitioner=src.partitioner,
                               dtype=src.dtype,
                               custom_getter=src.custom_getter, name_scope=src.original_name_scope,
                               use_resource=src.use_resource, constraint=self._constraint)
            self._apply(vs, src.custom_getter)
        else:
            old = self._old
            self._new_name = old.name + "/" + self._name_or_scope if old.name else self._name_or_scope
            reuse = self._reuse or old.reuse  # reuse is inherited by sub-scopes
            name_scope = self._name_or_scope if self._old_name_scope is None else self._old_name_scope
            vs = VariableScope(reuse, name=self._new_name, initializer=old.initializer,
                               regularizer=old.regularizer, caching_device=old.caching_device,
                               partitioner=old.partitioner, dtype=old.dtype, use_resource=old.use_resource,
                               custom_getter=old.custom_getter, name_scope=name_scope,
                               constraint=self._constraint)
            self._apply(vs, old.custom_getter)
            st.open_variable_scope(self._new_name)
        st.current_scope = vs
        self._entered = vs
        return vs

    def __exit__(self, *exc: Any) -> None:
        st = self._state
        if st.current_scope is not self._entered:
            raise RuntimeError("Improper nesting of variable_scope.")
        if isinstance(self._name_or_scope, VariableScope):
            st.variable_scopes_count = self._old_subscopes
        else:
            st.close_variable_subscopes(self._new_name)
        st.current_scope = self._old


def _get_unique_variable_scope(prefix: str) -> str:
    st = _store().scopes
    cur = st.current_scope
    name = cur.name + "/" + prefix if cur.name else prefix
    if st.variable_scope_count(name) == 0:
        return prefix
    idx = 1
    while st.variable_scope_count(name + f"_{idx}") > 0:
        idx += 1
    return prefix + f"_{idx}"


class variable_scope:  # noqa: N801 - TF's name
    """A context manager opening a variable scope (for `get_variable`) and a name scope (for ops).

    `with tf.variable_scope("a"):` twice gives variable scope "a" both times (variables are shared by
    name) but name scopes "a" and "a_1" (op names stay unique). `reuse=True` makes `get_variable` return
    existing variables only, `reuse=tf.AUTO_REUSE` creates them when missing; reuse is inherited by
    sub-scopes. With `name_or_scope=None`, `default_name` is made unique ("dense", "dense_1", ...).
    """

    def __init__(self, name_or_scope: Any, default_name: str | None = None, values: list | None = None,
                 initializer: Any = None, regularizer: Any = None, caching_device: Any = None,
                 partitioner: Any = None, custom_getter: Any = None, reuse: Any = None, dtype: Any = None,
                 use_resource: Any = None, constraint: Any = None, auxiliary_name_scope: bool = True):
        if default_name is None and name_or_scope is None:
            raise TypeError("If default_name is None then name_or_scope is required")
        if reuse is False:
            reuse = None  # False and None mean the same: inherit
        if not (reuse is True or reuse is None or reuse is AUTO_REUSE):
            raise ValueError("The reuse parameter must be True or False or None.")
        if not isinstance(auxiliary_name_scope, bool):
            raise TypeError("The auxiliary_name_scope must be `True` or `False`, while get "
                            f"{auxiliary_name_scope}")
        if name_or_scope is not None and not isinstance(name_or_scope, (VariableScope, str)):
            raise TypeError("VariableScope: name_or_scope must be a string or VariableScope.")
        self._name_or_scope = name_or_scope
        self._default_name = default_name
        self._kw = dict(initializer=initializer, regularizer=regularizer, caching_device=caching_device,
                        partitioner=partitioner, custom_getter=custom_getter, dtype=dtype,
                        use_resource=use_resource, constraint=constraint)
        self._reuse = reuse
        self._graph = _graph_of(*(values or []))
        self._aux = auxiliary_name_scope
        self._cms: list = []

    def __enter__(self) -> VariableScope:
        g = self._graph
        self._push(g.as_default())
        try:
            return self._enter(g)
        except BaseException:
            self._unwind(None, None, None)
            raise

    def _push(self, cm: Any) -> Any:
        v = cm.__enter__()
        self._cms.append(cm)
        return v

    def _enter(self, g) -> VariableScope:
        if self._aux:
            name_scope_cm = None
        else:
            cur = g.get_name_scope()
            name_scope_cm = g.name_scope(cur + "/" if cur else "")
        nos = self._name_or_scope
        if nos is not None:
            ns = nos if isinstance(nos, str) else nos.name.split("/")[-1]
            if ns or name_scope_cm is not None:
                entered = self._push(name_scope_cm or g.name_scope(ns))
                old_ns = entered if isinstance(nos, str) else nos.original_name_scope
                return self._push(_PureVariableScope(nos, reuse=self._reuse, old_name_scope=old_ns,
                                                     **self._kw))
            return self._push(_PureVariableScope(nos, reuse=self._reuse, **self._kw))
        if self._reuse:
            raise ValueError("reuse=True cannot be used without a name_or_scope")
        entered = self._push(name_scope_cm or g.name_scope(self._default_name))
        unique = _get_unique_variable_scope(self._default_name)
        return self._push(_PureVariableScope(unique, old_name_scope=entered, **self._kw))

    def _unwind(self, *exc: Any) -> None:
        while self._cms:
            self._cms.pop().__exit__(*exc)

    def __exit__(self, *exc: Any) -> None:
        self._unwind(*exc)


def variable_op_scope(values: list, name_or_scope: Any, default_name: str | None = None, **kwargs: Any):
    """Deprecated: `variable_scope(name_or_scope, default_name, values, ...)`."""
    return variable_scope(name_or_scope, default_name=default_name, values=values, **kwargs)

