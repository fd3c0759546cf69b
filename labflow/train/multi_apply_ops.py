"""_MultiApplyAdam and _MultiApplyGradientDescent: one optimizer's updates of several variables, which
share their scalars, as one op.

Never built by user code: runtime/fusion.py (`group_updates`) makes them on a GPU partition out of the
ApplyAdam / ApplyGradientDescent nodes an optimizer creates (one per variable, all reading the same
scalars: beta powers, learning rate, betas, epsilon; or alpha), so a GPU step launches one kernel for
all of them instead of one each (a launch costs 10-25 us of host time; the Deep MNIST CNN has 8
variables, the MNIST MLP and the PTB LSTM 6). The arithmetic per element is the single op's, in the
same order.

Inputs: the N variables' refs ((var, m, v) triples for Adam), the N gradients, then the single op's
scalars. The refs arrive dereferenced: the kernel gets the storage arrays and updates them in place,
as the single ops do through their refs.
"""

from __future__ import annotations

import numpy as np

from labflow.framework.registry import REQUIRED, op
from labflow.ops.common import FLOAT_TYPES, dims, merge_dims
from labflow.ops.state_ops import check_scalar
from labflow.train import gpu_update_kernels
from labflow.train.training_ops import adam_update, sgd_update


def _shape(ins, attrs):
    n = int(attrs["N"])
    if n < 1 or len(ins) != 4 * n + 6:
        raise ValueError(f"_MultiApplyAdam: N={n} updates take {4 * n + 6} inputs ((var, m, v) per update, "
                         f"the gradients, 6 scalars), got {len(ins)}")
    for t in range(n):
        d = dims(ins[3 * t])
        for k, name in ((3 * t + 1, "m"), (3 * t + 2, "v"), (3 * n + t, "grad")):
            try:
                d = merge_dims(d, dims(ins[k]))
            except ValueError as e:
                raise ValueError(f"_MultiApplyAdam: {e} (update {t}'s {name} must have the shape of its var)") from None
    for t, name in zip(ins[4 * n:], ("beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon")):
        check_scalar(t, name)
    return []


@op("_MultiApplyAdam", inputs=("*inputs",), attrs={"N": REQUIRED, "use_locking": False, "use_nesterov": False},
    types=FLOAT_TYPES, shape=_shape, outputs=0, stateful=True, not_differentiable=True)
def multi_apply_adam_kernel(xp, *inputs, N, use_locking, use_nesterov):
    n = int(N)
    triples, grads, scalars = inputs[:3 * n], inputs[3 * n:4 * n], inputs[4 * n:]
    ws, ms, vs = triples[0::3], triples[1::3], triples[2::3]
    if xp is not np and gpu_update_kernels.apply_adam_multi(xp, ws, ms, vs, grads, scalars, use_nesterov):
        return None
    for w, m, v, g in zip(ws, ms, vs, grads):
        adam_update(xp, w, m, v, *scalars, g, use_nesterov)
    return None


def _sgd_shape(ins, attrs):
    n = int(attrs["N"])
    if n < 1 or len(ins) != 2 * n + 1:
        raise ValueError(f"_MultiApplyGradientDescent: N={n} updates take {2 * n + 1} inputs (the vars, the "
                         f"deltas, alpha), got {len(ins)}")
    for t in range(n):
        try:
            merge_dims(dims(ins[t]), dims(ins[n + t]))
        except ValueError as e:
            raise ValueError(f"_MultiApplyGradientDescent: {e} (update {t}'s delta must have the shape of its "
                             "var)") from None
    check_scalar(ins[2 * n], "alpha")
    return []


@op("_MultiApplyGradientDescent", inputs=("*inputs",), attrs={"N": REQUIRED, "use_locking": False},
    types=FLOAT_TYPES, shape=_sgd_shape, outputs=0, stateful=True, not_differentiable=True)
def multi_apply_gradient_descent_kernel(xp, *inputs, N, use_locking):
    n = int(N)
    ws, deltas, alpha = inputs[:n], inputs[n:2 * n], inputs[2 * n]
    if xp is not np and gpu_update_kernels.apply_gradient_descent_multi(xp, list(ws), list(deltas), alpha):
        return None
    for w, d in zip(ws, deltas):
        sgd_update(xp, w, alpha, d)
    return None
