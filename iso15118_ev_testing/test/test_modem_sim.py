"""modem_sim's rules, without a network: each port's socket is one end of a socketpair, the
test plays the hosts on the other ends."""
import argparse
import asyncio
import socket

import pytest

from iso15118_ev.slac import mme
from iso15118_ev_testing import modem_sim

EV_HOST = bytes.fromhex('02000000ee01')
CHARGER_HOSTS = [bytes.fromhex('02000000c001'), bytes.fromhex('02000000c002')]
NID, NMK = b'\x01' * 7, b'\x02' * 16
IPV6 = b'\x86\xdd'


class Host:
    """The far end of a modem port: what the host sends and receives."""

    def __init__(self, modem):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        modem.sock, self.sock = theirs, ours
        theirs.setblocking(False)

    async def received(self, timeout_s=0.3):
        frames, loop = [], asyncio.get_running_loop()
        while True:
            try:
                frames.append(await asyncio.wait_for(loop.sock_recv(self.sock, 2048), timeout_s))
            except asyncio.TimeoutError:
                return frames


def _setup(join_delay_s=0.0):
    ev = modem_sim.Modem('ev', 'slcev', bytes.fromhex('02b052e00001'))
    chargers = [modem_sim._charger(f'plc{i}={a}', i) for i, a in enumerate((30, 12))]
    line = modem_sim.Powerline(ev, chargers, join_delay_s)
    hosts = [Host(m) for m in (ev, *chargers)]
    return line, ev, chargers, hosts


async def _from(line, modem, raw):
    await line.from_host(modem, raw.ljust(60, b'\x00'))


def _types(frames):
    return [type(mme.parse(f).message).__name__ for f in frames]


async def _key_chargers(line, chargers, hosts):
    for i, charger in enumerate(chargers):
        await _from(line, charger, mme.build(mme.QUALCOMM_LOCAL_MAC, CHARGER_HOSTS[i],
                                             mme.SetKeyReq(bytes([i]) * 7, bytes([i]) * 16)))
        assert _types(await hosts[1 + i].received()) == ['SetKeyCnf']


def test_each_charger_host_gets_the_sound_then_its_own_profile():
    async def main():
        line, ev, chargers, hosts = _setup()
        await _key_chargers(line, chargers, hosts)
        sound = mme.build(mme.BROADCAST_MAC, EV_HOST, mme.MnbcSoundInd(b'r' * 8, 9))
        await _from(line, ev, sound)
        for i, host in enumerate(hosts[1:]):
            frames = await host.received()
            assert _types(frames) == ['MnbcSoundInd', 'AttenProfileInd']
            assert frames[0] == sound  # unchanged
            profile = mme.parse(frames[1])
            assert profile.dst == CHARGER_HOSTS[i] and profile.src == chargers[i].mac
            assert profile.message.pev_mac == EV_HOST
            assert profile.message.attenuation_db == (chargers[i].attenuation_db,) * 58
        assert await hosts[0].received() == []
    asyncio.run(main())


def test_modem_management_is_consumed_and_link_needs_the_chargers_key():
    async def main():
        line, ev, chargers, hosts = _setup()
        await _key_chargers(line, chargers, hosts)
        status = mme.build(mme.QUALCOMM_LOCAL_MAC, EV_HOST, mme.LinkStatusReq())
        await _from(line, ev, status)
        [cnf] = await hosts[0].received()
        assert mme.parse(cnf).message.linked is False
        await _from(line, ev, mme.build(ev.mac, EV_HOST, mme.SetKeyReq(NID, NMK)))
        await _from(line, ev, status)
        frames = await hosts[0].received()
        assert _types(frames) == ['SetKeyCnf', 'LinkStatusCnf']
        assert mme.parse(frames[1]).message.linked is False
        await _from(line, ev, mme.build(ev.mac, EV_HOST, mme.SetKeyReq(b'\x01' * 7, b'\x01' * 16)))
        await _from(line, ev, status)
        frames = await hosts[0].received()
        assert _types(frames) == ['SetKeyCnf', 'LinkStatusCnf']
        assert mme.parse(frames[1]).message.linked is True
        # none of it crossed the powerline
        assert await hosts[1].received() == [] and await hosts[2].received() == []
    asyncio.run(main())


def test_slac_frames_pass_unchanged_and_ip_only_within_one_network():
    async def main():
        line, ev, chargers, hosts = _setup()
        await _key_chargers(line, chargers, hosts)
        parm = mme.build(mme.BROADCAST_MAC, EV_HOST, mme.SlacParmReq(b'r' * 8))
        await _from(line, ev, parm)
        assert [await h.received() for h in hosts[1:]] == [[parm], [parm]]
        ip_frame = (CHARGER_HOSTS[1] + EV_HOST + IPV6 + b'payload').ljust(60, b'\x00')
        await _from(line, ev, ip_frame)
        assert [await h.received() for h in hosts[1:]] == [[], []]
        await _from(line, ev, mme.build(ev.mac, EV_HOST, mme.SetKeyReq(b'\x01' * 7, b'\x01' * 16)))
        await hosts[0].received()
        await _from(line, ev, ip_frame)
        assert [await h.received() for h in hosts[1:]] == [[], [ip_frame]]
        answer = (EV_HOST + CHARGER_HOSTS[0] + IPV6 + b'other network').ljust(60, b'\x00')
        await _from(line, chargers[0], answer)
        assert await hosts[0].received() == []
    asyncio.run(main())


def test_garbled_management_frames_are_ignored():
    async def main():
        line, ev, _, hosts = _setup()
        set_key = mme.build(ev.mac, EV_HOST, mme.SetKeyReq(NID, NMK))
        await line.from_host(ev, set_key[:25])  # truncated (a padded frame would be whole)
        await line.from_host(ev, set_key[:14] + b'\x02' + set_key[15:])  # wrong MMV
        await line.from_host(ev, mme.QUALCOMM_LOCAL_MAC + EV_HOST + b'\x88\xe1\x01\x08\x60')
        assert await hosts[0].received() == [] and ev.key is None
    asyncio.run(main())


@pytest.mark.parametrize('spec', ['=20', 'plc0=300', 'plc0=x'])
def test_charger_port_arguments_are_checked(spec):
    with pytest.raises(argparse.ArgumentTypeError, match='PORT=ATTENUATION_DB'):
        modem_sim._charger(spec, 0)
