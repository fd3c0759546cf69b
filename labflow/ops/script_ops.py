"""Script ops: `tf.py_func` and `tf.numpy_function` run a Python callable as a graph op (TF's script_ops).

The callable never enters the GraphDef. As in TF, the op carries a `token` string attr and the callable
lives in a process-local registry under that token: a `WeakValueDictionary` of small holder objects,
whose only strong references are kept on the Graph that created the op. A graph that goes away
therefore frees its callables, and a GraphDef run in another process (a remote worker, a re-import
after a restart) fails with a NotFoundError naming the token instead of calling something else: tokens
carry a per-process random part, so another process's "pyfunc_0" can never be mistaken for ours.

Two op types, as in TF: "PyFunc" (stateful: never folded, deduplicated or pruned as dead) and
"PyFuncStateless". Both need the node context (the token), which also keeps the stateless one out of
constant folding: a Python callable is never run while a graph is being optimized.

Both run on the host: on a GPU partition the inputs are copied to NumPy and the outputs back to the
device where a consumer needs them (`host_op`). Neither is differentiable unless a gradient is chosen
with `graph.gradient_override_map({"PyFunc": "MyGrad"})` (TF's recipe).
"""

from __future__ import annotations

import itertools
import secrets
import threading
import traceback
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import _graph_of
from labflow.framework.registry import REQUIRED, op
from labflow.framework.tensor import Tensor
from labflow.ops.common import convert_to_tensor
from labflow.ops.math_helpers import op_scope

__all__ = ["py_func", "numpy_function"]

# -- the process-local registry of callables -----------------------------------------------------
_PROCESS_TAG = secrets.token_hex(4)  # makes tokens from another process unresolvable, never wrong
_ids = itertools.count()
_lock = threading.Lock()
_FUNCS: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


class _FuncHolder:
    """Holds one callable; weak-referenceable even when the callable is not (a builtin, a ufunc)."""

    __slots__ = ("func", "token", "__weakref__")

    def __init__(self, func: Callable, token: str):
        self.func = func
        self.token = token


def _register(func: Callable, graph: Any) -> str:
    """Registers `func` under a new token; `graph` keeps it alive (TF: `_py_funcs_used_in_graph`)."""
    # As in TF, a function body's graph (a cond/while branch) hands the callable to the outermost graph:
    # the body graph itself may be dropped once the calling op is built.
    while getattr(graph, "outer_graph", None) is not None:
        graph = graph.outer_graph
    with _lock:
        token = f"pyfunc_{next(_ids)}_{_PROCESS_TAG}"
        holder = _FuncHolder(func, token)
        _FUNCS[token] = holder
    # A plain attribute on the Graph: the graph's lifetime is the callable's lifetime.
    held = graph.__dict__.setdefault("_py_funcs_used_in_graph", [])
    held.append(holder)
    return token


def registered_func(token: str) -> Callable | None:
    """The callable registered under `token` in this process, or None (a test and debugging hook)."""
    holder = _FUNCS.get(token)
    return None if holder is None else holder.func


# -- the kernel ------------------------------------------------------------------------------------
# TF 1.x's py_func.cc maps the Python exception raised by the callable to a status code.
_EXCEPTION_CODES: tuple[tuple[type, type], ...] = (
    (ValueError, errors.InvalidArgumentError),
    (TypeError, errors.InvalidArgumentError),
    (StopIteration, errors.OutOfRangeError),
    (MemoryError, errors.ResourceExhaustedError),
    (NotImplementedError, errors.UnimplementedError),
)


def _error_class(exc: BaseException) -> type:
    for py_cls, op_cls in _EXCEPTION_CODES:
        if isinstance(exc, py_cls):
            return op_cls
    return errors.UnknownError


def _last_frame(exc: BaseException) -> str:
    """'file:line in fn: source' of the innermost frame of the callable's traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    f = frames[-1]
    src = f" -> {f.line.strip()}" if f.line else ""
    return f"{f.filename}:{f.lineno} in {f.name}{src}"


def _as_arg(a: Any) -> Any:
    """What the callable receives: a private NumPy copy (so it may write to it without corrupting a
    variable or constant), 0-d as a NumPy scalar / bytes like TF's PyArray_Return."""
    a = np.array(a, copy=True)
    return a[()] if a.ndim == 0 else a


