"""`tf.python_io`: TFRecord files (TFRecordWriter, tf_record_iterator, TFRecordOptions)."""

from labflow.framework.tf_record import (  # noqa: F401
    TFRecordCompressionType,
    TFRecordOptions,
    TFRecordWriter,
    tf_record_iterator,
)
