"""ISO 15118-20 charging, EV side, in the order of the standard's message sequence (8.8,
Figures for DC and AC):

SessionSetup (a new session, or the paused one resumed), AuthorizationSetup, Authorization
(EIM, or PnC signed with the contract key: see pnc.py),
ServiceDiscovery, ServiceDetail (the energy service), ServiceSelection (the parameter set of
the control mode: Scheduled or Dynamic), DC_/AC_ChargeParameterDiscovery, ScheduleExchange,
then
- DC: DC_CableCheck, DC_PreCharge, PowerDelivery(Start), DC_ChargeLoop, PowerDelivery(Stop),
  DC_WeldingDetection;
- AC: PowerDelivery(Start), AC_ChargeLoop, PowerDelivery(Stop);
and SessionStop (Terminate, or Pause to resume later).

A stop or pause (the EV's, the charger's Terminate or Pause notification, GoToPause, a WARNING
in AuthorizationRes) is orderly wherever it comes after SessionSetup: power off if it was on
(DC: from pre-charge on, with welding detection, also before a pause), then SessionStop (at the
earliest after AuthorizationSetup). The charger's ScheduleRenegotiation notification is answered
with PowerDelivery(ScheduleRenegotiation), ScheduleExchange and PowerDelivery(Start); the loop
goes on. Its other notifications are logged (see common.charger_notification).
"""
from __future__ import annotations

from ...vocabulary import CONTRACT, ISO20, CpState, EndReason
from ..context import Context, Outcome, orderly_outcome
from ..envelopes import Iso20Envelope
from . import ac, dc, pnc, schedules, services
from .common import Iso20Session, charger_notification, log_warning, logger

ENVELOPE = Iso20Envelope()
NEW_SESSION_ID = '00' * 8            # a new session: SessionID of 8 zero bytes
START, STOP, RENEGOTIATE = 'Start', 'Stop', 'ScheduleRenegotiation'


async def run(ctx: Context) -> Outcome:
    model = ctx.model
    s = Iso20Session(ctx.protocol, model.mode.iso20_service)
    ctx.agreed(s.protocol, ISO20, ENVELOPE)
    await ctx.set_up_session(NEW_SESSION_ID, ctx.evcc_id.hex().upper(), fixed_length=True)
    if await prepare(ctx, s):
        await charge(ctx, s)
    note = await power_off(ctx, s) if s.power_started or s.pre_charge_started else ''
    await ctx.request('SessionStopReq',
                      {'ChargingSession': 'Pause' if model.pausing else 'Terminate'})
    if s.authorization_refused:
        return Outcome(EndReason.AUTHORIZATION_FAILED,
                       f'{s.authorization_refused}; the session was stopped in order')
    return orderly_outcome(model, note)


async def prepare(ctx: Context, s: Iso20Session) -> bool:
    """Authorization to pre-charge: True when power can be delivered; False as soon as the EV
    or the charger wants to end.

    AuthorizationSetup goes out even when the EV wants to end right after SessionSetup: the
    iso15118 package's charger answers a SessionStopReq before it with FAILED_SequenceError;
    after it, that charger and EVerest's libiso15118 both take a SessionStopReq."""
    await authorization_setup(ctx, s)
    steps = [authorization, service_discovery, service_detail, service_selection,
             dc.charge_parameter_discovery if s.is_dc else ac.charge_parameter_discovery,
             schedules.schedule_exchange]
    if s.is_dc:
        steps += [dc.cable_check, dc.pre_charge]
    for step in steps:
        if ctx.model.wants_to_end:
            return False
        await step(ctx, s)
    return not ctx.model.wants_to_end


async def authorization_setup(ctx: Context, s: Iso20Session) -> None:
    """The authorization services offered: PnC (with the charger's GenChallenge) or EIM."""
    response = await ctx.request('AuthorizationSetupReq', {})
    s.authorization, s.gen_challenge = pnc.choose_authorization(ctx, response)


