"""MNIST, read the way TF 1.x's `tensorflow.contrib.learn.python.learn.datasets.mnist` read it.

`read_data_sets(train_dir)` returns `Datasets(train, validation, test)`, three `DataSet`s with the
semantics of TF's: images scaled to [0, 1] float32 (or left uint8 in [0, 255]), flattened to
[N, 784] by default, labels uint8 [N] or one-hot float64 [N, 10], the validation set taken from the
start of the training files, and `next_batch` that shuffles before the first epoch and at every
epoch end, gluing the tail of one epoch to the head of the next into one full batch.

Where the files come from (the four standard IDX files, each plain or gzipped):

1. `train_dir`, when it holds all four;
2. `$LABFLOW_DATA/mnist`;
3. `~/.cache/labflow/mnist`.

When none holds them, the missing ones are downloaded into `train_dir` from `source_url` and then
the other known mirrors, each verified against the sha256 of its DECOMPRESSED bytes (`SHA256`)
and written atomically. With a `source_url` that is not an MNIST mirror (e.g. Fashion-MNIST,
which uses the same file names), only `train_dir` is searched, only that URL is tried and no
checksum applies: the shared MNIST folders and checksums would be wrong for that data.

Errors (see `labflow.datasets`): `DatasetNotFoundError` (a `FileNotFoundError` and a
`labflow.errors.NotFoundError`) when the files are nowhere and the download fails, with a message
naming the files, the folders searched and where to put them; `CorruptDatasetError` (a
`ValueError`, an `OSError` and a `labflow.errors.DataLossError`) for a truncated, damaged or
mislabelled file, or a download whose checksum is wrong.

Differences from TF, all on purpose: each `DataSet` draws from its own `numpy.random.RandomState`
instead of reseeding NumPy's global generator (with a `seed`, the shuffles are the ones TF made);
plain (not gzipped) files are accepted; bad files raise `CorruptDatasetError` instead of a reshape
traceback; bad `DataSet` arguments raise ValueError instead of failing an `assert`.
"""

from __future__ import annotations

import collections
import numbers
import os
import struct
from typing import Any, BinaryIO

import numpy as np

from labflow import dtypes
from labflow.datasets._download import (
    CorruptDatasetError,
    DatasetNotFoundError,
    DownloadError,
    cache_dir,
    download,
    find_file,
    locate,
    maybe_decompress,
    read_file_bytes,
    search_dirs,
    sha256_hex,
)

__all__ = [
    "DEFAULT_SOURCE_URL",
    "MIRRORS",
    "FILES",
    "SHA256",
    "Datasets",
    "DataSet",
    "CorruptDatasetError",
    "DatasetNotFoundError",
    "read_data_sets",
    "load_mnist",
    "extract_images",
    "extract_labels",
    "dense_to_one_hot",
    "parse_images",
    "parse_labels",
    "verify",
]

# CVDF's mirror of http://yann.lecun.com/exdb/mnist/ (TF's default), then PyTorch's.
DEFAULT_SOURCE_URL = "https://storage.googleapis.com/cvdf-datasets/mnist/"
MIRRORS = (DEFAULT_SOURCE_URL, "https://ossci-datasets.s3.amazonaws.com/mnist/")

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)