def _convert(value: Any, dtype: _dt.DType, index: int, what: str) -> np.ndarray:
    """Converts one returned value to the declared dtype, or raises InvalidArgumentError.

    Allowed: any value NumPy converts within the same kind or safely (float64 -> float32, int ->
    float, bool -> int), Python scalars and lists, bytes/str for strings (str is UTF-8 encoded).
    Refused: a change of kind that loses meaning (float -> int, number -> bool, str <-> number).
    """
    def fail(got: str) -> errors.InvalidArgumentError:
        return errors.InvalidArgumentError(None, None, f"{what}: {index}-th value returned has {got}, but "
                                           f"expects {dtype.name} (the op's Tout)")
    if value is None:
        raise fail("None")
    if dtype == _dt.string:
        arr = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
        if arr.dtype.kind not in "SUO":
            raise fail(f"dtype {arr.dtype}")
        out = np.empty(arr.shape, dtype=object)
        for i, x in np.ndenumerate(arr):
            if isinstance(x, str):
                x = x.encode("utf-8")
            elif isinstance(x, np.bytes_):
                x = bytes(x)
            if not isinstance(x, bytes):
                raise fail(f"an element of type {type(x).__name__}")
            out[i] = x
        return out
    target = np.dtype(dtype.as_numpy_dtype)
    try:
        src = np.asarray(value)
    except Exception as e:  # noqa: BLE001 - ragged lists and odd objects: say what came back
        raise fail(f"a value NumPy cannot convert ({type(e).__name__}: {e})") from None
    if src.dtype.kind in "SUO" or not (np.can_cast(src.dtype, target, "same_kind")
                                       or np.can_cast(src.dtype, target, "safe")):
        raise fail(f"dtype {src.dtype}")
    if src.dtype.kind in "iu" and target.kind in "iu" and src.size:
        info = np.iinfo(target)
        if src.min() < info.min or src.max() > info.max:
            raise fail(f"values out of range for {dtype.name} ({src.min()}..{src.max()})")
    return src.astype(target, order="C", copy=False)  # not ascontiguousarray: it makes 0-d 1-d


def _outputs(ret: Any, tout: Sequence[_dt.DType], what: str) -> Any:
    """The kernel's return: None, one array, or a list of arrays (the executor unpacks several)."""
    n = len(tout)
    if n == 0:
        if ret is not None and not (isinstance(ret, (list, tuple)) and len(ret) == 0):
            raise errors.InvalidArgumentError(None, None, f"{what}: expected no return value (Tout is []), "
                                              f"got {type(ret).__name__}")
        return None
    if ret is None:
        raise errors.InvalidArgumentError(None, None, f"{what}: expected {n} return value(s) matching Tout "
                                          f"{[d.name for d in tout]}, got None")
    vals = list(ret) if isinstance(ret, (list, tuple)) else [ret]
    if len(vals) != n:
        hint = (" (a list/tuple is a list of outputs: return np.array(...) for one array output)"
                if n == 1 and isinstance(ret, (list, tuple)) else "")
        raise errors.InvalidArgumentError(None, None, f"{what}: expected {n} return value(s) matching Tout "
                                          f"{[d.name for d in tout]}, got {len(vals)}{hint}")
    outs = [_convert(v, d, i, what) for i, (v, d) in enumerate(zip(vals, tout))]
    return outs[0] if n == 1 else outs


def _py_func_kernel(xp, *inputs, token, Tout, ctx):
    del xp  # a host op: inputs are NumPy arrays on every device
    what = f"py_func '{ctx.name}' (token {token})"
    holder = _FUNCS.get(token)
    if holder is None:
        raise errors.NotFoundError(None, None, (
            f"{what}: no Python callable is registered under this token in this process. py_func and "
            "numpy_function callables are not serialized into a GraphDef: they live in the Python process "
            "that created the op, while its graph exists. Run the graph in that process (and, distributed, "
            "pin the op with tf.device to a task of that process)."))
    try:
        ret = holder.func(*[_as_arg(a) for a in inputs])
    except errors.OpError as e:
        raise type(e)(None, None, f"{what} raised {type(e).__name__}: {e.message}") from e
    except Exception as e:  # noqa: BLE001 - every failure of user code becomes a status, never a hang
        cls = _error_class(e)
        frame = _last_frame(e)
        at = f"\n  raised at {frame}" if frame else ""
        raise cls(None, None, f"{what} raised {type(e).__name__}: {e}{at}") from e
    return _outputs(ret, Tout, what)


