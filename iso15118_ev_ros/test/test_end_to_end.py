"""Full sessions: the node (real rclpy, separate process) against the built-in charger simulator
(the iso15118 package's SECC, separate process, own network namespace) over a veth link."""
from __future__ import annotations

import math
import os
import signal
import time

import pytest

from iso15118_ev_msgs.msg import SessionFinished
from iso15118_ev_msgs.srv import SetFault

CHARGE_LOOP = ('CurrentDemandRes', 'ChargingStatusRes', 'DC_ChargeLoopRes', 'AC_ChargeLoopRes')
SESSION_TIMEOUT = 45.0


def start(ros, mode):
    ros.wait_for_services()
    response = ros.call('start_charging', energy_transfer_mode=mode)
    assert response.success, response.message
    return response


def wait_charging(ros, loops=3):
    """Wait until the charger has answered `loops` charge-loop requests; the last state."""
    count = 0
    for _ in range(loops):
        state = ros.wait_topic('session_state', SESSION_TIMEOUT,
                               lambda m: m.last_charger_message in CHARGE_LOOP,
                               after=_index_after_last(ros, count))
        count += 1
    return state


def _index_after_last(ros, count):
    seen = [i for i, r in enumerate(ros.messages())
            if r.topic == 'session_state' and r.message.last_charger_message in CHARGE_LOOP]
    return seen[count - 1] + 1 if count and len(seen) >= count else 0


def stop_and_finish(ros, expected=SessionFinished.REASON_STOPPED_BY_EV, after=0):
    response = ros.call('stop_charging')
    assert response.success, response.message
    return wait_finished(ros, expected, after)


def wait_finished(ros, expected, after=0):
    """The first session end recorded from index `after` on; if ev_power_ready became true in
    this session, also the ev_power_ready false that follows it."""
    finished = ros.wait_topic('v2g_session_finished', SESSION_TIMEOUT, after=after)
    assert finished.reason == expected, f'{finished.reason_text}: {finished.message}'
    ready = [i for i, r in enumerate(ros.messages())
             if i >= after and r.topic == 'ev_power_ready' and r.message.ready]
    if ready:
        ros.wait_topic('ev_power_ready', 10, lambda m: not m.ready, after=ready[-1] + 1)
    return finished


def order(ros, names, settle=5.0):
    """Assert `names` appear in the timeline in this order (by the node's stamps).

    Messages on different topics may still be on their way: wait up to `settle` s for them.
    """
    deadline = time.monotonic() + settle
    while True:
        timeline = ros.timeline()
        missing, start_at = None, 0
        for name in names:
            if name not in timeline[start_at:]:
                missing = name
                break
            start_at = timeline.index(name, start_at) + 1
        if missing is None:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f'{missing} missing in the expected order {names}: {timeline}')
        time.sleep(0.1)


@pytest.mark.parametrize('protocol, mode', [
    ('ISO_15118_2', 'DC_extended'),
    ('DIN_SPEC_70121', 'DC_extended'),
    ('ISO_15118_20_DC', 'DC'),
    ('ISO_15118_20_DC', 'DC_BPT'),
])
def test_dc_session(charger, ev_node, ros, protocol, mode):
    charger(protocol)
    ev_node()
    start(ros, mode)
    state = wait_charging(ros)
    assert state.protocol == protocol
    assert abs(state.evse_present_voltage - state.ev_target_voltage) <= 0.1 * state.ev_target_voltage
    finished = stop_and_finish(ros)
    assert finished.protocol == protocol
    order(ros, ['ev_power_ready:True', 'dc_power_on', 'session_state:charging',
                'session_state:stopping', 'v2g_session_finished:stopped_by_ev',
                'ev_power_ready:False', 'session_state:finished'])


