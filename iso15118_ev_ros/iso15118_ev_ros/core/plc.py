"""The PLC interface: which network interface reaches the charger, and SECC discovery (SDP).

SDP (ISO 15118-2 section 7.10.1, DIN 70121 9.2): the EV multicasts a request to ff02::1 port
15118 on the PLC interface; the charger answers with its IPv6 address, TCP port and security.
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
import struct
from dataclasses import dataclass
from typing import List, Optional, Tuple

SDP_PORT = 15118
SDP_MULTICAST = 'ff02::1'
V2GTP_VERSION = 0x01
SDP_REQUEST = 0x9000
SDP_RESPONSE = 0x9001
SECURITY_TLS = 0x00
SECURITY_NONE = 0x10
TRANSPORT_TCP = 0x00
SDP_MIN_INTERVAL_S = 0.25   # at least 250 ms between requests
SDP_MAX_REQUESTS = 50


class PlcInterfaceError(RuntimeError):
    """The configured PLC interface cannot be used; the message says why."""


def link_local_addresses() -> List[Tuple[str, str]]:
    """(interface, address) for every IPv6 link-local address of this namespace."""
    found = []
    with open('/proc/net/if_inet6') as table:
        for line in table:
            hex_addr, _index, _plen, scope, _flags, name = line.split()
            if int(scope, 16) == 0x20:
                found.append((name, str(ipaddress.IPv6Address(bytes.fromhex(hex_addr)))))
    return found


def resolve_interface(name: str) -> str:
    """The PLC interface to use: `auto` picks the first one with a link-local address."""
    with_link_local = [iface for iface, _ in link_local_addresses() if iface != 'lo']
    if name == 'auto':
        if not with_link_local:
            raise PlcInterfaceError(
                'plc_interface is "auto" but no interface other than lo has an IPv6 '
                'link-local address (create the link first, e.g. scripts/plc_link.sh up)')
        return with_link_local[0]
    if name == 'lo':
        raise PlcInterfaceError('plc_interface "lo" cannot carry SDP multicast; use a veth/PLC link')
    known = [iface for _, iface in socket.if_nameindex()]
    if name not in known:
        raise PlcInterfaceError(
            f'plc_interface "{name}" does not exist; interfaces here: {", ".join(known)}')
    if name not in with_link_local:
        raise PlcInterfaceError(f'plc_interface "{name}" has no IPv6 link-local address (is it up?)')
    return name


@dataclass(frozen=True)
class SeccAddress:
    host: str          # IPv6 address of the charger, with %interface scope
    port: int
    tls: bool


def sdp_request(tls: bool) -> bytes:
    payload = bytes([SECURITY_TLS if tls else SECURITY_NONE, TRANSPORT_TCP])
    return struct.pack('>BBHI', V2GTP_VERSION, V2GTP_VERSION ^ 0xFF, SDP_REQUEST, len(payload)) + payload


def parse_sdp_response(data: bytes, iface: str) -> Optional[SeccAddress]:
    """The charger's address from an SDP response datagram, or None if it is not one."""
    if len(data) != 8 + 20:
        return None
    version, inverse, payload_type, length = struct.unpack('>BBHI', data[:8])
    if (version, inverse, payload_type, length) != (V2GTP_VERSION, 0xFE, SDP_RESPONSE, 20):
        return None
    address = ipaddress.IPv6Address(data[8:24])
    port, security, transport = struct.unpack('>HBB', data[24:28])
    if transport != TRANSPORT_TCP or security not in (SECURITY_TLS, SECURITY_NONE):
        return None
    scope = f'%{iface}' if address.is_link_local else ''
    return SeccAddress(f'{address}{scope}', port, security == SECURITY_TLS)


class _SdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, iface: str):
        self.iface = iface
        self.answers: asyncio.Queue = asyncio.Queue()

    def datagram_received(self, data, addr):
        answer = parse_sdp_response(data, self.iface)
        if answer is not None:
            self.answers.put_nowait(answer)


async def discover(iface: str, tls: bool, max_requests: int = SDP_MAX_REQUESTS,
                   interval_s: float = SDP_MIN_INTERVAL_S) -> Tuple[Optional[SeccAddress], int]:
    """Send up to max_requests SDP requests, interval_s apart; (answer or None, requests sent)."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 1)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex(iface))
    sock.bind(('::', 0))
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(lambda: _SdpProtocol(iface), sock=sock)
    target = (SDP_MULTICAST, SDP_PORT, 0, socket.if_nametoindex(iface))
    try:
        for sent in range(1, max_requests + 1):
            transport.sendto(sdp_request(tls), target)
            try:
                answer = await asyncio.wait_for(protocol.answers.get(), max(interval_s, SDP_MIN_INTERVAL_S))
                return answer, sent
            except asyncio.TimeoutError:
                continue
        return None, max_requests
    finally:
        transport.close()
