"""`tf.gfile`: TF 1.x file functions (GFile, Exists, MakeDirs, Glob, Walk, ...) over the local file system.

Errors are TF's: a missing file is `tf.errors.NotFoundError`, an existing target `AlreadyExistsError`,
reading a file opened for writing `PermissionDeniedError`. Paths may be str, bytes or os.PathLike.
"""

from __future__ import annotations

import errno
import glob as _glob
import os
import shutil
from typing import Any, Iterator

from labflow import errors

__all__ = [
    "GFile", "FastGFile", "Open", "Exists", "MakeDirs", "MkDir", "Glob", "ListDirectory", "IsDirectory",
    "Remove", "Rename", "Copy", "DeleteRecursively", "Stat", "Walk", "FileStatistics",
]


def _path(p: Any) -> str:
    p = os.fspath(p)
    return p.decode("utf-8") if isinstance(p, bytes) else p


def _os_error(e: OSError, path: str) -> errors.OpError:
    """TF's error class and wording ("<path>; No such file or directory") for an OSError."""
    text = f"{path}; {e.strerror or e}"
    if e.errno == errno.ENOENT:
        return errors.NotFoundError(None, None, text)
    if e.errno == errno.EEXIST:
        return errors.AlreadyExistsError(None, None, text)
    if e.errno in (errno.EACCES, errno.EPERM):
        return errors.PermissionDeniedError(None, None, text)
    if e.errno in (errno.ENOTDIR, errno.EISDIR, errno.ENOTEMPTY):
        return errors.FailedPreconditionError(None, None, text)
    return errors.UnknownError(None, None, text)


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8")
    raise TypeError(f"GFile.write takes str or bytes, got {type(data).__name__}")


class GFile:
    """A file (TF 1.x `tf.gfile.GFile`): `mode` "r"/"w"/"a" (+ "b" for bytes, "+" to also read/write).

    In text mode reads return str (UTF-8), in binary mode bytes; `write` takes either in any mode.
    Newlines are never translated. Usable as a context manager and iterable over lines.
    """

    def __init__(self, name: Any, mode: str = "r"):
        self._name = _path(name)
        if not isinstance(mode, str) or mode.replace("b", "").replace("+", "") not in ("r", "w", "a") or \
                mode.count("b") > 1 or mode.count("+") > 1:
            raise errors.InvalidArgumentError(None, None, f"Invalid mode {mode!r} for GFile('{self._name}'): use "
                                              "'r', 'w', 'a', optionally with 'b' and/or '+'")
        self._mode = mode
        self._binary = "b" in mode
        self._readable = mode.startswith("r") or "+" in mode
        self._writable = not mode.startswith("r") or "+" in mode
        self._file: Any = None  # opened on first use, as TF: a missing file fails at the first read
        self._closed = False

    @property
    def _f(self) -> Any:
        if self._file is None:
            if self._closed:
                raise errors.FailedPreconditionError(None, None, f"File '{self._name}' is closed")
            try:
                self._file = open(self._name, self._mode.replace("b", "") + "b")
            except OSError as e:
                raise _os_error(e, self._name) from None
        return self._file

    @property
    def name(self) -> str:
        return self._name

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def closed(self) -> bool:
        return self._closed

    def _check(self, reading: bool) -> None:
        if self._closed:
            raise errors.FailedPreconditionError(None, None, f"File '{self._name}' is closed")
        if reading and not self._readable:
            raise errors.PermissionDeniedError(None, None, f"File '{self._name}' isn't open for reading "
                                               f"(mode {self._mode!r})")
        if not reading and not self._writable:
            raise errors.PermissionDeniedError(None, None, f"File '{self._name}' isn't open for writing "
                                               f"(mode {self._mode!r})")

    def _out(self, data: bytes) -> Any:
        return data if self._binary else data.decode("utf-8")

    def size(self) -> int:
        """The file's length in bytes (pending writes flushed first)."""
        if self._file is not None and not self._closed:
            self._file.flush()
        try:
            return os.stat(self._name).st_size
        except OSError as e:
            raise _os_error(e, self._name) from None

    def read(self, n: int = -1) -> Any:
        """Reads `n` bytes (all the rest for n=-1); str in text mode, bytes in binary mode."""
        self._check(True)
        return self._out(self._f.read(-1 if n is None or n < 0 else n))

    def readline(self) -> Any:
        """The next line, with its newline ("" / b"" at the end)."""
        self._check(True)
        return self._out(self._f.readline())

    def readlines(self) -> list:
        self._check(True)
        return [self._out(x) for x in self._f.readlines()]

    def __iter__(self) -> Iterator:
        return self

    def __next__(self) -> Any:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    next = __next__

    def write(self, file_content: Any) -> None:
        """Writes str (as UTF-8) or bytes."""
        self._check(False)
        self._f.write(_as_bytes(file_content))

    def flush(self) -> None:
        if self._file is not None and not self._closed:
            self._file.flush()

    def seek(self, offset: int | None = None, whence: int = 0, position: int | None = None) -> int:
        """Moves to `offset` from the start (whence 0), the current position (1) or the end (2).

        `position` is TF's older name for an absolute `offset`.
        """
        if position is not None:
            if offset is not None:
                raise TypeError("GFile.seek: give `offset` or the deprecated `position`, not both")
            offset = position
        if offset is None:
            raise TypeError("GFile.seek needs an offset")
        if whence not in (0, 1, 2):
            raise errors.InvalidArgumentError(None, None, f"Invalid whence argument: {whence}. Valid values are 0, 1,"
                                              " or 2.")
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._closed = True

    def __enter__(self) -> GFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        f = self.__dict__.get("_file")
        if f is not None:
            f.close()

    def __repr__(self) -> str:
        return f"<GFile '{self._name}' mode={self._mode!r}{' closed' if self.closed else ''}>"


