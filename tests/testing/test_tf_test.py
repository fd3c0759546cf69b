"""tf.test: a TF1-style test module (subclassing tf.test.TestCase) run through unittest, and the helpers."""

from __future__ import annotations

import collections
import os
import unittest
import unittest.mock

import numpy as np
import pytest

import labflow as tf

Point = collections.namedtuple("Point", ["x", "y"])


class _TF1Style(tf.test.TestCase):
    """What a TF 1.x test file looks like; each test also checks setUp's fresh graph."""

    def testFreshGraphPerTest(self):  # noqa: N802 - TF-style names
        self.assertEqual(tf.get_default_graph().get_operations(), [])
        self.assertEqual(tf.get_default_graph().seed, 87654321)
        tf.constant(1.0)

    def testSessionsAndEvaluate(self):  # noqa: N802
        x = tf.constant([[1.0, 2.0]])
        y = tf.matmul(x, x, transpose_b=True)
        with self.test_session() as sess:
            self.assertIs(tf.get_default_session(), sess)
            self.assertAllClose(y.eval(), [[5.0]])
            self.assertAllEqual(self.evaluate({"a": x, "b": [y]})["b"][0], [[5.0]])
        with self.cached_session() as sess2:
            self.assertIs(sess2, sess)  # one cached session per test
        with self.session() as sess3:
            self.assertIsNot(sess3, sess)
        self.assertAllClose(self.evaluate(y), [[5.0]])  # no default session: the cached one

    def testCachedSessionRejectsAnotherGraph(self):  # noqa: N802
        with self.cached_session():
            pass
        with self.assertRaisesRegex(ValueError, "different than the one"):
            with self.cached_session(graph=tf.Graph()):
                pass

    def testOpsArePinnedToCpu(self):  # noqa: N802
        with self.test_session():
            c = tf.constant(1.0)
        self.assertDeviceEqual(c.device, "/device:CPU:0")

    def testAssertions(self):  # noqa: N802
        self.assertAllClose({"a": [1.0, 2.0], "b": Point(np.ones(2), 3.0)},
                            {"a": np.array([1.0, 2.0 + 1e-7]), "b": Point([1.0, 1.0], 3.0)})
        self.assertAllClose([np.nan, 1.0], [np.nan, 1.0])
        self.assertAllClose(np.float16(1.0005), 1.0)  # half precision: at least 1e-3
        self.assertNotAllClose([1.0], [1.1])
        self.assertAllCloseAccordingToType(np.float32(1.000001), 1.0)
        self.assertArrayNear([1.0, 2.0], [1.05, 1.95], 0.1)
        self.assertNear(1.0, 1.05, 0.1)
        self.assertNDArrayNear(np.ones(3), np.ones(3) + 1e-3, 0.01)
        self.assertShapeEqual(np.zeros((2, 3)), tf.zeros([2, 3]))
        self.assertDeviceEqual("/gpu:0", "/device:GPU:0")
        self.assertAllInRange([1, 2, 3], 1, 3)
        self.assertAllGreater([2, 3], 1)
        self.assertAllLessEqual([2, 3], 3)
        self.assertAllInSet([1, 2, 1], {1, 2})
        self.assertDTypeEqual(np.zeros(2, np.float32), tf.float32)
        self.assertProtoEquals("producer: 27", tf.Graph().graph_def_versions)
        self.assertStartsWith("labflow", "lab")

    def testFailingAssertions(self):  # noqa: N802
        cases = [
            lambda: self.assertAllClose([1.0, 2.0], [1.0, 2.1]),
            lambda: self.assertAllClose([1.0], [1.0, 1.0]),
            lambda: self.assertAllClose({"a": 1}, {"b": 1}),
            lambda: self.assertAllClose(Point(1, 2), Point(1, 3)),
            lambda: self.assertAllEqual([1, 2], [1, 3]),
            lambda: self.assertAllEqual([1, 2], [[1, 2]]),
            lambda: self.assertArrayNear([1.0], [1.2], 0.1),
            lambda: self.assertShapeEqual(np.zeros(2), tf.zeros([3])),
            lambda: self.assertDeviceEqual("/cpu:0", "/gpu:0"),
            lambda: self.assertAllInRange([0, 1], 0, 1, open_lower_bound=True),
            lambda: self.assertProtoEquals("producer: 3", tf.Graph().graph_def_versions),
        ]
        for i, case in enumerate(cases):
            with self.assertRaises(AssertionError, msg=f"case {i}"):
                case()

    def testRaisesOpError(self):  # noqa: N802
        p = tf.placeholder(tf.float32)
        c = tf.check_numerics(p, "numbers")
        with self.cached_session() as sess:
            with self.assertRaisesOpError("numbers : Tensor had NaN"):
                sess.run(c, {p: np.nan})
            with self.assertRaisesWithPredicateMatch(tf.errors.InvalidArgumentError,
                                                     lambda e: e.op is c.op):
                sess.run(c, {p: np.inf})
            with self.assertRaisesOpError("Caused by: CheckNumerics"):
                sess.run(c, {p: np.inf})
            with self.assertRaises(AssertionError):  # nothing raised
                with self.assertRaisesOpError("x"):
                    sess.run(c, {p: 1.0})
            with self.assertRaises(AssertionError):  # raised, but the message does not match
                with self.assertRaisesOpError("something else"):
                    sess.run(c, {p: np.nan})

    def testComputeGradient(self):  # noqa: N802
        x0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.5]])
        with self.cached_session():
            x = tf.constant(x0)
            y = tf.reduce_sum(tf.square(x), axis=1)
            jt, jn = tf.test.compute_gradient(x, [2, 3], y, [2], x_init_value=x0)
            want = np.zeros((6, 2))
            want[:3, 0] = 2 * x0[0]
            want[3:, 1] = 2 * x0[1]
            self.assertAllClose(jt, want)
            self.assertAllClose(jn, want, atol=1e-6)
            self.assertLess(tf.test.compute_gradient_error(x, [2, 3], y, [2]), 1e-6)

    def testComputeGradientList(self):  # noqa: N802
        with self.cached_session():
            a = tf.placeholder(tf.float64, [2])
            b = tf.placeholder(tf.float64, [2])
            y = a * b
            pairs = tf.test.compute_gradient([a, b], [[2], [2]], y, [2],
                                             x_init_value=[np.array([1.0, 2.0]), np.array([3.0, 4.0])])
            self.assertEqual(len(pairs), 2)
            self.assertAllClose(pairs[0][0], np.diag([3.0, 4.0]))
            self.assertAllClose(pairs[1][0], np.diag([1.0, 2.0]))
            for jt, jn in pairs:
                self.assertAllClose(jt, jn, atol=1e-6)

    def test_temp_dir(self):
        d = self.get_temp_dir()
        self.assertTrue(os.path.isdir(d))
        self.assertEqual(d, self.get_temp_dir())
        self.assertTrue(d.startswith(tf.test.get_temp_dir()))


