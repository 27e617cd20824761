"""One EV's certificates and private keys, read from a PKI folder.

The layout is the `iso15118` package's (its create_certs.sh): PKI/iso15118_2/certs and
PKI/iso15118_2/private_keys (`pki_path` may also name the iso15118_2 folder itself).
Certificates are read as .der, else .pem; keys are PEM (or DER), encrypted with the
password on the first line of the password file when that file exists.

=========================  ================================  ==========================
what                       file                              needed
=========================  ================================  ==========================
V2G root                   certs/v2gRootCACert.der           required
MO root                    certs/moRootCACert.der            optional
OEM provisioning leaf      certs/oemLeafCert.der             optional (with its key)
OEM sub-CAs                certs/oemSubCA2Cert.der,          as far as present, followed
                           certs/oemSubCA1Cert.der           by issuer name
OEM key                    private_keys/oemLeaf.key          when the OEM leaf is there
OEM key password           private_keys/oemLeafPassword.txt  optional
contract leaf              certs/contractLeafCert.der        optional (with its key)
contract sub-CAs           certs/moSubCA2Cert.der,           as far as present, followed
                           certs/moSubCA1Cert.der            by issuer name
contract key               private_keys/contractLeaf.key     when the contract leaf is
contract key password      private_keys/contractLeafPassword.txt  optional
=========================  ================================  ==========================

A file that is present but broken (unreadable, not a certificate or key, wrong password,
key not matching its certificate) raises IdentityError naming it.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from .certificates import CertChain, issuer_serial, common_name, verify_chain
from .errors import CertificateProblem, IdentityError, SecurityProblem
from .keys import key_matches

V2G_ROOT = 'v2gRootCACert'
MO_ROOT = 'moRootCACert'
OEM_LEAF, OEM_SUBS, OEM_KEY, OEM_PASSWORD = (
    'oemLeafCert', ('oemSubCA2Cert', 'oemSubCA1Cert'), 'oemLeaf.key', 'oemLeafPassword.txt')
CONTRACT_LEAF, CONTRACT_SUBS, CONTRACT_KEY, CONTRACT_PASSWORD = (
    'contractLeafCert', ('moSubCA2Cert', 'moSubCA1Cert'), 'contractLeaf.key',
    'contractLeafPassword.txt')
MAX_ROOT_CERTIFICATE_IDS = 20


@dataclass
class EvIdentity:
    """One EV's certificates and keys (two EVs in one process hold two of these)."""

    pki_path: Path
    v2g_roots: tuple[x509.Certificate, ...]
    mo_roots: tuple[x509.Certificate, ...] = ()
    oem_chain: CertChain | None = None
    oem_key: Any = None
    contract_chain: CertChain | None = None
    contract_key: Any = None
    _base: Path = field(default=None, repr=False)

    def __post_init__(self):
        self.pki_path = Path(self.pki_path)
        if self._base is None:
            self._base = _base_of(self.pki_path)

    @classmethod
    def load(cls, pki_path) -> 'EvIdentity':
        base = _base_of(Path(pki_path))
        certs, keys = base / 'certs', base / 'private_keys'
        v2g_root = _find_cert(certs, V2G_ROOT)
        if v2g_root is None:
            raise IdentityError(certs / f'{V2G_ROOT}.der', 'the V2G root certificate is missing')
        mo_root = _find_cert(certs, MO_ROOT)
        oem_chain, oem_key = _load_pair(certs, keys, OEM_LEAF, OEM_SUBS, OEM_KEY, OEM_PASSWORD)
        contract_chain, contract_key = _load_pair(certs, keys, CONTRACT_LEAF, CONTRACT_SUBS,
                                                  CONTRACT_KEY, CONTRACT_PASSWORD)
        return cls(Path(pki_path), (v2g_root,), (mo_root,) if mo_root else (),
                   oem_chain, oem_key, contract_chain, contract_key, base)

    @property
    def emaid(self) -> str | None:
        """The eMAID: the contract certificate's subject CN (ISO 15118-2)."""
        return common_name(self.contract_chain.leaf) if self.contract_chain else None

    def contract_problem(self, now: datetime | None = None) -> CertificateProblem | None:
        """None when the contract chain verifies against the MO and V2G roots, else why."""
        if self.contract_chain is None:
            return CertificateProblem('invalid', 'contract certificate', 'none installed')
        try:
            verify_chain(self.contract_chain, self.mo_roots + self.v2g_roots, now)
        except CertificateProblem as problem:
            return problem
        return None

    def root_certificate_ids(self) -> list[dict]:
        """X509IssuerSerial of each trusted root (V2G, then MO), at most 20."""
        roots = self.v2g_roots + self.mo_roots
        return [issuer_serial(root) for root in roots[:MAX_ROOT_CERTIFICATE_IDS]]

    def install_contract(self, chain: CertChain, key) -> None:
        """Store a new contract chain and key in the PKI folder, then use them.

        The key is written encrypted with the contractLeafPassword.txt password when that
        file exists, else unencrypted (mode 0600). Each file is replaced atomically.
        """
        if not key_matches(chain.leaf, key):
            raise CertificateProblem('wrong_key', common_name(chain.leaf),
                                     'the private key does not belong to the certificate')
        certs, keys = self._base / 'certs', self._base / 'private_keys'
        password = _read_password(keys / CONTRACT_PASSWORD)
        names = (CONTRACT_LEAF, *CONTRACT_SUBS)
        if len(chain.subs) > len(CONTRACT_SUBS):
            raise CertificateProblem('chain_too_long', common_name(chain.leaf),
                                     f'{len(chain.subs)} sub-CAs, at most 2 can be stored')
        for name, cert in zip(names, (chain.leaf, *chain.subs)):
            _write_cert(certs, name, cert)
        _write_atomic(keys / CONTRACT_KEY, _key_pem(key, password), 0o600)
        self.contract_chain, self.contract_key = chain, key