@pytest.mark.parametrize('mode', ['DC_extended', 'AC_three_phase_core'])
def test_tls_session(charger, ev_node, ros, pki, mode):
    charger('ISO_15118_2', '--tls', '--pki', pki)
    ev_node(use_tls=True, enforce_tls=True, pki_path=pki)
    start(ros, mode)
    state = wait_charging(ros)
    assert state.tls and state.protocol == 'ISO_15118_2'
    stop_and_finish(ros)


@pytest.mark.parametrize('enable', [True, False])
def test_sae_j2847_services_selected_only_when_enabled(charger, ev_node, ros, enable):
    charger('ISO_15118_2', '--offer-j2847')
    ev_node()
    ros.wait_for_services()
    if enable:
        assert ros.call('enable_sae_j2847_v2g_v2h').success
    start(ros, 'DC_extended')
    state = wait_charging(ros, loops=1)
    assert list(state.selected_services) == ([1, 28472, 28473] if enable else [1])
    stop_and_finish(ros)


def test_external_payment(charger, ev_node, ros):
    charger('ISO_15118_2')
    ev_node()
    ros.wait_for_services()
    assert ros.call('start_charging', energy_transfer_mode='DC_extended',
                    payment_option='ExternalPayment', enforce_payment_option=True).success
    wait_charging(ros, loops=1)
    stop_and_finish(ros)


def test_plug_and_charge_session(charger, ev_node, ros, pki, ev_pki):
    """Contract over TLS 1.2 through the node: the EV starts without a contract certificate,
    installs one, and session_state shows the payment and the eMAID in use."""
    charger('ISO_15118_2', '--tls', '--pki', pki, '--auth-modes', 'PNC')
    ev_node(pki_path=ev_pki('none'))
    ros.wait_for_services()
    assert ros.call('start_charging', energy_transfer_mode='DC_extended',
                    payment_option='Contract', enforce_payment_option=True).success
    state = wait_charging(ros, loops=1)
    assert state.tls and state.payment_option == 'Contract'
    assert state.emaid == 'UKSWI123456791A'
    assert 'UKSWI123456791A' in ros.wait_topic('contract_installed', 5).detail
    stop_and_finish(ros)


def test_contract_payment_without_a_pki_is_refused(charger, ev_node, ros):
    charger('ISO_15118_2')
    ev_node()
    ros.wait_for_services()
    response = ros.call('start_charging', energy_transfer_mode='DC_extended',
                        payment_option='Contract', enforce_payment_option=True)
    assert not response.success and 'pki_path' in response.message, response.message
    ros.wait_phase('idle', 2)


def test_enforced_tls_refuses_a_charger_without_tls(charger, ev_node, ros, pki):
    charger('ISO_15118_2')
    ev_node(use_tls=True, enforce_tls=True, pki_path=pki)
    start(ros, 'DC_extended')
    finished = ros.wait_topic('v2g_session_finished', SESSION_TIMEOUT)
    assert finished.reason == SessionFinished.REASON_SECURITY_ERROR
    assert 'TLS' in finished.message


@pytest.mark.parametrize('protocol, mode', [
    ('ISO_15118_2', 'AC_three_phase_core'),
    ('ISO_15118_20_AC', 'AC_three_phase_core'),
    ('ISO_15118_20_AC', 'AC_BPT'),
])
def test_ac_session(charger, ev_node, ros, protocol, mode):
    charger(protocol)
    ev_node()
    start(ros, mode)
    state = wait_charging(ros)
    assert state.protocol == protocol
    stop_and_finish(ros)
    assert not ros.messages('dc_power_on')
    order(ros, ['ev_power_ready:True', 'session_state:charging',
                'v2g_session_finished:stopped_by_ev', 'ev_power_ready:False'])
    if protocol == 'ISO_15118_2':
        currents = [r.message.max_current for r in ros.messages('ac_evse_max_current')]
        assert currents and all(0 < c <= 400 for c in currents)
    else:
        targets = [r.message for r in ros.messages('ac_evse_target_power')]
        assert targets and all(math.isfinite(t.target_active_power) for t in targets)


