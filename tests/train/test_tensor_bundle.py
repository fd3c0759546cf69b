"""Checkpoints in TensorFlow's V2 format (tensor bundle): byte-exact writes, TF-written checkpoints restore, the
earlier labflow JSON format still reads, and corrupt files raise DataLossError naming the file and the problem."""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib

import ml_dtypes
import numpy as np
import pytest

import labflow as tf
from labflow import errors
from labflow.framework.protos import tensor_bundle_pb2
from labflow.train import checkpoint_format as ckpt
from labflow.train import sstable, tensor_bundle

FIXTURE = os.path.join(os.path.dirname(__file__), "tf_checkpoint", "model.ckpt")


def _fixture_values() -> dict[str, np.ndarray]:
    """The values tests/train/tf_checkpoint was written from (see its README)."""
    return {
        "f32_3d": np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 4,
        "f64": np.linspace(-1, 1, 5),
        "i32": np.arange(-3, 3, dtype=np.int32).reshape(2, 3),
        "i64": np.array([2**40, -7], dtype=np.int64),
        "flag": np.array([True, False, True]),
        "scalar": np.float32(3.5),
        "empty": np.zeros((0, 3), np.float32),
        "scope/words": np.array([b"hello", b"", "café".encode()], dtype=object),
        "f16": (np.arange(4) / 8).astype(np.float16),
        "bf16": (np.arange(3, dtype=np.float32) * 0.5).astype(ml_dtypes.bfloat16),
    }


def _every_dtype() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {f"t/{np.dtype(t).name}": (rng.normal(size=(2, 3)) * 50).astype(t)
           for t in (np.float16, ml_dtypes.bfloat16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
                     np.uint8, np.uint16, np.uint32, np.uint64)}
    out["t/bool"] = rng.normal(size=(4,)) > 0
    out["t/complex64"] = (rng.normal(size=3) + 1j * rng.normal(size=3)).astype(np.complex64)
    out["t/complex128"] = rng.normal(size=(1, 2)) + 1j
    out["t/string"] = np.array([[b"a", b""], [b"\x00\xff", "ü".encode() * 200]], dtype=object)
    out["t/string_empty"] = np.zeros((0,), dtype=object)
    out["t/string_scalar"] = np.array(b"just one", dtype=object)
    out["t/scalar"] = np.int64(-5)
    out["t/empty"] = np.zeros((2, 0, 3), np.float64)
    out["t/cube"] = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    return out


def _assert_same(got: np.ndarray, want: np.ndarray) -> None:
    want = np.asarray(want)
    assert got.shape == want.shape
    if want.dtype == object:
        assert got.dtype == object and [bytes(x) for x in got.reshape(-1)] == [bytes(x) for x in want.reshape(-1)]
    else:
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


# -- writing ---------------------------------------------------------------------------------------------------

def test_round_trip_of_every_dtype(tmp_path):
    values = _every_dtype()
    prefix = str(tmp_path / "all")
    ckpt.write_checkpoint(prefix, values)
    got = ckpt.read_tensors(prefix)
    assert sorted(got) == sorted(values)
    for name, want in values.items():
        _assert_same(got[name], want)
    assert dict(ckpt.list_variables(prefix))["t/cube"] == [3, 4, 5]
    assert dict(ckpt.list_variables(prefix))["t/scalar"] == []


def test_writes_are_byte_identical_to_tensorflows():
    data, index = tensor_bundle.encode_bundle(_fixture_values())
    with open(FIXTURE + ".data-00000-of-00001", "rb") as f:
        assert data == f.read()
    with open(FIXTURE + ".index", "rb") as f:
        assert index == f.read()


def test_saver_output_is_tf_format_and_deterministic(tmp_path):
    tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3), name="w")
    tf.Variable(np.array([b"x", b"yz"], dtype=object), name="names")
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        a = saver.save(sess, str(tmp_path / "a"), write_meta_graph=False)
        b = saver.save(sess, str(tmp_path / "b"), write_meta_graph=False)
    assert sorted(os.listdir(tmp_path)) == ["a.data-00000-of-00001", "a.index", "b.data-00000-of-00001",
                                            "b.index", "checkpoint"]
    for suffix in (".index", ".data-00000-of-00001"):
        with open(a + suffix, "rb") as fa, open(b + suffix, "rb") as fb:
            assert fa.read() == fb.read()
    with open(a + ".index", "rb") as f:
        raw = f.read()
    assert struct.unpack("<Q", raw[-8:])[0] == sstable.TABLE_MAGIC
    header, entries = tensor_bundle.read_entries(raw, a + ".index")
    assert (header.num_shards, header.version.producer) == (1, 1)
    assert set(entries) == {"w", "names"}
    assert entries["w"].dtype == tf.float32.as_datatype_enum and entries["w"].size == 24


