"""Differential scenarios: each runs once on redis-py-cluster 2.1.3 (in its own
venv, through runner.py) and once on ours, against the same cluster; the steps'
results are compared by tests/compat/test_differential.py.

This module is imported by both interpreters, so it uses only what both
packages offer under the same names (``rediscluster`` is whichever is
installed) and the standard library.

A scenario is a function ``scn_<name>(ctx)`` that calls ``ctx.step(label,
fn)`` for every observation; a step's result is its normalised return value
or exception. Keys come from ``ctx.key(tag, name)``: the hash tag fixes the
slot, the side marker (``@ORIG@`` / ``@OURS@``) keeps the two runs apart and
is replaced by ``@SIDE@`` when results are normalised, so returned key names
compare equal.
"""

import time

SIDES = ("@ORIG@", "@OURS@")


def _text(value):
    for side in SIDES:
        value = value.replace(side, "@SIDE@")
    return value


def normalise(value, depth=0):
    """A comparable, picklable picture of a value (builtins only)."""
    if depth > 20:
        return ("deep",)
    if isinstance(value, BaseException):
        return ("EXC", type(value).__name__, tuple(c.__name__ for c in type(value).__mro__))
    if isinstance(value, bytes):
        return ("bytes", _text(value.decode("latin-1")))
    if isinstance(value, str):
        return ("str", _text(value))
    if isinstance(value, bool) or value is None:
        return (type(value).__name__, value)
    if isinstance(value, (int, float)):
        return (type(value).__name__, value)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [normalise(v, depth + 1) for v in value])
    if isinstance(value, (set, frozenset)):
        return ("set", sorted((normalise(v, depth + 1) for v in value), key=repr))
    if isinstance(value, dict):
        return ("dict", sorted(((normalise(k, depth + 1), normalise(v, depth + 1))
                                for k, v in value.items()), key=repr))
    return ("obj", type(value).__name__)


class Ctx:
    """What a scenario gets: clients, keys, and the step recorder."""

    def __init__(self, side, options):
        import rediscluster

        self.rediscluster = rediscluster
        self.side = side
        self.marker = "@%s@" % side
        self.options = options
        self.host = options.get("host", "127.0.0.1")
        self.port = int(options.get("port", 7000))
        self.steps = []
        self._keys = []
        self._clients = []

    # ------------------------------------------------------------ helpers

    def client(self, **kwargs):
        kwargs.setdefault("host", self.host)
        kwargs.setdefault("port", self.port)
        for name in ("password", "ssl", "ssl_cert_reqs", "ssl_ca_certs",
                     "skip_full_coverage_check"):
            if name in self.options and name not in kwargs:
                kwargs[name] = self.options[name]
        c = self.rediscluster.RedisCluster(**kwargs)
        self._clients.append(c)
        return c

    def key(self, tag, name=""):
        k = "{cmp%s}%s:%s" % (tag, self.marker, name)
        self._keys.append(k)
        return k

    def channel(self, name, tag="ch"):
        # hash-tagged: the same slot (node) on both sides
        return "{cmp%s}%s:%s" % (tag, self.marker, name)

    def step(self, label, fn):
        try:
            result = normalise(fn())
        except Exception as e:
            result = normalise(e)
        self.steps.append((label, result))

    def cleanup(self):
        if not self._keys:
            return
        c = self.rediscluster.RedisCluster(host=self.host, port=self.port,
                                           **{k: v for k, v in self.options.items()
                                              if k in ("password", "ssl", "ssl_cert_reqs",
                                                       "ssl_ca_certs",
                                                       "skip_full_coverage_check")})
        for k in self._keys:
            try:
                c.delete(k)
            except Exception:
                pass


def run(name, side, options):
    """Run scenario ``name``; return its [(label, normalised result)]."""
    ctx = Ctx(side, options)
    try:
        globals()["scn_" + name](ctx)
    finally:
        ctx.cleanup()
    return ctx.steps


def names():
    return sorted(n[4:] for n in globals() if n.startswith("scn_"))


def _both(ctx, body):
    """Run ``body(ctx, c, d)`` with a bytes client and a decode_responses one."""
    for decode in (False, True):
        body(ctx, ctx.client(decode_responses=decode), "d" if decode else "b")


# ---------------------------------------------------------------- strings


def scn_strings(ctx):
    def body(ctx, c, d):
        k, k2, k3 = ctx.key("a", d + "s1"), ctx.key("a", d + "s2"), ctx.key("b", d + "s3")
        s = ctx.step
        s(d + "set", lambda: c.set(k, "v1"))
        s(d + "set nx", lambda: c.set(k, "v2", nx=True))
        s(d + "set xx ex", lambda: c.set(k, "v3", xx=True, ex=100))
        s(d + "get", lambda: c.get(k))
        s(d + "get missing", lambda: c.get(k2))
        s(d + "getset", lambda: c.getset(k, "v4"))
        s(d + "append", lambda: c.append(k, "xx"))
        s(d + "strlen", lambda: c.strlen(k))
        s(d + "getrange", lambda: c.getrange(k, 0, 1))
        s(d + "setrange", lambda: c.setrange(k, 1, "Z"))
        s(d + "incr", lambda: c.incr(k2))
        s(d + "incrby", lambda: c.incrby(k2, 5))
        s(d + "decr", lambda: c.decr(k2))
        s(d + "incrbyfloat", lambda: c.incrbyfloat(k2, 1.5))
        s(d + "setnx", lambda: c.setnx(k3, 1))
        s(d + "setex", lambda: c.setex(k3, 100, "x"))
        s(d + "psetex", lambda: c.psetex(k3, 100000, "y"))
        s(d + "mset cross", lambda: c.mset({k: "1", k3: "2"}))
        s(d + "mget cross", lambda: c.mget([k, k2, k3, ctx.key("c", "nope")]))
        s(d + "msetnx existing", lambda: c.msetnx({k: "9", ctx.key("c", d + "n"): "1"}))
        s(d + "mset bad args", lambda: c.mset("a", "b"))
        s(d + "setbit", lambda: c.setbit(k3 + "bits", 7, 1))
        s(d + "getbit", lambda: c.getbit(k3 + "bits", 7))
        s(d + "bitcount", lambda: c.bitcount(k3 + "bits"))
        s(d + "bitpos", lambda: c.bitpos(k3 + "bits", 1))
        ctx._keys.append(k3 + "bits")
        s(d + "bitop same slot", lambda: c.bitop("OR", ctx.key("a", d + "bd"), k, k2))
        s(d + "bitop cross", lambda: c.bitop("OR", k, k3))
        s(d + "get wrongtype", lambda: (c.rpush(ctx.key("a", d + "l"), 1), c.get(ctx.key("a", d + "l"))))
        s(d + "mset bad value", lambda: c.mset({ctx.key("a", d + "mv1"): "1", ctx.key("b", d + "mv2"): None}))
        s(d + "after mset bad value", lambda: c.get(ctx.key("a", d + "mv1")))
        s(d + "set bool", lambda: c.set(k, True))
        s(d + "set none", lambda: c.set(k, None))
    _both(ctx, body)


