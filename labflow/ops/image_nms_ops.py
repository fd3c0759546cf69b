"""Non-max suppression: NonMaxSuppressionV2/V3/V4/V5 and NonMaxSuppressionWithOverlaps.

Greedy selection by descending score (ties: lower index first), a box being dropped when its overlap with
a selected one exceeds the threshold; V5 adds soft-NMS (Gaussian re-scoring, Bodla et al. 2017). Boxes are
[y1, x1, y2, x2] in any consistent units with the corners in either order. The loop is sequential and small,
so it runs on host values, like TF's CPU kernels.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from labflow import dtypes as _dt
from labflow import errors
from labflow.framework.graph import name_scope
from labflow.framework.registry import op
from labflow.framework.tensor import Tensor
from labflow.ops.common import base, constant_value, convert_to_tensor, dims, make_op, make_tensor

_BOX_TYPES = (_dt.float16, _dt.float32)


def _rank(op_type: str, what: str, t: Any, rank: int) -> tuple | None:
    d = dims(t)
    if d is not None and len(d) != rank:
        raise ValueError(f"Shape must be rank {rank} but is rank {len(d)} for '{op_type}' (input '{what}')")
    return d


def _nms_shape(op_type: str, first: str = "boxes", outputs: int = 1) -> Any:
    def fn(ins, attrs):
        b = _rank(op_type, first, ins[0], 2)
        if first == "boxes" and b is not None and b[1] not in (None, 4):
            raise ValueError(f"Dimension must be 4 but is {b[1]} for '{op_type}' (input 'boxes' is [num_boxes, 4])")
        s = _rank(op_type, "scores", ins[1], 1)
        if b is not None and s is not None and None not in (b[0], s[0]) and b[0] != s[0]:
            raise ValueError(f"Dimensions must be equal, but are {b[0]} and {s[0]} for '{op_type}' ({first} and "
                             "scores)")
        for i in range(2, len(ins)):
            _rank(op_type, "threshold" if i > 2 else "max_output_size", ins[i], 0)
        n = None
        if attrs.get("pad_to_max_output_size"):
            v = constant_value(ins[2])
            n = None if v is None else int(v)
        out = [(_dt.int32, (n,))]
        if outputs == 3:
            out.append((base(ins[1]), (n,)))
        if outputs >= 2:
            out.append((_dt.int32, ()))
        return out if outputs > 1 else out[0]
    return fn


def box_iou(boxes: np.ndarray) -> Callable:
    """f(i, others) -> IoU of box i with each box in `others` (0 where either box has no area)."""
    y1, y2 = np.minimum(boxes[:, 0], boxes[:, 2]), np.maximum(boxes[:, 0], boxes[:, 2])
    x1, x2 = np.minimum(boxes[:, 1], boxes[:, 3]), np.maximum(boxes[:, 1], boxes[:, 3])
    area = (y2 - y1) * (x2 - x1)

    def iou(i: int, others: np.ndarray) -> np.ndarray:
        ih = np.maximum(np.minimum(y2[i], y2[others]) - np.maximum(y1[i], y1[others]), 0)
        iw = np.maximum(np.minimum(x2[i], x2[others]) - np.maximum(x1[i], x1[others]), 0)
        inter = ih * iw
        ok = (area[i] > 0) & (area[others] > 0)
        return np.where(ok, inter / np.where(ok, area[i] + area[others] - inter, 1), 0.0)
    return iou


def greedy_nms(op_type: str, overlap: Callable, scores: np.ndarray, max_output_size: Any, threshold: float,
               score_threshold: float, soft_sigma: float = 0.0) -> tuple:
    """(selected indices, their scores) by greedy NMS; soft_sigma > 0 decays overlapping scores instead."""
    n_out = int(max_output_size)
    if n_out < 0:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: max_output_size must be >= 0, got {n_out}")
    if soft_sigma < 0:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: soft_nms_sigma must be non-negative, got "
                                          f"{soft_sigma}")
    cur = np.where(scores > score_threshold, scores.astype(np.float64), -np.inf)
    keep: list[int] = []
    kept_scores: list[float] = []
    while len(keep) < n_out:
        i = int(np.argmax(cur))  # the first maximum: ties go to the lower index
        if not np.isfinite(cur[i]) or cur[i] <= score_threshold:
            break
        keep.append(i)
        kept_scores.append(float(cur[i]))
        cur[i] = -np.inf
        alive = np.flatnonzero(np.isfinite(cur))
        if not len(alive):
            break
        ov = overlap(i, alive)
        if soft_sigma > 0:
            weight = np.where(ov <= threshold, np.exp(-0.5 / soft_sigma * ov * ov), 0.0)
            cur[alive] = np.where(cur[alive] * weight > score_threshold, cur[alive] * weight, -np.inf)
        else:
            cur[alive[ov > threshold]] = -np.inf
    return np.asarray(keep, np.int32), np.asarray(kept_scores, np.float64)


def _boxes(op_type: str, boxes: Any, scores: Any, iou_threshold: Any) -> tuple:
    t = float(iou_threshold)
    if not 0 <= t <= 1:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: iou_threshold must be in [0, 1], got {t}")
    boxes = np.asarray(boxes, np.float64)
    scores = np.asarray(scores, np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: boxes must be [num_boxes, 4], got shape "
                                          f"{list(boxes.shape)}")
    if scores.shape != (boxes.shape[0],):
        raise errors.InvalidArgumentError(None, None, f"{op_type}: scores has incompatible shape "
                                          f"{list(scores.shape)} for {boxes.shape[0]} boxes")
    return boxes, scores


def _padded(idx: np.ndarray, n: int, pad: bool) -> tuple:
    valid = np.int32(len(idx))
    if pad:
        idx = np.concatenate([idx, np.zeros(max(0, n - len(idx)), idx.dtype)])
    return idx, valid


@op("NonMaxSuppressionV2", inputs=("boxes", "scores", "max_output_size", "iou_threshold"), types=_BOX_TYPES,
    type_inputs=("boxes", "scores"), shape=_nms_shape("NonMaxSuppressionV2"), host_op=True, not_differentiable=True)
def nms_v2_kernel(xp, boxes, scores, max_output_size, iou_threshold):
    b, s = _boxes("NonMaxSuppressionV2", boxes, scores, iou_threshold)
    return greedy_nms("NonMaxSuppressionV2", box_iou(b), s, max_output_size, float(iou_threshold), -np.inf)[0]


@op("NonMaxSuppressionV3", inputs=("boxes", "scores", "max_output_size", "iou_threshold", "score_threshold"),
    types=_BOX_TYPES, type_inputs=("boxes", "scores"), shape=_nms_shape("NonMaxSuppressionV3"), host_op=True,
    not_differentiable=True)
def nms_v3_kernel(xp, boxes, scores, max_output_size, iou_threshold, score_threshold):
    b, s = _boxes("NonMaxSuppressionV3", boxes, scores, iou_threshold)
    return greedy_nms("NonMaxSuppressionV3", box_iou(b), s, max_output_size, float(iou_threshold),
                      float(score_threshold))[0]


@op("NonMaxSuppressionV4", inputs=("boxes", "scores", "max_output_size", "iou_threshold", "score_threshold"),
    attrs={"pad_to_max_output_size": False}, types=_BOX_TYPES, type_inputs=("boxes", "scores"),
    shape=_nms_shape("NonMaxSuppressionV4", outputs=2), outputs=2, output_names=("selected_indices", "valid_outputs"),
    host_op=True, not_differentiable=True)
def nms_v4_kernel(xp, boxes, scores, max_output_size, iou_threshold, score_threshold, *, pad_to_max_output_size):
    b, s = _boxes("NonMaxSuppressionV4", boxes, scores, iou_threshold)
    idx, _ = greedy_nms("NonMaxSuppressionV4", box_iou(b), s, max_output_size, float(iou_threshold),
                        float(score_threshold))
    return _padded(idx, int(max_output_size), pad_to_max_output_size)


@op("NonMaxSuppressionV5", inputs=("boxes", "scores", "max_output_size", "iou_threshold", "score_threshold",
                                   "soft_nms_sigma"),
    attrs={"pad_to_max_output_size": False}, types=_BOX_TYPES, type_inputs=("boxes", "scores"),
    shape=_nms_shape("NonMaxSuppressionV5", outputs=3), outputs=3,
    output_names=("selected_indices", "selected_scores", "valid_outputs"), host_op=True, not_differentiable=True)
def nms_v5_kernel(xp, boxes, scores, max_output_size, iou_threshold, score_threshold, soft_nms_sigma, *,
                  pad_to_max_output_size):
    b, s = _boxes("NonMaxSuppressionV5", boxes, scores, iou_threshold)
    idx, sc = greedy_nms("NonMaxSuppressionV5", box_iou(b), s, max_output_size, float(iou_threshold),
                         float(score_threshold), float(soft_nms_sigma))
    n = int(max_output_size)
    idx, valid = _padded(idx, n, pad_to_max_output_size)
    sc, _ = _padded(sc, n, pad_to_max_output_size)
    return idx, sc.astype(np.asarray(scores).dtype), valid


@op("NonMaxSuppressionWithOverlaps", inputs=("overlaps", "scores", "max_output_size", "overlap_threshold",
                                             "score_threshold"),
    shape=_nms_shape("NonMaxSuppressionWithOverlaps", first="overlaps"), host_op=True, not_differentiable=True)
def nms_overlaps_kernel(xp, overlaps, scores, max_output_size, overlap_threshold, score_threshold):
    ov = np.asarray(overlaps, np.float64)
    s = np.asarray(scores, np.float64)
    if ov.ndim != 2 or ov.shape[0] != ov.shape[1] or s.shape != (ov.shape[0],):
        raise errors.InvalidArgumentError(None, None, f"NonMaxSuppressionWithOverlaps: overlaps must be [n, n] and "
                                          f"scores [n], got {list(ov.shape)} and {list(s.shape)}")
    # TF compares overlaps[candidate, selected] (the matrix need not be symmetric)
    return greedy_nms("NonMaxSuppressionWithOverlaps", lambda i, others: ov[others, i], s, max_output_size,
                      float(overlap_threshold), float(score_threshold))[0]


# -- wrappers -------------------------------------------------------------------------------------------------------
def _common(boxes: Any, scores: Any, max_output_size: Any, iou_threshold: Any, score_threshold: Any) -> list:
    b = convert_to_tensor(boxes, name="boxes")
    if base(b) not in _BOX_TYPES:
        b = convert_to_tensor(boxes, dtype=_dt.float32, name="boxes")
    return [b, convert_to_tensor(scores, dtype=base(b), name="scores"),
            convert_to_tensor(max_output_size, dtype=_dt.int32, name="max_output_size"),
            convert_to_tensor(iou_threshold, dtype=_dt.float32, name="iou_threshold"),
            convert_to_tensor(score_threshold, dtype=_dt.float32, name="score_threshold")]


def non_max_suppression(boxes: Any, scores: Any, max_output_size: Any, iou_threshold: Any = 0.5,
                        score_threshold: Any = float("-inf"), name: str | None = None) -> Tensor:
    """Greedily selects boxes by descending score, dropping those overlapping a selected one too much.

    Args:
        boxes: a float Tensor [num_boxes, 4] of [y1, x1, y2, x2] corners (either diagonal).
        scores: a float Tensor [num_boxes].
        max_output_size: a scalar int32: at most this many boxes are selected.
        iou_threshold: boxes whose IoU with a selected box exceeds this are suppressed (in [0, 1]).
        score_threshold: boxes scoring at or below this are never selected.
        name: a name for the op scope.

    Returns:
        An int32 Tensor [M] of selected indices into `boxes`, M <= max_output_size.
    """
    with name_scope(name, "non_max_suppression"):
        return make_tensor("NonMaxSuppressionV3", _common(boxes, scores, max_output_size, iou_threshold,
                                                          score_threshold), None, "NonMaxSuppressionV3")


def non_max_suppression_padded(boxes: Any, scores: Any, max_output_size: Any, iou_threshold: Any = 0.5,
                               score_threshold: Any = float("-inf"), pad_to_max_output_size: bool = False,
                               name: str | None = None) -> tuple:
    """non_max_suppression that can pad its result to max_output_size (TF 1.x's NonMaxSuppressionV4).

    Args:
        boxes, scores, max_output_size, iou_threshold, score_threshold: as in non_max_suppression.
        pad_to_max_output_size: pad the indices with zeros to max_output_size.
        name: a name for the op scope.

    Returns:
        (selected_indices, valid_outputs): int32 [M] (M = max_output_size when padded, with zeros after the
        valid entries) and the int32 count of valid entries.
    """
    with name_scope(name, "non_max_suppression_padded"):
        o = make_op("NonMaxSuppressionV4", _common(boxes, scores, max_output_size, iou_threshold, score_threshold),
                    {"pad_to_max_output_size": bool(pad_to_max_output_size)}, "NonMaxSuppressionV4")
        return o.outputs[0], o.outputs[1]


def non_max_suppression_with_scores(boxes: Any, scores: Any, max_output_size: Any, iou_threshold: Any = 0.5,
                                    score_threshold: Any = float("-inf"), soft_nms_sigma: Any = 0.0,
                                    name: str | None = None) -> tuple:
    """non_max_suppression that also returns the selected boxes' scores, with optional soft-NMS.

    With soft_nms_sigma > 0, a selected box multiplies every other box's score by exp(-iou**2 / (2 * sigma))
    instead of removing it (boxes past iou_threshold are still removed).

    Args:
        boxes, scores, max_output_size, iou_threshold, score_threshold: as in non_max_suppression.
        soft_nms_sigma: a non-negative float; 0 is hard NMS.
        name: a name for the op scope.

    Returns:
        (selected_indices, selected_scores): int32 [M] and the (possibly decayed) scores [M].
    """
    with name_scope(name, "non_max_suppression_with_scores"):
        args = _common(boxes, scores, max_output_size, iou_threshold, score_threshold)
        args.append(convert_to_tensor(soft_nms_sigma, dtype=_dt.float32, name="soft_nms_sigma"))
        o = make_op("NonMaxSuppressionV5", args, {"pad_to_max_output_size": False}, "NonMaxSuppressionV5")
        return o.outputs[0], o.outputs[1]


def non_max_suppression_overlaps(overlaps: Any, scores: Any, max_output_size: Any, overlap_threshold: Any = 0.5,
                                 score_threshold: Any = float("-inf"), name: str | None = None) -> Tensor:
    """Greedy NMS over a precomputed [n, n] overlap matrix (NonMaxSuppressionWithOverlaps).

    Args:
        overlaps: a float32 Tensor [n, n]; candidate j is dropped when overlaps[j, i] > overlap_threshold
            for a selected box i.
        scores: a float32 Tensor [n].
        max_output_size: a scalar int32.
        overlap_threshold: the overlap above which a box is suppressed.
        score_threshold: boxes scoring at or below this are never selected.
        name: a name for the op scope.

    Returns:
        An int32 Tensor [M] of selected indices.
    """
    with name_scope(name, "non_max_suppression_overlaps"):
        ov = convert_to_tensor(overlaps, dtype=_dt.float32, name="overlaps")
        args = [ov, convert_to_tensor(scores, dtype=_dt.float32, name="scores"),
                convert_to_tensor(max_output_size, dtype=_dt.int32, name="max_output_size"),
                convert_to_tensor(overlap_threshold, dtype=_dt.float32, name="overlap_threshold"),
                convert_to_tensor(score_threshold, dtype=_dt.float32, name="score_threshold")]
        return make_tensor("NonMaxSuppressionWithOverlaps", args, None, "NonMaxSuppressionWithOverlaps")


# -- CombinedNonMaxSuppression ------------------------------------------------------------------------------------
def _combined_shape(ins, attrs):
    b = dims(ins[0])
    if b is not None and (len(b) != 4 or b[3] not in (None, 4)):
        raise ValueError(f"'CombinedNonMaxSuppression': boxes must be [batch, num_boxes, q, 4], got {list(b)}")
    s = _rank("CombinedNonMaxSuppression", "scores", ins[1], 3)
    if b is not None and s is not None and None not in (b[2], s[2]) and b[2] not in (1, s[2]):
        raise ValueError(f"'CombinedNonMaxSuppression': boxes' third dimension must be 1 or num_classes ({s[2]}), "
                         f"got {b[2]}")
    for i in range(2, 6):
        _rank("CombinedNonMaxSuppression", "threshold" if i > 3 else "size", ins[i], 0)
    per_class, total = constant_value(ins[2]), constant_value(ins[3])
    n = None if total is None else int(total)
    if attrs["pad_per_class"]:
        classes = None if s is None else s[2]
        n = None if None in (n, per_class, classes) else min(int(per_class) * classes, n)
    batch = b[0] if b is not None else (s[0] if s is not None else None)
    return [(_dt.float32, (batch, n, 4)), (_dt.float32, (batch, n)), (_dt.float32, (batch, n)),
            (_dt.int32, (batch,))]


@op("CombinedNonMaxSuppression", inputs=("boxes", "scores", "max_output_size_per_class", "max_total_size",
                                         "iou_threshold", "score_threshold"),
    attrs={"pad_per_class": False, "clip_boxes": True}, shape=_combined_shape, outputs=4,
    output_names=("nmsed_boxes", "nmsed_scores", "nmsed_classes", "valid_detections"), host_op=True,
    not_differentiable=True)
def combined_nms_kernel(xp, boxes, scores, max_output_size_per_class, max_total_size, iou_threshold,
                        score_threshold, *, pad_per_class, clip_boxes):
    op_type = "CombinedNonMaxSuppression"
    bx, sc = np.asarray(boxes, np.float64), np.asarray(scores, np.float64)
    if bx.ndim != 4 or sc.ndim != 3 or bx.shape[:2] != sc.shape[:2] or bx.shape[2] not in (1, sc.shape[2]):
        raise errors.InvalidArgumentError(None, None, f"{op_type}: boxes must be [batch, num_boxes, q, 4] with q 1 "
                                          f"or num_classes and scores [batch, num_boxes, num_classes], got "
                                          f"{list(bx.shape)} and {list(sc.shape)}")
    t = float(iou_threshold)
    if not 0 <= t <= 1:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: iou_threshold must be in [0, 1], got {t}")
    per_class, total = int(max_output_size_per_class), int(max_total_size)
    if per_class <= 0 or total <= 0:
        raise errors.InvalidArgumentError(None, None, f"{op_type}: max_output_size_per_class and max_total_size must "
                                          f"be > 0, got {per_class} and {total}")
    batch, _, classes = sc.shape
    n = min(per_class * classes, total) if pad_per_class else total
    out_boxes, out_scores = np.zeros((batch, n, 4), np.float32), np.zeros((batch, n), np.float32)
    out_classes, valid = np.zeros((batch, n), np.float32), np.zeros(batch, np.int32)
    for b in range(batch):
        found = []
        for c in range(classes):
            cb = bx[b, :, 0 if bx.shape[2] == 1 else c]
            idx, kept = greedy_nms(op_type, box_iou(cb), sc[b, :, c], per_class, t, float(score_threshold))
            found.extend((-kept[k], c, k, cb[i]) for k, i in enumerate(idx))
        found.sort(key=lambda r: r[:3])  # by score, then class, then rank within the class
        top = found[:n]
        valid[b] = len(top)
        for k, (neg, c, _, box) in enumerate(top):
            out_boxes[b, k] = np.clip(box, 0.0, 1.0) if clip_boxes else box
            out_scores[b, k], out_classes[b, k] = -neg, c
    return out_boxes, out_scores, out_classes, valid


def combined_non_max_suppression(boxes: Any, scores: Any, max_output_size_per_class: Any, max_total_size: Any,
                                 iou_threshold: Any = 0.5, score_threshold: Any = float("-inf"),
                                 pad_per_class: bool = False, clip_boxes: bool = True,
                                 name: str | None = None) -> tuple:
    """Per-class greedy NMS over a batch, then the best `max_total_size` detections of each image.

    Args:
        boxes: float32 [batch, num_boxes, q, 4]; q is 1 (boxes shared by every class) or num_classes.
        scores: float32 [batch, num_boxes, num_classes].
        max_output_size_per_class: a scalar int32: boxes kept per class.
        max_total_size: a scalar int32: detections kept per image.
        iou_threshold: the IoU above which a box is suppressed (in [0, 1]).
        score_threshold: boxes scoring at or below this are dropped.
        pad_per_class: pad to min(max_output_size_per_class * num_classes, max_total_size) instead of
            max_total_size.
        clip_boxes: clip the returned boxes to [0, 1].
        name: a name for the op scope.

    Returns:
        (nmsed_boxes [batch, N, 4], nmsed_scores [batch, N], nmsed_classes [batch, N] (float32),
        valid_detections [batch] int32), zero-padded past each image's valid detections.
    """
    with name_scope(name, "combined_non_max_suppression"):
        args = [convert_to_tensor(boxes, dtype=_dt.float32, name="boxes"),
                convert_to_tensor(scores, dtype=_dt.float32, name="scores"),
                convert_to_tensor(max_output_size_per_class, dtype=_dt.int32, name="max_output_size_per_class"),
                convert_to_tensor(max_total_size, dtype=_dt.int32, name="max_total_size"),
                convert_to_tensor(iou_threshold, dtype=_dt.float32, name="iou_threshold"),
                convert_to_tensor(score_threshold, dtype=_dt.float32, name="score_threshold")]
        o = make_op("CombinedNonMaxSuppression", args, {"pad_per_class": bool(pad_per_class),
                                                        "clip_boxes": bool(clip_boxes)}, "CombinedNonMaxSuppression")
        return tuple(o.outputs)
