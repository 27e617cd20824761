"""The node with real rclpy between processes: services, parameters, QoS, start-up errors."""
from __future__ import annotations

import math
import subprocess

import pytest
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import DescribeParameters, GetParameters, SetParameters

from conftest import node_executable
from iso15118_ev_msgs.msg import DcEvBptParameters, DcEvParameters
from iso15118_ev_msgs.srv import SetFault


def refused(response, fragment):
    assert not response.success, response.message
    assert fragment in response.message, response.message


def test_start_charging_refuses_bad_requests(idle_node, ros):
    refused(ros.call('start_charging', energy_transfer_mode='WPT'), 'not served')
    refused(ros.call('start_charging', energy_transfer_mode='DC_warp'), 'unknown')
    refused(ros.call('start_charging', energy_transfer_mode='DC_extended',
                     payment_option='Bitcoin'), 'payment_option')
    refused(ros.call('start_charging', energy_transfer_mode='DC_extended', has_e_amount=True,
                     e_amount=math.nan), 'NaN')
    refused(ros.call('start_charging', energy_transfer_mode='DC_extended', has_e_amount=True,
                     e_amount=-1.0), 'out of range')
    assert ros.wait_phase('idle', 1)  # nothing changed
    assert not [r for r in ros.messages('session_state') if r.message.phase_text != 'idle']


def test_commands_that_need_a_session_are_refused_when_idle(idle_node, ros):
    refused(ros.call('stop_charging'), 'no session is running')
    refused(ros.call('pause_charging'), 'no session is running')
    refused(ros.call('set_fault', fault=SetFault.Request.FAULT_DROP_LINK), 'none is running')
    refused(ros.call('set_fault', fault=77), 'unknown fault 77')


def test_set_dc_params_validates_and_applies(idle_node, ros):
    refused(ros.call('set_dc_params', parameters=DcEvParameters()), 'no field given')
    refused(ros.call('set_dc_params', parameters=DcEvParameters(
        has_target_current=True, target_current=1000.5)), 'out of range')
    refused(ros.call('set_dc_params', parameters=DcEvParameters(
        has_target_voltage=True, target_voltage=math.nan)), 'NaN')
    ok = ros.call('set_dc_params', parameters=DcEvParameters(
        has_target_voltage=True, target_voltage=400.0, has_max_current_limit=True,
        max_current_limit=250.0))
    assert ok.success, ok.message
    state = ros.wait_topic('session_state', 5, lambda m: m.ev_target_voltage == 400.0)
    assert state.ev_max_current_limit == 250.0


def test_set_bpt_dc_params_validates(idle_node, ros):
    refused(ros.call('set_bpt_dc_params', parameters=DcEvBptParameters(
        has_discharge_minimal_soc=True, discharge_minimal_soc=99.5)), 'out of range: 0 to 99')
    refused(ros.call('set_bpt_dc_params', parameters=DcEvBptParameters(
        has_discharge_target_current=True, discharge_target_current=-3.0)), 'out of range')
    assert ros.call('set_bpt_dc_params', parameters=DcEvBptParameters(
        has_discharge_max_current_limit=True, discharge_max_current_limit=100.0)).success


def test_update_soc_validates_and_applies(idle_node, ros):
    refused(ros.call('update_soc', soc=-1.0), 'out of range')
    refused(ros.call('update_soc', soc=100.01), 'out of range')
    refused(ros.call('update_soc', soc=math.nan), 'NaN')
    assert ros.call('update_soc', soc=55.5).success
    assert ros.wait_topic('session_state', 5, lambda m: m.soc == 55.5)


def test_enable_sae_j2847(idle_node, ros):
    response = ros.call('enable_sae_j2847_v2g_v2h')
    assert response.success and 'J2847' in response.message


