"""The distributed runtime: cluster specs and `TF_CONFIG`, servers, master and worker services, the launcher.

Nothing here imports gRPC; the transport lives in `distributed/grpc_transport.py`. `import labflow` does not import
this package.
"""

import importlib.util as _importlib_util

from labflow.distributed.cluster import ClusterSpec, cluster_from_tf_config, is_chief_task

__all__ = ["ClusterSpec", "cluster_from_tf_config", "is_chief_task", "require_grpc"]


def require_grpc(what: str) -> None:
    """Raises ImportError saying how to install gRPC when it is missing (checked without importing it)."""
    if _importlib_util.find_spec("grpc") is None:
        raise ImportError(f"{what} needs gRPC, which is not installed: pip install 'labflow[distributed]' "
                          "(or pip install grpcio).")
