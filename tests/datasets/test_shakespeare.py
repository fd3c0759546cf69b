"""labflow.datasets.shakespeare: the char-rnn corpus as characters, file lookup, download and bad files."""

from __future__ import annotations

import gzip
import hashlib
import os

import numpy as np
import pytest
from fake_http import no_network, serve

import labflow as tf
from labflow.datasets import _download, ptb, shakespeare
from labflow.datasets.shakespeare import FILE, CorruptDatasetError, DatasetNotFoundError

TEXT = "ALPHA:\nA made-up play, two lines long.\n\nBETA:\nEnough.\n"
URL = shakespeare.MIRRORS[0] + FILE


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
        return shakespeare.text_file(d), shakespeare.load(d)


# ---------------------------------------------------------------------------------------------------
# Real corpus (skipped without $LABFLOW_DATA/tinyshakespeare/input.txt)


def test_real_text_vocabulary_and_checksum(real):
    path, text = real
    assert len(text) == 1115394
    assert text.splitlines()[0] == "First Citizen:" and text.endswith("Whiles thou art waking.\n")
    chars, char_to_id = shakespeare.char_vocab(text)
    assert len(chars) == len(char_to_id) == 65
    assert chars[:2] == ["\n", " "] and "".join(chars[-26:]) == "abcdefghijklmnopqrstuvwxyz"
    with open(path, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == shakespeare.SHA256[FILE]


def test_real_round_trip_split_and_batches(real):
    text = real[1]
    chars, char_to_id = shakespeare.char_vocab(text)
    ids = shakespeare.encode(text, char_to_id)
    assert ids.dtype == np.int32 and ids.shape == (1115394,) and ids.min() == 0 and ids.max() == 64
    assert ids[:6].tolist() == [char_to_id[c] for c in "First "]
    assert shakespeare.decode(ids, chars) == text
    train, valid = shakespeare.split(ids)
    assert (len(train), len(valid)) == (1003854, 111540)  # nanoGPT's int(n * 0.9)
    np.testing.assert_array_equal(np.concatenate([train, valid]), ids)
    x, y = next(shakespeare.batches(train, 32, 64))
    assert x.shape == y.shape == (32, 64) and x.dtype == np.int32
    assert shakespeare.decode(x[0], chars) == text[:64]


# ---------------------------------------------------------------------------------------------------
# Synthetic text


def test_vocabulary_encode_decode():
    chars, char_to_id = shakespeare.char_vocab("baca\n b")
    assert chars == ["\n", " ", "a", "b", "c"] and char_to_id == {"\n": 0, " ": 1, "a": 2, "b": 3, "c": 4}
    ids = shakespeare.encode("cab \n", char_to_id)
    assert ids.dtype == np.int32 and ids.tolist() == [4, 2, 3, 1, 0]
    assert shakespeare.decode(ids, chars) == shakespeare.decode([4, 2, 3, 1, 0], chars) == "cab \n"
    assert shakespeare.encode("", char_to_id).shape == (0,) and shakespeare.decode([], chars) == ""
    assert shakespeare.char_vocab("") == ([], {})
    chars, char_to_id = shakespeare.char_vocab("é€😀a")
    assert shakespeare.decode(shakespeare.encode("😀aé€", char_to_id), chars) == "😀aé€"


def test_unknown_character_and_bad_ids():
    chars, char_to_id = shakespeare.char_vocab("abc")
    with pytest.raises(ValueError, match=r"character 'z' at index 2 is not in the vocabulary \(2 unknown"):
        shakespeare.encode("abzcz", char_to_id)
    with pytest.raises(ValueError, match=r"character '€' at index 0"):
        shakespeare.encode("€", char_to_id)
    with pytest.raises(ValueError, match=r"id 3 at index 1 is outside \[0, 3\)"):
        shakespeare.decode([0, 3], chars)
    with pytest.raises(ValueError, match=r"id -1 at index 0"):
        shakespeare.decode([-1], chars)
    with pytest.raises(ValueError, match="1-D sequence of integers"):
        shakespeare.decode([0.5], chars)
    with pytest.raises(ValueError, match="want one character"):
        shakespeare.encode("ab", {"ab": 0})


def test_split_and_batches():
    train, valid = shakespeare.split(list(range(10)))
    assert train.tolist() == list(range(9)) and valid.tolist() == [9]
    for fraction, n_train in ((0.0, 10), (0.3, 7), (0.7, 3), (0.9, 1), (1.0, 0), (0.25, 7)):
        assert len(shakespeare.split(np.arange(10), fraction)[0]) == n_train
    for fraction in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="valid_fraction must be in"):
            shakespeare.split([1, 2], fraction)
    ids = np.arange(100, dtype=np.int32)
    got, want = list(shakespeare.batches(ids, 3, 4)), list(ptb.ptb_iterator(ids, 3, 4))
    assert len(got) == len(want) == 8
    for (gx, gy), (wx, wy) in zip(got, want):
        np.testing.assert_array_equal(gx, wx)
        np.testing.assert_array_equal(gy, wy)
    with pytest.raises(ValueError, match="epoch_size == 0"):
        next(shakespeare.batches(ids[:5], 3, 4))


