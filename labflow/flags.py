"""`tf.flags` / `tf.app.flags`: TF 1.x command-line flags (DEFINE_string, ..., FLAGS), with no absl dependency.

Flags are defined at import time and parsed on first read of `FLAGS.<name>` (unknown arguments ignored, as
TF 1.x does) or by `tf.app.run()`. Notebook-friendly where absl is not:

* re-running a cell that re-defines a flag with the same definition is a no-op (the flag keeps its value);
  a definition that differs (an edited cell) replaces the old one and resets its value to the new default,
  logging a warning. Outside IPython a differing re-definition raises `DuplicateFlagError`;
* the kernel's own arguments (`-f .../kernel-XXXX.json`) are never parsed as flags.

`--flagfile=PATH` reads more arguments from a file (one per line, `#` comments), as absl does.
"""

from __future__ import annotations

import difflib
import logging as _logging
import os
import sys
from typing import Any, Callable, Sequence

__all__ = [
    "FLAGS", "FlagValues", "Flag", "Error", "UnrecognizedFlagError", "IllegalFlagValueError",
    "DuplicateFlagError", "ValidationError", "UnparsedFlagAccessError",
    "DEFINE_string", "DEFINE_integer", "DEFINE_float", "DEFINE_boolean", "DEFINE_bool", "DEFINE_list",
    "DEFINE_enum", "DEFINE_multi_string", "DEFINE_multi_integer", "DEFINE_multi_float",
    "mark_flag_as_required", "mark_flags_as_required", "register_validator",
]

_log = _logging.getLogger("labflow")


class Error(Exception):
    """The base class of flag errors (absl's `flags.Error`)."""


class UnrecognizedFlagError(Error):
    """An argument names a flag that was never defined."""


class IllegalFlagValueError(Error):
    """A flag's value cannot be parsed or is out of its bounds."""


class DuplicateFlagError(Error):
    """A flag was defined twice with different definitions."""


class ValidationError(Error):
    """A validator or a required flag failed."""


class UnparsedFlagAccessError(Error):
    """Kept for absl compatibility: labflow parses on first access instead of raising it."""


_TRUE = ("true", "t", "1", "yes", "y")
_FALSE = ("false", "f", "0", "no", "n")


class Flag:
    """One defined flag: its name, parser, default and current value.

    Attributes:
        name: the flag name (`--name`).
        default: the default value (parsed).
        help: the help text.
        value: the current value.
        present: how many times it was given on the command line.
        flag_type: "string", "integer", "float", "bool", "list", "enum", "multi_string", ...
    """

    def __init__(self, name: str, default: Any, help: str, flag_type: str, parse: Callable[[str], Any],  # noqa: A002
                 multi: bool = False, extra: tuple = (), site: str = ""):
        self.name = name
        self.help = help
        self.flag_type = flag_type
        self._parse_one = parse
        self.multi = multi
        self.extra = extra
        self.site = site
        self.short_name: str | None = None
        self.default = self._parse_default(default)
        self.value = self.default
        self.present = 0

    def _parse_default(self, default: Any) -> Any:
        if default is None:
            return None
        try:
            if self.multi:
                items = [default] if isinstance(default, (str, int, float)) else list(default)
                return [self._parse_one(x) if isinstance(x, str) else self._parse_one(str(x)) for x in items]
            return self.parse(default) if isinstance(default, str) else self._check(default)
        except IllegalFlagValueError as e:
            raise IllegalFlagValueError(f"flag --{self.name}: bad default value {default!r}: {e}") from None

    def _check(self, value: Any) -> Any:
        """Validates a non-string default (a number, a bool, a list) with the same parser."""
        if self.flag_type == "list":
            return list(value)
        return self._parse_one(str(value).lower() if isinstance(value, bool) else str(value))

    def parse(self, argument: str) -> Any:
        return self._parse_one(argument)

    def set_from_argument(self, argument: str) -> None:
        try:
            v = self._parse_one(argument)
        except IllegalFlagValueError as e:
            raise IllegalFlagValueError(f"flag --{self.name}={argument}: {e}") from None
        if self.multi:
            self.value = ([] if not self.present else list(self.value)) + [v]
        else:
            self.value = v
        self.present += 1

    def signature(self) -> tuple:
        """What makes two definitions "the same" (a re-run notebook cell)."""
        return (self.flag_type, self.default, self.help, self.multi, self.extra, self.short_name)

    def __repr__(self) -> str:
        return f"<Flag --{self.name}={self.value!r} ({self.flag_type})>"