@pytest.mark.parametrize('protocol, mode', [
    ('ISO_15118_2', 'DC_extended'), ('DIN_SPEC_70121', 'DC_extended'), ('ISO_15118_20_DC', 'DC')])
def test_set_dc_params_changes_the_next_request(charger, ev_node, ros, protocol, mode):
    charger(protocol)
    ev_node()
    start(ros, mode)
    wait_charging(ros)
    from iso15118_ev_msgs.msg import DcEvParameters
    assert ros.call('set_dc_params', parameters=DcEvParameters(
        has_target_current=True, target_current=20.0)).success
    # the charger follows the EV's new target: it must have received it
    state = ros.wait_topic('session_state', 15, lambda m: m.evse_present_current > 15.0)
    assert state.ev_target_current == 20.0
    stop_and_finish(ros)


@pytest.mark.parametrize('protocol, mode', [
    ('ISO_15118_2', 'DC_extended'), ('DIN_SPEC_70121', 'DC_extended'), ('ISO_15118_20_DC', 'DC')])
def test_charger_initiated_stop(charger, ev_node, ros, protocol, mode):
    charger(protocol, '--stop-after-loops', '3')
    ev_node()
    start(ros, mode)
    note = ros.wait_topic('stop_from_charger', SESSION_TIMEOUT)
    assert note.detail
    wait_finished(ros, SessionFinished.REASON_STOPPED_BY_CHARGER)
    order(ros, ['dc_power_on', 'stop_from_charger', 'v2g_session_finished:stopped_by_charger'])


@pytest.mark.parametrize('protocol, mode', [
    ('ISO_15118_2', 'DC_extended'), ('ISO_15118_2', 'AC_three_phase_core'),
    ('ISO_15118_20_DC', 'DC'), ('ISO_15118_20_AC', 'AC_three_phase_core')])
def test_ev_pause_and_resume(charger, ev_node, ros, protocol, mode):
    charger(protocol)
    ev_node()
    start(ros, mode)
    first = wait_charging(ros)
    assert ros.call('pause_charging').success
    wait_finished(ros, SessionFinished.REASON_PAUSED)
    ros.wait_phase('paused', 10)
    resumed = ros.call('start_charging', energy_transfer_mode=mode)
    assert resumed.success and 'resuming' in resumed.message
    mark = len(ros.messages())
    state = ros.wait_topic('session_state', SESSION_TIMEOUT,
                           lambda m: m.last_charger_message in CHARGE_LOOP, after=mark)
    if protocol == 'ISO_15118_2':
        # the charger joined the old session (Josev's -20 charger never stores paused IDs)
        assert state.session_id == first.session_id
    stop_and_finish(ros, after=mark)


@pytest.mark.parametrize('protocol, mode', [
    ('ISO_15118_20_DC', 'DC'), ('ISO_15118_20_AC', 'AC_three_phase_core')])
def test_charger_initiated_pause(charger, ev_node, ros, protocol, mode):
    charger(protocol, '--pause-after-loops', '3')
    ev_node()
    start(ros, mode)
    note = ros.wait_topic('pause_from_charger', SESSION_TIMEOUT)
    assert 'Pause' in note.detail
    wait_finished(ros, SessionFinished.REASON_PAUSED)
    ros.wait_phase('paused', 10)
    order(ros, ['pause_from_charger', 'v2g_session_finished:paused', 'session_state:paused'])


def test_pause_refused_in_din(charger, ev_node, ros):
    charger('DIN_SPEC_70121')
    ev_node()
    start(ros, 'DC_extended')
    wait_charging(ros, loops=1)
    response = ros.call('pause_charging')
    assert not response.success and 'DIN SPEC 70121 has no pause' in response.message
    stop_and_finish(ros)


