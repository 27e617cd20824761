"""The EVCC core without ROS: validation, discovery, and a real session through the facade."""
from __future__ import annotations

import ast
import math
import subprocess
import sys
import threading
import time

import pytest

from iso15118_ev.session import events as ev
from iso15118_ev.transport import sdp as plc
from iso15118_ev.vehicle.energy_modes import check_energy_mode, protocols_for
from iso15118_ev.session.core import EvccCore
from iso15118_ev.vehicle.parameters import (DC_EV_BOUNDS, DcEvParameters, InvalidRequest,
                                             StartRequest, updated)
from iso15118_ev.session.settings import CoreSettings
from iso15118_ev.session.tracker import phase_after_request


def _modules_loaded_by(code: str, packages) -> list:
    """Top-level packages among `packages` that `code` loads, in a fresh interpreter."""
    probe = (f'import sys; {code}; '
             f'print(sorted(m for m in sys.modules if m.split(".")[0] in {tuple(packages)!r}))')
    done = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return ast.literal_eval(done.stdout.strip())


def test_core_imports_no_ros():
    """The core (and the charger simulator) load without rclpy."""
    code = ('import iso15118_ev.session.core, iso15118_ev.session.josev.engine, '
            'iso15118_ev_testing.charger_simulator')
    assert _modules_loaded_by(code, ROS_PACKAGES) == []


def test_exi_codec_imports_no_ros_and_no_java():
    code = ('import iso15118_ev.codec as e; '
            'e.NativeExiCodec().prepare("urn:iso:15118:2:2013:MsgDef")')
    assert _modules_loaded_by(code, ROS_PACKAGES + ('py4j',)) == []


ROS_PACKAGES = ('rclpy', 'rcl_interfaces', 'builtin_interfaces', 'iso15118_ev_msgs',
                'rosidl_runtime_py')


@pytest.mark.parametrize('changes, fragment', [
    ({'target_current': 1000.1}, 'out of range: 0 to 1000 A'),
    ({'max_voltage_limit': -1.0}, 'out of range'),
    ({'max_power_limit': math.nan}, 'is NaN'),
    ({'target_voltage': math.inf}, 'out of range'),
    ({'voltage': 10.0}, 'unknown parameter'),
])
def test_dc_parameters_refused(changes, fragment):
    with pytest.raises(InvalidRequest, match=fragment):
        updated(DcEvParameters(), changes, DC_EV_BOUNDS)


def test_dc_parameters_update_only_given_fields():
    new = updated(DcEvParameters(), {'target_current': 20.0}, DC_EV_BOUNDS)
    assert new.target_current == 20.0
    assert new.target_voltage == DcEvParameters().target_voltage


@pytest.mark.parametrize('mode, fragment', [
    ('WPT', 'not served'), ('MCS', 'not served'), ('AC_two_phase', 'not served'),
    ('DC_turbo', 'unknown'), ('', 'unknown'),
])
def test_energy_mode_refused(mode, fragment):
    with pytest.raises(InvalidRequest, match=fragment):
        check_energy_mode(mode)


def test_protocol_priority_order_is_kept_and_narrowed():
    priority = ('ISO_15118_20_AC', 'DIN_SPEC_70121', 'ISO_15118_20_DC', 'ISO_15118_2')
    assert protocols_for(check_energy_mode('DC_extended'), priority) == \
        ('DIN_SPEC_70121', 'ISO_15118_20_DC', 'ISO_15118_2')
    assert protocols_for(check_energy_mode('AC_three_phase_core'), priority) == \
        ('ISO_15118_20_AC', 'ISO_15118_2')
    with pytest.raises(InvalidRequest, match='protocols parameter allows only'):
        protocols_for(check_energy_mode('DC_BPT'), ('ISO_15118_2',))


@pytest.mark.parametrize('kwargs, fragment', [
    (dict(payment_option='Cash'), 'payment_option'),
    (dict(enforce_payment_option=True), 'no payment_option'),
    (dict(e_amount_kwh=math.nan), 'e_amount is NaN'),
    (dict(e_amount_kwh=-5.0), 'out of range'),
])
def test_start_request_refused(kwargs, fragment):
    with pytest.raises(InvalidRequest, match=fragment):
        StartRequest.from_fields('DC_extended', **kwargs)


