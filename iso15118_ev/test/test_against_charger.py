"""The engine against the real charger simulator (the iso15118 package's SECC, Java codec) on a
veth link, without ROS: charge-loop timing with the standards' timers, hostile discovery
answers, responses split into 1-byte TCP segments, schema-valid answers real chargers send."""
from __future__ import annotations

import asyncio
import logging

import pytest

from iso15118_ev.session import events as ev
from iso15118_ev.session.ev import Ev
from iso15118_ev.session.settings import EvSettings
from iso15118_ev.vehicle.parameters import StartRequest
from iso15118_ev.vocabulary import DIN, ISO2, ISO20_AC, ISO20_DC, EndReason
from support.timers import relaxed

LOOP_RESPONSES = ('CurrentDemandRes', 'ChargingStatusRes', 'DC_ChargeLoopRes', 'AC_ChargeLoopRes')
MARGIN_S = 0.15   # scheduling and teardown on a loaded 2-core machine


def run_session(iface: str, protocol: str, mode: str, stop_after_loops: int = 0,
                timeout: float = 60.0, **settings):
    """One session of a library EV; its events, in order."""
    events = []

    async def main():
        done = asyncio.Event()
        car = None

        def sink(event):
            events.append(event)
            if isinstance(event, ev.SessionFinished):
                done.set()
            elif (stop_after_loops and isinstance(event, ev.SessionSnapshot)
                  and loops(events) == stop_after_loops):
                car.stop_charging()
        car = Ev(EvSettings(plc_interface=iface, protocols=(protocol,), **settings), sink)
        car.prepare()
        assert car.start_charging(StartRequest.from_fields(mode)).success
        await asyncio.wait_for(done.wait(), timeout)
    asyncio.run(main())
    return events


def loops(events) -> int:
    return sum(1 for e in events if isinstance(e, ev.SessionSnapshot)
               and e.last_charger_message in LOOP_RESPONSES)


def finished(events) -> ev.SessionFinished:
    return next(e for e in events if isinstance(e, ev.SessionFinished))


CHARGE_LOOPS = [
    (DIN, 'DC_extended', 0.25, 'CurrentDemandRes'),
    (ISO2, 'DC_extended', 0.25, 'CurrentDemandRes'),
    (ISO2, 'AC_three_phase_core', 2.0, 'ChargingStatusRes'),
    (ISO20_DC, 'DC', 0.5, 'DC_ChargeLoopRes'),
    (ISO20_AC, 'AC_three_phase_core', 0.5, 'AC_ChargeLoopRes'),
]


@pytest.mark.parametrize('protocol, mode, loop_timeout, response', CHARGE_LOOPS)
def test_frozen_charger_in_the_charge_loop(plc_link, charger, protocol, mode, loop_timeout,
                                           response):
    charger(protocol, '--freeze-after-loops', '3')
    events = run_session(plc_link, protocol, mode)
    end = finished(events)
    assert end.reason == EndReason.TIMEOUT, end.message
    assert f'no {response} within {loop_timeout:g} s' in end.message
    before_end = events[:events.index(end)]
    last = [e for e in before_end if isinstance(e, ev.SessionSnapshot)
            and e.last_charger_message == response][-1]
    waited = end.stamp - last.stamp
    assert loop_timeout <= waited <= loop_timeout + MARGIN_S, waited


@pytest.mark.parametrize('protocol, mode, loop_timeout, response', [
    c for c in CHARGE_LOOPS if c[2] < 1.0])
def test_a_charger_answering_just_too_late_is_not_accepted(plc_link, charger, protocol, mode,
                                                           loop_timeout, response):
    late_ms = int(loop_timeout * 1000 + 50)
    charger(protocol, '--delay-after-loops', '2', '--delay-ms', str(late_ms))
    events = run_session(plc_link, protocol, mode)
    end = finished(events)
    assert end.reason == EndReason.TIMEOUT, end.message
    assert f'no {response} within {loop_timeout:g} s' in end.message


def test_discovery_ignores_answers_that_are_not_link_local(plc_link, charger, caplog):
    charger(ISO2, '--sdp-address', '::1', '--sdp-answers-then-real', '3')
    with caplog.at_level(logging.WARNING, logger='iso15118_ev.transport.sdp'):
        events = run_session(plc_link, ISO2, 'DC_extended', stop_after_loops=2,
                             timeouts=relaxed())
    assert finished(events).reason == EndReason.STOPPED_BY_EV, finished(events).message
    ignored = [r.getMessage() for r in caplog.records if 'ignored an answer' in r.getMessage()]
    assert len(ignored) == 3 and all('::1' in m for m in ignored)


@pytest.mark.parametrize('address', ['::1', '2001:db8::1'])
def test_a_charger_that_only_announces_a_foreign_address_is_never_contacted(
        plc_link, charger, address):
    charger(ISO2, '--sdp-address', address, '--sdp-answers-then-real', '1000')
    events = run_session(plc_link, ISO2, 'DC_extended', sdp_max_requests=6)
    end = finished(events)
    assert end.reason == EndReason.NO_CHARGER_FOUND, end.message


@pytest.mark.parametrize('protocol, mode', [(DIN, 'DC_extended'), (ISO2, 'DC_extended'),
                                            (ISO20_DC, 'DC')])
def test_responses_in_one_byte_segments(plc_link, charger, protocol, mode):
    charger(protocol, '--segment-bytes', '1')
    events = run_session(plc_link, protocol, mode, stop_after_loops=3, timeouts=relaxed())
    assert finished(events).reason == EndReason.STOPPED_BY_EV, finished(events).message
