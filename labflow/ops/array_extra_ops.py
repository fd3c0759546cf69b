"""More array ops, re-exported here from their modules: array_sort_ops (unique, setdiff1d, sort/argsort,
searchsorted, bincount, histogram_fixed_width, unravel_index, confusion_matrix), array_seq_ops (where_v2,
sequence_mask, reverse_sequence, roll, lin_space, meshgrid, repeat, identity_n, ensure_shape, broadcast shapes,
parallel_stack), array_matrix_ops (matrix band/diag ops, diag, eye, einsum, tensordot) and array_space_ops
(space_to_depth, depth_to_space, space_to_batch(_nd), batch_to_space(_nd)) and array_patch_ops
(extract_image_patches)."""

from __future__ import annotations

from labflow.ops import array_matrix_ops, array_patch_ops, array_seq_ops, array_sort_ops, array_space_ops
from labflow.ops.array_matrix_ops import *  # noqa: F401,F403
from labflow.ops.array_patch_ops import *  # noqa: F401,F403
from labflow.ops.array_seq_ops import *  # noqa: F401,F403
from labflow.ops.array_sort_ops import *  # noqa: F401,F403
from labflow.ops.array_space_ops import *  # noqa: F401,F403

__all__: list[str] = (array_sort_ops.__all__ + array_seq_ops.__all__ + array_matrix_ops.__all__
                      + array_space_ops.__all__ + array_patch_ops.__all__)
