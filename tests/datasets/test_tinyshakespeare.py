"""labflow.datasets.tinyshakespeare: the char-rnn corpus as characters, file lookup, download and bad files."""

from __future__ import annotations

import gzip
import hashlib
import os

import numpy as np
import pytest
from fake_http import no_network, serve

import labflow as tf
from labflow.datasets import _download, ptb, tinyshakespeare
from labflow.datasets.tinyshakespeare import FILE, CorruptDatasetError, DatasetNotFoundError

TEXT = "First Citizen:\nBefore we proceed, hear me speak.\n\nAll:\nSpeak, speak.\n"
URL = tinyshakespeare.MIRRORS[0] + FILE


def write_text(d, text=TEXT, gz=False) -> str:
    os.makedirs(d, exist_ok=True)
    data = text.encode()
    with open(os.path.join(d, FILE + (".gz" if gz else "")), "wb") as f:
        f.write(gzip.compress(data) if gz else data)
    return str(d)


@pytest.fixture(scope="module")
def real():
    """(path of input.txt, its text), read once for the module."""
    root = os.environ.get("LABFLOW_DATA")
    d = os.path.join(root, "tinyshakespeare") if root else None
    if not d or not os.path.isfile(os.path.join(d, FILE)):
        pytest.skip("Tiny Shakespeare not found: set LABFLOW_DATA to a folder with tinyshakespeare/input.txt")
    with pytest.MonkeyPatch.context() as mp:  # a missing file must fail here, not download
        mp.setattr(_download, "_urlopen", no_network)
        return tinyshakespeare.text_file(d), tinyshakespeare.load(d)


# ---------------------------------------------------------------------------------------------------
# Real corpus (skipped without $LABFLOW_DATA/tinyshakespeare/input.txt)


def test_real_text_vocabulary_and_checksum(real):
    path, text = real
    assert len(text) == 1115394
    assert text.splitlines()[0] == "First Citizen:" and text.endswith("Whiles thou art waking.\n")
    chars, char_to_id = tinyshakespeare.char_vocab(text)
    assert len(chars) == len(char_to_id) == 65
    assert chars[:2] == ["\n", " "] and "".join(chars[-26:]) == "abcdefghijklmnopqrstuvwxyz"
    with open(path, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == tinyshakespeare.SHA256[FILE]


def test_real_round_trip_split_and_batches(real):
    text = real[1]
    chars, char_to_id = tinyshakespeare.char_vocab(text)
    ids = tinyshakespeare.encode(text, char_to_id)
    assert ids.dtype == np.int32 and ids.shape == (1115394,) and ids.min() == 0 and ids.max() == 64
    assert ids[:6].tolist() == [char_to_id[c] for c in "First "]
    assert tinyshakespeare.decode(ids, chars) == text
    train, valid = tinyshakespeare.split(ids)
    assert (len(train), len(valid)) == (1003854, 111540)  # nanoGPT's int(n * 0.9)
    np.testing.assert_array_equal(np.concatenate([train, valid]), ids)
    x, y = next(tinyshakespeare.batches(train, 32, 64))
    assert x.shape == y.shape == (32, 64) and x.dtype == np.int32
    assert tinyshakespeare.decode(x[0], chars) == text[:64]


# ---------------------------------------------------------------------------------------------------
# Synthetic text


def test_vocabulary_encode_decode():
    chars, char_to_id = tinyshakespeare.char_vocab("baca\n b")
    assert chars == ["\n", " ", "a", "b", "c"] and char_to_id == {"\n": 0, " ": 1, "a": 2, "b": 3, "c": 4}
    ids = tinyshakespeare.encode("cab \n", char_to_id)
    assert ids.dtype == np.int32 and ids.tolist() == [4, 2, 3, 1, 0]
    assert tinyshakespeare.decode(ids, chars) == tinyshakespeare.decode([4, 2, 3, 1, 0], chars) == "cab \n"
    assert tinyshakespeare.encode("", char_to_id).shape == (0,) and tinyshakespeare.decode([], chars) == ""
    assert tinyshakespeare.char_vocab("") == ([], {})
    chars, char_to_id = tinyshakespeare.char_vocab("é€😀a")
    assert tinyshakespeare.decode(tinyshakespeare.encode("😀aé€", char_to_id), chars) == "😀aé€"


def test_unknown_character_and_bad_ids():
    chars, char_to_id = tinyshakespeare.char_vocab("abc")
    with pytest.raises(ValueError, match=r"character 'z' at index 2 is not in the vocabulary \(2 unknown"):
        tinyshakespeare.encode("abzcz", char_to_id)
    with pytest.raises(ValueError, match=r"character '€' at index 0"):
        tinyshakespeare.encode("€", char_to_id)
    with pytest.raises(ValueError, match=r"id 3 at index 1 is outside \[0, 3\)"):
        tinyshakespeare.decode([0, 3], chars)
    with pytest.raises(ValueError, match=r"id -1 at index 0"):
        tinyshakespeare.decode([-1], chars)
    with pytest.raises(ValueError, match="1-D sequence of integers"):
        tinyshakespeare.decode([0.5], chars)
    with pytest.raises(ValueError, match="want one character"):
        tinyshakespeare.encode("ab", {"ab": 0})


def test_split_and_batches():
    train, valid = tinyshakespeare.split(list(range(10)))
    assert train.tolist() == list(range(9)) and valid.tolist() == [9]
    for fraction, n_train in ((0.0, 10), (0.3, 7), (0.7, 3), (0.9, 1), (1.0, 0), (0.25, 7)):
        assert len(tinyshakespeare.split(np.arange(10), fraction)[0]) == n_train
    for fraction in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="valid_fraction must be in"):
            tinyshakespeare.split([1, 2], fraction)
    ids = np.arange(100, dtype=np.int32)
    got, want = list(tinyshakespeare.batches(ids, 3, 4)), list(ptb.ptb_iterator(ids, 3, 4))
    assert len(got) == len(want) == 8
    for (gx, gy), (wx, wy) in zip(got, want):
        np.testing.assert_array_equal(gx, wx)
        np.testing.assert_array_equal(gy, wy)
    with pytest.raises(ValueError, match="epoch_size == 0"):
        next(tinyshakespeare.batches(ids[:5], 3, 4))


