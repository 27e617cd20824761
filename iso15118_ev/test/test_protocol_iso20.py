"""ISO 15118-20 sequences against a scripted charger: the EV's real transport, codec and engine,
the charger's answers constructed here (schema-valid, some of them what real chargers send)."""
from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest

from iso15118_ev.codec import namespaces as ns
from iso15118_ev.transport.v2gtp import PayloadType
from iso15118_ev.vehicle.parameters import DcEvBptParameters
from iso15118_ev.vocabulary import ISO20_AC, ISO20_DC, EndReason
from support.scripted_charger import (SESSION_ID, ScriptedCharger, Silent, handshake_ok,
                                      model_for, run_against)

NEW_SESSION = '00' * 8
SCHEDULED, DYNAMIC = 1, 2
MODES = {'DC': 'DC', 'DC_BPT': 'DC_BPT', 'AC': 'AC_three_phase_core', 'AC_BPT': 'AC_BPT'}
SERVICE_IDS = {'AC': 1, 'DC': 2, 'AC_BPT': 5, 'DC_BPT': 6}
# Parameter sets as the package's charger offers them: (ID, ControlMode, MobilityNeedsMode).
BOTH_MODES = ((1, SCHEDULED, 1), (2, DYNAMIC, 2), (3, DYNAMIC, 1))


def R(value, exponent=0):
    return {'Exponent': exponent, 'Value': value}


def rv(number):
    return number['Value'] * 10 ** number['Exponent']


def status(note):
    return {'NotificationMaxDelay': 0, 'EVSENotification': note}


def price_level_schedule():
    return {'TimeAnchor': 0, 'PriceScheduleID': 1, 'NumberOfPriceLevels': 2,
            'PriceLevelScheduleEntries': {'PriceLevelScheduleEntry': [
                {'Duration': 3600, 'PriceLevel': 1}]}}


