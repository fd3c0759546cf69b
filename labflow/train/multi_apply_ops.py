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


def _multi_shape(op_type: str, n_refs: int, scalars: tuple, dense: str):
    """Shape function of a multi-update op: N groups of `n_refs` refs, N `dense` inputs (each of its
    group's shape), then the shared `scalars`; no outputs."""
    def fn(ins, attrs):
        n = int(attrs["N"])
        if n < 1 or len(ins) != (n_refs + 1) * n + len(scalars):
            raise ValueError(f"{op_type}: N={n} updates take {(n_refs + 1) * n + len(scalars)} inputs ({n_refs} "
                             f"refs per update, the {dense}s, {len(scalars)} scalars), got {len(ins)}")
        for t in range(n):
            d = dims(ins[n_refs * t])
            for k in [n_refs * t + j for j in range(1, n_refs)] + [n_refs * n + t]:
                try:
                    d = merge_dims(d, dims(ins[k]))
                except ValueError as e:
                    raise ValueError(f"{op_type}: {e} (update {t}'s inputs must have the shape of its var)") from None
        for t, name in zip(ins[(n_refs + 1) * n:], scalars):
            check_scalar(t, name)
        return []
    return fn


@op("_MultiApplyAdam", inputs=("*inputs",), attrs={"N": REQUIRED, "use_locking": False, "use_nesterov": False},
    types=FLOAT_TYPES, shape=_multi_shape("_MultiApplyAdam", 3, ("beta1_power", "beta2_power", "lr", "beta1",
                                                                  "beta2", "epsilon"), "gradient"),
    outputs=0, stateful=True, not_differentiable=True)
def multi_apply_adam_kernel(xp, *inputs, N, use_locking, use_nesterov):
    n = int(N)
    triples, grads, scalars = inputs[:3 * n], inputs[3 * n:4 * n], inputs[4 * n:]
    ws, ms, vs = triples[0::3], triples[1::3], triples[2::3]
    if xp is not np and gpu_update_kernels.apply_adam_multi(xp, ws, ms, vs, grads, scalars, use_nesterov):
        return None
    for w, m, v, g in zip(ws, ms, vs, grads):
        adam_update(xp, w, m, v, *scalars, g, use_nesterov)
    return None


@op("_MultiApplyGradientDescent", inputs=("*inputs",), attrs={"N": REQUIRED, "use_locking": False},
    types=FLOAT_TYPES, shape=_multi_shape("_MultiApplyGradientDescent", 1, ("alpha",), "delta"), outputs=0,
    stateful=True, not_differentiable=True)
def multi_apply_gradient_descent_kernel(xp, *inputs, N, use_locking):
    n = int(N)
    ws, deltas, alpha = inputs[:n], inputs[n:2 * n], inputs[2 * n]
    if xp is not np and gpu_update_kernels.apply_gradient_descent_multi(xp, list(ws), list(deltas), alpha):
        return None
    for w, d in zip(ws, deltas):
        sgd_update(xp, w, alpha, d)
    return None
