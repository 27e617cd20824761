"""What ISO 15118-2 and -20 Plug & Charge messages share: signing the EV's requests, checking
the charger's signatures and certificate chains, and certificates as the messages carry them.
Every security problem ends the session with SECURITY_ERROR and a message naming the
certificate or signature."""
from __future__ import annotations

import base64
from typing import Mapping, Sequence, Tuple

from ..security import xmldsig
from ..security.certificates import CertChain, verify_chain
from ..security.errors import SecurityProblem
from ..vocabulary import EndReason
from .context import Context, SessionEnd

Part = Tuple[str, dict]          # (Id, {element name: element})


def security_error(what: str, problem: Exception) -> SessionEnd:
    return SessionEnd(EndReason.SECURITY_ERROR, f'{what}: {problem}')


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode('ascii')


def unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise SessionEnd(EndReason.PROTOCOL_ERROR, f'{what} is not base64') from None


def chain_element(chain: CertChain, with_subs: bool = True) -> dict:
    """A CertificateChain (-2) / ContractCertificateChain (-20) element."""
    element = {'Certificate': b64(chain.leaf_der())}
    if with_subs and chain.subs:
        element['SubCertificates'] = {'Certificate': [b64(d) for d in chain.subs_der()]}
    return element


def read_chain(element: Mapping, what: str) -> CertChain:
    subs = element.get('SubCertificates', {}).get('Certificate', [])
    subs = [subs] if isinstance(subs, str) else subs
    try:
        return CertChain.from_der(unb64(element['Certificate'], what),
                                  [unb64(s, what) for s in subs])
    except SecurityProblem as exc:
        raise security_error(what, exc) from None


def check_chain(chain: CertChain, roots, what: str) -> None:
    try:
        verify_chain(chain, roots)
    except SecurityProblem as exc:
        raise security_error(what, exc) from None


def sign(ctx: Context, namespace: str, parts: Sequence[Part], key, what: str) -> dict:
    """The header Signature over `parts`, made with `key`."""
    try:
        return xmldsig.sign(ctx.codec, namespace, parts, key)
    except SecurityProblem as exc:
        raise security_error(f'signing {what}', exc) from None


def check_signature(ctx: Context, namespace: str, parts: Sequence[Part], signer,
                    what: str) -> None:
    """The last response's header Signature covers `parts` and verifies with `signer`."""
    try:
        xmldsig.verify(ctx.codec, namespace, ctx.last_header.get('Signature'), parts, signer,
                       what)
    except SecurityProblem as exc:
        raise security_error(what, exc) from None
