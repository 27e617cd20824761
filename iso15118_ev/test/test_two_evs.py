"""Two EVs in one process, on one asyncio loop and no thread of their own, charging from two
chargers on two links at the same time; one pauses and resumes while the other charges."""
from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from iso15118_ev.session import events as ev
from iso15118_ev.session.ev import Ev
from iso15118_ev.session.settings import EvSettings
from iso15118_ev.vehicle.parameters import StartRequest
from iso15118_ev.vocabulary import ISO2, ISO20_DC, EndReason, Phase
from iso15118_ev_testing.fixtures import charger_argv, link_down, link_up
from support.timers import relaxed

SECOND_IFACE, SECOND_NETNS = 'evt1', 'iso15118_test1'
LOOP_RESPONSES = ('CurrentDemandRes', 'DC_ChargeLoopRes')


@pytest.fixture
def second_link():
    link_up(SECOND_IFACE, SECOND_NETNS)
    yield SECOND_IFACE
    link_down(SECOND_IFACE, SECOND_NETNS)


class Recorder:
    def __init__(self):
        self.events = []

    def __call__(self, event):
        self.events.append(event)

    def loops(self) -> int:
        return sum(1 for e in self.events if isinstance(e, ev.SessionSnapshot)
                   and e.last_charger_message in LOOP_RESPONSES)

    def finished(self):
        return [e for e in self.events if isinstance(e, ev.SessionFinished)]


async def until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f'no {what} within {timeout} s'
        await asyncio.sleep(0.05)


def test_two_evs_on_one_loop(plc_link, second_link, charger, processes):
    charger('ISO_15118_2')
    second = processes('charger2', charger_argv(SECOND_NETNS, 'ISO_15118_20_DC'))
    threads_before = threading.active_count()

    async def main():
        one, two = Recorder(), Recorder()
        ev_one = Ev(EvSettings(plc_interface=plc_link, protocols=(ISO2,), timeouts=relaxed()), one)
        ev_two = Ev(EvSettings(plc_interface=second_link, protocols=(ISO20_DC,),
                                timeouts=relaxed()), two)
        for car in (ev_one, ev_two):
            car.prepare()
        assert ev_one.start_charging(StartRequest.from_fields('DC_extended')).success
        assert ev_two.start_charging(StartRequest.from_fields('DC')).success
        await until(lambda: one.loops() >= 3 and two.loops() >= 3, 60, 'charge loops on both')
        assert threading.active_count() == threads_before  # no thread per EV

        assert not one.finished() and not two.finished(), one.finished() + two.finished()
        assert ev_one.pause_charging().success
        await until(lambda: one.finished(), 20, 'pause of the first EV')
        assert one.finished()[0].reason == EndReason.PAUSED, one.finished()[0].message
        assert ev_two.phase == Phase.CHARGING         # the other EV charges on
        loops_two = two.loops()
        assert ev_one.start_charging(StartRequest.from_fields('DC_extended')).success
        resumed_at = one.loops()
        await until(lambda: one.loops() >= resumed_at + 3, 60, 'charging after the resume')
        assert two.loops() > loops_two

        assert ev_one.stop_charging().success and ev_two.stop_charging().success
        await until(lambda: len(one.finished()) == 2 and two.finished(), 30, 'both ends')
        return one, two

    one, two = asyncio.run(main())
    assert one.finished()[1].reason == EndReason.STOPPED_BY_EV, one.finished()[1].message
    assert two.finished()[0].reason == EndReason.STOPPED_BY_EV, two.finished()[0].message
    assert two.finished()[0].protocol == ISO20_DC and one.finished()[1].protocol == ISO2
    assert second.proc.poll() is None


def test_two_evs_with_their_own_contract_identities(plc_link, second_link, charger, processes,
                                                    pki, ev_pki):
    """One EV holds a contract its charger trusts, the other one from another PKI; each
    charger checks its EV's contract strictly: only the second EV is refused, and only the
    first EV's folder is touched by its certificate installation."""
    strict = ('--tls', '--pki', pki, '--auth-modes', 'PNC', '--strict-contract-root')
    charger('ISO_15118_2', *strict)
    processes('charger2', charger_argv(SECOND_NETNS, 'ISO_15118_2', *strict))
    installs, foreign = ev_pki('none'), ev_pki('foreign')
    foreign_before = sorted(p.read_bytes() for p in Path(foreign).rglob('*') if p.is_file())

    async def main():
        one, two = Recorder(), Recorder()
        cars = [Ev(EvSettings(plc_interface=iface, protocols=(ISO2,), timeouts=relaxed(),
                              use_tls=True, pki_path=folder), recorder)
                for iface, folder, recorder in ((plc_link, installs, one),
                                                (second_link, foreign, two))]
        for car in cars:
            car.prepare()
            assert car.start_charging(StartRequest.from_fields(
                'DC_extended', payment_option='Contract', enforce_payment_option=True)).success
        await until(lambda: one.loops() >= 2 and two.finished(), 60, 'both outcomes')
        assert cars[0].stop_charging().success
        await until(lambda: one.finished(), 30, 'the first EV\'s end')
        return one, two

    one, two = asyncio.run(main())
    assert one.finished()[0].reason == EndReason.STOPPED_BY_EV, one.finished()[0].message
    assert any(isinstance(e, ev.ContractInstalled) for e in one.events)
    assert two.finished()[0].reason == EndReason.AUTHORIZATION_FAILED, two.finished()[0].message
    assert 'FAILED_CertChainError' in two.finished()[0].message
    assert not any(isinstance(e, ev.ContractInstalled) for e in two.events)
    assert sorted(p.read_bytes() for p in Path(foreign).rglob('*') if p.is_file()) == \
        foreign_before
