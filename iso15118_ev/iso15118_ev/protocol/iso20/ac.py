"""ISO 15118-20 AC and AC_BPT: ChargeParameterDiscovery and the charge loop request in the
agreed control mode. Powers are totals over the EV's phases (no _L2/_L3 values); they come
from the EV model (model.ac, model.bpt); discharge limits are negative."""
from __future__ import annotations

from typing import Dict, Mapping

from ...vehicle.model import EvModel
from ..context import Context
from .common import (Iso20Session, display_parameters, energy_requests,
                     optional_element_ending, r, read_values)

CHARGER_LIMITS = {'EVSEMaximumChargePower': 'evse_max_power'}
TARGETS = {'EVSETargetActivePower': 'target_active_power',
           'EVSETargetActivePower_L2': 'target_active_power_l2',
           'EVSETargetActivePower_L3': 'target_active_power_l3',
           'EVSETargetReactivePower': 'target_reactive_power',
           'EVSETargetReactivePower_L2': 'target_reactive_power_l2',
           'EVSETargetReactivePower_L3': 'target_reactive_power_l3'}
ACTIVE = ('target_active_power', 'target_active_power_l2', 'target_active_power_l3')
# The on-board charger gives any discharge power down to 0 and draws no reactive power.
NO_MINIMUM = 0.0
REACTIVE_POWER = 0.0


async def charge_parameter_discovery(ctx: Context, s: Iso20Session) -> None:
    model = ctx.model
    key = 'BPT_AC_CPDReqEnergyTransferMode' if s.bidirectional else 'AC_CPDReqEnergyTransferMode'
    parameters = {'EVMaximumChargePower': r(model.ac_max_charge_power()),
                  'EVMinimumChargePower': r(model.ac_min_charge_power())}
    if s.bidirectional:
        parameters.update(EVMaximumDischargePower=r(model.max_discharge_power()),
                          EVMinimumDischargePower=r(NO_MINIMUM))
    await ctx.request('AC_ChargeParameterDiscoveryReq', {key: parameters},
                      values=charger_parameters)


def charger_parameters(body: Mapping) -> Dict[str, float]:
    return read_values(optional_element_ending(body, 'CPDResEnergyTransferMode'),
                       CHARGER_LIMITS)


def charge_loop_req(model: EvModel, s: Iso20Session) -> dict:
    kind = ('BPT_' if s.bidirectional else '') + ('Scheduled' if s.scheduled else 'Dynamic')
    max_power = model.ac_max_charge_power()
    if s.scheduled:
        max_power = min(max_power, s.schedule.charge_power_now())
    min_power = min(model.ac_min_charge_power(), max_power)
    mode = {} if s.scheduled else {'DepartureTime': s.departure_time_s()}
    mode.update(energy_requests(model))
    mode.update(EVMaximumChargePower=r(max_power), EVMinimumChargePower=r(min_power),
                EVPresentActivePower=r(model.present_active_power(
                    present_power(model, s, max_power))))
    if not s.scheduled:
        mode['EVPresentReactivePower'] = r(REACTIVE_POWER)
    if s.bidirectional:
        discharge = model.max_discharge_power()
        if s.scheduled and s.schedule.discharge_power_now() is not None:
            discharge = max(discharge, s.schedule.discharge_power_now())
        mode.update(EVMaximumDischargePower=r(discharge), EVMinimumDischargePower=r(NO_MINIMUM))
    return {'DisplayParameters': display_parameters(model), 'MeterInfoRequested': False,
            f'{kind}_AC_CLReqControlMode': mode}


def present_power(model: EvModel, s: Iso20Session, max_power: float) -> float:
    """What the on-board charger draws (W, negative when it gives): the charger's target
    within the EV's limits; in Scheduled mode without a target, the most the schedule allows;
    in Dynamic mode nothing until the charger sets a target."""
    target = s.ac_target_power
    if target is None:
        return max_power if s.scheduled else 0.0
    lowest = model.max_discharge_power() if s.bidirectional else 0.0
    return min(max(target, lowest), max_power)


def charge_loop_values(body: Mapping) -> Dict[str, float]:
    return read_values(optional_element_ending(body, 'CLResControlMode'), TARGETS)


async def charge_loop(ctx: Context, s: Iso20Session) -> dict:
    """One AC_ChargeLoop exchange; its response. The charger's active power target (all
    phases) is what the EV draws next."""
    response = await ctx.request('AC_ChargeLoopReq', charge_loop_req(ctx.model, s),
                                 values=charge_loop_values)
    targets = charge_loop_values(response)
    if any(key in targets for key in ACTIVE):
        s.ac_target_power = sum(targets.get(key, 0.0) for key in ACTIVE)
    return response
