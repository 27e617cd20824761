"""The vehicle: what it wants, what it has, and what it has been told to do.

Lives on the EV's event loop; the protocol engines read it for every value they send and
commands change it. Nothing here knows a protocol.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Tuple

from ..vocabulary import EndReason, Fault
from .control_pilot import ControlPilot
from .energy_modes import EnergyMode
from .parameters import DcEvBptParameters, DcEvParameters, EvPresentValues, StartRequest

# ISO 15118-2 [V2G2-...] / DIN 70121: the EV asks for at most 2 A during pre-charge.
PRE_CHARGE_MAX_CURRENT_A = 2.0
# Pre-charge is done when the charger's voltage is this close to the EV's target.
PRE_CHARGE_TOLERANCE = 0.10
# After power off, welding detection is done once the charger's voltage is below this
# (IEC 61851-23: 60 V DC, touch-safe).
SAFE_VOLTAGE_V = 60.0
# Full and bulk state of charge the EV announces (percent).
FULL_SOC = 100
BULK_SOC = 80
# ISO 15118-20 AC power limits are reckoned at this nominal line-to-neutral voltage (IEC 60038).
AC_PHASE_VOLTAGE_V = 230.0
# The lowest DC voltage the EV accepts (a battery's lower bound), or its target if that is lower.
# Without a departure time from start_charging, the EV announces the time its maximum energy
# request takes at its maximum power, but at least this (s).
MIN_DEPARTURE_TIME_S = 900
MAX_DEPARTURE_TIME_S = 2**32 - 1


@dataclass(frozen=True)
class AcEvParameters:
    """AC limits of the on-board charger."""

    max_current: float = 32.0       # A per phase
    min_current: float = 6.0        # A per phase
    max_voltage: float = 400.0      # V
    phases: int = 3


@dataclass
class EvModel:
    dc: DcEvParameters = field(default_factory=DcEvParameters)
    bpt: DcEvBptParameters = field(default_factory=DcEvBptParameters)
    ac: AcEvParameters = field(default_factory=AcEvParameters)
    soc_percent: float = 20.0
    sae_j2847_enabled: bool = False
    pilot: ControlPilot = field(default_factory=ControlPilot)
    measured: EvPresentValues = field(default_factory=EvPresentValues)   # update_present_values
    # Set per session by start_charging:
    request: Optional[StartRequest] = None
    mode: Optional[EnergyMode] = None
    # What the EV has been told during the session:
    stop_requested: bool = False
    pause_requested: bool = False
    charger_stop_seen: bool = False
    charger_pause_seen: bool = False
    fault: Fault = Fault.NONE
    abort: Optional[Tuple[EndReason, str]] = None   # the session ends now, without SessionStop
    resume_session_id: Optional[str] = None  # set while a session is paused
    pre_charged: bool = False           # pre-charge accepted: full current may be asked for
    energy_wh: float = 0.0              # into the battery this session (Wh, negative: given)

    def begin_session(self, request: StartRequest, mode: EnergyMode) -> None:
        self.request, self.mode = request, mode
        self.stop_requested = self.pause_requested = False
        self.charger_stop_seen = self.charger_pause_seen = False
        self.pre_charged = False
        self.energy_wh = 0.0
        self.abort = None

    # --- how the session should end ----------------------------------------------------------
    @property
    def wants_to_end(self) -> bool:
        return (self.stop_requested or self.pause_requested or self.charger_stop_seen
                or self.charger_pause_seen or self.charging_complete)

    @property
    def pausing(self) -> bool:
        """The session ends with a pause (EV or charger asked), unless a stop was asked too."""
        return (self.pause_requested or self.charger_pause_seen) and not (
            self.stop_requested or self.charger_stop_seen)

    @property
    def charging_complete(self) -> bool:
        return self.soc_percent >= self.end_soc() or self.energy_delivered

    def end_soc(self) -> float:
        """Percent where charging ends: start's target_soc, else full."""
        if self.request is not None and self.request.target_soc_percent is not None:
            return self.request.target_soc_percent
        return float(FULL_SOC)

    @property
    def energy_delivered(self) -> bool:
        """The request's EAmount has been delivered and the request ends charging there."""
        request = self.request
        return (request is not None and request.stop_at_e_amount
                and request.e_amount_kwh is not None
                and self.energy_wh >= request.e_amount_kwh * 1000.0)

    # --- what the EV asks for ----------------------------------------------------------------
    def pre_charge_current(self) -> float:
        return min(self.dc.target_current, PRE_CHARGE_MAX_CURRENT_A)

    def request_current(self) -> float:
        """The current the EV requests now: limited to 2 A until pre-charge is done."""
        return self.dc.target_current if self.pre_charged else self.pre_charge_current()

    def present_voltage(self) -> float:
        """The battery's voltage: the EV's measurement if given, else the model's (its battery
        sits at the target voltage)."""
        measured = self.measured.present_voltage
        return self.dc.target_voltage if measured is None else measured

    def present_active_power(self, modelled: float) -> float:
        """AC: the power the on-board charger draws: the EV's measurement if given."""
        measured = self.measured.present_active_power
        return modelled if measured is None else measured

    def is_pre_charged(self, charger_voltage: float) -> bool:
        if self.fault == Fault.REFUSE_PRE_CHARGE:
            return False
        target = self.dc.target_voltage
        return abs(charger_voltage - target) <= PRE_CHARGE_TOLERANCE * target

    def energy_request_wh(self) -> float:
        """Energy wanted: start_charging's EAmount, else what reaches end_soc (full unless a
        target_soc was given)."""
        if self.request is not None and self.request.e_amount_kwh is not None:
            return self.request.e_amount_kwh * 1000.0
        return max(self.energy_to_soc_wh(self.end_soc()), 0.0)

    def departure_time_s(self) -> Optional[int]:
        return None if self.request is None else self.request.departure_time_s

    def soc(self) -> int:
        return int(self.soc_percent)

    def add_energy(self, power_w: float, seconds: float) -> None:
        """Charge (or discharge) the battery model by power_w for `seconds`, and count the
        session's energy."""
        if not math.isfinite(power_w):
            return
        energy_wh = power_w * seconds / 3600.0
        self.energy_wh += energy_wh
        if self.dc.energy_capacity > 0:
            delta = 100.0 * energy_wh / self.dc.energy_capacity
            self.soc_percent = min(100.0, max(0.0, self.soc_percent + delta))

    # --- ISO 15118-20: SOC, energy requests, departure time ----------------------------------
    @property
    def bidirectional(self) -> bool:
        """The session's energy mode can discharge the battery (DC_BPT, AC_BPT)."""
        return self.mode is not None and self.mode.bidirectional

    def energy_to_soc_wh(self, soc: float) -> float:
        """Energy from the present state of charge to `soc` (negative: below the present)."""
        return (soc - self.soc_percent) / 100.0 * self.dc.energy_capacity

    def target_soc(self) -> int:
        """TargetSOC: end_soc, or lower the SOC that start_charging's EAmount reaches."""
        target = self.end_soc()
        if self.request is not None and self.request.e_amount_kwh is not None \
                and self.dc.energy_capacity > 0:
            target = min(target, self.soc_percent + 100.0 * self.request.e_amount_kwh
                         * 1000.0 / self.dc.energy_capacity)
        return int(min(FULL_SOC, target))

    def minimum_soc(self) -> int:
        """The SOC a bidirectional EV keeps (discharging stops there); 0 for one that only
        charges."""
        return int(self.bpt.discharge_minimal_soc) if self.bidirectional else 0

    def maximum_energy_request_wh(self) -> float:
        """EVMaximumEnergyRequest: up to a full battery, never below the target."""
        return max(self.energy_to_soc_wh(FULL_SOC), self.energy_request_wh())

    def minimum_energy_request_wh(self) -> float:
        """EVMinimumEnergyRequest: to the minimum SOC; negative when a bidirectional EV is
        above it (it could give that much), never above the target."""
        needed = self.energy_to_soc_wh(self.minimum_soc())
        if not self.bidirectional:
            needed = max(needed, 0.0)
        return min(needed, self.energy_request_wh())

    def iso20_departure_time_s(self) -> int:
        """Seconds until departure: start_charging's, else what the maximum energy request
        takes at the EV's maximum charge power (at least MIN_DEPARTURE_TIME_S)."""
        given = self.departure_time_s()
        if given is not None:
            return int(given)
        power = self.dc.max_power_limit if self.mode is None or self.mode.is_dc \
            else self.ac_max_charge_power()
        seconds = self.maximum_energy_request_wh() / power * 3600.0 if power > 0 else 0.0
        return int(min(max(math.ceil(seconds), MIN_DEPARTURE_TIME_S), MAX_DEPARTURE_TIME_S))

    # --- ISO 15118-20: limits (discharge values are negative) --------------------------------
    def dc_min_voltage(self) -> float:
        return min(self.dc.min_voltage_limit, self.dc.target_voltage)

    def max_discharge_current(self) -> float:
        """DC: the most current the EV gives, negative (model.bpt's magnitude)."""
        return -self.bpt.discharge_max_current_limit

    def max_discharge_power(self) -> float:
        """The most power the EV gives (DC and AC), negative (model.bpt's magnitude)."""
        return -self.bpt.discharge_max_power_limit

    def signed_target_current(self) -> float:
        """DC current the EV asks for, negative while it discharges: a bidirectional EV with a
        discharge target gives up to its discharge current limit once pre-charged, until it
        reaches its minimum SOC; otherwise it charges (request_current)."""
        bpt = self.bpt
        if self.bidirectional and self.pre_charged and bpt.discharge_target_current > 0 \
                and self.soc_percent > bpt.discharge_minimal_soc:
            return -min(bpt.discharge_target_current, bpt.discharge_max_current_limit)
        return self.request_current()

    def ac_phase_count(self) -> int:
        if self.mode is not None and self.mode.name == 'AC_single_phase_core':
            return 1
        return self.ac.phases

    def ac_max_charge_power(self) -> float:
        """AC: the on-board charger's maximum, all phases together (W)."""
        return self.ac_phase_count() * self.ac.max_current * AC_PHASE_VOLTAGE_V

    def ac_min_charge_power(self) -> float:
        return self.ac_phase_count() * self.ac.min_current * AC_PHASE_VOLTAGE_V
