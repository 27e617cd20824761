"""iso15118_ev.security.sign / verify (ISO 15118-2 Annex J), cross-checked with the
`iso15118` package's create_signature / verify_signature driving the EXIficient jar."""
from __future__ import annotations

import base64
import copy
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from iso15118_ev.codec import ExiSchemaError, NativeExiCodec
from iso15118_ev.codec.namespaces import ISO2, ISO20_COMMON, XMLDSIG
from iso15118_ev.security import (EvIdentity, SecurityProblem, SignatureProblem, sign,
                                  verify)
from iso15118_ev.security.xmldsig import ECDSA_SHA512, EDDSA_ED448, SHA512, SHAKE256

CODEC = NativeExiCodec()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope='module')
def identity(tmp_path_factory) -> EvIdentity:
    from iso15118_ev_testing.pki import create_pki
    return EvIdentity.load(create_pki(tmp_path_factory.mktemp('pki') / 'pki'))


@pytest.fixture(scope='module')
def jar_exi():
    """The `iso15118` package's EXI() singleton, on a capped EXIficient JVM, for this module."""
    from iso15118.shared.exi_codec import EXI
    from iso15118.shared.settings import load_shared_settings
    from iso15118_ev_testing.exificient import CappedExificientCodec
    load_shared_settings()
    exi = EXI()
    before = exi.exi_codec
    codec = CappedExificientCodec(heap_mb=128)
    exi.set_exi_codec(codec)
    yield exi
    exi.exi_codec = before
    codec.shutdown()


def authorization_req(id_='id1') -> tuple[str, dict]:
    return id_, {'AuthorizationReq': {'Id': id_, 'GenChallenge': b64(bytes(range(16)))}}


def installation_res_parts(identity, emaid=True) -> list[tuple[str, dict]]:
    chain = identity.contract_chain
    parts = [('id1', {'ContractSignatureCertChain': {
                 'Id': 'id1', 'Certificate': b64(chain.leaf_der()),
                 'SubCertificates': {'Certificate': [b64(d) for d in chain.subs_der()]}}}),
             ('id2', {'ContractSignatureEncryptedPrivateKey': {'Id': 'id2',
                                                               'value': b64(bytes(48))}}),
             ('id3', {'DHpublickey': {'Id': 'id3', 'value': b64(b'\x04' + bytes(64))}})]
    if emaid:
        parts.append(('id4', {'eMAID': {'Id': 'id4', 'value': identity.emaid}}))
    return parts


def emaid_encodable() -> bool:
    try:
        CODEC.encode_object({'eMAID': {'Id': 'id4', 'value': 'X'}}, ISO2)
    except ExiSchemaError:
        return False
    return True


def raw_verify(public, raw: bytes, data: bytes, hash_cls=hashes.SHA256, size=32) -> None:
    der = encode_dss_signature(int.from_bytes(raw[:size], 'big'), int.from_bytes(raw[size:], 'big'))
    public.verify(der, data, ec.ECDSA(hash_cls()))


# -- round trips and tampering -------------------------------------------------------------

