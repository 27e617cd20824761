"""DIN SPEC 70121 sequence against a scripted charger: the EV's real transport, codec and engine,
the charger's answers constructed here (schema-valid, some of them what real chargers send)."""
from __future__ import annotations

import asyncio
import time

import pytest

from iso15118_ev.protocol.timers import Timeouts
from iso15118_ev.vocabulary import DIN, EndReason
from support.scripted_charger import (Close, ScriptedCharger, Silent, handshake_ok, model_for,
                                      run_against)


def pv(value, multiplier=0, unit='V'):
    return {'Multiplier': multiplier, 'Unit': unit, 'Value': value}


def status(notification='None', code='EVSE_Ready', isolation='Valid'):
    out = {'EVSEIsolationStatus': isolation} if isolation else {}
    out.update(EVSEStatusCode=code, NotificationMaxDelay=0, EVSENotification=notification)
    return out


class DinCharger:
    """A DIN charger that follows the EV's targets; knobs for what real chargers do."""

    def __init__(self, tuple_id=1, evse_id='5A5A', stop_after_loops=0, isolation='Valid',
                 voltage_after_stop=0):
        self.tuple_id = tuple_id
        self.evse_id = evse_id
        self.stop_after_loops = stop_after_loops
        self.isolation = isolation
        self.voltage = 0
        self.voltage_after_stop = voltage_after_stop
        self.loops = 0

    def __call__(self, name, body):
        return getattr(self, name)(body)

    def supportedAppProtocolReq(self, body):
        return handshake_ok(body)

    def SessionSetupReq(self, body):
        return {'ResponseCode': 'OK_NewSessionEstablished', 'EVSEID': self.evse_id}

    def ServiceDiscoveryReq(self, body):
        return {'ResponseCode': 'OK', 'PaymentOptions': {'PaymentOption': ['ExternalPayment']},
                'ChargeService': {'ServiceTag': {'ServiceID': 1, 'ServiceCategory': 'EVCharging'},
                                  'FreeService': False, 'EnergyTransferType': 'DC_extended'}}

    def ServicePaymentSelectionReq(self, body):
        return {'ResponseCode': 'OK'}

    def ContractAuthenticationReq(self, body):
        return {'ResponseCode': 'OK', 'EVSEProcessing': 'Finished'}

    def ChargeParameterDiscoveryReq(self, body):
        entry = {'RelativeTimeInterval': {'start': 0, 'duration': 86400}, 'PMax': 500}
        return {'ResponseCode': 'OK', 'EVSEProcessing': 'Finished',
                'SAScheduleList': {'SAScheduleTuple': [{
                    'SAScheduleTupleID': self.tuple_id,
                    'PMaxSchedule': {'PMaxScheduleID': 1, 'PMaxScheduleEntry': [entry]}}]},
                'DC_EVSEChargeParameter': {
                    'DC_EVSEStatus': status(isolation=None),
                    'EVSEMaximumCurrentLimit': pv(200, unit='A'),
                    'EVSEMaximumPowerLimit': pv(150, 3, 'W'),
                    'EVSEMaximumVoltageLimit': pv(920),
                    'EVSEMinimumCurrentLimit': pv(0, unit='A'),
                    'EVSEMinimumVoltageLimit': pv(150),
                    'EVSEPeakCurrentRipple': pv(1, unit='A')}}

    def CableCheckReq(self, body):
        return {'ResponseCode': 'OK', 'DC_EVSEStatus': status(isolation=self.isolation),
                'EVSEProcessing': 'Finished'}

    def PreChargeReq(self, body):
        target = body['EVTargetVoltage']
        self.voltage = target['Value'] * 10 ** target['Multiplier']
        return {'ResponseCode': 'OK', 'DC_EVSEStatus': status(), 'EVSEPresentVoltage':
                pv(int(self.voltage))}

    def PowerDeliveryReq(self, body):
        if not body['ReadyToChargeState']:
            self.voltage = self.voltage_after_stop
        return {'ResponseCode': 'OK', 'DC_EVSEStatus': status()}

    def CurrentDemandReq(self, body):
        self.loops += 1
        stop = self.stop_after_loops and self.loops >= self.stop_after_loops
        return {'ResponseCode': 'OK',
                'DC_EVSEStatus': status('StopCharging' if stop else 'None'),
                'EVSEPresentVoltage': pv(int(self.voltage)),
                'EVSEPresentCurrent': pv(5, unit='A'),
                'EVSECurrentLimitAchieved': False, 'EVSEVoltageLimitAchieved': False,
                'EVSEPowerLimitAchieved': False}

    def WeldingDetectionReq(self, body):
        return {'ResponseCode': 'OK', 'DC_EVSEStatus': status(),
                'EVSEPresentVoltage': pv(int(self.voltage))}

    def SessionStopReq(self, body):
        return {'ResponseCode': 'OK'}


def run(charger, model=None, **kwargs):
    model = model or model_for('DC_extended')
    return asyncio.run(run_against(charger, model, **kwargs)), model


def stop_after(model, loops, names):
    """A handler wrapper: the EV is asked to stop after `loops` CurrentDemandRes."""
    def wrap(handler):
        def handle(name, body):
            if names().count('CurrentDemandReq') >= loops:
                model.stop_requested = True
            return handler(name, body)
        return handle
    return wrap


