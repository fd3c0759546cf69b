"""`tf.saved_model.builder`: SavedModelBuilder writes TF 1.x's SavedModel layout.

    <export_dir>/saved_model.pb                     a SavedModel proto: one MetaGraphDef per tag set
    <export_dir>/variables/variables.index, .data-00000-of-00001   the variables, written by a tf.train.Saver
    <export_dir>/assets/                            copies of the asset files the graph names

Every MetaGraphDef is exported by `tf.train.export_meta_graph` (through the Saver) and the variables are written
by `Saver.save`: the builder adds only the tags, signatures, assets and the main op.
"""

from __future__ import annotations

import filecmp
import logging
import os
import shutil
from typing import Any

from google.protobuf import any_pb2, text_format

from labflow.fileio import atomic_write
from labflow.framework import registry
from labflow.framework.graph import GraphKeys, get_default_graph
from labflow.framework.proto_convert import attr_value_from_python
from labflow.framework.protos import meta_graph_pb2, saved_model_pb2, types_pb2
from labflow.framework.tensor import Operation, Tensor
from labflow.saved_model import constants
from labflow.saved_model.utils import check_tags

__all__ = ["SavedModelBuilder"]

_log = logging.getLogger("labflow.saved_model")
# TF's loaders unpack assets by this type URL: our protos live in package "labflow", so it is spelled out.
ASSET_FILE_DEF_TYPE_URL = "type.googleapis.com/tensorflow.AssetFileDef"


