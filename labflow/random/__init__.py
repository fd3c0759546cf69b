"""`tf.random`: the random ops under their TF 1.13+ names, including the stateless (seed-tensor) ones."""

from labflow.ops.candidate_sampling_ops import (
    all_candidate_sampler,
    fixed_unigram_candidate_sampler,
    learned_unigram_candidate_sampler,
    log_uniform_candidate_sampler,
    uniform_candidate_sampler,
)
from labflow.ops.random_extra_ops import (
    fold_in,
    split,
    stateless_categorical,
    stateless_multinomial,
    stateless_truncated_normal,
)
from labflow.ops.random_extra_ops import random_gamma as gamma
from labflow.ops.random_extra_ops import random_poisson as poisson
from labflow.ops.random_extra_ops import stateless_random_normal as stateless_normal
from labflow.ops.random_extra_ops import stateless_random_uniform as stateless_uniform
from labflow.ops.random_ops import get_seed, multinomial, set_random_seed, truncated_normal
from labflow.ops.random_ops import multinomial as categorical
from labflow.ops.random_ops import random_normal as normal
from labflow.ops.random_ops import random_shuffle as shuffle
from labflow.ops.random_ops import random_uniform as uniform

__all__ = [
    "all_candidate_sampler", "categorical", "fixed_unigram_candidate_sampler", "fold_in", "gamma", "get_seed",
    "learned_unigram_candidate_sampler", "log_uniform_candidate_sampler", "multinomial", "normal", "poisson",
    "set_random_seed", "shuffle", "split", "stateless_categorical", "stateless_multinomial", "stateless_normal",
    "stateless_truncated_normal", "stateless_uniform", "truncated_normal", "uniform", "uniform_candidate_sampler",
]
