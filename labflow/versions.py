"""Version constants (TF 1.x names): tf.VERSION, tf.GRAPH_DEF_VERSION, tf.GIT_VERSION and friends."""

from __future__ import annotations

import importlib.metadata as _metadata
import platform as _platform

__all__ = [
    "VERSION", "GIT_VERSION", "COMPILER_VERSION", "CXX11_ABI_FLAG", "MONOLITHIC_BUILD", "GRAPH_DEF_VERSION",
    "GRAPH_DEF_VERSION_MIN_CONSUMER", "GRAPH_DEF_VERSION_MIN_PRODUCER", "__git_version__",
    "__compiler_version__", "__cxx11_abi_flag__", "__monolithic_build__",
]


def _package_version() -> str:
    try:
        return _metadata.version("labflow")
    except _metadata.PackageNotFoundError:  # a source tree on sys.path that was never installed
        return "0.1.0"


VERSION: str = _package_version()
"""labflow's version (the same as `labflow.__version__`)."""

GIT_VERSION: str = "unknown"
"""TF reports the git describe of its build; labflow is a Python package and does not record one."""

COMPILER_VERSION: str = _platform.python_compiler()
"""The compiler that built the running Python (labflow itself is not compiled)."""

CXX11_ABI_FLAG: int = 0
MONOLITHIC_BUILD: int = 0

GRAPH_DEF_VERSION: int = 27
"""The `versions.producer` labflow writes into every GraphDef (Graph.graph_def_versions)."""

GRAPH_DEF_VERSION_MIN_CONSUMER: int = 0
GRAPH_DEF_VERSION_MIN_PRODUCER: int = 0

__git_version__ = GIT_VERSION
__compiler_version__ = COMPILER_VERSION
__cxx11_abi_flag__ = CXX11_ABI_FLAG
__monolithic_build__ = MONOLITHIC_BUILD