def _parse_bool(s: str) -> bool:
    v = s.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise IllegalFlagValueError(f"Non-boolean argument to boolean flag: {s!r} (use true/false, 1/0)")


def _to_int(s: str) -> int:
    t = s.strip().lower().lstrip("+-")
    base = 16 if t.startswith("0x") else 8 if t.startswith("0o") else 2 if t.startswith("0b") else 10
    return int(s.strip(), base)


def _number(kind: type, lower: Any, upper: Any) -> Callable[[str], Any]:
    def parse(s: str) -> Any:
        try:
            v = _to_int(s) if kind is int else kind(s)
        except (TypeError, ValueError):
            raise IllegalFlagValueError(f"could not parse {s!r} as {'an integer' if kind is int else 'a float'}") \
                from None
        if (lower is not None and v < lower) or (upper is not None and v > upper):
            bound = " and ".join(x for x in (f">= {lower}" if lower is not None else "",
                                             f"<= {upper}" if upper is not None else "") if x)
            raise IllegalFlagValueError(f"{v} is out of range: the value must be {bound}")
        return v
    return parse


def _in_ipython() -> bool:
    shell = sys.modules.get("IPython")
    try:
        return shell is not None and shell.get_ipython() is not None
    except Exception:  # noqa: BLE001 - an IPython that cannot answer is not a running shell
        return False


def _caller_site() -> str:
    f = sys._getframe(1)
    here = os.path.abspath(__file__)
    while f is not None and os.path.abspath(f.f_code.co_filename) == here:
        f = f.f_back
    return f"{f.f_code.co_filename}:{f.f_lineno}" if f is not None else "?"


def strip_kernel_args(argv: Sequence[str]) -> list[str]:
    """argv without a Jupyter kernel's connection-file arguments (`-f x.json`, `--f=x.json`)."""
    out, skip = [], False
    for i, a in enumerate(argv):
        if skip:
            skip = False
            continue
        if i and a in ("-f", "--f") and i + 1 < len(argv) and argv[i + 1].endswith(".json"):
            skip = True
            continue
        if i and (a.startswith("--f=") or a.startswith("-f=")) and a.endswith(".json"):
            continue
        out.append(a)
    return out


def _read_flagfile(path: str, depth: int) -> list[str]:
    """The arguments in a flag file (absl's --flagfile): one per line; blank lines and # comments skipped."""
    if depth >= 10:
        raise IllegalFlagValueError(f"flag --flagfile={path}: flag files nest more than 10 deep (a cycle?)")
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise IllegalFlagValueError(f"flag --flagfile={path}: cannot read it ({e.strerror or e})") from None
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith(("#", "//"))]


