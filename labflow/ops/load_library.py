"""`tf.load_op_library`: load a user op library and get Python wrappers for the ops it registers.

In TF the library is a compiled .so and its wrappers are generated from the OpDefs it registers. In
labflow an op library is Python: a `.py` file, or a package directory with an `__init__.py`, that
declares its ops with `labflow.user_ops.op` (the same decorator labflow's own ops use), gives them a
gradient or `not_differentiable=True`, and registers sweep samples for them. Loading it runs it once
and returns a module whose attributes are the snake_case wrappers of the ops it registered (op
`ZeroOut` gives `zero_out(to_zero, name=None)`), plus `OP_LIST`, the tuple of their op types. A
public function of the library with the wrapper's name is used instead of the generated one.

This lives in ops/, not framework/: the generated wrappers convert their arguments with the ops
layer's rules (inputs sharing the type attr take the first tensor's dtype, as TF's wrappers do).
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import inspect
import os
import re
import sys
import threading
import types
from typing import Any, Callable

from labflow import errors
from labflow.framework import registry
from labflow.framework.graph import _graph_of
from labflow.ops.math_helpers import T, convert_args, op_scope

__all__ = ["load_op_library"]

_LOADED: dict[str, types.ModuleType] = {}  # realpath -> the returned module (TF loads a library once)
_load_lock = threading.RLock()


def camel_to_snake(name: str) -> str:
    """TF's wrapper name for an op type: "ZeroOut" -> "zero_out", "Conv2D" -> "conv2d", "HTTPGet" -> "http_get"."""
    out = []
    for i, c in enumerate(name):
        if c.isupper() and i > 0 and name[i - 1] != "_" and (
                name[i - 1].islower() or (name[i - 1].isupper() and i + 1 < len(name) and name[i + 1].islower())):
            out.append("_")
        out.append(c.lower())
    return "".join(out)


def make_wrapper(opdef: registry.OpDef) -> Callable:
    """A TF-style wrapper for `opdef`: `wrapper(*inputs, *attrs, name=None)`.

    Inputs are positional (a variadic input is one list argument); attrs follow, with their defaults.
    Inputs named in the op's `type_inputs` share one dtype (the first Tensor's); other Python values are
    converted on their own. Returns the output Tensor, a list (a namedtuple when the op names its
    outputs) for several, or the Operation when there are none.
    """
    P = inspect.Parameter
    params = [P(i.lstrip("*"), P.POSITIONAL_OR_KEYWORD) for i in opdef.inputs]
    tail = [P(a, P.POSITIONAL_OR_KEYWORD, default=d) for a, d in opdef.attrs.items() if d is not registry.REQUIRED]
    params += [P(a, P.POSITIONAL_OR_KEYWORD) for a, d in opdef.attrs.items() if d is registry.REQUIRED]
    params += tail + [P("name", P.POSITIONAL_OR_KEYWORD, default=None)]
    sig = inspect.Signature(params)
    shared = set(opdef.type_inputs)
    result_type = (collections.namedtuple(opdef.name, opdef.output_names)
                   if opdef.output_names else None)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        values = bound.arguments
        triples, flat = [], []
        for i in opdef.inputs:
            key = i.lstrip("*")
            v = values[key]
            if i.startswith("*"):
                if not isinstance(v, (list, tuple)):
                    raise TypeError(f"Expected list for '{key}' argument to '{opdef.name}' Op, not {v!r}.")
                triples.extend((key, x, T if key in shared else None) for x in v)
            else:
                triples.append((key, v, T if key in shared else None))
            flat.append(v)
        attrs = {a: values[a] for a in opdef.attrs}
        flat_values = [x for v in flat for x in (v if isinstance(v, (list, tuple)) else [v])]
        with op_scope(values["name"], opdef.name, flat_values) as scope:
            ins = convert_args(opdef.name, triples)
            op = _graph_of(*ins).create_op(opdef.name, ins, attrs=attrs, name=scope)
        outs = op.outputs
        if not outs:
            return op
        if len(outs) == 1:
            return outs[0]
        return result_type(*outs) if result_type else list(outs)

    snake = camel_to_snake(opdef.name)
    wrapper.__name__ = wrapper.__qualname__ = snake
    wrapper.__signature__ = sig  # type: ignore[attr-defined] - shown by help() and notebooks
    wrapper.__doc__ = (f"Creates a '{opdef.name}' op (declared at {opdef.site}).\n\nArgs: "
                       f"{', '.join(p.name for p in params)}.")
    return wrapper


