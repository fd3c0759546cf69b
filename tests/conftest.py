"""Shared test setup: a fresh default graph per test, GPU tests skipped where no GPU is."""

from __future__ import annotations

import os

import pytest

import labflow as tf


@pytest.fixture(autouse=True)
def _fresh_default_graph():
    tf.reset_default_graph()
    yield
    s = tf.get_default_session()
    while s is not None and isinstance(s, tf.InteractiveSession):
        s.close()
        s = tf.get_default_session()


def pytest_configure(config):
    # LABFLOW_EMULATED_GPU=1 runs the GPU tests on labflow.testing.emulated_gpu where no GPU is: the
    # Python side of every GPU code path, with NumPy doing the arithmetic (see that module).
    from labflow.backend import cuda
    if os.environ.get("LABFLOW_EMULATED_GPU") == "1" and not cuda.is_available():
        from labflow.testing.emulated_gpu import emulated_gpu
        config._labflow_emulation = emulated_gpu()
        config._labflow_emulation.__enter__()


def pytest_unconfigure(config):
    emulation = getattr(config, "_labflow_emulation", None)
    if emulation is not None:
        emulation.__exit__(None, None, None)


def pytest_collection_modifyitems(config, items):
    from labflow.backend import cuda
    if cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and an NVIDIA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def mnist_dir():
    root = os.environ.get("LABFLOW_DATA")
    d = os.path.join(root, "mnist") if root else None
    if not d or not os.path.isdir(d):
        pytest.skip("MNIST files not found: set LABFLOW_DATA to a folder with mnist/ (see README)")
    return d
