"""Plug & Charge options of the charger simulator: the codec's signature tampering, the signed
SalesTariff, ReceiptRequired and the strict contract root. Messages are the package's models,
signed as its SECC signs them, encoded and decoded by EXIficient (the Java codec)."""
from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from iso15118_ev_testing.charger_messages import MessageEditingCodec
from iso15118_ev_testing.charger_simulator import make_controller, parse_args
from iso15118_ev_testing.pki import load_private_key

ISO2 = 'urn:iso:15118:2:2013:MsgDef'
SESSION_ID = '0102030405060708'


@pytest.fixture(scope='module')
def codec():
    from iso15118.shared.exi_codec import EXI
    from iso15118.shared.settings import load_shared_settings

    codec = MessageEditingCodec()
    load_shared_settings()  # EXI().to_exi reads them
    EXI().set_exi_codec(codec)
    yield codec
    codec.shutdown()


def schedules(*argv):
    controller = make_controller(parse_args(list(argv)))
    return asyncio.run(controller.get_sa_schedule_list(None, False, None, 0))


def v2g_message(body_field: str, body, signature=None):
    from iso15118.shared.messages.iso15118_2.body import Body
    from iso15118.shared.messages.iso15118_2.header import MessageHeader
    from iso15118.shared.messages.iso15118_2.msgdef import V2GMessage
    return V2GMessage(header=MessageHeader(session_id=SESSION_ID, signature=signature),
                      body=Body(**{body_field: body}))


def signed_charge_parameter_discovery_res(pki: str):
    """As the package's ChargeParameterDiscovery state makes it with --sales-tariff."""
    from iso15118.shared.exi_codec import EXI
    from iso15118.shared.messages.enums import Namespace
    from iso15118.shared.messages.iso15118_2.body import ChargeParameterDiscoveryRes
    from iso15118.shared.messages.enums import EVSEProcessing
    from iso15118.shared.messages.iso15118_2.datatypes import ResponseCode, SAScheduleList
    from iso15118.shared.security import create_signature

    controller = make_controller(parse_args(['--sales-tariff']))
    tuples = asyncio.run(controller.get_sa_schedule_list(None, False, None, 0))
    tariff = tuples[0].sales_tariff
    signature = create_signature(
        [(tariff.id, EXI().to_exi(tariff, Namespace.ISO_V2_MSG_DEF))],
        load_private_key(Path(pki), 'moSubCA2.key'))
    response = ChargeParameterDiscoveryRes(
        response_code=ResponseCode.OK, evse_processing=EVSEProcessing.FINISHED,
        sa_schedule_list=SAScheduleList(schedule_tuples=tuples),
        dc_charge_parameter=asyncio.run(controller.get_dc_charge_parameters()))
    return v2g_message('charge_parameter_discovery_res', response, signature)


def sales_tariff_signature_verifies(exi: bytes, pki: str) -> bool:
    """The EV's check: the SalesTariff's digest and the signature, with MO sub-CA 2."""
    from iso15118.shared.exi_codec import EXI
    from iso15118.shared.messages.enums import Namespace
    from iso15118.shared.security import verify_signature

    message = EXI().from_exi(exi, Namespace.ISO_V2_MSG_DEF)
    tariff = message.body.charge_parameter_discovery_res.sa_schedule_list \
        .schedule_tuples[0].sales_tariff
    sub_ca2 = (Path(pki) / 'iso15118_2/certs/moSubCA2Cert.der').read_bytes()
    return verify_signature(message.header.signature,
                            [(tariff.id, EXI().to_exi(tariff, Namespace.ISO_V2_MSG_DEF))],
                            sub_ca2)


def test_sales_tariff_only_with_the_option():
    (with_tariff,) = schedules('--sales-tariff')
    assert with_tariff.sales_tariff.id == 'id1'
    assert with_tariff.sales_tariff.num_e_price_levels >= 1
    assert with_tariff.sales_tariff.sales_tariff_entry
    (without,) = schedules()
    assert without.sales_tariff is None
    assert without.p_max_schedule == with_tariff.p_max_schedule


def test_signed_sales_tariff_on_the_wire(codec, pki, caplog):
    from iso15118.shared.exi_codec import EXI
    from iso15118.shared.messages.enums import Namespace

    with caplog.at_level(logging.WARNING, logger='charger_simulator'):
        exi = EXI().to_exi(signed_charge_parameter_discovery_res(pki), Namespace.ISO_V2_MSG_DEF)
    assert 'ChargeParameterDiscoveryRes: SalesTariff Id=id1 signed (Reference #id1)' \
        in caplog.messages
    decoded = json.loads(codec.decode(exi, ISO2))['V2G_Message']
    (reference,) = decoded['Header']['Signature']['SignedInfo']['Reference']
    assert reference['URI'] == '#id1'
    tariff = decoded['Body']['ChargeParameterDiscoveryRes']['SAScheduleList'][
        'SAScheduleTuple'][0]['SalesTariff']
    assert tariff['Id'] == 'id1' and tariff['SalesTariffEntry']
    assert sales_tariff_signature_verifies(exi, pki)


