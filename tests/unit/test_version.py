"""The version lives in one place and reaches the C module; the package has no
runtime Python dependencies and exposes the original's public names."""

import re
from pathlib import Path

import rediscluster
from rediscluster import _core

ROOT = Path(__file__).resolve().parents[2]


def test_version_matches_core():
    assert rediscluster.__version__ == _core.__version__
    assert rediscluster.VERSION == tuple(int(p) for p in rediscluster.__version__.split("."))


def test_no_runtime_dependencies():
    text = (ROOT / "pyproject.toml").read_text()
    assert re.search(r"^dependencies\s*=\s*\[\s*\]", text, re.M)


def test_public_names_of_the_original():
    for name in ["AskError", "ClusterBlockingConnectionPool", "ClusterConnection",
                 "ClusterConnectionPool", "ClusterCrossSlotError", "ClusterDownError",
                 "ClusterDownException", "ClusterError", "MasterDownError", "MovedError",
                 "RedisCluster", "RedisClusterError", "RedisClusterException",
                 "TryAgainError", "StrictRedisCluster"]:
        assert hasattr(rediscluster, name), name
    from rediscluster.connection import (ClusterReadOnlyConnectionPool,  # noqa: F401
                                         ClusterWithReadReplicasConnectionPool,
                                         SSLClusterConnection)
    from rediscluster.exceptions import SlotNotCoveredError  # noqa: F401
    from rediscluster.nodemanager import NodeManager  # noqa: F401


def test_core_types_are_subclassable_and_have_signatures():
    assert issubclass(rediscluster.RedisCluster, _core.Client)
    assert issubclass(rediscluster.ClusterConnectionPool, _core.Pool)
    assert _core.Client.execute_command.__text_signature__ == "($self, *args, **options)"


def test_hiredis_version_reported():
    major, minor, patch = _core.hiredis_version
    assert major in (0, 1) and (major, minor) >= (0, 14)
