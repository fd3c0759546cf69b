"""TF1 conditional accumulators: gradients are summed until enough arrived, stale ones are dropped.

An accumulator has a global step. `apply_grad(grad, local_step)` adds `grad` unless `local_step` is
older than the accumulator's global step (a stale gradient: dropped silently, as TF does).
`take_grad(num_required)` blocks until `num_required` gradients were added, returns their mean (or sum
with reduction_type="SUM"), resets the sum and increments the global step. The handle is a `string_ref`
like a queue's: state lives in the device's ResourceMgr and every op using it is colocated with it.
SyncReplicasOptimizer builds one accumulator per variable on the variable's (parameter server) device.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import get_default_graph
from labflow.framework.registry import REQUIRED, op
from labflow.framework.shapes import TensorShape, as_shape
from labflow.framework.tensor import IndexedSlices, Operation, Tensor
from labflow.ops.common import NUMERIC_TYPES, convert_to_tensor, dims, no_outputs
from labflow.ops.data_flow_ops import check_handle
from labflow.ops.queue_runtime import handle_value, lookup_or_create, shape_debug, wait_until

__all__ = ["ConditionalAccumulatorBase", "ConditionalAccumulator", "SparseConditionalAccumulator"]

_COMMON = dict(stateful=True, not_differentiable=True, devices=("CPU",))


# -- run-time state ---------------------------------------------------------------------------------------
class AccumulatorState:
    """The state of one (dense or sparse) accumulator on its device."""

    def __init__(self, kind: str, name: str, container: str, dtype: _dt.DType, shape: tuple | None,
                 reduction_type: str):
        self.kind = kind
        self.name = name
        self.value = handle_value(container, name)
        self.dtype = np.dtype(dtype.as_numpy_dtype)
        self.shape = shape
        self.reduction_type = reduction_type
        self.signature = (kind, dtype.name, shape, reduction_type)
        self.cond = threading.Condition()
        self.global_step = 0
        self.counter = 0
        self.sum: Any = None  # dense: the summed gradient; sparse: (indices, values, per-index counts)
        self.dense_shape: Any = None  # sparse: the last known dense shape

    def check_compatible(self, signature: tuple) -> None:
        if signature != self.signature:
            raise errors.InvalidArgumentError(
                None, None, f"Shared accumulator '{self.name}' has a different definition: it is "
                f"{self.signature}, but a node requested {signature}.")

    def _check_shape(self, got: tuple, what: str) -> None:
        want = self.shape
        ok = want is None or (len(want) == len(got) and all(w is None or w < 0 or w == g for w, g in zip(want, got)))
        if not ok:
            raise errors.InvalidArgumentError(None, None, f"Shape mismatch: expected {shape_debug(want)}, got "
                                              f"{shape_debug(got)} ({what} applied to accumulator '{self.name}')")

    # -- dense ----------------------------------------------------------------------------------------------
    def apply_dense(self, local_step: int, grad: Any) -> None:
        with self.cond:
            if local_step < self.global_step:
                return  # stale: computed from variables older than the last update
            got = tuple(np.shape(grad))
            self._check_shape(got, "gradient")
            if self.counter > 0 and self.sum.shape != got:
                raise errors.InvalidArgumentError(None, None, f"Shape mismatch: expected "
                                                  f"{shape_debug(self.sum.shape)}, got {shape_debug(got)}")
            if self.counter == 0:
                self.sum = np.array(grad, dtype=self.dtype, copy=True)
            else:
                np.add(self.sum, grad, out=self.sum)
            self.counter += 1
            self.cond.notify_all()

    def _take(self, num_required: int, step: Any) -> int:
        """Waits for `num_required` gradients (cond held), advances the step; returns the count."""
        if num_required < 1:
            raise errors.InvalidArgumentError(None, None, f"Argument num_required must be positive, but was "
                                              f"{num_required}")
        wait_until(self.cond, lambda: self.counter >= num_required, step)
        self.global_step += 1
        n = self.counter
        self.counter = 0
        return n

    def take_dense(self, num_required: int, step: Any) -> np.ndarray:
        with self.cond:
            n = self._take(num_required, step)
            out, self.sum = self.sum, None
            self.cond.notify_all()
        if self.reduction_type == "MEAN":
            out = (out / n).astype(self.dtype, copy=False)  # integers truncate toward zero, like TF's
        return out

    # -- sparse ---------------------------------------------------------------------------------------------
    def apply_sparse(self, local_step: int, indices: Any, values: Any, shape: Any, has_known_shape: bool) -> None:
        with self.cond:
            if local_step < self.global_step:
                return
            indices = np.asarray(indices, dtype=np.int64).reshape(-1)
            values = np.asarray(values, dtype=self.dtype)
            if values.ndim == 0 or values.shape[0] != indices.size:
                raise errors.InvalidArgumentError(
                    None, None, f"Shape mismatch: gradient values have shape {shape_debug(values.shape)} but "
                    f"there are {indices.size} indices (accumulator '{self.name}')")
            if has_known_shape:
                shape = tuple(int(d) for d in np.reshape(shape, [-1]))
                if self.shape:  # a rank-0 accumulator shape means "any shape" (SyncReplicasOptimizer uses ())
                    self._check_shape(shape, "gradient_shape")
                if shape[1:] != values.shape[1:]:
                    raise errors.InvalidArgumentError(
                        None, None, f"Shape mismatch: gradient_shape {shape_debug(shape)} does not match values "
                        f"of shape {shape_debug(values.shape)} (accumulator '{self.name}')")
                self.dense_shape = shape
            if self.counter == 0 or self.sum is None:
                all_idx, all_val, all_cnt = indices, values, np.ones(indices.size, np.int64)
            else:
                idx0, val0, cnt0 = self.sum
                if val0.shape[1:] != values.shape[1:]:
                    raise errors.InvalidArgumentError(
                        None, None, f"Shape mismatch: expected values of shape [?{shape_debug(val0.shape[1:])[1:]}, "
                        f"got {shape_debug(values.shape)} (accumulator '{self.name}')")
                all_idx = np.concatenate([idx0, indices])
                all_val = np.concatenate([val0, values])
                all_cnt = np.concatenate([cnt0, np.ones(indices.size, np.int64)])
            uniq, inv = np.unique(all_idx, return_inverse=True)
            summed = np.zeros((uniq.size, *all_val.shape[1:]), dtype=self.dtype)
            np.add.at(summed, inv, all_val)
            counts = np.zeros(uniq.size, np.int64)
            np.add.at(counts, inv, all_cnt)
            self.sum = (uniq, summed, counts)
            self.counter += 1
            self.cond.notify_all()

    def take_sparse(self, num_required: int, step: Any) -> tuple:
        with self.cond:
            self._take(num_required, step)
            idx, val, cnt = self.sum
            self.sum = None
            self.cond.notify_all()
        if self.reduction_type == "MEAN":
            # TF averages each row over the gradients that touched it, not over all gradients.
            val = (val / cnt.reshape((-1,) + (1,) * (val.ndim - 1))).astype(self.dtype, copy=False)
        if self.dense_shape is not None:
            shape = np.array(self.dense_shape, dtype=np.int64)
        else:
            first = self.shape[0] if self.shape and self.shape[0] is not None else -1
            shape = np.array([first, *val.shape[1:]], dtype=np.int64)
        return idx, val, shape


# -- ops --------------------------------------------------------------------------------------------------
def _accum_shape(ins, attrs):
    if attrs["reduction_type"] not in ("MEAN", "SUM"):
        raise ValueError(f"Attr 'reduction_type' must be 'MEAN' or 'SUM', got '{attrs['reduction_type']}'")
    if attrs["dtype"] not in NUMERIC_TYPES:
        raise TypeError(f"Attr 'dtype' must be a numeric type, got {attrs['dtype'].name}")
    return _dt.string._as_ref, (2,)


_ACC_ATTRS = {"dtype": REQUIRED, "shape": REQUIRED, "container": "", "shared_name": "", "reduction_type": "MEAN"}


def _accum_kernel(kind):
    def kernel(xp, *, dtype, shape, container, shared_name, reduction_type, ctx):
        s = shape.as_tuple() if isinstance(shape, TensorShape) else shape

        def make(name):
            return AccumulatorState(kind, name, container, dtype, s, reduction_type)
        acc = lookup_or_create(ctx.resources, container, shared_name, ctx.name, make)
        acc.check_compatible(make(acc.name).signature)
        return acc
    return kernel


conditional_accumulator_kernel = op(
    "ConditionalAccumulator", attrs=_ACC_ATTRS, shape=_accum_shape, needs_ctx=True, session_constant=True,
    **_COMMON)(_accum_kernel("ConditionalAccumulator"))
sparse_conditional_accumulator_kernel = op(
    "SparseConditionalAccumulator", attrs=_ACC_ATTRS, shape=_accum_shape, needs_ctx=True, session_constant=True,
    **_COMMON)(_accum_kernel("SparseConditionalAccumulator"))


def _check_input(t: Tensor, dtype: _dt.DType, rank: int | None, op_type: str, arg: str) -> None:
    if t.dtype.base_dtype != dtype:
        raise TypeError(f"Input '{arg}' of '{op_type}' Op has type {t.dtype.base_dtype.name} that does not match "
                        f"expected type of {dtype.name}.")
    d = dims(t)
    if rank is not None and d is not None and len(d) != rank:
        raise ValueError(f"Shape must be rank {rank} but is rank {len(d)} (input '{arg}' of {op_type})")


def _apply_shape(ins, attrs):
    check_handle(ins, "AccumulatorApplyGradient")
    _check_input(ins[1], _dt.int64, 0, "AccumulatorApplyGradient", "local_step")
    _check_input(ins[2], attrs["dtype"], None, "AccumulatorApplyGradient", "gradient")
    return no_outputs(ins, attrs)


@op("AccumulatorApplyGradient", inputs=("handle", "local_step", "gradient"), attrs={"dtype": REQUIRED},
    shape=_apply_shape, outputs=0, ref_inputs=(0,), **_COMMON)
def accumulator_apply_gradient_kernel(xp, handle, local_step, gradient):
    handle.apply_dense(int(local_step), gradient)


def _take_shape(ins, attrs):
    check_handle(ins, "AccumulatorTakeGradient")
    _check_input(ins[1], _dt.int32, 0, "AccumulatorTakeGradient", "num_required")
    acc = ins[0].op
    s = acc.get_attr("shape") if acc.type == "ConditionalAccumulator" else None
    return attrs["dtype"], None if s is None else as_shape(s).as_tuple()


@op("AccumulatorTakeGradient", inputs=("handle", "num_required"), attrs={"dtype": REQUIRED}, shape=_take_shape,
    ref_inputs=(0,), needs_step=True, **_COMMON)
def accumulator_take_gradient_kernel(xp, handle, num_required, *, step):
    return handle.take_dense(int(num_required), step)


def _num_shape(ins, attrs):
    check_handle(ins, "AccumulatorNumAccumulated")
    return _dt.int32, ()


@op("AccumulatorNumAccumulated", inputs=("handle",), shape=_num_shape, ref_inputs=(0,), **_COMMON)
def accumulator_num_accumulated_kernel(xp, handle):
    return np.asarray(handle.counter, dtype=np.int32)


def _set_step_shape(ins, attrs):
    check_handle(ins, "AccumulatorSetGlobalStep")
    _check_input(ins[1], _dt.int64, 0, "AccumulatorSetGlobalStep", "new_global_step")
    return no_outputs(ins, attrs)


@op("AccumulatorSetGlobalStep", inputs=("handle", "new_global_step"), shape=_set_step_shape, outputs=0,
    ref_inputs=(0,), **_COMMON)
def accumulator_set_global_step_kernel(xp, handle, new_global_step):
    with handle.cond:
        # TF only warns when the step goes backwards, and sets it anyway.
        handle.global_step = int(new_global_step)
        handle.cond.notify_all()


def _sparse_apply_shape(ins, attrs):
    t = "SparseAccumulatorApplyGradient"
    check_handle(ins, t)
    _check_input(ins[1], _dt.int64, 0, t, "local_step")
    _check_input(ins[2], _dt.int64, 1, t, "gradient_indices")
    _check_input(ins[3], attrs["dtype"], None, t, "gradient_values")
    _check_input(ins[4], _dt.int64, 1, t, "gradient_shape")
    return no_outputs(ins, attrs)


@op("SparseAccumulatorApplyGradient",
    inputs=("handle", "local_step", "gradient_indices", "gradient_values", "gradient_shape"),
    attrs={"dtype": REQUIRED, "has_known_shape": REQUIRED}, shape=_sparse_apply_shape, outputs=0, ref_inputs=(0,),
    **_COMMON)
def sparse_accumulator_apply_gradient_kernel(xp, handle, local_step, gradient_indices, gradient_values,
                                             gradient_shape, *, has_known_shape):
    handle.apply_sparse(int(local_step), gradient_indices, gradient_values, gradient_shape, has_known_shape)


def _sparse_take_shape(ins, attrs):
    check_handle(ins, "SparseAccumulatorTakeGradient")
    _check_input(ins[1], _dt.int32, 0, "SparseAccumulatorTakeGradient", "num_required")
    return [(_dt.int64, (None,)), (attrs["dtype"], None), (_dt.int64, (None,))]


@op("SparseAccumulatorTakeGradient", inputs=("handle", "num_required"), attrs={"dtype": REQUIRED},
    shape=_sparse_take_shape, outputs=3, output_names=("indices", "values", "shape"), ref_inputs=(0,),
    needs_step=True, **_COMMON)
def sparse_accumulator_take_gradient_kernel(xp, handle, num_required, *, step):
    return handle.take_sparse(int(num_required), step)


# -- the Python classes ------------------------------------------------------------------------------------
def _int64(x: Any, name: str) -> Tensor:
    from labflow.ops.compare_ops import cast
    return cast(convert_to_tensor(x, name=name), _dt.int64)


class ConditionalAccumulatorBase:
    """Shared API of the dense and sparse accumulators (TF 1.x `tf.ConditionalAccumulatorBase`)."""

    def __init__(self, dtype: Any, shape: Any, accumulator_ref: Tensor):
        self._dtype = _dt.as_dtype(dtype).base_dtype
        self._shape = TensorShape(None) if shape is None else as_shape(shape)
        self._accumulator_ref = accumulator_ref
        self._name = accumulator_ref.op.name.split("/")[-1]

    @property
    def accumulator_ref(self) -> Tensor:
        return self._accumulator_ref

    @property
    def name(self) -> str:
        return self._name

    @property
    def dtype(self) -> _dt.DType:
        return self._dtype

    def _create(self, op_type: str, inputs: list, attrs: dict | None, name: str | None, default: str) -> Operation:
        return self._accumulator_ref.graph.create_op(op_type, [self._accumulator_ref, *inputs], attrs=attrs,
                                                     name=name or default)

    def num_accumulated(self, name: str | None = None) -> Tensor:
        """An int32 scalar: the number of gradients aggregated since the last take."""
        return self._create("AccumulatorNumAccumulated", [], None, name, "AccumulatorNumAccumulated").outputs[0]

    def set_global_step(self, new_global_step: Any, name: str | None = None) -> Operation:
        """Sets the accumulator's global step (gradients with an older local_step are dropped)."""
        with self._accumulator_ref.graph.as_default():
            step = _int64(new_global_step, "new_global_step")
        return self._create("AccumulatorSetGlobalStep", [step], None, name, "AccumulatorSetGlobalStep")


