"""Crash-safe file writes shared by checkpoints, graph files, event logs and dataset downloads."""

from __future__ import annotations

import os
import tempfile


def fsync_dir(directory: str) -> None:
    """Makes a rename in `directory` durable; skipped where the platform cannot open folders."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str, data: bytes) -> None:
    """Writes `data` to `path` through a temporary file in the same folder: write, flush, fsync, rename.

    A reader (TensorBoard, a restoring process) never sees a half-written file, and a crash leaves
    either the old file or the new one.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    fsync_dir(folder)
