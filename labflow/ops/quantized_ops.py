"""8-bit quantized inference ops, TF 1.x's: QuantizeV2, Dequantize, QuantizedMatMul, QuantizedBiasAdd,
RequantizationRange, Requantize, QuantizedReshape (the convolution, activation and pooling ones are in
quantized_nn_ops.py, the fake-quantization training ops in fake_quant_ops.py; both register with this
family). Names, inputs, attrs, outputs and arithmetic are TF's (see quantized_kernels.py).

A quantized tensor is a tensor of a quantized dtype (quint8, qint8, qint32, ...) plus two float32 scalars,
the real values its lowest and highest codes stand for; every op takes and returns that triple. In
labflow a quantized tensor's value is a plain NumPy integer array (uint8 for quint8, ...).

None of these ops is differentiable (TF's are not either); `fake_quant_*` is how to train for 8 bits.
The float range inputs are read on the host (TF's HostMemory), so the kernels also run on a GPU.
"""

from __future__ import annotations

import collections
import types
from typing import Any

from labflow import dtypes as _dt
from labflow.framework.registry import REQUIRED, op
from labflow.ops import array_ops
from labflow.ops import quantized_kernels as Q
from labflow.ops.common import base, convert_to_tensor, dims, make_op, make_tensor
from labflow.ops.matmul_ops import _matmul_shape

QUANTIZED_TYPES = (_dt.qint8, _dt.quint8, _dt.qint16, _dt.quint16, _dt.qint32)
EIGHT_BIT_TYPES = (_dt.quint8, _dt.qint8)
MODES = ("MIN_COMBINED", "MIN_FIRST", "SCALED")
ROUND_MODES = ("HALF_AWAY_FROM_ZERO", "HALF_TO_EVEN")
SCALAR = (_dt.float32, ())

__all__ = ["quantize", "quantize_v2", "dequantize", "quantized_mat_mul", "quantized_bias_add", "requantize",
           "requantization_range", "quantized_reshape"]


# -- checks shared by the quantized families ------------------------------------------------------------
def check_dtype(op_type: str, what: str, t: Any, allowed: tuple) -> _dt.DType:
    """The base dtype of input `what`, which must be one of `allowed` (TF's TypeError text)."""
    d = base(t)
    if d not in allowed:
        raise TypeError(f"Value passed to parameter '{what}' has DataType {d.name} not in list of allowed values: "
                        f"{', '.join(a.name for a in allowed)} (op: '{op_type}')")
    return d


def check_attr_matches(op_type: str, attr: str, value: Any, t: Any, what: str) -> None:
    """A type attr (Tinput, T1, ...) must name the dtype its input actually has."""
    if _dt.as_dtype(value) != base(t):
        raise TypeError(f"{op_type}: attr '{attr}' is {_dt.as_dtype(value).name} but input '{what}' has "
                        f"DataType {base(t).name}")


def check_scalars(op_type: str, ins: list, names: tuple) -> None:
    """Range inputs are float32 scalars (TF's shape functions require rank 0)."""
    for t, name in zip(ins, names):
        check_dtype(op_type, name, t, (_dt.float32,))
        d = dims(t)
        if d is not None and len(d) != 0:
            raise ValueError(f"Shape must be rank 0 but is rank {len(d)} ({op_type} input '{name}')")


def check_choice(op_type: str, attr: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{op_type}: attr '{attr}' must be one of {', '.join(repr(a) for a in allowed)}, got "
                         f"{value!r}")


def ranges(op_type: str, vals: tuple, names: tuple) -> list[float]:
    """The range inputs as floats; each (min, max) pair in order must not be reversed."""
    out = [Q.scalar(v, op_type, n) for v, n in zip(vals, names)]
    for i in range(0, len(out) - 1, 2):
        Q.check_range(op_type, out[i], out[i + 1], names[i], names[i + 1])
    return out


