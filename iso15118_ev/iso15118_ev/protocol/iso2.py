"""ISO 15118-2 AC and DC charging with external payment (EIM), EV side, in the order of the
standard's message sequence:

SessionSetup (a new session, or the paused one resumed), ServiceDiscovery, ServiceDetail (the
SAE J2847/2 services, DC, when enabled and offered), PaymentServiceSelection, with Plug & Charge
(see iso2_pnc) CertificateInstallation or CertificateUpdate where needed and PaymentDetails,
Authorization, ChargeParameterDiscovery, then
- DC: CableCheck, PreCharge, PowerDelivery(Start), CurrentDemand loop, PowerDelivery(Stop),
  WeldingDetection;
- AC: PowerDelivery(Start), ChargingStatus loop, PowerDelivery(Stop);
and SessionStop (Terminate, or Pause to resume later).

Under Plug & Charge, the charger's ReceiptRequired in the charge loop is answered with a signed
MeteringReceipt. The charger's EVSENotification ReNegotiation in the charge loop is answered with
PowerDelivery(Renegotiate), ChargeParameterDiscovery and PowerDelivery(Start); the loop goes on.
A stop or pause is orderly from pre-charge (DC) / PowerDelivery (AC) on; before that, the EV
closes the connection.
"""
from __future__ import annotations

import logging
from typing import Dict, Mapping, Optional

from ..codec import namespaces as ns
from ..vocabulary import CONTRACT, ISO2, CpState
from . import dc, iso2_pnc
from .context import Context, Outcome, early_end, need, orderly_outcome, protocol_error
from .envelopes import V2gMessageEnvelope
from .payment import INSTALL, UPDATE
from .values import physical_value, read_physical

logger = logging.getLogger(__name__)

ENVELOPE = V2gMessageEnvelope(ns.ISO2)
NEW_SESSION_ID = '00'
SAE_J2847_SERVICES = (28472, 28473)      # SAE J2847/2 V2H, V2G
# ProfileEntry list: stay below the bound where EXI codecs disagree (24).
MAX_PROFILE_ENTRIES = 23
START, STOP, RENEGOTIATE = 'Start', 'Stop', 'Renegotiate'


def pv(value: float, unit: str) -> dict:
    return physical_value(value, unit)


async def run(ctx: Context) -> Outcome:
    ctx.agreed(ISO2, ISO2, ENVELOPE)
    model = ctx.model
    await ctx.set_up_session(NEW_SESSION_ID, ctx.evcc_id.hex().upper())
    go_on(ctx, 'service discovery')
    selected, method, certificate_action = await service_discovery(ctx)
    go_on(ctx, 'payment service selection')
    await payment_service_selection(ctx, selected, method)
    go_on(ctx, 'authorization')
    await authorization(ctx, method, certificate_action)
    go_on(ctx, 'charge parameter discovery')
    schedule = await charge_parameter_discovery(ctx)
    if method == CONTRACT and schedule is not None:
        iso2_pnc.check_sales_tariff(ctx, schedule)
    go_on(ctx, 'cable check' if model.mode.is_dc else 'power delivery')
    ctx.observer.on_power_ready()
    if model.mode.is_dc:
        note = await dc_charging(ctx, schedule)
    else:
        await charge_loop(ctx, schedule)
        note = ''
    await ctx.request('SessionStopReq',
                      {'ChargingSession': 'Pause' if model.pausing else 'Terminate'})
    return orderly_outcome(model, note)


def go_on(ctx: Context, before: str) -> None:
    """Before the session can end in order, a stop or pause closes the connection."""
    if ctx.model.wants_to_end:
        raise early_end(ctx.model, before)


async def service_discovery(ctx: Context) -> tuple:
    """(services to select, payment method, certificate action): the charge service, the
    certificate service where the contract needs installing or renewing, and, DC with SAE
    J2847/2 enabled, those of its services the charger offers (with the parameter set
    ServiceDetail describes)."""
    model = ctx.model
    response = await ctx.request('ServiceDiscoveryReq', {})
    options = response['PaymentOptionList']['PaymentOption']
    options = [options] if isinstance(options, str) else options
    certificate_service = iso2_pnc.certificate_service(response)
    offered = certificate_service is not None
    method, action = ctx.payment.choose(options, offered, offered)
    charge_service = response['ChargeService']
    modes = charge_service['SupportedEnergyTransferMode']['EnergyTransferMode']
    if model.mode.iso2_mode not in modes:
        raise protocol_error(f'ServiceDiscoveryRes: SupportedEnergyTransferMode {modes} lacks '
                             f'{model.mode.iso2_mode}')
    selected = [{'ServiceID': charge_service['ServiceID']}]
    if action is not None:
        selected.append(iso2_pnc.selected_certificate_service(certificate_service, action))
    if model.sae_j2847_enabled and model.mode.is_dc:
        listed = {s['ServiceID'] for s in response.get('ServiceList', {}).get('Service', ())}
        for service_id in SAE_J2847_SERVICES:
            if service_id in listed:
                selected.append(await service_detail(ctx, service_id))
    return selected, method, action


