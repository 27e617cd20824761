"""EVerest's 2026 services on the real node (separate process, real DDS) against the charger
simulator over the veth link: abort_charging, cp_state_changed (simulated and external control
pilot) and update_present_values, with their refusals."""
from __future__ import annotations

import json
import math
import threading
import time

import pytest
from iso15118_ev_msgs import srv
from iso15118_ev_msgs.msg import EvPresentValues, SessionFinished

from ros_client import RosClient
from test_end_to_end import SESSION_TIMEOUT, start, wait_charging, wait_finished
from test_services import refused

Code = srv.AbortCharging.Response
Cp = srv.CpStateChanged.Request
EVEREST_SERVICES = {'abort_charging': srv.AbortCharging,
                    'cp_state_changed': srv.CpStateChanged,
                    'update_present_values': srv.UpdatePresentValues}
# An abort answers no message: the session ends well within any message timeout; the bound
# leaves room for DDS and a loaded 2-core machine.
ABORT_BOUND_S = 2.0


class EverestClient(RosClient):
    """The test client with the EVerest services too."""

    def __init__(self):
        super().__init__('iso15118_ev_everest_client')
        self._everest = {name: self.node.create_client(kind, name)
                         for name, kind in EVEREST_SERVICES.items()}

    def wait_for_services(self, timeout: float = 30.0) -> None:
        super().wait_for_services(timeout)
        for name, client in self._everest.items():
            assert client.wait_for_service(timeout), f'service {name} did not appear'
        # Answered in any state (refused): the node has discovered our response readers.
        self._until_answered('cp_state_changed', timeout, state=0)

    def _until_answered(self, name, timeout, **fields):
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.call_everest(name, 1.0, **fields)
            except AssertionError:
                assert time.monotonic() < deadline, f'{name} never answered'

    def call_everest(self, name: str, timeout: float = 5.0, **fields):
        future = self._everest[name].call_async(EVEREST_SERVICES[name].Request(**fields))
        done = threading.Event()
        future.add_done_callback(lambda _f: done.set())
        assert done.wait(timeout), f'{name} did not answer within {timeout} s'
        return future.result()


@pytest.fixture
def ros():
    client = EverestClient()
    yield client
    client.close()


def present(**values) -> EvPresentValues:
    message = EvPresentValues()
    for name, value in values.items():
        setattr(message, name, value)
        setattr(message, f'has_{name}', True)
    return message


def test_refusals_have_their_codes_and_change_nothing(idle_node, ros):
    call = ros.call_everest
    refused(call('abort_charging'), Code.CODE_WRONG_STATE, 'no session is running')
    for bad in (0, 7, 255):
        refused(call('cp_state_changed', state=bad), Code.CODE_INVALID_ARGUMENT,
                'unknown CP state')
    refused(call('update_present_values', values=present(present_voltage=math.nan)),
            Code.CODE_INVALID_ARGUMENT, 'is NaN')
    refused(call('update_present_values', values=present(present_voltage=-2.0)),
            Code.CODE_INVALID_ARGUMENT, 'out of range: 0 to 1500 V')
    refused(call('update_present_values', values=present(present_active_power=6e5)),
            Code.CODE_INVALID_ARGUMENT, 'out of range: -500000 to 500000 W')
    refused(call('update_present_values', values=EvPresentValues()),
            Code.CODE_INVALID_ARGUMENT, 'no field given')
    ok = call('update_present_values', values=present(present_voltage=350.0))
    assert ok.success and ok.code == Code.CODE_OK and 'present_voltage=350' in ok.message
    giving = call('update_present_values', values=present(present_current=-8.0))  # discharging
    assert giving.success and 'present_current=-8' in giving.message
    assert call('update_present_values', values=EvPresentValues(), clear=True).success
    plugged = call('cp_state_changed', state=Cp.CP_STATE_B)   # start_on_plug '': no session
    assert plugged.success and plugged.message == 'CP state unknown -> B: plugged in'
    recorded = call('cp_state_changed', state=Cp.CP_STATE_B)
    assert recorded.success and 'recorded in phase idle' in recorded.message
    assert ros.wait_phase('idle', 1)   # nothing started or ended
    assert not ros.messages('v2g_session_finished')


@pytest.mark.parametrize('state, reason', [(Cp.CP_STATE_E, SessionFinished.REASON_ABORTED),
                                           (Cp.CP_STATE_A, SessionFinished.REASON_UNPLUGGED)])
