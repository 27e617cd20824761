"""ISO 15118-20 Plug & Charge authorization, EV side (8.3.5.3, [V2G20-2208..]): the charger
offers PnC in AuthorizationSetupRes with a GenChallenge; the EV's AuthorizationReq carries
PnC_AReqAuthorizationMode (the challenge and the contract certificate chain), signed with the
contract key in the header.

Certificate installation in -20 (ECDH over secp521r1 or X448, AES-GCM) is not built: an EV
without a usable contract certificate authorizes with EIM where allowed, or ends the session.
"""
from __future__ import annotations

from typing import Mapping, Tuple

from ...codec import namespaces as ns
from ...vocabulary import CONTRACT, EXTERNAL_PAYMENT
from ..context import Context, need
from ..signatures import chain_element, sign

AUTHORIZATION_SERVICES = {'PnC': CONTRACT, 'EIM': EXTERNAL_PAYMENT}
SERVICE_NAMES = {method: name for name, method in AUTHORIZATION_SERVICES.items()}
MODE = 'PnC_AReqAuthorizationMode'
MODE_ID = 'id1'
NO_INSTALLATION = 'certificate installation in ISO 15118-20 is not supported by this EV'


def choose_authorization(ctx: Context, response: Mapping) -> Tuple[str, str]:
    """(CONTRACT or EXTERNAL_PAYMENT, the charger's GenChallenge for PnC) from an
    AuthorizationSetupRes."""
    offered = response['AuthorizationServices']
    offered = [offered] if isinstance(offered, str) else offered
    methods = [AUTHORIZATION_SERVICES[o] for o in offered if o in AUTHORIZATION_SERVICES]
    installation = response.get('CertificateInstallationService', False)
    method, _ = ctx.payment.choose(methods, installation_offered=False,
                                   no_installation=NO_INSTALLATION if installation else None)
    if method != CONTRACT:
        ctx.observer.on_payment(method, '')
        return method, ''
    challenge = need(response, 'PnC_ASResAuthorizationMode', 'AuthorizationSetupRes')
    ctx.observer.on_payment(CONTRACT, ctx.payment.identity.emaid)
    return method, challenge['GenChallenge']


def authorization_request(ctx: Context, challenge: str) -> dict:
    chain = ctx.payment.identity.contract_chain
    return {'SelectedAuthorizationService': SERVICE_NAMES[CONTRACT],
            MODE: {'Id': MODE_ID, 'GenChallenge': challenge,
                   'ContractCertificateChain': chain_element(chain)}}


def authorization_signer(ctx: Context):
    key = ctx.payment.identity.contract_key
    return lambda name, body: sign(ctx, ns.ISO20_COMMON, [(MODE_ID, {MODE: body[MODE]})], key,
                                   name)
