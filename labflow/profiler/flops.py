"""FLOP counts per op type, as TF registers them (ops.RegisterStatistics("flops") and profiler's flops_registry).

Only the op types TF counts are here; every count needs fully known static shapes, else the op counts nothing.
"""
from __future__ import annotations

from typing import Any, Callable

_FlopFn = Callable[[Any], "int | None"]
_REGISTRY: dict[str, _FlopFn] = {}


def _elements(tensor: Any) -> int | None:
    return tensor.shape.num_elements()


def _dims(tensor: Any) -> list[int] | None:
    shape = tensor.shape
    return shape.as_list() if shape.is_fully_defined() else None


def _register(fn: _FlopFn, *op_types: str) -> None:
    for t in op_types:
        _REGISTRY[t] = fn


def _scaled_output(scale: int) -> _FlopFn:
    def count(op: Any) -> int | None:
        n = _elements(op.outputs[0])
        return None if n is None else scale * n
    return count


def _scaled_input(scale: int, offset: int = 0) -> _FlopFn:
    def count(op: Any) -> int | None:
        n = _elements(op.inputs[0])
        return None if n is None else scale * n + offset
    return count


def _reduction(reduce_flops: int, finalize_flops: int) -> _FlopFn:
    # TF: every input element costs reduce_flops, then each output swaps one reduce for a finalize.
    def count(op: Any) -> int | None:
        n_in, n_out = _elements(op.inputs[0]), _elements(op.outputs[0])
        if n_in is None or n_out is None:
            return None
        return n_in * reduce_flops + n_out * (finalize_flops - reduce_flops)
    return count


def _add_n(op: Any) -> int | None:
    n = _elements(op.outputs[0])
    return None if n is None else (len(op.inputs) - 1) * n


def _mat_mul(op: Any) -> int | None:
    a = _dims(op.inputs[0])
    n = _elements(op.outputs[0])
    if a is None or n is None:
        return None
    k = a[0] if op.get_attr("transpose_a") else a[1]
    return 2 * k * n


def _batch_mat_mul(op: Any) -> int | None:
    a = _dims(op.inputs[0])
    n = _elements(op.outputs[0])
    if a is None or n is None:
        return None
    k = a[-2] if op.get_attr("adj_x") else a[-1]
    return 2 * k * n


def _kernel_area(op: Any) -> int:
    ksize = op.get_attr("ksize")
    c = _channels_index(op)
    h, w = [k for i, k in enumerate(ksize[1:], 1) if i != c]
    return h * w


def _channels_index(op: Any) -> int:
    fmt = op.get_attr("data_format")
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    return 1 if fmt.startswith("NC") else 3


def _conv2d(op: Any) -> int | None:
    f = _dims(op.inputs[1])
    n = _elements(op.outputs[0])
    if f is None or n is None:
        return None
    return 2 * n * f[0] * f[1] * f[2]


def _depthwise_conv2d(op: Any) -> int | None:
    f = _dims(op.inputs[1])
    n = _elements(op.outputs[0])
    if f is None or n is None:
        return None
    return 2 * n * f[0] * f[1]


def _conv2d_backprop(image: Any, op: Any) -> int | None:
    # TF: batch * image_h * image_w * kh * kw * in_depth * out_depth * 2 / (stride_h * stride_w), image being
    # the convolution's input (forward) side.
    img, out = _dims(image), _dims(op.inputs[2])
    f = _dims(op.inputs[1]) if op.type == "Conv2DBackpropInput" else _dims(op.outputs[0])
    if img is None or out is None or f is None:
        return None
    c = _channels_index(op)
    strides = op.get_attr("strides")
    spatial = [d for i, d in enumerate(img[1:], 1) if i != c]
    stride = [s for i, s in enumerate(strides[1:], 1) if i != c]
    batch, in_depth, out_depth = img[0], img[c], out[c]
    return (batch * spatial[0] * spatial[1] * f[0] * f[1] * in_depth * out_depth * 2) // (stride[0] * stride[1])


def _pool(op: Any) -> int | None:
    n = _elements(op.outputs[0])
    return None if n is None else n * _kernel_area(op)


def _avg_pool_grad(op: Any) -> int | None:
    n = _elements(op.inputs[1])
    return None if n is None else 2 * n * _kernel_area(op)


def _max_pool_grad(op: Any) -> int | None:
    n_out, n_grad = _elements(op.inputs[1]), _elements(op.inputs[2])
    if n_out is None or n_grad is None:
        return None
    return n_out * _kernel_area(op) + n_grad


_register(_scaled_output(1), "Reciprocal", "Square", "Log", "Neg", "AssignSub", "AssignAdd",
          "Add", "AddV2", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "Pow", "GreaterEqual", "Greater",
          "LessEqual", "Less", "Equal", "NotEqual", "BiasAdd")
_register(_scaled_output(2), "Rsqrt", "SquaredDifference")
_register(_scaled_input(5), "Softmax")
_register(_scaled_input(3, -1), "L2Loss")
_register(_reduction(1, 1), "Mean")
_register(_reduction(1, 0), "Sum", "ArgMax", "ArgMin", "BiasAddGrad")
_register(_add_n, "AddN")
_register(_mat_mul, "MatMul")
_register(_batch_mat_mul, "BatchMatMul", "BatchMatMulV2")
_register(_conv2d, "Conv2D")
_register(_depthwise_conv2d, "DepthwiseConv2dNative")
_register(lambda op: _conv2d_backprop(op.outputs[0], op), "Conv2DBackpropInput")
_register(lambda op: _conv2d_backprop(op.inputs[0], op), "Conv2DBackpropFilter")
_register(_pool, "AvgPool", "MaxPool")
_register(_avg_pool_grad, "AvgPoolGrad")
_register(_max_pool_grad, "MaxPoolGrad")


def float_ops(op: Any) -> int:
    """The FLOPs TF attributes to `op`: 0 for op types TF does not count and for ops with unknown shapes."""
    fn = _REGISTRY.get(op.type)
    if fn is None:
        return 0
    try:
        return int(fn(op) or 0)
    except (ValueError, KeyError, IndexError, TypeError):
        # A missing attr or odd rank means TF's statistics function would fail too: the op is not counted.
        return 0
