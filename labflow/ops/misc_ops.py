"""Small TF 1.x top-level names: the TF1-in-TF2 preamble switches, arg_max/arg_min, switch_case, bitcast,
py_function, guarantee_const, grad_pass_through, init_scope, fingerprint, timestamp and tf.print.

labflow is TF 1.x graph mode and nothing else, so the preamble calls TF2 code starts with
(`tf.compat.v1.disable_eager_execution()`, `disable_v2_behavior()`, ...) are accepted and do nothing:
the behaviour they ask for is the only one labflow has. Their `enable_*` counterparts ask for behaviour
labflow does not have and raise a ValueError that says so, rather than silently running graph code.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import get_default_graph
from labflow.framework.registry import op
from labflow.framework.shapes import Dimension, TensorShape
from labflow.framework.tensor import Tensor
from labflow.ops.common import base, convert_to_tensor, dims, make_tensor, same_as_input
from labflow.ops.eager_py_func import py_function
from labflow.ops.math_helpers import op_scope as _op_scope
from labflow.ops.print_ops import print_v2 as print  # noqa: A001 - TF's name
from labflow.ops.print_ops import timestamp

__all__ = [
    "arg_max", "arg_min", "bitcast", "control_flow_v2_enabled", "convert_to_tensor_or_sparse_tensor",
    "dimension_at_index", "disable_control_flow_v2", "disable_eager_execution", "disable_resource_variables",
    "disable_tensor_equality", "disable_v2_behavior", "disable_v2_tensorshape", "enable_control_flow_v2",
    "enable_eager_execution", "enable_resource_variables", "enable_tensor_equality", "enable_v2_behavior",
    "enable_v2_tensorshape", "executing_eagerly", "executing_eagerly_outside_functions", "fingerprint",
    "grad_pass_through", "guarantee_const", "init_scope", "is_symbolic_tensor", "op_scope", "print",
    "py_function", "resource_variables_enabled", "switch_case", "timestamp",
]


# -- the TF1-in-TF2 preamble ------------------------------------------------------------------------
def _unsupported(what: str, why: str) -> ValueError:
    return ValueError(f"{what} is not supported: {why} Remove the call; TF 1.x graph code runs as it is.")


def disable_eager_execution() -> None:
    """Accepted and does nothing: labflow always builds graphs and runs them in a Session."""


def enable_eager_execution(config: Any = None, device_policy: Any = None, execution_mode: Any = None) -> None:
    """Raises ValueError: labflow has no eager mode (it is TF 1.x graph mode only)."""
    del config, device_policy, execution_mode
    raise _unsupported("tf.enable_eager_execution()", "labflow is graph mode only (ops build a graph, a "
                       "Session runs it).")


def disable_v2_behavior() -> None:
    """Accepted and does nothing: labflow's behaviour is TF 1.x's (graph mode, v1 shapes and variables)."""


def enable_v2_behavior() -> None:
    """Raises ValueError: labflow implements TF 1.x behaviour only."""
    raise _unsupported("tf.enable_v2_behavior()", "labflow implements TF 1.x behaviour only (graph mode, "
                       "sessions, v1 TensorShape and variables).")


def executing_eagerly() -> bool:
    """False: labflow never executes eagerly."""
    return False


def executing_eagerly_outside_functions() -> bool:
    """False: outside functions labflow builds graphs too."""
    return False


def disable_resource_variables() -> None:
    """Accepted and does nothing: labflow's `tf.Variable` is TF 1.x's reference variable (VariableV2)."""


def enable_resource_variables() -> None:
    """Raises ValueError: labflow's variables are TF 1.x reference variables (VariableV2) only."""
    raise _unsupported("tf.enable_resource_variables()", "labflow's variables are TF 1.x reference "
                       "variables (VariableV2 ops).")


def resource_variables_enabled() -> bool:
    """False: variables are TF 1.x reference variables."""
    return False


def disable_control_flow_v2() -> None:
    """Accepted and does nothing.

    labflow has one control flow: `tf.cond` and `tf.while_loop` always build TF2's functional If/While
    ops (their branches and bodies are function graphs), with TF 1.x's Python signatures. There are no
    Switch/Merge/Enter/Exit graphs to switch back to.
    """


def enable_control_flow_v2() -> None:
    """Accepted and does nothing: labflow's cond and while_loop already are the functional (v2) form."""


def control_flow_v2_enabled() -> bool:
    """True: `tf.cond`/`tf.while_loop` build functional If/While ops (TF's control flow v2)."""
    return True