def range_out(xp: Any, v: float) -> Any:
    """A float32 scalar output (on the kernel's device)."""
    return xp.asarray(Q.F32(v))


def results(op_type: str, fields: tuple) -> type:
    """TF's namedtuple for an op's outputs (e.g. QuantizeV2(output, output_min, output_max))."""
    return collections.namedtuple(op_type, fields)


def range_tensor(v: Any, name: str) -> Any:
    return convert_to_tensor(v, dtype=_dt.float32, name=name)


# -- QuantizeV2 ------------------------------------------------------------------------------------------
def _quantize_shape(ins, attrs):
    x = ins[0]
    check_dtype("QuantizeV2", "input", x, (_dt.float32,))
    check_scalars("QuantizeV2", ins[1:], ("min_range", "max_range"))
    t = _dt.as_dtype(attrs["T"])
    if t not in QUANTIZED_TYPES:
        raise TypeError(f"QuantizeV2: T must be a quantized type ({', '.join(d.name for d in QUANTIZED_TYPES)}), "
                        f"got {t.name}")
    check_choice("QuantizeV2", "mode", attrs["mode"], MODES)
    check_choice("QuantizeV2", "round_mode", attrs["round_mode"], ROUND_MODES)
    if attrs["round_mode"] == "HALF_TO_EVEN" and attrs["mode"] != "SCALED":
        raise ValueError(f"QuantizeV2: round_mode 'HALF_TO_EVEN' is only supported for mode 'SCALED', but mode is "
                         f"{attrs['mode']!r}")
    return [(t, dims(x)), SCALAR, SCALAR]


@op("QuantizeV2", inputs=("input", "min_range", "max_range"),
    attrs={"T": REQUIRED, "mode": "MIN_COMBINED", "round_mode": "HALF_AWAY_FROM_ZERO"}, shape=_quantize_shape,
    outputs=3, output_names=("output", "output_min", "output_max"), host_inputs=(1, 2), not_differentiable=True)
def quantize_v2_kernel(xp, input, min_range, max_range, *, T, mode, round_mode):
    lo, hi = ranges("QuantizeV2", (min_range, max_range), ("min_range", "max_range"))
    q, mn, mx = Q.quantize(xp, input, lo, hi, _dt.as_dtype(T).np, mode, round_mode)
    return q, range_out(xp, mn), range_out(xp, mx)


QuantizeV2 = results("QuantizeV2", ("output", "output_min", "output_max"))


def quantize(input: Any, min_range: Any, max_range: Any, T: Any, mode: str = "MIN_COMBINED",  # noqa: A002
             round_mode: str = "HALF_AWAY_FROM_ZERO", name: str | None = None) -> QuantizeV2:
    """Quantizes a float32 tensor to `T` (TF 1.x `tf.quantization.quantize`, op QuantizeV2).

    The range is first made to hold 0 and, when narrower than 1% of its magnitude (at least 0.01), widened;
    the outputs `output_min`/`output_max` are the range actually used. Modes:
      MIN_COMBINED: out = round((clamp(x) - min) * range(T) / (max - min)), shifted down by half the
        type's range for signed T.
      MIN_FIRST: out = round(x * s) - round(min * s) + lowest(T), s = (2^bits - 1) / (max - min),
        saturated (what TF's 8-bit graph transform uses; the range other quantized ops assume).
      SCALED: symmetric: out = round(clamp(x) * s), s = 127 / m for qint8, 255 / m for quint8
        (m = max(|min|, |max|); the range becomes [-m, m] or [0, m]).

    Args:
        input: a float32 Tensor.
        min_range, max_range: float32 scalars: the range of `input` to map onto T's codes.
        T: the quantized dtype: quint8, qint8, quint16, qint16 or qint32.
        mode: "MIN_COMBINED", "MIN_FIRST" or "SCALED".
        round_mode: "HALF_AWAY_FROM_ZERO", or "HALF_TO_EVEN" (SCALED only).
        name: a name for the op (default "QuantizeV2").

    Returns:
        A namedtuple `(output, output_min, output_max)`.

    Raises:
        TypeError / ValueError: a non-float32 input, a non-quantized T, an unknown mode (at construction).
        errors.InvalidArgumentError: max_range < min_range (when the op runs).
    """
    x = convert_to_tensor(input, dtype_hint=_dt.float32, name="input")
    o = make_op("QuantizeV2", [x, range_tensor(min_range, "min_range"), range_tensor(max_range, "max_range")],
                {"T": _dt.as_dtype(T).base_dtype, "mode": mode, "round_mode": round_mode}, name or "QuantizeV2")
    return QuantizeV2(*o.outputs)


