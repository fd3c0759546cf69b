"""`tf.test.compute_gradient` / `compute_gradient_error`: full Jacobians, symbolic vs central differences.

As TF 1.x: they run in the default session (call them inside `with tf.Session():` or a TestCase's
`self.test_session()`), feed `x` (a placeholder or any tensor, a constant included) and return
`(theoretical, numerical)` Jacobians of shape [x.size, y.size] in x's dtype.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from labflow import dtypes as _dt

__all__ = ["compute_gradient", "compute_gradient_error"]

_ALLOWED = (_dt.float16, _dt.bfloat16, _dt.float32, _dt.float64)


def _session() -> Any:
    from labflow.runtime.session import get_default_session
    sess = get_default_session()
    if sess is None:
        raise ValueError("compute_gradient runs in the default session: call it inside `with tf.Session():` "
                         "(or `with self.test_session():` in a tf.test.TestCase)")
    return sess


def _feeds(extra: dict | None, own: dict) -> dict:
    out = dict(extra or {})
    out.update(own)
    return out


def _theoretical(sess: Any, x: Any, x_data: np.ndarray, dy: Any, dy_shape: tuple, dx: Any,
                 extra: dict | None) -> np.ndarray:
    x_size = int(np.prod(x_data.shape, dtype=np.int64))
    dy_size = int(np.prod(dy_shape, dtype=np.int64))
    jac = np.zeros((x_size, dy_size), dtype=x_data.dtype)
    if dx is None:  # y does not depend on x: the Jacobian is zero
        return jac
    dy_data = np.zeros(dy_shape, dtype=dy.dtype.base_dtype.as_numpy_dtype)
    flat = dy_data.reshape(-1)
    sparse = hasattr(dx, "indices") and hasattr(dx, "values")
    for col in range(dy_size):
        flat[col] = 1
        feed = _feeds(extra, {x: x_data, dy: dy_data})
        if sparse:
            indices, values = sess.run([dx.indices, dx.values], feed)
            slice_size = x_size // max(x_data.shape[0], 1) if x_data.ndim else 1
            for i, v in zip(indices, values):
                jac[i * slice_size:(i + 1) * slice_size, col] += np.asarray(v).reshape(-1)
        else:
            jac[:, col] = np.asarray(sess.run(dx, feed)).reshape(-1)
        flat[col] = 0
    if not dy_size:
        back = sess.run(dx.values if sparse else dx, _feeds(extra, {x: x_data, dy: dy_data}))
        if not sparse and np.shape(back) != x_data.shape:
            raise ValueError(f"Empty gradient has wrong shape: expected {x_data.shape}, got {np.shape(back)}")
        if np.any(back):
            raise ValueError("Empty tensor with nonzero gradients")
    return jac


def _numerical(sess: Any, x: Any, x_data: np.ndarray, y: Any, y_shape: tuple, delta: float,
               extra: dict | None) -> np.ndarray:
    x_size = int(np.prod(x_data.shape, dtype=np.int64))
    y_size = int(np.prod(y_shape, dtype=np.int64))
    dt = x_data.dtype
    jac = np.zeros((x_size, y_size), dtype=dt)
    scale = np.asarray(2 * delta, dtype=y.dtype.base_dtype.as_numpy_dtype)[()]
    for row in range(x_size):
        x_pos, x_neg = x_data.copy(), x_data.copy()
        x_pos.reshape(-1)[row] += dt.type(delta)
        x_neg.reshape(-1)[row] -= dt.type(delta)
        y_pos = np.asarray(sess.run(y, _feeds(extra, {x: x_pos})))
        y_neg = np.asarray(sess.run(y, _feeds(extra, {x: x_neg})))
        jac[row, :] = ((y_pos - y_neg) / scale).reshape(-1)
    return jac


def _check_shape(t: Any, shape: Sequence[int], what: str) -> tuple:
    shape = tuple(int(s) for s in shape)
    if not t.get_shape().is_compatible_with(shape):
        raise ValueError(f"compute_gradient: {what}_shape {list(shape)} does not match the static shape "
                         f"{t.get_shape()} of {t.name}")
    return shape


def _gradient_list(xs: list, x_shapes: list, y: Any, y_shape: Sequence[int], x_inits: list, delta: float,
                   init_targets: Any, extra: dict | None) -> list[tuple[np.ndarray, np.ndarray]]:
    from labflow.framework.gradients import gradients
    from labflow.ops.array_ops import placeholder
    sess = _session()
    y_shape = _check_shape(y, y_shape, "y")
    if base_type(y) not in _ALLOWED:
        raise TypeError(f"compute_gradient: y must be a real float tensor, got {base_type(y).name} for {y.name}")
    with y.graph.as_default():
        dy = placeholder(y.dtype.base_dtype, shape=y_shape, name="compute_gradient_dy")
        dxs = gradients(y, xs, grad_ys=dy)
    if init_targets is not None:
        sess.run(init_targets)
    points = [_point(x, x_shape, x_init) for x, x_shape, x_init in zip(xs, x_shapes, x_inits)]
    out = []
    for i, (x, x_data, dx) in enumerate(zip(xs, points, dxs)):
        # the other x's that are placeholders stay at their points (TF would fail: nothing feeds them)
        others = {xj: pj for j, (xj, pj) in enumerate(zip(xs, points)) if j != i and xj.op.type == "Placeholder"}
        feeds = _feeds(extra, others)
        out.append((_theoretical(sess, x, x_data, dy, y_shape, dx, feeds),
                    _numerical(sess, x, x_data, y, y_shape, delta, feeds)))
    return out


def _point(x: Any, x_shape: Sequence[int], x_init: Any) -> np.ndarray:
    """Where the Jacobian of `x` is taken: `x_init`, else uniform in [0, 1) (TF's choice)."""
    if base_type(x) not in _ALLOWED:
        raise TypeError(f"compute_gradient: x must be a real float tensor (complex is not supported), got "
                        f"{base_type(x).name} for {x.name}")
    x_shape = _check_shape(x, x_shape, "x")
    np_dt = x.dtype.base_dtype.as_numpy_dtype
    if x_init is None:
        return np.random.random_sample(x_shape).astype(np_dt)
    x_data = np.asarray(x_init, dtype=np_dt)
    if x_data.shape != x_shape:
        raise ValueError(f"compute_gradient: x_init_value has shape {x_data.shape}, x_shape is {list(x_shape)}")
    return x_data


def base_type(t: Any) -> _dt.DType:
    return t.dtype.base_dtype


def compute_gradient(x: Any, x_shape: Any, y: Any, y_shape: Sequence[int], x_init_value: Any = None,
                     delta: float = 1e-3, init_targets: Any = None, extra_feed_dict: dict | None = None) -> Any:
    """The theoretical and numerical Jacobians of `y` with respect to `x` (TF 1.x `tf.test.compute_gradient`).

    Args:
        x: a tensor, or a list of tensors.
        x_shape: its shape (a list of shapes for a list `x`).
        y: the output tensor.
        y_shape: its shape.
        x_init_value: the point to evaluate at (default: uniform in [0, 1)); a list for a list `x`.
        delta: the central-difference step.
        init_targets: ops run once first (e.g. the variables' initializer).
        extra_feed_dict: more feeds (placeholders `y` depends on).

    Returns:
        `(theoretical, numerical)`, two arrays of shape [x.size, y.size]; a list of such pairs for a list `x`.
    """
    if isinstance(x, list):
        inits = x_init_value if x_init_value is not None else [None] * len(x)
        return _gradient_list(x, list(x_shape), y, y_shape, list(inits), delta, init_targets, extra_feed_dict)
    return _gradient_list([x], [x_shape], y, y_shape, [x_init_value], delta, init_targets, extra_feed_dict)[0]


def compute_gradient_error(x: Any, x_shape: Any, y: Any, y_shape: Sequence[int], x_init_value: Any = None,
                           delta: float = 1e-3, init_targets: Any = None,
                           extra_feed_dict: dict | None = None) -> float:
    """The largest absolute difference between the theoretical and numerical Jacobians (see compute_gradient)."""
    grad = compute_gradient(x, x_shape, y, y_shape, x_init_value, delta, init_targets, extra_feed_dict)
    pairs = [grad] if isinstance(grad, tuple) else grad
    err = 0.0
    for j_t, j_n in pairs:
        if j_t.size or j_n.size:
            err = max(err, float(np.max(np.fabs(j_t.astype(np.float64) - j_n.astype(np.float64)))))
    return err
