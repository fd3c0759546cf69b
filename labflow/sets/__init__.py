"""`tf.sets`: set operations over the last dimension of dense Tensors and SparseTensors."""

from labflow.ops.set_ops import set_difference, set_intersection, set_size, set_union
from labflow.ops.set_ops import set_difference as difference
from labflow.ops.set_ops import set_intersection as intersection
from labflow.ops.set_ops import set_size as size
from labflow.ops.set_ops import set_union as union

__all__ = ["difference", "intersection", "set_difference", "set_intersection", "set_size", "set_union", "size",
           "union"]
