"""`tf.lookup`: lookup tables under their TF 1.15 names (tf.contrib.lookup has the older ones)."""

from labflow.ops.lookup_index import StaticVocabularyTable  # noqa: F401
from labflow.ops.lookup_ops import (  # noqa: F401
    KeyValueTensorInitializer,
    StaticHashTable,
    TextFileIndex,
    TextFileInitializer,
)
