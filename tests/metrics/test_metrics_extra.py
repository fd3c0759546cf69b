"""tf.metrics beyond the basics, streamed over several batches and checked against NumPy computations.

The same configurations were compared with TensorFlow 1.x semantics (tf.compat.v1.metrics) while writing
them; the references here are independent NumPy code.
"""

from __future__ import annotations

import numpy as np
import pytest

import labflow as tf

R = np.random.RandomState(7)
N, BATCHES = 10, 3


def stream(metric_fn, batches):
    """Runs update_op on every batch (a dict of arrays) and returns (value, last update result)."""
    g = tf.Graph()
    with g.as_default():
        phs = {k: tf.placeholder(tf.as_dtype(v.dtype), v.shape) for k, v in batches[0].items()}
        value, update_op = metric_fn(phs)
        with tf.Session() as s:
            s.run(tf.local_variables_initializer())
            for b in batches:
                up = s.run(update_op, {phs[k]: v for k, v in b.items()})
            return s.run(value), up


def binary_batches(weighted=False):
    out = []
    for _ in range(BATCHES):
        b = {"labels": R.randint(0, 2, N).astype(np.float32), "scores": R.rand(N).astype(np.float32)}
        if weighted:
            b["w"] = R.rand(N).astype(np.float32)
        out.append(b)
    return out


def cat(batches, key):
    return np.concatenate([b[key] for b in batches])


# -- NumPy references ---------------------------------------------------------------------------------------
def counts_at(labels, scores, thresholds, w=None):
    w = np.ones_like(scores) if w is None else w
    pos = scores[None, :] > np.asarray(thresholds)[:, None]
    lab = labels[None, :] > 0
    return {"tp": ((lab & pos) * w).sum(1), "fn": ((lab & ~pos) * w).sum(1),
            "tn": ((~lab & ~pos) * w).sum(1), "fp": ((~lab & pos) * w).sum(1)}


def default_thresholds(n):
    return [-1e-7] + [(i + 1) / (n - 1) for i in range(n - 2)] + [1 + 1e-7]


def np_auc(labels, scores, w=None, n=200, curve="ROC", method="trapezoidal"):
    c = counts_at(labels, scores, default_thresholds(n), w)
    eps = 1e-6
    rec = (c["tp"] + eps) / (c["tp"] + c["fn"] + eps)
    if curve == "ROC":
        x, y = c["fp"] / (c["fp"] + c["tn"] + eps), rec
    else:
        x, y = rec, (c["tp"] + eps) / (c["tp"] + c["fp"] + eps)
    h = {"trapezoidal": (y[:-1] + y[1:]) / 2, "minoring": np.minimum(y[:-1], y[1:]),
         "majoring": np.maximum(y[:-1], y[1:])}[method]
    return np.sum((x[:-1] - x[1:]) * h)


def np_pr_auc_interpolated(labels, scores, n=200):
    c = counts_at(labels, scores, default_thresholds(n))
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    dtp = tp[:-1] - tp[1:]
    p = tp + fp
    dp = np.maximum(p[:-1] - p[1:], 0)
    slope = np.divide(dtp, dp, out=np.zeros_like(dtp), where=dp != 0)
    intercept = tp[1:] - slope * p[1:]
    ok = (p[:-1] > 0) & (p[1:] > 0)
    ratio = np.where(ok, p[:-1] / np.where(p[1:] > 0, p[1:], 1), 1.0)
    den = np.maximum(tp[1:] + fn[1:], 0)
    term = slope * (dtp + intercept * np.log(ratio))
    return np.sum(np.divide(term, den, out=np.zeros_like(term), where=den != 0))


# -- tests ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("curve,method", [("ROC", "trapezoidal"), ("PR", "trapezoidal"), ("ROC", "minoring"),
                                          ("PR", "majoring")])
def test_auc_matches_numpy(curve, method):
    bs = binary_batches(weighted=True)
    value, up = stream(lambda p: tf.metrics.auc(p["labels"], p["scores"], weights=p["w"], curve=curve,
                                                summation_method=method, num_thresholds=50), bs)
    want = np_auc(cat(bs, "labels"), cat(bs, "scores"), cat(bs, "w"), 50, curve, method)
    np.testing.assert_allclose(value, want, rtol=1e-4)
    np.testing.assert_allclose(up, want, rtol=1e-4)


