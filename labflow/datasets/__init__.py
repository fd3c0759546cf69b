"""Datasets: MNIST (IDX files) and the shared find / download / verify plumbing.

`labflow.datasets.mnist.read_data_sets` is TF 1.x's MNIST reader; it is also importable as
`labflow.examples.tutorials.mnist.input_data`. Files are looked up in the caller's folder, then
`$LABFLOW_DATA/<dataset>`, then `~/.cache/labflow/<dataset>`, and downloaded (checksummed,
atomically written) when missing.
"""

from labflow.datasets import mnist
from labflow.datasets._download import CorruptDatasetError, DatasetNotFoundError

__all__ = ["mnist", "CorruptDatasetError", "DatasetNotFoundError"]