def test_unsigned_sales_tariff_is_logged(codec, caplog):
    from iso15118.shared.messages.iso15118_2.body import ChargeParameterDiscoveryRes
    from iso15118.shared.messages.enums import EVSEProcessing
    from iso15118.shared.messages.iso15118_2.datatypes import ResponseCode, SAScheduleList
    response = ChargeParameterDiscoveryRes(
        response_code=ResponseCode.OK, evse_processing=EVSEProcessing.FINISHED,
        sa_schedule_list=SAScheduleList(schedule_tuples=schedules('--sales-tariff')))
    document = v2g_message('charge_parameter_discovery_res', response).json(
        by_alias=True, exclude_none=True)
    with caplog.at_level(logging.WARNING, logger='charger_simulator'):
        codec.edit_outgoing(json.dumps({'V2G_Message': json.loads(document)}), ISO2)
    assert 'ChargeParameterDiscoveryRes: SalesTariff Id=id1 not signed' in caplog.messages


def bits(value: str) -> int:
    return int.from_bytes(base64.b64decode(value), 'big')


@pytest.mark.parametrize('name, tampered', [('ChargeParameterDiscoveryRes', True),
                                            ('CertificateInstallationRes', False)])
def test_tamper_flips_one_bit_of_the_named_response(codec, pki, caplog, name, tampered):
    from iso15118.shared.exi_codec import EXI
    from iso15118.shared.messages.enums import Namespace

    message = signed_charge_parameter_discovery_res(pki)
    original = message.header.signature.signature_value.value
    codec.tamper_signature = name
    try:
        with caplog.at_level(logging.WARNING, logger='charger_simulator'):
            exi = EXI().to_exi(message, Namespace.ISO_V2_MSG_DEF)
    finally:
        codec.tamper_signature = None
    decoded = json.loads(codec.decode(exi, ISO2))['V2G_Message']
    sent = decoded['Header']['Signature']['SignatureValue']['value']
    difference = bits(sent) ^ int.from_bytes(original, 'big')
    assert bin(difference).count('1') == (1 if tampered else 0)
    assert len(base64.b64decode(sent)) == len(original)
    assert sales_tariff_signature_verifies(exi, pki) is not tampered
    logged = any(f'{name} sent with a tampered SignatureValue' in m for m in caplog.messages)
    assert logged is tampered


def test_tamper_of_an_unsigned_message_is_logged(codec, caplog):
    codec.tamper_signature = 'SessionSetupRes'
    message = json.dumps({'V2G_Message': {
        'Header': {'SessionID': SESSION_ID},
        'Body': {'SessionSetupRes': {'ResponseCode': 'OK', 'EVSEID': 'DE*PNX*E1'}}}})
    try:
        with caplog.at_level(logging.WARNING, logger='charger_simulator'):
            assert json.loads(codec.edit_outgoing(message, ISO2)) == json.loads(message)
    finally:
        codec.tamper_signature = None
    assert 'SessionSetupRes sent without a Signature: nothing to tamper with' in caplog.messages


# --- ReceiptRequired and MeteringReceipt --------------------------------------------------

@pytest.fixture
def secc2(monkeypatch):
    """The package's ISO 15118-2 SECC states; the ones the options replace are restored."""
    from iso15118.secc.states import iso15118_2_states as secc2
    from iso15118.secc.states import iso15118_20_states as secc20
    for name in ('CurrentDemand', 'ChargingStatus', 'MeteringReceipt', 'PaymentDetails'):
        monkeypatch.setattr(secc2, name, getattr(secc2, name))
    for name in ('Authorization', 'CertificateInstallation'):
        monkeypatch.setattr(secc20, name, getattr(secc20, name))
    return secc2


async def current_demand_res(controller):
    from iso15118.shared.messages.enums import Protocol
    from iso15118.shared.messages.iso15118_2.body import CurrentDemandRes
    from iso15118.shared.messages.iso15118_2.datatypes import ResponseCode

    return CurrentDemandRes(
        response_code=ResponseCode.OK,
        dc_evse_status=await controller.get_dc_evse_status(),
        evse_present_voltage=await controller.get_evse_present_voltage(Protocol.ISO_15118_2),
        evse_present_current=await controller.get_evse_present_current(Protocol.ISO_15118_2),
        evse_current_limit_achieved=False, evse_voltage_limit_achieved=False,
        evse_power_limit_achieved=False, evse_id='DE*PNX*E12345*1',
        sa_schedule_tuple_id=1, receipt_required=False)


