"""`tf.train.QueueRunner`: threads that run enqueue ops in a loop, and `start_queue_runners`.

Each enqueue op gets a thread running `sess.run(op)` until the coordinator stops or the queue is closed
(the op raises one of `queue_closed_exception_types`): the last thread of a session to end
closes the queue, so its consumers see OutOfRangeError once it is drained. With a coordinator, one
more thread waits for the stop request and then closes the queue with `cancel_pending_enqueues`, which
wakes enqueues blocked on a full queue.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

from labflow import errors
from labflow.framework.graph import GraphKeys, get_default_graph

__all__ = ["QueueRunner", "add_queue_runner", "start_queue_runners"]

_log = logging.getLogger("labflow")


class QueueRunner:
    """Holds a queue and the ops that fill it; `create_threads` runs them (TF 1.x semantics)."""

    def __init__(self, queue: Any = None, enqueue_ops: Any = None, close_op: Any = None, cancel_op: Any = None,
                 queue_closed_exception_types: Any = None, queue_runner_def: Any = None, import_scope: Any = None):
        """Creates a QueueRunner.

        Args:
            queue: a QueueBase.
            enqueue_ops: the ops (or tensors) each run in a loop by one thread.
            close_op: the op run when the enqueue threads are done (default `queue.close()`).
            cancel_op: the op run on a coordinator stop (default `queue.close(cancel_pending_enqueues=True)`).
            queue_closed_exception_types: errors that mean "the queue is closed, stop quietly"
                (default: (OutOfRangeError,)).
            queue_runner_def, import_scope: not supported (QueueRunnerDef protos).

        Raises:
            ValueError: no queue or no enqueue ops, or a queue_runner_def.
        """
        if queue_runner_def is not None:
            raise ValueError("queue_runner_def is not supported by labflow's QueueRunner; build it from a queue "
                             "and its enqueue ops.")
        if not queue or not enqueue_ops:
            raise ValueError("Must provide queue and enqueue_ops.")
        self._queue = queue
        self._enqueue_ops = list(enqueue_ops)
        self._close_op = close_op if close_op is not None else queue.close()
        self._cancel_op = cancel_op if cancel_op is not None else queue.close(cancel_pending_enqueues=True)
        if queue_closed_exception_types is None:
            queue_closed_exception_types = (errors.OutOfRangeError,)
        self._queue_closed_exception_types = tuple(queue_closed_exception_types)
        self._lock = threading.Lock()
        self._runs_per_session: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._exceptions_raised: list = []

    @property
    def queue(self) -> Any:
        return self._queue

    @property
    def enqueue_ops(self) -> list:
        return self._enqueue_ops

    @property
    def close_op(self) -> Any:
        return self._close_op

    @property
    def cancel_op(self) -> Any:
        return self._cancel_op

    @property
    def queue_closed_exception_types(self) -> tuple:
        return self._queue_closed_exception_types

    @property
    def exceptions_raised(self) -> list:
        """Exceptions raised by the threads and not given to a coordinator."""
        return self._exceptions_raised

    @property
    def name(self) -> str:
        """The name of the queue (TF: the queue's name)."""
        return self._queue.name

    def _closed_or_cancelled(self, e: BaseException, sess: Any) -> bool:
        if isinstance(e, self._queue_closed_exception_types):
            return True
        # A session closed under a running thread ends it quietly (TF would log an error per thread).
        return bool(getattr(sess, "_closed", False)) and isinstance(e, (errors.CancelledError, RuntimeError))

    def _run(self, sess: Any, enqueue_op: Any, coord: Any = None) -> None:
        decremented = False
        try:
            while True:
                if coord and coord.should_stop():
                    break
                try:
                    sess.run(enqueue_op)
                except Exception as e:  # noqa: BLE001 - sorted below: closed queue or a real failure
                    if not self._closed_or_cancelled(e, sess):
                        raise
                    with self._lock:
                        self._runs_per_session[sess] -= 1
                        decremented = True
                        if self._runs_per_session[sess] == 0:
                            try:
                                sess.run(self._close_op)
                            except Exception as e2:  # noqa: BLE001 - TF ignores failures of the close op
                                _log.debug("Ignored exception: %s", e2)
                    return
        except Exception as e:  # noqa: BLE001 - reported to the coordinator, or kept and re-raised
            if coord:
                coord.request_stop(e)
            else:
                _log.error("Exception in QueueRunner: %s", e)
                with self._lock:
                    self._exceptions_raised.append(e)
                raise
        finally:
            if not decremented:
                with self._lock:
                    self._runs_per_session[sess] -= 1

    def _close_on_stop(self, sess: Any, cancel_op: Any, coord: Any) -> None:
        coord.wait_for_stop()
        try:
            sess.run(cancel_op)
        except Exception as e:  # noqa: BLE001 - the session may already be closed
            _log.debug("Ignored exception: %s", e)

    def create_threads(self, sess: Any, coord: Any = None, daemon: bool = False,
                       start: bool = False) -> list[threading.Thread]:
        """Creates (and with `start`, starts) one thread per enqueue op, plus a closer when `coord` is given.

        Returns [] when threads of this runner are already running for `sess`.
        """
        with self._lock:
            if self._runs_per_session.get(sess, 0) > 0:
                return []
            self._runs_per_session[sess] = len(self._enqueue_ops)
            self._exceptions_raised = []
        threads = [threading.Thread(target=self._run, args=(sess, op, coord), name=f"QueueRunner-{self.name}")
                   for op in self._enqueue_ops]
        if coord:
            threads.append(threading.Thread(target=self._close_on_stop, args=(sess, self._cancel_op, coord),
                                            name=f"QueueRunnerThread-{self.name}"))
        for t in threads:
            if coord:
                coord.register_thread(t)
            if daemon:
                t.daemon = True
            if start:
                t.start()
        return threads


def add_queue_runner(qr: QueueRunner, collection: str = GraphKeys.QUEUE_RUNNERS) -> None:
    """Adds `qr` to a collection of the default graph (default GraphKeys.QUEUE_RUNNERS)."""
    get_default_graph().add_to_collection(collection, qr)


def start_queue_runners(sess: Any = None, coord: Any = None, daemon: bool = True, start: bool = True,
                        collection: str = GraphKeys.QUEUE_RUNNERS) -> list[threading.Thread]:
    """Starts the threads of every QueueRunner in `collection` of the session's graph.

    Args:
        sess: the session (default: the default session).
        coord: an optional Coordinator; the threads stop when it does.
        daemon: make the threads daemons.
        start: start the threads (else the caller starts them).
        collection: the collection holding the runners.

    Returns:
        The threads.

    Raises:
        ValueError: no session given and no default session.
        TypeError: `sess` is not a Session.
    """
    if sess is None:
        from labflow.runtime.session import get_default_session
        sess = get_default_session()
        if not sess:
            raise ValueError("Cannot start queue runners: No default session is registered. Use `with "
                             "sess.as_default()` or pass an explicit session to tf.start_queue_runners(sess=sess)")
    if not hasattr(sess, "run") or not hasattr(sess, "graph"):
        if type(sess).__name__ in ("MonitoredSession", "SingularMonitoredSession"):
            return []
        raise TypeError(f"sess must be a `tf.Session` object. Given class: {sess.__class__}")
    runners = sess.graph.get_collection(collection)
    if not runners:
        _log.warning("`tf.train.start_queue_runners()` was called when no queue runners were defined. You can "
                     "safely remove the call to this deprecated function.")
    threads = []
    with sess.graph.as_default():
        for qr in runners:
            threads.extend(qr.create_threads(sess, coord=coord, daemon=daemon, start=start))
    return threads