def test_pr_auc_careful_interpolation():
    bs = binary_batches()
    value, _ = stream(lambda p: tf.metrics.auc(p["labels"], p["scores"], curve="PR",
                                               summation_method="careful_interpolation"), bs)
    np.testing.assert_allclose(value, np_pr_auc_interpolated(cat(bs, "labels"), cat(bs, "scores")), rtol=1e-4)


def test_auc_perfect_and_errors():
    b = [{"labels": np.array([0, 0, 1, 1], np.float32), "scores": np.array([0.1, 0.2, 0.8, 0.9], np.float32)}]
    value, _ = stream(lambda p: tf.metrics.auc(p["labels"], p["scores"]), b)
    assert value == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(ValueError, match="curve"):
        tf.metrics.auc([1.0], [0.5], curve="XY")
    with pytest.raises(ValueError, match="summation_method"):
        tf.metrics.auc([1.0], [0.5], summation_method="simpson")
    bad = [{"labels": np.array([1.0], np.float32), "scores": np.array([1.5], np.float32)}]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"predictions must be in \[0, 1\]"):
        stream(lambda p: tf.metrics.auc(p["labels"], p["scores"]), bad)


@pytest.mark.parametrize("key,fn", [("tp", "true_positives_at_thresholds"), ("fp", "false_positives_at_thresholds"),
                                    ("tn", "true_negatives_at_thresholds"), ("fn", "false_negatives_at_thresholds")])
def test_counts_at_thresholds(key, fn):
    bs = binary_batches(weighted=True)
    th = [0.1, 0.5, 0.9]
    value, _ = stream(lambda p: getattr(tf.metrics, fn)(p["labels"], p["scores"], th, weights=p["w"]), bs)
    want = counts_at(cat(bs, "labels"), cat(bs, "scores"), th, cat(bs, "w"))[key]
    assert value.shape == (3,)
    np.testing.assert_allclose(value, want, rtol=1e-5)


def test_precision_and_recall_at_thresholds():
    bs = binary_batches()
    th = [0.0, 0.4, 0.8]
    c = counts_at(cat(bs, "labels"), cat(bs, "scores"), th)
    prec, _ = stream(lambda p: tf.metrics.precision_at_thresholds(p["labels"], p["scores"], th), bs)
    rec, _ = stream(lambda p: tf.metrics.recall_at_thresholds(p["labels"], p["scores"], th), bs)
    np.testing.assert_allclose(prec, c["tp"] / (1e-7 + c["tp"] + c["fp"]), rtol=1e-5)
    np.testing.assert_allclose(rec, c["tp"] / (1e-7 + c["tp"] + c["fn"]), rtol=1e-5)


def test_sensitivity_at_specificity_and_back():
    bs = binary_batches()
    lab, sc = cat(bs, "labels"), cat(bs, "scores")
    c = counts_at(lab, sc, default_thresholds(200))
    spec = c["tn"] / (c["tn"] + c["fp"] + 1e-7)
    i = np.argmin(np.abs(spec - 0.7))
    sens, _ = stream(lambda p: tf.metrics.sensitivity_at_specificity(p["labels"], p["scores"], 0.7), bs)
    np.testing.assert_allclose(sens, c["tp"][i] / (c["tp"][i] + c["fn"][i] + 1e-7), rtol=1e-5)
    recs = c["tp"] / (c["tp"] + c["fn"] + 1e-7)
    dist = np.abs(recs - 0.5)
    j = np.nonzero(dist == dist.min())[0][-1]
    spec_v, _ = stream(lambda p: tf.metrics.specificity_at_sensitivity(p["labels"], p["scores"], 0.5), bs)
    np.testing.assert_allclose(spec_v, c["tn"][j] / (c["tn"][j] + c["fp"][j] + 1e-7), rtol=1e-5)
    with pytest.raises(ValueError, match=r"range \[0, 1\]"):
        tf.metrics.sensitivity_at_specificity([1.0], [0.5], 1.5)