class Iso20Charger:
    """An ISO 15118-20 charger that follows the EV's targets; knobs for what chargers do."""

    def __init__(self, services=(1, 2, 5, 6), parameter_sets=BOTH_MODES, price=True,
                 schedule_kw=50, tuples=1, notify=None, auth_ongoing=0, go_to_pause=False,
                 voltage_after_stop=0.0, failed=None, ac_target_w=7000, per_phase=False):
        self.services = services
        self.parameter_sets = parameter_sets
        self.price = price
        self.schedule_kw = schedule_kw
        self.tuples = tuples
        self.notify = notify or {}          # charge loop number -> EVSENotification
        self.auth_ongoing = auth_ongoing
        self.go_to_pause = go_to_pause
        self.voltage_after_stop = voltage_after_stop
        self.failed = failed or {}          # request name -> FAILED response code
        self.ac_target_w = ac_target_w
        self.per_phase = per_phase          # schedule entries with Power_L2 and Power_L3
        self.voltage = 0.0
        self.loops = 0
        self.stopped = False

    def __call__(self, name, body):
        if name in self.failed:
            return {'ResponseCode': self.failed[name], **self.minimal(name)}
        return getattr(self, name)(body)

    @staticmethod
    def minimal(name):
        return {'ServiceSelectionReq': {}, 'SessionSetupReq': {'EVSEID': 'DE*ABC*E1'},
                'PowerDeliveryReq': {}}.get(name, {})

    def supportedAppProtocolReq(self, body):
        return handshake_ok(body)

    def SessionSetupReq(self, body):
        joined = body['Header']['SessionID'] == SESSION_ID[ISO20_DC]
        return {'ResponseCode': 'OK_OldSessionJoined' if joined else 'OK_NewSessionEstablished',
                'EVSEID': 'DE*ABC*E1234567*1'}

    def AuthorizationSetupReq(self, body):
        return {'ResponseCode': 'OK', 'AuthorizationServices': ['EIM'],
                'CertificateInstallationService': False, 'EIM_ASResAuthorizationMode': {}}

    def AuthorizationReq(self, body):
        self.auth_ongoing -= 1
        processing = 'Ongoing_WaitingForCustomerInteraction' if self.auth_ongoing >= 0 \
            else 'Finished'
        return {'ResponseCode': 'OK', 'EVSEProcessing': processing}

    def ServiceDiscoveryReq(self, body):
        return {'ResponseCode': 'OK', 'ServiceRenegotiationSupported': False,
                'EnergyTransferServiceList': {'Service': [
                    {'ServiceID': i, 'FreeService': True} for i in self.services]}}

    def ServiceDetailReq(self, body):
        sets = [{'ParameterSetID': set_id, 'Parameter': [
            {'Name': 'Connector', 'intValue': 2},
            {'Name': 'ControlMode', 'intValue': mode},
            {'Name': 'EVSENominalVoltage', 'intValue': 400},
            {'Name': 'MobilityNeedsMode', 'intValue': needs},
            {'Name': 'Pricing', 'intValue': 0}]} for set_id, mode, needs in self.parameter_sets]
        return {'ResponseCode': 'OK', 'ServiceID': body['ServiceID'],
                'ServiceParameterList': {'ParameterSet': sets}}

    def ServiceSelectionReq(self, body):
        return {'ResponseCode': 'OK'}

    def DC_ChargeParameterDiscoveryReq(self, body):
        limits = {'EVSEMaximumChargePower': R(150, 3), 'EVSEMinimumChargePower': R(0),
                  'EVSEMaximumChargeCurrent': R(200), 'EVSEMinimumChargeCurrent': R(0),
                  'EVSEMaximumVoltage': R(920), 'EVSEMinimumVoltage': R(150)}
        if 'BPT_DC_CPDReqEnergyTransferMode' in body:
            limits.update(EVSEMaximumDischargePower=R(50, 3), EVSEMinimumDischargePower=R(0),
                          EVSEMaximumDischargeCurrent=R(100), EVSEMinimumDischargeCurrent=R(0))
            return {'ResponseCode': 'OK', 'BPT_DC_CPDResEnergyTransferMode': limits}
        return {'ResponseCode': 'OK', 'DC_CPDResEnergyTransferMode': limits}

    def AC_ChargeParameterDiscoveryReq(self, body):
        limits = {'EVSEMaximumChargePower': R(22, 3), 'EVSEMinimumChargePower': R(1, 3),
                  'EVSENominalFrequency': R(50)}
        if 'BPT_AC_CPDReqEnergyTransferMode' in body:
            limits.update(EVSEMaximumDischargePower=R(11, 3), EVSEMinimumDischargePower=R(0))
            return {'ResponseCode': 'OK', 'BPT_AC_CPDResEnergyTransferMode': limits}
        return {'ResponseCode': 'OK', 'AC_CPDResEnergyTransferMode': limits}

    def ScheduleExchangeReq(self, body):
        response = {'ResponseCode': 'OK', 'EVSEProcessing': 'Finished'}
        if self.go_to_pause:
            response['GoToPause'] = True
        if 'Dynamic_SEReqControlMode' in body:
            response['Dynamic_SEResControlMode'] = {}
            return response
        tuples = []
        for number in range(1, self.tuples + 1):
            entry = {'Duration': 86400, 'Power': R(self.schedule_kw, 3)}
            if self.per_phase:
                entry.update(Power_L2=R(self.schedule_kw, 3), Power_L3=R(self.schedule_kw, 3))
            schedule = {'PowerSchedule': {'TimeAnchor': 0, 'PowerScheduleEntries': {
                'PowerScheduleEntry': [entry]}}}
            if self.price:
                schedule['PriceLevelSchedule'] = price_level_schedule()
            tuples.append({'ScheduleTupleID': number, 'ChargingSchedule': schedule})
        response['Scheduled_SEResControlMode'] = {'ScheduleTuple': tuples}
        return response

    def DC_CableCheckReq(self, body):
        return {'ResponseCode': 'OK', 'EVSEProcessing': 'Finished'}

    def DC_PreChargeReq(self, body):
        self.voltage = rv(body['EVTargetVoltage'])
        return {'ResponseCode': 'OK', 'EVSEPresentVoltage': R(int(self.voltage))}

    def PowerDeliveryReq(self, body):
        if body['ChargeProgress'] == 'Stop':
            self.voltage = self.voltage_after_stop
            self.stopped = True
        return {'ResponseCode': 'OK'}

    def loop_status(self):
        self.loops += 1
        note = self.notify.get(self.loops)
        return {'EVSEStatus': status(note)} if note else {}

    def DC_ChargeLoopReq(self, body):
        (request_mode, values), = [(k, v) for k, v in body.items() if k.endswith('ControlMode')]
        mode = {}
        if 'Dynamic' in request_mode:
            mode = {'EVSEMaximumChargePower': R(150, 3), 'EVSEMinimumChargePower': R(0),
                    'EVSEMaximumChargeCurrent': R(200), 'EVSEMaximumVoltage': R(920)}
            if request_mode.startswith('BPT_'):
                mode.update(EVSEMaximumDischargePower=R(50, 3), EVSEMinimumDischargePower=R(0),
                            EVSEMaximumDischargeCurrent=R(100), EVSEMinimumVoltage=R(150))
        current = rv(values['EVTargetCurrent']) if 'EVTargetCurrent' in values else 10
        return {'ResponseCode': 'OK', **self.loop_status(),
                'EVSEPresentCurrent': R(int(current)), 'EVSEPresentVoltage': R(int(self.voltage)),
                'EVSEPowerLimitAchieved': False, 'EVSECurrentLimitAchieved': False,
                'EVSEVoltageLimitAchieved': False,
                request_mode.replace('CLReq', 'CLRes'): mode}

    def AC_ChargeLoopReq(self, body):
        (request_mode, _), = [(k, v) for k, v in body.items() if k.endswith('ControlMode')]
        return {'ResponseCode': 'OK', **self.loop_status(),
                request_mode.replace('CLReq', 'CLRes'): {
                    'EVSETargetActivePower': R(self.ac_target_w)}}

    def DC_WeldingDetectionReq(self, body):
        response = {'ResponseCode': 'OK', 'EVSEPresentVoltage': R(int(self.voltage))}
        self.voltage /= 4
        return response

    def SessionStopReq(self, body):
        return {'ResponseCode': 'OK'}