# ---------------------------------------------------------------- keys


def scn_keys(ctx):
    def body(ctx, c, d):
        a, b, x = ctx.key("a", d + "k1"), ctx.key("a", d + "k2"), ctx.key("b", d + "k3")
        s = ctx.step
        c.set(a, "1"), c.set(x, "3")
        s(d + "exists one", lambda: c.exists(a))
        s(d + "exists cross", lambda: c.exists(a, x))
        s(d + "exists same", lambda: c.exists(a, b))
        s(d + "type", lambda: c.type(a))
        s(d + "expire", lambda: c.expire(a, 100))
        s(d + "ttl", lambda: 0 < c.ttl(a) <= 100)
        s(d + "pttl no expiry", lambda: c.pttl(x))
        s(d + "persist", lambda: c.persist(a))
        s(d + "ttl missing", lambda: c.ttl(b))
        s(d + "object encoding", lambda: c.object("encoding", a))
        s(d + "object missing", lambda: c.object("encoding", b))
        s(d + "rename same slot", lambda: c.rename(a, b))
        s(d + "rename missing", lambda: c.rename(a, b))
        s(d + "rename cross", lambda: c.rename(b, ctx.key("c", d + "moved")))
        s(d + "renamenx", lambda: c.renamenx(x, ctx.key("c", d + "moved")))
        s(d + "dump restore", lambda: c.restore(ctx.key("c", d + "r"), 0, c.dump(x)))
        s(d + "delete cross", lambda: c.delete(x, ctx.key("c", d + "moved"), ctx.key("c", d + "r")))
        s(d + "delete missing", lambda: c.delete(x))
        s(d + "unlink", lambda: c.unlink(a))
        s(d + "touch", lambda: c.touch(a))
        c.set(ctx.key("d", d + "pat1"), 1), c.set(ctx.key("e", d + "pat2"), 1)
        s(d + "keys pattern", lambda: sorted(c.keys("{cmp*}%s:%spat*" % (ctx.marker, d))))
        s(d + "scan_iter", lambda: sorted(c.scan_iter(match="{cmp*}%s:%spat*" % (ctx.marker, d))))
        s(d + "move", lambda: c.move(a, 1))
        s(d + "sort cross store", lambda: c.sort(a, store=x))
    _both(ctx, body)


# ---------------------------------------------------------------- hashes


def scn_hashes(ctx):
    def body(ctx, c, d):
        h = ctx.key("a", d + "h")
        s = ctx.step
        s(d + "hset", lambda: c.hset(h, "f1", "v1"))
        s(d + "hset mapping", lambda: c.hset(h, mapping={"f2": "2", "f3": "3"}))
        s(d + "hmset", lambda: c.hmset(h, {"f4": "4"}))
        s(d + "hget", lambda: c.hget(h, "f1"))
        s(d + "hgetall", lambda: c.hgetall(h))
        s(d + "hmget", lambda: c.hmget(h, ["f1", "nope", "f2"]))
        s(d + "hincrby", lambda: c.hincrby(h, "f2", 3))
        s(d + "hincrbyfloat", lambda: c.hincrbyfloat(h, "f3", 0.5))
        s(d + "hkeys", lambda: sorted(c.hkeys(h)))
        s(d + "hvals", lambda: sorted(c.hvals(h)))
        s(d + "hlen", lambda: c.hlen(h))
        s(d + "hexists", lambda: c.hexists(h, "f1"))
        s(d + "hsetnx", lambda: c.hsetnx(h, "f1", "x"))
        s(d + "hstrlen", lambda: c.hstrlen(h, "f1"))
        s(d + "hdel", lambda: c.hdel(h, "f1", "nope"))
        s(d + "hscan", lambda: c.hscan(h, 0, count=100))
        s(d + "hscan_iter", lambda: sorted(c.hscan_iter(h)))
        s(d + "hgetall missing", lambda: c.hgetall(ctx.key("a", d + "none")))
    _both(ctx, body)


# ---------------------------------------------------------------- lists


def scn_lists(ctx):
    def body(ctx, c, d):
        l1, l2, lx = ctx.key("a", d + "l1"), ctx.key("a", d + "l2"), ctx.key("b", d + "lx")
        s = ctx.step
        s(d + "rpush", lambda: c.rpush(l1, "a", "b", "c", "d"))
        s(d + "lpush", lambda: c.lpush(l1, "z"))
        s(d + "lrange", lambda: c.lrange(l1, 0, -1))
        s(d + "llen", lambda: c.llen(l1))
        s(d + "lindex", lambda: c.lindex(l1, 1))
        s(d + "linsert", lambda: c.linsert(l1, "before", "b", "B"))
        s(d + "lset", lambda: c.lset(l1, 0, "Z"))
        s(d + "lrem", lambda: c.lrem(l1, 1, "B"))
        s(d + "ltrim", lambda: c.ltrim(l1, 0, 3))
        s(d + "lpop", lambda: c.lpop(l1))
        s(d + "rpop", lambda: c.rpop(l1))
        s(d + "rpoplpush same", lambda: c.rpoplpush(l1, l2))
        s(d + "rpoplpush cross", lambda: c.rpoplpush(l1, lx))
        s(d + "rpoplpush empty src", lambda: c.rpoplpush(ctx.key("a", d + "none"), lx))
        s(d + "brpoplpush cross", lambda: c.brpoplpush(l1, lx, timeout=1))
        s(d + "brpoplpush timeout", lambda: c.brpoplpush(ctx.key("a", d + "none"), lx, timeout=1))
        s(d + "blpop", lambda: c.blpop([lx], timeout=1))
        s(d + "brpop timeout", lambda: c.brpop([ctx.key("a", d + "none")], timeout=1))
        s(d + "lists after", lambda: (c.lrange(l1, 0, -1), c.lrange(l2, 0, -1), c.lrange(lx, 0, -1)))
        s(d + "lpushx", lambda: c.lpushx(ctx.key("a", d + "none"), "x"))
        s(d + "lset out of range", lambda: c.lset(l2, 99, "x"))
    _both(ctx, body)


