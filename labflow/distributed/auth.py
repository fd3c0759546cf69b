"""Cluster tokens: every call between labflow processes carries one, and every server checks it.

Where a token comes from, in order: an explicit argument; `LABFLOW_CLUSTER_TOKEN`; the file named by
`LABFLOW_TOKEN_FILE`; for a client, what a server or LocalCluster in this process registered for the
address it connects to; finally one random token per process, so servers and sessions created in one
process (TF1 tests and notebooks do this) work together with no setup at all.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading

TOKEN_ENV = "LABFLOW_CLUSTER_TOKEN"
TLS_CA_ENV, TLS_CERT_ENV, TLS_KEY_ENV = "LABFLOW_TLS_CA", "LABFLOW_TLS_CERT", "LABFLOW_TLS_KEY"
TOKEN_FILE_ENV = "LABFLOW_TOKEN_FILE"
METADATA_KEY = "labflow-token"

_lock = threading.Lock()
_process_token: str | None = None
_by_address: dict[str, str] = {}
_tls_by_address: dict[str, tuple] = {}
_task_by_address: dict[str, str] = {}


def read_token_file(path: str) -> str:
    """The token in `path` (surrounding whitespace ignored).

    Raises:
        ValueError: the file is missing, unreadable or empty (the message names it).
    """
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as e:
        raise ValueError(f"Cannot read the cluster token file {path}: {e}") from None
    if not token:
        raise ValueError(f"The cluster token file {path} is empty")
    return token


def process_token() -> str:
    global _process_token
    with _lock:
        if _process_token is None:
            _process_token = secrets.token_urlsafe(32)
        return _process_token


def default_token() -> str:
    """The token this process uses when none is given (environment first, then the process token)."""
    env = os.environ.get(TOKEN_ENV)
    if env:
        return env.strip()
    path = os.environ.get(TOKEN_FILE_ENV)
    if path:
        return read_token_file(path)
    return process_token()


def register(address: str, token: str, tls: tuple | None = None, task: str | None = None) -> None:
    """Makes clients in this process use `token` (and `tls` = (ca, key, cert)) for `address`
    (what LocalCluster and Server do); `task` names it in errors ("/job:worker/replica:0/task:1")."""
    with _lock:
        _by_address[_norm(address)] = token
        if tls is not None:
            _tls_by_address[_norm(address)] = tls
        if task is not None:
            _task_by_address[_norm(address)] = task


def task_for(address: str) -> str | None:
    """The task name registered for `address` in this process, if any."""
    return _task_by_address.get(_norm(address))


def unregister(address: str) -> None:
    with _lock:
        _by_address.pop(_norm(address), None)
        _tls_by_address.pop(_norm(address), None)
        _task_by_address.pop(_norm(address), None)


def tls_for(address: str) -> tuple | None:
    """(ca, key, cert) PEM bytes for a TLS channel to `address`, or None for plaintext (loopback).

    From what a server in this process registered, else LABFLOW_TLS_CA (and, for clusters that check
    client certificates, LABFLOW_TLS_CERT/LABFLOW_TLS_KEY): paths of PEM files.
    """
    tls = _tls_by_address.get(_norm(address))
    if tls is not None:
        return tls
    ca = os.environ.get(TLS_CA_ENV)
    if not ca:
        return None

    def read(path: str | None) -> bytes | None:
        if not path:
            return None
        try:
            with open(path, "rb") as f:
                return f.read()
        except OSError as e:
            raise ValueError(f"Cannot read TLS file {path}: {e}") from None
    return read(ca), read(os.environ.get(TLS_KEY_ENV)), read(os.environ.get(TLS_CERT_ENV))


def token_for(address: str) -> str:
    tok = _by_address.get(_norm(address))
    return tok if tok is not None else default_token()


def check(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


def _norm(address: str) -> str:
    a = address.removeprefix("grpc://")
    host, _, port = a.rpartition(":")
    if host in ("localhost", "127.0.0.1", "[::1]", "::1", ""):
        host = "127.0.0.1"
    return f"{host}:{port}"
