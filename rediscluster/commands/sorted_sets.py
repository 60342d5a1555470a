"""SortedSetCommands: methods only shape arguments and call execute_command; reply parsers
for these commands are in RESPONSE_CALLBACKS below (merged into the one dict in
rediscluster/callbacks.py).

Signatures are redis-py 3.5.3's for the commands it had (``zadd`` takes a mapping,
``zrange`` keeps ``desc``) and current redis-py's for the newer ones (ZDIFF, ZINTER,
ZUNION, ZMPOP, ZRANDMEMBER, ZRANGESTORE, ...) and options (ZADD GT/LT, ZRANGE
BYSCORE/BYLEX/REV/LIMIT). Commands over several keys need every key in one slot
(use hash tags); the server answers CROSSSLOT otherwise.

Nothing here does I/O beyond ``execute_command``.
"""

from ._util import DataError, list_or_args, scan_args

_AGGREGATES = ("SUM", "MIN", "MAX", "COUNT")


# ---------------------------------------------------------------- reply parsers


def _caster(score_cast_func):
    """``score_cast_func`` made tolerant of scores such as b'1.5e+18' (which int()
    refuses): the function is tried on the raw score first, then on its float."""
    if score_cast_func is None or score_cast_func is float:
        return float

    def cast(score):
        try:
            return score_cast_func(score)
        except (TypeError, ValueError):
            return score_cast_func(float(score))

    return cast


def _pairs(flat, score_cast_func=float):
    """[m1, s1, m2, s2, ...] -> [(m1, cast(s1)), (m2, cast(s2)), ...]"""
    cast = _caster(score_cast_func)
    it = iter(flat)
    return [(member, cast(score)) for member, score in zip(it, it)]


def parse_zset_range(response, withscores=False, score_cast_func=float, **options):
    """Members, or (member, score) tuples when ``withscores``."""
    if not response or not withscores:
        return response
    return _pairs(response, score_cast_func)


def parse_zpop(response, score_cast_func=float, **options):
    """ZPOPMIN/ZPOPMAX always carry scores: [(member, score), ...]."""
    if not response:
        return response
    return _pairs(response, score_cast_func)


def parse_bzpop(response, **options):
    """(key, member, score) or None on timeout."""
    if not response:
        return None
    return (response[0], response[1], float(response[2]))


def parse_zmpop(response, **options):
    """[key, [[member, score], ...]] with float scores, or None."""
    if not response:
        return None
    return [response[0], [[member, float(score)] for member, score in response[1]]]


def parse_zrank(response, withscore=False, score_cast_func=float, **options):
    """Rank (int) or None; [rank, score] with ``withscore`` (Redis >= 7.2)."""
    if response is None or not withscore:
        return response
    return [response[0], _caster(score_cast_func)(response[1])]


def parse_zrandmember(response, withscores=False, score_cast_func=float, **options):
    """One member (no count), a list of members, or (member, score) tuples."""
    if not response or not withscores or not isinstance(response, list):
        return response
    return _pairs(response, score_cast_func)


def parse_zscan(response, score_cast_func=float, **options):
    """(int cursor, [(member, score), ...])"""
    cursor, items = response
    return int(cursor), _pairs(items or (), score_cast_func)


def parse_zadd(response, as_score=False, **options):
    """Count of added (or changed) members; the new score with INCR; None when
    NX/XX/GT/LT prevented the INCR."""
    if response is None:
        return None
    return float(response) if as_score else int(response)


def float_or_none(response, **options):
    return None if response is None else float(response)


def parse_zmscore(response, **options):
    return [None if score is None else float(score) for score in response]


# ---------------------------------------------------------------- commands


def _limit(start, num, first="start"):
    """LIMIT offset count, when both are given (DataError when only one is)."""
    if (start is None) != (num is None):
        raise DataError("``%s`` and ``num`` must both be specified" % first)
    return [] if start is None else [b"LIMIT", start, num]


def _keys_list(keys):
    """A key list for the numkeys commands (a lone key is a list of one)."""
    if isinstance(keys, (str, bytes)):
        return [keys]
    return keys


