"""The signed parts of Plug & Charge messages, byte for byte as EXIficient (the package's jar)
encodes them: what a charger signs and what the EV digests again to check the signature.

-2's eMAID is declared with two types (a string in PaymentDetailsReq, EMAIDType with an Id
in CertificateInstallationRes/CertificateUpdateRes): as a fragment root it takes EXI's relaxed
element fragment grammar (EXI 1.0 section 8.5.3, codec/generate/relaxed.py). The charger signs
``EXI().to_exi(emaid, ISO_V2_MSG_DEF)``, i.e. the jar's bytes of {'eMAID': {'Id', 'value'}}.
"""
import base64
import hashlib
import json

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from exi_support.jar import shared_jar
from exi_support.strategies import fragment, fragment_type, xml_to_json
from iso15118_ev.codec import ExiDecodeError, NativeExiCodec
from iso15118_ev.codec.namespaces import ISO2, ISO20_COMMON, XMLDSIG

CODEC = NativeExiCodec()
SETTINGS = settings(max_examples=60, deadline=None, database=None,
                    phases=[Phase.explicit, Phase.generate], report_multiple_bugs=False,
                    suppress_health_check=list(HealthCheck))
C14N = 'http://www.w3.org/TR/canonical-exi/'
ECDSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256'
SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256'