def run_charge_loops(secc2, monkeypatch, auth_option, loops: int):
    """`loops` CurrentDemandReq through the replaced CurrentDemand state, the package's own
    processing stubbed to answer a CurrentDemandRes; the (next state, response) it sends."""
    from iso15118.shared.states import State
    package_state = secc2.CurrentDemand
    controller = make_controller(parse_args([]))
    sent = []

    async def package_processing(self, message, message_exi=None):
        self.create_next_message(None, await current_demand_res(controller), 5, ISO2)

    monkeypatch.setattr(package_state, 'process_message', package_processing)
    monkeypatch.setattr(State, 'create_next_message',
                        lambda self, next_state, message, *rest, **kw:
                        sent.append((next_state, message)))
    from iso15118_ev_testing.charger_pnc import require_metering_receipts
    require_metering_receipts(2)
    session = SimpleNamespace(selected_auth_option=auth_option, evse_controller=controller,
                              sent_meter_info=None)
    request = SimpleNamespace(body=SimpleNamespace(current_demand_req=object()))
    for _ in range(loops):
        state = secc2.CurrentDemand.__new__(secc2.CurrentDemand)
        state.comm_session = session
        asyncio.run(state.process_message(request))
    return sent, session


def test_receipt_required_on_the_second_loop_of_a_contract_session(codec, secc2, monkeypatch):
    from iso15118.shared.exi_codec import EXI
    from iso15118.shared.messages.enums import AuthEnum, Namespace

    sent, session = run_charge_loops(secc2, monkeypatch, AuthEnum.PNC_V2, 3)
    assert [next_state for next_state, _ in sent] == [None, secc2.MeteringReceipt, None]
    assert [response.receipt_required for _, response in sent] == [False, True, False]
    response = sent[1][1]
    assert response.meter_info.meter_reading == 12345
    assert session.sent_meter_info == response.meter_info
    decoded = json.loads(codec.decode(EXI().to_exi(
        v2g_message('current_demand_res', response), Namespace.ISO_V2_MSG_DEF), ISO2))
    body = decoded['V2G_Message']['Body']['CurrentDemandRes']
    assert body['ReceiptRequired'] is True
    assert body['MeterInfo']['MeterReading'] == 12345


def test_no_receipt_in_eim_sessions(secc2, monkeypatch):
    from iso15118.shared.messages.enums import AuthEnum
    sent, _ = run_charge_loops(secc2, monkeypatch, AuthEnum.EIM_V2, 3)
    assert [response.receipt_required for _, response in sent] == [False, False, False]


@pytest.mark.parametrize('verdict, logged', [
    ('accepted', 'MeteringReceiptReq accepted: signature verified with the contract '
                 'certificate, MeterInfo is a copy of ours'),
    ('rejected', 'MeteringReceiptReq rejected (FAILED_MeteringSignatureNotValid): '
                 'Unable to verify signature of MeteringReceiptReq')])
def test_metering_receipt_verdict_is_logged(secc2, monkeypatch, caplog, verdict, logged):
    from iso15118.secc.states.secc_state import StateSECC
    from iso15118.shared.messages.iso15118_2.body import MeteringReceiptRes
    from iso15118.shared.messages.iso15118_2.datatypes import ResponseCode
    from iso15118.shared.states import State
    from iso15118_ev_testing.charger_pnc import require_metering_receipts

    package_state = secc2.MeteringReceipt
    controller = make_controller(parse_args([]))

    async def package_processing(self, message, message_exi=None):
        if verdict == 'accepted':
            self.create_next_message(None, MeteringReceiptRes(
                response_code=ResponseCode.OK,
                dc_evse_status=await controller.get_dc_evse_status()), 5, ISO2)
        else:
            self.stop_state_machine('Unable to verify signature of MeteringReceiptReq', message,
                                    ResponseCode.FAILED_METERING_SIGNATURE_NOT_VALID)

    monkeypatch.setattr(package_state, 'process_message', package_processing)
    monkeypatch.setattr(State, 'create_next_message', lambda *a, **k: None)
    monkeypatch.setattr(StateSECC, 'stop_state_machine', lambda *a, **k: None)
    require_metering_receipts(2)
    state = secc2.MeteringReceipt.__new__(secc2.MeteringReceipt)
    request = SimpleNamespace(body=SimpleNamespace(metering_receipt_req=object()))
    with caplog.at_level(logging.WARNING, logger='charger_simulator'):
        asyncio.run(state.process_message(request))
    assert caplog.messages == [logged]


# --- strict contract root ---------------------------------------------------------------

