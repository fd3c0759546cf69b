"""GraphDef <-> Graph: serialization (TF-wire-compatible), `import_graph_def` and `write_graph`.

A labflow graph serializes to the same `GraphDef` TensorFlow writes: one `NodeDef` per op in
creation order, inputs as "op", "op:1" and "^ctrl", attrs as `AttrValue`s, constants as
`TensorProto`s with raw `tensor_content`. Importing goes through `Graph.create_op`, so every
imported op's dtypes and shapes are checked and inferred again, exactly as if built by hand.
"""

from __future__ import annotations

import heapq
import os
import warnings
from typing import Any

from google.protobuf import message as _message
from google.protobuf import text_format

from labflow.fileio import atomic_write
from labflow.framework import function_io, registry
from labflow.framework.device_spec import canonical_name
from labflow.framework.proto_convert import (
    attr_value_from_python,
    attr_value_to_python,
    decode_str,
    make_ndarray,
    make_tensor_proto,
)
from labflow.framework.protos import graph_pb2, node_def_pb2
from labflow.framework.shapes import TensorShape
from labflow.framework.tensor import Operation, Tensor

__all__ = ["import_graph_def", "write_graph", "read_graph_def", "make_tensor_proto", "make_ndarray"]

# Attrs TF adds for bookkeeping that are not attrs of the op itself.
_INFO_ATTRS = ("_class", "_output_shapes")
# Type attrs `Graph._bind_attrs` accepts on any op (TF's inferred type attrs).
_TYPE_ATTRS = ("T", "dtype", "Tidx", "Tshape")


# -- Graph -> GraphDef -----------------------------------------------------------------------------------
def _input_name(t: Tensor) -> str:
    return t.op.name if t.value_index == 0 else f"{t.op.name}:{t.value_index}"


def fill_node_def(nd: Any, op: Operation, add_shapes: bool, exporter: Any = None) -> None:
    """Writes `op` into NodeDef `nd`; functions its attrs name go to `exporter`'s library (function_io)."""
    nd.name = op.name
    nd.op = op.type
    nd.input.extend(_input_name(t) for t in op._inputs)
    nd.input.extend("^" + c.name for c in op._control_inputs)
    if op._device:
        nd.device = op._device
    attrs = {}
    for k, v in op._attrs.items():
        if v is None or k in _INFO_ATTRS:
            continue
        try:
            if function_io.encodes(v):
                attrs[k] = (exporter or function_io.Exporter()).encode(v)
            elif k == "record" and op.type in ("If", "While"):
                attrs[k] = function_io.encode_record(op.type, v)
            else:
                attrs[k] = attr_value_from_python(v)
        except (TypeError, ValueError) as e:
            raise TypeError(f"Cannot serialize attr '{k}' of op '{op.name}' (op: '{op.type}'): {e}") from None
    if op._colocation:
        attrs["_class"] = attr_value_from_python([s.encode("utf-8") for s in op._colocation])
    if add_shapes:
        attrs["_output_shapes"] = attr_value_from_python([TensorShape(t._shape_dims) for t in op._outputs])
    for k in sorted(attrs):  # sorted, as TF prints them: text output is deterministic
        nd.attr[k].CopyFrom(attrs[k])


def op_to_node_def(op: Operation) -> node_def_pb2.NodeDef:
    """The op as a `NodeDef` (what `Operation.node_def` returns)."""
    nd = node_def_pb2.NodeDef()
    fill_node_def(nd, op, False)
    return nd


def graph_to_graph_def(graph: Any, add_shapes: bool = False) -> graph_pb2.GraphDef:
    """The graph as a `GraphDef`: nodes in creation order, `_output_shapes` attrs when `add_shapes`.

    Raises:
        TypeError: when an op holds an attr that no `AttrValue` can represent (names the op and attr).
    """
    gd = graph_pb2.GraphDef()
    with graph._lock:
        ops = list(graph._ops)
    exporter = function_io.Exporter()
    for op in ops:
        fill_node_def(gd.node.add(), op, add_shapes, exporter)
    if len(exporter.library.function):
        gd.library.CopyFrom(exporter.library)
    gd.versions.CopyFrom(graph.graph_def_versions)
    return gd


