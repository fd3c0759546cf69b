"""The registry-wide op sweep: every registered op x dtype x device is checked three ways.

1. forward: the op's output against a NumPy reference;
2. static shape: the shape function's result is compatible with the actual output, and the dtype
   is exactly the declared one;
3. gradient: symbolic vs numerical (float64, random directions) for differentiable ops.

Samples are declared next to nothing else: `labflow/testing/samples/<family>.py` (or an extension's
own module) registers them with `@samples("OpType")`. An op with no samples fails the sweep unless
`exempt("OpType", reason)` says why it cannot run standalone.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Any, Callable, Sequence

import numpy as np

from labflow import dtypes as _dt


@dataclasses.dataclass
class Case:
    """One sample invocation of an op through its public wrapper.

    Attributes:
        build: maps placeholders (one per input) to the output tensor(s); must create `op_type`.
        inputs: NumPy inputs (float inputs are cast to each swept dtype; others keep their dtype).
        ref: NumPy reference taking the same (cast) inputs, returning the expected value(s).
        dtypes: float dtypes the case is swept over (ignored when no input is floating).
        grad: run the numerical gradient check (float64).
        wrt: input indices to differentiate (default: every float input).
        rtol, atol: forward tolerances at float32/float64 (loosened automatically for 16-bit types).
        name: a label for test ids.
        unknown_shapes: also build with placeholders of unknown shape and check the result.
    """

    build: Callable[..., Any]
    inputs: Sequence[Any]
    ref: Callable[..., Any]
    dtypes: Sequence[_dt.DType] = (_dt.float32, _dt.float64)
    grad: bool = True
    wrt: Sequence[int] | None = None
    rtol: float = 1e-5
    atol: float = 1e-6
    name: str = ""
    unknown_shapes: bool = True
    grad_rtol: float = 1e-5
    grad_atol: float = 1e-7


_SAMPLES: dict[str, list[Callable[[], list[Case]]]] = {}
_EXEMPT: dict[str, str] = {}


def samples(*op_types: str) -> Callable:
    """Registers a function returning a list of `Case`s for the given op type(s)."""
    def deco(fn: Callable[[], list[Case]]) -> Callable:
        for t in op_types:
            _SAMPLES.setdefault(t, []).append(fn)
        return fn
    return deco


def exempt(op_type: str, reason: str) -> None:
    """Marks an op that cannot be swept standalone (the reason says where it is tested instead)."""
    _EXEMPT[op_type] = reason


def load_builtin_samples() -> None:
    from labflow.testing import samples as pkg
    for m in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{pkg.__name__}.{m.name}")


def all_cases() -> list[tuple[str, int, Case]]:
    load_builtin_samples()
    out = []
    for t, fns in sorted(_SAMPLES.items()):
        i = 0
        for fn in fns:
            for c in fn():
                out.append((t, i, c))
                i += 1
    return out


def missing_samples() -> list[str]:
    from labflow.framework import registry
    load_builtin_samples()
    return sorted(t for t in registry.registered_ops() if t not in _SAMPLES and t not in _EXEMPT)


def _tol(dtype: _dt.DType, case: Case) -> tuple[float, float]:
    if dtype in (_dt.float16,):
        return max(case.rtol, 2e-2), max(case.atol, 2e-2)
    if dtype in (_dt.bfloat16,):
        return max(case.rtol, 5e-2), max(case.atol, 5e-2)
    if dtype == _dt.float32:
        return max(case.rtol, 1e-5), max(case.atol, 1e-5)
    return case.rtol, case.atol


def _cast_inputs(case: Case, dtype: _dt.DType) -> list[np.ndarray]:
    out = []
    for x in case.inputs:
        a = np.asarray(x)
        out.append(a.astype(dtype.as_numpy_dtype) if a.dtype.kind == "f" else a)
    return out


def _as_list(v: Any) -> list:
    return list(v) if isinstance(v, (list, tuple)) else [v]


def check_forward(op_type: str, case: Case, dtype: _dt.DType, device: str | None = None,
                  unknown: bool = False) -> None:
    """Forward vs reference, and static shape/dtype vs actual. Raises AssertionError with details."""
    import labflow as tf
    xs = _cast_inputs(case, dtype)
    g = tf.Graph()
    with g.as_default(), (tf.device(device) if device else _null()):
        phs = [tf.placeholder(tf.as_dtype(x.dtype), shape=None if unknown else x.shape) for x in xs]
        outs = _as_list(case.build(*phs))
    types = {o.type for o in g.get_operations()}
    assert op_type in types, f"sample for {op_type} built no {op_type} op (built: {sorted(types)})"
    with tf.Session(graph=g) as sess:
        got = sess.run(outs, dict(zip(phs, xs)))
    want = _as_list(case.ref(*xs))
    assert len(got) == len(want), f"{op_type}: {len(got)} outputs, reference has {len(want)}"
    rtol, atol = _tol(dtype, case)
    for k, (o, gv, wv) in enumerate(zip(outs, got, want)):
        # Scalar fetches come back as NumPy scalars / bytes, like TF: compare them as 0-d arrays.
        gv = np.asarray(gv, dtype=object) if o.dtype.base_dtype == _dt.string else np.asarray(gv)
        wv = np.asarray(wv, dtype=object) if o.dtype.base_dtype == _dt.string else np.asarray(wv)
        assert gv.dtype == np.dtype(o.dtype.base_dtype.as_numpy_dtype), (
            f"{op_type} output {k}: kernel returned dtype {gv.dtype}, op declares {o.dtype.name}")
        assert gv.shape == wv.shape, f"{op_type} output {k}: shape {gv.shape}, reference {wv.shape}"
        assert o.get_shape().is_compatible_with(gv.shape), (
            f"{op_type} output {k}: static shape {o.get_shape()} incompatible with actual {gv.shape}")
        if not unknown and all(x.shape is not None for x in xs):
            pass
        if gv.dtype.kind in "fc" or gv.dtype == _dt.bfloat16.as_numpy_dtype:
            as64 = np.complex128 if gv.dtype.kind == "c" or wv.dtype.kind == "c" else np.float64
            np.testing.assert_allclose(gv.astype(as64), wv.astype(as64), rtol=rtol, atol=atol,
                                       err_msg=f"{op_type} output {k} ({dtype.name})")
        else:
            np.testing.assert_array_equal(gv, wv.astype(gv.dtype) if wv.dtype != object else wv,
                                          err_msg=f"{op_type} output {k}")


def check_gradient(op_type: str, case: Case, device: str | None = None) -> None:
    from labflow.testing.gradient_check import gradient_check
    xs = [np.asarray(x).astype(np.float64) if np.asarray(x).dtype.kind == "f" else np.asarray(x)
          for x in case.inputs]
    gradient_check(case.build, xs, case.wrt, rtol=case.grad_rtol, atol=case.grad_atol, device=device)


def sweep_dtypes(case: Case) -> list[_dt.DType]:
    if any(np.asarray(x).dtype.kind == "f" for x in case.inputs):
        return list(case.dtypes)
    return [_dt.float64]  # no float input: one run (the name is just a label then)


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False
