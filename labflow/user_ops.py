"""The public API for writing your own ops (TF's "Adding a New Op", in Python).

A user op is declared exactly like labflow's built-in ops: one decorator gives its signature, attrs,
allowed dtypes, shape function and its kernel, written once against `xp` (NumPy on the CPU, CuPy on a
GPU). Put the declarations in a `.py` file or a package directory and load it with
`tf.load_op_library(path)`, which returns the op's snake_case wrappers (see extensions/zero_out/):

```python
# my_ops.py
from labflow import user_ops as uo

@uo.op("ZeroOut", inputs=("to_zero",), types=(uo.int32,), shape=uo.same_as_input,
       not_differentiable=True)
def zero_out_kernel(xp, to_zero):
    out = xp.zeros_like(to_zero)
    if to_zero.size:
        out.reshape(-1)[0] = to_zero.reshape(-1)[0]
    return out

zero_out = uo.make_wrapper(zero_out_kernel)   # optional: load_op_library generates it otherwise

@uo.samples("ZeroOut")          # what the registry-wide op sweep runs for it
def _zero_out_samples():
    return [uo.Case(zero_out, [np.array([5, 4, 3], np.int32)],
                    lambda x: np.array([5, 0, 0], np.int32), grad=False)]

# user code
zero_out_module = tf.load_op_library("my_ops.py")
y = zero_out_module.zero_out([[1, 2], [3, 4]])
```

`op(name, *, inputs, attrs, types, type_inputs, shape, outputs, stateful, devices, not_differentiable,
output_names, host_op, needs_ctx, ...)`:
    inputs: input names; `"*values"` is a variadic list. attrs: name -> default (`REQUIRED`: must be
    given). types: the dtypes allowed for the type attr "T", shared by the inputs in `type_inputs`
    (default: all inputs). shape: `fn(inputs, attrs) -> (dtype, dims)` or a list of those, one per
    output; `dims` is a tuple of ints/None, or None for an unknown rank; it raises ValueError with a
    clear message for bad inputs (labflow appends the op's name and input shapes). The kernel is
    `fn(xp, *inputs, **attrs)` and returns an array (or a tuple, one per output); it must not copy to
    the host or check shapes (the shape function did). `@kernel.grad` registers `grad(op, *out_grads)
    -> [one gradient or None per input]`, built from graph ops, so it is itself differentiable;
    `not_differentiable=True` says there is none. `@kernel.kernel("GPU")` adds a device-specific
    override (e.g. a CuPy RawKernel).

Every op needs sweep samples (`@samples(op_type)` returning `Case`s) or an `exempt(op_type, reason)`:
the test suite's `test_every_op_has_samples` fails otherwise, and `check_op(op_type)` runs the sweep's
checks (forward vs your NumPy reference, static shape vs actual, numerical gradient) in your tests.
An op type may be registered once per process: a second registration raises `RegistrationError`
naming both definition sites.

Python callables without a declaration: `tf.py_func` / `tf.numpy_function` (labflow/ops/script_ops.py).
"""

from __future__ import annotations

# `bool` shadows the builtin in this module (as `tf.bool` does): nothing here may call bool().
from labflow.dtypes import (  # noqa: F401 - re-exported for op declarations
    bfloat16,
    bool,
    complex64,
    complex128,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    string,
    uint8,
)
from labflow.framework.registry import (  # noqa: F401 - re-exported
    NOT_DIFFERENTIABLE,
    REQUIRED,
    OpDef,
    RegistrationError,
    op,
    register_gradient,
)
from labflow.ops.common import (  # noqa: F401 - re-exported: dtype groups and shape-function helpers
    ALL_TYPES,
    COMPLEX_TYPES,
    FLOAT_TYPES,
    INDEX_TYPES,
    INT_TYPES,
    NUMERIC_TYPES,
    REAL_TYPES,
    base,
    broadcast_shape,
    dims,
    make_op,
    make_tensor,
    same_as_input,
)
from labflow.ops.load_library import camel_to_snake, load_op_library, make_wrapper  # noqa: F401
from labflow.ops.math_helpers import T, apply, apply_op  # noqa: F401 - wrappers with TF's conversion rules
from labflow.testing.op_sweep import Case, check_forward, check_gradient, exempt, samples  # noqa: F401

__all__ = ["op", "REQUIRED", "NOT_DIFFERENTIABLE", "OpDef", "RegistrationError", "register_gradient",
           "load_op_library", "make_wrapper", "camel_to_snake", "apply", "apply_op", "T", "make_op",
           "make_tensor", "same_as_input", "broadcast_shape", "dims", "base", "FLOAT_TYPES", "INT_TYPES",
           "REAL_TYPES", "NUMERIC_TYPES", "COMPLEX_TYPES", "ALL_TYPES", "INDEX_TYPES", "Case", "samples",
           "exempt", "check_forward", "check_gradient", "check_op", "unknown_shape"]


def unknown_shape(dtype):
    """A shape function for ops with one output of `dtype` and an unknown shape."""
    return lambda ins, attrs: (dtype, None)


def check_op(op_type: str, devices: tuple[str, ...] | None = None) -> int:
    """Runs the op sweep's checks on every sample registered for `op_type`; returns how many ran.

    For each `Case`: forward vs reference and static shape/dtype vs actual, for each swept dtype and
    device (default: CPU, and GPU:0 where CuPy sees one); again with inputs of unknown shape (unless the
    case opts out); and the numerical gradient check where `case.grad`.

    Raises:
        AssertionError: a check failed, or the op has no samples.
    """
    from labflow.backend import cuda
    from labflow.testing import op_sweep
    fns = op_sweep._SAMPLES.get(op_type)
    if not fns:
        raise AssertionError(f"op '{op_type}' has no sweep samples: register them with @samples('{op_type}')")
    if devices is None:
        devices = ("/cpu:0",) + (("/gpu:0",) if cuda.is_available() else ())
    ran = 0
    for fn in fns:
        for case in fn():
            for dt in op_sweep.sweep_dtypes(case):
                for dev in devices:
                    check_forward(op_type, case, dt, dev)
                    ran += 1
            if case.unknown_shapes:
                check_forward(op_type, case, op_sweep.sweep_dtypes(case)[-1], None, unknown=True)
                ran += 1
            if case.grad:
                check_gradient(op_type, case)
                ran += 1
    return ran