def _entry_file(path: str, given: str) -> str:
    """The file to run for `path` (`given`, resolved), or an error saying why there is none."""
    if not os.path.exists(path):
        shown = given if given == path else f"{given}' ('{path}"
        raise errors.NotFoundError(None, None, f"load_op_library: '{shown}' not found (a labflow op library "
                                   "is a .py file or a package directory with an __init__.py)")
    if os.path.isdir(path):
        init = os.path.join(path, "__init__.py")
        if not os.path.isfile(init):
            raise errors.NotFoundError(None, None, f"load_op_library: the directory '{path}' has no "
                                       "__init__.py, so it is not an op library package")
        return init
    if not path.endswith(".py"):
        raise errors.UnimplementedError(None, None, f"load_op_library: cannot load '{path}': labflow op "
                                        "libraries are Python (a .py file or a package directory), not "
                                        "compiled shared objects; declare the ops with labflow.user_ops.op")
    return path


def _rollback(new_ops: list[str], new_grads: list[str], module_name: str) -> None:
    """Undoes a failed load, so fixing the library and loading it again works."""
    # The registry has no public removal: only a failed load needs one.
    for name in new_ops:
        registry._REGISTRY.pop(name, None)
    for name in new_grads:
        registry._GRADIENTS_BY_NAME.pop(name, None)
    sweep = sys.modules.get("labflow.testing.op_sweep")
    if sweep is not None:
        for name in new_ops:
            sweep._SAMPLES.pop(name, None)
            sweep._EXEMPT.pop(name, None)
    for m in [m for m in sys.modules if m == module_name or m.startswith(module_name + ".")]:
        del sys.modules[m]


def load_op_library(library_filename: str) -> types.ModuleType:
    """Loads a labflow op library and returns a module of wrappers for its ops (TF's `tf.load_op_library`).

    Args:
        library_filename: a `.py` file or a package directory (with `__init__.py`) that registers ops with
            `labflow.user_ops.op`. Relative paths are resolved against the current directory.

    Returns:
        A module with one snake_case wrapper per op type the library registered (`ZeroOut` ->
        `zero_out`), `OP_LIST` (those op types) and `LIBRARY` (the library's own module). Loading the same
        path again returns the same module without running the library again.

    Raises:
        NotFoundError: the path does not exist, or a directory has no `__init__.py`.
        UnimplementedError: the path is not Python (e.g. a compiled `.so`).
        RegistrationError: the library registers an op type that already exists (the message names both
            definition sites); nothing it registered is kept.
        Any exception the library itself raises while loading (nothing it registered is kept).
    """
    given = os.fspath(library_filename)
    path = os.path.realpath(given)
    with _load_lock:
        if path in _LOADED:
            return _LOADED[path]
        entry = _entry_file(path, given)
        stem = re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
        module_name = f"labflow_op_library_{stem}_{hashlib.sha1(path.encode()).hexdigest()[:8]}"
        search = [path] if os.path.isdir(path) else None
        spec = importlib.util.spec_from_file_location(module_name, entry, submodule_search_locations=search)
        lib = importlib.util.module_from_spec(spec)
        before = set(registry.registered_ops())
        grads_before = set(registry._GRADIENTS_BY_NAME)
        sys.modules[module_name] = lib  # relative imports inside a package need it
        try:
            spec.loader.exec_module(lib)
        except BaseException:
            _rollback([n for n in registry.registered_ops() if n not in before],
                      [n for n in registry._GRADIENTS_BY_NAME if n not in grads_before], module_name)
            raise
        new_ops = [n for n in registry.registered_ops() if n not in before]
        result = types.ModuleType(f"labflow.user_ops.{stem}", lib.__doc__)
        result.__file__ = entry
        result.OP_LIST = tuple(new_ops)
        result.LIBRARY = lib
        for name in new_ops:
            if name.startswith("_"):
                continue  # TF hides ops whose names start with '_' from the wrapper module
            snake = camel_to_snake(name)
            own = getattr(lib, snake, None)
            setattr(result, snake, own if callable(own) and not isinstance(own, registry.OpDef)
                    else make_wrapper(registry.get(name)))
        _LOADED[path] = result
        return result
