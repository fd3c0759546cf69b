"""Numerical gradient checks: symbolic `tf.gradients` against central differences, in float64."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np


def _as_list(y: Any) -> list:
    return list(y) if isinstance(y, (list, tuple)) else [y]


def gradient_check(build: Callable[..., Any], inputs: Sequence[np.ndarray], wrt: Sequence[int] | None = None,
                   *, eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-7, seed: int = 0,
                   device: str | None = None, directions: int = 2) -> dict:
    """Checks d<w, build(*inputs)>/dx against central differences along random directions.

    `build` maps placeholders (float64 for float inputs, the input's own dtype otherwise) to one or
    more output tensors; variables it creates are initialized once and held fixed. Returns
    {"max_abs_err": ..., "max_rel_err": ...}; raises AssertionError with
    the numbers when the check fails.
    """
    import labflow as tf
    rng = np.random.RandomState(seed)
    inputs = [np.asarray(x) for x in inputs]
    if wrt is None:
        wrt = [i for i, x in enumerate(inputs) if x.dtype.kind == "f"]
    g = tf.Graph()
    with g.as_default(), (tf.device(device) if device else _null()):
        phs = [tf.placeholder(tf.float64 if x.dtype.kind == "f" else tf.as_dtype(x.dtype), shape=x.shape)
               for x in inputs]
        ys = [y for y in _as_list(build(*phs)) if y is not None and y.dtype.is_floating]
        if not ys:
            raise AssertionError("gradient_check: build() produced no floating-point output")
        ws_ph = [tf.placeholder(tf.float64, shape=y.get_shape()) for y in ys]
        grads = tf.gradients(ys, [phs[i] for i in wrt], grad_ys=ws_ph)
        # weights a build() makes (an RNN cell's) are constants of the check: initialized once
        init = tf.global_variables_initializer() if tf.global_variables() else None
    feed_x = [x.astype(np.float64) if x.dtype.kind == "f" else x for x in inputs]
    with tf.Session(graph=g) as sess:
        if init is not None:
            sess.run(init)
        y0 = sess.run(ys, dict(zip(phs, feed_x)))
        ws = [rng.standard_normal(np.shape(v)) for v in y0]
        feed = dict(zip(phs, feed_x))
        feed.update(zip(ws_ph, ws))
        got = sess.run([gr for gr in grads if gr is not None], feed)
        got_iter = iter(got)
        analytic = [None if gr is None else _dense(next(got_iter)) for gr in grads]

        def loss(xs: list) -> float:
            vals = sess.run(ys, dict(zip(phs, xs)))
            return float(sum(np.sum(w * v) for w, v in zip(ws, vals)))

        worst_abs, worst_rel = 0.0, 0.0
        for k, i in enumerate(wrt):
            a = analytic[k]
            if a is None:
                a = np.zeros_like(feed_x[i])
            if np.shape(a) != feed_x[i].shape:
                raise AssertionError(f"gradient for input {i} has shape {np.shape(a)}, expected "
                                     f"{feed_x[i].shape}")
            for _ in range(directions):
                v = rng.standard_normal(feed_x[i].shape)
                xp_, xm_ = list(feed_x), list(feed_x)
                xp_[i] = feed_x[i] + eps * v
                xm_[i] = feed_x[i] - eps * v
                num = (loss(xp_) - loss(xm_)) / (2 * eps)
                ana = float(np.sum(a * v))
                err = abs(num - ana)
                rel = err / max(abs(num), abs(ana), 1e-12)
                worst_abs, worst_rel = max(worst_abs, err), max(worst_rel, rel)
                if err > atol + rtol * max(abs(num), abs(ana)) * 10 and err > atol * 10:
                    raise AssertionError(f"gradient mismatch for input {i}: numerical {num:.8g} vs symbolic "
                                         f"{ana:.8g} (abs err {err:.3g}, rel err {rel:.3g})")
    return {"max_abs_err": worst_abs, "max_rel_err": worst_rel}


def _dense(v: Any) -> np.ndarray:
    if hasattr(v, "indices") and hasattr(v, "values"):
        out = np.zeros(tuple(v.dense_shape), dtype=v.values.dtype)
        np.add.at(out, v.indices, v.values)
        return out
    return np.asarray(v)


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *a):
        return False
