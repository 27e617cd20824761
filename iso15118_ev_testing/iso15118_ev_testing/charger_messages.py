"""Charger simulator: message variants the `iso15118` package's models cannot express.

The package builds each message as a pydantic model and hands EXIficient its JSON; this codec
edits that JSON on the way out (after the model's checks) and reads it on the way in.
"""
from __future__ import annotations

import json
import logging

from .exificient import CappedExificientCodec

DIN = 'urn:din:70121:2012:MsgDef'
ISO20_COMMON = 'urn:iso:std:iso:15118:-20:CommonMessages'
PRICE_SCHEDULES = ('AbsolutePriceSchedule', 'PriceLevelSchedule')

logger = logging.getLogger('charger_simulator')


class MessageEditingCodec(CappedExificientCodec):
    """EXIficient, with these optional edits:

    schedule_without_price: ISO 15118-20 ScheduleExchangeRes schedules without a price
        schedule (the XSD makes it optional; the package's model demands one).
    din_tuple_id_zero: DIN ChargeParameterDiscoveryRes offers SAScheduleTupleID 0 (DIN's
        SAIDType is xs:short; the package's model allows 1..255); each PowerDeliveryReq's
        SAScheduleTupleID is logged.
    din_evse_id: DIN SessionSetupRes carries this EVSEID (hex; the model caps it at 16 octets).
    """

    def __init__(self, schedule_without_price=False, din_tuple_id_zero=False, din_evse_id=None):
        super().__init__()
        self.schedule_without_price = schedule_without_price
        self.din_tuple_id_zero = din_tuple_id_zero
        self.din_evse_id = din_evse_id

    def encode(self, message: str, namespace: str) -> bytes:
        edit = self._outgoing_edit(message, namespace)
        if edit:
            document = json.loads(message)
            edit(document)
            message = json.dumps(document)
        return super().encode(message, namespace)

    def decode(self, stream: bytes, namespace: str) -> str:
        message = super().decode(stream, namespace)
        if self.din_tuple_id_zero and namespace == DIN and '"PowerDeliveryReq"' in message:
            request = json.loads(message)['V2G_Message']['Body']['PowerDeliveryReq']
            tuple_id = request.get('ChargingProfile', {}).get('SAScheduleTupleID', 'none')
            logger.warning('EV PowerDeliveryReq SAScheduleTupleID=%s', tuple_id)
        return message

    def _outgoing_edit(self, message: str, namespace: str):
        if self.schedule_without_price and namespace == ISO20_COMMON \
                and '"Scheduled_SEResControlMode"' in message:
            return self._remove_prices
        if namespace != DIN:
            return None
        if self.din_tuple_id_zero and '"ChargeParameterDiscoveryRes"' in message \
                and '"SAScheduleList"' in message:
            return self._tuple_id_zero
        if self.din_evse_id and '"SessionSetupRes"' in message:
            return self._evse_id
        return None

    @staticmethod
    def _remove_prices(document):
        tuples = document['ScheduleExchangeRes']['Scheduled_SEResControlMode']['ScheduleTuple']
        for schedule_tuple in tuples:
            for schedule in ('ChargingSchedule', 'DischargingSchedule'):
                for price in PRICE_SCHEDULES:
                    schedule_tuple.get(schedule, {}).pop(price, None)
        logger.info('ScheduleExchangeRes sent without price schedules')

    @staticmethod
    def _tuple_id_zero(document):
        response = document['V2G_Message']['Body']['ChargeParameterDiscoveryRes']
        for schedule_tuple in response['SAScheduleList']['SAScheduleTuple']:
            schedule_tuple['SAScheduleTupleID'] = 0
        logger.info('ChargeParameterDiscoveryRes sent with SAScheduleTupleID 0')

    def _evse_id(self, document):
        document['V2G_Message']['Body']['SessionSetupRes']['EVSEID'] = self.din_evse_id
        logger.info('SessionSetupRes sent with EVSEID %s', self.din_evse_id)
