"""`tf.layers.Layer`: the TF 1.x layer base class, with variables made by `tf.get_variable`.

A layer opens a variable scope on its first call: its name when given, else a unique default name
from its class ("dense", "dense_1", ...). Its weights are `get_variable`s in that scope, so
`variable_scope(..., reuse=True)`, `reuse=True` or `tf.AUTO_REUSE` share them exactly as they share
any other variable, and the same name twice without reuse raises TF's "already exists" error.
Calling the same layer object again reuses its weights and puts the new ops in its name scope.
"""

from __future__ import annotations

import re
from typing import Any

from labflow import dtypes as _dt
from labflow.framework.func_graph import outermost_graph
from labflow.framework.graph import GraphKeys, _graph_of
from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Tensor
from labflow.ops.common import convert_to_tensor
from labflow.ops.variable_scope import get_variable, variable_scope

__all__ = ["Layer"]

_ALLOWED_KWARGS = {"_scope", "_reuse", "input_shape", "batch_input_shape", "batch_size", "activity_regularizer",
                   "weights", "autocast"}


def to_snake_case(name: str) -> str:
    """TF's layer naming: "MaxPooling2D" -> "max_pooling2d", "Dense" -> "dense"."""
    intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    insecure = re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()
    return insecure if insecure[0] != "_" else "private" + insecure


def _flatten(x: Any) -> list:
    if isinstance(x, (list, tuple)):
        out = []
        for i in x:
            out.extend(_flatten(i))
        return out
    return [x]


