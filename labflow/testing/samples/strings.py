"""Sweep samples for the string ops (string_ops.py, string_convert_ops.py).

References are plain Python over bytes; the hash references are string_hashing's functions, which
tests/ops/test_string_ops.py pins to values computed by TensorFlow. Errors and wrapper arguments are
tested there too.
"""

from __future__ import annotations

import base64
import re

import numpy as np

import labflow as tf
from labflow.ops.string_hashing import fingerprint64, legacy_hash64, siphash
from labflow.testing.op_sweep import Case, samples


def S(*vals: bytes) -> np.ndarray:
    """A 1-D object array of bytes (a string tensor's value)."""
    out = np.empty(len(vals), dtype=object)
    out[:] = list(vals)
    return out


def _map(fn, arr, dtype=object):
    out = np.empty(arr.shape, dtype=dtype)
    out.reshape(-1)[:] = [fn(v) for v in arr.reshape(-1)]
    return out


def _join_rows(sep, rows):
    """`sep.join(row)` for each row of a 2-D object array, as a 1-D object array."""
    out = np.empty(rows.shape[0], dtype=object)
    out[:] = [sep.join(r) for r in rows]
    return out


WORDS = S(b"hello", b" two words ", b"", b"caf\xc3\xa9")
GRID = np.array([[b"a", b"bc"], [b"d", b""], [b"ef", b"g"]], dtype=object)


def _sparse(sp):
    return [sp.indices, sp.values, sp.dense_shape]


def _sparse_ref(rows):
    idx = np.array([(i, j) for i, r in enumerate(rows) for j in range(len(r))], np.int64).reshape(-1, 2)
    return [idx, S(*[t for r in rows for t in r]), np.array([len(rows), max(map(len, rows), default=0)], np.int64)]


@samples("StringJoin")
def _join():
    return [Case(lambda a, b: tf.string_join([a, b, "!"], separator="-"), [GRID, GRID[::-1].copy()],
                 lambda a, b: _join_rows(b"-", np.stack([a, b, np.full(a.shape, b"!", object)], -1).reshape(-1, 3))
                 .reshape(a.shape), grad=False),
            Case(lambda a: tf.strings.join([a]), [WORDS], lambda a: a, grad=False, name="one")]


@samples("StringSplit")
def _split():
    src = S(b"a b  c", b"", b"d,e f")
    return [Case(lambda s: _sparse(tf.string_split(s)), [src],
                 lambda s: _sparse_ref([[b"a", b"b", b"c"], [], [b"d,e", b"f"]]), grad=False),
            Case(lambda s: _sparse(tf.string_split(s, ", ", skip_empty=False)), [src],
                 lambda s: _sparse_ref([[b"a", b"b", b"", b"c"], [], [b"d", b"e", b"f"]]), grad=False,
                 name="keep_empty"),
            Case(lambda s: _sparse(tf.string_split(s, "")), [S(b"ab", b"c")],
                 lambda s: _sparse_ref([[b"a", b"b"], [b"c"]]), grad=False, name="chars")]


@samples("StringSplitV2")
def _split_v2():
    src = S(b" a  b c ", b"x,,y", b"")
    return [Case(lambda s: _sparse(tf.strings.split(s)), [src], lambda s: _sparse_ref([v.split() for v in s]),
                 grad=False),
            Case(lambda s: _sparse(tf.strings.split(s, sep=",", maxsplit=1)), [src],
                 lambda s: _sparse_ref([v.split(b",", 1) for v in s]), grad=False, name="sep_maxsplit"),
            # TF appends the (possibly empty) rest once maxsplit tokens are taken, unlike Python
            Case(lambda s: _sparse(tf.strings.split(s, maxsplit=1)), [S(b" a  b ", b"ab", b"")],
                 lambda s: _sparse_ref([[b"a", b"b "], [b"ab", b""], []]), grad=False, name="whitespace_maxsplit")]


def _elementwise(fn_tf, fn_py, dtype=object):
    return [Case(fn_tf, [WORDS], lambda s: _map(fn_py, s, dtype), grad=False),
            Case(fn_tf, [GRID], lambda s: _map(fn_py, s, dtype), grad=False, name="2d")]


@samples("StringStrip")
def _strip():
    return _elementwise(tf.string_strip, lambda s: s.strip())


