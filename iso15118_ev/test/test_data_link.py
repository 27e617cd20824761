"""The EV's data link (plug-in, 5 % PWM, SLAC, D-LINK_READY) with the pilot port, against the
scripted SLAC charger and EV modem on an in-memory bus."""
import asyncio
import math
import time
from dataclasses import replace

import pytest

from iso15118_ev.session.data_link import DataLink, DataLinkSettings, DlinkReady, SlacStatus
from iso15118_ev.session.events import CpWanted
from iso15118_ev.slac import mme
from iso15118_ev.slac.ev import SlacSettings, SlacState
from iso15118_ev.slac.link import MemoryBus, interface_mac
from iso15118_ev.vehicle.control_pilot import EXTERNAL, SIMULATED, ControlPilot
from iso15118_ev.vocabulary import CpState, EndReason
from test_slac_ev import EV_MAC, ScriptedCharger, ScriptedModem

CHARGER_MAC = bytes.fromhex('02000000c001')
FAST = DataLinkSettings(SlacSettings(tt_match_join_s=2.0), pwm_wait_s=0.5, bcb_toggle_s=0.05)


class Bench:
    """A DataLink on a bus with one scripted charger (or none) and the EV's modem."""

    def __init__(self, mode=EXTERNAL, charger=True, settings=FAST):
        self.bus = MemoryBus()
        self.events = []
        self.charger = ScriptedCharger(self.bus, CHARGER_MAC, 17) if charger else None
        networks = [(self.charger.nid, self.charger.nmk)] if charger else []
        self.modem = ScriptedModem(self.bus, networks)
        self.pilot = ControlPilot(mode, lambda state: self.events.append(CpWanted(state)))
        self.link = DataLink('plc0', settings, self.pilot, self.events.append,
                             open_link=lambda _iface: self.bus.attach(EV_MAC))
        self._tasks = []

    def start(self):
        peers = [p for p in (self.charger, self.modem) if p is not None]
        self._tasks = [asyncio.ensure_future(p.serve()) for p in peers]

    def stop(self):
        for task in self._tasks:
            task.cancel()

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]

    def wanted(self):
        return [e.state for e in self.of(CpWanted)]

    def parm_requests(self):
        return self.charger.count(mme.SlacParmReq)


def run(bench, script):
    async def main():
        bench.start()
        try:
            return await asyncio.wait_for(script(bench), 20)
        finally:
            bench.stop()
    return asyncio.run(main())


def test_plug_pwm_slac_then_the_link_is_ready():
    async def script(b):
        ensure = asyncio.ensure_future(b.link.ensure())
        await asyncio.sleep(0.2)
        assert not ensure.done() and b.wanted() == []      # waits for the plug
        b.pilot.change(CpState.B, 'discovering')
        await asyncio.sleep(0.1)
        assert b.wanted() == [CpState.B] and b.parm_requests() == 0   # B, no SLAC before 5 %
        b.pilot.set_duty(5.0)
        return await ensure
    bench = Bench()
    assert run(bench, script) is None
    states = [s.state for s in bench.of(SlacStatus)]
    assert states == [SlacState.MATCHING, SlacState.MATCHED]
    matched = bench.of(SlacStatus)[-1]
    assert matched.charger_mac == mme.mac_text(CHARGER_MAC)
    assert matched.attenuation_db == pytest.approx(17.0)
    assert [s.ev_mac for s in bench.of(SlacStatus)] == [mme.mac_text(EV_MAC)] * 2
    assert [e.ready for e in bench.of(DlinkReady)] == [True]
    assert bench.link.ready and bench.modem.key == (bench.charger.nid, bench.charger.nmk)


def test_a_charger_without_5_percent_pwm_ends_it_with_why():
    async def script(b):
        b.pilot.change(CpState.B, 'discovering')
        b.pilot.set_duty(16.0)
        return await b.link.ensure()
    bench = Bench()
    outcome = run(bench, script)
    assert outcome.reason == EndReason.NO_CHARGER_FOUND
    assert 'duty 16 %: basic charging only' in outcome.message
    assert bench.parm_requests() == 0 and not bench.link.ready


async def plug_and_match(b):
    b.pilot.change(CpState.B, 'discovering')
    b.pilot.set_duty(5.0)
    return await b.link.ensure()


def attempts(bench):
    return [s.message for s in bench.of(SlacStatus) if s.state == SlacState.MATCHING]


def test_no_charger_fails_slac_with_its_reason_after_the_restarts():
    bench = Bench(charger=False)
    began = time.monotonic()
    outcome = run(bench, plug_and_match)
    took = time.monotonic() - began
    assert outcome.reason == EndReason.SLAC_FAILED
    assert outcome.message.startswith('SLAC no_response: no CM_SLAC_PARM.CNF')
    # [V2G3-A09-124/125]: the first matching and C_conn_max_match (3) restarts, each after
    # TT_matching_rate (0.4 s); each matching sends 3 CM_SLAC_PARM.REQ 0.2 s apart.
    assert outcome.message.endswith('(after 4 matching attempts)')
    assert attempts(bench) == ['matching'] + [f'matching (attempt {n})' for n in (2, 3, 4)]
    assert 4 * 0.6 + 3 * 0.4 <= took < 4 * 0.6 + 3 * 0.4 + 1.5, took
    failed = bench.of(SlacStatus)[-1]
    assert failed.state == SlacState.FAILED and failed.failure == 'no_response'
    assert math.isnan(failed.attenuation_db) and not bench.link.ready


