"""Candidate samplers for sampled losses (TF's *CandidateSampler ops) and ComputeAccidentalHits.

Each sampler op draws one set of `num_sampled` class ids per run, and returns the expected count of
every true and sampled class as TF's RangeSampler does: `p * num_sampled` when drawing with replacement,
and `1 - (1 - p)^num_tries` with `unique=True`, where `num_tries` is how many draws the rejection
sampling took. The generator (and the learned unigram counts) live in the session's device resources
under the node's name, seeded by the op's (seed, seed2) like labflow's random ops. The ops run on the
host (TF has CPU kernels only) and are not differentiable.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import REQUIRED, op
from labflow.ops.common import base, convert_to_tensor, dims, make_op
from labflow.ops.random_ops import _Rng, _seed_attrs

__all__ = ["uniform_candidate_sampler", "log_uniform_candidate_sampler", "learned_unigram_candidate_sampler",
           "fixed_unigram_candidate_sampler", "all_candidate_sampler", "compute_accidental_hits"]

_OUTPUTS = ("sampled_candidates", "true_expected_count", "sampled_expected_count")
_SEEDS = {"seed": 0, "seed2": 0}


def _err(msg: str) -> errors.InvalidArgumentError:
    return errors.InvalidArgumentError(None, None, msg)


# -- the distributions: draws and single-draw probabilities -----------------------------------------
class _Uniform:
    def __init__(self, range_max: int):
        self.range = range_max

    def draw(self, gen: np.random.Generator, n: int) -> np.ndarray:
        return gen.integers(0, self.range, size=n, dtype=np.int64)

    def probability(self, values: np.ndarray) -> np.ndarray:
        return np.full(values.shape, 1.0 / self.range)


class _LogUniform:
    """P(k) = log((k + 2) / (k + 1)) / log(range_max + 1): Zipf-like, for ids sorted by frequency."""

    def __init__(self, range_max: int):
        self.range = range_max
        self.log_range = np.log1p(range_max)

    def draw(self, gen: np.random.Generator, n: int) -> np.ndarray:
        v = np.exp(gen.random(n) * self.log_range).astype(np.int64) - 1
        return v % self.range  # floating-point round-off could give range_max itself

    def probability(self, values: np.ndarray) -> np.ndarray:
        v = values.astype(np.float64)
        return np.log((v + 2.0) / (v + 1.0)) / self.log_range


class _Weighted:
    """Draws ids in proportion to `weights` (the fixed and the learned unigram samplers)."""

    def __init__(self, weights: np.ndarray):
        self.weights = np.asarray(weights, np.float64)
        self.range = self.weights.size
        if not self.weights.sum() > 0 or (self.weights < 0).any():
            raise _err("a unigram candidate sampler needs non-negative weights with a positive sum")

    @property
    def support(self) -> int:
        return int(np.count_nonzero(self.weights))

    def draw(self, gen: np.random.Generator, n: int) -> np.ndarray:
        cdf = np.cumsum(self.weights)
        idx = np.searchsorted(cdf, gen.random(n) * cdf[-1], side="right")
        return np.minimum(idx, self.range - 1).astype(np.int64)

    def probability(self, values: np.ndarray) -> np.ndarray:
        inside = (values >= 0) & (values < self.range)
        w = np.where(inside, self.weights[np.clip(values, 0, self.range - 1)], 0.0)
        return w / self.weights.sum()


class _Learned(_Weighted):
    """Every id starts with weight 1 and gains 1 each time it is a true class (TF's UnigramSampler)."""

    def __init__(self, range_max: int):
        super().__init__(np.ones(range_max))


class _All:
    """Every id in [0, num_sampled), each with expected count 1 (TF's AllSampler)."""

    def __init__(self, n: int):
        self.range = n

    def draw(self, gen: Any, n: int) -> np.ndarray:
        return np.arange(n, dtype=np.int64)

    def probability(self, values: np.ndarray) -> np.ndarray:
        return np.full(values.shape, 1.0 / self.range)


def _draw_unique(dist: Any, gen: np.random.Generator, n: int) -> tuple[np.ndarray, int]:
    """TF's rejection sampling: draw until `n` distinct ids are seen; returns them and the number of draws."""
    stream = np.zeros(0, np.int64)
    while True:
        stream = np.concatenate([stream, dist.draw(gen, max(2 * n, 16))])
        _, first = np.unique(stream, return_index=True)
        if first.size >= n:
            first.sort()
            return stream[first[:n]], int(first[n - 1]) + 1


def _expected(p: np.ndarray, n: int, tries: int) -> np.ndarray:
    if tries == n:
        return (p * n).astype(np.float32)
    return (-np.expm1(tries * np.log1p(-p))).astype(np.float32)


class _State:
    """One node's generator and, for the learned unigram sampler, its running class counts."""

    def __init__(self, seed: int, seed2: int, dist: Any):
        self.gen = _Rng(np, seed, seed2).gen
        self.dist = dist


def _state(ctx: Any, seed: int, seed2: int, make_dist: Any) -> _State:
    s = ctx.state
    if s is None:
        s = ctx.state = ctx.resources.lookup_or_create(
            "", "candidate_sampler/" + ctx.name, lambda: _State(seed, seed2, make_dist()))
    return s


def _sample(state: _State, true_classes: np.ndarray, num_true: int, num_sampled: int, unique: bool,
            op_type: str) -> tuple:
    true_classes = np.asarray(true_classes)
    dist = state.dist
    if true_classes.ndim != 2 or true_classes.shape[1] != num_true:
        raise _err(f"{op_type}: true_classes must be a matrix with num_true={num_true} columns, got shape "
                   f"{list(true_classes.shape)}")
    if unique and num_sampled > dist.range:
        raise _err(f"{op_type}: Sampler's range is too small: cannot draw num_sampled={num_sampled} distinct "
                   f"ids from range_max={dist.range}; lower num_sampled or use unique=False")
    if unique and num_sampled > getattr(dist, "support", num_sampled):
        # TF would retry forever (until its CHECK on kint32max tries fails): only these ids can be drawn.
        raise _err(f"{op_type}: cannot draw num_sampled={num_sampled} distinct ids when only {dist.support} ids "
                   "have a nonzero weight; lower num_sampled or use unique=False")
    bad = (true_classes < 0) | (true_classes >= dist.range)
    if bad.any():
        v = int(true_classes[bad][0])
        raise _err(f"{op_type}: `true_candidate` out of range [0, {dist.range}), received {v}")
    if unique:
        sampled, tries = _draw_unique(dist, state.gen, num_sampled)
    else:
        sampled, tries = dist.draw(state.gen, num_sampled), num_sampled
    true_count = _expected(dist.probability(true_classes), num_sampled, tries)
    sampled_count = _expected(dist.probability(sampled), num_sampled, tries)
    if isinstance(dist, _Learned):
        np.add.at(dist.weights, true_classes.reshape(-1), 1.0)  # after sampling, as TF's Update
    return sampled, true_count, sampled_count


# -- shape function (shared) ------------------------------------------------------------------------
def _sampler_shape(ins: list, attrs: dict) -> list:
    t = ins[0]
    if base(t) != _dt.int64:
        raise TypeError(f"Input 'true_classes' of a candidate sampler has type {base(t).name} that does not "
                        "match expected type of int64: cast it with tf.cast(labels, tf.int64)")
    d = dims(t)
    num_true, num_sampled = attrs["num_true"], attrs["num_sampled"]
    if num_true < 1 or num_sampled < 1:
        raise ValueError(f"num_true and num_sampled must be >= 1, got {num_true} and {num_sampled}")
    if d is not None:
        if len(d) != 2:
            raise ValueError(f"Shape must be rank 2 but is rank {len(d)} for true_classes")
        if d[1] is not None and d[1] != num_true:
            raise ValueError(f"true_classes must have num_true={num_true} columns, but its shape is {list(d)}")
    batch = None if d is None else d[0]
    return [(_dt.int64, (num_sampled,)), (_dt.float32, (batch, num_true)), (_dt.float32, (num_sampled,))]


def _declare(op_type: str, attrs: dict, make_dist: Any) -> Any:
    """Registers one sampler op whose distribution `make_dist(attrs)` builds from its attrs."""
    @op(op_type, inputs=("true_classes",), attrs=dict(attrs, num_true=REQUIRED, num_sampled=REQUIRED,
                                                      unique=REQUIRED, **_SEEDS),
        shape=_sampler_shape, outputs=3, output_names=_OUTPUTS, stateful=True, needs_ctx=True,
        devices=("CPU",), not_differentiable=True)
    def kernel(xp, true_classes, *, ctx, num_true, num_sampled, unique, seed, seed2, **kw):
        st = _state(ctx, seed, seed2, lambda: make_dist(dict(kw, num_sampled=num_sampled)))
        return _sample(st, true_classes, num_true, num_sampled, unique, op_type)
    return kernel


def _checked_range(attrs: dict) -> int:
    if attrs["range_max"] < 1:
        raise _err(f"range_max must be positive, got {attrs['range_max']}")
    return int(attrs["range_max"])


uniform_sampler_kernel = _declare("UniformCandidateSampler", {"range_max": REQUIRED},
                                  lambda a: _Uniform(_checked_range(a)))
log_uniform_sampler_kernel = _declare("LogUniformCandidateSampler", {"range_max": REQUIRED},
                                      lambda a: _LogUniform(_checked_range(a)))
learned_unigram_sampler_kernel = _declare("LearnedUnigramCandidateSampler", {"range_max": REQUIRED},
                                          lambda a: _Learned(_checked_range(a)))
all_sampler_kernel = _declare("AllCandidateSampler", {}, lambda a: _All(a["num_sampled"]))


def _fixed_unigram(a: dict) -> _Weighted:
    """TF's FixedUnigramSampler: reserved ids (weight 0), then the unigrams or the vocab file's last
    column raised to `distortion`; only the ids of this shard (id % num_shards == shard) are kept."""
    range_max, vocab_file, unigrams = _checked_range(a), a["vocab_file"], list(a["unigrams"])
    if not vocab_file and not unigrams:
        raise _err("FixedUnigramCandidateSampler: Must provide either vocab_file or unigrams.")
    if vocab_file and unigrams:
        raise _err("FixedUnigramCandidateSampler: Must only provide one of vocab_file and unigrams.")
    num_shards, shard = int(a["num_shards"]), int(a["shard"])
    weights = [0.0 for i in range(int(a["num_reserved_ids"])) if i % num_shards == shard]
    word_id = len(weights)
    for w in (_vocab_weights(vocab_file) if vocab_file else unigrams):
        if word_id % num_shards == shard:
            weights.append(float(w) ** a["distortion"])
        word_id += 1
    if len(weights) != range_max:
        raise _err(f"FixedUnigramCandidateSampler: range is {range_max} must be equal to weights size "
                   f"{len(weights)} (num_reserved_ids plus the unigrams of this shard)")
    return _Weighted(np.asarray(weights))


def _vocab_weights(path: str) -> list:
    if not os.path.exists(path):
        raise errors.NotFoundError(None, None, f"FixedUnigramCandidateSampler: vocab_file {path} not found")
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line:
                continue
            try:
                out.append(float(line.split(",")[-1]))
            except ValueError:
                raise _err(f"FixedUnigramCandidateSampler: Wrong vocabulary format at line: {line} (the last "
                           "comma-separated field must be the word's count)") from None
    return out


fixed_unigram_sampler_kernel = _declare(
    "FixedUnigramCandidateSampler",
    {"range_max": REQUIRED, "vocab_file": "", "distortion": 1.0, "num_reserved_ids": 0, "num_shards": 1,
     "shard": 0, "unigrams": []}, _fixed_unigram)


# -- ComputeAccidentalHits ----------------------------------------------------------------------------
def _hits_shape(ins: list, attrs: dict) -> list:
    for nm, t, rank in (("true_classes", ins[0], 2), ("sampled_candidates", ins[1], 1)):
        if base(t) != _dt.int64:
            raise TypeError(f"Input '{nm}' of 'ComputeAccidentalHits' Op has type {base(t).name} that does not "
                            "match expected type of int64")
        d = dims(t)
        if d is not None and len(d) != rank:
            raise ValueError(f"Shape must be rank {rank} but is rank {len(d)} for {nm}")
    return [(_dt.int32, (None,)), (_dt.int64, (None,)), (_dt.float32, (None,))]


@op("ComputeAccidentalHits", inputs=("true_classes", "sampled_candidates"),
    attrs={"num_true": REQUIRED, **_SEEDS}, shape=_hits_shape, outputs=3,
    output_names=("indices", "ids", "weights"), devices=("CPU",), not_differentiable=True)
def compute_accidental_hits_kernel(xp, true_classes, sampled_candidates, *, num_true):
    if true_classes.ndim != 2 or true_classes.shape[1] != num_true:
        raise _err(f"ComputeAccidentalHits: true_candidates must be a batch_size * num_true matrix (num_true="
                   f"{num_true}), got shape {list(true_classes.shape)}")
    if sampled_candidates.ndim != 1:
        raise _err("ComputeAccidentalHits: sampled_candidates must be a vector, which is typically an output "
                   "from CandidateSampler")
    # A value sampled twice maps to its last position, as TF's hash map (later inserts overwrite).
    order = np.argsort(sampled_candidates, kind="stable")
    sorted_vals = sampled_candidates[order]
    flat = true_classes.reshape(-1)
    pos = np.searchsorted(sorted_vals, flat, side="right") - 1
    if sorted_vals.size:
        found = (pos >= 0) & (sorted_vals[np.clip(pos, 0, None)] == flat)
    else:
        found = np.zeros(flat.shape, bool)
    rows = (np.arange(flat.size) // max(num_true, 1))[found]
    ids = order[pos[found]]
    return (rows.astype(np.int32), ids.astype(np.int64),
            np.full(rows.shape, -np.finfo(np.float32).max, np.float32))


# -- public wrappers --------------------------------------------------------------------------------
def _true_classes(true_classes: Any) -> Any:
    return convert_to_tensor(true_classes, dtype_hint=_dt.int64, name="true_classes")


def _run(op_type: str, true_classes: Any, attrs: dict, seed: Any, name: Any) -> tuple:
    with name_scope(name, op_type, [true_classes]) as scope:
        tc = _true_classes(true_classes)
        o = make_op(op_type, [tc], dict(attrs, **_seed_attrs(seed)), scope)
        return tuple(o.outputs)


def uniform_candidate_sampler(true_classes: Any, num_true: int, num_sampled: int, unique: bool, range_max: int,
                              seed: int | None = None, name: str | None = None) -> tuple:
    """Samples classes from the uniform distribution over [0, range_max).

    Args:
        true_classes: an int64 Tensor [batch_size, num_true]: the target classes.
        num_true: the number of target classes per example.
        num_sampled: the number of classes to draw per batch.
        unique: draw without replacement (rejection sampling) when True.
        range_max: the number of possible classes.
        seed: the op seed (combined with the graph seed as in `tf.set_random_seed`).
        name: a name for the operation.

    Returns:
        (sampled_candidates [num_sampled] int64, true_expected_count [batch_size, num_true] float32,
        sampled_expected_count [num_sampled] float32).
    """
    return _run("UniformCandidateSampler", true_classes,
                dict(num_true=num_true, num_sampled=num_sampled, unique=unique, range_max=range_max), seed, name)


def log_uniform_candidate_sampler(true_classes: Any, num_true: int, num_sampled: int, unique: bool,
                                  range_max: int, seed: int | None = None, name: str | None = None) -> tuple:
    """Samples classes from the log-uniform (Zipfian) distribution over [0, range_max).

    P(class) = (log(class + 2) - log(class + 1)) / log(range_max + 1): suited to ids sorted by decreasing
    frequency (the default sampler of nce_loss and sampled_softmax_loss).

    Args:
        true_classes: an int64 Tensor [batch_size, num_true]: the target classes.
        num_true: the number of target classes per example.
        num_sampled: the number of classes to draw per batch.
        unique: draw without replacement (rejection sampling) when True.
        range_max: the number of possible classes.
        seed: the op seed.
        name: a name for the operation.

    Returns:
        (sampled_candidates, true_expected_count, sampled_expected_count), as `uniform_candidate_sampler`.
    """
    return _run("LogUniformCandidateSampler", true_classes,
                dict(num_true=num_true, num_sampled=num_sampled, unique=unique, range_max=range_max), seed, name)


def learned_unigram_candidate_sampler(true_classes: Any, num_true: int, num_sampled: int, unique: bool,
                                      range_max: int, seed: int | None = None, name: str | None = None) -> tuple:
    """Samples classes from a unigram distribution learned from the true classes seen so far.

    Every class starts with weight 1 and gains 1 each time it appears in `true_classes` (after that run's
    draw). The counts live in the session, not in checkpoints.

    Args:
        true_classes: an int64 Tensor [batch_size, num_true]: the target classes.
        num_true: the number of target classes per example.
        num_sampled: the number of classes to draw per batch.
        unique: draw without replacement (rejection sampling) when True.
        range_max: the number of possible classes.
        seed: the op seed.
        name: a name for the operation.

    Returns:
        (sampled_candidates, true_expected_count, sampled_expected_count), as `uniform_candidate_sampler`.
    """
    return _run("LearnedUnigramCandidateSampler", true_classes,
                dict(num_true=num_true, num_sampled=num_sampled, unique=unique, range_max=range_max), seed, name)


def fixed_unigram_candidate_sampler(true_classes: Any, num_true: int, num_sampled: int, unique: bool,
                                    range_max: int, vocab_file: str = "", distortion: float = 1.0,
                                    num_reserved_ids: int = 0, num_shards: int = 1, shard: int = 0,
                                    unigrams: Sequence[float] = (), seed: int | None = None,
                                    name: str | None = None) -> tuple:
    """Samples classes from a fixed unigram distribution (a list of counts, or a vocabulary file).

    Args:
        true_classes: an int64 Tensor [batch_size, num_true]: the target classes.
        num_true: the number of target classes per example.
        num_sampled: the number of classes to draw per batch.
        unique: draw without replacement (rejection sampling) when True.
        range_max: the number of possible classes (num_reserved_ids plus the unigrams of this shard).
        vocab_file: a CSV-like file, one line per class, whose last field is the class's count.
        distortion: each count is raised to this power (word2vec uses 0.75).
        num_reserved_ids: ids [0, num_reserved_ids) come first, with weight 0 (never drawn).
        num_shards, shard: keep only the ids with `id % num_shards == shard`.
        unigrams: the counts, one per class (exactly one of vocab_file and unigrams is given).
        seed: the op seed.
        name: a name for the operation.

    Returns:
        (sampled_candidates, true_expected_count, sampled_expected_count), as `uniform_candidate_sampler`.
    """
    attrs = dict(num_true=num_true, num_sampled=num_sampled, unique=unique, range_max=range_max,
                 vocab_file=vocab_file or "", distortion=float(distortion), num_reserved_ids=num_reserved_ids,
                 num_shards=num_shards, shard=shard, unigrams=[float(u) for u in unigrams])
    if not 0 <= shard < num_shards:
        raise ValueError(f"shard must be in [0, num_shards={num_shards}), got {shard}")
    return _run("FixedUnigramCandidateSampler", true_classes, attrs, seed, name)


def all_candidate_sampler(true_classes: Any, num_true: int, num_sampled: int, unique: bool,
                          seed: int | None = None, name: str | None = None) -> tuple:
    """Returns every class in [0, num_sampled), each with expected count 1 (for testing sampled losses).

    Args:
        true_classes: an int64 Tensor [batch_size, num_true]: the target classes.
        num_true: the number of target classes per example.
        num_sampled: the number of classes (all of them are returned).
        unique: ignored (every class appears once).
        seed: the op seed (unused: nothing is random).
        name: a name for the operation.

    Returns:
        (sampled_candidates, true_expected_count, sampled_expected_count), as `uniform_candidate_sampler`.
    """
    return _run("AllCandidateSampler", true_classes, dict(num_true=num_true, num_sampled=num_sampled,
                                                           unique=unique), seed, name)


def compute_accidental_hits(true_classes: Any, sampled_candidates: Any, num_true: int, seed: int | None = None,
                            name: str | None = None) -> tuple:
    """Finds the sampled candidates that equal one of their example's true classes.

    Args:
        true_classes: an int64 Tensor [batch_size, num_true].
        sampled_candidates: an int64 Tensor [num_sampled] (a sampler's first output).
        num_true: the number of target classes per example.
        seed: accepted for TF compatibility (nothing is random).
        name: a name for the operation.

    Returns:
        (indices int32 [num_hits]: the example of each hit, ids int64 [num_hits]: the position of the hit in
        `sampled_candidates`, weights float32 [num_hits]: -FLT_MAX, to add to those sampled logits).
    """
    with name_scope(name, "ComputeAccidentalHits", [true_classes, sampled_candidates]) as scope:
        tc = _true_classes(true_classes)
        sc = convert_to_tensor(sampled_candidates, dtype_hint=_dt.int64, name="sampled_candidates")
        o = make_op("ComputeAccidentalHits", [tc, sc], dict(num_true=num_true, **_seed_attrs(seed)),
                    scope)
        return tuple(o.outputs)
