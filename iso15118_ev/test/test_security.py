"""iso15118_ev.security: certificate chains, the EV's identity files, the contract key."""
from __future__ import annotations

import os
import shutil
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from iso15118_ev.security import (CertChain, CertificateProblem, EvIdentity, IdentityError,
                                  SecurityProblem, common_name, decrypt_contract_key,
                                  encrypt_contract_key, expires_within, issuer_serial,
                                  verify_chain)

NOW = datetime.now(timezone.utc)


@pytest.fixture(scope='module')
def pki(tmp_path_factory) -> Path:
    from iso15118_ev_testing.pki import create_pki
    return create_pki(tmp_path_factory.mktemp('pki') / 'pki')


def fresh_copy(pki: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pki, tmp_path / 'pki'))


def certs_of(pki: Path) -> Path:
    return pki / 'iso15118_2' / 'certs'


def keys_of(pki: Path) -> Path:
    return pki / 'iso15118_2' / 'private_keys'


def der(pki: Path, name: str) -> x509.Certificate:
    return x509.load_der_x509_certificate((certs_of(pki) / name).read_bytes())


# -- small PKIs made here -------------------------------------------------------------------

def make_cert(cn, key, issuer_cert=None, issuer_key=None, ca=True, start=None, days=365):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    start = start or NOW - timedelta(days=1)
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer_cert.subject if issuer_cert else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return builder.sign(issuer_key or key, hashes.SHA256())


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


class SmallPki:
    """root -> sub1 -> sub2 -> leaf, each cert overridable."""

    def __init__(self, root_cn='Root', **leaf_options):
        self.root_key, self.sub1_key, self.sub2_key, self.leaf_key = (new_key() for _ in range(4))
        self.root = make_cert(root_cn, self.root_key)
        self.sub1 = make_cert('Sub1', self.sub1_key, self.root, self.root_key)
        self.sub2 = make_cert('Sub2', self.sub2_key, self.sub1, self.sub1_key)
        self.leaf = make_cert('LEAF-EMAID', self.leaf_key, self.sub2, self.sub2_key, ca=False,
                              **leaf_options)

    @property
    def chain(self) -> CertChain:
        return CertChain(self.leaf, (self.sub2, self.sub1))


# -- certificates ---------------------------------------------------------------------------

def test_valid_contract_chain_of_the_test_pki_verifies_against_the_mo_root(pki):
    chain = CertChain.from_der((certs_of(pki) / 'contractLeafCert.der').read_bytes(),
                               [(certs_of(pki) / 'moSubCA2Cert.der').read_bytes(),
                                (certs_of(pki) / 'moSubCA1Cert.der').read_bytes()])
    verify_chain(chain, [der(pki, 'moRootCACert.der')])
    with pytest.raises(CertificateProblem) as caught:
        verify_chain(chain, [der(pki, 'v2gRootCACert.der')])
    assert caught.value.kind == 'untrusted_root'
    assert chain.leaf_der() == (certs_of(pki) / 'contractLeafCert.der').read_bytes()
    assert chain.subs_der()[0] == (certs_of(pki) / 'moSubCA2Cert.der').read_bytes()


def test_small_pki_chain_verifies():
    small = SmallPki()
    verify_chain(small.chain, [small.root])


def test_expired_leaf_is_named():
    small = SmallPki(start=NOW - timedelta(days=30), days=10)
    with pytest.raises(CertificateProblem) as caught:
        verify_chain(small.chain, [small.root])
    assert (caught.value.kind, caught.value.subject) == ('expired', 'LEAF-EMAID')
    assert 'LEAF-EMAID' in str(caught.value)


def test_not_yet_valid_leaf():
    small = SmallPki(start=NOW + timedelta(days=2))
    with pytest.raises(CertificateProblem) as caught:
        verify_chain(small.chain, [small.root])
    assert (caught.value.kind, caught.value.subject) == ('not_yet_valid', 'LEAF-EMAID')
    verify_chain(small.chain, [small.root], now=NOW + timedelta(days=3))


