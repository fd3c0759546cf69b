"""`tf.test`: tf.test.TestCase, tf.test.main, gradient checks and the GPU queries of TF 1.x."""

from __future__ import annotations

import importlib.util
import os
import sys
import unittest
from typing import Any, Sequence

from labflow.test.gradient_checker import compute_gradient, compute_gradient_error
from labflow.test.graph_compare import assert_equal_graph_def
from labflow.test.test_case import TestCase, get_temp_dir

__all__ = [
    "TestCase", "main", "get_temp_dir", "test_src_dir_path", "is_gpu_available", "gpu_device_name",
    "is_built_with_cuda", "is_built_with_gpu_support", "is_built_with_rocm", "compute_gradient",
    "compute_gradient_error", "assert_equal_graph_def", "mock", "create_local_cluster",
]


def main(argv: Sequence[str] | None = None) -> Any:
    """Parses the defined flags, then runs the tests of `__main__` with unittest (exits with its status).

    Arguments that are not flags (test names, -v) go to unittest.
    """
    from labflow import flags
    args = list(sys.argv if argv is None else argv) or ["labflow-test"]
    remaining = flags.FLAGS(args, known_only=True)
    return unittest.main(argv=remaining)


def test_src_dir_path(relative_path: str) -> str:
    """The absolute path of `relative_path` inside the labflow package (TF: inside the tensorflow package)."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), relative_path)


def is_built_with_cuda() -> bool:
    """Whether labflow can run on NVIDIA GPUs here: CuPy (its CUDA backend) is installed."""
    return importlib.util.find_spec("cupy") is not None


def is_built_with_gpu_support() -> bool:
    return is_built_with_cuda()


def is_built_with_rocm() -> bool:
    return False


def is_gpu_available(cuda_only: bool = False, min_cuda_compute_capability: tuple[int, int] | None = None) -> bool:
    """Whether a GPU is visible (with at least `min_cuda_compute_capability`, a (major, minor) pair, if given)."""
    from labflow.backend import cuda
    n = cuda.device_count()
    if not n:
        return False
    if min_cuda_compute_capability is None:
        return True
    want = tuple(min_cuda_compute_capability)
    return any(tuple(cuda.device_properties(i)["compute_capability"]) >= want for i in range(n))


def gpu_device_name() -> str:
    """"/device:GPU:0" when a GPU is available, else ""."""
    return "/device:GPU:0" if is_gpu_available() else ""


def create_local_cluster(num_workers: int, num_ps: int, protocol: str = "grpc", worker_config: Any = None,
                         ps_config: Any = None) -> tuple[list, list]:
    """Starts `num_workers` worker and `num_ps` ps servers in this process, on free loopback ports.

    Returns:
        (workers, ps_servers): lists of started `tf.train.Server`s; connect with
        `tf.Session(workers[0].target)`. Stop them with `server.stop()` (labflow; they also stop at exit).
    """
    from labflow.distributed.cluster import ClusterSpec
    from labflow.distributed.server import Server, free_port
    spec = {"worker": [f"localhost:{free_port()}" for _ in range(num_workers)]}
    if num_ps > 0:
        spec["ps"] = [f"localhost:{free_port()}" for _ in range(num_ps)]
    cluster = ClusterSpec(spec)
    workers = [Server(cluster, job_name="worker", task_index=i, protocol=protocol, config=worker_config)
               for i in range(num_workers)]
    ps = [Server(cluster, job_name="ps", task_index=i, protocol=protocol, config=ps_config) for i in range(num_ps)]
    return workers, ps


def __getattr__(name: str) -> Any:
    if name == "mock":  # tf.test.mock is unittest.mock, imported on first use (it is not light)
        from unittest import mock
        return mock
    raise AttributeError(f"module 'labflow.test' has no attribute {name!r}")
