"""labflow's intra-op threads: splitting, BLAS thread control, the per-plan mode tuner, split kernels."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from labflow.backend import threads

needs_blas_control = pytest.mark.skipif(not threads._blas_controllable(),
                                        reason="threadpoolctl cannot control this NumPy's BLAS")


@pytest.fixture
def two_threads():
    saved = threads._configured
    threads.configure(2)
    yield
    threads._configured = saved


def test_split_is_balanced_and_honours_grain():
    assert threads.split(10, 1, parts=3) == [(0, 3), (3, 6), (6, 10)]
    assert threads.split(10, 6, parts=4) == [(0, 10)]  # two parts would be shorter than the grain
    assert threads.split(12, 6, parts=4) == [(0, 6), (6, 12)]
    assert threads.split(0, 1, parts=2) == []
    for n in range(1, 40):
        r = threads.split(n, 1, parts=3)
        assert r[0][0] == 0 and r[-1][1] == n and all(a[1] == b[0] for a, b in zip(r, r[1:]))
        assert max(h - lo for lo, h in r) - min(h - lo for lo, h in r) <= 1


def test_configure_rejects_negative():
    with pytest.raises(ValueError, match="intra_op_parallelism_threads"):
        threads.configure(-1)


@needs_blas_control
def test_run_uses_two_threads_at_once(two_threads):
    barrier = threading.Barrier(2, timeout=10)  # each task waits for the other: sequential would time out
    seen = []
    threads.run([lambda: seen.append(barrier.wait()), lambda: seen.append(barrier.wait())])
    assert sorted(seen) == [0, 1]


@needs_blas_control
def test_run_reraises_the_first_error_after_all_tasks_ran(two_threads):
    done = []

    def bad():
        raise ValueError("task failed")

    with pytest.raises(ValueError, match="task failed"):
        threads.run([bad, lambda: done.append(1), lambda: done.append(2)])
    assert sorted(done) == [1, 2]


@needs_blas_control
def test_nested_run_does_not_fan_out_again(two_threads):
    inner_threads = []

    def outer():
        threads.run([lambda: inner_threads.append(threading.get_ident()),
                     lambda: inner_threads.append(threading.get_ident())])

    threads.run([outer, outer])
    # Each outer task ran its two inner tasks on its own thread.
    assert len(inner_threads) == 4 and len(set(inner_threads)) <= 2


@needs_blas_control
def test_caller_does_the_work_when_workers_are_busy(two_threads):
    release = threading.Event()
    blocker = threading.Thread(target=lambda: threads.run([release.wait, release.wait]))
    blocker.start()  # occupies the worker (and its own thread) until released
    time.sleep(0.2)
    try:
        out = []
        t = threading.Thread(target=lambda: threads.run([lambda: out.append(1), lambda: out.append(2)]))
        t.start()
        t.join(5)
        assert not t.is_alive() and sorted(out) == [1, 2]
    finally:
        release.set()
        blocker.join(5)


@needs_blas_control
@pytest.mark.parametrize("m,k,n,ta,tb", [(300, 200, 100, False, False), (20, 400, 900, False, True),
                                         (600, 30, 500, True, False), (40, 50, 40, False, False),
                                         (64, 2100, 48, True, True), (50, 1500, 70, False, False)])
def test_gemm_split_matches_matmul(two_threads, monkeypatch, m, k, n, ta, tb):
    monkeypatch.setattr(threads, "GEMM_SPLIT_MACS", 1)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    a, b = (a.T if ta else a), (b.T if tb else b)
    before = threads._splits
    threads.step_begin()  # GEMMs split only while a step holds BLAS at one thread
    try:
        np.testing.assert_allclose(threads.gemm(a, b), a @ b, rtol=1e-5, atol=1e-4)
        calls = []

        def epilogue(block, cols):
            np.add(block, bias[cols], out=block)  # the bias slice must line up with the block's columns
            calls.append(block.size)

        bias = np.arange(n, dtype=np.float32)
        out = np.empty((m, n), np.float32)
        threads.gemm(a, b, out=out, epilogue=epilogue)
        np.testing.assert_allclose(out, a @ b + bias, rtol=1e-5, atol=1e-4)
        assert sum(calls) == m * n  # every output element once
        ai, bi = (a * 10).astype(np.int64), (b * 10).astype(np.int64)
        np.testing.assert_array_equal(threads.gemm(ai, bi), ai @ bi)  # not BLAS: never split, still right
    finally:
        threads.step_end()
    assert threads._splits > before or min(m, n) < 64


def test_gemm_splits_where_the_least_traffic_is_duplicated():
    # The PTB softmax's products: forward, the input gradient, the weight gradient.
    assert threads._gemm_axis(400, 200, 10000, 2) == "cols"
    assert threads._gemm_axis(400, 10000, 200, 2) == "depth"
    assert threads._gemm_axis(200, 400, 10000, 2) == "cols"
    assert threads._gemm_axis(980, 800, 64, 2) == "rows"  # a convolution's lowered chunk
    assert threads._gemm_axis(20, 100, 40, 2) is None  # nothing big enough to split


@needs_blas_control
def test_gemm_outside_a_step_is_not_split(two_threads, monkeypatch):
    # Outside a step BLAS keeps its own threads: splitting too would oversubscribe the cores.
    monkeypatch.setattr(threads, "GEMM_SPLIT_MACS", 1)
    a, b = np.ones((300, 50), np.float32), np.ones((50, 40), np.float32)
    before = threads._splits
    np.testing.assert_array_equal(threads.gemm(a, b), a @ b)
    assert threads._splits == before


def _work(seconds: float) -> None:
    """A kernel's work: split over two tasks when the mode allows (so the tuner sees a split)."""
    threads.run([lambda: time.sleep(seconds / 2), lambda: time.sleep(seconds / 2)])