def quantize_v2(input: Any, min_range: Any, max_range: Any, T: Any, mode: str = "MIN_COMBINED",  # noqa: A002
                name: str | None = None, round_mode: str = "HALF_AWAY_FROM_ZERO") -> QuantizeV2:
    """TF 1.x's `tf.quantize_v2` (deprecated there for `tf.quantization.quantize`): the same op."""
    return quantize(input, min_range, max_range, T, mode=mode, round_mode=round_mode, name=name)


# -- Dequantize ------------------------------------------------------------------------------------------
def _dequantize_shape(ins, attrs):
    x = ins[0]
    check_dtype("Dequantize", "input", x, QUANTIZED_TYPES)
    check_attr_matches("Dequantize", "T", attrs["T"], x, "input")
    check_scalars("Dequantize", ins[1:], ("min_range", "max_range"))
    check_choice("Dequantize", "mode", attrs["mode"], MODES)
    return _dt.float32, dims(x)


@op("Dequantize", inputs=("input", "min_range", "max_range"), attrs={"T": REQUIRED, "mode": "MIN_COMBINED"},
    shape=_dequantize_shape, host_inputs=(1, 2), not_differentiable=True)
def dequantize_kernel(xp, input, min_range, max_range, *, mode):
    lo, hi = ranges("Dequantize", (min_range, max_range), ("min_range", "max_range"))
    return Q.dequantize(xp, input, lo, hi, mode)


def dequantize(input: Any, min_range: Any, max_range: Any, mode: str = "MIN_COMBINED",  # noqa: A002
               name: str | None = None) -> Any:
    """The float32 values a quantized tensor stands for (TF 1.x `tf.quantization.dequantize`).

    Args:
        input: a Tensor of a quantized dtype.
        min_range, max_range: float32 scalars: the range `input` was quantized with.
        mode: as in `quantize` ("MIN_COMBINED", "MIN_FIRST" or "SCALED").
        name: a name for the op (default "Dequantize").

    Returns:
        A float32 Tensor of `input`'s shape.

    Raises:
        errors.InvalidArgumentError: max_range < min_range (when the op runs).
    """
    x = convert_to_tensor(input, name="input")
    return make_tensor("Dequantize", [x, range_tensor(min_range, "min_range"), range_tensor(max_range, "max_range")],
                       {"T": base(x), "mode": mode}, name or "Dequantize")


# -- QuantizedMatMul -------------------------------------------------------------------------------------
_OPERAND_TYPES = (_dt.quint8, _dt.qint8, _dt.quint16, _dt.qint16)


def _quantized_matmul_shape(ins, attrs):
    a, b = ins[:2]
    check_dtype("QuantizedMatMul", "a", a, _OPERAND_TYPES)
    check_dtype("QuantizedMatMul", "b", b, _OPERAND_TYPES)
    check_attr_matches("QuantizedMatMul", "T1", attrs["T1"], a, "a")
    check_attr_matches("QuantizedMatMul", "T2", attrs["T2"], b, "b")
    check_scalars("QuantizedMatMul", ins[2:], ("min_a", "max_a", "min_b", "max_b"))
    if _dt.as_dtype(attrs["Toutput"]) != _dt.qint32:
        raise TypeError(f"QuantizedMatMul: Toutput must be qint32 (TF's only kernel), got "
                        f"{_dt.as_dtype(attrs['Toutput']).name}")
    _, mn = _matmul_shape([a, b], attrs)
    return [(_dt.qint32, mn), SCALAR, SCALAR]


