"""The V2G trace topics against the real node (separate process, real DDS) and the charger
simulator: v2g_messages in the order of the wire, with the decoded message and raw EXI only
in debug mode, and the charger's present DC values stamped with the response they came from."""
from __future__ import annotations

import json
import math
import re
import threading
import time

import pytest
from iso15118_ev_msgs import msg
from iso15118_ev_msgs.msg import SessionFinished, V2gMessage
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import DescribeParameters, SetParameters
from rclpy.qos import QoSProfile, ReliabilityPolicy

from iso15118_ev.codec import NativeExiCodec
from iso15118_ev.vocabulary import Direction
from ros_client import RosClient
from test_robot_topics import SimClock, seconds

TIMEOUT = 45.0
TRACE = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
# A -2 DC session's exchanges, in the standard's order (ISO 15118-2 8.8.2).
ISO2_DC_ORDER = re.compile(
    r'supportedAppProtocol SessionSetup ServiceDiscovery (ServiceDetail )*'
    r'PaymentServiceSelection (Authorization )+(ChargeParameterDiscovery )+(CableCheck )+'
    r'(PreCharge )+PowerDelivery (CurrentDemand )+PowerDelivery (WeldingDetection )*'
    r'SessionStop$')


class TraceClient(RosClient):
    """The test client, also recording v2g_messages and the charger's present DC values."""

    def __init__(self, name='iso15118_ev_trace_client'):
        super().__init__(name)
        for topic, kind in (('v2g_messages', msg.V2gMessage),
                            ('dc_evse_present_voltage', msg.DcEvsePresentVoltage),
                            ('dc_evse_present_current', msg.DcEvsePresentCurrent)):
            self.node.create_subscription(kind, topic, self._recorder(topic), TRACE)

    def trace(self, after: int = 0):
        return [r.message for r in self.messages('v2g_messages')[after:]]


@pytest.fixture
def tracer():
    client = TraceClient()
    yield client
    client.close()


def parameter_call(client: RosClient, kind, name: str, request):
    service = client.node.create_client(kind, f'/iso15118_ev/{name}')
    assert service.wait_for_service(10)
    future = service.call_async(request)
    done = threading.Event()
    future.add_done_callback(lambda _f: done.set())
    assert done.wait(5)
    return future.result()


def test_direction_matches_the_message_constants():
    assert {d.name: d.value for d in Direction} == {
        'EV_TO_CHARGER': V2gMessage.EV_TO_CHARGER, 'CHARGER_TO_EV': V2gMessage.CHARGER_TO_EV}


def charge_then_stop(tracer, loops: int):
    """Start a -2 DC session, stop it after `loops` CurrentDemand loops; its trace."""
    mark = len(tracer.messages())
    assert tracer.call('start_charging', energy_transfer_mode='DC_extended').success
    for _ in range(loops):
        tracer.wait_topic('v2g_messages', TIMEOUT, lambda m: m.name == 'CurrentDemandRes',
                          after=len(tracer.messages()))
    assert tracer.call('stop_charging').success
    finished = tracer.wait_topic('v2g_session_finished', TIMEOUT, after=mark)
    assert finished.reason == SessionFinished.REASON_STOPPED_BY_EV, finished.message
    tracer.wait_topic('v2g_messages', 10, lambda m: m.name == 'SessionStopRes', after=mark)
    trace_mark = len([r for r in tracer.messages()[:mark] if r.topic == 'v2g_messages'])
    return tracer.trace(trace_mark), finished


def check_exchanges(trace):
    """Request, then its response, every time; stamps in the order of the wire."""
    assert len(trace) % 2 == 0, [m.name for m in trace]
    for request, response in zip(trace[::2], trace[1::2]):
        assert request.direction == V2gMessage.EV_TO_CHARGER, request.name
        assert response.direction == V2gMessage.CHARGER_TO_EV, response.name
        assert response.name == request.name[:-3] + 'Res', (request.name, response.name)
    stamps = [seconds(m.stamp) for m in trace]
    assert stamps == sorted(stamps)


