"""The issue's acceptance runs: MNIST softmax on 1 ps + 3 worker processes, async and sync with a backup."""

from __future__ import annotations

import pytest

import labflow as tf
from labflow.examples import distributed_mnist as dm

pytest.importorskip("grpc")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.mark.parametrize("mode,aggregate,steps", [("async", None, 1000), ("sync", 2, 400)])
def test_mnist_softmax_on_a_cluster_reaches_90_percent(mnist_dir, mode, aggregate, steps):
    with tf.LocalCluster(ps=1, workers=3) as cluster:
        r = dm.train(cluster.cluster_spec, [cluster.target("worker", i) for i in range(3)], mode=mode,
                     replicas_to_aggregate=aggregate, steps=steps, data_dir=mnist_dir)
        # The variables live on the ps: every worker contributed, and the global step reached the end.
        assert r.global_step >= steps
        assert all(len(w.step_times) > steps // 10 for w in r.workers)
        assert r.test_accuracy >= 0.90, r
        cluster.check()  # no task died along the way
