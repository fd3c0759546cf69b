"""`tf.cond`, `tf.case` and `tf.while_loop` (TF 1.x signatures), built as If and While ops.

Each branch, the loop condition and the loop body are traced once into a FuncGraph by calling the
user's function; tensors of the enclosing graph used inside are captured (become op inputs). Only the
taken branch runs; ops a branch creates (an assign, a print) run only when it is taken, as in TF.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from labflow import dtypes as _dt
from labflow.framework import nest
from labflow.framework.func_graph import FuncGraph
from labflow.framework.graph import _graph_of, get_default_graph
from labflow.framework.shapes import TensorShape, as_shape
from labflow.framework.tensor import IndexedSlices, Operation, Tensor
from labflow.ops.common import convert_to_tensor

__all__ = ["cond", "case", "while_loop"]


def _to_tensor(x: Any) -> Any:
    if isinstance(x, Operation):
        return x
    if isinstance(x, IndexedSlices):
        from labflow.framework.gradients import densify
        return densify(x)
    return convert_to_tensor(x)


def _trace(outer: Any, name: str, fn: Callable, args: tuple = (), what: str = "function") -> tuple:
    """Calls `fn(*args)` while building a FuncGraph; returns (graph, result structure, flat results)."""
    fg = FuncGraph(name, outer)
    with fg.as_default():
        phs = [fg.add_input(t.dtype.base_dtype, shape, f"arg_{i}") for i, (t, shape) in enumerate(args)]
        result = fn(*phs) if args else fn()
        if result is None:
            raise ValueError(f"{what} must return a value (a tensor, an op, or a structure of them); it "
                             "returned None")
        flat = [_to_tensor(x) for x in nest.flatten(result)]
        # a result that is an outer tensor (`lambda: x`) comes through the function as a capture
        flat = [fg.capture(x) if isinstance(x, Tensor) and x.graph is not fg else x for x in flat]
        flat = [_local_op(fg, x) if isinstance(x, Operation) and x.graph is not fg else x for x in flat]
    fg.control_outputs = [x for x in flat if isinstance(x, Operation)]
    fg.outputs = [x for x in flat if isinstance(x, Tensor)]
    return fg, result, flat


def _local_op(fg: FuncGraph, op: Operation) -> Operation:
    """An op of an outer graph returned by a branch: a NoOp here that waits for it (the calling op does)."""
    from labflow.ops.control_flow_ops import no_op
    with fg.control_dependencies([op]):
        return no_op()


def _as_arrays(values: list, arrays: dict) -> list:
    """Loop values with the TensorArray positions re-wrapped around their lists (shape and dtype as given)."""
    if not arrays:
        return values
    return [arrays[i]._with(v) if i in arrays else v for i, v in enumerate(values)]


def _one_element(x: Any) -> bool:
    """A plain list or tuple of exactly one element (not a namedtuple)."""
    return isinstance(x, (list, tuple)) and not hasattr(x, "_fields") and len(x) == 1


def _merged_dims(a: tuple | None, b: tuple | None) -> tuple | None:
    if a is None or b is None or len(a) != len(b):
        return None
    return tuple(x if x == y else None for x, y in zip(a, b))


def _check_pred(pred: Any, what: str = "pred") -> Tensor:
    if isinstance(pred, bool):
        raise TypeError(f"{what} must not be a Python bool: use a bool Tensor (or Python's if statement)")
    pred = convert_to_tensor(pred)
    if pred.dtype.base_dtype != _dt.bool:
        raise TypeError(f"{what} must be a bool Tensor, got dtype {pred.dtype.base_dtype.name} ({pred.name})")
    if pred._shape_dims is not None and len(pred._shape_dims) != 0:
        raise ValueError(f"{what} must be a scalar, got shape {TensorShape(pred._shape_dims)} ({pred.name})")
    return pred


def cond(pred: Any, true_fn: Callable | None = None, false_fn: Callable | None = None, strict: bool = False,
         name: str | None = None, fn1: Callable | None = None, fn2: Callable | None = None) -> Any:
    """Returns `true_fn()` if `pred` is true else `false_fn()` (TF 1.x `tf.cond`).

    Args:
        pred: a scalar bool Tensor.
        true_fn, false_fn: callables returning the same structure of tensors (same dtypes) or ops.
        strict: accepted for TF compatibility (structures are always returned as the functions return them,
            except that a single-element list is unpacked as TF 1.x does when strict is False).
        name: the op name (default "cond").
        fn1, fn2: TF's deprecated names of true_fn and false_fn.

    Returns:
        The taken branch's results, with static shapes where both branches agree.

    Raises:
        TypeError: a Python bool or non-bool predicate, a non-callable branch, branches returning different
            structures or dtypes.
    """
    true_fn = true_fn if true_fn is not None else fn1
    false_fn = false_fn if false_fn is not None else fn2
    if not callable(true_fn):
        raise TypeError("true_fn must be callable.")
    if not callable(false_fn):
        raise TypeError("false_fn must be callable.")
    pred = _check_pred(pred)
    g = _graph_of(pred)
    with g.name_scope(name or "cond") as scope:
        then_fg, then_res, then_flat = _trace(g, scope + "true_branch", true_fn, what="true_fn")
        else_fg, else_res, else_flat = _trace(g, scope + "false_branch", false_fn, what="false_fn")
        try:
            nest.assert_same_structure(then_res, else_res, check_types=False)
        except (ValueError, TypeError) as e:
            raise ValueError(f"true_fn and false_fn must return the same structure: {e}") from None
        for a, b in zip(then_flat, else_flat):
            if isinstance(a, Operation) != isinstance(b, Operation):
                raise TypeError(f"true_fn and false_fn must return an op or a tensor at the same positions: "
                                f"{a!r} vs {b!r}")
            if isinstance(a, Tensor) and a.dtype.base_dtype != b.dtype.base_dtype:
                raise TypeError(f"Outputs of true_fn and false_fn must have the same type: "
                                f"{a.dtype.base_dtype.name}, {b.dtype.base_dtype.name}")
        # One argument list for both branches: every tensor either branch captured, in one order.
        outer = []
        for fg in (then_fg, else_fg):
            for t in fg.captured_outer:
                if t not in outer:
                    outer.append(t)
        for fg in (then_fg, else_fg):
            fg.inputs = [fg.capture(t) for t in outer]
        tensors = [(a, b) for a, b in zip(then_flat, else_flat) if isinstance(a, Tensor)]
        attrs = {"then_branch": then_fg, "else_branch": else_fg,
                 "Tout": [a.dtype.base_dtype for a, _ in tensors],
                 "output_shapes": [TensorShape(_merged_dims(a._shape_dims, b._shape_dims)) for a, b in tensors],
                 "record": [[], []]}
        control = list(dict.fromkeys(then_fg.outer_control + else_fg.outer_control))
        op = g.create_op("If", [pred] + outer, attrs=attrs, name=scope, control_inputs=control or None)
    outs = iter(op.outputs[:-1])
    flat = [op if isinstance(a, Operation) else next(outs) for a in then_flat]
    result = nest.pack_sequence_as(then_res, flat)
    if not strict and isinstance(result, (list, tuple)) and len(result) == 1 and not hasattr(result, "_fields"):
        return result[0]
    return result


def case(pred_fn_pairs: Any, default: Callable | None = None, exclusive: bool = False, strict: bool = False,
         name: str = "case") -> Any:
    """The function of the first true predicate, else `default` (TF 1.x `tf.case`).

    Args:
        pred_fn_pairs: a list of (bool scalar Tensor, callable) pairs (or an ordered dict).
        default: the callable when no predicate holds; None makes the last pair's callable the default (TF's
            rule: its predicate is then not evaluated).
        exclusive: check at run time that at most one predicate is true (InvalidArgumentError otherwise).
        strict: as in `cond`.
        name: the name scope.

    Raises:
        TypeError: malformed pairs.
    """
    pairs = list(pred_fn_pairs.items()) if isinstance(pred_fn_pairs, dict) else list(pred_fn_pairs)
    if not pairs:
        raise ValueError("pred_fn_pairs must not be empty")
    for p in pairs:
        if not isinstance(p, (tuple, list)) or len(p) != 2 or not callable(p[1]):
            raise TypeError(f"Each entry in pred_fn_pairs must be a 2-tuple (pred, callable), got {p!r}")
    g = get_default_graph()
    with g.name_scope(name) as scope:
        preds = [_check_pred(p, "case predicate") for p, _ in pairs]
        fns = [f for _, f in pairs]
        if default is None:  # TF: the last function becomes the default
            default, fns, preds = fns[-1], fns[:-1], preds[:-1]
        deps = []
        if exclusive and len(preds) > 1:
            from labflow.ops import logging_ops, math_ops
            from labflow.ops.array_join_ops import stack
            from labflow.ops.compare_ops import cast, less_equal
            count = math_ops.add_n([cast(p, _dt.int32) for p in preds])
            deps = [logging_ops.Assert(less_equal(count, 1), [
                "Input error: exclusive=True in tf.case, but more than one predicate is true:",
                stack(preds)], name="exclusive_check")]

        def chain(i: int) -> Callable:
            if i == len(preds):
                return default
            return lambda: cond(preds[i], fns[i], chain(i + 1), strict=strict, name=f"case_{i}")

        with g.control_dependencies(deps):
            out = chain(0)()
        del scope
        return out


def while_loop(cond: Callable, body: Callable, loop_vars: Any, shape_invariants: Any = None,
               parallel_iterations: int = 10, back_prop: bool = True, swap_memory: bool = False,
               name: str | None = None, maximum_iterations: Any = None, return_same_structure: bool = False) -> Any:
    """Repeats `loop_vars = body(*loop_vars)` while `cond(*loop_vars)` (TF 1.x `tf.while_loop`).

    Args:
        cond: a callable returning a scalar bool tensor.
        body: a callable returning loop variables of the same structure and dtypes.
        loop_vars: a tensor or (nested) tuple/list of tensors.
        shape_invariants: the shapes the loop variables may take across iterations (default: their
            shapes before the loop; use None dimensions, e.g. `tf.TensorShape([None, 2])`, for ones that grow).
        parallel_iterations, swap_memory: accepted for TF compatibility (iterations run one after another).
        back_prop: whether gradients flow through the loop.
        name: the op name (default "while").
        maximum_iterations: stop after at most this many iterations (an int or int32 scalar tensor).
        return_same_structure: return the structure of loop_vars even for a single loop variable.

    Returns:
        The loop variables after the last iteration.

    Raises:
        TypeError / ValueError: as TF: non-callables, body results of another structure, dtype or shape.
    """
    if not callable(cond):
        raise TypeError("cond must be callable.")
    if not callable(body):
        raise TypeError("body must be callable.")
    if parallel_iterations < 1:
        raise TypeError("parallel_iterations must be a positive integer.")
    single = not nest.is_nested(loop_vars)
    structure = [loop_vars] if single else loop_vars
    from labflow.ops.tensor_array_ops import TensorArray
    leaves = nest.flatten(structure)
    arrays = {i: x for i, x in enumerate(leaves) if isinstance(x, TensorArray)}  # carried as their lists
    flat = [x.flow if i in arrays else _to_tensor(x) for i, x in enumerate(leaves)]
    if not flat:
        raise ValueError("No loop variables provided")
    if any(isinstance(x, Operation) for x in flat):
        raise TypeError("loop_vars must be tensors (or values convertible to tensors), not ops")
    if shape_invariants is None:
        invariants = [t._shape_dims for t in flat]
    else:
        inv = [shape_invariants] if single else shape_invariants
        invariants = [as_shape(s).as_tuple() for s in nest.flatten(inv)] if nest.is_nested(inv) else None
        if invariants is not None:
            invariants = [() if i in arrays else s for i, s in enumerate(invariants)]
        if invariants is None or len(invariants) != len(flat):
            raise ValueError("shape_invariants must have the same structure as loop_vars")
        for t, s in zip(flat, invariants):
            if not TensorShape(t._shape_dims).is_compatible_with(TensorShape(s)):
                raise ValueError(f"The shape invariant specified for {t.name} is not compatible with the initial "
                                 f"shape of the loop variable. It enters the loop with shape "
                                 f"{TensorShape(t._shape_dims)}, but the specified shape invariant is "
                                 f"{TensorShape(s)}.")
    g = _graph_of(*flat)
    with g.name_scope(name or "while") as scope:
        args = [(t, None if s is None else list(s)) for t, s in zip(flat, invariants)]

        def call(fn: Callable) -> Callable:
            return lambda *phs: fn(*nest.pack_sequence_as(structure, _as_arrays(list(phs), arrays)))

        body_arrays: dict[int, Any] = {}

        def body_flows(*phs: Any) -> Any:
            res = call(body)(*phs)
            res_leaves = nest.flatten([res] if single and not nest.is_nested(res) else res)
            for i, x in enumerate(res_leaves):
                if isinstance(x, TensorArray):
                    body_arrays[i] = x
            if not body_arrays:
                return res
            out = [x.flow if isinstance(x, TensorArray) else x for x in res_leaves]
            return nest.pack_sequence_as([res] if single and not nest.is_nested(res) else res, out)

        cond_fg, _, cond_flat = _trace(g, scope + "cond", call(cond), args, "cond")
        if len(cond_flat) != 1 or not isinstance(cond_flat[0], Tensor):
            raise TypeError("cond must return a single scalar bool tensor")
        _check_pred(cond_flat[0], "the result of cond")
        body_fg, body_res, body_flat = _trace(g, scope + "body", body_flows, args, "body")
        if single and nest.is_nested(body_res) and not nest.is_nested(loop_vars) and len(body_res) == 1:
            body_res = body_res[0]
        if single and nest.is_nested(body_res) and len(nest.flatten(body_res)) == 1:
            body_res = body_res[0] if isinstance(body_res, (list, tuple)) else body_res
        elif not single and _one_element(structure) and not _one_element(body_res):
            body_res = type(structure)([body_res])  # TF 1.x lets a body of one loop variable return it bare
        try:
            nest.assert_same_structure(structure, [body_res] if single else body_res, check_types=False)
        except (ValueError, TypeError) as e:
            raise ValueError(f"body must return the structure of loop_vars: {e}") from None
        for i, (t, out, s) in enumerate(zip(flat, body_flat, invariants)):
            if isinstance(out, Operation) or out.dtype.base_dtype != t.dtype.base_dtype:
                raise TypeError(f"Loop variable {i} enters the loop as {t.dtype.base_dtype.name} but body returns "
                                f"{getattr(out, 'dtype', out)!r}")
            if not TensorShape(out._shape_dims).is_compatible_with(TensorShape(s)) or (
                    s is not None and out._shape_dims is not None and len(s) != len(out._shape_dims)) or (
                    s is not None and out._shape_dims is None):
                raise ValueError(f"Input tensor '{t.name}' enters the loop with shape {TensorShape(s)}, but has "
                                 f"shape {TensorShape(out._shape_dims)} after one iteration. To allow the shape "
                                 "to vary across iterations, use the `shape_invariants` argument of "
                                 "tf.while_loop to specify a less-specific shape.")
        inputs = flat + cond_fg.captured_outer + body_fg.captured_outer
        has_max = maximum_iterations is not None
        if has_max:
            inputs.append(convert_to_tensor(maximum_iterations, dtype=_dt.int32, name="maximum_iterations"))
        attrs = {"cond": cond_fg, "body": body_fg, "T": [t.dtype.base_dtype for t in flat],
                 "Tout": [t.dtype.base_dtype for t in flat], "output_shapes": [TensorShape(s) for s in invariants],
                 "n_cond_captures": len(cond_fg.captures), "has_max": has_max, "record": [],
                 "back_prop": bool(back_prop)}
        control = list(dict.fromkeys(cond_fg.outer_control + body_fg.outer_control))
        op = g.create_op("While", inputs, attrs=attrs, name=scope, control_inputs=control or None)
    results = _as_arrays(op.outputs[:len(flat)], {i: body_arrays.get(i, a) for i, a in arrays.items()})
    if len(results) == 1 and not return_same_structure:  # TF 1.x: one loop variable comes back bare
        return results[0]
    packed = nest.pack_sequence_as(structure, results)
    return packed
