"""Frame links for SLAC: the raw Ethernet socket on the PLC interface, and an in-memory bus.

A link sends and receives whole Ethernet frames of ethertype 0x88E1. The raw socket needs
CAP_NET_RAW (root, or `setcap cap_net_raw+ep` on the interpreter).
"""
from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Protocol

from .mme import BROADCAST_MAC, ETHERTYPE_HOMEPLUG, MIN_FRAME_BYTES


class FrameLink(Protocol):
    """What the SLAC state machine needs from the network."""

    @property
    def mac(self) -> bytes: ...

    async def send(self, frame: bytes) -> None: ...

    async def receive(self) -> bytes: ...

    def close(self) -> None: ...


def interface_mac(interface: str) -> bytes:
    """The interface's own MAC address from sysfs (no socket, no privilege); b'' if unknown."""
    try:
        text = Path('/sys/class/net', interface, 'address').read_text().strip()
        mac = bytes.fromhex(text.replace(':', ''))
    except (OSError, ValueError):
        return b''
    return mac if len(mac) == 6 else b''


class RawLink:
    """AF_PACKET socket bound to one interface and ethertype 0x88E1, driven by the asyncio loop.

    Bound to the ethertype (not ETH_P_ALL), the socket sees only frames that arrive on the
    interface, never the frames the host itself sends.
    """

    def __init__(self, interface: str):
        self.interface = interface
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                   socket.htons(ETHERTYPE_HOMEPLUG))
        try:
            self._sock.bind((interface, ETHERTYPE_HOMEPLUG))
            self._sock.setblocking(False)
            self._mac = bytes(self._sock.getsockname()[4][:6])
        except OSError:
            self._sock.close()
            raise

    @property
    def mac(self) -> bytes:
        return self._mac

    async def send(self, frame: bytes) -> None:
        await asyncio.get_running_loop().sock_sendall(
            self._sock, bytes(frame).ljust(MIN_FRAME_BYTES, b'\x00'))

    async def receive(self) -> bytes:
        return await asyncio.get_running_loop().sock_recv(self._sock, 2048)

    def close(self) -> None:
        self._sock.close()


class MemoryBus:
    """A shared medium for tests: every frame reaches each other endpoint it is addressed to
    (unicast to its MAC, broadcast or multicast), in order."""

    def __init__(self):
        self._links: list[MemoryLink] = []

    def attach(self, mac: bytes, promiscuous: bool = False) -> 'MemoryLink':
        link = MemoryLink(self, bytes(mac), promiscuous)
        self._links.append(link)
        return link

    def deliver(self, sender: 'MemoryLink', frame: bytes) -> None:
        dst = frame[0:6]
        for link in self._links:
            if link is sender or link.closed:
                continue
            if link.promiscuous or dst == link.mac or dst == BROADCAST_MAC or dst[0] & 1:
                link.queue.put_nowait(frame)


class MemoryLink:
    def __init__(self, bus: MemoryBus, mac: bytes, promiscuous: bool):
        self._bus, self._mac, self.promiscuous = bus, mac, promiscuous
        self.queue: asyncio.Queue = asyncio.Queue()
        self.closed = False
        self.sent: list[bytes] = []

    @property
    def mac(self) -> bytes:
        return self._mac

    async def send(self, frame: bytes) -> None:
        frame = bytes(frame).ljust(MIN_FRAME_BYTES, b'\x00')
        self.sent.append(frame)
        self._bus.deliver(self, frame)

    async def receive(self) -> bytes:
        return await self.queue.get()

    def close(self) -> None:
        self.closed = True
