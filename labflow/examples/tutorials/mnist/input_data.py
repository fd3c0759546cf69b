"""`tensorflow.examples.tutorials.mnist.input_data`: `read_data_sets` and friends for TF1 tutorials.

    from labflow.examples.tutorials.mnist import input_data
    mnist = input_data.read_data_sets("MNIST_data", one_hot=True)

Everything here is `labflow.datasets.mnist` (see there for where the files are looked up).
"""

from labflow.datasets.mnist import (
    DEFAULT_SOURCE_URL,
    DataSet,
    Datasets,
    dense_to_one_hot,
    extract_images,
    extract_labels,
    load_mnist,
    read_data_sets,
)

__all__ = [
    "DEFAULT_SOURCE_URL",
    "DataSet",
    "Datasets",
    "dense_to_one_hot",
    "extract_images",
    "extract_labels",
    "load_mnist",
    "read_data_sets",
]
