"""The layers under a `MonitoredSession`: TF's _RecoverableSession -> _CoordinatedSession -> _HookedSession.

`_HookedSession` merges the hooks' fetches, feeds and options into each `run`; `_CoordinatedSession` stops
with its coordinator and joins its threads on close; `_RecoverableSession` closes and re-creates the session
after an `UnavailableError`/`AbortedError` (a preempted worker or parameter server) and retries the step.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from labflow import errors
from labflow.train.session_run_hook import SessionRunArgs, SessionRunContext, SessionRunValues

_log = logging.getLogger("labflow")

PREEMPTION_ERRORS = (errors.AbortedError, errors.UnavailableError)


class _WrappedSession:
    def __init__(self, sess: Any):
        self._sess = sess

    @property
    def graph(self) -> Any:
        return self._sess.graph

    def _check_stop(self) -> bool:
        return False

    def should_stop(self) -> bool:
        if self._check_stop():
            return True
        if self._sess is not None:
            return isinstance(self._sess, _WrappedSession) and self._sess.should_stop()
        return True

    def close(self) -> None:
        if self._sess is not None:
            try:
                self._sess.close()
            except PREEMPTION_ERRORS as e:
                _log.error("An error occurred when attempting to close the session. This may be due to a "
                           "preemption in a connected worker or parameter server. Error: %s", e)
            finally:
                self._sess = None

    def run(self, *args: Any, **kwargs: Any) -> Any:
        return self._sess.run(*args, **kwargs)

    def run_step_fn(self, step_fn: Callable, raw_session: Any, run_with_hooks: Callable | None) -> Any:
        run_with_hooks = run_with_hooks or self.run
        return step_fn(_StepContext(raw_session, run_with_hooks))


class _HookedSession(_WrappedSession):
    """Calls the hooks around every run, merging their fetches, feeds and options into the call."""

    def __init__(self, sess: Any, hooks: list):
        super().__init__(sess)
        self._hooks = hooks
        self._should_stop = False

    def _check_stop(self) -> bool:
        return self._should_stop

    def run(self, fetches: Any, feed_dict: dict | None = None, options: Any = None, run_metadata: Any = None) -> Any:
        from labflow.framework.protos.config_pb2 import RunMetadata, RunOptions
        if self._should_stop:
            raise RuntimeError("Run called even after should_stop requested.")
        actual_fetches: dict = {"caller": fetches}
        run_context = SessionRunContext(original_args=SessionRunArgs(fetches, feed_dict), session=self._sess)
        options = options if options is not None else RunOptions()
        feed_dict = self._call_hook_before_run(run_context, actual_fetches, feed_dict, options)
        run_metadata = run_metadata if run_metadata is not None else RunMetadata()
        # Default options go down as None: the session then skips option handling (and `sess.trace()` works).
        outputs = self._sess.run(actual_fetches, feed_dict=feed_dict,
                                 options=options if options.ByteSize() else None, run_metadata=run_metadata)
        for hook in self._hooks:
            hook.after_run(run_context, SessionRunValues(results=outputs.get(hook), options=options,
                                                         run_metadata=run_metadata))
        self._should_stop = self._should_stop or run_context.stop_requested
        return outputs["caller"]

    def _call_hook_before_run(self, run_context: SessionRunContext, fetch_dict: dict, user_feed_dict: dict | None,
                              options: Any) -> dict | None:
        hook_feeds: dict = {}
        for hook in self._hooks:
            request = hook.before_run(run_context)
            if request is None:
                continue
            if request.fetches is not None:
                fetch_dict[hook] = request.fetches
            if request.feed_dict:
                _raise_if_feeds_intersect(hook_feeds, request.feed_dict, "Same tensor is fed by two hooks.")
                hook_feeds.update(request.feed_dict)
            if request.options:
                _merge_run_options(options, request.options)
        if not hook_feeds:
            return user_feed_dict
        if not user_feed_dict:
            return hook_feeds
        _raise_if_feeds_intersect(user_feed_dict, hook_feeds, "Same tensor is fed by a SessionRunHook and user.")
        hook_feeds.update(user_feed_dict)
        return hook_feeds


def _raise_if_feeds_intersect(a: dict, b: dict, message: str) -> None:
    both = set(a) & set(b)
    if both:
        raise RuntimeError(f"{message} Conflict(s): {sorted(getattr(t, 'name', str(t)) for t in both)}")


def _merge_run_options(options: Any, incoming: Any) -> None:
    options.trace_level = max(options.trace_level, incoming.trace_level)
    options.timeout_in_ms = max(options.timeout_in_ms, incoming.timeout_in_ms)
    options.inter_op_thread_pool = max(options.inter_op_thread_pool, incoming.inter_op_thread_pool)
    options.output_partition_graphs = options.output_partition_graphs or incoming.output_partition_graphs


class _CoordinatedSession(_WrappedSession):
    """Stops when the coordinator says so; closing stops and joins the coordinator's threads."""

    def __init__(self, sess: _HookedSession, coord: Any, stop_grace_period_secs: float = 120):
        super().__init__(sess)
        self._coord = coord
        self._stop_grace_period_secs = stop_grace_period_secs

    def _check_stop(self) -> bool:
        self._coord.raise_requested_exception()  # a queue-runner failure surfaces here, as in TF
        return self._coord.should_stop()

    def close(self) -> None:
        self._coord.request_stop()
        try:
            # A queue runner blocked inside a step (SyncReplicasOptimizer's chief waiting in take_grad for
            # gradients that will never come) cannot see the stop request. TF waited out the whole grace
            # period (120 s) here; labflow gives threads a moment, then closes the session, which cancels
            # the blocked step so the thread ends at once.
            threads = list(getattr(self._coord, "_registered_threads", ()))
            deadline = time.monotonic() + min(1.0, self._stop_grace_period_secs)
            for t in threads:
                t.join(max(0.0, deadline - time.monotonic()))
            if any(t.is_alive() for t in threads):
                try:
                    super().close()
                except Exception:  # noqa: BLE001 - closed again below; errors ignored as in TF
                    pass
            self._coord.join(stop_grace_period_secs=self._stop_grace_period_secs, ignore_live_threads=True)
        finally:
            try:
                super().close()
            except Exception:  # noqa: BLE001 - TF ignores errors when closing a coordinated session
                pass

    def run(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return self._sess.run(*args, **kwargs)
        except PREEMPTION_ERRORS:
            raise
        except Exception as original:
            # A failure here may have been caused by a preemption a coordinated thread reported: raise that.
            try:
                self._coord.raise_requested_exception()
            except PREEMPTION_ERRORS:
                raise
            except Exception:  # noqa: BLE001 - the original error is the one to report
                raise original from None
            raise

    def run_step_fn(self, step_fn: Callable, raw_session: Any, run_with_hooks: Callable | None) -> Any:
        try:
            return super().run_step_fn(step_fn, raw_session, run_with_hooks)
        except StopIteration:
            self._sess._should_stop = True
            return None


class _RecoverableSession(_WrappedSession):
    """Re-creates the session (through the creator: the chief restores the checkpoint) after a preemption."""

    def __init__(self, sess_creator: Any):
        self._sess_creator = sess_creator
        super().__init__(self._create_session())

    def _create_session(self) -> Any:
        while True:
            try:
                return self._sess_creator.create_session()
            except PREEMPTION_ERRORS as e:
                _log.warning("An error was raised while a session was being created. This may be due to a "
                             "preemption of a connected worker or parameter server. A new session will be "
                             "created. Error: %s", e)

    def _check_stop(self) -> bool:
        try:
            return self._sess._check_stop() if self._sess is not None else True
        except PREEMPTION_ERRORS as e:
            _log.warning("An error was raised while considering whether the session is complete. This may be "
                         "due to a preemption in a connected worker or parameter server. The current session "
                         "will be closed and a new session will be created. Error: %s", e)
            self.close()
            self._sess = self._create_session()
            return False
        except Exception:  # noqa: BLE001 - should_stop() answers True rather than raising (TF's rule)
            return True

    def run(self, fetches: Any, feed_dict: dict | None = None, options: Any = None, run_metadata: Any = None) -> Any:
        while True:
            try:
                if self._sess is None:
                    self._sess = self._create_session()
                return self._sess.run(fetches, feed_dict=feed_dict, options=options, run_metadata=run_metadata)
            except PREEMPTION_ERRORS as e:
                _log.warning("An error was raised. This may be due to a preemption in a connected worker or "
                             "parameter server. The current session will be closed and a new session will be "
                             "created (the chief restores the latest checkpoint), then the step is retried. "
                             "Error: %s", e)
                self.close()
                self._sess = None

    def run_step_fn(self, step_fn: Callable, raw_session: Any, run_with_hooks: Callable | None) -> Any:
        while True:
            try:
                if self._sess is None:
                    self._sess = self._create_session()
                return self._sess.run_step_fn(step_fn, self._sess_creator.tf_sess, run_with_hooks=None)
            except PREEMPTION_ERRORS as e:
                _log.warning("An error was raised. The current session will be closed and a new session will be "
                             "created; the step_fn is called again. Error: %s", e)
                self.close()
                self._sess = None


class _StepContext:
    """What `run_step_fn` hands the step function: the raw session and a way to run with hooks."""

    def __init__(self, session: Any, run_with_hooks_fn: Callable):
        self._session = session
        self._run_with_hooks_fn = run_with_hooks_fn

    @property
    def session(self) -> Any:
        return self._session

    def run_with_hooks(self, *args: Any, **kwargs: Any) -> Any:
        return self._run_with_hooks_fn(*args, **kwargs)

    def request_stop(self) -> None:
        """Stops training after this step_fn (raises StopIteration, which `run_step_fn` turns into a stop)."""
        raise StopIteration("step_fn has requested the iterations to stop.")
