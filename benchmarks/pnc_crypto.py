"""Plug & Charge cost on the EV: what each signed or checked message adds to the EV's side of
an exchange, with the real identity of a test PKI (P-256 keys) and the native codec.

Timed (median of --repeat runs, warm): loading the identity from its folder; signing an
AuthorizationReq (EXI fragment, digest, SignedInfo, ECDSA); checking a CertificateInstallationRes
(provisioning chain to the V2G root, four references, signature) and decrypting its contract
key; checking the contract chain; installing a contract (writes and fsyncs 7 files).

    source scripts/activate.sh kilted
    python benchmarks/pnc_crypto.py [--repeat 200]
"""
from __future__ import annotations

import argparse
import base64
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / 'iso15118_ev'), str(ROOT / 'iso15118_ev_testing')]

from iso15118_ev.codec import NativeExiCodec  # noqa: E402
from iso15118_ev.codec import namespaces as ns  # noqa: E402
from iso15118_ev.security import xmldsig  # noqa: E402
from iso15118_ev.security.certificates import CertChain, verify_chain  # noqa: E402
from iso15118_ev.security.contract_key import (decrypt_contract_key,  # noqa: E402
                                               encrypt_contract_key)
from iso15118_ev.security.identity import EvIdentity  # noqa: E402
from iso15118_ev_testing.pki import create_pki, load_private_key, make_ev_pki  # noqa: E402


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def median_ms(action, repeat: int) -> float:
    action()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def installation_response(pki: Path, codec: NativeExiCodec):
    certs = pki / 'iso15118_2' / 'certs'

    def der(name):
        return (certs / f'{name}.der').read_bytes()
    oem = EvIdentity.load(pki).oem_chain.leaf
    point, encrypted = encrypt_contract_key(oem.public_key(),
                                            load_private_key(pki, 'contractLeaf.key'))
    parts = {'ContractSignatureCertChain': {'Id': 'id1', 'Certificate': b64(der(
                 'contractLeafCert')), 'SubCertificates': {'Certificate': [
                     b64(der('moSubCA2Cert')), b64(der('moSubCA1Cert'))]}},
             'ContractSignatureEncryptedPrivateKey': {'Id': 'id2', 'value': b64(encrypted)},
             'DHpublickey': {'Id': 'id3', 'value': b64(point)},
             'eMAID': {'Id': 'id4', 'value': 'UKSWI123456791A'}}
    listed = [(e['Id'], {name: e}) for name, e in parts.items()]
    signature = xmldsig.sign(codec, ns.ISO2, listed, load_private_key(pki, 'cpsLeaf.key'))
    cps = CertChain.from_der(der('cpsLeafCert'), [der('cpsSubCA2Cert'), der('cpsSubCA1Cert')])
    return listed, signature, cps, point, encrypted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix='pnc_bench_'))
    try:
        pki = create_pki(work / 'pki')
        folder = make_ev_pki(pki, work / 'ev')
        codec = NativeExiCodec()
        identity = EvIdentity.load(folder)
        body = {'Id': 'id1', 'GenChallenge': b64(os.urandom(16))}
        listed, signature, cps, point, encrypted = installation_response(pki, codec)

        def check_installation():
            verify_chain(cps, identity.v2g_roots)
            xmldsig.verify(codec, ns.ISO2, signature, listed, cps.leaf, 'bench')

        figures = {
            'load the identity (7 certificates, 2 encrypted keys)':
                lambda: EvIdentity.load(folder),
            'sign AuthorizationReq': lambda: xmldsig.sign(
                codec, ns.ISO2, [('id1', {'AuthorizationReq': body})], identity.contract_key),
            'check CertificateInstallationRes (chain + 4 references + signature)':
                check_installation,
            'decrypt the contract key (ECDH, KDF, AES)':
                lambda: decrypt_contract_key(identity.oem_key, point, encrypted),
            'check the contract chain': lambda: identity.contract_problem(),
            'install a contract (7 files, fsync)': lambda: identity.install_contract(
                identity.contract_chain, identity.contract_key),
        }
        print(f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python '
              f'{platform.python_version()}, repeat {args.repeat}')
        for name, action in figures.items():
            print(f'{median_ms(action, args.repeat):8.3f} ms  {name}')
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
