"""ISO 15118-2 Plug & Charge against a scripted charger that signs with the test PKI's charger
keys: what the test charger (the iso15118 package) cannot do (CertificateUpdate, a charger
refusing the contract, a broken provisioning chain or a tampered element), and the EV's
signatures checked independently with plain `cryptography` calls."""
from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from iso15118_ev.codec import namespaces as ns
from iso15118_ev.protocol.payment import Payment
from iso15118_ev.security import xmldsig
from iso15118_ev.security.contract_key import encrypt_contract_key
from iso15118_ev.security.identity import EvIdentity
from iso15118_ev.vocabulary import EndReason
from iso15118_ev_testing.pki import load_certificate, load_private_key
from support.scripted_charger import Signed, model_for, run_against
from test_protocol_iso2 import Charger, Iso2Charger, when

CONTRACT_CN = 'UKSWI123456791A'
YEARS_10_S = 10 * 365 * 86400.0


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class PncCharger(Charger):
    """Offers Contract and the certificate service; answers certificate requests with the
    test PKI's contract, encrypted for the EV's OEM certificate and signed by the CPS."""

    def __init__(self, pki: Path, refuse=None, tamper=None, cps_root_from=None,
                 contract_key='contractLeaf.key', **kwargs):
        super().__init__(payment=('Contract', 'ExternalPayment'), **kwargs)
        self.contract_key = contract_key
        self.pki, self.refuse, self.tamper = pki, refuse or {}, tamper
        self.certs = pki / 'iso15118_2' / 'certs'
        self.cps_root_from = cps_root_from
        self.challenge = b64(b'0123456789abcdef')
        self.codec = None                      # set by the test: the charger's codec

    def cert(self, name: str) -> bytes:
        return (self.certs / f'{name}.der').read_bytes()

    def ServiceDiscoveryReq(self, body):
        out = super().ServiceDiscoveryReq(body)
        out['ServiceList'] = {'Service': [{'ServiceID': 2, 'ServiceCategory':
                                           'ContractCertificate', 'FreeService': True}]}
        return out

    def PaymentDetailsReq(self, body):
        return self.refuse.get('PaymentDetailsReq') or {
            'ResponseCode': 'OK', 'GenChallenge': self.challenge, 'EVSETimeStamp': 0}

    def AuthorizationReq(self, body):
        return {'ResponseCode': 'OK', 'EVSEProcessing': 'Finished'}

    def CertificateUpdateReq(self, body):
        return self._new_contract(body, 'RetryCounter')

    def CertificateInstallationReq(self, body):
        return self._new_contract(body)

    def MeteringReceiptReq(self, body):
        return {'ResponseCode': 'OK', 'DC_EVSEStatus': {
            'NotificationMaxDelay': 0, 'EVSENotification': 'None', 'EVSEStatusCode': 'EVSE_Ready'}}

    def _new_contract(self, body, *extra):
        oem = load_certificate(self.certs / 'oemLeafCert.der')
        point, encrypted = encrypt_contract_key(oem.public_key(),
                                                load_private_key(self.pki, self.contract_key))
        parts = {
            'ContractSignatureCertChain': {'Id': 'id1', 'Certificate': b64(self.cert(
                'contractLeafCert')), 'SubCertificates': {'Certificate': [
                    b64(self.cert('moSubCA2Cert')), b64(self.cert('moSubCA1Cert'))]}},
            'ContractSignatureEncryptedPrivateKey': {'Id': 'id2', 'value': b64(encrypted)},
            'DHpublickey': {'Id': 'id3', 'value': b64(point)},
            'eMAID': {'Id': 'id4', 'value': CONTRACT_CN}}
        signature = xmldsig.sign(self.codec, ns.ISO2, [
            (element['Id'], {name: element}) for name, element in parts.items()],
            load_private_key(self.pki, 'cpsLeaf.key'))
        if self.tamper:
            self.tamper(parts)
        cps = self.cps_root_from or self.pki
        chain = {'Certificate': b64(self.cert('cpsLeafCert')), 'SubCertificates': {
            'Certificate': [b64((cps / 'iso15118_2' / 'certs' / f'{n}.der').read_bytes())
                            for n in ('cpsSubCA2Cert', 'cpsSubCA1Cert')]}}
        body = {'ResponseCode': 'OK', 'SAProvisioningCertificateChain': chain, **parts}
        if extra:
            body['RetryCounter'] = 0
        return Signed(body, signature)


