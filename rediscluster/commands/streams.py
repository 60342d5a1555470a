"""StreamCommands: methods only shape arguments and call execute_command; reply parsers
for these commands are in RESPONSE_CALLBACKS below (merged into the one dict in
rediscluster/callbacks.py).

Signatures are redis-py 3.5.3's, extended with current redis-py's parameters for
Redis >= 6.2/7.0 options (XADD NOMKSTREAM/MINID/LIMIT, XTRIM MINID, XGROUP
ENTRIESREAD, XPENDING IDLE, XINFO STREAM FULL) and newer commands (XAUTOCLAIM,
XGROUP CREATECONSUMER). Entries are ``(id, {field: value})`` tuples; XREAD and
XREADGROUP return ``[[stream, [entries]], ...]`` as redis-py does on RESP2. Reading
several streams at once needs them all in one slot (use hash tags).

Nothing here does I/O beyond ``execute_command``.
"""

from ._util import DataError, bool_ok, pairs_to_dict


# ---------------------------------------------------------------- reply parsers


def parse_stream_list(response, **options):
    """[[id, [f1, v1, ...]], ...] -> [(id, {f1: v1, ...}), ...]; an entry
    without fields ([id, nil]: deleted while pending) gives (id, {}), a nil
    entry (None, None), as redis-py."""
    if response is None:
        return None
    out = []
    for entry in response:
        if entry is None:
            out.append((None, None))
        else:
            out.append((entry[0], pairs_to_dict(entry[1])))
    return out


def parse_xread(response, **options):
    """[[stream, [(id, fields), ...]], ...]; [] on timeout."""
    if response is None:
        return []
    return [[stream, parse_stream_list(entries)] for stream, entries in response]


def parse_xclaim(response, parse_justid=False, **options):
    if parse_justid:
        return response
    return parse_stream_list(response)


def parse_xautoclaim(response, parse_justid=False, **options):
    """[next_start_id, [(id, fields), ...], [deleted ids]]; only the claimed
    ids with ``justid``."""
    if parse_justid:
        return response[1]
    response[1] = parse_stream_list(response[1])
    return response


def _str_keys(flat):
    return pairs_to_dict(flat, decode_keys=True)


def parse_list_of_dicts(response, **options):
    return [_str_keys(item) for item in response]


def _entry(entry):
    if entry is None:
        return None
    return (entry[0], pairs_to_dict(entry[1]))


def parse_xinfo_stream(response, full=False, **options):
    """A dict with str keys. Summary: ``first-entry``/``last-entry`` as (id,
    fields). ``full``: ``entries`` as {id: fields}, ``groups`` (and their
    ``consumers``) as dicts with str keys."""
    data = _str_keys(response)
    if not full:
        for name in ("first-entry", "last-entry"):
            if name in data:
                data[name] = _entry(data[name])
        return data
    data["entries"] = {entry[0]: pairs_to_dict(entry[1]) for entry in data.get("entries") or ()}
    groups = []
    for group in data.get("groups") or ():
        group = _str_keys(group)
        if group.get("consumers"):
            group["consumers"] = [_str_keys(c) for c in group["consumers"]]
        groups.append(group)
    data["groups"] = groups
    return data


def parse_xpending(response, parse_detail=False, **options):
    """Summary: {'pending', 'min', 'max', 'consumers': [{'name', 'pending'}]};
    with ``parse_detail`` (XPENDING with a range) a list of dicts."""
    if parse_detail:
        return parse_xpending_range(response)
    consumers = [{"name": name, "pending": int(count)} for name, count in response[3] or ()]
    return {"pending": response[0], "min": response[1], "max": response[2],
            "consumers": consumers}


def parse_xpending_range(response, **options):
    names = ("message_id", "consumer", "time_since_delivered", "times_delivered")
    return [dict(zip(names, item)) for item in response]


# ---------------------------------------------------------------- commands


def _positive(value, what):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise DataError("%s must be a positive integer" % what)
    return value


def _non_negative(value, what):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise DataError("%s must be a non-negative integer" % what)
    return value


