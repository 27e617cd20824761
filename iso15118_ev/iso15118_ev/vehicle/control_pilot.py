"""The EV's control pilot (IEC 61851-1): the CP state its pilot hardware applies and sees.

`simulated` (default): the EV assumes its pilot follows the protocol (B until it is ready for
energy, then C), so nothing waits on it. `external`: the CP state comes only from
`cp_state_changed`; energy needs C or D ([V2G2-912]: CableCheck runs in C/D), so the DC
sessions wait for it before CableCheck.

In both modes a reported state acts on a running session: E or F (error) aborts it without
SessionStop ([V2G2-737]), A (unplugged) ends it; the EV decides that (session/ev.py). Every
change is recorded with the phase it came in.

The pilot is also a port to the vehicle's pilot hardware: besides the state it sees, the
hardware reports the charger's PWM duty cycle (IEC 61851-1 table A.8: 3..7 % = "use digital
communication", the 5 % that starts SLAC; 8..97 % = basic charging; 0 or 100 % = no PWM), and it
applies the state the EV wants (`wanted`: B until energy, C for energy), reported to
`on_wanted`.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import dataclass
from typing import Callable, Deque, Optional, Tuple

from ..vocabulary import CpState, EndReason
from ..waiting import wait_within

logger = logging.getLogger(__name__)

SIMULATED = 'simulated'
EXTERNAL = 'external'
CONTROL_PILOT_MODES = (SIMULATED, EXTERNAL)
ENERGY_STATES = frozenset({CpState.C, CpState.D})
ERROR_STATES = frozenset({CpState.E, CpState.F})
PLUGGED_STATES = frozenset({CpState.B, CpState.C, CpState.D})
HLC_DUTY_PERCENT = (3.0, 7.0)       # IEC 61851-1 table A.8: digital communication required
HISTORY_LENGTH = 100
# While the EV waits for C/D, it looks again at least this often (a stop may have come).
POLL_S = 0.1


@dataclass(frozen=True)
class CpChange:
    previous: Optional[CpState]     # None: not known before
    state: CpState
    phase: str                      # the session phase it came in (Phase name, lower case)
    at_s: float                     # time.monotonic()


class ControlPilot:
    def __init__(self, mode: str = SIMULATED,
                 on_wanted: Optional[Callable[[CpState], None]] = None):
        if mode not in CONTROL_PILOT_MODES:
            raise ValueError(f'control_pilot {mode!r}: expected ' + ', '.join(CONTROL_PILOT_MODES))
        self.mode = mode
        self.state: Optional[CpState] = None     # None: not reported yet
        self.duty_percent: Optional[float] = None   # the charger's PWM; None: not reported yet
        self.wanted: Optional[CpState] = None    # what the EV asks its pilot hardware to apply
        self.history: Deque[CpChange] = collections.deque(maxlen=HISTORY_LENGTH)
        self._on_wanted = on_wanted
        self._changed: Optional[asyncio.Event] = None   # made on the EV's loop, when needed

    @property
    def energy_allowed(self) -> bool:
        """May the EV draw energy: always when simulated; in C or D when external."""
        return self.mode == SIMULATED or self.state in ENERGY_STATES

    @property
    def plugged(self) -> bool:
        """Is the EV connected: assumed when simulated; CP B, C or D when external."""
        return self.mode == SIMULATED or self.state in PLUGGED_STATES

    @property
    def hlc_requested(self) -> bool:
        """Does the charger signal 5 % (3..7 %) PWM: assumed when simulated."""
        if self.mode == SIMULATED:
            return True
        low, high = HLC_DUTY_PERCENT
        return self.duty_percent is not None and low <= self.duty_percent <= high

    def want(self, state: CpState) -> None:
        """Ask the pilot hardware for `state` (B or C); reported only when it changes."""
        if state != self.wanted:
            self.wanted = state
            logger.info('EV applies CP state %s', state.name)
            if self._on_wanted is not None:
                self._on_wanted(state)

    def set_duty(self, duty_percent: float) -> Optional[float]:
        """Record the charger's PWM duty cycle; returns the previous one."""
        previous, self.duty_percent = self.duty_percent, duty_percent
        if previous != duty_percent:
            logger.info('CP PWM duty %s -> %g %%',
                        'unknown' if previous is None else f'{previous:g} %', duty_percent)
        self._notify()
        return previous

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def was_plugged(self, previous: Optional[CpState]) -> bool:
        """Was the EV plugged before a change from `previous`."""
        if previous is None:
            return self.mode == SIMULATED
        return previous not in (CpState.A,)

    def change(self, state: CpState, phase: str) -> CpChange:
        change = CpChange(self.state, state, phase, time.monotonic())
        self.state = state
        self.history.append(change)
        self._notify()
        previous = change.previous.name if change.previous is not None else 'unknown'
        logger.info('CP state %s -> %s (phase %s)', previous, state.name, phase)
        return change

    async def wait_for_energy(self, seconds: float, give_up: Callable[[], bool]) -> bool:
        """Want C, then wait at most `seconds` until energy is allowed; False if it never was
        (or `give_up()` became true first)."""
        self.want(CpState.C)
        return await self.wait_until(lambda: self.energy_allowed, seconds, give_up)

    async def wait_until(self, condition: Callable[[], bool], seconds: Optional[float],
                         give_up: Callable[[], bool]) -> bool:
        """Wait until `condition()` holds, at most `seconds` (None: no limit); False if it
        never did or `give_up()` became true first."""
        ends = None if seconds is None else time.monotonic() + seconds
        if self._changed is None:
            self._changed = asyncio.Event()
        while not condition():
            left = POLL_S if ends is None else ends - time.monotonic()
            if left <= 0 or give_up():
                return False
            self._changed.clear()
            try:
                await wait_within(self._changed.wait(), min(left, POLL_S))
            except asyncio.TimeoutError:
                pass
        return True


def session_end(state: CpState, was_plugged: bool) -> Optional[Tuple[EndReason, str]]:
    """How a running (or paused) session ends when the pilot goes to `state`; None: it goes on.
    A is an unplug only when the EV was plugged (an external pilot's session may wait in A for
    the plug)."""
    if state in ERROR_STATES:
        return EndReason.ABORTED, (f'CP state {state.name} (error): session aborted, connection '
                                   'closed without SessionStop [V2G2-737]')
    if state == CpState.A and was_plugged:
        return EndReason.UNPLUGGED, 'CP state A: the EV was unplugged'
    return None
