"""safe_to_unplug: whether the connector may be pulled, from the session snapshots.

True only when no session has started since the node came up, or the session has ended and
the charger's output is known to be off: power was never delivered; DC: welding detection found
a safe voltage or the charger's last present current was near zero; AC: the charger answered
the EV's PowerDelivery stop (AC chargers report no present current). False from start_charging
on. A session that ended while current was flowing, without a confirmation, stays unsafe until
the next session: the EV cannot know the output is off.
"""
from __future__ import annotations

import math
from typing import Tuple

from iso15118_ev.session.events import SessionSnapshot
from iso15118_ev.vocabulary import Phase

NEAR_ZERO_CURRENT_A = 1.0
ENDED = (Phase.FINISHED, Phase.PAUSED)


class SafeToUnplug:
    def __init__(self):
        self.started = False
        self._last_current = math.nan

    def update(self, snapshot: SessionSnapshot) -> Tuple[bool, str]:
        phase = snapshot.phase
        if phase == Phase.IDLE and not self.started:
            return True, 'no session has started since the node came up'
        if phase not in ENDED and phase != Phase.IDLE:
            if phase == Phase.DISCOVERING and not snapshot.protocol:
                self._last_current = math.nan
            self.started = True
            if math.isfinite(snapshot.evse_present_current):
                self._last_current = snapshot.evse_present_current
            return False, f'session in phase {phase.name.lower()}'
        ended = f'session ended ({snapshot.last_end_reason or phase.name.lower()})'
        if not snapshot.power_delivered:
            return True, f'{ended} before power was delivered'
        if snapshot.welding_detection_done:
            return True, f'{ended}; welding detection found the charger\'s voltage safe'
        if not snapshot.energy_transfer_mode.startswith('DC') \
                and snapshot.power_off_acknowledged:
            return True, f'{ended}; the charger acknowledged power off'
        current = self._last_current
        if math.isfinite(current) and abs(current) <= NEAR_ZERO_CURRENT_A:
            return True, f'{ended}; the charger\'s last present current was {current:.1f} A'
        last = f'{current:.1f} A' if math.isfinite(current) else 'unknown'
        return False, (f'{ended} without confirmation that the charger\'s output is off '
                       f'(last present current {last})')
