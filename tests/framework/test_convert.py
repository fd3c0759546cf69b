"""tf.convert_to_tensor / tf.constant conversion rules (TF 1.x `tensor_util.make_tensor_proto`)."""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.framework import registry


def _value(t):
    return t.op.get_attr("value")


@pytest.mark.parametrize("value, dtype", [
    (1.5, tf.float32), (1, tf.int32), (2**40, tf.int64), (-(2**40), tf.int64), (True, tf.bool),
    ("abc", tf.string), (b"abc", tf.string), (1 + 2j, tf.complex128), ([1.0, 2.0], tf.float32),
    ([[1, 2], [3, 4]], tf.int32), ([1, 2**33], tf.int64), ([], tf.float32), ([[True], [False]], tf.bool),
    (np.float64(1.0), tf.float64), (np.int64(3), tf.int64), (np.arange(3, dtype=np.int16), tf.int16),
    (np.ones((2, 2), np.float16), tf.float16), (np.array(["a", "b"]), tf.string),
    (np.array([1], dtype=np.uint8), tf.uint8),
])
def test_default_dtypes(value, dtype):
    t = tf.convert_to_tensor(value)
    assert t.dtype == dtype and t.op.type == "Const"
    assert t.get_shape().as_list() == list(np.shape(value))


def test_strings_are_held_as_bytes():
    t = tf.constant(["ab", b"cd"])
    assert _value(t).tolist() == [b"ab", b"cd"]
    with tf.Session() as sess:
        assert sess.run(tf.constant("héllo")) == "héllo".encode()


@pytest.mark.parametrize("value, dtype, want", [
    (1, tf.float32, np.float32(1)), (1, tf.float64, 1.0), (True, tf.float32, 1.0), (1, tf.int64, 1),
    ([1, 2], tf.uint8, [1, 2]), (3, tf.complex64, 3 + 0j), ("s", tf.string, b"s"),
    (np.array([1.7, 2.2]), tf.int32, [1, 2]),  # NumPy values are cast like TF (astype)
    (np.array([1, 0]), tf.bool, [True, False]), (2.5, tf.bfloat16, 2.5), (True, tf.bool, True),
])
def test_dtype_conversions(value, dtype, want):
    t = tf.convert_to_tensor(value, dtype=dtype)
    assert t.dtype == dtype
    assert np.asarray(_value(t)).tolist() == np.asarray(want).tolist()


@pytest.mark.parametrize("value, dtype, msg", [
    (1.0, tf.int32, "Expected int32, got 1.0 of type 'float' instead."),
    ([1, 2.5], tf.int64, "Expected int64, got 2.5 of type 'float' instead."),
    (1, tf.bool, "Expected bool, got 1 of type 'int' instead."),
    (1, tf.string, "Expected string, got 1 of type 'int' instead."),
    ("a", tf.float32, "Expected float32, got 'a' of type 'str' instead."),
    (1j, tf.float32, "Expected float32, got 1j of type 'complex' instead."),
])
def test_incompatible_python_values(value, dtype, msg):
    with pytest.raises(TypeError, match=msg.replace("(", "\\(").replace(")", "\\)").replace(".", "\\.")):
        tf.convert_to_tensor(value, dtype=dtype)


def test_bad_values():
    with pytest.raises(ValueError, match="Argument must be a dense tensor: .* got shape \\[2\\], but wanted "
                                         "\\[2, 2\\]"):
        tf.constant([[1, 2], [3]])
    with pytest.raises(TypeError, match="Failed to convert object of type <class 'NoneType'> to Tensor"):
        tf.convert_to_tensor(None)
    with pytest.raises(TypeError, match="Failed to convert object"):
        tf.convert_to_tensor(object())
    with pytest.raises(ValueError, match="out of range for int32"):
        tf.constant(2**40, dtype=tf.int32)


def test_tensor_passthrough_and_dtype_mismatch():
    x = tf.constant(1.0)
    assert tf.convert_to_tensor(x) is x and tf.convert_to_tensor(x, dtype=tf.float32) is x
    with pytest.raises(ValueError, match="Tensor conversion requested dtype int32 for Tensor with dtype "
                                         "float32"):
        tf.convert_to_tensor(x, dtype=tf.int32)


def test_variable_conversion():
    v = tf.Variable(2.0)
    t = tf.convert_to_tensor(v)
    assert isinstance(t, tf.Tensor) and t.dtype == tf.float32
    with pytest.raises((ValueError, RuntimeError)):
        tf.convert_to_tensor(v, dtype=tf.int32)


def test_preferred_dtype():
    assert tf.convert_to_tensor(1, preferred_dtype=tf.float32).dtype == tf.float32
    assert tf.convert_to_tensor(1.5, preferred_dtype=tf.int32).dtype == tf.float32  # silently ignored
    assert tf.convert_to_tensor(1, dtype_hint=tf.int64).dtype == tf.int64
    x = tf.constant(1.0)
    assert tf.convert_to_tensor(x, preferred_dtype=tf.int32) is x
    assert tf.convert_to_tensor(1, dtype=tf.int64, preferred_dtype=tf.float32).dtype == tf.int64


def test_name_of_new_const():
    assert tf.convert_to_tensor(1.0, name="c").op.name == "c"
    assert tf.convert_to_tensor(1.0).op.name.startswith("Const")