def _b64(seed: str, size: int) -> str:
    """Deterministic base64 of `size` octets."""
    octets = b''.join(hashlib.sha256(f'{seed}{i}'.encode()).digest() for i in range(size // 32 + 1))
    return base64.b64encode(octets[:size]).decode('ascii')


def _same_as_jar(document, namespace, fragment_root=True) -> bytes:
    ours = CODEC.encode_object(document, namespace)
    assert ours.hex() == shared_jar().encode(json.dumps(document), namespace).hex()
    assert CODEC.decode_object(ours, namespace, fragment=fragment_root) == document
    return ours


# -- eMAID: the relaxed element fragment grammar ----------------------------------------------
EMAIDS = {
    'charger-signed': {'Id': 'id4', 'value': 'UKSWI123456791A'},
    'no-id': {'value': 'UKSWI123456791A'},
    'empty': {'Id': 'id4', 'value': ''},
    'empty-no-id': {'value': ''},
    'long': {'Id': 'eMAID-' + 'x' * 200, 'value': 'DE' + 'A1B2C3' * 60},
    'non-ascii': {'Id': 'id\u00e9', 'value': 'D\u00c9\u20ac\U0001F600\u672c\n\t ]>>'},
}


@pytest.mark.parametrize('emaid', EMAIDS.values(), ids=EMAIDS.keys())
def test_emaid_same_bytes_as_exificient(emaid):
    _same_as_jar({'eMAID': emaid}, ISO2)


def test_emaid_charger_signed_bytes():
    """The relaxed grammar's codes: AT({MsgDataTypes}Id) is the 5th of 10 attribute qnames,
    CH follows the 243 element qnames, then EE and the fragment's ED (both 244)."""
    data = CODEC.encode_object({'eMAID': {'Id': 'id4', 'value': 'UKSWI123456791A'}}, ISO2)
    assert data.hex() == '80ec0202b4b21a40045552d4d5d24c4c8ccd0d4d8dce4c507d3d00'


def test_emaid_without_value_is_an_empty_value():
    data = CODEC.encode_object({'eMAID': {'Id': 'id4'}}, ISO2)
    assert data == shared_jar().encode({'eMAID': {'Id': 'id4'}}, ISO2)
    assert CODEC.decode_object(data, ISO2, fragment=True) == {'eMAID': {'Id': 'id4',
                                                                          'value': ''}}


@pytest.mark.parametrize('emaid', [EMAIDS['charger-signed'], EMAIDS['non-ascii']],
                         ids=['ascii', 'non-ascii'])
def test_exificient_decodes_our_emaid(emaid):
    kind, text = shared_jar().decode_fragment(CODEC.encode_object({'eMAID': emaid}, ISO2), ISO2)
    assert kind == 'xml'
    assert xml_to_json(text, ISO2, fragment_type(ISO2, 'eMAID')) == {'eMAID': emaid}


def _with_or_without_id():
    return st.tuples(fragment(ISO2, 'eMAID'), st.booleans()).map(
        lambda pair: pair[0] if pair[1] else {'eMAID': {'value': pair[0]['eMAID']['value']}})


@SETTINGS
@given(_with_or_without_id())
def test_emaid_generated_same_bytes_as_exificient(document):
    _same_as_jar(document, ISO2)


@pytest.mark.parametrize('document, error', [
    ({'eMAID': 'UKSWI123456791A'}, 'expected an object'),
    ({'eMAID': {'Id': 'id4', 'value': 7}}, 'expected a string'),
    ({'eMAID': {'Id': 'id4', 'value': 'A', 'SessionID': 'AB'}}, 'unknown field'),
])
def test_emaid_shapes_the_grammar_does_not_take(document, error):
    with pytest.raises(Exception, match=error):
        CODEC.encode_object(document, ISO2)


def test_relaxed_grammar_keeps_other_attributes_apart():
    """xmldsig's unqualified Id and MsgBody's Id are other AT productions than eMAID's own."""
    grammar = CODEC.grammars(ISO2).fragment['eMAID'].grammar
    keys = [key for key, _ in grammar.attributes]
    assert keys == ['Algorithm', 'Encoding', '{}Id', '{urn:iso:15118:2:2013:MsgBody}Id', 'Id',
                    'MimeType', 'Name', 'Target', 'Type', 'URI']
    theirs = CODEC.encode_object({'eMAID': {'{}Id': 'id4', 'value': 'A'}}, ISO2)
    assert theirs != CODEC.encode_object({'eMAID': {'Id': 'id4', 'value': 'A'}}, ISO2)
    assert CODEC.decode_object(theirs, ISO2, fragment=True) == {
        'eMAID': {'{}Id': 'id4', 'value': 'A'}}


@pytest.mark.parametrize('stream, error', [
    (bytes([0x80, 0xec, 0x05, 0x00]), 'an attribute wildcard'),  # code 10 of 9 bits: AT(*)
    (bytes([0x80, 0xec, 0x05, 0x80]), 'a child of a relaxed element fragment'),  # 11: SE(F0)
], ids=['AT(*)', 'SE'])
def test_relaxed_grammar_events_not_supported_when_decoding(stream, error):
    with pytest.raises(ExiDecodeError, match=error):
        CODEC.decode_object(stream, ISO2, fragment=True)


# -- the other signed parts --------------------------------------------------------------------
CERT = _b64('contract', 620)
SUB_CERTS = [_b64('sub1', 540), _b64('sub2', 480)]
ISO2_FRAGMENTS = {
    'AuthorizationReq': {'Id': 'id1', 'GenChallenge': _b64('challenge', 16)},
    'CertificateInstallationReq': {
        'Id': 'id1', 'OEMProvisioningCert': _b64('oem', 700),
        'ListOfRootCertificateIDs': {'RootCertificateID': [
            {'X509IssuerName': 'CN=V2GRootCA,O=RISE,C=DE', 'X509SerialNumber': 12345},
            {'X509IssuerName': 'CN=MORootCA', 'X509SerialNumber': 2 ** 70 + 1}]}},
    'MeteringReceiptReq': {
        'Id': 'id1', 'SessionID': 'A1B2C3D4E5F60708', 'SAScheduleTupleID': 1,
        'MeterInfo': {'MeterID': 'METER-1', 'MeterReading': 12345678,
                      'SigMeterReading': _b64('meter', 64), 'MeterStatus': 1,
                      'TMeter': 1700000000}},
    'ContractSignatureCertChain': {'Id': 'id2', 'Certificate': CERT,
                                   'SubCertificates': {'Certificate': SUB_CERTS}},
    'ContractSignatureEncryptedPrivateKey': {'Id': 'id3', 'value': _b64('key', 48)},
    'DHpublickey': {'Id': 'id4', 'value': _b64('dh', 65)},
    'SalesTariff': {'Id': 'id5', 'SalesTariffID': 1, 'SalesTariffDescription': 'tariff',
                    'NumEPriceLevels': 2, 'SalesTariffEntry': [
                        {'RelativeTimeInterval': {'start': 0, 'duration': 3600},
                         'EPriceLevel': 1},
                        {'RelativeTimeInterval': {'start': 3600}, 'EPriceLevel': 2}]},
}


@pytest.mark.parametrize('name', ISO2_FRAGMENTS)
def test_iso2_signed_part_same_bytes_as_exificient(name):
    _same_as_jar({name: ISO2_FRAGMENTS[name]}, ISO2)


def test_iso20_authorization_mode_same_bytes_as_exificient():
    _same_as_jar({'PnC_AReqAuthorizationMode': {
        'Id': 'id1', 'GenChallenge': _b64('challenge', 16),
        'ContractCertificateChain': {'Certificate': CERT,
                                     'SubCertificates': {'Certificate': SUB_CERTS}}}},
        ISO20_COMMON)


def _reference(uri: str) -> dict:
    return {'URI': uri, 'Transforms': {'Transform': [{'Algorithm': C14N}]},
            'DigestMethod': {'Algorithm': SHA256}, 'DigestValue': _b64(uri, 32)}


def _signed_info(count: int) -> dict:
    """As the package's create_signature builds it."""
    return {'CanonicalizationMethod': {'Algorithm': C14N},
            'SignatureMethod': {'Algorithm': ECDSA_SHA256},
            'Reference': [_reference(f'#id{n}') for n in range(1, count + 1)]}


@pytest.mark.parametrize('count', [1, 4])
def test_signed_info_same_bytes_as_exificient(count):
    _same_as_jar({'SignedInfo': _signed_info(count)}, XMLDSIG)


def test_signed_certificate_installation_res_same_bytes_as_exificient():
    """A whole V2G_Message whose Header carries the charger's Signature over four parts."""
    document = {'V2G_Message': {
        'Header': {'SessionID': 'A1B2C3D4E5F60708', 'Signature': {
            'SignedInfo': _signed_info(4),
            'SignatureValue': {'value': _b64('signature', 64)}}},
        'Body': {'CertificateInstallationRes': {
            'ResponseCode': 'OK',
            'SAProvisioningCertificateChain': {'Certificate': _b64('cps', 600),
                                               'SubCertificates': {'Certificate': SUB_CERTS}},
            'ContractSignatureCertChain': ISO2_FRAGMENTS['ContractSignatureCertChain'],
            'ContractSignatureEncryptedPrivateKey':
                ISO2_FRAGMENTS['ContractSignatureEncryptedPrivateKey'],
            'DHpublickey': ISO2_FRAGMENTS['DHpublickey'],
            'eMAID': EMAIDS['charger-signed']}}}}
    _same_as_jar(document, ISO2, fragment_root=False)