def test_sdp_request_and_response_bytes():
    assert plc.sdp_request(tls=False).hex() == '01fe900000000002' + '1000'
    address = bytes.fromhex('fe80000000000000021122fffe334455')
    answer = bytes.fromhex('01fe900100000014') + address + bytes.fromhex('c35a1000')
    secc = plc.parse_sdp_response(answer, 'evt0')
    assert secc == plc.SeccAddress('fe80::211:22ff:fe33:4455%evt0', 50010, False)
    assert plc.parse_sdp_response(answer[:-1], 'evt0') is None
    assert plc.parse_sdp_response(b'\x01\xfe\x90\x00' + answer[4:], 'evt0') is None


@pytest.mark.parametrize('name, error', [
    ('lo', 'cannot carry SDP multicast'),
    ('does_not_exist0', 'does not exist'),
])
def test_plc_interface_refused(name, error):
    with pytest.raises(plc.PlcInterfaceError, match=error):
        plc.resolve_interface(name)


def test_phase_follows_requests():
    phase = ev.Phase.DISCOVERING
    names = ['SupportedAppProtocolReq', 'SessionSetupReq', 'ChargeParameterDiscoveryReq',
             'CableCheckReq', 'PreChargeReq', 'PowerDeliveryReq', 'CurrentDemandReq',
             'PowerDeliveryReq', 'WeldingDetectionReq', 'SessionStopReq']
    seen = []
    for name in names:
        phase = phase_after_request(name, phase)
        seen.append(phase.name)
    assert seen == ['CONNECTED', 'NEGOTIATING', 'NEGOTIATING', 'CABLE_CHECK', 'PRE_CHARGE',
                    'CHARGING', 'CHARGING', 'STOPPING', 'STOPPING', 'STOPPING']


class Events:
    def __init__(self):
        self.items = []
        self.cond = threading.Condition()

    def __call__(self, event):
        with self.cond:
            self.items.append(event)
            self.cond.notify_all()

    def wait(self, kind, timeout, check=lambda e: True):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [e for e in self.items if isinstance(e, kind) and check(e)]
                if found:
                    return found[0]
                left = deadline - time.monotonic()
                assert left > 0, f'no {kind.__name__} within {timeout} s'
                self.cond.wait(left)


def test_facade_runs_a_session_against_the_charger(plc_link, charger):
    charger('ISO_15118_2')
    events = Events()
    core = EvccCore(CoreSettings(plc_interface=plc_link, sdp_max_requests=20), events)
    core.start()
    try:
        assert core.engine_ready(30)
        result = core.start_charging(StartRequest.from_fields('DC_extended'))
        assert result.success, result.message
        assert not core.start_charging(StartRequest.from_fields('DC_extended')).success
        events.wait(ev.DcPowerOn, 40)
        charging = events.wait(ev.SessionSnapshot, 10,
                               lambda s: s.last_charger_message == 'CurrentDemandRes')
        assert charging.protocol == 'ISO_15118_2'
        assert abs(charging.evse_present_voltage - 200.0) <= 20.0
        assert core.stop_charging().success
        finished = events.wait(ev.SessionFinished, 30)
        assert finished.reason == ev.EndReason.STOPPED_BY_EV, finished.message
        assert not core.stop_charging().success
    finally:
        core.shutdown()


def test_facade_reports_no_charger(plc_link):
    events = Events()
    core = EvccCore(CoreSettings(plc_interface=plc_link, sdp_max_requests=4), events)
    core.start()
    try:
        started = time.monotonic()
        assert core.start_charging(StartRequest.from_fields('DC_extended')).success
        finished = events.wait(ev.SessionFinished, 30)
        assert finished.reason == ev.EndReason.NO_CHARGER_FOUND
        assert '4 SDP requests' in finished.message
        assert time.monotonic() - started < 25  # 4 x 250 ms, after the JVM started
    finally:
        core.shutdown()
