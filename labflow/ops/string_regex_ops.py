"""Regex string ops: RegexReplace / StaticRegexReplace and RegexFullMatch / StaticRegexFullMatch (host ops).

TF uses RE2; labflow uses Python's `re` on the UTF-8-decoded text with re.ASCII (so `.` matches one
character and `\\w`, `\\d`, `\\s` are ASCII, as in RE2). Python accepts a few constructs RE2 rejects
(backreferences in patterns, lookaround); those run here but would fail in TF. Rewrites use RE2's syntax:
`\\0` is the whole match, `\\1`..`\\9` the groups, `\\\\` a backslash; a rewrite naming a missing group is
an InvalidArgumentError here (RE2 leaves the string unchanged).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops.common import convert_to_tensor, dims, make_op
from labflow.ops.string_common import HOST, as_bytes_array, check_string, map_strings, unary_op

__all__ = ["regex_replace", "regex_full_match"]


_REWRITE = re.compile(r"\\(.)", re.S)


def compile_regex(pattern: Any, op_type: str) -> re.Pattern:
    """The pattern compiled to approximate RE2 (see the module docstring)."""
    text = pattern.decode("utf-8", "surrogateescape") if isinstance(pattern, bytes) else pattern
    try:
        return re.compile(text, re.ASCII)
    except re.error as e:
        raise errors.InvalidArgumentError(None, None, f"Invalid pattern: {text}, error: {e} ({op_type})") from None


def _python_rewrite(rewrite: str, groups: int, op_type: str) -> str:
    """RE2's rewrite syntax (\\0..\\9, \\\\) as Python's (\\g<0>..., a literal backslash)."""
    def sub(m: re.Match) -> str:
        c = m.group(1)
        if c.isdigit():
            if int(c) > groups:
                raise errors.InvalidArgumentError(None, None, f"{op_type}: rewrite \\{c} refers to group {c}, but "
                                                  f"the pattern has {groups} group(s)")
            return f"\\g<{c}>"
        if c == "\\":
            return "\\\\"
        raise errors.InvalidArgumentError(None, None, f"{op_type}: invalid rewrite escape \\{c} (use \\0-\\9 or "
                                          "\\\\)")
    return _REWRITE.sub(sub, rewrite.replace("\\\\", "\x00")).replace("\x00", "\\\\")


def _regex_replace(arr: np.ndarray, pattern: Any, rewrite: Any, replace_global: bool, op_type: str) -> np.ndarray:
    rx = compile_regex(pattern, op_type)
    rw = rewrite.decode("utf-8", "surrogateescape") if isinstance(rewrite, bytes) else rewrite
    rw = _python_rewrite(rw, rx.groups, op_type)
    count = 0 if replace_global else 1
    return map_strings(lambda s: rx.sub(rw, s.decode("utf-8", "surrogateescape"), count=count).encode(
        "utf-8", "surrogateescape"), arr)


def _regex_shape(op_type, extra, out_dtype=_dt.string):
    def fn(ins, attrs):
        check_string(ins[0], op_type, "input")
        for t, arg in zip(ins[1:], extra):
            check_string(t, op_type, arg)
            if dims(t) not in (None, ()):
                raise ValueError(f"Shape must be rank 0 but is rank {len(dims(t))} for '{op_type}' input '{arg}'")
        return out_dtype, dims(ins[0])
    return fn


@op("RegexReplace", inputs=("input", "pattern", "rewrite"), attrs={"replace_global": True},
    shape=_regex_shape("RegexReplace", ("pattern", "rewrite")), **HOST)
def regex_replace_kernel(xp, input, pattern, rewrite, *, replace_global):
    return _regex_replace(as_bytes_array(input), as_bytes_array(pattern).item(), as_bytes_array(rewrite).item(),
                          replace_global, "RegexReplace")


@op("StaticRegexReplace", inputs=("input",), attrs={"pattern": "", "rewrite": "", "replace_global": True},
    shape=_regex_shape("StaticRegexReplace", ()), **HOST)
def static_regex_replace_kernel(xp, input, *, pattern, rewrite, replace_global):
    return _regex_replace(as_bytes_array(input), pattern, rewrite, replace_global, "StaticRegexReplace")


def regex_replace(input: Any, pattern: Any, rewrite: Any, replace_global: bool = True,
                  name: str | None = None) -> Tensor:
    """Replaces matches of `pattern` in each string with `rewrite` (TF 1.x `tf.regex_replace`).

    Python-string `pattern` and `rewrite` make a StaticRegexReplace (compiled once), tensors a RegexReplace.

    Args:
        input: a string tensor.
        pattern: a regular expression (RE2 syntax).
        rewrite: the replacement; `\\0` is the whole match, `\\1`.. the groups.
        replace_global: replace every match (else only the first).
        name: a name for the op.

    Returns:
        A string tensor of the shape of `input`.
    """
    if isinstance(pattern, (str, bytes)) and isinstance(rewrite, (str, bytes)):
        p = pattern.decode("utf-8") if isinstance(pattern, bytes) else pattern
        r = rewrite.decode("utf-8") if isinstance(rewrite, bytes) else rewrite
        compile_regex(p, "StaticRegexReplace")  # a bad pattern fails here, at construction, like TF
        return unary_op("StaticRegexReplace", input, {"pattern": p, "rewrite": r,
                                                    "replace_global": bool(replace_global)}, name)
    with name_scope(name, "RegexReplace") as scope:
        t = convert_to_tensor(input, dtype=_dt.string, name="input")
        p = convert_to_tensor(pattern, dtype=_dt.string, name="pattern")
        r = convert_to_tensor(rewrite, dtype=_dt.string, name="rewrite")
        return make_op("RegexReplace", [t, p, r], attrs={"replace_global": bool(replace_global)},
                       name=scope).outputs[0]


def _full_match(arr: np.ndarray, pattern: Any, op_type: str) -> np.ndarray:
    rx = compile_regex(pattern, op_type)
    return map_strings(lambda s: rx.fullmatch(s.decode("utf-8", "surrogateescape")) is not None, arr, np.bool_)


@op("RegexFullMatch", inputs=("input", "pattern"), shape=_regex_shape("RegexFullMatch", ("pattern",), _dt.bool),
    **HOST)
def regex_full_match_kernel(xp, input, pattern):
    return _full_match(as_bytes_array(input), as_bytes_array(pattern).item(), "RegexFullMatch")


@op("StaticRegexFullMatch", inputs=("input",), attrs={"pattern": ""},
    shape=_regex_shape("StaticRegexFullMatch", (), _dt.bool), **HOST)
def static_regex_full_match_kernel(xp, input, *, pattern):
    return _full_match(as_bytes_array(input), pattern, "StaticRegexFullMatch")


def regex_full_match(input: Any, pattern: Any, name: str | None = None) -> Tensor:
    """Whether each whole string matches `pattern` (TF `tf.strings.regex_full_match`): a bool tensor."""
    if isinstance(pattern, (str, bytes)):
        p = pattern.decode("utf-8") if isinstance(pattern, bytes) else pattern
        compile_regex(p, "StaticRegexFullMatch")
        return unary_op("StaticRegexFullMatch", input, {"pattern": p}, name)
    with name_scope(name, "RegexFullMatch") as scope:
        t = convert_to_tensor(input, dtype=_dt.string, name="input")
        p = convert_to_tensor(pattern, dtype=_dt.string, name="pattern")
        return make_op("RegexFullMatch", [t, p], name=scope).outputs[0]
