"""ISO 15118-2 sequences (AC and DC, external payment) against a scripted charger: the EV's real
transport, codec and engine, the charger's answers constructed here (schema-valid)."""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from dataclasses import dataclass, field
from typing import List

import pytest

from iso15118_ev.codec import NativeExiCodec
from iso15118_ev.codec import namespaces as ns
from iso15118_ev.protocol.timers import Timeouts
from iso15118_ev.session.v2g import V2gSettings, run_v2g_session
from iso15118_ev.vocabulary import ISO2, EndReason
from support.scripted_charger import (SESSION_ID, RecordingObserver, ScriptedCharger, Silent,
                                      handshake_ok, model_for, run_against)

MODES = ('DC_extended', 'AC_single_phase_core', 'AC_three_phase_core')
HEAD = ['supportedAppProtocolReq', 'SessionSetupReq', 'ServiceDiscoveryReq',
        'PaymentServiceSelectionReq', 'AuthorizationReq', 'ChargeParameterDiscoveryReq']


def pv(value, multiplier=0, unit='V'):
    return {'Multiplier': multiplier, 'Unit': unit, 'Value': value}


def dc_status(notification='None', code='EVSE_Ready', isolation='Valid'):
    out = {'NotificationMaxDelay': 0, 'EVSENotification': notification}
    if isolation:
        out['EVSEIsolationStatus'] = isolation
    out['EVSEStatusCode'] = code
    return out


def ac_status(notification='None'):
    return {'NotificationMaxDelay': 0, 'EVSENotification': notification, 'RCD': False}


def physical(value):
    return value['Value'] * 10 ** value['Multiplier']


@dataclass
class Iso2Charger(ScriptedCharger):
    """A scripted charger that also records the SessionID in each request's header."""

    headers: List[str] = field(default_factory=list)

    def _unwrap(self, document, agreed):
        if agreed:
            self.headers.append(document['V2G_Message']['Header']['SessionID'])
        return super()._unwrap(document, agreed)

    def bodies(self, name):
        return [body for _, n, body in self.requests if n == name]


