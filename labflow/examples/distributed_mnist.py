"""Between-graph data-parallel MNIST softmax on a cluster: async, or sync with backup workers.

Every worker is a client of its own task's master (TF's between-graph replication): it builds the same
graph under `replica_device_setter`, so the variables live on the ps tasks and each worker computes on
its own task. Async: each worker applies its own gradients. Sync: `SyncReplicasOptimizer` aggregates
`replicas_to_aggregate` gradients per update; with more workers than that, the extra ones are backups and
a straggler's stale gradients are dropped instead of slowing everyone down.

    with tf.LocalCluster(ps=1, workers=3) as cluster:
        targets = [cluster.target("worker", i) for i in range(3)]
        result = train(cluster.cluster_spec, targets, mode="sync", replicas_to_aggregate=2, steps=300)

notebooks/05_distributed.ipynb walks through it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import labflow as tf


@dataclass
class WorkerLog:
    """What one worker saw: its step times (seconds) and the global steps it ran at."""

    task: int
    step_times: list[float] = field(default_factory=list)
    global_steps: list[int] = field(default_factory=list)
    error: BaseException | None = None


@dataclass
class Result:
    mode: str
    test_accuracy: float
    global_step: int
    seconds: float
    workers: list[WorkerLog]

    def median_step_s(self, task: int | None = None) -> float:
        logs = self.workers if task is None else [w for w in self.workers if w.task == task]
        times = [t for w in logs for t in w.step_times[2:]]  # the first steps pay compilation
        return float(np.median(times)) if times else float("nan")


def build(cluster: Any, task: int, mode: str, num_workers: int, replicas_to_aggregate: int | None,
          learning_rate: float) -> dict:
    """The model of one worker: softmax regression, variables on the ps job, compute on this worker."""
    setter = tf.train.replica_device_setter(cluster=cluster, worker_device=f"/job:worker/task:{task}")
    with tf.device(setter):
        global_step = tf.train.get_or_create_global_step()
        x = tf.placeholder(tf.float32, [None, 784], name="x")
        y_ = tf.placeholder(tf.float32, [None, 10], name="y_")
        w = tf.Variable(tf.zeros([784, 10]), name="W")
        b = tf.Variable(tf.zeros([10]), name="b")
        logits = tf.matmul(x, w) + b
        loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=y_, logits=logits))
        accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), tf.argmax(y_, 1)), tf.float32))
        opt = tf.train.GradientDescentOptimizer(learning_rate)
        hooks = []
        if mode == "sync":
            opt = tf.train.SyncReplicasOptimizer(opt, replicas_to_aggregate=replicas_to_aggregate or num_workers,
                                                 total_num_replicas=num_workers)
            hooks.append(opt.make_session_run_hook(is_chief=task == 0))
        train_op = opt.minimize(loss, global_step=global_step)
    return {"x": x, "y_": y_, "loss": loss, "accuracy": accuracy, "train_op": train_op,
            "global_step": global_step, "hooks": hooks}


def _worker(target: str, cluster: Any, task: int, mode: str, num_workers: int, replicas_to_aggregate: int | None,
            steps: int, batch_size: int, learning_rate: float, mnist: Any, straggle_s: float, seed: int,
            log: WorkerLog, stop: threading.Event) -> None:
    graph = tf.Graph()
    rng = np.random.RandomState(seed + task)
    try:
        with graph.as_default():
            m = build(cluster, task, mode, num_workers, replicas_to_aggregate, learning_rate)
            hooks = [*m["hooks"], tf.train.StopAtStepHook(last_step=steps)]
            # As TF's between-graph examples do: a worker's session only involves the ps tasks and its own
            # task, so another worker dying or restarting never touches it.
            config = tf.ConfigProto(device_filters=["/job:ps", f"/job:worker/task:{task}"])
            with tf.train.MonitoredTrainingSession(master=target, is_chief=task == 0, hooks=hooks, config=config,
                                                   save_checkpoint_secs=None, save_summaries_steps=None,
                                                   log_step_count_steps=None) as sess:
                n = mnist.train.num_examples
                while not sess.should_stop() and not stop.is_set():
                    idx = rng.randint(0, n, batch_size)
                    feed = {m["x"]: mnist.train.images[idx], m["y_"]: mnist.train.labels[idx]}
                    if straggle_s:
                        time.sleep(straggle_s)
                    t = time.perf_counter()
                    _, gs = sess.run([m["train_op"], m["global_step"]], feed)
                    log.step_times.append(time.perf_counter() - t + straggle_s)
                    log.global_steps.append(int(gs))
    except BaseException as e:  # noqa: BLE001 - reported with the result, other workers are stopped
        log.error = e
        stop.set()


def release_replicas(target: str, cluster: Any, steps: int, count: int) -> None:
    """Unblocks sync replicas still waiting for a token after the chief stopped (TF leaves them hanging).

    Each gets a token equal to the last step, finishes its step, sees the global step reached and stops.
    """
    graph = tf.Graph()
    with graph.as_default():
        setter = tf.train.replica_device_setter(cluster=cluster)
        with tf.device(setter):
            gs = tf.train.get_or_create_global_step()
        with tf.device(gs.device):
            q = tf.FIFOQueue(-1, tf.int64, shapes=(), name="sync_token_q", shared_name="sync_token_q")
            release = q.enqueue_many(tf.fill([count], tf.constant(steps, tf.int64)))
        with tf.Session(target) as sess:
            sess.run(release)


def evaluate(target: str, cluster: Any, mnist: Any) -> tuple[float, int]:
    """Test accuracy of the model now on the ps, read through worker 0's master."""
    graph = tf.Graph()
    with graph.as_default():
        m = build(cluster, 0, "async", 1, None, 0.0)
        with tf.Session(target) as sess:
            acc, gs = sess.run([m["accuracy"], m["global_step"]],
                               {m["x"]: mnist.test.images, m["y_"]: mnist.test.labels})
    return float(acc), int(gs)


