"""`tf.app`: `tf.app.run()` (parse flags, call `main(argv)`, exit) and `tf.app.flags` (the `tf.flags` module)."""

from __future__ import annotations

import sys
from typing import Any, Callable, Sequence

from labflow import flags
from labflow.flags import _in_ipython

__all__ = ["run", "flags"]


def _usage(argv0: str) -> str:
    doc = getattr(sys.modules.get("__main__"), "__doc__", None) or ""
    head = doc.strip() or f"USAGE: {argv0} [flags]"
    return f"{head}\n\nflags:\n{flags.FLAGS.get_help() or '  (none defined)'}"


def run(main: Callable[[list], Any] | None = None, argv: Sequence[str] | None = None) -> Any:
    """Parses the flags in `argv` (default sys.argv), calls `main(argv)` and exits with its return value.

    As TF 1.x: arguments that are not defined flags are left in the argv passed to `main` (argv[0] is
    the program); `--help`/`--helpfull` print the flags and exit; `main` defaults to `__main__.main`.
    In an IPython/Jupyter kernel, where `sys.exit` would only print a SystemExit traceback under the
    cell, `run` returns `main`'s result instead of exiting, and the kernel's own `-f file.json`
    arguments are never parsed as flags.

    A flag value that cannot be parsed, a missing required flag or a failed validator prints
    "FATAL Flags parsing error: <what, naming the flag>" and exits with status 1 (as absl); in IPython the
    `flags.Error` (IllegalFlagValueError, ValidationError) is raised instead.

    Raises:
        SystemExit: outside IPython, always (with main's return value as the exit status).
    """
    args = list(sys.argv if argv is None else argv) or ["labflow"]
    if any(a in ("--help", "-help", "--helpfull", "-?") for a in args[1:]) and "help" not in flags.FLAGS:
        print(_usage(args[0]))
        if _in_ipython():
            return None
        sys.exit(0)
    try:
        remaining = flags.FLAGS(args, known_only=True)
        flags.FLAGS.validate()
    except flags.Error as e:
        if _in_ipython():
            raise  # shown under the cell, with its traceback
        sys.stderr.write(f"FATAL Flags parsing error: {e}\nPass --help to see the flags.\n")
        sys.exit(1)
    main = main or sys.modules["__main__"].main
    result = main(remaining)
    if _in_ipython():
        return result
    sys.exit(result)
