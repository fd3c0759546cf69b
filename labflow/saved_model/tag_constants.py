"""`tf.saved_model.tag_constants`: the standard tags of a SavedModel's MetaGraphDefs."""

from __future__ import annotations

__all__ = ["GPU", "SERVING", "TPU", "TRAINING"]

SERVING = "serve"
TRAINING = "train"
# Used by Estimator exports (not part of tf.saved_model's public names in TF 1.x).
EVAL = "eval"
GPU = "gpu"
TPU = "tpu"
