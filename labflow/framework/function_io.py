"""Control-flow functions in GraphDefs: each FuncGraph a FunctionDef in `GraphDef.library`.

An If/While op names its functions in `func` attrs (TF's layout). A FunctionDef's signature lists the
argument placeholders and the results (`ret`); its `node_def`s are the function's ops in labflow's
GraphDef form ("op:index" inputs, as in a GraphDef, where TF's functions write "op:output_name:index"):
labflow reads them back, TensorFlow would not. A gradient function (IfGrad/WhileGrad) is a `func` attr
naming the forward function, with the names of the tensors it reads; the forward op's `record` attr names
the tensors it records. Importing builds each FunctionDef once, so the forward op and its gradient share
one FuncGraph, as when they were built.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from typing import Any

from labflow.framework.protos import attr_value_pb2, function_pb2, graph_pb2

_current = threading.local()


def _is_func_graph(v: Any) -> bool:
    from labflow.framework.func_graph import FuncGraph
    return isinstance(v, FuncGraph)


def _is_grad_fn(v: Any) -> bool:
    return type(v).__name__ == "GradFunction" and hasattr(v, "positions")


def encodes(v: Any) -> bool:
    """Whether `v` is an attr value this module serializes (a function, a gradient function, a list of them)."""
    if isinstance(v, (list, tuple)) and v:
        return all(_is_func_graph(x) or _is_grad_fn(x) for x in v)
    return _is_func_graph(v) or _is_grad_fn(v)


class Exporter:
    """Collects the FunctionDefs one GraphDef needs (each function once, nested ones included)."""

    def __init__(self):
        self.library = function_pb2.FunctionDefLibrary()
        self._names: dict[int, str] = {}

    def name_of(self, fg: Any) -> str:
        name = self._names.get(id(fg))
        if name is None:
            # the function's own name when free: an imported function keeps its name when exported again
            base = re.sub(r"[^A-Za-z0-9_]", "_", fg.name) or "function"
            taken = set(self._names.values())
            name, k = base, 0
            while name in taken:
                k += 1
                name = f"{base}_{k}"
            self._names[id(fg)] = name
            self._export(fg, name)
        return name

    def _export(self, fg: Any, name: str) -> None:
        from labflow.framework.graph_io import fill_node_def
        fd = self.library.function.add()
        fd.signature.name = name
        for ph in fg.inputs:
            fd.signature.input_arg.add(name=ph.op.name, type=ph.dtype.as_datatype_enum)
        for i, t in enumerate(fg.outputs):
            fd.signature.output_arg.add(name=f"output_{i}", type=t.dtype.as_datatype_enum)
            fd.ret[f"output_{i}"] = t.name
        fd.attr["_n_captures"].i = len(fg.captures)
        fd.attr["_control_outputs"].list.s.extend(o.name.encode() for o in getattr(fg, "control_outputs", []))
        with fg._lock:
            ops = list(fg._ops)
        for op in ops:
            fill_node_def(fd.node_def.add(), op, False, self)

    def encode(self, v: Any) -> attr_value_pb2.AttrValue:
        av = attr_value_pb2.AttrValue()
        if isinstance(v, (list, tuple)):
            av.list.func.extend(self._func(x) for x in v)
        else:
            av.func.CopyFrom(self._func(v))
        return av

    def _func(self, v: Any) -> attr_value_pb2.NameAttrList:
        if _is_func_graph(v):
            return attr_value_pb2.NameAttrList(name=self.name_of(v))
        f = attr_value_pb2.NameAttrList(name=self.name_of(v.fg))
        for key, tensors in (("needed", v.needed), ("dys", v.dys), ("grads", v.grads)):
            f.attr[key].list.s.extend(t.name.encode() for t in tensors)
        f.attr["positions"].list.i.extend(v.positions)
        return f


def encode_record(op_type: str, record: list) -> attr_value_pb2.AttrValue:
    """The names of the tensors an If ("branch:name") or a While records."""
    av = attr_value_pb2.AttrValue()
    av.list.SetInParent()
    if op_type == "If":
        av.list.s.extend(f"{b}:{t.name}".encode() for b, ts in enumerate(record) for t in ts)
    else:
        av.list.s.extend(t.name.encode() for t in record)
    return av


# -- import ----------------------------------------------------------------------------------------------
@contextlib.contextmanager
def importing(library: Any) -> Iterator[None]:
    """Makes `library`'s functions available to the attrs of the nodes imported inside the block."""
    prev = getattr(_current, "importer", None)
    _current.importer = _Importer(library) if library is not None and len(library.function) else prev
    try:
        yield
    finally:
        _current.importer = prev


class _Importer:
    def __init__(self, library: Any):
        self.defs = {fd.signature.name: fd for fd in library.function}
        self.built: dict[str, Any] = {}
        self.library = library

    def function(self, name: str) -> Any:
        fg = self.built.get(name)
        if fg is not None:
            return fg
        fd = self.defs.get(name)
        if fd is None:
            raise ValueError(f"function '{name}' is not in the GraphDef's library")
        from labflow.framework.func_graph import FuncGraph
        from labflow.framework.graph import get_default_graph
        from labflow.framework.graph_io import import_graph_def
        fg = self.built[name] = FuncGraph(name, get_default_graph())
        body = graph_pb2.GraphDef()
        body.node.extend(fd.node_def)
        with fg.as_default():
            import_graph_def(body, name="")
        fg.inputs = [fg.get_tensor_by_name(a.name + ":0") for a in fd.signature.input_arg]
        n_caps = fd.attr["_n_captures"].i
        fg.captures = [(None, ph) for ph in fg.inputs[len(fg.inputs) - n_caps:]] if n_caps else []
        fg.outputs = [fg.get_tensor_by_name(fd.ret[a.name]) for a in fd.signature.output_arg]
        fg.control_outputs = [fg.get_operation_by_name(n.decode()) for n in fd.attr["_control_outputs"].list.s]
        return fg

    def decode(self, f: Any) -> Any:
        fg = self.function(f.name)
        if "positions" not in f.attr:
            return fg
        from labflow.ops.control_flow_grads import GradFunction
        get = fg.get_tensor_by_name
        return GradFunction.from_parts(fg, [get(n.decode()) for n in f.attr["needed"].list.s],
                                       [get(n.decode()) for n in f.attr["dys"].list.s],
                                       [get(n.decode()) for n in f.attr["grads"].list.s],
                                       list(f.attr["positions"].list.i))


def decode_func_attr(av: Any) -> Any:
    """The FuncGraph / GradFunction (or list of them) a `func` attr names, from the importing library."""
    importer = getattr(_current, "importer", None)
    if importer is None:
        raise ValueError("a function-valued attr, but the GraphDef has no function library")
    if av.WhichOneof("value") == "func":
        return importer.decode(av.func)
    return [importer.decode(f) for f in av.list.func]


def decode_record(op_type: str, attrs: dict) -> None:
    """Turns the recorded tensors' names of an imported If/While back into the function's tensors."""
    names = attrs.get("record")
    if names is None or op_type not in ("If", "While"):
        return
    names = [n.decode() if isinstance(n, bytes) else n for n in names]
    if op_type == "If":
        rec: list = [[], []]
        fgs = (attrs["then_branch"], attrs["else_branch"])
        for n in names:
            b, t = n.split(":", 1)
            rec[int(b)].append(fgs[int(b)].get_tensor_by_name(t))
        attrs["record"] = rec
    else:
        attrs["record"] = [attrs["body"].get_tensor_by_name(n) for n in names]