def test_tf1_style_module_runs_through_unittest():
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(_TF1Style)
    result = unittest.TextTestRunner(verbosity=0, stream=open(os.devnull, "w")).run(suite)
    failures = [(str(t), tb) for t, tb in result.failures + result.errors]
    assert not failures, failures
    assert result.testsRun == 11
    assert [str(t) for t, _ in result.skipped] == [f"test_session ({__name__}._TF1Style.test_session)"]


def test_a_failing_tf1_test_fails():
    class Bad(tf.test.TestCase):
        def testWrong(self):  # noqa: N802
            with self.cached_session():
                self.assertAllClose(tf.constant([1.0]).eval(), [2.0])

    result = unittest.TextTestRunner(stream=open(os.devnull, "w")).run(
        unittest.defaultTestLoader.loadTestsFromTestCase(Bad))
    assert len(result.failures) == 1 and "Mismatch" in result.failures[0][1]


def test_compute_gradient_needs_a_session_and_checks_shapes():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [2])
        y = x * 2.0
        with pytest.raises(ValueError, match="default session"):
            tf.test.compute_gradient(x, [2], y, [2])
        with tf.Session():
            with pytest.raises(ValueError, match=r"x_shape \[3\] does not match"):
                tf.test.compute_gradient(x, [3], y, [2])
            with pytest.raises(TypeError, match="real float"):
                i = tf.placeholder(tf.int32, [2])
                tf.test.compute_gradient(i, [2], tf.cast(i, tf.float32), [2])
            jt, jn = tf.test.compute_gradient(x, [2], y, [2])
            assert jt.dtype == np.float32 and jt.shape == (2, 2)
            np.testing.assert_allclose(jn, 2 * np.eye(2), rtol=1e-3)


def test_main_runs_unittest(monkeypatch):
    seen = {}
    monkeypatch.setattr(unittest, "main", lambda argv: seen.setdefault("argv", argv))
    tf.test.main(argv=["prog", "-v", "SomeTest"])
    assert seen["argv"] == ["prog", "-v", "SomeTest"]


def test_gpu_queries_and_paths():
    assert isinstance(tf.test.is_built_with_cuda(), bool)
    assert not tf.test.is_built_with_rocm()
    avail = tf.test.is_gpu_available()
    assert tf.test.gpu_device_name() == ("/device:GPU:0" if avail else "")
    assert not tf.test.is_gpu_available(min_cuda_compute_capability=(99, 0))
    assert os.path.isfile(tf.test.test_src_dir_path("ops/check_ops.py"))
    assert tf.test.mock is unittest.mock


def test_assert_equal_graph_def():
    def build(value):
        with tf.Graph().as_default() as g:
            a = tf.constant(value, name="a")
            tf.add(a, a, name="b")
        return g.as_graph_def()
    tf.test.assert_equal_graph_def(build(1.0), build(1.0))
    with pytest.raises(AssertionError, match="Node named 'a' has attr 'value'"):
        tf.test.assert_equal_graph_def(build(1.0), build(2.0))
    with tf.Graph().as_default() as g:
        tf.constant(1.0, name="a")
    with pytest.raises(AssertionError, match="Expected node 'b' .* not found"):
        tf.test.assert_equal_graph_def(g.as_graph_def(), build(1.0))
    with pytest.raises(TypeError, match="Expected tf.GraphDef for actual"):
        tf.test.assert_equal_graph_def("x", build(1.0))
