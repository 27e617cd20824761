"""A test PKI for TLS and Plug & Charge, made with the `iso15118` package's own script.

The package ships the OpenSSL configurations and `create_certs.sh` but no certificates. This
copies them to a folder and runs the script there (needs openssl). ISO 15118-2 layout, which
the package also uses for ISO 15118-20.

    make_test_pki out/pki      # then: ev_node -p pki_path:=out/pki, charger_simulator --pki out/pki

An EV holds only its own part of a PKI: `make_ev_pki` (or `make_test_pki EV_DIR --ev-from
out/pki --contract valid|none|expired|foreign [--foreign OTHER_PKI]`) copies it to a folder of
the same layout, with a valid, no, an expired or a foreign contract certificate:

    certs/         v2gRootCACert, moRootCACert, moSubCA1Cert, moSubCA2Cert, oemRootCACert,
                   oemSubCA1Cert, oemSubCA2Cert, oemLeafCert (each .pem and .der),
                   oemCertChain.pem, intermediateMOCACerts.pem, contractLeafCert.pem/.der
    private_keys/  oemLeaf.key, oemLeafPassword.txt, contractLeaf.key, contractLeafPassword.txt

    valid    the charger PKI's contract certificate and key;
    none     no contractLeafCert.* / contractLeaf.key / contractLeafPassword.txt (the EV must
             install a contract certificate);
    expired  the charger PKI's contract key in a certificate of the same subject re-issued by
             its MO sub-CA 2, valid from 2 years to 1 day ago;
    foreign  contract certificate, key, MO sub-CAs and MO root of another PKI (`foreign`, made
             by create_pki): a contract chain that does not chain to the charger's MO root.
"""
from __future__ import annotations

import argparse
import datetime
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

CONTRACTS = ('valid', 'none', 'expired', 'foreign')
PASSWORD_FILES = {'contractLeaf.key': 'contractLeafPassword.txt',
                  'oemLeaf.key': 'oemLeafPassword.txt',
                  'moSubCA2.key': 'moSubCA2LeafPassword.txt',
                  'cpsLeaf.key': 'cpsLeafPassword.txt',
                  'seccLeaf.key': 'seccLeafPassword.txt'}
# The EV's part of a PKI, by what it is about (certs/ and private_keys/ of iso15118_2)
EV_ROOTS = ('v2gRootCACert.pem', 'v2gRootCACert.der')
EV_OEM = ('oemRootCACert.pem', 'oemRootCACert.der', 'oemSubCA1Cert.pem', 'oemSubCA1Cert.der',
          'oemSubCA2Cert.pem', 'oemSubCA2Cert.der', 'oemLeafCert.pem', 'oemLeafCert.der',
          'oemCertChain.pem')
EV_OEM_KEYS = ('oemLeaf.key', 'oemLeafPassword.txt')
EV_MO = ('moRootCACert.pem', 'moRootCACert.der', 'moSubCA1Cert.pem', 'moSubCA1Cert.der',
         'moSubCA2Cert.pem', 'moSubCA2Cert.der', 'intermediateMOCACerts.pem')
EV_CONTRACT = ('contractLeafCert.pem', 'contractLeafCert.der')
EV_CONTRACT_KEYS = ('contractLeaf.key', 'contractLeafPassword.txt')


def package_pki() -> Path:
    import iso15118
    return Path(iso15118.__file__).parent / 'shared' / 'pki'