# sha256 of each file's DECOMPRESSED bytes. The .gz bytes differ between mirrors (gzip header
# mtimes), the IDX payload does not. Looked up at call time, so tests may replace entries.
SHA256 = {
    TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
NUM_CLASSES = 10

Datasets = collections.namedtuple("Datasets", ["train", "validation", "test"])


# ---------------------------------------------------------------------------------------------------
# IDX parsing


def _magic_hint(magic: int) -> str:
    if magic == IMAGE_MAGIC:
        return " (that is an image file's magic: are the files swapped?)"
    if magic == LABEL_MAGIC:
        return " (that is a label file's magic: are the files swapped?)"
    if magic >> 16 == 0x1F8B:
        return " (it looks gzipped twice)"
    return " (not an IDX file)"


def parse_images(data: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parses the (already decompressed) bytes of an IDX image file.

    Args:
        data: the whole file: magic 2051, count, rows, cols (big-endian int32), then the pixels.
        name: the file's name, for error messages.

    Returns:
        A read-only uint8 array [count, rows, cols, 1], viewing `data`.

    Raises:
        CorruptDatasetError: bad magic number, or a size that does not match the header.
    """
    if len(data) < 16:
        raise CorruptDatasetError(
            f"MNIST image file {name} is truncated: {len(data)} bytes, shorter than the 16-byte IDX header.")
    magic, count, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != IMAGE_MAGIC:
        raise CorruptDatasetError(f"Invalid magic number {magic} in MNIST image file: {name}; expected "
                                  f"{IMAGE_MAGIC}{_magic_hint(magic)}.")
    n_pixels = count * rows * cols
    if len(data) != 16 + n_pixels:
        what = "truncated" if len(data) < 16 + n_pixels else "longer than its header says"
        raise CorruptDatasetError(
            f"MNIST image file {name} is {what}: its header says {count} images of {rows}x{cols} pixels "
            f"({16 + n_pixels} bytes with the header) but it holds {len(data)} bytes.")
    return np.frombuffer(data, dtype=np.uint8, count=n_pixels, offset=16).reshape(count, rows, cols, 1)


def parse_labels(data: bytes, name: str = "<bytes>", num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Parses the (already decompressed) bytes of an IDX label file.

    Args:
        data: the whole file: magic 2049, count (big-endian int32), then one uint8 label each.
        name: the file's name, for error messages.
        num_classes: labels must lie in [0, num_classes).

    Returns:
        A read-only uint8 array [count], viewing `data`.

    Raises:
        CorruptDatasetError: bad magic number, a size that does not match the header, or a label
            outside [0, num_classes).
    """
    if len(data) < 8:
        raise CorruptDatasetError(
            f"MNIST label file {name} is truncated: {len(data)} bytes, shorter than the 8-byte IDX header.")
    magic, count = struct.unpack(">II", data[:8])
    if magic != LABEL_MAGIC:
        raise CorruptDatasetError(f"Invalid magic number {magic} in MNIST label file: {name}; expected "
                                  f"{LABEL_MAGIC}{_magic_hint(magic)}.")
    if len(data) != 8 + count:
        what = "truncated" if len(data) < 8 + count else "longer than its header says"
        raise CorruptDatasetError(
            f"MNIST label file {name} is {what}: its header says {count} labels ({8 + count} bytes with "
            f"the header) but it holds {len(data)} bytes.")
    labels = np.frombuffer(data, dtype=np.uint8, count=count, offset=8)
    if count and int(labels.max()) >= num_classes:
        bad = int(np.argmax(labels >= num_classes))
        raise CorruptDatasetError(f"MNIST label file {name} holds label {int(labels[bad])} at index {bad}; "
                                  f"labels must be 0-{num_classes - 1}.")
    return labels


def dense_to_one_hot(labels_dense: np.ndarray, num_classes: int) -> np.ndarray:
    """Converts class labels [N] to one-hot rows [N, num_classes] (float64, like TF)."""
    labels_dense = np.asarray(labels_dense)
    num_labels = labels_dense.shape[0]
    one_hot = np.zeros((num_labels, num_classes))
    one_hot[np.arange(num_labels), labels_dense.ravel()] = 1
    return one_hot


def _name_of(f: Any) -> str:
    return str(getattr(f, "name", "<stream>"))


def extract_images(f: BinaryIO) -> np.ndarray:
    """Extracts the images of an open IDX image file (gzipped or not) into uint8 [N, rows, cols, 1].

    Raises:
        CorruptDatasetError (a ValueError): bad magic number (not 2051), bad size or bad gzip data.
    """
    name = _name_of(f)
    print("Extracting", name)
    return parse_images(maybe_decompress(f.read(), name), name)


def extract_labels(f: BinaryIO, one_hot: bool = False, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Extracts the labels of an open IDX label file (gzipped or not): uint8 [N], or one-hot [N, classes].

    Raises:
        CorruptDatasetError (a ValueError): bad magic number (not 2049), bad size, bad gzip data or
            a label outside [0, num_classes).
    """
    name = _name_of(f)
    print("Extracting", name)
    labels = parse_labels(maybe_decompress(f.read(), name), name, num_classes)
    return dense_to_one_hot(labels, num_classes) if one_hot else labels


# ---------------------------------------------------------------------------------------------------
# DataSet


def _rng_for(seed: int | None) -> np.random.RandomState:
    # TF seeded NumPy with the op seed, else the graph seed (tf.set_random_seed), else at random.
    if seed is None:
        from labflow.framework.graph import get_default_graph
        seed = getattr(get_default_graph(), "seed", None)
    return np.random.RandomState(None if seed is None else int(seed) % 2**32)


class DataSet:
    """Examples in memory, served in shuffled minibatches (TF 1.x `mnist.DataSet`).

    Args:
        images: uint8 [N, rows, cols, 1] (or anything NumPy can index; [N, ...] with reshape=False).
        labels: [N] or one-hot [N, classes].
        fake_data: serve constant fake examples from `next_batch(..., fake_data=True)` (10000 of them).
        one_hot: with fake_data, make the fake labels one-hot.
        dtype: `float32` to scale the images into [0, 1], `uint8` to keep them in [0, 255].
        reshape: flatten [N, rows, cols, 1] to [N, rows * cols].
        seed: seeds this set's shuffling (None: the graph seed when set, else random).

    Raises:
        TypeError: `dtype` is neither uint8 nor float32.
        ValueError: images and labels differ in count, or reshape=True with depth != 1.
    """

    def __init__(self, images: Any, labels: Any, fake_data: bool = False, one_hot: bool = False,
                 dtype: Any = dtypes.float32, reshape: bool = True, seed: int | None = None):
        self._rng = _rng_for(seed)
        dtype = dtypes.as_dtype(dtype).base_dtype
        if dtype not in (dtypes.uint8, dtypes.float32):
            raise TypeError(f"Invalid image dtype {dtype!r}, expected uint8 or float32")
        self.one_hot = one_hot
        if fake_data:
            self._num_examples = 10000
        else:
            images = np.asarray(images)
            labels = np.asarray(labels)
            if images.shape[:1] != labels.shape[:1]:
                raise ValueError(f"DataSet images and labels differ in count: images.shape: {images.shape} "
                                 f"labels.shape: {labels.shape}")
            self._num_examples = images.shape[0]
            if reshape:
                if images.ndim != 4 or images.shape[3] != 1:
                    raise ValueError(f"DataSet(reshape=True) needs images [N, rows, cols, 1]; got shape "
                                     f"{images.shape}")
                images = images.reshape(images.shape[0], images.shape[1] * images.shape[2])
            if dtype == dtypes.float32:
                # [0, 255] -> [0.0, 1.0] in one pass; TF's astype-then-multiply by 1.0 / 255.0 also
                # computed in float32, so the values are bit-identical.
                images = np.multiply(images, np.float32(1.0 / 255.0), dtype=np.float32)
        self._images = images
        self._labels = labels
        self._epochs_completed = 0
        self._index_in_epoch = 0

    @property
    def images(self) -> np.ndarray:
        return self._images

    @property
    def labels(self) -> np.ndarray:
        return self._labels

    @property
    def num_examples(self) -> int:
        return self._num_examples

    @property
    def epochs_completed(self) -> int:
        return self._epochs_completed

    def _shuffle(self) -> None:
        perm = self._rng.permutation(self._num_examples)
        self._images = self._images[perm]
        self._labels = self._labels[perm]

    def next_batch(self, batch_size: int, fake_data: bool = False, shuffle: bool = True):
        """Returns the next `batch_size` (images, labels) of this set.

        The order is shuffled before the first batch and again at the end of every epoch (unless
        `shuffle=False`). A batch that crosses an epoch end is the rest of the old epoch followed
        by the head of the new one, and `epochs_completed` counts up when that happens.

        Args:
            batch_size: examples per batch.
            fake_data: return `batch_size` constant fake examples (lists, like TF).
            shuffle: shuffle at epoch starts.

        Returns:
            (images, labels), arrays with `batch_size` rows.
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 0:
            raise ValueError(f"next_batch: batch_size must be a non-negative int, got {batch_size!r}")
        batch_size = int(batch_size)
        if fake_data:
            fake_image = [1] * 784
            fake_label = [1] + [0] * 9 if self.one_hot else 0
            return [fake_image for _ in range(batch_size)], [fake_label for _ in range(batch_size)]
        start = self._index_in_epoch
        if self._epochs_completed == 0 and start == 0 and shuffle:
            self._shuffle()
        if start + batch_size > self._num_examples:
            self._epochs_completed += 1
            rest = self._num_examples - start
            images_rest = self._images[start:self._num_examples]
            labels_rest = self._labels[start:self._num_examples]
            if shuffle:
                self._shuffle()
            self._index_in_epoch = batch_size - rest
            end = self._index_in_epoch
            return (np.concatenate((images_rest, self._images[:end]), axis=0),
                    np.concatenate((labels_rest, self._labels[:end]), axis=0))
        self._index_in_epoch += batch_size
        end = self._index_in_epoch
        return self._images[start:end], self._labels[start:end]

    def __repr__(self) -> str:
        shape = getattr(self._images, "shape", None)
        return (f"<DataSet num_examples={self._num_examples} images={shape} "
                f"epochs_completed={self._epochs_completed}>")


# ---------------------------------------------------------------------------------------------------
# Finding, downloading and reading the files


# URL folders known to serve the real MNIST files: the checksums apply and the other mirrors may stand in.
_MNIST_URLS = MIRRORS + ("http://yann.lecun.com/exdb/mnist/", "https://yann.lecun.com/exdb/mnist/")


def _is_mnist_mirror(url: str) -> bool:
    return url in _MNIST_URLS


def _describe_dir(d: str) -> str:
    if not os.path.isdir(d):
        return f"{d} (no such folder)"
    have = [n for n in FILES if find_file(d, n)]
    if not have:
        return f"{d} (none of the files)"
    missing = [n for n in FILES if n not in have]
    return f"{d} (has {', '.join(have)}; missing {', '.join(missing)})"


def _not_found(dirs: list[str], dest: str, err: DownloadError, custom: bool) -> DatasetNotFoundError:
    searched = "\n".join(f"  {_describe_dir(d)}" for d in dirs)
    if "LABFLOW_DATA" not in os.environ and not custom:
        searched += "\n  ($LABFLOW_DATA is not set, so $LABFLOW_DATA/mnist was not searched)"
    if custom:
        searched += "\n  (a custom source_url was given, so only train_dir was searched)"
    return DatasetNotFoundError(
        "MNIST data not found, and downloading it failed.\n"
        f"Needed files: {', '.join(FILES)} (each plain or gzipped with a .gz suffix).\n"
        f"Folders searched, in order:\n{searched}\n"
        f"Download into {dest} failed: {err}\n"
        + (f"Put the four files in {dest} and run again." if custom else
           f"Put the four files in $LABFLOW_DATA/mnist (and set LABFLOW_DATA), or in {dest}, and run again."))


def _find_or_download(train_dir: str | None, source_url: str) -> dict[str, str]:
    custom = not _is_mnist_mirror(source_url)
    dirs = ([os.fspath(train_dir)] if train_dir else []) if custom else search_dirs("mnist", train_dir)
    found = locate(FILES, dirs)
    if found is not None:
        return found
    dest = os.fspath(train_dir) if train_dir else cache_dir("mnist")
    bases = [source_url] if custom else [source_url] + [m for m in MIRRORS if m != source_url]
    paths = {}
    for name in FILES:
        existing = find_file(dest, name) if os.path.isdir(dest) else None
        if existing:
            paths[name] = existing
            continue
        try:
            paths[name] = download(name + ".gz", [b + name + ".gz" for b in bases], dest,
                                   sha256=None if custom else SHA256.get(name))
        except DownloadError as e:
            raise _not_found(dirs, dest, e, custom) from e
    return paths


def _load(paths: dict[str, str], one_hot: bool):
    def read(name: str) -> bytes:
        print("Extracting", paths[name])
        return read_file_bytes(paths[name])

    train_images = parse_images(read(TRAIN_IMAGES), paths[TRAIN_IMAGES])
    train_labels = parse_labels(read(TRAIN_LABELS), paths[TRAIN_LABELS])
    test_images = parse_images(read(TEST_IMAGES), paths[TEST_IMAGES])
    test_labels = parse_labels(read(TEST_LABELS), paths[TEST_LABELS])
    for kind, im, lb in (("train", train_images, train_labels), ("test", test_images, test_labels)):
        im_name, lb_name = (TRAIN_IMAGES, TRAIN_LABELS) if kind == "train" else (TEST_IMAGES, TEST_LABELS)
        if len(im) != len(lb):
            raise CorruptDatasetError(
                f"MNIST {kind} files disagree: {paths[im_name]} holds {len(im)} images but "
                f"{paths[lb_name]} holds {len(lb)} labels.")
    if one_hot:
        train_labels = dense_to_one_hot(train_labels, NUM_CLASSES)
        test_labels = dense_to_one_hot(test_labels, NUM_CLASSES)
    return train_images, train_labels, test_images, test_labels


def read_data_sets(train_dir: str | os.PathLike | None, fake_data: bool = False, one_hot: bool = False,
                   dtype: Any = dtypes.float32, reshape: bool = True, validation_size: int = 5000,
                   seed: int | None = None, source_url: str = DEFAULT_SOURCE_URL) -> Datasets:
    """Reads MNIST into `Datasets(train, validation, test)` (TF 1.x `input_data.read_data_sets`).

    Args:
        train_dir: the folder searched first for the four IDX files, and where missing ones are
            downloaded (None: `~/.cache/labflow/mnist`). See the module docstring for the lookup.
        fake_data: return three fake `DataSet`s (for `next_batch(..., fake_data=True)`); reads nothing.
        one_hot: labels as one-hot float64 [N, 10] instead of uint8 [N].
        dtype: `labflow.float32` (images in [0, 1]) or `labflow.uint8` (images in [0, 255]).
        reshape: images as [N, 784] instead of [N, 28, 28, 1].
        validation_size: how many of the 60000 training examples, from the start, form the
            validation set.
        seed: seeds the shuffling of `next_batch` (same seed, same batches).
        source_url: the URL folder to download from first ("" means the default).

    Returns:
        `Datasets(train, validation, test)` of `DataSet`s: 55000 / 5000 / 10000 by default.

    Raises:
        DatasetNotFoundError: the files are in no searched folder and could not be downloaded.
        CorruptDatasetError: a file is truncated or damaged, or a download's checksum is wrong.
        ValueError: validation_size is not in [0, number of training examples].
        TypeError: dtype is neither uint8 nor float32.
    """
    if fake_data:
        def fake():
            return DataSet([], [], fake_data=True, one_hot=one_hot, dtype=dtype, seed=seed)
        return Datasets(train=fake(), validation=fake(), test=fake())
    if isinstance(validation_size, bool) or not isinstance(validation_size, numbers.Integral):
        raise TypeError(f"validation_size must be an int, got {validation_size!r}")
    if not source_url:
        source_url = DEFAULT_SOURCE_URL
    if not source_url.endswith("/"):
        source_url += "/"

    paths = _find_or_download(train_dir, source_url)
    train_images, train_labels, test_images, test_labels = _load(paths, one_hot)

    if not 0 <= validation_size <= len(train_images):
        raise ValueError(f"Validation size should be between 0 and {len(train_images)}. "
                         f"Received: {validation_size}.")
    validation_images = train_images[:validation_size]
    validation_labels = train_labels[:validation_size]
    train_images = train_images[validation_size:]
    train_labels = train_labels[validation_size:]

    options = dict(dtype=dtype, reshape=reshape, seed=seed)
    return Datasets(train=DataSet(train_images, train_labels, **options),
                    validation=DataSet(validation_images, validation_labels, **options),
                    test=DataSet(test_images, test_labels, **options))


def load_mnist(train_dir: str = "MNIST-data") -> Datasets:
    """`read_data_sets(train_dir)` with every default (TF's `mnist.load_mnist`)."""
    return read_data_sets(train_dir)


def verify(train_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """Checks the sha256 of the MNIST files that `read_data_sets(train_dir)` would read.

    Returns:
        {file name: path} of the four verified files.

    Raises:
        DatasetNotFoundError: no searched folder holds the four files (nothing is downloaded).
        CorruptDatasetError: a file's decompressed bytes have the wrong sha256.
    """
    dirs = search_dirs("mnist", os.fspath(train_dir) if train_dir else None)
    found = locate(FILES, dirs)
    if found is None:
        searched = "\n".join(f"  {_describe_dir(d)}" for d in dirs)
        raise DatasetNotFoundError(f"MNIST data not found. Folders searched, in order:\n{searched}")
    for name, path in found.items():
        got = sha256_hex(read_file_bytes(path))
        if got != SHA256[name]:
            raise CorruptDatasetError(f"checksum mismatch for {path}: sha256 of the decompressed bytes is "
                                      f"{got}, expected {SHA256[name]}.")
    return found
