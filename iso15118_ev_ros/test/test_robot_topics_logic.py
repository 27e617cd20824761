"""The logic behind battery_state, safe_to_unplug and /diagnostics, on session snapshots alone
(no node, no network)."""
from __future__ import annotations

import dataclasses
import math

import pytest

from iso15118_ev.session.data_link import SlacStatus
from iso15118_ev.session.events import SessionSnapshot
from iso15118_ev.slac.ev import SlacState
from iso15118_ev.vocabulary import EndReason, Phase
from iso15118_ev_ros import diagnostics as d
from iso15118_ev_ros.battery import battery_values
from iso15118_ev_ros.unplug import SafeToUnplug

CHARGING = SessionSnapshot(phase=Phase.CHARGING, energy_transfer_mode='DC_extended', soc=50.0,
                           target_soc=100.0, evse_present_voltage=400.0,
                           evse_present_current=30.0, power_delivered=True,
                           protocol='ISO_15118_2', round_trip_s=0.05, message_timeout_s=0.25)


def snap(**changes):
    return dataclasses.replace(CHARGING, **changes)


def test_battery_charging_discharging_and_idle():
    b = battery_values(CHARGING)
    assert (b.percentage, b.voltage, b.current, b.status) == (0.5, 400.0, 30.0, 'charging')
    assert battery_values(snap(evse_present_current=-10.0)).status == 'discharging'
    idle = battery_values(snap(phase=Phase.IDLE))
    assert idle.status == 'not_charging' and math.isnan(idle.current) and math.isnan(idle.voltage)
    pre = battery_values(snap(phase=Phase.PRE_CHARGE))  # contactors open: not the battery's
    assert math.isnan(pre.voltage) and math.isnan(pre.current)
    ac = battery_values(snap(energy_transfer_mode='AC_three_phase_core'))
    assert math.isnan(ac.current) and ac.status == 'not_charging'


def test_battery_full_at_100_or_at_the_target_once_stopped():
    assert battery_values(snap(phase=Phase.FINISHED, soc=100.0)).status == 'full'
    assert battery_values(snap(phase=Phase.FINISHED, soc=80.0, target_soc=80.0)).status == 'full'
    assert battery_values(snap(phase=Phase.FINISHED, soc=79.0, target_soc=80.0)).status \
        == 'not_charging'
    assert battery_values(snap(soc=80.0, target_soc=80.0)).status == 'charging'


def test_safe_to_unplug_sequence_with_welding_detection():
    unplug = SafeToUnplug()
    assert unplug.update(SessionSnapshot())[0]
    assert not unplug.update(snap(phase=Phase.DISCOVERING, power_delivered=False))[0]
    assert not unplug.update(CHARGING)[0]
    assert not unplug.update(snap(phase=Phase.STOPPING, welding_detection_done=True))[0]
    safe, reason = unplug.update(snap(phase=Phase.FINISHED, welding_detection_done=True,
                                      evse_present_current=math.nan,
                                      last_end_reason='stopped_by_ev'))
    assert safe and 'welding' in reason
    assert not unplug.update(snap(phase=Phase.DISCOVERING))[0]  # the next session


@pytest.mark.parametrize('last_current, safe', [(0.4, True), (30.0, False), (math.nan, False)])
def test_safe_to_unplug_after_an_end_without_welding_detection(last_current, safe):
    unplug = SafeToUnplug()
    unplug.update(snap(evse_present_current=last_current))
    ended = snap(phase=Phase.FINISHED, evse_present_current=math.nan, last_end_reason='timeout')
    assert unplug.update(ended)[0] is safe


def test_safe_to_unplug_when_power_never_flowed():
    unplug = SafeToUnplug()
    unplug.update(snap(phase=Phase.NEGOTIATING, power_delivered=False,
                       evse_present_current=math.nan))
    assert unplug.update(snap(phase=Phase.FINISHED, power_delivered=False,
                              evse_present_current=math.nan))[0]


def run(task):
    status = d.Status()
    task(status)
    return status


def test_session_warns_near_its_message_timeout():
    assert run(d.session_task(lambda: CHARGING)).level == d.OK
    slow = snap(round_trip_s=0.21)
    status = run(d.session_task(lambda: slow))
    assert status.level == d.WARN and '84%' in status.message


