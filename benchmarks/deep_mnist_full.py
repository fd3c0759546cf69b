"""The full "Deep MNIST for Experts" run: 20000 Adam steps of 50 images, then test accuracy (TF: ~0.992).

Not a CI test (it takes tens of minutes on a CPU); run it and report the JSON line it prints last:

    LABFLOW_DATA=../shared/data .venv/bin/python benchmarks/deep_mnist_full.py
    python benchmarks/deep_mnist_full.py --device gpu                 # on a machine with CuPy and a GPU
    python benchmarks/deep_mnist_full.py --logdir runs/deep --resume  # checkpoints every 1000 steps; resumable

The model and the loop are labflow/examples/deep_mnist.py (the tutorial's `mnist_deep.py`, one-hot
labels, keep_prob 0.5, Adam 1e-4). The last line is JSON:
{"framework", "workload": "deep_mnist_full", "device", "steps", "global_step", "seconds", "ms_per_step",
 "validation_accuracy", "test_accuracy", "target": 0.992, "passed"}.
Exit status: 0 when the run finished all its steps and test_accuracy >= target, else 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

TARGET = 0.992


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=20000, help="training steps (default: the tutorial's 20000)")
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    p.add_argument("--data-dir", default=None, help="folder with the MNIST files (default: $LABFLOW_DATA/mnist)")
    p.add_argument("--log-every", type=int, default=1000, help="progress line every N steps")
    p.add_argument("--logdir", default=None, help="save a checkpoint here every --save-every steps and at the end")
    p.add_argument("--save-every", type=int, default=1000)
    p.add_argument("--resume", action="store_true", help="restore the latest checkpoint in --logdir first")
    p.add_argument("--max-minutes", type=float, default=0.0, help="stop early after this many minutes (0: never)")
    args = p.parse_args(argv)

    import labflow as tf
    from labflow.datasets.mnist import DatasetNotFoundError
    from labflow.examples import deep_mnist
    from labflow.examples.tutorials.mnist import input_data

    try:
        mnist = input_data.read_data_sets(args.data_dir, one_hot=True, seed=args.seed)
    except DatasetNotFoundError as e:
        print(e.message, file=sys.stderr)
        return 2

    graph = tf.Graph()
    device = "/gpu:0" if args.device == "gpu" else None
    with graph.as_default():
        tf.set_random_seed(args.seed)
        with tf.device(device):
            model = deep_mnist.build_model()
        saver = tf.train.Saver(max_to_keep=3)
        config = tf.ConfigProto(allow_soft_placement=True)
        with tf.Session(graph=graph, config=config) as sess:
            sess.run(tf.global_variables_initializer())
            first = 0
            if args.resume and args.logdir and tf.train.latest_checkpoint(args.logdir):
                saver.restore(sess, tf.train.latest_checkpoint(args.logdir))
                first = int(sess.run(model.global_step))
                print(f"resumed at step {first}", flush=True)
            prefix = os.path.join(args.logdir, "model.ckpt") if args.logdir else None
            if args.logdir:
                os.makedirs(args.logdir, exist_ok=True)

            def on_step(step: int, loss: float) -> None:
                if prefix and step % args.save_every == 0:
                    saver.save(sess, prefix, global_step=step)

            remaining = max(args.steps - first, 1)
            result = deep_mnist.train(
                sess, model, mnist, max_steps=remaining, batch_size=args.batch_size, log_every=args.log_every,
                max_seconds=args.max_minutes * 60 if args.max_minutes > 0 else None,
                log=lambda line: print(line, flush=True), on_step=on_step, evaluate_test=False, first_step=first)
            t_eval = time.perf_counter()
            validation = deep_mnist.evaluate(sess, model, mnist.validation)
            test = deep_mnist.evaluate(sess, model, mnist.test)
            t_eval = time.perf_counter() - t_eval
            global_step = int(sess.run(model.global_step))
            if prefix:
                saver.save(sess, prefix, global_step=global_step)
    finished = global_step >= args.steps
    report = dict(framework="labflow" if args.device == "cpu" else "labflow_gpu", workload="deep_mnist_full",
                  device=args.device, steps=result.steps, global_step=global_step,
                  seconds=round(result.seconds, 1), ms_per_step=round(result.ms_per_step, 2),
                  eval_seconds=round(t_eval, 1), validation_accuracy=round(validation, 4),
                  test_accuracy=round(test, 4), target=TARGET, passed=bool(finished and test >= TARGET))
    print(json.dumps(report), flush=True)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
