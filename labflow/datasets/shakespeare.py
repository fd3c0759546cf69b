"""Tiny Shakespeare (Karpathy's char-rnn corpus), read as characters for character-level models.

`load()` returns the whole text (1,115,394 characters of ASCII, 65 distinct ones); `char_vocab`,
`encode` and `decode` map it to and from int32 ids, `split` keeps the last 10% for validation (the
usual convention, e.g. nanoGPT's), and `batches` is PTB's `ptb_iterator` over those ids.

Where `input.txt` (plain or gzipped) comes from:

1. `data_path`, when it holds it;
2. `$LABFLOW_DATA/tinyshakespeare`;
3. `~/.cache/labflow/tinyshakespeare`.

Else it is downloaded into `data_path` (or the cache folder) from `MIRRORS`, checked against
`SHA256` and written atomically; offline, `DatasetNotFoundError` says where to put it. A file found
on disk is not checksummed on every read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from fractions import Fraction

import numpy as np

from labflow.datasets._download import (
    CorruptDatasetError,
    DatasetNotFoundError,
    DownloadError,
    cache_dir,
    download,
    locate,
    read_file_bytes,
    search_dirs,
)
from labflow.datasets.ptb import ptb_iterator

__all__ = [
    "MIRRORS", "FILE", "SHA256", "CorruptDatasetError", "DatasetNotFoundError", "text_file", "load",
    "char_vocab", "encode", "decode", "split", "batches",
]

DATASET = "tinyshakespeare"
MIRRORS = ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/",)
FILE = "input.txt"
# Looked up at call time, so tests may replace entries.
SHA256 = {"input.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"}


def _searched(dirs: list[str]) -> str:
    lines = []
    for d in dirs:
        state = "no such folder" if not os.path.isdir(d) else f"no {FILE}"
        lines.append(f"  {d} ({state})")
    if "LABFLOW_DATA" not in os.environ:
        lines.append(f"  ($LABFLOW_DATA is not set, so $LABFLOW_DATA/{DATASET} was not searched)")
    return "\n".join(lines)


def text_file(data_path: str | os.PathLike | None = None) -> str:
    """Finds `input.txt`, downloading it when no searched folder has it.

    Args:
        data_path: the folder searched first, and where the file is downloaded (None:
            `~/.cache/labflow/tinyshakespeare`). See the module docstring for the lookup order.

    Returns:
        The path of `input.txt` (or `input.txt.gz`).

    Raises:
        DatasetNotFoundError: the file is in no searched folder and could not be downloaded.
        CorruptDatasetError: a mirror served a file with the wrong checksum.
    """
    first = os.fspath(data_path) if data_path else None
    dirs = search_dirs(DATASET, first)
    found = locate([FILE], dirs)
    if found is not None:
        return found[FILE]
    dest = first or cache_dir(DATASET)
    try:
        return download(FILE, [m + FILE for m in MIRRORS], dest, sha256=SHA256.get(FILE))
    except DownloadError as e:
        raise DatasetNotFoundError(
            "Tiny Shakespeare data not found, and downloading it failed.\n"
            f"Needed file: {FILE} (plain or gzipped with a .gz suffix).\n"
            f"Folders searched, in order:\n{_searched(dirs)}\n"
            f"Download into {dest} failed: {e}\n"
            f"Put {FILE} in $LABFLOW_DATA/{DATASET} (and set LABFLOW_DATA), or in "
            f"~/.cache/labflow/{DATASET}, or pass its folder as data_path, and run again.") from e


def load(data_path: str | os.PathLike | None = None) -> str:
    """The whole corpus as one string (see `text_file` for where it is found).

    Raises:
        DatasetNotFoundError: the file is in no searched folder and could not be downloaded.
        CorruptDatasetError: the file is not UTF-8 text, or a download's checksum is wrong.
    """
    path = text_file(data_path)
    try:
        return read_file_bytes(path).decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorruptDatasetError(f"{path} is not UTF-8 text ({e}); is it the right file?") from None


def char_vocab(text: str) -> tuple[list[str], dict[str, int]]:
    """The vocabulary of `text`: `(chars, char_to_id)`, the distinct characters sorted by code point
    and {char: its index in chars}. The real corpus has 65: "\\n", " ", punctuation, A-Z, a-z."""
    chars = sorted(set(text))
    return chars, {c: i for i, c in enumerate(chars)}


def encode(text: str, char_to_id: dict[str, int]) -> np.ndarray:
    """The ids of the characters of `text`, an int32 array [len(text)].

    Raises:
        ValueError: a character of `text` is not in `char_to_id` (the message names it and its
            index), or `char_to_id` has a key that is not one character or an id outside int32.
    """
    size = 0
    for c, i in char_to_id.items():
        if not isinstance(c, str) or len(c) != 1 or not 0 <= i <= np.iinfo(np.int32).max:
            raise ValueError(f"char_to_id maps {c!r} to {i!r}; want one character -> an id in [0, 2**31)")
        size = max(size, ord(c) + 1)
    table = np.full(size, -1, np.int64)
    for c, i in char_to_id.items():
        table[ord(c)] = i
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    ids = np.full(len(codes), -1, np.int64)
    known = codes < size
    ids[known] = table[codes[known]]
    missing = np.flatnonzero(ids < 0)
    if missing.size:
        at = int(missing[0])
        raise ValueError(f"character {text[at]!r} at index {at} is not in the vocabulary "
                         f"({missing.size} unknown character(s) in all)")
    return ids.astype(np.int32)


def decode(ids: Sequence[int] | np.ndarray, chars: Sequence[str]) -> str:
    """The text of `ids` (a 1-D sequence of ids into `chars`): the inverse of `encode`.

    Raises:
        ValueError: `ids` is not 1-D integers, or an id is outside [0, len(chars)).
    """
    arr = np.asarray(ids)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"ids must be a 1-D sequence of integers, got shape {arr.shape} dtype {arr.dtype}")
    bad = np.flatnonzero((arr < 0) | (arr >= len(chars)))
    if bad.size:
        raise ValueError(f"id {int(arr[bad[0]])} at index {int(bad[0])} is outside [0, {len(chars)})")
    return "".join(map(list(chars).__getitem__, arr.tolist()))


def split(ids: Sequence[int] | np.ndarray, valid_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Splits `ids` into `(train_ids, valid_ids)`: the last `valid_fraction` of them is validation.

    The train part is the first floor(len(ids) * (1 - valid_fraction)) ids, as nanoGPT splits it,
    with `valid_fraction` taken as the decimal it is written as (0.1 is exactly a tenth): the real
    corpus gives 1,003,854 and 111,540 ids.

    Raises:
        ValueError: `valid_fraction` is not in [0, 1].
    """
    if not 0 <= valid_fraction <= 1:
        raise ValueError(f"valid_fraction must be in [0, 1], got {valid_fraction!r}")
    arr = np.asarray(ids)
    n_train = int(len(arr) * (1 - Fraction(str(float(valid_fraction)))))
    return arr[:n_train], arr[n_train:]


def batches(ids: Sequence[int] | np.ndarray, batch_size: int,
            seq_len: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Language-model batches of `ids`: `labflow.datasets.ptb.ptb_iterator(ids, batch_size, seq_len)`.

    Yields:
        `(x, y)`, int32 arrays [batch_size, seq_len], y being x shifted one character to the left;
        each row continues the same row of the previous batch.

    Raises:
        ValueError: (on the first `next`) too few ids for one batch.
    """
    return ptb_iterator(ids, batch_size, seq_len)
