"""Two (or more) HomePlug Green PHY modems and the powerline between them, played honestly.

Topology (scripts/slac_link.sh builds it; the simulator runs in NETNS):

    default namespace                 NETNS
    EV host  evslc0 ==veth== slcev  [ EV modem ]                        (the EV's cable)
                                        |  powerline (this process)
    charger host N  secc<N> ==veth== plc<N> [ charger modem N, attenuation A_N dB ]

Each modem sits on the host side of its port: the veth peer of the host's interface. The
simulator reads every frame a host sends (packet socket, ETH_P_ALL, incoming frames only) and
does what modem firmware does, nothing more:

* Frames a host addresses to its own modem (its MAC or the Qualcomm local management address
  00:B0:52:00:00:01) are consumed by that modem: CM_SET_KEY.REQ -> CM_SET_KEY.CNF (the modem
  takes the NMK/NID), VS_PL_LNK_STATUS.REQ -> VS_PL_LNK_STATUS.CNF (link = 1 once the EV modem
  holds the same NMK/NID as a charger modem, after --join-delay).
* SLAC MMEs pass the powerline unchanged (a learning switch: unicast to the port that owns the
  destination MAC, else to every port on the other side).
* CM_MNBC_SOUND.IND: each charger modem hands its host the sound and, right after it, the
  CM_ATTEN_PROFILE.IND it measured (58 groups of A_N dB); the pair is delivered in order, as
  the modem delivers them.
* Other traffic (IPv6: SDP, TCP) passes only between modems of the same network (same NMK),
  i.e. after a successful CM_SET_KEY: that is the link SLAC sets up.

    modem_sim --ev-port slcev --charger-port plc0=20 [--charger-port plc1=35]
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from dataclasses import dataclass, field

# The library is not in package.xml: iso15118_ev already test-depends on this package and colcon
# refuses the cycle. Both are built in the same workspace.
from iso15118_ev.slac import mme

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
NUM_GROUPS = 58

log = logging.getLogger('modem_sim')


@dataclass
class Modem:
    name: str
    port: str
    mac: bytes
    attenuation_db: int = 0  # what this modem measures on a received M-sound (chargers)
    key: tuple | None = None  # (NID, NMK) given by its host with CM_SET_KEY
    keyed_at: float = 0.0
    host_macs: set = field(default_factory=set)
    sock: socket.socket | None = None


class Powerline:
    def __init__(self, ev: Modem, chargers: list, join_delay_s: float):
        self.ev, self.chargers, self.join_delay_s = ev, chargers, join_delay_s

    # -- what modems do ----------------------------------------------------------------------

    def joined(self, charger: Modem) -> bool:
        if self.ev.key is None or self.ev.key != charger.key:
            return False
        return self._now() - max(self.ev.keyed_at, charger.keyed_at) >= self.join_delay_s

    async def from_host(self, modem: Modem, raw: bytes) -> None:
        modem.host_macs.add(raw[6:12])
        mmtype = mme.mmtype_of(raw)
        if mmtype is not None and raw[0:6] in (modem.mac, mme.QUALCOMM_LOCAL_MAC):
            await self._management(modem, raw)
        elif mmtype == mme.MmType.CM_MNBC_SOUND_IND and modem is self.ev:
            await self._sound(raw)
        elif mmtype is not None:
            await self._forward(modem, raw, lambda charger: True)
        else:
            await self._forward(modem, raw, self.joined)

    async def _management(self, modem: Modem, raw: bytes) -> None:
        try:
            frame = mme.parse(raw)
        except mme.MmeError as error:
            log.info('%s: ignored management frame: %s', modem.name, error)
            return
        msg = frame.message
        if isinstance(msg, mme.SetKeyReq):
            modem.key, modem.keyed_at = (msg.nid, msg.nmk), self._now()
            log.info('%s: CM_SET_KEY NID %s NMK %s', modem.name, msg.nid.hex(), msg.nmk.hex())
            await self._send(modem, frame.src, mme.SetKeyCnf(0, your_nonce=msg.my_nonce))
        elif isinstance(msg, mme.LinkStatusReq):
            linked = any(self.joined(c) for c in self.chargers) if modem is self.ev \
                else self.joined(modem)
            await self._send(modem, frame.src, mme.LinkStatusCnf(int(linked)))

    async def _sound(self, raw: bytes) -> None:
        try:
            sound = mme.parse(raw)
        except mme.MmeError as error:
            log.info('ev: ignored sound: %s', error)
            return
        for charger in self.chargers:
            host = next(iter(charger.host_macs), mme.BROADCAST_MAC)
            profile = mme.AttenProfileInd(sound.src, (charger.attenuation_db,) * NUM_GROUPS)
            await self._write(charger, raw)
            await self._send(charger, host, profile)

    async def _forward(self, modem: Modem, raw: bytes, allowed) -> None:
        if modem is self.ev:
            targets = [c for c in self.chargers if allowed(c)]
            owners = [c for c in targets if raw[0:6] in c.host_macs]
            for charger in owners or targets:
                await self._write(charger, raw)
        elif allowed(modem):
            await self._write(self.ev, raw)

    # -- sockets -----------------------------------------------------------------------------

    async def _send(self, modem: Modem, dst: bytes, message) -> None:
        await self._write(modem, mme.build(dst, modem.mac, message))

    @staticmethod
    async def _write(modem: Modem, raw: bytes) -> None:
        await asyncio.get_running_loop().sock_sendall(modem.sock, raw)

    async def serve(self, modem: Modem) -> None:
        loop = asyncio.get_running_loop()
        while True:
            raw, address = await loop.sock_recvfrom(modem.sock, 2048)
            if address[2] == PACKET_OUTGOING:
                continue  # what the port itself sends (this process, the kernel)
            try:
                await self.from_host(modem, raw)
            except OSError as error:
                log.warning('%s: %s', modem.name, error)

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()


def open_port(modem: Modem) -> None:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((modem.port, ETH_P_ALL))
    sock.setblocking(False)
    modem.sock = sock


def _charger(spec: str, index: int) -> Modem:
    port, _, attenuation = spec.partition('=')
    value = int(attenuation) if attenuation.isdigit() else -1
    if not port or not 0 <= value <= 255:
        raise argparse.ArgumentTypeError(f'--charger-port {spec!r}: PORT=ATTENUATION_DB (0..255)')
    return Modem(f'charger{index}', port, bytes([0x02, 0xb0, 0x52, 0xc0, 0, index]), value)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--ev-port', required=True, help="the EV host's interface peer")
    parser.add_argument('--charger-port', action='append', required=True,
                        help='PORT=ATTENUATION_DB: a charger host interface peer and the '
                             'attenuation its modem measures (repeat for several chargers)')
    parser.add_argument('--join-delay', type=float, default=0.5,
                        help='seconds from matching keys to a reported link (firmware joins)')
    parser.add_argument('--ev-modem-mac', default='02:b0:52:e0:00:01')
    return parser.parse_args(argv)


async def run(args) -> None:
    ev = Modem('ev', args.ev_port, bytes.fromhex(args.ev_modem_mac.replace(':', '')))
    chargers = [_charger(spec, i) for i, spec in enumerate(args.charger_port)]
    line = Powerline(ev, chargers, args.join_delay)
    for modem in (ev, *chargers):
        open_port(modem)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    tasks = [asyncio.create_task(line.serve(m)) for m in (ev, *chargers)]
    print('modem_sim: ready: ' + ', '.join(
        f'{m.name}@{m.port}' + (f' {m.attenuation_db} dB' if m is not ev else '')
        for m in (ev, *chargers)), flush=True)
    await stop.wait()
    for task in tasks:
        task.cancel()


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format='%(asctime)s %(name)s %(message)s')
    try:
        asyncio.run(run(parse_args(argv)))
    except OSError as error:
        print(f'modem_sim: {error}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