def _create_accumulator(op_type: str, dtype: Any, shape: Any, shared_name: str | None, name: str,
                        reduction_type: str) -> Tensor:
    g = get_default_graph()
    s = TensorShape(None) if shape is None else as_shape(shape)
    attrs = {"dtype": _dt.as_dtype(dtype).base_dtype, "shape": s, "shared_name": shared_name or "",
             "reduction_type": reduction_type, "container": getattr(g._s, "container", "")}
    return g.create_op(op_type, [], attrs=attrs, name=name).outputs[0]


class ConditionalAccumulator(ConditionalAccumulatorBase):
    """Accumulates dense gradients (TF 1.x `tf.ConditionalAccumulator`)."""

    def __init__(self, dtype: Any, shape: Any = None, shared_name: str | None = None,
                 name: str = "conditional_accumulator", reduction_type: str = "MEAN"):
        """Creates an accumulator of gradients of `dtype` and `shape` (None: any shape, fixed by the first).

        Args:
            dtype: the gradients' dtype.
            shape: the gradients' shape, or None.
            shared_name: if set, the accumulator is shared under this name on its device.
            name: the op name.
            reduction_type: "MEAN" (average the gradients) or "SUM".
        """
        ref = _create_accumulator("ConditionalAccumulator", dtype, shape, shared_name, name, reduction_type)
        super().__init__(dtype, shape, ref)

    def apply_grad(self, grad: Any, local_step: Any = 0, name: str | None = None) -> Operation:
        """Adds `grad` unless `local_step` is older than the accumulator's global step (then it is dropped).

        Raises:
            ValueError: `grad` has a shape incompatible with the accumulator's.
        """
        g = self._accumulator_ref.graph
        with g.as_default():
            grad = convert_to_tensor(grad, dtype=self._dtype, name="grad")
            grad.get_shape().assert_is_compatible_with(self._shape)
            step = _int64(local_step, "local_step")
        return self._create("AccumulatorApplyGradient", [step, grad], {"dtype": self._dtype}, name,
                            "AccumulatorApplyGradient")

    def take_grad(self, num_required: Any, name: str | None = None) -> Tensor:
        """Blocks until `num_required` gradients arrived; returns their average (or sum) and resets.

        The accumulator's global step is incremented. InvalidArgumentError when num_required < 1.
        """
        with self._accumulator_ref.graph.as_default():
            n = convert_to_tensor(num_required, dtype=_dt.int32, name="num_required")
        out = self._create("AccumulatorTakeGradient", [n], {"dtype": self._dtype}, name,
                           "AccumulatorTakeGradient").outputs[0]
        out.set_shape(self._shape)
        return out