def test_sign_verify_round_trip_and_shape(identity):
    part = authorization_req()
    signature = sign(CODEC, ISO2, [part], identity.contract_key)
    assert set(signature) == {'SignedInfo', 'SignatureValue'}
    info = signature['SignedInfo']
    assert info['SignatureMethod'] == {
        'Algorithm': 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256'}
    assert info['CanonicalizationMethod'] == {'Algorithm': 'http://www.w3.org/TR/canonical-exi/'}
    reference, = info['Reference']
    assert reference['URI'] == '#id1'
    assert reference['DigestMethod'] == {'Algorithm': 'http://www.w3.org/2001/04/xmlenc#sha256'}
    assert len(base64.b64decode(signature['SignatureValue']['value'])) == 64
    verify(CODEC, ISO2, signature, [part], identity.contract_chain.leaf, 'AuthorizationReq')
    # the Signature goes into a V2G_Message header and comes back unchanged
    message = {'V2G_Message': {'Header': {'SessionID': '0102030405060708',
                                          'Signature': signature},
                               'Body': {'AuthorizationReq': part[1]['AuthorizationReq']}}}
    decoded = CODEC.decode_object(CODEC.encode_object(message, ISO2), ISO2)
    assert decoded['V2G_Message']['Header']['Signature'] == signature


def test_plain_cryptography_checks_our_signature(identity):
    part = authorization_req()
    signature = sign(CODEC, ISO2, [part], identity.contract_key)
    info_bytes = CODEC.encode_object({'SignedInfo': signature['SignedInfo']}, XMLDSIG)
    raw = base64.b64decode(signature['SignatureValue']['value'])
    public = identity.contract_chain.leaf.public_key()
    raw_verify(public, raw, info_bytes)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(CODEC.encode_object(part[1], ISO2))
    assert b64(digest.finalize()) == signature['SignedInfo']['Reference'][0]['DigestValue']
    with pytest.raises(InvalidSignature):
        raw_verify(public, raw, info_bytes + b'\0')


@pytest.mark.parametrize('tamper, item', [
    ('digest', "reference '#id2'"), ('signature_value', 'SignatureValue'),
    ('body', "reference '#id3'"), ('missing_reference', "reference '#id1'"),
    ('no_signature', 'no Signature in the header'), ('other_signer', 'SignatureValue'),
    ('signed_info', 'SignatureValue'), ('not_base64', 'SignatureValue')])
def test_tampering_is_named(identity, tamper, item):
    parts = installation_res_parts(identity, emaid=False)
    signature = sign(CODEC, ISO2, parts, identity.oem_key)
    signer = identity.oem_chain.leaf
    received = copy.deepcopy(signature)
    references = received['SignedInfo']['Reference']
    if tamper == 'digest':
        references[1]['DigestValue'] = b64(bytes(32))
    elif tamper == 'signature_value':
        raw = bytearray(base64.b64decode(received['SignatureValue']['value']))
        raw[5] ^= 1
        received['SignatureValue']['value'] = b64(bytes(raw))
    elif tamper == 'body':
        parts[2] = ('id3', {'DHpublickey': {'Id': 'id3', 'value': b64(b'\x04' + bytes(63) + b'\1')}})
    elif tamper == 'missing_reference':
        del references[0]
    elif tamper == 'no_signature':
        received = None
    elif tamper == 'other_signer':
        signer = identity.contract_chain.leaf
    elif tamper == 'signed_info':   # a Reference added after signing
        references.append({**references[0], 'URI': '#id9'})
    elif tamper == 'not_base64':
        received['SignatureValue']['value'] = '***'
    with pytest.raises(SignatureProblem) as caught:
        verify(CODEC, ISO2, received, parts, signer, 'CertificateInstallationRes')
    assert str(caught.value).startswith('CertificateInstallationRes: ')
    assert item in str(caught.value)
    if tamper in ('signature_value', 'other_signer'):
        assert 'OEMProvCert' in str(caught.value) or 'UKSWI' in str(caught.value)


def test_extra_references_beyond_the_parts_are_allowed(identity):
    parts = installation_res_parts(identity, emaid=False)
    signature = sign(CODEC, ISO2, parts, identity.oem_key)
    verify(CODEC, ISO2, signature, parts[:2], identity.oem_chain.leaf, 'CertificateInstallationRes')


def test_a_part_without_its_id_is_refused(identity):
    with pytest.raises(SecurityProblem, match='Id'):
        sign(CODEC, ISO2, [('id7', authorization_req('id1')[1])], identity.contract_key)


def test_emaid_part_when_the_codec_encodes_it(identity):
    if not emaid_encodable():
        pytest.skip('the codec cannot encode the eMAID fragment yet')
    parts = installation_res_parts(identity)
    signature = sign(CODEC, ISO2, parts, identity.oem_key)
    verify(CODEC, ISO2, signature, parts, identity.oem_chain.leaf, 'CertificateInstallationRes')
    parts[3] = ('id4', {'eMAID': {'Id': 'id4', 'value': 'OTHER'}})
    with pytest.raises(SignatureProblem, match="reference '#id4'"):
        verify(CODEC, ISO2, signature, parts, identity.oem_chain.leaf, 'CertificateInstallationRes')


# -- other key types (ISO 15118-20) ---------------------------------------------------------

def test_p521_signs_with_sha512():
    from test_security import SmallPki, make_cert
    key = ec.generate_private_key(ec.SECP521R1())
    signer = make_cert('P521', key, ca=False)
    part = ('id1', {'PnC_AReqAuthorizationMode': {
        'Id': 'id1', 'GenChallenge': b64(bytes(16)),
        'ContractCertificateChain': {'Certificate': b64(SmallPki().chain.leaf_der()),
                                     'SubCertificates': {'Certificate': [b64(bytes(10))]}}}})
    signature = sign(CODEC, ISO20_COMMON, [part], key)
    assert signature['SignedInfo']['SignatureMethod']['Algorithm'] == ECDSA_SHA512
    assert signature['SignedInfo']['Reference'][0]['DigestMethod']['Algorithm'] == SHA512
    raw = base64.b64decode(signature['SignatureValue']['value'])
    assert len(raw) == 132
    info_bytes = CODEC.encode_object({'SignedInfo': signature['SignedInfo']}, XMLDSIG)
    raw_verify(key.public_key(), raw, info_bytes, hashes.SHA512, 66)
    verify(CODEC, ISO20_COMMON, signature, [part], signer, 'AuthorizationReq')


def test_ed448_signs_with_shake256():
    key = ed448.Ed448PrivateKey.generate()
    part = authorization_req()
    signature = sign(CODEC, ISO2, [part], key)
    assert signature['SignedInfo']['SignatureMethod']['Algorithm'] == EDDSA_ED448
    assert signature['SignedInfo']['Reference'][0]['DigestMethod']['Algorithm'] == SHAKE256
    info_bytes = CODEC.encode_object({'SignedInfo': signature['SignedInfo']}, XMLDSIG)
    key.public_key().verify(base64.b64decode(signature['SignatureValue']['value']), info_bytes)


def test_unsupported_key_type():
    from cryptography.hazmat.primitives.asymmetric import ed25519
    with pytest.raises(SecurityProblem, match='unsupported key type'):
        sign(CODEC, ISO2, [authorization_req()], ed25519.Ed25519PrivateKey.generate())


# -- against the iso15118 package and the EXIficient jar -----------------------------------

def jar_json(model) -> dict:
    from iso15118.shared.exi_codec import CustomJSONEncoder
    return json.loads(json.dumps(model.dict(by_alias=True, exclude_none=True),
                                 cls=CustomJSONEncoder))


def pydantic_signature(signature: dict):
    from iso15118.shared.messages.xmldsig import Signature
    raw = copy.deepcopy(signature)
    for reference in raw['SignedInfo']['Reference']:
        reference['DigestValue'] = base64.b64decode(reference['DigestValue'])
    raw['SignatureValue']['value'] = base64.b64decode(raw['SignatureValue']['value'])
    return Signature.parse_obj(raw)


def test_reference_verify_signature_accepts_ours(identity, jar_exi):
    from iso15118.shared.messages.enums import Namespace
    from iso15118.shared.security import verify_signature
    parts = installation_res_parts(identity, emaid=False)
    signature = sign(CODEC, ISO2, parts, identity.oem_key)
    model = pydantic_signature(signature)
    # the jar encodes our SignedInfo to the very bytes we signed
    assert (jar_exi.to_exi(model.signed_info, Namespace.XML_DSIG)
            == CODEC.encode_object({'SignedInfo': signature['SignedInfo']}, XMLDSIG))
    jar = jar_exi.get_exi_codec()
    elements = [(id_, bytes(jar.encode(json.dumps(element), ISO2))) for id_, element in parts]
    assert elements == [(id_, CODEC.encode_object(element, ISO2)) for id_, element in parts]
    assert verify_signature(model, elements, identity.oem_chain.leaf_der())
    tampered = copy.deepcopy(signature)
    tampered['SignedInfo']['Reference'][0]['DigestValue'] = b64(bytes(32))
    assert not verify_signature(pydantic_signature(tampered), elements,
                                identity.oem_chain.leaf_der())


def test_reference_create_signature_verifies_with_ours(identity, jar_exi):
    from iso15118.shared.security import create_signature
    jar = jar_exi.get_exi_codec()
    parts = installation_res_parts(identity, emaid=emaid_encodable())   # as the charger signs
    elements = [(id_, bytes(jar.encode(json.dumps(element), ISO2))) for id_, element in parts]
    model = create_signature(elements, identity.oem_key)
    signature = jar_json(model)
    verify(CODEC, ISO2, signature, parts, identity.oem_chain.leaf, 'CertificateInstallationRes')
    signature['SignedInfo']['Reference'][2]['DigestValue'] = b64(bytes(32))
    with pytest.raises(SignatureProblem, match="reference '#id3'"):
        verify(CODEC, ISO2, signature, parts, identity.oem_chain.leaf,
               'CertificateInstallationRes')


def test_jar_reads_our_signed_header(identity, jar_exi):
    part = authorization_req()
    signature = sign(CODEC, ISO2, [part], identity.contract_key)
    message = {'V2G_Message': {'Header': {'SessionID': '0102030405060708',
                                          'Signature': signature},
                               'Body': {'AuthorizationReq': part[1]['AuthorizationReq']}}}
    jar = jar_exi.get_exi_codec()
    decoded = json.loads(str(jar.decode(CODEC.encode_object(message, ISO2), ISO2)))
    assert decoded['V2G_Message']['Header']['Signature'] == signature
