"""Turns what the protocol engine reports into the node's events and the session snapshot."""
from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable, Dict, Mapping, Optional, Tuple

from ..protocol.context import Observer
from ..vehicle.model import SAFE_VOLTAGE_V, EvModel
from ..vocabulary import Direction, EndReason, Phase
from . import events as ev

Sink = Callable[[object], None]

CHARGE_LOOP_REQUESTS = ('CurrentDemandReq', 'ChargingStatusReq', 'ChargeLoopReq')


def phase_after_request(name: str, current: Phase, stopping: bool = False) -> Phase:
    """The session phase once the EV has sent the request called `name`.

    `stopping`: the EV or charger wants the session to end (a PowerDelivery then stops).
    """
    if name == 'supportedAppProtocolReq':
        return Phase.CONNECTED
    if name.endswith('CableCheckReq'):
        return Phase.CABLE_CHECK
    if name.endswith('PreChargeReq'):
        return Phase.PRE_CHARGE
    if name.endswith(CHARGE_LOOP_REQUESTS):
        return Phase.CHARGING
    if name.endswith(('WeldingDetectionReq', 'SessionStopReq')):
        return Phase.STOPPING
    if name == 'PowerDeliveryReq':
        return Phase.STOPPING if stopping or current >= Phase.CHARGING else Phase.CHARGING
    return max(current, Phase.NEGOTIATING) if current < Phase.STOPPING else current


