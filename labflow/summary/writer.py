"""`tf.summary.FileWriter` and `tf.summary.FileWriterCache`: summaries, graphs and run metadata to
TensorBoard event files (the file format and the writing thread are in event_file_writer.py)."""

from __future__ import annotations

import logging
import threading
import time
import warnings
from typing import Any

import numpy as np

from labflow.framework.protos import event_pb2, graph_pb2, meta_graph_pb2, summary_pb2
from labflow.summary.event_file_writer import EventFileWriter

_log = logging.getLogger("labflow.summary")


def _as_summary(summary: Any) -> summary_pb2.Summary:
    """A `Summary` from a proto, its serialized bytes, or a summary op's fetched value (a 0-d array)."""
    if isinstance(summary, np.ndarray) and summary.size == 1:
        summary = summary.reshape(-1)[0]
    if isinstance(summary, (bytes, bytearray, np.bytes_)):
        s = summary_pb2.Summary()
        try:
            s.ParseFromString(bytes(summary))
        except Exception:  # noqa: BLE001 - the protobuf runtimes raise different DecodeError classes
            raise ValueError("add_summary: the bytes given are not a serialized Summary protocol buffer") \
                from None
        return s
    if hasattr(summary, "DESCRIPTOR") and summary.DESCRIPTOR.full_name.endswith("Summary"):
        s = summary_pb2.Summary()
        s.ParseFromString(summary.SerializeToString())  # also takes TF's or TensorBoard's own Summary class
        return s
    raise TypeError(f"add_summary expects a Summary protocol buffer or its serialized bytes (what a summary "
                    f"op gives sess.run), got {type(summary).__name__}")


def _step(global_step: Any) -> int | None:
    if global_step is None:
        return None
    return int(np.asarray(global_step).reshape(-1)[0]) if isinstance(global_step, np.ndarray) else \
        int(global_step)


