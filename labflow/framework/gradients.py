"""Symbolic differentiation: `tf.gradients` walks the graph backwards, building gradient ops.

Gradient functions live next to their ops (`@kernel.grad`); this module only schedules them,
aggregates contributions (AddN, IndexedSlices concatenation) and owns `unbroadcast`, the ONE place
where a broadcast gradient is summed back to its input's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework import registry
from labflow.framework.gradient_options import (
    UnconnectedGradients,
    as_unconnected_gradients,
    check_aggregation_method,
)
from labflow.framework.graph import _graph_of
from labflow.framework.tensor import IndexedSlices, Operation, Tensor


def _op(g, op_type: str, inputs: list, attrs: dict | None = None, name: str | None = None) -> Operation:
    return g.create_op(op_type, inputs, attrs=attrs, name=name)


def _const(g, value: Any, dtype: Any = None) -> Tensor:
    from labflow.framework.convert import make_const
    return make_const(value, dtype, graph=g)


def _static_axes(xd: tuple, od: tuple | None, gd: tuple | None) -> list[int] | None:
    """The axes a gradient shaped like broadcast(x, other) sums over to give x's shape, when the static
    shapes decide them; None when one depends on a dimension known only at run time.

    An unknown dimension of x is never broadcast when `other` lacks that axis or has size 1 there (the
    result's dimension is x's own), so `h + b` with h [?, 1024] and b [1024] needs no run-time shape
    logic on either side. An axis where x has size 1 is summed whenever the result may be wider (a sum
    over an axis that turns out to have size 1 changes nothing).
    """
    n = max(len(xd), len(od)) if od is not None else (len(gd) if gd is not None else None)
    if n is None or (gd is not None and len(gd) != n) or len(xd) > n:
        return None
    lead = n - len(xd)
    axes = list(range(lead))
    for i, d in enumerate(xd):
        o = None if od is None or lead + i - (n - len(od)) < 0 else od[lead + i - (n - len(od))]
        other_missing = od is not None and lead + i < n - len(od)
        if d is None:
            if not (other_missing or o == 1):
                return None
        elif d == 1 and not (other_missing or o == 1 or (gd is not None and gd[lead + i] == 1)):
            axes.append(lead + i)
    return axes


def unbroadcast(grad: Any, x: Tensor, other: Tensor | None = None) -> Any:
    """Sums `grad` (shaped like a broadcast result) back to the shape of `x`.

    `other` is the operand x was broadcast against, when the op has one. Uses static shapes when they
    decide the axes (no extra ops when nothing was broadcast, even with an unknown batch dimension),
    else BroadcastGradientArgs on the dynamic shapes.
    """
    if grad is None:
        return None
    if isinstance(grad, IndexedSlices):
        grad = densify(grad)
    g = grad.graph
    gd, xd = grad._shape_dims, x._shape_dims
    if other is x:  # x op x: nothing is broadcast
        return grad
    od = other._shape_dims if other is not None else None
    axes = None
    if xd is not None and gd is not None and all(d is not None for d in xd) and len(gd) >= len(xd):
        lead = len(gd) - len(xd)
        axes = list(range(lead)) + [lead + i for i, d in enumerate(xd) if d == 1 and gd[lead + i] != 1]
    elif xd is not None and other is not None:
        axes = _static_axes(xd, od, gd)
    if axes is not None:
        lead = (len(gd) if gd is not None else max(len(xd), len(od))) - len(xd)
        squeezed = [a for a in axes if a >= lead]
        # Summing away a size-1 axis of x needs a Reshape back: static only with <= 1 unknown dimension.
        if not squeezed or sum(d is None for d in xd) <= 1:
            out = grad
            if axes:
                out = _op(g, "Sum", [grad, _const(g, np.array(axes, np.int32))], {"keep_dims": False})._outputs[0]
            if squeezed or (None not in xd and out._shape_dims != xd):
                target = [-1 if d is None else d for d in xd]
                out = _op(g, "Reshape", [out, _const(g, np.array(target, np.int32))])._outputs[0]
            return out
    sx = _op(g, "Shape", [x], {"out_type": _dt.int32})._outputs[0]
    sg = _op(g, "Shape", [grad], {"out_type": _dt.int32})._outputs[0]
    rx = _op(g, "BroadcastGradientArgs", [sx, sg])._outputs[0]
    summed = _op(g, "Sum", [grad, rx], {"keep_dims": False})._outputs[0]
    out = _op(g, "Reshape", [summed, sx])._outputs[0]
    if xd is not None:
        out._shape_dims = xd
    return out


def densify(value: IndexedSlices) -> Tensor:
    """An IndexedSlices as a dense tensor (rows scattered and summed into zeros)."""
    g = value.values.graph
    ds = value.dense_shape
    if ds is None:
        raise ValueError(f"Cannot densify IndexedSlices {value!r} without a dense_shape.")
    return _op(g, "_IndexedSlicesToDense", [value.values, value.indices, ds])._outputs[0]


def _aggregate(g, grads: list, dtype: _dt.DType) -> Any:
    grads = [x for x in grads if x is not None]
    if not grads:
        return None
    if len(grads) == 1:
        return grads[0]
    if all(isinstance(x, IndexedSlices) for x in grads):
        # Sparse contributions stay sparse: concatenate rows and indices.
        axis = _const(g, 0)
        vals = _op(g, "ConcatV2", [x.values for x in grads] + [axis], {"N": len(grads)})._outputs[0]
        idx = _op(g, "ConcatV2", [x.indices for x in grads] + [axis], {"N": len(grads)})._outputs[0]
        return IndexedSlices(vals, idx, grads[0].dense_shape)
    if dtype.base_dtype == _dt.variant:  # gradients of a TensorArray's list: added element by element
        return _op(g, "TensorListAddN", grads)._outputs[0]
    dense = [densify(x) if isinstance(x, IndexedSlices) else x for x in grads]
    return _op(g, "AddN", dense, {"N": len(dense)})._outputs[0]


def _as_x_tensor(x: Any) -> Tensor:
    if hasattr(x, "_ref"):
        return x._ref()
    if hasattr(x, "_as_graph_element"):
        x = x._as_graph_element()
    if not isinstance(x, Tensor):
        raise TypeError(f"gradients(): xs must be Tensors or Variables, got {x!r}")
    return x


def gradients(ys: Any, xs: Any, grad_ys: Any = None, name: str = "gradients",
              colocate_gradients_with_ops: bool = False, gate_gradients: bool = False,
              aggregation_method: Any = None, stop_gradients: Any = None,
              unconnected_gradients: Any = UnconnectedGradients.NONE) -> list:
    """Symbolic derivatives of sum(ys) w.r.t. each of `xs` (TF 1.x `tf.gradients`).

    `aggregation_method` must be None or a `tf.AggregationMethod` constant (all give the same sums).
    `unconnected_gradients` ("none" / "zero" or a `tf.UnconnectedGradients`) says what an x that does
    not affect ys gets: None, or zeros shaped like x.

    Returns a list with one entry per x: a Tensor, an IndexedSlices (sparse, e.g. through gather), or
    None when x does not affect ys (zeros with UnconnectedGradients.ZERO).
    """
    from labflow.framework.convert import convert_to_tensor
    check_aggregation_method(aggregation_method)
    unconnected_gradients = as_unconnected_gradients(unconnected_gradients)
    ys = list(ys) if isinstance(ys, (list, tuple)) else [ys]
    xs = list(xs) if isinstance(xs, (list, tuple)) else [xs]
    ys = [convert_to_tensor(y) for y in ys]
    xs = [_as_x_tensor(x) for x in xs]
    g = _graph_of(*ys, *xs)
    if grad_ys is None:
        grad_ys = [None] * len(ys)
    elif not isinstance(grad_ys, (list, tuple)):
        grad_ys = [grad_ys]
    if len(grad_ys) != len(ys):
        raise ValueError(f"Passed {len(grad_ys)} grad_ys for {len(ys)} ys")
    stops = set()
    for s in (stop_gradients if isinstance(stop_gradients, (list, tuple)) else
              [stop_gradients] if stop_gradients is not None else []):
        stops.add(_as_x_tensor(s).op)

    with g.name_scope(name):
        # Ops on a path from some x to some y.
        reach_fwd: set[Operation] = set()
        stack = [x.op for x in xs]
        while stack:
            op = stack.pop()
            if op in reach_fwd:
                continue
            reach_fwd.add(op)
            for t in op._outputs:
                for c in t._consumers:
                    if c not in reach_fwd:
                        stack.append(c)
        between: set[Operation] = set()
        stack = [y.op for y in ys]
        while stack:
            op = stack.pop()
            if op in between or op not in reach_fwd:
                continue
            between.add(op)
            if op in stops:
                continue
            for t in op._inputs:
                stack.append(t.op)
        # Pending counts: consumers inside `between` per op.
        pending: dict[Operation, int] = {op: 0 for op in between}
        for op in between:
            if op in stops:
                continue
            for t in op._inputs:
                if t.op in between:
                    pending[t.op] += 1

        out_grads: dict[Tensor, list] = {}
        for y, gy in zip(ys, grad_ys):
            if gy is None:
                if not y.dtype.is_floating and not y.dtype.is_complex:
                    raise TypeError(f"Gradients of an integer tensor ({y.name}, {y.dtype.name}) are not "
                                    "defined: cast it to a floating type first.")
                gy = _op(g, "OnesLike", [y])._outputs[0]
            else:
                gy = convert_to_tensor(gy, dtype=y.dtype.base_dtype)
            out_grads.setdefault(y, []).append(gy)

        ready = [op for op in between if pending[op] == 0]
        ready.sort(key=lambda o: -o._id)
        done: set[Operation] = set()
        while ready:
            op = ready.pop()
            if op in done:
                continue
            done.add(op)
            grads = []
            for t in op._outputs:
                agg = _aggregate(g, out_grads.get(t, []), t.dtype)
                if agg is not None and t in out_grads:
                    out_grads[t] = [agg]
                grads.append(agg)
            in_grads = [None] * len(op._inputs)
            feeds_back = op not in stops and any(t.op in between for t in op._inputs)
            if feeds_back and any(x is not None for x in grads):
                in_grads = _call_grad(g, op, grads)
            for t, gi in zip(op._inputs, in_grads):
                if t.op not in between or op in stops:
                    continue
                if gi is not None:
                    if isinstance(gi, Tensor) and gi.dtype.base_dtype != t.dtype.base_dtype \
                            and t.dtype.base_dtype.is_floating:
                        gi = _op(g, "Cast", [gi], {"DstT": t.dtype.base_dtype, "SrcT": gi.dtype.base_dtype}
                                 )._outputs[0]
                    out_grads.setdefault(t, []).append(gi)
                pending[t.op] -= 1
                if pending[t.op] == 0:
                    ready.append(t.op)
            ready.sort(key=lambda o: -o._id)

        result = []
        for x in xs:
            result.append(_aggregate(g, out_grads.get(x, []), x.dtype))
    if unconnected_gradients is UnconnectedGradients.ZERO:
        result = [_op(g, "ZerosLike", [x], name="zeros_like")._outputs[0] if r is None else r
                  for x, r in zip(xs, result)]
    return result


def _call_grad(g, op: Operation, grads: list) -> list:
    opdef = op._opdef
    # gradient_override_map stamps `_gradient_op_type` on ops created inside it (TF's mechanism).
    override = op._attrs.get("_gradient_op_type")
    if override:
        fn = registry.gradient_function(override)
        if fn is None:
            raise LookupError(f"No gradient registered under '{override}' (requested for op '{op.name}' by "
                              "gradient_override_map): define it with @tf.RegisterGradient(name).")
    else:
        fn = opdef.grad_fn
    if fn is registry.NOT_DIFFERENTIABLE or fn is None:
        return [None] * len(op._inputs)
    if any(x is None for x in grads):
        # Ops with several outputs get zeros for the outputs nothing depended on.
        grads = [x if x is not None or t.dtype.base_dtype == _dt.variant else _op(g, "ZerosLike", [t])._outputs[0]
                 for x, t in zip(grads, op._outputs)]
    prev = g._gradient_forward_op
    g._gradient_forward_op = op
    try:
        with g.name_scope(op.name + "_grad"):
            res = fn(op, *grads)
    finally:
        g._gradient_forward_op = prev
    res = list(res) if isinstance(res, (list, tuple)) else [res]
    if len(res) != len(op._inputs):
        raise ValueError(f"Gradient function for op '{op.name}' (type {op.type}) returned {len(res)} "
                         f"gradients, expected {len(op._inputs)}")
    return res


def hessians(ys: Any, xs: Any, name: str = "hessians", colocate_gradients_with_ops: bool = False,
             gate_gradients: bool = False, aggregation_method: Any = None) -> list:
    """The Hessian of sum(ys) w.r.t. each x in `xs` (TF 1.x `tf.hessians`), shaped x.shape + x.shape.

    Row j is the gradient of the j-th element of the flattened first derivative. TF builds the rows in
    a while_loop; labflow unrolls them (one gradient per element of x), so each x needs a static number
    of elements.

    Raises:
        ValueError: an x whose number of elements is unknown at graph construction.
    """
    from labflow.ops import array_ops
    xs = list(xs) if isinstance(xs, (list, tuple)) else [xs]
    kwargs = {"colocate_gradients_with_ops": colocate_gradients_with_ops, "gate_gradients": gate_gradients,
              "aggregation_method": aggregation_method}
    out = []
    first = gradients(ys, xs, **kwargs)
    for grad, x in zip(first, xs):
        xt = _as_x_tensor(x)
        xd = xt._shape_dims
        if xd is None or None in xd:
            raise ValueError(f"tf.hessians needs the static shape of {xt.name}, got "
                             f"{'unknown rank' if xd is None else list(xd)}: labflow unrolls the Hessian's "
                             "rows. Give the tensor a fully defined shape (e.g. with set_shape).")
        if grad is None:
            out.append(None)
            continue
        g = xt.graph
        with g.name_scope(name):
            flat = array_ops.reshape(grad, [-1])
            n = int(np.prod(xd, dtype=np.int64))
            rows = []
            for j in range(n):
                row = gradients(flat[j], x, unconnected_gradients=UnconnectedGradients.ZERO, **kwargs)[0]
                rows.append(array_ops.reshape(densify(row) if isinstance(row, IndexedSlices) else row, [-1]))
            out.append(array_ops.reshape(array_ops.stack(rows), list(xd) + list(xd)))
    return out
