"""The EV's data link to the charger (ISO 15118-3): plug-in, 5 % PWM, SLAC, D-LINK_READY.

With SLAC off (a link that already exists: simulation, a bench), the link is always ready.
With SLAC on, `ensure()` runs the chain before SDP: wait for the plug (CP B, C or D), apply B,
wait for the charger's 5 % PWM, match with SLAC on the PLC interface, and report D-LINK_READY.
The match holds until unplug or `reset()`: a paused session resumes on the same link
([V2G3-M07-20/22]: the NMK/NID stay valid), waking a sleeping charger with a B-C-B toggle first.
"""
from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass, field, replace
from typing import Callable, Optional

from ..protocol.context import Outcome
from ..slac.ev import SlacFailure, SlacResult, SlacSession, SlacSettings, SlacState
from ..slac.link import FrameLink, RawLink, interface_mac
from ..slac.mme import mac_text
from ..vehicle.control_pilot import ControlPilot
from ..vocabulary import CpState, EndReason
from .events import _now

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataLinkSettings:
    slac: SlacSettings = field(default_factory=SlacSettings)
    # After plug-in, how long the EV waits for 5 % PWM before it gives up (our choice: the
    # standard leaves this to the EV; a charger that never sends 5 % offers no HLC).
    pwm_wait_s: float = 20.0
    # B-C-B wake-up toggle (IEC 61851-1 A.5.3 / ISO 15118-3 [V2G3-M07-22]): how long C is held.
    bcb_toggle_s: float = 0.3
    # A failed matching is restarted after TT_matching_rate ([V2G3-A09-124]), at most
    # C_conn_max_match times, and only while TT_matching_repetition has not passed since the
    # first start ([V2G3-A09-125]); then the EV stays unmatched (ISO 15118-3 table 3 / A.1).
    c_conn_max_match: int = 3
    tt_matching_rate_s: float = 0.4
    tt_matching_repetition_s: float = 10.0

    def __post_init__(self):
        for name in ('pwm_wait_s', 'bcb_toggle_s', 'tt_matching_rate_s',
                     'tt_matching_repetition_s'):
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} must be > 0 s, got {getattr(self, name)}')
        if not 0 <= self.c_conn_max_match <= 10:
            raise ValueError(f'c_conn_max_match must be within 0..10, got {self.c_conn_max_match}')


@dataclass(frozen=True)
class SlacStatus:
    """The SLAC state, with what the matching found (empty / NaN before a match)."""
    state: SlacState
    charger_mac: str = ''
    attenuation_db: float = math.nan
    failure: str = ''               # SlacFailure value when FAILED
    message: str = ''
    ev_mac: str = ''                # the EV's own MAC on the PLC interface, once it was opened
    stamp: float = field(default_factory=_now)


@dataclass(frozen=True)
class DlinkReady:
    ready: bool
    stamp: float = field(default_factory=_now)