# -- reading TensorFlow's checkpoints ------------------------------------------------------------------------

def test_tf_written_checkpoint_restores_into_labflow_graph(tmp_path):
    values = _fixture_values()
    variables = {name: tf.Variable(np.zeros_like(v) if v.dtype != object else np.array([b""] * v.size, dtype=object),
                                   name=name) for name, v in values.items()}
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        saver.restore(sess, FIXTURE)
        for name, want in values.items():
            _assert_same(np.asarray(sess.run(variables[name])), want)


def test_tf_written_checkpoint_through_checkpoint_utils():
    values = _fixture_values()
    assert tf.train.list_variables(FIXTURE) == sorted((k, list(np.shape(v))) for k, v in values.items())
    reader = tf.train.load_checkpoint(FIXTURE)
    assert reader.get_variable_to_dtype_map()["bf16"] == tf.bfloat16
    assert reader.get_variable_to_dtype_map()["scope/words"] == tf.string
    _assert_same(tf.train.load_variable(FIXTURE, "i64:0"), values["i64"])
    with pytest.raises(errors.NotFoundError, match="Key nope not found in checkpoint"):
        reader.get_tensor("nope")


def test_reads_tensors_spread_over_several_shards(tmp_path):
    prefix = str(tmp_path / "sharded")
    parts = {"a": np.arange(3, dtype=np.int32), "b": np.array([b"q", b"rs"], dtype=object), "c": np.float64(2.5)}
    shard_of = {"a": 1, "b": 0, "c": 1}
    header = tensor_bundle_pb2.BundleHeaderProto(num_shards=2)
    header.version.producer = 1
    rows, data = [(b"", header.SerializeToString())], {0: b"", 1: b""}
    for name, value in parts.items():
        one_data, one_index = tensor_bundle.encode_bundle({name: value})
        _, entries = tensor_bundle.read_entries(one_index, name)
        entry = entries[name]
        entry.shard_id, entry.offset = shard_of[name], len(data[shard_of[name]])
        data[shard_of[name]] += one_data
        rows.append((name.encode(), entry.SerializeToString()))
    for shard, raw in data.items():
        with open(tensor_bundle.data_filename(prefix, shard, 2), "wb") as f:
            f.write(raw)
    with open(prefix + ".index", "wb") as f:
        f.write(sstable.build_table(rows))
    got = ckpt.read_tensors(prefix)
    for name, want in parts.items():
        _assert_same(got[name], want)


# -- labflow's earlier JSON format -----------------------------------------------------------------------------

def _write_legacy(prefix: str, tensors: dict[str, np.ndarray]) -> None:
    """A checkpoint as labflow wrote them before the V2 format: JSON index, raw data, zlib CRC-32."""
    chunks, index, offset = [], {}, 0
    for name in sorted(tensors):
        value = np.asarray(tensors[name])
        if value.dtype == object:
            raw, dtype_name = b"".join(struct.pack("<Q", len(b)) + b for b in value.reshape(-1)), "string"
        else:
            raw, dtype_name = value.astype(value.dtype.newbyteorder("<")).tobytes(), tf.as_dtype(value.dtype).name
        index[name] = {"dtype": dtype_name, "shape": list(value.shape), "offset": offset, "length": len(raw),
                       "crc32": zlib.crc32(raw)}
        chunks.append(raw)
        offset += len(raw)
    with open(prefix + ".data-00000-of-00001", "wb") as f:
        f.write(b"".join(chunks))
    meta = {"format": "labflow-checkpoint", "version": 1, "data_file": os.path.basename(prefix) + ".data",
            "data_bytes": offset, "tensors": index}
    with open(prefix + ".index", "w") as f:
        json.dump(meta, f, indent=1)


