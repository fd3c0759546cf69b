"""_FusedElementwise: a cluster of elementwise ops run as one node (made by runtime/elementwise_fusion.py).

On a GPU the cluster is one CUDA kernel (`cupy.fuse` of the cluster's expression), where the unfused
ops each cost a kernel launch and a Python dispatch: an unrolled LSTM's gate math is ~10 ops per cell
forward and ~15 backward, on [batch, units] values too small to keep the GPU busy. On the CPU the same
expression runs through NumPy, op by op (NumPy has no fusion), so it only saves the executor's dispatch.

The cluster is a tiny program over the node's inputs: `program` lists one instruction per fused op,
"OpType a b ...", whose operands index the values (0..N-1 the inputs, N+i the result of instruction i);
`outputs` lists the values the node returns. Every instruction means exactly what its op means
(`EXPRESSIONS`, checked against the ops' own kernels by the sweep).
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import numpy as np

from labflow import dtypes as _dt
from labflow.framework.registry import REQUIRED, op
from labflow.framework.shapes import broadcast_dims
from labflow.ops.common import base, dims

# Op type -> (operand count, -1 for any; Python expression over operands {0}, {1}, ... and `xp`).
# Only ufuncs, operators and Python scalars: what `cupy.fuse` compiles into one kernel.
EXPRESSIONS: dict[str, tuple[int, str]] = {
    "Add": (2, "{0} + {1}"),
    "AddV2": (2, "{0} + {1}"),
    "Sub": (2, "{0} - {1}"),
    "Mul": (2, "{0} * {1}"),
    "RealDiv": (2, "{0} / {1}"),
    "Maximum": (2, "xp.maximum({0}, {1})"),
    "Minimum": (2, "xp.minimum({0}, {1})"),
    "SquaredDifference": (2, "({0} - {1}) * ({0} - {1})"),
    "AddN": (-1, ""),
    "Neg": (1, "-{0}"),
    "Square": (1, "{0} * {0}"),
    "Exp": (1, "xp.exp({0})"),
    "Log": (1, "xp.log({0})"),
    "Tanh": (1, "xp.tanh({0})"),
    "Floor": (1, "xp.floor({0})"),
    "Relu": (1, "xp.maximum({0}, 0)"),
    "Sigmoid": (1, "1 / (1 + xp.exp(-{0}))"),
    "SigmoidGrad": (2, "(1 - {0}) * {0} * {1}"),
    "TanhGrad": (2, "(1 - {0} * {0}) * {1}"),
    "ReluGrad": (2, "{0} * ({1} > 0)"),
    "_CastGreaterEqual": (3, "({0} >= {1}) * {2}"),
}


def parse(program: list[str], n_inputs: int) -> list[tuple[str, list[int]]]:
    """The instructions of `program` as (op type, operand indices); ValueError naming what is wrong."""
    out = []
    for i, ins in enumerate(program):
        parts = (ins.decode() if isinstance(ins, bytes) else str(ins)).split()
        if not parts or parts[0] not in EXPRESSIONS:
            raise ValueError(f"_FusedElementwise: instruction {i} ({ins!r}) is not one of the fusable op types "
                             f"{', '.join(sorted(EXPRESSIONS))}")
        arity = EXPRESSIONS[parts[0]][0]
        try:
            operands = [int(p) for p in parts[1:]]
        except ValueError:
            raise ValueError(f"_FusedElementwise: instruction {i} ({ins!r}) has a non-integer operand") from None
        if (arity >= 0 and len(operands) != arity) or not operands:
            raise ValueError(f"_FusedElementwise: instruction {i} ({ins!r}) takes {arity if arity >= 0 else 'some'} "
                             f"operands, got {len(operands)}")
        if any(not 0 <= o < n_inputs + i for o in operands):
            raise ValueError(f"_FusedElementwise: instruction {i} ({ins!r}) reads a value that does not exist yet "
                             f"(there are {n_inputs} inputs and {i} earlier results)")
        out.append((parts[0], operands))
    return out


def _shape(ins: list, attrs: dict) -> list:
    program, outputs = attrs["program"], attrs["outputs"]
    n = len(ins)
    values = [dims(t) for t in ins]
    for _, operands in parse(program, n):
        d = values[operands[0]]
        for o in operands[1:]:
            d = broadcast_dims(d, values[o])
        values.append(d)
    if not outputs or any(not 0 <= o < len(values) for o in outputs):
        raise ValueError(f"_FusedElementwise: outputs {list(outputs)} must name some of its {len(values)} values")
    dt = base(ins[0])
    if any(base(t) != dt for t in ins):
        raise TypeError(f"_FusedElementwise: all inputs must have one dtype, got "
                        f"{', '.join(sorted({base(t).name for t in ins}))}")
    return [(dt, values[o]) for o in outputs]


def source(program: list[str], outputs: list[int], n_inputs: int) -> str:
    """The Python function a program stands for: `def fused(i0, i1, ...)` returning its output (a tuple
    of them when there are several)."""
    lines = [f"def fused({', '.join(f'i{k}' for k in range(n_inputs))}):"]
    names = [f"i{k}" for k in range(n_inputs)]
    for i, (op_type, operands) in enumerate(parse(program, n_inputs)):
        args = [names[o] for o in operands]
        expr = " + ".join(args) if op_type == "AddN" else EXPRESSIONS[op_type][1].format(*args)
        names.append(f"t{i}")
        lines.append(f"    t{i} = {expr}")
    lines.append(f"    return {', '.join(names[o] for o in outputs)}")
    return "\n".join(lines) + "\n"


# Most array arguments (inputs + outputs) of one fused kernel: each takes ~80 bytes of a CUDA kernel's
# 4 KB of parameters (pointer, size, shape and strides), and CuPy adds its own.
MAX_KERNEL_ARGS = 32

_compiled: dict[tuple, Callable] = {}
_log = logging.getLogger("labflow.gpu")


def compiled(xp: Any, program: list[str], outputs: list[int], n_inputs: int, fuse: bool = True) -> Callable:
    """The program as a function of `xp` arrays, made once per (backend, program); on CuPy with `fuse`,
    one kernel made by `cupy.fuse` (which caches the kernel per input dtypes and ranks)."""
    fuse = fuse and xp is not np
    key = (xp.__name__, fuse, tuple(program), tuple(outputs), n_inputs)
    fn = _compiled.get(key)
    if fn is None:
        scope: dict[str, Any] = {"xp": xp}
        exec(compile(source(program, outputs, n_inputs), "<labflow _FusedElementwise>", "exec"), scope)
        fn = scope["fused"]
        if fuse:
            fn = _guarded(key, xp.fuse(kernel_name="labflow_fused_elementwise")(fn), fn, str(program))
        _compiled[key] = fn
    return fn


def fused(xp: Any, fn: Callable) -> Callable:
    """`fn` (a function of `xp` arrays using ufuncs and `xp.where`) as one kernel on a GPU, made once per
    backend; `fn` itself on NumPy. Kernels with a hand-written GPU path use this (MaxPoolGrad)."""
    if xp is np:
        return fn
    key = (xp.__name__, fn)
    f = _compiled.get(key)
    if f is None:
        f = _compiled[key] = _guarded(key, xp.fuse(kernel_name=f"labflow_{fn.__name__}")(fn), fn, fn.__name__)
    return f


_per_backend: dict[tuple, Any] = {}


def per_backend(xp: Any, make: Callable) -> Any:
    """`make(xp)`, made once per backend: a GPU kernel's `fused` functions, which need `xp` in their
    bodies (`xp.exp`, `xp.where`) and so are closures made for it."""
    key = (xp, make)
    made = _per_backend.get(key)
    if made is None:
        made = _per_backend[key] = make(xp)
    return made


def device_constant(xp: Any, like: Any, key: tuple, make: Callable) -> Any:
    """`make()`, a small constant array a kernel reads every call (an index ramp), made once per `key`
    and GPU: the device of `like`, where the kernel runs."""
    full = (xp, key, getattr(getattr(like, "device", None), "id", 0))
    value = _per_backend.get(full)
    if value is None:
        value = _per_backend[full] = make()
    return value


def _guarded(key: tuple, fused_fn: Callable, plain: Callable, what: str) -> Callable:
    """`fused_fn`, falling back for good to `plain` (the same ops, one launch each) if it ever raises where
    `plain` does not: a program the installed CuPy cannot fuse or compile must cost speed, not the run.
    An error `plain` raises too is the inputs' fault and propagates."""
    def call(*inputs: Any) -> Any:
        try:
            return fused_fn(*inputs)
        except Exception as e:  # noqa: BLE001 - decided by running the plain version below
            result = plain(*inputs)
            _compiled[key] = plain
            _log.warning("labflow: cupy.fuse failed on %s (%s: %s); running its ops one by one",
                         what, type(e).__name__, e)
            return result
    return call


