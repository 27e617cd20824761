"""V2G Transfer Protocol framing (ISO 15118-2 7.8.3, DIN SPEC 70121 8.3, ISO 15118-20 Table 12).

Every message on the TCP/TLS connection and every SDP datagram is an 8-byte header (version,
inverse version, payload type, payload length) followed by exactly that many payload bytes.
"""
from __future__ import annotations

import asyncio
import enum
import struct
from typing import NamedTuple

VERSION = 0x01
HEADER = struct.Struct('>BBHI')
HEADER_LENGTH = HEADER.size
# Largest payload the EV accepts. The biggest V2G messages (certificate installation and
# update responses with full chains) stay well below this.
MAX_PAYLOAD_LENGTH = 64 * 1024


class PayloadType(enum.IntEnum):
    EXI = 0x8001                 # SupportedAppProtocol, DIN 70121 and ISO 15118-2 messages
    ISO20_MAIN = 0x8002          # ISO 15118-20 CommonMessages
    ISO20_AC = 0x8003
    ISO20_DC = 0x8004
    ISO20_ACDP = 0x8005
    ISO20_WPT = 0x8006
    ISO20_SCHEDULE_RENEGOTIATION = 0x8101
    ISO20_METERING_CONFIRMATION = 0x8102
    ISO20_ACDP_SYSTEM_STATUS = 0x8103
    ISO20_PARKING_STATUS = 0x8104
    SDP_REQUEST = 0x9000
    SDP_RESPONSE = 0x9001


class FramingError(Exception):
    """The bytes on the wire are no valid V2GTP message; the message says what is wrong."""


class Frame(NamedTuple):
    payload_type: int
    payload: bytes


def frame(payload_type: int, payload: bytes) -> bytes:
    return HEADER.pack(VERSION, VERSION ^ 0xFF, payload_type, len(payload)) + payload


def parse_header(header: bytes, max_payload: int = MAX_PAYLOAD_LENGTH) -> tuple[int, int]:
    """(payload type, payload length) of a V2GTP header; FramingError if it is not valid."""
    if len(header) != HEADER_LENGTH:
        raise FramingError(f'V2GTP header of {len(header)} bytes, expected {HEADER_LENGTH}')
    version, inverse, payload_type, length = HEADER.unpack(header)
    if version != VERSION or inverse != VERSION ^ 0xFF:
        raise FramingError(f'V2GTP version 0x{version:02x} / inverse 0x{inverse:02x}, '
                           f'expected 0x{VERSION:02x} / 0x{VERSION ^ 0xFF:02x}')
    if payload_type not in PayloadType._value2member_map_:
        raise FramingError(f'unknown V2GTP payload type 0x{payload_type:04x}')
    if length > max_payload:
        raise FramingError(f'V2GTP payload of {length} bytes announced, the limit is '
                           f'{max_payload}')
    return payload_type, length


async def read_frame(reader: asyncio.StreamReader,
                     max_payload: int = MAX_PAYLOAD_LENGTH) -> Frame:
    """Exactly one message, however TCP splits or joins the segments.

    Raises FramingError for an invalid header and asyncio.IncompleteReadError when the peer
    closes the connection before a whole message has arrived.
    """
    payload_type, length = parse_header(await reader.readexactly(HEADER_LENGTH), max_payload)
    return Frame(payload_type, await reader.readexactly(length))
