"""The EV's control pilot (IEC 61851-1): the CP state its pilot hardware applies and sees.

`simulated` (default): the EV assumes its pilot follows the protocol (B until it is ready for
energy, then C), so nothing waits on it. `external`: the CP state comes only from
`cp_state_changed`; energy needs C or D ([V2G2-912]: CableCheck runs in C/D), so the DC
sessions wait for it before CableCheck.

In both modes a reported state acts on a running session: E or F (error) aborts it without
SessionStop ([V2G2-737]), A (unplugged) ends it; the EV decides that (session/ev.py). Every
change is recorded with the phase it came in.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import time
from dataclasses import dataclass
from typing import Callable, Deque, Optional, Tuple

from ..vocabulary import CpState, EndReason

logger = logging.getLogger(__name__)

SIMULATED = 'simulated'
EXTERNAL = 'external'
CONTROL_PILOT_MODES = (SIMULATED, EXTERNAL)
ENERGY_STATES = frozenset({CpState.C, CpState.D})
ERROR_STATES = frozenset({CpState.E, CpState.F})
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
    def __init__(self, mode: str = SIMULATED):
        if mode not in CONTROL_PILOT_MODES:
            raise ValueError(f'control_pilot {mode!r}: expected ' + ', '.join(CONTROL_PILOT_MODES))
        self.mode = mode
        self.state: Optional[CpState] = None     # None: not reported yet
        self.history: Deque[CpChange] = collections.deque(maxlen=HISTORY_LENGTH)
        self._changed: Optional[asyncio.Event] = None   # made on the EV's loop, when needed

    @property
    def energy_allowed(self) -> bool:
        """May the EV draw energy: always when simulated; in C or D when external."""
        return self.mode == SIMULATED or self.state in ENERGY_STATES

    def change(self, state: CpState, phase: str) -> CpChange:
        change = CpChange(self.state, state, phase, time.monotonic())
        self.state = state
        self.history.append(change)
        if self._changed is not None:
            self._changed.set()
        previous = change.previous.name if change.previous is not None else 'unknown'
        logger.info('CP state %s -> %s (phase %s)', previous, state.name, phase)
        return change

    async def wait_for_energy(self, seconds: float, give_up: Callable[[], bool]) -> bool:
        """Wait at most `seconds` until energy is allowed; False if it never was (or
        `give_up()` became true first)."""
        ends = time.monotonic() + seconds
        if self._changed is None:
            self._changed = asyncio.Event()
        while not self.energy_allowed:
            left = ends - time.monotonic()
            if left <= 0 or give_up():
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(left, POLL_S))
            except asyncio.TimeoutError:
                pass
        return True


def session_end(state: CpState) -> Optional[Tuple[EndReason, str]]:
    """How a running (or paused) session ends when the pilot goes to `state`; None: it goes on."""
    if state in ERROR_STATES:
        return EndReason.ABORTED, (f'CP state {state.name} (error): session aborted, connection '
                                   'closed without SessionStop [V2G2-737]')
    if state == CpState.A:
        return EndReason.UNPLUGGED, 'CP state A: the EV was unplugged'
    return None
