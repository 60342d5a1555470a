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


def test_tls_pubsub_flood_and_watch(arun, tls_cluster):
    """Over TLS, the pubsub's and the watch's replies can sit decrypted in
    the connection's buffers while its socket is not readable: every
    message of a burst must still come, in order, with cancellations
    between them; a watched transaction works the same."""
    n = 500
    key = key_for_slot(321, "tlsw")

    async def body():
        rc = RedisCluster(host=tls_cluster.host, port=tls_cluster.port, ssl=True,
                          ssl_ca_certs=tls_cluster.ca, socket_timeout=5.0)
        try:
            p = rc.pubsub(ignore_subscribe_messages=True)
            await p.subscribe("tls-flood")
            assert await p.get_message(timeout=1) is None  # the confirmation
            async with rc.pipeline() as pub:
                for i in range(n):
                    pub.execute_command("PUBLISH", "tls-flood", str(i))
                await pub.execute()
            got, loop = [], asyncio.get_running_loop()
            while len(got) < n:
                task = loop.create_task(p.get_message(timeout=2))
                if len(got) % 3 == 0:
                    await asyncio.sleep(0)
                    task.cancel()
                try:
                    m = await task
                except asyncio.CancelledError:
                    continue
                assert m is not None, len(got)
                got.append(int(m["data"]))
            assert got == list(range(n))
            await p.aclose()

            await rc.set(key, "1")

            async def bump(pipe):
                value = int(await pipe.get(key))
                pipe.multi()
                pipe.set(key, value + 1)

            assert await rc.transaction(bump, key) == [True]
            assert await rc.get(key) == b"2"
        finally:
            await rc.delete(key)
            await rc.aclose()

    arun(body)