class FileWriter:
    """Writes `Summary` protocol buffers, graphs and run metadata to an event file in `logdir`.

    TF 1.x's `tf.summary.FileWriter` (and the 2016 `tf.train.SummaryWriter`). Adding is asynchronous:
    events are queued and written by a background thread, so `add_summary` does not wait for the disk.
    The file is named `events.out.tfevents.<time>.<hostname>` (plus `filename_suffix`), and is flushed
    every `flush_secs`, after `max_queue` events, and on `flush()` / `close()`. TensorBoard reads it.

    Args:
        logdir: the directory for the event file (created if missing).
        graph: a `Graph` to write at once (e.g. `sess.graph`), for TensorBoard's graph dashboard.
        max_queue: how many events may wait to be written before an `add_*` call blocks.
        flush_secs: how often, in seconds, the background thread flushes the file.
        graph_def: deprecated: a `GraphDef` to write (pass `graph` instead).
        filename_suffix: appended to the event file's name.
        session: accepted for TF's signature; labflow writes from Python with or without a session.

    Example:
        >>> writer = tf.summary.FileWriter("/tmp/logs", sess.graph)
        >>> summary, _ = sess.run([merged, train_op])
        >>> writer.add_summary(summary, step)
    """

    def __init__(self, logdir: str, graph: Any = None, max_queue: int = 10, flush_secs: float = 120,
                 graph_def: Any = None, filename_suffix: str | None = None, session: Any = None):
        self.event_writer = EventFileWriter(logdir, max_queue, flush_secs, filename_suffix)
        self._closed = False
        self._session_run_tags: set[str] = set()
        self._seen_summary_tags: set[str] = set()
        self._lock = threading.Lock()
        if graph is not None or graph_def is not None:
            gd = self._graph_def(graph, graph_def)
            self._add_event(event_pb2.Event(graph_def=gd.SerializeToString()), None)
            # TF also writes a MetaGraphDef of the graph (TensorBoard shows it when there is no GraphDef).
            self.add_meta_graph(meta_graph_pb2.MetaGraphDef(graph_def=gd))

    # -- context manager ---------------------------------------------------------------------------------
    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- adding events --------------------------------------------------------------------------------------
    def add_summary(self, summary: Any, global_step: Any = None) -> None:
        """Adds a `Summary` (a proto, its bytes, or a summary op's value from `sess.run`) at `global_step`.

        A summary value's metadata (e.g. the plugin of a text summary) is written only with the first
        value of each tag, as TF does, to save space.

        Raises:
            TypeError / ValueError: `summary` is not a Summary or its serialized bytes.
        """
        s = _as_summary(summary)
        with self._lock:
            for v in s.value:
                if not v.HasField("metadata"):
                    continue
                if v.tag in self._seen_summary_tags:
                    v.ClearField("metadata")
                else:
                    self._seen_summary_tags.add(v.tag)
        self._add_event(event_pb2.Event(summary=s), global_step)

    def add_session_log(self, session_log: Any, global_step: Any = None) -> None:
        """Adds a `SessionLog` (START / STOP / CHECKPOINT) at `global_step`."""
        self._add_event(event_pb2.Event(session_log=session_log), global_step)

    def add_graph(self, graph: Any, global_step: Any = None, graph_def: Any = None) -> None:
        """Adds a graph for TensorBoard's graph dashboard (`graph.as_graph_def(add_shapes=True)`).

        Raises:
            ValueError: both `graph` and `graph_def` are given.
            TypeError: neither is a `Graph` or a `GraphDef`.
        """
        gd = self._graph_def(graph, graph_def)
        self._add_event(event_pb2.Event(graph_def=gd.SerializeToString()), global_step)

    @staticmethod
    def _graph_def(graph: Any, graph_def: Any) -> Any:
        from labflow.framework.graph import Graph
        if graph is not None and graph_def is not None:
            raise ValueError("Please pass only graph, or graph_def (deprecated), but not both.")
        if isinstance(graph, Graph) or isinstance(graph_def, Graph):
            if not isinstance(graph, Graph):
                _log.warning("When passing a `Graph` object, please use the `graph` named argument instead of "
                             "`graph_def`.")
                graph = graph_def
            return graph.as_graph_def(add_shapes=True)
        if isinstance(graph, graph_pb2.GraphDef) or isinstance(graph_def, graph_pb2.GraphDef):
            _log.warning("Passing a `GraphDef` to the SummaryWriter is deprecated. Pass a `Graph` object "
                         "instead, such as `sess.graph`.")
            return graph if isinstance(graph, graph_pb2.GraphDef) else graph_def
        raise TypeError("The passed graph must be an instance of `Graph` or the deprecated `GraphDef`")

    def add_meta_graph(self, meta_graph_def: Any, global_step: Any = None) -> None:
        """Adds a `MetaGraphDef`.

        Raises:
            TypeError: `meta_graph_def` is not a MetaGraphDef.
        """
        if not isinstance(meta_graph_def, meta_graph_pb2.MetaGraphDef):
            raise TypeError(f"meta_graph_def must be type MetaGraphDef, saw type: {type(meta_graph_def)}")
        self._add_event(event_pb2.Event(meta_graph_def=meta_graph_def.SerializeToString()), global_step)

    def add_run_metadata(self, run_metadata: Any, tag: str, global_step: Any = None) -> None:
        """Adds the `RunMetadata` of one `sess.run` (step stats, for TensorBoard) under `tag`.

        Raises:
            ValueError: `tag` was used before by this writer.
        """
        with self._lock:
            if tag in self._session_run_tags:
                raise ValueError("The provided tag was already used for this event type")
            self._session_run_tags.add(tag)
        tagged = event_pb2.TaggedRunMetadata(tag=tag, run_metadata=run_metadata.SerializeToString())
        self._add_event(event_pb2.Event(tagged_run_metadata=tagged), global_step)

    def add_event(self, event: Any) -> None:
        """Adds an `Event` as it is (its wall_time and step are not touched).

        Raises:
            TypeError: `event` is not a protocol buffer.
        """
        if not hasattr(event, "SerializeToString"):
            raise TypeError(f"add_event expects an Event protocol buffer, got {type(event).__name__}")
        self._warn_if_closed()
        self.event_writer.add_event(event)

    def _add_event(self, event: Any, step: Any) -> None:
        self._warn_if_closed()
        event.wall_time = time.time()
        s = _step(step)
        if s is not None:
            event.step = s
        self.event_writer.add_event(event)

    def _warn_if_closed(self) -> None:
        if self._closed:
            warnings.warn("Attempting to use a closed FileWriter. The operation will be a noop unless the "
                          "FileWriter is explicitly reopened.", stacklevel=3)

    # -- file management ----------------------------------------------------------------------------------
    def get_logdir(self) -> str:
        """The directory the event file is written to."""
        return self.event_writer.get_logdir()

    def flush(self) -> None:
        """Writes every event added so far to disk."""
        self._warn_if_closed()
        self.event_writer.flush()

    def close(self) -> None:
        """Writes every event added so far and closes the file; `reopen()` starts a new one."""
        self._closed = True
        self.event_writer.close()

    def reopen(self) -> None:
        """Starts a new event file in the same directory after `close()` (a no-op while open)."""
        self.event_writer.reopen()
        self._closed = False


class FileWriterCache:
    """One `FileWriter` per log directory, shared (TF 1.x `tf.summary.FileWriterCache`)."""

    _cache: dict[str, FileWriter] = {}
    _lock = threading.RLock()

    @staticmethod
    def clear() -> None:
        """Closes every cached writer and empties the cache."""
        with FileWriterCache._lock:
            for w in FileWriterCache._cache.values():
                w.close()
            FileWriterCache._cache = {}

    @staticmethod
    def get(logdir: str) -> FileWriter:
        """The cached writer for `logdir`, made (with the default graph) on first use."""
        from labflow.framework.graph import get_default_graph
        with FileWriterCache._lock:
            w = FileWriterCache._cache.get(logdir)
            if w is None:
                w = FileWriterCache._cache[logdir] = FileWriter(logdir, graph=get_default_graph())
            return w
