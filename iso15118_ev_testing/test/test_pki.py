"""The EV's own PKI folders: which files each contract variant has, and whether its contract
chain verifies (expired; foreign: against the foreign MO root only)."""
from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature

from iso15118_ev_testing.pki import (EV_CONTRACT, EV_CONTRACT_KEYS, load_certificate, main,
                                     make_ev_pki)

EV_CERTS = {
    'v2gRootCACert.pem', 'v2gRootCACert.der', 'moRootCACert.pem', 'moRootCACert.der',
    'moSubCA1Cert.pem', 'moSubCA1Cert.der', 'moSubCA2Cert.pem', 'moSubCA2Cert.der',
    'intermediateMOCACerts.pem', 'oemRootCACert.pem', 'oemRootCACert.der',
    'oemSubCA1Cert.pem', 'oemSubCA1Cert.der', 'oemSubCA2Cert.pem', 'oemSubCA2Cert.der',
    'oemLeafCert.pem', 'oemLeafCert.der', 'oemCertChain.pem'}
EV_KEYS = {'oemLeaf.key', 'oemLeafPassword.txt'}


def files(folder: str, kind: str) -> set:
    return {path.name for path in (Path(folder) / 'iso15118_2' / kind).iterdir()}


def cert(folder, name: str):
    return load_certificate(Path(folder) / 'iso15118_2' / 'certs' / name)


def same(folder_a, folder_b, name: str) -> bool:
    return cert(folder_a, name) == cert(folder_b, name)


def chain_verifies(folder: str, root) -> bool:
    """contract leaf -> MO sub-CA 2 -> MO sub-CA 1 -> root, signatures and issuers."""
    chain = [cert(folder, name) for name in ('contractLeafCert.der', 'moSubCA2Cert.der',
                                             'moSubCA1Cert.der')] + [root]
    try:
        for child, parent in zip(chain, chain[1:]):
            child.verify_directly_issued_by(parent)
    except (InvalidSignature, ValueError):
        return False
    return True


def now():
    return datetime.datetime.now(datetime.timezone.utc)


@pytest.mark.parametrize('contract, has_contract', [
    ('valid', True), ('none', False), ('expired', True), ('foreign', True)])
def test_ev_pki_holds_only_the_ev_files(ev_pki, contract, has_contract):
    folder = ev_pki(contract)
    contract_certs = set(EV_CONTRACT) if has_contract else set()
    contract_keys = set(EV_CONTRACT_KEYS) if has_contract else set()
    assert files(folder, 'certs') == EV_CERTS | contract_certs
    assert files(folder, 'private_keys') == EV_KEYS | contract_keys


def test_valid_contract_is_the_charger_pkis(ev_pki, pki):
    folder = ev_pki('valid')
    for name in ('contractLeafCert.der', 'moRootCACert.der', 'v2gRootCACert.der',
                 'oemLeafCert.der'):
        assert same(folder, pki, name), name
    assert (Path(folder) / 'iso15118_2/private_keys/contractLeaf.key').read_bytes() == \
        (Path(pki) / 'iso15118_2/private_keys/contractLeaf.key').read_bytes()
    assert chain_verifies(folder, cert(pki, 'moRootCACert.der'))
    assert cert(folder, 'contractLeafCert.der').not_valid_after_utc > now()


def test_expired_contract_is_expired_but_otherwise_the_same(ev_pki, pki):
    folder = ev_pki('expired')
    expired, original = cert(folder, 'contractLeafCert.der'), cert(pki, 'contractLeafCert.der')
    assert expired.not_valid_after_utc < now()
    assert expired.subject == original.subject
    assert expired.public_key() == original.public_key()
    assert expired.serial_number != original.serial_number
    assert cert(folder, 'contractLeafCert.pem') == expired
    # issued by the charger PKI's MO sub-CA 2: only its validity is wrong
    assert chain_verifies(folder, cert(pki, 'moRootCACert.der'))


def test_foreign_contract_chains_to_the_foreign_mo_root_only(ev_pki, pki, foreign_pki):
    folder = ev_pki('foreign')
    assert not chain_verifies(folder, cert(pki, 'moRootCACert.der'))
    assert chain_verifies(folder, cert(foreign_pki, 'moRootCACert.der'))
    for name in ('contractLeafCert.der', 'moSubCA1Cert.der', 'moSubCA2Cert.der',
                 'moRootCACert.der'):
        assert same(folder, foreign_pki, name) and not same(folder, pki, name), name
    for name in ('v2gRootCACert.der', 'oemLeafCert.der', 'oemRootCACert.der'):
        assert same(folder, pki, name) and not same(folder, foreign_pki, name), name


def test_foreign_needs_the_other_pki(pki, tmp_path):
    with pytest.raises(ValueError):
        make_ev_pki(Path(pki), tmp_path / 'ev', 'foreign')
    with pytest.raises(ValueError):
        make_ev_pki(Path(pki), tmp_path / 'ev', 'stolen')


def test_command_line(pki, tmp_path, capsys):
    assert main([str(tmp_path / 'ev'), '--ev-from', pki, '--contract', 'none']) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / 'ev')
    assert 'contractLeafCert.der' not in files(str(tmp_path / 'ev'), 'certs')
    with pytest.raises(SystemExit):
        main([str(tmp_path / 'ev2'), '--ev-from', pki, '--contract', 'foreign'])