def stop_after(model, loops, charger, pause=False):
    """A handler wrapper: the EV is asked to stop (pause) after `loops` charge loop responses."""
    def wrap(handler):
        def handle(name, body):
            if name.endswith('ChargeLoopReq') and count_loops(charger) >= loops:
                setattr(model, 'pause_requested' if pause else 'stop_requested', True)
            return handler(name, body)
        return handle
    return wrap


def count_loops(charger):
    return sum(1 for n in charger.names() if n.endswith('ChargeLoopReq'))


def protocol_for(service):
    return ISO20_DC if service.startswith('DC') else ISO20_AC


def session(service='DC', charger=None, loops=3, control_mode='auto', model=None, pause=False,
            handler=None):
    """Run one session; (outcome, observer, scripted charger, model)."""
    model = model or model_for(MODES[service])
    charger = charger or Iso20Charger()
    scripted = ScriptedCharger(protocol_for(service), None)
    inner = handler(charger) if handler else charger
    scripted.handler = stop_after(model, loops, scripted, pause)(inner) if loops else inner
    outcome, observer = asyncio.run(run_against(scripted, model, control_mode=control_mode))
    return outcome, observer, scripted, model


def bodies(scripted, name):
    return [body for _, n, body in scripted.requests if n == name]


def namespace_of(name):
    if name == 'supportedAppProtocolReq':
        return ns.APP_PROTOCOL
    return {'DC_': ns.ISO20_DC, 'AC_': ns.ISO20_AC}.get(name[:3], ns.ISO20_COMMON)


def assert_no_interop_problems(scripted):
    check = getattr(scripted.codec, 'interop_problems', None)
    if check is None:
        return
    for _, name, body in scripted.requests:
        assert check({name: body}, namespace_of(name)) == [], name


def expected_names(service, loops):
    head = ['supportedAppProtocolReq', 'SessionSetupReq', 'AuthorizationSetupReq',
            'AuthorizationReq', 'ServiceDiscoveryReq', 'ServiceDetailReq', 'ServiceSelectionReq']
    if service.startswith('DC'):
        return head + ['DC_ChargeParameterDiscoveryReq', 'ScheduleExchangeReq',
                       'DC_CableCheckReq', 'DC_PreChargeReq', 'DC_PreChargeReq',
                       'PowerDeliveryReq'] + ['DC_ChargeLoopReq'] * loops + [
                       'PowerDeliveryReq', 'DC_WeldingDetectionReq', 'DC_WeldingDetectionReq',
                       'SessionStopReq']
    return head + ['AC_ChargeParameterDiscoveryReq', 'ScheduleExchangeReq',
                   'PowerDeliveryReq'] + ['AC_ChargeLoopReq'] * loops + [
                   'PowerDeliveryReq', 'SessionStopReq']


# --- full sequences ---------------------------------------------------------------------------
@pytest.mark.parametrize('control_mode', ['scheduled', 'dynamic'])
@pytest.mark.parametrize('service', ['DC', 'DC_BPT', 'AC', 'AC_BPT'])
def test_full_session_in_standard_order(service, control_mode):
    outcome, observer, scripted, model = session(service, control_mode=control_mode)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert scripted.names() == expected_names(service, 3)
    assert observer.of('on_protocol') == [(protocol_for(service),)]
    assert observer.of('on_session_id') == [(SESSION_ID[ISO20_DC],)]
    assert observer.of('on_services_selected') == [((SERVICE_IDS[service],),)]
    assert observer.of('on_control_mode') == [(control_mode,)]
    assert len(observer.of('on_power_ready')) == 1
    assert len(observer.of('on_pre_charged')) == (1 if service.startswith('DC') else 0)
    assert bodies(scripted, 'SessionSetupReq')[0]['Header']['SessionID'] == NEW_SESSION
    assert bodies(scripted, 'SessionStopReq')[0]['ChargingSession'] == 'Terminate'

    selection = bodies(scripted, 'ServiceSelectionReq')[0]['SelectedEnergyTransferService']
    # Scheduled: set 1; Dynamic: set 3, the one with MobilityNeedsMode 1.
    assert selection == {'ServiceID': SERVICE_IDS[service],
                         'ParameterSetID': 1 if control_mode == 'scheduled' else 3}
    kind = 'DC' if service.startswith('DC') else 'AC'
    bpt = 'BPT_' if service.endswith('BPT') else ''
    mode = control_mode.capitalize()
    cpd = bodies(scripted, f'{kind}_ChargeParameterDiscoveryReq')[0]
    assert f'{bpt}{kind}_CPDReqEnergyTransferMode' in cpd
    exchange = bodies(scripted, 'ScheduleExchangeReq')[0]
    assert f'{mode}_SEReqControlMode' in exchange
    start = bodies(scripted, 'PowerDeliveryReq')[0]
    assert start['ChargeProgress'] == 'Start'
    assert f'{mode}_EVPPTControlMode' in start['EVPowerProfile']
    if control_mode == 'scheduled':
        assert start['EVPowerProfile']['Scheduled_EVPPTControlMode'][
            'SelectedScheduleTupleID'] == 1
    for loop in bodies(scripted, f'{kind}_ChargeLoopReq'):
        assert f'{bpt}{mode}_{kind}_CLReqControlMode' in loop
    assert bodies(scripted, 'PowerDeliveryReq')[1]['ChargeProgress'] == 'Stop'
    assert_no_interop_problems(scripted)


