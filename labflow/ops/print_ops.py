"""`tf.print` (StringFormat + PrintV2, as TF builds it), `tf.strings.format`'s op, and `tf.timestamp`.

Tensors are rendered as TF renders them: NumPy-like nested brackets, each dimension longer than
2 * summarize cut to its first and last `summarize` entries around "...", floats in the shortest of
%.6g / %.9g (float32) or %.15g / %.17g (float64) that reads back exactly, bools as 1/0, strings quoted
and C-escaped.
"""

from __future__ import annotations

import logging
import pprint
import sys
import time
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework import nest
from labflow.framework.graph import get_default_graph
from labflow.framework.registry import op
from labflow.framework.tensor import Operation, Tensor
from labflow.ops.common import base, convert_to_tensor, dims, make_tensor

__all__ = ["print_v2", "string_format", "timestamp"]


# -- rendering --------------------------------------------------------------------------------------
def _c_escape(b: bytes) -> str:
    out = []
    for c in b:
        ch = chr(c)
        if ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif ch in "\"'\\":
            out.append("\\" + ch)
        elif 32 <= c < 127:
            out.append(ch)
        else:
            out.append(f"\\{c:03o}")
    return "".join(out)


def _float_str(x: Any, short: int, full: int, np_type: Any) -> str:
    s = f"%.{short}g" % x
    if short != full and np_type(float(s)) != x and not np.isnan(x):
        s = f"%.{full}g" % x
    return s


def _scalar(x: Any) -> str:
    if isinstance(x, (bytes, np.bytes_)):
        return '"' + _c_escape(bytes(x)) + '"'
    if isinstance(x, str):
        return '"' + _c_escape(x.encode()) + '"'
    if isinstance(x, (bool, np.bool_)):
        return "1" if x else "0"
    if isinstance(x, np.float32):
        return _float_str(x, 6, 9, np.float32)
    if isinstance(x, np.float64):
        return _float_str(x, 15, 17, np.float64)
    if isinstance(x, (np.floating, float)):  # float16, bfloat16: TF prints them via float at 9 digits
        return f"{float(x):.9g}"
    if isinstance(x, (np.complexfloating, complex)):
        return f"({_scalar(np.float64(x.real))},{_scalar(np.float64(x.imag))})"
    return str(x)


def _render(a: np.ndarray, summarize: int, depth: int = 0) -> str:
    if a.ndim == 0:
        return _scalar(a[()])
    if a.size == 0:
        return "[]"
    n = a.shape[0]
    cut = 0 <= summarize and 2 * summarize < n
    idx = list(range(summarize)) + [None] + list(range(n - summarize, n)) if cut else list(range(n))
    if a.ndim == 1:
        return "[" + " ".join("..." if i is None else _scalar(a[i]) for i in idx) + "]"
    sep = "\n" * (a.ndim - 1) + " " * (depth + 1)
    return "[" + sep.join("..." if i is None else _render(a[i], summarize, depth + 1) for i in idx) + "]"


def format_tensor(value: Any, summarize: int = 3) -> str:
    """One value as tf.print shows it (a CuPy array is brought to the host first)."""
    a = value.get() if hasattr(value, "get") else value
    return _render(np.asarray(a), summarize)


# -- StringFormat -----------------------------------------------------------------------------------
def _string_format_shape(ins: list, attrs: dict) -> tuple:
    n = attrs["template"].count(attrs["placeholder"])
    if n != len(ins):
        raise ValueError(f"StringFormat: {len(ins)} tensors to format into a template with {n} placeholder(s) "
                         f"'{attrs['placeholder']}': {attrs['template']!r}")
    return _dt.string, ()


@op("StringFormat", inputs=("*inputs",), attrs={"template": "%s", "placeholder": "%s", "summarize": 3},
    shape=_string_format_shape, not_differentiable=True, host_op=True)
def string_format_kernel(xp, *inputs, template, placeholder, summarize):
    parts = template.split(placeholder)
    out = [parts[0]]
    for v, rest in zip(inputs, parts[1:]):
        out.append(format_tensor(v, summarize))
        out.append(rest)
    return np.array("".join(out).encode(), dtype=object)


def string_format(template: str, inputs: Any, placeholder: str = "{}", summarize: int = 3,
                  name: str | None = None) -> Tensor:
    """A scalar string: `template` with each `placeholder` replaced by the next tensor of `inputs`
    rendered as tf.print renders it (TF's `tf.strings.format`, op type StringFormat)."""
    ts = [convert_to_tensor(t) for t in (inputs if isinstance(inputs, (list, tuple)) else [inputs])]
    return make_tensor("StringFormat", ts, {"T": [base(t) for t in ts], "template": template,
                                            "placeholder": placeholder, "summarize": int(summarize)},
                       name or "StringFormat")


# -- PrintV2 ----------------------------------------------------------------------------------------
_LOG_LEVELS = {"log(info)": logging.INFO, "log(warning)": logging.WARNING, "log(error)": logging.ERROR}


def _print_v2_shape(ins: list, attrs: dict) -> list:
    d = dims(ins[0])
    if base(ins[0]) != _dt.string or (d is not None and len(d) != 0):
        raise ValueError("PrintV2: input must be a scalar string (made by StringFormat)")
    stream = attrs["output_stream"]
    if stream not in ("stderr", "stdout") and stream not in _LOG_LEVELS and not stream.startswith("file://"):
        raise ValueError(f"PrintV2: unknown output_stream {stream!r}: use sys.stderr, sys.stdout, "
                         "'file://<path>' or tf.logging.info/warning/error")
    return []


