"""DType objects: names, enum values, NumPy mapping, ref types and predicates (TF 1.x `tf.dtypes`)."""

from __future__ import annotations

import pickle

import ml_dtypes
import numpy as np
import pytest

import labflow as tf
from labflow import dtypes

# name -> (TF DataType enum, NumPy scalar type)
TF_TYPES = {
    "float16": (19, np.float16), "bfloat16": (14, ml_dtypes.bfloat16), "float32": (1, np.float32),
    "float64": (2, np.float64), "int8": (6, np.int8), "int16": (5, np.int16), "int32": (3, np.int32),
    "int64": (9, np.int64), "uint8": (4, np.uint8), "uint16": (17, np.uint16), "uint32": (22, np.uint32),
    "uint64": (23, np.uint64), "bool": (10, np.bool_), "string": (7, np.object_),
    "complex64": (8, np.complex64), "complex128": (18, np.complex128),
}


@pytest.mark.parametrize("name", sorted(TF_TYPES))
def test_every_dtype(name):
    enum, npt = TF_TYPES[name]
    d = getattr(dtypes, name)
    assert d.name == name and d.as_datatype_enum == enum and d.as_numpy_dtype is npt
    assert tf.as_dtype(name) is d and tf.as_dtype(enum) is d
    assert repr(d) == f"tf.{name}" and str(d) == f"<dtype: '{name}'>"
    if name != "string":
        assert tf.as_dtype(npt) is d and tf.as_dtype(np.dtype(npt)) is d
        assert d == npt and d == np.dtype(npt)
    ref = d._as_ref
    assert ref.name == name + "_ref" and ref.as_datatype_enum == enum + 100 and ref.is_ref_dtype
    assert ref.base_dtype is d and d.base_dtype is d and ref._as_ref is ref and not d.is_ref_dtype
    assert tf.as_dtype(name + "_ref") is ref and tf.as_dtype(enum + 100) is ref
    assert ref.as_numpy_dtype is npt
    assert pickle.loads(pickle.dumps(d)) is d and pickle.loads(pickle.dumps(ref)) is ref


def test_public_names_and_aliases():
    assert tf.float32 is dtypes.float32 and tf.half is tf.float16 and tf.double is tf.float64
    assert tf.as_dtype("half") is tf.float16 and tf.as_dtype("float") is tf.float32
    assert tf.as_dtype("double") is tf.float64 and tf.as_dtype("float_ref") is tf.float32._as_ref


def test_as_dtype_from_python_and_numpy():
    assert tf.as_dtype(float) is tf.float32
    assert tf.as_dtype(bool) is tf.bool
    assert tf.as_dtype(object) is tf.string
    assert tf.as_dtype(np.dtype("S5")) is tf.string and tf.as_dtype(np.dtype("U3")) is tf.string
    assert tf.as_dtype(np.bytes_) is tf.string and tf.as_dtype(np.str_) is tf.string
    assert tf.as_dtype(np.intc) is tf.int32 and tf.as_dtype(np.longlong) is tf.int64
    assert tf.as_dtype(np.dtype(">f4")) is tf.float32
    assert tf.as_dtype(tf.int8) is tf.int8


@pytest.mark.parametrize("bad", ["int", "str", "f4", "float33", int, str, complex, 0, 99, 999, True, None,
                                 [1]])
def test_as_dtype_rejects_what_tf_rejects(bad):
    with pytest.raises(TypeError, match="Cannot convert value .* to a TensorFlow DType"):
        tf.as_dtype(bad)


def test_predicates():
    for d in (tf.float16, tf.bfloat16, tf.float32, tf.float64):
        assert d.is_floating and not d.is_integer and not d.is_complex and not d.is_bool
    for d in (tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8, tf.uint16):
        assert d.is_integer and not d.is_floating
    for d in (tf.uint8, tf.uint16, dtypes.uint32, dtypes.uint64):
        assert d.is_unsigned
    for d in (tf.int32, tf.float32, tf.bool, tf.string, tf.complex64):
        assert not d.is_unsigned
    assert tf.complex64.is_complex and tf.complex128.is_complex and not tf.complex64.is_floating
    assert tf.bool.is_bool and not tf.bool.is_integer
    assert tf.float32._as_ref.is_floating and tf.int32._as_ref.is_integer
    assert not tf.string.is_numeric and tf.int32.is_numeric
    assert tf.complex64.real_dtype is tf.float32 and tf.complex128.real_dtype is tf.float64
    assert tf.float32.real_dtype is tf.float32


def test_min_max():
    assert tf.float32.min == np.finfo(np.float32).min and tf.float32.max == np.finfo(np.float32).max
    assert tf.int8.min == -128 and tf.int8.max == 127 and tf.uint8.min == 0 and tf.uint16.max == 65535
    assert tf.int64.max == 2**63 - 1
    assert float(tf.bfloat16.max) == float(ml_dtypes.finfo(ml_dtypes.bfloat16).max)
    assert tf.float16.max == 65504
    for d in (tf.bool, tf.string, tf.complex64):
        with pytest.raises(TypeError, match="Cannot find minimum value"):
            _ = d.min
        with pytest.raises(TypeError, match="Cannot find maximum value"):
            _ = d.max


def test_size_and_limits():
    assert tf.float32.size == 4 and tf.float64.size == 8 and tf.bfloat16.size == 2 and tf.bool.size == 1
    assert tf.string.size == 1 and tf.complex128.size == 16
    assert tf.uint8.limits == (0, 255) and tf.float32.limits == (0, 1) and tf.bool.limits == (0, True)


def test_equality_and_hash():
    assert tf.float32 == "float32" and tf.float32 == np.float32 and tf.float32 != tf.float64
    assert tf.float32 != "not a type" and tf.float32 != None  # noqa: E711 - TF's __eq__ handles None
    assert tf.float32 != tf.float32._as_ref
    assert hash(tf.float32) == 1 and len({tf.float32, tf.as_dtype("float32")}) == 1
    assert {tf.float32: 1}[tf.as_dtype(np.float32)] == 1


def test_is_compatible_with_ref_rules():
    f, fr = tf.float32, tf.float32._as_ref
    assert f.is_compatible_with(f) and f.is_compatible_with(fr)
    assert fr.is_compatible_with(fr) and not fr.is_compatible_with(f)
    assert not f.is_compatible_with(tf.float64)
    assert f.is_compatible_with("float32") and f.is_compatible_with(np.float32)
