"""The PLC interface: which network interface reaches the charger.

On a vehicle it is the Green PHY modem's Ethernet interface; in simulation a veth end. It must
carry IPv6 with a link-local address: SDP and the TCP connection both run on it.

The interface is named by the user. `auto` (only when asked for) picks the one candidate left
after excluding lo and every interface that carries a default route (IPv4 or IPv6): on a robot
that is the uplink, never the charger. It refuses when none or more than one remains.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Callable, Iterable, List, Set, Tuple

logger = logging.getLogger(__name__)

AUTO = 'auto'
NOT_SET = ''


class PlcInterfaceError(RuntimeError):
    """The configured PLC interface cannot be used; the message says why."""


def link_local_addresses(table: str = '/proc/net/if_inet6') -> List[Tuple[str, str]]:
    """(interface, address) for every IPv6 link-local address of this network namespace."""
    found = []
    with open(table) as lines:
        for line in lines:
            hex_addr, _index, _plen, scope, _flags, name = line.split()
            if int(scope, 16) == 0x20:
                found.append((name, str(ipaddress.IPv6Address(bytes.fromhex(hex_addr)))))
    return found


def default_route_interfaces(ipv4_table: str = '/proc/net/route',
                             ipv6_table: str = '/proc/net/ipv6_route') -> Set[str]:
    """Interfaces that carry a default route (0.0.0.0/0 or ::/0) in this network namespace."""
    found = set()
    try:
        with open(ipv4_table) as lines:
            next(lines, None)   # header
            for line in lines:
                fields = line.split()
                # Iface Destination Gateway Flags RefCnt Use Metric Mask ...
                if len(fields) >= 8 and int(fields[1], 16) == 0 and int(fields[7], 16) == 0:
                    found.add(fields[0])
    except FileNotFoundError:   # no IPv4 in this kernel / namespace
        pass
    try:
        with open(ipv6_table) as lines:
            for line in lines:
                fields = line.split()
                # dest dest_plen src src_plen next_hop metric refcnt use flags iface
                if len(fields) == 10 and int(fields[0], 16) == 0 and int(fields[1], 16) == 0:
                    found.add(fields[9])
    except FileNotFoundError:   # IPv6 disabled: no link-local address either
        pass
    return found


def interface_names() -> List[str]:
    return [name for _, name in socket.if_nameindex()]


def resolve_interface(name: str, *,
                      addresses: Callable[[], Iterable[Tuple[str, str]]] = link_local_addresses,
                      default_routes: Callable[[], Set[str]] = default_route_interfaces,
                      names: Callable[[], List[str]] = interface_names) -> str:
    """The PLC interface to use; PlcInterfaceError (one line saying what to do) otherwise."""
    with_link_local = list(dict.fromkeys(iface for iface, _ in addresses() if iface != 'lo'))
    if name == NOT_SET:
        raise PlcInterfaceError(
            'plc_interface is not set: give the interface to the charger (e.g. '
            'plc_interface:=eth1), or "auto" to pick the only link-local interface without a '
            'default route')
    if name == AUTO:
        return _auto(with_link_local, default_routes())
    if name == 'lo':
        raise PlcInterfaceError('plc_interface "lo" cannot carry SDP multicast; use a veth/PLC link')
    known = names()
    if name not in known:
        raise PlcInterfaceError(
            f'plc_interface "{name}" does not exist; interfaces here: {", ".join(known)}')
    if name not in with_link_local:
        raise PlcInterfaceError(f'plc_interface "{name}" has no IPv6 link-local address (is it up?)')
    return name


def _auto(with_link_local: List[str], routed: Set[str]) -> str:
    candidates = sorted(iface for iface in with_link_local if iface not in routed)
    skipped = sorted(set(with_link_local) & routed)
    because = f' ({", ".join(skipped)} carry the default route)' if skipped else ''
    if not candidates:
        raise PlcInterfaceError(
            'plc_interface is "auto" but no interface other than lo has an IPv6 link-local '
            f'address without a default route{because}; create the link (e.g. '
            'scripts/plc_link.sh up) or set plc_interface')
    if len(candidates) > 1:
        raise PlcInterfaceError(
            f'plc_interface is "auto" but {len(candidates)} interfaces could be the charger\'s: '
            f'{", ".join(candidates)}; set plc_interface to one of them')
    logger.info('plc_interface "auto": chose %s, the only link-local interface other than lo '
                'without a default route%s', candidates[0], because)
    return candidates[0]


def mac_address(iface: str) -> bytes:
    """The interface's hardware address (the EVCCID of DIN 70121 / ISO 15118-2)."""
    try:
        with open(f'/sys/class/net/{iface}/address') as source:
            return bytes.fromhex(source.read().strip().replace(':', ''))
    except (OSError, ValueError):
        return bytes(6)
