"""`tf.strings`: the string ops under their TF 1.13+ names (the same ops as tf.string_join, tf.substr, ...)."""

from labflow.ops.print_ops import string_format as format  # noqa: F401
from labflow.ops.string_convert_ops import as_string  # noqa: F401
from labflow.ops.string_convert_ops import string_to_hash_bucket as to_hash_bucket  # noqa: F401
from labflow.ops.string_convert_ops import string_to_hash_bucket_fast as to_hash_bucket_fast  # noqa: F401
from labflow.ops.string_convert_ops import string_to_hash_bucket_strong as to_hash_bucket_strong  # noqa: F401
from labflow.ops.string_convert_ops import string_to_number as to_number  # noqa: F401
from labflow.ops.string_ops import lower, reduce_join, regex_full_match, regex_replace, substr, upper  # noqa: F401
from labflow.ops.string_ops import string_join as join  # noqa: F401
from labflow.ops.string_ops import string_length as length  # noqa: F401
from labflow.ops.string_ops import string_strip as strip  # noqa: F401
from labflow.ops.string_ops import strings_split as split  # noqa: F401