def test_full_session_in_standard_order():
    model = model_for('DC_extended')
    charger = ScriptedCharger(DIN, None)
    charger.handler = stop_after(model, 3, charger.names)(DinCharger())
    (outcome, observer), _ = run(charger, model)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert charger.names() == [
        'supportedAppProtocolReq', 'SessionSetupReq', 'ServiceDiscoveryReq',
        'ServicePaymentSelectionReq', 'ContractAuthenticationReq',
        'ChargeParameterDiscoveryReq', 'CableCheckReq', 'PreChargeReq', 'PowerDeliveryReq',
        'CurrentDemandReq', 'CurrentDemandReq', 'CurrentDemandReq', 'PowerDeliveryReq',
        'WeldingDetectionReq', 'SessionStopReq']
    assert observer.of('on_protocol') == [(DIN,)]
    assert observer.of('on_session_id') == [('A1B2C3D4',)]
    assert len(observer.of('on_power_ready')) == 1 and len(observer.of('on_pre_charged')) == 1


def test_tuple_id_zero_is_accepted_and_echoed():
    model = model_for('DC_extended')
    charger = ScriptedCharger(DIN, None)
    charger.handler = stop_after(model, 1, charger.names)(DinCharger(tuple_id=0))
    (outcome, _), _ = run(charger, model)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    start = next(body for _, name, body in charger.requests if name == 'PowerDeliveryReq')
    assert start['ChargingProfile']['SAScheduleTupleID'] == 0


def test_seventeen_octet_evse_id_is_accepted():
    model = model_for('DC_extended')
    charger = ScriptedCharger(DIN, None)
    charger.handler = stop_after(model, 1, charger.names)(
        DinCharger(evse_id=b'DE*PNX*E12345*1AB'.hex().upper()))
    (outcome, _), _ = run(charger, model)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message


def test_charger_stop_is_orderly():
    charger = ScriptedCharger(DIN, DinCharger(stop_after_loops=2))
    (outcome, observer), _ = run(charger)
    assert outcome.reason == EndReason.STOPPED_BY_CHARGER, outcome.message
    assert charger.names()[-3:] == ['PowerDeliveryReq', 'WeldingDetectionReq', 'SessionStopReq']
    assert len(observer.of('on_charger_stop')) == 1


def test_welding_detection_stops_when_the_voltage_has_dropped():
    model = model_for('DC_extended')
    charger = ScriptedCharger(DIN, None)
    charger.handler = stop_after(model, 1, charger.names)(DinCharger(voltage_after_stop=30))
    run(charger, model)
    assert charger.names().count('WeldingDetectionReq') == 1


@pytest.mark.parametrize('isolation', ['Fault', 'Invalid'])
def test_pre_charge_needs_a_valid_isolation_status(isolation):
    charger = ScriptedCharger(DIN, DinCharger(isolation=isolation))
    (outcome, _), _ = run(charger)
    assert outcome.reason == EndReason.PROTOCOL_ERROR
    assert f'CableCheckRes: EVSEIsolationStatus is {isolation}' in outcome.message
    assert 'PreChargeReq' not in charger.names()


def test_frozen_charger_in_the_charge_loop_ends_within_250_ms():
    base = DinCharger()

    def handler(name, body):
        return Silent() if name == 'CurrentDemandReq' and base.loops >= 2 else base(name, body)
    charger = ScriptedCharger(DIN, handler)
    (outcome, _), _ = run(charger)
    ended = time.monotonic()
    assert outcome.reason == EndReason.TIMEOUT
    assert 'no CurrentDemandRes within 0.25 s' in outcome.message
    waited = ended - charger.requests[-1][0]
    # The charger stamps a request after reading it, a little after the EV started waiting.
    assert 0.25 - 0.01 <= waited < 0.25 + 0.1, waited


def test_charger_that_closes_mid_session():
    base = DinCharger()
    charger = ScriptedCharger(DIN, lambda n, b: Close() if n == 'CableCheckReq' else base(n, b))
    (outcome, _), _ = run(charger)
    assert outcome.reason == EndReason.CONNECTION_LOST, outcome.message


def test_unanswered_handshake_ends_with_its_timeout():
    charger = ScriptedCharger(DIN, lambda n, b: Silent())
    (outcome, _), _ = run(charger, timeouts=Timeouts({'handshake': {'supportedAppProtocolReq': 0.3}}))
    assert outcome.reason == EndReason.TIMEOUT
    assert 'supportedAppProtocolRes' in outcome.message


def test_stop_during_power_delivery_start_still_sends_one_current_demand():
    model = model_for('DC_extended')
    base = DinCharger()

    def handler(name, body):
        if name == 'PowerDeliveryReq':
            model.stop_requested = True
        return base(name, body)
    charger = ScriptedCharger(DIN, handler)
    (outcome, _), _ = run(charger, model)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    names = charger.names()
    start = names.index('PowerDeliveryReq')
    assert names[start + 1:start + 3] == ['CurrentDemandReq', 'PowerDeliveryReq']
