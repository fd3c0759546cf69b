"""Session configuration: `ConfigProto` and friends with TF 1.x field names."""

from __future__ import annotations

from typing import Any


class _Options:
    _fields: dict[str, Any] = {}

    def __init__(self, **kwargs: Any):
        for k, v in self._fields.items():
            setattr(self, k, v() if callable(v) else v)
        for k, v in kwargs.items():
            if k not in self._fields:
                raise TypeError(f"{type(self).__name__} got an unknown field '{k}'. Known fields: "
                                f"{', '.join(self._fields)}.")
            setattr(self, k, v)

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._fields)
        return f"{type(self).__name__}({body})"


class GPUOptions(_Options):
    """GPU memory options; they map onto CuPy's memory pool when a GPU device is created."""

    _fields = {"allow_growth": False, "per_process_gpu_memory_fraction": 0.0, "visible_device_list": "",
               "allocator_type": ""}


class OptimizerOptions(_Options):
    L1, L0 = 0, -1
    DEFAULT, OFF, ON_1, ON_2 = 0, -1, 1, 2
    _fields = {"do_common_subexpression_elimination": True, "do_constant_folding": True,
               "opt_level": 0, "global_jit_level": 0}


class GraphOptions(_Options):
    """Graph options. labflow adds `send_recv_dtype` ("float16" or "bfloat16"): float32 tensors that
    cross devices are narrowed to it by the _Send and widened back by the _Recv ("fp16 on the wire").
    `enable_bfloat16_sendrecv=True` (TF's field) means the same with bfloat16."""

    _fields = {"optimizer_options": OptimizerOptions, "build_cost_model": 0, "infer_shapes": False,
               "place_pruned_graph": False, "enable_bfloat16_sendrecv": False, "send_recv_dtype": None}


class ConfigProto(_Options):
    """TF 1.x `tf.ConfigProto`: `device_count={'CPU': 4}` makes four separate CPU devices."""

    _fields = {"device_count": dict, "allow_soft_placement": False, "log_device_placement": False,
               "inter_op_parallelism_threads": 0, "intra_op_parallelism_threads": 0,
               "use_per_session_threads": False, "gpu_options": GPUOptions, "graph_options": GraphOptions,
               "operation_timeout_in_ms": 0, "device_filters": list, "isolate_session_state": False,
               "placement_period": 0}
