"""Code that uses rediscluster the way an application does, for mypy only.

`make typecheck` checks this file strictly (mypy.ini) against the source tree,
and `make check-sdist` checks it against the installed copy (mypy
--python-executable), which needs py.typed and _core.pyi in the wheel. It is
never run: everything is inside functions, and pytest does not collect it
(no test_ prefix). Keep it to the public API of redis-py-cluster 2.1.3 plus
what this package documents.
"""

from typing import Any, Dict, List, Optional, Tuple

import rediscluster
from rediscluster import (
    ClusterConnectionPool,
    ClusterDownError,
    ClusterPipeline,
    MovedError,
    RedisCluster,
    RedisClusterException,
    StrictRedisCluster,
)
from rediscluster import _core
from rediscluster.exceptions import ConnectionError, RedisError, ResponseError


def version() -> Tuple[str, Tuple[int, ...], str]:
    return rediscluster.__version__, rediscluster.VERSION, _core.__version__


def client_calls() -> Optional[Any]:
    rc = RedisCluster(host="127.0.0.1", port=7000, decode_responses=True)
    also = RedisCluster(startup_nodes=[{"host": "127.0.0.1", "port": "7000"}])
    strict = StrictRedisCluster.from_url("redis://127.0.0.1:7000/0")
    rc.set("foo", "bar", ex=10, nx=True)
    value: Optional[Any] = rc.get("foo")
    rc.execute_command("GET", "foo")
    rc.execute_command("SET", b"k", 1.5, get=True)
    rc.cluster_down_retry_attempts = 5
    rc.read_from_replicas = True
    flags: Dict[str, Any] = rc.nodes_flags
    rc.set_response_callback("GET", lambda reply, **options: reply)
    masters = rc.connection_pool.nodes.all_masters()
    slot = rc.keyslot("foo")
    also.close()
    strict.close()
    del flags, masters, slot
    return value


def pipelines(rc: RedisCluster) -> List[Any]:
    pipe = rc.pipeline()
    pipe.set("a", 1)
    pipe.get("a")
    results: List[Any] = pipe.execute()
    with rc.pipeline(transaction=True) as tx:
        tx.incr("{a}n")
        tx.execute()
    assert isinstance(pipe, ClusterPipeline)
    return results


def errors(rc: RedisCluster) -> str:
    try:
        rc.get("k")
    except MovedError as e:
        return "moved %s" % (e,)
    except ClusterDownError:
        return "down"
    except (ConnectionError, ResponseError) as e:
        return str(e)
    except RedisClusterException:
        return "cluster"
    except RedisError:
        return "redis"
    return ""


def pools() -> int:
    pool = ClusterConnectionPool(startup_nodes=[{"host": "127.0.0.1", "port": 7000}])
    rc = RedisCluster(connection_pool=pool)
    rc.close()
    return pool.keyslot(b"foo")


def engine() -> Tuple[int, int, bytes, List[int]]:
    reader = _core.Reader(decode_responses=True)
    reader.feed(b"+OK\r\n")
    reply: Any = reader.gets()
    del reply
    return (
        _core.key_slot("foo"),
        _core.crc16(b"123456789"),
        _core.pack_command("SET", "k", 1),
        _core.command_keys("MSET", "a", "1", "b", "2"),
    )
