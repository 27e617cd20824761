"""The V2G message trace and the charger's present DC values, from real sessions against the
charger simulator (veth link, Java codec) and from the session tracker alone."""
from __future__ import annotations

import asyncio
import json
import math
import re

import pytest

from iso15118_ev.codec import NativeExiCodec
from iso15118_ev.codec import namespaces as ns
from iso15118_ev.protocol.context import HANDSHAKE_PROTOCOL
from iso15118_ev.session import events as ev
from iso15118_ev.session.ev import Ev
from iso15118_ev.session.settings import EvSettings
from iso15118_ev.session.tracker import SessionTracker
from iso15118_ev.vehicle.energy_modes import check_energy_mode
from iso15118_ev.vehicle.model import EvModel
from iso15118_ev.vehicle.parameters import StartRequest
from iso15118_ev.vocabulary import DIN, ISO2, ISO20_DC, Direction, EndReason
from support.timers import relaxed

LOOP_RESPONSES = ('CurrentDemandRes', 'DC_ChargeLoopRes')
# A -2 DC session's exchanges, in the standard's order (ISO 15118-2 8.8.2).
ISO2_DC_ORDER = re.compile(
    r'supportedAppProtocol SessionSetup ServiceDiscovery (ServiceDetail )*'
    r'PaymentServiceSelection (Authorization )+(ChargeParameterDiscovery )+(CableCheck )+'
    r'(PreCharge )+PowerDelivery (CurrentDemand ){3,}PowerDelivery (WeldingDetection )*'
    r'SessionStop$')


def run_session(iface: str, protocol: str, mode: str, loops: int, **settings):
    """One session of a library EV, stopped by the EV after `loops` charge loops; its events."""
    events = []

    async def main():
        done = asyncio.Event()
        car = None

        def sink(event):
            events.append(event)
            if isinstance(event, ev.SessionFinished):
                done.set()
            elif (isinstance(event, ev.V2gMessage) and event.name in LOOP_RESPONSES
                  and sum(isinstance(e, ev.V2gMessage) and e.name == event.name
                          for e in events) == loops):
                car.stop_charging()
        car = Ev(EvSettings(plc_interface=iface, protocols=(protocol,), timeouts=relaxed(),
                            **settings), sink)
        car.prepare()
        assert car.start_charging(StartRequest.from_fields(mode)).success
        await asyncio.wait_for(done.wait(), 90)
    asyncio.run(main())
    end = next(e for e in events if isinstance(e, ev.SessionFinished))
    assert end.reason == EndReason.STOPPED_BY_EV, end.message
    return events


def trace(events):
    return [e for e in events if isinstance(e, ev.V2gMessage)]


def check_exchanges(messages):
    """Request, then its response, every time; stamps in the order of the wire."""
    assert len(messages) % 2 == 0
    for request, response in zip(messages[::2], messages[1::2]):
        assert request.direction == Direction.EV_TO_CHARGER, request
        assert response.direction == Direction.CHARGER_TO_EV, response
        assert request.name.endswith('Req') and response.name == request.name[:-3] + 'Res'
    stamps = [m.stamp for m in messages]
    assert stamps == sorted(stamps)


def test_iso2_dc_session_trace_in_the_standards_order(plc_link, charger):
    charger(ISO2)
    events = run_session(plc_link, ISO2, 'DC_extended', loops=4)
    messages = trace(events)
    check_exchanges(messages)
    exchanges = ' '.join(m.name[:-3] for m in messages[::2])
    assert ISO2_DC_ORDER.match(exchanges), exchanges
    handshake, session = messages[:2], messages[2:]
    assert all(m.protocol == HANDSHAKE_PROTOCOL and m.namespace == ns.APP_PROTOCOL
               and m.session_id == '' for m in handshake)
    assert all(m.protocol == ISO2 and m.namespace == ns.ISO2 for m in session)
    session_id = session[1].session_id            # SessionSetupRes: the charger's new ID
    assert session_id not in ('', '00') and all(m.session_id == session_id
                                                for m in session[2:])
    # nothing of the debug detail unless asked for
    assert all(m.decoded == '' and m.raw == b'' for m in messages)
    # the session's whole trace came before its end
    end = next(i for i, e in enumerate(events) if isinstance(e, ev.SessionFinished))
    assert not [e for e in events[end:] if isinstance(e, (ev.V2gMessage, ev.DcEvsePresent))]


