"""The CTC decoders: tf.nn.ctc_greedy_decoder (CTCGreedyDecoder) and ctc_beam_search_decoder
(CTCBeamSearchDecoder), returning their paths as SparseTensors [batch_size, longest path] as TF does.

The beam search is TF's prefix beam search (ctc_beam_search.h with the default scorer): each step scores
the log-softmax of the inputs, keeps the `beam_width` best prefixes (a new prefix must beat the worst
kept one), and `merge_repeated` also merges repeated labels of the final paths.
"""

from __future__ import annotations

import heapq
import math
from typing import Any

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import REQUIRED, op
from labflow.framework.sparse_tensor import SparseTensor
from labflow.ops.common import base, convert_to_tensor, dims, make_op

# ctc_ops imports this module last, after defining these (every import of labflow.ops loads ctc_ops first).
from labflow.ops.ctc_ops import _check_seq_len, _logits_dims, _sequence_length

__all__ = ["ctc_greedy_decoder", "ctc_beam_search_decoder", "ctc_beam_search_decoder_v2"]

_NEG = -math.inf


def _inputs_dims(op_type: str, ins: list) -> tuple:
    x, seq = ins
    b = _logits_dims(op_type, x)[1]
    sd = dims(seq)
    if sd is not None and len(sd) != 1:
        raise ValueError(f"{op_type}: sequence_length must be a vector, got rank {len(sd)}")
    if base(seq) != _dt.int32:
        raise TypeError(f"Input 'sequence_length' of '{op_type}' Op has type {base(seq).name} that does not "
                        "match expected type of int32")
    if b is None and sd is not None:
        b = sd[0]
    return b


def _check(op_type: str, x: np.ndarray, seq: np.ndarray) -> None:
    if x.ndim != 3:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: inputs is not a 3-Tensor")
    _check_seq_len(op_type, seq, x.shape[0], x.shape[1])


def _to_sparse(paths: list) -> tuple:
    """Per-row label lists as SparseTensor components (indices [N, 2], values [N], dense_shape [2])."""
    idx = [(b, i) for b, p in enumerate(paths) for i in range(len(p))]
    vals = [v for p in paths for v in p]
    longest = max((len(p) for p in paths), default=0)
    return (np.asarray(idx, np.int64).reshape(-1, 2), np.asarray(vals, np.int64),
            np.asarray([len(paths), longest], np.int64))


# -- CTCGreedyDecoder -----------------------------------------------------------------------------------
def _greedy_shape(ins: list, attrs: dict) -> list:
    b = _inputs_dims("CTCGreedyDecoder", ins)
    return [(_dt.int64, (None, 2)), (_dt.int64, (None,)), (_dt.int64, (2,)), (base(ins[0]), (b, 1))]


@op("CTCGreedyDecoder", inputs=("inputs", "sequence_length"), attrs={"merge_repeated": False, "blank_index": -1},
    shape=_greedy_shape, outputs=4, output_names=("decoded_indices", "decoded_values", "decoded_shape",
                                                  "log_probability"), devices=("CPU",), not_differentiable=True)
def ctc_greedy_decoder_kernel(xp, inputs, sequence_length, *, merge_repeated, blank_index):
    x, seq = np.asarray(inputs), np.asarray(sequence_length)
    _check("CTCGreedyDecoder", x, seq)
    t_max, batch, c = x.shape
    blank = blank_index if blank_index >= 0 else c + blank_index
    if not 0 <= blank < c:
        raise errors.InvalidArgumentError(None, None, f"CTCGreedyDecoder: blank_index expected to be between "
                                          f"{-c} and {c}, but was {blank_index}")
    best = x.argmax(axis=2) if c else np.zeros((t_max, batch), np.int64)
    top = x.max(axis=2) if c else np.zeros((t_max, batch))
    live = np.arange(t_max)[:, None] < seq[None, :]
    # TF's log probability is minus the sum of each step's largest input.
    log_prob = (0.0 - np.where(live, top, 0).sum(axis=0)).reshape(batch, 1)  # 0.0, not -0.0, for empty rows
    paths = []
    for b in range(batch):
        path, prev = [], -1
        for k in best[:seq[b], b].tolist():
            if k != blank and not (merge_repeated and k == prev):
                path.append(k)
            prev = k
        paths.append(path)
    return (*_to_sparse(paths), log_prob.astype(x.dtype))