@pytest.mark.parametrize('service', ['DC', 'DC_BPT', 'AC', 'AC_BPT'])
def test_charge_parameters_come_from_the_model(service):
    model = model_for(MODES[service])
    model.bpt = DcEvBptParameters(discharge_max_current_limit=80,
                                  discharge_max_power_limit=30000)
    model.dc = dataclasses.replace(model.dc, max_power_limit=90000, max_current_limit=250,
                                   max_voltage_limit=800)
    outcome, _, scripted, _ = session(service, loops=1, model=model)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    bpt = service.endswith('BPT')
    if service.startswith('DC'):
        cpd = bodies(scripted, 'DC_ChargeParameterDiscoveryReq')[0]
        values = cpd['BPT_DC_CPDReqEnergyTransferMode' if bpt else 'DC_CPDReqEnergyTransferMode']
        assert rv(values['EVMaximumChargePower']) == 90000
        assert rv(values['EVMaximumChargeCurrent']) == 250
        assert rv(values['EVMaximumVoltage']) == 800
        if bpt:
            assert rv(values['EVMaximumDischargeCurrent']) == -80
            assert rv(values['EVMaximumDischargePower']) == -30000
    else:
        cpd = bodies(scripted, 'AC_ChargeParameterDiscoveryReq')[0]
        values = cpd['BPT_AC_CPDReqEnergyTransferMode' if bpt else 'AC_CPDReqEnergyTransferMode']
        phases = 3
        assert rv(values['EVMaximumChargePower']) == phases * 32 * 230
        assert rv(values['EVMinimumChargePower']) == phases * 6 * 230
        if bpt:
            assert rv(values['EVMaximumDischargePower']) == -30000


def test_target_current_change_reaches_the_next_charge_loop_request():
    model = model_for('DC')
    charger = Iso20Charger()

    def handler(inner):
        def handle(name, body):
            if name == 'DC_ChargeLoopReq' and charger.loops == 2:
                model.dc = dataclasses.replace(model.dc, target_current=42.5)
            return inner(name, body)
        return handle
    outcome, _, scripted, _ = session('DC', charger, loops=4, model=model,
                                      control_mode='scheduled', handler=handler)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    currents = [rv(b['Scheduled_DC_CLReqControlMode']['EVTargetCurrent'])
                for b in bodies(scripted, 'DC_ChargeLoopReq')]
    assert currents == [5, 5, 5, 42.5]


def test_dynamic_limit_change_reaches_the_next_charge_loop_request():
    model = model_for('DC')
    charger = Iso20Charger()

    def handler(inner):
        def handle(name, body):
            if name == 'DC_ChargeLoopReq' and charger.loops == 1:
                model.dc = dataclasses.replace(model.dc, max_current_limit=123)
            return inner(name, body)
        return handle
    outcome, _, scripted, _ = session('DC', charger, loops=3, model=model,
                                      control_mode='dynamic', handler=handler)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    loops = [b['Dynamic_DC_CLReqControlMode'] for b in bodies(scripted, 'DC_ChargeLoopReq')]
    assert [rv(m['EVMaximumChargeCurrent']) for m in loops] == [300, 300, 123]
    assert all('EVTargetCurrent' not in m for m in loops)
    assert loops[0]['DepartureTime'] > 0


def test_scheduled_ev_asks_for_no_more_power_than_the_schedule_allows():
    model = model_for('DC')
    model.dc = dataclasses.replace(model.dc, target_voltage=400, target_current=100)
    outcome, _, scripted, _ = session('DC', Iso20Charger(schedule_kw=10), loops=1, model=model)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    mode = bodies(scripted, 'DC_ChargeLoopReq')[0]['Scheduled_DC_CLReqControlMode']
    assert rv(mode['EVTargetCurrent']) == 25            # 10 kW at 400 V
    assert rv(mode['EVMaximumChargePower']) == 10000
    profile = bodies(scripted, 'PowerDeliveryReq')[0]['EVPowerProfile']
    assert profile['EVPowerProfileEntries']['EVPowerProfileEntry'] == [
        {'Duration': 86400, 'Power': R(10000)}]
    assert profile['TimeAnchor'] == 0                   # the schedule's own anchor


