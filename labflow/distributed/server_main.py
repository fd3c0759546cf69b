"""`labflow server`: run one task of a cluster in the foreground until stopped (SIGTERM/SIGINT)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from typing import Any

READY_LINE = "labflow server ready"


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "server", help="run one task (ps or worker) of a labflow cluster",
        description="Starts tf.train.Server for one task of a cluster and serves until SIGTERM/SIGINT. The "
                    "cluster comes from --cluster (a JSON file or JSON text: {job: [host:port, ...]}) or from "
                    "TF_CONFIG. Every call must carry the cluster token (--token-file, LABFLOW_CLUSTER_TOKEN "
                    "or LABFLOW_TOKEN_FILE). A non-loopback address needs TLS (--tls-cert/--tls-key) or "
                    "--insecure.")
    s.add_argument("--cluster", help="cluster spec: a JSON file path or JSON text (default: TF_CONFIG)")
    s.add_argument("--job", help="this task's job name (default: TF_CONFIG's task type)")
    s.add_argument("--task", type=int, help="this task's index (default: TF_CONFIG's task index)")
    s.add_argument("--token-file", help="file holding the cluster token")
    s.add_argument("--tls-cert", help="PEM certificate chain of this server")
    s.add_argument("--tls-key", help="PEM private key of this server")
    s.add_argument("--tls-ca", help="PEM CA bundle: require and verify client certificates")
    s.add_argument("--insecure", action="store_true", help="allow a non-loopback address without TLS")
    s.add_argument("--allowed-ops", help="file or comma-separated list of the op types received graphs may use "
                   "(default: every registered op)")
    s.add_argument("--cpus", type=int, default=1, help="CPU devices of this task (default 1)")
    s.add_argument("--gpus", type=int, default=None, help="the most GPUs this task uses (default: all)")
    s.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    s.add_argument("--exit-with-parent", type=int, metavar="PID", default=None,
                   help="stop when process PID (the launcher, e.g. a notebook kernel) is gone")
    s.add_argument("--cleanup-dir", metavar="DIR", default=None,
                   help="with --exit-with-parent: delete DIR (the launcher's temporary folder) when the parent "
                   "is gone, since it cannot")


def _read(path: str | None) -> bytes | None:
    if path is None:
        return None
    with open(path, "rb") as f:
        return f.read()


def _cluster(args: Any) -> tuple[Any, str, int]:
    from labflow.distributed.cluster import ClusterSpec, cluster_from_tf_config
    if args.cluster:
        text = args.cluster
        if os.path.exists(text):
            with open(text, encoding="utf-8") as f:
                text = f.read()
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"--cluster is neither a file nor JSON: {e}") from None
        spec = spec.get("cluster", spec) if isinstance(spec, dict) else spec
        cluster, job, task = ClusterSpec(spec), args.job, args.task
    else:
        cluster, job, task = cluster_from_tf_config()
        job, task = args.job or job, args.task if args.task is not None else task
        if not cluster:
            raise ValueError("No cluster: pass --cluster or set TF_CONFIG")
    if job is None or task is None:
        raise ValueError("Pass --job and --task (or a TF_CONFIG with a task)")
    return cluster, job, task


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch_parent(pid: int, server: Any, cleanup_dir: str | None) -> None:
    import shutil
    import time
    while _alive(pid) and os.getppid() == pid:
        time.sleep(0.5)
    logging.getLogger("labflow.distributed").warning("The launching process %d is gone: stopping", pid)
    if cleanup_dir:  # before stopping: main() returns, and the process exits, once the server stopped
        shutil.rmtree(cleanup_dir, ignore_errors=True)  # every task tries; the first one removes it
    server.stop(grace=0.5)


def main(args: Any) -> int:
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from labflow.distributed import auth
    from labflow.distributed.server import Server
    from labflow.runtime.config import ConfigProto
    try:
        cluster, job, task = _cluster(args)
        token = auth.read_token_file(args.token_file) if args.token_file else None
        allowed = None
        if args.allowed_ops:
            text = args.allowed_ops
            if os.path.exists(text):
                with open(text, encoding="utf-8") as f:
                    text = f.read()
            allowed = [t.strip() for t in text.replace("\n", ",").split(",") if t.strip()]
        counts = {"CPU": args.cpus}
        if args.gpus is not None:
            counts["GPU"] = args.gpus
        server = Server(cluster, job, task, config=ConfigProto(device_count=counts), token=token,
                        tls_cert=_read(args.tls_cert), tls_key=_read(args.tls_key), tls_ca=_read(args.tls_ca),
                        insecure=args.insecure, allowed_ops=allowed)
    except (ValueError, OSError) as e:
        print(f"labflow server: {e}", file=sys.stderr)
        return 2

    def stop(signum: int, frame: Any) -> None:
        server.stop(grace=0.5)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.exit_with_parent:
        # A kernel killed with SIGKILL runs no cleanup: its cluster's tasks notice and stop by themselves.
        threading.Thread(target=_watch_parent, args=(args.exit_with_parent, server, args.cleanup_dir),
                         daemon=True, name="labflow-parent-watch").start()
    print(f"{READY_LINE} /job:{job}/task:{task} {server.target} pid={os.getpid()}", flush=True)
    server.join()
    return 0
