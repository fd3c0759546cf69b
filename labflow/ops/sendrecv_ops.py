"""_Send/_Recv: the two halves of a cross-device edge, added only by the partitioner."""

from __future__ import annotations

from labflow import dtypes as _dt
from labflow.backend import to_numpy
from labflow.framework.registry import op

_ATTRS = {"tensor_name": "", "send_device": "", "recv_device": "", "send_device_incarnation": 0,
          "client_terminated": False, "key": "", "wire_dtype": None}


@op("_Send", inputs=("tensor",), attrs=dict(_ATTRS), shape=lambda ins, a: [], outputs=0, stateful=True,
    needs_step=True, not_differentiable=True)
def send_kernel(xp, tensor, *, step, key, wire_dtype):
    # fp16 on the wire: narrow before the transfer, the Recv widens it back (see ConfigProto docs).
    if wire_dtype is not None:
        tensor = tensor.astype(wire_dtype.as_numpy_dtype)
    step.rendezvous.send(key, tensor)


def _recv_shape(ins, attrs):
    return attrs["tensor_type"], None


@op("_Recv", attrs=dict(_ATTRS, tensor_type=_dt.float32), shape=_recv_shape, stateful=True,
    needs_step=True, not_differentiable=True)
def recv_kernel(xp, *, step, key, tensor_type, wire_dtype):
    v = step.rendezvous.recv(key)
    if xp.__name__ != "numpy":
        v = xp.asarray(v)
    elif type(v).__module__.startswith("cupy"):
        v = to_numpy(v)  # a GPU-to-CPU edge: the CPU side gets a host copy
    if wire_dtype is not None:
        v = v.astype(tensor_type.as_numpy_dtype)
    return v


@op("_ControlTrigger", shape=lambda ins, a: (_dt.bool, ()), stateful=True, not_differentiable=True)
def control_trigger_kernel(xp):
    return xp.bool_(True)