class FlagValues:
    """The registry of defined flags (`tf.flags.FLAGS` is the global one).

    Read a value as `FLAGS.name` (parses `sys.argv` on first read), set one as `FLAGS.name = value`, parse
    explicitly with `FLAGS(argv)`.
    """

    def __init__(self) -> None:
        self.__dict__["_flags"] = {}
        self.__dict__["_parsed"] = False
        self.__dict__["_validators"] = []
        self.__dict__["_required"] = []
        self.__dict__["_short"] = {}

    # -- definition -----------------------------------------------------------------------------------
    def _define(self, flag: Flag, allow_override: bool = False) -> Flag:
        old = self._flags.get(flag.name)
        if flag.short_name:
            owner = self._short.get(flag.short_name)
            if owner not in (None, flag.name) or flag.short_name in self._flags:
                raise DuplicateFlagError(f"The short name '-{flag.short_name}' of flag '{flag.name}' is already used "
                                         f"by flag '{owner or flag.short_name}'")
        if old is not None:
            if old.signature() == flag.signature():
                return old  # a re-run cell: keep the flag and whatever value it has
            if allow_override:
                pass
            elif not _in_ipython():
                raise DuplicateFlagError(
                    f"The flag '{flag.name}' is defined twice: first at {old.site}, again at {flag.site} with "
                    "a different definition. Give one of them another name.")
            _log.warning("Flag --%s re-defined (was %s, defined at %s): the new definition replaces it and its "
                         "value is reset to the new default %r", flag.name, old.signature()[:3], old.site,
                         flag.default)
        if old is not None:
            self._short.pop(old.short_name, None)
        self._flags[flag.name] = flag
        if flag.short_name:
            self._short[flag.short_name] = flag.name
        return flag

    # -- parsing ----------------------------------------------------------------------------------------
    def __call__(self, argv: Sequence[str], known_only: bool = False) -> list[str]:
        """Parses `argv` (argv[0] is the program name); returns argv[0] plus the arguments not consumed.

        Raises:
            UnrecognizedFlagError: an argument names no defined flag (unless `known_only`).
            IllegalFlagValueError: a value cannot be parsed, naming the flag.
        """
        if isinstance(argv, str):
            raise TypeError("FLAGS(argv) takes a list of arguments (argv[0] is the program), not a string")
        argv = strip_kernel_args(list(argv))
        if not argv:
            raise ValueError("FLAGS(argv) needs at least the program name in argv[0]")
        rest = self._parse_args(argv[1:], known_only)
        self.__dict__["_parsed"] = True
        return [argv[0]] + rest

    def _parse_args(self, args: list[str], known_only: bool, depth: int = 0) -> list[str]:
        rest: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            i += 1
            if arg == "--":
                rest.extend(args[i:])
                break
            if not arg.startswith("-") or arg == "-":
                rest.append(arg)
                continue
            body = arg.lstrip("-")
            name, eq, value = body.partition("=")
            if name == "flagfile" and name not in self._flags:
                if not eq:
                    if i >= len(args):
                        raise IllegalFlagValueError("flag --flagfile: a file name is required (--flagfile=PATH)")
                    value, i = args[i], i + 1
                rest.extend(self._parse_args(_read_flagfile(value, depth), known_only, depth + 1))
                continue
            flag = self._flags.get(name) or self._flags.get(self._short.get(name, ""))
            if flag is None and not eq and name.startswith("no"):
                neg = self._flags.get(name[2:])
                if neg is not None and neg.flag_type == "bool":
                    neg.set_from_argument("false")
                    continue
            if flag is None:
                if known_only:
                    rest.append(arg)
                    continue
                close = difflib.get_close_matches(name, list(self._flags), n=3)
                hint = f" Did you mean: {', '.join(close)}?" if close else ""
                raise UnrecognizedFlagError(f"Unknown command line flag '{name}'.{hint}")
            if not eq:
                if flag.flag_type == "bool":
                    value = "true"
                elif i < len(args):
                    value = args[i]
                    i += 1
                else:
                    raise IllegalFlagValueError(f"flag --{name}: a value is required (--{name}=VALUE)")
            flag.set_from_argument(value)
        return rest

    def _parse_lazily(self) -> None:
        """TF 1.x's implicit parse on first read: only known flags, unknown arguments are left alone."""
        self(sys.argv if sys.argv and sys.argv[0] != "" else ["labflow"], known_only=True)

    def validate(self) -> None:
        """Runs required-flag checks and validators; raises ValidationError naming the flag."""
        for name in self._required:
            if self._flags[name].value is None:
                raise ValidationError(f"flag --{name} must have a value other than None (it is required)")
        for names, check, message in self._validators:
            values = {n: self._flags[n].value for n in names}
            ok = check(values[names[0]]) if len(names) == 1 else check(values)
            if not ok:
                raise ValidationError(f"flag {', '.join('--' + n for n in names)}: {message}")

    def is_parsed(self) -> bool:
        return self._parsed

    def mark_as_parsed(self) -> None:
        self.__dict__["_parsed"] = True

    def unparse_flags(self) -> None:
        """Resets every flag to its default and marks the flags unparsed."""
        for f in self._flags.values():
            f.value, f.present = f.default, 0
        self.__dict__["_parsed"] = False

    def _parse_flags(self, args: Sequence[str] | None = None) -> list[str]:
        """TF <= 1.4's private parse (still called by old scripts): known flags of `args` or sys.argv."""
        return self(list(args) if args is not None else sys.argv, known_only=True)

    # -- access ---------------------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        if name == "__flags":  # TF <= 1.4 code reads FLAGS.__flags (a dict of values)
            return self.flag_values_dict()
        if name.startswith("__"):
            raise AttributeError(name)
        flags = self.__dict__["_flags"]
        if name not in flags:
            close = difflib.get_close_matches(name, list(flags), n=3)
            hint = f" Did you mean: {', '.join(close)}?" if close else " Define it with tf.flags.DEFINE_*."
            raise AttributeError(f"Unknown flag '{name}'.{hint}")
        if not self._parsed:
            self._parse_lazily()
        return flags[name].value

    def __setattr__(self, name: str, value: Any) -> None:
        flag = self._flags.get(name)
        if flag is None:
            raise AttributeError(f"Unknown flag '{name}': define it before setting it")
        flag.value = value

    def __delattr__(self, name: str) -> None:
        if name not in self._flags:
            raise AttributeError(f"Unknown flag '{name}'")
        flag = self._flags.pop(name)
        self._short.pop(flag.short_name, None)

    def __getitem__(self, name: str) -> Flag:
        return self._flags[name]

    def __contains__(self, name: str) -> bool:
        return name in self._flags

    def __iter__(self):
        return iter(self._flags)

    def __len__(self) -> int:
        return len(self._flags)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._flags))

    def flag_values_dict(self) -> dict[str, Any]:
        """{name: value} for every defined flag."""
        return {n: f.value for n, f in self._flags.items()}

    def get_flag_value(self, name: str, default: Any) -> Any:
        return self._flags[name].value if name in self._flags else default

    def set_default(self, name: str, value: Any) -> None:
        """Changes a flag's default (and its value when it was not given on the command line)."""
        f = self._flags[name]
        f.default = f._parse_default(value)
        if not f.present:
            f.value = f.default

    def get_help(self) -> str:
        lines = []
        for n in sorted(self._flags):
            f = self._flags[n]
            lines.append(f"  --{n}: {f.help}\n    (default: {f.default!r})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<FlagValues: {len(self._flags)} flags{'' if self._parsed else ', unparsed'}>"


FLAGS = FlagValues()


_ACCEPTED = ("short_name", "allow_override", "module_name")


def _define(name: str, default: Any, help: str, flag_type: str, parse: Callable, flag_values: FlagValues | None,  # noqa: A002
            multi: bool = False, extra: tuple = (), **kwargs: Any) -> Flag:
    if not isinstance(name, str) or not name or name.startswith("-") or "=" in name:
        raise ValueError(f"Bad flag name {name!r}: use a name like 'learning_rate' (no dashes, no '=')")
    unknown = sorted(set(kwargs) - set(_ACCEPTED))
    if unknown:
        raise TypeError(f"DEFINE_* got unexpected keyword argument(s) {unknown} for flag '{name}' (labflow accepts "
                        f"{', '.join(_ACCEPTED)})")
    fv = FLAGS if flag_values is None else flag_values
    flag = Flag(name, default, help or "", flag_type, parse, multi, extra, _caller_site())
    flag.short_name = kwargs.get("short_name")
    return fv._define(flag, allow_override=bool(kwargs.get("allow_override")))


def DEFINE_string(name: str, default: str | None, help: str, flag_values: FlagValues | None = None,  # noqa: N802,A002
                  **kwargs: Any) -> Flag:
    """Defines a string flag `--name=value`."""
    return _define(name, default, help, "string", str, flag_values, **kwargs)


def DEFINE_integer(name: str, default: int | None, help: str, lower_bound: int | None = None,  # noqa: N802,A002
                   upper_bound: int | None = None, flag_values: FlagValues | None = None, **kwargs: Any) -> Flag:
    """Defines an integer flag, optionally bounded (`lower_bound <= value <= upper_bound`)."""
    return _define(name, default, help, "integer", _number(int, lower_bound, upper_bound), flag_values,
                   extra=(lower_bound, upper_bound), **kwargs)


def DEFINE_float(name: str, default: float | None, help: str, lower_bound: float | None = None,  # noqa: N802,A002
                 upper_bound: float | None = None, flag_values: FlagValues | None = None, **kwargs: Any) -> Flag:
    """Defines a float flag, optionally bounded."""
    return _define(name, default, help, "float", _number(float, lower_bound, upper_bound), flag_values,
                   extra=(lower_bound, upper_bound), **kwargs)


def DEFINE_boolean(name: str, default: bool | None, help: str, flag_values: FlagValues | None = None,  # noqa: N802,A002
                   **kwargs: Any) -> Flag:
    """Defines a boolean flag: `--name`, `--noname`, `--name=true|false|1|0`."""
    return _define(name, default, help, "bool", _parse_bool, flag_values, **kwargs)


DEFINE_bool = DEFINE_boolean


def _parse_list(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def DEFINE_list(name: str, default: Any, help: str, flag_values: FlagValues | None = None,  # noqa: N802,A002
                **kwargs: Any) -> Flag:
    """Defines a comma-separated list flag: `--name=a,b,c` gives ['a', 'b', 'c']."""
    return _define(name, default, help, "list", _parse_list, flag_values, **kwargs)


def DEFINE_enum(name: str, default: str | None, enum_values: Sequence[str], help: str,  # noqa: N802,A002
                flag_values: FlagValues | None = None, case_sensitive: bool = True, **kwargs: Any) -> Flag:
    """Defines a string flag whose value must be one of `enum_values`."""
    values = tuple(enum_values)
    if not values:
        raise ValueError(f"DEFINE_enum('{name}'): enum_values must not be empty")

    def parse(s: str) -> str:
        if s in values:
            return s
        if not case_sensitive:
            for v in values:
                if v.lower() == s.lower():
                    return v
        raise IllegalFlagValueError(f"value should be one of <{'|'.join(values)}>")
    return _define(name, default, help, "enum", parse, flag_values, extra=(values, case_sensitive), **kwargs)


def DEFINE_multi_string(name: str, default: Any, help: str, flag_values: FlagValues | None = None,  # noqa: N802,A002
                        **kwargs: Any) -> Flag:
    """Defines a repeatable string flag: `--name=a --name=b` gives ['a', 'b']."""
    return _define(name, default, help, "multi_string", str, flag_values, multi=True, **kwargs)


def DEFINE_multi_integer(name: str, default: Any, help: str, lower_bound: int | None = None,  # noqa: N802,A002
                         upper_bound: int | None = None, flag_values: FlagValues | None = None,
                         **kwargs: Any) -> Flag:
    """Defines a repeatable integer flag."""
    return _define(name, default, help, "multi_integer", _number(int, lower_bound, upper_bound), flag_values,
                   multi=True, extra=(lower_bound, upper_bound), **kwargs)


def DEFINE_multi_float(name: str, default: Any, help: str, lower_bound: float | None = None,  # noqa: N802,A002
                       upper_bound: float | None = None, flag_values: FlagValues | None = None,
                       **kwargs: Any) -> Flag:
    """Defines a repeatable float flag."""
    return _define(name, default, help, "multi_float", _number(float, lower_bound, upper_bound), flag_values,
                   multi=True, extra=(lower_bound, upper_bound), **kwargs)


def mark_flag_as_required(flag_name: str, flag_values: FlagValues | None = None) -> None:
    """Makes `tf.app.run()` fail (ValidationError naming the flag) when `flag_name` is still None."""
    fv = FLAGS if flag_values is None else flag_values
    if flag_name not in fv:
        raise UnrecognizedFlagError(f"mark_flag_as_required: unknown flag '{flag_name}' (define it first)")
    if flag_name not in fv._required:
        fv._required.append(flag_name)


def mark_flags_as_required(flag_names: Sequence[str], flag_values: FlagValues | None = None) -> None:
    for n in flag_names:
        mark_flag_as_required(n, flag_values)


def register_validator(flag_name: str, checker: Callable[[Any], bool], message: str = "Flag validation failed",
                       flag_values: FlagValues | None = None) -> None:
    """Adds `checker(value) -> bool`, run when flags are parsed by `tf.app.run()`."""
    fv = FLAGS if flag_values is None else flag_values
    if flag_name not in fv:
        raise UnrecognizedFlagError(f"register_validator: unknown flag '{flag_name}' (define it first)")
    fv._validators.append(((flag_name,), checker, message))