# ---------------------------------------------------------------- sets


def scn_sets(ctx):
    def body(ctx, c, d):
        a, b, x = ctx.key("a", d + "s1"), ctx.key("a", d + "s2"), ctx.key("b", d + "s3")
        s = ctx.step
        s(d + "sadd", lambda: c.sadd(a, "1", "2", "3"))
        c.sadd(b, "2", "3", "4"), c.sadd(x, "3", "5")
        s(d + "smembers", lambda: c.smembers(a))
        s(d + "scard", lambda: c.scard(a))
        s(d + "sismember", lambda: c.sismember(a, "1"))
        s(d + "srem", lambda: c.srem(a, "1", "9"))
        s(d + "sinter same", lambda: c.sinter(a, b))
        s(d + "sinter cross", lambda: c.sinter(a, x))
        s(d + "sunion cross", lambda: c.sunion([a, b, x]))
        s(d + "sdiff cross", lambda: c.sdiff(b, x))
        s(d + "sinterstore cross", lambda: c.sinterstore(ctx.key("c", d + "dst"), a, x))
        s(d + "sunionstore cross", lambda: c.sunionstore(ctx.key("c", d + "dst2"), a, x))
        s(d + "sdiffstore cross", lambda: c.sdiffstore(ctx.key("c", d + "dst3"), b, x))
        s(d + "stored", lambda: (c.smembers(ctx.key("c", d + "dst")), c.smembers(ctx.key("c", d + "dst2"))))
        s(d + "smove same", lambda: c.smove(a, b, "2"))
        s(d + "smove cross", lambda: c.smove(b, x, "4"))
        s(d + "smove cross missing", lambda: c.smove(b, x, "nope"))
        s(d + "spop count", lambda: len(c.spop(x, 2)))
        s(d + "srandmember", lambda: len(c.srandmember(b, 2)))
        s(d + "sscan", lambda: c.sscan(a, 0, count=100))
        s(d + "sscan_iter", lambda: sorted(c.sscan_iter(b)))
        s(d + "smembers missing", lambda: c.smembers(ctx.key("a", d + "none")))
        s(d + "sunionstore of nothing", lambda: c.sunionstore(ctx.key("a", d + "dst4"),
                                                            ctx.key("a", d + "no1"), ctx.key("b", d + "no2")))
    _both(ctx, body)


# ---------------------------------------------------------------- sorted sets


def scn_sorted_sets(ctx):
    def body(ctx, c, d):
        z, z2, zx = ctx.key("a", d + "z1"), ctx.key("a", d + "z2"), ctx.key("b", d + "z3")
        s = ctx.step
        s(d + "zadd", lambda: c.zadd(z, {"a": 1, "b": 2, "c": 3.5}))
        c.zadd(z2, {"b": 10, "d": 4}), c.zadd(zx, {"a": 1})
        s(d + "zadd nx", lambda: c.zadd(z, {"a": 5}, nx=True))
        s(d + "zrange", lambda: c.zrange(z, 0, -1))
        s(d + "zrange withscores", lambda: c.zrange(z, 0, -1, withscores=True))
        s(d + "zrevrange", lambda: c.zrevrange(z, 0, 1, withscores=True))
        s(d + "zrangebyscore", lambda: c.zrangebyscore(z, 1, 3, withscores=True))
        s(d + "zrevrangebyscore", lambda: c.zrevrangebyscore(z, "+inf", 2))
        s(d + "zscore", lambda: c.zscore(z, "c"))
        s(d + "zincrby", lambda: c.zincrby(z, 2, "a"))
        s(d + "zrank", lambda: c.zrank(z, "a"))
        s(d + "zrevrank", lambda: c.zrevrank(z, "a"))
        s(d + "zcard", lambda: c.zcard(z))
        s(d + "zcount", lambda: c.zcount(z, 0, 3))
        s(d + "zlexcount", lambda: c.zlexcount(z, "-", "+"))
        s(d + "zrangebylex", lambda: c.zrangebylex(z, "-", "+"))
        s(d + "zunionstore same", lambda: c.zunionstore(ctx.key("a", d + "zu"), [z, z2]))
        s(d + "zinterstore same max", lambda: c.zinterstore(ctx.key("a", d + "zi"), {z: 1, z2: 2}, aggregate="MAX"))
        s(d + "zunionstore cross", lambda: c.zunionstore(ctx.key("a", d + "zu2"), [z, zx]))
        s(d + "zrem", lambda: c.zrem(z, "b", "nope"))
        s(d + "zremrangebyrank", lambda: c.zremrangebyrank(z2, 0, 0))
        s(d + "zremrangebyscore", lambda: c.zremrangebyscore(z2, 0, 100))
        s(d + "zpopmin", lambda: c.zpopmin(z))
        s(d + "bzpopmin", lambda: c.bzpopmin([z], timeout=1))
        s(d + "zscan", lambda: c.zscan(ctx.key("a", d + "zu"), 0))
        s(d + "zscan_iter", lambda: sorted(c.zscan_iter(ctx.key("a", d + "zu"))))
        s(d + "zscore missing", lambda: c.zscore(z, "nope"))
    _both(ctx, body)


# ---------------------------------------------------------------- hyperloglog, geo