def test_legacy_json_checkpoint_still_restores(tmp_path):
    prefix = str(tmp_path / "old.ckpt")
    old = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "s": np.array([b"ab", b""], dtype=object),
           "global_step": np.int64(7)}
    _write_legacy(prefix, old)
    w = tf.Variable(np.zeros((2, 3), np.float32), name="w")
    s = tf.Variable(np.array([b"", b""], dtype=object), name="s")
    step = tf.train.get_or_create_global_step()
    with tf.Session() as sess:
        tf.train.Saver().restore(sess, prefix)
        _assert_same(sess.run(w), old["w"])
        _assert_same(np.asarray(sess.run(s)), old["s"])
        assert sess.run(step) == 7
    assert tf.train.list_variables(prefix) == [("global_step", []), ("s", [2]), ("w", [2, 3])]


# -- errors ------------------------------------------------------------------------------------------------------

@pytest.fixture
def saved(tmp_path):
    prefix = str(tmp_path / "m.ckpt")
    ckpt.write_checkpoint(prefix, {"w": np.arange(8, dtype=np.float32), "s": np.array([b"abc", b"de"], dtype=object)})
    return prefix


def _rewrite(path: str, edit) -> None:
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    with open(path, "wb") as f:
        f.write(bytes(edit(raw)))


def test_truncated_index_is_data_loss(saved):
    _rewrite(saved + ".index", lambda raw: raw[:20])
    with pytest.raises(errors.DataLossError, match=r"m\.ckpt\.index.*fewer than an SSTable footer"):
        ckpt.read_index(saved)


def test_bad_magic_is_data_loss(saved):
    _rewrite(saved + ".index", lambda raw: raw[:-1] + b"\x00")
    with pytest.raises(errors.DataLossError, match=r"m\.ckpt\.index.*bad magic number"):
        ckpt.read_tensors(saved)


def test_flipped_index_byte_is_crc_mismatch(saved):
    def flip(raw):
        raw[raw.index(b"w")] ^= 0x01  # inside the data block, the tensor name
        return raw
    _rewrite(saved + ".index", flip)
    with pytest.raises(errors.DataLossError, match=r"m\.ckpt\.index.*crc mismatch in the data block"):
        ckpt.list_variables(saved)


def test_flipped_data_byte_is_crc_mismatch(saved):
    def flip(raw):
        raw[7] ^= 0x40  # "s" sorts first: 2 varint lengths, 4 bytes length checksum, then b"abcde"
        raw[-1] ^= 0x40  # the last float of w
        return raw
    _rewrite(saved + ".data-00000-of-00001", flip)
    for name in ("s", "w"):
        with pytest.raises(errors.DataLossError,
                           match=rf"Checksum \(crc32c\) mismatch for tensor '{name}' in .*m\.ckpt\.data-00000-of"):
            ckpt.read_tensors(saved, [name])


def test_corrupt_string_lengths_are_data_loss(saved):
    _rewrite(saved + ".data-00000-of-00001", lambda raw: bytes([raw[0] + 1]) + raw[1:])
    with pytest.raises(errors.DataLossError, match="length checksum does not match"):
        ckpt.read_tensors(saved, ["s"])


def test_truncated_or_missing_data_file(saved):
    data = saved + ".data-00000-of-00001"
    _rewrite(data, lambda raw: raw[:-4])
    with pytest.raises(errors.DataLossError, match=r"truncated: tensor 'w' needs bytes up to"):
        ckpt.read_tensors(saved, ["w"])
    os.unlink(data)
    with pytest.raises(errors.DataLossError, match=r"data-00000-of-00001 is missing"):
        ckpt.read_tensors(saved, ["w"])


def test_missing_tensor_and_missing_checkpoint_are_not_found(saved, tmp_path):
    with pytest.raises(errors.NotFoundError, match="Key v not found in checkpoint .* It has: s, w"):
        ckpt.read_tensors(saved, ["v"])
    with pytest.raises(errors.NotFoundError, match="no index file"):
        ckpt.read_index(str(tmp_path / "absent"))


def test_restore_names_the_missing_variable(saved):
    tf.Variable(np.zeros(8, np.float32), name="w")
    tf.Variable(np.zeros(2, np.float32), name="extra")
    with tf.Session() as sess, pytest.raises(errors.NotFoundError, match="Key extra not found"):
        tf.train.Saver().restore(sess, saved)


