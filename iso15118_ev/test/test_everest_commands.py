"""EVerest's 2026 commands on a library EV: abort_charging, cp_state_changed (and the external
control pilot), update_present_values. A whole `Ev` (commands, session task, tracker) runs
against the scripted charger over real TCP on ::1; only SDP is replaced (it needs a PLC link:
test_against_charger.py covers abort on the veth link with the real charger)."""
from __future__ import annotations

import asyncio
import math
import time

import pytest

from iso15118_ev.protocol.timers import Timeouts
from iso15118_ev.session import ev as ev_module
from iso15118_ev.session import events as ev
from iso15118_ev.session.ev import Ev
from iso15118_ev.session.settings import EvSettings
from iso15118_ev.vehicle.parameters import EvPresentValues, StartRequest
from iso15118_ev.vocabulary import DIN, ISO20, ISO20_DC, CommandCode, CpState, EndReason, Phase
from support.scripted_charger import ScriptedCharger
from test_protocol_din import DinCharger
from test_protocol_iso20 import Iso20Charger, rv, session

SCRIPT_TIMEOUT_S = 30.0
MODES = {DIN: 'DC_extended', ISO20_DC: 'DC'}
CHARGERS = {DIN: DinCharger, ISO20_DC: Iso20Charger}
LOOP = {DIN: 'CurrentDemandReq', ISO20_DC: 'DC_ChargeLoopReq'}
CABLE_CHECK = {DIN: 'CableCheckReq', ISO20_DC: 'DC_CableCheckReq'}
BEFORE_CABLE_CHECK = {DIN: 'ChargeParameterDiscoveryReq', ISO20_DC: 'ScheduleExchangeReq'}
# abort_charging ends the session without waiting for any response: well under every message
# timeout, with room for a loaded 2-core machine.
ABORT_BOUND_S = 1.0


@pytest.fixture(autouse=True)
def no_plc_link(monkeypatch):
    monkeypatch.setattr(ev_module, 'resolve_interface', lambda name: name)
    monkeypatch.setattr(ev_module, 'mac_address', lambda iface: bytes(6))


async def until(condition, timeout: float = SCRIPT_TIMEOUT_S) -> None:
    ends = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < ends, 'condition not met in time'
        await asyncio.sleep(0.01)


class Run:
    """One library EV's session against a scripted charger, with a script acting on the EV."""

    def __init__(self, protocol: str, charger=None, **settings):
        self.scripted = ScriptedCharger(protocol, charger or CHARGERS[protocol]())
        self.settings = settings
        self.events: list = []
        self.finished_at = math.nan
        self.marks: dict = {}
        self.car = None

    def loops(self) -> int:
        return self.scripted.names().count(LOOP[self.scripted.protocol])

    def first(self, name: str) -> float:
        return next(t for t, n, _ in self.scripted.requests if n == name)

    def bodies(self, name: str) -> list:
        return [body for _, n, body in self.scripted.requests if n == name]

    @property
    def end(self) -> ev.SessionFinished:
        return next(e for e in self.events if isinstance(e, ev.SessionFinished))

    def __call__(self, script, before_start=None):
        asyncio.run(self._main(script, before_start))
        return self

    async def _main(self, script, before_start) -> None:
        secc = await self.scripted.start()

        async def found(*_args):
            return secc, 1
        ev_module.discover, original = found, ev_module.discover
        done = asyncio.Event()

        def sink(event):
            self.events.append(event)
            if isinstance(event, ev.SessionFinished):
                self.finished_at = time.monotonic()
                done.set()
        try:
            protocol = self.scripted.protocol
            self.car = Ev(EvSettings(plc_interface='scripted', protocols=(protocol,),
                                     **self.settings), sink)
            self.car.prepare()
            if before_start is not None:
                before_start(self.car)
            assert self.car.start_charging(StartRequest.from_fields(MODES[protocol])).success
            helper = asyncio.ensure_future(script(self))
            await asyncio.wait_for(done.wait(), SCRIPT_TIMEOUT_S)
            await helper
        finally:
            ev_module.discover = original
            await self.scripted.close()


def stop_after_loops(count: int):
    async def script(run: Run):
        await until(lambda: run.loops() >= count)
        assert run.car.stop_charging().success
    return script


# --- abort_charging ---------------------------------------------------------------------------
def act_at_loop(run: 'Run', count: int, action) -> None:
    """While the charger handles the `count`th charge loop request (the EV waits for its
    response), `action(car)` runs; the time is kept in run.marks['action']."""
    handler = run.scripted.handler

    def handle(name, body):
        if name == LOOP[run.scripted.protocol] and run.loops() == count:
            run.marks['action'] = time.monotonic()
            action(run.car)
        return handler(name, body)
    run.scripted.handler = handle


async def nothing(run: 'Run') -> None:
    pass


