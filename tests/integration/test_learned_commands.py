"""Routing that learns from the server (csrc/learned.c, issue 15): a command
the generated table (Redis 7.0) does not know, or whose arguments fail the
table's arity, is described by the server's COMMAND INFO -- asked once per
cluster -- and routed by its key specs; a MOVED is always followed."""

import pytest

from rcit import key_for_slot, parse_info

SLOT = 4242


def _per_subcommand_stats(cluster, port):
    """Whether the node counts subcommands apart ("cmdstat_command|info":
    Redis 7 and Valkey; Redis 6.2 counts them all as "cmdstat_command")."""
    server = parse_info(cluster.raw(port, "INFO", "server"))
    return int(str(server["redis_version"]).split(".")[0]) >= 7


def stat_calls(cluster, name):
    """{port: calls of command `name`} over all nodes (INFO commandstats).
    Only a server without per-subcommand counts is read as "command": on one
    with them, "command" holds other subcommands' calls (COMMAND COUNT, ...),
    and reading it until "command|info" appears made a delta negative."""
    out = {}
    for port in cluster.ports:
        info = parse_info(cluster.raw(port, "INFO", "commandstats"))
        stat = info.get("cmdstat_" + name)
        if stat is None and "|" in name and not _per_subcommand_stats(cluster, port):
            stat = info.get("cmdstat_" + name.split("|")[0])
        fields = dict(f.split("=", 1) for f in stat.split(",")) if stat else {}
        out[port] = int(fields.get("calls", 0)) + int(fields.get("rejected_calls", 0))
    return out


def delta(before, after):
    return {p: after[p] - before[p] for p in before if after[p] != before[p]}


@pytest.mark.needs("zrank-withscore")
def test_an_option_newer_than_the_table_routes_by_key(new_client, cluster, flush):
    # ZRANK key member WITHSCORE: the table's ZRANK has arity 3 (Redis 7.0);
    # the server's (7.2, Valkey) -3. Learned once, then straight to the owner.
    c = new_client()
    key = key_for_slot(SLOT, "z")
    owner = cluster.owner(SLOT)
    c.zadd(key, {"m": 1.5})
    info0, zrank0 = stat_calls(cluster, "command|info"), stat_calls(cluster, "zrank")
    for _ in range(5):
        assert c.execute_command("ZRANK", key, "m", "WITHSCORE") == [0, b"1.5"]
    assert sum(delta(info0, stat_calls(cluster, "command|info")).values()) == 1
    assert delta(zrank0, stat_calls(cluster, "zrank")) == {owner: 5}
    # in a pipeline too (the same client: nothing asked again)
    with c.pipeline(transaction=False) as p:
        p.execute_command("ZRANK", key, "m", "WITHSCORE")
        p.execute_command("ZRANK", key, "x", "WITHSCORE")
        assert p.execute() == [[0, b"1.5"], None]
    assert sum(delta(info0, stat_calls(cluster, "command|info")).values()) == 1


def test_unknown_command_is_asked_about_once(new_client, cluster):
    # a command no server knows: COMMAND INFO once (remembered as unknown),
    # then the original's rule (the first argument is the key) and the
    # server's own error, every time
    c = new_client()
    for port in cluster.ports:
        # counters where only a bare COMMAND ran: "command|info" is new on
        # the node asked (the case that once made the count look like 0)
        cluster.raw(port, "CONFIG", "RESETSTAT")
        cluster.raw(port, "COMMAND")
    info0 = stat_calls(cluster, "command|info")
    for _ in range(3):
        with pytest.raises(Exception, match="(?i)unknown command"):
            c.execute_command("RCIT-NO-SUCH-COMMAND", key_for_slot(SLOT, "u"))
    info1 = stat_calls(cluster, "command|info")
    assert sum(delta(info0, info1).values()) == 1, (
        info0, info1, c.connection_pool.nodes.nodes, c.connection_pool._stats())


def test_arity_the_server_refuses_too_gets_its_error(new_client, cluster, flush):
    # GET k x: neither the table nor the server accept it -- the server's
    # "wrong number of arguments", not a MovedError from a random master
    c = new_client()
    for _ in range(3):
        with pytest.raises(Exception, match="wrong number of arguments"):
            c.execute_command("GET", key_for_slot(SLOT, "g"), "x")
