"""The asyncio client over TLS (the TLS cluster: ``tls_cluster`` fixture):
the same OpenSSL code, non-blocking, driven from the loop."""

import asyncio

import pytest

from rcit import key_for_slot
from rediscluster.asyncio import RedisCluster


def test_tls_commands_batches_pipelines_and_cancellations(arun, tls_cluster):
    keys = [key_for_slot(i * 127 % 16384, "tls") for i in range(60)]

    async def body():
        rc = RedisCluster(host=tls_cluster.host, port=tls_cluster.port, ssl=True,
                          ssl_ca_certs=tls_cluster.ca, socket_timeout=5.0)
        try:
            assert await rc.mset({k: "v" + k for k in keys}) is True
            got = await asyncio.gather(*[rc.get(k) for k in keys])
            assert got == [("v" + k).encode() for k in keys]
            async with rc.pipeline() as p:
                for k in keys:
                    p.strlen(k)
                assert await p.execute() == [len("v" + k) for k in keys]
            wrong = 0
            for i in range(200):
                k = keys[i % 60]
                try:
                    v = await asyncio.wait_for(rc.get(k), (0, 0.0001, 0.001, 1)[i % 4])
                    wrong += v != ("v" + k).encode()
                except asyncio.TimeoutError:
                    pass
            assert wrong == 0
            assert await rc.blpop([keys[0] + "l"], timeout=0.2) is None
        finally:
            await rc.delete(*keys)
            await rc.aclose()

    arun(body)
