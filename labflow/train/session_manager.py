"""`tf.train.SessionManager`: makes a ready-to-use session (restore or initialize; or wait for the chief).

Only the public Session API is used (`Session(target, graph, config)`, `run`, `close`), so the same code
prepares a local session (`target=''`) and one on a cluster (`grpc://...`), where a non-chief worker's
sessions see the variables the chief initialized on the parameter servers.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from typing import Any

import numpy as np

from labflow import errors
from labflow.framework.graph import get_default_graph

__all__ = ["SessionManager"]

_log = logging.getLogger("labflow")


def _maybe_name(obj: Any) -> str:
    if obj is None:
        return "None"
    return getattr(obj, "name", None) or f"<no name for {type(obj).__name__}>"


def _ready(op: Any, sess: Any, what: str) -> tuple[bool, str | None]:
    """(True, None) when `op` (a report of uninitialized variables) is empty, else (False, why)."""
    if op is None:
        return True, None
    try:
        value = sess.run(op)
    except errors.FailedPreconditionError as e:
        if "uninitialized" not in str(e) and "not initialized" not in str(e):
            _log.warning("%s: ready op raised: %s", what, e)
            raise
        return False, str(e)
    # An empty 1-D result means ready; int32 results too (TF's backward compatibility rule).
    if value is None or getattr(value, "dtype", None) == np.int32 or np.size(value) == 0:
        return True, None
    names = ", ".join(v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in np.ravel(value))
    return False, "Variables not initialized: " + names


class _CountDownTimer:
    def __init__(self, duration_secs: float):
        self._end = time.time() + duration_secs

    def secs_remaining(self) -> float:
        return max(0.0, self._end - time.time())


class SessionManager:
    """Creates sessions that are ready to use: restored from a checkpoint, initialized, or waited for.

    Args:
        local_init_op: run in every new session once `ready_for_local_init_op` is satisfied (local
            variables, tables).
        ready_op: a 1-D string tensor naming what is still uninitialized; empty means the model is ready.
        ready_for_local_init_op: like `ready_op`, checked before running `local_init_op`.
        graph: the graph the sessions run (the default graph).
        recovery_wait_secs: how long to sleep between checks while waiting for a checkpoint or the chief.
        local_init_run_options / local_init_feed_dict: passed with `local_init_op`.
    """

    def __init__(self, local_init_op: Any = None, ready_op: Any = None, ready_for_local_init_op: Any = None,
                 graph: Any = None, recovery_wait_secs: float = 30, local_init_run_options: Any = None,
                 local_init_feed_dict: dict | None = None):
        self._local_init_op = local_init_op
        self._ready_op = ready_op
        self._ready_for_local_init_op = ready_for_local_init_op
        self._graph = graph if graph is not None else get_default_graph()
        self._recovery_wait_secs = recovery_wait_secs
        self._target: str | None = None
        self._local_init_run_options = local_init_run_options
        self._local_init_feed_dict = local_init_feed_dict
        if ready_for_local_init_op is not None and local_init_op is None:
            raise ValueError("If you pass a ready_for_local_init_op you must also pass a local_init_op , "
                             f"ready_for_local_init_op [{ready_for_local_init_op}]")

    def _new_session(self, master: str, config: Any) -> Any:
        from labflow.runtime.session import Session
        return Session(master, graph=self._graph, config=config)

    def _restore_checkpoint(self, master: str, saver: Any = None, checkpoint_dir: str | None = None,
                            checkpoint_filename_with_path: str | None = None, wait_for_checkpoint: bool = False,
                            max_wait_secs: float = 7200, config: Any = None) -> tuple[Any, bool]:
        from labflow.train.saver import get_checkpoint_state
        if checkpoint_dir and checkpoint_filename_with_path:
            raise ValueError("Can not provide both checkpoint_dir and checkpoint_filename_with_path.")
        self._target = master
        sess = self._new_session(master, config)
        if not saver or not (checkpoint_dir or checkpoint_filename_with_path):
            return sess, False
        if checkpoint_filename_with_path:
            saver.restore(sess, checkpoint_filename_with_path)
            return sess, True
        waited = 0.0
        ckpt = get_checkpoint_state(checkpoint_dir)
        while not ckpt or not ckpt.model_checkpoint_path:
            if not (wait_for_checkpoint and waited < max_wait_secs):
                return sess, False
            _log.info("Waiting for checkpoint to be available.")
            time.sleep(self._recovery_wait_secs)
            waited += self._recovery_wait_secs
            ckpt = get_checkpoint_state(checkpoint_dir)
        _log.info("Restoring parameters from %s", ckpt.model_checkpoint_path)
        saver.restore(sess, ckpt.model_checkpoint_path)
        saver.recover_last_checkpoints(list(ckpt.all_model_checkpoint_paths))
        return sess, True

    def prepare_session(self, master: str, init_op: Any = None, saver: Any = None,
                        checkpoint_dir: str | None = None, checkpoint_filename_with_path: str | None = None,
                        wait_for_checkpoint: bool = False, max_wait_secs: float = 7200, config: Any = None,
                        init_feed_dict: dict | None = None, init_fn: Any = None) -> Any:
        """A session restored from the newest checkpoint in `checkpoint_dir`, or initialized (the chief's way).

        Raises:
            RuntimeError: nothing could initialize the model, or after initializing it is still not ready
                (names what is uninitialized).
        """
        sess, loaded = self._restore_checkpoint(master, saver, checkpoint_dir, checkpoint_filename_with_path,
                                                wait_for_checkpoint, max_wait_secs, config)
        try:
            if not loaded:
                if init_op is None and not init_fn and self._local_init_op is None:
                    raise RuntimeError("Model is not initialized and no init_op or init_fn or local_init_op was "
                                       "given")
                if init_op is not None:
                    sess.run(init_op, feed_dict=init_feed_dict)
                if init_fn:
                    init_fn(sess)
            ok, msg = self._try_run_local_init_op(sess)
            if not ok:
                raise RuntimeError(f"Init operations did not make model ready for local_init.  Init op: "
                                   f"{_maybe_name(init_op)}, init fn: {init_fn}, error: {msg}")
            ok, msg = self._model_ready(sess)
            if not ok:
                raise RuntimeError(f"Init operations did not make model ready.  Init op: {_maybe_name(init_op)}, "
                                   f"init fn: {init_fn}, local_init_op: {_maybe_name(self._local_init_op)}, "
                                   f"error: {msg}")
        except BaseException:
            _safe_close(sess)
            raise
        return sess

    def recover_session(self, master: str, saver: Any = None, checkpoint_dir: str | None = None,
                        checkpoint_filename_with_path: str | None = None, wait_for_checkpoint: bool = False,
                        max_wait_secs: float = 7200, config: Any = None) -> tuple[Any, bool]:
        """(session, True) when restoring a checkpoint made the model ready, else (session, False)."""
        sess, loaded = self._restore_checkpoint(master, saver, checkpoint_dir, checkpoint_filename_with_path,
                                                wait_for_checkpoint, max_wait_secs, config)
        local_ok, msg = self._try_run_local_init_op(sess)
        if not loaded:
            return sess, False
        source = checkpoint_dir or checkpoint_filename_with_path
        if not local_ok:
            _log.info("Restoring model from %s did not make model ready for local init: %s", source, msg)
            return sess, False
        ready, msg = self._model_ready(sess)
        if not ready:
            _log.info("Restoring model from %s did not make model ready: %s", source, msg)
            return sess, False
        _log.info("Restored model from %s", source)
        return sess, True

    def wait_for_session(self, master: str, config: Any = None, max_wait_secs: float = float("Inf")) -> Any:
        """A session once the model is ready (initialized by the chief), polling every `recovery_wait_secs`.

        Raises:
            DeadlineExceededError: the model was still not ready after `max_wait_secs` (says what is not
                initialized).
        """
        self._target = master
        if max_wait_secs is None:
            max_wait_secs = float("Inf")
        timer = _CountDownTimer(max_wait_secs)
        # TF sleeps recovery_wait_secs (30 s) between polls, so a worker that starts a moment before the
        # chief idles for half a minute; labflow backs off from 0.25 s up to recovery_wait_secs instead.
        wait = min(0.25, self._recovery_wait_secs)
        while True:
            sess = self._new_session(master, config)
            not_ready_msg = None
            try:
                local_ok, not_ready_local_msg = self._try_run_local_init_op(sess)
                if local_ok:
                    ready, not_ready_msg = self._model_ready(sess)
                    if ready:
                        return sess
            except BaseException:
                _safe_close(sess)
                raise
            _safe_close(sess)
            if timer.secs_remaining() - wait < 0:
                raise errors.DeadlineExceededError(
                    None, None, f"Session was not ready after waiting {max_wait_secs} secs. The chief worker must "
                    "initialize (or restore) the model first; is it running? Ready_for_local_init_op: "
                    f"{not_ready_local_msg}, ready: {not_ready_msg}")
            _log.info("Waiting for model to be ready.  Ready_for_local_init_op:  %s, ready: %s",
                      not_ready_local_msg, not_ready_msg)
            time.sleep(wait)
            wait = min(2 * wait, self._recovery_wait_secs)

    def _model_ready(self, sess: Any) -> tuple[bool, str | None]:
        return _ready(self._ready_op, sess, "Model not ready")

    def _model_ready_for_local_init(self, sess: Any) -> tuple[bool, str | None]:
        return _ready(self._ready_for_local_init_op, sess, "Model not ready for local init")

    def _try_run_local_init_op(self, sess: Any) -> tuple[bool, str | None]:
        if self._local_init_op is None:
            return True, None
        ok, msg = self._model_ready_for_local_init(sess)
        if not ok:
            return False, msg
        _log.info("Running local_init_op.")
        sess.run(self._local_init_op, feed_dict=self._local_init_feed_dict, options=self._local_init_run_options)
        _log.info("Done running local_init_op.")
        return True, None


def _safe_close(sess: Any) -> None:
    try:
        sess.close()
    except Exception:  # noqa: BLE001 - closing a half-made session must not hide why it was closed
        pass


# -- Coordinator: the queue helper's tf.train.Coordinator when present, else a small stand-in ---------------
def coordinator_class() -> type:
    """`labflow.train.coordinator.Coordinator` when that module exists, else `_MiniCoordinator`."""
    try:
        return importlib.import_module("labflow.train.coordinator").Coordinator
    except (ImportError, AttributeError):
        return _MiniCoordinator


def start_queue_runners(sess: Any, coord: Any, graph: Any, daemon: bool = True) -> list:
    """Starts the graph's QUEUE_RUNNERS under `coord` (nothing when the queue module is not available)."""
    from labflow.framework.graph import GraphKeys
    runners = graph.get_collection(GraphKeys.QUEUE_RUNNERS)
    if not runners:
        return []
    try:
        importlib.import_module("labflow.train.coordinator")
    except ImportError:
        _log.warning("The graph has queue runners but labflow.train.coordinator is not available: not started.")
        return []
    threads = []
    for qr in runners:
        threads.extend(qr.create_threads(sess, coord=coord, daemon=daemon, start=True))
    return threads


class _MiniCoordinator:
    """The part of `tf.train.Coordinator` the monitored sessions and the Supervisor use."""

    def __init__(self, clean_stop_exception_types: tuple | list | None = None):
        if clean_stop_exception_types is None:
            clean_stop_exception_types = (errors.OutOfRangeError,)
        self._clean = tuple(clean_stop_exception_types)
        self._lock = threading.Lock()
        self._stop_event = threading.Event()
        self._exc_info: BaseException | None = None
        self._threads: set = set()
        self._joined = False

    def request_stop(self, ex: BaseException | None = None) -> None:
        with self._lock:
            if ex is not None and not isinstance(ex, self._clean) and self._exc_info is None:
                self._exc_info = ex[1] if isinstance(ex, tuple) else ex
            self._stop_event.set()

    def clear_stop(self) -> None:
        with self._lock:
            self._joined = False
            self._exc_info = None
            self._stop_event.clear()

    def should_stop(self) -> bool:
        return self._stop_event.is_set()

    def wait_for_stop(self, timeout: float | None = None) -> bool:
        return self._stop_event.wait(timeout)

    def stop_on_exception(self) -> Any:
        coord = self

        class _Ctx:
            def __enter__(self) -> None:
                return None

            def __exit__(self, et: Any, ev: Any, tb: Any) -> bool:
                if ev is not None:
                    coord.request_stop(ev)
                return True
        return _Ctx()

    def register_thread(self, thread: threading.Thread) -> None:
        with self._lock:
            self._threads.add(thread)

    def raise_requested_exception(self) -> None:
        with self._lock:
            if self._exc_info is not None:
                raise self._exc_info

    @property
    def joined(self) -> bool:
        return self._joined

    def join(self, threads: list | None = None, stop_grace_period_secs: float = 120,
             ignore_live_threads: bool = False) -> None:
        with self._lock:
            threads = set(self._threads) | set(threads or ())
        self._stop_event.wait()
        deadline = time.time() + stop_grace_period_secs
        for t in threads:
            t.join(max(0.0, deadline - time.time()))
        alive = [t.name for t in threads if t.is_alive()]
        with self._lock:
            self._joined = True
            self._threads = set()
            if self._exc_info is not None:
                raise self._exc_info
        if alive and not ignore_live_threads:
            raise RuntimeError(f"Coordinator stopped with threads still running: {' '.join(alive)}")