def _py_func_shape(ins: list, attrs: dict) -> list:
    tin = attrs.get("Tin") or []
    if tin and [t.dtype.base_dtype for t in ins] != [_dt.as_dtype(d) for d in tin]:
        raise TypeError(f"Inputs have dtypes {[t.dtype.base_dtype.name for t in ins]}, but Tin is "
                        f"{[_dt.as_dtype(d).name for d in tin]}")
    return [(_dt.as_dtype(d), None) for d in attrs["Tout"]]  # TF: outputs of unknown shape


_PY_FUNC = dict(inputs=("*input",), attrs={"token": REQUIRED, "Tin": [], "Tout": REQUIRED}, shape=_py_func_shape,
                outputs=lambda attrs, n: len(attrs["Tout"]), needs_ctx=True, host_op=True, not_differentiable=True)

op("PyFunc", stateful=True, **_PY_FUNC)(_py_func_kernel)
op("PyFuncStateless", **_PY_FUNC)(_py_func_kernel)


# -- public wrappers -------------------------------------------------------------------------------
def _tout_list(Tout: Any) -> tuple[list[_dt.DType], bool]:
    if isinstance(Tout, (list, tuple)):
        return [_dt.as_dtype(d).base_dtype for d in Tout], True
    return [_dt.as_dtype(Tout).base_dtype], False


def _internal_py_func(func: Callable, inp: Any, Tout: Any, stateful: bool, name: str | None) -> Any:
    if not callable(func):
        raise TypeError(f"func must be callable, got {func!r}")
    tout, is_list = _tout_list(Tout)
    values = list(inp) if isinstance(inp, (list, tuple)) else [inp]
    op_type = "PyFunc" if stateful else "PyFuncStateless"
    with op_scope(name, op_type, values) as scope:
        ins = [v if isinstance(v, Tensor) else convert_to_tensor(v, name="input") for v in values]
        g = _graph_of(*ins)
        token = _register(func, g)
        attrs = {"token": token, "Tin": [t.dtype.base_dtype for t in ins], "Tout": tout}
        result = g.create_op(op_type, ins, attrs=attrs, name=scope)
    outs = list(result._outputs)
    if is_list:
        return outs if outs else result  # an op with no outputs: TF returns it (to run or depend on)
    return outs[0]


def py_func(func: Callable, inp: Any, Tout: Any, stateful: bool = True, name: str | None = None) -> Any:
    """Wraps a Python function into a graph op that calls it on NumPy arrays (TF 1.x `tf.py_func`).

    ```python
    def my_func(x):
        return np.sinh(x)
    y = tf.py_func(my_func, [inp], tf.float32)
    ```

    Limitations (as in TF): the callable is not serialized into a GraphDef, so the op only runs in the
    process that created it (elsewhere: NotFoundError naming its token); it always runs on the host
    (a GPU placement copies its inputs and outputs); it has no gradient unless one is given with
    `graph.gradient_override_map({"PyFunc": "RegisteredName"})`.

    Args:
        func: called with one NumPy value per input (0-d inputs as NumPy scalars, strings as bytes);
            returns one value, a list/tuple of values (one per `Tout` entry), or None when `Tout` is [].
            Values are converted to the declared dtypes where NumPy can without changing their kind
            (float64 -> float32 is fine, float -> int is an error). Its inputs are private copies.
        inp: a list of Tensors (or values convertible to Tensors).
        Tout: a dtype (the result is one Tensor) or a list of dtypes (the result is a list).
        stateful: True (default) makes a "PyFunc" op, never folded, merged or pruned; False makes a
            "PyFuncStateless" op (same inputs give the same outputs, no side effects).
        name: a name for the op.

    Returns:
        A Tensor for a single dtype `Tout`, else a list of Tensors of unknown shape (for `Tout=[]`, the
        Operation itself, so it can be run or depended on).

    Raises at run time:
        InvalidArgumentError: the function raised ValueError/TypeError, returned the wrong number of
            values, or a value that does not convert to its declared dtype.
        OutOfRangeError: it raised StopIteration. UnknownError: it raised another exception (an
            `tf.errors` exception keeps its class). NotFoundError: its callable is not in this process.
    """
    return _internal_py_func(func, inp, Tout, stateful, name)


def numpy_function(func: Callable, inp: Any, Tout: Any, name: str | None = None, stateful: bool = True) -> Any:
    """TF 1.14+'s `tf.numpy_function`: `py_func` under its newer name (stateful unless told otherwise).

    Args:
        func: a Python function of NumPy arrays (see `py_func`).
        inp: a list of Tensors.
        Tout: a dtype or a list of dtypes.
        name: a name for the op.
        stateful: as in `py_func` (TF 2.x added it; default True).
    """
    return _internal_py_func(func, inp, Tout, stateful, name)