class SavedModelBuilder:
    """Builds a SavedModel: several MetaGraphDefs (one per tag set) sharing one set of variables and assets.

    Usage::

        builder = tf.saved_model.builder.SavedModelBuilder(export_dir)
        with tf.Session(graph=tf.Graph()) as sess:
            ...
            builder.add_meta_graph_and_variables(sess, [tf.saved_model.tag_constants.SERVING],
                                                 signature_def_map={"serving_default": signature})
            builder.add_meta_graph([tf.saved_model.tag_constants.GPU])   # same variables, more tags
        builder.save()

    The first MetaGraphDef must come from `add_meta_graph_and_variables`, which writes the variables; the
    later ones from `add_meta_graph`. `tf.saved_model.loader.load` picks a MetaGraphDef by its exact tag set.
    """

    def __init__(self, export_dir: Any):
        """Creates `export_dir` (it must not exist, or be empty).

        Raises:
            AssertionError: `export_dir` exists and is not empty (as TF).
        """
        self._export_dir = os.fsdecode(export_dir)
        self._saved_model = saved_model_pb2.SavedModel(
            saved_model_schema_version=constants.SAVED_MODEL_SCHEMA_VERSION)
        if os.path.exists(self._export_dir):
            if not os.path.isdir(self._export_dir) or os.listdir(self._export_dir):
                raise AssertionError(f"Export directory {self._export_dir} already exists, and isn't empty. Please "
                                     "choose a different export directory, or delete all the contents of the "
                                     "specified directory.")
        else:
            os.makedirs(self._export_dir)
        self._has_saved_variables = False
        self._saved_asset_files: set[str] = set()

    # -- public API ------------------------------------------------------------------------------------------
    def add_meta_graph_and_variables(self, sess: Any, tags: Any, signature_def_map: dict | None = None,
                                     assets_collection: list | None = None, legacy_init_op: Operation | None = None,
                                     clear_devices: bool = False, main_op: Operation | None = None,
                                     strip_default_attrs: bool = False, saver: Any = None) -> None:
        """Adds the session graph's MetaGraphDef and writes its variables; call exactly once, first.

        Args:
            sess: the session holding the (initialized) variables; its graph is exported.
            tags: the tag set of this MetaGraphDef, e.g. `[tf.saved_model.tag_constants.SERVING]`.
            signature_def_map: signature key -> `SignatureDef` (see `signature_def_utils`).
            assets_collection: string constant tensors holding asset file paths (e.g.
                `tf.get_collection(tf.GraphKeys.ASSET_FILEPATHS)`); the files are copied to `assets/` and the
                loader feeds their new paths to these tensors when it runs the main op.
            legacy_init_op: deprecated name of `main_op`.
            clear_devices: drop the device of every node (load on whatever devices the loading machine has).
            main_op: an op the loader runs after restoring the variables (e.g. `tf.tables_initializer()`).
            strip_default_attrs: leave out attrs whose value is the op's default (smaller, forward compatible).
            saver: the `tf.train.Saver` to save and later restore with; default: a sharded Saver of every global
                variable and saveable object.

        Raises:
            AssertionError: variables were already saved, or a SignatureDef has a TensorInfo without name/dtype.
            KeyError: a reserved signature key.
            TypeError / ValueError: a bad `tags`, main op or asset tensor.
        """
        if self._has_saved_variables:
            raise AssertionError("Graph state including variables and assets has already been saved. Please "
                                 "invoke `add_meta_graph()` instead.")
        tags = check_tags(tags)
        signature_def_map = signature_def_map or {}
        _validate_signature_def_map(signature_def_map)
        with sess.graph.as_default():
            self._add_collections(assets_collection, main_op if main_op is not None else legacy_init_op)
            variables_dir = os.path.join(self._export_dir, constants.VARIABLES_DIRECTORY)
            os.makedirs(variables_dir, exist_ok=True)
            saver = _maybe_create_saver(saver)
            if saver is not None:
                saver.save(sess, os.path.join(variables_dir, constants.VARIABLES_FILENAME), write_meta_graph=False,
                           write_state=False)
            meta_graph_def = _export_meta_graph(saver, clear_devices, strip_default_attrs)
        self._tag_and_add_meta_graph(meta_graph_def, tags, signature_def_map)
        self._has_saved_variables = True

    def add_meta_graph(self, tags: Any, signature_def_map: dict | None = None, assets_collection: list | None = None,
                       legacy_init_op: Operation | None = None, clear_devices: bool = False,
                       main_op: Operation | None = None, strip_default_attrs: bool = False, saver: Any = None) -> None:
        """Adds the default graph's MetaGraphDef under another tag set, sharing the variables already saved.

        Args: as `add_meta_graph_and_variables`, less `sess`; `assets_collection` should name assets of the first
            MetaGraphDef (an asset file already copied is not copied again).

        Raises:
            AssertionError: `add_meta_graph_and_variables` has not been called yet.
        """
        if not self._has_saved_variables:
            raise AssertionError("Graph state including variables and assets has not been saved yet. Please invoke "
                                 "`add_meta_graph_and_variables()` first.")
        tags = check_tags(tags)
        signature_def_map = signature_def_map or {}
        _validate_signature_def_map(signature_def_map)
        self._add_collections(assets_collection, main_op if main_op is not None else legacy_init_op)
        saver = _maybe_create_saver(saver)
        meta_graph_def = _export_meta_graph(saver, clear_devices, strip_default_attrs)
        self._tag_and_add_meta_graph(meta_graph_def, tags, signature_def_map)

    def save(self, as_text: bool = False) -> bytes:
        """Writes `saved_model.pb` (or `saved_model.pbtxt` with `as_text`) into the export directory.

        Text format is for reading by people: it is not forward compatible, so do not serve it.

        Returns:
            The path of the written file, as bytes (as TF 1.x returns it).
        """
        os.makedirs(self._export_dir, exist_ok=True)
        if as_text:
            path = os.path.join(self._export_dir, constants.SAVED_MODEL_FILENAME_PBTXT)
            atomic_write(path, text_format.MessageToString(self._saved_model).encode("utf-8"))
        else:
            path = os.path.join(self._export_dir, constants.SAVED_MODEL_FILENAME_PB)
            atomic_write(path, self._saved_model.SerializeToString(deterministic=True))
        _log.info("SavedModel written to: %s", path)
        return os.fsencode(path)

    # -- steps -----------------------------------------------------------------------------------------------
    def _add_collections(self, assets_collection: list | None, main_op: Operation | None) -> None:
        asset_filename_map = _maybe_save_assets(assets_collection)
        if asset_filename_map:
            _copy_assets_to_destination_dir(asset_filename_map, self._export_dir, self._saved_asset_files)
        _maybe_add_main_op(main_op)

    def _tag_and_add_meta_graph(self, meta_graph_def: Any, tags: list[str], signature_def_map: dict) -> None:
        if any(set(m.meta_info_def.tags) == set(tags) for m in self._saved_model.meta_graphs):
            # TF accepts this too; its loaders then always pick the first MetaGraphDef with these tags.
            _log.warning("SavedModelBuilder: a MetaGraphDef with tags %s was already added; tf.saved_model.loader."
                         "load will keep loading the first one.", sorted(tags))
        meta_graph_def.meta_info_def.tags.extend(tags)
        for key, sig in signature_def_map.items():
            meta_graph_def.signature_def[key].CopyFrom(sig)
        self._saved_model.meta_graphs.add().CopyFrom(meta_graph_def)


