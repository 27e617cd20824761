"""The EV's SLAC state machine against scripted chargers and a scripted EV modem on an in-memory
bus. Timings are checked only against the standard's lower bounds (the retries and windows the
EV must wait) and generous upper bounds (the machine is shared)."""
import asyncio
import os

import pytest

from iso15118_ev.slac import mme
from iso15118_ev.slac.ev import SlacFailure, SlacSession, SlacSettings, SlacState
from iso15118_ev.slac.link import MemoryBus

EV_MAC = bytes.fromhex('02000000ee01')
MODEM_MAC = bytes.fromhex('02000000a001')
LOAD_ALLOWANCE_S = 3.0


def _parse(raw):
    try:
        return mme.parse(raw)
    except mme.MmeError:
        return None


class ScriptedCharger:
    """The EVSE side as ISO 15118-3 describes it, answering one run; knobs to misbehave."""

    def __init__(self, bus, mac, attenuation_db, drop_match_reqs=0, atten_char=True,
                 validate_result=None):
        self.link = bus.attach(mac)
        self.mac, self.attenuation_db = mac, attenuation_db
        self.drop_match_reqs, self.atten_char = drop_match_reqs, atten_char
        self.validate_result = validate_result
        self.nmk = os.urandom(16)
        self.nid = os.urandom(7)
        self.received = []

    async def serve(self):
        while True:
            frame = _parse(await self.link.receive())
            if frame is None:
                continue
            self.received.append(frame)
            await self._answer(frame.src, frame.message)

    async def _answer(self, ev, msg):
        if isinstance(msg, mme.SlacParmReq):
            await self._send(ev, mme.SlacParmCnf(ev, msg.run_id))
        elif isinstance(msg, mme.MnbcSoundInd) and msg.count == 0 and self.atten_char:
            groups = (self.attenuation_db,) * 58
            await self._send(ev, mme.AttenCharInd(ev, msg.run_id, 10, groups))
        elif isinstance(msg, mme.ValidateReq) and self.validate_result is not None:
            await self._send(ev, mme.ValidateCnf(self.validate_result))
        elif isinstance(msg, mme.SlacMatchReq) and msg.evse_mac == self.mac:
            if self.drop_match_reqs:
                self.drop_match_reqs -= 1
                return
            await self._send(ev, mme.SlacMatchCnf(ev, self.mac, msg.run_id, self.nid, self.nmk))

    async def _send(self, dst, message):
        await self.link.send(mme.build(dst, self.mac, message))

    def count(self, kind):
        return sum(isinstance(f.message, kind) for f in self.received)


class ScriptedModem:
    """The EV's own modem: joins when given the key of one of `networks` (NID, NMK)."""

    def __init__(self, bus, networks=(), answer=True):
        self.link = bus.attach(MODEM_MAC, promiscuous=True)
        self.networks, self.answer = list(networks), answer
        self.key = None

    async def serve(self):
        while True:
            frame = _parse(await self.link.receive())
            for_me = frame is not None and frame.dst in (MODEM_MAC, mme.QUALCOMM_LOCAL_MAC)
            if not for_me or not self.answer:
                continue
            if isinstance(frame.message, mme.SetKeyReq):
                self.key = (frame.message.nid, frame.message.nmk)
                await self.link.send(mme.build(frame.src, MODEM_MAC, mme.SetKeyCnf(0)))
            elif isinstance(frame.message, mme.LinkStatusReq):
                linked = int(self.key in self.networks)
                await self.link.send(mme.build(frame.src, MODEM_MAC, mme.LinkStatusCnf(linked)))


async def _run(bus, peers, settings=SlacSettings(), mac=EV_MAC):
    link = bus.attach(mac)
    states = []
    tasks = [asyncio.create_task(peer.serve()) for peer in peers]
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        session = SlacSession(link, settings, on_state=states.append)
        result = await session.run()
    finally:
        for task in tasks:
            task.cancel()
    return result, session, link, states, loop.time() - started


