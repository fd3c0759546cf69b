"""`tf.logging`: TF 1.x logging (info, warn, set_verbosity, log_every_n, ...) over the "labflow" logger.

As TF 1.x, the default verbosity is WARN (call `tf.logging.set_verbosity(tf.logging.INFO)` to see INFO
records), and when no logging is configured (neither the "labflow" logger nor the root logger has a
handler) the first record adds one handler printing `LEVEL:labflow:message` to the current sys.stderr
(read when each record is written, so a notebook shows it under the cell that logged it).
"""

from __future__ import annotations

import logging as _logging
import sys
import threading
from typing import Any

__all__ = [
    "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "TaskLevelStatusMessage", "debug", "error", "fatal", "flush",
    "get_logger", "get_verbosity", "info", "log", "log_every_n", "log_first_n", "log_if", "set_verbosity",
    "vlog", "warn", "warning",
]

DEBUG = _logging.DEBUG
INFO = _logging.INFO
WARN = _logging.WARN
ERROR = _logging.ERROR
FATAL = _logging.FATAL

_logger = _logging.getLogger("labflow")
_lock = threading.Lock()
_handler_checked = False
_counts: dict[tuple, int] = {}


class _CurrentStderrHandler(_logging.StreamHandler):
    """A StreamHandler that writes to whatever sys.stderr is when the record is emitted."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:  # StreamHandler.__init__ assigns it; the live one is always used
        pass


def get_logger() -> _logging.Logger:
    """The "labflow" logger, given a stderr handler the first time when logging is not configured."""
    global _handler_checked
    if not _handler_checked:
        with _lock:
            if not _handler_checked:
                if not _logger.handlers and not _logging.getLogger().handlers:
                    h = _CurrentStderrHandler()
                    h.setFormatter(_logging.Formatter(_logging.BASIC_FORMAT))
                    _logger.addHandler(h)
                _handler_checked = True
    return _logger


def log(level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
    """Logs `msg % args` at `level`."""
    kwargs.setdefault("stacklevel", 2)
    get_logger().log(level, msg, *args, **kwargs)


def debug(msg: Any, *args: Any, **kwargs: Any) -> None:
    kwargs.setdefault("stacklevel", 2)
    get_logger().debug(msg, *args, **kwargs)


def info(msg: Any, *args: Any, **kwargs: Any) -> None:
    kwargs.setdefault("stacklevel", 2)
    get_logger().info(msg, *args, **kwargs)


def warning(msg: Any, *args: Any, **kwargs: Any) -> None:
    kwargs.setdefault("stacklevel", 2)
    get_logger().warning(msg, *args, **kwargs)


warn = warning


def error(msg: Any, *args: Any, **kwargs: Any) -> None:
    kwargs.setdefault("stacklevel", 2)
    get_logger().error(msg, *args, **kwargs)


def fatal(msg: Any, *args: Any, **kwargs: Any) -> None:
    """Logs at FATAL (as TF 1.x, it only logs: the program goes on)."""
    kwargs.setdefault("stacklevel", 2)
    get_logger().fatal(msg, *args, **kwargs)


def vlog(level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
    """Logs at `level` (TF 1.x's verbose log is a plain log at that level)."""
    kwargs.setdefault("stacklevel", 2)
    get_logger().log(level, msg, *args, **kwargs)


def log_if(level: int, msg: Any, condition: Any, *args: Any) -> None:
    """Logs `msg % args` at `level` when `condition` holds."""
    if condition:
        get_logger().log(level, msg, *args, stacklevel=2)


def _next_count(depth: int = 2) -> int:
    """How many times the calling line (file, line) has asked before: the per-call-site counter."""
    f = sys._getframe(depth)
    key = (f.f_code.co_filename, f.f_lineno)
    with _lock:
        n = _counts.get(key, 0)
        _counts[key] = n + 1
    return n


def log_every_n(level: int, msg: Any, n: int, *args: Any) -> None:
    """Logs `msg % args` the 1st, (n+1)th, (2n+1)th... time this line runs."""
    if _next_count() % max(int(n), 1) == 0:
        get_logger().log(level, msg, *args, stacklevel=2)


def log_first_n(level: int, msg: Any, n: int, *args: Any) -> None:
    """Logs `msg % args` only the first `n` times this line runs."""
    if _next_count() < n:
        get_logger().log(level, msg, *args, stacklevel=2)


def TaskLevelStatusMessage(msg: Any) -> None:  # noqa: N802
    """Logs `msg` at ERROR (TF 1.x's status line)."""
    error(msg, stacklevel=3)


def flush() -> None:
    """Flushes the logger's handlers."""
    for h in get_logger().handlers:
        h.flush()


def get_verbosity() -> int:
    """The effective level of the "labflow" logger (WARN unless set)."""
    return get_logger().getEffectiveLevel()


def set_verbosity(v: int | str) -> None:
    """Shows records at level `v` and above (DEBUG, INFO, WARN, ERROR, FATAL, or their names)."""
    if isinstance(v, str):
        level = _logging.getLevelName(v.upper())
        if not isinstance(level, int):
            raise ValueError(f"Unknown verbosity {v!r}: use tf.logging.DEBUG, INFO, WARN, ERROR or FATAL")
        v = level
    get_logger().setLevel(v)