class Charger:
    """An ISO 15118-2 charger (EIM) that follows the EV's targets; knobs for the cases tested."""

    def __init__(self, payment=('ExternalPayment',), modes=MODES,
                 services=(), auth_ongoing=0, isolation='Valid', stop_after_loops=0,
                 renegotiate_at_loop=0, receipt_required=False, pmax_entries=1,
                 pre_charge_ramp=1.0, session_code='OK_NewSessionEstablished'):
        self.payment = list(payment)
        self.modes = list(modes)
        self.services = services
        self.auth_ongoing = auth_ongoing
        self.isolation = isolation
        self.stop_after_loops = stop_after_loops
        self.renegotiate_at_loop = renegotiate_at_loop
        self.receipt_required = receipt_required
        self.pmax_entries = pmax_entries
        self.pre_charge_ramp = pre_charge_ramp
        self.session_code = session_code
        self.voltage = 0.0
        self.loops = 0
        self.is_dc = True

    def __call__(self, name, body):
        return getattr(self, name)(body)

    def supportedAppProtocolReq(self, body):
        return handshake_ok(body)

    def SessionSetupReq(self, body):
        return {'ResponseCode': self.session_code, 'EVSEID': 'DE*PNX*E12345*1'}

    def ServiceDiscoveryReq(self, body):
        out = {'ResponseCode': 'OK', 'PaymentOptionList': {'PaymentOption': self.payment},
               'ChargeService': {
                   'ServiceID': 1, 'ServiceCategory': 'EVCharging', 'FreeService': False,
                   'SupportedEnergyTransferMode': {'EnergyTransferMode': self.modes}}}
        if self.services:
            out['ServiceList'] = {'Service': [
                {'ServiceID': sid, 'ServiceCategory': 'OtherCustom', 'FreeService': True}
                for sid in self.services]}
        return out

    def ServiceDetailReq(self, body):
        return {'ResponseCode': 'OK', 'ServiceID': body['ServiceID'],
                'ServiceParameterList': {'ParameterSet': [
                    {'ParameterSetID': 7, 'Parameter': [{'Name': 'Service', 'intValue': 1}]}]}}

    def PaymentServiceSelectionReq(self, body):
        return {'ResponseCode': 'OK'}

    def AuthorizationReq(self, body):
        self.auth_ongoing -= 1
        return {'ResponseCode': 'OK',
                'EVSEProcessing': 'Ongoing' if self.auth_ongoing >= 0 else 'Finished'}

    def ChargeParameterDiscoveryReq(self, body):
        self.is_dc = 'DC_EVChargeParameter' in body
        entries = [{'RelativeTimeInterval': {'start': i * 600}, 'PMax': pv(50 - i, 3, 'W')}
                   for i in range(self.pmax_entries)]
        entries[-1]['RelativeTimeInterval']['duration'] = 86400
        out = {'ResponseCode': 'OK', 'EVSEProcessing': 'Finished',
               'SAScheduleList': {'SAScheduleTuple': [{
                   'SAScheduleTupleID': 3,
                   'PMaxSchedule': {'PMaxScheduleEntry': entries}}]}}
        if self.is_dc:
            out['DC_EVSEChargeParameter'] = {
                'DC_EVSEStatus': dc_status(isolation=None),
                'EVSEMaximumCurrentLimit': pv(200, unit='A'),
                'EVSEMaximumPowerLimit': pv(150, 3, 'W'),
                'EVSEMaximumVoltageLimit': pv(920),
                'EVSEMinimumCurrentLimit': pv(0, unit='A'),
                'EVSEMinimumVoltageLimit': pv(150),
                'EVSEPeakCurrentRipple': pv(1, unit='A')}
        else:
            out['AC_EVSEChargeParameter'] = {
                'AC_EVSEStatus': ac_status(), 'EVSENominalVoltage': pv(230),
                'EVSEMaxCurrent': pv(32, unit='A')}
        return out

    def CableCheckReq(self, body):
        return {'ResponseCode': 'OK', 'DC_EVSEStatus': dc_status(isolation=self.isolation),
                'EVSEProcessing': 'Finished'}

    def PreChargeReq(self, body):
        self.voltage += self.pre_charge_ramp * (physical(body['EVTargetVoltage']) - self.voltage)
        return {'ResponseCode': 'OK', 'DC_EVSEStatus': dc_status(),
                'EVSEPresentVoltage': pv(int(self.voltage))}

    def PowerDeliveryReq(self, body):
        if body['ChargeProgress'] == 'Stop':
            self.voltage = 0.0
        status = {'DC_EVSEStatus': dc_status()} if self.is_dc else {'AC_EVSEStatus': ac_status()}
        return {'ResponseCode': 'OK', **status}

    def _notification(self):
        self.loops += 1
        if self.stop_after_loops and self.loops >= self.stop_after_loops:
            return 'StopCharging'
        return 'ReNegotiation' if self.loops == self.renegotiate_at_loop else 'None'

    def _receipt(self):
        return {'ReceiptRequired': True} if self.receipt_required else {}

    def CurrentDemandReq(self, body):
        return {'ResponseCode': 'OK', 'DC_EVSEStatus': dc_status(self._notification()),
                'EVSEPresentVoltage': pv(int(self.voltage)),
                'EVSEPresentCurrent': pv(5, unit='A'),
                'EVSECurrentLimitAchieved': False, 'EVSEVoltageLimitAchieved': False,
                'EVSEPowerLimitAchieved': False, 'EVSEMaximumCurrentLimit': pv(200, unit='A'),
                'EVSEID': 'DE*PNX*E12345*1', 'SAScheduleTupleID': 3, **self._receipt()}

    def ChargingStatusReq(self, body):
        return {'ResponseCode': 'OK', 'EVSEID': 'DE*PNX*E12345*1', 'SAScheduleTupleID': 3,
                'EVSEMaxCurrent': pv(16, unit='A'), **self._receipt(),
                'AC_EVSEStatus': ac_status(self._notification())}

    def WeldingDetectionReq(self, body):
        return {'ResponseCode': 'OK', 'DC_EVSEStatus': dc_status(),
                'EVSEPresentVoltage': pv(int(self.voltage))}

    def SessionStopReq(self, body):
        return {'ResponseCode': 'OK'}


