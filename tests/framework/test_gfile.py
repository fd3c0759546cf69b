"""tf.gfile and tf.io.gfile: files, directories and TF's error classes."""

from __future__ import annotations

import os

import pytest

import labflow as tf


def test_gfile_text_and_binary(tmp_path):
    p = str(tmp_path / "a.txt")
    with tf.gfile.GFile(p, "w") as f:
        f.write("line one\n")
        f.write(b"line two\n")
        f.write("\u00e9\n")
    with tf.gfile.GFile(p) as f:
        assert f.readline() == "line one\n"
        assert f.tell() == 9
        assert f.read() == "line two\n\u00e9\n"
        f.seek(0)
        assert f.readlines() == ["line one\n", "line two\n", "\u00e9\n"]
        assert f.size() == 21
        assert f.mode == "r" and f.name == p
    with tf.gfile.Open(p, "rb") as f:
        assert list(f) == [b"line one\n", b"line two\n", "\u00e9\n".encode()]
        f.seek(-3, 2)
        assert f.read(2) == "\u00e9".encode()
        f.seek(position=5)
        assert f.read(3) == b"one"
    with tf.gfile.FastGFile(p, "a") as f:
        f.write("x")
    assert tf.gfile.Stat(p).length == 22


def test_gfile_errors(tmp_path):
    missing = str(tmp_path / "missing.txt")
    f = tf.gfile.GFile(missing)  # opened lazily, as TF: the read fails
    with pytest.raises(tf.errors.NotFoundError, match="missing.txt; No such file"):
        f.read()
    with pytest.raises(tf.errors.NotFoundError):
        f.size()
    f.close()
    unused = str(tmp_path / "unused.txt")
    tf.gfile.GFile(unused, "w").close()
    assert not tf.gfile.Exists(unused)  # nothing written: no file, as TF
    p = str(tmp_path / "w.txt")
    f = tf.gfile.GFile(p, "w")
    with pytest.raises(tf.errors.PermissionDeniedError, match="isn't open for reading"):
        f.read()
    f.close()
    with pytest.raises(tf.errors.PermissionDeniedError, match="isn't open for writing"):
        tf.gfile.GFile(p, "r").write("x")
    with pytest.raises(tf.errors.FailedPreconditionError, match="closed"):
        f.write("x")
    with pytest.raises(tf.errors.InvalidArgumentError, match="Invalid mode 'rw'"):
        tf.gfile.GFile(p, "rw")
    with pytest.raises(tf.errors.InvalidArgumentError, match="Invalid whence"):
        tf.gfile.GFile(p).seek(0, 5)


def test_directories(tmp_path):
    d = str(tmp_path / "a" / "b")
    tf.gfile.MakeDirs(d)
    tf.gfile.MakeDirs(d)  # existing: fine
    assert tf.gfile.IsDirectory(d) and tf.gfile.Exists(d)
    tf.gfile.MkDir(d)  # existing: fine, as TF
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(tf.errors.AlreadyExistsError):
        tf.gfile.MkDir(str(tmp_path / "file"))
    with pytest.raises(tf.errors.FailedPreconditionError):
        tf.gfile.MakeDirs(str(tmp_path / "file"))
    with pytest.raises(tf.errors.FailedPreconditionError):
        tf.gfile.MakeDirs(str(tmp_path / "file" / "under"))
    with pytest.raises(tf.errors.NotFoundError):
        tf.gfile.MkDir(str(tmp_path / "x" / "y"))
    tf.gfile.MkDir(str(tmp_path / "c"))
    for name in ("a/f1.txt", "a/b/f2.txt", "a/b/g.csv"):
        with tf.gfile.GFile(str(tmp_path / name), "w") as f:
            f.write(name)
    assert tf.gfile.ListDirectory(str(tmp_path / "a")) == ["b", "f1.txt"]
    with pytest.raises(tf.errors.NotFoundError, match="Could not find directory"):
        tf.gfile.ListDirectory(str(tmp_path / "nope"))
    assert tf.gfile.Glob(str(tmp_path / "a" / "b" / "*.txt")) == [str(tmp_path / "a" / "b" / "f2.txt")]
    assert len(tf.gfile.Glob([str(tmp_path / "a" / "*.txt"), str(tmp_path / "a" / "b" / "*")])) == 3
    walked = list(tf.gfile.Walk(str(tmp_path / "a")))
    assert walked == [(str(tmp_path / "a"), ["b"], ["f1.txt"]), (str(tmp_path / "a" / "b"), [], ["f2.txt", "g.csv"])]
    assert [w[0] for w in tf.gfile.Walk(str(tmp_path / "a"), in_order=False)] == [str(tmp_path / "a" / "b"),
                                                                                 str(tmp_path / "a")]
    assert list(tf.gfile.Walk(str(tmp_path / "nope"))) == []
    st = tf.gfile.Stat(d)
    assert st.is_directory and st.mtime_nsec > 0
    tf.gfile.DeleteRecursively(str(tmp_path / "a"))
    assert not tf.gfile.Exists(str(tmp_path / "a"))
    with pytest.raises(tf.errors.NotFoundError):
        tf.gfile.DeleteRecursively(str(tmp_path / "a"))


def test_copy_rename_remove(tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    with tf.gfile.GFile(a, "wb") as f:
        f.write(b"\x00\x01")
    tf.gfile.Copy(a, b)
    with pytest.raises(tf.errors.AlreadyExistsError, match="overwrite=True"):
        tf.gfile.Copy(a, b)
    tf.gfile.Copy(a, b, overwrite=True)
    with pytest.raises(tf.errors.AlreadyExistsError):
        tf.gfile.Rename(a, b)
    tf.gfile.Rename(a, b, overwrite=True)
    assert not tf.gfile.Exists(a) and tf.gfile.Stat(b).length == 2
    with pytest.raises(tf.errors.NotFoundError):
        tf.gfile.Rename(a, str(tmp_path / "c"))
    with pytest.raises(tf.errors.NotFoundError):
        tf.gfile.Copy(a, str(tmp_path / "c"))
    tf.gfile.Remove(b)
    with pytest.raises(tf.errors.NotFoundError):
        tf.gfile.Remove(b)
    with pytest.raises(tf.errors.NotFoundError):
        tf.gfile.Stat(b)


def test_io_gfile_lowercase_names(tmp_path):
    g = tf.io.gfile
    d = str(tmp_path / "x" / "y")
    g.makedirs(d)
    with g.GFile(os.path.join(d, "f"), "w") as f:
        f.write("hi")
    assert g.exists(d) and g.isdir(d) and g.listdir(d) == ["f"] and g.stat(os.path.join(d, "f")).length == 2
    g.copy(os.path.join(d, "f"), os.path.join(d, "g"))
    g.rename(os.path.join(d, "g"), os.path.join(d, "h"))
    g.remove(os.path.join(d, "f"))
    assert g.glob(os.path.join(d, "*")) == [os.path.join(d, "h")]
    errs = []
    assert list(g.walk(str(tmp_path / "none"), onerror=errs.append)) == [] and isinstance(errs[0],
                                                                                          tf.errors.NotFoundError)
    g.rmtree(str(tmp_path / "x"))
    assert not g.exists(d)