@op("QuantizedMatMul", inputs=("a", "b", "min_a", "max_a", "min_b", "max_b"),
    attrs={"T1": REQUIRED, "T2": REQUIRED, "Toutput": _dt.qint32, "transpose_a": False, "transpose_b": False,
           "Tactivation": _dt.quint8},
    shape=_quantized_matmul_shape, outputs=3, output_names=("out", "min_out", "max_out"),
    host_inputs=(2, 3, 4, 5), not_differentiable=True, blas=True)
def quantized_matmul_kernel(xp, a, b, min_a, max_a, min_b, max_b, *, transpose_a, transpose_b):
    names = ("min_a", "max_a", "min_b", "max_b")
    lo_a, hi_a, lo_b, hi_b = (Q.scalar(v, "QuantizedMatMul", n) for v, n in zip((min_a, max_a, min_b, max_b), names))
    # TF rejects empty ranges here: a zero-width range has no meaningful zero point
    Q.check_range("QuantizedMatMul", lo_a, hi_a, "min_a", "max_a", strict=True)
    Q.check_range("QuantizedMatMul", lo_b, hi_b, "min_b", "max_b", strict=True)
    off_a = Q.float_to_quantized_unclamped(0.0, lo_a, hi_a, a.dtype)
    off_b = Q.float_to_quantized_unclamped(0.0, lo_b, hi_b, b.dtype)
    out = Q.int_matmul(xp, a, b, off_a, off_b, transpose_a, transpose_b)
    mn, mx = Q.range_for_multiplication(lo_a, hi_a, a.dtype, lo_b, hi_b, b.dtype, out.dtype)
    return out, range_out(xp, mn), range_out(xp, mx)


QuantizedMatMul = results("QuantizedMatMul", ("out", "min_out", "max_out"))


def quantized_mat_mul(a: Any, b: Any, min_a: Any, max_a: Any, min_b: Any, max_b: Any, Toutput: Any = _dt.qint32,
                      transpose_a: bool = False, transpose_b: bool = False, Tactivation: Any = _dt.quint8,
                      name: str | None = None) -> QuantizedMatMul:
    """`a @ b` of two quantized matrices, accumulated exactly in qint32 (TF's raw op QuantizedMatMul).

    out[i, j] = sum_k (a[i,k] - za) * (b[k,j] - zb), where za, zb are the codes of 0.0 in each range;
    one level of `out` is worth one level of a times one level of b, which `(min_out, max_out)` encodes.

    Args:
        a, b: 2-D Tensors of quint8 (or qint8, quint16, qint16).
        min_a, max_a, min_b, max_b: float32 scalars: the ranges of a and b (max > min).
        Toutput: qint32 (the only accumulator type).
        transpose_a, transpose_b: multiply by the transpose.
        Tactivation: recorded, as in TF (the type of the activations this product feeds).
        name: a name for the op (default "QuantizedMatMul").

    Returns:
        A namedtuple `(out, min_out, max_out)`.
    """
    a, b = convert_to_tensor(a, name="a"), convert_to_tensor(b, name="b")
    names = ("min_a", "max_a", "min_b", "max_b")
    ins = [a, b] + [range_tensor(v, n) for v, n in zip((min_a, max_a, min_b, max_b), names)]
    o = make_op("QuantizedMatMul", ins, {"T1": base(a), "T2": base(b), "Toutput": _dt.as_dtype(Toutput),
                                         "transpose_a": bool(transpose_a), "transpose_b": bool(transpose_b),
                                         "Tactivation": _dt.as_dtype(Tactivation)}, name or "QuantizedMatMul")
    return QuantizedMatMul(*o.outputs)


