"""HyperLogLog commands with one key (rediscluster/commands/hyperloglog.py) on
the real cluster. PFCOUNT / PFMERGE across slots are tested with the multi-key
commands."""

import pytest

from rediscluster.exceptions import ResponseError

from rcit import MASTERS, NSLOTS, key_for_slot

pytestmark = pytest.mark.usefixtures("flush")

SLOTS = [NSLOTS // MASTERS * i + 13 for i in range(MASTERS)]


@pytest.mark.parametrize("slot", SLOTS)
def test_pfadd(rc, rc_decoded, slot):
    key = key_for_slot(slot, "hll")
    assert rc.pfadd(key, "a", "b", "c") == 1
    assert rc.pfadd(key, "a", "b") == 0
    assert rc_decoded.pfadd(key, "d") == 1
    assert rc.execute_command("PFCOUNT", key) == 4
    assert rc.type(key) == b"string"


def test_pfadd_no_values_and_binary(rc):
    key = "rcit:{hll}:empty"
    assert rc.pfadd(key) == 1  # creates an empty HyperLogLog
    assert rc.pfadd(key) == 0
    assert rc.pfadd(key, b"\x00\xff", b"\xfe", 1, 2.5) == 1
    assert rc.execute_command("PFCOUNT", key) == 4
    assert rc.pfadd(b"rcit:{\xff}:hll", b"\x80") == 1


def test_pfadd_wrong_type(rc):
    key = "rcit:{hll}:str"
    rc.set(key, "not a hyperloglog")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        rc.pfadd(key, "a")
