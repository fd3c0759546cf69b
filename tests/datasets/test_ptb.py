"""labflow.datasets.ptb: TF 1.x's PTB reader (ptb_raw_data, ptb_iterator), file lookup, download and bad files."""

from __future__ import annotations

import gzip
import hashlib
import os

import numpy as np
import pytest
from fake_http import no_network, serve

import labflow as tf
from labflow.datasets import _download, ptb
from labflow.datasets.ptb import CorruptDatasetError, DatasetNotFoundError

FILES = ptb.FILES

# A tiny corpus in the real files' layout (a space at both ends of each line).
TRAIN = " b a c a \n b a <unk> \n"
VALID = " a zebra b \n"
TEST = " c \n"


def write_corpus(d, train=TRAIN, valid=VALID, test=TEST, gz=False) -> str:
    os.makedirs(d, exist_ok=True)
    for name, text in zip(FILES, (train, valid, test)):
        data = text.encode()
        with open(os.path.join(d, name + (".gz" if gz else "")), "wb") as f:
            f.write(gzip.compress(data) if gz else data)
    return str(d)


@pytest.fixture(scope="module")
def real():
    """(ptb folder, ptb_raw_data of it), read once for the module (~1 s)."""
    root = os.environ.get("LABFLOW_DATA")
    d = os.path.join(root, "ptb") if root else None
    if not d or not os.path.isdir(d):
        pytest.skip("PTB files not found: set LABFLOW_DATA to a folder with ptb/ (see README)")
    with pytest.MonkeyPatch.context() as mp:  # an incomplete folder must fail here, not download
        mp.setattr(_download, "_urlopen", no_network)
        return d, ptb.ptb_raw_data(d)


# ---------------------------------------------------------------------------------------------------
# Real PTB (skipped without $LABFLOW_DATA/ptb)


def test_real_counts_vocabulary_and_first_ids(real):
    d, (train, valid, test, vocabulary) = real
    assert vocabulary == 10000
    assert (len(train), len(valid), len(test)) == (929589, 73760, 82430)
    assert train[:10] == [9970, 9971, 9972, 9974, 9975, 9976, 9980, 9981, 9982, 9983]  # TF tutorial's
    assert valid[:5] == [1132, 93, 358, 5, 329] and test[:5] == [102, 14, 24, 32, 752]
    assert all(isinstance(i, int) for i in train[:100]) and 0 <= min(train) and max(train) == 9999
    word_to_id = ptb.build_vocab(os.path.join(d, "ptb.train.txt"))
    words = ptb.id_to_word(word_to_id)
    assert words[:4] == ["the", "<unk>", "<eos>", "N"]
    assert train.count(word_to_id["<eos>"]) == 42068  # one per line
    assert " ".join(words[i] for i in train[:3]) == "aer banknote berlitz"
    assert set(ptb.verify(d)) == set(FILES)  # the SHA256 table matches the shared files