def disable_tensor_equality() -> None:
    """Accepted and does nothing: Tensors compare and hash by identity, as in TF 1.x."""


def enable_tensor_equality() -> None:
    """Raises ValueError: `==` on Tensors is identity (TF 1.x); use `tf.equal` for elementwise equality."""
    raise _unsupported("tf.enable_tensor_equality()", "labflow Tensors compare and hash by identity as in "
                       "TF 1.x; use tf.equal for elementwise equality.")


def disable_v2_tensorshape() -> None:
    """Accepted and does nothing: `TensorShape` items are `Dimension` objects, TF 1.x's behaviour."""


def enable_v2_tensorshape() -> None:
    """Raises ValueError: labflow's TensorShape keeps TF 1.x semantics (items are `Dimension`s)."""
    raise _unsupported("tf.enable_v2_tensorshape()", "labflow's TensorShape has TF 1.x semantics (shape[i] "
                       "is a Dimension; use tf.dimension_value(shape[i]) for an int or None).")


# -- small graph helpers ---------------------------------------------------------------------------
def arg_max(input: Any, dimension: Any, output_type: Any = _dt.int64, name: str | None = None) -> Tensor:  # noqa: A002
    """Deprecated TF 1.x alias of `tf.argmax` (`dimension` is required, op type ArgMax)."""
    from labflow.ops.reduction_ops import argmax
    return argmax(input, axis=dimension, name=name, output_type=output_type)


def arg_min(input: Any, dimension: Any, output_type: Any = _dt.int64, name: str | None = None) -> Tensor:  # noqa: A002
    """Deprecated TF 1.x alias of `tf.argmin` (`dimension` is required, op type ArgMin)."""
    from labflow.ops.reduction_ops import argmin
    return argmin(input, axis=dimension, name=name, output_type=output_type)


def switch_case(branch_index: Any, branch_fns: Any, default: Callable | None = None,
                name: str = "switch_case") -> Any:
    """Runs `branch_fns[branch_index]()` (TF's `tf.switch_case`), or `default` for any other index.

    Built on `tf.case`: a chain of functional If ops of which only the taken branch runs.

    Args:
        branch_index: an int32 scalar Tensor (or int).
        branch_fns: a list of callables (index i -> branch_fns[i]), a list of (int, callable) pairs, or a
            dict {int: callable}; every callable returns the same structure of tensors.
        default: the callable for an index no branch has; None makes the branch with the largest key the
            default (TF's rule).
        name: the name scope.

    Returns:
        The tensors returned by the selected callable.

    Raises:
        TypeError: branch_fns is not a list or dict of callables with int keys, or the index is not int32.
        ValueError: branch_fns is empty or repeats a key.
    """
    from labflow.ops.compare_ops import equal
    from labflow.ops.cond_while import case
    if isinstance(branch_fns, dict):
        items = list(branch_fns.items())
    elif isinstance(branch_fns, (list, tuple)):
        items = [f if isinstance(f, (tuple, list)) else (i, f) for i, f in enumerate(branch_fns)]
    else:
        raise TypeError(f"branch_fns must be a list, tuple or dict, got {type(branch_fns).__name__}")
    if not items:
        raise ValueError("branch_fns must not be empty")
    for item in items:
        if len(item) != 2 or not isinstance(item[0], (int, np.integer)) or isinstance(item[0], bool):
            raise TypeError(f"branch_fns keys must be ints, got {item[0]!r}")
        if not callable(item[1]):
            raise TypeError(f"branch_fns[{item[0]}] must be callable, got {item[1]!r}")
    keys = [int(k) for k, _ in items]
    if len(set(keys)) != len(keys):
        raise ValueError(f"branch_fns has a repeated key: {keys}")
    items = sorted(((int(k), f) for k, f in items), key=lambda kf: kf[0])
    with get_default_graph().name_scope(name) as scope:
        idx = convert_to_tensor(branch_index, dtype_hint=_dt.int32, name="branch_index")
        if base(idx) != _dt.int32:
            raise TypeError(f"branch_index must be an int32 Tensor, got {base(idx).name}")
        if dims(idx) is not None and len(dims(idx)) != 0:
            raise ValueError(f"branch_index must be a scalar, got shape {TensorShape(dims(idx))}")
        pairs = [(equal(idx, k, name=f"is_{k}"), f) for k, f in items]
        return case(pairs, default=default, name=scope)