# ---------------------------------------------------------------------------------------------------
# Lookup, download, checksums


def test_lookup_order(isolated, monkeypatch):
    env_root = isolated / "data"
    write_text(env_root / "tinyshakespeare", "env\n")
    write_text(isolated / "home" / ".cache" / "labflow" / "tinyshakespeare", "cache\n", gz=True)
    given = isolated / "given"
    monkeypatch.setenv("LABFLOW_DATA", str(env_root))
    assert shakespeare.load(str(given)) == "env\n"  # data_path lacks the file: $LABFLOW_DATA/...
    monkeypatch.delenv("LABFLOW_DATA")
    assert shakespeare.load(given) == "cache\n"  # then the cache (gzipped is fine)
    assert shakespeare.text_file().endswith(FILE + ".gz")
    write_text(given)
    assert shakespeare.load(given) == TEXT  # data_path wins
    assert shakespeare.text_file(given) == os.path.join(given, FILE)


def test_not_utf8_is_a_clear_error(isolated):
    d = isolated / "bad"
    d.mkdir()
    (d / FILE).write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CorruptDatasetError, match=r"input\.txt is not UTF-8 text"):
        shakespeare.load(d)


def test_offline_error_says_where_to_put_the_file(isolated, monkeypatch):
    monkeypatch.setenv("LABFLOW_DATA", str(isolated / "data"))
    given = isolated / "given"
    with pytest.raises(DatasetNotFoundError) as info:
        shakespeare.load(str(given))
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, tf.errors.NotFoundError)
    for text in (FILE, "$LABFLOW_DATA/tinyshakespeare", "~/.cache/labflow/tinyshakespeare", str(given),
                 str(isolated / "data" / "tinyshakespeare"), "network is unreachable (test)", URL):
        assert text in msg
    assert not any(p.name.endswith(".part") for p in given.iterdir())
    monkeypatch.delenv("LABFLOW_DATA")
    with pytest.raises(DatasetNotFoundError, match=r"\$LABFLOW_DATA is not set"):
        shakespeare.load()


def test_download_into_data_path_or_cache(isolated, monkeypatch):
    monkeypatch.setattr(shakespeare, "SHA256", {FILE: hashlib.sha256(TEXT.encode()).hexdigest()})
    asked = serve(monkeypatch, {URL: TEXT.encode()})
    given = isolated / "given"
    assert shakespeare.load(given) == TEXT
    assert asked == [URL] and os.listdir(given) == [FILE]
    assert shakespeare.load() == TEXT
    assert os.listdir(isolated / "home" / ".cache" / "labflow" / "tinyshakespeare") == [FILE]
    assert shakespeare.load(given) == TEXT and len(asked) == 2  # found on disk: not downloaded again


def test_checksum_mismatch_download_is_rejected(isolated, monkeypatch):
    monkeypatch.setattr(shakespeare, "SHA256", {FILE: "0" * 64})
    serve(monkeypatch, {URL: TEXT.encode()})
    given = isolated / "given"
    with pytest.raises(CorruptDatasetError, match=r"(?s)input\.txt failed verification.*expected 0{64}"):
        shakespeare.text_file(str(given))
    assert os.listdir(given) == []  # no bad file, no temp files