def _sent(link, kind):
    return [mme.parse(raw) for raw in link.sent if isinstance(mme.parse(raw).message, kind)]


def run(coro):
    return asyncio.run(coro)


def test_one_charger_matches_and_the_modem_gets_its_key():
    async def main():
        bus = MemoryBus()
        charger = ScriptedCharger(bus, bytes.fromhex('02000000c001'), 20)
        modem = ScriptedModem(bus)
        modem.networks.append((charger.nid, charger.nmk))
        return (*await _run(bus, [charger, modem]), charger, modem)
    result, session, link, states, _, charger, modem = run(main())
    assert result.matched and result.failure is None, result.message
    assert (result.charger_mac, result.nid, result.nmk) == (charger.mac, charger.nid, charger.nmk)
    assert result.average_attenuation_db == 20.0
    assert states == [SlacState.MATCHING, SlacState.MATCHED]
    assert session.state is SlacState.MATCHED
    assert modem.key == (charger.nid, charger.nmk)
    parm = _sent(link, mme.SlacParmReq)
    assert len(parm) == 1 and parm[0].dst == mme.BROADCAST_MAC
    run_id = parm[0].message.run_id
    starts = _sent(link, mme.StartAttenCharInd)
    assert len(starts) == 3 and all(s.message.run_id == run_id and s.message.forwarding_sta
                                    == EV_MAC for s in starts)
    assert [s.message.count for s in _sent(link, mme.MnbcSoundInd)] == list(range(9, -1, -1))
    assert [r.dst for r in _sent(link, mme.AttenCharRsp)] == [charger.mac]
    assert [r.dst for r in _sent(link, mme.SlacMatchReq)] == [charger.mac]
    set_key = _sent(link, mme.SetKeyReq)
    assert [s.dst for s in set_key] == [mme.QUALCOMM_LOCAL_MAC]
    assert _sent(link, mme.LinkStatusReq)


def test_two_chargers_the_lower_attenuation_wins():
    async def main():
        bus = MemoryBus()
        far = ScriptedCharger(bus, bytes.fromhex('02000000c001'), 30)
        near = ScriptedCharger(bus, bytes.fromhex('02000000c002'), 12)
        modem = ScriptedModem(bus, [(far.nid, far.nmk), (near.nid, near.nmk)])
        return (*await _run(bus, [far, near, modem]), far, near, modem)
    result, _, link, _, _, far, near, modem = run(main())
    assert result.matched, result.message
    assert result.charger_mac == near.mac and result.nmk == near.nmk
    assert [(c.mac, c.average_attenuation_db) for c in result.chargers] == [
        (near.mac, 12.0), (far.mac, 30.0)]
    assert sorted(r.dst for r in _sent(link, mme.AttenCharRsp)) == [far.mac, near.mac]
    assert [r.dst for r in _sent(link, mme.SlacMatchReq)] == [near.mac]
    assert far.count(mme.SlacMatchReq) == 0
    assert modem.key == (near.nid, near.nmk)


def test_once_every_confirmed_charger_reported_the_match_goes_on():
    """No waiting out TT_EV_atten_results (here stretched to 30 s) once all chargers that
    confirmed CM_SLAC_PARM sent CM_ATTEN_CHAR.IND (TP_EV_match_session)."""
    async def main():
        bus = MemoryBus()
        chargers = [ScriptedCharger(bus, bytes.fromhex(f'02000000c00{i}'), 20 + i)
                    for i in range(2)]
        modem = ScriptedModem(bus, [(c.nid, c.nmk) for c in chargers])
        return await _run(bus, [*chargers, modem], SlacSettings(tt_ev_atten_results_s=30))
    result, _, _, _, elapsed = run(main())
    assert result.matched and len(result.chargers) == 2, result.message
    assert elapsed < 30 / 3