@op("PrintV2", inputs=("input",), attrs={"output_stream": "stderr", "end": "\n"}, shape=_print_v2_shape,
    outputs=0, stateful=True, not_differentiable=True, host_op=True)
def print_v2_kernel(xp, input, *, output_stream, end):  # noqa: A002
    text = input.item() if isinstance(input, np.ndarray) else input
    text = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text)
    if output_stream in ("stderr", "stdout"):
        # looked up when run: a notebook (or pytest) may have replaced sys.stdout since the graph was built
        stream = sys.stderr if output_stream == "stderr" else sys.stdout
        stream.write(text + end)
        stream.flush()
    elif output_stream in _LOG_LEVELS:
        logging.getLogger("labflow").log(_LOG_LEVELS[output_stream], text)
    else:
        try:
            with open(output_stream[len("file://"):], "a", encoding="utf-8") as f:
                f.write(text + end)
        except OSError as e:
            raise errors.InvalidArgumentError(None, None, f"PrintV2: cannot append to {output_stream}: {e}") from e


def _stream_name(stream: Any) -> str:
    if stream is None or stream is sys.stderr or stream is sys.__stderr__:
        return "stderr"
    if stream is sys.stdout or stream is sys.__stdout__:
        return "stdout"
    for fn, level in ((logging.info, "log(info)"), (logging.warning, "log(warning)"),
                      (logging.error, "log(error)")):
        if stream is fn:
            return level
    from labflow import logging as lf_logging
    for nm in ("info", "warning", "error"):
        if stream is getattr(lf_logging, nm, None):
            return f"log({nm})"
    if isinstance(stream, str) and (stream.startswith("file://") or stream in ("stderr", "stdout")):
        return stream
    raise ValueError(f"Unsupported output stream {stream!r}: use sys.stderr, sys.stdout, 'file://<path>' or "
                     "tf.logging.info/warning/error")


def _placeholder_for(template: str) -> str:
    # TF picks a placeholder that cannot clash with the user's own text
    ph = "{}"
    i = 0
    while ph in template:
        ph = f"{{{i}}}"
        i += 1
    return ph


def print_v2(*inputs: Any, output_stream: Any = None, summarize: int = 3, sep: str = " ",
             end: str = "\n", name: str | None = None) -> Operation:
    """Prints tensors and Python values each time the returned op runs (TF's `tf.print`).

    In graph mode the result is an Operation: run it, or add it as a control dependency, e.g.
    `with tf.control_dependencies([tf.print("loss:", loss)]): train_op = ...`.

    Args:
        *inputs: tensors, SparseTensors, Python values (a Python string prints as is) and nested
            lists/dicts of tensors and values.
        output_stream: sys.stderr (the default, None, means the sys.stderr of the moment), sys.stdout,
            "file://<path>" (appended to), or tf.logging.info/warning/error.
        summarize: entries shown at each end of every dimension (-1 or None: all).
        sep: the text between inputs.
        end: the text after the line.
        name: the op name.

    Returns:
        The PrintV2 Operation.
    """
    stream = _stream_name(output_stream)
    summarize = -1 if summarize is None else int(summarize)
    free = nest.map_structure(lambda x: "" if isinstance(x, Tensor) else x, list(inputs))
    placeholder = _placeholder_for(" ".join(pprint.pformat(x) for x in free))
    templates, tensors = [], []
    from labflow.framework.sparse_tensor import SparseTensor
    for x in inputs:
        if isinstance(x, SparseTensor):  # TF's rendering of a sparse input: its three component tensors
            templates.append(f"'SparseTensor(indices={placeholder}, values={placeholder}, shape={placeholder})'")
            tensors.extend([x.indices, x.values, x.dense_shape])
            continue
        flat = []
        for leaf in nest.flatten(x):
            if isinstance(leaf, Tensor) or hasattr(leaf, "_as_graph_element"):
                flat.append(placeholder)
                tensors.append(convert_to_tensor(leaf))
            else:
                flat.append(leaf)
        if isinstance(x, str):
            templates.append(x)
        elif isinstance(x, Tensor) or hasattr(x, "_as_graph_element"):
            templates.append(placeholder)
        else:
            templates.append(pprint.pformat(nest.pack_sequence_as(x, flat)))
    template = sep.join(templates).replace(f"'{placeholder}'", placeholder)
    g = get_default_graph()
    with g.name_scope(name or "PrintV2") as scope:
        fmt = string_format(template, tensors, placeholder=placeholder, summarize=summarize)
        return g.create_op("PrintV2", [fmt], attrs={"output_stream": stream, "end": end}, name=scope)


# -- Timestamp --------------------------------------------------------------------------------------
@op("Timestamp", shape=lambda ins, attrs: (_dt.float64, ()), stateful=True, not_differentiable=True,
    host_op=True)
def timestamp_kernel(xp):
    return np.array(time.time(), np.float64)


def timestamp(name: str | None = None) -> Tensor:
    """The seconds since the Unix epoch (float64) when the op runs; stateful, so every run reads the clock."""
    return make_tensor("Timestamp", [], {}, name or "Timestamp")

