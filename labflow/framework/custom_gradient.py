"""`tf.custom_gradient` and `tf.recompute_grad` in graph mode (TF 1.x's custom_gradient.py).

The decorated function's outputs, its inputs and the variables it reads pass through one IdentityN
whose gradient is overridden with a gradient registered under a fresh name ("CustomGradient-<n>"), as
TF does: tf.gradients then calls the user's grad_fn instead of walking the function's own ops.
"""

from __future__ import annotations

import functools
import inspect
import itertools
from typing import Any, Callable

from labflow.framework import nest, registry
from labflow.framework.convert import convert_to_tensor
from labflow.framework.graph import GraphKeys, get_default_graph
from labflow.framework.tensor import Tensor

__all__ = ["custom_gradient", "recompute_grad"]

_uid = itertools.count(1)
_VAR_OP_TYPES = ("VariableV2", "Variable", "VarHandleOp")


def custom_gradient(f: Callable | None = None) -> Callable:
    """Decorator: `f(*x)` returns `(y, grad_fn)` and `grad_fn(*dy)` gives the gradients w.r.t. x.

    `y` is a tensor or a nested structure of tensors; `grad_fn` takes one gradient per flattened y and
    returns one gradient per x (a tensor or a list). When `f` reads variables (not passed as inputs),
    `grad_fn` must accept the keyword argument `variables` and return `(grads_wrt_x, grads_wrt_vars)`,
    one gradient per variable in the order of `variables`.

    Example::

        @tf.custom_gradient
        def log1pexp(x):
            e = tf.exp(x)
            def grad(dy):
                return dy * (1 - 1 / (1 + e))
            return tf.log(1 + e), grad

    Raises (when the decorated function is called):
        ValueError: keyword arguments (graph mode takes positional tensors only, as in TF).
        TypeError: `f` reads variables but `grad_fn` has no `variables` parameter.
    """
    if f is None:
        return custom_gradient

    @functools.wraps(f)
    def decorated(*args: Any, **kwargs: Any) -> Any:
        if kwargs:
            raise ValueError("The custom_gradient decorator currently supports keywords arguments only when "
                             "eager execution is enabled.")
        return _graph_mode_decorator(f, args)
    return decorated


def _dependent_variables(inputs: list, outputs: list) -> list:
    """The Variables whose VariableV2 ops feed `outputs` without passing through `inputs`."""
    stop = {id(t) for t in inputs}
    seen: set = set()
    var_ops: set = set()
    stack = [t.op for t in outputs if id(t) not in stop]
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        if op.type in _VAR_OP_TYPES:
            var_ops.add(op.name)
        stack.extend(t.op for t in op._inputs if id(t) not in stop)
    if not var_ops:
        return []
    g = get_default_graph()
    found = {}
    for v in g.get_collection(GraphKeys.GLOBAL_VARIABLES) + g.get_collection(GraphKeys.LOCAL_VARIABLES):
        if v.op.name in var_ops:
            found.setdefault(v.op.name, v)
    return list(found.values())


def _accepts_variables(fn: Callable) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "variables" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _graph_mode_decorator(f: Callable, args: tuple) -> Any:
    from labflow.ops.array_seq_ops import identity_n
    name = f"CustomGradient-{next(_uid)}"
    args = nest.map_structure(convert_to_tensor, args)
    result, grad_fn = f(*args)
    flat_args = nest.flatten(args)
    flat_result = [convert_to_tensor(t) for t in nest.flatten(result)]
    n_result = len(flat_result)
    if not callable(grad_fn):
        raise TypeError(f"@custom_gradient function {getattr(f, '__name__', f)} must return (outputs, grad_fn) "
                        f"with a callable grad_fn, got {grad_fn!r}")
    variables = sorted(_dependent_variables(flat_args, flat_result), key=lambda v: v.name)
    takes_variables = _accepts_variables(grad_fn)
    if variables and not takes_variables:
        raise TypeError("@tf.custom_gradient grad_fn must accept keyword argument 'variables', since function "
                        f"uses variables: {[v.name for v in variables]}")

    def internal_grad_fn(unused_op: Any, *result_grads: Any) -> list:
        result_grads = result_grads[:n_result]
        if variables:
            input_grads, variable_grads = grad_fn(*result_grads, variables=variables)
            variable_grads = list(variable_grads)
            if len(variable_grads) != len(variables):
                raise ValueError("Must return gradient for each variable from @custom_gradient grad_fn: got "
                                 f"{len(variable_grads)} for {len(variables)} variables.")
        else:
            input_grads = grad_fn(*result_grads)
            variable_grads = []
        input_grads = nest.flatten(input_grads)
        if len(input_grads) != len(flat_args):
            raise ValueError(f"@custom_gradient grad_fn of {getattr(f, '__name__', f)} returned "
                             f"{len(input_grads)} gradients for {len(flat_args)} inputs: return one per input "
                             "(None where an input gets none).")
        # One gradient per IdentityN input: none for the outputs, whose own ops are bypassed.
        return [None] * n_result + input_grads + variable_grads

    registry.register_gradient(name)(internal_grad_fn)
    all_tensors = flat_result + [convert_to_tensor(t) for t in flat_args] + [v.value() for v in variables]
    g = all_tensors[0].graph if all_tensors and isinstance(all_tensors[0], Tensor) else get_default_graph()
    with g.gradient_override_map({"IdentityN": name}):
        outs = identity_n(all_tensors)
    return nest.pack_sequence_as(result, outs[:n_result])


def recompute_grad(f: Callable) -> Callable:
    """Decorator: `f`'s activations are recomputed in the backward pass instead of being kept.

    The gradient calls `f` again on the inputs (after the output gradients exist, so its ops run late)
    and differentiates that copy. Variables made with `tf.get_variable` inside `f` are reused by the
    second call (it re-enters the forward call's variable scope with reuse=True); `f` must not create
    variables with `tf.Variable`.
    """
    @functools.wraps(f)
    def decorated(*args: Any, **kwargs: Any) -> Any:
        from labflow.ops import variable_scope as vs

        scope = vs.get_variable_scope()

        @custom_gradient
        def inner(*xs: Any) -> Any:
            result = f(*xs, **kwargs)

            def grad(*dresult: Any, variables: Any = None) -> Any:
                from labflow.framework.gradients import gradients
                from labflow.ops import array_ops
                g = get_default_graph()
                id_args = [array_ops.identity(x) for x in xs]
                with g.control_dependencies([d.op for d in dresult if isinstance(d, Tensor)]):
                    with vs.variable_scope(scope, reuse=True), g.name_scope("recompute"):
                        again = f(*id_args, **kwargs)
                var_list = list(variables or [])
                grads = gradients(nest.flatten(again), id_args + var_list, grad_ys=list(dresult))
                if variables is None:
                    return grads[:len(id_args)]
                return grads[:len(id_args)], grads[len(id_args):]
            return result, grad
        return inner(*args)
    return decorated
