"""`tf.random`: the random ops under their TF 1.13+ names."""

from labflow.ops.random_ops import multinomial, set_random_seed, truncated_normal
from labflow.ops.random_ops import multinomial as categorical
from labflow.ops.random_ops import random_normal as normal
from labflow.ops.random_ops import random_shuffle as shuffle
from labflow.ops.random_ops import random_uniform as uniform

__all__ = ["categorical", "multinomial", "normal", "set_random_seed", "shuffle", "truncated_normal", "uniform"]