def test_no_charger_fails_with_no_response_after_the_retries():
    async def main():
        return await _run(MemoryBus(), [])
    result, session, link, states, elapsed = run(main())
    assert not result.matched and result.failure is SlacFailure.NO_RESPONSE
    assert 'CM_SLAC_PARM.CNF' in result.message
    assert len(_sent(link, mme.SlacParmReq)) == 1 + SlacSettings().c_ev_match_retry
    # each request waits TT_match_response (200 ms) for its confirmation
    assert 3 * 0.2 <= elapsed < 3 * 0.2 + LOAD_ALLOWANCE_S
    assert states[-1] is SlacState.FAILED and session.state is SlacState.FAILED
    assert not _sent(link, mme.StartAttenCharInd)


def test_no_atten_char_fails_after_tt_ev_atten_results():
    async def main():
        bus = MemoryBus()
        return await _run(bus, [ScriptedCharger(bus, bytes.fromhex('02000000c001'), 20,
                                                atten_char=False)])
    result, _, link, _, elapsed = run(main())
    assert result.failure is SlacFailure.NO_ATTEN_RESULTS, result.message
    assert 1.2 <= elapsed < 1.2 + 0.2 + LOAD_ALLOWANCE_S
    assert not _sent(link, mme.SlacMatchReq)


def test_a_lost_match_request_is_repeated():
    async def main():
        bus = MemoryBus()
        charger = ScriptedCharger(bus, bytes.fromhex('02000000c001'), 20, drop_match_reqs=1)
        modem = ScriptedModem(bus)
        modem.networks.append((charger.nid, charger.nmk))
        return (*await _run(bus, [charger, modem]), charger)
    result, _, link, _, _, charger = run(main())
    assert result.matched, result.message
    assert len(_sent(link, mme.SlacMatchReq)) == 2 and charger.count(mme.SlacMatchReq) == 2


def test_no_match_confirmation_fails_after_the_retries():
    async def main():
        bus = MemoryBus()
        charger = ScriptedCharger(bus, bytes.fromhex('02000000c001'), 20, drop_match_reqs=99)
        return await _run(bus, [charger, ScriptedModem(bus)])
    result, _, link, _, _ = run(main())
    assert result.failure is SlacFailure.MATCH_FAILED, result.message
    assert len(_sent(link, mme.SlacMatchReq)) == 1 + SlacSettings().c_ev_match_retry
    assert not _sent(link, mme.SetKeyReq)
    assert result.chargers and result.chargers[0].average_attenuation_db == 20.0


def test_modem_that_never_joins_fails_after_tt_match_join():
    async def main():
        bus = MemoryBus()
        charger = ScriptedCharger(bus, bytes.fromhex('02000000c001'), 20)
        # the modem is on another network: it never reports a link for this key
        return await _run(bus, [charger, ScriptedModem(bus, [(b'x' * 7, b'y' * 16)])],
                          SlacSettings(tt_match_join_s=1.0))
    result, _, link, _, elapsed = run(main())
    assert result.failure is SlacFailure.MODEM_NOT_JOINED, result.message
    assert len(_sent(link, mme.LinkStatusReq)) >= 3
    assert elapsed >= 1.0  # TT_match_join


def test_modem_that_does_not_answer_fails():
    async def main():
        bus = MemoryBus()
        charger = ScriptedCharger(bus, bytes.fromhex('02000000c001'), 20)
        return await _run(bus, [charger, ScriptedModem(bus, answer=False)])
    result, _, link, _, _ = run(main())
    assert result.failure is SlacFailure.MODEM_NO_ANSWER, result.message
    assert len(_sent(link, mme.SetKeyReq)) == 1 + SlacSettings().c_ev_match_retry


class Hostile:
    """Sprays garbage, truncated MMEs and well-formed answers of another run at the EV."""

    def __init__(self, bus):
        self.link = bus.attach(bytes.fromhex('02000000bad1'), promiscuous=True)
        self.mac = self.link.mac

    async def serve(self):
        wrong_run = b'\xee' * 8
        frames = [
            os.urandom(70), EV_MAC + self.mac + b'\x88\xe1' + os.urandom(50),
            mme.build(EV_MAC, self.mac, mme.SlacParmCnf(EV_MAC, wrong_run))[:30],
            mme.build(EV_MAC, self.mac, mme.SlacParmCnf(EV_MAC, wrong_run)),
            mme.build(EV_MAC, self.mac, mme.AttenCharInd(EV_MAC, wrong_run, 10, (1,) * 58)),
            mme.build(EV_MAC, self.mac, mme.SlacMatchCnf(EV_MAC, self.mac, wrong_run,
                                                         b'n' * 7, b'k' * 16)),
            mme.build(EV_MAC, self.mac, mme.LinkStatusCnf(1))[:21],
        ]
        while True:
            for raw in frames:
                await self.link.send(raw)
                await asyncio.sleep(0.005)


