"""The message variants: what the codec sends is what EXIficient encodes (the Java codec,
so it checks the XSD) and decodes again."""
from __future__ import annotations

import json
import logging
import time

import pytest

from iso15118_ev_testing.charger_messages import DIN, ISO20_COMMON, MessageEditingCodec

EVSE_ID_17 = '44452A504E582A4531323334352A312A31'  # ASCII DE*PNX*E12345*1*1


def din_message(body: dict) -> str:
    return json.dumps({'V2G_Message': {'Header': {'SessionID': '0102030405060708'},
                                       'Body': body}})


@pytest.fixture(scope='module')
def codec():
    codec = MessageEditingCodec(schedule_without_price=True, din_tuple_id_zero=True,
                                din_evse_id=EVSE_ID_17)
    yield codec
    codec.shutdown()


def round_trip(codec, message: str, namespace: str) -> dict:
    return json.loads(codec.decode(codec.encode(message, namespace), namespace))


def test_schedule_without_price(codec):
    """The package's own ScheduleExchangeRes (it has price schedules) loses them on the wire."""
    import asyncio

    from iso15118.secc.controller.simulator import SimEVSEController
    from iso15118.shared.exi_codec import EXI
    from iso15118.shared.messages.enums import Namespace
    from iso15118.shared.messages.iso15118_20.common_messages import ScheduleExchangeRes
    from iso15118.shared.messages.iso15118_20.common_types import (
        MessageHeader, Processing, ResponseCode)
    from iso15118.shared.settings import load_shared_settings

    params = asyncio.run(SimEVSEController().get_scheduled_se_params(None, None))
    response = ScheduleExchangeRes(
        header=MessageHeader(session_id='0102030405060708', timestamp=time.time()),
        response_code=ResponseCode.OK, evse_processing=Processing.FINISHED,
        scheduled_params=params)
    assert params.schedule_tuples[0].charging_schedule.absolute_price_schedule
    load_shared_settings()  # EXI().to_exi reads them
    EXI().set_exi_codec(codec)
    exi = EXI().to_exi(response, Namespace.ISO_V20_COMMON_MSG)

    decoded = json.loads(codec.decode(exi, ISO20_COMMON))['ScheduleExchangeRes']
    (schedule_tuple,) = decoded['Scheduled_SEResControlMode']['ScheduleTuple']
    assert set(schedule_tuple['ChargingSchedule']) == {'PowerSchedule'}
    assert set(schedule_tuple['DischargingSchedule']) == {'PowerSchedule'}


def test_din_tuple_id_zero(codec):
    response = {'ChargeParameterDiscoveryRes': {
        'ResponseCode': 'OK', 'EVSEProcessing': 'Finished',
        'SAScheduleList': {'SAScheduleTuple': [{
            'SAScheduleTupleID': 1, 'PMaxSchedule': {'PMaxScheduleID': 0, 'PMaxScheduleEntry': [
                {'PMax': 200, 'RelativeTimeInterval': {'start': 0, 'duration': 3600}}]}}]},
        'DC_EVSEChargeParameter': {
            'DC_EVSEStatus': {'NotificationMaxDelay': 0, 'EVSENotification': 'None',
                              'EVSEIsolationStatus': 'Valid', 'EVSEStatusCode': 'EVSE_Ready'},
            'EVSEMaximumCurrentLimit': {'Value': 200, 'Multiplier': 0, 'Unit': 'A'},
            'EVSEMaximumVoltageLimit': {'Value': 920, 'Multiplier': 0, 'Unit': 'V'},
            'EVSEMinimumCurrentLimit': {'Value': 0, 'Multiplier': 0, 'Unit': 'A'},
            'EVSEMinimumVoltageLimit': {'Value': 0, 'Multiplier': 0, 'Unit': 'V'},
            'EVSEPeakCurrentRipple': {'Value': 1, 'Multiplier': 0, 'Unit': 'A'}}}}
    decoded = round_trip(codec, din_message(response), DIN)
    body = decoded['V2G_Message']['Body']['ChargeParameterDiscoveryRes']
    assert body['SAScheduleList']['SAScheduleTuple'][0]['SAScheduleTupleID'] == 0


@pytest.mark.parametrize('profile, logged', [
    ({'ChargingProfile': {'SAScheduleTupleID': 0, 'ProfileEntry': [
        {'ChargingProfileEntryStart': 0, 'ChargingProfileEntryMaxPower': 500}]}}, '0'),
    ({}, 'none')])
def test_din_power_delivery_tuple_id_is_logged(codec, caplog, profile, logged):
    request = {'PowerDeliveryReq': {'ReadyToChargeState': True, **profile,
                                    'DC_EVPowerDeliveryParameter': {
                                        'DC_EVStatus': {'EVReady': True,
                                                        'EVErrorCode': 'NO_ERROR',
                                                        'EVRESSSOC': 10},
                                        'ChargingComplete': False}}}
    with caplog.at_level(logging.WARNING, logger='charger_simulator'):
        round_trip(codec, din_message(request), DIN)
    assert f'EV PowerDeliveryReq SAScheduleTupleID={logged}' in caplog.messages


def test_din_evse_id_of_17_octets(codec):
    response = {'SessionSetupRes': {'ResponseCode': 'OK_NewSessionEstablished',
                                    'EVSEID': '49A89A6360', 'DateTimeNow': 1700000000}}
    decoded = round_trip(codec, din_message(response), DIN)
    assert decoded['V2G_Message']['Body']['SessionSetupRes']['EVSEID'] == EVSE_ID_17