def when(model, names, request, count=1, pause=False):
    """A handler wrapper: the EV is asked to stop (pause) once `count` `request`s arrived."""
    def wrap(handler):
        def handle(name, body):
            if names().count(request) >= count:
                if pause:
                    model.pause_requested = True
                else:
                    model.stop_requested = True
            return handler(name, body)
        return handle
    return wrap


def session(handler=None, mode='DC_extended', stop_at=('CurrentDemandReq', 3), pause=False,
            model=None, **kwargs):
    """Run a session: (outcome, observer, charger, model); the EV stops after `stop_at`."""
    model = model or model_for(mode)
    charger = Iso2Charger(ISO2, None)
    handler = handler or Charger()
    charger.handler = when(model, charger.names, *stop_at, pause=pause)(handler) \
        if stop_at else handler
    outcome, observer = asyncio.run(run_against(charger, model, **kwargs))
    return outcome, observer, charger, model


def test_dc_full_session_in_standard_order():
    outcome, observer, charger, _ = session()
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert charger.names() == HEAD + [
        'CableCheckReq', 'PreChargeReq', 'PowerDeliveryReq', 'CurrentDemandReq',
        'CurrentDemandReq', 'CurrentDemandReq', 'PowerDeliveryReq', 'WeldingDetectionReq',
        'SessionStopReq']
    assert charger.headers == ['00'] + [SESSION_ID[ISO2]] * (len(charger.names()) - 2)
    assert observer.of('on_protocol') == [(ISO2,)]
    assert observer.of('on_session_id') == [(SESSION_ID[ISO2],)]
    assert observer.of('on_services_selected') == [((1,),)]
    assert len(observer.of('on_power_ready')) == 1 and len(observer.of('on_pre_charged')) == 1
    selection = charger.bodies('PaymentServiceSelectionReq')[0]
    assert selection['SelectedPaymentOption'] == 'ExternalPayment'
    discovery = charger.bodies('ChargeParameterDiscoveryReq')[0]
    assert discovery['RequestedEnergyTransferMode'] == 'DC_extended'
    assert 'DepartureTime' not in discovery['DC_EVChargeParameter']
    start, stop = charger.bodies('PowerDeliveryReq')
    assert (start['ChargeProgress'], stop['ChargeProgress']) == ('Start', 'Stop')
    assert start['SAScheduleTupleID'] == stop['SAScheduleTupleID'] == 3
    assert start['ChargingProfile'] == {'ProfileEntry': [
        {'ChargingProfileEntryStart': 0, 'ChargingProfileEntryMaxPower': pv(50, 3, 'W')}]}
    assert 'DC_EVPowerDeliveryParameter' in start
    assert charger.bodies('SessionStopReq') == [{'ChargingSession': 'Terminate'}]
    values = {n: v for n, v, _ in observer.of('on_response')}
    assert values['CurrentDemandRes']['evse_present_current'] == 5
    assert values['ChargeParameterDiscoveryRes']['evse_max_voltage'] == 920


