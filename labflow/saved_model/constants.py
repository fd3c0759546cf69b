"""`tf.saved_model.constants`: the file names, folder names and collection keys of TF 1.x's SavedModel layout.

The values are TF's (tensorflow/cc/saved_model/constants.h), so a SavedModel written here has TF's on-disk layout.
"""

from __future__ import annotations

__all__ = ["ASSETS_DIRECTORY", "ASSETS_KEY", "DEBUG_DIRECTORY", "DEBUG_INFO_FILENAME_PB", "LEGACY_INIT_OP_KEY",
           "MAIN_OP_KEY", "SAVED_MODEL_FILENAME_PB", "SAVED_MODEL_FILENAME_PBTXT", "SAVED_MODEL_SCHEMA_VERSION",
           "VARIABLES_DIRECTORY", "VARIABLES_FILENAME"]

# Sub-folder for asset files (vocabularies, ...) that the graph reads at load time.
ASSETS_DIRECTORY = "assets"
# Sub-folder for files a loader ignores (e.g. TF Serving warm-up requests); the builder never writes it.
EXTRA_ASSETS_DIRECTORY = "assets.extra"
# Collection of Any-packed AssetFileDefs, one per asset file.
ASSETS_KEY = "saved_model_assets"
DEBUG_DIRECTORY = "debug"
DEBUG_INFO_FILENAME_PB = "saved_model_debug_info.pb"
# Collections holding the op the loader runs after restoring the variables.
LEGACY_INIT_OP_KEY = "legacy_init_op"
MAIN_OP_KEY = "saved_model_main_op"
TRAIN_OP_KEY = "saved_model_train_op"
# SignatureDef keys TF reserves for its own init and train ops.
INIT_OP_SIGNATURE_KEY = "__saved_model_init_op"
TRAIN_OP_SIGNATURE_KEY = "__saved_model_train_op"
SAVED_MODEL_SCHEMA_VERSION = 1
SAVED_MODEL_FILENAME_PB = "saved_model.pb"
SAVED_MODEL_FILENAME_PBTXT = "saved_model.pbtxt"
VARIABLES_DIRECTORY = "variables"
VARIABLES_FILENAME = "variables"
