"""tf.py_func / tf.numpy_function: forward, conversion, errors, state, gradients, GPU, serialization."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading

import numpy as np
import pytest

import labflow as tf
from labflow import errors
from labflow.ops import script_ops


def _run(fetches, feed=None):
    with tf.Session() as sess:
        return sess.run(fetches, feed)


# -- forward ---------------------------------------------------------------------------------------
def test_single_output_is_a_tensor_of_unknown_shape():
    x = tf.placeholder(tf.float32, [2, 3])
    y = tf.py_func(np.sinh, [x], tf.float32)
    assert isinstance(y, tf.Tensor) and y.op.type == "PyFunc" and y.op.name == "PyFunc"
    assert y.get_shape().ndims is None and y.dtype == tf.float32
    xs = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_allclose(_run(y, {x: xs}), np.sinh(xs), rtol=1e-6)


def test_list_tout_gives_a_list_and_several_outputs():
    x = tf.constant([1, 2, 3], tf.int64)
    outs = tf.py_func(lambda a: (a * 2, a.astype(np.float32) / 2, a.size), [x], [tf.int64, tf.float32, tf.int32],
                      name="multi")
    assert isinstance(outs, list) and [o.dtype for o in outs] == [tf.int64, tf.float32, tf.int32]
    a, b, c = _run(outs)
    np.testing.assert_array_equal(a, [2, 4, 6])
    np.testing.assert_allclose(b, [0.5, 1.0, 1.5])
    assert c == 3 and np.asarray(c).shape == ()
    one = tf.py_func(lambda a: a, [x], [tf.int64])
    assert isinstance(one, list) and len(one) == 1


def test_scalars_and_strings_arrive_like_tf():
    seen = []

    def f(s, n, words):
        seen.append((type(s), type(n), words.dtype))
        return s + b"!", n + 1, np.array([w.upper() for w in words], dtype=object)
    outs = tf.py_func(f, [tf.constant("hi"), tf.constant(41), tf.constant(["a", "bc"])],
                      [tf.string, tf.int32, tf.string])
    s, n, w = _run(outs)
    assert s == b"hi!" and n == 42 and list(w) == [b"A", b"BC"]
    # 0-d inputs are NumPy scalars / bytes (TF's PyArray_Return), strings are bytes objects
    assert seen == [(bytes, np.int32, np.dtype(object))]


def test_no_outputs_returns_the_op_and_runs_it():
    calls = []
    op = tf.py_func(lambda a: calls.append(int(a)), [tf.constant(5)], [])
    assert isinstance(op, tf.Operation) and op.outputs == []
    _run(op)
    assert calls == [5]


def test_numpy_function_is_a_stateful_py_func():
    y = tf.numpy_function(lambda a: a + 1, [tf.constant(1.5)], tf.float64, name="np_fn")
    assert y.op.type == "PyFunc" and y.op.name == "np_fn"
    assert _run(y) == 2.5
    z = tf.numpy_function(lambda a: a, [tf.constant(1)], tf.int32, stateful=False)
    assert z.op.type == "PyFuncStateless"


def test_python_values_as_inputs_and_the_inputs_are_private_copies():
    v = tf.Variable([1.0, 2.0])

    def scribble(a, b):
        a[:] = -1  # writing to an input must not reach the variable
        return a + b
    y = tf.py_func(scribble, [v, 10.0], tf.float32)
    with tf.Session() as sess:
        sess.run(v.initializer)
        np.testing.assert_allclose(sess.run(y), [9.0, 9.0])
        np.testing.assert_allclose(sess.run(v), [1.0, 2.0])


# -- conversion of results -------------------------------------------------------------------------
@pytest.mark.parametrize("ret,tout,want", [
    (1.5, tf.float32, np.float32(1.5)),                      # a Python scalar becomes 0-d
    (np.arange(3.0), tf.float32, np.arange(3, dtype=np.float32)),  # float64 -> float32 (TF would refuse)
    (np.array([1, 2]), tf.float64, np.array([1.0, 2.0])),    # int -> float
    (True, tf.int32, np.int32(1)),                           # bool -> int
    (7, tf.int64, np.int64(7)),
    (np.array([True, False]), tf.bool, np.array([True, False])),
    ("héllo", tf.string, "héllo".encode()),                  # str is UTF-8 encoded
    (np.array(["a", "bb"]), tf.string, np.array([b"a", b"bb"], dtype=object)),
])
def test_results_convert_to_the_declared_dtype(ret, tout, want):
    got = _run(tf.py_func(lambda: ret, [], tout))
    if tout == tf.string:
        assert np.asarray(got, dtype=object).tolist() == np.asarray(want, dtype=object).tolist()
        return
    got = np.asarray(got)
    assert got.dtype == tout.as_numpy_dtype and got.shape == np.shape(want)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("ret,tout,match", [
    (np.array([1.5]), tf.int32, "0-th value returned has dtype float64, but expects int32"),
    (1 + 2j, tf.float32, "dtype complex128, but expects float32"),
    ("text", tf.float32, "but expects float32"),
    (3, tf.string, "expects string"),
    (2 ** 40, tf.int32, "out of range for int32"),
    (None, tf.float32, "expected 1 return value"),
    (([[1], [2, 3]],), [tf.int32], "NumPy cannot convert"),
    ((1, 2), tf.int32, "expected 1 return value.*got 2.*np.array"),
    ((1, 2, 3), [tf.int32, tf.int32], "expected 2 return value.*got 3"),
    (5, [], "expected no return value"),
])
def test_bad_results_are_invalid_argument_naming_the_op(ret, tout, match):
    y = tf.py_func(lambda: ret, [], tout, name="bad_result")
    with pytest.raises(errors.InvalidArgumentError, match=match) as ei:
        _run(y)
    op = y if isinstance(y, tf.Operation) else (y[0] if isinstance(y, list) else y).op
    assert "bad_result" in str(ei.value) and ei.value.op is op


# -- errors raised by the function -----------------------------------------------------------------
def _raise(exc):
    def f(a):
        raise exc
    return f


@pytest.mark.parametrize("exc,cls", [
    (ValueError("bad value"), errors.InvalidArgumentError),
    (TypeError("bad type"), errors.InvalidArgumentError),
    (StopIteration(), errors.OutOfRangeError),
    (MemoryError(), errors.ResourceExhaustedError),
    (NotImplementedError("later"), errors.UnimplementedError),
    (KeyError("k"), errors.UnknownError),
    (ZeroDivisionError("div"), errors.UnknownError),
    (errors.FailedPreconditionError(None, None, "not ready"), errors.FailedPreconditionError),
])
def test_exceptions_map_to_tf_error_codes(exc, cls):
    y = tf.py_func(_raise(exc), [tf.constant(1.0)], tf.float32, name="user_fn")
    with pytest.raises(cls) as ei:
        _run(y)
    msg = str(ei.value)
    assert "user_fn" in msg and "PyFunc" in msg and type(exc).__name__ in msg
    if not isinstance(exc, errors.OpError):
        # the innermost frame of the function's traceback: this file, the `raise` line, in f
        assert "test_py_func.py" in msg and "in f -> raise exc" in msg
    assert ei.value.op is y.op


def test_an_error_in_one_partition_does_not_hang_the_others():
    q = tf.FIFOQueue(1, tf.float32)
    with tf.device("/cpu:1"):
        boom = tf.py_func(_raise(RuntimeError("x")), [tf.constant(1.0)], tf.float32)
    waiting = q.dequeue()  # would block forever; the failure cancels the step
    cfg = tf.ConfigProto(device_count={"CPU": 2})
    with tf.Session(config=cfg) as sess, pytest.raises(errors.UnknownError, match="RuntimeError"):
        sess.run([boom, waiting])


# -- state: never folded, never merged -------------------------------------------------------------
@pytest.mark.parametrize("stateful", [True, False])
def test_py_func_on_constants_runs_every_step(stateful):
    calls = []

    def f(a):
        calls.append(1)
        return a * 2
    c = tf.constant(3.0)
    y1 = tf.py_func(f, [c], tf.float32, stateful=stateful)
    y2 = tf.py_func(f, [c], tf.float32, stateful=stateful)  # identical: must not be merged
    assert y1.op.type == ("PyFunc" if stateful else "PyFuncStateless")
    assert tf.get_static_value(y1) is None  # never evaluated while building
    with tf.Session() as sess:
        assert sess.run([y1, y2]) == [6.0, 6.0]
        assert sess.run(y1 + y2) == 12.0
    assert len(calls) == 4


def test_stateful_flag_is_on_the_op_definition():
    from labflow.framework import registry
    assert registry.get("PyFunc").stateful and not registry.get("PyFuncStateless").stateful
    assert registry.get("PyFunc").host_op and registry.get("PyFuncStateless").host_op


def test_stateful_py_func_runs_as_a_control_dependency():
    calls = []
    side = tf.py_func(lambda: calls.append(1), [], [])
    with tf.control_dependencies([side]):
        y = tf.identity(tf.constant(1.0))
    _run(y)
    assert calls == [1]


def test_concurrent_calls_from_several_partitions_and_threads():
    lock, seen = threading.Lock(), set()

    def f(a):
        with lock:
            seen.add(threading.get_ident())
        return a + 1
    outs = []
    for i in range(3):
        with tf.device(f"/cpu:{i}"):
            outs.append(tf.py_func(f, [tf.constant(float(i))], tf.float32))
    with tf.Session(config=tf.ConfigProto(device_count={"CPU": 3})) as sess:
        results = []
        threads = [threading.Thread(target=lambda: results.append(sess.run(outs))) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert results == [[1.0, 2.0, 3.0]] * 4 and seen


# -- gradients -------------------------------------------------------------------------------------
def test_no_gradient_by_default():
    x = tf.constant([1.0, 2.0])
    y = tf.py_func(np.square, [x], tf.float32)
    assert tf.gradients(y, x) == [None]


_square_grad_registered = False


def test_gradient_override_map_gives_a_gradient():
    global _square_grad_registered
    if not _square_grad_registered:  # RegisterGradient names are process-wide (as in TF)
        @tf.RegisterGradient("PyFuncTestSquareGrad")
        def _square_grad(op, grad):
            return [grad * 2.0 * op.inputs[0]]
        _square_grad_registered = True
    x = tf.placeholder(tf.float64, [3])
    g = tf.get_default_graph()
    with g.gradient_override_map({"PyFunc": "PyFuncTestSquareGrad"}):
        y = tf.py_func(np.square, [x], tf.float64)
    z = tf.py_func(np.square, [x], tf.float64)  # outside the map: still no gradient
    (dy,) = tf.gradients(tf.reduce_sum(y), [x])
    assert tf.gradients(z, x) == [None]
    xs = np.array([1.0, -2.0, 3.0])
    np.testing.assert_allclose(_run(dy, {x: xs}), 2 * xs)
    from labflow.testing.gradient_check import gradient_check

    def build(a):  # gradient_check builds in a graph of its own
        with a.graph.gradient_override_map({"PyFunc": "PyFuncTestSquareGrad"}):
            return tf.py_func(np.square, [a], tf.float64)
    gradient_check(build, [xs])


# -- devices ---------------------------------------------------------------------------------------
def test_on_the_emulated_gpu_inputs_come_to_the_host_and_outputs_go_back():
    from labflow.testing.emulated_gpu import emulated_gpu
    seen = []

    def f(a):
        seen.append(type(a))
        return a * 3
    with emulated_gpu():
        x = tf.placeholder(tf.float32, [4])
        with tf.device("/gpu:0"):
            h = tf.square(x)  # computed on the device
            y = tf.py_func(f, [h], tf.float32)
            z = y + 1.0  # back on the device
        with tf.Session() as sess:
            out = sess.run(z, {x: np.arange(4, dtype=np.float32)})
            placed = {p.node: p.device for p in sess.placements()}
    np.testing.assert_allclose(out, np.arange(4) ** 2 * 3 + 1)
    assert seen == [np.ndarray] and placed[y.op.name].endswith("GPU:0")


# -- serialization ---------------------------------------------------------------------------------
def test_graph_def_round_trip_in_the_same_process():
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [2], name="x")
        tf.py_func(lambda a: a * 10, [x], tf.float32, name="times10")
    gd = g.as_graph_def()
    token = next(nd for nd in gd.node if nd.op == "PyFunc").attr["token"].s.decode()
    assert script_ops.registered_func(token) is not None
    g2 = tf.Graph()
    with g2.as_default():
        (y,) = tf.import_graph_def(gd, return_elements=["times10:0"], name="imp")
        with tf.Session() as sess:
            np.testing.assert_allclose(sess.run(y, {"imp/x:0": [1, 2]}), [10, 20])


def test_a_graph_going_away_frees_its_functions():
    g = tf.Graph()
    with g.as_default():
        tf.py_func(lambda a: a, [tf.constant(1)], tf.int32, name="f")
    gd = g.as_graph_def()
    token = gd.node[-1].attr["token"].s.decode()
    assert script_ops.registered_func(token) is not None
    del g
    gc.collect()
    assert script_ops.registered_func(token) is None
    with tf.Graph().as_default():
        (y,) = tf.import_graph_def(gd, return_elements=["f:0"])
        with tf.Session() as sess, pytest.raises(errors.NotFoundError, match=f"token {token}.*process"):
            sess.run(y)


def test_graph_def_in_another_process_fails_clearly(tmp_path):
    with tf.Graph().as_default() as g:
        tf.py_func(lambda a: a, [tf.constant(1)], tf.int32, name="f")
    path = tmp_path / "g.pb"
    path.write_bytes(g.as_graph_def().SerializeToString())
    code = ("import labflow as tf\nfrom labflow import errors\n"
            "from labflow.framework.protos import graph_pb2\ngd = graph_pb2.GraphDef()\n"
            f"gd.ParseFromString(open({str(path)!r}, 'rb').read())\n"
            "(y,) = tf.import_graph_def(gd, return_elements=['f:0'])\n"
            "try:\n    tf.Session().run(y)\nexcept errors.NotFoundError as e:\n    print('NOTFOUND', e.message)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "NOTFOUND" in out.stdout, out.stderr
    assert "live in the Python process that created the op" in out.stdout


# -- distributed -----------------------------------------------------------------------------------
def _in_process_cluster():
    """worker:0 (master) and worker:1 as service objects, no transport (tests/distributed's pattern)."""
    from labflow.distributed.cluster import ClusterSpec
    from labflow.distributed.master import LocalWorkerClient, Master
    from labflow.distributed.worker import Worker
    workers = {}

    def channel(task):
        return LocalWorkerClient(workers[task])
    for i in range(2):
        w = Worker("worker", i, channels=channel)
        workers[w.task_name] = w
    master = Master(workers["/job:worker/replica:0/task:0"], ClusterSpec({"worker": ["w0:1", "w1:1"]}), channel)
    return master, workers


def _remote_run(master, graph_def, fetch):
    from labflow.distributed import wire
    from labflow.distributed.protos import master_pb2 as mpb
    h = master.CreateSession(mpb.CreateSessionRequest(graph_def=graph_def)).session_handle
    resp = master.RunStep(mpb.RunStepRequest(session_handle=h, fetch=[fetch]))
    if resp.status.code:
        raise wire.error_from_status(resp.status, None)
    return wire.from_wire(resp.tensor[0].tensor)


def test_on_a_remote_task_it_runs_only_where_the_callable_lives():
    master, workers = _in_process_cluster()
    try:
        with tf.Graph().as_default() as g:
            with tf.device("/job:worker/task:1"):
                y = tf.py_func(lambda a: a * 2, [tf.constant(21)], tf.int32, name="remote_fn")
        gd = g.as_graph_def()
        # an in-process task shares this process's registry, as in TF
        assert _remote_run(master, gd, y.name) == 42
        # a task in another process has no callable for the token: a clear error, not a crash or a hang
        del g, y
        gc.collect()
        with pytest.raises(errors.NotFoundError, match="remote_fn.*live in the Python process that created"):
            _remote_run(master, gd, "remote_fn:0")
    finally:
        master.close()
        for w in workers.values():
            w.close()


def test_inside_a_cond_branch_the_callable_lives_with_the_outer_graph():
    x = tf.placeholder(tf.float32, [])
    y = tf.cond(x > 0, lambda: tf.py_func(lambda a: a * 2, [x], tf.float32),
                lambda: tf.py_func(lambda a: -a, [x], tf.float32))
    gc.collect()  # a branch graph dropped after building must not take its callable with it
    with tf.Session() as sess:
        assert sess.run(y, {x: 3.0}) == 6.0 and sess.run(y, {x: -2.0}) == 2.0