# -- QuantizedBiasAdd ------------------------------------------------------------------------------------
def _quantized_bias_add_shape(ins, attrs):
    x, b = ins[:2]
    check_dtype("QuantizedBiasAdd", "input", x, QUANTIZED_TYPES)
    check_dtype("QuantizedBiasAdd", "bias", b, QUANTIZED_TYPES)
    check_attr_matches("QuantizedBiasAdd", "T1", attrs["T1"], x, "input")
    check_attr_matches("QuantizedBiasAdd", "T2", attrs["T2"], b, "bias")
    check_scalars("QuantizedBiasAdd", ins[2:], ("min_input", "max_input", "min_bias", "max_bias"))
    out_type = _dt.as_dtype(attrs["out_type"])
    if out_type not in QUANTIZED_TYPES:
        raise TypeError(f"QuantizedBiasAdd: out_type must be a quantized type, got {out_type.name}")
    xd, bd = dims(x), dims(b)
    if xd is not None and len(xd) < 2:
        raise ValueError(f"Shape must be at least rank 2 but is rank {len(xd)} (QuantizedBiasAdd input 'input')")
    if bd is not None and len(bd) != 1:
        raise ValueError(f"Shape must be rank 1 but is rank {len(bd)} (QuantizedBiasAdd input 'bias')")
    if xd is not None and bd is not None and xd[-1] is not None and bd[0] is not None and xd[-1] != bd[0]:
        raise ValueError(f"Dimensions must be equal, but are {xd[-1]} and {bd[0]} (QuantizedBiasAdd: the bias "
                         "must have as many elements as the input's last dimension)")
    return [(out_type, xd), SCALAR, SCALAR]


@op("QuantizedBiasAdd", inputs=("input", "bias", "min_input", "max_input", "min_bias", "max_bias"),
    attrs={"T1": REQUIRED, "T2": REQUIRED, "out_type": REQUIRED}, shape=_quantized_bias_add_shape, outputs=3,
    output_names=("output", "min_out", "max_out"), host_inputs=(2, 3, 4, 5), not_differentiable=True)
def quantized_bias_add_kernel(xp, input, bias, min_input, max_input, min_bias, max_bias, *, out_type):
    lo_x, hi_x, lo_b, hi_b = ranges("QuantizedBiasAdd", (min_input, max_input, min_bias, max_bias),
                                    ("min_input", "max_input", "min_bias", "max_bias"))
    out, mn, mx = Q.bias_add(xp, input, bias, lo_x, hi_x, lo_b, hi_b, _dt.as_dtype(out_type).np)
    return out, range_out(xp, mn), range_out(xp, mx)


QuantizedBiasAdd = results("QuantizedBiasAdd", ("output", "min_out", "max_out"))


def quantized_bias_add(input: Any, bias: Any, min_input: Any, max_input: Any, min_bias: Any,  # noqa: A002
                       max_bias: Any, out_type: Any, name: str | None = None) -> QuantizedBiasAdd:
    """Adds a quantized 1-D `bias` along the last dimension of a quantized `input` (TF 1.x
    `tf.nn.quantized_bias_add`): both are re-expressed in one symmetric `out_type` range (the larger input
    range times 2^17) and added.

    Args:
        input: a quantized Tensor of rank >= 2.
        bias: a quantized 1-D Tensor as long as input's last dimension.
        min_input, max_input, min_bias, max_bias: float32 scalars: the two ranges.
        out_type: the output's quantized dtype (qint32 in TF's 8-bit graphs).
        name: a name for the op (default "QuantizedBiasAdd").

    Returns:
        A namedtuple `(output, min_out, max_out)`.
    """
    x, b = convert_to_tensor(input, name="input"), convert_to_tensor(bias, name="bias")
    ins = [x, b] + [range_tensor(v, n) for v, n in zip((min_input, max_input, min_bias, max_bias),
                                                         ("min_input", "max_input", "min_bias", "max_bias"))]
    o = make_op("QuantizedBiasAdd", ins, {"T1": base(x), "T2": base(b), "out_type": _dt.as_dtype(out_type)},
                name or "QuantizedBiasAdd")
    return QuantizedBiasAdd(*o.outputs)


