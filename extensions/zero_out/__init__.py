"""ZeroOut, TF's "Adding a New Op" example as a labflow op library.

`ZeroOut(to_zero)`: an int32 tensor of the same shape, all zeros except the first element, which is
kept. Load it with `zero_out_module = tf.load_op_library("extensions/zero_out")` and call
`zero_out_module.zero_out(x)`. See README.md for a walk-through.
"""

from __future__ import annotations

import numpy as np

from labflow import user_ops as uo


def _zero_out_shape(ins: list, attrs: dict) -> tuple:
    # TF's shape function: `c->set_output(0, c->input(0))`: the output has the input's shape.
    return uo.int32, uo.dims(ins[0])


@uo.op("ZeroOut", inputs=("to_zero",), types=(uo.int32,), shape=_zero_out_shape, not_differentiable=True)
def zero_out_kernel(xp, to_zero):
    """One body for NumPy and CuPy: `xp` is the array module of the device the op runs on."""
    out = xp.zeros_like(to_zero)
    if to_zero.size:
        # reshape, not flat/ravel: a view on both modules, so the write lands in `out`
        out.reshape(-1)[:1] = to_zero.reshape(-1)[:1]
    return out


# The public wrapper. Optional: load_op_library generates one with the same name and signature
# (`zero_out(to_zero, name=None)`) for every op a library registers without one.
zero_out = uo.make_wrapper(zero_out_kernel)


def _reference(x: np.ndarray) -> np.ndarray:
    out = np.zeros_like(x)
    if x.size:
        out.reshape(-1)[0] = x.reshape(-1)[0]
    return out


@uo.samples("ZeroOut")
def _zero_out_samples() -> list:
    r = np.random.RandomState(0)
    return [uo.Case(zero_out, [r.randint(-9, 9, (3, 4)).astype(np.int32)], _reference, grad=False),
            uo.Case(zero_out, [np.array(7, np.int32)], _reference, grad=False, name="scalar"),
            uo.Case(zero_out, [np.zeros((0, 3), np.int32)], _reference, grad=False, name="empty")]