@pytest.mark.parametrize('protocol', [DIN, ISO20_DC])
def test_abort_in_the_charge_loop_closes_at_once_without_session_stop(protocol):
    run = Run(protocol)
    results = []
    act_at_loop(run, 3, lambda car: results.append(car.abort_charging()))
    run(nothing)
    assert results[0].success and results[0].code == CommandCode.OK, results[0].message
    assert run.end.reason == EndReason.ABORTED, run.end.message
    assert 'without SessionStop' in run.end.message
    assert run.finished_at - run.marks['action'] < ABORT_BOUND_S
    # Nothing after the request in hand: no SessionStopReq, no further request.
    assert run.scripted.names()[-1] == LOOP[protocol] and run.loops() == 3
    assert run.car.phase == Phase.FINISHED
    assert run.car.tracker.snapshot.last_end_reason == 'aborted'


def test_abort_and_cp_changes_need_a_session():
    run = Run(DIN)
    car = Ev(EvSettings(plc_interface='scripted'), run.events.append)
    result = car.abort_charging()
    assert (result.success, result.code) == (False, CommandCode.WRONG_STATE)
    assert 'no session is running' in result.message
    result = car.cp_state_changed(CpState.E)     # recorded, nothing to end
    assert result.success and 'recorded' in result.message
    assert car.model.pilot.state == CpState.E
    assert not any(isinstance(e, ev.SessionFinished) for e in run.events)


# --- cp_state_changed --------------------------------------------------------------------------
@pytest.mark.parametrize('bad', [0, 7, -1, 255, 'C', None, 2.5, True, 'x' * 10000])
def test_unknown_cp_state_is_refused_and_changes_nothing(bad):
    car = Ev(EvSettings(plc_interface='scripted'), lambda e: None)
    result = car.cp_state_changed(bad)
    assert (result.success, result.code) == (False, CommandCode.INVALID_ARGUMENT)
    assert 'unknown CP state' in result.message and '3=C' in result.message
    assert len(result.message) < 200
    assert car.model.pilot.state is None and not car.model.pilot.history


@pytest.mark.parametrize('protocol, state, reason', [
    (DIN, CpState.E, EndReason.ABORTED), (DIN, CpState.F, EndReason.ABORTED),
    (DIN, CpState.A, EndReason.UNPLUGGED), (ISO20_DC, CpState.E, EndReason.ABORTED),
])
def test_cp_error_or_unplug_during_charging_ends_the_session_without_session_stop(
        protocol, state, reason):
    run = Run(protocol)
    act_at_loop(run, 2, lambda car: car.cp_state_changed(state))
    run(nothing)
    assert run.end.reason == reason, run.end.message
    assert f'CP state {state.name}' in run.end.message
    assert run.finished_at - run.marks['action'] < ABORT_BOUND_S
    assert run.scripted.names()[-1] == LOOP[protocol] and run.loops() == 2


@pytest.mark.parametrize('command, reason', [
    (lambda car: car.cp_state_changed(CpState.A), 'unplugged'),
    (lambda car: car.abort_charging(), 'aborted'),
])
def test_a_paused_session_ends_on_unplug_or_abort(command, reason):
    async def script(run: Run):
        await until(lambda: run.loops() >= 2)
        assert run.car.pause_charging().success
        await until(lambda: run.car.phase == Phase.PAUSED)
        assert run.car.model.resume_session_id
        result = command(run.car)
        assert result.success and 'paused session ended' in result.message, result.message
    run = Run(ISO20_DC)(script)
    assert run.end.reason == EndReason.PAUSED, run.end.message
    assert run.car.phase == Phase.FINISHED
    assert run.car.tracker.snapshot.last_end_reason == reason
    assert run.car.model.resume_session_id is None


def test_b_and_c_while_charging_are_recorded_and_the_session_goes_on():
    async def script(run: Run):
        await until(lambda: run.loops() >= 2)
        assert run.car.cp_state_changed(CpState.B).success
        assert run.car.cp_state_changed(CpState.C).success
        await stop_after_loops(run.loops() + 2)(run)
    run = Run(DIN)(script)
    assert run.end.reason == EndReason.STOPPED_BY_EV, run.end.message
    changes = [(c.previous, c.state, c.phase) for c in run.car.model.pilot.history]
    assert changes == [(None, CpState.B, 'charging'), (CpState.B, CpState.C, 'charging')]
    assert run.scripted.names()[-1] == 'SessionStopReq'


@pytest.mark.parametrize('protocol', [DIN, ISO20_DC])
def test_external_pilot_waits_for_c_before_cable_check(protocol):
    marks = {}

    async def script(run: Run):
        await until(lambda: BEFORE_CABLE_CHECK[protocol] in run.scripted.names())
        await asyncio.sleep(0.5)
        assert CABLE_CHECK[protocol] not in run.scripted.names()
        assert run.car.cp_state_changed(CpState.B).success   # still no energy
        await asyncio.sleep(0.3)
        assert CABLE_CHECK[protocol] not in run.scripted.names()
        marks['c'] = time.monotonic()
        assert run.car.cp_state_changed(CpState.C).success
        await stop_after_loops(2)(run)
    run = Run(protocol, control_pilot='external')(script)
    assert run.end.reason == EndReason.STOPPED_BY_EV, run.end.message
    assert run.first(CABLE_CHECK[protocol]) >= marks['c']