def test_a_failed_matching_is_restarted_and_can_then_match():
    bench = Bench()
    bench.charger.drop_match_reqs = 3   # the first matching's CM_SLAC_MATCH.REQ and its 2 repeats
    assert run(bench, plug_and_match) is None
    assert [s.state for s in bench.of(SlacStatus)] == [
        SlacState.MATCHING, SlacState.MATCHING, SlacState.MATCHED]
    assert bench.parm_requests() == 2 and bench.link.ready
    assert bench.modem.key == (bench.charger.nid, bench.charger.nmk)


@pytest.mark.parametrize('settings, expected', [
    # restarts start only within TT_matching_repetition of the first start: 0 s and 1.0 s here
    (replace(FAST, tt_matching_repetition_s=1.5), 2),
    (replace(FAST, c_conn_max_match=0), 1),
])
def test_restarts_are_bounded_by_count_and_time(settings, expected):
    bench = Bench(charger=False, settings=settings)
    assert run(bench, plug_and_match).reason == EndReason.SLAC_FAILED
    assert len(attempts(bench)) == expected


@pytest.mark.parametrize('field, value', [('c_conn_max_match', -1), ('c_conn_max_match', 11),
                                          ('tt_matching_rate_s', 0.0),
                                          ('tt_matching_repetition_s', -1.0)])
def test_bad_restart_settings_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        DataLinkSettings(**{field: value})


def test_resume_on_a_live_link_wakes_the_charger_without_a_new_slac():
    async def script(b):
        b.pilot.change(CpState.B, 'discovering')
        b.pilot.set_duty(5.0)
        assert await b.link.ensure() is None
        first = b.parm_requests()
        b.pilot.want(CpState.C)          # charging, then a pause: B, and the charger sleeps
        b.pilot.want(CpState.B)
        b.pilot.set_duty(100.0)
        b.events.clear()
        resumed = asyncio.ensure_future(b.link.ensure())
        await asyncio.sleep(0.3)
        assert b.wanted() == [CpState.C, CpState.B]       # the B-C-B toggle
        b.pilot.set_duty(5.0)                             # the charger woke up
        assert await resumed is None
        return first
    bench = Bench()
    first = run(bench, script)
    assert bench.parm_requests() == first                 # no second matching
    assert bench.of(SlacStatus) == []


def test_reset_leaves_the_network_and_unplug_during_pwm_wait_ends_it():
    async def script(b):
        b.pilot.change(CpState.B, 'discovering')
        b.pilot.set_duty(5.0)
        assert await b.link.ensure() is None
        await b.link.reset('unplugged')
        assert b.modem.key != (b.charger.nid, b.charger.nmk)   # a fresh random key
        b.pilot.set_duty(100.0)
        waiting = asyncio.ensure_future(b.link.ensure())
        await asyncio.sleep(0.1)
        b.pilot.change(CpState.A, 'discovering')
        return await waiting
    bench = Bench(settings=DataLinkSettings(SlacSettings(), pwm_wait_s=5.0))
    outcome = run(bench, script)
    assert outcome.reason == EndReason.NO_CHARGER_FOUND
    assert 'unplugged (CP state A) while waiting for 5 % PWM' in outcome.message
    assert [e.ready for e in bench.of(DlinkReady)] == [True, False]
    assert bench.of(SlacStatus)[-1].state == SlacState.UNMATCHED
    assert bench.of(SlacStatus)[-1].ev_mac == mme.mac_text(EV_MAC)   # still known


def test_the_ev_mac_is_known_from_the_interface_before_any_matching():
    assert interface_mac('lo') == bytes(6)
    assert interface_mac('no-such-if0') == b'' and interface_mac('../../x') == b''
    pilot = ControlPilot(EXTERNAL, lambda state: None)
    on_lo = DataLink('lo', FAST, pilot, lambda event: None)
    assert on_lo.status.state == SlacState.UNMATCHED
    assert on_lo.status.ev_mac == '00:00:00:00:00:00'
    assert DataLink('no-such-if0', FAST, pilot, lambda event: None).status.ev_mac == ''
    assert DataLink('lo', None, pilot, lambda event: None).status.ev_mac == ''   # SLAC off


def test_simulated_pilot_matches_at_once_and_off_means_ready():
    bench = Bench(mode=SIMULATED)
    assert run(bench, lambda b: b.link.ensure()) is None
    assert bench.link.ready and bench.wanted() == [CpState.B]
    off = DataLink('plc0', None, ControlPilot(EXTERNAL), lambda e: None)
    assert off.ready and asyncio.run(off.ensure()) is None


def test_a_broken_interface_fails_as_a_link_error():
    def broken(_iface):
        raise OSError(19, 'No such device')
    events = []
    pilot = ControlPilot(SIMULATED)
    link = DataLink('plc9', FAST, pilot, events.append, open_link=broken)
    outcome = asyncio.run(link.ensure())
    assert outcome.reason == EndReason.SLAC_FAILED
    assert 'link_error' in outcome.message and 'plc9' in outcome.message
    assert 'attempts' not in outcome.message   # a broken interface is not retried
