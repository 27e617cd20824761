"""The EV's battery as sensor_msgs/BatteryState (REP 103: current positive when charging).

Where each value comes from (NaN where the EV does not know it):
- percentage: the vehicle model's state of charge / 100 (initial_soc, update_soc, energy
  counted from the charger's present voltage x current).
- voltage, current: only while DC power flows (phase charging), the charger's present voltage
  and current, which are the battery's then (contactors closed). Otherwise NaN: the EV node
  measures no battery; AC sessions report no present values.
- power_supply_status: FULL at 100 % or at the session's target SoC once charging stopped;
  CHARGING / DISCHARGING while current flows in / out; NOT_CHARGING otherwise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from iso15118_ev.session.events import SessionSnapshot
from iso15118_ev.vocabulary import Phase

# Below this magnitude (A) the battery is neither charging nor discharging.
FLOWING_CURRENT_A = 0.1


@dataclass(frozen=True)
class BatteryValues:
    percentage: float   # 0..1, NaN unknown
    voltage: float      # V, NaN unknown
    current: float      # A, + charging, NaN unknown
    status: str         # charging, discharging, not_charging, full

    def key(self):
        """For change detection (NaN equals NaN here)."""
        return tuple(None if isinstance(v, float) and math.isnan(v) else v
                     for v in (self.percentage, self.voltage, self.current, self.status))


def battery_values(snapshot: SessionSnapshot) -> BatteryValues:
    soc = snapshot.soc
    percentage = soc / 100.0 if math.isfinite(soc) else math.nan
    dc_flowing = snapshot.phase == Phase.CHARGING and snapshot.energy_transfer_mode.startswith('DC')
    voltage = snapshot.evse_present_voltage if dc_flowing else math.nan
    current = snapshot.evse_present_current if dc_flowing else math.nan
    if math.isfinite(current) and current > FLOWING_CURRENT_A:
        status = 'charging'
    elif math.isfinite(current) and current < -FLOWING_CURRENT_A:
        status = 'discharging'
    elif math.isfinite(soc) and (soc >= 100.0 or (
            snapshot.phase not in (Phase.IDLE, Phase.CHARGING)
            and math.isfinite(snapshot.target_soc) and soc >= snapshot.target_soc)):
        status = 'full'
    else:
        status = 'not_charging'
    return BatteryValues(percentage, voltage, current, status)


def to_msg(values: BatteryValues, stamp, location: str):
    from sensor_msgs.msg import BatteryState
    from std_msgs.msg import Header
    status = {'charging': BatteryState.POWER_SUPPLY_STATUS_CHARGING,
              'discharging': BatteryState.POWER_SUPPLY_STATUS_DISCHARGING,
              'not_charging': BatteryState.POWER_SUPPLY_STATUS_NOT_CHARGING,
              'full': BatteryState.POWER_SUPPLY_STATUS_FULL}[values.status]
    nan = math.nan
    return BatteryState(
        header=Header(stamp=stamp), voltage=values.voltage, temperature=nan, current=values.current,
        charge=nan, capacity=nan, design_capacity=nan, percentage=values.percentage,
        power_supply_status=status,
        power_supply_health=BatteryState.POWER_SUPPLY_HEALTH_UNKNOWN,
        power_supply_technology=BatteryState.POWER_SUPPLY_TECHNOLOGY_UNKNOWN,
        present=True, location=location)
