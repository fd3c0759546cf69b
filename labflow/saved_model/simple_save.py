"""`tf.saved_model.simple_save`: one call that exports a session's model for serving (tag "serve", Predict API)."""

from __future__ import annotations

from typing import Any

from labflow.framework.graph import GraphKeys
from labflow.saved_model import builder, signature_constants, signature_def_utils, tag_constants

__all__ = ["simple_save"]


def simple_save(session: Any, export_dir: Any, inputs: dict, outputs: dict, legacy_init_op: Any = None) -> None:
    """Saves `session`'s graph and variables as a SavedModel servable by TF Serving's Predict API.

    The MetaGraphDef is tagged `tag_constants.SERVING`, has one signature under
    `signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY` ("serving_default"), exports the assets of the graph's
    `GraphKeys.ASSET_FILEPATHS` collection, and has its devices cleared.

    Args:
        session: the session holding the trained variables.
        export_dir: where to write the SavedModel; must not exist, or be empty.
        inputs: signature input key -> `Tensor`.
        outputs: signature output key -> `Tensor`.
        legacy_init_op: an op the loader runs after restoring the variables (e.g. `tf.tables_initializer()`).

    Raises:
        AssertionError: `export_dir` exists and is not empty.
        ValueError: `inputs` or `outputs` is empty.
    """
    signature_def_map = {signature_constants.DEFAULT_SERVING_SIGNATURE_DEF_KEY:
                         signature_def_utils.predict_signature_def(inputs, outputs)}
    b = builder.SavedModelBuilder(export_dir)
    b.add_meta_graph_and_variables(session, tags=[tag_constants.SERVING], signature_def_map=signature_def_map,
                                   assets_collection=session.graph.get_collection(GraphKeys.ASSET_FILEPATHS),
                                   main_op=legacy_init_op, clear_devices=True)
    b.save()
