"""How much of TF 1.x's public API `import labflow as tf` answers, per namespace.

The reference is `tf1_api_names.txt` next to this file: every public name of `tf.compat.v1` and of its
namespaces (`nn`, `train`, `image`, ...) as TensorFlow 2.21 lists them. A name counts as covered when the
same dotted path resolves on `labflow`. Coverage says nothing about semantics (the tests do that); it
is the map of what a TF 1.x user will find missing.

    python -m labflow.tools.api_coverage              # a table: namespace, covered/total, percent
    python -m labflow.tools.api_coverage --missing nn # the names tf.nn has and labflow lacks
    python -m labflow.tools.api_coverage --regenerate # rewrite the reference (needs tensorflow)
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys
from typing import Any

REFERENCE = pathlib.Path(__file__).with_name("tf1_api_names.txt")

# The namespaces the reference lists (tf.compat.v1.layers and nn.rnn_cell need Keras 2 to list).
NAMESPACES = ("", "nn", "train", "losses", "metrics", "summary", "image", "math", "linalg", "random", "data",
              "initializers", "sparse", "strings", "io", "saved_model", "gfile", "logging", "app", "flags",
              "errors", "graph_util", "profiler", "test", "user_ops", "signal", "bitwise", "manip", "spectral",
              "feature_column", "debugging", "dtypes", "config", "lookup", "quantization", "sets", "python_io",
              "distribute")


@dataclasses.dataclass
class Namespace:
    """Coverage of one namespace ("" is the top level)."""

    name: str
    covered: list[str]
    missing: list[str]

    @property
    def total(self) -> int:
        return len(self.covered) + len(self.missing)

    @property
    def percent(self) -> float:
        return 100.0 * len(self.covered) / self.total if self.total else 100.0


def reference_names(path: pathlib.Path = REFERENCE) -> list[str]:
    """The dotted TF 1.x names of the reference file (comments and blank lines skipped)."""
    lines = path.read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def _resolves(root: Any, dotted: str) -> bool:
    obj = root
    for part in dotted.split("."):
        try:
            obj = getattr(obj, part)
        except Exception:  # an AttributeError, or a lazy import that fails: either way not usable
            return False
    return True


def coverage(names: list[str] | None = None) -> dict[str, Namespace]:
    """Per-namespace coverage of `names` (default: the reference) by `labflow`."""
    import labflow
    out: dict[str, Namespace] = {}
    for dotted in reference_names() if names is None else names:
        ns, _, leaf = dotted.rpartition(".")
        entry = out.setdefault(ns, Namespace(ns, [], []))
        (entry.covered if _resolves(labflow, dotted) else entry.missing).append(leaf)
    return out


def regenerate(path: pathlib.Path = REFERENCE) -> int:
    """Rewrites the reference from an installed TensorFlow's tf.compat.v1; returns the number of names."""
    import tensorflow as tf  # only here: labflow never depends on TensorFlow
    names = []
    for ns in NAMESPACES:
        module = tf.compat.v1
        try:
            for part in ns.split(".") if ns else []:
                module = getattr(module, part)
            listed = dir(module)
        except Exception:  # a namespace this TensorFlow cannot import (e.g. Keras-backed ones)
            continue
        names += [f"{ns}.{n}" if ns else n for n in listed if not n.startswith("_")]
    header = [f"# TF 1.x public API names: dir() of tf.compat.v1 and of its namespaces, from TensorFlow "
              f"{tf.__version__}", "# Regenerate with python -m labflow.tools.api_coverage --regenerate "
              "(needs tensorflow installed)."]
    path.write_text("\n".join(header + sorted(names)) + "\n")
    return len(names)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--missing", metavar="NAMESPACE", help="list what labflow lacks in a namespace ('' = top)")
    p.add_argument("--regenerate", action="store_true", help="rewrite the reference from tensorflow")
    args = p.parse_args(argv)
    if args.regenerate:
        print(f"{regenerate()} names written to {REFERENCE}")
        return 0
    cov = coverage()
    if args.missing is not None:
        ns = cov.get(args.missing)
        if ns is None:
            print(f"no namespace {args.missing!r} in the reference; known: {', '.join(sorted(cov))}")
            return 2
        print("\n".join(ns.missing))
        return 0
    covered = sum(len(n.covered) for n in cov.values())
    total = sum(n.total for n in cov.values())
    print(f"{'namespace':16s} {'covered':>9s} {'%':>5s}")
    for ns in sorted(cov.values(), key=lambda n: (-n.total, n.name)):
        print(f"{ns.name or '(top level)':16s} {len(ns.covered):>4d}/{ns.total:<4d} {ns.percent:5.0f}")
    print(f"{'all':16s} {covered:>4d}/{total:<4d} {100.0 * covered / total:5.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
