"""Distributed runtime foundations: cluster specs, `TF_CONFIG`, and pickle-free tensor coding.

Nothing here imports gRPC; the transport lives in `distributed/grpc_*.py`. `import labflow` does not import
this package.
"""

from labflow.distributed.cluster import ClusterSpec, cluster_from_tf_config, is_chief_task

__all__ = ["ClusterSpec", "cluster_from_tf_config", "is_chief_task"]
