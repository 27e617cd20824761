"""EXI value encodings (EXI 1.0 section 7) of the XML Schema simple types the V2G schemas use.

Values are in the JSON form the ``iso15118`` package exchanges with its codec: integers and
booleans as JSON numbers and booleans, hexBinary as upper-case hex, base64Binary as base64,
enumerations and strings as strings. String values are always literals: the V2G profile of
EXIficient sets valuePartitionCapacity to 0, so the value string table is never used.
"""
from __future__ import annotations

import base64
import binascii

from .bitstream import BitReader, BitWriter
from .errors import ExiDecodeError, ExiEncodeError


class Datatype:
    """Encodes one JSON value into the stream and decodes it back.

    ``kind`` and ``parameters()`` are its plain-data form in the grammar files:
    ``[kind, *parameters]`` rebuilds it with ``KINDS[kind](*parameters)``.
    """

    __slots__ = ()
    kind = ''
    name = 'value'
    empty_is_end = False  # '' is written as no characters at all (strings, binary)

    def parameters(self) -> list:
        return [getattr(self, slot) for slot in self.__slots__]

    def encode(self, w: BitWriter, value) -> None:
        raise NotImplementedError

    def decode(self, r: BitReader):
        raise NotImplementedError


class BooleanType(Datatype):
    __slots__ = ()
    kind = 'boolean'
    name = 'boolean'

    def encode(self, w, value):
        if value is True:
            w.write(1, 1)
        elif value is False:
            w.write(0, 1)
        else:
            raise ExiEncodeError(f'expected a boolean, got {value!r}')

    def decode(self, r):
        return r.read(1) == 1


def _check_int(value, low, high):
    if type(value) is not int:
        raise ExiEncodeError(f'expected an integer, got {value!r}')
    if (low is not None and value < low) or (high is not None and value > high):
        raise ExiEncodeError(f'{value} is outside [{low}, {high}]')


class NBitIntegerType(Datatype):
    """A bounded range of at most 4096 values: value minus the lower bound in n bits."""

    __slots__ = ('low', 'high', 'bits')
    kind = 'nbit'
    name = 'n-bit integer'

    def __init__(self, low: int, high: int):
        self.low = low
        self.high = high
        self.bits = (high - low).bit_length()

    def parameters(self):
        return [self.low, self.high]

    def encode(self, w, value):
        if type(value) is not int or value < self.low or value > self.high:
            _check_int(value, self.low, self.high)
        w.write(value - self.low, self.bits)

    def decode(self, r):
        value = r.read(self.bits) + self.low
        if value > self.high:
            raise ExiDecodeError(f'{value} is above the upper bound {self.high}')
        return value


class UnsignedIntegerType(Datatype):
    __slots__ = ('high',)
    kind = 'uint'
    name = 'unsigned integer'

    def __init__(self, high):
        self.high = high

    def encode(self, w, value):
        if type(value) is not int or value < 0 or (self.high is not None and value > self.high):
            _check_int(value, 0, self.high)
        w.write_uint(value)

    def decode(self, r):
        value = r.read_uint()
        if self.high is not None and value > self.high:
            raise ExiDecodeError(f'{value} is above the upper bound {self.high}')
        return value


class IntegerType(Datatype):
    __slots__ = ('low', 'high')
    kind = 'int'
    name = 'integer'

    def __init__(self, low, high):
        self.low = low
        self.high = high

    def encode(self, w, value):
        if (type(value) is not int or (self.low is not None and value < self.low)
                or (self.high is not None and value > self.high)):
            _check_int(value, self.low, self.high)
        w.write_int(value)

    def decode(self, r):
        value = r.read_int()
        if (self.low is not None and value < self.low) or (
                self.high is not None and value > self.high):
            raise ExiDecodeError(f'{value} is outside [{self.low}, {self.high}]')
        return value


def _check_length(length, min_length, max_length, what):
    if (min_length is not None and length < min_length) or (
            max_length is not None and length > max_length):
        raise ExiEncodeError(f'{what} of length {length} is outside [{min_length}, {max_length}]')