# -- GraphDef -> Graph -----------------------------------------------------------------------------------
def _as_graph_def(graph_def: Any) -> graph_pb2.GraphDef:
    if isinstance(graph_def, graph_pb2.GraphDef):
        return graph_def
    if isinstance(graph_def, (bytes, bytearray, memoryview)):
        try:
            return graph_pb2.GraphDef.FromString(bytes(graph_def))
        except _message.DecodeError as e:
            raise ValueError(f"The bytes passed as graph_def are not a serialized GraphDef: {e}") from None
    if isinstance(graph_def, _message.Message) and graph_def.DESCRIPTOR.name == "GraphDef":
        return graph_pb2.GraphDef.FromString(graph_def.SerializeToString())  # e.g. TensorFlow's own class
    raise TypeError(f"graph_def must be a GraphDef proto or its serialized bytes, got "
                    f"{type(graph_def).__name__}.")


def _parse_input(s: str) -> tuple[str, int, bool]:
    """"^op" -> (op, -1, True); "op:2" -> (op, 2, False); "op" -> (op, 0, False)."""
    if s.startswith("^"):
        return s[1:], -1, True
    name, sep, idx = s.rpartition(":")
    if sep and idx.isdigit():
        return name, int(idx), False
    return s, 0, False


def _tensor_key(name: str) -> str:
    return name if name.startswith("^") or ":" in name else name + ":0"


def _check_input_map(input_map: dict | None, name: str | None, graph: Any) -> dict[str, Any]:
    if input_map is None:
        return {}
    if not isinstance(input_map, dict):
        raise TypeError("input_map must be a dictionary mapping strings to Tensor objects.")
    out: dict[str, Any] = {}
    needs_convert = False
    for k, v in input_map.items():
        if not isinstance(k, str):
            raise TypeError(f"input_map keys must be tensor names (strings), got {k!r}.")
        key = _tensor_key(k)
        if key.startswith("^"):
            if hasattr(v, "_as_graph_element"):
                v = v._as_graph_element()
            v = v.op if isinstance(v, Tensor) else v
            if not isinstance(v, Operation):
                raise TypeError(f"input_map['{k}'] maps a control input, so it must be an Operation, "
                                f"got {v!r}")
        elif not isinstance(v, Tensor):
            needs_convert = True
        out[key] = v
    if needs_convert:
        if not name:
            raise ValueError("tf.import_graph_def() requires a non-empty `name` if `input_map` contains "
                             "non-Tensor values. Try calling tf.convert_to_tensor() on `input_map` values "
                             "before calling tf.import_graph_def().")
        from labflow.framework.convert import convert_to_tensor
        with graph.name_scope("_inputs"):
            out = {k: v if k.startswith("^") or isinstance(v, Tensor) else convert_to_tensor(v)
                   for k, v in out.items()}
    return out


def _topo_order(nodes: list, input_map: dict) -> list[int]:
    """Node indices so that every node comes after its (unmapped) inputs; GraphDef order otherwise."""
    index = {}
    for i, nd in enumerate(nodes):
        if nd.name in index:
            raise ValueError(f"Duplicate node name in graph_def: '{nd.name}'")
        index[nd.name] = i
    deps: list[set[int]] = []
    users: list[list[int]] = [[] for _ in nodes]
    for i, nd in enumerate(nodes):
        d = set()
        for s in nd.input:
            src, idx, ctrl = _parse_input(s)
            key = "^" + src if ctrl else f"{src}:{idx}"
            if key in input_map:
                continue
            j = index.get(src)
            if j is None:
                raise ValueError(f"Node '{nd.name}': Unknown input node '{s}'")
            d.add(j)
        deps.append(d)
        for j in d:
            users[j].append(i)
    ready = [i for i, d in enumerate(deps) if not d]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for u in users[i]:
            deps[u].discard(i)
            if not deps[u]:
                heapq.heappush(ready, u)
    if len(order) != len(nodes):
        stuck = sorted(nodes[i].name for i, d in enumerate(deps) if d)
        raise ValueError(f"graph_def contains a cycle (labflow imports acyclic graphs only); the nodes on or "
                         f"after it are: {', '.join(stuck[:10])}" + (" ..." if len(stuck) > 10 else ""))
    return order


_warned_attrs: set[tuple[str, str]] = set()


