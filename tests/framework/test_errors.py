"""tf.errors: TF's classes and gRPC codes, builtin bases, messages with the creation site, pickling."""

from __future__ import annotations

import pickle

import pytest

import labflow as tf
from labflow import errors

CODES = {
    "OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9,
    "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12, "INTERNAL": 13, "UNAVAILABLE": 14,
    "DATA_LOSS": 15, "UNAUTHENTICATED": 16,
}
CLASSES = {
    "CancelledError": 1, "UnknownError": 2, "InvalidArgumentError": 3, "DeadlineExceededError": 4,
    "NotFoundError": 5, "AlreadyExistsError": 6, "PermissionDeniedError": 7, "ResourceExhaustedError": 8,
    "FailedPreconditionError": 9, "AbortedError": 10, "OutOfRangeError": 11, "UnimplementedError": 12,
    "InternalError": 13, "UnavailableError": 14, "DataLossError": 15, "UnauthenticatedError": 16,
}


@pytest.mark.parametrize("name, code", sorted(CODES.items()))
def test_code_constants(name, code):
    assert getattr(errors, name) == code


@pytest.mark.parametrize("name, code", sorted(CLASSES.items()))
def test_classes_and_codes(name, code):
    cls = getattr(errors, name)
    assert issubclass(cls, errors.OpError) and issubclass(cls, Exception)
    assert cls.error_code == code
    assert errors.exception_type_from_error_code(code) is cls
    assert errors.error_code_from_exception_type(cls) == code
    e = cls(None, None, "msg")
    assert e.error_code == code and e.message == "msg" and e.op is None and e.node_def is None
    assert str(e) == "msg"
    with pytest.raises(cls):
        raise e
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is cls and back.message == "msg" and back.error_code == code and str(back) == "msg"


@pytest.mark.parametrize("name, builtin", [
    ("InvalidArgumentError", ValueError), ("NotFoundError", LookupError), ("OutOfRangeError", IndexError),
    ("UnimplementedError", NotImplementedError), ("InternalError", RuntimeError),
    ("DeadlineExceededError", TimeoutError), ("UnavailableError", ConnectionError),
    ("ResourceExhaustedError", MemoryError), ("PermissionDeniedError", PermissionError),
])
def test_builtin_bases(name, builtin):
    cls = getattr(errors, name)
    assert issubclass(cls, builtin)
    with pytest.raises(builtin):
        raise cls(None, None, "x")


def test_op_error_base_and_unknown_code():
    e = errors.OpError(None, None, "m", errors.ABORTED)
    assert e.error_code == errors.ABORTED and str(e) == "m"
    assert errors.exception_type_from_error_code(12345) is errors.UnknownError
    assert errors.error_code_to_name(3) == "INVALID_ARGUMENT"
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is errors.OpError and back.error_code == errors.ABORTED


def test_message_names_creation_site_when_op_given():
    x = tf.constant(1.0, name="my_op")  # defined here
    e = errors.InvalidArgumentError(None, x.op, "it broke")
    s = str(e)
    assert s.startswith("it broke") and "Caused by op 'my_op'" in s
    assert "test_errors.py" in s and "defined here" in s
    assert e.message == "it broke" and e.op is x.op
    back = pickle.loads(pickle.dumps(e))  # graph objects are dropped, the text is kept
    assert back.op is None and str(back) == s


def test_node_def_from_op():
    x = tf.constant(1.0, name="nd")
    e = errors.NotFoundError(None, x.op, "m")
    nd = e.node_def
    assert nd is not None and nd.name == "nd" and nd.op == "Const"


def test_runtime_error_is_op_error_with_op():
    x = tf.placeholder(tf.float32, name="feed_me")
    with tf.Session() as sess:
        with pytest.raises(errors.InvalidArgumentError) as info:
            sess.run(x + 1.0)
    assert info.value.error_code == errors.INVALID_ARGUMENT
    assert isinstance(info.value, ValueError)