def test_stop_before_handshake(charger, ev_node, ros):
    charger('ISO_15118_2')
    ev_node()
    start(ros, 'DC_extended')
    assert ros.call('stop_charging').success
    finished = ros.wait_topic('v2g_session_finished', SESSION_TIMEOUT)
    assert finished.reason == SessionFinished.REASON_STOPPED_BY_EV, finished.message
    assert not ros.messages('dc_power_on')
    mark = len(ros.messages())
    assert ros.call('start_charging', energy_transfer_mode='DC_extended').success
    ros.wait_topic('session_state', SESSION_TIMEOUT,
                   lambda m: m.last_charger_message in CHARGE_LOOP, after=mark)
    stop_and_finish(ros, after=mark)


@pytest.mark.parametrize('protocol, mode', [('ISO_15118_2', 'DC_extended'),
                                            ('DIN_SPEC_70121', 'DC_extended')])
def test_stop_during_pre_charge_is_orderly(charger, ev_node, ros, protocol, mode):
    charger(protocol, '--ramp', '0.1')  # a slow power module: pre-charge takes ~20 exchanges
    ev_node()
    start(ros, mode)
    ros.wait_topic('session_state', SESSION_TIMEOUT,
                   lambda m: m.last_charger_message == 'PreChargeRes')
    assert ros.call('stop_charging').success
    finished = wait_finished(ros, SessionFinished.REASON_STOPPED_BY_EV)
    assert 'connection closed' not in finished.message, finished.message
    assert not ros.messages('dc_power_on')
    order(ros, ['session_state:pre_charge', 'session_state:stopping',
                'v2g_session_finished:stopped_by_ev'])


@pytest.mark.parametrize('command, expected', [
    ('stop_charging', SessionFinished.REASON_STOPPED_BY_EV),
    ('pause_charging', SessionFinished.REASON_PAUSED)])
def test_iso20_session_stop_before_charging(charger, ev_node, ros, command, expected):
    charger('ISO_15118_20_DC')
    ev_node()
    start(ros, 'DC')
    ros.wait_topic('session_state', SESSION_TIMEOUT,
                   lambda m: m.last_charger_message == 'SessionSetupRes')
    assert ros.call(command).success
    finished = wait_finished(ros, expected)
    assert 'connection closed' not in finished.message, finished.message
    assert not ros.messages('dc_power_on')
    assert 'session_state:stopping' in ros.timeline()


@pytest.mark.parametrize('fault', [SetFault.Request.FAULT_STOP_ANSWERING,
                                   SetFault.Request.FAULT_SEND_INVALID_MESSAGE,
                                   SetFault.Request.FAULT_DROP_LINK])
def test_fault_in_charge_loop(charger, ev_node, ros, fault):
    charger('ISO_15118_2')
    ev_node()
    start(ros, 'DC_extended')
    wait_charging(ros)
    assert ros.call('set_fault', fault=fault).success
    finished = wait_finished(ros, SessionFinished.REASON_FAULT_INJECTED)
    assert 'injected fault' in finished.message
    assert ros.call('start_charging', energy_transfer_mode='DC_extended').success


def test_fault_refuse_pre_charge(charger, ev_node, ros):
    charger('ISO_15118_2')
    ev_node(**{'timeouts.pre_charge': 3.0})
    start(ros, 'DC_extended')
    assert ros.call('set_fault', fault=SetFault.Request.FAULT_REFUSE_PRE_CHARGE).success
    finished = wait_finished(ros, SessionFinished.REASON_FAULT_INJECTED)
    assert 'refuse_pre_charge' in finished.message
    assert not ros.messages('dc_power_on')


def test_node_runs_without_the_iso15118_package_and_without_java(charger, ev_node, ros,
                                                                 tmp_path, monkeypatch):
    """The node needs neither the test charger's package nor Java: with `import iso15118`
    failing and `java` broken on its PATH, a whole session runs."""
    charger('ISO_15118_2')  # the charger simulator keeps both (started with the real env)
    blocked = tmp_path / 'iso15118'
    blocked.mkdir()
    (blocked / '__init__.py').write_text('raise ImportError("iso15118 is blocked for this test")\n')
    java = tmp_path / 'java'
    java.write_text('#!/bin/sh\ntouch "$0.called"\nexit 1\n')
    java.chmod(0o755)
    monkeypatch.setenv('PYTHONPATH', f'{tmp_path}:{os.environ.get("PYTHONPATH", "")}')
    monkeypatch.setenv('PATH', f'{tmp_path}:{os.environ["PATH"]}')
    monkeypatch.delenv('JAVA_HOME', raising=False)
    node = ev_node()
    monkeypatch.undo()
    start(ros, 'DC_extended')
    wait_charging(ros)
    stop_and_finish(ros)
    assert not (tmp_path / 'java.called').exists()
    assert 'iso15118 is blocked' not in node.log()