def guarantee_const(input: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """The identity of `input`, promising the runtime its value is constant (op type GuaranteeConst).

    As in TF it has no gradient (a gradient through it is None): wrap only values that are constants.
    """
    x = convert_to_tensor(input, name="input")
    return make_tensor("GuaranteeConst", [x], {"T": base(x)}, name or "GuaranteeConst")


@op("GuaranteeConst", inputs=("input",), shape=same_as_input, not_differentiable=True)
def guarantee_const_kernel(xp, input):  # noqa: A002
    return input


def grad_pass_through(f: Callable) -> Callable:
    """Wraps `f` so its forward value is `f(x)` while its gradient is the identity (straight-through).

    Example: `y = tf.grad_pass_through(tf.round)(x)` rounds in the forward pass and passes dy to x.
    """
    from labflow.framework.custom_gradient import custom_gradient

    @custom_gradient
    def _pass_through(*args: Any) -> Any:
        def grad(*dys: Any, variables: Any = None) -> Any:
            if variables is not None:
                return list(dys), [None] * len(variables)
            return dys[0] if len(dys) == 1 else list(dys)
        return f(*args), grad
    return _pass_through


def convert_to_tensor_or_sparse_tensor(value: Any, dtype: Any = None, name: str | None = None) -> Any:
    """A SparseTensor (or SparseTensorValue) as a SparseTensor, anything else as a Tensor.

    Raises:
        ValueError: a sparse `value` whose dtype is not `dtype`.
    """
    from labflow.framework.sparse_tensor import SparseTensor, SparseTensorValue
    if isinstance(value, SparseTensorValue):
        value = SparseTensor.from_value(value)
    if isinstance(value, SparseTensor):
        if dtype is not None and _dt.as_dtype(dtype).base_dtype != value.dtype:
            raise ValueError(f"Sparse dtype: requested = {_dt.as_dtype(dtype).name}, actual = {value.dtype.name}")
        return value
    return convert_to_tensor(value, dtype=dtype, name=name)


def dimension_at_index(shape: Any, index: int) -> Dimension:
    """The `Dimension` of `shape` at `index`; Dimension(None) when the rank is unknown (TF's rule)."""
    s = shape if isinstance(shape, TensorShape) else TensorShape(shape)
    if s.dims is None:
        return Dimension(None)
    return s.dims[index]


def is_symbolic_tensor(tensor: Any) -> bool:
    """True for graph Tensors (every labflow Tensor is symbolic)."""
    return isinstance(tensor, Tensor)


@contextlib.contextmanager
def op_scope(values: Any, name: str | None, default_name: str | None = None) -> Iterator[str]:
    """Deprecated TF 1.x spelling of `tf.name_scope(name, default_name, values)`."""
    if name is None and default_name is None:
        raise ValueError("op_scope needs a name or a default_name")
    with _op_scope(name, default_name, list(values or [])) as scope:
        yield scope


@contextlib.contextmanager
def init_scope() -> Iterator[None]:
    """Lifts op creation out of control-flow bodies and functions (TF's `tf.init_scope`).

    Inside, the default graph is the outermost graph (not a cond branch or while body being traced),
    control dependencies are cleared, and the current name scope is kept. Use it to create variables,
    initializers or lookup tables from inside a function body.
    """
    from labflow.framework.func_graph import outermost_graph
    g = get_default_graph()
    scope = g.get_name_scope()
    outer = outermost_graph(g)
    with outer.as_default(), outer.name_scope(scope + "/" if scope else None), outer.control_dependencies(None):
        yield


# -- Bitcast ---------------------------------------------------------------------------------------
_BITCAST_TYPES = (_dt.bfloat16, _dt.float16, _dt.float32, _dt.float64, _dt.int8, _dt.int16, _dt.int32,
                  _dt.int64, _dt.uint8, _dt.uint16, _dt.uint32, _dt.uint64, _dt.complex64, _dt.complex128)


def _bitcast_shape(ins: list, attrs: dict) -> tuple:
    src, dst = base(ins[0]), attrs["type"]
    for what, d in (("T", src), ("type", dst)):
        if d not in _BITCAST_TYPES:
            raise TypeError(f"Bitcast: {what}={d.name} is not a numeric type that can be bitcast")
    a, b = np.dtype(src.as_numpy_dtype).itemsize, np.dtype(dst.as_numpy_dtype).itemsize
    d = dims(ins[0])
    if d is None:
        return dst, None
    if a == b:
        return dst, d
    if a > b:
        return dst, d + (a // b,)
    if not d or (d[-1] is not None and d[-1] != b // a):
        raise ValueError(f"Cannot bitcast from {src.name} to {dst.name}: the last dimension of the input must "
                         f"be {b // a} (the size ratio), got shape {TensorShape(d)}")
    return dst, d[:-1]


@op("Bitcast", inputs=("input",), attrs={"type": _dt.float32}, shape=_bitcast_shape, not_differentiable=True)
def bitcast_kernel(xp, input, *, type):  # noqa: A002
    dst = np.dtype(type.as_numpy_dtype)
    a, b = input.dtype.itemsize, dst.itemsize
    if a < b and (input.ndim == 0 or input.shape[-1] != b // a):
        raise errors.InvalidArgumentError(None, None, f"Bitcast: the last dimension of the input must be "
                                          f"{b // a} to bitcast {input.dtype} to {dst}, got shape "
                                          f"{list(input.shape)}")
    out_shape = input.shape if a == b else (input.shape + (a // b,) if a > b else input.shape[:-1])
    # through a flat copy: NumPy cannot change the item size of a 0-d array's view
    return xp.ascontiguousarray(input).reshape(-1).view(dst).reshape(out_shape)


def bitcast(input: Any, type: Any, name: str | None = None) -> Tensor:  # noqa: A002
    """Reinterprets the bytes of `input` as `type` without copying values (TF's `tf.bitcast`).

    Same element size: same shape. A smaller `type` adds a last dimension of size
    sizeof(T) / sizeof(type); a larger one needs the last dimension to be sizeof(type) / sizeof(T)
    and removes it. Not differentiable.

    Raises:
        TypeError: a non-numeric dtype (bool, string).
        ValueError: a last dimension that does not match the size ratio.
    """
    x = convert_to_tensor(input, name="input")
    return make_tensor("Bitcast", [x], {"T": base(x), "type": _dt.as_dtype(type).base_dtype}, name or "Bitcast")


# -- Fingerprint -----------------------------------------------------------------------------------
def _fingerprint_shape(ins: list, attrs: dict) -> tuple:
    d, m = dims(ins[0]), dims(ins[1])
    if d is not None and len(d) < 1:
        raise ValueError("Fingerprint: data must have rank >= 1 (one fingerprint per row), got a scalar")
    if m is not None and len(m) != 0:
        raise ValueError(f"Fingerprint: method must be a scalar string, got rank {len(m)}")
    return _dt.uint8, (None if d is None else d[0], 8)


def _fp_bytes(v: int) -> np.ndarray:
    return np.frombuffer(int(v).to_bytes(8, "little"), np.uint8)


@op("Fingerprint", inputs=("data", "method"), shape=_fingerprint_shape, not_differentiable=True, host_op=True)
def fingerprint_kernel(xp, data, method):
    from labflow.ops.string_hashing import fingerprint64
    m = np.asarray(method, dtype=object).item()
    m = m.decode(errors="replace") if isinstance(m, bytes) else str(m)
    if m != "farmhash64":
        raise errors.InvalidArgumentError(None, None, f"Fingerprint: unsupported method '{m}' (only "
                                          "'farmhash64' exists)")
    rows = data.shape[0]
    out = np.zeros((rows, 8), np.uint8)
    if data.dtype == object:
        flat = data.reshape(rows, -1)
        for i in range(rows):
            if flat.shape[1] == 1:
                out[i] = _fp_bytes(fingerprint64(bytes(flat[i, 0])))
            else:  # TF: several strings per row hash the concatenation of their fingerprints
                out[i] = _fp_bytes(fingerprint64(b"".join(_fp_bytes(fingerprint64(bytes(s))).tobytes()
                                                          for s in flat[i])))
        return out
    raw = np.ascontiguousarray(data).reshape(rows, -1)
    for i in range(rows):
        out[i] = _fp_bytes(fingerprint64(raw[i].tobytes()))
    return out


def fingerprint(data: Any, method: str = "farmhash64", name: str | None = None) -> Tensor:
    """A uint8 [rows, 8] fingerprint of each row of `data` (TF's `tf.fingerprint`, FarmHash Fingerprint64).

    Numeric rows are fingerprinted as their bytes (little-endian); a row of one string is that string's
    fingerprint; a row of several strings fingerprints the concatenated fingerprints of its strings.
    The result matches TensorFlow's bit for bit.
    """
    with _op_scope(name, "Fingerprint", [data]) as scope:
        x = convert_to_tensor(data, name="data")
        m = convert_to_tensor(method, dtype=_dt.string, name="method")
        return make_tensor("Fingerprint", [x, m], {"T": base(x)}, scope)
