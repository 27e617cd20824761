"""Certificate chains: parsing, names and path validation as ISO 15118-2/-20 need it.

A chain is a leaf and its sub-CAs (the leaf's issuer first), as in a CertificateChain
message element; the root is never part of it and must be one of the trusted roots.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from .errors import CertificateProblem
from .keys import signed_by


@dataclass(frozen=True)
class CertChain:
    """A leaf certificate and its sub-CA certificates, the leaf's issuer first."""

    leaf: x509.Certificate
    subs: tuple[x509.Certificate, ...] = ()

    def leaf_der(self) -> bytes:
        return self.leaf.public_bytes(serialization.Encoding.DER)

    def subs_der(self) -> list[bytes]:
        return [sub.public_bytes(serialization.Encoding.DER) for sub in self.subs]

    @classmethod
    def from_der(cls, leaf: bytes, subs: Sequence[bytes] = ()) -> 'CertChain':
        """Parse DER certificates; CertificateProblem(kind='invalid') if one is malformed."""
        return cls(parse_der(leaf, 'leaf certificate'),
                   tuple(parse_der(sub, f'sub-CA certificate {i + 1}')
                         for i, sub in enumerate(subs)))


def parse_der(data: bytes, what: str = 'certificate') -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(bytes(data))
    except (ValueError, TypeError) as exc:
        raise CertificateProblem('invalid', what, f'not a DER certificate: {exc}') from None


def common_name(cert: x509.Certificate) -> str:
    """The subject CN (the eMAID of a contract certificate); the full subject if none."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if names:
        value = names[0].value
        return value.decode('utf-8', 'replace') if isinstance(value, bytes) else str(value)
    return cert.subject.rfc4514_string()


def not_before(cert: x509.Certificate) -> datetime:
    if hasattr(cert, 'not_valid_before_utc'):   # cryptography >= 42
        return cert.not_valid_before_utc
    return cert.not_valid_before.replace(tzinfo=timezone.utc)


def not_after(cert: x509.Certificate) -> datetime:
    if hasattr(cert, 'not_valid_after_utc'):
        return cert.not_valid_after_utc
    return cert.not_valid_after.replace(tzinfo=timezone.utc)


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    return now if now.tzinfo else now.replace(tzinfo=timezone.utc)


def expires_within(cert: x509.Certificate, seconds: float, now: datetime | None = None) -> bool:
    """Whether the certificate is expired or expires within `seconds` from now."""
    return not_after(cert) <= _now(now) + timedelta(seconds=seconds)


def issuer_serial(cert: x509.Certificate) -> dict:
    """An X509IssuerSerial element (ListOfRootCertificateIDs): the issuer as an RFC 4514
    string (XML DSig's X509IssuerName form, most significant RDN last) and the serial."""
    return {'X509IssuerName': cert.issuer.rfc4514_string(),
            'X509SerialNumber': cert.serial_number}


def check_validity(cert: x509.Certificate, now: datetime | None = None) -> None:
    now = _now(now)
    if now < not_before(cert):
        raise CertificateProblem('not_yet_valid', common_name(cert),
                                 f'valid from {not_before(cert).isoformat()}')
    if now > not_after(cert):
        raise CertificateProblem('expired', common_name(cert),
                                 f'expired {not_after(cert).isoformat()}')


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _check_issued(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """The sub-CA `issuer` issued `cert`: names chain up, the issuer is a CA, it signed."""
    if cert.issuer != issuer.subject:
        raise CertificateProblem(
            'invalid', common_name(cert),
            f"issuer '{cert.issuer.rfc4514_string()}' is not the next certificate "
            f"'{issuer.subject.rfc4514_string()}'")
    if not is_ca(issuer):
        raise CertificateProblem('invalid', common_name(issuer), 'not a CA certificate')
    if not signed_by(cert, issuer):
        raise CertificateProblem('bad_signature', common_name(cert),
                                 f"not signed by '{common_name(issuer)}'")


def _trusted_root(top: x509.Certificate, roots: Sequence[x509.Certificate]) -> x509.Certificate:
    named = [root for root in roots if root.subject == top.issuer]
    for root in named:
        if signed_by(top, root):
            return root
    detail = (f"its issuer '{top.issuer.rfc4514_string()}' matches a trusted root by name "
              'but not by signature' if named else
              f"its issuer '{top.issuer.rfc4514_string()}' is not a trusted root")
    raise CertificateProblem('untrusted_root', common_name(top), detail)


def verify_chain(chain: CertChain, roots: Sequence[x509.Certificate],
                 now: datetime | None = None, max_subs: int = 2) -> None:
    """Check the chain up to one of `roots`; raise CertificateProblem on the first fault.

    Checks, in order: the number of sub-CAs, the validity period of every certificate,
    each signature up the chain, and that the last one is signed by a trusted root (name
    and signature), the root itself being valid now.
    """
    if len(chain.subs) > max_subs:
        raise CertificateProblem('chain_too_long', common_name(chain.leaf),
                                 f'{len(chain.subs)} sub-CAs, at most {max_subs} allowed')
    certs = (chain.leaf, *chain.subs)
    for cert in certs:
        check_validity(cert, now)
    for cert, issuer in zip(certs, certs[1:]):
        _check_issued(cert, issuer)
    root = _trusted_root(certs[-1], roots)
    check_validity(root, now)