@needs_blas_control
def test_tuner_keeps_blas_when_nothing_split(two_threads, monkeypatch):
    monkeypatch.delenv("LABFLOW_INTRA_OP_MODE", raising=False)
    tuner = threads.StepTuner()
    for _ in range(len(threads._TRIALS)):
        with tuner:
            time.sleep(0.001 if threads.num_threads() > 1 else 0.002)  # faster "split", but no kernel split
    assert tuner.mode == threads.BLAS  # same kernels either way; BLAS mode costs less per run


def _blas_threads() -> int:
    from threadpoolctl import threadpool_info
    return min(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


@needs_blas_control
def test_step_begin_holds_blas_at_one_thread_until_the_last_step_ends(two_threads):
    before = _blas_threads()
    threads.step_begin()
    threads.step_begin()
    assert _blas_threads() == 1
    threads.step_end()
    assert _blas_threads() == 1
    threads.step_end()
    assert _blas_threads() == before
    threads.step_end()  # unpaired: ignored
    assert _blas_threads() == before


@needs_blas_control
def test_steps_on_other_threads_control_blas_too(two_threads):
    # threadpoolctl's own setter ignores every thread but the first that used it; steps run on many.
    before = _blas_threads()
    seen = []

    def step():
        threads.step_begin()
        seen.append(_blas_threads())
        threads.step_end()

    for _ in range(3):
        t = threading.Thread(target=step)
        t.start()
        t.join(10)
    assert seen == [1, 1, 1] and _blas_threads() == before


@needs_blas_control
def test_tuner_times_both_modes_then_keeps_the_faster(two_threads, monkeypatch):
    monkeypatch.delenv("LABFLOW_INTRA_OP_MODE", raising=False)
    tuner = threads.StepTuner()
    seen = []
    for _ in range(len(threads._TRIALS) + 3):
        with tuner:
            split = threads.num_threads() > 1
            seen.append(split)
            _work(0.001 if split else 0.02)  # SPLIT is the fast mode here
    assert seen[:len(threads._TRIALS)] == [m == threads.SPLIT for m, _ in threads._TRIALS]
    assert len(tuner.times[threads.SPLIT]) == 3 and len(tuner.times[threads.BLAS]) == 3  # the rest warm up
    assert tuner.mode == threads.SPLIT and seen[-3:] == [True] * 3
    assert threads.num_threads() == 2  # outside a plan nothing is forced


@needs_blas_control
def test_tuner_picks_blas_when_splitting_is_slower(two_threads, monkeypatch):
    monkeypatch.delenv("LABFLOW_INTRA_OP_MODE", raising=False)
    tuner = threads.StepTuner()
    for _ in range(len(threads._TRIALS)):
        with tuner:
            _work(0.02 if threads.num_threads() > 1 else 0.001)
    assert tuner.mode == threads.BLAS
    with tuner:
        assert threads.num_threads() == 1


@needs_blas_control
def test_tuner_breaks_near_ties_toward_split_and_tunes_again_later(two_threads, monkeypatch):
    monkeypatch.delenv("LABFLOW_INTRA_OP_MODE", raising=False)
    monkeypatch.setattr(threads, "_FIRST_RECHECK", 10)
    tuner = threads.StepTuner()
    slow = {True: 0.0101, False: 0.01}  # BLAS 1% faster: within the tie margin
    runs = 0

    def run():
        nonlocal runs
        runs += 1
        with tuner:
            _work(slow[threads.num_threads() > 1])

    for _ in range(len(threads._TRIALS)):
        run()
    assert tuner.mode == threads.SPLIT
    slow[True] = 0.03  # the machine changed: splitting is now much slower
    while tuner.mode == threads.SPLIT and runs < 100:
        run()
    assert tuner.mode is None  # re-tuning
    for _ in range(len(threads._TRIALS)):
        run()
    assert tuner.mode == threads.BLAS and runs <= len(threads._TRIALS) + 10 + len(threads._TRIALS) + 1


def test_tuner_without_blas_control_settles_on_blas(monkeypatch):
    monkeypatch.delenv("LABFLOW_INTRA_OP_MODE", raising=False)
    monkeypatch.setattr(threads, "_configured", 1)
    tuner = threads.StepTuner()
    for _ in range(len(threads._TRIALS)):
        with tuner:
            assert threads.num_threads() == 1
    assert tuner.mode == threads.BLAS


def test_a_failing_run_is_not_timed(monkeypatch, two_threads):
    monkeypatch.delenv("LABFLOW_INTRA_OP_MODE", raising=False)
    tuner = threads.StepTuner()
    with pytest.raises(RuntimeError):
        with tuner:
            raise RuntimeError("kernel failed")
    assert not tuner.times[threads.SPLIT] and not tuner.times[threads.BLAS]
    assert getattr(threads._local, "split", None) is None  # the thread's state is restored


def test_tuner_mode_can_be_forced(monkeypatch, two_threads):
    monkeypatch.setenv("LABFLOW_INTRA_OP_MODE", "blas")
    tuner = threads.StepTuner()
    with tuner:
        assert threads.num_threads() == 1
    assert tuner.mode == threads.BLAS


def test_import_labflow_does_not_import_threadpoolctl():
    code = "import sys, labflow; print('threadpoolctl' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "False"


@needs_blas_control
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_can_split_again(two_threads):
    threads.run([lambda: None, lambda: None])  # the parent has a live worker now
    pid = os.fork()
    if pid == 0:  # child: new workers are made; a hang here fails the parent's wait below
        try:
            barrier = threading.Barrier(2, timeout=5)
            threads.run([barrier.wait, barrier.wait])
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    deadline = time.time() + 20
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung in threads.run")


@needs_blas_control
def test_session_config_sets_the_intra_op_threads():
    import labflow as tf
    saved = threads._configured
    try:
        with tf.Session(graph=tf.Graph(), config=tf.ConfigProto(intra_op_parallelism_threads=3)):
            assert threads.num_threads() == 3
        with tf.Session(graph=tf.Graph(), config=tf.ConfigProto()):
            assert threads.num_threads() == 3  # 0 keeps the process-wide setting
    finally:
        threads._configured = saved
