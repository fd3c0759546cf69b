"""Writes this folder's fixtures with TensorFlow 2.21 (tf.compat.v1, graph mode, ref variables); see README.md.

Run with a Python that has TensorFlow: `python tests/framework/tf_saved_model/make_fixture.py`. labflow's tests
never import TensorFlow; they only read what this wrote.
"""

import os
import shutil

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1
v1.disable_eager_execution()
v1.disable_resource_variables()
ROOT = os.path.dirname(os.path.abspath(__file__))
W1 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]], np.float32)
B1 = np.array([0.1, -0.2, 0.3], np.float32)
W2 = np.array([[1.0], [-2.0], [0.5]], np.float32)
B2 = np.array([0.25], np.float32)


def model():
    x = v1.placeholder(tf.float32, [None, 2], name="x")
    w1 = v1.get_variable("dense/kernel", initializer=W1, use_resource=False)
    b1 = v1.get_variable("dense/bias", initializer=B1, use_resource=False)
    w2 = v1.get_variable("dense_1/kernel", initializer=W2, use_resource=False)
    b2 = v1.get_variable("dense_1/bias", initializer=B2, use_resource=False)
    h = tf.nn.relu(tf.matmul(x, w1) + b1)
    return x, tf.add(tf.matmul(h, w2), b2, name="y")


def main():
    sm = os.path.join(ROOT, "saved_model")
    shutil.rmtree(sm, ignore_errors=True)
    with tf.Graph().as_default():
        x, y = model()
        with v1.Session() as s:
            s.run(v1.global_variables_initializer())
            v1.saved_model.simple_save(s, sm, inputs={"x": x}, outputs={"y": y})
            print("y", s.run(y, {x: np.array([[1.0, 2.0], [-1.0, 0.5]], np.float32)}).tolist())
    for sharded in (False, True):
        d = os.path.join(ROOT, "saver_sharded" if sharded else "saver")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        with tf.Graph().as_default():
            model()
            saver = v1.train.Saver(sharded=sharded)
            with v1.Session() as s:
                s.run(v1.global_variables_initializer())
                saver.save(s, os.path.join(d, "model"))
        os.remove(os.path.join(d, "checkpoint"))  # it holds absolute paths; the tests use the prefixes


if __name__ == "__main__":
    main()