def test_ac_full_session_in_standard_order():
    outcome, observer, charger, _ = session(mode='AC_three_phase_core',
                                            stop_at=('ChargingStatusReq', 3))
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert charger.names() == HEAD + [
        'PowerDeliveryReq', 'ChargingStatusReq', 'ChargingStatusReq', 'ChargingStatusReq',
        'PowerDeliveryReq', 'SessionStopReq']
    discovery = charger.bodies('ChargeParameterDiscoveryReq')[0]
    assert discovery['RequestedEnergyTransferMode'] == 'AC_three_phase_core'
    assert set(discovery['AC_EVChargeParameter']) == {'EAmount', 'EVMaxVoltage', 'EVMaxCurrent',
                                                      'EVMinCurrent'}
    start, stop = charger.bodies('PowerDeliveryReq')
    assert (start['ChargeProgress'], stop['ChargeProgress']) == ('Start', 'Stop')
    assert 'DC_EVPowerDeliveryParameter' not in start and 'ChargingProfile' in start
    responses = [(name, values) for name, values, _ in observer.of('on_response')]
    assert ('ChargeParameterDiscoveryRes', {'ac_evse_max_current': 32}) in responses
    assert responses.count(('ChargingStatusRes', {'ac_evse_max_current': 16})) == 3
    assert len(observer.of('on_power_ready')) == 1 and not observer.of('on_pre_charged')


def test_departure_time_and_energy_amount_are_sent():
    model = model_for('DC_extended', departure_time_s=7200, e_amount_kwh=30)
    outcome, _, charger, _ = session(model=model)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    parameter = charger.bodies('ChargeParameterDiscoveryReq')[0]['DC_EVChargeParameter']
    assert parameter['DepartureTime'] == 7200
    assert physical(parameter['EVEnergyRequest']) == 30000


def test_resume_sends_the_old_session_id():
    model = model_for('DC_extended')
    model.resume_session_id = SESSION_ID[ISO2]
    outcome, observer, charger, _ = session(Charger(session_code='OK_OldSessionJoined'),
                                            model=model)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert charger.headers[0] == SESSION_ID[ISO2]
    assert observer.of('on_session_id') == [(SESSION_ID[ISO2],)]


def test_resume_refused_by_the_charger_goes_on_in_a_new_session():
    model = model_for('AC_single_phase_core')
    model.resume_session_id = '0102030405060708'
    outcome, observer, charger, _ = session(model=model, stop_at=('ChargingStatusReq', 1))
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert charger.headers[0] == '0102030405060708'
    assert set(charger.headers[1:]) == {SESSION_ID[ISO2]}


@pytest.mark.parametrize('mode, enabled, offered, selected', [
    ('DC_extended', True, (28472, 28473), (1, 28472, 28473)),
    ('DC_extended', True, (28473,), (1, 28473)),
    ('DC_extended', False, (28472, 28473), (1,)),
    ('DC_extended', True, (), (1,)),
    ('AC_three_phase_core', True, (28472, 28473), (1,)),
])
def test_sae_j2847_services_are_selected_when_enabled_and_offered(mode, enabled, offered,
                                                                   selected):
    model = model_for(mode)
    model.sae_j2847_enabled = enabled
    loop = 'CurrentDemandReq' if model.mode.is_dc else 'ChargingStatusReq'
    outcome, observer, charger, _ = session(Charger(services=offered), model=model,
                                            stop_at=(loop, 1))
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert observer.of('on_services_selected') == [(selected,)]
    details = [b['ServiceID'] for b in charger.bodies('ServiceDetailReq')]
    assert details == list(selected[1:])
    assert charger.names().index('PaymentServiceSelectionReq') == 3 + len(details)
    chosen = charger.bodies('PaymentServiceSelectionReq')[0]['SelectedServiceList']
    assert chosen['SelectedService'] == [{'ServiceID': 1}] + [
        {'ServiceID': sid, 'ParameterSetID': 7} for sid in selected[1:]]


@pytest.mark.parametrize('mode, loop', [('DC_extended', 'CurrentDemandReq'),
                                        ('AC_three_phase_core', 'ChargingStatusReq')])
def test_charger_stop_in_the_charge_loop_is_orderly(mode, loop):
    outcome, observer, charger, _ = session(Charger(stop_after_loops=2), mode=mode,
                                            stop_at=None)
    assert outcome.reason == EndReason.STOPPED_BY_CHARGER, outcome.message
    assert charger.names().count(loop) == 2
    tail = ['PowerDeliveryReq'] + (['WeldingDetectionReq'] if loop == 'CurrentDemandReq' else [])
    assert charger.names()[-len(tail) - 1:] == tail + ['SessionStopReq']
    assert charger.bodies('SessionStopReq') == [{'ChargingSession': 'Terminate'}]
    assert len(observer.of('on_charger_stop')) == 1


