"""A static cost model for placement: compute time per node from shapes, transfer time from bytes.

The numbers are deliberately coarse (what the TF whitepaper's placer needs is a ranking, not a
prediction): flops per op type from static shapes, a per-device-type throughput, and a per-edge
cost of latency + bytes / bandwidth when producer and consumer sit on different devices.
"""

from __future__ import annotations

import math
from typing import Any

# Sustained throughput per device type (flop/s) and transfer characteristics between two devices.
THROUGHPUT = {"CPU": 2e10, "GPU": 5e12}
TRANSFER_LATENCY_S = {"same_host": 2e-5, "to_gpu": 1e-5}
BANDWIDTH_BPS = {"same_host": 5e9, "to_gpu": 1.2e10}
DISPATCH_S = 2e-6  # fixed cost of running any node


def _elements(dims: tuple | None, unknown: int = 1024) -> int:
    if dims is None:
        return unknown
    n = 1
    for d in dims:
        n *= unknown if d is None else d
    return n


def flops(op: Any) -> float:
    """Estimated floating-point work of one run of `op`, from its static shapes."""
    t = op.type
    outs = [o._shape_dims for o in op._outputs]
    ins = [i._shape_dims for i in op._inputs]
    out_elems = sum(_elements(d) for d in outs) if outs else 1
    if t in ("MatMul", "BatchMatMulV2") and len(ins) >= 2:
        a = ins[0]
        k = None
        if a is not None and len(a) >= 2:
            k = a[-2] if op._attrs.get("transpose_a") or op._attrs.get("adj_x") else a[-1]
        return 2.0 * out_elems * (k or 256)
    if t in ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter") and len(ins) >= 2:
        f = ins[1] if t != "Conv2DBackpropFilter" else None
        kvol = _elements(f[:3]) if f is not None and len(f) == 4 else 3 * 3 * 64
        return 2.0 * out_elems * kvol
    if t in ("Const", "Placeholder", "VariableV2", "Identity", "NoOp", "Shape", "Reshape"):
        return 0.0
    return float(out_elems + sum(_elements(d) for d in ins))


def output_bytes(op: Any) -> int:
    total = 0
    for o in op._outputs:
        size = o.dtype.base_dtype.size or 8
        total += _elements(o._shape_dims) * size
    return total


def compute_time(op: Any, device_type: str) -> float:
    return DISPATCH_S + flops(op) / THROUGHPUT.get(device_type, THROUGHPUT["CPU"])


def transfer_time(nbytes: int, src_type: str, dst_type: str) -> float:
    kind = "to_gpu" if "GPU" in (src_type, dst_type) else "same_host"
    return TRANSFER_LATENCY_S[kind] + nbytes / BANDWIDTH_BPS[kind]


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f}us" if math.isfinite(seconds) else "inf"
