"""ISO 15118-20 DC and DC_BPT: ChargeParameterDiscovery, CableCheck, PreCharge, the charge loop
request in the agreed control mode, and WeldingDetection. Every value comes from the EV model;
discharge limits are negative."""
from __future__ import annotations

import asyncio
from typing import Dict, Mapping

from ...vehicle.model import SAFE_VOLTAGE_V, EvModel
from ..context import ONGOING_REPEAT_S, Context
from ..values import read_rational
from .common import (Iso20Session, display_parameters, energy_requests,
                     optional_element_ending, r, read_values)

CHARGER_LIMITS = {'EVSEMaximumChargePower': 'evse_max_power',
                  'EVSEMaximumChargeCurrent': 'evse_max_current',
                  'EVSEMaximumVoltage': 'evse_max_voltage'}
PRESENT = {'EVSEPresentVoltage': 'evse_present_voltage',
           'EVSEPresentCurrent': 'evse_present_current'}
# The EV model has no lower charge or discharge limit: it takes (and gives) any power down to 0.
NO_MINIMUM = 0.0


async def charge_parameter_discovery(ctx: Context, s: Iso20Session) -> None:
    model = ctx.model
    key = 'BPT_DC_CPDReqEnergyTransferMode' if s.bidirectional else 'DC_CPDReqEnergyTransferMode'
    await ctx.request('DC_ChargeParameterDiscoveryReq', {key: ev_parameters(model, s)},
                      values=charger_parameters)


def ev_parameters(model: EvModel, s: Iso20Session) -> dict:
    dc = model.dc
    out = {'EVMaximumChargePower': r(dc.max_power_limit),
           'EVMinimumChargePower': r(NO_MINIMUM),
           'EVMaximumChargeCurrent': r(dc.max_current_limit),
           'EVMinimumChargeCurrent': r(NO_MINIMUM),
           'EVMaximumVoltage': r(dc.max_voltage_limit),
           'EVMinimumVoltage': r(model.dc_min_voltage()),
           'TargetSOC': model.target_soc()}
    if s.bidirectional:
        out.update(EVMaximumDischargePower=r(model.max_discharge_power()),
                   EVMinimumDischargePower=r(NO_MINIMUM),
                   EVMaximumDischargeCurrent=r(model.max_discharge_current()),
                   EVMinimumDischargeCurrent=r(NO_MINIMUM))
    return out


def charger_parameters(body: Mapping) -> Dict[str, float]:
    return read_values(optional_element_ending(body, 'CPDResEnergyTransferMode'),
                       CHARGER_LIMITS)


async def cable_check(ctx: Context, s: Iso20Session) -> None:
    """CableCheck until the charger is done (an isolation fault is its FAILED response); with
    an external control pilot, after CP state C or D (within the same timer)."""
    deadline = ctx.deadline('cable_check')
    if await ctx.wait_for_cp_energy(deadline, 'DC_CableCheckReq'):
        await ctx.repeat_while_ongoing('DC_CableCheckReq', dict, 'cable_check',
                                       deadline=deadline)


async def pre_charge(ctx: Context, s: Iso20Session) -> None:
    """PreCharge (EVProcessing Ongoing) until the charger's voltage meets the EV's target, then
    one with EVProcessing Finished; the EV closes its contactors (on_pre_charged) in between."""
    model = ctx.model
    deadline = ctx.deadline('pre_charge')
    s.pre_charge_started = True
    while not model.wants_to_end:
        response = await ctx.request('DC_PreChargeReq', pre_charge_req(model, 'Ongoing'),
                                     deadline, present_values)
        voltage = read_rational(response['EVSEPresentVoltage'])
        if model.is_pre_charged(voltage):
            model.pre_charged = True
            ctx.observer.on_pre_charged(voltage)
            await ctx.request('DC_PreChargeReq', pre_charge_req(model, 'Finished'), deadline,
                              present_values)
            return


def pre_charge_req(model: EvModel, processing: str) -> dict:
    return {'EVProcessing': processing, 'EVPresentVoltage': r(model.present_voltage()),
            'EVTargetVoltage': r(model.dc.target_voltage)}


def present_values(body: Mapping) -> Dict[str, float]:
    return read_values(body, PRESENT)