def test_hostile_and_garbled_frames_are_ignored():
    async def main():
        bus = MemoryBus()
        charger = ScriptedCharger(bus, bytes.fromhex('02000000c001'), 25)
        modem = ScriptedModem(bus)
        modem.networks.append((charger.nid, charger.nmk))
        hostile = Hostile(bus)
        return (*await _run(bus, [hostile, charger, modem]), charger, hostile)
    result, session, _, _, _, charger, hostile = run(main())
    assert result.matched, result.message
    assert result.charger_mac == charger.mac and result.nmk == charger.nmk
    assert [c.mac for c in result.chargers] == [charger.mac]
    assert session.ignored_frames > 10


def test_validation_not_required_goes_on_and_no_answer_fails():
    async def main(validate_result):
        bus = MemoryBus()
        charger = ScriptedCharger(bus, bytes.fromhex('02000000c001'), 20,
                                  validate_result=validate_result)
        modem = ScriptedModem(bus, [(charger.nid, charger.nmk)])
        return await _run(bus, [charger, modem], SlacSettings(validate=True))
    result = run(main(mme.ValidateResult.NOT_REQUIRED))[0]
    assert result.matched, result.message
    result = run(main(None))[0]
    assert result.failure is SlacFailure.VALIDATION_FAILED


def test_two_evs_in_one_process_match_their_own_chargers():
    async def one(mac, charger_mac, attenuation):
        bus = MemoryBus()
        charger = ScriptedCharger(bus, charger_mac, attenuation)
        modem = ScriptedModem(bus, [(charger.nid, charger.nmk)])
        result = (await _run(bus, [charger, modem], mac=mac))[0]
        return result, charger

    async def main():
        mac = bytes.fromhex
        return await asyncio.gather(one(mac('02000000ee01'), mac('02000000c001'), 10),
                                    one(mac('02000000ee02'), mac('02000000c002'), 40))
    (first, charger_1), (second, charger_2) = run(main())
    assert first.matched and second.matched
    assert (first.charger_mac, first.nmk) == (charger_1.mac, charger_1.nmk)
    assert (second.charger_mac, second.nmk) == (charger_2.mac, charger_2.nmk)
    assert first.run_id != second.run_id


class BrokenLink:
    mac = EV_MAC

    async def send(self, frame):
        raise OSError(100, 'Network is down')

    async def receive(self):
        await asyncio.sleep(3600)

    def close(self):
        pass


def test_an_interface_error_ends_the_run_with_link_error():
    result = run(SlacSession(BrokenLink()).run())
    assert result.failure is SlacFailure.LINK_ERROR and 'Network is down' in result.message


def test_cancelling_a_run_leaves_the_session_unmatched():
    async def main():
        session = SlacSession(MemoryBus().attach(EV_MAC))
        task = asyncio.create_task(session.run())
        await asyncio.sleep(0.1)
        assert session.state is SlacState.MATCHING
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return session
    assert run(main()).state is SlacState.UNMATCHED


@pytest.mark.parametrize('field,value', [
    ('tt_match_response_s', 0), ('tt_ev_atten_results_s', -1), ('c_ev_match_retry', -1),
    ('c_ev_match_mnbc', 0), ('tp_ev_batch_msg_interval_s', 1.0), ('modem_mac', b'\x00')])
def test_settings_refuse_nonsense(field, value):
    with pytest.raises(ValueError, match=field):
        SlacSettings(**{field: value})
