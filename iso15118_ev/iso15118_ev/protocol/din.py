"""DIN SPEC 70121 DC charging, EV side, in the order of the standard's message sequence (9.4):

SessionSetup, ServiceDiscovery, ServicePaymentSelection, ContractAuthentication (external
payment only), ChargeParameterDiscovery, CableCheck, PreCharge, PowerDelivery(ready),
CurrentDemand loop, PowerDelivery(not ready), WeldingDetection, SessionStop.

DIN has no pause and no resume. A stop is orderly from pre-charge on; before that, the EV
closes the connection.
"""
from __future__ import annotations

from ..codec import namespaces as ns
from ..vocabulary import DIN, EXTERNAL_PAYMENT, CpState
from . import dc
from .context import Context, Outcome, early_end, need, orderly_outcome, protocol_error
from .envelopes import V2gMessageEnvelope
from .values import physical_value

ENVELOPE = V2gMessageEnvelope(ns.DIN)
NEW_SESSION_ID = '00'
# DIN's ProfileEntry list: stay below the bound where EXI codecs disagree (24).
MAX_PROFILE_ENTRIES = 23


def pv(value: float, unit: str) -> dict:
    return physical_value(value, unit)


async def run(ctx: Context) -> Outcome:
    ctx.agreed(DIN, DIN, ENVELOPE)
    await ctx.set_up_session(NEW_SESSION_ID, ctx.evcc_id.hex().upper(), resumable=False)
    service_id = await service_discovery(ctx)
    await service_payment_selection(ctx, service_id)
    await dc.ongoing(ctx, 'ContractAuthenticationReq', dict, 'ongoing')
    schedule = await charge_parameter_discovery(ctx)
    if not await dc.cable_check(ctx, strict_isolation=False):
        raise early_end(ctx.model, 'pre-charge')
    if await dc.pre_charge(ctx, pv):
        await power_delivery(ctx, ready=True, schedule=schedule)
        await charge_loop(ctx)
        await power_delivery(ctx, ready=False)
        note = await dc.welding_detection(ctx)
    else:
        await power_delivery(ctx, ready=False)
        note = ''
    await ctx.request('SessionStopReq', {})
    return orderly_outcome(ctx.model, note)


async def service_discovery(ctx: Context) -> int:
    """The ID of the charge service; the charger must accept external payment."""
    response = await ctx.request('ServiceDiscoveryReq', {'ServiceCategory': 'EVCharging'})
    options = response['PaymentOptions']['PaymentOption']
    if 'ExternalPayment' not in options:
        raise protocol_error(f'ServiceDiscoveryRes: PaymentOptions {options} lack '
                             'ExternalPayment, the only payment DIN SPEC 70121 has')
    ctx.payment.external_only('DIN SPEC 70121 sessions use external payment only')
    ctx.observer.on_payment(EXTERNAL_PAYMENT, '')
    return response['ChargeService']['ServiceTag']['ServiceID']


async def service_payment_selection(ctx: Context, service_id: int) -> None:
    await ctx.request('ServicePaymentSelectionReq', {
        'SelectedPaymentOption': 'ExternalPayment',
        'SelectedServiceList': {'SelectedService': [{'ServiceID': service_id}]}})


async def charge_parameter_discovery(ctx: Context) -> dict:
    """The first SA schedule tuple the charger offers (its ID may be 0 in DIN)."""
    model = ctx.model
    if model.wants_to_end:
        raise early_end(model, 'charge parameter discovery')
    response = await dc.ongoing(ctx, 'ChargeParameterDiscoveryReq', lambda: {
        'EVRequestedEnergyTransferType': model.mode.iso2_mode,
        'DC_EVChargeParameter': dc.dc_charge_parameter(model, pv)}, 'ongoing',
        values=lambda r: dc.charger_values(charger_limits(r)),
        status=lambda r: charger_limits(r)['DC_EVSEStatus'])
    if model.wants_to_end:
        raise early_end(model, 'cable check')
    ctx.observer.on_power_ready()
    return response['SAScheduleList']['SAScheduleTuple'][0]


def charger_limits(body) -> dict:
    return need(body, 'DC_EVSEChargeParameter', 'ChargeParameterDiscoveryRes')


def charging_profile(schedule: dict) -> dict:
    """The charger's PMax schedule, echoed as the EV's profile under the tuple's ID."""
    entries = schedule['PMaxSchedule']['PMaxScheduleEntry'][:MAX_PROFILE_ENTRIES]
    return {'SAScheduleTupleID': schedule['SAScheduleTupleID'],
            'ProfileEntry': [{'ChargingProfileEntryStart': e['RelativeTimeInterval']['start'],
                              'ChargingProfileEntryMaxPower': e['PMax']} for e in entries]}


async def power_delivery(ctx: Context, ready: bool, schedule: dict | None = None) -> None:
    if ready:
        ctx.model.pilot.want(CpState.C)   # energy from now on (S2 closed)
    request = {'ReadyToChargeState': ready}
    if schedule is not None:
        request['ChargingProfile'] = charging_profile(schedule)
    request['DC_EVPowerDeliveryParameter'] = dc.power_delivery_parameter(ctx.model)
    response = await ctx.request('PowerDeliveryReq', request)
    status = need(response, 'DC_EVSEStatus', 'PowerDeliveryRes')
    if ready:
        dc.check_dc_status(ctx, 'PowerDeliveryRes', status)


async def charge_loop(ctx: Context) -> None:
    """CurrentDemand until the session should end; at least once, as the sequence goes on
    with it after PowerDelivery(ReadyToChargeState true)."""
    model = ctx.model
    just_started = True
    while just_started or not model.wants_to_end:
        just_started = False
        response = await ctx.request('CurrentDemandReq', dc.current_demand_req(model, pv),
                                     values=dc.charger_values)
        dc.check_dc_status(ctx, 'CurrentDemandRes', response['DC_EVSEStatus'])
