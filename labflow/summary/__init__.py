"""`tf.summary`: summary ops, and FileWriter for TensorBoard event files (TF 1.x's namespace).

    loss_summary = tf.summary.scalar("loss", loss)
    merged = tf.summary.merge_all()
    writer = tf.summary.FileWriter(logdir, sess.graph)
    writer.add_summary(sess.run(merged), step)
"""

from labflow.framework.protos.event_pb2 import Event, SessionLog, TaggedRunMetadata
from labflow.framework.protos.summary_pb2 import Summary, SummaryDescription, SummaryMetadata
from labflow.ops.summary_ops import (
    audio,
    get_summary_description,
    histogram,
    image,
    merge,
    merge_all,
    scalar,
    tensor_summary,
    text,
)
from labflow.summary.reader import summary_iterator
from labflow.summary.writer import FileWriter, FileWriterCache

__all__ = ["scalar", "histogram", "image", "audio", "text", "tensor_summary", "merge", "merge_all",
           "get_summary_description", "FileWriter", "FileWriterCache", "summary_iterator", "Summary",
           "SummaryDescription", "SummaryMetadata", "Event", "SessionLog", "TaggedRunMetadata"]
