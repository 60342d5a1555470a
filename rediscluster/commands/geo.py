"""GeoCommands: methods only shape arguments and call execute_command; reply parsers
for these commands are in RESPONSE_CALLBACKS below (merged into the one dict in
rediscluster/callbacks.py).

Signatures are current redis-py's (a superset of redis-py 3.5.3's: ``geoadd``
also takes 3.5's flat ``lon, lat, member, ...`` arguments). STORE/STOREDIST and
GEOSEARCHSTORE need the destination in the source key's slot (use hash tags).

Nothing here does I/O beyond ``execute_command``.
"""

from ._util import DataError, nativestr

_UNITS = ("m", "km", "mi", "ft")


# ---------------------------------------------------------------- reply parsers


def parse_geohash(response, **options):
    return [None if h is None else nativestr(h) for h in response]


def parse_geopos(response, **options):
    return [None if pos is None else (float(pos[0]), float(pos[1])) for pos in response]


def float_or_none(response, **options):
    return None if response is None else float(response)


def _coord(pos):
    return (float(pos[0]), float(pos[1]))


def parse_geosearch_generic(response, **options):
    """GEORADIUS / GEORADIUSBYMEMBER / GEOSEARCH replies.

    Plain members come back as a list; with WITHDIST/WITHHASH/WITHCOORD each
    place is a list [member, dist (float), hash (int), (lon, lat)] holding the
    parts asked for, in that order. With STORE/STOREDIST the count (int)."""
    if "store" not in options:
        # sent with execute_command directly: nothing to go by
        return response
    if options.get("store") or options.get("store_dist"):
        return response
    places = response if isinstance(response, list) else [response]
    casts = [cast for flag, cast in (("withdist", float), ("withhash", int), ("withcoord", _coord))
             if options.get(flag)]
    if not casts:
        return places
    casts.insert(0, lambda member: member)
    return [[cast(part) for cast, part in zip(casts, place)] for place in places]


# ---------------------------------------------------------------- commands


def _check_unit(unit, command):
    if unit and unit not in _UNITS:
        raise DataError("%s invalid unit" % command)


