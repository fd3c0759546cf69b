"""`tf.train.Supervisor` (TF 1.x, the 2016 way to run training): session setup plus background services.

    sv = tf.train.Supervisor(logdir=logdir)
    with sv.managed_session() as sess:
        while not sv.should_stop():
            sess.run(train_op)

The chief restores the newest checkpoint in `logdir` or initializes the model; then daemon threads
save a checkpoint every `save_model_secs`, write summaries and steps/sec every `save_summaries_secs`,
and run the graph's queue runners. Leaving `managed_session` stops and joins every thread, closes the
summary writer and the session; an exception raised in the block is re-raised (OutOfRangeError ends
training quietly).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from typing import Any, Callable, Iterator

from labflow.framework.graph import GraphKeys, get_default_graph
from labflow.train.session_manager import SessionManager, coordinator_class, start_queue_runners

__all__ = ["Supervisor"]

_log = logging.getLogger("labflow")


def _session_log(status: str, checkpoint_path: str = "") -> Any:
    from labflow.framework.protos.event_pb2 import SessionLog
    return SessionLog(status=getattr(SessionLog, status), checkpoint_path=checkpoint_path)


class _Looper(threading.Thread):
    """Calls `run_loop()` now and then every `interval` seconds until the coordinator stops (daemon)."""

    def __init__(self, coord: Any, interval: float | None, target: Callable | None = None,
                 args: tuple | None = None, kwargs: dict | None = None, name: str = "labflow-supervisor-loop"):
        super().__init__(name=name, daemon=True)
        self._coord = coord
        self._interval = interval
        self._target = target
        self._args = args or ()
        self._kwargs = kwargs or {}
        coord.register_thread(self)

    def run(self) -> None:
        with self._coord.stop_on_exception():
            if self._interval is None:
                while not self._coord.should_stop():
                    self.run_loop()
                return
            next_time = time.time()
            while not self._coord.wait_for_stop(max(0.0, next_time - time.time())):
                next_time += self._interval
                self.run_loop()

    def run_loop(self) -> None:
        if self._target is not None:
            self._target(*self._args, **self._kwargs)


class _SummaryThread(_Looper):
    def __init__(self, sv: Supervisor, sess: Any):
        super().__init__(sv.coord, sv.save_summaries_secs, name="labflow-supervisor-summaries")
        self._sv, self._sess = sv, sess

    def run_loop(self) -> None:
        sv = self._sv
        if sv.global_step is not None:
            summary, step = self._sess.run([sv.summary_op, sv.global_step])
        else:
            summary, step = self._sess.run(sv.summary_op), None
        if sv.summary_writer:
            _log.info("Recording summary at step %s.", step)
            sv.summary_writer.add_summary(summary, step)


class _StepCounterThread(_Looper):
    def __init__(self, sv: Supervisor, sess: Any):
        super().__init__(sv.coord, sv.save_summaries_secs, name="labflow-supervisor-steps")
        self._sv, self._sess = sv, sess
        self._last_time = 0.0
        self._last_step = 0
        self._tag = f"{sv.global_step.op.name}/sec"

    def run_loop(self) -> None:
        from labflow.framework.protos.summary_pb2 import Summary
        step = int(self._sess.run(self._sv.global_step))
        now = time.time()
        if self._last_time and now > self._last_time:
            rate = (step - self._last_step) / (now - self._last_time)
            if self._sv.summary_writer:
                self._sv.summary_writer.add_summary(
                    Summary(value=[Summary.Value(tag=self._tag, simple_value=rate)]), step)
            _log.info("%s: %g", self._tag, rate)
        self._last_time, self._last_step = now, step


class _CheckpointThread(_Looper):
    def __init__(self, sv: Supervisor, sess: Any):
        super().__init__(sv.coord, sv.save_model_secs, name="labflow-supervisor-checkpoints")
        self._sv, self._sess = sv, sess

    def run_loop(self) -> None:
        sv = self._sv
        _log.info("Saving checkpoint to path %s", sv.save_path)
        sv.saver.save(self._sess, sv.save_path, global_step=sv.global_step)
        if sv.summary_writer and sv.global_step is not None:
            step = int(self._sess.run(sv.global_step))
            sv.summary_writer.add_session_log(_session_log("CHECKPOINT", sv.save_path), step)


class Supervisor:
    """Sets up a session (restore, init or wait for the chief) and runs checkpoint/summary services.

    Args follow TF 1.x: each `USE_DEFAULT` op is taken from its GraphKeys collection or made (ready_op =
    `report_uninitialized_variables()`, init_op = global variables initializer, local_init_op = local
    variables initializer, saver = a new `Saver` when there are variables, summary_op = `merge_all()`,
    global_step = the graph's global step). Only the chief (`is_chief`) writes checkpoints and events to
    `logdir`. The graph is finalized by the constructor.
    """

    USE_DEFAULT = 0

    def __init__(self, graph: Any = None, ready_op: Any = USE_DEFAULT, ready_for_local_init_op: Any = USE_DEFAULT,
                 is_chief: bool = True, init_op: Any = USE_DEFAULT, init_feed_dict: dict | None = None,
                 local_init_op: Any = USE_DEFAULT, logdir: str | None = None, summary_op: Any = USE_DEFAULT,
                 saver: Any = USE_DEFAULT, global_step: Any = USE_DEFAULT, save_summaries_secs: float = 120,
                 save_model_secs: float = 600, recovery_wait_secs: float = 30, stop_grace_secs: float = 120,
                 checkpoint_basename: str = "model.ckpt", session_manager: Any = None,
                 summary_writer: Any = USE_DEFAULT, init_fn: Callable | None = None,
                 local_init_run_options: Any = None):
        graph = graph if graph is not None else get_default_graph()
        with graph.as_default():
            self._init_ready_op(ready_op, ready_for_local_init_op)
            self._init_init_op(init_op, init_feed_dict)
            self._init_local_init_op(local_init_op)
            self._init_saver(saver)
            self._init_summary_op(summary_op)
            self._init_global_step(global_step)
        self._graph = graph
        self._is_chief = is_chief
        self._coord = coordinator_class()()
        self._recovery_wait_secs = recovery_wait_secs
        self._stop_grace_secs = stop_grace_secs
        self._init_fn = init_fn
        self._local_init_run_options = local_init_run_options
        self._logdir = None
        self._save_summaries_secs = None
        self._save_model_secs = None
        self._save_path = None
        self._summary_writer = None
        self._graph_added_to_summary = False
        if is_chief:
            self._logdir = logdir
            self._save_summaries_secs = save_summaries_secs
            self._save_model_secs = save_model_secs
            if logdir:
                self._save_path = os.path.join(logdir, checkpoint_basename)
            if summary_writer is Supervisor.USE_DEFAULT:
                if logdir:
                    from labflow.summary.writer import FileWriter
                    self._summary_writer = FileWriter(logdir)
            else:
                self._summary_writer = summary_writer
        self._session_manager = session_manager or SessionManager(
            local_init_op=self._local_init_op, ready_op=self._ready_op,
            ready_for_local_init_op=self._ready_for_local_init_op, graph=graph,
            recovery_wait_secs=recovery_wait_secs, local_init_run_options=local_init_run_options)
        graph.finalize()

    # -- defaults ------------------------------------------------------------------------------------------
    @staticmethod
    def _first_in_collection(key: str) -> Any:
        items = get_default_graph().get_collection(key)
        if len(items) > 1:
            _log.info("Found %d %s operations. Returning the first one.", len(items), key)
        return items[0] if items else None

    def _init_ready_op(self, ready_op: Any, ready_for_local_init_op: Any) -> None:
        from labflow.ops.variables import report_uninitialized_variables
        if ready_op is Supervisor.USE_DEFAULT:
            ready_op = self._first_in_collection(GraphKeys.READY_OP)
            if ready_op is None:
                ready_op = report_uninitialized_variables()
                get_default_graph().add_to_collection(GraphKeys.READY_OP, ready_op)
        self._ready_op = ready_op
        if ready_for_local_init_op is Supervisor.USE_DEFAULT:
            ready_for_local_init_op = self._first_in_collection(GraphKeys.READY_FOR_LOCAL_INIT_OP)
        self._ready_for_local_init_op = ready_for_local_init_op

    def _init_init_op(self, init_op: Any, init_feed_dict: dict | None) -> None:
        from labflow.ops.variables import global_variables_initializer
        if init_op is Supervisor.USE_DEFAULT:
            init_op = self._first_in_collection(GraphKeys.INIT_OP)
            if init_op is None:
                init_op = global_variables_initializer()
                get_default_graph().add_to_collection(GraphKeys.INIT_OP, init_op)
        self._init_op = init_op
        self._init_feed_dict = init_feed_dict

    def _init_local_init_op(self, local_init_op: Any) -> None:
        from labflow.ops.variables import local_variables_initializer
        if local_init_op is Supervisor.USE_DEFAULT:
            local_init_op = self._first_in_collection(GraphKeys.LOCAL_INIT_OP)
            if local_init_op is None:
                local_init_op = local_variables_initializer()
                get_default_graph().add_to_collection(GraphKeys.LOCAL_INIT_OP, local_init_op)
        self._local_init_op = local_init_op

    def _init_saver(self, saver: Any) -> None:
        from labflow.ops.variables import global_variables
        from labflow.train.saver import Saver
        if saver is Supervisor.USE_DEFAULT:
            saver = self._first_in_collection(GraphKeys.SAVERS)
            if saver is None and global_variables():
                saver = Saver()
                get_default_graph().add_to_collection(GraphKeys.SAVERS, saver)
        self._saver = saver

    def _init_summary_op(self, summary_op: Any) -> None:
        from labflow.ops.summary_ops import merge_all
        if summary_op is Supervisor.USE_DEFAULT:
            summary_op = self._first_in_collection(GraphKeys.SUMMARY_OP)
            if summary_op is None:
                summary_op = merge_all()
                if summary_op is not None:
                    get_default_graph().add_to_collection(GraphKeys.SUMMARY_OP, summary_op)
        self._summary_op = summary_op

    def _init_global_step(self, global_step: Any) -> None:
        if global_step is Supervisor.USE_DEFAULT:
            global_step = self._first_in_collection(GraphKeys.GLOBAL_STEP)
            if global_step is None:
                try:
                    gs = get_default_graph().get_tensor_by_name("global_step:0")
                except KeyError:
                    gs = None
                if gs is not None and gs.dtype.base_dtype.name not in ("int32", "int64"):
                    _log.warning("Found 'global_step' is not an int type: %s", gs.dtype)
                    gs = None
                if gs is not None:
                    get_default_graph().add_to_collection(GraphKeys.GLOBAL_STEP, gs)
                global_step = gs
        self._global_step = global_step

    # -- properties ----------------------------------------------------------------------------------------
    @property
    def session_manager(self) -> SessionManager:
        return self._session_manager

    @property
    def coord(self) -> Any:
        """The `Coordinator` of the services and queue-runner threads."""
        return self._coord

    @property
    def is_chief(self) -> bool:
        return self._is_chief

    @property
    def init_op(self) -> Any:
        return self._init_op

    @property
    def init_feed_dict(self) -> dict | None:
        return self._init_feed_dict

    @property
    def ready_op(self) -> Any:
        return self._ready_op

    @property
    def ready_for_local_init_op(self) -> Any:
        return self._ready_for_local_init_op

    @property
    def summary_writer(self) -> Any:
        return self._summary_writer

    @property
    def summary_op(self) -> Any:
        return self._summary_op

    @property
    def save_summaries_secs(self) -> float | None:
        return self._save_summaries_secs

    @property
    def global_step(self) -> Any:
        return self._global_step

    @property
    def saver(self) -> Any:
        return self._saver

    @property
    def save_model_secs(self) -> float | None:
        return self._save_model_secs

    @property
    def save_path(self) -> str | None:
        return self._save_path

    # -- sessions and services -----------------------------------------------------------------------------
    def _write_graph(self) -> None:
        if self._logdir:
            from labflow.framework.graph_io import write_graph
            write_graph(self._graph, self._logdir, "graph.pbtxt")
        if self._summary_writer and not self._graph_added_to_summary:
            from labflow.train.meta_graph import export_meta_graph
            self._summary_writer.add_graph(self._graph)
            self._summary_writer.add_meta_graph(export_meta_graph(
                graph=self._graph, saver_def=self._saver.saver_def if self._saver else None))
            self._graph_added_to_summary = True

    def start_standard_services(self, sess: Any) -> list:
        """Starts the checkpoint, summary and steps/sec threads (chief only); returns them.

        Raises:
            RuntimeError: this supervisor is not the chief.
        """
        if not self._is_chief:
            raise RuntimeError("Only chief supervisor can start standard services. Because only chief "
                               "supervisors can write events.")
        if not self._logdir:
            _log.warning("Standard services need a 'logdir' passed to the SessionManager")
            return []
        if self._global_step is not None and self._summary_writer:
            self._summary_writer.add_session_log(_session_log("START"), int(sess.run(self._global_step)))
        threads: list = []
        if self._save_summaries_secs and self._summary_writer:
            if self._summary_op is not None:
                threads.append(_SummaryThread(self, sess))
            if self._global_step is not None:
                threads.append(_StepCounterThread(self, sess))
        if self._saver and self._save_model_secs:
            threads.append(_CheckpointThread(self, sess))
        for t in threads:
            t.start()
        return threads

    def start_queue_runners(self, sess: Any, queue_runners: list | None = None) -> list:
        """Starts the queue runners (default: the graph's QUEUE_RUNNERS) as daemon threads under `coord`."""
        if queue_runners is None:
            return start_queue_runners(sess, self._coord, self._graph)
        return [t for qr in queue_runners for t in qr.create_threads(sess, coord=self._coord, daemon=True,
                                                                     start=True)]

    def prepare_or_wait_for_session(self, master: str = "", config: Any = None, wait_for_checkpoint: bool = False,
                                    max_wait_secs: float = 7200, start_standard_services: bool = True) -> Any:
        """The chief restores or initializes the model; other workers wait until it is ready."""
        self._coord.clear_stop()
        if self._summary_writer:
            self._summary_writer.reopen()
        if self._is_chief:
            sess = self._session_manager.prepare_session(
                master, init_op=self._init_op, saver=self._saver, checkpoint_dir=self._logdir,
                wait_for_checkpoint=wait_for_checkpoint, max_wait_secs=max_wait_secs, config=config,
                init_feed_dict=self._init_feed_dict, init_fn=self._init_fn)
            self._write_graph()
            if start_standard_services:
                _log.info("Starting standard services.")
                self.start_standard_services(sess)
        else:
            sess = self._session_manager.wait_for_session(master, config=config, max_wait_secs=max_wait_secs)
        if start_standard_services:
            _log.info("Starting queue runners.")
            self.start_queue_runners(sess)
        return sess

    def loop(self, timer_interval_secs: float, target: Callable, args: tuple | None = None,
             kwargs: dict | None = None) -> threading.Thread:
        """Starts a daemon thread calling `target(*args, **kwargs)` every `timer_interval_secs` until stop."""
        looper = _Looper(self._coord, timer_interval_secs, target=target, args=args, kwargs=kwargs)
        looper.start()
        return looper

    def stop(self, threads: list | None = None, close_summary_writer: bool = True,
             ignore_live_threads: bool = False) -> None:
        """Stops the services and joins every registered thread (re-raising what a thread reported)."""
        self._coord.request_stop()
        try:
            self._coord.join(threads, stop_grace_period_secs=self._stop_grace_secs,
                             ignore_live_threads=ignore_live_threads)
        finally:
            if close_summary_writer and self._summary_writer:
                self._summary_writer.add_session_log(_session_log("STOP"))
                self._summary_writer.close()
                self._graph_added_to_summary = False

    def request_stop(self, ex: BaseException | None = None) -> None:
        self._coord.request_stop(ex=ex)

    def should_stop(self) -> bool:
        return self._coord.should_stop()

    def stop_on_exception(self) -> Any:
        return self._coord.stop_on_exception()

    def wait_for_stop(self) -> None:
        self._coord.wait_for_stop()

    def summary_computed(self, sess: Any, summary: Any, global_step: Any = None) -> None:
        """Writes a summary computed by the caller (at the current global step by default).

        Raises:
            RuntimeError: there is no summary writer.
        """
        if not self._summary_writer:
            raise RuntimeError("Writing a summary requires a summary writer.")
        if global_step is None and self._global_step is not None:
            global_step = int(sess.run(self._global_step))
        self._summary_writer.add_summary(summary, global_step)

    @contextlib.contextmanager
    def managed_session(self, master: str = "", config: Any = None, start_standard_services: bool = True,
                        close_summary_writer: bool = True) -> Iterator[Any]:
        """A context manager giving a ready session; on exit stops the services and closes the session.

        An exception raised inside the block is reported to the coordinator and raised again by `stop()`
        (OutOfRangeError, the end of the input, is a clean stop and is not raised).
        """
        sess = None
        try:
            sess = self.prepare_or_wait_for_session(master=master, config=config,
                                                    start_standard_services=start_standard_services)
            yield sess
        except Exception as e:  # noqa: BLE001 - handed to the coordinator; stop() raises it again
            self.request_stop(e)
        finally:
            try:
                self.stop(close_summary_writer=close_summary_writer)
            finally:
                if sess is not None:
                    try:
                        sess.close()
                    except Exception:  # noqa: BLE001 - TF ignores errors from close() here
                        pass
