"""Pickle-free tensor coding: headers, payloads, chunking and reassembly."""

from __future__ import annotations

import ast
import inspect
import json
import random
import zlib

import ml_dtypes
import numpy as np
import pytest

from labflow import dtypes, errors
from labflow.distributed import tensor_coding as tc
from labflow.distributed.tensor_coding import Reassembler, TensorHeader, chunks, decode, encode

NUMERIC = [d for d in dtypes._BASE if d not in (dtypes.string, dtypes.variant)]  # variant never travels
SHAPES = [(), (0,), (3, 0, 2), (1,), (5,), (2, 3, 4)]


def _sample(dt: dtypes.DType, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    if dt is dtypes.bool:
        return (np.arange(n) % 3 == 0).reshape(shape)
    vals = np.arange(n) * 3 % 101 - (0 if dt.np.kind == "u" else 50)
    if dt.np.kind == "c":
        return (vals + 0.5j * vals).astype(dt.np).reshape(shape)
    return vals.astype(dt.np).reshape(shape)


@pytest.mark.parametrize("dt", NUMERIC, ids=lambda d: d.name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_round_trip_every_dtype_and_shape(dt, shape):
    x = _sample(dt, shape)
    header, payload = encode(x)
    assert header.dtype == dt and header.shape == shape and header.nbytes == x.nbytes
    assert header.crc32 == zlib.crc32(payload)
    y = decode(header, bytes(payload))
    assert y.dtype == dt.np and y.shape == shape
    np.testing.assert_array_equal(y.view(np.uint8) if y.ndim else y, x.view(np.uint8) if x.ndim else x)


def test_bfloat16_and_float16_bits_preserved():
    x = np.array([1.5, -0.0, np.inf, -np.inf, 3e38], dtype=ml_dtypes.bfloat16)
    y = decode(*encode(x))
    assert y.dtype == ml_dtypes.bfloat16 and (y.view(np.uint16) == x.view(np.uint16)).all()
    h = np.array([np.nan, 65504, 6e-8], dtype=np.float16)
    assert (decode(*encode(h)).view(np.uint16) == h.view(np.uint16)).all()


def test_encode_is_zero_copy_and_decode_shares_buffer():
    x = np.arange(1000, dtype=np.float32)
    _, payload = encode(x, checksum=False)
    assert np.shares_memory(np.frombuffer(payload, np.uint8), x)
    buf = bytearray(x.tobytes())
    y = decode(*encode(x)[:1], buf)
    assert np.shares_memory(y, np.frombuffer(buf, np.uint8))
    z = decode(*encode(x)[:1], bytes(buf), copy=True)
    assert z.flags.writeable and z.flags.owndata


def test_little_endian_c_order_wire_format():
    x = np.arange(6, dtype=">i4").reshape(2, 3)
    header, payload = encode(x)
    assert bytes(payload) == np.arange(6, dtype="<i4").tobytes()
    np.testing.assert_array_equal(decode(header, payload), x)
    f = np.asfortranarray(np.arange(6, dtype=np.float64).reshape(2, 3))
    header, payload = encode(f)
    assert bytes(payload) == np.ascontiguousarray(f).astype("<f8").tobytes()
    t = np.arange(12, dtype=np.int16).reshape(3, 4)[:, ::2]
    np.testing.assert_array_equal(decode(*encode(t)), t)


def test_dtype_argument_and_python_values():
    header, payload = encode([1, 2, 3], dtypes.float32)
    assert header.dtype == dtypes.float32
    np.testing.assert_array_equal(decode(header, payload), np.array([1, 2, 3], np.float32))
    header, payload = encode(7)
    assert header.shape == () and decode(header, payload) == 7


@pytest.mark.parametrize("value, shape", [
    (np.array([b"ab", b"", "\u00fc".encode(), b"\x00\xff" * 100], dtype=object), (4,)),
    (np.array(b"scalar", dtype=object), ()),
    (np.array([["a", "bc"], ["", "d"]]), (2, 2)),
    (np.array([b"x", b"yz"]), (2,)),
    (np.empty((0, 2), dtype=object), (0, 2)),
    ([b"\xff\x00", "mixed \u00fc"], (2,)),
])
def test_string_tensors(value, shape):
    header, payload = encode(value)
    assert header.dtype == dtypes.string and header.shape == shape
    y = decode(header, bytes(payload))
    assert y.dtype == object and y.shape == shape
    expect = [v.encode() if isinstance(v, str) else bytes(v) for v in np.asarray(value, object).reshape(-1)]
    assert list(y.reshape(-1)) == expect


def test_string_errors():
    with pytest.raises(errors.InvalidArgumentError, match="not bytes or str"):
        encode(np.array([b"a", 3], dtype=object))
    header, payload = encode(np.array([b"abc", b"de"], dtype=object))
    raw = bytes(payload)
    bad_len = np.array([4, 2], "<u8").tobytes() + raw[16:]
    with pytest.raises(errors.DataLossError, match="item lengths need"):
        decode(TensorHeader(header.dtype, header.shape, len(bad_len)), bad_len)
    huge = np.array([2**63, 2**63], "<u8").tobytes() + raw[16:]
    with pytest.raises(errors.DataLossError, match="exceeds its payload"):
        decode(TensorHeader(header.dtype, header.shape, len(huge)), huge)
    with pytest.raises(errors.DataLossError, match="too short"):
        decode(TensorHeader(header.dtype, (5,), 8), raw[:8])


def test_truncated_oversized_corrupt_and_mismatched():
    header, payload = encode(np.arange(10, dtype=np.int32))
    raw = bytes(payload)
    with pytest.raises(errors.DataLossError, match="truncated"):
        decode(header, raw[:-1])
    with pytest.raises(errors.DataLossError, match="oversized"):
        decode(header, raw + b"\0")
    corrupt = bytearray(raw)
    corrupt[5] ^= 1
    with pytest.raises(errors.DataLossError, match="CRC-32"):
        decode(header, corrupt)
    assert decode(header, corrupt, verify=False)[1] != 1
    wrong_shape = TensorHeader(dtypes.int32, (3, 3), 40, None)
    with pytest.raises(errors.DataLossError, match="does not fit a int32 tensor of shape"):
        decode(wrong_shape, raw)


def test_size_limits():
    x = np.zeros(100, np.float64)
    with pytest.raises(errors.ResourceExhaustedError, match="exceeds the limit of 799 bytes"):
        encode(x, max_bytes=799)
    header, payload = encode(x, max_bytes=800)
    with pytest.raises(errors.ResourceExhaustedError):
        decode(header, payload, max_bytes=100)
    with pytest.raises(errors.ResourceExhaustedError):
        Reassembler(10**12)
    assert decode(header, payload, max_bytes=None).shape == (100,)


def test_header_dict_round_trip_and_validation():
    header, _ = encode(np.zeros((2, 3), ml_dtypes.bfloat16))
    d = json.loads(json.dumps(header.as_dict()))
    assert TensorHeader.from_dict(d) == header
    for bad in [{}, {"dtype": 999, "shape": [], "nbytes": 0}, {"dtype": 1, "shape": [-1], "nbytes": 0},
                {"dtype": 1, "shape": "ab", "nbytes": 0}, {"dtype": 1, "shape": [], "nbytes": -4}]:
        with pytest.raises(errors.InvalidArgumentError, match="Malformed tensor header"):
            TensorHeader.from_dict(bad)


def test_chunks():
    data = bytes(range(256)) * 40
    pieces = list(chunks(data, 1000))
    assert [off for off, _ in pieces] == list(range(0, len(data), 1000))
    assert b"".join(bytes(p) for _, p in pieces) == data
    assert all(isinstance(p, memoryview) for _, p in pieces)
    assert [(o, bytes(p)) for o, p in chunks(b"", 10)] == [(0, b"")]
    for bad in (0, -1, 1.5):
        with pytest.raises(errors.InvalidArgumentError, match="chunk_size"):
            list(chunks(data, bad))


def test_big_array_chunked_shuffled_and_reassembled():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((257, 1031)).astype(np.float32)  # ~1 MiB, not a multiple of the chunk size
    header, payload = encode(x)
    pieces = list(chunks(payload, 4093))
    assert len(pieces) > 200
    random.Random(1).shuffle(pieces)
    r = Reassembler.for_header(header)
    for off, piece in pieces:
        assert not r.complete
        r.add(off, piece)
    assert r.complete and r.received == header.nbytes
    y = decode(header, r.finish())
    np.testing.assert_array_equal(y, x)


def test_reassembler_detects_problems():
    header, payload = encode(np.arange(100, dtype=np.int64))
    pieces = list(chunks(payload, 64))
    r = Reassembler.for_header(header)
    for off, p in pieces[:-1]:
        r.add(off, p)
    with pytest.raises(errors.DataLossError, match="received 768 of 800 bytes"):
        r.finish()
    with pytest.raises(errors.DataLossError, match="overlaps"):
        r.add(*pieces[0])
    with pytest.raises(errors.DataLossError, match="overlaps"):
        r.add(10, b"x" * 10)
    with pytest.raises(errors.DataLossError, match="outside the payload"):
        r.add(790, b"x" * 20)
    with pytest.raises(errors.DataLossError, match="outside the payload"):
        r.add(-1, b"x")
    off, last = pieces[-1]
    bad = bytearray(last)
    bad[0] ^= 0xFF
    r.add(off, bad)
    with pytest.raises(errors.DataLossError, match="CRC-32"):
        r.finish()
    empty = Reassembler(0, zlib.crc32(b""))
    empty.add(0, b"")
    assert empty.complete and bytes(empty.finish()) == b""
    with pytest.raises(errors.InvalidArgumentError):
        Reassembler(-1)


def test_tensor_proto_small_tensors():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    proto = tc.to_tensor_proto(x)
    np.testing.assert_array_equal(tc.from_tensor_proto(proto), x)
    s = tc.from_tensor_proto(tc.to_tensor_proto(np.array([b"a", b"bc"], object)))
    assert list(s) == [b"a", b"bc"]
    with pytest.raises(errors.ResourceExhaustedError, match="Inline TensorProto"):
        tc.to_tensor_proto(np.zeros(10000, np.float32), max_bytes=1000)
    bad = tc.to_tensor_proto(x)
    bad.tensor_content = bad.tensor_content[:-4]
    with pytest.raises(errors.InvalidArgumentError, match="Invalid TensorProto"):
        tc.from_tensor_proto(bad)


def test_module_uses_no_pickle():
    # Every identifier, attribute, import and keyword in the code (docstrings may say "never pickle").
    tree = ast.parse(inspect.getsource(tc))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(a.name for a in node.names)
            names.add(getattr(node, "module", None) or "")
    words = ("pickle", "marshal", "dill", "shelve", "__reduce__", "eval", "exec")
    assert not [n for n in names if any(w in n.lower() for w in words)]
    assert "import pickle" not in inspect.getsource(tc)


def test_reassembler_merges_ranges_and_rejects_overlaps_after_merging():
    r = Reassembler(100)
    for off in (0, 20, 10, 40, 30):  # 10 fills the gap between 0 and 20
        r.add(off, b"x" * 10)
    assert r._starts == [0] and r._ends == [50]
    with pytest.raises(errors.DataLossError, match="overlaps"):
        r.add(45, b"y" * 10)
    r.add(50, b"z" * 50)
    assert r.complete and bytes(r.finish()) == b"x" * 50 + b"z" * 50
