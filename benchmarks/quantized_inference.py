"""Float vs 8-bit inference of the Deep MNIST CNN (the `inference_cnn` workload: batch 1000), side by side.

The workload's graph (benchmarks/workloads.py, same weights as the peers) is frozen, then run as:
  float             the frozen float graph
  weights           quantize_weights: quint8 weight storage, float arithmetic
  eightbit          quantize_graph: 8-bit arithmetic, activation ranges measured every run (TF's eightbit)
  eightbit_calib    quantize_graph(ranges=calibrate(...)): 8-bit arithmetic, ranges fixed by calibration on
                    a different batch (200 images from another seed)
Prints one JSON line per variant in benchmarks/run.py's format (`check` = logits.sum() of the first two
runs). The variants are timed in interleaved rounds after a warm-up (each round runs every variant once,
so all see the same load on this shared machine). Extra fields: model_bytes (serialized GraphDef),
ratio_vs_float (median time / float's), max_abs_diff and argmax_agreement of the logits against float,
and the op types taking most of a FULL_TRACE run (`top`: [op, count, ms]).
Usage: python benchmarks/quantized_inference.py [--quick] [--only float,eightbit] [--top 6] [--repeats 11]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from step_profile import op_type_times  # noqa: E402 - after the path it is found on


def _session(gd, tf, workloads):
    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(gd, name="")
    return tf.Session(graph=g, config=workloads._config())


def _profile(sess, out, feed, tf, runs: int = 4) -> list:
    opts = tf.RunOptions(trace_level=tf.RunOptions.FULL_TRACE)
    per: dict[str, list[float]] = collections.defaultdict(list)
    counts: dict[str, int] = {}
    for i in range(runs + 1):
        md = tf.RunMetadata()
        sess.run(out, feed, options=opts, run_metadata=md)
        if i == 0:
            continue
        ms, counts = op_type_times(md)
        for op, v in ms.items():
            per[op].append(v)
    med = {op: statistics.median(v) for op, v in per.items()}
    return [[op, counts.get(op, 0), round(v, 2)] for op, v in sorted(med.items(), key=lambda kv: -kv[1])]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", default="")
    p.add_argument("--top", type=int, default=6)
    p.add_argument("--repeats", type=int, default=11, help="interleaved timed rounds (default %(default)s)")
    args = p.parse_args(argv)
    import workloads

    import labflow as tf
    from labflow.tools import graph_util
    from labflow.tools import quantize as qz

    d, sess, x, _, _, _, logits = workloads.cnn_graph()
    out = logits.op.name
    frozen = graph_util.convert_variables_to_constants(sess, sess.graph.as_graph_def(), [out])
    feed_name = x.op.name + ":0"
    calib_x = (lambda r: r.rand(200, 784) * (r.rand(200, 784) < 0.2))(np.random.RandomState(9)).astype(np.float32)
    variants = {
        "float": lambda: frozen,
        "weights": lambda: qz.quantize_weights(frozen),
        "eightbit": lambda: qz.quantize_graph(frozen, [out]),
        "eightbit_calib": lambda: qz.quantize_graph(
            frozen, [out], ranges=qz.calibrate(frozen, [out], [{feed_name: calib_x}])),
    }
    only = [v for v in args.only.split(",") if v]
    names = [n for n in variants if not only or n in only or n == "float"]
    feed = {feed_name: d["xi"]}
    run = {}
    for name in names:
        gd = variants[name]()
        s = _session(gd, tf, workloads)
        run[name] = (gd, s, lambda s=s: s.run(out + ":0", feed))
    ref = run["float"][2]()
    times: dict[str, list[float]] = {n: [] for n in names}
    checks = {n: [float(run[n][2]().sum()), float(run[n][2]().sum())] for n in names}
    for _ in range(2 if args.quick else 10):  # past the intra-op tuner's trial runs (backend/threads.py)
        for n in names:
            run[n][2]()
    # Interleaved rounds: every variant sees the same machine load (this 2-core machine is shared)
    for _ in range(3 if args.quick else args.repeats):
        for n in names:
            t0 = time.perf_counter()
            run[n][2]()
            times[n].append((time.perf_counter() - t0) * 1e3)
    base = statistics.median(times["float"])
    for n in names:
        gd, s, fn = run[n]
        y = fn()
        p10, med, p90 = np.percentile(times[n], [10, 50, 90])
        row = dict(framework="labflow", workload=f"inference_cnn_{n}", median_ms=round(float(med), 2),
                   p10_ms=round(float(p10), 2), p90_ms=round(float(p90), 2), repeats=len(times[n]), check=checks[n],
                   model_bytes=gd.ByteSize(), ratio_vs_float=round(float(med) / base, 3),
                   max_abs_diff=float(np.abs(y - ref).max()), logits_absmax=float(np.abs(ref).max()),
                   argmax_agreement=float((y.argmax(1) == ref.argmax(1)).mean()),
                   top=_profile(s, out + ":0", feed, tf, 2 if args.quick else 4)[:args.top])
        print(json.dumps(row), flush=True)
    for n in names:
        run[n][1].close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