# -- checks --------------------------------------------------------------------------------------------------
def _validate_tensor_info(tensor_info: Any) -> None:
    if tensor_info is None:
        raise AssertionError("All TensorInfo protos used in the SignatureDefs must have the name and dtype fields "
                             "set.")
    if tensor_info.WhichOneof("encoding") is None:
        raise AssertionError(f"Invalid `tensor_info`: {tensor_info}. All TensorInfo protos used in the "
                             "SignatureDefs must have one of the 'encoding' fields (e.g., name or coo_sparse) set.")
    if tensor_info.dtype == types_pb2.DT_INVALID:
        raise AssertionError(f"Invalid `tensor_info`: {tensor_info}. All TensorInfo protos used in the "
                             "SignatureDefs must have the dtype field set.")


def _validate_signature_def_map(signature_def_map: dict) -> None:
    for key, sig in signature_def_map.items():
        if not isinstance(sig, meta_graph_pb2.SignatureDef):
            raise TypeError(f"signature_def_map['{key}'] must be a SignatureDef proto (build one with "
                            f"tf.saved_model.signature_def_utils.predict_signature_def), got {type(sig).__name__}.")
        for info in list(sig.inputs.values()) + list(sig.outputs.values()):
            _validate_tensor_info(info)
    for reserved in (constants.INIT_OP_SIGNATURE_KEY, constants.TRAIN_OP_SIGNATURE_KEY):
        if reserved in signature_def_map:
            raise KeyError(f'SignatureDef map key "{reserved}" is reserved for '
                           f"{'initialization' if reserved == constants.INIT_OP_SIGNATURE_KEY else 'the train op'}. "
                           "Please use a different key.")


def _maybe_add_main_op(main_op: Any) -> None:
    if main_op is None:
        return
    if not isinstance(main_op, Operation):
        raise TypeError(f"Expected {main_op} to be an Operation but got type {type(main_op)} instead (pass e.g. "
                        "tf.group(...) or tf.saved_model.main_op.main_op()).")
    g = get_default_graph()
    for key in (constants.MAIN_OP_KEY, constants.LEGACY_INIT_OP_KEY):
        if g.get_collection(key):
            raise ValueError(f"Graph already contains one or more main ops under the collection {key}.")
    g.add_to_collection(constants.MAIN_OP_KEY, main_op)


# -- saver and export ----------------------------------------------------------------------------------------
def _maybe_create_saver(saver: Any) -> Any:
    """The user's Saver, else a sharded V2 Saver of all saveable objects, or None when there are none (as TF)."""
    if saver:
        return saver
    from labflow.train.saver import Saver
    g = get_default_graph()
    if not g.get_collection(GraphKeys.GLOBAL_VARIABLES) and not g.get_collection(GraphKeys.SAVEABLE_OBJECTS):
        return None
    return Saver(sharded=True, allow_empty=True)


def _export_meta_graph(saver: Any, clear_devices: bool, strip_default_attrs: bool) -> Any:
    # The asset collection holds Any protos, which the exporter does not serialize: it is written here.
    g = get_default_graph()
    keys = [k for k in g.get_all_collection_keys() if k != constants.ASSETS_KEY]
    if saver is not None:
        meta_graph_def = saver.export_meta_graph(collection_list=keys, clear_devices=clear_devices,
                                                 strip_default_attrs=strip_default_attrs)
    else:
        from labflow.train.meta_graph import export_meta_graph
        meta_graph_def = export_meta_graph(graph=g, collection_list=keys, clear_devices=clear_devices,
                                           strip_default_attrs=strip_default_attrs)
    assets = g.get_collection(constants.ASSETS_KEY)
    if assets:
        meta_graph_def.collection_def[constants.ASSETS_KEY].any_list.value.extend(assets)
    if strip_default_attrs:
        strip_graph_default_valued_attrs(meta_graph_def)
    return meta_graph_def