class HeaderRecorder(Iso2Charger):
    """Records each request's header Signature too."""

    def _unwrap(self, document, agreed):
        if agreed:
            self.signatures.append(document['V2G_Message']['Header'].get('Signature'))
        return super()._unwrap(document, agreed)


def pnc_session(charger: PncCharger, folder: str, stop_at=('CurrentDemandReq', 2), **payment):
    model = model_for('DC_extended', payment_option='Contract', enforce_payment_option=True)
    scripted = HeaderRecorder('ISO_15118_2', None)
    scripted.signatures = []
    charger.codec = scripted.codec
    scripted.handler = when(model, scripted.names, *stop_at)(charger)
    chosen = Payment('Contract', True, EvIdentity.load(folder), **payment)
    outcome, observer = asyncio.run(run_against(scripted, model, payment=chosen))
    return outcome, observer, scripted


def signature_of(scripted, name):
    return scripted.signatures[scripted.names().index(name) - 1]   # no header in the handshake


def verify_independently(signature: dict, signed_info: bytes, certificate) -> None:
    """ECDSA P-256/SHA-256 over SignedInfo's bytes, with `cryptography` alone."""
    raw = base64.b64decode(signature['SignatureValue']['value'])
    certificate.public_key().verify(
        encode_dss_signature(int.from_bytes(raw[:32], 'big'), int.from_bytes(raw[32:], 'big')),
        signed_info, ec.ECDSA(hashes.SHA256()))


def test_contract_session_signs_the_challenge_with_the_contract_key(pki, ev_pki):
    charger = PncCharger(Path(pki))
    outcome, observer, scripted = pnc_session(charger, ev_pki('valid'))
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    assert scripted.bodies('PaymentServiceSelectionReq')[0]['SelectedPaymentOption'] == 'Contract'
    details = scripted.bodies('PaymentDetailsReq')[0]
    assert details['eMAID'] == CONTRACT_CN
    authorization = scripted.bodies('AuthorizationReq')[0]
    assert authorization['GenChallenge'] == charger.challenge
    signature = signature_of(scripted, 'AuthorizationReq')
    contract = load_certificate(Path(pki) / 'iso15118_2' / 'certs' / 'contractLeafCert.der')
    codec = scripted.codec
    fragment = codec.encode_object({'AuthorizationReq': authorization}, ns.ISO2)
    reference, = signature['SignedInfo']['Reference']
    assert reference['URI'] == '#' + authorization['Id']
    digest = hashes.Hash(hashes.SHA256())
    digest.update(fragment)
    assert base64.b64decode(reference['DigestValue']) == digest.finalize()
    verify_independently(signature, codec.encode_object(
        {'SignedInfo': signature['SignedInfo']}, ns.XMLDSIG), contract)
    assert ('Contract', CONTRACT_CN) in observer.of('on_payment')


def test_certificate_update_when_the_contract_expires_soon(pki, ev_pki):
    folder = ev_pki('valid')
    charger = PncCharger(Path(pki))
    outcome, observer, scripted = pnc_session(charger, folder, update_within_s=YEARS_10_S)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    names = scripted.names()
    assert names.index('CertificateUpdateReq') < names.index('PaymentDetailsReq')
    selection = scripted.bodies('PaymentServiceSelectionReq')[0]
    assert {'ServiceID': 2, 'ParameterSetID': 2} in selection['SelectedServiceList'][
        'SelectedService']
    update = scripted.bodies('CertificateUpdateReq')[0]
    assert update['eMAID'] == CONTRACT_CN
    old_contract = load_certificate(Path(pki) / 'iso15118_2' / 'certs' / 'contractLeafCert.der')
    xmldsig.verify(scripted.codec, ns.ISO2, signature_of(scripted, 'CertificateUpdateReq'),
                   [(update['Id'], {'CertificateUpdateReq': update})], old_contract, 'test')
    assert observer.of('on_contract_installed') == [(CONTRACT_CN,)]