def _base_of(pki_path: Path) -> Path:
    if (pki_path / 'iso15118_2').is_dir():
        return pki_path / 'iso15118_2'
    return pki_path


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise IdentityError(path, f'cannot be read: {exc.strerror or exc}') from None


def _find_cert(folder: Path, stem: str) -> x509.Certificate | None:
    """Read STEM.der, else STEM.pem; None when neither exists."""
    for suffix, loader in (('.der', x509.load_der_x509_certificate),
                           ('.pem', x509.load_pem_x509_certificate)):
        path = folder / f'{stem}{suffix}'
        if path.exists():
            try:
                return loader(_read(path))
            except (ValueError, TypeError) as exc:
                raise IdentityError(path, f'not a valid certificate ({exc})') from None
    return None


def _read_password(path: Path) -> bytes | None:
    if not path.exists():
        return None
    lines = _read(path).splitlines()
    password = lines[0].strip() if lines else b''
    return password or None


def _load_key(path: Path, password: bytes | None):
    data = _read(path)
    loader = (serialization.load_pem_private_key if b'-----BEGIN' in data
              else serialization.load_der_private_key)
    try:
        return loader(data, password)
    except TypeError:
        reason = ('is encrypted but no password file was found' if password is None
                  else 'is not encrypted but a password was given')
        raise IdentityError(path, f'private key {reason}') from None
    except (ValueError, UnsupportedAlgorithm):
        raise IdentityError(path, 'not a readable private key (corrupted or wrong '
                                  'password)') from None


def _follow_subs(folder: Path, leaf: x509.Certificate, stems) -> tuple:
    """The sub-CA files, in issuer order from the leaf, as far as their names chain."""
    candidates = [cert for cert in (_find_cert(folder, stem) for stem in stems) if cert]
    subs, current = [], leaf
    while True:
        issuer = next((c for c in candidates if c.subject == current.issuer and c not in subs),
                      None)
        if issuer is None or issuer.subject == issuer.issuer:
            return tuple(subs)
        subs.append(issuer)
        current = issuer


def _load_pair(certs: Path, keys: Path, leaf_stem, sub_stems, key_name, password_name):
    leaf = _find_cert(certs, leaf_stem)
    if leaf is None:
        return None, None
    key_path = keys / key_name
    if not key_path.exists():
        raise IdentityError(key_path, f'missing: the private key of {leaf_stem} '
                                      f"('{common_name(leaf)}')")
    key = _load_key(key_path, _read_password(keys / password_name))
    if not key_matches(leaf, key):
        raise IdentityError(key_path, f"does not match the certificate '{common_name(leaf)}'")
    return CertChain(leaf, _follow_subs(certs, leaf, sub_stems)), key


def _key_pem(key, password: bytes | None) -> bytes:
    encryption = (serialization.BestAvailableEncryption(password) if password
                  else serialization.NoEncryption())
    try:
        return key.private_bytes(serialization.Encoding.PEM,
                                 serialization.PrivateFormat.PKCS8, encryption)
    except (AttributeError, TypeError, ValueError) as exc:
        raise SecurityProblem(f'the contract key cannot be stored: {exc}') from None


def _write_cert(folder: Path, stem: str, cert: x509.Certificate) -> None:
    _write_atomic(folder / f'{stem}.der', cert.public_bytes(serialization.Encoding.DER), 0o644)
    _write_atomic(folder / f'{stem}.pem', cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f'.{path.name}.', dir=path.parent)
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, 'wb') as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise IdentityError(path, f'cannot be written: {exc.strerror or exc}') from None
