"""`tf.test.TestCase`: unittest.TestCase with TF 1.x's sessions, evaluate and array assertions."""

from __future__ import annotations

import contextlib
import math
import os
import random
import re
import tempfile
import unittest
from typing import Any, Callable, Iterator

import numpy as np

from labflow import errors

DEFAULT_GRAPH_SEED = 87654321


def _is_tensor(x: Any) -> bool:
    from labflow.framework.sparse_tensor import SparseTensor
    from labflow.framework.tensor import IndexedSlices, Tensor
    return isinstance(x, (Tensor, SparseTensor, IndexedSlices))


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


class TestCase(unittest.TestCase):
    """A test case for graph code (TF 1.x `tf.test.TestCase`).

    Each test starts on a fresh default graph with the graph-level seed set (`setUp`), as TF. Use
    `with self.cached_session():` (or the older `self.test_session()`) to run ops; `self.evaluate(t)` runs
    tensors in the default session (or a cached one). Ops are pinned to the CPU unless `use_gpu=True`.
    """

    def __init__(self, methodName: str = "runTest"):  # noqa: N803 - unittest's parameter name
        super().__init__(methodName)
        self._cached_session: Any = None
        self._tempdir: str | None = None

    def setUp(self) -> None:
        from labflow.framework.graph import reset_default_graph
        from labflow.ops.random_ops import set_random_seed
        self._ClearCachedSession()
        random.seed(DEFAULT_GRAPH_SEED)
        np.random.seed(DEFAULT_GRAPH_SEED)
        reset_default_graph()
        set_random_seed(DEFAULT_GRAPH_SEED)

    def tearDown(self) -> None:
        self._ClearCachedSession()

    def _ClearCachedSession(self) -> None:  # noqa: N802 - TF's name
        if self._cached_session is not None:
            self._cached_session.close()
            self._cached_session = None

    def get_temp_dir(self) -> str:
        """A temporary directory for this test (created once per test, removed when the process exits)."""
        if not self._tempdir:
            self._tempdir = tempfile.mkdtemp(dir=get_temp_dir())
        return self._tempdir

    # -- sessions -----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _constrained(self, sess: Any, use_gpu: bool, force_gpu: bool) -> Iterator[Any]:
        with sess.graph.as_default(), sess.as_default():
            if force_gpu:
                from labflow.test import gpu_device_name
                with sess.graph.device(gpu_device_name() or "/device:GPU:0"):
                    yield sess
            elif use_gpu:
                yield sess
            else:
                with sess.graph.device("/device:CPU:0"):
                    yield sess

    @contextlib.contextmanager
    def session(self, graph: Any = None, config: Any = None, use_gpu: bool = False,
                force_gpu: bool = False) -> Iterator[Any]:
        """A new Session (on `graph`, default: the default graph), default while the block runs, then closed."""
        from labflow.runtime.session import Session
        with Session(graph=graph, config=config) as sess:
            with self._constrained(sess, use_gpu, force_gpu):
                yield sess

    @contextlib.contextmanager
    def cached_session(self, graph: Any = None, config: Any = None, use_gpu: bool = False,
                       force_gpu: bool = False) -> Iterator[Any]:
        """One Session reused by every call in this test (closed in tearDown).

        Raises:
            ValueError: `graph` differs from the graph of the session cached earlier in this test.
        """
        sess = self._get_cached_session(graph, config, crash_if_inconsistent_args=True)
        with self._constrained(sess, use_gpu, force_gpu):
            yield sess

    def _get_cached_session(self, graph: Any, config: Any, crash_if_inconsistent_args: bool) -> Any:
        from labflow.framework.graph import get_default_graph
        from labflow.runtime.session import Session
        g = graph if graph is not None else get_default_graph()
        if self._cached_session is None:
            self._cached_session = Session(graph=g, config=config)
        elif crash_if_inconsistent_args and self._cached_session.graph is not g:
            raise ValueError("The graph used to get the cached session is different than the one that was used "
                             "to create the session. Maybe create a new session with self.session()")
        return self._cached_session

    def test_session(self, graph: Any = None, config: Any = None, use_gpu: bool = False,
                     force_gpu: bool = False) -> Any:
        """The older name: the cached session when `graph` is None, else a new one (a context manager)."""
        if self.id().endswith(".test_session"):
            self.skipTest("Not a test.")  # unittest collects it by its name
        if graph is None:
            return self._constrained(self._get_cached_session(None, config, False), use_gpu, force_gpu)
        return self.session(graph, config, use_gpu, force_gpu)

    def evaluate(self, tensors: Any) -> Any:
        """The values of `tensors` (any nested structure), run in the default session or the cached one."""
        from labflow.runtime.session import get_default_session
        sess = get_default_session()
        if sess is not None:
            return sess.run(tensors)
        with self.test_session() as sess:
            return sess.run(tensors)

    # -- assertions ---------------------------------------------------------------------------------
    def _nd(self, a: Any) -> np.ndarray:
        if _is_tensor(a):
            a = self.evaluate(a)
        return a if isinstance(a, np.ndarray) else np.array(a)

    def assertNear(self, f1: float, f2: float, err: float, msg: str | None = None) -> None:  # noqa: N802
        """|f1 - f2| <= err."""
        self.assertTrue(f1 == f2 or math.fabs(f1 - f2) <= err,
                        f"{f1:f} != {f2:f} +/- {err:f}" + (f" ({msg})" if msg is not None else ""))

    def assertArrayNear(self, farray1: Any, farray2: Any, err: float, msg: str | None = None) -> None:  # noqa: N802
        """Same length, and each pair within `err`."""
        self.assertEqual(len(farray1), len(farray2), msg=msg)
        for f1, f2 in zip(farray1, farray2):
            self.assertNear(float(f1), float(f2), err, msg=msg)

    def assertNDArrayNear(self, ndarray1: Any, ndarray2: Any, err: float, msg: str | None = None) -> None:  # noqa: N802
        """The L2 norm of the difference is below `err`."""
        self.assertTrue(float(np.linalg.norm(np.asarray(ndarray1) - np.asarray(ndarray2))) < err, msg=msg)

    def _close(self, a: Any, b: Any, rtol: float, atol: float, path: list, msg: str | None) -> None:
        where = f" at {''.join(path)}" if path else ""
        if isinstance(a, dict) or isinstance(b, dict):
            self.assertIsInstance(a, dict, f"a{where} is not a dict but b is")
            self.assertIsInstance(b, dict, f"b{where} is not a dict but a is")
            self.assertEqual(set(a), set(b), f"mismatched keys{where}: {sorted(map(str, a))} vs "
                             f"{sorted(map(str, b))}. {msg or ''}")
            for k in a:
                self._close(a[k], b[k], rtol, atol, path + [f"[{k!r}]"], msg)
            return
        seq_a = isinstance(a, (list, tuple)) and not _is_tensor(a)
        seq_b = isinstance(b, (list, tuple)) and not _is_tensor(b)
        if (seq_a or seq_b) and (_is_namedtuple(a) or _is_namedtuple(b) or not self._numeric_list(a, b)):
            self.assertEqual(len(a), len(b), f"length mismatch{where}: {len(a)} vs {len(b)}. {msg or ''}")
            for i, (x, y) in enumerate(zip(a, b)):
                self._close(x, y, rtol, atol, path + [f"[{i}]"], msg)
            return
        x, y = self._nd(a), self._nd(b)
        self.assertEqual(x.shape, y.shape, f"Shape mismatch{where}: expected {x.shape}, got {y.shape}. {msg or ''}")
        for arr in (x, y):
            if arr.dtype == np.float16:
                rtol, atol = max(rtol, 1e-3), max(atol, 1e-3)
        x64 = x.astype(np.complex128 if x.dtype.kind == "c" else np.float64) if x.dtype.kind in "biufc" else x
        y64 = y.astype(np.complex128 if y.dtype.kind == "c" else np.float64) if y.dtype.kind in "biufc" else y
        np.testing.assert_allclose(x64, y64, rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=f"Mismatch{where}. {msg or ''}")

    @staticmethod
    def _numeric_list(a: Any, b: Any) -> bool:
        """A list of numbers (or nested such lists) is one array, not a structure to recurse into."""
        try:
            return np.asarray(a).dtype.kind in "biufc" and np.asarray(b).dtype.kind in "biufc"
        except (ValueError, TypeError):
            return False

    def assertAllClose(self, a: Any, b: Any, rtol: float = 1e-6, atol: float = 1e-6,  # noqa: N802
                       msg: str | None = None) -> None:
        """`a` and `b` (arrays, tensors, or nested dicts/lists/tuples/namedtuples of them) match within
        `|a - b| <= atol + rtol * |b|` elementwise, shapes equal; NaNs match NaNs. float16 uses at least 1e-3."""
        self._close(a, b, rtol, atol, [], msg)

    def assertAllCloseAccordingToType(self, a: Any, b: Any, rtol: float = 1e-6, atol: float = 1e-6,  # noqa: N802
                                      float_rtol: float = 1e-6, float_atol: float = 1e-6, half_rtol: float = 1e-3,
                                      half_atol: float = 1e-3, bfloat16_rtol: float = 1e-2,
                                      bfloat16_atol: float = 1e-2, msg: str | None = None) -> None:
        """assertAllClose with tolerances chosen by the lowest precision of `a` and `b`."""
        x, y = self._nd(a), self._nd(b)
        kinds = {x.dtype.name, y.dtype.name}
        if "float32" in kinds or "complex64" in kinds:
            rtol, atol = max(rtol, float_rtol), max(atol, float_atol)
        if "float16" in kinds:
            rtol, atol = max(rtol, half_rtol), max(atol, half_atol)
        if "bfloat16" in kinds:
            rtol, atol = max(rtol, bfloat16_rtol), max(atol, bfloat16_atol)
        self.assertAllClose(x, y, rtol=rtol, atol=atol, msg=msg)

    def assertNotAllClose(self, a: Any, b: Any, **kwargs: Any) -> None:  # noqa: N802
        """The opposite of assertAllClose."""
        try:
            self.assertAllClose(a, b, **kwargs)
        except AssertionError:
            return
        raise AssertionError("The two values are close at all elements")

    def assertAllEqual(self, a: Any, b: Any, msg: str | None = None) -> None:  # noqa: N802
        """Same shape and equal elements (NaN equals NaN)."""
        x, y = self._nd(a), self._nd(b)
        self.assertEqual(x.shape, y.shape, f"Shape mismatch: expected {x.shape}, got {y.shape}. {msg or ''}")
        same = x == y
        if x.dtype.kind in "fc" and y.dtype.kind in "fc":
            same = np.logical_or(same, np.logical_and(np.isnan(x), np.isnan(y)))
        if not np.all(same):
            bad = np.argwhere(~np.asarray(same, dtype=bool))
            shown = bad[:10].tolist()
            raise AssertionError(f"Arrays differ at {len(bad)} position(s), e.g. {shown}:\n"
                                 f"not equal lhs = {x[tuple(bad[:10].T)] if x.ndim else x}\n"
                                 f"not equal rhs = {y[tuple(bad[:10].T)] if y.ndim else y}\n{msg or ''}")

    def _all(self, a: Any, check: Callable[[np.ndarray], Any], text: str) -> None:
        x = self._nd(a)
        if not np.all(check(x)):
            raise AssertionError(f"{text}; got {x}")

    def assertAllGreater(self, a: Any, comparison_target: Any) -> None:  # noqa: N802
        self._all(a, lambda x: x > comparison_target, f"not all elements > {comparison_target}")

    def assertAllGreaterEqual(self, a: Any, comparison_target: Any) -> None:  # noqa: N802
        self._all(a, lambda x: x >= comparison_target, f"not all elements >= {comparison_target}")

    def assertAllLess(self, a: Any, comparison_target: Any) -> None:  # noqa: N802
        self._all(a, lambda x: x < comparison_target, f"not all elements < {comparison_target}")

    def assertAllLessEqual(self, a: Any, comparison_target: Any) -> None:  # noqa: N802
        self._all(a, lambda x: x <= comparison_target, f"not all elements <= {comparison_target}")

    def assertAllInRange(self, target: Any, lower_bound: Any, upper_bound: Any, open_lower_bound: bool = False,  # noqa: N802
                         open_upper_bound: bool = False) -> None:
        lo = (lambda x: x > lower_bound) if open_lower_bound else (lambda x: x >= lower_bound)
        hi = (lambda x: x < upper_bound) if open_upper_bound else (lambda x: x <= upper_bound)
        self._all(target, lambda x: np.logical_and(lo(x), hi(x)),
                  f"not all elements in {'(' if open_lower_bound else '['}{lower_bound}, {upper_bound}"
                  f"{')' if open_upper_bound else ']'}")

    def assertAllInSet(self, target: Any, expected_set: Any) -> None:  # noqa: N802
        allowed = set(expected_set)
        bad = {v for v in self._nd(target).reshape(-1).tolist() if v not in allowed}
        if bad:
            raise AssertionError(f"{sorted(map(str, bad))} not in {sorted(map(str, allowed))}")

    def assertDTypeEqual(self, target: Any, expected_dtype: Any) -> None:  # noqa: N802
        from labflow import dtypes
        want = dtypes.as_dtype(expected_dtype).as_numpy_dtype
        self.assertEqual(self._nd(target).dtype, np.dtype(want))

    def assertShapeEqual(self, np_array: Any, tf_tensor: Any, msg: str | None = None) -> None:  # noqa: N802
        """The static shape of `tf_tensor` equals `np_array.shape`."""
        from labflow.framework.tensor import Tensor
        if not isinstance(np_array, (np.ndarray, np.generic)):
            raise TypeError("np_array must be a Numpy ndarray or Numpy scalar")
        if not isinstance(tf_tensor, Tensor):
            raise TypeError("tf_tensor must be a Tensor")
        self.assertEqual(list(np_array.shape), tf_tensor.get_shape().as_list(), msg=msg)

    def assertDeviceEqual(self, device1: Any, device2: Any, msg: str | None = None) -> None:  # noqa: N802
        """The two device specs name the same device once canonicalised ("/gpu:0" == "/device:GPU:0")."""
        from labflow.framework.device_spec import DeviceSpec

        def canon(d: Any) -> str:
            if d is None or d == "":
                return ""
            return (d if isinstance(d, DeviceSpec) else DeviceSpec.from_string(str(d))).to_string()
        c1, c2 = canon(device1), canon(device2)
        self.assertEqual(c1, c2, f"Devices {c1} and {c2} are not equal. {msg or ''}")

    def assertProtoEquals(self, expected_message_maybe_ascii: Any, message: Any,  # noqa: N802
                          msg: str | None = None) -> None:
        """`message` equals the expected proto (a message or its text format)."""
        from google.protobuf import text_format
        expected = expected_message_maybe_ascii
        if isinstance(expected, (str, bytes)):
            parsed = type(message)()
            text_format.Merge(expected.decode() if isinstance(expected, bytes) else expected, parsed)
            expected = parsed
        self.assertEqual(text_format.MessageToString(expected), text_format.MessageToString(message), msg=msg)

    def assertStartsWith(self, actual: Any, expected_start: Any, msg: str | None = None) -> None:  # noqa: N802
        if not actual.startswith(expected_start):
            raise AssertionError(f"{actual!r} does not start with {expected_start!r}. {msg or ''}")

    def assertItemsEqual(self, first: Any, second: Any, msg: str | None = None) -> None:  # noqa: N802
        self.assertCountEqual(first, second, msg)

    @contextlib.contextmanager
    def assertRaisesWithPredicateMatch(self, exception_type: Any,  # noqa: N802
                                       expected_err_re_or_predicate: Any) -> Iterator[None]:
        """The block raises `exception_type` whose message matches the regex (or satisfies the predicate).

        For an OpError the message searched is the error message without the creation-site section,
        followed by "Caused by: <op name>".
        """
        if callable(expected_err_re_or_predicate):
            predicate = expected_err_re_or_predicate
        else:
            def predicate(e: BaseException) -> bool:
                text = e.message if isinstance(e, errors.OpError) else str(e)
                op = getattr(e, "op", None) if isinstance(e, errors.OpError) else None
                if op is not None:
                    text += "\nCaused by: " + op.name
                return re.search(expected_err_re_or_predicate, text) is not None
        try:
            yield
        except Exception as e:  # noqa: BLE001 - any exception is checked against the expectation
            if not isinstance(e, exception_type) or not predicate(e):
                raise AssertionError(f"Exception of type {type(e)}: {e}") from e
        else:
            self.fail(f"{getattr(exception_type, '__name__', exception_type)} not raised")

    def assertRaisesOpError(self, expected_err_re_or_predicate: Any) -> Any:  # noqa: N802
        """The block raises a `tf.errors.OpError` matching the regex or predicate."""
        return self.assertRaisesWithPredicateMatch(errors.OpError, expected_err_re_or_predicate)


_TEMP_DIR: list[str] = []


def get_temp_dir() -> str:
    """A temporary directory for this process's tests (created once, removed at exit)."""
    if not _TEMP_DIR:
        import atexit
        import shutil
        d = tempfile.mkdtemp(prefix="labflow_test_")
        atexit.register(shutil.rmtree, d, True)
        _TEMP_DIR.append(d)
    os.makedirs(_TEMP_DIR[0], exist_ok=True)
    return _TEMP_DIR[0]
