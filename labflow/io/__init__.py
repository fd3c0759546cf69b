"""`tf.io`: reading, parsing and serializing under the TF 1.13+ names (the same functions as the tf.* ones)."""

from labflow.framework.graph_io import write_graph
from labflow.framework.tf_record import TFRecordCompressionType, TFRecordOptions, TFRecordWriter, tf_record_iterator
from labflow.image import (
    decode_bmp,
    decode_gif,
    decode_image,
    decode_jpeg,
    decode_png,
    encode_jpeg,
    encode_png,
)
from labflow.io import gfile
from labflow.ops.data_flow_ops import PaddingFIFOQueue, QueueBase, RandomShuffleQueue
from labflow.ops.io_extra_ops import (
    decode_compressed,
    matching_files,
    parse_tensor,
    serialize_tensor,
    write_file,
)
from labflow.ops.parsing_ops import (
    FixedLenFeature,
    FixedLenSequenceFeature,
    SparseFeature,
    VarLenFeature,
    decode_csv,
    decode_raw,
    parse_example,
    parse_single_example,
)
from labflow.ops.parsing_sequence_ops import parse_sequence_example, parse_single_sequence_example
from labflow.ops.reader_ops import read_file
from labflow.ops.sparse_serialize_ops import deserialize_many_sparse, serialize_many_sparse, serialize_sparse
from labflow.ops.string_ops import decode_base64, encode_base64

__all__ = [
    "FixedLenFeature", "VarLenFeature", "PaddingFIFOQueue", "QueueBase", "RandomShuffleQueue",
    "TFRecordCompressionType", "TFRecordOptions", "TFRecordWriter", "decode_base64", "decode_bmp",
    "decode_compressed", "decode_csv", "decode_gif", "decode_image", "decode_jpeg", "decode_png", "encode_jpeg",
    "encode_png", "decode_raw", "encode_base64", "gfile", "matching_files", "parse_example", "parse_single_example",
    "parse_tensor", "read_file", "serialize_tensor", "tf_record_iterator", "write_file", "write_graph",
    "FixedLenSequenceFeature", "SparseFeature", "parse_sequence_example", "parse_single_sequence_example",
    "serialize_sparse", "serialize_many_sparse", "deserialize_many_sparse",
]