def test_scheduled_ac_power_stays_within_the_schedule():
    outcome, observer, scripted, _ = session('AC', Iso20Charger(schedule_kw=4, ac_target_w=9000),
                                             loops=2, control_mode='scheduled')
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    modes = [b['Scheduled_AC_CLReqControlMode'] for b in bodies(scripted, 'AC_ChargeLoopReq')]
    assert [rv(m['EVMaximumChargePower']) for m in modes] == [4000, 4000]
    assert [rv(m['EVPresentActivePower']) for m in modes] == [4000, 4000]
    assert {'target_active_power': 9000} in [v for n, v, _ in observer.of('on_response')
                                            if n == 'AC_ChargeLoopRes']


def test_per_phase_schedule_counts_every_phase():
    charger = Iso20Charger(schedule_kw=2, per_phase=True)
    outcome, _, scripted, _ = session('AC', charger, loops=1, control_mode='scheduled')
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    mode = bodies(scripted, 'AC_ChargeLoopReq')[0]['Scheduled_AC_CLReqControlMode']
    assert rv(mode['EVMaximumChargePower']) == 6000
    entry, = bodies(scripted, 'PowerDeliveryReq')[0]['EVPowerProfile'][
        'EVPowerProfileEntries']['EVPowerProfileEntry']
    assert entry == {'Duration': 86400, 'Power': R(2000), 'Power_L2': R(2000),
                     'Power_L3': R(2000)}


@pytest.mark.parametrize('control_mode', ['scheduled', 'dynamic'])
def test_departure_time_from_start_charging(control_mode):
    model = model_for('DC', departure_time_s=7200)
    outcome, _, scripted, _ = session('DC', loops=1, model=model, control_mode=control_mode)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    exchange = bodies(scripted, 'ScheduleExchangeReq')[0]
    mode = exchange[f'{control_mode.capitalize()}_SEReqControlMode']
    assert 7198 <= mode['DepartureTime'] <= 7200
    assert exchange['MaximumSupportingPoints'] == 1023


def test_without_departure_time_scheduled_mode_names_none_dynamic_mode_its_own():
    _, _, scheduled, _ = session('DC', loops=1, control_mode='scheduled')
    assert 'DepartureTime' not in bodies(scheduled, 'ScheduleExchangeReq')[0][
        'Scheduled_SEReqControlMode']
    _, _, dynamic, _ = session('DC', loops=1, control_mode='dynamic')
    mode = bodies(dynamic, 'ScheduleExchangeReq')[0]['Dynamic_SEReqControlMode']
    # 48 kWh to full at 150 kW: 1152 s.
    assert 1150 <= mode['DepartureTime'] <= 1152
    assert mode['TargetSOC'] == 100 and 'MinimumSOC' not in mode
    assert rv(mode['EVTargetEnergyRequest']) == rv(mode['EVMaximumEnergyRequest']) == 48000
    assert rv(mode['EVMinimumEnergyRequest']) == 0


def test_energy_amount_sets_the_target():
    model = model_for('AC_BPT', e_amount_kwh=6)
    outcome, _, scripted, _ = session('AC_BPT', loops=1, model=model, control_mode='dynamic')
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    mode = bodies(scripted, 'ScheduleExchangeReq')[0]['Dynamic_SEReqControlMode']
    assert mode['TargetSOC'] == 30 and mode['MinimumSOC'] == 20      # 6 of 60 kWh, from 20 %
    assert rv(mode['EVTargetEnergyRequest']) == 6000
    assert rv(mode['EVMaximumEnergyRequest']) == 48000
    assert rv(mode['EVMinimumEnergyRequest']) == 0
    display = bodies(scripted, 'AC_ChargeLoopReq')[0]['DisplayParameters']
    assert display['PresentSOC'] == 20 and display['TargetSOC'] == 30


def test_dynamic_ac_draws_the_chargers_target():
    outcome, _, scripted, _ = session('AC', Iso20Charger(ac_target_w=7000), loops=2,
                                      control_mode='dynamic')
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    modes = [b['Dynamic_AC_CLReqControlMode'] for b in bodies(scripted, 'AC_ChargeLoopReq')]
    assert [rv(m['EVPresentActivePower']) for m in modes] == [0, 7000]
    assert all(rv(m['EVPresentReactivePower']) == 0 for m in modes)


def test_schedule_without_price_schedule_is_followed():
    outcome, _, scripted, _ = session('DC', Iso20Charger(price=False, schedule_kw=1), loops=2,
                                      control_mode='scheduled')
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    mode = bodies(scripted, 'DC_ChargeLoopReq')[0]['Scheduled_DC_CLReqControlMode']
    assert rv(mode['EVTargetCurrent']) == 5             # 5 A at 200 V is within 1 kW
    assert rv(mode['EVMaximumChargePower']) == 1000