# -- the SSTable layer ---------------------------------------------------------------------------------------------

def test_table_spanning_several_blocks_reads_back(monkeypatch, tmp_path):
    monkeypatch.setattr(sstable, "BLOCK_SIZE", 200)  # many data blocks and index separators
    rows = [(f"layer_{i:03d}/{'k' * (i % 13)}".encode(), bytes([i % 256]) * (i % 40)) for i in range(300)]
    rows.append((b"\xff\xff", b"last"))  # no short successor exists for an all-0xff key
    table = sstable.build_table(rows)
    assert sstable.read_table(table, "t") == rows
    with pytest.raises(ValueError, match="strictly increasing"):
        sstable.build_table([(b"b", b""), (b"a", b"")])


def test_separator_keys_follow_tf():
    assert sstable._shortest_separator(b"the quick brown fox", b"the who") == b"the r"
    assert sstable._shortest_separator(b"abc", b"abcd") == b"abc"  # a prefix is kept whole
    assert sstable._shortest_separator(b"ab", b"ac") == b"ab"  # no room between b and c
    assert sstable._short_successor(b"\xffab") == b"\xffb"


def test_masked_crc_round_trip():
    for crc in (0, 1, 0xFFFFFFFF, 0x12345678):
        assert sstable.unmask_crc32c(sstable.mask(crc)) == crc
    from labflow.summary.event_file_writer import masked_crc32c
    assert sstable.mask(0) == 0xA282EAD8 and sstable.mask(sstable.crc32c(b"abc")) == masked_crc32c(b"abc")


def test_fixture_copy_is_independent_of_its_folder(tmp_path):
    for suffix in (".index", ".data-00000-of-00001"):
        shutil.copy(FIXTURE + suffix, tmp_path / ("moved" + suffix))
    _assert_same(ckpt.read_tensors(str(tmp_path / "moved"), ["f32_3d"])["f32_3d"], _fixture_values()["f32_3d"])


def test_tf_partitioned_variable_is_assembled_from_its_slices():
    prefix = FIXTURE.replace("model.ckpt", "partitioned.ckpt")
    assert tf.train.list_variables(prefix) == [("emb", [5, 3])]  # the slice entries are hidden, as in TF
    _assert_same(tf.train.load_variable(prefix, "emb"), np.arange(15, dtype=np.float32).reshape(5, 3))


def test_slice_keys_are_tfs_ordered_code():
    # Bytes as TF 2.21 wrote them for slices of a [2, 200] tensor "big" split in two along axis 1.
    assert tensor_bundle.slice_key("big", [(0, 2), (0, 100)]).encode("latin-1") == (
        b"\x00big\x00\x01\x01\x02\x80\x82\x80\xc0\x64")
    assert tensor_bundle.slice_key("big", [(0, 2), (100, 100)]).encode("latin-1").endswith(b"\xc0\x64\xc0\x64")
    assert tensor_bundle.slice_key("a\x00", [(0, -1)]).encode("latin-1") == b"\x00a\x00\xff\x00\x01\x01\x01\x80\x7f"
    # OrderedCode's signed numbers sort bytewise in numeric order, across every encoded length
    values = sorted({s * (2 ** k + d) for k in range(0, 63, 3) for d in (-1, 0, 1) for s in (1, -1)})
    values = [v for v in values if -2**63 <= v < 2**63]
    encoded = [tensor_bundle._ordered_signed(v) for v in values]
    assert encoded == sorted(encoded) and len(set(encoded)) == len(values)
    lengths = [len(tensor_bundle._ordered_signed(v)) for v in (63, 64, -64, -65, 2**62 - 1, 2**62, -2**63)]
    assert lengths == [1, 2, 1, 2, 9, 10, 10]


def test_object_tensor_that_is_not_strings_is_rejected(tmp_path):
    with pytest.raises(errors.InvalidArgumentError, match="Cannot save tensor 'odd'.*holds int"):
        ckpt.write_checkpoint(str(tmp_path / "x"), {"odd": np.array([1, 2], dtype=object)})
    assert not os.path.exists(tmp_path / "x.index")