# -- RequantizationRange / Requantize --------------------------------------------------------------------
def _requantization_range_shape(ins, attrs):
    check_dtype("RequantizationRange", "input", ins[0], QUANTIZED_TYPES)
    check_attr_matches("RequantizationRange", "Tinput", attrs["Tinput"], ins[0], "input")
    check_scalars("RequantizationRange", ins[1:], ("input_min", "input_max"))
    return [SCALAR, SCALAR]


@op("RequantizationRange", inputs=("input", "input_min", "input_max"), attrs={"Tinput": REQUIRED},
    shape=_requantization_range_shape, outputs=2, output_names=("output_min", "output_max"), host_inputs=(1, 2),
    not_differentiable=True)
def requantization_range_kernel(xp, input, input_min, input_max):
    lo, hi = ranges("RequantizationRange", (input_min, input_max), ("input_min", "input_max"))
    mn, mx = Q.requantization_range(xp, input, lo, hi)
    return range_out(xp, mn), range_out(xp, mx)


RequantizationRange = results("RequantizationRange", ("output_min", "output_max"))


def requantization_range(input: Any, input_min: Any, input_max: Any,  # noqa: A002
                         name: str | None = None) -> RequantizationRange:
    """The float range a quantized tensor actually uses, its min never above 0 (TF's raw op
    RequantizationRange): feed it to `requantize` to bring a qint32 accumulator down to 8 bits without
    wasting codes.

    Returns:
        A namedtuple `(output_min, output_max)` of float32 scalars.
    """
    x = convert_to_tensor(input, name="input")
    o = make_op("RequantizationRange", [x, range_tensor(input_min, "input_min"), range_tensor(input_max, "input_max")],
                {"Tinput": base(x)}, name or "RequantizationRange")
    return RequantizationRange(*o.outputs)


def _requantize_shape(ins, attrs):
    x = ins[0]
    check_dtype("Requantize", "input", x, QUANTIZED_TYPES)
    check_attr_matches("Requantize", "Tinput", attrs["Tinput"], x, "input")
    check_scalars("Requantize", ins[1:], ("input_min", "input_max", "requested_output_min", "requested_output_max"))
    out_type = _dt.as_dtype(attrs["out_type"])
    if out_type not in EIGHT_BIT_TYPES:
        raise TypeError(f"Requantize: out_type must be quint8 or qint8, got {out_type.name}")
    return [(out_type, dims(x)), SCALAR, SCALAR]


@op("Requantize", inputs=("input", "input_min", "input_max", "requested_output_min", "requested_output_max"),
    attrs={"Tinput": REQUIRED, "out_type": REQUIRED}, shape=_requantize_shape, outputs=3,
    output_names=("output", "output_min", "output_max"), host_inputs=(1, 2, 3, 4), not_differentiable=True)
def requantize_kernel(xp, input, input_min, input_max, requested_output_min, requested_output_max, *, out_type):
    lo, hi, out_lo, out_hi = ranges("Requantize", (input_min, input_max, requested_output_min, requested_output_max),
                                    ("input_min", "input_max", "requested_output_min", "requested_output_max"))
    if out_lo > 0.0:
        from labflow import errors
        raise errors.InvalidArgumentError(None, None, f"Requantize: requested_output_min must be <= 0, but got "
                                          f"{out_lo!r}")
    out = Q.requantize(xp, input, lo, hi, out_lo, out_hi, _dt.as_dtype(out_type).np)
    return out, range_out(xp, out_lo), range_out(xp, out_hi)


