"""ISO 15118-2 Plug & Charge, EV side: certificate installation and update, PaymentDetails,
the signed Authorization, the charger's signed SalesTariff and the signed MeteringReceipt
(ISO 15118-2 8.4.3.x, Annex J).

- CertificateInstallationReq is signed with the OEM provisioning key; CertificateUpdateReq
  with the current contract key. Their response carries the new contract chain, its private
  key encrypted for the EV (ECDH with the charger's DHpublickey), and the eMAID, all signed
  by the certificate provisioning service (SAProvisioningCertificateChain, which must chain
  to a V2G root the EV trusts).
- PaymentDetailsReq sends the contract chain and eMAID; AuthorizationReq signs the charger's
  GenChallenge with the contract key.
- A SalesTariff under Plug & Charge is signed by the mobility operator: the contract's sub-CA.
- MeteringReceiptReq, when the charger sets ReceiptRequired, is signed with the contract key.
"""
from __future__ import annotations

import logging
from typing import Mapping, Optional

from ..codec import namespaces as ns
from ..security.certificates import common_name
from ..security.contract_key import decrypt_contract_key
from ..security.errors import IdentityError, SecurityProblem
from ..vocabulary import CONTRACT, EndReason
from .context import Context, SessionEnd, need
from .payment import INSTALL
from .signatures import (b64, chain_element, check_chain, check_signature, read_chain,
                         security_error, sign, unb64)

logger = logging.getLogger(__name__)

CERTIFICATE_CATEGORY = 'ContractCertificate'
# ParameterSetIDs of the certificate service (ISO 15118-2 Table 105).
INSTALLATION_SET, UPDATE_SET = 1, 2
REQUEST_ID = 'id1'
MAX_ROOT_IDS = 20


def certificate_service(response: Mapping) -> Optional[int]:
    """The ServiceID of the certificate service in a ServiceDiscoveryRes, or None."""
    for service in response.get('ServiceList', {}).get('Service', ()):
        if service.get('ServiceCategory') == CERTIFICATE_CATEGORY:
            return service['ServiceID']
    return None


def selected_certificate_service(service_id: int, action: str) -> dict:
    return {'ServiceID': service_id,
            'ParameterSetID': INSTALLATION_SET if action == INSTALL else UPDATE_SET}


def signed(ctx: Context, name: str, body: dict, key) -> dict:
    return sign(ctx, ns.ISO2, [(body['Id'], {name: body})], key, name)


def root_certificate_ids(ctx: Context) -> dict:
    ids = ctx.payment.identity.root_certificate_ids()[:MAX_ROOT_IDS]
    return {'RootCertificateID': ids}


async def install_certificate(ctx: Context) -> None:
    identity = ctx.payment.identity
    body = {'Id': REQUEST_ID, 'OEMProvisioningCert': b64(identity.oem_chain.leaf_der()),
            'ListOfRootCertificateIDs': root_certificate_ids(ctx)}
    name = 'CertificateInstallationReq'
    response = await ctx.request(name, body, signature=signed(ctx, name, body,
                                                              identity.oem_key))
    store_new_contract(ctx, 'CertificateInstallationRes', response)


async def update_certificate(ctx: Context) -> None:
    identity = ctx.payment.identity
    body = {'Id': REQUEST_ID,
            'ContractSignatureCertChain': chain_element(identity.contract_chain),
            'eMAID': identity.emaid,
            'ListOfRootCertificateIDs': root_certificate_ids(ctx)}
    name = 'CertificateUpdateReq'
    response = await ctx.request(name, body, signature=signed(ctx, name, body,
                                                              identity.contract_key))
    store_new_contract(ctx, 'CertificateUpdateRes', response)