def ctc_greedy_decoder(inputs: Any, sequence_length: Any, merge_repeated: bool = True,
                       blank_index: int | None = None) -> tuple:
    """Greedy (best path) CTC decoding: the most likely class at each step, repeats merged, blanks removed.

    Args:
        inputs: float logits [max_time, batch_size, num_classes].
        sequence_length: int32 [batch_size]: the valid steps of each example.
        merge_repeated: merge a class repeated on consecutive steps into one label.
        blank_index: the blank class (default: num_classes - 1; negative counts from the end).

    Returns:
        ([decoded]: one SparseTensor [batch_size, longest] of int64 labels, log_probability [batch_size, 1]:
        minus the sum of each step's largest logit).
    """
    with name_scope(None, "CTCGreedyDecoder") as scope:
        x = convert_to_tensor(inputs, name="inputs")
        seq = _sequence_length(sequence_length)
        o = make_op("CTCGreedyDecoder", [x, seq], {"merge_repeated": bool(merge_repeated),
                                                   "blank_index": -1 if blank_index is None else int(blank_index)},
                    scope)
        i, v, s, lp = o.outputs
        return [SparseTensor(i, v, s)], lp


# -- CTCBeamSearchDecoder -------------------------------------------------------------------------------
class _Beam:
    """One prefix (a node of the prefix tree) and its log scores: ending in a label, in a blank, total."""

    __slots__ = ("parent", "label", "children", "new", "old")

    def __init__(self, parent: _Beam | None, label: int):
        self.parent = parent
        self.label = label
        self.children: dict = {}
        self.new = [_NEG, _NEG, _NEG]  # label, blank, total
        self.old = [_NEG, _NEG, _NEG]

    def active(self) -> bool:
        return self.new[2] != _NEG

    def labels(self, merge_repeated: bool) -> list:
        seq, node = [], self
        while node.parent is not None:
            seq.append(node.label)
            node = node.parent
        seq.reverse()
        if merge_repeated:
            seq = [v for i, v in enumerate(seq) if i == 0 or v != seq[i - 1]]
        return seq


def _lse(a: float, b: float) -> float:
    if a == _NEG:
        return b
    if b == _NEG:
        return a
    m = max(a, b)
    return m + math.log1p(math.exp(-abs(a - b)))


class _Leaves:
    """TF's gtl::TopN of beams by total score: at most `width`; a push into a full set replaces the worst.

    A min-heap keyed by each beam's total when pushed (totals do not change while a beam is in the set,
    except the evicted bottom's, which is replaced at once)."""

    def __init__(self, width: int):
        self.width = width
        self.heap: list = []
        self.count = 0

    def __len__(self) -> int:
        return len(self.heap)

    def bottom(self) -> _Beam:
        return self.heap[0][2]

    def bottom_total(self) -> float:
        return self.heap[0][0]

    def push(self, e: _Beam) -> None:
        item = (e.new[2], self.count, e)
        self.count += 1
        if len(self.heap) < self.width:
            heapq.heappush(self.heap, item)
        elif item[0] > self.heap[0][0]:
            heapq.heapreplace(self.heap, item)

    def extract(self) -> list:
        out = [e for _, _, e in sorted(self.heap, key=lambda it: (-it[0], it[1]))]
        self.heap = []
        return out


def _beam_search(x: np.ndarray, beam_width: int, blank: int) -> _Leaves:
    """TF's CTCBeamSearchDecoder::Step over the rows of x [time, num_classes] of one example."""
    root = _Beam(None, -1)
    root.new = [_NEG, 0.0, 0.0]
    leaves = _Leaves(beam_width)
    leaves.push(root)
    num_labels = x.shape[1] - 1
    for row in x.tolist():
        m = max(row)
        top = m + math.log(sum(math.exp(v - m) for v in row))  # each step is a log-softmax
        branches = leaves.extract()
        for b in branches:
            b.old = list(b.new)
        for b in branches:
            if b.parent is not None:
                if b.parent.active():
                    prev = b.parent.old[1] if b.label == b.parent.label else b.parent.old[2]
                    b.new[0] = _lse(b.new[0], prev)
                b.new[0] += row[b.label] - top
            b.new[1] = b.old[2] + row[blank] - top
            b.new[2] = _lse(b.new[1], b.new[0])
            leaves.push(b)

        def candidate(total: float) -> bool:
            return total > _NEG and (len(leaves) < beam_width or total > leaves.bottom_total())

        scores = np.asarray(row[:num_labels]) - top
        for b in branches:
            if not candidate(b.old[2]):
                continue
            new_scores = scores + b.old[2]
            if 0 <= b.label < num_labels:
                new_scores[b.label] = scores[b.label] + b.old[1]  # a repeat needs a blank in between
            # Once the set is full its worst total only rises: a label at or below it now never qualifies,
            # so only those above it and the existing children (whose scores TF resets when they fail) are seen.
            floor = leaves.bottom_total() if len(leaves) == beam_width else _NEG
            labels = np.flatnonzero(new_scores > floor).tolist()
            if b.children:
                labels = sorted(set(labels).union(b.children))
            for label in labels:
                c = b.children.get(label)
                if c is not None and c.active():
                    continue
                total = float(new_scores[label])
                if candidate(total):
                    if c is None:
                        c = b.children[label] = _Beam(b, label)
                    c.new = [total, _NEG, total]
                    if len(leaves) == beam_width:
                        leaves.bottom().new = [_NEG, _NEG, _NEG]
                    leaves.push(c)
                elif c is not None:
                    c.old = [_NEG, _NEG, _NEG]
                    c.new = [_NEG, _NEG, _NEG]
    return leaves