async def service_detail(ctx: Context, service_id: int) -> dict:
    """SelectedService: the service with the first parameter set the charger describes."""
    response = await ctx.request('ServiceDetailReq', {'ServiceID': service_id})
    parameter_sets = response.get('ServiceParameterList', {}).get('ParameterSet', ())
    if not parameter_sets:
        return {'ServiceID': service_id}
    return {'ServiceID': service_id, 'ParameterSetID': parameter_sets[0]['ParameterSetID']}


async def payment_service_selection(ctx: Context, selected: list, method: str) -> None:
    await ctx.request('PaymentServiceSelectionReq', {
        'SelectedPaymentOption': method,
        'SelectedServiceList': {'SelectedService': selected}})
    ctx.observer.on_services_selected(tuple(s['ServiceID'] for s in selected))
    if method != CONTRACT:
        ctx.observer.on_payment(method, '')


async def authorization(ctx: Context, method: str, certificate_action) -> None:
    """External payment: Authorization until the charger is done. Plug & Charge: the
    certificate installation or update first, PaymentDetails, then Authorization signing the
    charger's challenge."""
    if method != CONTRACT:
        await dc.ongoing(ctx, 'AuthorizationReq', dict, 'ongoing')
        return
    if certificate_action == INSTALL:
        await iso2_pnc.install_certificate(ctx)
    elif certificate_action == UPDATE:
        await iso2_pnc.update_certificate(ctx)
    go_on(ctx, 'payment details')
    challenge = await iso2_pnc.payment_details(ctx)
    go_on(ctx, 'authorization')
    await dc.ongoing(ctx, 'AuthorizationReq',
                     lambda: iso2_pnc.authorization_request(challenge), 'ongoing',
                     sign=iso2_pnc.authorization_signer(ctx))


async def charge_parameter_discovery(ctx: Context) -> Optional[dict]:
    """The first SA schedule tuple the charger offers; None if the session should end before
    the charger finished."""
    model = ctx.model
    kind = 'DC' if model.mode.is_dc else 'AC'

    def charger_parameter(body: Mapping) -> Mapping:
        return need(body, f'{kind}_EVSEChargeParameter', 'ChargeParameterDiscoveryRes')

    response = await dc.ongoing(ctx, 'ChargeParameterDiscoveryReq', lambda: {
        'RequestedEnergyTransferMode': model.mode.iso2_mode,
        f'{kind}_EVChargeParameter': ev_charge_parameter(model)}, 'ongoing',
        values=lambda r: charger_values(charger_parameter(r)),
        status=lambda r: charger_parameter(r)[f'{kind}_EVSEStatus'], check=check_status)
    if response['EVSEProcessing'] != 'Finished':
        return None
    schedules = need(response, 'SAScheduleList', 'ChargeParameterDiscoveryRes')
    return schedules['SAScheduleTuple'][0]


def ev_charge_parameter(model) -> dict:
    departure = model.departure_time_s()
    out = {} if departure is None else {'DepartureTime': departure}
    if model.mode.is_dc:
        return {**out, **dc.dc_charge_parameter(model, pv)}
    ac = model.ac
    return {**out, 'EAmount': pv(model.energy_request_wh(), 'Wh'),
            'EVMaxVoltage': pv(ac.max_voltage, 'V'), 'EVMaxCurrent': pv(ac.max_current, 'A'),
            'EVMinCurrent': pv(ac.min_current, 'A')}


def charger_values(body: Mapping) -> Dict[str, float]:
    """The charger's DC quantities and AC maximum current in a response body (or parameter)."""
    values = dc.charger_values(body)
    if 'EVSEMaxCurrent' in body:
        values['ac_evse_max_current'] = read_physical(body['EVSEMaxCurrent'])
    return values


def check_status(ctx: Context, name: str, status: Mapping) -> str:
    """The charger's EVSENotification; a stop (DC: or a shutdown status) is told to the EV."""
    if 'EVSEStatusCode' in status:
        dc.check_dc_status(ctx, name, status)
    elif status['EVSENotification'] == 'StopCharging':
        ctx.charger_stops(f'{name}: EVSENotification StopCharging')
    return status['EVSENotification']