@samples("StringLength")
def _length():
    return (_elementwise(tf.strings.length, len, np.int32)
            + [Case(lambda s: tf.strings.length(s, unit="UTF8_CHAR"), [WORDS],
                    lambda s: _map(lambda v: len(v.decode()), s, np.int32), grad=False, name="utf8")])


@samples("StringUpper")
def _upper():
    return _elementwise(tf.strings.upper, lambda s: bytes(c - 32 if 97 <= c <= 122 else c for c in s))


@samples("StringLower")
def _lower():
    return [Case(tf.strings.lower, [S(b"MiXeD", b"CAF\xc3\x89")],
                 lambda s: _map(lambda v: bytes(c + 32 if 65 <= c <= 90 else c for c in v), s), grad=False)]


@samples("EncodeBase64")
def _encode_b64():
    return (_elementwise(tf.encode_base64, lambda s: base64.urlsafe_b64encode(s).rstrip(b"="))
            + [Case(lambda s: tf.encode_base64(s, pad=True), [WORDS],
                    lambda s: _map(base64.urlsafe_b64encode, s), grad=False, name="pad")])


@samples("DecodeBase64")
def _decode_b64():
    enc = S(b"aGVsbG8_Pg", b"", b"YQ==", b"YWI")
    return [Case(tf.decode_base64, [enc], lambda s: S(b"hello?>", b"", b"a", b"ab"), grad=False)]


@samples("Substr")
def _substr():
    return [Case(lambda s, p, n: tf.substr(s, p, n), [S(b"hello", b"ab", b""), np.array([1, -2, 0], np.int32),
                                                      np.array([3, 5, 1], np.int32)],
                 lambda s, p, n: S(b"ell", b"ab", b""), grad=False),
            Case(lambda s: tf.substr(s, 1, 2), [GRID[::2].copy()], lambda s: _map(lambda v: v[1:3], s), grad=False,
                 name="scalar_pos"),
            Case(lambda s: tf.strings.substr(s, 1, 2, unit="UTF8_CHAR"), [S(b"caf\xc3\xa9s")],
                 lambda s: S(b"af"), grad=False, name="utf8"),
            Case(lambda s: tf.strings.substr(s, 3, 1, unit="UTF8_CHAR"), [S(b"caf\xc3\xa9s")],
                 lambda s: S(b"\xc3\xa9"), grad=False, name="utf8_multibyte")]


@samples("RegexReplace")
def _regex_replace():
    def build(s):
        return tf.regex_replace(s, tf.constant("([a-z])o"), tf.constant(r"<\1\0>"))
    return [Case(build, [WORDS], lambda s: _map(lambda v: re.sub(rb"([a-z])o", rb"<\1\g<0>>", v), s), grad=False)]


@samples("StaticRegexReplace")
def _static_regex_replace():
    return [Case(lambda s: tf.regex_replace(s, r"\s+", "_"), [WORDS], lambda s: _map(
                lambda v: re.sub(rb"\s+", b"_", v), s), grad=False),
            Case(lambda s: tf.regex_replace(s, "l", "L", replace_global=False), [WORDS],
                 lambda s: _map(lambda v: v.replace(b"l", b"L", 1), s), grad=False, name="first_only"),
            Case(lambda s: tf.regex_replace(s, ".", "x"), [S(b"caf\xc3\xa9")], lambda s: S(b"xxxx"), grad=False,
                 name="utf8_dot")]


@samples("RegexFullMatch")
def _regex_full_match():
    return [Case(lambda s: tf.strings.regex_full_match(s, tf.constant("[a-z]+")), [WORDS],
                 lambda s: _map(lambda v: re.fullmatch(rb"[a-z]+", v) is not None, s, np.bool_), grad=False)]


@samples("StaticRegexFullMatch")
def _static_regex_full_match():
    return [Case(lambda s: tf.strings.regex_full_match(s, r"\w*"), [GRID],
                 lambda s: _map(lambda v: re.fullmatch(rb"\w*", v) is not None, s, np.bool_), grad=False)]


