"""Fixtures shared by the dataset tests."""

from __future__ import annotations

import pytest
from fake_http import no_network

from labflow.datasets import _download


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $LABFLOW_DATA, an empty HOME, and no network: only what a test writes is found."""
    monkeypatch.delenv("LABFLOW_DATA", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(_download, "_urlopen", no_network)
    return tmp_path
