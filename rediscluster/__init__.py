"""rediscluster: a Redis Cluster client with a C engine.

A drop-in replacement for redis-py-cluster: ``from rediscluster import
RedisCluster`` keeps working, with routing, connections, redirections and reply
parsing done in C (``rediscluster._core``).
"""

import logging

from . import crc, utils
from ._drivers import get_wait_callback, set_wait_callback
from ._version import VERSION, __version__
from .client import RedisCluster, StrictRedisCluster
from .connection import (
    ClusterBlockingConnectionPool,
    ClusterConnection,
    ClusterConnectionPool,
    ClusterReadOnlyConnectionPool,
    ClusterWithReadReplicasConnectionPool,
    SSLClusterConnection,
)
from .exceptions import (
    AskError,
    ClusterCrossSlotError,
    ClusterDownError,
    ClusterDownException,
    ClusterError,
    MasterDownError,
    MovedError,
    RedisClusterError,
    RedisClusterException,
    TryAgainError,
)
from .nodemanager import NodeManager
from .pipeline import ClusterPipeline, PipelineCommand, StrictClusterPipeline
from .pubsub import ClusterPubSub


def int_or_str(value):
    try:
        return int(value)
    except ValueError:
        return value


__all__ = [
    "AskError",
    "ClusterBlockingConnectionPool",
    "ClusterConnection",
    "ClusterConnectionPool",
    "ClusterCrossSlotError",
    "ClusterDownError",
    "ClusterDownException",
    "ClusterError",
    "ClusterPipeline",
    "ClusterPubSub",
    "PipelineCommand",
    "ClusterReadOnlyConnectionPool",
    "ClusterWithReadReplicasConnectionPool",
    "MasterDownError",
    "MovedError",
    "NodeManager",
    "RedisCluster",
    "RedisClusterError",
    "RedisClusterException",
    "SSLClusterConnection",
    "StrictClusterPipeline",
    "StrictRedisCluster",
    "TryAgainError",
    "VERSION",
    "__version__",
    "get_wait_callback",
    "set_wait_callback",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())
