"""SECC Discovery Protocol (ISO 15118-2 7.10.1, DIN SPEC 70121 9.2, ISO 15118-20 7.9.1.3).

The EV multicasts a request to ff02::1 port 15118 on the PLC interface; the charger answers
with its IPv6 address, TCP port and security. The EV never trusts the address blindly: only an
answer that arrives on the PLC interface and names a link-local address (fe80::/10) is taken,
scoped to that interface. Anything else is logged and discovery goes on.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
from dataclasses import dataclass
from typing import Optional, Tuple

from ..waiting import wait_within
from .v2gtp import FramingError, PayloadType, frame, parse_header

logger = logging.getLogger(__name__)

SDP_PORT = 15118
SDP_MULTICAST = 'ff02::1'
SECURITY_TLS = 0x00
SECURITY_NONE = 0x10
TRANSPORT_TCP = 0x00
SDP_RESPONSE_LENGTH = 20
SDP_MIN_INTERVAL_S = 0.25   # at least 250 ms between requests
SDP_MAX_REQUESTS = 50


@dataclass(frozen=True)
class SeccAddress:
    host: str          # the charger's IPv6 link-local address with %interface scope
    port: int
    tls: bool


class SdpAnswerRefused(ValueError):
    """An SDP answer that is well formed but not acceptable (e.g. not link-local)."""


def sdp_request(tls: bool) -> bytes:
    return frame(PayloadType.SDP_REQUEST,
                 bytes([SECURITY_TLS if tls else SECURITY_NONE, TRANSPORT_TCP]))


def parse_sdp_response(data: bytes, iface: str) -> SeccAddress:
    """The charger's address from an SDP response datagram.

    FramingError if it is not an SDP response; SdpAnswerRefused if it is one the EV must not
    follow (an address that is not link-local, an unknown security or transport).
    """
    payload_type, length = parse_header(data[:8])
    if payload_type != PayloadType.SDP_RESPONSE or length != SDP_RESPONSE_LENGTH \
            or len(data) != 8 + SDP_RESPONSE_LENGTH:
        raise FramingError(f'not an SDP response (type 0x{payload_type:04x}, {len(data)} bytes)')
    address = ipaddress.IPv6Address(data[8:24])
    port, security, transport = struct.unpack('>HBB', data[24:28])
    if not address.is_link_local:
        raise SdpAnswerRefused(f'the charger announced {address}, which is not a link-local '
                               'address (fe80::/10)')
    if transport != TRANSPORT_TCP or security not in (SECURITY_TLS, SECURITY_NONE):
        raise SdpAnswerRefused(f'unknown security 0x{security:02x} / transport 0x{transport:02x}')
    if port == 0:
        raise SdpAnswerRefused('the charger announced TCP port 0')
    return SeccAddress(f'{address}%{iface}', port, security == SECURITY_TLS)


class _SdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, iface: str):
        self.iface = iface
        self.index = socket.if_nametoindex(iface)
        self.answers: asyncio.Queue = asyncio.Queue()

    def datagram_received(self, data, addr):
        scope = addr[3] if len(addr) > 3 else 0
        if scope != self.index:
            logger.warning('SDP: ignored a datagram from %s that did not arrive on %s',
                           addr[0], self.iface)
            return
        try:
            self.answers.put_nowait(parse_sdp_response(data, self.iface))
        except (FramingError, SdpAnswerRefused) as exc:
            logger.warning('SDP: ignored an answer from %s: %s', addr[0], exc)


async def discover(iface: str, tls: bool, max_requests: int = SDP_MAX_REQUESTS,
                   interval_s: float = SDP_MIN_INTERVAL_S) -> Tuple[Optional[SeccAddress], int]:
    """Send up to max_requests SDP requests, interval_s apart; (answer or None, requests sent)."""
    index = socket.if_nametoindex(iface)
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
    sock.setblocking(False)
    sock.bind(('::', 0))
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(lambda: _SdpProtocol(iface),
                                                              sock=sock)
    target = (SDP_MULTICAST, SDP_PORT, 0, index)
    try:
        for sent in range(1, max_requests + 1):
            transport.sendto(sdp_request(tls), target)
            try:
                answer = await wait_within(protocol.answers.get(),
                                           max(interval_s, SDP_MIN_INTERVAL_S))
                return answer, sent
            except asyncio.TimeoutError:
                continue
        return None, max_requests
    finally:
        transport.close()
