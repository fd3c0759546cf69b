"""TFRecord files: byte-exact framing, round trips, compression and corruption errors."""

from __future__ import annotations

import gzip
import struct

import pytest

import labflow as tf
from labflow.framework.tf_record import crc32c, encode_record, masked_crc32c

# Record b"abc" framed by TF (and TensorBoard's own writer): length 3, masked CRCs from the spec.
ABC_RECORD = bytes.fromhex("0300000000000000" "b099490e" "616263" "6e57f121")


def _bitwise_crc32c(data: bytes) -> int:
    """A slow, table-free CRC-32C straight from the definition (reflected poly 0x82F63B78)."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def test_crc32c_check_values():
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(b"") == 0
    for data in (b"abc", b"\x00" * 32, bytes(range(256))):
        assert crc32c(data) == _bitwise_crc32c(data)


def test_masked_crc_formula():
    c = _bitwise_crc32c(b"abc")
    want = ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF
    assert masked_crc32c(b"abc") == want


def test_writer_bytes_match_tf(tmp_path):
    p = tmp_path / "abc.tfrecords"
    with tf.python_io.TFRecordWriter(str(p)) as w:
        w.write(b"abc")
    assert p.read_bytes() == ABC_RECORD == encode_record(b"abc")


def test_round_trip_empty_and_large(tmp_path):
    p = str(tmp_path / "r.tfrecords")
    records = [b"", b"x", bytes(range(256)) * 4096, "text"]
    w = tf.python_io.TFRecordWriter(p)
    for r in records:
        w.write(r)
    w.flush()
    w.close()
    w.close()  # twice is fine
    got = list(tf.python_io.tf_record_iterator(p))
    assert got == [b"", b"x", bytes(range(256)) * 4096, b"text"]
    with pytest.raises(tf.errors.FailedPreconditionError):
        w.write(b"late")


@pytest.mark.parametrize("kind", ["GZIP", "ZLIB", tf.python_io.TFRecordCompressionType.GZIP])
def test_compressed_round_trip(tmp_path, kind):
    p = str(tmp_path / "c.tfrecords")
    opts = tf.python_io.TFRecordOptions(kind)
    with tf.python_io.TFRecordWriter(p, options=opts) as w:
        for i in range(50):
            w.write(b"record %d" % i * 10)
    assert list(tf.python_io.tf_record_iterator(p, options=opts)) == [b"record %d" % i * 10 for i in range(50)]
    if opts.compression_type == "GZIP":  # the whole framed stream is one gzip stream, as in TF
        with gzip.open(p, "rb") as f:
            assert f.read(12)[:8] == struct.pack("<Q", 80)


def test_bad_compression_name():
    with pytest.raises(ValueError, match="compression"):
        tf.python_io.TFRecordOptions("LZ4")


def _write(p, records):
    with tf.python_io.TFRecordWriter(str(p)) as w:
        for r in records:
            w.write(r)


def test_corrupt_data_crc_names_file_and_offset(tmp_path):
    p = tmp_path / "bad.tfrecords"
    _write(p, [b"abc", b"defg"])
    raw = bytearray(p.read_bytes())
    raw[19 + 12] ^= 0xFF  # first data byte of the second record (the first record is 19 bytes)
    p.write_bytes(bytes(raw))
    it = tf.python_io.tf_record_iterator(str(p))
    assert next(it) == b"abc"
    with pytest.raises(tf.errors.DataLossError, match=r"corrupted record at 19 in .*bad\.tfrecords"):
        next(it)


def test_corrupt_length_crc(tmp_path):
    p = tmp_path / "len.tfrecords"
    _write(p, [b"abc"])
    raw = bytearray(p.read_bytes())
    raw[0] = 200
    p.write_bytes(bytes(raw))
    with pytest.raises(tf.errors.DataLossError, match="length fails its CRC"):
        list(tf.python_io.tf_record_iterator(str(p)))


@pytest.mark.parametrize("cut", [5, 14, 18])
def test_truncated(tmp_path, cut):
    p = tmp_path / "t.tfrecords"
    _write(p, [b"abc", b"abc"])
    p.write_bytes(p.read_bytes()[:19 + cut])
    it = tf.python_io.tf_record_iterator(str(p))
    assert next(it) == b"abc"
    with pytest.raises(tf.errors.DataLossError, match="truncated record at 19"):
        next(it)


def test_missing_file(tmp_path):
    with pytest.raises(tf.errors.NotFoundError):
        list(tf.python_io.tf_record_iterator(str(tmp_path / "nope")))
    with pytest.raises(tf.errors.NotFoundError):
        tf.python_io.TFRecordWriter(str(tmp_path / "no" / "dir.tfrecords"))