def test_rmse_percentage_below_relative_error():
    bs = [{"l": R.randn(N).astype(np.float32), "p": R.randn(N).astype(np.float32), "w": R.rand(N).astype(np.float32),
           "n": R.choice([0.0, 2.0, 4.0], N).astype(np.float32)} for _ in range(BATCHES)]
    lab, pred, w, norm = (cat(bs, k) for k in "lpwn")
    rmse, _ = stream(lambda p: tf.metrics.root_mean_squared_error(p["l"], p["p"], weights=p["w"]), bs)
    np.testing.assert_allclose(rmse, np.sqrt(np.sum(w * (lab - pred) ** 2) / w.sum()), rtol=1e-5)
    below, _ = stream(lambda p: tf.metrics.percentage_below(p["p"], 0.25, weights=p["w"]), bs)
    np.testing.assert_allclose(below, np.sum(w * (pred < 0.25)) / w.sum(), rtol=1e-5)
    rel, _ = stream(lambda p: tf.metrics.mean_relative_error(p["l"], p["p"], p["n"]), bs)
    want = np.mean(np.where(norm == 0, 0, np.abs(lab - pred) / np.where(norm == 0, 1, norm)))
    np.testing.assert_allclose(rel, want, rtol=1e-5)


def test_mean_tensor_and_cosine_distance():
    bs = [{"v": R.rand(2, 3).astype(np.float32), "w": R.rand(2, 3).astype(np.float32)} for _ in range(BATCHES)]
    value, up = stream(lambda p: tf.metrics.mean_tensor(p["v"], weights=p["w"]), bs)
    v, w = np.stack([b["v"] for b in bs]), np.stack([b["w"] for b in bs])
    np.testing.assert_allclose(value, (v * w).sum(0) / w.sum(0), rtol=1e-5)
    assert value.shape == (2, 3)
    vecs = [{"a": R.randn(N, 3).astype(np.float32), "b": R.randn(N, 3).astype(np.float32)} for _ in range(BATCHES)]
    for b in vecs:
        b["a"] /= np.linalg.norm(b["a"], axis=1, keepdims=True)
        b["b"] /= np.linalg.norm(b["b"], axis=1, keepdims=True)
    dist, _ = stream(lambda p: tf.metrics.mean_cosine_distance(p["a"], p["b"], dim=1), vecs)
    np.testing.assert_allclose(dist, 1 - np.mean(np.sum(cat(vecs, "a") * cat(vecs, "b"), 1)), rtol=1e-5)
    with pytest.raises(ValueError, match="fully defined"):
        tf.metrics.mean_tensor(tf.placeholder(tf.float32, [None, 2]))


def test_mean_iou_and_mean_per_class_accuracy():
    k = 4
    bs = [{"l": R.randint(0, k, N).astype(np.int64), "p": R.randint(0, k, N).astype(np.int64),
           "w": R.rand(N).astype(np.float32)} for _ in range(BATCHES)]
    lab, pred, w = cat(bs, "l"), cat(bs, "p"), cat(bs, "w")
    cm = np.zeros((k, k))
    np.add.at(cm, (lab, pred), w)
    den = cm.sum(0) + cm.sum(1) - np.diag(cm)
    iou = np.diag(cm)[den > 0] / den[den > 0]
    value, up = stream(lambda p: tf.metrics.mean_iou(p["l"], p["p"], k, weights=p["w"]), bs)
    np.testing.assert_allclose(value, iou.mean(), rtol=1e-5)
    np.testing.assert_allclose(up, cm, rtol=1e-5)  # TF 1.x: the update op returns the confusion matrix
    acc, per_class = stream(lambda p: tf.metrics.mean_per_class_accuracy(p["l"], p["p"], k + 1, weights=p["w"]), bs)
    total = np.bincount(lab, w, k + 1)
    right = np.bincount(lab, w * (lab == pred), k + 1)
    want = np.divide(right, total, out=np.zeros(k + 1), where=total > 0)
    np.testing.assert_allclose(per_class, want, rtol=1e-5)
    np.testing.assert_allclose(acc, want.mean(), rtol=1e-5)  # an unseen class counts as 0, as in TF


def np_at_k(labels, scores, k, class_id=None):
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    tp = fp = fn = 0.0
    for row, pred in zip(labels, top):
        lab = set(row.tolist())
        if class_id is None:
            hit = len(lab & set(pred.tolist()))
            tp, fp, fn = tp + hit, fp + k - hit, fn + len(lab) - hit
        else:
            in_l, in_p = class_id in lab, class_id in pred
            tp, fp, fn = tp + (in_l and in_p), fp + (in_p and not in_l), fn + (in_l and not in_p)
    return tp, fp, fn


