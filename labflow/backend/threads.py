"""Intra-op parallelism on the CPU: labflow's own worker threads, and BLAS kept to one thread during steps.

Big CPU kernels (convolutions, large matrix products, pooling, Adam) split their work over
`num_threads()` threads with `parallel_for`; NumPy and BLAS release the GIL, so the parts run on
separate cores. This is TF's intra-op thread pool (`ConfigProto.intra_op_parallelism_threads`).

Why labflow owns the threads instead of letting a multi-threaded BLAS split each GEMM: OpenBLAS's
worker threads spin for ~0.1 s after every GEMM, so between GEMMs the other cores are busy doing
nothing and every non-BLAS op (im2col copies, pooling, elementwise work, the optimizer) runs on one
core. Measured on the Deep MNIST conv2 forward (2 cores): 18 ms with OpenBLAS's two threads, 10 ms
split over two labflow threads each running single-threaded BLAS. So while a step runs split, BLAS
is set to one thread and restored afterwards: NumPy code outside of steps keeps its usual threading.

Handing work to a sleeping thread costs 30-250 us on a VM, though, which chains of mid-sized GEMMs
(an MLP, an unrolled LSTM) pay too often. Whether a plan runs split or leaves the threading to BLAS
is therefore measured per plan (StepTuner, TF-style autotuning).

When BLAS cannot be controlled (threadpoolctl missing, an MKL or OpenMP BLAS), `num_threads()` is 1
and every kernel runs as before on the calling thread, leaving the threading to BLAS.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Any, Callable

log = logging.getLogger("labflow")

# Default cap: beyond this many parts the GIL-held Python between NumPy calls stops paying off.
_MAX_DEFAULT_THREADS = 8

_lock = threading.Lock()
_configured: int | None = None  # set by configure(); None: env or the number of usable cores
_default: int | None = None  # $LABFLOW_INTRA_OP_THREADS or the usable cores, read once
_local = threading.local()
_queue: queue.SimpleQueue | None = None
_workers: list[threading.Thread] = []
_blas: Any = None  # [(set_num_threads, get_num_threads)] of the BLAS libraries NumPy loaded
_blas_probed = False
_blas_depth = 0
_blas_saved: list[int] = []
_splits = 0  # calls of run() that used more than one thread (the tuner's "did anything split")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def configure(n: int) -> None:
    """Sets the intra-op thread count process-wide (`ConfigProto.intra_op_parallelism_threads`).

    0 keeps the default: $LABFLOW_INTRA_OP_THREADS, else the usable cores (at most 8). Like TF's
    global pool, the setting is shared by every session in the process; the last nonzero one wins.
    """
    global _configured
    if n < 0:
        raise ValueError(f"intra_op_parallelism_threads must be >= 0, got {n}")
    if n:
        _configured = int(n)


def num_threads() -> int:
    """How many threads a kernel may split its work over (1: no splitting)."""
    if getattr(_local, "split", None) is False:  # this thread runs a plan in BLAS mode (StepTuner)
        return 1
    n = _configured or _default_threads()
    if n > 1 and not _blas_controllable():
        return 1
    return n


def _default_threads() -> int:
    global _default
    if _default is None:
        env = os.environ.get("LABFLOW_INTRA_OP_THREADS", "").strip()
        _default = int(env) if env.isdigit() and int(env) > 0 else min(_cores(), _MAX_DEFAULT_THREADS)
    return _default


def _blas_controllable() -> bool:
    global _blas, _blas_probed
    if not _blas_probed:
        with _lock:
            if not _blas_probed:
                try:
                    _blas = _blas_controls()
                except Exception as e:  # noqa: BLE001 - missing or failing threadpoolctl: no splitting
                    log.debug("labflow: BLAS threads not controllable (%s); kernels run unsplit", e)
                    _blas = None
                _blas_probed = True
    return _blas is not None


def _blas_controls() -> list | None:
    """(set_num_threads, get_num_threads) of each BLAS NumPy loaded, as raw C calls; None if any is not
    a pthreads OpenBLAS (an OpenMP or MKL pool is per calling thread: one setting cannot hold it).

    threadpoolctl finds the libraries and their symbol names; its own set_num_threads is not used
    because it ignores calls from any thread but the first that made one, and steps run on many.
    """
    import numpy  # noqa: F401 - BLAS is loaded with NumPy's multiarray module
    from threadpoolctl import ThreadpoolController
    controls = []
    for c in ThreadpoolController().select(user_api="blas").lib_controllers:
        symbol = getattr(c, "_get_symbol", None)
        if c.internal_api != "openblas" or getattr(c, "threading_layer", "") == "openmp" or symbol is None:
            return None
        setter, getter = symbol("openblas_set_num_threads"), symbol("openblas_get_num_threads")
        if setter is None or getter is None:
            return None
        controls.append((setter, getter))
    return controls or None


def step_begin() -> None:
    """Enter a step that runs BLAS kernels: BLAS goes to one thread until the last such step ends."""
    global _blas_depth
    split = num_threads() > 1  # probes BLAS (takes _lock) before the counter below does
    with _lock:
        _blas_depth += 1
        if _blas_depth == 1:
            _blas_saved[:] = [get() for _, get in _blas] if split else []
            for set_, _ in _blas if split else ():
                set_(1)


def step_end() -> None:
    """Leave a step entered with step_begin (every step_begin is paired with one step_end)."""
    global _blas_depth
    with _lock:
        if _blas_depth == 0:
            return
        _blas_depth -= 1
        if _blas_depth == 0 and _blas_saved:
            for (set_, _), n in zip(_blas, _blas_saved):
                set_(n)
            _blas_saved.clear()


class _Job:
    """A list of independent tasks; whichever thread is free claims the next one."""

    __slots__ = ("tasks", "next", "left", "lock", "done", "error")

    def __init__(self, tasks: list):
        self.tasks = tasks
        self.next = 0
        self.left = len(tasks)
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.error: BaseException | None = None

    def work(self) -> None:
        while True:
            with self.lock:
                i = self.next
                if i >= len(self.tasks):
                    return
                self.next = i + 1
            try:
                self.tasks[i]()
            except BaseException as e:  # noqa: BLE001 - re-raised on the calling thread
                if self.error is None:
                    self.error = e
            with self.lock:
                self.left -= 1
                if self.left == 0:
                    self.done.set()


def _worker(q: queue.SimpleQueue) -> None:
    _local.inside = True  # a kernel running here never splits again (no nested fan-out)
    while True:
        job = q.get()
        if job is None:
            return
        job.work()


def _ensure_workers(n: int) -> queue.SimpleQueue:
    global _queue
    with _lock:
        if _queue is None:
            _queue = queue.SimpleQueue()
        while len(_workers) < n:
            t = threading.Thread(target=_worker, args=(_queue,), name=f"labflow-intra-{len(_workers)}",
                                 daemon=True)
            t.start()
            _workers.append(t)
        return _queue


def run(tasks: list[Callable[[], Any]]) -> None:
    """Runs independent tasks concurrently on the calling thread and the intra-op workers.

    The caller works too and, when the workers are busy (another step, another device), claims the
    remaining tasks itself, so a call never waits for a free thread. The first exception raised by a
    task is re-raised here after every task has finished.
    """
    global _splits
    t = num_threads()
    if len(tasks) <= 1 or t <= 1 or getattr(_local, "inside", False):
        for task in tasks:
            task()
        return
    _splits += 1
    q = _ensure_workers(t - 1)
    job = _Job(tasks)
    for _ in range(min(len(tasks), t) - 1):
        q.put(job)
    _local.inside = True
    try:
        job.work()
    finally:
        _local.inside = False
    job.done.wait()
    if job.error is not None:
        raise job.error


def split(n: int, grain: int = 1, parts: int | None = None) -> list[tuple[int, int]]:
    """Balanced contiguous [lo, hi) ranges covering range(n): one per thread at most, and none shorter
    than `grain` (so small work is not split at all)."""
    if n <= 0:
        return []
    p = max(1, min(parts or num_threads(), n // max(int(grain), 1)))
    return [(n * i // p, n * (i + 1) // p) for i in range(p)]


def gemm_parts() -> int:
    """How many parts work that runs GEMMs may be split into: only while a step holds BLAS at one thread
    (outside one, e.g. a kernel called directly, each part's BLAS call would start its own threads)."""
    return num_threads() if _blas_depth else 1


def parallel_for(n: int, fn: Callable[[int, int], Any], grain: int = 1, parts: int | None = None) -> None:
    """Calls fn(lo, hi) over contiguous ranges covering range(n), concurrently (see `split`, `run`)."""
    ranges = split(n, grain, parts)
    run([lambda lo=lo, hi=hi: fn(lo, hi) for lo, hi in ranges])


def _after_fork() -> None:
    # A forked child has none of the parent's threads: start over (workers are made on demand).
    global _queue, _blas_depth, _lock
    _lock = threading.Lock()
    _queue = None
    _workers.clear()
    _blas_depth = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


SPLIT, BLAS = "split", "blas"
# The mode of each run while a plan is tuned, and whether that run's time counts. The first run warms
# up (caches, each thread's heap) and is not timed. A SPLIT run right after a BLAS run is not counted
# either: OpenBLAS's threads spin for ~0.1 s after a GEMM and would slow it down.
_TRIALS = ((SPLIT, False), (BLAS, True), (BLAS, True), (BLAS, True), (SPLIT, False), (SPLIT, True), (SPLIT, True),
           (SPLIT, True))
# BLAS is kept only when its best run beats SPLIT's by this fraction: with three noisy runs each the two
# can swap, and SPLIT's worst case measured smaller (1.08x on the MLP step against 1.15-1.3x on the CNN).
_TIE = 0.03
# The first re-tune comes this many runs after a decision, the next after 4x as many, and so on: a
# decision made while the machine was busy does not stick for a whole training run.
_FIRST_RECHECK = 64


class StepTuner:
    """Picks, per compiled CPU plan, how its BLAS kernels use the cores, by timing its runs.

    SPLIT: labflow's kernels split their work over the intra-op threads, BLAS at one thread (best
    when convolutions, pooling and other non-GEMM work dominate: measured 0.87x on the Deep MNIST
    training step). BLAS: nothing is split and BLAS threads its GEMMs itself (best for chains of
    mid-sized GEMMs, whose hand-off to a sleeping labflow thread costs 30-250 us on a VM each:
    SPLIT measured 1.08-1.47x on the MLP step). Like cuDNN's autotuner, a plan's first runs try both
    (_TRIALS) and the mode with the faster best run is kept; the trials repeat after 64, 256, 1024, ...
    more runs. $LABFLOW_INTRA_OP_MODE=split|blas fixes the mode. The executor brackets each run of a
    plan that has BLAS ops with `with tuner:`.
    """

    __slots__ = ("runs", "start", "times", "mode", "recheck", "forced", "split_seen")

    def __init__(self) -> None:
        self.runs = 0  # runs so far
        self.start = 0  # the run the current trials began at
        self.times: dict[str, list[float]] = {SPLIT: [], BLAS: []}
        forced = os.environ.get("LABFLOW_INTRA_OP_MODE", "auto").strip().lower()
        self.forced = forced in (SPLIT, BLAS)
        self.mode: str | None = forced if self.forced else None
        self.recheck = 0
        self.split_seen = False  # whether any kernel split during a SPLIT trial

    def __enter__(self) -> None:
        run = self.runs
        self.runs += 1
        if self.mode is not None and not self.forced and run == self.recheck:
            self.mode, self.start = None, run
            self.times = {SPLIT: [], BLAS: []}
            self.split_seen = False
        mode, trial, t0 = self.mode, -1, 0.0
        if mode is None:
            trial = run - self.start
            mode = _TRIALS[min(trial, len(_TRIALS) - 1)][0]
            t0 = time.perf_counter()
        if mode == SPLIT and num_threads() <= 1:
            mode = BLAS
        stack = _local.__dict__.setdefault("tune", [])
        stack.append((mode, trial, t0, getattr(_local, "split", None), _splits))
        _local.split = mode == SPLIT
        if mode == SPLIT:
            step_begin()

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        mode, trial, t0, _local.split, splits_before = _local.tune.pop()
        if mode == SPLIT:
            step_end()
        if trial < 0 or exc_type is not None or self.mode is not None:
            return
        self.split_seen |= mode == SPLIT and _splits != splits_before
        if trial < len(_TRIALS) and _TRIALS[trial] == (mode, True):
            self.times[mode].append(time.perf_counter() - t0)
        if trial >= len(_TRIALS) - 1:
            split, blas = self.times[SPLIT], self.times[BLAS]
            if split and blas and not self.split_seen:
                self.mode = BLAS  # nothing was big enough to split: same kernels, less per-run cost
            elif split and blas:
                self.mode = BLAS if min(blas) < min(split) * (1 - _TIE) else SPLIT
            else:  # no BLAS control (every run was BLAS) or runs failed: keep what works
                self.mode = SPLIT if split else BLAS
            self.recheck = self.runs + max(_FIRST_RECHECK, 3 * self.start)
            log.debug("labflow: intra-op mode %s (best split %s, blas %s)", self.mode,
                      split and f"{min(split) * 1e3:.2f} ms", blas and f"{min(blas) * 1e3:.2f} ms")


# Below this many multiply-adds a GEMM runs on the calling thread: the hand-off (~20 us) costs more.
GEMM_SPLIT_MACS = 4 << 20
# Fewest rows (or columns) of the output one part of a split GEMM gets.
_GEMM_MIN_SPLIT = 32
# Fewest multiply-adds' depth one part of a GEMM split along its inner dimension gets.
_GEMM_MIN_DEPTH = 512


def _gemm_axis(m: int, k: int, n: int, t: int) -> str | None:
    """Which dimension of a [m,k] @ [k,n] product to split over t threads: the one whose parts
    duplicate the least memory traffic. Split by rows, every part streams all of b (k*n); by columns,
    all of a (m*k); along k, every part writes its own [m,n] partial that is then summed (~3 m*n).
    Which one BLAS likes matters: the PTB softmax's [400,200] @ [200,10000] ran 18.5 ms split by rows
    (each thread packing all 8 MB of the weights) and 14 ms by columns; its [400,10000] @ [10000,200]
    gradient streams 16 MB either way unless it splits along k."""
    costs = {}
    if m >= _GEMM_MIN_SPLIT * 2:
        costs["rows"] = k * n
    if n >= _GEMM_MIN_SPLIT * 2:
        costs["cols"] = m * k
    if k >= _GEMM_MIN_DEPTH * 2:
        costs["depth"] = 3 * m * n
    return min(costs, key=costs.__getitem__) if costs else None


def gemm(a: Any, b: Any, out: Any = None, epilogue: Callable[..., None] | None = None) -> Any:
    """a [M,K] @ b [K,N] with NumPy (any strides BLAS takes), split over the intra-op threads when big.

    The split is by output rows, output columns or the inner dimension, whichever duplicates the least
    memory traffic (`_gemm_axis`); each part is one single-threaded BLAS call on views (no copies of the
    operands). `epilogue(block, cols)` runs in place on each computed output block (a view of whole
    rows, or of the column range `cols`, a slice) right after it is made, while it is in cache: per part
    when split by rows or columns, once at the end otherwise. Writes into `out` when given; returns it.
    """
    import numpy as np
    m, k = a.shape
    n = b.shape[1]
    if out is None:
        out = np.empty((m, n), dtype=np.result_type(a, b))
    t = gemm_parts()
    axis = None
    if t > 1 and m * n * k >= GEMM_SPLIT_MACS and out.dtype.kind in "fc" and not getattr(_local, "inside", False):
        axis = _gemm_axis(m, k, n, t)
    every = slice(None)
    if axis == "rows":
        def rows(lo: int, hi: int) -> None:
            np.matmul(a[lo:hi], b, out=out[lo:hi])
            if epilogue is not None:
                epilogue(out[lo:hi], every)

        run([lambda lo=lo, hi=hi: rows(lo, hi) for lo, hi in split(m, _GEMM_MIN_SPLIT, t)])
        return out
    if axis == "cols":
        def cols(lo: int, hi: int) -> None:
            np.matmul(a, b[:, lo:hi], out=out[:, lo:hi])
            if epilogue is not None:
                epilogue(out[:, lo:hi], slice(lo, hi))

        run([lambda lo=lo, hi=hi: cols(lo, hi) for lo, hi in split(n, _GEMM_MIN_SPLIT, t)])
        return out
    if axis == "depth":
        ranges = split(k, _GEMM_MIN_DEPTH, t)
        partials = [out] + [np.empty_like(out) for _ in ranges[1:]]
        run([lambda lo=lo, hi=hi, dst=dst: np.matmul(a[:, lo:hi], b[lo:hi], out=dst)
             for (lo, hi), dst in zip(ranges, partials)])

        def reduce(lo: int, hi: int) -> None:
            for p in partials[1:]:
                np.add(out[lo:hi], p[lo:hi], out=out[lo:hi])
        parallel_for(m, reduce, max(1, (1 << 14) // max(n, 1)), t)
    else:
        np.matmul(a, b, out=out)
    if epilogue is not None:
        epilogue(out, every)
    return out