def payment_details_req(folder: str):
    certs = Path(folder) / 'iso15118_2' / 'certs'
    chain = SimpleNamespace(
        certificate=(certs / 'contractLeafCert.der').read_bytes(),
        sub_certificates=SimpleNamespace(certificates=[
            (certs / name).read_bytes() for name in ('moSubCA2Cert.der', 'moSubCA1Cert.der')]))
    return SimpleNamespace(body=SimpleNamespace(
        payment_details_req=SimpleNamespace(cert_chain=chain)))


@pytest.mark.parametrize('contract, refused', [
    ('valid', None), ('expired', None), ('foreign', 'FAILED_CertChainError')])
def test_strict_contract_root(secc2, monkeypatch, pki, ev_pki, contract, refused):
    from iso15118.secc.states.secc_state import StateSECC
    from iso15118.shared.settings import SettingKey, shared_settings
    from iso15118_ev_testing.charger_pnc import strict_contract_root

    monkeypatch.setitem(shared_settings, SettingKey.PKI_PATH, str(pki) + '/')
    package_state = secc2.PaymentDetails
    outcome = []

    async def package_processing(self, message, message_exi=None):
        outcome.append('package')

    monkeypatch.setattr(package_state, 'process_message', package_processing)
    monkeypatch.setattr(StateSECC, 'stop_state_machine',
                        lambda self, reason, request, code, *a, **k: outcome.append(code.value))
    strict_contract_root()
    state = secc2.PaymentDetails.__new__(secc2.PaymentDetails)
    asyncio.run(state.process_message(payment_details_req(ev_pki(contract))))
    # expired: the package's own answer (FAILED_CertificateExpired)
    assert outcome == [refused or 'package']


def iso20_authorization_answering_ok(monkeypatch) -> list:
    """The package's -20 Authorization state replaced by what its simulated backend does
    (answer OK); the responses sent collect in the list returned."""
    from iso15118.secc.states import iso15118_20_states as secc20
    from iso15118.shared.messages.iso15118_20.common_messages import AuthorizationRes
    from iso15118.shared.messages.iso15118_20.common_types import (MessageHeader, Processing,
                                                                    ResponseCode)
    from iso15118.shared.states import State
    sent = []

    async def package_processing(self, message, message_exi=None):
        self.create_next_message(None, AuthorizationRes(
            header=MessageHeader(session_id=SESSION_ID, timestamp=time.time()),
            response_code=ResponseCode.OK, evse_processing=Processing.FINISHED), 5, ISO2)

    monkeypatch.setattr(secc20.Authorization, 'process_message', package_processing)
    monkeypatch.setattr(State, 'create_next_message',
                        lambda self, next_state, message, *a, **k: sent.append(message))
    return sent


@pytest.mark.parametrize('contract, code', [
    ('valid', 'OK'), ('expired', 'WARNING_CertificateExpired'),
    ('foreign', 'WARNING_CertificateValidationError')])
def test_strict_contract_root_iso20(secc2, monkeypatch, pki, ev_pki, contract, code):
    from iso15118.secc.states import iso15118_20_states as secc20
    from iso15118_ev_testing.charger_pnc import fix_iso20_pnc, strict_contract_root
    from iso15118.shared.settings import SettingKey, shared_settings

    monkeypatch.setitem(shared_settings, SettingKey.PKI_PATH, str(pki) + '/')
    sent = iso20_authorization_answering_ok(monkeypatch)
    fix_iso20_pnc()
    strict_contract_root()
    chain = payment_details_req(ev_pki(contract)).body.payment_details_req.cert_chain
    request = SimpleNamespace(pnc_params=SimpleNamespace(contract_cert_chain=chain,
                                                         gen_challenge=b'1' * 16))
    state = secc20.Authorization.__new__(secc20.Authorization)
    state.comm_session = SimpleNamespace(gen_challenge=b'1' * 16)
    asyncio.run(state.process_message(request))
    assert [message.response_code.value for message in sent] == [code]


def test_iso20_wrong_challenge_is_not_answered_ok(secc2, monkeypatch):
    from iso15118.secc.states import iso15118_20_states as secc20
    from iso15118_ev_testing.charger_pnc import fix_iso20_pnc

    sent = iso20_authorization_answering_ok(monkeypatch)
    fix_iso20_pnc()
    for challenge, code in ((b'2' * 16, 'WARNING_ChallengeInvalid'), (b'1' * 16, 'OK')):
        state = secc20.Authorization.__new__(secc20.Authorization)
        state.comm_session = SimpleNamespace(gen_challenge=b'1' * 16)
        asyncio.run(state.process_message(SimpleNamespace(
            pnc_params=SimpleNamespace(gen_challenge=challenge))))
        assert sent.pop().response_code.value == code