def test_first_of_several_schedule_tuples_is_named():
    outcome, _, scripted, _ = session('AC', Iso20Charger(tuples=3), loops=1)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    profile = bodies(scripted, 'PowerDeliveryReq')[0]['EVPowerProfile']
    assert profile['Scheduled_EVPPTControlMode'] == {'SelectedScheduleTupleID': 1}


def test_bidirectional_ev_discharges_with_negative_values():
    model = model_for('DC_BPT')
    model.soc_percent = 80
    model.bpt = DcEvBptParameters(discharge_max_current_limit=50, discharge_max_power_limit=20000,
                                  discharge_target_current=30, discharge_minimal_soc=40)
    outcome, _, scripted, _ = session('DC_BPT', loops=1, model=model, control_mode='scheduled')
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    mode = bodies(scripted, 'DC_ChargeLoopReq')[0]['BPT_Scheduled_DC_CLReqControlMode']
    assert rv(mode['EVTargetCurrent']) == -30
    assert rv(mode['EVMaximumDischargeCurrent']) == -50
    assert rv(mode['EVMaximumDischargePower']) == -20000
    # Energy to the minimum SOC (40 % of 60 kWh below 80 %) is energy the EV can give.
    assert rv(mode['EVMinimumEnergyRequest']) == -24000
    assert bodies(scripted, 'DC_PreChargeReq')[0]['EVProcessing'] == 'Ongoing'


# --- control mode -------------------------------------------------------------------------------
def test_auto_takes_scheduled_when_offered():
    outcome, observer, scripted, _ = session('DC', loops=1)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert observer.of('on_control_mode') == [('scheduled',)]
    assert 'Scheduled_SEReqControlMode' in bodies(scripted, 'ScheduleExchangeReq')[0]


def test_auto_takes_dynamic_when_only_dynamic_is_offered():
    charger = Iso20Charger(parameter_sets=((4, DYNAMIC, 2),))
    outcome, observer, scripted, _ = session('AC', charger, loops=1)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert observer.of('on_control_mode') == [('dynamic',)]
    assert bodies(scripted, 'ServiceSelectionReq')[0]['SelectedEnergyTransferService'][
        'ParameterSetID'] == 4


@pytest.mark.parametrize('forced, offered, named', [
    ('dynamic', ((1, SCHEDULED, 1),), 'set 1: Scheduled (MobilityNeedsMode 1)'),
    ('scheduled', ((2, DYNAMIC, 2), (3, DYNAMIC, 1)),
     'set 2: Dynamic (MobilityNeedsMode 2); set 3: Dynamic (MobilityNeedsMode 1)')])
def test_forced_control_mode_not_offered_is_a_protocol_error(forced, offered, named):
    outcome, _, scripted, _ = session('DC', Iso20Charger(parameter_sets=offered), loops=0,
                                      control_mode=forced)
    assert outcome.reason == EndReason.PROTOCOL_ERROR
    assert f'ControlMode {forced.capitalize()}' in outcome.message
    assert named in outcome.message
    assert scripted.names()[-1] == 'ServiceDetailReq'


# --- the charger ends or pauses --------------------------------------------------------------
@pytest.mark.parametrize('service', ['DC', 'AC'])
def test_charger_terminate_stops_in_order(service):
    charger = Iso20Charger(notify={2: 'Terminate'})
    outcome, observer, scripted, _ = session(service, charger, loops=0)
    assert outcome.reason == EndReason.STOPPED_BY_CHARGER, outcome.message
    assert observer.of('on_charger_stop') == [(f'{service}_ChargeLoopRes: EVSENotification '
                                               'Terminate',)]
    assert scripted.names() == expected_names(service, 2)
    assert bodies(scripted, 'SessionStopReq')[0]['ChargingSession'] == 'Terminate'


@pytest.mark.parametrize('service', ['DC', 'AC_BPT'])
def test_charger_pause_pauses_in_order(service):
    charger = Iso20Charger(notify={2: 'Pause'})
    outcome, observer, scripted, _ = session(service, charger, loops=0)
    assert outcome.reason == EndReason.PAUSED, outcome.message
    assert "at the charger's request" in outcome.message
    assert len(observer.of('on_charger_pause')) == 1
    assert scripted.names() == expected_names(service, 2)
    assert bodies(scripted, 'SessionStopReq')[0]['ChargingSession'] == 'Pause'


def test_other_notifications_do_not_break_the_session():
    charger = Iso20Charger(notify={1: 'ExitStandby', 2: 'ServiceRenegotiation',
                                   3: 'MeteringConfirmation', 4: 'ExitStandby'})
    outcome, observer, scripted, _ = session('DC', charger, loops=5)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert scripted.names() == expected_names('DC', 5)
    assert not observer.of('on_charger_stop') and not observer.of('on_charger_pause')


