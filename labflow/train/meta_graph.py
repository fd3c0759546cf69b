"""MetaGraphDef export/import: the graph, its Saver and its collections, restorable without Python code."""

from __future__ import annotations

import logging
import os
from typing import Any

from google.protobuf import any_pb2

from labflow.framework.graph import GraphKeys, get_default_graph
from labflow.framework.protos import meta_graph_pb2
from labflow.framework.tensor import IndexedSlices, Operation, Tensor

__all__ = ["export_meta_graph", "import_meta_graph"]

_log = logging.getLogger("labflow.meta_graph")
_VARIABLE_KEYS = {GraphKeys.GLOBAL_VARIABLES, GraphKeys.TRAINABLE_VARIABLES, GraphKeys.LOCAL_VARIABLES,
                  GraphKeys.MODEL_VARIABLES, GraphKeys.MOVING_AVERAGE_VARIABLES, "global_step"}


def _add_collection(mg: Any, key: str, items: list) -> None:
    from labflow.ops.variables import Variable
    if not items:
        return
    first = items[0]
    cd = mg.collection_def[key]
    if all(isinstance(v, Variable) for v in items):
        cd.bytes_list.value.extend(v.to_proto().SerializeToString() for v in items)
    elif all(isinstance(v, (Tensor, Operation, IndexedSlices)) for v in items):
        cd.node_list.value.extend(v.name for v in items)
    elif all(isinstance(v, (str, bytes)) for v in items):
        cd.bytes_list.value.extend(v.encode() if isinstance(v, str) else v for v in items)
    elif all(isinstance(v, bool) or isinstance(v, int) for v in items):
        cd.int64_list.value.extend(int(v) for v in items)
    elif all(isinstance(v, float) for v in items):
        cd.float_list.value.extend(items)
    elif all(isinstance(v, any_pb2.Any) for v in items):  # e.g. a SavedModel's AssetFileDefs
        cd.any_list.value.extend(items)
    elif all(hasattr(v, "to_proto") and hasattr(v, "saver_def") for v in items):
        # TF stores a Saver as its serialized SaverDef (Scaffold and Supervisor put savers in SAVERS).
        protos = [v.to_proto() for v in items]
        if any(p is None for p in protos):
            del mg.collection_def[key]
            return
        cd.bytes_list.value.extend(p.SerializeToString() for p in protos)
    else:
        del mg.collection_def[key]
        _log.warning("Collection '%s' holds %s objects, which a MetaGraphDef cannot store; skipped.", key,
                     type(first).__name__)


def export_meta_graph(filename: str | None = None, meta_info_def: Any = None, graph_def: Any = None,
                      saver_def: Any = None, collection_list: list | None = None, as_text: bool = False,
                      graph: Any = None, export_scope: str | None = None, clear_devices: bool = False,
                      clear_extraneous_savers: bool = False, strip_default_attrs: bool = False,
                      save_debug_info: bool = False, **kwargs: Any):
    """Builds (and with `filename`, atomically writes) a MetaGraphDef of `graph` (default graph)."""
    g = graph or get_default_graph()
    mg = meta_graph_pb2.MetaGraphDef()
    if meta_info_def is not None:
        mg.meta_info_def.CopyFrom(meta_info_def)
    mg.meta_info_def.meta_graph_version = mg.meta_info_def.meta_graph_version or "labflow"
    mg.graph_def.CopyFrom(graph_def if graph_def is not None else g.as_graph_def(add_shapes=True))
    if clear_devices:
        for n in mg.graph_def.node:
            n.device = ""
    if saver_def is not None:
        mg.saver_def.CopyFrom(saver_def)
    keys = collection_list if collection_list is not None else g.get_all_collection_keys()
    for key in keys:
        _add_collection(mg, key, g.get_collection(key))
    if filename:
        from google.protobuf import text_format

        from labflow.train.checkpoint_format import atomic_write
        data = text_format.MessageToString(mg).encode() if as_text else mg.SerializeToString()
        atomic_write(filename, data)
    return mg


def _read(meta_graph_or_file: Any):
    if isinstance(meta_graph_or_file, meta_graph_pb2.MetaGraphDef):
        return meta_graph_or_file
    path = str(meta_graph_or_file)
    if not os.path.exists(path):
        raise OSError(f"File {path} does not exist: pass the .meta file written by Saver.save "
                      "(e.g. 'model.ckpt-100.meta').")
    with open(path, "rb") as f:
        data = f.read()
    mg = meta_graph_pb2.MetaGraphDef()
    try:
        mg.ParseFromString(data)
    except Exception:  # noqa: BLE001 - not binary: try the text format
        from google.protobuf import text_format
        mg = text_format.Parse(data.decode(), meta_graph_pb2.MetaGraphDef())
    return mg


def import_meta_graph(meta_graph_or_file: Any, clear_devices: bool = False, import_scope: str | None = None,
                      **kwargs: Any):
    """Imports a MetaGraphDef into the default graph; returns its Saver (None when it has none)."""
    from labflow.framework.graph_io import import_graph_def
    from labflow.ops.variables import Variable
    from labflow.train.saver import Saver
    mg = _read(meta_graph_or_file)
    gd = mg.graph_def
    if clear_devices:
        gd = type(gd)()
        gd.CopyFrom(mg.graph_def)
        for n in gd.node:
            n.device = ""
    g = get_default_graph()
    import_graph_def(gd, name=import_scope or "")
    prefix = f"{import_scope}/" if import_scope else ""
    for key, cd in mg.collection_def.items():
        kind = cd.WhichOneof("kind")
        if kind == "bytes_list" and key in _VARIABLE_KEYS:
            from labflow.framework.protos import variable_pb2
            existing = {v.name: v for k in _VARIABLE_KEYS for v in g.get_collection(k)
                        if isinstance(v, Variable)}
            for raw in cd.bytes_list.value:
                vd = variable_pb2.VariableDef.FromString(raw)
                name = prefix + vd.variable_name
                name = name if ":" in name else name + ":0"
                v = existing.get(name)
                if v is None:
                    v = Variable(variable_def=vd, import_scope=import_scope)
                    existing[v.name] = v
                g.add_to_collection(key, v)
        elif kind == "node_list":
            for name in cd.node_list.value:
                g.add_to_collection(key, g.as_graph_element(prefix + name))
        elif kind == "bytes_list":
            for b in cd.bytes_list.value:
                g.add_to_collection(key, b)
        elif kind == "int64_list":
            for i in cd.int64_list.value:
                g.add_to_collection(key, int(i))
        elif kind == "float_list":
            for x in cd.float_list.value:
                g.add_to_collection(key, float(x))
        elif kind == "any_list":
            for a in cd.any_list.value:
                g.add_to_collection(key, a)
    if mg.HasField("saver_def"):
        sd = type(mg.saver_def)()
        sd.CopyFrom(mg.saver_def)
        if import_scope:
            sd.filename_tensor_name = prefix + sd.filename_tensor_name
            sd.save_tensor_name = prefix + sd.save_tensor_name
            sd.restore_op_name = prefix + sd.restore_op_name
        return Saver(saver_def=sd)
    return None