FastGFile = GFile
Open = GFile


class FileStatistics:
    """What `Stat` returns: `length` (bytes), `mtime_nsec` (modification time, ns), `is_directory`."""

    def __init__(self, length: int, mtime_nsec: int, is_directory: bool):
        self.length = length
        self.mtime_nsec = mtime_nsec
        self.is_directory = is_directory

    def __repr__(self) -> str:
        return (f"FileStatistics(length={self.length}, mtime_nsec={self.mtime_nsec}, "
                f"is_directory={self.is_directory})")


def Exists(filename: Any) -> bool:  # noqa: N802
    """Whether a file or directory `filename` exists."""
    return os.path.exists(_path(filename))


def IsDirectory(dirname: Any) -> bool:  # noqa: N802
    return os.path.isdir(_path(dirname))


def MakeDirs(dirname: Any) -> None:  # noqa: N802
    """Creates `dirname` and its missing parents; an existing directory is fine.

    Raises:
        FailedPreconditionError: `dirname` (or a parent) exists and is a file.
    """
    p = _path(dirname)
    try:
        os.makedirs(p, exist_ok=True)
    except FileExistsError:
        raise errors.FailedPreconditionError(None, None, f"{p} exists and is not a directory") from None
    except OSError as e:
        raise _os_error(e, p) from None


def MkDir(dirname: Any) -> None:  # noqa: N802
    """Creates the directory `dirname` (its parent must exist); an existing directory is fine, as TF.

    Raises:
        NotFoundError: its parent does not exist.
        AlreadyExistsError: `dirname` exists and is a file.
    """
    p = _path(dirname)
    if os.path.isdir(p):
        return
    try:
        os.mkdir(p)
    except OSError as e:
        raise _os_error(e, p) from None


def Glob(filename: Any) -> list[str]:  # noqa: N802
    """The paths matching a pattern (`*`, `?`, `[...]`), or the union for a list of patterns."""
    if isinstance(filename, (list, tuple)):
        out: list[str] = []
        for f in filename:
            out.extend(Glob(f))
        return out
    return sorted(_glob.glob(_path(filename)))


def ListDirectory(dirname: Any) -> list[str]:  # noqa: N802
    """The names (not paths) of the entries of `dirname`, without "." and "..".

    Raises:
        NotFoundError: `dirname` is not a directory.
    """
    p = _path(dirname)
    if not os.path.isdir(p):
        raise errors.NotFoundError(None, None, f"Could not find directory {p}")
    return sorted(os.listdir(p))


def Remove(filename: Any) -> None:  # noqa: N802
    """Deletes the file `filename`. Raises NotFoundError when it does not exist."""
    p = _path(filename)
    try:
        os.remove(p)
    except OSError as e:
        raise _os_error(e, p) from None


def DeleteRecursively(dirname: Any) -> None:  # noqa: N802
    """Deletes `dirname` and everything under it (or the file `dirname`). NotFoundError when missing."""
    p = _path(dirname)
    if not os.path.lexists(p):
        raise errors.NotFoundError(None, None, f"{p}; No such file or directory")
    try:
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.remove(p)
    except OSError as e:
        raise _os_error(e, p) from None


def _transfer(what: str, oldname: Any, newname: Any, overwrite: bool, exists: Any, action: Any) -> None:
    """Rename and Copy: TF's checks on both ends, then `action(src, dst)`.

    `exists` is os.path.lexists for Rename (a dangling link can be moved) and os.path.exists for Copy.
    """
    src, dst = _path(oldname), _path(newname)
    if not exists(src):
        raise errors.NotFoundError(None, None, f"{src}; No such file or directory")
    if os.path.exists(dst) and not overwrite:
        raise errors.AlreadyExistsError(None, None, f"file already exists: {dst} ({what} with "
                                        "overwrite=True to replace it)")
    try:
        action(src, dst)
    except OSError as e:
        raise _os_error(e, dst) from None


def Rename(oldname: Any, newname: Any, overwrite: bool = False) -> None:  # noqa: N802
    """Renames (moves) `oldname` to `newname`.

    Raises:
        NotFoundError: `oldname` does not exist.
        AlreadyExistsError: `newname` exists and `overwrite` is False.
    """
    _transfer("Rename", oldname, newname, overwrite, os.path.lexists, os.replace)


def Copy(oldpath: Any, newpath: Any, overwrite: bool = False) -> None:  # noqa: N802
    """Copies the file `oldpath` to `newpath`.

    Raises:
        NotFoundError: `oldpath` does not exist.
        AlreadyExistsError: `newpath` exists and `overwrite` is False.
    """
    _transfer("Copy", oldpath, newpath, overwrite, os.path.exists, shutil.copyfile)


def Stat(filename: Any) -> FileStatistics:  # noqa: N802
    """Length, modification time (ns) and kind of `filename`. NotFoundError when it does not exist."""
    p = _path(filename)
    try:
        st = os.stat(p)
    except OSError as e:
        raise _os_error(e, p) from None
    return FileStatistics(int(st.st_size), int(st.st_mtime_ns), os.path.isdir(p))


def Walk(top: Any, in_order: bool = True) -> Iterator[tuple[str, list[str], list[str]]]:
    """Yields (dirname, subdirectory names, file names) for `top` and every directory under it.

    `in_order=True` yields a directory before its subdirectories (pre-order), False after them.
    A `top` that does not exist yields nothing, as TF.
    """
    p = _path(top)
    if not os.path.isdir(p):
        return
    for dirname, subdirs, files in os.walk(p, topdown=in_order):
        subdirs.sort()  # in place: a top-down walk then visits subdirectories in name order
        yield dirname, list(subdirs), sorted(files)
