"""From plug to charge loop in the library: an external pilot, SLAC on an in-memory powerline
(scripted SLAC charger and EV modem), then the V2G session against the scripted charger. The
script plays the vehicle's pilot hardware: it applies the state the EV wants."""
import asyncio

import pytest

from iso15118_ev.session import events as ev
from iso15118_ev.session.data_link import DataLinkSettings, DlinkReady, SlacStatus
from iso15118_ev.session.ev import Ev
from iso15118_ev.session.settings import EvSettings
from iso15118_ev.slac import mme
from iso15118_ev.slac.ev import SlacSettings, SlacState
from iso15118_ev.slac.link import MemoryBus
from iso15118_ev.vehicle.parameters import StartRequest
from iso15118_ev.vocabulary import DIN, ISO20_DC, CommandCode, CpState, EndReason, Phase
from test_everest_commands import CABLE_CHECK, Run, no_plc_link, until  # noqa: F401 (fixture)
from test_slac_ev import EV_MAC, ScriptedCharger, ScriptedModem

SLAC_CHARGER_MAC = bytes.fromhex('02000000c002')
SLAC = DataLinkSettings(SlacSettings(tt_match_join_s=2.0), pwm_wait_s=2.0, bcb_toggle_s=0.05)


class PlugRun(Run):
    """Run with SLAC on and an external pilot; `before_start` wires the powerline."""

    def __init__(self, protocol):
        super().__init__(protocol, slac=SLAC, control_pilot='external')
        self.bus = MemoryBus()
        self.slac_charger = ScriptedCharger(self.bus, SLAC_CHARGER_MAC, 21)
        self.modem = ScriptedModem(self.bus, [(self.slac_charger.nid, self.slac_charger.nmk)])
        self.applied = []          # (CP state applied, requests the charger had seen by then)

    def wire(self, car: Ev) -> None:
        car.data_link._open = lambda _iface: self.bus.attach(EV_MAC)
        for peer in (self.slac_charger, self.modem):
            asyncio.ensure_future(peer.serve())
        asyncio.ensure_future(self._pilot_hardware(car))

    async def _pilot_hardware(self, car: Ev) -> None:
        """Applies what the EV wants (B/C) once it is plugged, as the pilot circuit does."""
        while True:
            wanted = car.model.pilot.wanted
            if wanted is not None and car.model.pilot.plugged and car.model.pilot.state != wanted:
                self.applied.append((wanted, len(self.scripted.requests)))
                car.cp_state_changed(wanted)
            await asyncio.sleep(0.005)

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]


@pytest.mark.parametrize('protocol', [DIN, ISO20_DC])
def test_plug_in_pwm_slac_then_a_dc_session_then_unplug(protocol):
    async def script(run: PlugRun):
        car = run.car
        await asyncio.sleep(0.3)
        assert run.scripted.requests == [] and run.slac_charger.count(mme.SlacParmReq) == 0
        assert car.phase == Phase.DISCOVERING          # armed, waiting for the plug
        assert car.cp_state_changed(CpState.B).success          # plug-in
        assert car.pwm_changed(5.0).success                     # the charger asks for HLC
        await until(lambda: run.loops() >= 3)
        assert car.stop_charging().success
        await until(lambda: car.phase == Phase.FINISHED)
        await until(lambda: car.model.pilot.state == CpState.B)
        result = car.cp_state_changed(CpState.A)                # unplug
        assert result.success
        await until(lambda: not car.data_link.ready and car.data_link.status.state
                    == SlacState.UNMATCHED)
    run = PlugRun(protocol)
    run(script, before_start=run.wire)
    assert run.end.reason == EndReason.STOPPED_BY_EV, run.end.message
    # SLAC matched before the first V2G request; C applied before CableCheck; B at the end.
    assert [s.state for s in run.of(SlacStatus)][-3:] == [
        SlacState.MATCHING, SlacState.MATCHED, SlacState.UNMATCHED]
    assert run.of(SlacStatus)[-2].charger_mac == mme.mac_text(SLAC_CHARGER_MAC)
    assert [e.ready for e in run.of(DlinkReady)] == [False, True, False]
    assert [e.state for e in run.of(ev.CpWanted)] == [CpState.B, CpState.C, CpState.B]
    c_applied_after = next(n for state, n in run.applied if state == CpState.C)
    names = run.scripted.names()
    assert names.index(CABLE_CHECK[protocol]) >= c_applied_after
    assert run.modem.key != (run.slac_charger.nid, run.slac_charger.nmk)   # left on unplug


def test_the_chargers_pwm_wake_up_resumes_a_paused_session_without_slac():
    async def script(run: PlugRun):
        car = run.car
        car.cp_state_changed(CpState.B)
        car.pwm_changed(5.0)
        await until(lambda: run.loops() >= 2)
        assert car.pause_charging().success
        await until(lambda: car.phase == Phase.PAUSED)
        await until(lambda: car.model.pilot.state == CpState.B)
        slac_runs = run.slac_charger.count(mme.SlacParmReq)
        assert car.pwm_changed(100.0).success                  # the charger sleeps
        assert car.phase == Phase.PAUSED
        woke = car.pwm_changed(5.0)                             # ... and wakes the EV
        assert woke.success and 'the charger woke the EV' in woke.message, woke.message
        assert 'resuming the paused session' in woke.message
        resumed_at = run.loops()
        await until(lambda: run.loops() >= resumed_at + 2)
        assert car.stop_charging().success
        await until(lambda: car.phase == Phase.FINISHED)
        assert run.slac_charger.count(mme.SlacParmReq) == slac_runs
    run = PlugRun(ISO20_DC)
    run(script, before_start=run.wire)
    ends = [e.reason for e in run.of(ev.SessionFinished)]
    assert ends == [EndReason.PAUSED, EndReason.STOPPED_BY_EV]


def test_pilot_commands_refuse_bad_input_and_need_slac():
    car = Ev(EvSettings(plc_interface='scripted', control_pilot='external'), lambda e: None)
    for bad in (float('nan'), -1.0, 100.5, True, 'five'):
        result = car.pwm_changed(bad)
        assert (result.success, result.code) == (False, CommandCode.INVALID_ARGUMENT), bad
        assert car.model.pilot.duty_percent is None
    for command in (car.trigger_matching, car.reset_slac):
        result = command()
        assert (result.success, result.code) == (False, CommandCode.NOT_SUPPORTED)
        assert 'slac.enabled' in result.message


def test_an_armed_session_waits_in_a_for_the_plug_and_a_error_state_ends_it():
    async def script(run: PlugRun):
        car = run.car
        assert car.cp_state_changed(CpState.A).success    # not plugged yet: nothing ends
        await asyncio.sleep(0.2)
        assert car.phase == Phase.DISCOVERING
        assert car.trigger_matching().code == CommandCode.WRONG_STATE
        car.cp_state_changed(CpState.F)                   # the charger's pilot is unavailable
    run = PlugRun(DIN)
    run(script, before_start=run.wire)
    assert run.end.reason == EndReason.ABORTED and 'CP state F' in run.end.message


def test_a_stop_in_the_same_loop_turn_as_the_start_still_ends_the_session():
    async def main():
        events = []
        car = Ev(EvSettings(plc_interface='scripted'), events.append)
        assert car.start_charging(StartRequest.from_fields('DC_extended')).success
        assert car.stop_charging().success          # the session task has not run yet
        await asyncio.sleep(0.05)
        return car, events
    car, events = asyncio.run(main())
    assert car.phase == Phase.FINISHED
    assert [e.reason for e in events if isinstance(e, ev.SessionFinished)] == [
        EndReason.STOPPED_BY_EV]
