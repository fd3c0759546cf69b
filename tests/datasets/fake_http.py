"""A stand-in for the network in the dataset tests: downloads are served from a table, or fail."""

from __future__ import annotations

import io
import urllib.error

from labflow.datasets import _download


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def serve(monkeypatch, table: dict[str, bytes]) -> list[str]:
    """Replaces the opener: URLs in `table` get its bytes, others fail. Returns the URLs asked for."""
    asked = []

    def opener(url, timeout):
        asked.append(url)
        if url not in table:
            raise urllib.error.URLError(f"unreachable: {url}")
        return FakeResponse(table[url])
    monkeypatch.setattr(_download, "_urlopen", opener)
    return asked


def no_network(url, timeout):
    """An opener for a machine without a network."""
    raise urllib.error.URLError("network is unreachable (test)")
