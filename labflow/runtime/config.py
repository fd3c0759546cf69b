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
    """TF's graph optimizer options. `global_jit_level` governs elementwise clustering (the part of XLA's
    auto-clustering labflow does, runtime/elementwise_fusion.py): DEFAULT clusters GPU partitions, OFF
    none, ON_1/ON_2 also CPU partitions when `cpu_global_jit` is set (as in TF)."""

    L1, L0 = 0, -1
    DEFAULT, OFF, ON_1, ON_2 = 0, -1, 1, 2
    _fields = {"do_common_subexpression_elimination": True, "do_constant_folding": True,
               "opt_level": 0, "global_jit_level": 0, "cpu_global_jit": False}


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


def config_to_proto(config: ConfigProto) -> Any:
    """The fields of `config` a remote master needs, as TF's ConfigProto message."""
    from labflow.framework.protos import config_pb2
    pb = config_pb2.ConfigProto(allow_soft_placement=bool(config.allow_soft_placement),
                                log_device_placement=bool(config.log_device_placement),
                                operation_timeout_in_ms=int(config.operation_timeout_in_ms or 0))
    pb.device_filters.extend(config.device_filters or [])
    go = config.graph_options
    pb.graph_options.enable_bfloat16_sendrecv = bool(go.enable_bfloat16_sendrecv)
    pb.graph_options.optimizer_options.do_constant_folding = bool(go.optimizer_options.do_constant_folding)
    pb.graph_options.optimizer_options.opt_level = int(go.optimizer_options.opt_level)
    pb.graph_options.optimizer_options.global_jit_level = int(go.optimizer_options.global_jit_level)
    pb.graph_options.optimizer_options.cpu_global_jit = bool(go.optimizer_options.cpu_global_jit)
    return pb


def config_from_proto(pb: Any, send_recv_dtype: str | None = None) -> ConfigProto:
    """A `ConfigProto` from TF's message (the inverse of `config_to_proto`)."""
    oo = pb.graph_options.optimizer_options
    opts = OptimizerOptions(do_constant_folding=oo.do_constant_folding, opt_level=oo.opt_level,
                            global_jit_level=oo.global_jit_level, cpu_global_jit=oo.cpu_global_jit)
    graph = GraphOptions(optimizer_options=opts, enable_bfloat16_sendrecv=pb.graph_options.enable_bfloat16_sendrecv,
                         send_recv_dtype=send_recv_dtype or None)
    return ConfigProto(allow_soft_placement=pb.allow_soft_placement, log_device_placement=pb.log_device_placement,
                       operation_timeout_in_ms=pb.operation_timeout_in_ms, device_filters=list(pb.device_filters),
                       graph_options=graph)