def train(cluster: Any, targets: list[str], mode: str = "async", replicas_to_aggregate: int | None = None,
          steps: int = 500, batch_size: int = 100, learning_rate: float = 0.5, data_dir: str | None = None,
          straggler: int | None = None, straggle_s: float = 0.0, seed: int = 0, timeout_s: float = 600.0,
          data: Any = None, progress: Callable[[int], None] | None = None) -> Result:
    """Trains with one client thread per worker task (`targets[i]` = that task's grpc:// target).

    Args:
        cluster: the ClusterSpec (its ps job holds the variables).
        targets: one session target per worker, in task order.
        mode: "async" or "sync".
        replicas_to_aggregate: sync only; fewer than the workers gives backup workers.
        steps: the global step to stop at.
        straggler: a worker task that sleeps `straggle_s` before each of its steps.
        data: MNIST as `read_data_sets(..., one_hot=True)` returned it (default: read from `data_dir`), so
            several runs share one copy.
        progress: called from this thread about five times a second with the highest global step a worker
            has seen so far, and once at the end with the final global step (e.g. a tqdm bar's update).

    The variables (and the sync queue and accumulators) stay on the ps tasks after a run: a later run on
    the same cluster re-initializes the variables from its chief, but `tf.Session.reset(target)` between
    runs is what gives each run a clean ps.

    Raises:
        The first error a worker hit (after stopping the others).
    """
    if mode not in ("async", "sync"):
        raise ValueError(f"mode must be 'async' or 'sync', got {mode!r}")
    if data is None:
        from labflow.datasets import mnist as mnist_data
        data = mnist_data.read_data_sets(data_dir or "MNIST_data", one_hot=True)
    logs = [WorkerLog(i) for i in range(len(targets))]
    stop = threading.Event()
    threads = [threading.Thread(target=_worker, name=f"mnist-worker-{i}", daemon=True, args=(
        t, cluster, i, mode, len(targets), replicas_to_aggregate, steps, batch_size, learning_rate, data,
        straggle_s if i == straggler else 0.0, seed, logs[i], stop)) for i, t in enumerate(targets)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    deadline = start + timeout_s
    _join(threads[0], deadline, logs, progress)
    if mode == "sync" and not threads[0].is_alive():
        release_replicas(targets[0], cluster, steps, 2 * len(targets))
    for th in threads:
        _join(th, deadline, logs, progress)
    if any(th.is_alive() for th in threads):
        stop.set()
        for th in threads:
            th.join(30)
        raise TimeoutError(f"Training did not finish within {timeout_s:.0f} s")
    seconds = time.perf_counter() - start
    errs = [lg.error for lg in logs if lg.error is not None]
    if errs:
        raise errs[0]
    acc, gs = evaluate(targets[0], cluster, data)
    if progress is not None:
        progress(gs)
    return Result(mode, acc, gs, seconds, logs)


def _join(thread: threading.Thread, deadline: float, logs: list[WorkerLog],
          progress: Callable[[int], None] | None) -> None:
    """Waits for `thread` until `deadline`, reporting the global step to `progress` meanwhile."""
    while thread.is_alive():
        left = deadline - time.perf_counter()
        if left <= 0:
            return
        thread.join(min(left, 0.2) if progress is not None else left)
        if progress is not None:
            progress(max((lg.global_steps[-1] for lg in logs if lg.global_steps), default=0))
