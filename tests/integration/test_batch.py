"""rc._execute_batch: the batch engine (groups per node, sends everything,
reads with poll, follows MOVED/ASK/TRYAGAIN in further rounds). Results come
back in the caller's order, errors as exception instances in place, with the
response callbacks applied."""

import pytest

from rediscluster.exceptions import RedisClusterException, ResponseError

from rcit import keys_for_slot, key_for_slot

SLOT = 7777


def test_order_across_nodes_1000_mixed(rc, cluster, flush):
    n = 1000
    k = lambda i, what: key_for_slot((i * 37) % 16384, "%s%d" % (what, i))  # noqa: E731
    # known state first
    setup = []
    for i in range(n):
        setup.append((("SET", k(i, "pre"), "pre%d" % i), None))
        setup.append((("SET", k(i, "ctr"), i), None))
    assert rc._execute_batch(setup) == [True] * len(setup)

    cmds, expect = [], []
    for i in range(n):
        kind = i % 9
        if kind == 0:
            cmds.append(("SET", k(i, "new"), "new%d" % i))
            expect.append(True)
        elif kind == 1:
            cmds.append(("GET", k(i, "pre")))
            expect.append(b"pre%d" % i)
        elif kind == 2:
            cmds.append(("INCRBY", k(i, "ctr"), 5))
            expect.append(i + 5)
        elif kind == 3:
            cmds.append(("LPUSH", k(i, "pre"), "x"))
            expect.append(ResponseError)
        elif kind == 4:
            cmds.append(("EXISTS", k(i, "nope")))
            expect.append(0)
        elif kind == 5:
            cmds.append(("GET", k(i, "nope")))
            expect.append(None)
        elif kind == 6:
            cmds.append(("RPUSH", k(i, "list"), "a", "b", "c"))
            expect.append(3)
        elif kind == 7:
            cmds.append(("INCRBYFLOAT", k(i, "ctr"), "0.5"))
            expect.append(i + 0.5)
        else:
            # the key SET by the kind-0 command earlier in this same batch:
            # same node, so it must run after it
            cmds.append(("GET", k(i - 8, "new")))
            expect.append(b"new%d" % (i - 8))
    res = rc._execute_batch([(c, None) for c in cmds])
    assert len(res) == n
    for i, (c, e, r) in enumerate(zip(cmds, expect, res)):
        if e is ResponseError:
            assert isinstance(r, ResponseError) and "WRONGTYPE" in str(r), (i, c, r)
        else:
            assert r == e and type(r) is type(e), (i, c, r, e)
    # they really ran where they belong
    assert rc.execute_command("LRANGE", k(6, "list"), 0, -1) == [b"a", b"b", b"c"]
    assert rc.get(k(2, "ctr")) == b"7"


def test_errors_in_place(rc, flush):
    a, b = key_for_slot(1, "a"), key_for_slot(9000, "b")
    res = rc._execute_batch([
        (("SET", a, "1"), None),
        (("LPUSH", a, "x"), None),
        (("GET", a), None),
        (("INCRBY", b, 1), None),
        (("HSET", a, "f", "v"), None),
        (("INCRBY", b, 1), None),
        (("NOSUCHCOMMANDX", a), None),
        (("GET", b), None),
    ])
    assert res[0] is True
    assert isinstance(res[1], ResponseError) and str(res[1]).startswith("WRONGTYPE")
    assert res[2] == b"1"
    assert res[3] == 1
    assert isinstance(res[4], ResponseError) and "WRONGTYPE" in str(res[4])
    assert res[5] == 2
    assert isinstance(res[6], ResponseError) and "unknown command" in str(res[6]).lower()
    assert res[7] == b"2"
    # nothing poisoned: the connections are fine afterwards
    assert rc.get(a) == b"1" and rc.get(b) == b"2"
    assert rc._execute_batch([(("GET", a), None), (("GET", b), None)]) == [b"1", b"2"]


