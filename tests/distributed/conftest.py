"""Fixtures shared by the distributed tests."""

from __future__ import annotations

import pytest

from labflow.distributed.launcher import LocalCluster


@pytest.fixture(scope="module")
def cluster():
    """One ps and two workers as local processes, shared by a test module and always reaped."""
    c = LocalCluster(ps=1, workers=2, start_timeout=90)
    try:
        yield c
    finally:
        c.close()