def test_foreign_root_with_the_same_name_is_untrusted():
    small, foreign = SmallPki(), SmallPki()
    with pytest.raises(CertificateProblem) as caught:
        verify_chain(small.chain, [foreign.root])
    assert (caught.value.kind, caught.value.subject) == ('untrusted_root', 'Sub1')
    other_name = SmallPki(root_cn='Elsewhere')
    with pytest.raises(CertificateProblem) as caught:
        verify_chain(small.chain, [other_name.root])
    assert caught.value.kind == 'untrusted_root'


def test_broken_signature_inside_the_chain():
    small = SmallPki()
    impostor = make_cert('Sub2', new_key(), small.sub1, small.sub1_key)  # same name, other key
    with pytest.raises(CertificateProblem) as caught:
        verify_chain(CertChain(small.leaf, (impostor, small.sub1)), [small.root])
    assert (caught.value.kind, caught.value.subject) == ('bad_signature', 'LEAF-EMAID')


def test_chain_too_long_and_missing_link():
    small = SmallPki()
    extra = make_cert('Sub0', new_key(), small.root, small.root_key)
    with pytest.raises(CertificateProblem) as caught:
        verify_chain(CertChain(small.leaf, (small.sub2, small.sub1, extra)), [small.root])
    assert caught.value.kind == 'chain_too_long'
    verify_chain(small.chain, [small.root], max_subs=2)
    with pytest.raises(CertificateProblem) as caught:
        verify_chain(small.chain, [small.root], max_subs=1)
    assert caught.value.kind == 'chain_too_long'
    with pytest.raises(CertificateProblem) as caught:   # sub2 left out: leaf's issuer differs
        verify_chain(CertChain(small.leaf, (small.sub1,)), [small.root])
    assert caught.value.kind == 'invalid'


def test_expired_root_is_reported():
    key = new_key()
    root = make_cert('OldRoot', key, start=NOW - timedelta(days=30), days=10)
    leaf_key = new_key()
    leaf = make_cert('Leaf', leaf_key, root, key, ca=False)
    with pytest.raises(CertificateProblem) as caught:
        verify_chain(CertChain(leaf), [root])
    assert (caught.value.kind, caught.value.subject) == ('expired', 'OldRoot')


def test_from_der_rejects_garbage():
    with pytest.raises(CertificateProblem) as caught:
        CertChain.from_der(b'not a certificate', [])
    assert caught.value.kind == 'invalid'


def test_names_and_expiry(pki):
    root = der(pki, 'v2gRootCACert.der')
    leaf = der(pki, 'contractLeafCert.der')
    assert common_name(leaf) == leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name(root) == 'V2GRootCA'
    ids = issuer_serial(root)
    assert ids == {'X509IssuerName': root.issuer.rfc4514_string(),
                   'X509SerialNumber': root.serial_number}
    assert 'CN=V2GRootCA' in ids['X509IssuerName']
    small = SmallPki(days=10)
    assert not expires_within(small.leaf, 3600)
    assert expires_within(small.leaf, 30 * 86400)
    assert expires_within(small.leaf, 0, now=NOW + timedelta(days=20))


# -- identity -------------------------------------------------------------------------------

def test_load_the_test_pki(pki):
    identity = EvIdentity.load(pki)
    assert identity.emaid == common_name(der(pki, 'contractLeafCert.der'))
    assert identity.emaid and identity.contract_key is not None and identity.oem_key is not None
    assert [common_name(c) for c in identity.contract_chain.subs] == [
        common_name(der(pki, 'moSubCA2Cert.der')), common_name(der(pki, 'moSubCA1Cert.der'))]
    assert common_name(identity.oem_chain.leaf) == common_name(der(pki, 'oemLeafCert.der'))
    assert len(identity.oem_chain.subs) == 2
    assert identity.contract_problem() is None
    ids = identity.root_certificate_ids()
    assert [i['X509SerialNumber'] for i in ids] == [der(pki, 'v2gRootCACert.der').serial_number,
                                                    der(pki, 'moRootCACert.der').serial_number]
    problem = identity.contract_problem(now=NOW + timedelta(days=3650))
    assert problem is not None and problem.kind == 'expired'


