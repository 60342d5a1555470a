"""rediscluster.utils: redis-py-cluster 2.1.3's helpers, same behaviour and errors
(the differential suite, tests/compat, compares them with the original too)."""

import pytest

from rediscluster import utils
from rediscluster.exceptions import RedisClusterException


def test_public_names_of_2_1_3():
    for name in ("bool_ok", "string_keys_to_dict", "dict_merge", "blocked_command",
                 "merge_result", "first_key", "nslookup", "parse_cluster_slots",
                 "parse_cluster_nodes", "parse_pubsub_channels", "parse_pubsub_numpat",
                 "parse_pubsub_numsub", "nativestr"):
        assert callable(getattr(utils, name)), name


def test_bool_ok_accepts_options():
    assert utils.bool_ok(b"OK") is True
    assert utils.bool_ok("OK", foo=1) is True
    assert utils.bool_ok(b"QUEUED", 1, 2) is False


def test_string_keys_to_dict_iterates():
    assert utils.string_keys_to_dict(["A B", "C"], int) == {"A B": int, "C": int}
    # as 2.1.3: a str is iterated per character
    assert utils.string_keys_to_dict("AB", int) == {"A": int, "B": int}


def test_dict_merge():
    assert utils.dict_merge({"a": 1}, {"a": 2, "b": 3}) == {"a": 2, "b": 3}
    with pytest.raises(ValueError, match="Value should be of dict type"):
        utils.dict_merge({"a": 1}, [("b", 2)])


def test_blocked_command():
    with pytest.raises(RedisClusterException, match="Command: BITOP is blocked in redis cluster mode"):
        utils.blocked_command(None, "BITOP")


def test_merge_result_and_first_key():
    assert sorted(utils.merge_result("KEYS", {"a:1": [b"x", b"y"], "b:2": [b"y", b"z"]})) == \
        [b"x", b"y", b"z"]
    with pytest.raises(ValueError):
        utils.merge_result("KEYS", [1])
    assert utils.first_key("RANDOMKEY", {"a:1": b"k"}) == b"k"
    with pytest.raises(RedisClusterException, match="More then 1 result from command: X"):
        utils.first_key("X", {"a:1": 1, "b:2": 2})
    with pytest.raises(ValueError):
        utils.first_key("X", [1])


def test_nslookup_keeps_port():
    assert utils.nslookup("127.0.0.1:7000").endswith(":7000")


def test_parse_cluster_slots():
    resp = [[0, 5460, [b"", 7000, b"id1"], [b"127.0.0.1", 7003, b"id4"]]]
    assert utils.parse_cluster_slots(resp, current_host="10.0.0.1") == {
        (0, 5460): {"master": ("10.0.0.1", 7000), "slaves": [("127.0.0.1", 7003)]}}


def test_parse_cluster_nodes():
    text = (b"abc 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-2 5 [6->-def]\n"
            b"def :7001 slave abc 0 1 2 connected\n")
    a, b = utils.parse_cluster_nodes(text, current_host="h")
    assert a["id"] == "abc" and a["port"] == 7000 and a["cluster-bus-port"] == 17000
    assert a["slots"] == (0, 1, 2, 5)
    assert a["migrations"] == [{"slot": 6, "node_id": "def", "state": "migrating"}]
    assert a["flags"] == ("myself", "master") and a["master"] is None
    assert b["host"] == "h" and b["cluster-bus-port"] == 17001 and b["master"] == "abc"


def test_parse_pubsub_helpers():
    res = {"a:1": [b"c1"], "b:2": [b"c1", b"c2"]}
    assert sorted(utils.parse_pubsub_channels("PUBSUB CHANNELS", res)) == [b"c1", b"c2"]
    assert utils.parse_pubsub_channels("PUBSUB CHANNELS", res, aggregate=False) is res
    assert utils.parse_pubsub_numpat("PUBSUB NUMPAT", {"a": 1, "b": 2}) == 3
    assert sorted(utils.parse_pubsub_numsub(
        "PUBSUB NUMSUB", {"a": [(b"c", 1)], "b": [(b"c", 2), (b"d", 0)]})) == [(b"c", 3), (b"d", 0)]


def test_package_uses_these_helpers():
    # one copy each: the command modules and callbacks use utils' functions
    from rediscluster import callbacks
    from rediscluster.commands import _util, cluster

    assert _util.nativestr is utils.nativestr and _util.bool_ok is utils.bool_ok
    assert cluster.parse_cluster_nodes is utils.parse_cluster_nodes
    assert callbacks.RESULT_CALLBACKS["PUBSUB NUMSUB"] is utils.parse_pubsub_numsub
    assert callbacks.RESULT_CALLBACKS["KEYS"] is utils.merge_result