def store_new_contract(ctx: Context, what: str, response: Mapping) -> None:
    """Check the response's CPS chain and signature, decrypt the new contract key, store the
    contract for this EV."""
    identity = ctx.payment.identity
    cps = read_chain(need(response, 'SAProvisioningCertificateChain', what),
                     f'{what} SAProvisioningCertificateChain')
    check_chain(cps, identity.v2g_roots, f'{what}: certificate provisioning service chain')
    parts = [(element['Id'], {name: element}) for name, element in signed_parts(response, what)]
    check_signature(ctx, ns.ISO2, parts, cps.leaf, what)
    chain = read_chain(response['ContractSignatureCertChain'],
                       f'{what} ContractSignatureCertChain')
    check_chain(chain, identity.mo_roots + identity.v2g_roots,
                f'{what}: the new contract certificate')
    key = contract_key(identity, response, what)
    emaid = response['eMAID']['value']
    if emaid != common_name(chain.leaf):
        logger.warning('%s: eMAID %s differs from the contract certificate\'s CN %s', what,
                       emaid, common_name(chain.leaf))
    try:
        identity.install_contract(chain, key)
    except IdentityError as exc:
        raise SessionEnd(EndReason.INTERNAL_ERROR, f'{what}: the new contract could not be '
                         f'stored: {exc}') from None
    except SecurityProblem as exc:
        raise security_error(f'{what}: the new contract', exc) from None
    logger.info('%s: contract certificate %s stored in %s', what, emaid, identity.pki_path)
    ctx.observer.on_contract_installed(emaid)


def signed_parts(response: Mapping, what: str):
    for name in ('ContractSignatureCertChain', 'ContractSignatureEncryptedPrivateKey',
                 'DHpublickey', 'eMAID'):
        element = need(response, name, what)
        if 'Id' not in element:
            raise SessionEnd(EndReason.PROTOCOL_ERROR, f'{what}: {name} has no Id')
        yield name, element


def contract_key(identity, response: Mapping, what: str):
    try:
        return decrypt_contract_key(
            identity.oem_key,
            unb64(response['DHpublickey']['value'], f'{what} DHpublickey'),
            unb64(response['ContractSignatureEncryptedPrivateKey']['value'],
                  f'{what} ContractSignatureEncryptedPrivateKey'))
    except SecurityProblem as exc:
        raise security_error(f'{what}: the contract key', exc) from None


async def payment_details(ctx: Context) -> str:
    """PaymentDetails with the contract chain and eMAID: the charger's GenChallenge."""
    identity = ctx.payment.identity
    response = await ctx.request('PaymentDetailsReq', {
        'eMAID': identity.emaid,
        'ContractSignatureCertChain': chain_element(identity.contract_chain)})
    ctx.observer.on_payment(CONTRACT, identity.emaid)
    return response['GenChallenge']


def authorization_signer(ctx: Context):
    key = ctx.payment.identity.contract_key
    return lambda name, body: signed(ctx, name, body, key)


def authorization_request(challenge: str) -> dict:
    return {'Id': REQUEST_ID, 'GenChallenge': challenge}


def check_sales_tariff(ctx: Context, schedule: Mapping) -> None:
    """A SalesTariff must carry the mobility operator's valid signature; one without a
    signature is logged (the EV does not act on tariffs)."""
    tariff = schedule.get('SalesTariff')
    if tariff is None:
        return
    what = f'ChargeParameterDiscoveryRes SalesTariff {tariff.get("Id", "")}'.strip()
    subs = ctx.payment.contract.subs
    if 'Signature' not in ctx.last_header or 'Id' not in tariff or not subs:
        logger.warning('%s is not signed: the EV does not rely on it', what)
        return
    check_signature(ctx, ns.ISO2, [(tariff['Id'], {'SalesTariff': tariff})], subs[0], what)


async def metering_receipt(ctx: Context, response: Mapping, tuple_id: int) -> Mapping:
    """The signed MeteringReceiptReq the charger asked for: the MeteringReceiptRes body."""
    meter = response.get('MeterInfo')
    if meter is None:
        raise SessionEnd(EndReason.PROTOCOL_ERROR,
                         f'{ctx.last_response}: ReceiptRequired without MeterInfo')
    body = {'Id': REQUEST_ID, 'SessionID': ctx.session_id, 'SAScheduleTupleID': tuple_id,
            'MeterInfo': meter}
    name = 'MeteringReceiptReq'
    return await ctx.request(name, body, signature=signed(
        ctx, name, body, ctx.payment.identity.contract_key))