def charging_profile(schedule: dict) -> dict:
    """The charger's PMax schedule, echoed as the EV's profile; beyond the entries the EV
    sends, the last one holds the lowest PMax of the rest."""
    entries = schedule['PMaxSchedule']['PMaxScheduleEntry']
    head, tail = entries[:MAX_PROFILE_ENTRIES - 1], entries[MAX_PROFILE_ENTRIES - 1:]
    profile = [(entry, entry['PMax']) for entry in head]
    if tail:
        profile.append((tail[0], min((e['PMax'] for e in tail), key=read_physical)))
    return {'ProfileEntry': [
        {'ChargingProfileEntryStart': start_of(entry), 'ChargingProfileEntryMaxPower': pmax}
        for entry, pmax in profile]}


def start_of(entry: Mapping) -> int:
    return need(entry, 'RelativeTimeInterval', 'PMaxScheduleEntry')['start']


async def dc_charging(ctx: Context, schedule: dict) -> str:
    """CableCheck, PreCharge, the charge loop, WeldingDetection; a note for the outcome."""
    if not await dc.cable_check(ctx, strict_isolation=True):
        raise early_end(ctx.model, 'pre-charge')
    if not await dc.pre_charge(ctx, pv):
        await power_delivery(ctx, STOP, schedule)
        return ''
    await charge_loop(ctx, schedule)
    return await dc.welding_detection(ctx)


async def power_delivery(ctx: Context, progress: str, schedule: dict) -> None:
    model = ctx.model
    request = {'ChargeProgress': progress, 'SAScheduleTupleID': schedule['SAScheduleTupleID']}
    if progress == START:
        model.pilot.want(CpState.C)       # energy from now on (S2 closed)
        request['ChargingProfile'] = charging_profile(schedule)
    if model.mode.is_dc:
        request['DC_EVPowerDeliveryParameter'] = dc.power_delivery_parameter(model)
    response = await ctx.request('PowerDeliveryReq', request)
    kind = 'DC' if model.mode.is_dc else 'AC'
    status = need(response, f'{kind}_EVSEStatus', 'PowerDeliveryRes')
    if progress == START:
        check_status(ctx, 'PowerDeliveryRes', status)


async def charge_loop(ctx: Context, schedule: dict) -> None:
    """PowerDelivery(Start), the charge loop until the session should end, PowerDelivery(Stop).

    The next request goes out as soon as a response is read: the charger paces the loop. After
    PowerDelivery(Start) the sequence goes on with the charge loop, so one loop request comes
    before a stop asked for meanwhile (chargers answer PowerDelivery(Stop) right after
    PowerDelivery(Start) with FAILED_SequenceError).
    """
    model = ctx.model
    await power_delivery(ctx, START, schedule)
    receipt_noted = False
    contract = ctx.payment.used == CONTRACT
    just_started = True
    while just_started or not model.wants_to_end:
        just_started = False
        if model.mode.is_dc:
            response = await ctx.request('CurrentDemandReq', dc.current_demand_req(model, pv),
                                         values=charger_values)
            note = check_status(ctx, 'CurrentDemandRes', response['DC_EVSEStatus'])
        else:
            response = await ctx.request('ChargingStatusReq', {}, values=charger_values)
            note = check_status(ctx, 'ChargingStatusRes', response['AC_EVSEStatus'])
        if response.get('ReceiptRequired') and contract:
            await metering_receipt(ctx, response, schedule)
        elif response.get('ReceiptRequired') and not receipt_noted:
            receipt_noted = True
            logger.info('the charger sets ReceiptRequired; MeteringReceipt is Plug & Charge '
                        'only: with external payment the EV goes on without one')
        if note == 'ReNegotiation' and not model.wants_to_end:
            schedule, just_started = await renegotiate(ctx, schedule)
    await power_delivery(ctx, STOP, schedule)


async def metering_receipt(ctx: Context, response: Mapping, schedule: dict) -> None:
    receipt = await iso2_pnc.metering_receipt(ctx, response, schedule['SAScheduleTupleID'])
    kind = 'DC' if ctx.model.mode.is_dc else 'AC'
    check_status(ctx, 'MeteringReceiptRes', need(receipt, f'{kind}_EVSEStatus',
                                                   'MeteringReceiptRes'))


async def renegotiate(ctx: Context, schedule: dict) -> tuple:
    """The charger asked for new charge parameters: (the schedule in force afterwards,
    whether power delivery started again)."""
    logger.info('the charger asks to renegotiate the schedule')
    await power_delivery(ctx, RENEGOTIATE, schedule)
    schedule = await charge_parameter_discovery(ctx) or schedule
    if ctx.model.wants_to_end:
        return schedule, False
    await power_delivery(ctx, START, schedule)
    return schedule, True