def test_dc_shutdown_status_is_a_charger_stop():
    base = Charger()

    def handler(name, body):
        response = base(name, body)
        if name == 'CurrentDemandReq' and base.loops == 2:
            response['DC_EVSEStatus']['EVSEStatusCode'] = 'EVSE_EmergencyShutdown'
        return response
    outcome, observer, charger, _ = session(handler, stop_at=None)
    assert outcome.reason == EndReason.STOPPED_BY_CHARGER, outcome.message
    assert 'EVSE_EmergencyShutdown' in observer.of('on_charger_stop')[0][0]
    assert charger.names()[-2:] == ['WeldingDetectionReq', 'SessionStopReq']


@pytest.mark.parametrize('mode', ['DC_extended', 'AC_single_phase_core'])
def test_pause_ends_with_session_stop_pause(mode):
    loop = 'CurrentDemandReq' if mode.startswith('DC') else 'ChargingStatusReq'
    outcome, _, charger, _ = session(mode=mode, stop_at=(loop, 2), pause=True)
    assert outcome.reason == EndReason.PAUSED, outcome.message
    assert charger.names()[-2] in ('PowerDeliveryReq', 'WeldingDetectionReq')
    assert charger.bodies('PowerDeliveryReq')[-1]['ChargeProgress'] == 'Stop'
    assert charger.bodies('SessionStopReq') == [{'ChargingSession': 'Pause'}]


def test_a_stop_wins_over_a_pause():
    model = model_for('DC_extended')
    base = Charger()

    def handler(name, body):
        if name == 'CurrentDemandReq':
            model.pause_requested = model.stop_requested = True
        return base(name, body)
    outcome, _, charger, _ = session(handler, model=model, stop_at=None)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert charger.bodies('SessionStopReq') == [{'ChargingSession': 'Terminate'}]


@pytest.mark.parametrize('pause', [False, True])
def test_stop_or_pause_during_pre_charge_is_orderly(pause):
    outcome, _, charger, _ = session(Charger(pre_charge_ramp=0.05),
                                     stop_at=('PreChargeReq', 2), pause=pause)
    assert outcome.reason == (EndReason.PAUSED if pause else EndReason.STOPPED_BY_EV), \
        outcome.message
    assert 'connection closed' not in outcome.message
    assert charger.names()[-3:] == ['PreChargeReq', 'PowerDeliveryReq', 'SessionStopReq']
    assert charger.bodies('PowerDeliveryReq')[0]['ChargeProgress'] == 'Stop'
    assert 'CurrentDemandReq' not in charger.names()
    assert charger.bodies('SessionStopReq') == [
        {'ChargingSession': 'Pause' if pause else 'Terminate'}]


@pytest.mark.parametrize('mode, asked_at, before', [
    ('DC_extended', 'PaymentServiceSelectionReq', 'authorization'),
    ('DC_extended', 'ChargeParameterDiscoveryReq', 'cable check'),
    ('DC_extended', 'CableCheckReq', 'pre-charge'),
    ('AC_three_phase_core', 'ChargeParameterDiscoveryReq', 'power delivery'),
])
def test_stop_before_the_orderly_phases_closes_the_connection(mode, asked_at, before):
    outcome, _, charger, _ = session(mode=mode, stop_at=(asked_at, 1))
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert f'before {before}' in outcome.message and 'connection closed' in outcome.message
    assert charger.names()[-1] == asked_at


def test_charger_without_external_payment_is_refused():
    outcome, _, charger, _ = session(Charger(payment=('Contract',)), stop_at=None)
    assert outcome.reason == EndReason.AUTHORIZATION_FAILED, outcome.message
    assert "external payment, but the charger offers only ['Contract']" in outcome.message
    assert charger.names()[-1] == 'ServiceDiscoveryReq'