def np_average_precision(labels, scores, k, num_classes):
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    aps = []
    for row, pred in zip(labels, top):
        lab = {x for x in row.tolist() if 0 <= x < num_classes}
        rel = np.array([p in lab for p in pred], float)
        prec = np.cumsum(rel) / np.arange(1, k + 1)
        aps.append(np.sum(prec * rel) / min(len(lab), k))
    return np.mean(aps)


def topk_batches():
    out = []
    for _ in range(BATCHES):
        scores = R.rand(N, 6).astype(np.float32)
        labels = np.stack([R.choice(6, 2, replace=False) for _ in range(N)]).astype(np.int64)
        out.append({"s": scores, "l": labels})
    return out


@pytest.mark.parametrize("k,class_id", [(1, None), (3, None), (2, 4)])
def test_precision_and_recall_at_k(k, class_id):
    bs = topk_batches()
    tp, fp, fn = np_at_k(cat(bs, "l"), cat(bs, "s"), k, class_id)
    prec, _ = stream(lambda p: tf.metrics.precision_at_k(p["l"], p["s"], k, class_id=class_id), bs)
    rec, _ = stream(lambda p: tf.metrics.recall_at_k(p["l"], p["s"], k, class_id=class_id), bs)
    assert prec.dtype == np.float64
    np.testing.assert_allclose(prec, tp / (tp + fp), rtol=1e-9)
    np.testing.assert_allclose(rec, tp / (tp + fn), rtol=1e-9)


def test_at_top_k_and_sparse_labels():
    bs = topk_batches()
    tp, fp, fn = np_at_k(cat(bs, "l"), cat(bs, "s"), 2)
    prec, _ = stream(lambda p: tf.metrics.precision_at_top_k(p["l"], tf.nn.top_k(p["s"], 2)[1]), bs)
    np.testing.assert_allclose(prec, tp / (tp + fp), rtol=1e-9)
    one = [{"s": b["s"], "l": b["l"][:, 0].copy()} for b in bs]
    tp1, _, fn1 = np_at_k(cat(one, "l")[:, None], cat(one, "s"), 3)
    rec, _ = stream(lambda p: tf.metrics.recall_at_top_k(p["l"], tf.nn.top_k(p["s"], 3)[1]), one)
    np.testing.assert_allclose(rec, tp1 / (tp1 + fn1), rtol=1e-9)
    scores = np.array([[0.1, 0.5, 0.2, 0.9], [0.8, 0.1, 0.3, 0.2]], np.float32)
    sp = tf.SparseTensor([[0, 0], [0, 1], [1, 0]], tf.constant([3, 0, 2], tf.int64), [2, 2])
    _, up = tf.metrics.recall_at_k(sp, scores, 2)  # row 0: {3, 0} vs [3, 1]; row 1: {2} vs [0, 2]
    with tf.Session() as s:
        s.run(tf.local_variables_initializer())
        assert s.run(up) == pytest.approx(2 / 3)


def test_average_precision_at_k():
    bs = topk_batches()
    value, up = stream(lambda p: tf.metrics.average_precision_at_k(p["l"], p["s"], 3), bs)
    np.testing.assert_allclose(value, np_average_precision(cat(bs, "l"), cat(bs, "s"), 3, 6), rtol=1e-9)
    bad = [{"s": np.array([[0.1, 0.5, 0.2, 0.9], [0.8, 0.1, 0.3, 0.2]], np.float32),
            "l": np.array([[3, -1], [7, 0]], np.int64)}]  # out-of-range labels are dropped for AP, as in TF
    value, _ = stream(lambda p: tf.metrics.average_precision_at_k(p["l"], p["s"], 3), bad)
    np.testing.assert_allclose(value, np_average_precision(bad[0]["l"], bad[0]["s"], 3, 4))
    with pytest.raises(ValueError, match="Invalid k"):
        tf.metrics.average_precision_at_k([[1]], [[0.5, 0.5]], 0)


def test_collections_and_local_variables():
    labels, scores = tf.placeholder(tf.float32, [None]), tf.placeholder(tf.float32, [None])
    value, update = tf.metrics.auc(labels, scores, metrics_collections=["m"], updates_collections=["u"], name="my_auc")
    assert tf.get_collection("m") == [value] and tf.get_collection("u") == [update]
    names = sorted(v.op.name for v in tf.local_variables())
    assert names == ["my_auc/false_negatives", "my_auc/false_positives", "my_auc/true_negatives",
                     "my_auc/true_positives"]
    assert not tf.trainable_variables()
