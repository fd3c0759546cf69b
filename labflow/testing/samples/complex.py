"""Sweep samples for the complex-number ops (Complex, Real, Imag, Angle, ComplexAbs).

The sweep feeds real arrays and checks gradients of real outputs only, so each sample builds its complex
input with tf.complex from two real ones and, for the gradient check, returns real outputs: that checks
the complex-valued gradients through their real and imaginary parts.
"""

from __future__ import annotations

import numpy as np

import labflow as tf
from labflow.ops import complex_ops
from labflow.testing.op_sweep import Case, samples

R = np.random.RandomState(23)
_C = {np.dtype(np.float32): np.complex64, np.dtype(np.float64): np.complex128}


def _z(a, b):
    return (a + 1j * b).astype(_C[a.dtype])


def _away_from_zero(shape):
    """Points with |z| >= 0.5 and |imag| >= 0.1 (Angle jumps on the negative real axis)."""
    r = R.uniform(0.5, 2.0, size=shape)
    t = R.uniform(-3.0, 3.0, size=shape)
    t = np.where(np.abs(np.sin(t)) < 0.1, t + 0.3, t)
    return r * np.cos(t), r * np.sin(t)


@samples("Complex")
def _complex():
    return [
        Case(tf.complex, [R.randn(2, 3), R.randn(2, 3)], _z, grad=False, name="2d"),
        Case(lambda a, b: [tf.real(tf.complex(a, b)), tf.imag(tf.complex(a, b))], [R.randn(3, 1), R.randn(1, 4)],
             lambda a, b: [np.broadcast_to(a, (3, 4)), np.broadcast_to(b, (3, 4))], name="broadcast_parts"),
    ]


@samples("Real", "Imag")
def _parts():
    def build(a, b):
        z = tf.complex(a, b)
        zz = z * z
        return [tf.real(zz), tf.imag(zz)]
    return [Case(build, [R.randn(2, 5), R.randn(2, 5)], lambda a, b: [(_z(a, b) ** 2).real, (_z(a, b) ** 2).imag],
                 name="square")]


@samples("Angle")
def _angle():
    a, b = _away_from_zero((3, 4))
    return [Case(lambda x, y: tf.angle(tf.complex(x, y)), [a, b],
                 lambda x, y: np.angle(_z(x, y)).astype(x.dtype), name="2d")]


@samples("ComplexAbs")
def _complex_abs():
    a, b = _away_from_zero((2, 6))
    return [Case(lambda x, y: complex_ops.complex_abs(tf.complex(x, y)), [a, b],
                 lambda x, y: np.abs(_z(x, y)).astype(x.dtype), name="2d")]
