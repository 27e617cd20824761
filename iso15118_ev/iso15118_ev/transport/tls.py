"""TLS client contexts: TLS 1.2 for ISO 15118-2, TLS 1.3 for ISO 15118-20.

The EV verifies the charger's certificate chain against the V2G root certificate(s) it trusts
(ISO 15118-2 [V2G2-064..], ISO 15118-20 7.9.3). Host names are not checked: a charger's
certificate names its operator, not an address. For ISO 15118-20 the charger may ask for the
vehicle's certificate (mutual authentication); the EV presents its OEM provisioning chain
when the PKI folder holds one.

PKI folder layout (the `iso15118` package's create_certs.sh):
    <pki>/iso15118_2/certs/v2gRootCACert.pem          trusted V2G root(s), PEM (required)
    <pki>/iso15118_2/certs/oemCertChain.pem           vehicle certificate chain (optional)
    <pki>/iso15118_2/private_keys/oemLeaf.key         its private key
    <pki>/iso15118_2/private_keys/oemLeafPassword.txt the key's password (optional)
"""
from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

# ISO 15118-2 [V2G2-601]: TLS_ECDH(E)_ECDSA_WITH_AES_128_CBC_SHA256 (OpenSSL names below).
TLS12_CIPHERS = 'ECDHE-ECDSA-AES128-SHA256:ECDH-ECDSA-AES128-SHA256'
# ISO 15118-20 [V2G20-2459]: TLS_AES_256_GCM_SHA384 and TLS_CHACHA20_POLY1305_SHA256; OpenSSL
# offers both (and TLS_AES_128_GCM_SHA256) by default for TLS 1.3.
ROOT_CERTS = Path('iso15118_2', 'certs', 'v2gRootCACert.pem')
VEHICLE_CHAIN = Path('iso15118_2', 'certs', 'oemCertChain.pem')
VEHICLE_KEY = Path('iso15118_2', 'private_keys', 'oemLeaf.key')
VEHICLE_KEY_PASSWORD = Path('iso15118_2', 'private_keys', 'oemLeafPassword.txt')


class TlsConfigError(ValueError):
    """The PKI folder cannot give a TLS client what it needs; the message names the file."""


@dataclass(frozen=True)
class TlsCredentials:
    roots: Path
    vehicle_chain: Optional[Path] = None
    vehicle_key: Optional[Path] = None
    vehicle_key_password: Optional[bytes] = None

    @classmethod
    def from_pki(cls, pki_path: str) -> 'TlsCredentials':
        if not pki_path:
            raise TlsConfigError('TLS needs pki_path: a folder with the V2G root certificate '
                                 f'({ROOT_CERTS})')
        base = Path(pki_path)
        roots = base / ROOT_CERTS
        if not roots.is_file():
            raise TlsConfigError(f'no V2G root certificate at {roots}')
        chain, key = base / VEHICLE_CHAIN, base / VEHICLE_KEY
        if not (chain.is_file() and key.is_file()):
            return cls(roots)
        password_file = base / VEHICLE_KEY_PASSWORD
        password = None
        if password_file.is_file():
            password = password_file.read_bytes().splitlines()[0].strip() or None
        return cls(roots, chain, key, password)


def client_context(credentials: TlsCredentials, tls12: bool, tls13: bool) -> ssl.SSLContext:
    """A client context allowing TLS 1.2 (ISO 15118-2) and/or TLS 1.3 (ISO 15118-20)."""
    if not (tls12 or tls13):
        raise ValueError('at least one TLS version is needed')
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2 if tls12 else ssl.TLSVersion.TLSv1_3
    context.maximum_version = ssl.TLSVersion.TLSv1_3 if tls13 else ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        context.load_verify_locations(cafile=str(credentials.roots))
    except (ssl.SSLError, OSError) as exc:
        raise TlsConfigError(f'cannot read the V2G root certificate {credentials.roots}: '
                             f'{exc}') from None
    if tls12:
        context.set_ciphers(TLS12_CIPHERS)
    context.set_ecdh_curve('prime256v1')
    if tls13 and credentials.vehicle_chain is not None:
        try:
            context.load_cert_chain(str(credentials.vehicle_chain),
                                    str(credentials.vehicle_key),
                                    credentials.vehicle_key_password)
        except (ssl.SSLError, OSError) as exc:
            raise TlsConfigError(f'cannot load the vehicle certificate '
                                 f'{credentials.vehicle_chain} with its key: {exc}') from None
    return context
