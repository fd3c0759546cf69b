"""tf.test.create_local_cluster: in-process worker and ps servers a session can use."""

from __future__ import annotations

import numpy as np

import labflow as tf


def test_create_local_cluster_runs_a_step_across_tasks():
    workers, ps = tf.test.create_local_cluster(num_workers=2, num_ps=1)
    try:
        assert len(workers) == 2 and len(ps) == 1
        assert workers[0].target.startswith("grpc://localhost:")
        with tf.Graph().as_default():
            with tf.device("/job:ps/task:0"):
                v = tf.Variable([1.0, 2.0], name="v")
            with tf.device("/job:worker/task:1"):
                y = v * 3.0
            with tf.Session(workers[0].target) as sess:
                sess.run(tf.global_variables_initializer())
                np.testing.assert_allclose(sess.run(y), [3.0, 6.0])
    finally:
        for s in workers + ps:
            s.stop()