def test_dc_session_trace_and_present_values(charger, ev_node, tracer):
    charger('ISO_15118_2')
    ev_node(**{'dc.target_current': 20.0})
    tracer.wait_for_services()
    started = time.time()
    trace, finished = charge_then_stop(tracer, loops=4)
    check_exchanges(trace)
    exchanges = ' '.join(m.name[:-3] for m in trace[::2])
    assert ISO2_DC_ORDER.match(exchanges), exchanges
    assert {m.protocol for m in trace[:2]} == {'supportedAppProtocol'}
    assert {m.protocol for m in trace[2:]} == {'ISO_15118_2'}
    assert trace[3].session_id and {m.session_id for m in trace[4:]} == {trace[3].session_id}
    assert all(m.decoded == '' and len(m.raw_exi) == 0 for m in trace), 'debug is off'
    assert started <= seconds(trace[0].stamp) and seconds(trace[-1].stamp) <= \
        seconds(finished.stamp)

    responses = [m for m in trace if m.direction == V2gMessage.CHARGER_TO_EV]
    for topic, field, came_in in (
            ('dc_evse_present_voltage', 'voltage', {'PreChargeRes', 'CurrentDemandRes'}),
            ('dc_evse_present_current', 'current', {'CurrentDemandRes'})):
        values = [r.message for r in tracer.messages(topic)]
        assert {v.message for v in values} >= came_in, topic
        assert not any(math.isnan(getattr(v, field)) for v in values), topic
        for value in values:   # stamped when its response was received
            came_from = [seconds(r.stamp) for r in responses if r.name == value.message]
            assert seconds(value.stamp) in came_from, (topic, value.message)
        assert seconds(values[-1].stamp) <= seconds(finished.stamp), 'nothing after the end'
    charging = [r.message for r in tracer.messages('dc_evse_present_voltage')
                if r.message.message == 'CurrentDemandRes']
    assert len(charging) >= 4 and all(m.voltage == pytest.approx(200.0, rel=0.1)
                                      for m in charging)
    currents = [r.message.current for r in tracer.messages('dc_evse_present_current')
                if r.message.message == 'CurrentDemandRes']
    assert all(0.0 <= c <= 21.0 for c in currents) and max(currents) > 0.5, currents


def test_debug_trace_carries_the_decoded_message_and_raw_exi(charger, ev_node, tracer):
    clock = SimClock()   # and the stamps are on the node's clock
    try:
        charger('ISO_15118_2')
        ev_node(v2g_messages_debug=True, use_sim_time=True)
        tracer.wait_for_services()
        SimClock.wait_until_in_use(tracer)
        trace, _ = charge_then_stop(tracer, loops=2)
    finally:
        clock.close()
    check_exchanges(trace)
    assert trace[0].name == 'supportedAppProtocolReq' and trace[-1].name == 'SessionStopRes'
    stamps = [seconds(m.stamp) for m in trace]
    assert all(SimClock.START <= s < SimClock.START + 600 for s in stamps), stamps
    codec = NativeExiCodec()
    for message in trace:
        raw = bytes(message.raw_exi)
        assert raw and message.decoded, message.name
        assert codec.decode_object(raw, message.exi_namespace) == json.loads(message.decoded)
        assert f'"{message.name}"' in message.decoded
    described, = parameter_call(tracer, DescribeParameters, 'describe_parameters',
                                DescribeParameters.Request(names=['v2g_messages_debug'])
                                ).descriptors
    assert described.read_only and described.description
    off = Parameter(name='v2g_messages_debug', value=ParameterValue(
        type=ParameterType.PARAMETER_BOOL, bool_value=False))
    refused, = parameter_call(tracer, SetParameters, 'set_parameters',
                              SetParameters.Request(parameters=[off])).results
    assert not refused.successful