@pytest.mark.parametrize('reason', list(EndReason))
def test_last_error_levels(reason):
    name = reason.name.lower()
    status = run(d.last_error_task(lambda: snap(last_end_reason=name)))
    errors = {EndReason.TIMEOUT, EndReason.PROTOCOL_ERROR, EndReason.CONNECTION_LOST,
              EndReason.SECURITY_ERROR, EndReason.INTERNAL_ERROR,
              EndReason.AUTHORIZATION_FAILED, EndReason.SLAC_FAILED}
    warnings = {EndReason.ABORTED, EndReason.UNPLUGGED}
    expected = d.ERROR if reason in errors else d.WARN if reason in warnings else d.OK
    assert status.level == expected, status.message


def test_error_end_reasons_are_end_reason_names():
    assert d.ERROR_END_REASONS | d.WARN_END_REASONS <= {r.name.lower() for r in EndReason}


@pytest.mark.parametrize('operstate, addresses, level', [
    (None, [], d.ERROR), ('down', [], d.ERROR), ('lowerlayerdown', ['fe80::1'], d.ERROR),
    ('up', [], d.WARN), ('up', ['fe80::1'], d.OK)])
def test_plc_link_levels(operstate, addresses, level):
    status = run(d.plc_link_task('eth9', read=lambda _iface: (operstate, addresses)))
    assert status.level == level, status.message


def test_interface_state_reads_sysfs_and_if_inet6(tmp_path):
    (tmp_path / 'eth9').mkdir()
    (tmp_path / 'eth9' / 'operstate').write_text('up\n')
    inet6 = tmp_path / 'if_inet6'
    inet6.write_text('fe800000000000000000000000000001 03 40 20 80     eth9\n'
                     '20010db8000000000000000000000001 03 40 00 80     eth9\n')
    assert d.interface_state('eth9', str(tmp_path), str(inet6)) == (
        'up', ['fe80:0000:0000:0000:0000:0000:0000:0001'])
    assert d.interface_state('eth8', str(tmp_path), str(inet6)) == (None, [])


def test_safe_to_unplug_ac_needs_the_acknowledged_power_off():
    ac = dict(energy_transfer_mode='AC_three_phase_core', evse_present_current=math.nan,
              evse_present_voltage=math.nan)
    unplug = SafeToUnplug()
    unplug.update(snap(**ac))
    assert not unplug.update(snap(phase=Phase.FINISHED, last_end_reason='connection_lost',
                                  **ac))[0]
    assert unplug.update(snap(phase=Phase.FINISHED, power_off_acknowledged=True,
                              last_end_reason='stopped_by_ev', **ac))[0]
    # DC: an acknowledged power off alone is not enough while current may still flow
    unplug.update(CHARGING)
    assert not unplug.update(snap(phase=Phase.FINISHED, power_off_acknowledged=True,
                                  evse_present_current=math.nan))[0]


@pytest.mark.parametrize('status, level, fragment', [
    (SlacStatus(SlacState.MATCHED, '02:00:00:00:c0:01', 20.0), d.OK,
     'matched with 02:00:00:00:c0:01 at 20.0 dB'),
    (SlacStatus(SlacState.FAILED, failure='no_response', message='no CM_SLAC_PARM.CNF'),
     d.ERROR, 'SLAC failed (no_response): no CM_SLAC_PARM.CNF'),
    (SlacStatus(SlacState.UNMATCHED, message='unplugged'), d.OK, 'unmatched: unplugged')])
def test_slac_levels(status, level, fragment):
    result = run(d.slac_task(lambda: status))
    assert (result.level, result.message) == (level, fragment)


def test_slac_task_only_with_slac_on():
    names = [name for name, _ in d.ev_tasks('eth9', SessionSnapshot)]
    assert 'SLAC' not in names
    names = [name for name, _ in d.ev_tasks('eth9', SessionSnapshot,
                                            lambda: SlacStatus(SlacState.UNMATCHED))]
    assert names[:2] == ['PLC link', 'SLAC']