async def authorization(ctx: Context, s: Iso20Session) -> None:
    """EIM or PnC (signed with the contract key), repeated while the charger is busy; a
    WARNING response code (e.g. WARNING_EIMAuthorizationFailure, WARNING_CertificateExpired)
    is the charger refusing: the session ends in order."""
    def check(response):
        code = log_warning(s, 'AuthorizationRes', response)
        if code is not None:
            s.authorization_refused = f'the charger refused the authorization: {code}'
            ctx.charger_stops(f'AuthorizationRes: ResponseCode {code}')

    if s.authorization == CONTRACT:
        await ctx.repeat_while_ongoing('AuthorizationReq', lambda: pnc.authorization_request(
            ctx, s.gen_challenge), 'ongoing', check=check, sign=pnc.authorization_signer(ctx))
    else:
        await ctx.repeat_while_ongoing('AuthorizationReq', lambda: {
            'SelectedAuthorizationService': 'EIM', 'EIM_AReqAuthorizationMode': {}},
            'ongoing', check=check)


async def service_discovery(ctx: Context, s: Iso20Session) -> None:
    response = await ctx.request('ServiceDiscoveryReq', {})
    s.service_id = services.energy_service_id(response, s.service)


async def service_detail(ctx: Context, s: Iso20Session) -> None:
    response = await ctx.request('ServiceDetailReq', {'ServiceID': s.service_id})
    s.parameter_set_id, s.control_mode = services.choose_parameter_set(
        response, ctx.iso20_control_mode, ctx.model, s.service)


async def service_selection(ctx: Context, s: Iso20Session) -> None:
    await ctx.request('ServiceSelectionReq', {'SelectedEnergyTransferService': {
        'ServiceID': s.service_id, 'ParameterSetID': s.parameter_set_id}})
    ctx.observer.on_services_selected((s.service_id,))
    ctx.observer.on_control_mode(s.control_mode.lower())


async def charge(ctx: Context, s: Iso20Session) -> None:
    """PowerDelivery(Start), then the charge loop until the session should end; each request
    goes out as soon as the response before it is read (the charger paces the loop). One loop
    request follows each PowerDelivery(Start), even when a stop was asked for meanwhile: the
    message sequence goes on with the charge loop."""
    model = ctx.model
    await power_delivery(ctx, s, START)
    s.power_started = True
    loop = dc.charge_loop if s.is_dc else ac.charge_loop
    name = 'DC_ChargeLoopRes' if s.is_dc else 'AC_ChargeLoopRes'
    just_started = True
    while just_started or not model.wants_to_end:
        just_started = False
        response = await loop(ctx, s)
        log_warning(s, name, response)
        if charger_notification(ctx, s, name, response) == RENEGOTIATE \
                and not model.wants_to_end:
            just_started = await renegotiate(ctx, s)


async def renegotiate(ctx: Context, s: Iso20Session) -> bool:
    """The charger asked for a new schedule: PowerDelivery(ScheduleRenegotiation),
    ScheduleExchange, PowerDelivery(Start); whether power delivery started again."""
    logger.info('the charger asks to renegotiate the schedule')
    await power_delivery(ctx, s, RENEGOTIATE)
    if not ctx.model.wants_to_end:
        await schedules.schedule_exchange(ctx, s)
    if ctx.model.wants_to_end:
        return False
    await power_delivery(ctx, s, START)
    return True


async def power_delivery(ctx: Context, s: Iso20Session, progress: str) -> None:
    request = {'EVProcessing': 'Finished', 'ChargeProgress': progress}
    if progress == START:
        # [V2G20-847]: C at the latest 250 ms after the first PowerDeliveryReq(Start).
        ctx.model.pilot.want(CpState.C)
        request['EVPowerProfile'] = schedules.power_profile(ctx.model, s)
    response = await ctx.request('PowerDeliveryReq', request)
    log_warning(s, 'PowerDeliveryRes', response)
    if progress != STOP:
        charger_notification(ctx, s, 'PowerDeliveryRes', response)


async def power_off(ctx: Context, s: Iso20Session) -> str:
    """PowerDelivery(Stop) and, DC, welding detection: a note for the outcome."""
    await power_delivery(ctx, s, STOP)
    return await dc.welding_detection(ctx) if s.is_dc else ''