@pytest.mark.parametrize('protocol, group', [(DIN, DIN), (ISO20_DC, ISO20)])
def test_external_pilot_without_c_ends_with_the_cable_check_timeout(protocol, group):
    run = Run(protocol, control_pilot='external',
              timeouts=Timeouts({group: {'cable_check': 1.0}}))(
        nothing, before_start=lambda car: car.cp_state_changed(CpState.B))
    assert run.end.reason == EndReason.TIMEOUT, run.end.message
    assert 'needs CP state C or D; CP state B for 1 s (cable_check timer)' in run.end.message
    assert CABLE_CHECK[protocol] not in run.scripted.names()


def test_external_pilot_in_d_needs_no_wait():
    run = Run(DIN, control_pilot='external')(
        stop_after_loops(1), before_start=lambda car: car.cp_state_changed(CpState.D))
    assert run.end.reason == EndReason.STOPPED_BY_EV, run.end.message


def test_simulated_pilot_never_waits():
    run = Run(DIN)(stop_after_loops(1))
    assert run.car.model.pilot.state is None
    assert run.end.reason == EndReason.STOPPED_BY_EV, run.end.message


def test_stop_while_waiting_for_c_ends_without_cable_check():
    async def script(run: Run):
        await until(lambda: 'ChargeParameterDiscoveryReq' in run.scripted.names())
        await asyncio.sleep(0.3)
        assert run.car.stop_charging().success
    run = Run(DIN, control_pilot='external')(script)
    assert run.end.reason == EndReason.STOPPED_BY_EV, run.end.message
    assert 'CableCheckReq' not in run.scripted.names()


# --- update_present_values ---------------------------------------------------------------------
@pytest.mark.parametrize('changes, fragment', [
    ({'present_voltage': math.nan}, 'is NaN'),
    ({'present_voltage': -1.0}, 'out of range'),
    ({'present_current': 1000.5}, 'out of range: -1000 to 1000 A'),
    ({'present_current': -1000.5}, 'out of range: -1000 to 1000 A'),
    ({'present_active_power': math.inf}, 'out of range'),
    ({'present_active_power': -math.inf}, 'out of range: -500000 to 500000 W'),
    ({'soc': 10.0}, 'unknown parameter'),
    ({}, 'no field given'),
])
def test_bad_present_values_are_refused_and_change_nothing(changes, fragment):
    car = Ev(EvSettings(plc_interface='scripted'), lambda e: None)
    assert car.update_present_values({'present_voltage': 300.0}).success
    # A valid field next to a bad one is not applied either.
    result = car.update_present_values({'present_current': 2.0, **changes} if changes else {})
    assert (result.success, result.code) == (False, CommandCode.INVALID_ARGUMENT)
    assert fragment in result.message
    assert car.model.measured == EvPresentValues(present_voltage=300.0)


def test_present_voltage_is_sent_until_cleared():
    async def script(run: Run):
        await until(lambda: run.loops() >= 2)
        assert run.car.update_present_values({}, clear=True).success
        await stop_after_loops(run.loops() + 3)(run)
    run = Run(ISO20_DC)(script, before_start=lambda car: car.update_present_values(
        {'present_voltage': 380.5, 'present_current': 12.0}))
    assert run.end.reason == EndReason.STOPPED_BY_EV, run.end.message
    sent = [rv(body['EVPresentVoltage']) for body in run.bodies('DC_PreChargeReq')]
    assert sent and all(v == pytest.approx(380.5) for v in sent)
    loops = [rv(body['EVPresentVoltage']) for body in run.bodies('DC_ChargeLoopReq')]
    assert loops[0] == pytest.approx(380.5)
    assert loops[-1] == pytest.approx(run.car.model.dc.target_voltage)   # the model's again


def test_a_discharging_ev_reports_negative_current_and_power():
    car = Ev(EvSettings(plc_interface='scripted'), lambda e: None)
    result = car.update_present_values({'present_current': -12.5,
                                        'present_active_power': -4750.0})
    assert result.success, result.message
    assert car.model.measured == EvPresentValues(present_current=-12.5,
                                                 present_active_power=-4750.0)


@pytest.mark.parametrize('power_w', [3210.0, -4750.0])
def test_present_active_power_is_sent_in_the_ac_charge_loop(power_w):
    from support.scripted_charger import model_for
    model = model_for('AC_three_phase_core')
    model.measured = EvPresentValues(present_active_power=power_w)
    _outcome, _observer, scripted, _model = session('AC', model=model)
    sent = [body for _, n, body in scripted.requests if n == 'AC_ChargeLoopReq']
    assert sent
    for body in sent:
        (mode,) = [v for k, v in body.items() if k.endswith('ControlMode')]
        assert rv(mode['EVPresentActivePower']) == pytest.approx(power_w)
