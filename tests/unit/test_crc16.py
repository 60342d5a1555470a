"""CRC16/XMODEM and the cluster key-slot rule of ``rediscluster._core``.

``_core.crc16`` is checked against ``binascii.crc_hqx`` (the same CRC: CCITT
polynomial 0x1021, initial value 0, no reflection) and ``_core.key_slot`` against
the values of the API reference (section 7) and a pure-Python implementation of
the hash-tag rule of the cluster spec, written here.
"""

import binascii
import random

import pytest

from rediscluster import _core
from rediscluster.exceptions import DataError

SLOTS = 16384


def reference_slot(key):
    """The cluster spec's rule: hash the part between the first '{' and the first
    '}' after it, if that part is not empty; otherwise hash the whole key."""
    start = key.find(b"{")
    if start > -1:
        end = key.find(b"}", start + 1)
        if end > -1 and end != start + 1:
            key = key[start + 1 : end]
    return binascii.crc_hqx(key, 0) % SLOTS


# ---------------------------------------------------------------- crc16


def test_check_value():
    # The catalogued check value of CRC-16/XMODEM.
    assert _core.crc16(b"123456789") == 0x31C3


def test_empty_and_single_bytes():
    assert _core.crc16(b"") == 0
    for b in range(256):
        data = bytes([b])
        assert _core.crc16(data) == binascii.crc_hqx(data, 0), b


@pytest.mark.parametrize(
    "size", [2, 3, 7, 8, 9, 15, 16, 17, 255, 256, 1000, 4096, 65536]
)
def test_random_inputs(size):
    rnd = random.Random(size)
    for _ in range(20 if size < 4096 else 3):
        data = bytes(rnd.getrandbits(8) for _ in range(size))
        assert _core.crc16(data) == binascii.crc_hqx(data, 0)


def test_64k_of_one_byte_value():
    for b in (0x00, 0xFF, 0x5A):
        data = bytes([b]) * 65536
        assert _core.crc16(data) == binascii.crc_hqx(data, 0)


def test_buffer_protocol_inputs():
    data = b"hello world"
    expected = binascii.crc_hqx(data, 0)
    assert _core.crc16(bytearray(data)) == expected
    assert _core.crc16(memoryview(data)) == expected


def test_result_is_16_bits():
    rnd = random.Random(7)
    for _ in range(200):
        value = _core.crc16(rnd.randbytes(rnd.randrange(1, 64)))
        assert 0 <= value <= 0xFFFF


@pytest.mark.parametrize("bad", ["123456789", 123, None])
def test_crc16_needs_a_buffer(bad):
    with pytest.raises(TypeError):
        _core.crc16(bad)


# ---------------------------------------------------------------- key slots

KNOWN_SLOTS = [
    ("foo", 12182),
    ("{foo}bar", 12182),
    ("{foo}", 12182),
    (b"foo", 12182),
    (1337, 4314),
    ("foo16706", 4193),
    ("foo87", 9399),
    ("foo88", 5464),
    ("a", 15495),
    ("b", 3300),
    ("G0B96", 0),
    ("TEFX5", 0),
    ("GQ5KU", 0),
    ("60ZE7", 0),
    ("0J8KD", 16299),
    ("822JO", 16299),
    ("foo{}bar", 14292),
]


@pytest.mark.parametrize("key,slot", KNOWN_SLOTS, ids=[repr(k) for k, _ in KNOWN_SLOTS])
def test_known_slots(key, slot):
    assert _core.key_slot(key) == slot


def test_int_key_equals_its_decimal_bytes():
    assert _core.key_slot(125) == _core.key_slot(b"125") == _core.key_slot("125")
    assert _core.key_slot(-7) == _core.key_slot(b"-7")
    assert _core.key_slot(0) == _core.key_slot(b"0")
    big = 2**70
    assert _core.key_slot(big) == _core.key_slot(str(big).encode())


@pytest.mark.parametrize("value", [1.5, 0.1, -0.0, 1e100, 3.0, float("inf")])
def test_float_key_is_its_repr(value):
    assert _core.key_slot(value) == _core.key_slot(repr(value).encode())


