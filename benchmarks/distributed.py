"""Distributed runtime numbers: RecvTensor transfer rate, a sync 2-worker step vs one process, and
sync training with a straggler with and without a backup worker; plus the MNIST accuracy acceptance.

Usage: python benchmarks/distributed.py [--only transfer,step,straggler,accuracy] [--quick]
Every section starts its own labflow.LocalCluster (one process per task on 127.0.0.1) and prints a
markdown table. MNIST comes from $LABFLOW_DATA/mnist (the step/straggler/accuracy sections need it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import labflow as tf  # noqa: E402
from labflow.examples import distributed_mnist as dm  # noqa: E402

SIZES = [("4 KiB", 4 << 10), ("1 MiB", 1 << 20), ("64 MiB", 64 << 20)]


def _timed(fn, seconds: float, min_runs: int = 3) -> list[float]:
    fn()
    out: list[float] = []
    end = time.perf_counter() + seconds
    while len(out) < min_runs or time.perf_counter() < end:
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def transfer(quick: bool) -> None:
    """ps -> worker over RecvTensor: a step whose only work is pulling a ps variable to the worker."""
    print("\n## RecvTensor transfer, ps task -> worker task (separate processes, loopback)\n")
    print("| tensor | step ms (median) | empty step ms | MB/s incl. step overhead | MB/s transfer only |")
    print("|---|---:|---:|---:|---:|")
    with tf.LocalCluster(ps=1, workers=1) as cluster:
        target = cluster.target("worker", 0)
        for label, nbytes in SIZES:
            g = tf.Graph()
            with g.as_default():
                with tf.device("/job:ps/task:0"):
                    v = tf.Variable(tf.zeros([nbytes // 4]), name=f"payload_{nbytes}")
                    small = tf.Variable(tf.zeros([1]), name=f"empty_{nbytes}")
                with tf.device("/job:worker/task:0"):
                    pulled = tf.reduce_sum(v[:1])  # the whole tensor crosses; the slice is taken on the worker
                    empty = tf.reduce_sum(small)
                with tf.Session(target) as sess:
                    sess.run([v.initializer, small.initializer])
                    secs = 2.0 if quick else 6.0
                    t_full = statistics.median(_timed(lambda f=pulled, s=sess: s.run(f), secs))
                    t_empty = statistics.median(_timed(lambda f=empty, s=sess: s.run(f), secs / 2))
            net = t_full - t_empty
            only = f"{nbytes / net / 1e6:.0f}" if net > 0.2 * t_full else "(within noise)"
            print(f"| {label} | {t_full * 1e3:.2f} | {t_empty * 1e3:.2f} | {nbytes / t_full / 1e6:.0f} | {only} |",
                  flush=True)


def _data_dir() -> str:
    root = os.environ.get("LABFLOW_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
    return os.path.join(root, "mnist")


def step(quick: bool) -> None:
    """MNIST softmax (batch 100): sync 2 workers + 1 ps vs the same step in one process."""
    print("\n## MNIST softmax step (batch 100): one process vs sync 2 workers + 1 ps\n")
    from labflow.datasets import mnist as mnist_data
    data = mnist_data.read_data_sets(_data_dir(), one_hot=True)
    g = tf.Graph()
    with g.as_default():
        m = dm.build({}, 0, "async", 1, None, 0.5)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            rng = np.random.RandomState(0)

            def one():
                idx = rng.randint(0, data.train.num_examples, 100)
                sess.run(m["train_op"], {m["x"]: data.train.images[idx], m["y_"]: data.train.labels[idx]})
            local = statistics.median(_timed(one, 2.0 if quick else 5.0))
    steps = 60 if quick else 300
    with tf.LocalCluster(ps=1, workers=2) as cluster:
        r = dm.train(cluster.cluster_spec, [cluster.target("worker", i) for i in range(2)], mode="sync",
                     replicas_to_aggregate=2, steps=steps, data_dir=_data_dir())
    dist = r.median_step_s()
    print("| setup | step ms (median) | examples/s |")
    print("|---|---:|---:|")
    print(f"| one process (local session) | {local * 1e3:.2f} | {100 / local:.0f} |")
    print(f"| sync, 2 workers + 1 ps (each step: 2 x 100 examples) | {dist * 1e3:.2f} | {200 / dist:.0f} |")


def straggler(quick: bool) -> None:
    """1 ps + 3 workers, worker 2 sleeps before each step: sync without vs with one backup worker."""
    print("\n## Sync training with a straggler (worker 2 sleeps 0.2 s per step), 1 ps + 3 workers\n")
    print("| replicas_to_aggregate | backup workers | global steps/s | median step ms, workers 0/1 | "
          "median step ms, straggler |")
    print("|---:|---:|---:|---:|---:|")
    steps = 30 if quick else 100
    for agg in (3, 2):
        with tf.LocalCluster(ps=1, workers=3) as cluster:
            r = dm.train(cluster.cluster_spec, [cluster.target("worker", i) for i in range(3)], mode="sync",
                         replicas_to_aggregate=agg, steps=steps, data_dir=_data_dir(), straggler=2, straggle_s=0.2)
        fast = statistics.median([t for w in r.workers[:2] for t in w.step_times[2:]])
        print(f"| {agg} | {3 - agg} | {r.global_step / r.seconds:.2f} | {fast * 1e3:.0f} | "
              f"{r.median_step_s(2) * 1e3:.0f} |", flush=True)


def accuracy(quick: bool) -> None:
    """The acceptance runs: async and sync (one backup) MNIST softmax on 1 ps + 3 workers."""
    print("\n## MNIST softmax on 1 ps + 3 workers (between-graph replication)\n")
    print("| mode | global steps | test accuracy | seconds | steps per worker |")
    print("|---|---:|---:|---:|---|")
    for mode, agg, steps in (("async", None, 1000), ("sync", 2, 500)):
        steps = steps // 5 if quick else steps
        with tf.LocalCluster(ps=1, workers=3) as cluster:
            r = dm.train(cluster.cluster_spec, [cluster.target("worker", i) for i in range(3)], mode=mode,
                         replicas_to_aggregate=agg, steps=steps, data_dir=_data_dir())
        label = mode if agg is None else f"{mode} (aggregate {agg} of 3: one backup)"
        print(f"| {label} | {r.global_step} | {r.test_accuracy:.4f} | {r.seconds:.1f} | "
              f"{[len(w.step_times) for w in r.workers]} |", flush=True)


SECTIONS = {"transfer": transfer, "step": step, "straggler": straggler, "accuracy": accuracy}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    p.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    args = p.parse_args()
    for name in args.only.split(","):
        SECTIONS[name.strip()](args.quick)


if __name__ == "__main__":
    main()