@pytest.mark.parametrize('control_mode', ['scheduled', 'dynamic'])
@pytest.mark.parametrize('protocol, mode', [
    ('ISO_15118_20_DC', 'DC'), ('ISO_15118_20_DC', 'DC_BPT'),
    ('ISO_15118_20_AC', 'AC_three_phase_core'), ('ISO_15118_20_AC', 'AC_BPT')])
def test_iso20_control_modes(charger, ev_node, ros, protocol, mode, control_mode):
    charger(protocol)
    ev_node(iso20_control_mode=control_mode)
    start(ros, mode)
    state = wait_charging(ros)
    assert (state.protocol, state.control_mode) == (protocol, control_mode)
    stop_and_finish(ros)


def test_iso20_scheduled_without_price_schedule(charger, ev_node, ros):
    """EVerest's libiso15118 sends a PowerSchedule and no price schedule (schema-valid)."""
    charger('ISO_15118_20_DC', '--schedule-without-price')
    ev_node(iso20_control_mode='scheduled')
    start(ros, 'DC')
    assert wait_charging(ros).control_mode == 'scheduled'
    stop_and_finish(ros)


def test_din_charger_with_tuple_id_zero_and_a_long_evse_id(charger, ev_node, ros):
    """pyPLC's DIN charger sends SAScheduleTupleID 0, EVerest's a 17-octet EVSEID."""
    proc = charger('DIN_SPEC_70121', '--din-tuple-id-zero',
                   '--din-evse-id', b'DE*PNX*E12345*1AB'.hex())
    ev_node()
    start(ros, 'DC_extended')
    wait_charging(ros)
    stop_and_finish(ros)
    assert 'SAScheduleTupleID=0' in proc.log()   # the EV echoed 0 in PowerDeliveryReq


def test_iso20_over_tls13(charger, ev_node, ros, pki):
    charger('ISO_15118_20_DC', '--tls', '--tls13', '--pki', pki)
    ev_node(use_tls=True, enforce_tls=True, pki_path=pki)
    start(ros, 'DC')
    state = wait_charging(ros)
    assert state.tls and state.protocol == 'ISO_15118_20_DC'
    stop_and_finish(ros)


def test_untrusted_charger_certificate_is_a_security_error(charger, ev_node, ros, pki):
    charger('ISO_15118_2', '--tls', '--pki', pki, '--tls-untrusted')
    ev_node(use_tls=True, enforce_tls=True, pki_path=pki)
    start(ros, 'DC_extended')
    finished = ros.wait_topic('v2g_session_finished', SESSION_TIMEOUT)
    assert finished.reason == SessionFinished.REASON_SECURITY_ERROR, finished.message
    assert 'certificate' in finished.message


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGINT])
def test_signal_in_a_session_stops_it_in_order_and_publishes_the_end(charger, ev_node, ros,
                                                                      signum):
    charger('ISO_15118_2')
    node = ev_node()
    start(ros, 'DC_extended')
    wait_charging(ros)
    sent = time.monotonic()
    node.signal(signum)
    finished = ros.wait_topic('v2g_session_finished', 10)
    assert finished.reason == SessionFinished.REASON_SHUTDOWN, finished.message
    assert 'stopped by the EV' in finished.message   # the orderly stop went through
    assert node.proc.wait(10) == 0
    assert time.monotonic() - sent < 8
