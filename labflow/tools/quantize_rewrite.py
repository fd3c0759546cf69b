"""The "eightbit" rewrite behind `labflow.tools.quantize.quantize_graph` (TF's quantize_graph.py eightbit
mode, reorganised so that no Dequantize -> QuantizeV2 round trip is ever made rather than made and removed).

Pass 1 plans, in topological order, which float32 nodes become quantized: every MatMul and NHWC Conv2D;
then a bias add (BiasAdd, or Add/AddV2 of a 1-D constant as long as the last dimension), Relu, Relu6,
MaxPool, AvgPool or Reshape whose data input comes from a planned node. Pass 2 emits, for each planned
node, its quantized op fed with quint8 inputs: the quint8 form of a producer's output when it has one
(requantized from its qint32 accumulator when needed), a weight constant quantized offline, the inputs of
an existing quint8 Dequantize (e.g. from quantize_weights), or else a QuantizeV2 of the float tensor.
A planned node that still has float readers (an unplanned consumer, a control edge, a graph output) is
replaced by a Dequantize of the same name, so the rest of the graph keeps its inputs as they were.

Activation ranges come from calibration (`ranges`: float tensor name -> (min, max)), else from a fixed
`fallback_range`, else from the tensor itself at run time: Min/Max reductions before each QuantizeV2 and
a RequantizationRange before each Requantize, as TF's eightbit mode does without calibration.

With ranges fixed at rewrite time, three refinements use the same TF ops and make the result closer to
float (mean |logit error| / mean |logit|, fixed ranges without -> with them: 2.9% -> 2.4% on the
inference_cnn workload, 7.0% -> 1.6% on tests/tools/test_quantize.py's CNN) and faster:
requantization ranges put 0.0 exactly on a code (zero_exact_range), bias adds get ranges free of
QuantizedBiasAdd's float32 shift (bias_add_ranges), and an accumulator read only by a ReLU is requantized
straight into the ReLU's range, which makes the ReLU a copy, so it is left out.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.proto_convert import (
    attr_value_from_python,
    attr_value_to_python,
    make_ndarray,
    make_tensor_proto,
)
from labflow.framework.protos import graph_pb2
from labflow.ops import quantized_kernels as Q
from labflow.tools.graph_util import node_name

_PASSTHROUGH = {"Relu": "QuantizedRelu", "Relu6": "QuantizedRelu6", "MaxPool": "QuantizedMaxPool",
                "AvgPool": "QuantizedAvgPool", "Reshape": "QuantizedReshape"}
_BIAS_OPS = ("BiasAdd", "Add", "AddV2")


@dataclasses.dataclass(frozen=True)
class QTensor:
    """A quantized tensor in the rewritten graph: its value and its float range, as tensor names (and the
    range's values when they are constants)."""
    value: str
    min: str
    max: str
    known: tuple | None = None


def tensor_name(s: str) -> str:
    """"x" -> "x:0" (the form used as dictionary keys here); "x:1" stays."""
    return s if ":" in s and s.rpartition(":")[2].isdigit() else s + ":0"


def input_ref(t: str) -> str:
    """A tensor name as a NodeDef input ("x:0" -> "x")."""
    return t[:-2] if t.endswith(":0") else t


def weight_range(values: np.ndarray) -> tuple[float, float]:
    """TF's range for an offline-quantized constant: it holds 0, and never has zero width."""
    lo = min(float(values.min()), 0.0) if values.size else 0.0
    hi = max(float(values.max()), 0.0) if values.size else 0.0
    if lo == hi:  # TF's rule for constants with one value
        hi = lo + 1.0 if abs(lo) < 1e-6 else (2 * lo if lo > 0 else lo / 2.0)
    return lo, hi


def zero_exact_range(lo: float, hi: float) -> tuple[float, float]:
    """[lo, hi] moved (same width) so that 0.0 is exactly a quint8 level. Requantize's fixed-point path
    maps code c to lo + c * step, while the ops reading its output (MIN_FIRST) use round(lo / step) * step
    + c * step: with lo a whole number of steps the two agree, otherwise every value read back is off by
    the fraction, a bias of up to half a step that the next layer's sums accumulate (TF's own eightbit
    graphs carry it)."""
    step = (hi - lo) / 255.0
    if step <= 0.0:
        return lo, hi
    zero = round(-lo / step)
    return -zero * step, (255 - zero) * step


def quantize_weight(values: np.ndarray, rng: tuple | None = None) -> tuple[np.ndarray, float, float]:
    """(quint8 codes, min, max) of a float constant, with MIN_FIRST (what the quantized ops assume), over
    `rng` or else the values' own range."""
    lo, hi = rng or weight_range(values)
    return Q.quantize_eigen(np, values.astype(np.float32), lo, hi, np.uint8), lo, hi


def _sum_range_is_exact(m: Any) -> bool:
    """Whether TF's float32 struct arithmetic handles QuantizedBiasAdd's qint32 range +-(m * 2^17) with no
    shift: its minimum scales to exactly -2^31, 0.0 maps to code 0, and Dequantize maps code 0 to 0.0."""
    big = float(Q.F32(Q.F32(m) * Q.F32(1 << 17)))
    _, min_scaled = Q.f2q_struct(-big, big, 32)
    scale, min_rounded = Q.q2f_struct(-big, big, 32)
    low = Q.F32(-(2.0 ** 31))
    return bool(Q.F32(min_scaled - low) == 0 and Q.float_to_quantized(0.0, -big, big, np.int32) == 0
                and Q.F32(min_rounded - Q.F32(low * scale)) == 0)


def _with_magnitude(r: tuple, m: float) -> tuple[float, float]:
    """Range r (0 inside) stretched so that its larger end has magnitude exactly m, with 0.0 still
    exactly a quint8 level (see zero_exact_range)."""
    lo, hi = r
    zero = min(max(round(-lo * 255.0 / (hi - lo)), 0), 255) if hi > lo else 0
    if hi >= -lo:
        return -zero * m / (255 - zero), m
    return -m, (255 - zero) * m / zero


def bias_add_ranges(x_range: tuple, b_range: tuple) -> tuple[tuple, tuple]:
    """Ranges for QuantizedBiasAdd's two operands that avoid a flaw of TF's kernel: it adds in a qint32
    range of +-(larger magnitude) * 2^17 whose minimum it scales and rounds in float32, where float32
    steps are 128-256 codes; for about a third of magnitudes both operands come out shifted by 128 or 256
    codes, a constant error of up to 1/64 of the range. The larger range is widened by a few float32 ulps
    to the nearest magnitude with no shift; the op itself stays exactly TF's."""
    mx, mb = max(-x_range[0], x_range[1]), max(-b_range[0], b_range[1])
    m = Q.F32(max(mx, mb))
    m = m if m >= max(mx, mb) else np.nextafter(m, Q.F32(np.inf))
    for _ in range(1 << 16):  # measured: 2/3 of magnitudes need no step, the worst of 2000 needed 1100
        if _sum_range_is_exact(m):
            break
        m = np.nextafter(m, Q.F32(np.inf))
    else:
        return x_range, b_range  # never seen; TF's behaviour then
    if mx >= mb:
        return _with_magnitude(x_range, float(m)), b_range
    return x_range, _with_magnitude(b_range, float(m))


class Emitter:
    """Appends NodeDefs to a GraphDef with names unique in it."""

    def __init__(self, out: graph_pb2.GraphDef, taken: set[str]):
        self.out, self.taken = out, taken

    def unique(self, name: str) -> str:
        n, i = name, 1
        while n in self.taken:
            n, i = f"{name}_{i}", i + 1
        self.taken.add(n)
        return n

    def node(self, op: str, name: str, inputs: list[str], attrs: dict, device: str = "", exact: bool = False) -> str:
        nd = self.out.node.add()
        nd.name = name if exact else self.unique(name)
        nd.op = op
        nd.input.extend(input_ref(i) if not i.startswith("^") else i for i in inputs)
        if device:
            nd.device = device
        for k, v in attrs.items():
            nd.attr[k].CopyFrom(attr_value_from_python(v))
        return nd.name

    def const(self, name: str, value: Any, dtype: _dt.DType, device: str = "", exact: bool = False) -> str:
        value = np.asarray(value, dtype=dtype.np)
        nd = self.out.node.add()
        nd.name = name if exact else self.unique(name)
        nd.op = "Const"
        if device:
            nd.device = device
        nd.attr["dtype"].type = dtype.as_datatype_enum
        nd.attr["value"].tensor.CopyFrom(make_tensor_proto(value, dtype=dtype))
        return nd.name


class EightBitRewriter:
    """One use: `EightBitRewriter(graph_def, outputs, ranges, fallback_range).rewrite()` -> GraphDef."""

    def __init__(self, graph_def: graph_pb2.GraphDef, outputs: list[str], ranges: dict | None,
                 fallback_range: tuple | None):
        import labflow as lf
        self.gd = graph_def
        self.nodes = {n.name: n for n in graph_def.node}
        self.outputs = [node_name(o) for o in outputs]
        self.ranges = {tensor_name(k): v for k, v in (ranges or {}).items()}
        self.fallback = fallback_range
        self.scratch = lf.Graph()  # the imported graph: static dtypes and shapes of every tensor
        with self.scratch.as_default():
            lf.import_graph_def(graph_def, name="")
        self.out = graph_pb2.GraphDef()
        self.out.versions.CopyFrom(graph_def.versions)
        self.emit = Emitter(self.out, set(self.nodes))
        self.plan: dict[str, tuple] = {}
        self.q8: dict[str, QTensor] = {}
        self.q32: dict[str, QTensor] = {}
        self.bias_ranges: dict[str, tuple] = {}  # bias Const name -> the range chosen with its input's
        self.consumers: dict[str, list] = {}
        for n in graph_def.node:
            for i in n.input:
                self.consumers.setdefault(node_name(i), []).append((n, i))

    # -- facts about the float graph --------------------------------------------------------------------------
    def _tensor(self, t: str) -> Any:
        return self.scratch.get_tensor_by_name(tensor_name(t))

    def _is_f32(self, t: str) -> bool:
        return self._tensor(t).dtype.base_dtype == _dt.float32

    def _attr(self, n: Any, key: str, default: Any = None) -> Any:
        return attr_value_to_python(n.attr[key]) if key in n.attr else default

    def _source(self, t: str) -> tuple[str, Any]:
        """(tensor, its producer) after looking through Identity nodes (a frozen variable's "w/read")."""
        t = tensor_name(t)
        n = self.nodes.get(node_name(t))
        while n is not None and n.op == "Identity" and n.input and t.endswith(":0"):
            t = tensor_name(n.input[0])
            n = self.nodes.get(node_name(t))
        return t, n

    def _float_const(self, t: str) -> tuple[str, np.ndarray] | None:
        """(Const node name, value) when t is a float32 constant, looking through Identity nodes."""
        t, n = self._source(t)
        if n is None or n.op != "Const" or not t.endswith(":0"):
            return None
        v = make_ndarray(n.attr["value"].tensor)
        return (n.name, v) if v.dtype == np.float32 else None

    def _planned(self, t: str) -> bool:
        return node_name(t) in self.plan and tensor_name(t).endswith(":0")

    def _data(self, n: Any) -> list[str]:
        return [i for i in n.input if not i.startswith("^")]

    def _nhwc(self, n: Any) -> bool:
        return self._attr(n, "data_format", "NHWC") == "NHWC"

    # -- pass 1: the plan ---------------------------------------------------------------------------------------
    def _topo(self) -> list:
        order, state = [], {}
        for root in self.gd.node:
            stack = [(root, False)]
            while stack:
                n, done = stack.pop()
                if done:
                    state[n.name] = 2
                    order.append(n)
                    continue
                if state.get(n.name):
                    continue
                state[n.name] = 1
                stack.append((n, True))
                stack.extend((self.nodes[node_name(i)], False) for i in n.input
                             if node_name(i) in self.nodes and not state.get(node_name(i)))
        return order

    def _decide(self, n: Any) -> tuple | None:
        data = self._data(n)
        if not data or not self._is_f32(n.name):
            return None
        if n.op == "MatMul":
            return ("MatMul", data[0], data[1])
        if n.op == "Conv2D":
            ok = (self._nhwc(n) and all(int(d) == 1 for d in self._attr(n, "dilations", [1, 1, 1, 1]))
                  and self._attr(n, "padding") in ("SAME", "VALID"))
            return ("Conv2D", data[0], data[1]) if ok else None
        if n.op in _BIAS_OPS and len(data) == 2 and (n.op != "BiasAdd" or self._nhwc(n)):
            for x, b in ((data[0], data[1]), (data[1], data[0])) if n.op != "BiasAdd" else ((data[0], data[1]),):
                c = self._float_const(b)
                xd = self._tensor(x)._shape_dims
                if (c is not None and c[1].ndim == 1 and self._planned(x) and xd is not None and len(xd) >= 2
                        and xd[-1] == c[1].shape[0]):
                    return ("BiasAdd", x, b)
            return None
        if n.op in _PASSTHROUGH and self._planned(data[0]) and (n.op not in ("MaxPool", "AvgPool") or self._nhwc(n)):
            return (n.op, *data)
        return None

    # -- pass 2: quantized inputs -------------------------------------------------------------------------------
    def _range(self, t: str) -> tuple | None:
        r = self.ranges.get(tensor_name(t), self.fallback)
        return None if r is None else Q.adjust_range(float(r[0]), float(r[1]))

    def _range_consts(self, base: str, r: tuple, device: str) -> tuple[str, str]:
        return (self.emit.const(base + "_min", np.float32(r[0]), _dt.float32, device),
                self.emit.const(base + "_max", np.float32(r[1]), _dt.float32, device))

    def q8_of(self, t: str, device: str) -> QTensor:
        """The quint8 form of float tensor t, made at most once."""
        t = tensor_name(t)
        if t in self.q8:
            return self.q8[t]
        if t in self.q32:
            q = self._requantize(t, device)
        elif (c := self._float_const(t)) is not None:
            key = tensor_name(c[0])
            if key not in self.q8:
                codes, lo, hi = quantize_weight(c[1])
                dev = self.nodes[c[0]].device
                v = self.emit.const(c[0] + "_quint8_const", codes, _dt.quint8, dev)
                mn, mx = self._range_consts(c[0], (lo, hi), dev)
                self.q8[key] = QTensor(v + ":0", mn + ":0", mx + ":0", (lo, hi))
            q = self.q8[key]
        elif (dq := self._existing_dequantize(t)) is not None:
            q = dq
        else:
            q = self._quantize(t, device)
        self.q8[t] = q
        return q

    def _existing_dequantize(self, t: str) -> QTensor | None:
        # a float tensor that is itself a MIN_FIRST Dequantize of quint8: use what it dequantizes
        t, n = self._source(t)
        if (n is None or n.op != "Dequantize" or not t.endswith(":0") or self._attr(n, "mode") != "MIN_FIRST"
                or self._tensor(n.input[0]).dtype.base_dtype != _dt.quint8):
            return None
        return QTensor(*(tensor_name(i) for i in self._data(n)[:3]))

    def _quantize(self, t: str, device: str) -> QTensor:
        base = node_name(t).replace(":", "_") + "_eightbit"
        r = self._range(t)
        if r is not None:
            mn, mx = (x + ":0" for x in self._range_consts(base, r, device))
        else:  # the range of the tensor itself, each run (TF's eightbit mode without calibration)
            flat = self.emit.node("Reshape", base + "_reshape", [t, self.emit.const(base + "_reshape_dims", [-1],
                                                                                    _dt.int32, device)],
                                  {"T": _dt.float32, "Tshape": _dt.int32}, device)
            axis = self.emit.const(base + "_reduction_dims", [0], _dt.int32, device)
            attrs = {"T": _dt.float32, "Tidx": _dt.int32, "keep_dims": False}
            mn = self.emit.node("Min", base + "_min", [flat, axis], attrs, device) + ":0"
            mx = self.emit.node("Max", base + "_max", [flat, axis], attrs, device) + ":0"
        q = self.emit.node("QuantizeV2", base + "_quantize", [t, mn, mx],
                           {"T": _dt.quint8, "mode": "MIN_FIRST", "round_mode": "HALF_AWAY_FROM_ZERO"}, device)
        return QTensor(q + ":0", q + ":1", q + ":2", r)

    def _requantize(self, t: str, device: str) -> QTensor:
        acc = self.q32[t]
        base = node_name(t) + "_eightbit"
        # A ReLU reading only this tensor clips at 0 anyway: requantizing straight into the ReLU's range
        # spends all 256 codes on what survives it.
        readers = self.consumers.get(node_name(t), [])
        r = self._range(t)
        if len(readers) == 1 and readers[0][0].op in ("Relu", "Relu6") and readers[0][0].name in self.plan:
            r = self._range(readers[0][0].name) or r
        if r is not None:
            r = zero_exact_range(*r)
            for c, _ in readers:
                step = self.plan.get(c.name)
                if step is not None and step[0] == "BiasAdd" and tensor_name(step[1]) == t:
                    name, values = self._float_const(step[2])
                    r, self.bias_ranges[name] = bias_add_ranges(r, self.bias_ranges.get(name, weight_range(values)))
            mn, mx = (x + ":0" for x in self._range_consts(base + "_requant", r, device))
        else:
            rr = self.emit.node("RequantizationRange", base + "_requant_range", [acc.value, acc.min, acc.max],
                                {"Tinput": _dt.qint32}, device)
            mn, mx = rr + ":0", rr + ":1"
        q = self.emit.node("Requantize", base + "_requantize", [acc.value, acc.min, acc.max, mn, mx],
                           {"Tinput": _dt.qint32, "out_type": _dt.quint8}, device)
        return QTensor(q + ":0", q + ":1", q + ":2", r)

    # -- pass 2: the quantized ops -------------------------------------------------------------------------------
    def _emit(self, n: Any, step: tuple) -> None:
        kind, *ins = step
        dev = n.device
        ctrl = [i for i in n.input if i.startswith("^")]
        base = n.name + "_eightbit"
        out = tensor_name(n.name)
        if kind == "MatMul":
            a, b = self.q8_of(ins[0], dev), self.q8_of(ins[1], dev)
            attrs = {"T1": _dt.quint8, "T2": _dt.quint8, "Toutput": _dt.qint32, "Tactivation": _dt.quint8,
                     "transpose_a": bool(self._attr(n, "transpose_a", False)),
                     "transpose_b": bool(self._attr(n, "transpose_b", False))}
            o = self.emit.node("QuantizedMatMul", base + "_quantized_mat_mul",
                               [a.value, b.value, a.min, a.max, b.min, b.max, *ctrl], attrs, dev)
        elif kind == "Conv2D":
            x, w = self.q8_of(ins[0], dev), self.q8_of(ins[1], dev)
            attrs = {"Tinput": _dt.quint8, "Tfilter": _dt.quint8, "out_type": _dt.qint32,
                     "strides": [int(s) for s in self._attr(n, "strides")], "padding": self._attr(n, "padding"),
                     "dilations": [1, 1, 1, 1]}
            o = self.emit.node("QuantizedConv2D", base + "_quantized_conv", [x.value, w.value, x.min, x.max, w.min,
                                                                              w.max, *ctrl], attrs, dev)
        elif kind == "BiasAdd":
            x = self.q8_of(ins[0], dev)
            bias = self._float_const(ins[1])[0]
            b = self._bias(ins[1], dev) if bias in self.bias_ranges else self.q8_of(ins[1], dev)
            o = self.emit.node("QuantizedBiasAdd", base + "_quantized_bias_add",
                               [x.value, b.value, x.min, x.max, b.min, b.max, *ctrl],
                               {"T1": _dt.quint8, "T2": _dt.quint8, "out_type": _dt.qint32}, dev)
        else:
            x = self.q8_of(ins[0], dev)
            if kind.startswith("Relu") and x.known and x.known[0] >= 0.0 and not ctrl and (
                    kind == "Relu" or x.known[1] <= 6.0):
                # a range starting at 0 (a requantization into this ReLU's calibrated range) has 0.0 at
                # code 0, nothing below it and, for Relu6, nothing above 6: the ReLU would copy its input
                self.q8[out] = x
                return
            qop = _PASSTHROUGH[kind]
            if kind == "Reshape":
                inputs = [x.value, ins[1], x.min, x.max]
                attrs = {"T": _dt.quint8, "Tshape": self._tensor(ins[1]).dtype.base_dtype}
            else:
                inputs = [x.value, x.min, x.max]
                attrs = ({"Tinput": _dt.quint8, "out_type": _dt.quint8} if kind.startswith("Relu") else
                         {"T": _dt.quint8, "ksize": self._attr(n, "ksize"), "strides": self._attr(n, "strides"),
                          "padding": self._attr(n, "padding")})
            o = self.emit.node(qop, base + "_" + qop, inputs + ctrl, attrs, dev)
            self.q8[out] = QTensor(o + ":0", o + ":1", o + ":2", x.known)
            return
        self.q32[out] = QTensor(o + ":0", o + ":1", o + ":2")

    def _bias(self, t: str, device: str) -> QTensor:
        name, values = self._float_const(t)
        codes, lo, hi = quantize_weight(values, self.bias_ranges[name])
        dev = self.nodes[name].device
        v = self.emit.const(name + "_quint8_const", codes, _dt.quint8, dev)
        mn, mx = self._range_consts(name, (lo, hi), dev)
        return QTensor(v + ":0", mn + ":0", mx + ":0", (lo, hi))

    def _needs_float(self, n: Any) -> bool:
        if n.name in self.outputs:
            return True
        return any(i.startswith("^") or c.name not in self.plan for c, i in self.consumers.get(n.name, []))

    def rewrite(self) -> graph_pb2.GraphDef:
        order = self._topo()
        for n in order:
            step = self._decide(n)
            if step is not None:
                self.plan[n.name] = step
        for n in order:
            if n.name in self.plan:
                self._emit(n, self.plan[n.name])
            else:
                self.out.node.add().CopyFrom(n)
        for n in order:
            if n.name in self.plan and self._needs_float(n):
                t = tensor_name(n.name)
                src, qt = (self.q32[t], _dt.qint32) if t in self.q32 else (self.q8[t], _dt.quint8)
                self.emit.node("Dequantize", n.name, [src.value, src.min, src.max], {"T": qt, "mode": "MIN_FIRST"},
                               n.device, exact=True)
        return self.out
