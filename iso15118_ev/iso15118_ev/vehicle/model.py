"""The simulated vehicle: what it wants, what it has, and what it has been told to do.

Lives on the core's event loop; the protocol engine reads it, commands change it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from .energy_modes import EnergyMode
from ..session.events import Fault
from .parameters import DcEvBptParameters, DcEvParameters, StartRequest

# ISO 15118-2 [V2G2-...] / DIN 70121: the EV asks for at most 2 A during pre-charge.
PRE_CHARGE_MAX_CURRENT_A = 2.0
# Pre-charge is done when the charger's voltage is this close to the EV's target.
PRE_CHARGE_TOLERANCE = 0.10


@dataclass
class EvModel:
    dc: DcEvParameters = field(default_factory=DcEvParameters)
    bpt: DcEvBptParameters = field(default_factory=DcEvBptParameters)
    soc_percent: float = 20.0
    sae_j2847_enabled: bool = False
    # Set per session by start_charging:
    request: Optional[StartRequest] = None
    mode: Optional[EnergyMode] = None
    # What the EV has been told during the session:
    stop_requested: bool = False
    pause_requested: bool = False
    charger_stop_seen: bool = False
    charger_pause_seen: bool = False
    fault: Fault = Fault.NONE
    resume_session_id: Optional[str] = None  # set while a session is paused
    pre_charged: bool = False           # pre-charge accepted: full current may be asked for

    def begin_session(self, request: StartRequest, mode: EnergyMode) -> None:
        self.request, self.mode = request, mode
        self.stop_requested = self.pause_requested = False
        self.charger_stop_seen = self.charger_pause_seen = False
        self.pre_charged = False

    @property
    def wants_to_end(self) -> bool:
        return (self.stop_requested or self.pause_requested or self.charger_stop_seen
                or self.charging_complete)

    @property
    def charging_complete(self) -> bool:
        return self.soc_percent >= 100.0

    def pre_charge_current(self) -> float:
        return min(self.dc.target_current, PRE_CHARGE_MAX_CURRENT_A)

    def request_current(self) -> float:
        """The current the EV requests now: limited to 2 A until pre-charge is done."""
        return self.dc.target_current if self.pre_charged else self.pre_charge_current()

    def is_pre_charged(self, charger_voltage: float) -> bool:
        if self.fault == Fault.REFUSE_PRE_CHARGE:
            return False
        target = self.dc.target_voltage
        return abs(charger_voltage - target) <= PRE_CHARGE_TOLERANCE * target

    def add_energy(self, power_w: float, seconds: float) -> None:
        """Charge (or discharge) the battery model by power_w for `seconds`."""
        if not (math.isfinite(power_w) and self.dc.energy_capacity > 0):
            return
        delta = 100.0 * power_w * seconds / 3600.0 / self.dc.energy_capacity
        self.soc_percent = min(100.0, max(0.0, self.soc_percent + delta))
