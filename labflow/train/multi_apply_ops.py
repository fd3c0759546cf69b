"""_MultiApplyAdam: the Adam updates of several variables that share their scalars, as one op.

Never built by user code: runtime/fusion.py (`group_adam`) makes it on a GPU partition out of the
ApplyAdam nodes an AdamOptimizer creates (one per variable, all reading the same beta powers, learning
rate, betas and epsilon), so a GPU step launches one kernel for all of them instead of one each (a
launch costs 10-25 us of host time; the Deep MNIST CNN has 8 variables). The arithmetic per element is
ApplyAdam's, in the same order.

Inputs: the N (var, m, v) triples, the N gradients, then ApplyAdam's six scalars (beta1_power,
beta2_power, lr, beta1, beta2, epsilon). The triples arrive dereferenced: the kernel gets the
variables' storage arrays and updates them in place, as ApplyAdam does through its refs.
"""

from __future__ import annotations

import numpy as np

from labflow.framework.registry import REQUIRED, op
from labflow.ops.common import FLOAT_TYPES, dims, merge_dims
from labflow.ops.state_ops import check_scalar
from labflow.train import gpu_update_kernels
from labflow.train.training_ops import adam_update


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