@pytest.mark.parametrize('protocol, mode, loop', [
    (DIN, 'DC_extended', 'CurrentDemandRes'), (ISO2, 'DC_extended', 'CurrentDemandRes'),
    (ISO20_DC, 'DC', 'DC_ChargeLoopRes')])
def test_present_values_carry_the_stamp_of_their_response(plc_link, charger, protocol, mode,
                                                          loop):
    charger(protocol)
    events = run_session(plc_link, protocol, mode, loops=3)
    check_exchanges(trace(events))
    present = [(i, e) for i, e in enumerate(events) if isinstance(e, ev.DcEvsePresent)]
    assert [e.message for _, e in present].count(loop) >= 3
    for index, value in present:
        came_from = [e for e in events[:index] if isinstance(e, ev.V2gMessage)][-1]
        assert came_from.name == value.message and came_from.stamp == value.stamp
        assert came_from.direction == Direction.CHARGER_TO_EV
    charging = [e for _, e in present if e.message == loop]
    assert all(100.0 <= e.voltage <= 1000.0 and 0.0 <= e.current <= 500.0 for e in charging)


@pytest.mark.parametrize('protocol, mode', [(DIN, 'DC_extended'), (ISO2, 'DC_extended'),
                                            (ISO20_DC, 'DC')])
def test_debug_trace_carries_raw_exi_that_decodes_to_the_decoded_message(
        plc_link, charger, protocol, mode):
    charger(protocol)
    messages = trace(run_session(plc_link, protocol, mode, loops=2, v2g_messages_debug=True))
    check_exchanges(messages)
    codec = NativeExiCodec()
    for message in messages:
        assert message.raw and message.decoded, message.name
        again = codec.decode_object(message.raw, message.namespace)
        assert json.loads(message.decoded) == again, message.name
        assert f'"{message.name}"' in message.decoded


# --- the tracker alone --------------------------------------------------------------------------
def tracker(mode: str):
    events = []
    model = EvModel()
    model.begin_session(StartRequest.from_fields(mode), check_energy_mode(mode))
    t = SessionTracker(model, events.append)
    t.begin(mode)
    return t, events


def received(name: str, stamp: float) -> ev.V2gMessage:
    return ev.V2gMessage(Direction.CHARGER_TO_EV, ISO2, name, 'AB', ns.ISO2, stamp)


def test_tracker_passes_the_trace_on_and_stamps_present_values_with_their_response():
    t, events = tracker('DC_extended')
    t.on_v2g_message(received('WeldingDetectionRes', 100.0))
    t.on_response('WeldingDetectionRes', {'evse_present_voltage': 30.0}, 0.01)
    t.on_v2g_message(received('PowerDeliveryRes', 101.0))
    t.on_response('PowerDeliveryRes', {}, 0.01)
    trace_events = [e for e in events if isinstance(e, (ev.V2gMessage, ev.DcEvsePresent))]
    assert [type(e) for e in trace_events] == [ev.V2gMessage, ev.DcEvsePresent, ev.V2gMessage]
    welding = trace_events[1]
    assert (welding.message, welding.voltage, welding.stamp) == ('WeldingDetectionRes', 30.0,
                                                                 100.0)
    assert math.isnan(welding.current)


def test_tracker_reports_no_dc_present_values_in_an_ac_session():
    t, events = tracker('AC_three_phase_core')
    t.on_v2g_message(received('ChargingStatusRes', 100.0))
    t.on_response('ChargingStatusRes', {'ac_evse_max_current': 32.0}, 0.01)
    assert not [e for e in events if isinstance(e, ev.DcEvsePresent)]
    assert [e for e in events if isinstance(e, ev.AcEvseMaxCurrent)]
