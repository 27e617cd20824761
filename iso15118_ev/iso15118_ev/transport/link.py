"""The PLC interface: which network interface reaches the charger.

On a vehicle it is the Green PHY modem's Ethernet interface; in simulation a veth end. It must
carry IPv6 with a link-local address: SDP and the TCP connection both run on it.
"""
from __future__ import annotations

import ipaddress
import socket
from typing import List, Tuple


class PlcInterfaceError(RuntimeError):
    """The configured PLC interface cannot be used; the message says why."""


def link_local_addresses() -> List[Tuple[str, str]]:
    """(interface, address) for every IPv6 link-local address of this network namespace."""
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


def mac_address(iface: str) -> bytes:
    """The interface's hardware address (the EVCCID of DIN 70121 / ISO 15118-2)."""
    try:
        with open(f'/sys/class/net/{iface}/address') as source:
            return bytes.fromhex(source.read().strip().replace(':', ''))
    except (OSError, ValueError):
        return bytes(6)