def test_real_iterator_over_first_10k_ids(real):
    raw = real[1][0][:10000]
    batch_size, num_steps = 20, 35
    n = ptb.epoch_size(len(raw), batch_size, num_steps)
    assert n == ((10000 // 20) - 1) // 35 == 14
    batches = list(ptb.ptb_iterator(raw, batch_size, num_steps))
    assert len(batches) == n
    rows = np.asarray(raw, np.int32).reshape(batch_size, 500)
    for i, (x, y) in enumerate(batches):
        assert x.shape == y.shape == (batch_size, num_steps) and x.dtype == y.dtype == np.int32
        np.testing.assert_array_equal(x, rows[:, i * num_steps:(i + 1) * num_steps])
        np.testing.assert_array_equal(y, rows[:, i * num_steps + 1:(i + 1) * num_steps + 1])
        np.testing.assert_array_equal(y[:, :-1], x[:, 1:])


# ---------------------------------------------------------------------------------------------------
# Synthetic corpus


def test_vocabulary_order_and_ids(isolated):
    d = write_corpus(isolated / "ptb")
    word_to_id = ptb.build_vocab(os.path.join(d, "ptb.train.txt"))
    # a x3, then <eos> and b x2 (tie broken by the word: "<" sorts before "b"), then c and <unk>.
    assert word_to_id == {"a": 0, "<eos>": 1, "b": 2, "<unk>": 3, "c": 4}
    assert ptb.id_to_word(word_to_id) == ["a", "<eos>", "b", "<unk>", "c"]
    train, valid, test, vocabulary = ptb.ptb_raw_data(d)
    assert vocabulary == 5
    assert train == [2, 0, 4, 0, 1, 2, 0, 3, 1]
    assert valid == [0, 3, 2, 1]  # "zebra" is not in train: the id of <unk>
    assert test == [4, 1]
    assert ptb.file_to_word_ids(os.path.join(d, "ptb.test.txt"), word_to_id) == test


def test_unknown_word_without_unk_is_a_clear_error(isolated):
    d = write_corpus(isolated / "ptb", train=" b a c a \n")
    with pytest.raises(ValueError, match=r"word 'zebra' in .*ptb\.valid\.txt is not in the vocabulary"):
        ptb.ptb_raw_data(d)


def test_gzipped_files_and_bad_files(isolated):
    d = write_corpus(isolated / "gz", gz=True)
    assert ptb.ptb_raw_data(d)[3] == 5
    d = write_corpus(isolated / "empty", train="  ")
    with pytest.raises(CorruptDatasetError, match=r"ptb\.train\.txt holds no words"):
        ptb.ptb_raw_data(d)
    d = write_corpus(isolated / "binary")
    with open(os.path.join(d, "ptb.test.txt"), "wb") as f:
        f.write(b"\xff\xfe\x00")
    with pytest.raises(CorruptDatasetError, match=r"ptb\.test\.txt is not UTF-8 text"):
        ptb.ptb_raw_data(d)


def test_iterator_small_and_errors():
    batches = list(ptb.ptb_iterator(list(range(10)), 2, 2))
    assert len(batches) == ptb.epoch_size(10, 2, 2) == 2  # rows [0..4] and [5..9]
    np.testing.assert_array_equal(batches[0][0], [[0, 1], [5, 6]])
    np.testing.assert_array_equal(batches[0][1], [[1, 2], [6, 7]])
    np.testing.assert_array_equal(batches[1][1], [[3, 4], [8, 9]])
    for raw, b, s in ((range(10), 2, 5), (range(10), 5, 2), (range(3), 5, 1), ([], 1, 1)):
        with pytest.raises(ValueError, match=r"^epoch_size == 0, decrease batch_size or num_steps$"):
            next(ptb.ptb_iterator(list(raw), b, s))
    assert ptb.epoch_size(3, 5, 1) == 0
    with pytest.raises(ValueError, match="must be >= 1"):
        ptb.epoch_size(10, 0, 1)


# ---------------------------------------------------------------------------------------------------
# Lookup, download, checksums


def test_lookup_order(isolated, monkeypatch):
    env_root = isolated / "data"
    write_corpus(env_root / "ptb", test=" c c \n")
    write_corpus(isolated / "home" / ".cache" / "labflow" / "ptb", test=" c c c \n")
    given = isolated / "given"
    monkeypatch.setenv("LABFLOW_DATA", str(env_root))
    assert len(ptb.ptb_raw_data(str(given))[2]) == 3  # data_path lacks the files: $LABFLOW_DATA/ptb
    monkeypatch.delenv("LABFLOW_DATA")
    assert len(ptb.ptb_raw_data(str(given))[2]) == 4  # then the cache
    write_corpus(given)
    assert len(ptb.ptb_raw_data(str(given))[2]) == 2  # data_path with all three wins
    assert ptb.ptb_files(given) == {s: os.path.join(given, f"ptb.{s}.txt") for s in ("train", "valid", "test")}


def test_offline_error_says_where_to_put_the_files(isolated, monkeypatch):
    monkeypatch.setenv("LABFLOW_DATA", str(isolated / "data"))
    given = isolated / "given"
    with pytest.raises(DatasetNotFoundError) as info:
        ptb.ptb_raw_data(str(given))
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, tf.errors.NotFoundError)
    for text in FILES + ("$LABFLOW_DATA/ptb", "~/.cache/labflow/ptb", str(given), str(isolated / "data" / "ptb"),
                         "network is unreachable (test)", ptb.MIRRORS[0] + "ptb.train.txt"):
        assert text in msg
    assert not any(p.name.endswith(".part") for p in given.iterdir())


def corpus_bytes() -> dict[str, bytes]:
    return {n: t.encode() for n, t in zip(FILES, (TRAIN, VALID, TEST))}


def test_download_verifies_and_fills_in_missing_files(isolated, monkeypatch):
    files = corpus_bytes()
    monkeypatch.setattr(ptb, "SHA256", {n: hashlib.sha256(b).hexdigest() for n, b in files.items()})
    dest = isolated / "home" / ".cache" / "labflow" / "ptb"
    write_corpus(dest)
    os.remove(dest / "ptb.valid.txt")
    # The first mirror is down; the second serves the one missing file into the default folder.
    asked = serve(monkeypatch, {ptb.MIRRORS[1] + n: b for n, b in files.items()})
    assert ptb.ptb_raw_data()[1] == [0, 3, 2, 1]
    assert asked == [m + "ptb.valid.txt" for m in ptb.MIRRORS]
    assert sorted(os.listdir(dest)) == sorted(FILES)
    assert set(ptb.verify()) == set(FILES)


def test_checksum_mismatch(isolated, monkeypatch):
    files = corpus_bytes()
    sums = {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}
    monkeypatch.setattr(ptb, "SHA256", dict(sums, **{"ptb.test.txt": "0" * 64}))
    serve(monkeypatch, {m + n: b for m in ptb.MIRRORS for n, b in files.items()})
    given = isolated / "given"
    with pytest.raises(CorruptDatasetError, match=r"(?s)ptb\.test\.txt failed verification.*expected 0{64}"):
        ptb.ptb_raw_data(str(given))
    assert sorted(os.listdir(given)) == ["ptb.train.txt", "ptb.valid.txt"]  # no bad file, no temp files
    # verify() checks files already on disk (reading them does not).
    write_corpus(given)
    with pytest.raises(CorruptDatasetError, match=r"checksum mismatch for .*ptb\.test\.txt"):
        ptb.verify(given)
    with pytest.raises(DatasetNotFoundError, match="Penn Treebank data not found"):
        ptb.verify(isolated / "nowhere")


def test_ptb_producer_yields_the_iterator_batches_in_order():
    import labflow as tf
    raw = list(range(100))
    want = list(ptb.ptb_iterator(raw, 3, 4))
    x, y = ptb.ptb_producer(raw, 3, 4)
    assert x.get_shape().as_list() == [3, 4] and y.get_shape().as_list() == [3, 4]
    with tf.Session() as s:
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(s, coord=coord)
        try:
            for wx, wy in want + want[:2]:  # the queue goes on to the next epoch
                gx, gy = s.run([x, y])
                np.testing.assert_array_equal(gx, wx)
                np.testing.assert_array_equal(gy, wy)
        finally:
            coord.request_stop()
            s.close()
            coord.join(threads, stop_grace_period_secs=5)


def test_ptb_producer_without_a_whole_batch_says_why():
    import labflow as tf
    x, _ = ptb.ptb_producer(list(range(5)), 3, 4)
    with tf.Session() as s:
        coord = tf.train.Coordinator()
        threads = tf.train.start_queue_runners(s, coord=coord)
        # The queue runner fails and closes the queue (the step fails); the coordinator re-raises its error.
        with pytest.raises(tf.errors.InvalidArgumentError, match="epoch_size == 0, decrease batch_size"):
            try:
                s.run(x)
            except tf.errors.OpError:
                pass
            finally:
                coord.request_stop()
                coord.join(threads, stop_grace_period_secs=5)
