"""`tf.py_function`: a Python callable as a graph op whose arguments behave like TF2's eager tensors.

The callable gets one `EagerValue` per input: a NumPy array (arithmetic, indexing and NumPy functions
work on it) that also has TF's eager-tensor methods `.numpy()`, `.shape` and `.dtype` as a labflow
DType. It runs on the host like `tf.py_func` (the same token registry keeps the callable in this
process only). Unlike TF, the op has no gradient: TF differentiates the callable with a gradient tape,
and labflow has no eager tape.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import _graph_of
from labflow.framework.registry import REQUIRED, op
from labflow.framework.tensor import Tensor
from labflow.ops import script_ops
from labflow.ops.common import convert_to_tensor
from labflow.ops.math_helpers import op_scope

__all__ = ["EagerValue", "py_function"]


class EagerValue(np.ndarray):
    """A NumPy array that also answers like an eager tensor (`.numpy()`, a labflow `.dtype`)."""

    def numpy(self) -> Any:
        """The value as a plain NumPy array (0-d values as NumPy scalars / bytes, as TF's .numpy())."""
        a = np.asarray(self).view(np.ndarray)
        return a[()] if a.ndim == 0 else a

    @property
    def tf_dtype(self) -> _dt.DType:
        return _dt.as_dtype(self.view(np.ndarray).dtype)

    def __repr__(self) -> str:
        return f"<EagerValue: shape={self.shape}, dtype={self.view(np.ndarray).dtype}, numpy={self.numpy()!r}>"


def _eager_arg(a: Any) -> EagerValue:
    return np.array(a, copy=True).view(EagerValue)


def _unwrap(ret: Any) -> Any:
    if isinstance(ret, EagerValue):
        return ret.view(np.ndarray)
    if isinstance(ret, (list, tuple)):
        return type(ret)(_unwrap(r) for r in ret)
    return ret


@op("EagerPyFunc", inputs=("*input",), attrs={"token": REQUIRED, "Tin": [], "Tout": REQUIRED, "is_async": False},
    shape=script_ops._py_func_shape, outputs=lambda attrs, n: len(attrs["Tout"]), needs_ctx=True, host_op=True,
    stateful=True, not_differentiable=True)
def eager_py_func_kernel(xp, *inputs, token, Tout, ctx):
    del xp  # a host op: inputs are NumPy arrays on every device
    what = f"py_function '{ctx.name}' (token {token})"
    func = script_ops.registered_func(token)
    if func is None:
        raise errors.NotFoundError(None, None, f"{what}: no Python callable is registered under this token in this "
                                   "process (py_function callables live in the process that built the graph).")
    try:
        ret = func(*[_eager_arg(a) for a in inputs])
    except errors.OpError as e:
        raise type(e)(None, None, f"{what} raised {type(e).__name__}: {e.message}") from e
    except Exception as e:  # noqa: BLE001 - every failure of user code becomes a status, never a hang
        frame = script_ops._last_frame(e)
        at = f"\n  raised at {frame}" if frame else ""
        raise script_ops._error_class(e)(None, None, f"{what} raised {type(e).__name__}: {e}{at}") from e
    return script_ops._outputs(_unwrap(ret), Tout, what)


def py_function(func: Callable | None = None, inp: Any = None, Tout: Any = None, name: str | None = None) -> Any:
    """Wraps a Python function into an op that calls it on eager-tensor-like values (TF's `tf.py_function`).

    ```python
    def clip_and_log(x):
        print("got", x.numpy())
        return np.clip(x, 0, 1)
    y = tf.py_function(clip_and_log, [t], tf.float32)
    ```

    Args:
        func: called with one `EagerValue` per input (a NumPy array with `.numpy()`); returns one value,
            a list of values (one per `Tout` entry), or None when `Tout` is []. Results convert to the
            declared dtypes as in `tf.py_func`.
        inp: a list of Tensors (or values convertible to Tensors).
        Tout: a dtype (the result is one Tensor) or a list of dtypes (the result is a list).
        name: a name for the op (op type EagerPyFunc).

    Returns:
        A Tensor for a single dtype `Tout`, else a list of Tensors of unknown shape (for `Tout=[]`, the
        Operation itself).

    Raises:
        TypeError: `func` is not callable or `Tout` is missing.
        At run time, InvalidArgumentError / UnknownError / ... as `tf.py_func` maps the callable's exceptions.
    """
    if not callable(func):
        raise TypeError(f"py_function: func must be callable, got {func!r}")
    if Tout is None:
        raise TypeError("py_function: Tout (a dtype or a list of dtypes) is required")
    tout, is_list = script_ops._tout_list(Tout)
    values = [] if inp is None else (list(inp) if isinstance(inp, (list, tuple)) else [inp])
    with op_scope(name, "EagerPyFunc", values) as scope:
        ins = [v if isinstance(v, Tensor) else convert_to_tensor(v, name="input") for v in values]
        g = _graph_of(*ins)
        token = script_ops._register(func, g)
        attrs = {"token": token, "Tin": [t.dtype.base_dtype for t in ins], "Tout": tout, "is_async": False}
        result = g.create_op("EagerPyFunc", ins, attrs=attrs, name=scope)
    outs = list(result._outputs)
    if is_list:
        return outs if outs else result
    return outs[0]