def scn_hll_geo(ctx):
    def body(ctx, c, d):
        h1, h2, hx = ctx.key("a", d + "h1"), ctx.key("a", d + "h2"), ctx.key("b", d + "hx")
        g = ctx.key("a", d + "geo")
        s = ctx.step
        s(d + "pfadd", lambda: c.pfadd(h1, "a", "b", "c"))
        c.pfadd(h2, "c", "d"), c.pfadd(hx, "e")
        s(d + "pfcount", lambda: c.pfcount(h1))
        s(d + "pfcount same", lambda: c.pfcount(h1, h2))
        s(d + "pfcount cross", lambda: c.pfcount(h1, hx))
        s(d + "pfmerge same", lambda: c.pfmerge(ctx.key("a", d + "hm"), h1, h2))
        s(d + "pfmerge cross", lambda: c.pfmerge(ctx.key("a", d + "hm2"), h1, hx))
        s(d + "pfcount merged", lambda: c.pfcount(ctx.key("a", d + "hm2")))
        s(d + "geoadd", lambda: c.geoadd(g, 13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania"))
        s(d + "geodist", lambda: round(c.geodist(g, "Palermo", "Catania", "km"), 3))
        s(d + "geohash", lambda: c.geohash(g, "Palermo", "nope"))
        s(d + "geopos", lambda: [tuple(round(v, 4) for v in p) if p else p for p in c.geopos(g, "Palermo", "nope")])
        s(d + "georadius", lambda: c.georadius(g, 15, 37, 200, "km"))
        s(d + "georadiusbymember", lambda: c.georadiusbymember(g, "Palermo", 200, "km", withdist=True))
    _both(ctx, body)


# ---------------------------------------------------------------- streams


def scn_streams(ctx):
    def body(ctx, c, d):
        st, st2, stx = ctx.key("a", d + "st"), ctx.key("a", d + "st2"), ctx.key("b", d + "stx")
        s = ctx.step
        s(d + "xadd", lambda: c.xadd(st, {"f": "v"}, id="1-1"))
        c.xadd(st, {"f": "w"}, id="1-2"), c.xadd(st2, {"g": "1"}, id="2-1"), c.xadd(stx, {"h": "1"}, id="3-1")
        s(d + "xlen", lambda: c.xlen(st))
        s(d + "xrange", lambda: c.xrange(st))
        s(d + "xrevrange count", lambda: c.xrevrange(st, count=1))
        s(d + "xread same", lambda: c.xread({st: "0", st2: "0"}))
        s(d + "xread cross", lambda: c.xread({st: "0", stx: "0"}))
        s(d + "xgroup_create", lambda: c.xgroup_create(st, "g1", id="0"))
        s(d + "xgroup_create again", lambda: c.xgroup_create(st, "g1", id="0"))
        s(d + "xreadgroup", lambda: c.xreadgroup("g1", "c1", {st: ">"}, count=1))
        s(d + "xreadgroup cross", lambda: c.xreadgroup("g1", "c1", {st: ">", stx: ">"}))
        s(d + "xpending", lambda: c.xpending(st, "g1"))
        s(d + "xack", lambda: c.xack(st, "g1", "1-1"))
        s(d + "xdel", lambda: c.xdel(st, "1-2"))
        s(d + "xtrim", lambda: c.xtrim(st2, 0))
    _both(ctx, body)


# ---------------------------------------------------------------- scripting


def scn_scripting(ctx):
    def body(ctx, c, d):
        a, b, x = ctx.key("a", d + "e1"), ctx.key("a", d + "e2"), ctx.key("b", d + "e3")
        s = ctx.step
        s(d + "eval 1 key", lambda: c.eval("return redis.call('set', KEYS[1], ARGV[1])", 1, a, "v"))
        s(d + "eval 2 keys same", lambda: c.eval("return {KEYS[1], KEYS[2]}", 2, a, b))
        s(d + "eval cross", lambda: c.eval("return 1", 2, a, x))
        s(d + "eval error", lambda: c.eval("return redis.error_reply('boom')", 1, a))
        sha = "c6ffd4a64b0b4f4d5b0a6f7e7bfa1b5a4e0d2c9f"
        s(d + "script_load", lambda: c.script_load("return 'hello'"))
        s(d + "script_exists", lambda: c.script_exists(c.script_load("return 'hello'"), sha))
        s(d + "evalsha", lambda: c.evalsha(c.script_load("return KEYS[1]"), 1, a))
        s(d + "evalsha noscript", lambda: c.evalsha(sha, 1, a))
        s(d + "evalsha cross", lambda: c.evalsha(sha, 2, a, x))
        script = c.register_script("return {KEYS[1], ARGV[1]}")
        s(d + "Script call", lambda: script(keys=[a], args=["x"]))
        s(d + "script_kill", lambda: c.script_kill())
    _both(ctx, body)


# ---------------------------------------------------------------- fan-out and server commands


def scn_server(ctx):
    c = ctx.client()
    s = ctx.step
    s("ping", lambda: c.ping())
    s("echo", lambda: c.echo("hi"))
    s("dbsize nodes", lambda: sorted(c.dbsize()))
    s("time nodes", lambda: sorted(c.time()))
    s("info nodes", lambda: sorted(c.info()))
    s("info node keys", lambda: "redis_version" in list(c.info().values())[0])
    s("config_get", lambda: c.config_get("cluster-require-full-coverage"))
    s("lastsave nodes", lambda: sorted(c.lastsave()))
    s("slowlog_len nodes", lambda: sorted(c.slowlog_len()))
    s("client_setname", lambda: c.client_setname("cmp-name"))
    s("client_getname", lambda: c.client_getname())
    s("cluster_info", lambda: sorted(v["cluster_state"] for v in c.cluster_info().values()))
    s("cluster_keyslot", lambda: c.cluster_keyslot("foo"))
    s("cluster_countkeysinslot", lambda: type(c.cluster_countkeysinslot(0)).__name__)
    s("cluster_get_keys_in_slot", lambda: type(c.cluster_get_keys_in_slot(0, 1)).__name__)
    s("cluster_slots", lambda: sorted(c.cluster_slots()))
    s("cluster_nodes", lambda: sorted((n["host"], n["port"]) for n in c.cluster_nodes()))
    s("cluster_save_config", lambda: c.cluster_save_config())
    s("cluster_slaves", lambda: [n["port"] for n in c.cluster_slaves(
        [n["id"] for n in c.cluster_nodes() if n["port"] == ctx.port][0])])
    s("pubsub_channels", lambda: [ch for ch in c.pubsub_channels() if b"cmp" in ch])
    s("pubsub_channels aggregate False", lambda: sorted(c.pubsub_channels(aggregate=False)))
    s("pubsub_numsub", lambda: c.pubsub_numsub("cmp-nobody"))
    s("pubsub_numpat", lambda: c.pubsub_numpat())
    s("pubsub_numpat aggregate False", lambda: c.pubsub_numpat(aggregate=False))
    s("flushdb", lambda: c.flushdb if True else None)  # not run: shape only
    s("client_kill_filter", lambda: c.client_kill_filter(_id=1))
    s("object no key", lambda: c.execute_command("OBJECT"))


# ---------------------------------------------------------------- blocked / missing methods


def scn_blocked_and_inherited(ctx):
    c = ctx.client()
    a = ctx.key("a", "x")
    c.set(a, "1")
    s = ctx.step
    s("execute_command()", lambda: c.execute_command())
    s("execute_command GET", lambda: c.execute_command("GET"))
    s("bitop cross", lambda: c.bitop("OR", a, ctx.key("b", "y")))
    s("move", lambda: c.move(a, 1))
    s("shutdown", lambda: c.shutdown())
    s("slaveof", lambda: c.slaveof())
    s("monitor", lambda: c.monitor())
    s("readonly", lambda: c.readonly())
    s("readwrite", lambda: c.readwrite())
    s("swapdb", lambda: c.swapdb(0, 1))
    s("watch", lambda: c.watch(a))
    s("unwatch", lambda: c.unwatch())
    s("client()", lambda: c.client())
    s("sentinel", lambda: c.sentinel("masters"))
    for name, args in (("sentinel_masters", ()), ("sentinel_master", ("x",)),
                       ("sentinel_slaves", ("x",)), ("sentinel_sentinels", ("x",)),
                       ("sentinel_get_master_addr_by_name", ("x",)),
                       ("sentinel_remove", ("x",)), ("sentinel_set", ("x", "a", "b")),
                       ("sentinel_monitor", ("x", "127.0.0.1", 1, 1))):
        s(name, lambda name=name, args=args: getattr(c, name)(*args))
    s("debug_object", lambda: sorted(c.debug_object(a)))
    s("client_unblock", lambda: c.client_unblock(987654321))
    s("transaction()", lambda: c.transaction(lambda p: None))
    s("pipeline shard_hint", lambda: c.pipeline(shard_hint="x"))
    s("db kwarg", lambda: ctx.client(db=1))
    s("parse_response attr", lambda: callable(c.parse_response))
    s("set_result_callback", lambda: c.set_result_callback("PING", lambda cmd, res: "merged"))
    s("ping merged", lambda: c.ping())


# ---------------------------------------------------------------- pipelines


def scn_pipelines(ctx):
    def body(ctx, c, d):
        a, b, x = ctx.key("a", d + "p1"), ctx.key("a", d + "p2"), ctx.key("b", d + "p3")
        s = ctx.step

        def basic():
            p = c.pipeline()
            p.set(a, "1").set(x, "2").get(a).get(x).incr(b).lpush(a, "q").get(b)
            return len(p), bool(p), p.execute(raise_on_error=False)
        s(d + "basic", basic)

        def raising():
            p = c.pipeline()
            p.set(b, "1").lpush(b, 1)
            return p.execute()
        s(d + "raise_on_error", raising)

        def stack():
            p = c.pipeline()
            p.set(a, "v").zrange(x, 0, -1, withscores=True)
            shapes = [(cmd.args, cmd.position, cmd.options) for cmd in p.command_stack]
            p.execute()
            return shapes
        s(d + "command_stack", stack)

        def results_on_commands():
            p = c.pipeline()
            p.get(a).get(x)
            cmds = list(p.command_stack)
            p.execute()
            return [cmd.result for cmd in cmds]
        s(d + "command results", results_on_commands)
        s(d + "empty execute", lambda: c.pipeline().execute())
        s(d + "context manager", lambda: _ctx_pipe(c, a))
        s(d + "reset", lambda: _reset_pipe(c, a))
        for name, args in (("mget", ([a, x],)), ("msetnx", ({a: 1, x: 2},)),
                           ("rename", (a, x)), ("sinter", (a, x)), ("pfcount", (a, x)),
                           ("keys", ("*",)), ("ping", ()), ("publish", ("ch", "m")),
                           ("bitop", ("OR", a, b)), ("move", (a, 1)), ("brpoplpush", (a, x)),
                           ("sort", (a,)), ("script_load", ("return 1",))):
            s(d + "pipe " + name, lambda name=name, args=args: getattr(c.pipeline(), name)(*args))
        s(d + "pipe delete multi cross", lambda: c.pipeline().delete(a, x))
        s(d + "pipe eval", lambda: c.pipeline().eval("return KEYS[1]", 1, a).execute())
        s(d + "pipe eval no keys", lambda: c.pipeline().eval("return 1", 0).execute(raise_on_error=False))
        s(d + "pipe multi", lambda: c.pipeline().multi())
        s(d + "pipe watch", lambda: c.pipeline().watch(a))
        s(d + "pipe transaction=True", lambda: type(c.pipeline(transaction=True)).__name__)
        s(d + "pipe repr type", lambda: type(c.pipeline()).__name__)
        s(d + "pipe raise_first_error", lambda: _raise_first(c, b))
        s(d + "pipe readonly queued", lambda: c.pipeline().readonly().execute(raise_on_error=False))
        s(d + "pipe load_scripts", lambda: c.pipeline().load_scripts())
    _both(ctx, body)


def _ctx_pipe(c, a):
    with c.pipeline() as p:
        p.set(a, "x")
        return p.execute()


def _reset_pipe(c, a):
    p = c.pipeline()
    p.set(a, 1)
    p.reset()
    return len(p), p.execute()


def _raise_first(c, b):
    p = c.pipeline()
    p.set(b, "s").lpush(b, 1)
    stack = list(p.command_stack)
    p.execute(raise_on_error=False)
    return p.raise_first_error(stack)


def scn_pipeline_scripts(ctx):
    c = ctx.client()
    a, b = ctx.key("a", "sc1"), ctx.key("a", "sc2")
    s = ctx.step
    script = c.register_script("return {KEYS[1], ARGV[1]}")

    def in_pipe():
        p = c.pipeline()
        script(keys=[a], args=["1"], client=p)
        p.set(b, "2")
        return p.execute()
    s("Script in pipeline", in_pipe)

    def evalsha_in_pipe():
        sha = c.script_load("return KEYS[1]")
        p = c.pipeline()
        p.evalsha(sha, 1, a)
        return p.execute()
    s("evalsha in pipeline", evalsha_in_pipe)


# ---------------------------------------------------------------- pub/sub


def _drain(p, n, timeout=2.0):
    out = []
    deadline = time.time() + timeout
    while len(out) < n and time.time() < deadline:
        m = p.get_message(timeout=0.1)
        if m is not None:
            out.append(m)
    return out


def scn_pubsub(ctx):
    def body(ctx, c, d):
        ch, ch2 = ctx.channel(d + "c1"), ctx.channel(d + "c2")
        pat = ctx.channel(d + "p") + "*"
        s = ctx.step
        p = c.pubsub()
        s(d + "get_message before", lambda: p.get_message())
        s(d + "connection before", lambda: p.connection)
        s(d + "subscribe", lambda: p.subscribe(ch))
        s(d + "confirmation", lambda: _drain(p, 1))
        s(d + "publish counts", lambda: c.publish(ch, "hello"))
        s(d + "message", lambda: _drain(p, 1))
        s(d + "connection type", lambda: type(p.connection).__name__)
        s(d + "subscribed", lambda: p.subscribed)
        s(d + "channels", lambda: sorted(p.channels))
        s(d + "psubscribe", lambda: (p.psubscribe(pat), _drain(p, 1)))
        s(d + "pmessage", lambda: (c.publish(pat[:-1] + "x", "pm"), _drain(p, 1)))
        s(d + "ping while subscribed", lambda: (p.ping(), _drain(p, 1)))
        s(d + "disconnect", lambda: p.connection.disconnect())
        s(d + "resubscribed", lambda: sorted(m["type"] for m in _drain(p, 2)))
        s(d + "after reconnect", lambda: (c.publish(ch, "again"), _drain(p, 1)))
        s(d + "unsubscribe", lambda: (p.unsubscribe(ch), _drain(p, 1)))
        s(d + "punsubscribe", lambda: (p.punsubscribe(), _drain(p, 1)))
        s(d + "not subscribed", lambda: p.subscribed)
        s(d + "check_health", lambda: p.check_health())
        p.close()
        q = c.pubsub(ignore_subscribe_messages=True)
        got = []
        s(d + "handler subscribe", lambda: q.subscribe(**{ch2: got.append}))
        s(d + "ignored confirmation", lambda: q.get_message(timeout=0.3))
        s(d + "handler message", lambda: (c.publish(ch2, "h"), q.get_message(timeout=1), got))
        s(d + "run_in_thread no handler", lambda: c.pubsub().subscribe(ch) or None)
        q.close()
        s(d + "pubsub ctor health kw", lambda: c.pubsub(health_check_interval=1))
    _both(ctx, body)


# ---------------------------------------------------------------- object model


def scn_pool_connections(ctx):
    c = ctx.client()
    pool = c.connection_pool
    s = ctx.step
    node = pool.nodes.nodes["%s:%d" % (ctx.host, ctx.port)]
    k = ctx.key("a", "pc")
    c.set(k, "v")

    def by_node():
        conn = pool.get_connection_by_node(node)
        conn.send_command("PING")
        r = conn.read_response()
        pool.release(conn)
        return type(conn).__name__, conn.host, conn.port, r
    s("get_connection_by_node", by_node)

    def by_slot():
        conn = pool.get_connection_by_slot(pool.nodes.keyslot(k))
        conn.send_command("GET", k)
        r = conn.read_response()
        pool.release(conn)
        return r
    s("get_connection_by_slot", by_slot)

    def by_key():
        conn = pool.get_connection_by_key(k, "GET")
        conn.send_command("GET", k)
        r = conn.read_response()
        pool.release(conn)
        return r
    s("get_connection_by_key", by_key)
    s("get_connection_by_key no key", lambda: pool.get_connection_by_key(None, "GET"))

    def random_conn():
        conn = pool.get_random_connection()
        conn.send_command("ECHO", "x")
        r = conn.read_response()
        pool.release(conn)
        return type(conn).__name__, r
    s("get_random_connection", random_conn)

    def pubsub_conn():
        conn = pool.get_connection("pubsub", channel="foo")
        name = conn.node["name"]
        pool.release(conn)
        return name
    s("get_connection pubsub", pubsub_conn)
    s("get_connection other", lambda: pool.get_connection("GET"))

    def error_reply():
        conn = pool.get_connection_by_node(node)
        try:
            conn.send_command("INCR", ctx.key("n", "incr"))
            conn.send_command("LPUSH", k, 1)
            first = conn.read_response()
            try:
                return first, conn.read_response()
            except Exception as e:
                return first, e
        finally:
            pool.release(conn)
    s("error replies", error_reply)

    def packed():
        conn = pool.get_connection_by_slot(pool.nodes.keyslot(k))
        conn.send_packed_command(conn.pack_commands([("SET", k, "p1"), ("GET", k)]))
        r = conn.read_response(), conn.read_response()
        pool.release(conn)
        return r
    s("send_packed_command", packed)

    def can_read():
        conn = pool.get_connection_by_node(node)
        before = conn.can_read(0)
        conn.send_command("PING")
        time.sleep(0.05)
        after = conn.can_read(0.5)
        r = conn.read_response()
        pool.release(conn)
        return before, after, r
    s("can_read", can_read)

    def disconnect():
        conn = pool.get_connection_by_node(node)
        conn.disconnect()
        conn.send_command("PING")
        r = conn.read_response()
        pool.release(conn)
        return r
    s("disconnect then command", disconnect)

    def context():
        from rediscluster.connection import by_node_context
        with by_node_context(pool, node) as conn:
            conn.send_command("PING")
            return conn.read_response()
    s("by_node_context", context)
    s("make_connection", lambda: type(pool.make_connection(node)).__name__)
    s("count_all_num_connections", lambda: type(pool.count_all_num_connections(node)).__name__)
    s("get_master_node_by_slot", lambda: pool.get_master_node_by_slot(0)["server_type"])
    s("get_node_by_slot", lambda: pool.get_node_by_slot(0)["server_type"])
    s("get_encoder", lambda: (pool.get_encoder().encode(1.5), pool.get_encoder().decode(b"x")))
    s("owns_connection", lambda: pool.owns_connection(pool.get_random_connection()))
    s("connection_kwargs", lambda: sorted(k for k in pool.connection_kwargs if k != "socket_timeout"))
    s("_checkpid", lambda: pool._checkpid())
    s("max_connections", lambda: pool.max_connections)
    s("connection_class", lambda: pool.connection_class.__name__)


def scn_connection_standalone(ctx):
    from rediscluster.connection import ClusterConnection
    s = ctx.step
    conn = ClusterConnection(host=ctx.host, port=ctx.port)
    k = ctx.key("a", "sa")
    s("repr", lambda: repr(conn))
    s("ping", lambda: (conn.send_command("PING"), conn.read_response()))
    s("pid", lambda: type(conn.pid).__name__)
    s("on_connect", lambda: conn.on_connect())
    s("moved", lambda: (conn.send_command("GET", "foo"), conn.read_response()))
    dconn = ClusterConnection(host=ctx.host, port=ctx.port, decode_responses=True)
    s("decoded echo", lambda: (dconn.send_command("ECHO", "hé"), dconn.read_response()))
    s("disconnect", lambda: (dconn.disconnect(), dconn.send_command("PING"), dconn.read_response()))
    s("readonly kw", lambda: repr(ClusterConnection(host=ctx.host, port=ctx.port, readonly=True)))
    s("unreachable", lambda: ClusterConnection(host=ctx.host, port=7999).connect())
    s("names", lambda: [hasattr(__import__("rediscluster.connection", fromlist=["x"]), n) for n in (
        "ClusterConnection", "SSLClusterConnection", "UnixDomainSocketConnection", "Connection",
        "SSLConnection", "ClusterParser", "by_node_context", "ClusterConnectionPool",
        "ClusterBlockingConnectionPool", "ClusterReadOnlyConnectionPool",
        "ClusterWithReadReplicasConnectionPool")])
    ctx._keys.append(k)


def scn_pool_variants(ctx):
    from rediscluster.connection import (ClusterBlockingConnectionPool,
                                         ClusterReadOnlyConnectionPool,
                                         ClusterWithReadReplicasConnectionPool)
    s = ctx.step
    nodes = [{"host": ctx.host, "port": ctx.port}]
    s("readonly pool class", lambda: type(ctx.client(readonly_mode=True).connection_pool).__name__)
    s("replicas pool class", lambda: type(ctx.client(read_from_replicas=True).connection_pool).__name__)
    ro = ClusterReadOnlyConnectionPool(startup_nodes=nodes)
    s("ro master_node_commands", lambda: ro.master_node_commands)
    s("ro get_node_by_slot_random", lambda: ro.get_node_by_slot_random(0)["name"] in
      [n["name"] for n in ro.nodes.slots[0]])
    s("ro get_master_connection_by_slot", lambda: ro.get_master_connection_by_slot(0).node["server_type"])
    rr = ClusterWithReadReplicasConnectionPool(startup_nodes=nodes)
    s("rr get_node_by_slot write", lambda: rr.get_node_by_slot(0)["server_type"])
    s("rr get_node_by_slot read", lambda: rr.get_node_by_slot(0, True)["server_type"] in ("master", "slave"))
    bp = ClusterBlockingConnectionPool(startup_nodes=nodes, max_connections=2, timeout=0.2)
    s("blocking defaults", lambda: (bp.max_connections, bp.timeout))
    rc = ctx.client(connection_pool=bp)
    k = ctx.key("a", "bp")
    s("blocking pool set/get", lambda: (rc.set(k, "1"), rc.get(k)))


def scn_from_url(ctx):
    s = ctx.step
    RC = ctx.rediscluster.RedisCluster
    url = "redis://%s:%d" % (ctx.host, ctx.port)
    s("from_url repr", lambda: repr(RC.from_url(url)))
    s("from_url pool kwargs", lambda: sorted(RC.from_url(url + "/0?socket_timeout=3&decode_responses=true")
                                             .connection_pool.connection_kwargs.items()))
    s("from_url decode", lambda: (RC.from_url(url, decode_responses=True).echo("x")))
    s("from_url unix", lambda: RC.from_url("unix:///tmp/x.sock"))
    s("from_url readonly pool", lambda: type(RC.from_url(url, readonly_mode=True).connection_pool).__name__)
    s("from_url replicas pool", lambda: type(RC.from_url(url, read_from_replicas=True).connection_pool).__name__)
    s("from_url startup port type", lambda: [type(n["port"]).__name__ for n in RC.from_url(url).connection_pool.nodes.startup_nodes])
    s("host only", lambda: repr(RC(host=ctx.host)))
    s("repr client", lambda: repr(ctx.client()))
    s("startup_nodes empty", lambda: RC(startup_nodes=[]))
    s("unreachable", lambda: RC(host=ctx.host, port=7999))
    s("non-cluster options", lambda: RC(host=ctx.host, port=ctx.port, bogus_option=1))


def scn_nodemanager(ctx):
    from rediscluster.nodemanager import NodeManager
    s = ctx.step
    nm = NodeManager(startup_nodes=[{"host": ctx.host, "port": ctx.port}])
    s("initialize", lambda: nm.initialize())
    s("nodes", lambda: sorted(nm.nodes))
    s("node dict", lambda: nm.nodes["%s:%d" % (ctx.host, ctx.port)])
    s("slots len", lambda: len(nm.slots))
    s("slot 0 master", lambda: nm.slots[0][0])
    s("slot 0 replicas", lambda: [n["server_type"] for n in nm.slots[0][1:]])
    s("startup_nodes", lambda: nm.startup_nodes)
    s("orig_startup_nodes", lambda: nm.orig_startup_nodes)
    s("keyslot", lambda: (nm.keyslot("foo"), nm.keyslot(b"{foo}bar"), nm.keyslot(1337)))
    s("keyslot bool", lambda: nm.keyslot(True))
    s("node_from_slot", lambda: nm.node_from_slot(12182)["server_type"])
    s("all_masters", lambda: len(list(nm.all_masters())))
    s("all_nodes", lambda: len(list(nm.all_nodes())))
    s("random_node", lambda: nm.random_node()["name"] in nm.nodes)
    s("random_startup_node", lambda: nm.random_startup_node())
    s("random_startup_node_ittr", lambda: next(nm.random_startup_node_ittr()))
    s("make_node_obj", lambda: nm.make_node_obj("h", 1, "master"))
    s("set_node", lambda: nm.set_node("127.0.0.9", 1, "slave"))
    s("set_node_name", lambda: (lambda n: (nm.set_node_name(n), n))({"host": "h", "port": 2}))
    s("reinitialize_steps", lambda: (nm.reinitialize_steps, nm.reinitialize_counter))
    s("increment counter", lambda: (nm.increment_reinitialize_counter(3), nm.reinitialize_counter))
    s("reset", lambda: nm.reset())
    s("second init startup_nodes", lambda: sorted(n["name"] for n in nm.startup_nodes))
    link = nm.get_redis_link(ctx.host, ctx.port, decode_responses=True)
    s("link cluster slots", lambda: len(link.execute_command("cluster", "slots")))
    s("link config_get", lambda: link.config_get("cluster-require-full-coverage"))
    s("link ping", lambda: link.ping())
    s("link moved", lambda: link.get("foo"))
    s("require full coverage", lambda: nm.cluster_require_full_coverage(nm.nodes))
    s("remap", lambda: nm.remap_internal_node_object(["1.2.3.4", 1]))
    rules = [{"from_host": "10.0.0.1", "to_host": ctx.host, "from_port": 6379, "to_port": ctx.port},
             {"from_host": "10.0.0.2", "to_host": "10.0.0.3"}]
    nr = NodeManager(startup_nodes=[{"host": ctx.host, "port": ctx.port}], host_port_remap=rules)
    s("remap rules", lambda: [nr.remap_internal_node_object(list(a)) for a in
                              (("10.0.0.1", 6379), ("10.0.0.1", 6380), ("10.0.0.2", 1), ("10.9.9.9", 2))])
    s("remap initialize", lambda: (nr.initialize(), len(nr.slots), sorted(nr.nodes)))
    s("require full coverage of current", lambda: nm.cluster_require_full_coverage({}))
    s("unreachable", lambda: NodeManager(startup_nodes=[{"host": ctx.host, "port": 7999}]).initialize())
    s("no startup nodes", lambda: NodeManager(startup_nodes=[]))
    s("bad remap", lambda: NodeManager(startup_nodes=[{"host": "h", "port": 1}], host_port_remap={}))


def scn_utils(ctx):
    from rediscluster import utils
    s = ctx.step
    s("string_keys_to_dict", lambda: utils.string_keys_to_dict(["A B", "C"], 1))
    s("dict_merge", lambda: utils.dict_merge({"a": 1}, {"a": 2, "b": 3}))
    s("dict_merge error", lambda: utils.dict_merge({}, []))
    s("blocked_command", lambda: utils.blocked_command(None, "X"))
    s("merge_result", lambda: sorted(utils.merge_result("K", {"a": [1, 2], "b": [2, 3]})))
    s("merge_result error", lambda: utils.merge_result("K", []))
    s("first_key", lambda: utils.first_key("K", {"a": 1}))
    s("first_key many", lambda: utils.first_key("K", {"a": 1, "b": 2}))
    s("bool_ok", lambda: (utils.bool_ok(b"OK"), utils.bool_ok("OK", x=1), utils.bool_ok(b"NO")))
    s("parse_cluster_slots", lambda: utils.parse_cluster_slots(
        [[0, 10, [b"", 7000, b"id"], [b"127.0.0.1", 7003, b"id2"]]], current_host="h"))
    s("parse_cluster_nodes", lambda: utils.parse_cluster_nodes(
        b"abc 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-2 5\n"))
    s("parse_pubsub_numsub", lambda: utils.parse_pubsub_numsub("N", {"a": [(b"c", 1)], "b": [(b"c", 2)]}))
    s("parse_pubsub_numpat", lambda: utils.parse_pubsub_numpat("N", {"a": 1, "b": 2}))
    s("parse_pubsub_channels", lambda: sorted(utils.parse_pubsub_channels("N", {"a": [b"x"], "b": [b"x"]})))
    s("crc16", lambda: __import__("rediscluster.crc", fromlist=["x"]).crc16(b"123456789"))
    s("crc table", lambda: __import__("rediscluster.crc", fromlist=["x"]).x_mode_m_crc16_lookup[:8])
    s("version tuple", lambda: ctx.rediscluster.VERSION >= (2, 0, 0))
    s("exports", lambda: [hasattr(ctx.rediscluster, n) for n in (
        "AskError", "ClusterBlockingConnectionPool", "ClusterConnection", "ClusterConnectionPool",
        "ClusterCrossSlotError", "ClusterDownError", "ClusterDownException", "ClusterError",
        "ClusterPipeline", "MasterDownError", "MovedError", "RedisCluster", "RedisClusterError",
        "RedisClusterException", "TryAgainError", "int_or_str", "utils", "crc")])


def scn_lock(ctx):
    def body(ctx, c, d):
        s = ctx.step
        name = ctx.key("a", d + "lock")
        lock = c.lock(name, timeout=10)
        s(d + "acquire", lambda: lock.acquire(blocking=False))
        s(d + "token type", lambda: type(lock.local.token).__name__)
        s(d + "owned", lambda: lock.owned())
        s(d + "locked", lambda: lock.locked())
        s(d + "second acquire", lambda: c.lock(name).acquire(blocking=False))
        s(d + "extend", lambda: lock.extend(5))
        s(d + "reacquire", lambda: lock.reacquire())
        s(d + "release", lambda: lock.release())
        s(d + "release again", lambda: lock.release())
        s(d + "token after", lambda: lock.local.token)
        other = c.lock(name, timeout=10, thread_local=False)
        s(d + "acquire token", lambda: (other.acquire(token="tok"), other.local.token, other.owned()))
        c.delete(name)
        s(d + "not owned release", lambda: other.release())
        s(d + "context", lambda: _with_lock(c, name))
        s(d + "no timeout extend", lambda: (lambda l: (l.acquire(), l.extend(1)))(c.lock(name)))
        c.delete(name)
    _both(ctx, body)


def _with_lock(c, name):
    with c.lock(name, timeout=5) as held:
        return held.owned()


def scn_auth(ctx):
    if not ctx.options.get("password"):
        return
    s = ctx.step
    c = ctx.client()
    k = ctx.key("a", "auth")
    s("set/get", lambda: (c.set(k, "1"), c.get(k)))
    s("pipeline", lambda: c.pipeline().set(k, "2").get(k).execute())
    s("bad password", lambda: ctx.client(password="wrong"))
    s("no password", lambda: ctx.rediscluster.RedisCluster(host=ctx.host, port=ctx.port))
    from rediscluster.connection import ClusterConnection
    conn = ClusterConnection(host=ctx.host, port=ctx.port, password=ctx.options["password"])
    s("standalone connection", lambda: (conn.send_command("PING"), conn.read_response()))
    from rediscluster.nodemanager import NodeManager
    nm = NodeManager(startup_nodes=[{"host": ctx.host, "port": ctx.port}], password=ctx.options["password"],
                     skip_full_coverage_check=True)
    s("nodemanager", lambda: (nm.initialize(), len(nm.slots)))
    s("pubsub", lambda: _auth_pubsub(ctx, c))


def _auth_pubsub(ctx, c):
    p = c.pubsub()
    p.subscribe(ctx.channel("a"))
    msgs = _drain(p, 1)
    p.close()
    return msgs


def scn_tls(ctx):
    if not ctx.options.get("ssl"):
        return
    s = ctx.step
    c = ctx.client()
    k = ctx.key("a", "tls")
    s("set/get", lambda: (c.set(k, "1"), c.get(k)))
    s("pool connection class", lambda: c.connection_pool.connection_class.__name__)
    s("pipeline", lambda: c.pipeline().set(k, "2").get(k).execute())
    s("pubsub", lambda: _auth_pubsub(ctx, c))
    from rediscluster.connection import SSLClusterConnection
    conn = SSLClusterConnection(host=ctx.host, port=ctx.port, ssl_cert_reqs=ctx.options.get("ssl_cert_reqs"),
                                ssl_ca_certs=ctx.options.get("ssl_ca_certs"))
    s("standalone connection", lambda: (conn.send_command("PING"), conn.read_response()))
