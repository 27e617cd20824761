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
from iso15118_ev.session.core import EvccCore
from iso15118_ev.session.settings import EvSettings
from iso15118_ev.session.tracker import phase_after_request
from iso15118_ev.transport import link, sdp
from iso15118_ev.vehicle.energy_modes import check_energy_mode, protocols_for
from iso15118_ev.vocabulary import EndReason, Phase
from iso15118_ev.vehicle.parameters import (DC_EV_BOUNDS, DcEvParameters, InvalidRequest,
                                            StartRequest, updated)


def _modules_loaded_by(code: str, packages) -> list:
    """Top-level packages among `packages` that `code` loads, in a fresh interpreter."""
    probe = (f'import sys; {code}; '
             f'print(sorted(m for m in sys.modules if m.split(".")[0] in {tuple(packages)!r}))')
    done = subprocess.run([sys.executable, '-c', probe], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return ast.literal_eval(done.stdout.strip())


def test_library_imports_neither_ros_nor_the_test_charger():
    """The whole library loads without rclpy, the iso15118 package, xmlschema or Java."""
    code = ('import iso15118_ev.session.core, iso15118_ev.session.ev; '
            'from iso15118_ev.codec import NativeExiCodec; '
            'NativeExiCodec().prepare("urn:iso:15118:2:2013:MsgDef")')
    assert _modules_loaded_by(code, FOREIGN_PACKAGES) == []


FOREIGN_PACKAGES = ('rclpy', 'rcl_interfaces', 'builtin_interfaces', 'iso15118_ev_msgs',
                    'rosidl_runtime_py', 'iso15118', 'xmlschema', 'py4j', 'pydantic')


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


SDP_ANSWER_HEADER = bytes.fromhex('01fe900100000014')


def sdp_answer(address: str, port: int = 50010, security: int = 0x10) -> bytes:
    import ipaddress
    import struct
    return SDP_ANSWER_HEADER + ipaddress.IPv6Address(address).packed + struct.pack(
        '>HBB', port, security, 0)


def test_sdp_request_and_response_bytes():
    assert sdp.sdp_request(tls=False).hex() == '01fe900000000002' + '1000'
    secc = sdp.parse_sdp_response(sdp_answer('fe80::211:22ff:fe33:4455'), 'evt0')
    assert secc == sdp.SeccAddress('fe80::211:22ff:fe33:4455%evt0', 50010, False)
    assert sdp.parse_sdp_response(sdp_answer('fe80::1', security=0x00), 'evt0').tls


@pytest.mark.parametrize('data, error', [
    (sdp_answer('fe80::1')[:-1], sdp.FramingError),                # short
    (b'\x01\xfe\x90\x00' + sdp_answer('fe80::1')[4:], sdp.FramingError),  # a request
    (b'\x02\xfd' + sdp_answer('fe80::1')[2:], sdp.FramingError),    # wrong version
    (sdp_answer('::1'), sdp.SdpAnswerRefused),                      # loopback
    (sdp_answer('2001:db8::1'), sdp.SdpAnswerRefused),              # global
    (sdp_answer('fe80::1', security=0x42), sdp.SdpAnswerRefused),
    (sdp_answer('fe80::1', port=0), sdp.SdpAnswerRefused),
])
def test_sdp_answers_the_ev_must_not_follow(data, error):
    with pytest.raises(error):
        sdp.parse_sdp_response(data, 'evt0')


@pytest.mark.parametrize('name, error', [
    ('lo', 'cannot carry SDP multicast'),
    ('does_not_exist0', 'does not exist'),
])
def test_plc_interface_refused(name, error):
    with pytest.raises(link.PlcInterfaceError, match=error):
        link.resolve_interface(name)


def test_phase_follows_requests():
    phase = Phase.DISCOVERING
    names = ['supportedAppProtocolReq', 'SessionSetupReq', 'ChargeParameterDiscoveryReq',
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
    core = EvccCore(EvSettings(plc_interface=plc_link, sdp_max_requests=20), events)
    core.start()
    try:
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
        assert finished.reason == EndReason.STOPPED_BY_EV, finished.message
        assert not core.stop_charging().success
    finally:
        core.shutdown()


def test_facade_reports_no_charger(plc_link):
    events = Events()
    core = EvccCore(EvSettings(plc_interface=plc_link, sdp_max_requests=4), events)
    core.start()
    try:
        started = time.monotonic()
        assert core.start_charging(StartRequest.from_fields('DC_extended')).success
        finished = events.wait(ev.SessionFinished, 30)
        assert finished.reason == EndReason.NO_CHARGER_FOUND
        assert '4 SDP requests' in finished.message
        assert time.monotonic() - started < 5  # 4 x 250 ms
    finally:
        core.shutdown()
