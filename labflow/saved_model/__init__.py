"""`tf.saved_model`: TF 1.x's SavedModel export (SavedModelBuilder, simple_save) and load (loader.load).

A SavedModel written here has TF's on-disk layout: saved_model.pb (a SavedModel proto), variables/ and assets/.
"""
# ruff: noqa: F401, E402, I001 - the public face: re-exports in TF 1.x's tf.saved_model layout.

from labflow.saved_model import (
    builder, constants, loader, main_op, signature_constants, signature_def_utils, tag_constants, utils,
)
from labflow.saved_model.builder import SavedModelBuilder as Builder
from labflow.saved_model.constants import (
    ASSETS_DIRECTORY, ASSETS_KEY, DEBUG_DIRECTORY, DEBUG_INFO_FILENAME_PB, LEGACY_INIT_OP_KEY, MAIN_OP_KEY,
    SAVED_MODEL_FILENAME_PB, SAVED_MODEL_FILENAME_PBTXT, SAVED_MODEL_SCHEMA_VERSION, VARIABLES_DIRECTORY,
    VARIABLES_FILENAME,
)
from labflow.saved_model.loader import load, maybe_saved_model_directory
from labflow.saved_model.loader import maybe_saved_model_directory as contains_saved_model
from labflow.saved_model.main_op import main_op_with_restore
from labflow.saved_model.signature_constants import (
    CLASSIFY_INPUTS, CLASSIFY_METHOD_NAME, CLASSIFY_OUTPUT_CLASSES, CLASSIFY_OUTPUT_SCORES,
    DEFAULT_SERVING_SIGNATURE_DEF_KEY, PREDICT_INPUTS, PREDICT_METHOD_NAME, PREDICT_OUTPUTS, REGRESS_INPUTS,
    REGRESS_METHOD_NAME, REGRESS_OUTPUTS,
)
from labflow.saved_model.signature_def_utils import (
    build_signature_def, classification_signature_def, is_valid_signature, predict_signature_def,
    regression_signature_def,
)
from labflow.saved_model.tag_constants import GPU, SERVING, TPU, TRAINING
from labflow.saved_model.utils import build_tensor_info, get_tensor_from_tensor_info
from labflow.saved_model.simple_save import simple_save