class SortedSetCommands:
    """Sorted set commands (https://redis.io/commands/?group=sorted-set)."""

    # -- adding, counting, scoring

    def zadd(self, name, mapping, nx=False, xx=False, ch=False, incr=False, gt=False, lt=False):
        """Add members with scores, given as a ``{member: score}`` mapping.

        ``nx``: only add new members; ``xx``: only update existing ones;
        ``gt``/``lt``: only update when the new score is greater/less (new members
        are still added); ``ch``: return the number of members changed rather than
        added; ``incr``: increment the score of the single member given and return
        the new score (None if a condition prevented it).
        https://redis.io/commands/zadd"""
        if not mapping:
            raise DataError("ZADD requires at least one element/score pair")
        if nx and xx:
            raise DataError("ZADD allows either 'nx' or 'xx', not both")
        if gt and lt:
            raise DataError("ZADD allows either 'gt' or 'lt', not both")
        if nx and (gt or lt):
            raise DataError("ZADD allows only one of 'nx', 'gt' and 'lt'")
        if incr and len(mapping) != 1:
            raise DataError("ZADD option 'incr' only works when passing a single "
                            "element/score pair")
        pieces = []
        options = {}
        for flag, token in ((nx, b"NX"), (xx, b"XX"), (gt, b"GT"), (lt, b"LT"), (ch, b"CH")):
            if flag:
                pieces.append(token)
        if incr:
            pieces.append(b"INCR")
            options["as_score"] = True
        for member, score in mapping.items():
            pieces.append(score)
            pieces.append(member)
        return self.execute_command("ZADD", name, *pieces, **options)

    def zcard(self, name):
        """Number of members of the sorted set ``name``. https://redis.io/commands/zcard"""
        return self.execute_command("ZCARD", name)

    def zcount(self, name, min, max):
        """Number of members with a score between ``min`` and ``max`` (inclusive
        unless prefixed with ``(``; ``-inf``/``+inf`` allowed).
        https://redis.io/commands/zcount"""
        return self.execute_command("ZCOUNT", name, min, max)

    def zlexcount(self, name, min, max):
        """Number of members between ``min`` and ``max`` in lexicographical order
        (``[a``, ``(a``, ``-``, ``+``). https://redis.io/commands/zlexcount"""
        return self.execute_command("ZLEXCOUNT", name, min, max)

    def zincrby(self, name, amount, value):
        """Increment the score of ``value`` by ``amount``; returns the new score
        (float). https://redis.io/commands/zincrby"""
        return self.execute_command("ZINCRBY", name, amount, value)

    def zscore(self, name, value):
        """Score of ``value`` (float), or None. https://redis.io/commands/zscore"""
        return self.execute_command("ZSCORE", name, value)

    def zmscore(self, key, members):
        """Scores of ``members`` (a non-empty list): a list of floats, None for
        missing members. https://redis.io/commands/zmscore"""
        if not members:
            raise DataError("ZMSCORE members must be a non-empty list")
        return self.execute_command("ZMSCORE", key, *members)

    def zrank(self, name, value, withscore=False, score_cast_func=float):
        """0-based rank of ``value`` by ascending score, or None.
        ``withscore`` (Redis >= 7.2): return [rank, score].
        https://redis.io/commands/zrank"""
        pieces = [name, value]
        if withscore:
            pieces.append(b"WITHSCORE")
        return self.execute_command("ZRANK", *pieces, withscore=withscore,
                                    score_cast_func=score_cast_func)

    def zrevrank(self, name, value, withscore=False, score_cast_func=float):
        """0-based rank of ``value`` by descending score, or None.
        ``withscore`` (Redis >= 7.2): return [rank, score].
        https://redis.io/commands/zrevrank"""
        pieces = [name, value]
        if withscore:
            pieces.append(b"WITHSCORE")
        return self.execute_command("ZREVRANK", *pieces, withscore=withscore,
                                    score_cast_func=score_cast_func)

    def zrandmember(self, key, count=None, withscores=False):
        """Random member(s) of the sorted set ``key``.

        Without ``count``: one member (or None). With ``count``: a list of up to
        ``count`` distinct members, or ``-count`` members with repetitions when
        negative. ``withscores`` (needs ``count``): (member, score) tuples.
        https://redis.io/commands/zrandmember"""
        pieces = [key]
        if count is not None:
            pieces.append(count)
        if withscores:
            if count is None:
                raise DataError("ZRANDMEMBER ``withscores`` requires ``count``")
            pieces.append(b"WITHSCORES")
        return self.execute_command("ZRANDMEMBER", *pieces, withscores=withscores)

    # -- ranges

    def _zrange(self, command, dest, name, start, end, desc=False, byscore=False,
                bylex=False, withscores=False, score_cast_func=float, offset=None, num=None):
        if byscore and bylex:
            raise DataError("``byscore`` and ``bylex`` can not be specified together.")
        if (offset is None) != (num is None):
            raise DataError("``offset`` and ``num`` must both be specified.")
        if bylex and withscores:
            raise DataError("``withscores`` not supported in combination with ``bylex``.")
        pieces = [dest, name] if dest is not None else [name]
        pieces += [start, end]
        if byscore:
            pieces.append(b"BYSCORE")
        if bylex:
            pieces.append(b"BYLEX")
        if desc:
            pieces.append(b"REV")
        if offset is not None:
            pieces += [b"LIMIT", offset, num]
        if withscores:
            pieces.append(b"WITHSCORES")
        if dest is not None:
            return self.execute_command(command, *pieces)
        return self.execute_command(command, *pieces, withscores=withscores,
                                    score_cast_func=score_cast_func)

    def zrange(self, name, start, end, desc=False, withscores=False, score_cast_func=float,
               byscore=False, bylex=False, offset=None, num=None):
        """Members of ``name`` from ``start`` to ``end``.

        By default ``start``/``end`` are ranks (negative counts from the end).
        ``byscore``: they are scores (``(`` for exclusive, ``-inf``/``+inf``);
        ``bylex``: lexicographical bounds (``[a``, ``(a``, ``-``, ``+``).
        ``desc``: reverse order (with ``byscore``/``bylex`` give the higher bound
        first). ``offset``/``num``: LIMIT (with ``byscore``/``bylex``).
        ``withscores``: (member, score) tuples, scores through ``score_cast_func``.
        https://redis.io/commands/zrange"""
        if desc and not byscore and not bylex and offset is None and num is None:
            # redis-py 3.5 sent ZREVRANGE for desc=True; so do we (same reply)
            return self.zrevrange(name, start, end, withscores, score_cast_func)
        return self._zrange("ZRANGE", None, name, start, end, desc, byscore, bylex,
                            withscores, score_cast_func, offset, num)

    def zrangestore(self, dest, name, start, end, byscore=False, bylex=False, desc=False,
                    offset=None, num=None):
        """Store the range ``zrange`` would return into ``dest``; returns its
        size. Same ``start``/``end``/option rules as ``zrange``.
        https://redis.io/commands/zrangestore"""
        return self._zrange("ZRANGESTORE", dest, name, start, end, desc, byscore, bylex,
                            False, None, offset, num)

    def zrevrange(self, name, start, end, withscores=False, score_cast_func=float):
        """Members of ``name`` by rank in descending order.
        https://redis.io/commands/zrevrange"""
        pieces = [name, start, end]
        if withscores:
            pieces.append(b"WITHSCORES")
        return self.execute_command("ZREVRANGE", *pieces, withscores=withscores,
                                    score_cast_func=score_cast_func)

    def zrangebylex(self, name, min, max, start=None, num=None):
        """Members between ``min`` and ``max`` in lexicographical order; ``start``
        and ``num`` (both or none) slice the result. https://redis.io/commands/zrangebylex"""
        return self.execute_command("ZRANGEBYLEX", name, min, max, *_limit(start, num))

    def zrevrangebylex(self, name, max, min, start=None, num=None):
        """Like ``zrangebylex``, from ``max`` down to ``min``.
        https://redis.io/commands/zrevrangebylex"""
        return self.execute_command("ZREVRANGEBYLEX", name, max, min, *_limit(start, num))

    def zrangebyscore(self, name, min, max, start=None, num=None, withscores=False,
                      score_cast_func=float):
        """Members with a score between ``min`` and ``max``, ascending; ``start``
        and ``num`` slice the result; ``withscores`` gives (member, score) tuples.
        https://redis.io/commands/zrangebyscore"""
        pieces = [name, min, max] + _limit(start, num)
        if withscores:
            pieces.append(b"WITHSCORES")
        return self.execute_command("ZRANGEBYSCORE", *pieces, withscores=withscores,
                                    score_cast_func=score_cast_func)

    def zrevrangebyscore(self, name, max, min, start=None, num=None, withscores=False,
                         score_cast_func=float):
        """Like ``zrangebyscore``, from ``max`` down to ``min``.
        https://redis.io/commands/zrevrangebyscore"""
        pieces = [name, max, min] + _limit(start, num)
        if withscores:
            pieces.append(b"WITHSCORES")
        return self.execute_command("ZREVRANGEBYSCORE", *pieces, withscores=withscores,
                                    score_cast_func=score_cast_func)

    # -- removing

    def zrem(self, name, *values):
        """Remove members; returns how many existed. https://redis.io/commands/zrem"""
        return self.execute_command("ZREM", name, *values)

    def zremrangebylex(self, name, min, max):
        """Remove the members between ``min`` and ``max`` (lexicographical);
        returns how many. https://redis.io/commands/zremrangebylex"""
        return self.execute_command("ZREMRANGEBYLEX", name, min, max)

    def zremrangebyrank(self, name, min, max):
        """Remove the members with rank ``min`` to ``max`` (0-based, negative
        from the end); returns how many. https://redis.io/commands/zremrangebyrank"""
        return self.execute_command("ZREMRANGEBYRANK", name, min, max)

    def zremrangebyscore(self, name, min, max):
        """Remove the members with a score between ``min`` and ``max``; returns
        how many. https://redis.io/commands/zremrangebyscore"""
        return self.execute_command("ZREMRANGEBYSCORE", name, min, max)

    # -- popping

    def zpopmax(self, name, count=None):
        """Remove and return up to ``count`` (default 1) members with the highest
        scores: [(member, score), ...]. https://redis.io/commands/zpopmax"""
        args = [] if count is None else [count]
        return self.execute_command("ZPOPMAX", name, *args, withscores=True)

    def zpopmin(self, name, count=None):
        """Remove and return up to ``count`` (default 1) members with the lowest
        scores: [(member, score), ...]. https://redis.io/commands/zpopmin"""
        args = [] if count is None else [count]
        return self.execute_command("ZPOPMIN", name, *args, withscores=True)

    def bzpopmax(self, keys, timeout=0):
        """ZPOPMAX from the first non-empty sorted set of ``keys``, blocking up to
        ``timeout`` seconds (0: forever): (key, member, score) or None.
        https://redis.io/commands/bzpopmax"""
        keys = list_or_args(keys, None)
        keys.append(0 if timeout is None else timeout)
        return self.execute_command("BZPOPMAX", *keys)

    def bzpopmin(self, keys, timeout=0):
        """ZPOPMIN from the first non-empty sorted set of ``keys``, blocking up to
        ``timeout`` seconds (0: forever): (key, member, score) or None.
        https://redis.io/commands/bzpopmin"""
        keys = list_or_args(keys, None)
        keys.append(0 if timeout is None else timeout)
        return self.execute_command("BZPOPMIN", *keys)

    @staticmethod
    def _mpop_args(keys, min, max, count, always_count):
        if bool(min) == bool(max):
            raise DataError("Either min or max, but not both must be set")
        pieces = list(_keys_list(keys))
        pieces.append(b"MIN" if min else b"MAX")
        if always_count or count != 1:
            pieces += [b"COUNT", count]
        return pieces

    def zmpop(self, num_keys, keys, min=False, max=False, count=1):
        """Pop up to ``count`` members from the first non-empty sorted set of
        ``keys`` (``num_keys`` of them), lowest (``min``) or highest (``max``)
        scores: [key, [[member, score], ...]] or None.
        https://redis.io/commands/zmpop"""
        pieces = self._mpop_args(keys, min, max, count, False)
        return self.execute_command("ZMPOP", num_keys, *pieces)

    def bzmpop(self, timeout, numkeys, keys, min=False, max=False, count=1):
        """Blocking ``zmpop``: wait up to ``timeout`` seconds (0: forever).
        https://redis.io/commands/bzmpop"""
        pieces = self._mpop_args(keys, min, max, count, True)
        return self.execute_command("BZMPOP", timeout, numkeys, *pieces)

    # -- several sets (all keys in one slot)

    def _zaggregate(self, command, dest, keys, aggregate=None, **options):
        keys = _keys_list(keys)
        pieces = [] if dest is None else [dest]
        pieces.append(len(keys))
        if isinstance(keys, dict):
            pieces.extend(keys.keys())
            pieces.append(b"WEIGHTS")
            pieces.extend(keys.values())
        else:
            pieces.extend(keys)
        if aggregate:
            if str(aggregate).upper() not in _AGGREGATES:
                raise DataError("aggregate can be sum, min, max or count.")
            pieces += [b"AGGREGATE", aggregate]
        if options.get("withscores"):
            pieces.append(b"WITHSCORES")
        return self.execute_command(command, *pieces, **options)

    def zdiff(self, keys, withscores=False, score_cast_func=float):
        """Members of the first sorted set of ``keys`` absent from the others;
        ``withscores``: (member, score) tuples. https://redis.io/commands/zdiff"""
        keys = _keys_list(keys)
        pieces = [len(keys)] + list(keys)
        if withscores:
            pieces.append(b"WITHSCORES")
        return self.execute_command("ZDIFF", *pieces, withscores=withscores,
                                    score_cast_func=score_cast_func)

    def zdiffstore(self, dest, keys):
        """Store ``zdiff(keys)`` into ``dest``; returns its size.
        https://redis.io/commands/zdiffstore"""
        keys = _keys_list(keys)
        return self.execute_command("ZDIFFSTORE", dest, len(keys), *keys)

    def zinter(self, keys, aggregate=None, withscores=False, score_cast_func=float):
        """Intersection of the sorted sets ``keys`` (a list, or a dict key ->
        weight); ``aggregate``: SUM (default), MIN or MAX.
        https://redis.io/commands/zinter"""
        return self._zaggregate("ZINTER", None, keys, aggregate, withscores=withscores,
                                score_cast_func=score_cast_func)

    def zinterstore(self, dest, keys, aggregate=None):
        """Store the intersection of ``keys`` (list or dict key -> weight) into
        ``dest``; returns its size. https://redis.io/commands/zinterstore"""
        return self._zaggregate("ZINTERSTORE", dest, keys, aggregate)

    def zintercard(self, numkeys, keys, limit=0):
        """Size of the intersection of ``keys`` (``numkeys`` of them), counting
        stops at ``limit`` (0: no limit). https://redis.io/commands/zintercard"""
        return self.execute_command("ZINTERCARD", numkeys, *_keys_list(keys), b"LIMIT", limit)

    def zunion(self, keys, aggregate=None, withscores=False, score_cast_func=float):
        """Union of the sorted sets ``keys`` (a list, or a dict key -> weight);
        ``aggregate``: SUM (default), MIN or MAX. https://redis.io/commands/zunion"""
        return self._zaggregate("ZUNION", None, keys, aggregate, withscores=withscores,
                                score_cast_func=score_cast_func)

    def zunionstore(self, dest, keys, aggregate=None):
        """Store the union of ``keys`` (list or dict key -> weight) into ``dest``;
        returns its size. https://redis.io/commands/zunionstore"""
        return self._zaggregate("ZUNIONSTORE", dest, keys, aggregate)

    # -- scanning

    def zscan(self, name, cursor=0, match=None, count=None, score_cast_func=float):
        """One ZSCAN step: (next cursor, [(member, score), ...]); cursor 0 ends.
        https://redis.io/commands/zscan"""
        return self.execute_command("ZSCAN", name, *scan_args(cursor, match, count),
                                    score_cast_func=score_cast_func)

    def zscan_iter(self, name, match=None, count=None, score_cast_func=float):
        """Iterate over (member, score) of ``name`` with ZSCAN (a member may be
        seen twice if the set changes meanwhile). https://redis.io/commands/zscan"""
        cursor = None
        while cursor != 0:
            cursor, items = self.zscan(name, cursor=cursor or 0, match=match, count=count,
                                       score_cast_func=score_cast_func)
            for item in items:
                yield item


#: upper-case command name -> reply parser, for the commands of this module
RESPONSE_CALLBACKS = {
    "ZADD": parse_zadd,
    "ZSCORE": float_or_none,
    "ZINCRBY": float_or_none,
    "ZMSCORE": parse_zmscore,
    "ZRANK": parse_zrank,
    "ZREVRANK": parse_zrank,
    "ZRANDMEMBER": parse_zrandmember,
    "ZRANGE": parse_zset_range,
    "ZREVRANGE": parse_zset_range,
    "ZRANGEBYSCORE": parse_zset_range,
    "ZREVRANGEBYSCORE": parse_zset_range,
    "ZDIFF": parse_zset_range,
    "ZINTER": parse_zset_range,
    "ZUNION": parse_zset_range,
    "ZPOPMAX": parse_zpop,
    "ZPOPMIN": parse_zpop,
    "BZPOPMAX": parse_bzpop,
    "BZPOPMIN": parse_bzpop,
    "ZMPOP": parse_zmpop,
    "BZMPOP": parse_zmpop,
    "ZSCAN": parse_zscan,
}