def _node_attrs(nd: Any, opdef: Any) -> dict:
    attrs = {}
    for k, av in nd.attr.items():
        if k in _INFO_ATTRS:
            continue
        # TF writes attrs labflow's op does not model (e.g. Conv2D's use_cudnn_on_gpu): they are dropped,
        # with one warning per op type and attr so a semantic difference does not go unnoticed.
        if k not in opdef.attrs and not k.startswith("_") and k not in _TYPE_ATTRS:
            if (nd.op, k) not in _warned_attrs:
                _warned_attrs.add((nd.op, k))
                warnings.warn(f"import_graph_def: labflow's '{nd.op}' op has no attr '{k}' (first seen on "
                              f"node '{nd.name}'); it is ignored.", stacklevel=4)
            continue
        try:
            which = av.WhichOneof("value")
            if which == "func" or (which == "list" and len(av.list.func)):
                v = function_io.decode_func_attr(av)
            else:
                v = attr_value_to_python(av)
        except ValueError as e:
            raise ValueError(f"Node '{nd.name}' (op: '{nd.op}'): attr '{k}': {e}") from None
        if v is not None:
            attrs[k] = v
    return attrs


def _rollback(graph: Any, created: list[Operation]) -> None:
    """Removes the ops of a failed import so the graph is as it was."""
    with graph._lock:
        gone = set(map(id, created))
        graph._ops = [o for o in graph._ops if id(o) not in gone]
        for op in created:
            graph._ops_by_name.pop(op.name, None)
            for t in op._inputs:
                t._consumers[:] = [c for c in t._consumers if id(c) not in gone]
            for c in op._control_inputs:
                c._control_outputs[:] = [o for o in c._control_outputs if id(o) not in gone]
        graph._version += 1


def import_graph_def(graph_def: Any, input_map: dict | None = None, return_elements: list | None = None,
                     name: str | None = None, op_dict: Any = None, producer_op_list: Any = None) -> Any:
    """TF 1.x `tf.import_graph_def`: adds the ops of `graph_def` to the default graph.

    Args:
        graph_def: a `GraphDef` (labflow's or TensorFlow's) or its serialized bytes.
        input_map: {"x:0": Tensor} replaces that input of the imported ops ("x" means "x:0");
            {"^x": Operation} replaces a control input. Non-Tensor values are converted (needs a name).
        return_elements: names in `graph_def` to return: "x:0" gives a Tensor, "x" an Operation.
        name: prefix for the imported names (default "import", made unique; "" imports without one).
        op_dict: ignored (deprecated in TF as well).
        producer_op_list: ignored (labflow fills defaults from its own op registry).

    Returns:
        The list of `return_elements` as Tensors/Operations, or None when `return_elements` is None.

    Raises:
        ValueError: for an unregistered op type, an unknown input, a cycle, unused `input_map` keys,
            unknown `return_elements`, or ops whose attrs/shapes/dtypes labflow rejects.
        TypeError: for a `graph_def` or `input_map` of the wrong type.
    """
    from labflow.framework.graph import get_default_graph
    del op_dict, producer_op_list
    gd = _as_graph_def(graph_def)
    graph = get_default_graph()
    if return_elements is not None and (isinstance(return_elements, str)
                                        or not all(isinstance(x, str) for x in return_elements)):
        raise TypeError("return_elements must be a list of strings.")
    nodes = list(gd.node)
    for nd in nodes:
        if registry.lookup(nd.op) is None:
            import difflib
            close = difflib.get_close_matches(nd.op, registry.registered_ops(), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"Cannot import node '{nd.name}': op type '{nd.op}' is not registered in "
                             f"labflow.{hint}")
    outer_deps = graph._current_control_deps()
    with graph.name_scope(name if name is not None else "import") as scope:
        imap = _check_input_map(input_map, name if name is not None else "import", graph)
        order = _topo_order(nodes, imap)
        prefix = scope
    node_names = {nd.name for nd in nodes}
    used: set[str] = set()
    made: dict[str, Operation] = {}
    created: list[Operation] = []
    try:
        with graph.name_scope(None), graph.control_dependencies(None), function_io.importing(gd.library):
            for i in order:
                nd = nodes[i]
                op = _import_node(graph, nd, prefix, imap, used, made, outer_deps)
                made[nd.name] = op
                created.append(op)
        _place(graph, nodes, made, node_names)
        unused = sorted(k for k in imap if k not in used)
        if unused:
            raise ValueError("Attempted to map inputs that were not found in graph_def: "
                             f"[{', '.join(unused)}]")
        result = None if return_elements is None else [_return_element(r, made) for r in return_elements]
    except BaseException:
        _rollback(graph, created)
        raise
    return result


