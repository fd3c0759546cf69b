"""`tf.io.gfile`: the TF 1.14+ lower-case names of `tf.gfile` (exists, glob, makedirs, walk, GFile, ...)."""

from __future__ import annotations

from typing import Any, Callable, Iterator

from labflow import errors
from labflow import gfile as _g
from labflow.gfile import GFile

__all__ = ["GFile", "copy", "exists", "glob", "isdir", "listdir", "makedirs", "mkdir", "remove", "rename",
           "rmtree", "stat", "walk"]


def copy(src: Any, dst: Any, overwrite: bool = False) -> None:
    """Copies the file `src` to `dst` (AlreadyExistsError if `dst` exists and not `overwrite`)."""
    _g.Copy(src, dst, overwrite)


def exists(path: Any) -> bool:
    return _g.Exists(path)


def glob(pattern: Any) -> list[str]:
    return _g.Glob(pattern)


def isdir(path: Any) -> bool:
    return _g.IsDirectory(path)


def listdir(path: Any) -> list[str]:
    """The entry names of the directory `path` (NotFoundError if it is not one)."""
    return _g.ListDirectory(path)


def makedirs(path: Any) -> None:
    _g.MakeDirs(path)


def mkdir(path: Any) -> None:
    _g.MkDir(path)


def remove(path: Any) -> None:
    _g.Remove(path)


def rename(src: Any, dst: Any, overwrite: bool = False) -> None:
    _g.Rename(src, dst, overwrite)


def rmtree(path: Any) -> None:
    _g.DeleteRecursively(path)


def stat(path: Any) -> _g.FileStatistics:
    return _g.Stat(path)


def walk(top: Any, topdown: bool = True, onerror: Callable[[errors.OpError], Any] | None = None
         ) -> Iterator[tuple[str, list[str], list[str]]]:
    """Yields (dirname, subdirectory names, file names); a missing `top` goes to `onerror` (if given)."""
    if not _g.IsDirectory(top):
        if onerror is not None:
            onerror(errors.NotFoundError(None, None, f"Could not find directory {top}"))
        return
    yield from _g.Walk(top, in_order=topdown)