class GeoCommands:
    """Geospatial commands (https://redis.io/commands/?group=geo)."""

    def geoadd(self, name, values, *args, nx=False, xx=False, ch=False):
        """Add places to the geo set ``name``; returns how many were added (or
        changed, with ``ch``).

        ``values``: a sequence ``[lon1, lat1, member1, lon2, ...]`` (current
        redis-py; ``nx, xx, ch`` may follow it positionally), or redis-py 3.5's
        form, the same items as separate arguments (``geoadd(name, lon, lat,
        member, ...)``). ``nx``: only add new places; ``xx``: only update
        existing ones; ``ch``: count changed places too.
        https://redis.io/commands/geoadd"""
        if isinstance(values, (list, tuple)):
            if len(args) > 3:
                raise DataError("GEOADD takes values, nx, xx, ch")
            nx, xx, ch = tuple(args) + (nx, xx, ch)[len(args):]
        else:
            values = (values,) + args
        if nx and xx:
            raise DataError("GEOADD allows either 'nx' or 'xx', not both")
        if not values or len(values) % 3 != 0:
            raise DataError("GEOADD requires places with lon, lat and name values")
        pieces = [name]
        if nx:
            pieces.append(b"NX")
        if xx:
            pieces.append(b"XX")
        if ch:
            pieces.append(b"CH")
        pieces.extend(values)
        return self.execute_command("GEOADD", *pieces)

    def geodist(self, name, place1, place2, unit=None):
        """Distance between two members (float, in ``unit``: m (default), km,
        mi, ft), or None if one is missing. https://redis.io/commands/geodist"""
        _check_unit(unit, "GEODIST")
        pieces = [name, place1, place2]
        if unit:
            pieces.append(unit)
        return self.execute_command("GEODIST", *pieces)

    def geohash(self, name, *values):
        """11-character geohash strings (str) of the members, None for missing
        ones. https://redis.io/commands/geohash"""
        return self.execute_command("GEOHASH", name, *values)

    def geopos(self, name, *values):
        """Positions of the members: (longitude, latitude) float tuples, None for
        missing ones. https://redis.io/commands/geopos"""
        return self.execute_command("GEOPOS", name, *values)

    def georadius(self, name, longitude, latitude, radius, unit=None, withdist=False,
                  withcoord=False, withhash=False, count=None, sort=None, store=None,
                  store_dist=None, any=False):
        """Members within ``radius`` of (``longitude``, ``latitude``).

        ``unit``: m (default), km, mi, ft. ``withdist``/``withhash``/``withcoord``:
        each place becomes [member, dist, hash, (lon, lat)] (the parts asked for).
        ``count``: at most that many (``any``: the first found, not the nearest);
        ``sort``: ASC or DESC. ``store``/``store_dist``: save the members into that
        sorted set (score: geohash / distance) and return their number.
        https://redis.io/commands/georadius"""
        return self._georadiusgeneric("GEORADIUS", name, longitude, latitude, radius,
                                      unit=unit, withdist=withdist, withcoord=withcoord,
                                      withhash=withhash, count=count, sort=sort, store=store,
                                      store_dist=store_dist, any=any)

    def georadiusbymember(self, name, member, radius, unit=None, withdist=False,
                          withcoord=False, withhash=False, count=None, sort=None, store=None,
                          store_dist=None, any=False):
        """``georadius`` around the position of ``member``.
        https://redis.io/commands/georadiusbymember"""
        return self._georadiusgeneric("GEORADIUSBYMEMBER", name, member, radius,
                                      unit=unit, withdist=withdist, withcoord=withcoord,
                                      withhash=withhash, count=count, sort=sort, store=store,
                                      store_dist=store_dist, any=any)

    def _georadiusgeneric(self, command, *args, **kwargs):
        pieces = list(args)
        _check_unit(kwargs["unit"], "GEORADIUS")
        pieces.append(kwargs["unit"] or "m")
        if kwargs["any"] and kwargs["count"] is None:
            raise DataError("``any`` can't be provided without ``count``")
        for flag, token in (("withdist", b"WITHDIST"), ("withcoord", b"WITHCOORD"),
                            ("withhash", b"WITHHASH")):
            if kwargs[flag]:
                pieces.append(token)
        if kwargs["count"] is not None:
            pieces += [b"COUNT", kwargs["count"]]
            if kwargs["any"]:
                pieces.append(b"ANY")
        if kwargs["sort"]:
            if kwargs["sort"] not in ("ASC", "DESC"):
                raise DataError("GEORADIUS invalid sort")
            pieces.append(kwargs["sort"].encode())
        if kwargs["store"] and kwargs["store_dist"]:
            raise DataError("GEORADIUS store and store_dist can't be set together")
        if kwargs["store"]:
            pieces += [b"STORE", kwargs["store"]]
        if kwargs["store_dist"]:
            pieces += [b"STOREDIST", kwargs["store_dist"]]
        return self.execute_command(command, *pieces, **kwargs)

    def geosearch(self, name, member=None, longitude=None, latitude=None, unit="m",
                  radius=None, width=None, height=None, sort=None, count=None, any=False,
                  withcoord=False, withdist=False, withhash=False):
        """Members inside a circle (``radius``) or a box (``width`` x ``height``)
        centred on ``member`` or on (``longitude``, ``latitude``).

        ``unit``: m (default), km, mi, ft. ``sort``: ASC or DESC; ``count`` (with
        ``any``: the first found); ``withdist``/``withhash``/``withcoord`` as in
        ``georadius``. https://redis.io/commands/geosearch"""
        return self._geosearchgeneric("GEOSEARCH", name, member=member, longitude=longitude,
                                      latitude=latitude, unit=unit, radius=radius,
                                      width=width, height=height, sort=sort, count=count,
                                      any=any, withcoord=withcoord, withdist=withdist,
                                      withhash=withhash, store=None, store_dist=None)

    def geosearchstore(self, dest, name, member=None, longitude=None, latitude=None,
                       unit="m", radius=None, width=None, height=None, sort=None, count=None,
                       any=False, storedist=False):
        """Store what ``geosearch`` finds into ``dest`` (score: geohash, or the
        distance with ``storedist``); returns the number stored.
        https://redis.io/commands/geosearchstore"""
        return self._geosearchgeneric("GEOSEARCHSTORE", dest, name, member=member,
                                      longitude=longitude, latitude=latitude, unit=unit,
                                      radius=radius, width=width, height=height, sort=sort,
                                      count=count, any=any, withcoord=None, withdist=None,
                                      withhash=None, store=None, store_dist=storedist)

    def _geosearchgeneric(self, command, *args, **kwargs):
        pieces = list(args)
        member, lon, lat = kwargs["member"], kwargs["longitude"], kwargs["latitude"]
        if member is None:
            if lon is None or lat is None:
                raise DataError("GEOSEARCH must have member or longitude and latitude")
            pieces += [b"FROMLONLAT", lon, lat]
        else:
            if lon is not None or lat is not None:
                raise DataError("GEOSEARCH member and longitude or latitude can't be set together")
            pieces += [b"FROMMEMBER", member]

        radius, width, height, unit = (kwargs["radius"], kwargs["width"], kwargs["height"],
                                       kwargs["unit"])
        if unit is None:
            raise DataError("GEOSEARCH must have unit")
        if str(unit).lower() not in _UNITS:
            raise DataError("GEOSEARCH invalid unit")
        if radius is None:
            if width is None or height is None:
                raise DataError("GEOSEARCH must have radius or width and height")
            pieces += [b"BYBOX", width, height, unit]
        else:
            if width is not None or height is not None:
                raise DataError("GEOSEARCH radius and width or height can't be set together")
            pieces += [b"BYRADIUS", radius, unit]

        sort = kwargs["sort"]
        if sort:
            if str(sort).upper() not in ("ASC", "DESC"):
                raise DataError("GEOSEARCH invalid sort")
            pieces.append(str(sort).upper().encode())
        if kwargs["count"]:
            pieces += [b"COUNT", kwargs["count"]]
            if kwargs["any"]:
                pieces.append(b"ANY")
        elif kwargs["any"]:
            raise DataError("GEOSEARCH ``any`` can't be provided without count")
        for flag, token in (("withdist", b"WITHDIST"), ("withcoord", b"WITHCOORD"),
                            ("withhash", b"WITHHASH"), ("store_dist", b"STOREDIST")):
            if kwargs[flag]:
                pieces.append(token)
        if command == "GEOSEARCHSTORE":
            return self.execute_command(command, *pieces)
        return self.execute_command(command, *pieces, **kwargs)


#: upper-case command name -> reply parser, for the commands of this module
RESPONSE_CALLBACKS = {
    "GEOADD": int,
    "GEODIST": float_or_none,
    "GEOHASH": parse_geohash,
    "GEOPOS": parse_geopos,
    "GEORADIUS": parse_geosearch_generic,
    "GEORADIUSBYMEMBER": parse_geosearch_generic,
    "GEOSEARCH": parse_geosearch_generic,
}
