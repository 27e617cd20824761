"""Bit-packed EXI streams: n-bit unsigned integers, EXI unsigned integers, octets."""
from __future__ import annotations

from .errors import ExiDecodeError

# An EXI unsigned integer longer than this is not from a V2G message (uint64 fits in 10 octets).
MAX_UINT_OCTETS = 24


class BitWriter:
    """Writes bits most-significant first; ``getvalue`` pads the last octet with zeros."""

    __slots__ = ('_out', '_acc', '_bits')

    def __init__(self) -> None:
        self._out = bytearray()
        self._acc = 0
        self._bits = 0

    def write(self, value: int, nbits: int) -> None:
        acc = (self._acc << nbits) | value
        bits = self._bits + nbits
        if bits >= 64:
            keep = bits & 7
            self._out += (acc >> keep).to_bytes((bits - keep) >> 3, 'big')
            acc &= (1 << keep) - 1
            bits = keep
        self._acc = acc
        self._bits = bits

    def write_uint(self, value: int) -> None:
        """EXI unsigned integer: 7-bit groups, least significant first, high bit = more."""
        while value > 127:
            self.write((value & 127) | 128, 8)
            value >>= 7
        self.write(value, 8)

    def write_int(self, value: int) -> None:
        """EXI integer: a sign bit, then the magnitude (minus one when negative)."""
        if value < 0:
            self.write(1, 1)
            self.write_uint(-value - 1)
        else:
            self.write(0, 1)
            self.write_uint(value)

    def write_bytes(self, data: bytes) -> None:
        if self._bits & 7 == 0:
            self._flush_octets()
            self._out += data
        elif data:
            self.write(int.from_bytes(data, 'big'), 8 * len(data))

    def _flush_octets(self) -> None:
        if self._bits:
            self._out += self._acc.to_bytes(self._bits >> 3, 'big')
            self._acc = 0
            self._bits = 0

    def getvalue(self) -> bytes:
        pad = -self._bits & 7
        acc = self._acc << pad
        return bytes(self._out) + acc.to_bytes((self._bits + pad) >> 3, 'big')


class BitReader:
    """Reads what BitWriter writes; reading past the end raises ExiDecodeError.

    The stream is held as one integer: a read is a shift and a mask (V2G messages are small).
    """

    __slots__ = ('_data', '_value', '_pos', '_end')

    def __init__(self, data: bytes, start_bit: int = 0) -> None:
        self._data = bytes(data)
        self._value = int.from_bytes(self._data, 'big')
        self._pos = start_bit
        self._end = len(self._data) * 8

    @property
    def position(self) -> int:
        return self._pos

    def read(self, nbits: int) -> int:
        end = self._pos + nbits
        if end > self._end:
            raise ExiDecodeError(f'stream ends at bit {self._end}, {nbits} more bits needed')
        self._pos = end
        return (self._value >> (self._end - end)) & ((1 << nbits) - 1)

    def read_uint(self) -> int:
        octet = self.read(8)
        if octet < 128:
            return octet
        value = octet & 127
        shift = 7
        for _ in range(MAX_UINT_OCTETS - 1):
            octet = self.read(8)
            value |= (octet & 127) << shift
            if octet < 128:
                return value
            shift += 7
        raise ExiDecodeError(f'unsigned integer longer than {MAX_UINT_OCTETS} octets')

    def read_int(self) -> int:
        if self.read(1):
            return -self.read_uint() - 1
        return self.read_uint()

    def read_bytes(self, count: int) -> bytes:
        if self._pos + 8 * count > self._end:
            raise ExiDecodeError(f'stream ends before {count} octets of binary data')
        if self._pos & 7 == 0:
            start = self._pos >> 3
            self._pos += 8 * count
            return self._data[start:start + count]
        return self.read(8 * count).to_bytes(count, 'big') if count else b''

    def peek_ascii(self, count: int) -> str | None:
        """`count` characters that are all ASCII (one octet each, below 128), read; else None
        and nothing read."""
        end = self._pos + 8 * count
        if end > self._end:
            return None
        octets = ((self._value >> (self._end - end)) & ((1 << (8 * count)) - 1)).to_bytes(
            count, 'big')
        if not octets.isascii():
            return None
        self._pos = end
        return octets.decode('ascii')

    def remaining_bits(self) -> int:
        return self._end - self._pos

    def padding(self) -> int | None:
        """The bits left when fewer than 8, as a number (bit-packed EXI pads the last octet,
        with zeros), else None."""
        rest = self._end - self._pos
        if rest >= 8:
            return None
        return self._data[-1] & ((1 << rest) - 1) if rest else 0