def _beam_shape(ins: list, attrs: dict) -> list:
    b = _inputs_dims("CTCBeamSearchDecoder", ins)
    n, width = int(attrs["top_paths"]), int(attrs["beam_width"])
    if n < 1 or width < 1:
        raise ValueError(f"CTCBeamSearchDecoder: beam_width and top_paths must be >= 1, got {width} and {n}")
    if n > width:
        raise ValueError(f"CTCBeamSearchDecoder: top_paths ({n}) must be <= beam_width ({width})")
    return ([(_dt.int64, (None, 2))] * n + [(_dt.int64, (None,))] * n + [(_dt.int64, (2,))] * n
            + [(base(ins[0]), (b, n))])


@op("CTCBeamSearchDecoder", inputs=("inputs", "sequence_length"),
    attrs={"beam_width": REQUIRED, "top_paths": REQUIRED, "merge_repeated": True}, shape=_beam_shape,
    outputs=lambda attrs, n: 3 * int(attrs["top_paths"]) + 1, devices=("CPU",), not_differentiable=True)
def ctc_beam_search_decoder_kernel(xp, inputs, sequence_length, *, beam_width, top_paths, merge_repeated):
    x, seq = np.asarray(inputs), np.asarray(sequence_length)
    _check("CTCBeamSearchDecoder", x, seq)
    _, batch, c = x.shape
    paths = [[None] * batch for _ in range(top_paths)]
    log_prob = np.zeros((batch, top_paths), x.dtype)
    for b in range(batch):
        leaves = _beam_search(x[:seq[b], b, :], beam_width, c - 1)
        if top_paths > len(leaves):
            raise errors.InvalidArgumentError(None, None, f"CTCBeamSearchDecoder: Less leaves in the beam search "
                                              f"than requested ({len(leaves)} < top_paths = {top_paths}) "
                                              f"in batch {b}: lower top_paths")
        best = leaves.extract()[:top_paths]
        for i, e in enumerate(best):
            paths[i][b] = e.labels(merge_repeated)
            log_prob[b, i] = e.new[2]
    parts = [_to_sparse(p) for p in paths]
    return [p[0] for p in parts] + [p[1] for p in parts] + [p[2] for p in parts] + [log_prob]


def ctc_beam_search_decoder(inputs: Any, sequence_length: Any, beam_width: int = 100, top_paths: int = 1,
                            merge_repeated: bool = True) -> tuple:
    """Beam-search CTC decoding (TF 1.x `tf.nn.ctc_beam_search_decoder`).

    Args:
        inputs: float logits [max_time, batch_size, num_classes] (the blank is the last class).
        sequence_length: int32 [batch_size]: the valid steps of each example.
        beam_width: the number of prefixes kept at each step.
        top_paths: the number of paths returned (<= beam_width).
        merge_repeated: also merge repeated labels in the returned paths (TF 1.x's default, True).

    Returns:
        (decoded: a list of `top_paths` SparseTensors [batch_size, longest] of int64 labels, best first;
        log_probability: [batch_size, top_paths] the paths' log scores).

    Raises:
        ValueError: top_paths > beam_width, or either is < 1.
    """
    with name_scope(None, "CTCBeamSearchDecoder") as scope:
        x = convert_to_tensor(inputs, name="inputs")
        o = make_op("CTCBeamSearchDecoder", [x, _sequence_length(sequence_length)],
                    {"beam_width": int(beam_width), "top_paths": int(top_paths),
                     "merge_repeated": bool(merge_repeated)}, scope)
        outs = o.outputs
        n = int(top_paths)
        decoded = [SparseTensor(outs[k], outs[n + k], outs[2 * n + k]) for k in range(n)]
        return decoded, outs[3 * n]


def ctc_beam_search_decoder_v2(inputs: Any, sequence_length: Any, beam_width: int = 100, top_paths: int = 1) -> tuple:
    """`ctc_beam_search_decoder` without merging the returned paths' repeated labels (TF's v2 form).

    Args:
        inputs: float logits [max_time, batch_size, num_classes] (the blank is the last class).
        sequence_length: int32 [batch_size]: the valid steps of each example.
        beam_width: the number of prefixes kept at each step.
        top_paths: the number of paths returned (<= beam_width).

    Returns:
        (decoded, log_probability), as `ctc_beam_search_decoder`.
    """
    return ctc_beam_search_decoder(inputs, sequence_length, beam_width=beam_width, top_paths=top_paths,
                                   merge_repeated=False)
