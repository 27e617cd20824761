"""What DIN SPEC 70121 and ISO 15118-2 DC share: the EV's DC status and targets, the charger's
DC status and values, and the DC phases before and after the charge loop (cable check,
pre-charge, welding detection), which both protocols run with the same messages."""
from __future__ import annotations

import asyncio
from typing import Callable, Dict, Mapping

from ..vehicle.model import BULK_SOC, FULL_SOC, SAFE_VOLTAGE_V, EvModel
from .context import ONGOING_REPEAT_S, Context, protocol_error
from .values import read_physical

# Charger values the node reports: schema element name -> our name.
CHARGER_DC_VALUES = {
    'EVSEPresentVoltage': 'evse_present_voltage',
    'EVSEPresentCurrent': 'evse_present_current',
    'EVSEMaximumVoltageLimit': 'evse_max_voltage',
    'EVSEMaximumCurrentLimit': 'evse_max_current',
    'EVSEMaximumPowerLimit': 'evse_max_power',
}
# DC_EVSEStatusCode values that mean the charger ends the session.
SHUTDOWN_CODES = ('EVSE_Shutdown', 'EVSE_EmergencyShutdown', 'EVSE_UtilityInterruptEvent',
                  'EVSE_Malfunction')
ISOLATION_OK = ('Valid', 'Warning')

PhysicalValue = Callable[[float, str], dict]


def dc_ev_status(model: EvModel) -> dict:
    return {'EVReady': True, 'EVErrorCode': 'NO_ERROR', 'EVRESSSOC': model.soc()}


def dc_charge_parameter(model: EvModel, pv: PhysicalValue) -> dict:
    dc = model.dc
    return {'DC_EVStatus': dc_ev_status(model),
            'EVMaximumCurrentLimit': pv(dc.max_current_limit, 'A'),
            'EVMaximumPowerLimit': pv(dc.max_power_limit, 'W'),
            'EVMaximumVoltageLimit': pv(dc.max_voltage_limit, 'V'),
            'EVEnergyCapacity': pv(dc.energy_capacity, 'Wh'),
            'EVEnergyRequest': pv(model.energy_request_wh(), 'Wh'),
            'FullSOC': FULL_SOC, 'BulkSOC': BULK_SOC}


def current_demand_req(model: EvModel, pv: PhysicalValue, stopping: bool = False) -> dict:
    dc = model.dc
    return {'DC_EVStatus': dc_ev_status(model),
            'EVTargetCurrent': pv(0.0 if stopping else model.request_current(), 'A'),
            'EVMaximumVoltageLimit': pv(dc.max_voltage_limit, 'V'),
            'EVMaximumCurrentLimit': pv(dc.max_current_limit, 'A'),
            'EVMaximumPowerLimit': pv(dc.max_power_limit, 'W'),
            'BulkChargingComplete': model.soc_percent >= BULK_SOC,
            'ChargingComplete': model.charging_complete,
            'EVTargetVoltage': pv(dc.target_voltage, 'V')}


def power_delivery_parameter(model: EvModel) -> dict:
    """DC_EVPowerDeliveryParameter of a PowerDeliveryReq."""
    return {'DC_EVStatus': dc_ev_status(model), 'BulkChargingComplete': False,
            'ChargingComplete': model.charging_complete}


def charger_values(body: Mapping) -> Dict[str, float]:
    """The charger's DC quantities in a response body (or its DC_EVSEChargeParameter)."""
    return {ours: read_physical(body[theirs]) for theirs, ours in CHARGER_DC_VALUES.items()
            if theirs in body}


Values = Callable[[Mapping], Dict[str, float]]


def check_dc_status(ctx: Context, name: str, status: Mapping) -> None:
    """A charger that asks to stop (notification or shutdown status) is told to the EV."""
    note, code = status['EVSENotification'], status['EVSEStatusCode']
    if note == 'StopCharging' or code in SHUTDOWN_CODES:
        ctx.charger_stops(f'{name}: EVSENotification {note}, EVSEStatusCode {code}')


def dc_status(body: Mapping) -> Mapping:
    return body.get('DC_EVSEStatus')


async def ongoing(ctx: Context, name: str, build: Callable[[], dict], timer: str,
                  values: Values = charger_values,
                  status: Callable[[Mapping], Mapping] = dc_status,
                  check: Callable[[Context, str, Mapping], object] = check_dc_status,
                  sign=None, deadline=None) -> dict:
    """`Context.repeat_while_ongoing`, with `check` on the charger's status (`status` of a
    response, when it has one): by default DC_EVSEStatus, whose stop requests are heeded."""
    def check_status(response):
        charger_status = status(response)
        if charger_status is not None:
            check(ctx, name[:-3] + 'Res', charger_status)
    return await ctx.repeat_while_ongoing(name, build, timer, values, check_status, sign,
                                          deadline)


async def cable_check(ctx: Context, strict_isolation: bool) -> bool:
    """CableCheck until the charger is done; False when the EV or charger wants to end.

    With an external control pilot, CableCheck waits for CP state C or D (the same timer).
    Pre-charge needs a valid isolation status ([V2G2-...], DIN 70121 [V2G-DC-...]): Invalid
    or Fault ends the session; an absent status is refused where `strict_isolation` (ISO
    15118-2), tolerated in DIN, whose chargers commonly leave it out.
    """
    deadline = ctx.deadline('cable_check')
    if not await ctx.wait_for_cp_energy(deadline, 'CableCheckReq'):
        return False
    response = await ongoing(ctx, 'CableCheckReq', lambda: {'DC_EVStatus': dc_ev_status(ctx.model)},
                             'cable_check', deadline=deadline)
    if ctx.model.wants_to_end:
        return False
    isolation = response['DC_EVSEStatus'].get('EVSEIsolationStatus')
    if isolation not in ISOLATION_OK and (isolation is not None or strict_isolation):
        raise protocol_error(f'CableCheckRes: EVSEIsolationStatus is {isolation or "absent"}; '
                             'pre-charge needs Valid or Warning')
    return True


async def pre_charge(ctx: Context, pv: PhysicalValue) -> bool:
    """PreCharge until the charger's voltage meets the EV's; False when the session should end."""
    model = ctx.model
    deadline = ctx.deadline('pre_charge')
    while not model.wants_to_end:
        response = await ctx.request('PreChargeReq', {
            'DC_EVStatus': dc_ev_status(model),
            'EVTargetVoltage': pv(model.dc.target_voltage, 'V'),
            'EVTargetCurrent': pv(model.pre_charge_current(), 'A')}, deadline, charger_values)
        check_dc_status(ctx, 'PreChargeRes', response['DC_EVSEStatus'])
        voltage = read_physical(response['EVSEPresentVoltage'])
        if model.is_pre_charged(voltage):
            model.pre_charged = True
            ctx.observer.on_pre_charged(voltage)
            return not model.wants_to_end
    return False


async def welding_detection(ctx: Context) -> str:
    """WeldingDetection until the charger's voltage is safe; '' or a note that it was not."""
    deadline = ctx.deadline('welding_detection')
    while True:
        response = await ctx.request('WeldingDetectionReq',
                                     {'DC_EVStatus': dc_ev_status(ctx.model)},
                                     values=charger_values)
        voltage = read_physical(response['EVSEPresentVoltage'])
        if voltage <= SAFE_VOLTAGE_V:
            return ''
        if deadline.expired():
            return (f'; welding detection gave up after {deadline.seconds:g} s with '
                    f'{voltage:.0f} V at the inlet')
        await asyncio.sleep(ONGOING_REPEAT_S)

