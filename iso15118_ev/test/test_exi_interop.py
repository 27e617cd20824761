"""NativeExiCodec.interop_problems: what some chargers' codecs cannot read in a valid message."""
import base64
import copy

import pytest

from iso15118_ev.codec import ExiEncodeError, NativeExiCodec
from iso15118_ev.codec.namespaces import ISO2, ISO20_COMMON, XMLDSIG

CODEC = NativeExiCodec()
HEADER_2 = {'SessionID': 'A1B2C3D4E5F60708'}
CURRENT_DEMAND_REQ = {'V2G_Message': {'Header': HEADER_2, 'Body': {'CurrentDemandReq': {
    'DC_EVStatus': {'EVReady': True, 'EVErrorCode': 'NO_ERROR', 'EVRESSSOC': 55},
    'EVTargetCurrent': {'Multiplier': 0, 'Unit': 'A', 'Value': 100},
    'EVMaximumVoltageLimit': {'Multiplier': 0, 'Unit': 'V', 'Value': 400},
    'BulkChargingComplete': False, 'ChargingComplete': False,
    'EVTargetVoltage': {'Multiplier': 0, 'Unit': 'V', 'Value': 380}}}}}


def certificate(size):
    return base64.b64encode(bytes(range(256)) * (size // 256) + bytes(size % 256)).decode()


def payment_details_req(sub_certificates):
    return {'V2G_Message': {'Header': HEADER_2, 'Body': {'PaymentDetailsReq': {
        'eMAID': 'DEABC1234567890', 'ContractSignatureCertChain': {
            'Certificate': certificate(700),
            'SubCertificates': {'Certificate': [certificate(500)] * sub_certificates}}}}}}


def power_delivery_req(entries):
    entry = {'ChargingProfileEntryStart': 0,
             'ChargingProfileEntryMaxPower': {'Multiplier': 3, 'Unit': 'W', 'Value': 50}}
    return {'V2G_Message': {'Header': HEADER_2, 'Body': {'PowerDeliveryReq': {
        'ChargeProgress': 'Start', 'SAScheduleTupleID': 1,
        'ChargingProfile': {'ProfileEntry': [entry] * entries}}}}}


def session_setup_req_20(evccid):
    header = {'SessionID': '0000000000000000', 'TimeStamp': 1700000000}
    return {'SessionSetupReq': {'Header': header, 'EVCCID': evccid}}


def test_a_usual_message_has_no_problems():
    assert CODEC.interop_problems(CURRENT_DEMAND_REQ, ISO2) == []
    assert CODEC.interop_problems(payment_details_req(3), ISO2) == []  # 700/500-byte certs
    assert CODEC.interop_problems(power_delivery_req(23), ISO2) == []


def test_a_list_at_an_unrolled_bound_is_in_the_exact_form():
    problems = CODEC.interop_problems(payment_details_req(4), ISO2)
    assert len(problems) == 1
    assert problems[0].startswith('V2G_Message/Body/PaymentDetailsReq/'
                                  'ContractSignatureCertChain/SubCertificates/Certificate: '
                                  '4 items (its maxOccurs) end in the exact form')
    assert 'libcbv2g' in problems[0]


def test_a_list_at_a_counted_bound_is_in_the_loop_form():
    problems = CODEC.interop_problems(power_delivery_req(24), ISO2)
    assert problems == [
        'V2G_Message/Body/PowerDeliveryReq/ChargingProfile/ProfileEntry: 24 items (its '
        'maxOccurs) end in the loop form EXIficient writes at this bound, which decoders of '
        'the exact form of EXI 1.0 misread']


@pytest.mark.parametrize('evccid, problem', [
    ('', 'SessionSetupReq/EVCCID: an empty string is a second-level event'),
    ('W' * 65, 'SessionSetupReq/EVCCID: 65 characters, over 64'),
    ('WMI-é', 'SessionSetupReq/EVCCID: characters outside ASCII'),
])
def test_strings(evccid, problem):
    assert CODEC.interop_problems(session_setup_req_20(evccid), ISO20_COMMON) == [problem]
    assert CODEC.interop_problems(session_setup_req_20('W' * 64), ISO20_COMMON) == []


def test_binary_values():
    empty = {'SignatureValue': {'value': ''}}
    assert CODEC.interop_problems(empty, XMLDSIG) == [
        'SignatureValue: an empty binary value is a second-level event']
    large = {'SignatureValue': {'Id': 'sig', 'value': certificate(351)}}
    assert CODEC.interop_problems(large, XMLDSIG) == [
        'SignatureValue: 351 octets, over 350 in a type without a maxLength']
    large['SignatureValue']['value'] = certificate(350)
    assert CODEC.interop_problems(large, XMLDSIG) == []


def test_list_items_are_numbered_in_paths():
    message = payment_details_req(2)
    chain = message['V2G_Message']['Body']['PaymentDetailsReq']['ContractSignatureCertChain']
    chain['Id'] = 'id1'
    chain['SubCertificates']['Certificate'][1] = ''
    assert CODEC.interop_problems(message, ISO2) == [
        'V2G_Message/Body/PaymentDetailsReq/ContractSignatureCertChain/SubCertificates/'
        'Certificate[2]: an empty binary value is a second-level event']
    chain['Id'] = ''
    assert (CODEC.interop_problems(copy.deepcopy(message), ISO2)[0]
            == 'V2G_Message/Body/PaymentDetailsReq/ContractSignatureCertChain/@Id: an empty '
               'string is a second-level event')


def test_a_message_that_does_not_fit_the_schema_is_refused():
    with pytest.raises(ExiEncodeError):
        CODEC.interop_problems(power_delivery_req(25), ISO2)


def test_an_empty_emaid_fragment_ends_on_the_first_level():
    """eMAID's relaxed fragment grammar has EE among its first-level events."""
    assert CODEC.interop_problems({'eMAID': {'Id': 'id4', 'value': ''}}, ISO2) == []
    assert CODEC.interop_problems({'eMAID': {'Id': 'id4', 'value': 'x' * 65}}, ISO2) == [
        'eMAID: 65 characters, over 64']
