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
