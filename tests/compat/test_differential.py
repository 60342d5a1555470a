"""The differential suite: every scenario of scenarios.py runs on
redis-py-cluster 2.1.3 and on ours against the same cluster, and each step's
result is compared -- value and type, or for an exception its class: ours must
be an instance of a class of the original's name (so code that catches what
2.1.3 raised still catches it).

A difference is either fixed or listed in DELIBERATE below with the reason; each
entry is also a row of the table in docs/migration.md. A listed step must still
differ (so the list stays true); everything else must be equal.
"""

import pytest

import scenarios

CLUSTERS = {
    # scenario -> clusters it runs on (default: the main one)
    "auth": ("auth",),
    "tls": ("tls",),
    "strings": ("main", "tls"),
    "pipelines": ("main", "auth"),
    "pubsub": ("main", "tls"),
    "pool_connections": ("main", "auth", "tls"),
    "connection_standalone": ("main",),
}

#: (scenario, step label) -> why ours differs (docs/migration.md has the row).
#: Labels starting "b"/"d" are steps of the bytes / decode_responses client: a
#: label without that letter covers both, one with it only that client.
DELIBERATE = {
    ("blocked_and_inherited", "transaction()"):
        "transactions: RedisCluster.transaction() runs MULTI/EXEC in one slot",
    ("pipelines", "pipe multi"): "transactions: pipelines support MULTI/EXEC in one slot",
    ("pipelines", "pipe watch"): "transactions: WATCH in one slot",
    ("pipelines", "pipe transaction=True"): "transactions: pipeline(transaction=True)",
    ("pipelines", "pipe eval no keys"): "EVAL with 0 keys runs on a random master",
    ("pipelines", "pipe readonly queued"):
        "a command that cannot be routed is that command's result, not an error "
        "raised before anything is sent",
    ("server", "cluster_save_config"): "node-less CLUSTER commands are sent where they belong",
    ("server", "pubsub_channels aggregate False"): "aggregate=False returns the per-node dict",
    ("server", "pubsub_numpat aggregate False"): "aggregate=False returns the per-node dict",
    ("server", "client_kill_filter"): "client_kill_filter is implemented (fan-out)",
    ("server", "object no key"):
        "raw execute_command('OBJECT') goes to a node, which answers the arity error",
    ("pipeline_scripts", "Script in pipeline"): "Script objects run in pipelines (loaded first)",
    ("pipeline_scripts", "evalsha in pipeline"): "EVALSHA runs in pipelines",
    ("pipelines", "pipe load_scripts"): "load_scripts() loads the pipeline's scripts",
    ("strings", "bitop same slot"): "BITOP works when all keys share a slot",
    ("keys", "exists cross"): "multi-key EXISTS across slots is split per slot and summed",
    ("keys", "drename cross"): "RENAME across slots works with decode_responses (2.1.3: "
                              "UnicodeDecodeError on the DUMP payload)",
    ("keys", "drenamenx"): "as rename cross",
    ("keys", "ddelete cross"): "follows from the rename: the keys exist",
    ("hll_geo", "pfcount cross"): "PFCOUNT across slots works",
    ("hll_geo", "dpfmerge same"): "PFMERGE works with decode_responses",
    ("hll_geo", "dpfmerge cross"): "PFMERGE across slots works with decode_responses",
    ("hll_geo", "dpfcount merged"): "follows from pfmerge",
    ("strings", "after mset bad value"): "2.1.3 had written the keys before the bad value",
    ("sets", "sunionstore of nothing"): "0, dest absent (2.1.3: SADD without members, ResponseError)",
    ("server", "cluster_slaves"): "CLUSTER SLAVES parsed on Redis 7 (2.1.3: AttributeError)",
    ("sets", "smove same"): "one slot: the server's SMOVE, True/False (2.1.3: 1/0 from SREM)",
    ("from_url", "from_url pool kwargs"):
        "URL query values are converted (decode_responses=True, not 'true'); no "
        "db/username/password entries when the URL has none",
    ("nodemanager", "second init startup_nodes"):
        "startup_nodes stay as given (2.1.3 added every node known from the second "
        "discovery on, the seed twice)",
    ("pool_connections", "can_read"):
        "a connection released with unread replies is closed (2.1.3 handed it out "
        "again and the next user read the stale reply)",
}


def _deliberate(scenario, label):
    return DELIBERATE.get((scenario, label)) or DELIBERATE.get((scenario, label[1:]))


def _cases():
    for name in scenarios.names():
        for cluster in CLUSTERS.get(name, ("main",)):
            yield pytest.param(name, cluster, id="%s-%s" % (name, cluster))


def _same(orig, ours):
    """Equal pictures; an exception matches when ours derives from a class of
    the original's class name."""
    if isinstance(orig, tuple) and orig and orig[0] == "EXC":
        return isinstance(ours, tuple) and ours and ours[0] == "EXC" and orig[1] in ours[2]
    if isinstance(orig, (tuple, list)) and isinstance(ours, (tuple, list)):
        return type(orig) is type(ours) and len(orig) == len(ours) and \
            all(_same(a, b) for a, b in zip(orig, ours))
    return orig == ours


COUNT = {"steps": 0, "deliberate": 0}


@pytest.mark.parametrize("name, cluster", list(_cases()))
def test_differential(original, targets, name, cluster):
    if cluster not in targets:
        pytest.skip("the %s cluster is not running" % cluster)
    options = targets[cluster]
    theirs = original.run(name, options)
    assert "error" not in theirs, theirs.get("error")
    ours = scenarios.run(name, "OURS", options)
    theirs = theirs["steps"]
    assert [label for label, _ in ours] == [label for label, _ in theirs]
    differences = []
    for (label, mine), (_, orig) in zip(ours, theirs):
        COUNT["steps"] += 1
        reason = _deliberate(name, label)
        if reason is not None:
            COUNT["deliberate"] += 1
            if _same(orig, mine):
                differences.append("%s: listed as deliberate (%s) but equal now: %r"
                                   % (label, reason, mine))
        elif not _same(orig, mine):
            differences.append("%s:\n    2.1.3: %r\n    ours:  %r" % (label, orig, mine))
    assert not differences, "\n".join(differences)


def test_zz_report(original, capsys):
    """How many steps were compared (the last test of the module)."""
    with capsys.disabled():
        print("\ndifferential steps compared: %d (%d deliberate differences)"
              % (COUNT["steps"], COUNT["deliberate"]))
