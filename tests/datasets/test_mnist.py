"""labflow.datasets.mnist: TF 1.x's read_data_sets / DataSet, file lookup, download and bad files."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import time

import numpy as np
import pytest
from fake_http import serve

import labflow as tf
from labflow.datasets import mnist
from labflow.datasets.mnist import CorruptDatasetError, DataSet, DatasetNotFoundError

FILES = mnist.FILES


# ---------------------------------------------------------------------------------------------------
# Synthetic IDX files


def idx_images(images: np.ndarray) -> bytes:
    n, r, c = images.shape
    return struct.pack(">IIII", 2051, n, r, c) + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 2049, len(labels)) + np.asarray(labels, np.uint8).tobytes()


def synthetic(n_train: int, n_test: int = 5, rows: int = 4, cols: int = 4, seed: int = 0) -> dict[str, bytes]:
    """The four files' decompressed bytes; image k is filled with value k % 256, label k is k % 10."""
    def images(n, offset):
        vals = (np.arange(n) + offset) % 256
        return np.broadcast_to(vals[:, None, None], (n, rows, cols)).astype(np.uint8)
    return {
        mnist.TRAIN_IMAGES: idx_images(images(n_train, 0)),
        mnist.TRAIN_LABELS: idx_labels(np.arange(n_train) % 10),
        mnist.TEST_IMAGES: idx_images(images(n_test, 100)),
        mnist.TEST_LABELS: idx_labels((np.arange(n_test) + 3) % 10),
    }


def write_files(d, files: dict[str, bytes], gz: bool | dict = True, only=None) -> str:
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        if only is not None and name not in only:
            continue
        zipped = gz.get(name, True) if isinstance(gz, dict) else gz
        path = os.path.join(d, name + (".gz" if zipped else ""))
        with open(path, "wb") as f:
            f.write(gzip.compress(data) if zipped else data)
    return str(d)


def read(train_dir, **kw):
    kw.setdefault("validation_size", 2)
    return mnist.read_data_sets(str(train_dir), **kw)


# ---------------------------------------------------------------------------------------------------
# Real MNIST (skipped without $LABFLOW_DATA/mnist)