class SessionTracker(Observer):
    """Keeps the snapshot of one session and emits events to `sink` (called on the core loop)."""

    def __init__(self, model: EvModel, sink: Sink):
        self.model = model
        self.sink = sink
        self.snapshot = ev.SessionSnapshot()
        self.power_ready = False
        self._last_energy_at: Optional[float] = None
        self._target_soc = math.nan
        self._received_at = 0.0           # when the charger's last message was read

    # --- session boundaries (called by the core) -----------------------------------------
    def begin(self, energy_transfer_mode: str) -> None:
        self.power_ready = False
        self._last_energy_at = None
        self._target_soc = float(self.model.target_soc())
        self.snapshot = ev.SessionSnapshot(energy_transfer_mode=energy_transfer_mode,
                                           session_id=self.snapshot.session_id,
                                           last_end_reason=self.snapshot.last_end_reason,
                                           last_end_message=self.snapshot.last_end_message)
        self.set_phase(Phase.DISCOVERING)

    def end(self, phase: Phase, reason: Optional[EndReason] = None, message: str = '') -> None:
        """The session is over: the charger reports nothing any more, so its present values are
        unknown (NaN) from here on; the end's reason stays in the snapshot until the next end."""
        if self.power_ready:
            self.power_ready = False
            self.sink(ev.PowerReady(False))
        changes = dict(phase=phase, **dict.fromkeys(_PRESENT_FIELDS, math.nan))
        if reason is not None:
            changes.update(last_end_reason=reason.name.lower(), last_end_message=message)
        self._update(**changes)

    def set_phase(self, phase: Phase) -> None:
        self._update(phase=phase)

    def set_fault(self, fault: str) -> None:
        self._update(fault=fault)

    def refresh(self) -> None:
        """Publish the snapshot again after the EV's own values changed."""
        self._update()

    def on_charger_found(self, tls: bool) -> None:
        self._update(tls=tls)

    # --- Observer ------------------------------------------------------------------------
    def on_protocol(self, protocol: str) -> None:
        self._update(protocol=protocol)

    def on_control_mode(self, mode: str) -> None:
        self._update(control_mode=mode)

    def on_session_id(self, session_id: str) -> None:
        self._update(session_id=session_id)

    def on_request(self, name: str) -> None:
        phase = phase_after_request(name, self.snapshot.phase, self.model.wants_to_end)
        if phase != self.snapshot.phase:  # otherwise the response will publish the exchange
            delivered = self.snapshot.power_delivered or Phase.PRE_CHARGE <= phase <= Phase.CHARGING
            self._update(phase=phase, power_delivered=delivered)

    def on_v2g_message(self, message: ev.V2gMessage) -> None:
        if message.direction == Direction.CHARGER_TO_EV:
            self._received_at = message.stamp   # its on_response follows
        self.sink(message)

    def on_message_timeout(self, name: str, timeout_s: float) -> None:
        self.snapshot = dataclasses.replace(self.snapshot, message_timeout_s=timeout_s)

    def on_response(self, name: str, values: Mapping[str, float], round_trip_s: float) -> None:
        self._account_energy(values, time.monotonic())
        welded = self.snapshot.welding_detection_done or (
            name.endswith('WeldingDetectionRes')
            and values.get('evse_present_voltage', math.inf) <= SAFE_VOLTAGE_V)
        off = self.snapshot.power_off_acknowledged or (
            name.endswith('PowerDeliveryRes') and self.snapshot.phase == Phase.STOPPING)
        self._update(last_charger_message=name, round_trip_s=round_trip_s,
                     welding_detection_done=welded, power_off_acknowledged=off,
                     **{k: v for k, v in values.items() if k in _SNAPSHOT_FIELDS})
        self._publish_ac(values)
        self._publish_dc(name, values)

    def on_power_ready(self) -> None:
        if not self.power_ready:
            self.power_ready = True
            self.sink(ev.PowerReady(True))

    def on_services_selected(self, service_ids: Tuple[int, ...]) -> None:
        self._update(selected_services=tuple(service_ids))

    def on_payment(self, method: str, emaid: str) -> None:
        self._update(payment_option=method, emaid=emaid)

    def on_contract_installed(self, emaid: str) -> None:
        self.sink(ev.ContractInstalled(f'contract certificate {emaid} installed'))

    def on_pre_charged(self, charger_voltage: float) -> None:
        target = self.model.dc.target_voltage
        self.sink(ev.DcPowerOn(f'pre-charge reached {charger_voltage:.1f} V '
                               f'(EV target {target:.1f} V)'))

    def on_charger_stop(self, detail: str) -> None:
        self.sink(ev.StopFromCharger(detail))

    def on_charger_pause(self, detail: str) -> None:
        self.sink(ev.PauseFromCharger(detail))

    # --- helpers -------------------------------------------------------------------------
    def _publish_ac(self, values: Mapping[str, float]) -> None:
        if self.model.mode is None or self.model.mode.is_dc:
            return
        if 'ac_evse_max_current' in values:
            self.sink(ev.AcEvseMaxCurrent(values['ac_evse_max_current']))
        targets = {k: values[k] for k in _AC_TARGET_FIELDS if k in values}
        if targets:
            self.sink(ev.AcTargetPower(**{_AC_TARGET_FIELDS[k]: v for k, v in targets.items()}))

    def _publish_dc(self, name: str, values: Mapping[str, float]) -> None:
        """The charger's present DC values, stamped when their response was received."""
        if self.model.mode is None or not self.model.mode.is_dc:
            return
        voltage = values.get('evse_present_voltage', math.nan)
        current = values.get('evse_present_current', math.nan)
        if math.isnan(voltage) and math.isnan(current):
            return
        self.sink(ev.DcEvsePresent(name, self._received_at, voltage, current))

    def _account_energy(self, values: Mapping[str, float], now: float) -> None:
        voltage = values.get('evse_present_voltage')
        current = values.get('evse_present_current')
        if voltage is None or current is None:
            return
        if self._last_energy_at is not None:
            self.model.add_energy(voltage * current, now - self._last_energy_at)
        self._last_energy_at = now

    def _update(self, **changes) -> None:
        snapshot = dataclasses.replace(self.snapshot, stamp=time.time(), **changes)
        self.snapshot = dataclasses.replace(snapshot, soc=self.model.soc_percent,
                                            target_soc=self._target_soc,
                                            energy_wh=self.model.energy_wh,
                                            **self._ev_request(snapshot.phase))
        self.sink(self.snapshot)

    def _ev_request(self, phase: Phase) -> Dict[str, float]:
        """What the EV asks for now: DC values only in DC sessions, no current once stopping."""
        model = self.model
        if model.mode is not None and not model.mode.is_dc:
            return dict.fromkeys(_EV_DC_FIELDS, math.nan)
        current = model.request_current() if phase < Phase.STOPPING else 0.0
        return dict(ev_target_voltage=model.dc.target_voltage, ev_target_current=current,
                    ev_max_voltage_limit=model.dc.max_voltage_limit,
                    ev_max_current_limit=model.dc.max_current_limit,
                    ev_max_power_limit=model.dc.max_power_limit)


_EV_DC_FIELDS = ('ev_target_voltage', 'ev_target_current', 'ev_max_voltage_limit',
                 'ev_max_current_limit', 'ev_max_power_limit')
_PRESENT_FIELDS = ('evse_present_voltage', 'evse_present_current')
_SNAPSHOT_FIELDS = ('evse_present_voltage', 'evse_present_current', 'evse_max_voltage',
                    'evse_max_current', 'evse_max_power')
_AC_TARGET_FIELDS = {
    'target_active_power': 'active', 'target_active_power_l2': 'active_l2',
    'target_active_power_l3': 'active_l3', 'target_reactive_power': 'reactive',
    'target_reactive_power_l2': 'reactive_l2', 'target_reactive_power_l3': 'reactive_l3',
}