def create_pki(destination: Path) -> Path:
    """Create (or re-use, when complete) a PKI in `destination`; its path with a trailing /."""
    destination = destination.resolve()
    if not (destination / 'iso15118_2' / 'certs' / 'cpoCertChain.pem').exists():
        shutil.rmtree(destination, ignore_errors=True)
        shutil.copytree(package_pki(), destination)
        subprocess.run(['bash', 'create_certs.sh', '-v', 'iso-2'], cwd=destination, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return destination


def _copy(source: Path, destination: Path, names) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (source / name).exists():
            shutil.copy(source / name, destination / name)


def key_password(pki: Path, key_name: str) -> bytes:
    """The password of private_keys/`key_name` of a PKI made by create_pki."""
    return (pki / 'iso15118_2' / 'private_keys' / PASSWORD_FILES[key_name]).read_bytes().strip()


def load_private_key(pki: Path, key_name: str):
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    data = (pki / 'iso15118_2' / 'private_keys' / key_name).read_bytes()
    return load_pem_private_key(data, key_password(pki, key_name))


def load_certificate(path: Path):
    from cryptography import x509
    data = path.read_bytes()
    if data.startswith(b'-----'):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def expired_contract_certificate(pki: Path, days_ago: int = 1):
    """The contract certificate of `pki`, re-issued by its MO sub-CA 2 (same subject, key and
    extensions, new serial number) valid from 2 years to `days_ago` days ago."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    certs = pki / 'iso15118_2' / 'certs'
    leaf = load_certificate(certs / 'contractLeafCert.der')
    issuer = load_certificate(certs / 'moSubCA2Cert.der')
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(leaf.subject).issuer_name(issuer.subject)
               .public_key(leaf.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=730))
               .not_valid_after(now - datetime.timedelta(days=days_ago)))
    for extension in leaf.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    return builder.sign(load_private_key(pki, 'moSubCA2.key'), hashes.SHA256())


def make_ev_pki(charger_pki: Path, destination: Path, contract: str = 'valid',
                foreign: Optional[Path] = None) -> Path:
    """An EV's own PKI folder (same layout) from the PKI `charger_pki` made by create_pki:
    V2G root, MO root and sub-CAs, OEM chain and key, and the contract certificate and key
    `contract` says (see the module docstring). Returns `destination` (resolved)."""
    if contract not in CONTRACTS:
        raise ValueError(f'contract {contract!r}: one of {", ".join(CONTRACTS)}')
    if contract == 'foreign' and foreign is None:
        raise ValueError("contract 'foreign' needs the `foreign` PKI")
    from cryptography.hazmat.primitives.serialization import Encoding

    charger_pki, destination = Path(charger_pki).resolve(), Path(destination).resolve()
    shutil.rmtree(destination, ignore_errors=True)
    mo_pki = Path(foreign).resolve() if contract == 'foreign' else charger_pki
    certs, keys = destination / 'iso15118_2' / 'certs', destination / 'iso15118_2' / 'private_keys'
    _copy(charger_pki / 'iso15118_2' / 'certs', certs, EV_ROOTS + EV_OEM)
    _copy(charger_pki / 'iso15118_2' / 'private_keys', keys, EV_OEM_KEYS)
    _copy(mo_pki / 'iso15118_2' / 'certs', certs, EV_MO)
    if contract != 'none':
        _copy(mo_pki / 'iso15118_2' / 'certs', certs, EV_CONTRACT)
        _copy(mo_pki / 'iso15118_2' / 'private_keys', keys, EV_CONTRACT_KEYS)
    if contract == 'expired':
        certificate = expired_contract_certificate(charger_pki)
        (certs / 'contractLeafCert.der').write_bytes(certificate.public_bytes(Encoding.DER))
        (certs / 'contractLeafCert.pem').write_bytes(certificate.public_bytes(Encoding.PEM))
    return destination


def parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='make_test_pki', description='Create a test PKI in DIRECTORY, or with --ev-from '
        'an EV\'s own PKI folder (its part of the PKI CHARGER_PKI) there.')
    parser.add_argument('directory', type=Path)
    parser.add_argument('--ev-from', type=Path, metavar='CHARGER_PKI',
                        help='make an EV PKI folder from this PKI (made by make_test_pki)')
    parser.add_argument('--contract', choices=CONTRACTS, default='valid',
                        help='with --ev-from: the EV\'s contract certificate (default: valid)')
    parser.add_argument('--foreign', type=Path, metavar='OTHER_PKI',
                        help='with --contract foreign: the other PKI (made by make_test_pki)')
    args = parser.parse_args(argv)
    if args.ev_from is None and (args.contract != 'valid' or args.foreign):
        parser.error('--contract and --foreign need --ev-from')
    if args.contract == 'foreign' and not args.foreign:
        parser.error('--contract foreign needs --foreign')
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if args.ev_from:
            print(make_ev_pki(args.ev_from, args.directory, args.contract, args.foreign))
        else:
            print(create_pki(args.directory))
    except subprocess.CalledProcessError as exc:
        print(f'create_certs.sh failed: {exc.stderr.decode(errors="replace")}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