def fits_one_kernel(shapes: list[tuple], program: list[str], outputs: list[int]) -> bool:
    """Whether every output has the shape of all inputs broadcast together. One fused kernel computes
    every value at that shape; an output that is smaller (a value made only from broadcast inputs,
    possible when the static shapes had unknown dimensions) must be computed op by op instead."""
    if all(s == shapes[0] for s in shapes):
        return True
    key = (tuple(shapes), tuple(program), tuple(outputs))
    fits = _fits.get(key)
    if fits is None:  # parsing and broadcasting per call cost ~40 us of a GPU step's host time
        values = list(shapes)
        for _, operands in parse(program, len(shapes)):
            values.append(np.broadcast_shapes(*(values[o] for o in operands)))
        full = np.broadcast_shapes(*shapes)
        if len(_fits) > 4096:  # shapes that vary step to step must not grow it without bound
            _fits.clear()
        fits = _fits[key] = all(values[o] == full for o in outputs)
    return fits


_fits: dict[tuple, bool] = {}


def evaluate(xp: Any, program: list[str], outputs: list[int], *inputs: Any) -> Any:
    """Runs a program on arrays (one kernel on a GPU when the shapes allow); its output, or a tuple of
    them, in the first input's dtype. Kernels with a GPU fast path call this too (AddN, ReluGrad, ...)."""
    if xp is np:
        fuse = False
    else:  # the common case first: every input of one shape (an LSTM cell's gates), checked cheaply
        shape = inputs[0].shape
        fuse = all(x.shape == shape for x in inputs) or fits_one_kernel([x.shape for x in inputs], program, outputs)
    results = compiled(xp, program, outputs, len(inputs), fuse)(*inputs)
    dt = inputs[0].dtype
    # Python scalars in the expression are weak (NEP 50), so results keep the inputs' dtype; the cast
    # is a guard (a no-op then) against a backend that promotes them.
    if len(outputs) == 1:
        return results if results.dtype == dt else results.astype(dt)
    return tuple(r if r.dtype == dt else r.astype(dt) for r in results)


@op("_FusedElementwise", inputs=("*inputs",), attrs={"program": REQUIRED, "outputs": REQUIRED, "fused_names": []},
    types=(_dt.float16, _dt.float32, _dt.float64), shape=_shape, not_differentiable=True,
    outputs=lambda attrs, n: len(attrs["outputs"]))
def fused_elementwise_kernel(xp, *inputs, program, outputs):
    return evaluate(xp, program, outputs, *inputs)
