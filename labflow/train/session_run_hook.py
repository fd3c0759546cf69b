"""`tf.train.SessionRunHook` and the objects a hook sees around each `MonitoredSession.run` call.

A hook's life: `begin()` (the graph may still change), `after_create_session(session, coord)` (the graph
is finalized, the session initialized), then per step `before_run(run_context)` -> optional
`SessionRunArgs` whose fetches/feeds are merged into the user's call, and
`after_run(run_context, run_values)` with the results of those extra fetches, and finally
`end(session)` when the monitored session is closed without an error.
"""

from __future__ import annotations

import collections
from typing import Any

__all__ = ["SessionRunHook", "SessionRunArgs", "SessionRunContext", "SessionRunValues"]


class SessionRunHook:
    """Hook to extend calls to `MonitoredSession.run()`; every method is a no-op by default."""

    def begin(self) -> None:
        """Called once before the session is created; the hook may still add ops to the graph."""

    def after_create_session(self, session: Any, coord: Any) -> None:
        """Called once the session exists and is initialized (also after a recovery re-creates it)."""

    def before_run(self, run_context: SessionRunContext) -> SessionRunArgs | None:
        """Called before each `run()`; returns `SessionRunArgs` to add fetches/feeds, or None."""
        return None

    def after_run(self, run_context: SessionRunContext, run_values: SessionRunValues) -> None:
        """Called after each successful `run()` with the results of the fetches `before_run` asked for."""

    def end(self, session: Any) -> None:
        """Called at the end of the session (not when it ends with an exception other than OutOfRange)."""


class SessionRunArgs(collections.namedtuple("SessionRunArgs", ["fetches", "feed_dict", "options"])):
    """What a hook adds to a `run()` call: `fetches` (any nesting), `feed_dict` and `RunOptions`."""

    __slots__ = ()

    def __new__(cls, fetches: Any, feed_dict: dict | None = None, options: Any = None):
        return super().__new__(cls, fetches, feed_dict, options)


class SessionRunValues(collections.namedtuple("SessionRunValues", ["results", "options", "run_metadata"])):
    """What a hook gets back: `results` for its `SessionRunArgs.fetches`, the options and run metadata."""

    __slots__ = ()


class SessionRunContext:
    """The call a hook is looking at (`original_args`, `session`), and a way to ask training to stop."""

    def __init__(self, original_args: SessionRunArgs, session: Any):
        self._original_args = original_args
        self._session = session
        self._stop_requested = False

    @property
    def original_args(self) -> SessionRunArgs:
        """The `SessionRunArgs` of the user's `run()` call (before hooks added theirs)."""
        return self._original_args

    @property
    def session(self) -> Any:
        """The raw session; a hook must not call `run` on it from `before_run`/`after_run` hot paths."""
        return self._session

    @property
    def stop_requested(self) -> bool:
        """Whether some hook called `request_stop()` during this call."""
        return self._stop_requested

    def request_stop(self) -> None:
        """Asks the monitored session to stop: its `should_stop()` becomes True after this call."""
        self._stop_requested = True