def test_missing_v2g_root_names_the_path(pki, tmp_path):
    copy = fresh_copy(pki, tmp_path)
    for suffix in ('der', 'pem'):
        (certs_of(copy) / f'v2gRootCACert.{suffix}').unlink()
    with pytest.raises(IdentityError) as caught:
        EvIdentity.load(copy)
    assert 'v2gRootCACert' in str(caught.value)


def test_optional_parts_may_be_missing(pki, tmp_path):
    copy = fresh_copy(pki, tmp_path)
    for name in ('contractLeafCert.der', 'contractLeafCert.pem', 'moRootCACert.der',
                 'moRootCACert.pem', 'oemLeafCert.der', 'oemLeafCert.pem'):
        (certs_of(copy) / name).unlink()
    identity = EvIdentity.load(copy)
    assert (identity.emaid, identity.contract_chain, identity.oem_chain) == (None, None, None)
    assert identity.mo_roots == ()
    assert identity.contract_problem() is not None


@pytest.mark.parametrize('damage', ['wrong_password', 'corrupted_key', 'corrupted_cert',
                                    'other_key', 'unreadable'])
def test_broken_files_raise_identity_error_naming_the_file(pki, tmp_path, damage):
    copy = fresh_copy(pki, tmp_path)
    key = keys_of(copy) / 'contractLeaf.key'
    target = key
    if damage == 'wrong_password':
        (keys_of(copy) / 'contractLeafPassword.txt').write_text('wrong\n')
    elif damage == 'corrupted_key':
        text = key.read_text().splitlines()
        key.write_text('\n'.join(text[:3] + ['AAAA' + line[4:] for line in text[3:-1]]
                                 + text[-1:]) + '\n')
    elif damage == 'corrupted_cert':
        target = certs_of(copy) / 'contractLeafCert.der'
        target.write_bytes(target.read_bytes()[:100])
    elif damage == 'other_key':
        shutil.copy(keys_of(copy) / 'oemLeaf.key', key)
        shutil.copy(keys_of(copy) / 'oemLeafPassword.txt', keys_of(copy) / 'contractLeafPassword.txt')
    elif damage == 'unreadable':
        key.unlink()
        key.mkdir()   # reading a directory fails even as root
    with pytest.raises(IdentityError) as caught:
        EvIdentity.load(copy)
    assert caught.value.path == target
    assert str(target) in str(caught.value)


def test_install_contract_round_trip(pki, tmp_path):
    copy = fresh_copy(pki, tmp_path)
    identity = EvIdentity.load(copy)
    small = SmallPki()
    identity.install_contract(small.chain, small.leaf_key)
    assert identity.emaid == 'LEAF-EMAID'
    again = EvIdentity.load(copy)
    assert again.emaid == 'LEAF-EMAID'
    assert again.contract_chain == small.chain
    assert again.contract_key.private_numbers() == small.leaf_key.private_numbers()
    pem = (keys_of(copy) / 'contractLeaf.key').read_bytes()
    assert b'ENCRYPTED' in pem   # contractLeafPassword.txt exists in the test PKI
    assert not list(certs_of(copy).glob('.*')) and not list(keys_of(copy).glob('.*'))
    # the real chain back, no password file: stored unencrypted, owner-only
    (keys_of(copy) / 'contractLeafPassword.txt').unlink()
    original = EvIdentity.load(pki)
    again.install_contract(original.contract_chain, original.contract_key)
    key_file = keys_of(copy) / 'contractLeaf.key'
    assert b'ENCRYPTED' not in key_file.read_bytes()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    third = EvIdentity.load(copy)
    assert third.emaid == original.emaid and third.contract_problem() is None


def test_install_contract_refuses_a_key_of_another_certificate(pki, tmp_path):
    copy = fresh_copy(pki, tmp_path)
    identity = EvIdentity.load(copy)
    before = (certs_of(copy) / 'contractLeafCert.der').read_bytes()
    small = SmallPki()
    with pytest.raises(CertificateProblem) as caught:
        identity.install_contract(small.chain, new_key())
    assert (caught.value.kind, caught.value.subject) == ('wrong_key', 'LEAF-EMAID')
    assert (certs_of(copy) / 'contractLeafCert.der').read_bytes() == before