class DataLink:
    def __init__(self, iface: str, settings: Optional[DataLinkSettings], pilot: ControlPilot,
                 sink: Callable[[object], None],
                 open_link: Callable[[str], FrameLink] = RawLink):
        self.enabled = settings is not None
        self.settings = settings or DataLinkSettings()
        self._iface, self._pilot, self._sink, self._open = iface, pilot, sink, open_link
        self.ready = not self.enabled
        # Known before any matching where the interface exists; the opened link confirms it.
        self._ev_mac = mac_text(interface_mac(iface)) if self.enabled else ''
        self.status = SlacStatus(SlacState.UNMATCHED, ev_mac=self._ev_mac)
        self._matching: Optional[asyncio.Task] = None

    def publish(self) -> None:
        """The present state, for late subscribers."""
        self._sink(self.status)
        self._sink(DlinkReady(self.ready))

    @property
    def matching(self) -> bool:
        return self._matching is not None and not self._matching.done()

    # --- the chain before SDP -----------------------------------------------------------------
    async def ensure(self) -> Optional[Outcome]:
        """Make the link ready; None when it is, else how the session ends."""
        if not self.enabled:
            return None
        pilot = self._pilot
        if not pilot.plugged:
            logger.info('waiting for the plug (CP state %s)', _name(pilot.state))
            await pilot.wait_until(lambda: pilot.plugged, None, lambda: False)
        pilot.want(CpState.B)
        if self.ready and not pilot.hlc_requested:
            await self._wake_charger()
        if not await pilot.wait_until(lambda: pilot.hlc_requested, self.settings.pwm_wait_s,
                                      lambda: not pilot.plugged):
            return Outcome(EndReason.NO_CHARGER_FOUND, self._no_pwm())
        if self.ready:
            return None
        result = await self.match()
        if result.matched:
            return None
        return Outcome(EndReason.SLAC_FAILED, f'SLAC {result.failure.value}: {result.message}')

    async def _wake_charger(self) -> None:
        """B-C-B: tell a charger that stopped its PWM during a pause that the EV wants it."""
        logger.info('CP PWM %s: B-C-B toggle to wake the charger', _duty(self._pilot))
        self._pilot.want(CpState.C)
        await asyncio.sleep(self.settings.bcb_toggle_s)
        self._pilot.want(CpState.B)

    def _no_pwm(self) -> str:
        pilot = self._pilot
        if not pilot.plugged:
            return f'unplugged (CP state {_name(pilot.state)}) while waiting for 5 % PWM'
        duty = pilot.duty_percent
        kind = ('no PWM' if duty is None or duty <= 0 or duty >= 100 else
                'basic charging only' if 8 <= duty <= 97 else 'not a valid duty cycle')
        return (f'no 5 % PWM within {self.settings.pwm_wait_s:g} s after plug-in '
                f'({_duty(pilot)}: {kind}); the charger offers no digital communication')

    # --- matching -----------------------------------------------------------------------------
    async def match(self) -> SlacResult:
        """Run one SLAC matching (or join the one under way)."""
        if not self.matching:
            self._matching = asyncio.ensure_future(self._match())
        return await asyncio.shield(self._matching)

    def start_matching(self) -> None:
        """trigger_matching: match now, without a session."""
        self._matching = asyncio.ensure_future(self._match())

    async def _match(self) -> SlacResult:
        """The matching process with its restarts ([V2G3-A09-124/125])."""
        s = self.settings
        self._set_ready(False)
        loop = asyncio.get_running_loop()
        began, attempt = loop.time(), 1
        while True:
            result = await self._match_once(attempt)
            if (result.matched or result.failure == SlacFailure.LINK_ERROR
                    or attempt > s.c_conn_max_match
                    or loop.time() + s.tt_matching_rate_s - began > s.tt_matching_repetition_s):
                break
            logger.info('SLAC attempt %d failed (%s); restarting in %g s', attempt,
                        result.message, s.tt_matching_rate_s)
            await asyncio.sleep(s.tt_matching_rate_s)
            attempt += 1
        if result.matched:
            self._report(SlacStatus(SlacState.MATCHED, mac_text(result.charger_mac),
                                    result.average_attenuation_db, message=result.message))
            self._set_ready(True)
            return result
        if attempt > 1:
            result = replace(result, message=f'{result.message} (after {attempt} matching '
                                             f'attempts)')
        self._report(SlacStatus(SlacState.FAILED, failure=result.failure.value,
                                message=result.message))
        return result

    async def _match_once(self, attempt: int) -> SlacResult:
        try:
            link = self._open_link()
        except OSError as error:
            return SlacResult(False, f'cannot open {self._iface} for SLAC: {error}',
                              failure=SlacFailure.LINK_ERROR)
        try:
            self._report(SlacStatus(SlacState.MATCHING, message=(
                'matching' if attempt == 1 else f'matching (attempt {attempt})')))
            return await SlacSession(link, self.settings.slac).run()
        finally:
            link.close()

    async def reset(self, why: str) -> None:
        """Forget the match (unplug, reset_slac): cancel a matching, leave the network."""
        if not self.enabled:
            return
        task, self._matching = self._matching, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        was_ready = self.ready
        self._set_ready(False)
        if was_ready:
            await self._leave()
        self._report(SlacStatus(SlacState.UNMATCHED, message=why))

    async def _leave(self) -> None:
        try:
            link = self._open_link()
        except OSError as error:
            logger.warning('SLAC: cannot leave the network on %s: %s', self._iface, error)
            return
        try:
            if not await SlacSession(link, self.settings.slac).leave():
                logger.warning('SLAC: the modem did not confirm the new key (leaving)')
        except OSError as error:
            logger.warning('SLAC: leaving the network failed: %s', error)
        finally:
            link.close()

    def _open_link(self) -> FrameLink:
        link = self._open(self._iface)
        self._ev_mac = mac_text(link.mac)
        return link

    def _report(self, status: SlacStatus) -> None:
        self.status = replace(status, ev_mac=self._ev_mac)
        self._sink(self.status)

    def _set_ready(self, ready: bool) -> None:
        if ready != self.ready:
            self.ready = ready
            logger.info('D-LINK_READY %s', 'ok' if ready else 'no link')
            self._sink(DlinkReady(ready))


def _name(state: Optional[CpState]) -> str:
    return state.name if state is not None else 'not reported'


def _duty(pilot: ControlPilot) -> str:
    duty = pilot.duty_percent
    return 'duty not reported' if duty is None else f'duty {duty:g} %'
