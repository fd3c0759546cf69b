"""`tf.saved_model.loader`: loads a MetaGraphDef of a SavedModel into a session, restoring its variables.

`load` imports the MetaGraphDef with `tf.train.import_meta_graph`, restores the variables with the Saver it
holds, then runs the main op (or legacy init op) with the asset tensors fed the paths of the copied asset files.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from google.protobuf import message, text_format

from labflow.framework.graph import GraphKeys
from labflow.framework.protos import meta_graph_pb2, saved_model_pb2
from labflow.saved_model import constants, signature_def_utils
from labflow.saved_model.utils import check_tags, prepend_name_scope

__all__ = ["load", "maybe_saved_model_directory"]

_log = logging.getLogger("labflow.saved_model")


def parse_saved_model(export_dir: Any) -> saved_model_pb2.SavedModel:
    """Reads `<export_dir>/saved_model.pb` (or `saved_model.pbtxt`).

    Raises:
        IOError: neither file exists, or the file does not parse as a SavedModel.
    """
    export_dir = os.fsdecode(export_dir)
    pb = os.path.join(export_dir, constants.SAVED_MODEL_FILENAME_PB)
    pbtxt = os.path.join(export_dir, constants.SAVED_MODEL_FILENAME_PBTXT)
    saved_model = saved_model_pb2.SavedModel()
    if os.path.exists(pb):
        with open(pb, "rb") as f:
            data = f.read()
        try:
            saved_model.ParseFromString(data)
        except message.DecodeError as e:
            raise OSError(f"Cannot parse file {pb}: {e}.") from None
    elif os.path.exists(pbtxt):
        with open(pbtxt, "rb") as f:
            data = f.read()
        try:
            text_format.Parse(data.decode("utf-8"), saved_model)
        except (text_format.ParseError, UnicodeDecodeError) as e:
            raise OSError(f"Cannot parse file {pbtxt}: {e}.") from None
    else:
        raise OSError(f"SavedModel file does not exist at: {export_dir}{os.path.sep}"
                      f"{{{constants.SAVED_MODEL_FILENAME_PBTXT}|{constants.SAVED_MODEL_FILENAME_PB}}}")
    return saved_model


def _asset_file_defs(meta_graph_def: Any) -> list:
    if len(meta_graph_def.asset_file_def):
        return list(meta_graph_def.asset_file_def)
    out = []
    if constants.ASSETS_KEY in meta_graph_def.collection_def:
        for packed in meta_graph_def.collection_def[constants.ASSETS_KEY].any_list.value:
            # TF packs them as tensorflow.AssetFileDef, same wire format as ours: match on the message name only.
            if packed.type_url.rsplit("/", 1)[-1].rsplit(".", 1)[-1] != "AssetFileDef":
                raise ValueError(f"Collection '{constants.ASSETS_KEY}' holds a {packed.type_url}, expected "
                                 "AssetFileDef protos.")
            out.append(meta_graph_pb2.AssetFileDef.FromString(packed.value))
    return out


def get_asset_tensors(export_dir: Any, meta_graph_def_to_load: Any, import_scope: str | None = None) -> dict:
    """Asset tensor name (with `import_scope`) -> path of its file under `<export_dir>/assets`."""
    assets_dir = os.path.join(os.fsdecode(export_dir), constants.ASSETS_DIRECTORY)
    return {prepend_name_scope(a.tensor_info.name, import_scope): os.path.join(assets_dir, a.filename)
            for a in _asset_file_defs(meta_graph_def_to_load)}


def _op_from_collection(graph: Any, meta_graph_def: Any, key: str, import_scope: str | None) -> Any:
    if key not in meta_graph_def.collection_def:
        return None
    names = meta_graph_def.collection_def[key].node_list.value
    if len(names) != 1:
        raise RuntimeError(f"Expected exactly one SavedModel init op. Found {len(names)}: {list(names)}.")
    return graph.as_graph_element(prepend_name_scope(names[0], import_scope))


def get_init_op(graph: Any, meta_graph_def: Any, import_scope: str | None = None) -> Any:
    """The op to run after restoring: TF 2.x's init-op signature, else the main op, else the legacy init op."""
    if constants.INIT_OP_SIGNATURE_KEY in meta_graph_def.signature_def:
        with graph.as_default():
            return signature_def_utils.load_op_from_signature_def(
                meta_graph_def.signature_def[constants.INIT_OP_SIGNATURE_KEY], constants.INIT_OP_SIGNATURE_KEY,
                import_scope)
    return (_op_from_collection(graph, meta_graph_def, constants.MAIN_OP_KEY, import_scope)
            or _op_from_collection(graph, meta_graph_def, constants.LEGACY_INIT_OP_KEY, import_scope))