def test_charger_without_the_energy_transfer_mode_is_refused():
    outcome, _, charger, _ = session(Charger(modes=('AC_three_phase_core',)), stop_at=None)
    assert outcome.reason == EndReason.PROTOCOL_ERROR
    assert 'SupportedEnergyTransferMode' in outcome.message and 'DC_extended' in outcome.message


@pytest.mark.parametrize('isolation', [None, 'Invalid', 'Fault'])
def test_cable_check_needs_a_valid_isolation_status(isolation):
    outcome, _, charger, _ = session(Charger(isolation=isolation), stop_at=None)
    assert outcome.reason == EndReason.PROTOCOL_ERROR
    assert f'CableCheckRes: EVSEIsolationStatus is {isolation or "absent"}' in outcome.message
    assert 'PreChargeReq' not in charger.names()


def test_authorization_ongoing_then_finished():
    outcome, _, charger, _ = session(Charger(auth_ongoing=2))
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert charger.names().count('AuthorizationReq') == 3
    assert charger.bodies('AuthorizationReq') == [{}] * 3


def test_ongoing_timer_runs_out():
    started = time.monotonic()
    outcome, _, charger, _ = session(Charger(auth_ongoing=1000), stop_at=None,
                                     timeouts=Timeouts({ISO2: {'ongoing': 0.5}}))
    assert outcome.reason == EndReason.TIMEOUT
    assert 'Authorization did not finish within 0.5 s (ongoing timer)' in outcome.message
    assert time.monotonic() - started < 2
    assert 'ChargeParameterDiscoveryReq' not in charger.names()


def test_renegotiation_in_the_charge_loop():
    outcome, _, charger, _ = session(Charger(renegotiate_at_loop=2),
                                     stop_at=('CurrentDemandReq', 4))
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert charger.names()[len(HEAD) + 2:] == [
        'PowerDeliveryReq', 'CurrentDemandReq', 'CurrentDemandReq', 'PowerDeliveryReq',
        'ChargeParameterDiscoveryReq', 'PowerDeliveryReq', 'CurrentDemandReq',
        'CurrentDemandReq', 'PowerDeliveryReq', 'WeldingDetectionReq', 'SessionStopReq']
    progress = [b['ChargeProgress'] for b in charger.bodies('PowerDeliveryReq')]
    assert progress == ['Start', 'Renegotiate', 'Start', 'Stop']


def test_ac_renegotiation():
    outcome, _, charger, _ = session(Charger(renegotiate_at_loop=1), mode='AC_three_phase_core',
                                     stop_at=('ChargingStatusReq', 2))
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    progress = [b['ChargeProgress'] for b in charger.bodies('PowerDeliveryReq')]
    assert progress == ['Start', 'Renegotiate', 'Start', 'Stop']
    assert charger.names().count('ChargeParameterDiscoveryReq') == 2


def test_receipt_required_under_external_payment_is_ignored(caplog):
    caplog.set_level('INFO', logger='iso15118_ev.protocol.iso2')
    outcome, _, charger, _ = session(Charger(receipt_required=True))
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert 'MeteringReceiptReq' not in charger.names()
    assert sum('ReceiptRequired' in r.message for r in caplog.records) == 1


def test_charging_profile_stays_below_24_entries_and_within_the_schedule():
    outcome, _, charger, _ = session(Charger(pmax_entries=30), stop_at=('CurrentDemandReq', 1))
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    entries = charger.bodies('PowerDeliveryReq')[0]['ChargingProfile']['ProfileEntry']
    assert len(entries) == 23
    assert [e['ChargingProfileEntryStart'] for e in entries] == [i * 600 for i in range(23)]
    assert entries[-1]['ChargingProfileEntryMaxPower'] == pv(50 - 29, 3, 'W')