def test_keyless_command_in_batch_fails_in_place(rc, flush):
    a = key_for_slot(3, "a")
    res = rc._execute_batch([(("SET", a, "1"), None), (("GET",), None), (("GET", a), None)])
    assert res[0] is True
    assert isinstance(res[1], RedisClusterException) and "Missing key" in str(res[1])
    assert res[2] == b"1"


def test_response_callbacks_and_options(new_client, flush):
    c = new_client()
    a, b = key_for_slot(11, "a"), key_for_slot(12000, "b")
    c.set_response_callback("STRLEN", lambda r, **opts: (r, opts))
    res = c._execute_batch([
        (("SET", a, "hello"), None),
        (("SETNX", a, "x"), None),
        (("EXPIRE", a, 100), None),
        (("INCRBYFLOAT", b, "1.5"), None),
        (("DEL", b), None),
        (("STRLEN", a), {"tag": 7}),
        (("STRLEN", a), None),
        (("GET", a), {}),
    ])
    assert res[0] is True
    assert res[1] is False
    assert res[2] is True
    assert res[3] == 1.5 and isinstance(res[3], float)
    assert res[4] == 1 and isinstance(res[4], int)
    assert res[5] == (5, {"tag": 7})
    assert res[6] == (5, {})
    assert res[7] == b"hello"
    # a raising callback: its error takes the reply's place
    c.set_response_callback("GET", lambda r, **kw: 1 / 0)
    res = c._execute_batch([(("GET", a), None), (("STRLEN", a), None)])
    assert isinstance(res[0], ZeroDivisionError)
    assert res[1] == (5, {})


def test_empty_batch(rc):
    assert rc._execute_batch([]) == []


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_100k_sets_then_gets(rc, flush):
    n = 100000
    keys = [key_for_slot(i % 16384, "big%d" % i) for i in range(n)]
    res = rc._execute_batch([(("SET", k, "v%d" % i), None) for i, k in enumerate(keys)])
    assert res.count(True) == n
    res = rc._execute_batch([(("GET", k), None) for k in keys])
    bad = [i for i, r in enumerate(res) if r != b"v%d" % i]
    assert not bad, [(i, res[i]) for i in bad[:5]]
    res = rc._execute_batch([(("DEL", k), None) for k in keys])
    assert res == [1] * n


def test_batch_during_migration_ask(rc, new_client, cluster, migration):
    c = new_client()
    m = migration(SLOT)
    keys = keys_for_slot(SLOT, 30)
    others = [key_for_slot(s, "o") for s in (0, 6000, 12000, SLOT + 3)]
    assert c._execute_batch([(("SET", k, k), None) for k in keys + others]) == [True] * 34
    m.begin()
    m.move(keys[:15])
    new = keys_for_slot(SLOT, 5, stem="new")

    cmds = [(("GET", k), None) for k in keys + others]
    cmds += [(("SET", k, "n:" + k), None) for k in new]
    cmds += [(("SET", keys[0], "upd"), None), (("SET", keys[20], "upd"), None)]
    res = c._execute_batch(cmds)
    assert res[:34] == [k.encode() for k in keys + others]
    assert res[34:] == [True] * 7
    # ASK did not change the map; the new keys went to the importing node
    assert c.connection_pool.nodes.slots[SLOT][0]["port"] == m.src
    for k in new:
        assert cluster.pipe(m.dst, [("ASKING",), ("GET", k)])[1] == ("n:" + k).encode()
    assert cluster.raw(m.src, "GET", keys[20]) == b"upd"

    expect = {k: k.encode() for k in keys + others}
    expect.update({k: ("n:" + k).encode() for k in new})
    expect[keys[0]] = expect[keys[20]] = b"upd"
    order = sorted(expect)
    assert c._execute_batch([(("GET", k), None) for k in order]) == [expect[k] for k in order]

    # finished: MOVED inside a batch patches the map and still answers
    m.move_rest()
    m.finish()
    assert c._execute_batch([(("GET", k), None) for k in order]) == [expect[k] for k in order]
    assert c.connection_pool.nodes.slots[SLOT][0]["port"] == m.dst
    # the shared client (never told) copes too
    assert rc._execute_batch([(("GET", k), None) for k in order]) == [expect[k] for k in order]