needs_pack = pytest.mark.skipif(registry.lookup("Pack") is None, reason="Pack op not registered yet")


@needs_pack
def test_list_with_tensors_packs():
    a = tf.constant(1.0)
    b = tf.placeholder(tf.float32, [])
    t = tf.convert_to_tensor([a, 2.0, b])
    assert t.op.type == "Pack" and t.op.name == "packed" and t.dtype == tf.float32
    assert t.get_shape().as_list() == [3]
    assert t.op.inputs[0] is a and t.op.inputs[1].op.name == "packed/1" and t.op.inputs[2] is b
    with tf.Session() as sess:
        assert sess.run(t, {b: 3.0}).tolist() == [1.0, 2.0, 3.0]


@needs_pack
def test_nested_list_with_tensors_and_int_elements_take_tensor_dtype():
    a = tf.constant(1.0)
    t = tf.convert_to_tensor([[a, 2], [3, 4]], name="m")  # ints become float32 like the tensor
    assert t.dtype == tf.float32 and t.get_shape().as_list() == [2, 2] and t.op.name == "m"
    with tf.Session() as sess:
        assert sess.run(t).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(TypeError, match="Cannot convert a list containing a tensor of dtype float32 to "
                                        "int32"):
        tf.convert_to_tensor([a, 1], dtype=tf.int32)


@needs_pack
def test_shape_list_with_tensor_dim():
    x = tf.placeholder(tf.float32, [None, 3])
    n = tf.shape(x)[0]
    shp = tf.convert_to_tensor([n, 3])
    assert shp.dtype == tf.int32 and shp.op.type == "Pack"


def test_register_tensor_conversion_function():
    class Meters:
        def __init__(self, v):
            self.v = v

    calls = []

    def conv(value, dtype=None, name=None, as_ref=False):
        calls.append(dtype)
        return tf.constant(value.v, dtype=dtype or tf.float32, name=name)

    tf.register_tensor_conversion_function(Meters, conv)
    t = tf.convert_to_tensor(Meters(3.0))
    assert t.dtype == tf.float32 and calls == [None]
    assert tf.convert_to_tensor(Meters(2), dtype=tf.float64).dtype == tf.float64
    with pytest.raises(TypeError, match="base_type must be a type"):
        tf.register_tensor_conversion_function("nope", conv)
    with pytest.raises(TypeError, match="conversion_func must be callable"):
        tf.register_tensor_conversion_function(Meters, 3)


def test_conversion_function_not_implemented_and_bad_results():
    class A:
        pass

    class B:
        pass

    tf.register_tensor_conversion_function(A, lambda v, dtype=None, name=None, as_ref=False: NotImplemented,
                                           priority=1)
    tf.register_tensor_conversion_function(A, lambda v, dtype=None, name=None, as_ref=False: tf.constant(7))
    assert tf.convert_to_tensor(A()).dtype == tf.int32
    tf.register_tensor_conversion_function(B, lambda v, dtype=None, name=None, as_ref=False: 3)
    with pytest.raises(RuntimeError, match="returned non-Tensor"):
        tf.convert_to_tensor(B())


def test_operator_conversion_follows_tensor_dtype():
    x = tf.constant([1.0, 2.0])
    assert (x + 1).dtype == tf.float32
    i = tf.constant([1, 2])
    with pytest.raises(TypeError, match="Expected int32.*got 0.5"):
        i * 0.5


def test_convert_to_tensor_or_indexed_slices():
    from labflow.framework.convert import convert_to_tensor_or_indexed_slices
    s = tf.IndexedSlices(tf.constant([[1.0, 2.0]]), tf.constant([0]), tf.constant([3, 2]))
    assert convert_to_tensor_or_indexed_slices(s) is s
    with pytest.raises(ValueError, match="requested dtype int32"):
        convert_to_tensor_or_indexed_slices(s, dtype=tf.int32)
    assert convert_to_tensor_or_indexed_slices(1.0).dtype == tf.float32


def test_constant_value_folds_small_subgraphs():
    from labflow.framework.constant_value import constant_shape, constant_value
    assert constant_value(tf.constant([1, 2])).tolist() == [1, 2]
    assert constant_value(tf.range(2, 10, 3)).tolist() == [2, 5, 8]
    assert constant_value(tf.fill([2, 2], 3)).tolist() == [[3, 3], [3, 3]]
    assert constant_value(tf.equal(tf.constant([1, 2]), 1)).tolist() == [True, False]
    assert constant_value(tf.unstack(tf.constant([[1, 2], [3, 4]]))[1]).tolist() == [3, 4]
    assert constant_value(tf.shape(tf.placeholder(tf.float32, [2, 3]))).tolist() == [2, 3]
    assert constant_value(tf.cast(tf.constant([1.5]), tf.int32)).tolist() == [1]
    assert constant_value(tf.identity(tf.constant(4))) == 4
    assert constant_value(tf.placeholder(tf.float32)) is None and constant_value(3) is None
    assert constant_shape(tf.shape(tf.placeholder(tf.float32, [None, 3]))) == (None, 3)
    assert constant_shape(tf.constant([-1, 4])) == (None, 4)