Requantize = results("Requantize", ("output", "output_min", "output_max"))


def requantize(input: Any, input_min: Any, input_max: Any, requested_output_min: Any,  # noqa: A002
               requested_output_max: Any, out_type: Any, name: str | None = None) -> Requantize:
    """Re-expresses a quantized tensor (typically a qint32 accumulator) in a new range and an 8-bit type
    (TF's raw op Requantize; qint32 -> quint8 uses TF's fixed-point arithmetic). Values outside the
    requested range saturate.

    Args:
        input: a quantized Tensor; input_min, input_max: its range.
        requested_output_min, requested_output_max: float32 scalars: the new range (min <= 0 <= max).
        out_type: quint8 or qint8.
        name: a name for the op (default "Requantize").

    Returns:
        A namedtuple `(output, output_min, output_max)` (the range is the requested one).
    """
    x = convert_to_tensor(input, name="input")
    ins = [x] + [range_tensor(v, n) for v, n in zip(
        (input_min, input_max, requested_output_min, requested_output_max),
        ("input_min", "input_max", "requested_output_min", "requested_output_max"))]
    o = make_op("Requantize", ins, {"Tinput": base(x), "out_type": _dt.as_dtype(out_type)}, name or "Requantize")
    return Requantize(*o.outputs)


# -- QuantizedReshape ------------------------------------------------------------------------------------
def _quantized_reshape_shape(ins, attrs):
    check_dtype("QuantizedReshape", "tensor", ins[0], QUANTIZED_TYPES)
    check_scalars("QuantizedReshape", ins[2:], ("input_min", "input_max"))
    dt, out = array_ops._reshape_shape(ins[:2], attrs)
    return [(dt, out), SCALAR, SCALAR]


@op("QuantizedReshape", inputs=("tensor", "shape", "input_min", "input_max"), attrs={"Tshape": _dt.int32},
    shape=_quantized_reshape_shape, outputs=3, output_names=("output", "output_min", "output_max"),
    host_inputs=(1, 2, 3), not_differentiable=True)
def quantized_reshape_kernel(xp, tensor, shape, input_min, input_max):
    lo, hi = ranges("QuantizedReshape", (input_min, input_max), ("input_min", "input_max"))
    return array_ops.reshape_kernel.generic_kernel(xp, tensor, shape), range_out(xp, lo), range_out(xp, hi)


QuantizedReshape = results("QuantizedReshape", ("output", "output_min", "output_max"))


def quantized_reshape(tensor: Any, shape: Any, input_min: Any, input_max: Any,
                      name: str | None = None) -> QuantizedReshape:
    """`tf.reshape` of a quantized tensor, its range passed through (TF's raw op QuantizedReshape).

    Returns:
        A namedtuple `(output, output_min, output_max)`.
    """
    x = convert_to_tensor(tensor, name="tensor")
    s = convert_to_tensor(shape, dtype_hint=_dt.int32, name="shape")
    o = make_op("QuantizedReshape", [x, s, range_tensor(input_min, "input_min"), range_tensor(input_max, "input_max")],
                {"T": base(x), "Tshape": base(s)}, name or "QuantizedReshape")
    return QuantizedReshape(*o.outputs)


from labflow.ops import fake_quant_ops, quantized_nn_ops  # noqa: E402 - register with this family
from labflow.ops.fake_quant_ops import *  # noqa: E402,F401,F403
from labflow.ops.quantized_nn_ops import *  # noqa: E402,F401,F403

__all__ += quantized_nn_ops.__all__ + fake_quant_ops.__all__

# `tf.quantization`: TF 1.x's namespace of these wrappers (labflow also puts the raw quantized ops and
# tf.nn's quantized_* there).
quantization = types.ModuleType("labflow.quantization", "TF 1.x's tf.quantization: 8-bit quantization ops.")
for _name in __all__:
    setattr(quantization, _name, globals()[_name])