class SavedModelLoader:
    """Loads graphs and restores variable values from a SavedModel (TF's loader_impl.SavedModelLoader)."""

    def __init__(self, export_dir: Any):
        """Parses `<export_dir>/saved_model.pb`.

        Raises:
            IOError: no SavedModel file in `export_dir`, or one that does not parse.
        """
        self._export_dir = os.fsdecode(export_dir)
        self._variables_path = os.path.join(self._export_dir, constants.VARIABLES_DIRECTORY,
                                            constants.VARIABLES_FILENAME)
        self._saved_model = parse_saved_model(self._export_dir)

    @property
    def export_dir(self) -> str:
        """Directory containing the SavedModel."""
        return self._export_dir

    @property
    def variables_path(self) -> str:
        """Checkpoint prefix of the variables (`<export_dir>/variables/variables`)."""
        return self._variables_path

    @property
    def saved_model(self) -> saved_model_pb2.SavedModel:
        """The parsed SavedModel proto."""
        return self._saved_model

    def get_meta_graph_def_from_tags(self, tags: Any) -> meta_graph_pb2.MetaGraphDef:
        """The first MetaGraphDef whose tag set equals `tags`.

        Raises:
            RuntimeError: no MetaGraphDef has exactly these tags (the message lists the tag sets there are).
        """
        wanted = set(check_tags(tags))
        available = []
        for meta_graph_def in self._saved_model.meta_graphs:
            have = set(meta_graph_def.meta_info_def.tags)
            if have == wanted:
                return meta_graph_def
            available.append(have)
        raise RuntimeError(f"MetaGraphDef associated with tags {str(sorted(wanted)).strip('[]')} could not be found "
                           f"in SavedModel, with available tags '{available}'. Pass one of these tag sets to "
                           "tf.saved_model.loader.load.")

    def load_graph(self, graph: Any, tags: Any, import_scope: str | None = None, **saver_kwargs: Any) -> tuple:
        """Imports the MetaGraphDef with `tags` into `graph`; returns (its Saver or None, None)."""
        from labflow.train.meta_graph import import_meta_graph
        meta_graph_def = self.get_meta_graph_def_from_tags(tags)
        with graph.as_default():
            return import_meta_graph(meta_graph_def, import_scope=import_scope, **saver_kwargs), None

    def restore_variables(self, sess: Any, saver: Any, import_scope: str | None = None) -> None:
        """Restores the SavedModel's variables into `sess` with `saver`.

        Raises:
            ValueError: `saver` is None but the graph has variables.
            NotFoundError: the variables files are missing.
        """
        from labflow.train.saver import Saver
        with sess.graph.as_default():
            g = sess.graph
            scope = import_scope and import_scope.rstrip("/") + "/"
            has_variables = (g.get_collection(GraphKeys.GLOBAL_VARIABLES, scope)
                             or g.get_collection(GraphKeys.SAVEABLE_OBJECTS, scope))
            if saver is None and not has_variables:
                _log.info("The specified SavedModel has no variables; no checkpoints were restored.")
            elif isinstance(saver, Saver):
                saver.restore(sess, self._variables_path)
            else:
                raise ValueError("No tf.train.Saver object was passed to the function "
                                 "`SavedModelLoader.restore_variables`. Since there are variables in the graph, a "
                                 "saver is required.")

    def run_init_ops(self, sess: Any, tags: Any, import_scope: str | None = None) -> None:
        """Runs the main op (or legacy init op), feeding each asset tensor the path of its file in `assets/`."""
        meta_graph_def = self.get_meta_graph_def_from_tags(tags)
        with sess.graph.as_default():
            assets = get_asset_tensors(self._export_dir, meta_graph_def, import_scope)
            init_op = get_init_op(sess.graph, meta_graph_def, import_scope)
            if init_op is not None:
                sess.run(fetches=[init_op], feed_dict=assets)

    def load(self, sess: Any, tags: Any, import_scope: str | None = None,
             **saver_kwargs: Any) -> meta_graph_pb2.MetaGraphDef:
        """Imports the graph, restores the variables, runs the init ops; returns the MetaGraphDef (unscoped)."""
        with sess.graph.as_default():
            saver, _ = self.load_graph(sess.graph, tags, import_scope, **saver_kwargs)
            self.restore_variables(sess, saver, import_scope)
            self.run_init_ops(sess, tags, import_scope)
        return self.get_meta_graph_def_from_tags(tags)


def load(sess: Any, tags: Any, export_dir: Any, import_scope: str | None = None,
         **saver_kwargs: Any) -> meta_graph_pb2.MetaGraphDef:
    """Loads the MetaGraphDef of a SavedModel that has exactly `tags` into `sess` and restores its variables.

    Args:
        sess: the session to load into; the graph is imported into `sess.graph`.
        tags: the tag set of the MetaGraphDef, e.g. `[tf.saved_model.tag_constants.SERVING]`.
        export_dir: the SavedModel's directory.
        import_scope: a name scope put in front of every imported name (not written into the returned proto).
        **saver_kwargs: passed to `tf.train.import_meta_graph`.

    Returns:
        The loaded `MetaGraphDef`, e.g. for its `signature_def` map.

    Raises:
        IOError: no SavedModel in `export_dir`.
        RuntimeError: no MetaGraphDef with exactly these tags.
    """
    return SavedModelLoader(export_dir).load(sess, tags, import_scope, **saver_kwargs)


def maybe_saved_model_directory(export_dir: Any) -> bool:
    """Whether `export_dir` may hold a SavedModel (has saved_model.pb or .pbtxt); False means it surely does not."""
    export_dir = os.fsdecode(export_dir)
    return any(os.path.exists(os.path.join(export_dir, name))
               for name in (constants.SAVED_MODEL_FILENAME_PB, constants.SAVED_MODEL_FILENAME_PBTXT))