def test_non_ascii_key_is_utf8():
    assert _core.key_slot("大奖") == _core.key_slot(b"\xe5\xa4\xa7\xe5\xa5\x96")
    assert _core.key_slot("{大}x") == _core.key_slot("{大}y")


def test_memoryview_key():
    assert _core.key_slot(memoryview(b"{foo}bar")) == 12182


HASH_TAG_CASES = [
    b"{a}{b}",  # the first tag wins
    b"{a}{b}c",
    b"foo{{bar}}zap",  # hashes "{bar"
    b"{}foo",  # empty tag: the whole key
    b"foo{}",
    b"{}",
    b"{",  # unclosed
    b"foo{bar",
    b"}{",  # '}' before '{' does not close it
    b"}foo{bar",
    b"foo}bar{zap}",
    b"foobar{zap}",  # tag at the end
    b"{zap}",
    b"{{}}",
    b"{{}",
    b"}",
    b"",
    b"{a",
    b"a{b}c{d}e",
    b"{\x00}\xff",
    b"user:{1000}:following",
]


@pytest.mark.parametrize("key", HASH_TAG_CASES, ids=[repr(k) for k in HASH_TAG_CASES])
def test_hash_tags(key):
    assert _core.key_slot(key) == reference_slot(key)


def test_hash_tag_equivalences():
    assert _core.key_slot(b"foo{{bar}}zap") == binascii.crc_hqx(b"{bar", 0) % SLOTS
    assert _core.key_slot(b"{a}{b}") == _core.key_slot(b"a")
    assert _core.key_slot(b"{}foo") == binascii.crc_hqx(b"{}foo", 0) % SLOTS
    assert _core.key_slot(b"foo{bar") == binascii.crc_hqx(b"foo{bar", 0) % SLOTS
    assert _core.key_slot(b"}{") == binascii.crc_hqx(b"}{", 0) % SLOTS
    assert _core.key_slot(b"foobar{zap}") == _core.key_slot(b"zap")


def test_random_keys_with_braces():
    rnd = random.Random(42)
    alphabet = b"{}ab\x00\xff"
    for _ in range(5000):
        key = bytes(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 12)))
        assert _core.key_slot(key) == reference_slot(key), key


def test_random_keys_without_braces():
    rnd = random.Random(43)
    for _ in range(2000):
        key = rnd.randbytes(rnd.randrange(0, 40)).replace(b"{", b"").replace(b"}", b"")
        assert _core.key_slot(key) == binascii.crc_hqx(key, 0) % SLOTS


@pytest.mark.parametrize(
    "key,typename",
    [
        (True, "bool"),
        (False, "bool"),
        (None, "NoneType"),
        ({}, "dict"),
        ([], "list"),
        (object(), "object"),
    ],
    ids=["True", "False", "None", "dict", "list", "object"],
)
def test_bad_key_types(key, typename):
    with pytest.raises(DataError) as info:
        _core.key_slot(key)
    assert str(info.value) == (
        "Invalid input of type: '%s'. Convert to a bytes, string, int or float first."
        % typename
    )


def test_key_with_a_lone_surrogate():
    with pytest.raises(UnicodeEncodeError):
        _core.key_slot("\udcff")


# ---------------------------------------------------------------- through the client


def _client(**kwargs):
    from rediscluster import RedisCluster

    # Port 1: nothing listens; init_slot_cache=False never connects.
    return RedisCluster(
        startup_nodes=[{"host": "127.0.0.1", "port": 1}],
        init_slot_cache=False,
        **kwargs,
    )


@pytest.mark.parametrize("key,slot", KNOWN_SLOTS, ids=[repr(k) for k, _ in KNOWN_SLOTS])
def test_client_keyslot(key, slot):
    rc = _client()
    assert rc.connection_pool.keyslot(key) == slot
    assert rc.keyslot(key) == slot
    assert rc.connection_pool.nodes.keyslot(key) == slot


def test_client_keyslot_uses_the_client_encoding():
    assert _client().keyslot("é") == _core.key_slot(b"\xc3\xa9")
    assert _client(encoding="latin-1").keyslot("é") == _core.key_slot(b"\xe9")


def test_client_keyslot_bad_type():
    with pytest.raises(DataError, match="'NoneType'"):
        _client().connection_pool.keyslot(None)