def test_schedule_renegotiation_exchanges_a_new_schedule():
    charger = Iso20Charger(notify={2: 'ScheduleRenegotiation'})
    outcome, _, scripted, _ = session('AC', charger, loops=3, control_mode='scheduled')
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    names = scripted.names()
    i = names.index('AC_ChargeLoopReq') + 2
    assert names[i:i + 4] == ['PowerDeliveryReq', 'ScheduleExchangeReq', 'PowerDeliveryReq',
                              'AC_ChargeLoopReq']
    assert [b['ChargeProgress'] for b in bodies(scripted, 'PowerDeliveryReq')] == [
        'Start', 'ScheduleRenegotiation', 'Start', 'Stop']


def test_go_to_pause_pauses_before_power_delivery():
    outcome, observer, scripted, _ = session('DC', Iso20Charger(go_to_pause=True), loops=0)
    assert outcome.reason == EndReason.PAUSED, outcome.message
    assert observer.of('on_charger_pause') == [('ScheduleExchangeRes: GoToPause',)]
    assert scripted.names()[-2:] == ['ScheduleExchangeReq', 'SessionStopReq']
    assert not observer.of('on_power_ready')


def test_eim_refused_with_a_warning_ends_in_order():
    charger = Iso20Charger()

    def handler(inner):
        def handle(name, body):
            if name == 'AuthorizationReq':
                return {'ResponseCode': 'WARNING_EIMAuthorizationFailure',
                        'EVSEProcessing': 'Finished'}
            return inner(name, body)
        return handle
    outcome, _, scripted, _ = session('DC', charger, loops=0, handler=handler)
    assert outcome.reason == EndReason.AUTHORIZATION_FAILED, outcome.message
    assert 'WARNING_EIMAuthorizationFailure' in outcome.message
    assert scripted.names()[-2:] == ['AuthorizationReq', 'SessionStopReq']


# --- the EV ends or pauses early; resuming -------------------------------------------------------
@pytest.mark.parametrize('pause', [False, True])
def test_stop_or_pause_right_after_session_setup(pause):
    """SessionStop after AuthorizationSetup, the first request chargers take it after."""
    model = model_for('DC')
    charger = Iso20Charger()

    def handler(inner):
        def handle(name, body):
            if name == 'SessionSetupReq':
                setattr(model, 'pause_requested' if pause else 'stop_requested', True)
            return inner(name, body)
        return handle
    outcome, _, scripted, _ = session('DC', charger, loops=0, model=model, handler=handler)
    assert outcome.reason == (EndReason.PAUSED if pause else EndReason.STOPPED_BY_EV)
    assert scripted.names() == ['supportedAppProtocolReq', 'SessionSetupReq',
                                'AuthorizationSetupReq', 'SessionStopReq']
    assert bodies(scripted, 'SessionStopReq')[0]['ChargingSession'] == \
        ('Pause' if pause else 'Terminate')


def test_stop_during_pre_charge_powers_off_first():
    model = model_for('DC')
    charger = Iso20Charger(voltage_after_stop=400)

    def handler(inner):
        def handle(name, body):
            if name == 'DC_PreChargeReq':
                model.stop_requested = True
                return {'ResponseCode': 'OK', 'EVSEPresentVoltage': R(10)}
            return inner(name, body)
        return handle
    outcome, observer, scripted, _ = session('DC', charger, loops=0, model=model,
                                             handler=handler)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    names = scripted.names()
    assert names[names.index('DC_PreChargeReq') + 1:] == [
        'PowerDeliveryReq', 'DC_WeldingDetectionReq', 'DC_WeldingDetectionReq',
        'DC_WeldingDetectionReq', 'DC_WeldingDetectionReq', 'SessionStopReq']
    assert [b['EVProcessing'] for b in bodies(scripted, 'DC_WeldingDetectionReq')] == [
        'Ongoing', 'Ongoing', 'Ongoing', 'Finished']     # 400 V, 100 V, 25 V: safe
    assert not observer.of('on_pre_charged')


def test_ev_pause_in_the_charge_loop():
    outcome, _, scripted, model = session('AC', loops=2, pause=True)
    assert outcome.reason == EndReason.PAUSED, outcome.message
    assert 'by the EV' in outcome.message
    assert scripted.names() == expected_names('AC', 2)
    assert bodies(scripted, 'SessionStopReq')[0]['ChargingSession'] == 'Pause'


def test_resumed_session_sends_its_session_id():
    model = model_for('DC')
    model.resume_session_id = SESSION_ID[ISO20_DC]
    outcome, observer, scripted, _ = session('DC', loops=1, model=model)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert bodies(scripted, 'SessionSetupReq')[0]['Header']['SessionID'] == SESSION_ID[ISO20_DC]
    assert bodies(scripted, 'AuthorizationSetupReq')[0]['Header']['SessionID'] == \
        SESSION_ID[ISO20_DC]


