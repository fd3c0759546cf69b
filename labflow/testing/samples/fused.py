"""Sweep samples for _FusedElementwise: every fusable op type alone, checked against that op's own
kernel (so each expression the fused kernel compiles means exactly what its op means), and clusters
like the ones runtime/elementwise_fusion.py makes (several outputs, broadcast inputs, AddN)."""

from __future__ import annotations

import numpy as np

from labflow import dtypes as _dt
from labflow.framework import registry
from labflow.ops.common import make_op
from labflow.ops.fused_elementwise_ops import EXPRESSIONS
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(31)
F16 = (_dt.float16, _dt.float32, _dt.float64)


def _fused(program: list[str], outputs: list[int]):
    def build(*xs):
        outs = make_op("_FusedElementwise", list(xs), {"program": program, "outputs": outputs}).outputs
        return outs[0] if len(outs) == 1 else list(outs)
    return build


def _inputs(op_type: str, arity: int) -> list:
    shape = (3, 4)
    if op_type == "RealDiv":
        return [R.randn(*shape), np.abs(R.randn(*shape)) + 0.5]
    if op_type == "Log":
        return [np.abs(R.randn(*shape)) + 0.5]
    if op_type in ("SigmoidGrad", "TanhGrad"):
        return [R.uniform(-0.9, 0.9, shape), R.randn(*shape)]
    if op_type == "ReluGrad":
        return [R.randn(*shape), R.permutation(12).reshape(shape) - 5.5]  # no feature at the kink
    if op_type in ("Floor", "Relu", "Maximum", "Minimum"):
        return [R.permutation(12).reshape(shape) * 0.37 - 2.1 + 0.05 * i for i in range(max(arity, 1))]
    return [R.randn(*shape) for _ in range(3 if arity < 0 else arity)]


@samples("_FusedElementwise")
def _fused_elementwise():
    cases = []
    for op_type, (arity, _) in sorted(EXPRESSIONS.items()):
        xs = _inputs(op_type, arity)
        operands = " ".join(str(i) for i in range(len(xs)))
        kernel = registry.get(op_type)

        def ref(*a, kernel=kernel):
            return np.asarray(kernel(*a)).astype(a[0].dtype)
        cases.append(Case(_fused([f"{op_type} {operands}"], [len(xs)]), xs, ref, dtypes=F16,
                          name=op_type, grad=False))
    # An LSTM cell's forward gate math: inputs c, i, j, f, o; outputs new c, h and the activations the
    # backward pass reads.
    program = ["Sigmoid 3", "Mul 0 5", "Sigmoid 1", "Tanh 2", "Mul 7 8", "Add 6 9", "Sigmoid 4", "Tanh 10",
               "Mul 11 12"]

    def cell(c, i, j, f, o):
        s = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        new_c = c * s(f) + s(i) * np.tanh(j)
        return [new_c, s(o) * np.tanh(new_c), s(f), np.tanh(j)]
    cases.append(Case(_fused(program, [10, 13, 5, 8]), [R.randn(2, 5) for _ in range(5)], cell, dtypes=F16,
                      name="lstm_cell", grad=False))
    # Broadcast inputs (a bias row, a scalar) and an AddN over a value used twice.
    cases.append(Case(_fused(["Mul 0 1", "AddN 3 3 2", "Relu 4"], [5]), [R.randn(4, 3), R.randn(3), R.randn()],
                      lambda x, b, s: np.maximum(2 * (x * b) + s, 0), dtypes=F16, name="broadcast_addn",
                      grad=False))
    for c in cases:
        c.unknown_shapes = False
    return cases