def charge_loop_req(model: EvModel, s: Iso20Session) -> dict:
    kind = ('BPT_' if s.bidirectional else '') + ('Scheduled' if s.scheduled else 'Dynamic')
    mode = scheduled_mode(model, s) if s.scheduled else dynamic_mode(model, s)
    return {'DisplayParameters': display_parameters(model), 'MeterInfoRequested': False,
            'EVPresentVoltage': r(model.present_voltage()),
            f'{kind}_DC_CLReqControlMode': mode}


def scheduled_mode(model: EvModel, s: Iso20Session) -> dict:
    """The EV's targets, kept within the schedule in force: it asks for no more power than the
    charging schedule allows (nor gives more than the discharging schedule, if there is one)."""
    dc = model.dc
    voltage = dc.target_voltage
    max_power = min(dc.max_power_limit, s.schedule.charge_power_now())
    current = model.signed_target_current()
    if current >= 0:
        current = min(current, max_power / voltage if voltage > 0 else 0.0)
    discharge_power = model.max_discharge_power()
    schedule_discharge = s.schedule.discharge_power_now()
    if schedule_discharge is not None:
        discharge_power = max(discharge_power, schedule_discharge)
        if current < 0:
            current = max(current, discharge_power / voltage if voltage > 0 else 0.0)
    out = {**energy_requests(model), 'EVTargetCurrent': r(current),
           'EVTargetVoltage': r(voltage), 'EVMaximumChargePower': r(max_power),
           'EVMinimumChargePower': r(NO_MINIMUM), 'EVMaximumChargeCurrent': r(dc.max_current_limit),
           'EVMaximumVoltage': r(dc.max_voltage_limit),
           'EVMinimumVoltage': r(model.dc_min_voltage())}
    if s.bidirectional:
        out.update(EVMaximumDischargePower=r(discharge_power),
                   EVMinimumDischargePower=r(NO_MINIMUM),
                   EVMaximumDischargeCurrent=r(model.max_discharge_current()))
    return out


def dynamic_mode(model: EvModel, s: Iso20Session) -> dict:
    """The EV's limits and energy needs; the charger decides the power."""
    dc = model.dc
    out = {'DepartureTime': s.departure_time_s(), **energy_requests(model),
           'EVMaximumChargePower': r(dc.max_power_limit), 'EVMinimumChargePower': r(NO_MINIMUM),
           'EVMaximumChargeCurrent': r(dc.max_current_limit),
           'EVMaximumVoltage': r(dc.max_voltage_limit),
           'EVMinimumVoltage': r(model.dc_min_voltage())}
    if s.bidirectional:
        out.update(EVMaximumDischargePower=r(model.max_discharge_power()),
                   EVMinimumDischargePower=r(NO_MINIMUM),
                   EVMaximumDischargeCurrent=r(model.max_discharge_current()))
    return out


def charge_loop_values(body: Mapping) -> Dict[str, float]:
    values = read_values(body, PRESENT)
    values.update(read_values(optional_element_ending(body, 'CLResControlMode'),
                              CHARGER_LIMITS))
    return values


async def charge_loop(ctx: Context, s: Iso20Session) -> dict:
    """One DC_ChargeLoop exchange; its response."""
    return await ctx.request('DC_ChargeLoopReq', charge_loop_req(ctx.model, s),
                             values=charge_loop_values)


async def welding_detection(ctx: Context) -> str:
    """WeldingDetection (EVProcessing Ongoing) until the charger's voltage is safe, then one
    with EVProcessing Finished (chargers leave this phase on it); '' or a note that the voltage
    did not drop within the welding_detection timer."""
    deadline = ctx.deadline('welding_detection')
    note = ''
    while True:
        response = await ctx.request('DC_WeldingDetectionReq', {'EVProcessing': 'Ongoing'},
                                     values=present_values)
        voltage = read_rational(response['EVSEPresentVoltage'])
        if voltage <= SAFE_VOLTAGE_V:
            break
        if deadline.expired():
            note = (f'; welding detection gave up after {deadline.seconds:g} s with '
                    f'{voltage:.0f} V at the inlet')
            break
        await asyncio.sleep(ONGOING_REPEAT_S)
    await ctx.request('DC_WeldingDetectionReq', {'EVProcessing': 'Finished'},
                      values=present_values)
    return note
