"""The `labflow` command line: `labflow demo`, `labflow server`, `labflow quantize`, `labflow version`."""

from __future__ import annotations

import argparse
import sys


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _add_demo(sub: argparse._SubParsersAction) -> None:
    from labflow.examples import demo
    d = sub.add_parser(
        "demo", help="train TF's Deep MNIST CNN for a bounded time, then evaluate and save it",
        description="Trains the Deep MNIST CNN (TF's 'Deep MNIST for Experts') on the real MNIST files for "
                    "a bounded time, prints progress and the test accuracy, and writes a checkpoint and the "
                    "GraphDef into --logdir. MNIST is read from --data-dir, $LABFLOW_DATA/mnist or "
                    "~/.cache/labflow/mnist, and downloaded when none has it.")
    d.add_argument("--minutes", type=float, default=demo.DEFAULT_MINUTES,
                   help="training time budget in minutes; 0 for no time limit (default %(default)s)")
    d.add_argument("--steps", type=_positive_int, default=demo.DEFAULT_STEPS,
                   help="the most training steps (default %(default)s, the tutorial's full run)")
    d.add_argument("--logdir", default=demo.DEFAULT_LOGDIR,
                   help="where the checkpoint and graph.pbtxt go (default ./%(default)s)")
    d.add_argument("--data-dir", default=None,
                   help="a folder with the four MNIST files, searched first (and downloaded into)")
    d.add_argument("--batch-size", type=_positive_int, default=50, help="examples per step (default 50)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    d.add_argument("--log-every", type=int, default=100, help="print progress every N steps (default 100)")
    d.add_argument("--resume", action="store_true",
                   help="continue from the latest checkpoint in --logdir")
    d.add_argument("--test-examples", type=_positive_int, default=None,
                   help="evaluate on the first N test images only (default: all 10000)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="labflow", description="labflow command line")
    sub = p.add_subparsers(dest="cmd")
    _add_demo(sub)
    from labflow.distributed import server_main
    server_main.add_parser(sub)
    from labflow.tools import quantize
    quantize.add_parser(sub)
    sub.add_parser("version", help="print the version")
    args = p.parse_args(argv)
    if args.cmd == "demo":
        from labflow.examples import demo
        try:
            return demo.main(minutes=args.minutes, steps=args.steps, logdir=args.logdir, data_dir=args.data_dir,
                             batch_size=args.batch_size, seed=args.seed, log_every=args.log_every,
                             resume=args.resume, test_examples=args.test_examples)
        except KeyboardInterrupt:
            print("labflow demo: interrupted", file=sys.stderr)
            return 130
    if args.cmd == "server":
        return server_main.main(args)
    if args.cmd == "quantize":
        return quantize.main(args)
    if args.cmd == "version":
        import labflow
        print(labflow.__version__)
        return 0
    p.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