def test_start_without_charger_ends_with_no_charger_found(idle_node, ros):
    assert ros.call('start_charging', energy_transfer_mode='DC_extended').success
    refused(ros.call('start_charging', energy_transfer_mode='DC_extended'), 'already running')
    finished = ros.wait_topic('v2g_session_finished', 30)
    assert finished.reason == finished.REASON_NO_CHARGER_FOUND
    assert 'SDP' in finished.message
    ros.wait_phase('finished', 5)
    # the node can start the next session
    assert ros.call('start_charging', energy_transfer_mode='DC_extended').success


def test_session_state_is_latched_for_late_subscribers(idle_node, ros):
    from ros_client import RosClient
    assert ros.call('update_soc', soc=30.0).success
    assert ros.call('update_soc', soc=31.0).success
    ros.wait_topic('session_state', 5, lambda m: m.soc == 31.0)
    late = RosClient('late_subscriber')
    try:
        state = late.wait_topic('session_state', 10)
        assert (state.phase_text, state.soc) == ('idle', 31.0)
        import time
        time.sleep(1.0)
        assert len(late.messages('session_state')) == 1  # depth 1: only the latest
        info = late.node.get_publishers_info_by_topic('/session_state')
        assert info and info[0].qos_profile.durability.name.lower() == 'transient_local'
    finally:
        late.close()


def _parameter_call(ros, kind, name, request):
    client = ros.node.create_client(kind, f'/iso15118_ev/{name}')
    assert client.wait_for_service(10)
    import threading
    future = client.call_async(request)
    done = threading.Event()
    future.add_done_callback(lambda _f: done.set())
    assert done.wait(5)
    return future.result()


def test_parameters_are_declared_with_descriptors(ev_node, ros):
    ev_node(protocols=['ISO_15118_20_DC', 'DIN_SPEC_70121', 'ISO_15118_2'])
    ros.wait_for_services()
    names = ['plc_interface', 'protocols', 'dc.target_voltage', 'timeouts.iso2.pre_charge',
             'sdp_max_requests', 'timeouts.din.cable_check']
    got = _parameter_call(ros, GetParameters, 'get_parameters', GetParameters.Request(names=names))
    values = {n: v for n, v in zip(names, got.values)}
    assert values['protocols'].string_array_value == [
        'ISO_15118_20_DC', 'DIN_SPEC_70121', 'ISO_15118_2']  # order kept exactly
    assert values['dc.target_voltage'].double_value == 200.0
    assert values['timeouts.iso2.pre_charge'].double_value == 7.0     # ISO 15118-2 Table 111
    assert values['timeouts.din.cable_check'].double_value == 40.0    # DIN 70121 Table 77
    described = _parameter_call(ros, DescribeParameters, 'describe_parameters',
                                DescribeParameters.Request(names=names))
    by_name = {d.name: d for d in described.descriptors}
    assert by_name['plc_interface'].read_only
    assert by_name['dc.target_voltage'].floating_point_range[0].to_value == 1500.0
    assert by_name['timeouts.iso2.pre_charge'].description
    refused_set = _parameter_call(ros, SetParameters, 'set_parameters', SetParameters.Request(
        parameters=[Parameter(name='plc_interface', value=ParameterValue(
            type=ParameterType.PARAMETER_STRING, string_value='eth9'))]))
    assert not refused_set.results[0].successful


@pytest.mark.parametrize('arguments, error', [
    ([], 'plc_interface is not set: give the interface'),
    (['-p', 'plc_interface:=nosuch0'], 'plc_interface "nosuch0" does not exist'),
    (['-p', 'plc_interface:=lo'], 'cannot carry SDP multicast'),
    (['-p', 'protocols:=[ISO_15118_2,ISO_15118_2]'], 'at most once'),
    (['-p', 'protocols:=[ISO_15118_9]'], 'unknown: ISO_15118_9'),
    (['-p', 'iso20_control_mode:=fastest'], "iso20_control_mode='fastest'"),
])
def test_node_refuses_to_start_with_bad_parameters(arguments, error):
    done = subprocess.run([node_executable("ev_node"), '--ros-args', *arguments],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert error in done.stderr
