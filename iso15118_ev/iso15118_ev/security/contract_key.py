"""The contract private key of a CertificateInstallationRes / CertificateUpdateRes (-2).

ISO 15118-2 [V2G2-818..]: the secondary actor encrypts the 32-byte private scalar with
AES-128-CBC under a key derived from ECDH(its ephemeral key, the OEM provisioning key) by
the NIST SP 800-56A Concat KDF (SHA-256, 128-bit key, OtherInfo = AlgorithmID 0x01,
PartyUInfo 0x55 'U', PartyVInfo 0x56 'V'); the 16-byte IV precedes the ciphertext. The
ephemeral public key comes in DHpublickey as an uncompressed P-256 point.
"""
from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from .errors import SecurityProblem

OTHER_INFO = bytes((0x01, 0x55, 0x56))
KEY_BYTES = 16
IV_BYTES = 16
SCALAR_BYTES = 32
POINT_BYTES = 65


def session_key(private_key: ec.EllipticCurvePrivateKey,
                peer: ec.EllipticCurvePublicKey) -> bytes:
    """The AES-128 key: Concat KDF (SHA-256) of the ECDH shared secret."""
    shared = private_key.exchange(ec.ECDH(), peer)
    kdf = ConcatKDFHash(algorithm=hashes.SHA256(), length=KEY_BYTES, otherinfo=OTHER_INFO)
    return kdf.derive(shared)


def _peer_point(dh_public_key: bytes) -> ec.EllipticCurvePublicKey:
    data = bytes(dh_public_key)
    if len(data) != POINT_BYTES or data[0] != 0x04:
        raise SecurityProblem(f'DHpublickey: expected an uncompressed P-256 point of '
                              f'{POINT_BYTES} bytes starting with 0x04, got {len(data)} bytes')
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
    except ValueError:
        raise SecurityProblem('DHpublickey: not a point on P-256') from None


def decrypt_contract_key(oem_key, dh_public_key: bytes,
                         encrypted: bytes) -> ec.EllipticCurvePrivateKey:
    """The contract private key, from ContractSignatureEncryptedPrivateKey (IV + data)."""
    if not (isinstance(oem_key, ec.EllipticCurvePrivateKey)
            and isinstance(oem_key.curve, ec.SECP256R1)):
        raise SecurityProblem('the OEM provisioning key must be a P-256 EC private key')
    peer = _peer_point(dh_public_key)
    encrypted = bytes(encrypted)
    if len(encrypted) != IV_BYTES + SCALAR_BYTES:
        raise SecurityProblem(f'ContractSignatureEncryptedPrivateKey: expected '
                              f'{IV_BYTES + SCALAR_BYTES} bytes (IV + AES-128-CBC of the '
                              f'key), got {len(encrypted)}')
    cipher = Cipher(algorithms.AES(session_key(oem_key, peer)),
                    modes.CBC(encrypted[:IV_BYTES]))
    decryptor = cipher.decryptor()
    scalar = int.from_bytes(decryptor.update(encrypted[IV_BYTES:]) + decryptor.finalize(),
                            'big')
    try:
        return ec.derive_private_key(scalar, ec.SECP256R1())
    except ValueError:
        raise SecurityProblem('ContractSignatureEncryptedPrivateKey: the decrypted value is '
                              'not a P-256 private key (wrong OEM key or DHpublickey?)') from None


def encrypt_contract_key(oem_public_key: ec.EllipticCurvePublicKey,
                         contract_key: ec.EllipticCurvePrivateKey) -> tuple[bytes, bytes]:
    """The secondary actor's side (for test chargers): (DHpublickey, IV + ciphertext)."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    point = ephemeral.public_key().public_bytes(serialization.Encoding.X962,
                                                serialization.PublicFormat.UncompressedPoint)
    iv = os.urandom(IV_BYTES)
    encryptor = Cipher(algorithms.AES(session_key(ephemeral, oem_public_key)),
                       modes.CBC(iv)).encryptor()
    scalar = contract_key.private_numbers().private_value.to_bytes(SCALAR_BYTES, 'big')
    return point, iv + encryptor.update(scalar) + encryptor.finalize()