# ---------------------------------------------------------------------------------------------------
# Lookup, download, checksums


def test_lookup_order(isolated, monkeypatch):
    env_root = isolated / "data"
    write_text(env_root / "tinyshakespeare", "env\n")
    write_text(isolated / "home" / ".cache" / "labflow" / "tinyshakespeare", "cache\n", gz=True)
    given = isolated / "given"
    monkeypatch.setenv("LABFLOW_DATA", str(env_root))
    assert tinyshakespeare.load(str(given)) == "env\n"  # data_path lacks the file: $LABFLOW_DATA/...
    monkeypatch.delenv("LABFLOW_DATA")
    assert tinyshakespeare.load(given) == "cache\n"  # then the cache (gzipped is fine)
    assert tinyshakespeare.text_file().endswith(FILE + ".gz")
    write_text(given)
    assert tinyshakespeare.load(given) == TEXT  # data_path wins
    assert tinyshakespeare.text_file(given) == os.path.join(given, FILE)


def test_not_utf8_is_a_clear_error(isolated):
    d = isolated / "bad"
    d.mkdir()
    (d / FILE).write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CorruptDatasetError, match=r"input\.txt is not UTF-8 text"):
        tinyshakespeare.load(d)


def test_offline_error_says_where_to_put_the_file(isolated, monkeypatch):
    monkeypatch.setenv("LABFLOW_DATA", str(isolated / "data"))
    given = isolated / "given"
    with pytest.raises(DatasetNotFoundError) as info:
        tinyshakespeare.load(str(given))
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, tf.errors.NotFoundError)
    for text in (FILE, "$LABFLOW_DATA/tinyshakespeare", "~/.cache/labflow/tinyshakespeare", str(given),
                 str(isolated / "data" / "tinyshakespeare"), "network is unreachable (test)", URL):
        assert text in msg
    assert not any(p.name.endswith(".part") for p in given.iterdir())
    monkeypatch.delenv("LABFLOW_DATA")
    with pytest.raises(DatasetNotFoundError, match=r"\$LABFLOW_DATA is not set"):
        tinyshakespeare.load()


def test_download_into_data_path_or_cache(isolated, monkeypatch):
    monkeypatch.setattr(tinyshakespeare, "SHA256", {FILE: hashlib.sha256(TEXT.encode()).hexdigest()})
    asked = serve(monkeypatch, {URL: TEXT.encode()})
    given = isolated / "given"
    assert tinyshakespeare.load(given) == TEXT
    assert asked == [URL] and os.listdir(given) == [FILE]
    assert tinyshakespeare.load() == TEXT
    assert os.listdir(isolated / "home" / ".cache" / "labflow" / "tinyshakespeare") == [FILE]
    assert tinyshakespeare.load(given) == TEXT and len(asked) == 2  # found on disk: not downloaded again


def test_checksum_mismatch_download_is_rejected(isolated, monkeypatch):
    monkeypatch.setattr(tinyshakespeare, "SHA256", {FILE: "0" * 64})
    serve(monkeypatch, {URL: TEXT.encode()})
    given = isolated / "given"
    with pytest.raises(CorruptDatasetError, match=r"(?s)input\.txt failed verification.*expected 0{64}"):
        tinyshakespeare.text_file(str(given))
    assert os.listdir(given) == []  # no bad file, no temp files
