"""`tf.data` (TF 1.x): Dataset, TFRecordDataset, TextLineDataset and Iterator."""

from labflow.data.dataset_ops import Dataset, TextLineDataset, TFRecordDataset  # noqa: F401
from labflow.data.iterator_ops import Iterator, make_initializable_iterator, make_one_shot_iterator  # noqa: F401

__all__ = ["Dataset", "TFRecordDataset", "TextLineDataset", "Iterator", "make_one_shot_iterator",
           "make_initializable_iterator"]
