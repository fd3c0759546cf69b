"""`tf.data` (TF 1.x): datasets, iterators, Options, AUTOTUNE and `tf.data.experimental`."""

from typing import Any

from labflow.data import experimental  # noqa: F401
from labflow.data.dataset_extra import AUTOTUNE  # noqa: F401
from labflow.data.dataset_ops import Dataset  # noqa: F401
from labflow.data.file_datasets import FixedLengthRecordDataset, TextLineDataset, TFRecordDataset  # noqa: F401
from labflow.data.iterator_ops import Iterator, make_initializable_iterator, make_one_shot_iterator  # noqa: F401
from labflow.data.options import Options, ThreadingOptions  # noqa: F401

__all__ = ["Dataset", "TFRecordDataset", "TextLineDataset", "FixedLengthRecordDataset", "Iterator",
           "make_one_shot_iterator", "make_initializable_iterator", "Options", "ThreadingOptions", "AUTOTUNE",
           "experimental", "get_output_classes", "get_output_shapes", "get_output_types"]


def get_output_classes(dataset_or_iterator: Any) -> Any:
    """The classes of an element's components (`tf.compat.v1.data.get_output_classes`)."""
    return dataset_or_iterator.output_classes


def get_output_shapes(dataset_or_iterator: Any) -> Any:
    """The static shapes of an element's components (`tf.compat.v1.data.get_output_shapes`)."""
    return dataset_or_iterator.output_shapes


def get_output_types(dataset_or_iterator: Any) -> Any:
    """The dtypes of an element's components (`tf.compat.v1.data.get_output_types`)."""
    return dataset_or_iterator.output_types
