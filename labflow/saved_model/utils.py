"""`tf.saved_model.utils`: TensorInfo protos from graph tensors, and graph tensors back from TensorInfo protos."""

from __future__ import annotations

import re
from typing import Any

from labflow import dtypes
from labflow.framework.graph import get_default_graph
from labflow.framework.protos import meta_graph_pb2, types_pb2
from labflow.framework.sparse_tensor import SparseTensor
from labflow.framework.tensor import Operation

__all__ = ["build_tensor_info", "get_tensor_from_tensor_info"]


def build_tensor_info(tensor: Any) -> meta_graph_pb2.TensorInfo:
    """Builds the TensorInfo proto that names `tensor` in a SignatureDef.

    Args:
        tensor: a `Tensor` (or `Variable`) whose name, dtype and static shape are recorded, or a `SparseTensor`,
            recorded by the names of its indices, values and dense_shape tensors.

    Returns:
        A `TensorInfo` with `name` (or `coo_sparse`), `dtype` and `tensor_shape` set.

    Raises:
        TypeError: `tensor` has no name, dtype and shape (e.g. a Python list or an `Operation`).
    """
    if isinstance(tensor, Operation) or not all(hasattr(tensor, a) for a in ("dtype", "get_shape")):
        raise TypeError(f"build_tensor_info needs a Tensor or SparseTensor, got {type(tensor).__name__}: "
                        f"{tensor!r}. Convert values with tf.convert_to_tensor first.")
    info = meta_graph_pb2.TensorInfo(dtype=dtypes.as_dtype(tensor.dtype).as_datatype_enum,
                                     tensor_shape=tensor.get_shape().as_proto())
    if isinstance(tensor, SparseTensor):
        info.coo_sparse.values_tensor_name = tensor.values.name
        info.coo_sparse.indices_tensor_name = tensor.indices.name
        info.coo_sparse.dense_shape_tensor_name = tensor.dense_shape.name
    else:
        info.name = tensor.name
    return info


def build_tensor_info_from_op(op: Any) -> meta_graph_pb2.TensorInfo:
    """A TensorInfo naming an op (dtype DT_INVALID, unknown shape): how TF stores its init and train ops."""
    info = meta_graph_pb2.TensorInfo(dtype=types_pb2.DT_INVALID, name=op.name)
    info.tensor_shape.unknown_rank = True
    return info


def check_tags(tags: Any) -> list[str]:
    """`tags` as a list of str (bytes decoded); a bare string is refused rather than split into characters."""
    if isinstance(tags, (str, bytes)):
        raise TypeError(f"tags must be a list or set of strings, e.g. [tf.saved_model.tag_constants.SERVING], not "
                        f"the string {tags!r} (which TF would split into characters).")
    try:
        out = [t.decode() if isinstance(t, bytes) else t for t in tags]
    except TypeError:
        raise TypeError(f"tags must be a list or set of strings, got {type(tags).__name__}.") from None
    bad = [t for t in out if not isinstance(t, str)]
    if bad:
        raise TypeError(f"Every tag must be a string, got {bad[0]!r} ({type(bad[0]).__name__}).")
    return out


def prepend_name_scope(name: str, import_scope: str | None) -> str:
    """`name` ("x:0", "^x", "loc:@x") with "<import_scope>/" put in front of the op name, as TF's importer does."""
    if not import_scope:
        return name
    scope = import_scope.rstrip("/")
    return re.sub(r"([\^]|loc:@|^)(.*)", lambda m: f"{m.group(1)}{scope}/{m.group(2)}", name, count=1)


def get_tensor_from_tensor_info(tensor_info: meta_graph_pb2.TensorInfo, graph: Any = None,
                                import_scope: str | None = None) -> Any:
    """Returns the Tensor or SparseTensor of `graph` that `tensor_info` names.

    Args:
        tensor_info: a `TensorInfo` proto, e.g. a signature's `inputs["x"]`.
        graph: the graph to look in (default: the default graph).
        import_scope: the scope the graph was imported under; prepended to the names.

    Returns:
        A `Tensor`, or a `SparseTensor` for a `coo_sparse` TensorInfo.

    Raises:
        KeyError: a name that is not in `graph`.
        ValueError: a TensorInfo with neither `name` nor `coo_sparse` set.
    """
    graph = graph or get_default_graph()

    def tensor(name: str) -> Any:
        return graph.get_tensor_by_name(prepend_name_scope(name, import_scope))

    encoding = tensor_info.WhichOneof("encoding")
    if encoding == "name":
        return tensor(tensor_info.name)
    if encoding == "coo_sparse":
        coo = tensor_info.coo_sparse
        return SparseTensor(tensor(coo.indices_tensor_name), tensor(coo.values_tensor_name),
                            tensor(coo.dense_shape_tensor_name))
    raise ValueError(f"Invalid TensorInfo.encoding: {encoding}. Expected `coo_sparse` or `name` for a dense "
                     "tensor.")


def get_element_from_tensor_info(tensor_info: meta_graph_pb2.TensorInfo, graph: Any = None,
                                 import_scope: str | None = None) -> Any:
    """The Operation or Tensor of `graph` named by `tensor_info.name` (TensorInfos built from ops)."""
    graph = graph or get_default_graph()
    return graph.as_graph_element(prepend_name_scope(tensor_info.name, import_scope))