def _streams_args(streams, command):
    if not isinstance(streams, dict) or not streams:
        raise DataError("%s streams must be a non empty dict" % command)
    return [b"STREAMS"] + list(streams.keys()) + list(streams.values())


def _trim_args(maxlen, minid, approximate, limit, command):
    """[MAXLEN|MINID [~] threshold [LIMIT n]]"""
    if maxlen is not None and minid is not None:
        raise DataError("Only one of ``maxlen`` or ``minid`` may be specified")
    if maxlen is None and minid is None:
        if limit is not None:
            raise DataError("%s ``limit`` needs ``maxlen`` or ``minid``" % command)
        return []
    if maxlen is not None:
        pieces = [b"MAXLEN"]
        threshold = _non_negative(maxlen, "%s maxlen" % command)
    else:
        pieces = [b"MINID"]
        threshold = minid
    if approximate:
        pieces.append(b"~")
    pieces.append(threshold)
    if limit is not None:
        pieces += [b"LIMIT", limit]
    return pieces


class StreamCommands:
    """Stream commands (https://redis.io/commands/?group=stream)."""

    # -- writing

    def xadd(self, name, fields, id="*", maxlen=None, approximate=True, nomkstream=False,
             minid=None, limit=None):
        """Append an entry (``fields``: a non-empty dict) to the stream ``name``;
        returns its id.

        ``id``: explicit id (default ``*``: generated). ``maxlen`` / ``minid``
        (one of them): trim the stream to that length / drop ids below it, by
        about that much when ``approximate``; ``limit``: at most that many
        entries evicted. ``nomkstream``: do not create a missing stream (the
        reply is then None). https://redis.io/commands/xadd"""
        pieces = []
        if nomkstream:
            pieces.append(b"NOMKSTREAM")
        pieces += _trim_args(maxlen, minid, approximate, limit, "XADD")
        pieces.append(id)
        if not isinstance(fields, dict) or not fields:
            raise DataError("XADD fields must be a non-empty dict")
        for field, value in fields.items():
            pieces += [field, value]
        return self.execute_command("XADD", name, *pieces)

    def xtrim(self, name, maxlen=None, approximate=True, minid=None, limit=None):
        """Trim the stream to ``maxlen`` entries or drop ids below ``minid`` (one
        of them), by about that much when ``approximate``; ``limit``: at most
        that many evicted. Returns how many entries were removed.
        https://redis.io/commands/xtrim"""
        if maxlen is None and minid is None:
            raise DataError("One of ``maxlen`` or ``minid`` must be specified")
        return self.execute_command("XTRIM", name,
                                    *_trim_args(maxlen, minid, approximate, limit, "XTRIM"))

    def xdel(self, name, *ids):
        """Delete entries by id; returns how many existed. https://redis.io/commands/xdel"""
        return self.execute_command("XDEL", name, *ids)

    # -- reading

    def xlen(self, name):
        """Number of entries of the stream. https://redis.io/commands/xlen"""
        return self.execute_command("XLEN", name)

    def xrange(self, name, min="-", max="+", count=None):
        """Entries with ids from ``min`` to ``max`` (``-``/``+``: the ends;
        ``(id``: exclusive), at most ``count``: [(id, {field: value}), ...].
        https://redis.io/commands/xrange"""
        pieces = [min, max]
        if count is not None:
            pieces += [b"COUNT", _positive(count, "XRANGE count")]
        return self.execute_command("XRANGE", name, *pieces)

    def xrevrange(self, name, max="+", min="-", count=None):
        """``xrange`` in reverse order, from ``max`` down to ``min``.
        https://redis.io/commands/xrevrange"""
        pieces = [max, min]
        if count is not None:
            pieces += [b"COUNT", _positive(count, "XREVRANGE count")]
        return self.execute_command("XREVRANGE", name, *pieces)

    def xread(self, streams, count=None, block=None):
        """Entries after the given ids, ``streams`` being {stream: last id seen}
        (``$``: only new ones); all streams must share a slot.

        ``count``: at most that many per stream; ``block``: wait up to that many
        milliseconds (0: forever) when nothing is there yet. Returns
        [[stream, [(id, fields), ...]], ...], [] when nothing came.
        https://redis.io/commands/xread"""
        pieces = []
        if block is not None:
            pieces += [b"BLOCK", _non_negative(block, "XREAD block")]
        if count is not None:
            pieces += [b"COUNT", _positive(count, "XREAD count")]
        pieces += _streams_args(streams, "XREAD")
        self._check_one_slot_keys("XREAD", list(streams))
        return self.execute_command("XREAD", *pieces)

    def xreadgroup(self, groupname, consumername, streams, count=None, block=None, noack=False):
        """``xread`` through the consumer group ``groupname`` as ``consumername``;
        id ``>`` means never delivered to this group, others read the
        consumer's pending entries. ``noack``: do not add them to the pending
        list. https://redis.io/commands/xreadgroup"""
        pieces = [b"GROUP", groupname, consumername]
        if count is not None:
            pieces += [b"COUNT", _positive(count, "XREADGROUP count")]
        if block is not None:
            pieces += [b"BLOCK", _non_negative(block, "XREADGROUP block")]
        if noack:
            pieces.append(b"NOACK")
        pieces += _streams_args(streams, "XREADGROUP")
        self._check_one_slot_keys("XREADGROUP", list(streams))
        return self.execute_command("XREADGROUP", *pieces)

    # -- consumer groups

    def xgroup_create(self, name, groupname, id="$", mkstream=False, entries_read=None):
        """Create the consumer group ``groupname`` starting after ``id`` (``$``:
        the last entry, ``0``: everything). ``mkstream``: create the stream if
        missing; ``entries_read``: the group's entries-read counter (for lag).
        https://redis.io/commands/xgroup-create"""
        pieces = [name, groupname, id]
        if mkstream:
            pieces.append(b"MKSTREAM")
        if entries_read is not None:
            pieces += [b"ENTRIESREAD", entries_read]
        return self.execute_command("XGROUP CREATE", *pieces)

    def xgroup_createconsumer(self, name, groupname, consumername):
        """Create a consumer in the group; returns 1 if created, 0 if it existed.
        https://redis.io/commands/xgroup-createconsumer"""
        return self.execute_command("XGROUP CREATECONSUMER", name, groupname, consumername)

    def xgroup_delconsumer(self, name, groupname, consumername):
        """Delete a consumer; returns how many entries it had pending.
        https://redis.io/commands/xgroup-delconsumer"""
        return self.execute_command("XGROUP DELCONSUMER", name, groupname, consumername)

    def xgroup_destroy(self, name, groupname):
        """Destroy a consumer group; True if it existed.
        https://redis.io/commands/xgroup-destroy"""
        return self.execute_command("XGROUP DESTROY", name, groupname)

    def xgroup_setid(self, name, groupname, id, entries_read=None):
        """Set the group's last delivered id (and ``entries_read`` counter).
        https://redis.io/commands/xgroup-setid"""
        pieces = [name, groupname, id]
        if entries_read is not None:
            pieces += [b"ENTRIESREAD", entries_read]
        return self.execute_command("XGROUP SETID", *pieces)

    def xack(self, name, groupname, *ids):
        """Acknowledge entries of the group; returns how many were pending.
        https://redis.io/commands/xack"""
        return self.execute_command("XACK", name, groupname, *ids)

    def xpending(self, name, groupname):
        """Pending summary of the group: {'pending': n, 'min': id, 'max': id,
        'consumers': [{'name': ..., 'pending': n}, ...]}.
        https://redis.io/commands/xpending"""
        return self.execute_command("XPENDING", name, groupname)

    def xpending_range(self, name, groupname, min, max, count, consumername=None, idle=None):
        """Pending entries with ids in [``min``, ``max``], at most ``count``,
        optionally of one consumer and idle at least ``idle`` ms: a list of
        {'message_id', 'consumer', 'time_since_delivered', 'times_delivered'}.
        https://redis.io/commands/xpending"""
        if min is None and max is None and count is None:
            if idle is not None or consumername is not None:
                raise DataError("if XPENDING is provided with idle time or consumername,"
                                " it must be provided with min, max and count parameters")
            return self.xpending(name, groupname)
        if min is None or max is None or count is None:
            raise DataError("XPENDING must be provided with min, max and count parameters,"
                            " or none of them.")
        pieces = [name, groupname]
        if idle is not None:
            pieces += [b"IDLE", _non_negative(idle, "XPENDING idle")]
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise DataError("XPENDING count must be a integer >= 0")
        pieces += [min, max, count]
        if consumername is not None:
            pieces.append(consumername)
        return self.execute_command("XPENDING", *pieces, parse_detail=True)

    def xclaim(self, name, groupname, consumername, min_idle_time, message_ids, idle=None,
               time=None, retrycount=None, force=False, justid=False):
        """Give pending entries idle for at least ``min_idle_time`` ms to
        ``consumername``; returns the claimed entries (their ids with ``justid``).

        ``idle`` / ``time``: set the idle time (ms) / last delivery (unix ms);
        ``retrycount``: set the delivery counter; ``force``: claim ids that are
        not pending. https://redis.io/commands/xclaim"""
        _non_negative(min_idle_time, "XCLAIM min_idle_time")
        if not isinstance(message_ids, (list, tuple)) or not message_ids:
            raise DataError("XCLAIM message_ids must be a non empty list or tuple of"
                            " message IDs to claim")
        pieces = [name, groupname, consumername, min_idle_time] + list(message_ids)
        for value, token in ((idle, b"IDLE"), (time, b"TIME"), (retrycount, b"RETRYCOUNT")):
            if value is not None:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise DataError("XCLAIM %s must be an integer" % token.decode().lower())
                pieces += [token, value]
        options = {}
        if force:
            pieces.append(b"FORCE")
        if justid:
            pieces.append(b"JUSTID")
            options["parse_justid"] = True
        return self.execute_command("XCLAIM", *pieces, **options)

    def xautoclaim(self, name, groupname, consumername, min_idle_time, start_id="0-0",
                   count=None, justid=False):
        """Claim entries idle for at least ``min_idle_time`` ms, scanning from
        ``start_id`` (``count``: at most that many, server default 100).

        Returns [next start id, [(id, fields), ...], [ids deleted meanwhile]], or
        only the claimed ids with ``justid``. https://redis.io/commands/xautoclaim"""
        _non_negative(min_idle_time, "XAUTOCLAIM min_idle_time")
        pieces = [name, groupname, consumername, min_idle_time, start_id]
        if count is not None:
            pieces += [b"COUNT", _positive(count, "XAUTOCLAIM count")]
        options = {}
        if justid:
            pieces.append(b"JUSTID")
            options["parse_justid"] = True
        return self.execute_command("XAUTOCLAIM", *pieces, **options)

    # -- introspection

    def xinfo_stream(self, name, full=False):
        """Stream information (dict with str keys); ``full``: with all entries,
        groups, consumers and pending lists. https://redis.io/commands/xinfo-stream"""
        if full:
            return self.execute_command("XINFO STREAM", name, b"FULL", full=True)
        return self.execute_command("XINFO STREAM", name)

    def xinfo_groups(self, name):
        """The stream's consumer groups, one dict (str keys) each.
        https://redis.io/commands/xinfo-groups"""
        return self.execute_command("XINFO GROUPS", name)

    def xinfo_consumers(self, name, groupname):
        """The group's consumers, one dict (str keys) each.
        https://redis.io/commands/xinfo-consumers"""
        return self.execute_command("XINFO CONSUMERS", name, groupname)


#: upper-case command name -> reply parser, for the commands of this module
RESPONSE_CALLBACKS = {
    "XRANGE": parse_stream_list,
    "XREVRANGE": parse_stream_list,
    "XREAD": parse_xread,
    "XREADGROUP": parse_xread,
    "XCLAIM": parse_xclaim,
    "XAUTOCLAIM": parse_xautoclaim,
    "XGROUP CREATE": bool_ok,
    "XGROUP SETID": bool_ok,
    "XGROUP DESTROY": bool,
    "XGROUP DELCONSUMER": int,
    "XGROUP CREATECONSUMER": int,
    "XINFO STREAM": parse_xinfo_stream,
    "XINFO GROUPS": parse_list_of_dicts,
    "XINFO CONSUMERS": parse_list_of_dicts,
    "XPENDING": parse_xpending,
}
