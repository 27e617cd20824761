"""Key helpers: which keys match, and checking an X.509 signature with an issuer's key."""
from __future__ import annotations

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

PUBLIC_DER = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_der(key) -> bytes:
    """The SubjectPublicKeyInfo of a public or private key."""
    public = key.public_key() if hasattr(key, 'private_bytes') else key
    return public.public_bytes(*PUBLIC_DER)


def key_matches(cert: x509.Certificate, key) -> bool:
    """Whether the private key belongs to the certificate."""
    try:
        return public_der(key) == public_der(cert.public_key())
    except (AttributeError, TypeError, ValueError, UnsupportedAlgorithm):
        return False


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether the issuer's key made the certificate's signature."""
    try:
        public = issuer.public_key()
        data, signature = cert.tbs_certificate_bytes, cert.signature
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, data, ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, data, padding.PKCS1v15(), cert.signature_hash_algorithm)
        elif isinstance(public, (ed448.Ed448PublicKey, ed25519.Ed25519PublicKey)):
            public.verify(signature, data)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True
