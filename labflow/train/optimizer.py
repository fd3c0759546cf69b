"""`tf.train.Optimizer`: the TF 1.x base class (compute_gradients / apply_gradients / minimize, slots).

Subclasses implement `_create_slots`, `_prepare`, `_apply_dense` and `_apply_sparse` with the fused
in-place update ops of labflow.train.training_ops.
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.convert import convert_to_tensor
from labflow.framework.gradients import gradients
from labflow.framework.graph import GraphKeys, get_default_graph
from labflow.framework.tensor import IndexedSlices, Operation, Tensor
from labflow.ops import state_ops
from labflow.ops.variables import Variable, trainable_variables
from labflow.train import slot_creator


def _var_key(var: Any) -> tuple:
    return (var.op.graph, var.op.name)


def cast_to(t: Tensor, dtype: _dt.DType) -> Tensor:
    """`t` as `dtype` (no op when it already is)."""
    if t.dtype.base_dtype == dtype:
        return t
    from labflow.ops import math_ops
    return math_ops.cast(t, dtype)


class _RefVariableProcessor:
    def __init__(self, v: Variable):
        self._v = v

    def target(self) -> Tensor:
        return self._v._ref()

    def update_op(self, optimizer: Optimizer, g: Any) -> Any:
        if isinstance(g, Tensor):
            update = optimizer._apply_dense(g, self._v)
            if self._v.constraint is not None:
                with get_default_graph().control_dependencies([update]):
                    return self._v.assign(self._v.constraint(self._v))
            return update
        if self._v.constraint is not None:
            raise RuntimeError("Cannot use a constraint function on a sparse variable.")
        return optimizer._apply_sparse_duplicate_indices(g, self._v)


class _TensorProcessor:
    def __init__(self, v: Tensor):
        self._v = v

    def target(self) -> Tensor:
        return self._v

    def update_op(self, optimizer: Optimizer, g: Any) -> Any:
        raise NotImplementedError(f"Trying to update a Tensor {self._v}: only Variables can be updated by an "
                                  "optimizer.")


def _get_processor(v: Any) -> Any:
    if isinstance(v, Variable):
        return _RefVariableProcessor(v)
    if isinstance(v, Tensor):
        return _TensorProcessor(v)
    raise NotImplementedError(f"Trying to optimize unsupported type {v!r}: pass Variables.")


class Optimizer:
    """Base class for optimizers (TF 1.x API).

    `minimize(loss)` = `compute_gradients(loss)` then `apply_gradients(grads_and_vars)`. Between the two,
    the (gradient, variable) pairs may be edited (clipped, scaled, filtered).
    """

    GATE_NONE = 0
    GATE_OP = 1
    GATE_GRAPH = 2

    def __init__(self, use_locking: bool, name: str):
        """Creates an optimizer; `name` prefixes its ops and slot names ("W/Momentum").

        Raises:
            ValueError: `name` is empty.
        """
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._use_locking = use_locking
        self._name = name
        self._slots: dict[str, dict] = {}
        self._non_slot_dict: dict[tuple, Variable] = {}

    def get_name(self) -> str:
        return self._name

    # -- the public API ---------------------------------------------------------------------------------
    def minimize(self, loss: Tensor, global_step: Any = None, var_list: list | None = None,
                 gate_gradients: int = GATE_OP, aggregation_method: Any = None,
                 colocate_gradients_with_ops: bool = False, name: str | None = None,
                 grad_loss: Any = None) -> Operation:
        """Adds ops that update `var_list` (default: trainable variables) to minimize `loss`.

        Args:
            loss: the scalar (or tensor, summed) to minimize.
            global_step: an integer Variable incremented by one after the updates.
            var_list: the variables to update (default: GraphKeys.TRAINABLE_VARIABLES).
            gate_gradients, aggregation_method, colocate_gradients_with_ops: passed to tf.gradients.
            name: name of the returned op (default: the optimizer's name).
            grad_loss: the gradient to start from (default ones).

        Returns:
            The training op: run it to take one step.

        Raises:
            ValueError: no variable gets a gradient (none depends on `loss`).
        """
        grads_and_vars = self.compute_gradients(
            loss, var_list=var_list, gate_gradients=gate_gradients, aggregation_method=aggregation_method,
            colocate_gradients_with_ops=colocate_gradients_with_ops, grad_loss=grad_loss)
        vars_with_grad = [v for g, v in grads_and_vars if g is not None]
        if not vars_with_grad:
            names = [str(v) for _, v in grads_and_vars]
            raise ValueError("No gradients provided for any variable, check your graph for ops that do not "
                             f"support gradients, between variables {names} and loss {loss}.")
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def compute_gradients(self, loss: Any, var_list: list | None = None, gate_gradients: int = GATE_OP,
                          aggregation_method: Any = None, colocate_gradients_with_ops: bool = False,
                          grad_loss: Any = None) -> list:
        """Returns a list of (gradient, variable) pairs; a gradient is None where `loss` ignores the variable.

        Raises:
            ValueError: bad `gate_gradients`, no variables, or a loss that is not floating point.
        """
        if callable(loss):
            raise NotImplementedError("`loss` passed to Optimizer.compute_gradients should be a Tensor "
                                      "(graph mode); callables are for eager execution.")
        if gate_gradients not in (Optimizer.GATE_NONE, Optimizer.GATE_OP, Optimizer.GATE_GRAPH):
            raise ValueError("gate_gradients must be one of: Optimizer.GATE_NONE, Optimizer.GATE_OP, "
                             f"Optimizer.GATE_GRAPH.  Not {gate_gradients}")
        loss = convert_to_tensor(loss)
        self._assert_valid_dtypes([loss])
        if grad_loss is not None:
            grad_loss = convert_to_tensor(grad_loss)
            self._assert_valid_dtypes([grad_loss])
        if var_list is None:
            key = getattr(GraphKeys, "TRAINABLE_RESOURCE_VARIABLES", "trainable_resource_variables")
            var_list = trainable_variables() + loss.graph.get_collection(key)
        else:
            var_list = list(_flatten(var_list))
        if not var_list:
            raise ValueError("No variables to optimize.")
        processors = [_get_processor(v) for v in var_list]
        grads = gradients(loss, [p.target() for p in processors], grad_ys=grad_loss,
                          gate_gradients=(gate_gradients == Optimizer.GATE_OP),
                          aggregation_method=aggregation_method,
                          colocate_gradients_with_ops=colocate_gradients_with_ops)
        if gate_gradients == Optimizer.GATE_GRAPH:
            from labflow.ops.control_flow_ops import tuple as _tuple
            grads = _tuple(grads)
        grads_and_vars = list(zip(grads, var_list))
        self._assert_valid_dtypes([v for g, v in grads_and_vars if g is not None])
        return grads_and_vars

    def apply_gradients(self, grads_and_vars: Any, global_step: Any = None,
                        name: str | None = None) -> Operation:
        """Adds the update ops for (gradient, variable) pairs; increments `global_step` after them.

        Returns:
            The op that applies all updates (and the global step increment).

        Raises:
            TypeError: a gradient that is not a Tensor, IndexedSlices or None.
            ValueError: no pairs, or no pair with a gradient.
        """
        grads_and_vars = tuple(grads_and_vars)
        if not grads_and_vars:
            raise ValueError("No variables provided.")
        converted = []
        for g, v in grads_and_vars:
            if g is not None and not isinstance(g, IndexedSlices):
                try:
                    g = convert_to_tensor(g)
                except (TypeError, ValueError):
                    raise TypeError("Gradient must be convertible to a Tensor or IndexedSlices, or None: "
                                    f"{g}") from None
            converted.append((g, v, _get_processor(v)))
        var_list = [v for g, v, _ in converted if g is not None]
        if not var_list:
            raise ValueError(f"No gradients provided for any variable: {[str(v) for _, v, _ in converted]}.")
        graph = var_list[0].graph
        with graph.as_default():
            with graph.control_dependencies(None):  # TF's init_scope: slots are made outside any deps
                self._create_slots(var_list)
            update_ops = []
            with graph.name_scope(name or self._name) as scope:
                self._prepare()
                for grad, var, processor in converted:
                    if grad is None:
                        continue
                    with graph.name_scope("update_" + var.op.name), graph.colocate_with(var.op):
                        update_ops.append(processor.update_op(self, grad))
                if global_step is None:
                    apply_updates = self._finish(update_ops, scope)
                else:
                    with graph.control_dependencies([self._finish(update_ops, "update")]):
                        gs_op = global_step.op if isinstance(global_step, (Variable, Tensor)) else global_step
                        with graph.colocate_with(gs_op):
                            apply_updates = state_ops.assign_add(global_step, 1, name=scope)
            if isinstance(apply_updates, Tensor):
                apply_updates = apply_updates.op
            train_op = graph.get_collection_ref(GraphKeys.TRAIN_OP)
            if apply_updates not in train_op:
                train_op.append(apply_updates)
        return apply_updates

    # -- slots --------------------------------------------------------------------------------------------
    def get_slot(self, var: Any, name: str) -> Variable | None:
        """The slot `name` ("momentum", "m", ...) this optimizer made for `var`, or None."""
        named = self._slots.get(name)
        if not named:
            return None
        return named.get(_var_key(var))

    def get_slot_names(self) -> list[str]:
        """The names of the slots this optimizer creates, sorted."""
        return sorted(self._slots)

    def variables(self) -> list[Variable]:
        """The optimizer's own variables (slots and non-slot accumulators) in the default graph."""
        g = get_default_graph()
        out = [v for (_, vg), v in self._non_slot_dict.items() if vg is g]
        for slots in self._slots.values():
            out.extend(v for v in slots.values() if v.op.graph is g)
        return sorted(out, key=lambda v: v.name)

    def _slot_dict(self, slot_name: str) -> dict:
        return self._slots.setdefault(slot_name, {})

    def _get_or_make_slot(self, var: Variable, val: Tensor, slot_name: str, op_name: str) -> Variable:
        named = self._slot_dict(slot_name)
        if _var_key(var) not in named:
            named[_var_key(var)] = slot_creator.create_slot(var, val, op_name)
        return named[_var_key(var)]

    def _get_or_make_slot_with_initializer(self, var: Variable, initializer: Any, shape: Any, dtype: Any,
                                           slot_name: str, op_name: str) -> Variable:
        named = self._slot_dict(slot_name)
        if _var_key(var) not in named:
            named[_var_key(var)] = slot_creator.create_slot_with_initializer(var, initializer, shape, dtype,
                                                                             op_name)
        return named[_var_key(var)]

    def _zeros_slot(self, var: Variable, slot_name: str, op_name: str) -> Variable:
        named = self._slot_dict(slot_name)
        if _var_key(var) not in named:
            named[_var_key(var)] = slot_creator.create_zeros_slot(var, op_name)
        return named[_var_key(var)]

    def _create_non_slot_variable(self, initial_value: Any, name: str, colocate_with: Variable) -> Variable:
        """A variable of the optimizer itself (e.g. Adam's beta1_power), one per graph."""
        graph = colocate_with.graph
        key = (name, graph)
        v = self._non_slot_dict.get(key)
        if v is None:
            with graph.as_default(), graph.colocate_with(colocate_with.op):
                v = Variable(initial_value, name=name, trainable=False)
            self._non_slot_dict[key] = v
        return v

    def _get_non_slot_variable(self, name: str, graph: Any = None) -> Variable | None:
        return self._non_slot_dict.get((name, graph or get_default_graph()))

    def _non_slot_variables(self) -> list[Variable]:
        return list(self._non_slot_dict.values())

    # -- hooks for subclasses -----------------------------------------------------------------------------
    def _valid_dtypes(self) -> set:
        return {_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64}

    def _assert_valid_dtypes(self, tensors: list) -> None:
        valid = self._valid_dtypes()
        for t in tensors:
            dtype = t.dtype.base_dtype
            if dtype not in valid:
                raise ValueError(f"Invalid type {dtype.name} for {t.name}, expected: "
                                 f"{[v.name for v in sorted(valid, key=lambda d: d.name)]}.")

    def _create_slots(self, var_list: list) -> None:
        """Creates the slot variables of `var_list` (none by default)."""

    def _prepare(self) -> None:
        """Converts the hyperparameters to tensors, once per apply_gradients."""

    def _apply_dense(self, grad: Tensor, var: Variable) -> Any:
        raise NotImplementedError()

    def _apply_sparse_duplicate_indices(self, grad: IndexedSlices, var: Variable) -> Any:
        # The sparse kernels sum duplicate indices themselves, so the IndexedSlices go through unchanged.
        return self._apply_sparse(grad, var)

    def _apply_sparse(self, grad: IndexedSlices, var: Variable) -> Any:
        raise NotImplementedError()

    def _finish(self, update_ops: list, name_scope: str) -> Operation:
        from labflow.ops.control_flow_ops import group
        return group(*update_ops, name=name_scope)

    @staticmethod
    def _call_if_callable(param: Any) -> Any:
        return param() if callable(param) else param


def _flatten(x: Any):
    if isinstance(x, (list, tuple, set)):
        for i in x:
            yield from _flatten(i)
    elif isinstance(x, dict):
        for i in x.values():
            yield from _flatten(i)
    else:
        yield x


def hyper(value: Any, name: str) -> Tensor:
    """A hyperparameter (float, Tensor or callable returning one) as a tensor named `name`."""
    return convert_to_tensor(Optimizer._call_if_callable(value), name=name)