def test_two_identities_are_independent(pki, tmp_path_factory):
    from iso15118_ev_testing.pki import create_pki
    other = create_pki(tmp_path_factory.mktemp('pki2') / 'pki')
    first, second = EvIdentity.load(pki), EvIdentity.load(other)
    assert first.contract_chain.leaf != second.contract_chain.leaf
    small = SmallPki()
    copy = fresh_copy(other, tmp_path_factory.mktemp('copy'))
    third = EvIdentity.load(copy)
    third.install_contract(small.chain, small.leaf_key)
    assert first.emaid == EvIdentity.load(pki).emaid != third.emaid
    # the second PKI's contract chain does not verify against the first PKI's roots
    problem = verify_chain_problem(second.contract_chain, first.mo_roots + first.v2g_roots)
    assert problem.kind == 'untrusted_root'


def verify_chain_problem(chain, roots):
    try:
        verify_chain(chain, roots)
    except CertificateProblem as problem:
        return problem
    raise AssertionError('the chain verified')


# -- contract key ---------------------------------------------------------------------------

def test_decrypt_a_key_the_reference_charger_encrypted(pki):
    from iso15118.shared.security import encrypt_priv_key
    identity = EvIdentity.load(pki)
    contract = new_key()
    dh_public, encrypted = encrypt_priv_key(oem_prov_cert=identity.oem_chain.leaf_der(),
                                            priv_key_to_encrypt=contract)
    recovered = decrypt_contract_key(identity.oem_key, dh_public, encrypted)
    assert recovered.private_numbers() == contract.private_numbers()
    assert (recovered.public_key().public_numbers()
            == contract.public_key().public_numbers())


def test_encrypt_contract_key_is_read_by_the_reference_decrypt(pki):
    from iso15118.shared.security import decrypt_priv_key
    identity = EvIdentity.load(pki)
    contract = new_key()
    point, encrypted = encrypt_contract_key(identity.oem_chain.leaf.public_key(), contract)
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    scalar = decrypt_priv_key(encrypted, identity.oem_key, peer)
    assert int.from_bytes(scalar, 'big') == contract.private_numbers().private_value
    assert (decrypt_contract_key(identity.oem_key, point, encrypted).private_numbers()
            == contract.private_numbers())


@pytest.mark.parametrize('damage, words', [
    ('short_point', 'uncompressed'), ('compressed_point', 'uncompressed'),
    ('off_curve', 'not a point'), ('short_data', 'expected 48 bytes'),
    ('long_data', 'expected 48 bytes'), ('wrong_oem_key', 'P-256 EC private key')])
def test_malformed_contract_key_input(pki, damage, words):
    identity = EvIdentity.load(pki)
    contract = new_key()
    point, encrypted = encrypt_contract_key(identity.oem_chain.leaf.public_key(), contract)
    oem_key = identity.oem_key
    if damage == 'short_point':
        point = point[:40]
    elif damage == 'compressed_point':
        point = contract.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.CompressedPoint)
    elif damage == 'off_curve':
        point = point[:-1] + bytes([point[-1] ^ 1])
    elif damage == 'short_data':
        encrypted = encrypted[:40]
    elif damage == 'long_data':
        encrypted += bytes(16)
    elif damage == 'wrong_oem_key':
        oem_key = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(SecurityProblem) as caught:
        decrypt_contract_key(oem_key, point, encrypted)
    assert words in str(caught.value)


def test_wrong_oem_key_gives_another_key_or_a_clear_error(pki):
    identity = EvIdentity.load(pki)
    contract = new_key()
    point, encrypted = encrypt_contract_key(identity.oem_chain.leaf.public_key(), contract)
    try:
        other = decrypt_contract_key(new_key(), point, encrypted)
    except SecurityProblem as problem:
        assert 'not a P-256 private key' in str(problem)
    else:
        assert other.private_numbers() != contract.private_numbers()