class SparseConditionalAccumulator(ConditionalAccumulatorBase):
    """Accumulates sparse gradients (IndexedSlices); a MEAN averages each row over the gradients with it."""

    def __init__(self, dtype: Any, shape: Any = None, shared_name: str | None = None,
                 name: str = "sparse_conditional_accumulator", reduction_type: str = "MEAN"):
        """Creates a sparse accumulator (arguments as for ConditionalAccumulator)."""
        ref = _create_accumulator("SparseConditionalAccumulator", dtype, shape, shared_name, name, reduction_type)
        super().__init__(dtype, shape, ref)

    def apply_indexed_slices_grad(self, grad: IndexedSlices, local_step: Any = 0,
                                  name: str | None = None) -> Operation:
        """Adds an IndexedSlices gradient (see `apply_grad`)."""
        return self.apply_grad(grad.indices, grad.values, grad.dense_shape, local_step, name)

    def apply_grad(self, grad_indices: Any, grad_values: Any, grad_shape: Any = None, local_step: Any = 0,
                   name: str | None = None) -> Operation:
        """Adds the sparse gradient (indices, values, dense shape) unless it is stale."""
        from labflow.ops.compare_ops import cast
        g = self._accumulator_ref.graph
        with g.as_default():
            step = _int64(local_step, "local_step")
            idx = cast(convert_to_tensor(grad_indices, name="gradient_indices"), _dt.int64)
            vals = convert_to_tensor(grad_values, dtype=self._dtype, name="gradient_values")
            shape = cast(convert_to_tensor([] if grad_shape is None else grad_shape, dtype_hint=_dt.int64,
                                           name="gradient_shape"), _dt.int64)
        return self._create("SparseAccumulatorApplyGradient", [step, idx, vals, shape],
                            {"dtype": self._dtype, "has_known_shape": grad_shape is not None}, name,
                            "SparseAccumulatorApplyGradient")

    def take_grad(self, num_required: Any, name: str | None = None) -> list[Tensor]:
        """Blocks until `num_required` gradients arrived; returns [indices, values, shape] and resets."""
        with self._accumulator_ref.graph.as_default():
            n = convert_to_tensor(num_required, dtype=_dt.int32, name="num_required")
        return list(self._create("SparseAccumulatorTakeGradient", [n], {"dtype": self._dtype}, name,
                                 "SparseAccumulatorTakeGradient").outputs)

    def take_indexed_slices_grad(self, num_required: Any, name: str | None = None) -> IndexedSlices:
        """Like `take_grad`, returning an IndexedSlices."""
        idx, vals, shape = self.take_grad(num_required, name)
        return IndexedSlices(indices=idx, values=vals, dense_shape=shape)