def test_cp_state_during_charging_ends_the_session(charger, ev_node, ros, state, reason):
    charger('ISO_15118_2')
    ev_node()
    start(ros, 'DC_extended')
    wait_charging(ros, 1)
    mark = len(ros.messages())
    response = ros.call_everest('cp_state_changed', state=state)
    sent = time.monotonic()
    assert response.success and '(in phase charging)' in response.message, response.message
    finished = wait_finished(ros, reason, after=mark)
    assert 'CP state' in finished.message and finished.reason_text == \
        ('aborted' if state == Cp.CP_STATE_E else 'unplugged')
    arrived = ros.messages('v2g_session_finished')[-1].at
    assert arrived - sent < ABORT_BOUND_S
    assert 'session_state:stopping' not in ros.timeline()   # no orderly stop
    assert ros.wait_topic('session_state', 5, lambda m: m.phase_text == 'finished'
                          and m.last_end_reason == finished.reason_text)


def test_abort_charging_closes_without_session_stop(charger, ev_node, ros):
    secc = charger('ISO_15118_2', '--log-level', 'INFO')
    ev_node()
    start(ros, 'DC_extended')
    wait_charging(ros)
    response = ros.call_everest('abort_charging')
    assert response.success and response.code == Code.CODE_OK, response.message
    finished = wait_finished(ros, SessionFinished.REASON_ABORTED)
    assert 'without SessionStop' in finished.message
    assert 'session_state:stopping' not in ros.timeline()
    log = secc.log()
    assert 'CurrentDemandReq received' in log and 'SessionStopReq received' not in log
    # The EV (and the charger) can start again at once.
    mark = len(ros.messages())
    assert ros.call('start_charging', energy_transfer_mode='DC_extended').success
    ros.wait_topic('session_state', SESSION_TIMEOUT,
                   lambda m: m.last_charger_message == 'CurrentDemandRes', after=mark)
    assert ros.call('stop_charging').success
    wait_finished(ros, SessionFinished.REASON_STOPPED_BY_EV, after=mark)


def test_external_pilot_waits_for_c_then_times_out_without_it(charger, ev_node, ros):
    charger('ISO_15118_2')
    ev_node(control_pilot='external', **{'timeouts.iso2.cable_check': 3.0})
    ros.wait_for_services()
    assert ros.call_everest('cp_state_changed', state=Cp.CP_STATE_B).success
    start(ros, 'DC_extended')
    finished = wait_finished(ros, SessionFinished.REASON_TIMEOUT)
    assert 'CableCheckReq needs CP state C or D; CP state B for 3 s' in finished.message
    assert not any(r.message.last_charger_message == 'CableCheckRes'
                   for r in ros.messages('session_state'))

    mark = len(ros.messages())
    assert ros.call_everest('cp_state_changed', state=Cp.CP_STATE_C).success
    assert ros.call('start_charging', energy_transfer_mode='DC_extended').success
    ros.wait_topic('session_state', SESSION_TIMEOUT,
                   lambda m: m.last_charger_message == 'CurrentDemandRes', after=mark)
    assert ros.call('stop_charging').success
    wait_finished(ros, SessionFinished.REASON_STOPPED_BY_EV, after=mark)
    assert ros.wait_topic('session_state', SESSION_TIMEOUT,
                          lambda m: m.last_charger_message == 'CableCheckRes', after=mark)


def sent_present_voltages(log: str, request: str) -> list:
    """EVPresentVoltage (V) of every `request` the charger decoded (its INFO log)."""
    values = []
    for line in log.splitlines():
        if 'Decoded message' in line and f'"{request}"' in line:
            document = line.split('Decoded message', 1)[1].split('): ', 1)[1]
            body = json.loads(document)[request]
            number = body['EVPresentVoltage']
            values.append(number['Value'] * 10 ** number['Exponent'])
    return values


def loop_responses(ros) -> int:
    return sum(1 for r in ros.messages('session_state')
               if r.message.last_charger_message == 'DC_ChargeLoopRes')


def test_present_voltage_reaches_the_charger_until_cleared(charger, ev_node, ros):
    secc = charger('ISO_15118_20_DC', '--log-level', 'INFO')
    ev_node(**{'dc.target_voltage': 400.0})
    ros.wait_for_services()
    given = ros.call_everest('update_present_values', values=present(present_voltage=387.5))
    assert given.success, given.message
    start(ros, 'DC')
    wait_charging(ros, 2)
    assert ros.call_everest('update_present_values', values=EvPresentValues(),
                            clear=True).success
    cleared_at = loop_responses(ros)
    deadline = time.monotonic() + SESSION_TIMEOUT
    while loop_responses(ros) < cleared_at + 3:   # charge loops after the clear
        assert time.monotonic() < deadline, 'the charge loop did not go on'
        time.sleep(0.05)
    assert ros.call('stop_charging').success
    wait_finished(ros, SessionFinished.REASON_STOPPED_BY_EV)
    log = secc.log()
    assert sent_present_voltages(log, 'DC_PreChargeReq')[0] == pytest.approx(387.5)
    loops = sent_present_voltages(log, 'DC_ChargeLoopReq')
    assert loops[0] == pytest.approx(387.5)
    assert loops[-1] == pytest.approx(400.0)   # cleared: the model's voltage again
