"""The `labflow` command line: `labflow demo`, `labflow version`."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="labflow", description="labflow command line")
    sub = p.add_subparsers(dest="cmd")
    d = sub.add_parser("demo", help="build, train and evaluate a small model")
    d.add_argument("--steps", type=int, default=1500)
    sub.add_parser("version", help="print the version")
    args = p.parse_args(argv)
    if args.cmd == "demo":
        from labflow.examples import demo
        demo.main(steps=args.steps)
        return 0
    if args.cmd == "version":
        import labflow
        print(labflow.__version__)
        return 0
    p.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
