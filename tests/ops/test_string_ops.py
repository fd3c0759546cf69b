"""Behaviour of the string ops' public wrappers: TF 1.x names, argument handling and errors.

The hash values below were computed with TensorFlow (tf.fingerprint, tf.strings.to_hash_bucket_*): they
pin labflow's bucketing to TF's bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf
from labflow.ops.string_hashing import fingerprint64, legacy_hash64, siphash


def run(*fetches, feed=None):
    with tf.Session() as s:
        return s.run(list(fetches) if len(fetches) > 1 else fetches[0], feed)


# -- hashes, pinned to TensorFlow -------------------------------------------------------------------------------
HASH_INPUTS = [b"", b"a", b"hello world", b"x" * 40, b"y" * 100]


def test_fast_bucket_matches_tensorflow():
    got = run(tf.string_to_hash_bucket_fast(HASH_INPUTS, 1000))
    np.testing.assert_array_equal(got, [263, 939, 11, 852, 355])
    assert got.dtype == np.int64


def test_strong_and_legacy_buckets_match_tensorflow():
    strong = run(tf.string_to_hash_bucket_strong(HASH_INPUTS[:4], 1000, key=[1, 2]))
    legacy = run(tf.string_to_hash_bucket(HASH_INPUTS[:4], 1000))
    np.testing.assert_array_equal(strong, [435, 646, 446, 927])
    np.testing.assert_array_equal(legacy, [899, 868, 655, 365])


@pytest.mark.parametrize("n", [0, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 300])
def test_hash_functions_are_64_bit_and_length_sensitive(n):
    s = bytes(range(256))[:n] if n <= 256 else bytes(range(256)) + bytes(n - 256)
    for h in (fingerprint64(s), siphash((1, 2), s), legacy_hash64(s)):
        assert 0 <= h < 2 ** 64
    assert fingerprint64(s) != fingerprint64(s + b"\0")


def test_fingerprint64_known_values():
    # tf.fingerprint([""]) read as a little-endian uint64
    assert fingerprint64(b"") == 0x9AE16A3B2F90404F
    assert fingerprint64(b"hello world") % 1000 == 11


def test_hash_bucket_errors():
    with pytest.raises(ValueError, match="num_buckets"):
        tf.string_to_hash_bucket_fast(["a"], 0)
    with pytest.raises(ValueError, match="Key must have 2 elements"):
        tf.string_to_hash_bucket_strong(["a"], 3, key=[1])
    with pytest.raises(ValueError, match="dtype string"):
        tf.string_to_hash_bucket_fast(tf.constant([1.0]), 3)


# -- join / split ---------------------------------------------------------------------------------------------
def test_string_join_broadcasts_scalars_and_checks_shapes():
    t = tf.strings.join([["a", "b"], "x"], separator="-")
    assert t.get_shape().as_list() == [2]
    np.testing.assert_array_equal(run(t), np.array([b"a-x", b"b-x"], object))
    with pytest.raises(ValueError, match="Input shapes do not match"):
        tf.string_join([["a", "b"], ["c", "d", "e"]])
    p = tf.placeholder(tf.string, [None])
    with pytest.raises(tf.errors.InvalidArgumentError, match="Input shapes do not match"):
        run(tf.string_join([p, ["a", "b"]]), feed={p: np.array([b"x"], object)})


def test_string_split_sparse_result():
    sp = tf.string_split(["a b  c", "", "d"], " ")
    idx, vals, shape = run(sp.indices, sp.values, sp.dense_shape)
    np.testing.assert_array_equal(idx, [[0, 0], [0, 1], [0, 2], [2, 0]])
    assert list(vals) == [b"a", b"b", b"c", b"d"]
    np.testing.assert_array_equal(shape, [3, 3])
    vals = run(tf.string_split(["a,b;c"], delimiter=",;").values)
    assert list(vals) == [b"a", b"b", b"c"]
    with pytest.raises(ValueError, match="rank 1"):
        tf.string_split([["a"]])
    with pytest.raises(ValueError, match="both"):
        tf.string_split(["a"], sep=",", delimiter=",")
    with pytest.raises(ValueError, match="RaggedTensor"):
        tf.string_split(["a"], result_type="RaggedTensor")


def test_strings_split_python_semantics():
    sp = tf.strings.split(["x,,y", "a,b,c"], sep=",", maxsplit=1)
    vals, shape = run(sp.values, sp.dense_shape)
    assert list(vals) == [b"x", b",y", b"a", b"b,c"]
    np.testing.assert_array_equal(shape, [2, 2])
    assert list(run(tf.strings.split([" a  b "]).values)) == [b"a", b"b"]
    # TF's quirk (kept for compatibility): after maxsplit tokens the rest is appended even when empty
    assert list(run(tf.strings.split(["ab", "\tq\n"], maxsplit=1).values)) == [b"ab", b"", b"q", b""]


def test_string_split_empty_string_has_no_tokens():
    sp = tf.string_split(["", "a,,b"], ",", skip_empty=False)
    idx, vals = run(sp.indices, sp.values)
    np.testing.assert_array_equal(idx, [[1, 0], [1, 1], [1, 2]])
    assert list(vals) == [b"a", b"", b"b"]


# -- conversions ----------------------------------------------------------------------------------------------
def test_as_string_formats():
    assert list(run(tf.as_string([1.5, 2.0]))) == [b"1.500000", b"2.000000"]
    assert list(run(tf.as_string([1.5, 2.0], precision=2, width=8, fill="0"))) == [b"00001.50", b"00002.00"]
    assert list(run(tf.as_string([1.5], scientific=True))) == [b"1.500000e+00"]
    assert list(run(tf.as_string([1.5, 2.0], shortest=True))) == [b"1.5", b"2"]
    assert list(run(tf.as_string([3, -4], width=4))) == [b"   3", b"  -4"]
    assert list(run(tf.as_string([True, False]))) == [b"true", b"false"]
    assert list(run(tf.as_string(tf.constant([1 + 2j], tf.complex64)))) == [b"(1.000000,2.000000)"]


@pytest.mark.parametrize("kwargs,match", [
    (dict(precision=2), "precision not supported for datatype int32"),
    (dict(width=3, fill="x"), "Fill argument not supported"),
    (dict(width=3, fill="00"), "one or fewer characters"),
])
def test_as_string_bad_attrs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tf.as_string([3], **kwargs)


def test_as_string_scientific_and_shortest_conflict():
    with pytest.raises(ValueError, match="both scientific and shortest"):
        tf.as_string([1.5], scientific=True, shortest=True)


def test_string_to_number():
    np.testing.assert_allclose(run(tf.string_to_number(["1.5", " 2", "-1e3", "0x10"])), [1.5, 2, -1000, 16])
    got = run(tf.strings.to_number([" 12 ", "+3"], tf.int32))
    assert got.dtype == np.int32 and list(got) == [12, 3]
    assert run(tf.string_to_number(["1e40"])) == np.inf


@pytest.mark.parametrize("text,out_type", [("abc", tf.float32), ("", tf.float32), ("1_0", tf.int64),
                                           ("1.0", tf.int32), ("3000000000", tf.int32), ("12abc", tf.int64)])
def test_string_to_number_names_the_bad_string(text, out_type):
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"could not correctly convert string: {text}"):
        run(tf.string_to_number([text], out_type))


def test_string_to_number_bad_out_type():
    with pytest.raises(TypeError, match="out_type"):
        tf.string_to_number(["1"], tf.int8)


# -- substr, strip, length, case, base64 ---------------------------------------------------------------------
def test_substr():
    assert list(run(tf.substr(["hello", "abc"], -3, 2))) == [b"ll", b"ab"]
    assert list(run(tf.substr(["hello", "ab"], [1, 0], [10, 1]))) == [b"ello", b"a"]
    assert list(run(tf.strings.substr(["h\xe9llo"], 1, 2, unit="UTF8_CHAR"))) == ["\xe9l".encode()]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"pos 3 out of range for string b'ab' at index 1"):
        run(tf.substr(["hello", "ab"], 3, 2))
    with pytest.raises(ValueError, match="unit"):
        tf.substr(["a"], 0, 1, unit="CHAR")
    with pytest.raises(TypeError, match="'pos'"):
        tf.substr(["a"], 0.5, 1)


def test_strip_length_case():
    assert list(run(tf.string_strip([" \ta b \n"]))) == [b"a b"]
    np.testing.assert_array_equal(run(tf.strings.length(["h\xe9llo", ""])), [6, 0])
    np.testing.assert_array_equal(run(tf.strings.length(["h\xe9llo", ""], unit="UTF8_CHAR")), [5, 0])
    assert list(run(tf.strings.upper(["h\xe9llo"]))) == ["H\xe9LLO".encode()]
    assert list(run(tf.strings.lower(["ABC"]))) == [b"abc"]
    with pytest.raises(ValueError, match="dtype string"):
        tf.string_strip(tf.constant([1]))
    with pytest.raises(TypeError, match="expected type of string"):  # the op itself checks too
        tf.get_default_graph().create_op("StringStrip", [tf.constant([1])])


def test_base64_round_trip_and_errors():
    enc = tf.encode_base64(["hello?>", ""])
    assert list(run(enc)) == [b"aGVsbG8_Pg", b""]
    assert list(run(tf.decode_base64(enc))) == [b"hello?>", b""]
    assert list(run(tf.encode_base64(["a"], pad=True))) == [b"YQ=="]
    with pytest.raises(tf.errors.InvalidArgumentError, match="1 modulo 4"):
        run(tf.decode_base64(["a"]))


# -- regex ----------------------------------------------------------------------------------------------------
def test_regex_replace_static_and_dynamic():
    t = tf.regex_replace(["aabc", "xyz"], "a(b)?", r"<\0|\1>")
    assert t.op.type == "StaticRegexReplace"
    assert list(run(t)) == [b"<a|><ab|b>c", b"xyz"]
    d = tf.regex_replace(["aabc"], tf.constant("a"), tf.constant("z"), replace_global=False)
    assert d.op.type == "RegexReplace"
    assert list(run(d)) == [b"zabc"]
    assert list(run(tf.regex_replace(["a.b"], r"\.", r"\\"))) == [b"a\\b"]
    assert list(run(tf.regex_replace(["ab"], r"x*", "-"))) == [b"-a-b-"]


def test_regex_errors():
    with pytest.raises(tf.errors.InvalidArgumentError, match="Invalid pattern"):
        tf.regex_replace(["a"], "(", "x")
    with pytest.raises(tf.errors.InvalidArgumentError, match="group 2"):
        run(tf.regex_replace(["ab"], "(a)", r"\2"))
    with pytest.raises(ValueError, match="rank 0"):
        tf.regex_replace(["a"], tf.constant(["a", "b"]), tf.constant("x"))


def test_regex_full_match():
    m = tf.strings.regex_full_match(["aabc", "ab", "aab"], "a+b")
    assert m.op.type == "StaticRegexFullMatch"
    np.testing.assert_array_equal(run(m), [False, True, True])
    # RE2 semantics: \w is ASCII only
    np.testing.assert_array_equal(run(tf.strings.regex_full_match(["\xe9", "e"], r"\w")), [False, True])


# -- reduce_join ----------------------------------------------------------------------------------------------
def test_reduce_join_axes_order_and_keep_dims():
    x = [["a", "b"], ["c", "d"]]
    assert list(run(tf.reduce_join(x, 0, separator="-"))) == [b"a-c", b"b-d"]
    assert run(tf.reduce_join(x, separator="-")) == b"a-b-c-d"
    assert run(tf.reduce_join(x, [0, 1], separator="-")) == b"a-c-b-d"
    t = tf.reduce_join(x, -1, keep_dims=True)
    assert t.get_shape().as_list() == [2, 1]
    np.testing.assert_array_equal(run(t), np.array([[b"ab"], [b"cd"]], object))
    empty = tf.placeholder(tf.string, [2, 0])
    assert run(tf.reduce_join(empty, [1, 0]), feed={empty: np.empty((2, 0), object)}) == b""


def test_reduce_join_errors():
    with pytest.raises(ValueError, match="Invalid reduction dimension 2"):
        tf.reduce_join([["a"]], 2)
    with pytest.raises(ValueError, match="Duplicate reduction dimension 1"):
        tf.reduce_join([["a"]], [1, 1])
    p = tf.placeholder(tf.int32)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Duplicate"):
        run(tf.reduce_join([["a"]], p), feed={p: [1, -1]})


def test_string_ops_are_not_differentiable():
    from labflow.framework import registry
    for name in ("StringJoin", "StringSplit", "StringToNumber", "AsString", "Substr", "ReduceJoin",
                 "StringToHashBucketFast", "RegexReplace"):
        assert not registry.get(name).differentiable


def test_graph_def_attrs_are_tensorflows():
    tf.string_join(["a", "b"], name="j")
    tf.as_string([1.5], name="s")
    tf.substr(["abc"], tf.constant(1, tf.int64), tf.constant(1, tf.int64), name="sub")
    nodes = {n.name: n for n in tf.get_default_graph().as_graph_def().node}
    assert nodes["j"].attr["N"].i == 2
    assert nodes["s"].attr["T"].type == tf.float32.as_datatype_enum
    assert nodes["sub"].attr["T"].type == tf.int64.as_datatype_enum
