"""`tf.random`: the random ops under their TF 1.13+ names."""

from labflow.ops.candidate_sampling_ops import (
    all_candidate_sampler,
    fixed_unigram_candidate_sampler,
    learned_unigram_candidate_sampler,
    log_uniform_candidate_sampler,
    uniform_candidate_sampler,
)
from labflow.ops.random_ops import multinomial, set_random_seed, truncated_normal
from labflow.ops.random_ops import multinomial as categorical
from labflow.ops.random_ops import random_normal as normal
from labflow.ops.random_ops import random_shuffle as shuffle
from labflow.ops.random_ops import random_uniform as uniform

__all__ = [
    "all_candidate_sampler", "categorical", "fixed_unigram_candidate_sampler", "learned_unigram_candidate_sampler",
    "log_uniform_candidate_sampler", "multinomial", "normal", "set_random_seed", "shuffle", "truncated_normal",
    "uniform", "uniform_candidate_sampler",
]