def test_real_shapes_dtypes_ranges(mnist_dir):
    t0 = time.perf_counter()
    ds = mnist.read_data_sets(mnist_dir)
    elapsed = time.perf_counter() - t0
    assert elapsed < 10, elapsed  # ~1 s; generous for a loaded shared machine
    assert (ds.train.num_examples, ds.validation.num_examples, ds.test.num_examples) == (55000, 5000, 10000)
    assert ds.train.images.shape == (55000, 784) and ds.train.images.dtype == np.float32
    assert ds.test.images.shape == (10000, 784)
    assert ds.train.labels.shape == (55000,) and ds.train.labels.dtype == np.uint8
    assert ds.train.images.min() == 0.0 and ds.train.images.max() == 1.0
    # Validation is the head of the training file; published first labels of each file.
    np.testing.assert_array_equal(ds.validation.labels[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    np.testing.assert_array_equal(ds.test.labels[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    counts = np.bincount(np.concatenate([ds.validation.labels, ds.train.labels]), minlength=10)
    np.testing.assert_array_equal(counts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    assert abs(float(ds.test.images.mean()) * 255 - 33.791) < 0.01


def test_real_uint8_unreshaped_one_hot(mnist_dir):
    ds = mnist.read_data_sets(mnist_dir, one_hot=True, dtype=tf.uint8, reshape=False, validation_size=0)
    assert ds.train.num_examples == 60000 and ds.validation.num_examples == 0
    assert ds.train.images.shape == (60000, 28, 28, 1) and ds.train.images.dtype == np.uint8
    assert ds.train.images.max() == 255
    assert ds.test.labels.shape == (10000, 10) and ds.test.labels.dtype == np.float64
    np.testing.assert_array_equal(ds.test.labels.sum(axis=1), 1)
    np.testing.assert_array_equal(ds.test.labels[:3].argmax(axis=1), [7, 2, 1])


def test_real_next_batch_and_input_data_path(mnist_dir):
    from labflow.examples.tutorials.mnist import input_data
    assert input_data.read_data_sets is mnist.read_data_sets
    ds = input_data.read_data_sets(mnist_dir, one_hot=True, seed=7)
    xs, ys = ds.train.next_batch(100)
    assert xs.shape == (100, 784) and ys.shape == (100, 10)
    again = input_data.read_data_sets(mnist_dir, one_hot=True, seed=7).train.next_batch(100)
    np.testing.assert_array_equal(xs, again[0])


def test_real_validation_size_out_of_range(mnist_dir):
    with pytest.raises(ValueError, match=r"Validation size should be between 0 and 60000. Received: 60001"):
        mnist.read_data_sets(mnist_dir, validation_size=60001)
    with pytest.raises(ValueError, match="Received: -1"):
        mnist.read_data_sets(mnist_dir, validation_size=-1)


# ---------------------------------------------------------------------------------------------------
# read_data_sets on synthetic files


def test_synthetic_split_scaling_and_shapes(isolated):
    d = write_files(isolated / "train", synthetic(12, 5))
    ds = read(d, validation_size=3)
    assert isinstance(ds, mnist.Datasets)
    assert (ds.train.num_examples, ds.validation.num_examples, ds.test.num_examples) == (9, 3, 5)
    assert ds.train.images.shape == (9, 16) and ds.train.images.dtype == np.float32
    np.testing.assert_array_equal(ds.validation.labels, [0, 1, 2])
    np.testing.assert_array_equal(ds.train.labels, [3, 4, 5, 6, 7, 8, 9, 0, 1])
    np.testing.assert_allclose(ds.train.images[:, 0], np.arange(3, 12) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.train.images[0], np.float32(3) * np.float32(1.0 / 255.0))
    u8 = read(d, dtype=tf.uint8, reshape=False, validation_size=0)
    assert u8.train.images.shape == (12, 4, 4, 1) and u8.train.images.dtype == np.uint8
    assert u8.test.images[0, 0, 0, 0] == 100
    oh = read(d, one_hot=True)
    assert oh.train.labels.shape == (10, 10)
    np.testing.assert_array_equal(oh.train.labels.argmax(1), np.arange(2, 12) % 10)


def test_validation_size_bounds(isolated):
    d = write_files(isolated / "train", synthetic(6))
    assert read(d, validation_size=6).train.num_examples == 0
    with pytest.raises(ValueError, match="between 0 and 6. Received: 7"):
        read(d, validation_size=7)
    with pytest.raises(TypeError, match="validation_size"):
        read(d, validation_size=2.5)


def test_bad_dtype(isolated):
    d = write_files(isolated / "train", synthetic(6))
    with pytest.raises(TypeError, match="expected uint8 or float32"):
        read(d, dtype=tf.float64)


def test_fake_data_reads_nothing(isolated):
    ds = mnist.read_data_sets(str(isolated / "nowhere"), fake_data=True, one_hot=True)
    assert ds.train.num_examples == 10000
    xs, ys = ds.train.next_batch(3, fake_data=True)
    assert len(xs) == 3 and len(xs[0]) == 784 and ys[0] == [1] + [0] * 9
    _, ys = mnist.read_data_sets("x", fake_data=True).test.next_batch(2, fake_data=True)
    assert ys == [0, 0]


def test_gzipped_and_plain_files(isolated):
    files = synthetic(8)
    d = write_files(isolated / "train", files, gz={mnist.TRAIN_IMAGES: False, mnist.TEST_LABELS: False})
    assert sorted(os.listdir(d)) == sorted(["train-images-idx3-ubyte", "train-labels-idx1-ubyte.gz",
                                            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte"])
    ds = read(d)
    assert ds.train.num_examples == 6 and ds.test.num_examples == 5
    plain = write_files(isolated / "plain", files, gz=False)
    np.testing.assert_array_equal(read(plain).train.images, ds.train.images)


def test_extract_functions_take_file_objects(isolated, capsys):
    files = synthetic(4)
    f = io.BytesIO(gzip.compress(files[mnist.TRAIN_IMAGES]))
    f.name = "train-images-idx3-ubyte.gz"
    assert mnist.extract_images(f).shape == (4, 4, 4, 1)
    assert "Extracting train-images-idx3-ubyte.gz" in capsys.readouterr().out
    one_hot = mnist.extract_labels(io.BytesIO(files[mnist.TRAIN_LABELS]), one_hot=True)
    np.testing.assert_array_equal(one_hot, np.eye(10)[[0, 1, 2, 3]])


# ---------------------------------------------------------------------------------------------------
# DataSet.next_batch


def small_set(n=10, **kw):
    images = np.arange(n, dtype=np.uint8).reshape(n, 1, 1, 1)
    return DataSet(images, np.arange(n, dtype=np.uint8), dtype=tf.uint8, **kw)


def test_next_batch_without_shuffle_carries_over_the_epoch_end():
    ds = small_set(10)
    assert ds.images.shape == (10, 1)
    batches = [ds.next_batch(4, shuffle=False)[1].tolist() for _ in range(3)]
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1]]
    assert ds.epochs_completed == 1
    # An exact fit does not end the epoch until the next call (TF's quirk): then the rest is empty.
    ds = small_set(8)
    assert ds.next_batch(4, shuffle=False)[1].tolist() == [0, 1, 2, 3]
    assert ds.next_batch(4, shuffle=False)[1].tolist() == [4, 5, 6, 7]
    assert ds.epochs_completed == 0
    assert ds.next_batch(4, shuffle=False)[1].tolist() == [0, 1, 2, 3]
    assert ds.epochs_completed == 1


def test_next_batch_shuffles_each_epoch_and_covers_it():
    ds = small_set(10, seed=3)
    served = np.concatenate([ds.next_batch(4)[1] for _ in range(5)])  # 20 = two epochs exactly
    first, second = served[:10], served[10:]
    assert sorted(first) == list(range(10)) and sorted(second) == list(range(10))
    assert ds.epochs_completed == 1  # the second epoch ended exactly: counted on the next call
    assert first.tolist() != list(range(10)) and first.tolist() != second.tolist()
    images, labels = ds.next_batch(3)
    np.testing.assert_array_equal(images[:, 0], labels)  # images and labels stay paired
    assert ds.epochs_completed == 2


def test_next_batch_seeding():
    def run(seed):
        ds = small_set(10, seed=seed)
        return [ds.next_batch(3)[1].tolist() for _ in range(8)]
    assert run(5) == run(5)
    assert run(5) != run(6)
    # With a seed the shuffles are the ones TF made: numpy.random.seed(seed); shuffle(arange(n)).
    expected = np.random.RandomState(11).permutation(10).tolist()
    assert small_set(10, seed=11).next_batch(10)[1].tolist() == expected


def test_graph_seed_used_when_no_seed():
    tf.get_default_graph().seed = 4
    a = small_set(10).next_batch(10)[1].tolist()
    assert a == np.random.RandomState(4).permutation(10).tolist()


def test_dataset_argument_errors():
    with pytest.raises(ValueError, match="differ in count"):
        DataSet(np.zeros((3, 2, 2, 1), np.uint8), np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match=r"\[N, rows, cols, 1\]"):
        DataSet(np.zeros((3, 2, 2, 3), np.uint8), np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="batch_size"):
        small_set().next_batch(-1)


# ---------------------------------------------------------------------------------------------------
# Lookup order


def test_lookup_order(isolated, monkeypatch):
    train = isolated / "train"
    env_root = isolated / "data"
    write_files(env_root / "mnist", synthetic(7))
    write_files(isolated / "home" / ".cache" / "labflow" / "mnist", synthetic(9))
    # No train_dir files: $LABFLOW_DATA/mnist wins over the cache; without it the cache is used.
    monkeypatch.setenv("LABFLOW_DATA", str(env_root))
    assert read(train, validation_size=0).train.num_examples == 7
    monkeypatch.delenv("LABFLOW_DATA")
    assert read(train, validation_size=0).train.num_examples == 9
    # train_dir with only some files is skipped; with all four it wins.
    monkeypatch.setenv("LABFLOW_DATA", str(env_root))
    write_files(train, synthetic(11), only=[mnist.TRAIN_IMAGES, mnist.TRAIN_LABELS])
    assert read(train, validation_size=0).train.num_examples == 7
    write_files(train, synthetic(11))
    assert read(train, validation_size=0).train.num_examples == 11


def test_custom_source_url_searches_only_train_dir(isolated, monkeypatch):
    env_root = isolated / "data"
    write_files(env_root / "mnist", synthetic(7))
    monkeypatch.setenv("LABFLOW_DATA", str(env_root))
    with pytest.raises(DatasetNotFoundError, match="only train_dir was searched"):
        read(isolated / "fashion", source_url="http://example.invalid/fashion/")


# ---------------------------------------------------------------------------------------------------
# Corrupt files


def _corrupt_case(tmp, files, *, name=None, data=None, gz=True):
    files = dict(files)
    if name is not None:
        files[name] = data
    return write_files(tmp, files, gz=gz)


@pytest.mark.parametrize("name,mutate,pattern", [
    (mnist.TRAIN_IMAGES, lambda b: struct.pack(">I", 2049) + b[4:],
     r"Invalid magic number 2049 in MNIST image file: .*train-images.*swapped"),
    (mnist.TEST_LABELS, lambda b: struct.pack(">I", 1234) + b[4:],
     r"Invalid magic number 1234 in MNIST label file: .*t10k-labels"),
    (mnist.TEST_LABELS, gzip.compress, r"label file: .*gzipped twice"),
    (mnist.TRAIN_IMAGES, lambda b: b[:-5], r"truncated: its header says 8 images of 4x4 pixels"),
    (mnist.TRAIN_IMAGES, lambda b: b + b"xx", r"longer than its header says"),
    (mnist.TRAIN_LABELS, lambda b: b[:-1], r"truncated: its header says 8 labels"),
    (mnist.TRAIN_IMAGES, lambda b: b[:10], r"shorter than the 16-byte IDX header"),
    (mnist.TRAIN_LABELS, lambda b: b[:-1] + b"\x0a", r"holds label 10 at index 7"),
    (mnist.TEST_LABELS, lambda b: idx_labels(np.arange(4)), r"holds 5 images but .* holds 4 labels"),
])
def test_corrupt_files_raise_clear_errors(isolated, name, mutate, pattern):
    files = synthetic(8)
    d = _corrupt_case(isolated / "train", files, name=name, data=mutate(files[name]))
    with pytest.raises(CorruptDatasetError, match=pattern) as info:
        read(d)
    assert isinstance(info.value, ValueError) and isinstance(info.value, tf.errors.DataLossError)
    assert "t10k" in str(info.value) or "train" in str(info.value)


def test_truncated_gzip_file(isolated):
    d = write_files(isolated / "train", synthetic(8))
    path = os.path.join(d, mnist.TRAIN_IMAGES + ".gz")
    raw = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(raw[: len(raw) // 2])
    with pytest.raises(CorruptDatasetError, match=r"train-images-idx3-ubyte.gz is not a valid gzip file"):
        read(d)


def test_errors_pickle():
    for e in (CorruptDatasetError("bad"), DatasetNotFoundError("gone")):
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is type(e) and str(back) == str(e)
    assert isinstance(DatasetNotFoundError("x"), FileNotFoundError)
    assert isinstance(DatasetNotFoundError("x"), tf.errors.NotFoundError)


# ---------------------------------------------------------------------------------------------------
# Download


def test_offline_error_names_files_folders_and_cause(isolated, monkeypatch):
    env_root = isolated / "data"
    monkeypatch.setenv("LABFLOW_DATA", str(env_root))
    train = isolated / "train"
    with pytest.raises(DatasetNotFoundError) as info:
        read(train)
    msg = str(info.value)
    assert isinstance(info.value, OSError) and isinstance(info.value, tf.errors.NotFoundError)
    for name in FILES:
        assert name in msg
    for folder in (train, env_root / "mnist", isolated / "home" / ".cache" / "labflow" / "mnist"):
        assert str(folder) in msg
    assert "network is unreachable (test)" in msg
    assert "https://storage.googleapis.com/cvdf-datasets/mnist/train-images-idx3-ubyte.gz" in msg
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz" in msg
    assert "$LABFLOW_DATA/mnist" in msg
    assert not any(p.name.endswith(".part") for p in train.iterdir())


def test_download_verifies_and_saves_atomically(isolated, monkeypatch):
    files = synthetic(8)
    monkeypatch.setattr(mnist, "SHA256", {n: hashlib.sha256(b).hexdigest() for n, b in files.items()})
    # The first mirror is down: every file comes from the second.
    second = mnist.MIRRORS[1]
    asked = serve(monkeypatch, {second + n + ".gz": gzip.compress(b) for n, b in files.items()})
    train = isolated / "train"
    ds = read(train)
    assert ds.train.num_examples == 6
    assert sorted(os.listdir(train)) == sorted(n + ".gz" for n in FILES)
    assert asked[:2] == [mnist.DEFAULT_SOURCE_URL + FILES[0] + ".gz", second + FILES[0] + ".gz"]
    # Present now: read again without any network.
    serve(monkeypatch, {})
    assert read(train).test.num_examples == 5


def test_download_only_fills_in_missing_files(isolated, monkeypatch):
    files = synthetic(8)
    monkeypatch.setattr(mnist, "SHA256", {n: hashlib.sha256(b).hexdigest() for n, b in files.items()})
    train = isolated / "train"
    write_files(train, files, only=FILES[:3])
    asked = serve(monkeypatch, {mnist.DEFAULT_SOURCE_URL + FILES[3] + ".gz": gzip.compress(files[FILES[3]])})
    assert read(train).test.num_examples == 5
    assert asked == [mnist.DEFAULT_SOURCE_URL + FILES[3] + ".gz"]


def test_download_rejects_checksum_mismatch(isolated, monkeypatch):
    files = synthetic(8)
    sums = {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}
    sums[mnist.TRAIN_LABELS] = "0" * 64
    monkeypatch.setattr(mnist, "SHA256", sums)
    serve(monkeypatch, {m + n + ".gz": gzip.compress(b) for m in mnist.MIRRORS for n, b in files.items()})
    train = isolated / "train"
    with pytest.raises(CorruptDatasetError, match=r"checksum mismatch.*expected 0{64}") as info:
        read(train)
    assert "train-labels-idx1-ubyte.gz" in str(info.value)
    assert sorted(os.listdir(train)) == [mnist.TRAIN_IMAGES + ".gz"]  # nothing else, no temp files


def test_download_from_custom_source_url(isolated, monkeypatch):
    files = synthetic(8)
    url = "http://example.invalid/fashion/"
    asked = serve(monkeypatch, {url + n + ".gz": gzip.compress(b) for n, b in files.items()})
    ds = read(isolated / "fashion", source_url=url[:-1])  # a missing slash is added
    assert ds.train.num_examples == 6
    assert asked == [url + n + ".gz" for n in FILES]  # no MNIST mirrors, no checksums


def test_verify(isolated, monkeypatch):
    files = synthetic(8)
    d = write_files(isolated / "train", files)
    monkeypatch.setattr(mnist, "SHA256", {n: hashlib.sha256(b).hexdigest() for n, b in files.items()})
    assert set(mnist.verify(d)) == set(FILES)
    monkeypatch.setitem(mnist.SHA256, mnist.TEST_IMAGES, "f" * 64)
    with pytest.raises(CorruptDatasetError, match="checksum mismatch for .*t10k-images"):
        mnist.verify(d)