def _import_node(graph: Any, nd: Any, prefix: str, imap: dict, used: set, made: dict,
                 outer_deps: list) -> Operation:
    opdef = registry.get(nd.op)
    inputs: list[Tensor] = []
    ctrl: list[Operation] = []
    internal = False
    for s in nd.input:
        src, idx, is_ctrl = _parse_input(s)
        key = "^" + src if is_ctrl else f"{src}:{idx}"
        if key in imap:
            used.add(key)
            v = imap[key]
        else:
            internal = True
            op = made[src]
            if is_ctrl:
                v = op
            elif idx >= len(op._outputs):
                raise ValueError(f"Node '{nd.name}': Connecting to invalid output {idx} of source node {src} "
                                 f"which has {len(op._outputs)} outputs")
            else:
                v = op._outputs[idx]
        if is_ctrl:
            if v not in ctrl:
                ctrl.append(v)
        else:
            inputs.append(v)
    if not internal:  # TF's rule: a node fed from inside the import inherits the outer deps through it
        ctrl.extend(c for c in outer_deps if c not in ctrl)
    attrs = _node_attrs(nd, opdef)
    try:
        function_io.decode_record(nd.op, attrs)
        op = graph.create_op(nd.op, inputs, attrs=attrs, name=prefix + nd.name, compute_device=False,
                             control_inputs=ctrl)
    except (TypeError, ValueError) as e:
        raise ValueError(f"Cannot import node '{nd.name}' (op: '{nd.op}'): {e}") from None
    if nd.device:
        try:
            op._device = canonical_name(nd.device)
        except ValueError as e:
            raise ValueError(f"Cannot import node '{nd.name}' (op: '{nd.op}'): bad device: {e}") from None
    return op


def _place(graph: Any, nodes: list, made: dict, node_names: set) -> None:
    """Devices and colocation groups: TF's importer rules (scope device functions, then colocation)."""
    for nd in nodes:
        op = made[nd.name]
        groups = []
        if "_class" in nd.attr:
            for s in nd.attr["_class"].list.s:
                s = decode_str(s)
                if isinstance(s, str) and s.startswith("loc:@"):
                    target = s[len("loc:@"):]
                    s = "loc:@" + (made[target].name if target in node_names else target)
                if s not in groups:
                    groups.append(s)
        op._colocation = groups
        if not groups:
            graph._apply_device_functions(op)
    for nd in nodes:
        op = made[nd.name]
        for g in op._colocation:
            target = g[len("loc:@"):]
            try:
                other = graph.get_operation_by_name(target)
            except KeyError:
                raise ValueError("Specified colocation to an op that does not exist during import: "
                                 f"{target} in {op.name}") from None
            if other.device:
                op._device = other.device
                break


def _return_element(r: str, made: dict) -> Any:
    if ":" in r:
        src, idx, _ = _parse_input(r)
        op = made.get(src)
        if op is None or idx >= len(op._outputs):
            raise ValueError(f"Requested return tensor '{r}' not found in graph def")
        return op._outputs[idx]
    op = made.get(r)
    if op is None:
        raise ValueError(f"Requested return node '{r}' not found in graph def")
    return op


# -- files ----------------------------------------------------------------------------------------------
def write_graph(graph_or_graph_def: Any, logdir: str, name: str, as_text: bool = True) -> str:
    """TF 1.x `tf.train.write_graph`: writes a graph's GraphDef to `logdir/name`, atomically.

    Args:
        graph_or_graph_def: a `Graph` or a `GraphDef`.
        logdir: the folder (created when missing).
        name: the file name, e.g. "graph.pbtxt" or "graph.pb".
        as_text: protobuf text format when True, binary otherwise.

    Returns:
        The path of the written file.
    """
    gd = graph_or_graph_def
    if hasattr(gd, "as_graph_def") and not isinstance(gd, _message.Message):
        gd = gd.as_graph_def()
    gd = _as_graph_def(gd)
    path = os.path.join(os.fspath(logdir), name)
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    data = text_format.MessageToString(gd).encode("utf-8") if as_text else gd.SerializeToString(
        deterministic=True)
    atomic_write(path, data)
    return path


def read_graph_def(path: str) -> graph_pb2.GraphDef:
    """Reads a GraphDef written by `write_graph` (or TF) in text or binary format.

    Raises:
        ValueError: when the file is neither format.
    """
    with open(path, "rb") as f:
        data = f.read()
    try:
        return text_format.Parse(data.decode("utf-8"), graph_pb2.GraphDef())
    except (UnicodeDecodeError, text_format.ParseError):
        pass
    try:
        return graph_pb2.GraphDef.FromString(data)
    except _message.DecodeError:
        raise ValueError(f"{path} holds neither a text nor a binary GraphDef.") from None