def _check_decoded_length(length, min_length, max_length, what):
    if (min_length is not None and length < min_length) or (
            max_length is not None and length > max_length):
        raise ExiDecodeError(f'{what} of length {length} is outside [{min_length}, {max_length}]')


class StringType(Datatype):
    """A string literal: length + 2, then each code point as an unsigned integer."""

    __slots__ = ('min_length', 'max_length')
    kind = 'string'
    name = 'string'
    empty_is_end = True

    def __init__(self, min_length=None, max_length=None):
        self.min_length = min_length
        self.max_length = max_length

    def encode(self, w, value):
        if type(value) is not str:
            raise ExiEncodeError(f'expected a string, got {value!r}')
        if self.min_length is not None or self.max_length is not None:
            _check_length(len(value), self.min_length, self.max_length, 'string')
        w.write_uint(len(value) + 2)
        if value.isascii():  # every code point < 128 is one octet: all of them at once
            w.write_bytes(value.encode('ascii'))
            return
        write = w.write
        write_uint = w.write_uint
        for char in value:
            point = ord(char)
            if point < 128:
                write(point, 8)
            else:
                write_uint(point)

    def decode(self, r):
        length = r.read_uint()
        if length < 2:
            raise ExiDecodeError('string table reference, but the value string table is off')
        length -= 2
        if length * 8 > r.remaining_bits():
            raise ExiDecodeError(f'string of {length} characters is longer than the stream')
        _check_decoded_length(length, self.min_length, self.max_length, 'string')
        ascii_text = r.peek_ascii(length)
        if ascii_text is not None:
            return ascii_text
        try:
            return ''.join([chr(r.read_uint()) for _ in range(length)])
        except (ValueError, OverflowError) as exc:
            raise ExiDecodeError(f'invalid character in string: {exc}') from None


class BinaryType(Datatype):
    """hexBinary or base64Binary: length, then the octets."""

    __slots__ = ('hex', 'min_length', 'max_length')
    kind = 'binary'
    empty_is_end = True

    def __init__(self, hex_form: bool, min_length=None, max_length=None):
        self.hex = hex_form
        self.min_length = min_length
        self.max_length = max_length

    @property
    def name(self):
        return 'hexBinary' if self.hex else 'base64Binary'

    def encode(self, w, value):
        if type(value) is not str:
            raise ExiEncodeError(f'expected a {self.name} string, got {value!r}')
        try:
            data = bytes.fromhex(value) if self.hex else base64.b64decode(value, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise ExiEncodeError(f'invalid {self.name} {value!r}: {exc}') from None
        if self.min_length is not None or self.max_length is not None:
            _check_length(len(data), self.min_length, self.max_length, self.name)
        w.write_uint(len(data))
        w.write_bytes(data)

    def decode(self, r):
        data = r.read_bytes(r.read_uint())
        _check_decoded_length(len(data), self.min_length, self.max_length, self.name)
        if self.hex:
            return data.hex().upper()
        return base64.b64encode(data).decode('ascii')


class EnumerationType(Datatype):
    """The index of the value in the enumeration facet, in n bits."""

    __slots__ = ('values', 'index', 'bits')
    kind = 'enum'
    name = 'enumeration'

    def __init__(self, values):
        self.values = tuple(values)
        self.index = {value: i for i, value in enumerate(self.values)}
        self.bits = (len(self.values) - 1).bit_length()

    def parameters(self):
        return [list(self.values)]

    def encode(self, w, value):
        try:
            w.write(self.index[value], self.bits)
        except (KeyError, TypeError):
            raise ExiEncodeError(f'{value!r} is not one of {list(self.values)}') from None

    def decode(self, r):
        index = r.read(self.bits)
        if index >= len(self.values):
            raise ExiDecodeError(f'enumeration index {index} of {len(self.values)} values')
        return self.values[index]


KINDS = {datatype.kind: datatype for datatype in (
    BooleanType, NBitIntegerType, UnsignedIntegerType, IntegerType, StringType, BinaryType,
    EnumerationType)}


def datatype_from_data(data: list) -> Datatype:
    kind, *parameters = data
    return KINDS[kind](*parameters)


UNTYPED = StringType()
