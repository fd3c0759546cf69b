"""TF's error classes, keyed by gRPC status codes; each also subclasses the builtin that fits."""

from __future__ import annotations

from typing import Any

OK = 0
CANCELLED = 1
UNKNOWN = 2
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14
DATA_LOSS = 15
UNAUTHENTICATED = 16


class OpError(Exception):
    """A failure while running (or building) an op (TF 1.x `tf.errors.OpError`).

    Attributes:
        node_def: the failing op's NodeDef (from `op` when not given; None when unknown).
        op: the failing `Operation`, or None.
        message: the message without the trailing creation-site section.
        error_code: the gRPC status code.

    `str(e)` is the message followed, when `op` is known, by TF's "Caused by op 'name', defined at:"
    section (the user frames where the op was built).
    """

    error_code = UNKNOWN

    def __init__(self, node_def: Any, op: Any, message: str, error_code: int | None = None):
        self._node_def = node_def
        self.op = op
        self.message = message
        if error_code is not None:
            self.error_code = error_code
        site = getattr(op, "creation_site_text", None) if op is not None else None
        self._site = site if isinstance(site, str) and site else ""
        Exception.__init__(self, self._full_message())

    @property
    def node_def(self) -> Any:
        if self._node_def is None and self.op is not None:
            try:
                return self.op.node_def
            except Exception:  # noqa: BLE001 - an op whose attrs no proto holds has no NodeDef
                return None
        return self._node_def

    def _full_message(self) -> str:
        return f"{self.message}\n\n{self._site}" if self._site else self.message

    def __str__(self) -> str:
        return self._full_message()

    def __reduce__(self):
        # Graph objects do not pickle: keep the class, message, code and the creation-site text.
        return _rebuild, (type(self), self.message, self.error_code, self._site)


def _rebuild(cls: type, message: str, error_code: int, site: str) -> OpError:
    e = OpError(None, None, message, error_code) if cls is OpError else cls(None, None, message)
    e.error_code = error_code
    e._site = site
    Exception.__init__(e, e._full_message())
    return e


def _cls(name: str, code: int, builtin: type | None, doc: str) -> type:
    bases = (OpError, builtin) if builtin is not None else (OpError,)

    def __init__(self, node_def=None, op=None, message="", *args):  # noqa: N807
        OpError.__init__(self, node_def, op, message, code)

    return type(name, bases, {"__init__": __init__, "error_code": code, "__doc__": doc})


CancelledError = _cls("CancelledError", CANCELLED, None, "An operation or step was cancelled.")
UnknownError = _cls("UnknownError", UNKNOWN, None, "An unknown error.")
InvalidArgumentError = _cls("InvalidArgumentError", INVALID_ARGUMENT, ValueError,
                            "An op received an invalid argument (bad feed, shape, value).")
DeadlineExceededError = _cls("DeadlineExceededError", DEADLINE_EXCEEDED, TimeoutError,
                             "A deadline expired before the operation completed.")
NotFoundError = _cls("NotFoundError", NOT_FOUND, LookupError, "A requested entity was not found.")
AlreadyExistsError = _cls("AlreadyExistsError", ALREADY_EXISTS, None, "An entity already exists.")
PermissionDeniedError = _cls("PermissionDeniedError", PERMISSION_DENIED, PermissionError,
                             "The caller may not run the operation.")
UnauthenticatedError = _cls("UnauthenticatedError", UNAUTHENTICATED, PermissionError,
                            "The request lacks valid credentials (e.g. a wrong cluster token).")
ResourceExhaustedError = _cls("ResourceExhaustedError", RESOURCE_EXHAUSTED, MemoryError,
                              "Some resource (memory, queue capacity) is exhausted.")
FailedPreconditionError = _cls("FailedPreconditionError", FAILED_PRECONDITION, None,
                               "The system is not in a state to run the op (e.g. uninitialized variable).")
AbortedError = _cls("AbortedError", ABORTED, None, "The operation was aborted (e.g. a task restarted).")
OutOfRangeError = _cls("OutOfRangeError", OUT_OF_RANGE, IndexError,
                       "Iterated past the valid range (e.g. a closed, empty queue).")
UnimplementedError = _cls("UnimplementedError", UNIMPLEMENTED, NotImplementedError,
                          "The operation is not implemented or supported.")
InternalError = _cls("InternalError", INTERNAL, RuntimeError, "An internal invariant broke (a labflow bug).")
UnavailableError = _cls("UnavailableError", UNAVAILABLE, ConnectionError,
                        "The service (a worker or parameter server) is unavailable.")
DataLossError = _cls("DataLossError", DATA_LOSS, OSError, "Unrecoverable data loss or corruption.")

_BY_CODE = {c.error_code: c for c in (
    CancelledError, UnknownError, InvalidArgumentError, DeadlineExceededError, NotFoundError,
    AlreadyExistsError, PermissionDeniedError, ResourceExhaustedError, FailedPreconditionError,
    AbortedError, OutOfRangeError, UnimplementedError, InternalError, UnavailableError, DataLossError,
    UnauthenticatedError)}


def exception_type_from_error_code(error_code: int) -> type:
    """Returns the `OpError` subclass for a gRPC status code."""
    return _BY_CODE.get(error_code, UnknownError)


def error_code_to_name(error_code: int) -> str:
    """The gRPC status name of a code, e.g. 3 -> "INVALID_ARGUMENT"."""
    return _CODE_NAMES.get(error_code, f"CODE_{error_code}")


def error_code_from_exception_type(cls: type) -> int:
    """The gRPC status code of an `OpError` subclass (UNKNOWN for other exception types)."""
    return getattr(cls, "error_code", UNKNOWN)


_CODE_NAMES = {v: k for k, v in dict(globals()).items() if k.isupper() and isinstance(v, int)}


__all__ = [n for n in dir() if not n.startswith("_") and (n.endswith("Error") or n.isupper())] + [
    "exception_type_from_error_code", "error_code_from_exception_type", "error_code_to_name"]
