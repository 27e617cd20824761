"""ScheduleExchange and what follows from it: the charger's schedule the EV follows in
Scheduled mode, and the EV's power profile in PowerDelivery(Start)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple

from ...vehicle.model import EvModel
from ..context import Context, need
from ..values import read_rational
from .common import Iso20Session, energy_requests, r

# MaximumSupportingPoints (12..1024): below the bound, so no list the charger sends (and none
# the EV echoes) has exactly 1024 entries, where EXI codecs disagree.
MAXIMUM_SUPPORTING_POINTS = 1023
PHASE_POWERS = ('Power', 'Power_L2', 'Power_L3')


@dataclass(frozen=True)
class PowerSchedule:
    """A PowerSchedule: entries of (duration s, power W) from `anchor` (Unix time)."""

    anchor: float
    entries: Tuple[Tuple[int, float], ...]

    @classmethod
    def read(cls, element: Mapping, received: float) -> 'PowerSchedule':
        """A schedule whose entries would all lie before `received` (TimeAnchor 0, as some
        chargers send) counts from when it was received."""
        entries = tuple((e['Duration'], entry_power(e))
                        for e in element['PowerScheduleEntries']['PowerScheduleEntry'])
        anchor = element['TimeAnchor']
        if anchor + sum(d for d, _ in entries) <= received:
            anchor = received
        return cls(anchor, entries)

    def power_at(self, now: float) -> float:
        """The power of the entry in force at `now`: the first before the schedule starts, the
        last after it ends."""
        end = self.anchor
        for duration, power in self.entries:
            end += duration
            if now < end:
                return power
        return self.entries[-1][1]


def entry_power(entry: Mapping) -> float:
    """An entry's power over all phases (with Power_L2/_L3, Power is phase L1's)."""
    return sum(read_rational(entry[key]) for key in PHASE_POWERS if key in entry)


@dataclass(frozen=True)
class ScheduleTuple:
    tuple_id: int
    charging: PowerSchedule
    discharging: Optional[PowerSchedule]
    element: Mapping                    # the charging PowerSchedule as the charger sent it

    @classmethod
    def read(cls, element: Mapping) -> 'ScheduleTuple':
        received = time.time()
        charging = element['ChargingSchedule']['PowerSchedule']
        discharging = element.get('DischargingSchedule')
        return cls(element['ScheduleTupleID'], PowerSchedule.read(charging, received),
                   None if discharging is None else
                   PowerSchedule.read(discharging['PowerSchedule'], received),
                   charging)

    def charge_power_now(self) -> float:
        return max(self.charging.power_at(time.time()), 0.0)

    def discharge_power_now(self) -> Optional[float]:
        """The discharge power allowed now, negative; None without a DischargingSchedule."""
        if self.discharging is None:
            return None
        return -abs(self.discharging.power_at(time.time()))


async def schedule_exchange(ctx: Context, s: Iso20Session) -> None:
    """ScheduleExchange until the charger is done; Scheduled: the first tuple offered is the
    one the EV follows. GoToPause is the charger asking to pause."""
    model = ctx.model
    if not s.departure_at:              # a renegotiation keeps the departure announced
        s.departure_at = time.monotonic() + model.iso20_departure_time_s()
    response = await ctx.repeat_while_ongoing(
        'ScheduleExchangeReq', lambda: schedule_exchange_req(model, s), 'ongoing')
    if response['EVSEProcessing'] != 'Finished':
        return
    if response.get('GoToPause'):
        ctx.charger_pauses('ScheduleExchangeRes: GoToPause')
    if s.scheduled:
        control = need(response, 'Scheduled_SEResControlMode', 'ScheduleExchangeRes')
        s.schedule = ScheduleTuple.read(control['ScheduleTuple'][0])
    else:
        need(response, 'Dynamic_SEResControlMode', 'ScheduleExchangeRes')
    if not model.wants_to_end:
        ctx.observer.on_power_ready()


def schedule_exchange_req(model: EvModel, s: Iso20Session) -> dict:
    if s.scheduled:
        mode = {}
        if model.departure_time_s() is not None:
            mode['DepartureTime'] = s.departure_time_s()
        mode.update(energy_requests(model))
        return {'MaximumSupportingPoints': MAXIMUM_SUPPORTING_POINTS,
                'Scheduled_SEReqControlMode': mode}
    mode = {'DepartureTime': s.departure_time_s()}
    if s.bidirectional:
        mode['MinimumSOC'] = model.minimum_soc()
    mode['TargetSOC'] = model.target_soc()
    mode.update(energy_requests(model))
    return {'MaximumSupportingPoints': MAXIMUM_SUPPORTING_POINTS,
            'Dynamic_SEReqControlMode': mode}


def ev_max_charge_power(model: EvModel, s: Iso20Session) -> float:
    return model.dc.max_power_limit if s.is_dc else model.ac_max_charge_power()


def power_profile(model: EvModel, s: Iso20Session) -> dict:
    """EVPowerProfile of PowerDelivery(Start).

    Scheduled: the chosen tuple's charging schedule (its TimeAnchor and durations), each entry
    capped at the EV's maximum power, under the tuple's ID; the schedule's power tolerance, if
    it has one, is confirmed (the EV keeps to the schedule). Dynamic: the EV's maximum power
    from now until its departure.
    """
    ev_max = ev_max_charge_power(model, s)
    if not s.scheduled:
        return {'TimeAnchor': int(time.time()), 'Dynamic_EVPPTControlMode': {},
                'EVPowerProfileEntries': {'EVPowerProfileEntry': [
                    {'Duration': max(s.departure_time_s(), 1), 'Power': r(ev_max)}]}}
    schedule = s.schedule.element
    entries = []
    for entry in schedule['PowerScheduleEntries']['PowerScheduleEntry']:
        phases = [key for key in PHASE_POWERS if key in entry]
        cap = ev_max / len(phases)        # with _L2/_L3, Power is phase L1's
        entries.append({'Duration': entry['Duration'],
                        **{key: r(min(read_rational(entry[key]), cap)) for key in phases}})
    control = {'SelectedScheduleTupleID': s.schedule.tuple_id}
    if 'PowerTolerance' in schedule:
        control['PowerToleranceAcceptance'] = 'PowerToleranceConfirmed'
    return {'TimeAnchor': schedule['TimeAnchor'], 'Scheduled_EVPPTControlMode': control,
            'EVPowerProfileEntries': {'EVPowerProfileEntry': entries}}
