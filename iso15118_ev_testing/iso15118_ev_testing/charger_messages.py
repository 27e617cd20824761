"""Charger simulator: message variants the `iso15118` package's models cannot express.

The package builds each message as a pydantic model and hands EXIficient its JSON; this codec
edits that JSON on the way out (after the model's checks) and reads it on the way in.
"""
from __future__ import annotations

import base64
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
    tamper_signature: the name of a response (e.g. CertificateInstallationRes): one bit of the
        SignatureValue of its header Signature is flipped (the lowest bit of its last octet),
        so the signature no longer verifies; logged at WARNING.

    It also logs (WARNING) each ISO 15118-2 ChargeParameterDiscoveryRes with a SalesTariff:
    "ChargeParameterDiscoveryRes: SalesTariff Id=id1 signed (Reference #id1)", or "... not
    signed" when the header Signature has no Reference to the SalesTariff's Id.
    """

    def __init__(self, schedule_without_price=False, din_tuple_id_zero=False, din_evse_id=None,
                 tamper_signature=None):
        super().__init__()
        self.schedule_without_price = schedule_without_price
        self.din_tuple_id_zero = din_tuple_id_zero
        self.din_evse_id = din_evse_id
        self.tamper_signature = tamper_signature

    def encode(self, message: str, namespace: str) -> bytes:
        return super().encode(self.edit_outgoing(message, namespace), namespace)

    def edit_outgoing(self, message: str, namespace: str) -> str:
        """The JSON `message` as this codec sends it (edited or not)."""
        if '"SalesTariff"' in message and '"ChargeParameterDiscoveryRes"' in message:
            log_sales_tariff_signature(json.loads(message))
        edit = self._outgoing_edit(message, namespace)
        if edit:
            document = json.loads(message)
            edit(document)
            message = json.dumps(document)
        return message

    def decode(self, stream: bytes, namespace: str) -> str:
        message = super().decode(stream, namespace)
        if self.din_tuple_id_zero and namespace == DIN and '"PowerDeliveryReq"' in message:
            request = json.loads(message)['V2G_Message']['Body']['PowerDeliveryReq']
            tuple_id = request.get('ChargingProfile', {}).get('SAScheduleTupleID', 'none')
            logger.warning('EV PowerDeliveryReq SAScheduleTupleID=%s', tuple_id)
        return message

    def _outgoing_edit(self, message: str, namespace: str):
        if self.tamper_signature and f'"{self.tamper_signature}"' in message \
                and message_header(json.loads(message), self.tamper_signature) is not None:
            return self._tamper
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

    def _tamper(self, document):
        name = self.tamper_signature
        signature = message_header(document, name).get('Signature')
        if not signature:
            logger.warning('%s sent without a Signature: nothing to tamper with', name)
            return
        value = bytearray(base64.b64decode(signature['SignatureValue']['value']))
        value[-1] ^= 0x01
        signature['SignatureValue']['value'] = base64.b64encode(bytes(value)).decode()
        logger.warning('%s sent with a tampered SignatureValue (bit 0 of octet %d flipped)',
                       name, len(value) - 1)


def message_header(document: dict, name: str):
    """The Header of the message `name` when `document` is that message (ISO 15118-2 / DIN:
    V2G_Message with Body/`name`; ISO 15118-20: `name` with its Header), else None."""
    if 'V2G_Message' in document:
        message = document['V2G_Message']
        return message.get('Header', {}) if name in message.get('Body', {}) else None
    if name in document and isinstance(document[name], dict):
        return document[name].get('Header', {})
    return None


def signed_ids(header: dict) -> list:
    """The Ids the header Signature's References point to ('#id1' -> 'id1')."""
    references = header.get('Signature', {}).get('SignedInfo', {}).get('Reference', [])
    return [reference.get('URI', '').lstrip('#') for reference in references]


def log_sales_tariff_signature(document: dict) -> None:
    header = message_header(document, 'ChargeParameterDiscoveryRes')
    if header is None:
        return
    response = document['V2G_Message']['Body']['ChargeParameterDiscoveryRes']
    tuples = response.get('SAScheduleList', {}).get('SAScheduleTuple', [])
    for schedule_tuple in tuples:
        tariff = schedule_tuple.get('SalesTariff')
        if tariff:
            signed = tariff.get('Id') in signed_ids(header)
            logger.warning('ChargeParameterDiscoveryRes: SalesTariff Id=%s %s', tariff.get('Id'),
                           f'signed (Reference #{tariff.get("Id")})' if signed else 'not signed')