def test_evcc_id_is_a_short_ascii_string():
    _, _, scripted, _ = session('DC', loops=1)
    evcc_id = bodies(scripted, 'SessionSetupReq')[0]['EVCCID']
    assert evcc_id.isascii() and 0 < len(evcc_id) <= 64


# --- timing and errors ----------------------------------------------------------------------------
def test_frozen_charger_in_the_charge_loop_ends_within_500_ms():
    charger = Iso20Charger()

    def handler(inner):
        def handle(name, body):
            if name == 'DC_ChargeLoopReq' and charger.loops >= 2:
                return Silent()
            return inner(name, body)
        return handle
    outcome, _, scripted, _ = session('DC', charger, loops=0, handler=handler)
    ended = time.monotonic()
    assert outcome.reason == EndReason.TIMEOUT
    assert 'no DC_ChargeLoopRes within 0.5 s' in outcome.message
    waited = ended - scripted.requests[-1][0]
    # The charger stamps a request after reading it, a little after the EV started waiting.
    assert 0.5 - 0.01 <= waited < 0.5 + 0.1, waited


class WriterKeepingCharger(ScriptedCharger):
    """Keeps the connection's writer, so a test can answer later than the handler returns."""

    async def _serve(self, reader, writer):
        self.writer = writer
        await super()._serve(reader, writer)


def test_late_answer_is_not_accepted():
    charger = Iso20Charger()
    scripted = WriterKeepingCharger(ISO20_DC, None)
    late = []

    def handle(name, body):
        if name == 'DC_ChargeLoopReq' and charger.loops >= 2:
            response = scripted._response(name, charger(name, body), True, PayloadType.ISO20_DC)
            loop = asyncio.get_running_loop()
            late.append(loop.call_later(0.6, scripted.writer.write, response))
            return Silent()
        return charger(name, body)
    scripted.handler = handle
    outcome, observer = asyncio.run(run_against(scripted, model_for('DC')))
    assert outcome.reason == EndReason.TIMEOUT
    assert 'no DC_ChargeLoopRes within 0.5 s' in outcome.message
    assert scripted.names()[-1] == 'DC_ChargeLoopReq'
    assert scripted.names().count('DC_ChargeLoopReq') == 3
    assert [n for n, _, _ in observer.of('on_response')].count('DC_ChargeLoopRes') == 2


def test_failed_response_is_a_protocol_error_naming_it():
    charger = Iso20Charger(failed={'ServiceSelectionReq': 'FAILED_ServiceSelectionInvalid'})
    outcome, _, scripted, _ = session('DC', charger, loops=0)
    assert outcome.reason == EndReason.PROTOCOL_ERROR
    assert 'FAILED_ServiceSelectionInvalid in ServiceSelectionRes' in outcome.message
    assert scripted.names()[-1] == 'ServiceSelectionReq'


def test_eight_energy_services_are_read():
    charger = Iso20Charger(services=(1, 2, 3, 4, 5, 6, 7, 8))
    outcome, _, scripted, _ = session('DC_BPT', charger, loops=1)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert bodies(scripted, 'ServiceDetailReq')[0]['ServiceID'] == 6


def test_energy_service_not_offered_is_a_protocol_error():
    outcome, _, _, _ = session('AC_BPT', Iso20Charger(services=(1, 2)), loops=0)
    assert outcome.reason == EndReason.PROTOCOL_ERROR
    assert 'offers the energy services AC (1), DC (2), not AC_BPT (5)' in outcome.message


def test_authorization_is_repeated_while_the_charger_waits():
    outcome, _, scripted, _ = session('DC', Iso20Charger(auth_ongoing=2), loops=1)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert scripted.names().count('AuthorizationReq') == 3
    request = bodies(scripted, 'AuthorizationReq')[0]
    assert request['SelectedAuthorizationService'] == 'EIM'
    assert request['EIM_AReqAuthorizationMode'] == {}


def test_charge_loop_values_reach_the_observer():
    outcome, observer, _, _ = session('DC', loops=1, control_mode='dynamic')
    loop = [v for n, v, _ in observer.of('on_response') if n == 'DC_ChargeLoopRes'][0]
    assert loop == {'evse_present_voltage': 200, 'evse_present_current': 10,
                    'evse_max_power': 150000, 'evse_max_current': 200, 'evse_max_voltage': 920}


def test_stop_during_power_delivery_start_still_sends_one_loop_request():
    charger = Iso20Charger()
    model = model_for(MODES['DC'])

    def handler(inner):
        def handle(name, body):
            if name == 'PowerDeliveryReq' and body['ChargeProgress'] == 'Start':
                model.stop_requested = True
            return inner(name, body)
        return handle
    outcome, _, scripted, _ = session('DC', charger, loops=0, handler=handler, model=model)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    names = scripted.names()
    start = names.index('PowerDeliveryReq')
    assert names[start + 1:start + 3] == ['DC_ChargeLoopReq', 'PowerDeliveryReq']
    assert names.count('DC_ChargeLoopReq') == 1
