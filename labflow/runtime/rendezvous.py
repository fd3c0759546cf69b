"""Rendezvous: where a Send and its Recv meet, keyed by TF's key string; abortable so no step hangs."""

from __future__ import annotations

import threading
from typing import Any

from labflow import errors


def create_key(src_device: str, src_incarnation: int, dst_device: str, tensor_name: str,
               frame_iter: tuple[int, int] = (0, 0)) -> str:
    """TF's rendezvous key: `src;incarnation_hex;dst;tensor_name;frame:iter`."""
    return (f"{src_device};{src_incarnation:016x};{dst_device};{tensor_name};"
            f"{frame_iter[0]}:{frame_iter[1]}")


class LocalRendezvous:
    """In-memory rendezvous for one step: `send` never blocks, `recv` waits until sent or aborted."""

    def __init__(self):
        self._values: dict[str, Any] = {}
        self._cond = threading.Condition()
        self._error: BaseException | None = None
        self.bytes_sent = 0
        self.tensors_sent = 0

    def send(self, key: str, value: Any) -> None:
        with self._cond:
            if self._error is not None:
                raise self._error
            if key in self._values:
                raise errors.InternalError(None, None, f"Send of an already sent tensor: {key}")
            self._values[key] = value
            self.bytes_sent += int(getattr(value, "nbytes", 0))
            self.tensors_sent += 1
            self._cond.notify_all()

    def recv(self, key: str, timeout: float | None = None) -> Any:
        with self._cond:
            while key not in self._values:
                if self._error is not None:
                    raise self._error
                if not self._cond.wait(timeout):
                    raise errors.DeadlineExceededError(None, None, f"Timed out waiting for tensor {key}")
            return self._values.pop(key)

    @property
    def error(self) -> BaseException | None:
        """The error the rendezvous was aborted with, or None while the step is live."""
        return self._error

    def abort(self, error: BaseException) -> None:
        """Fails every pending and future recv with `error` (a CancelledError for sibling partitions)."""
        with self._cond:
            if self._error is None:
                self._error = error
            self._cond.notify_all()