def test_failed_response_code_is_a_protocol_error_naming_it():
    base = Charger()

    def handler(name, body):
        if name == 'PaymentServiceSelectionReq':
            return {'ResponseCode': 'FAILED_PaymentSelectionInvalid'}
        return base(name, body)
    outcome, _, _, _ = session(handler, stop_at=None)
    assert outcome.reason == EndReason.PROTOCOL_ERROR
    assert 'FAILED_PaymentSelectionInvalid' in outcome.message
    assert 'PaymentServiceSelectionRes' in outcome.message


def test_frozen_charger_in_the_charge_loop_ends_within_250_ms():
    base = Charger()

    def handler(name, body):
        return Silent() if name == 'CurrentDemandReq' and base.loops >= 2 else base(name, body)
    outcome, _, charger, _ = session(handler, stop_at=None)
    ended = time.monotonic()
    assert outcome.reason == EndReason.TIMEOUT
    assert 'no CurrentDemandRes within 0.25 s' in outcome.message
    waited = ended - charger.requests[-1][0]
    # The charger stamps a request after reading it, a little after the EV started waiting.
    assert 0.25 - 0.01 <= waited < 0.25 + 0.1, waited


def test_a_current_demand_response_300_ms_late_is_not_accepted():
    """The charger runs on its own thread and event loop, so that it can answer late."""
    base = Charger()

    def handler(name, body):
        if name == 'CurrentDemandReq' and base.loops >= 2:
            time.sleep(0.3)
        return base(name, body)
    charger = Iso2Charger(ISO2, handler)
    model = model_for('DC_extended')
    outcome = asyncio.run(run_with_charger_thread(charger, model))
    assert outcome.reason == EndReason.TIMEOUT, outcome.message
    assert 'no CurrentDemandRes within 0.25 s' in outcome.message
    assert charger.names().count('CurrentDemandReq') == 3


async def run_with_charger_thread(charger, model):
    loop = asyncio.new_event_loop()
    started = concurrent.futures.Future()

    def serve():
        asyncio.set_event_loop(loop)
        started.set_result(loop.run_until_complete(charger.start()))
        loop.run_forever()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    secc = started.result(timeout=10)
    settings = V2gSettings((ISO2,), Timeouts(), bytes(6))
    try:
        return await run_v2g_session(secc, settings, model, RecordingObserver(),
                                     NativeExiCodec())
    finally:
        asyncio.run_coroutine_threadsafe(charger.close(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)


@pytest.mark.parametrize('mode, loop', [('DC_extended', 'CurrentDemandReq'),
                                        ('AC_three_phase_core', 'ChargingStatusReq')])
def test_every_request_passes_the_codec_interop_checks(mode, loop):
    check = getattr(NativeExiCodec, 'interop_problems', None)
    if check is None:
        pytest.skip('NativeExiCodec.interop_problems is not there yet')
    model = model_for(mode, departure_time_s=3600)
    model.sae_j2847_enabled = True
    outcome, _, charger, _ = session(Charger(services=(28472, 28473), pmax_entries=30),
                                     model=model, stop_at=(loop, 2))
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    codec = charger.codec
    for (_, name, body), session_id in zip(charger.requests[1:], charger.headers):
        document = {'V2G_Message': {'Header': {'SessionID': session_id}, 'Body': {name: body}}}
        assert not codec.interop_problems(document, ns.ISO2), name


@pytest.mark.parametrize('mode, loop', [('DC_extended', 'CurrentDemandReq'),
                                        ('AC_three_phase_core', 'ChargingStatusReq')])
def test_stop_during_power_delivery_start_still_sends_one_loop_request(mode, loop):
    """A stop asked while PowerDelivery(Start) is on the way: the sequence goes on with the
    charge loop (a charger answers PowerDelivery(Stop) right after Start with
    FAILED_SequenceError), then stops."""
    outcome, _, charger, _ = session(mode=mode, stop_at=('PowerDeliveryReq', 1))
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    names = charger.names()
    start = names.index('PowerDeliveryReq')
    assert names[start + 1:start + 3] == [loop, 'PowerDeliveryReq']
    assert names.count(loop) == 1
    assert [b['ChargeProgress'] for b in charger.bodies('PowerDeliveryReq')] == ['Start', 'Stop']