def test_installation_request_is_signed_with_the_oem_key(pki, ev_pki):
    folder = ev_pki('none')
    outcome, _, scripted = pnc_session(PncCharger(Path(pki)), folder)
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    request = scripted.bodies('CertificateInstallationReq')[0]
    oem = load_certificate(Path(pki) / 'iso15118_2' / 'certs' / 'oemLeafCert.der')
    assert base64.b64decode(request['OEMProvisioningCert']) == Path(
        pki, 'iso15118_2', 'certs', 'oemLeafCert.der').read_bytes()
    roots = request['ListOfRootCertificateIDs']['RootCertificateID']
    assert any('V2GRootCA' in r['X509IssuerName'] for r in roots)
    signature = signature_of(scripted, 'CertificateInstallationReq')
    verify_independently(signature, scripted.codec.encode_object(
        {'SignedInfo': signature['SignedInfo']}, ns.XMLDSIG), oem)
    assert EvIdentity.load(folder).contract_problem() is None


@pytest.mark.parametrize('code', ['FAILED_CertificateExpired', 'FAILED_CertChainError',
                                  'FAILED_CertificateRevoked'])
def test_charger_refusing_the_contract_is_an_authorization_failure(pki, ev_pki, code):
    charger = PncCharger(Path(pki), refuse={'PaymentDetailsReq': {
        'ResponseCode': code, 'GenChallenge': b64(bytes(16)), 'EVSETimeStamp': 0}})
    outcome, _, scripted = pnc_session(charger, ev_pki('valid'))
    assert outcome.reason == EndReason.AUTHORIZATION_FAILED, outcome.message
    assert code in outcome.message and 'PaymentDetailsRes' in outcome.message
    assert scripted.names()[-1] == 'PaymentDetailsReq'


def test_tampered_element_in_the_installation_response_is_refused(pki, ev_pki):
    folder = ev_pki('none')

    def tamper(parts):
        parts['eMAID']['value'] = 'DEXXX000000001'
    outcome, _, _ = pnc_session(PncCharger(Path(pki), tamper=tamper), folder)
    assert outcome.reason == EndReason.SECURITY_ERROR, outcome.message
    assert "CertificateInstallationRes: reference '#id4'" in outcome.message
    assert EvIdentity.load(folder).contract_chain is None


def test_provisioning_chain_under_another_root_is_refused(pki, ev_pki, foreign_pki):
    folder = ev_pki('none')
    charger = PncCharger(Path(pki), cps_root_from=Path(foreign_pki))
    outcome, _, _ = pnc_session(charger, folder)
    assert outcome.reason == EndReason.SECURITY_ERROR, outcome.message
    assert 'certificate provisioning service chain' in outcome.message
    assert EvIdentity.load(folder).contract_chain is None


def test_metering_receipt_is_signed_over_the_charger_meter_info(pki, ev_pki):
    meter = {'MeterID': 'METER-1', 'MeterReading': 12345, 'TMeter': 1700000000}

    class Receipts(PncCharger):
        def CurrentDemandReq(self, body):
            out = super().CurrentDemandReq(body)
            if self.loops == 2:
                out.update(ReceiptRequired=True, MeterInfo=meter)
            return out
    outcome, _, scripted = pnc_session(Receipts(Path(pki)), ev_pki('valid'),
                                       stop_at=('CurrentDemandReq', 4))
    assert outcome.reason == EndReason.STOPPED_BY_EV, outcome.message
    names = scripted.names()
    assert names.count('MeteringReceiptReq') == 1
    assert names[names.index('MeteringReceiptReq') + 1] == 'CurrentDemandReq'
    receipt = scripted.bodies('MeteringReceiptReq')[0]
    assert receipt['MeterInfo'] == meter and receipt['SAScheduleTupleID'] == 3
    contract = load_certificate(Path(pki) / 'iso15118_2' / 'certs' / 'contractLeafCert.der')
    xmldsig.verify(scripted.codec, ns.ISO2, signature_of(scripted, 'MeteringReceiptReq'),
                   [(receipt['Id'], {'MeteringReceiptReq': receipt})], contract, 'test')


def test_installed_key_that_does_not_match_the_certificate_is_refused(pki, ev_pki):
    folder = ev_pki('none')
    outcome, _, _ = pnc_session(PncCharger(Path(pki), contract_key='oemLeaf.key'), folder)
    assert outcome.reason == EndReason.SECURITY_ERROR, outcome.message
    assert 'the new contract' in outcome.message and 'wrong key' in outcome.message
    assert EvIdentity.load(folder).contract_chain is None
