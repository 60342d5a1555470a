"""2.1.3's ``rediscluster.crc``: CRC-16/XMODEM, the hash of cluster key slots
(computed in C; the table is here for code that reads it)."""

from . import _core

__all__ = ["crc16", "x_mode_m_crc16_lookup"]


def _table():
    out = []
    for i in range(256):
        crc = i << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        out.append(crc & 0xFFFF)
    return out


#: CRC-16/XMODEM lookup table (polynomial 0x1021)
x_mode_m_crc16_lookup = _table()


def crc16(data):
    """CRC-16/XMODEM of ``data`` (bytes; str is encoded as UTF-8)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return _core.crc16(data)