def strip_graph_default_valued_attrs(meta_graph_def: Any) -> None:
    """Removes from every node the attrs whose value is its op's registered default (TF's strip_default_attrs)."""
    for node in meta_graph_def.graph_def.node:
        opdef = registry.lookup(node.op)
        if opdef is None:
            continue
        for name, default in opdef.attrs.items():
            if default is registry.REQUIRED or default is None or name not in node.attr:
                continue
            try:
                if attr_value_from_python(default) == node.attr[name]:
                    del node.attr[name]
            except (TypeError, ValueError):  # a default no AttrValue represents: keep the attr
                continue
    meta_graph_def.meta_info_def.stripped_default_attrs = True


# -- assets --------------------------------------------------------------------------------------------------
def _asset_path_from_tensor(path_tensor: Any) -> str:
    if not isinstance(path_tensor, Tensor):
        raise TypeError(f"Asset path tensor {path_tensor} must be a Tensor.")
    if path_tensor.op.type != "Const":
        raise TypeError(f"Asset path tensor {path_tensor} must be of type constant. Has type {path_tensor.op.type} "
                        "instead.")
    if path_tensor.dtype.base_dtype.name != "string":
        raise TypeError(f"Asset path tensor {path_tensor} must be of dtype string. Has type {path_tensor.dtype} "
                        "instead.")
    value = path_tensor.op.get_attr("value")
    if getattr(value, "size", 1) != 1 or getattr(value, "ndim", 0) != 0:
        raise TypeError(f"Asset path tensor {path_tensor} must be a scalar.")
    value = value.item() if hasattr(value, "item") else value
    return os.fsdecode(value)


def _maybe_save_assets(assets_collection: list | None) -> dict[str, str]:
    """Records each asset as an AssetFileDef in the graph's asset collection; returns {basename: source path}."""
    filename_map: dict[str, str] = {}
    if assets_collection is None:
        return filename_map
    g = get_default_graph()
    for asset_tensor in assets_collection:
        source = _asset_path_from_tensor(asset_tensor)
        if not source:
            raise ValueError(f"Asset filepath tensor {asset_tensor} in is invalid.")
        filename = _asset_filename_to_add(source, filename_map)
        asset = meta_graph_pb2.AssetFileDef(filename=filename)
        asset.tensor_info.name = asset_tensor.name
        g.add_to_collection(constants.ASSETS_KEY,
                            any_pb2.Any(type_url=ASSET_FILE_DEF_TYPE_URL, value=asset.SerializeToString()))
        filename_map[filename] = source
    return filename_map


def _asset_filename_to_add(source: str, filename_map: dict[str, str]) -> str:
    """The file's basename, or "<basename>_<i>" when a different file of the same basename is already added."""
    filename = os.path.basename(source)
    other = filename_map.get(filename)
    if other is None or other == source or filecmp.cmp(source, other, shallow=False):
        return filename
    i, unique = 1, filename
    while unique in filename_map:
        unique = f"{filename}_{i}"
        i += 1
    return unique


def _copy_assets_to_destination_dir(filename_map: dict[str, str], export_dir: str, saved_files: set[str]) -> None:
    assets_dir = os.path.join(export_dir, constants.ASSETS_DIRECTORY)
    os.makedirs(assets_dir, exist_ok=True)
    for filename, source in filename_map.items():
        dest = os.path.join(assets_dir, filename)
        if not os.path.exists(source):
            # TF skips such an asset too; the loader will then feed a path that does not exist.
            _log.warning("SavedModelBuilder: asset file %s does not exist; it is not copied to %s.", source, assets_dir)
        elif os.path.abspath(source) != os.path.abspath(dest) and dest not in saved_files:
            shutil.copyfile(source, dest)
            saved_files.add(dest)
