"""Regenerates labflow's protobuf modules from the .proto sources under protos/.

Usage::

    python -m labflow.tools.gen_protos          # rewrite the generated *_pb2.py files
    python -m labflow.tools.gen_protos --check  # exit 1, listing the files that are stale

Layout: a source sits under ``protos/`` at the path of the Python module it becomes
(``protos/labflow/framework/protos/graph.proto`` -> ``labflow/framework/protos/graph_pb2.py``), and the
sources import each other by that path (``import "labflow/framework/protos/types.proto";``). With
``-I protos`` protoc then writes ``from labflow.framework.protos import types_pb2`` by itself, and each
file is registered in the process-wide descriptor pool under a name no other package uses, so the
output needs no post-processing.

The code is generated with the pinned grpcio-tools (see ``PINNED_GRPCIO_TOOLS``): its bundled protoc
(protobuf 4.25) writes modules that import on every runtime from the oldest one labflow declares
(protobuf>=4.25) up; a newer protoc would write modules that refuse older runtimes.
"""

from __future__ import annotations

import argparse
import filecmp
import importlib.metadata
import subprocess
import sys
import tempfile
from pathlib import Path

PINNED_GRPCIO_TOOLS = "1.62.3"
REPO_ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = REPO_ROOT / "protos"


def proto_sources(proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Returns every .proto file under ``proto_root``, sorted, relative to it."""
    return sorted(p.relative_to(proto_root) for p in proto_root.rglob("*.proto"))


def generated_path(source: Path) -> Path:
    """Returns the path, relative to the repo root, of the module protoc writes for ``source``."""
    return source.with_name(source.stem + "_pb2.py")


def grpcio_tools_version() -> str | None:
    """Returns the installed grpcio-tools version, or None when it is not installed."""
    try:
        return importlib.metadata.version("grpcio-tools")
    except importlib.metadata.PackageNotFoundError:
        return None


def generate(out_dir: Path, proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Runs protoc over every source, writing the modules under ``out_dir``.

    Args:
      out_dir: Root the generated package tree is written under (the repo root, or a scratch dir).
      proto_root: Directory holding the sources, laid out as the package tree.

    Returns:
      Paths, relative to ``out_dir``, of the modules written.

    Raises:
      RuntimeError: grpcio-tools is missing or not the pinned version, or protoc failed.
    """
    version = grpcio_tools_version()
    if version != PINNED_GRPCIO_TOOLS:
        raise RuntimeError(
            f"gen_protos needs grpcio-tools=={PINNED_GRPCIO_TOOLS} (found {version or 'none'}); "
            f"install it with: pip install grpcio-tools=={PINNED_GRPCIO_TOOLS}"
        )
    sources = proto_sources(proto_root)
    if not sources:
        raise RuntimeError(f"no .proto files under {proto_root}")
    # `python -m grpc_tools.protoc` adds the include dir of the well-known types (google/protobuf/any.proto).
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"--proto_path={proto_root}",
        f"--python_out={out_dir}",
        *(s.as_posix() for s in sources),
    ]
    result = subprocess.run(cmd, cwd=proto_root, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"protoc failed (exit {result.returncode}):\n{result.stderr}")
    return [generated_path(s) for s in sources]


def _committed_modules(repo_root: Path, packages: set[Path]) -> set[Path]:
    """Generated-looking modules now in the packages protoc writes to, relative to ``repo_root``."""
    found: set[Path] = set()
    for package in packages:
        for path in (repo_root / package).glob("*_pb2.py"):
            found.add(path.relative_to(repo_root))
    return found


def check(repo_root: Path = REPO_ROOT, proto_root: Path = PROTO_ROOT) -> list[str]:
    """Regenerates into a scratch directory and compares with the files in ``repo_root``.

    Returns:
      One line per problem ("stale: ...", "missing: ...", "orphan: ..."); empty when up to date.
    """
    with tempfile.TemporaryDirectory(prefix="labflow-protos-") as tmp:
        fresh = generate(Path(tmp), proto_root)
        problems = []
        for rel in fresh:
            committed = repo_root / rel
            if not committed.exists():
                problems.append(f"missing: {rel.as_posix()}")
            elif not filecmp.cmp(Path(tmp) / rel, committed, shallow=False):
                problems.append(f"stale: {rel.as_posix()}")
    orphans = _committed_modules(repo_root, {rel.parent for rel in fresh}) - set(fresh)
    problems += [f"orphan (no .proto source): {rel.as_posix()}" for rel in sorted(orphans)]
    return problems


def regenerate(repo_root: Path = REPO_ROOT, proto_root: Path = PROTO_ROOT) -> list[Path]:
    """Regenerates the modules in place and deletes ``*_pb2.py`` files whose source is gone.

    Returns:
      Paths, relative to ``repo_root``, of the modules written.
    """
    written = generate(repo_root, proto_root)
    for rel in _committed_modules(repo_root, {rel.parent for rel in written}) - set(written):
        (repo_root / rel).unlink()
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m labflow.tools.gen_protos", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="regenerate into a temp dir and list files that differ"
    )
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check()
            for line in problems:
                print(line)
            if problems:
                print("generated protobuf code is out of date: run python -m labflow.tools.gen_protos")
                return 1
            print("generated protobuf code is up to date")
            return 0
        for rel in regenerate():
            print(f"wrote {rel.as_posix()}")
        return 0
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