class Layer:
    """Base class of the tf.layers layers: subclasses implement `build(input_shape)` and `call(inputs)`.

    Attributes:
        name: the layer's name (its variable scope's last component once it has been called).
        trainable: whether the layer's weights go to GraphKeys.TRAINABLE_VARIABLES.
        built: whether `build` has run (its weights exist).
    """

    def _init_kernel_and_bias(self, activation: Any, use_bias: bool, kernel_initializer: Any,
                              bias_initializer: Any, kernel_regularizer: Any, bias_regularizer: Any,
                              kernel_constraint: Any, bias_constraint: Any) -> None:
        """Stores the kernel/bias configuration shared by Dense and Conv2D (weights come in build())."""
        self.activation = activation
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint
        self.kernel = None
        self.bias = None

    def __init__(self, trainable: bool = True, name: str | None = None, dtype: Any = None, **kwargs: Any):
        unknown = set(kwargs) - _ALLOWED_KWARGS
        if unknown:
            raise TypeError(f"Keyword argument not understood: {sorted(unknown)[0]}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Layer name must be a string, got {name!r}")
        self.trainable = trainable
        self._name = name
        self._base_name = name or to_snake_case(type(self).__name__)
        self._dtype = None if dtype is None else _dt.as_dtype(dtype).base_dtype
        self._reuse = kwargs.get("_reuse")
        self._scope_arg = kwargs.get("_scope")
        self._scope = None
        self.activity_regularizer = kwargs.get("activity_regularizer")
        self.built = False
        self._trainable_weights: list = []
        self._non_trainable_weights: list = []
        self._losses: list = []
        self._updates: list = []
        self._graph = None

    # -- properties -----------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        if self._scope is not None:
            return self._scope.name.split("/")[-1]
        return self._base_name

    @property
    def dtype(self) -> _dt.DType | None:
        return self._dtype

    @property
    def scope_name(self) -> str:
        if self._scope is None:
            raise ValueError(f"No name available for layer scope because the layer \"{self._base_name}\" has "
                             "not been used yet. The scope name is determined the first time the layer "
                             "instance is called. You must therefore call the layer before querying "
                             "`scope_name`.")
        return self._scope.name

    @property
    def trainable_weights(self) -> list:
        return list(self._trainable_weights) if self.trainable else []

    @property
    def non_trainable_weights(self) -> list:
        if self.trainable:
            return list(self._non_trainable_weights)
        return self._trainable_weights + self._non_trainable_weights

    @property
    def weights(self) -> list:
        return self.trainable_weights + self.non_trainable_weights

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    @property
    def losses(self) -> list:
        """The regularization losses this layer added (weight and activity regularizers)."""
        return list(self._losses)

    @property
    def updates(self) -> list:
        """The update ops this layer added (e.g. batch normalization's moving averages)."""
        return list(self._updates)

    def count_params(self) -> int:
        """The number of scalars in the layer's weights."""
        if not self.built:
            raise ValueError(f"You tried to call `count_params` on {self.name}, but the layer isn't built.")
        return sum(int(TensorShape(w.get_shape()).num_elements() or 0) for w in self.weights)

    # -- subclass hooks -------------------------------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        """Creates the layer's weights (with `add_weight`) for inputs of `input_shape`."""
        self.built = True

    def call(self, inputs: Any, **kwargs: Any) -> Any:
        """The layer's computation (called inside its variable and name scope)."""
        return inputs

    def compute_output_shape(self, input_shape: Any) -> TensorShape:
        raise NotImplementedError(f"{type(self).__name__}.compute_output_shape")

    def add_weight(self, name: str, shape: Any, dtype: Any = None, initializer: Any = None,
                   regularizer: Any = None, trainable: bool = True, constraint: Any = None,
                   partitioner: Any = None, **kwargs: Any) -> Any:
        """Gets or creates the variable `name` in the layer's scope with `tf.get_variable`.

        Returns:
            The variable; it is tracked in `trainable_weights` or `non_trainable_weights`.
        """
        dtype = _dt.as_dtype(dtype or self._dtype or _dt.float32).base_dtype
        g = _graph_of()
        reg = g.get_collection_ref(GraphKeys.REGULARIZATION_LOSSES)
        before = len(reg)
        v = get_variable(name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
                         trainable=trainable and self.trainable, constraint=constraint, partitioner=partitioner)
        self._losses.extend(reg[before:])
        if v in g.get_collection_ref(GraphKeys.TRAINABLE_VARIABLES):
            self._trainable_weights.append(v)
        else:
            self._non_trainable_weights.append(v)
        return v

    def add_loss(self, losses: Any, inputs: Any = None) -> None:
        """Adds regularization losses to the layer and to GraphKeys.REGULARIZATION_LOSSES."""
        g = _graph_of()
        for loss in _flatten(losses):
            if loss is None:
                continue
            self._losses.append(loss)
            g.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)

    def add_update(self, updates: Any, inputs: Any = None) -> None:
        """Adds update ops to the layer and to GraphKeys.UPDATE_OPS (run them with the train op)."""
        g = _graph_of()
        for u in _flatten(updates):
            self._updates.append(u)
            g.add_to_collection(GraphKeys.UPDATE_OPS, u)

    # -- calling ------------------------------------------------------------------------------------
    def _scope_cm(self, scope_arg: Any) -> Any:
        """The variable_scope for the first call: the layer's name (made unique when not given)."""
        name = scope_arg if scope_arg is not None else (self._scope_arg or self._name)
        if self._reuse:
            return variable_scope(name if name is not None else self._base_name, reuse=self._reuse)
        return variable_scope(name, default_name=self._base_name)

    def __call__(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """Builds the layer on first use, then applies it to `inputs` (Tensors or convertible values).

        Returns:
            The output tensor(s).
        """
        scope_arg = kwargs.pop("scope", None)
        flat = [x for x in _flatten(inputs) if isinstance(x, Tensor) or hasattr(x, "_as_graph_element")]
        g = _graph_of(*flat)
        # (a cell called inside a tf.while_loop body is in the loop's function graph: the graph that
        # counts is the one holding its weights)
        home = outermost_graph(g)
        if self._graph is not None and home is not self._graph:
            raise ValueError(f"Layer '{self.name}' was built in another graph: a layer object can only be "
                             "called on tensors of one graph.")
        with g.as_default():
            if self._scope is None:
                with self._scope_cm(scope_arg) as vs:
                    self._scope = vs
                    self._graph = home
                    return self._build_and_call(inputs, args, kwargs)
            with variable_scope(self._scope, reuse=True, auxiliary_name_scope=False), \
                    g.name_scope(self._scope.original_name_scope or None):
                return self._build_and_call(inputs, args, kwargs)

    apply = __call__

    def _build_and_call(self, inputs: Any, args: tuple, kwargs: dict) -> Any:
        inputs = _convert(inputs)
        first = _flatten(inputs)[0]
        if self._dtype is None and isinstance(first, Tensor):
            dt = first.dtype.base_dtype
            self._dtype = dt if dt.is_floating else _dt.float32
        if not self.built:
            shapes = [x.get_shape() for x in _flatten(inputs)]
            self.build(shapes[0] if len(shapes) == 1 else shapes)
            self.built = True
        outputs = self.call(inputs, *args, **kwargs)
        if self.activity_regularizer is not None:
            for out in _flatten(outputs):
                with _graph_of(out).name_scope("ActivityRegularizer"):
                    self.add_loss(self.activity_regularizer(out))
        return outputs

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__name__} '{self.name}'>"


def input_dtype(inputs: Any) -> Any:
    """The float dtype of `inputs` (the dtype the functional layers build their weights in), or None."""
    dt = getattr(inputs, "dtype", None)
    if dt is None:
        return None
    try:
        dt = _dt.as_dtype(dt).base_dtype
    except (TypeError, ValueError):
        return None
    return dt if dt.is_floating else None


def _convert(inputs: Any) -> Any:
    if isinstance(inputs, (list, tuple)):
        return type(inputs)(_convert(x) for x in inputs)
    if isinstance(inputs, Tensor):
        return inputs
    return convert_to_tensor(inputs)
