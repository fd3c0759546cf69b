"""`labflow demo`: train TF's Deep MNIST CNN for a bounded time, evaluate it, save a checkpoint and the graph.

    labflow demo                      # ~2 minutes of training on the real MNIST files
    labflow demo --minutes 10         # a longer budget: more steps, higher accuracy
    labflow demo --resume             # continue from the checkpoint of an earlier run
    labflow demo --steps 20000 --minutes 0   # the tutorial's full run (no time limit)

The model and loop are labflow/examples/deep_mnist.py (the tutorial's `mnist_deep.py`). The data is
read with `read_data_sets`, which looks in `--data-dir`, then `$LABFLOW_DATA/mnist`, then
`~/.cache/labflow/mnist`, and otherwise downloads the four files into `~/.cache/labflow/mnist` (or
`--data-dir`). Offline without the files, the demo says which files to put where and exits with
status 2.

Written into `--logdir` (default ./labflow_demo):
    model.ckpt-<step>.index / .data-00000-of-00001 / .meta   the checkpoint (tf.train.Saver)
    checkpoint                                              the checkpoint state file
    graph.pbtxt                                             the GraphDef, text format
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

DEFAULT_LOGDIR = "labflow_demo"
DEFAULT_MINUTES = 2.0
DEFAULT_STEPS = 20000
EXIT_NO_DATA = 2
# A progress line at least this often (seconds), however slow the steps are.
PROGRESS_SECONDS = 10.0


def _load_mnist(data_dir: str | None, seed: int, err: TextIO):
    """read_data_sets, or None after printing where the files go (no traceback for a user's setup problem)."""
    from labflow.datasets import mnist as mnist_lib
    try:
        return mnist_lib.read_data_sets(data_dir, one_hot=True, seed=seed)
    except mnist_lib.DatasetNotFoundError as e:
        folders = []
        if data_dir:
            folders.append((os.path.abspath(data_dir), "--data-dir"))
        if os.environ.get("LABFLOW_DATA"):
            folders.append((os.path.abspath(os.path.join(os.environ["LABFLOW_DATA"], "mnist")), "$LABFLOW_DATA/mnist"))
        folders.append((os.path.abspath(mnist_lib.cache_dir("mnist")), "the per-user cache"))
        width = max(len(f) for f, _ in folders)
        print(f"labflow demo: {e.message}\n\n"
              "To fix: put these four files (gzipped as downloaded, or not)\n"
              f"    {'  '.join(n + '.gz' for n in mnist_lib.FILES)}\n"
              f"from {mnist_lib.DEFAULT_SOURCE_URL} into one of these folders and run `labflow demo` again:\n"
              + "".join(f"    {f.ljust(width)}   ({why})\n" for f, why in folders)
              + "or into any folder DIR and run `labflow demo --data-dir DIR`.", file=err)
        return None
    except mnist_lib.CorruptDatasetError as e:
        print(f"labflow demo: the MNIST files are damaged: {e.message}\n"
              "Delete the damaged file and run again (it is downloaded again when online).", file=err)
        return None


def main(minutes: float = DEFAULT_MINUTES, steps: int = DEFAULT_STEPS, logdir: str = DEFAULT_LOGDIR,
         data_dir: str | None = None, batch_size: int = 50, seed: int | None = 0, log_every: int = 100,
         resume: bool = False, test_examples: int | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    """Runs the demo; returns the process exit status (0 on success).

    Args:
        minutes: wall-time budget for training (0 or less: no time limit, only `steps`).
        steps: the most training steps (the tutorial's 20000).
        logdir: where the checkpoint and the GraphDef are written.
        data_dir: a folder searched first for the MNIST files (and downloaded into when missing).
        batch_size: examples per step (the tutorial's 50).
        seed: graph-level random seed and batch-shuffling seed (None: random).
        log_every: print a progress line every this many steps (and at least every PROGRESS_SECONDS).
        resume: restore the latest checkpoint in `logdir` before training, if there is one.
        test_examples: evaluate on the first this many test images (None: all 10000).
        out, err: streams for progress and errors (default: sys.stdout, sys.stderr).
    """
    out = out or sys.stdout
    err = err or sys.stderr

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    import labflow as tf
    from labflow.examples import deep_mnist

    if steps < 1:
        print(f"labflow demo: --steps must be >= 1, got {steps}", file=err)
        return 2
    say(f"labflow {tf.__version__} demo: TF's Deep MNIST CNN (conv 5x5x32 > pool > conv 5x5x64 > pool > "
        "fc 1024 > dropout > fc 10), Adam 1e-4, batches of 50")
    mnist = _load_mnist(data_dir, seed, err)
    if mnist is None:
        return EXIT_NO_DATA
    say(f"MNIST: {mnist.train.num_examples} train / {mnist.validation.num_examples} validation / "
        f"{mnist.test.num_examples} test images")

    graph = tf.Graph()
    with graph.as_default():
        if seed is not None:
            tf.set_random_seed(seed)
        model = deep_mnist.build_model()
        saver = tf.train.Saver()
        n_params = sum(v.get_shape().num_elements() for v in tf.trainable_variables())
        say(f"graph: {len(graph.get_operations())} ops, {len(tf.trainable_variables())} trainable variables "
            f"({n_params:,} parameters)")
        budget = f"{minutes:g} min or {steps} steps" if minutes > 0 else f"{steps} steps"
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            start_step = 0
            if resume:
                latest = tf.train.latest_checkpoint(logdir)
                if latest:
                    saver.restore(sess, latest)
                    start_step = int(sess.run(model.global_step))
                    say(f"resumed from {latest} (step {start_step})")
                else:
                    say(f"no checkpoint in {logdir} to resume from: starting fresh")
            say(f"training for {budget} (whichever comes first) ...")
            result = deep_mnist.train(
                sess, model, mnist, max_steps=steps, max_seconds=minutes * 60.0 if minutes > 0 else None,
                batch_size=batch_size, log_every=log_every, log=say, evaluate_test=False, first_step=start_step,
                log_seconds=PROGRESS_SECONDS)
            n_test = mnist.test.num_examples if test_examples is None else max(1, min(test_examples,
                                                                                      mnist.test.num_examples))
            say(f"evaluating on {n_test} test images ...")
            t_eval = time.perf_counter()
            accuracy = deep_mnist.evaluate(sess, model, mnist.test, limit=n_test)
            t_eval = time.perf_counter() - t_eval
            global_step = int(sess.run(model.global_step))
            say(f"test accuracy: {accuracy:.4f} on {n_test} test images (global step {global_step}, "
                f"{t_eval:.1f} s)")
            os.makedirs(logdir, exist_ok=True)
            prefix = saver.save(sess, os.path.join(logdir, "model.ckpt"), global_step=global_step)
            graph_path = tf.train.write_graph(graph, logdir, "graph.pbtxt", as_text=True)
    say(f"checkpoint: {prefix}")
    say(f"GraphDef:   {graph_path}")
    if start_step == 0 and result.stopped_by == "time":
        say("(continue training with `labflow demo --resume`; the tutorial's 20000 steps reach ~99.2%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
