"""Shared plumbing for dataset files: where to look, how to download, how to verify and read them.

Every dataset module (MNIST, the text corpora) finds its files the same way:

1. the folder the caller named (e.g. `train_dir`), when it holds every file;
2. `$LABFLOW_DATA/<dataset>`;
3. `~/.cache/labflow/<dataset>`.

Each file may be stored plain or gzipped (`<name>.gz`); gzip is recognised by its magic bytes, not
by the suffix. When no folder has the files they are downloaded from a list of mirrors into the
caller's folder: the body goes to a temporary file in the same folder, is checked against the
expected sha256 of its DECOMPRESSED bytes (so re-gzipped copies of the same data are accepted), is
fsync'ed, and only then renamed onto the final name with `os.replace`, so a crash or a bad mirror
never leaves a half-written file under the real name.

Errors:
    DatasetNotFoundError: the files are in no folder and could not be downloaded. It is both a
        `labflow.errors.NotFoundError` and a builtin `FileNotFoundError` (so an `OSError`).
    CorruptDatasetError: a file exists but is unusable (truncated, bad header, not gzip, checksum
        mismatch). It is both a `labflow.errors.DataLossError` (an `OSError`) and a `ValueError`,
        the type TF's MNIST reader raised for a bad magic number.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Sequence

from labflow import errors
from labflow.fileio import fsync_dir

__all__ = [
    "DatasetNotFoundError",
    "CorruptDatasetError",
    "DownloadError",
    "cache_dir",
    "search_dirs",
    "find_file",
    "locate",
    "read_file_bytes",
    "maybe_decompress",
    "sha256_hex",
    "download",
]

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
# Seconds a mirror may stay silent before we give up on it (no network: fail fast, don't hang).
DOWNLOAD_TIMEOUT = 30.0


class DatasetNotFoundError(errors.NotFoundError, FileNotFoundError):
    """Dataset files are in none of the searched folders and could not be downloaded."""

    def __init__(self, message: str):
        errors.NotFoundError.__init__(self, None, None, message)

    def __reduce__(self):
        return type(self), (self.message,)


class CorruptDatasetError(errors.DataLossError, ValueError):
    """A dataset file exists but is unusable: truncated, bad header, bad gzip or wrong checksum."""

    def __init__(self, message: str):
        errors.DataLossError.__init__(self, None, None, message)

    def __reduce__(self):
        return type(self), (self.message,)


class DownloadError(OSError):
    """Every mirror failed for one file; `failures` lists `(url, reason)` for each try."""

    def __init__(self, filename: str, failures: Sequence[tuple[str, str]]):
        self.filename_wanted = filename
        self.failures = list(failures)
        lines = "\n".join(f"    {url}: {why}" for url, why in self.failures)
        super().__init__(f"could not download {filename}:\n{lines}")


def cache_dir(dataset: str) -> str:
    """The per-user cache folder of a dataset: `~/.cache/labflow/<dataset>`."""
    return os.path.join(os.path.expanduser("~"), ".cache", "labflow", dataset)


def search_dirs(dataset: str, first: str | None = None) -> list[str]:
    """The folders searched for a dataset's files, in order (see the module docstring).

    Args:
        dataset: the dataset's folder name, e.g. "mnist".
        first: the caller's folder, searched first; None or "" to skip it.
    """
    dirs = []
    if first:
        dirs.append(os.fspath(first))
    root = os.environ.get("LABFLOW_DATA")
    if root:
        dirs.append(os.path.join(root, dataset))
    dirs.append(cache_dir(dataset))
    seen: set[str] = set()
    out = []
    for d in dirs:
        key = os.path.abspath(d)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def find_file(directory: str, name: str) -> str | None:
    """Returns the path of `name` or `name.gz` in `directory` (plain preferred: no inflate), or None."""
    for candidate in (name, name + ".gz"):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    return None


def locate(names: Iterable[str], dirs: Iterable[str]) -> dict[str, str] | None:
    """Returns {name: path} from the first folder of `dirs` holding every one of `names`, else None."""
    names = list(names)
    for d in dirs:
        if not os.path.isdir(d):
            continue
        found = {n: find_file(d, n) for n in names}
        if all(found.values()):
            return found  # type: ignore[return-value]
    return None


def maybe_decompress(data: bytes, path: str) -> bytes:
    """Inflates `data` when it starts with the gzip magic, else returns it unchanged.

    Raises:
        CorruptDatasetError: the gzip stream is truncated or damaged.
    """
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as e:
        raise CorruptDatasetError(
            f"{path} is not a valid gzip file (truncated or damaged: {e}). "
            "Delete it and download it again, or replace it with a good copy.") from None


def read_file_bytes(path: str) -> bytes:
    """Reads a whole file, inflating it when gzipped (see `maybe_decompress`)."""
    with open(path, "rb") as f:
        raw = f.read()
    return maybe_decompress(raw, path)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _urlopen(url: str, timeout: float):
    """The opener `download` uses; tests replace it (module attribute) with a fake."""
    return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - https mirrors only


def _fetch_to(url: str, fileobj) -> None:
    with _urlopen(url, DOWNLOAD_TIMEOUT) as resp:
        shutil.copyfileobj(resp, fileobj, _CHUNK)


def download(filename: str, urls: Sequence[str], dest_dir: str, sha256: str | None = None,
             log: Callable[[str], None] | None = print) -> str:
    """Downloads `filename` from the first working URL of `urls` into `dest_dir`, atomically.

    Args:
        filename: the name to save as in `dest_dir` (e.g. "train-images-idx3-ubyte.gz").
        urls: full URLs to try, in order.
        dest_dir: the folder to save into; created when missing.
        sha256: the expected sha256 hex digest of the DECOMPRESSED content (gzip bodies are
            inflated before hashing); None skips the check.
        log: where the one "Successfully downloaded" line goes (None: nowhere).

    Returns:
        The path of the saved file.

    Raises:
        CorruptDatasetError: at least one mirror served data with the wrong checksum and none
            served good data.
        DownloadError: every mirror failed to serve the file (network errors).
    """
    os.makedirs(dest_dir, exist_ok=True)
    target = os.path.join(dest_dir, filename)
    failures: list[tuple[str, str]] = []
    bad_checksum = False
    for url in urls:
        fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=dest_dir)
        try:
            with os.fdopen(fd, "wb") as f:
                try:
                    _fetch_to(url, f)
                except (OSError, http.client.HTTPException, ValueError) as e:
                    failures.append((url, _describe(e)))
                    continue
                f.flush()
                os.fsync(f.fileno())
            if sha256 is not None:
                try:
                    got = sha256_hex(read_file_bytes(tmp))
                except CorruptDatasetError as e:
                    failures.append((url, f"bad gzip data ({e.message})"))
                    bad_checksum = True
                    continue
                if got != sha256:
                    failures.append((url, f"checksum mismatch: sha256 of the decompressed bytes is {got}, "
                                          f"expected {sha256}"))
                    bad_checksum = True
                    continue
            os.replace(tmp, target)
            tmp = None
            fsync_dir(dest_dir)
            if log is not None:
                log(f"Successfully downloaded {filename} {os.path.getsize(target)} bytes.")
            return target
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.remove(tmp)
    if bad_checksum:
        lines = "\n".join(f"    {url}: {why}" for url, why in failures)
        raise CorruptDatasetError(f"downloaded {filename} failed verification; nothing was saved:\n{lines}")
    raise DownloadError(filename, failures)


def _describe(e: BaseException) -> str:
    if isinstance(e, urllib.error.HTTPError):
        return f"HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError):
        return f"{type(e).__name__}: {e.reason}"
    return f"{type(e).__name__}: {e}"
