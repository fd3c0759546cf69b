"""`tf.TensorArray` (TF 1.x API): a list of tensors written once each, read, stacked and unstacked, usually
inside a `tf.while_loop` (dynamic_rnn's outputs, a decoder's steps).

Each method returns a new TensorArray over the list op's result (a `variant` tensor, labflow/ops/list_ops.py)
as TF 1.x's `flow` does, so the usual `ta = ta.write(t, x)` inside a loop body carries the array along.
Gradients flow through every method. TF 1.x's `clear_after_read` is not enforced (reading an element twice
is allowed, as in TF 2).
"""

from __future__ import annotations

from typing import Any

from labflow import dtypes as _dt
from labflow.framework.shapes import TensorShape, as_shape
from labflow.framework.tensor import Tensor
from labflow.ops.common import convert_to_tensor, make_op

__all__ = ["TensorArray"]


class TensorArray:
    """A TF 1.x TensorArray: `size` elements of `dtype` (and `element_shape`), each written once.

    Args:
        dtype: the elements' dtype.
        size: the number of elements (an int or int32 scalar tensor); required unless built from `flow`.
        dynamic_size: writes past the end grow the array.
        clear_after_read, tensor_array_name, handle, colocate_with_first_write_call: accepted for TF
            compatibility.
        flow: an existing list value (what `.flow` returns), e.g. a while loop's variable.
        infer_shape: learn the element shape from the first write or unstack when not given.
        element_shape: the elements' static shape.
        name: a name for the ops.
    """

    def __init__(self, dtype: Any, size: Any = None, dynamic_size: bool | None = None,
                 clear_after_read: bool | None = None, tensor_array_name: str | None = None, handle: Any = None,
                 flow: Any = None, infer_shape: bool = True, element_shape: Any = None,
                 colocate_with_first_write_call: bool = True, name: str | None = None):
        del clear_after_read, tensor_array_name, handle, colocate_with_first_write_call
        self._dtype = _dt.as_dtype(dtype).base_dtype
        self._dynamic_size = bool(dynamic_size)
        self._infer_shape = infer_shape
        self._element_shape = as_shape(element_shape) if element_shape is not None else TensorShape(None)
        if flow is not None:
            self._flow = flow
        else:
            if size is None:
                raise ValueError("TensorArray: size must be given (or flow)")
            size = convert_to_tensor(size, dtype=_dt.int32, name="size")
            self._flow = make_op("TensorListReserve", [size], {"element_dtype": self._dtype,
                                                               "element_shape": self._element_shape},
                                 name=name or "TensorArray")._outputs[0]

    # -- properties ----------------------------------------------------------------------------------------
    @property
    def flow(self) -> Tensor:
        """The list value (a `variant` tensor): what a while loop carries."""
        return self._flow

    handle = flow

    @property
    def dtype(self) -> _dt.DType:
        return self._dtype

    @property
    def element_shape(self) -> TensorShape:
        return self._element_shape

    @property
    def dynamic_size(self) -> bool:
        return self._dynamic_size

    def _with(self, flow: Tensor, shape: TensorShape | None = None) -> TensorArray:
        ta = TensorArray(self._dtype, flow=flow, dynamic_size=self._dynamic_size, infer_shape=self._infer_shape,
                         element_shape=self._element_shape if shape is None else shape)
        return ta

    def _learn(self, shape: Any) -> TensorShape:
        s = TensorShape(shape)
        if not self._infer_shape:
            return self._element_shape
        if not self._element_shape.is_compatible_with(s):
            raise ValueError(f"Inconsistent shapes: saw {s} but expected {self._element_shape} (and infer_shape=True)")
        return self._element_shape.merge_with(s) if self._element_shape.ndims is not None else s

    def _value(self, value: Any, name: str) -> Tensor:
        v = value if isinstance(value, Tensor) else convert_to_tensor(value, dtype=self._dtype, name=name)
        if v.dtype.base_dtype != self._dtype:
            raise TypeError(f"TensorArray dtype is {self._dtype.name} but Op is trying to write dtype "
                            f"{v.dtype.base_dtype.name}.")
        return v

    # -- methods -------------------------------------------------------------------------------------------
    def write(self, index: Any, value: Any, name: str | None = None) -> TensorArray:
        """A TensorArray with `value` at `index` (each index is written once)."""
        v = self._value(value, "value")
        shape = self._learn(v.get_shape())
        i = convert_to_tensor(index, dtype=_dt.int32, name="index")
        flow = make_op("TensorListSetItem", [self._flow, i, v], {"resizable": self._dynamic_size},
                       name=name or "TensorArrayWrite")._outputs[0]
        return self._with(flow, shape)

    def read(self, index: Any, name: str | None = None) -> Tensor:
        """The element at `index` (an error at run time if it was never written)."""
        i = convert_to_tensor(index, dtype=_dt.int32, name="index")
        return make_op("TensorListGetItem", [self._flow, i], {"element_dtype": self._dtype,
                                                              "element_shape": self._element_shape},
                       name=name or "TensorArrayRead")._outputs[0]

    def stack(self, name: str | None = None) -> Tensor:
        """All elements stacked along a new first axis."""
        return make_op("TensorListStack", [self._flow], {"element_dtype": self._dtype,
                                                         "element_shape": self._element_shape},
                       name=name or "TensorArrayStack")._outputs[0]

    def gather(self, indices: Any, name: str | None = None) -> Tensor:
        """The elements at `indices`, stacked."""
        idx = convert_to_tensor(indices, dtype=_dt.int32, name="indices")
        return make_op("TensorListGather", [self._flow, idx], {"element_dtype": self._dtype,
                                                               "element_shape": self._element_shape},
                       name=name or "TensorArrayGather")._outputs[0]

    def unstack(self, value: Any, name: str | None = None) -> TensorArray:
        """A TensorArray holding the slices value[0], value[1], ... (its size becomes value's length)."""
        v = self._value(value, "value")
        d = v._shape_dims
        if d is not None and not d:
            raise ValueError("TensorArray.unstack needs a value of rank >= 1")
        shape = self._learn(list(d[1:]) if d is not None else None)
        flow = make_op("TensorListFromTensor", [v], {"element_shape": shape}, name=name or "TensorArrayUnstack")
        return self._with(flow._outputs[0], shape)

    def scatter(self, indices: Any, value: Any, name: str | None = None) -> TensorArray:
        """A TensorArray with value[k] at indices[k]."""
        v = self._value(value, "value")
        d = v._shape_dims
        shape = self._learn(list(d[1:]) if d else None)
        idx = convert_to_tensor(indices, dtype=_dt.int32, name="indices")
        flow = make_op("TensorListScatter", [self._flow, idx, v], {"resizable": self._dynamic_size},
                       name=name or "TensorArrayScatter")._outputs[0]
        return self._with(flow, shape)

    def size(self, name: str | None = None) -> Tensor:
        """The number of elements (an int32 scalar)."""
        return make_op("TensorListLength", [self._flow], name=name or "TensorArraySize")._outputs[0]

    def identity(self) -> TensorArray:
        """This TensorArray (its ops already run in dependency order)."""
        return self._with(self._flow)

    def close(self, name: str | None = None) -> Any:
        """A no-op, as in TF graph mode once nothing reads the array."""
        from labflow.ops.control_flow_ops import no_op
        return no_op(name=name or "TensorArrayClose")