def _join_ref(a, axes, keep=False, sep=b""):
    kept = [i for i in range(a.ndim) if i not in axes]
    moved = np.transpose(a, kept + axes[::-1])
    shape = tuple(a.shape[i] for i in kept)
    out = _join_rows(sep, moved.reshape(-1, int(np.prod([a.shape[i] for i in axes], dtype=int)))).reshape(shape)
    if keep:
        out = out.reshape(tuple(1 if i in axes else n for i, n in enumerate(a.shape)))
    return out


@samples("ReduceJoin")
def _reduce_join():
    return [Case(lambda s: tf.reduce_join(s, 0, separator="|"), [GRID], lambda s: _join_ref(s, [0], sep=b"|"),
                 grad=False),
            Case(lambda s: tf.reduce_join(s), [GRID], lambda s: _join_ref(s, [1, 0]), grad=False, name="all"),
            Case(lambda s: tf.reduce_join(s, [0, 1], separator=","), [GRID],
                 lambda s: _join_ref(s, [0, 1], sep=b","), grad=False, name="ordered_axes"),
            Case(lambda s: tf.reduce_join(s, -1, keep_dims=True), [GRID], lambda s: _join_ref(s, [1], keep=True),
                 grad=False, name="keep_dims")]


@samples("AsString")
def _as_string():
    x = np.array([1.5, -2.25, 1e10, 0.0])
    i = np.array([[3, -40], [7, 0]], np.int64)
    return [Case(tf.as_string, [x], lambda v: _map(lambda e: b"%f" % e, v), dtypes=(tf.float32, tf.float64),
                 grad=False),
            Case(lambda v: tf.as_string(v, precision=2, width=9, fill="0"), [x],
                 lambda v: _map(lambda e: b"%09.2f" % e, v), dtypes=(tf.float64,), grad=False, name="padded"),
            Case(lambda v: tf.as_string(v, scientific=True), [x], lambda v: _map(lambda e: b"%e" % e, v),
                 dtypes=(tf.float64,), grad=False, name="scientific"),
            Case(lambda v: tf.as_string(v, shortest=True), [x], lambda v: _map(lambda e: b"%g" % e, v),
                 dtypes=(tf.float64,), grad=False, name="shortest"),
            Case(lambda v: tf.as_string(v, width=4, fill="-"), [i], lambda v: _map(lambda e: b"%-4d" % e, v),
                 grad=False, name="int64"),
            Case(tf.as_string, [np.array([True, False])], lambda v: S(b"true", b"false"), grad=False, name="bool")]


@samples("StringToNumber")
def _to_number():
    nums = S(b"1.5", b" -2e3 ", b"inf", b"0x10")
    ints = S(b"12", b"+3", b" -7", b"2147483647")
    return [Case(tf.string_to_number, [nums], lambda s: np.array([1.5, -2000, np.inf, 16], np.float32), grad=False),
            Case(lambda s: tf.strings.to_number(s, tf.float64), [nums], lambda s: np.array([1.5, -2000, np.inf, 16]),
                 grad=False, name="float64"),
            Case(lambda s: tf.string_to_number(s, tf.int32), [ints],
                 lambda s: np.array([12, 3, -7, 2147483647], np.int32), grad=False, name="int32"),
            Case(lambda s: tf.string_to_number(s, tf.int64), [ints],
                 lambda s: np.array([12, 3, -7, 2147483647], np.int64), grad=False, name="int64")]


VOCAB = S(b"", b"a", b"hello world", b"x" * 40, b"y" * 100, b"caf\xc3\xa9")


@samples("StringToHashBucketFast")
def _hash_fast():
    return [Case(lambda s: tf.string_to_hash_bucket_fast(s, 1000), [VOCAB],
                 lambda s: _map(lambda v: fingerprint64(v) % 1000, s, np.int64), grad=False)]


@samples("StringToHashBucketStrong")
def _hash_strong():
    return [Case(lambda s: tf.string_to_hash_bucket_strong(s, 77, key=[1, 2]), [VOCAB],
                 lambda s: _map(lambda v: siphash((1, 2), v) % 77, s, np.int64), grad=False)]


@samples("StringToHashBucket")
def _hash_legacy():
    return [Case(lambda s: tf.string_to_hash_bucket(s, 10), [VOCAB],
                 lambda s: _map(lambda v: legacy_hash64(v) % 10, s, np.int64), grad=False)]
