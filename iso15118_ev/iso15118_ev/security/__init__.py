"""Plug & Charge security of the EV: certificates, keys, message signatures, contract keys.

Needs the `cryptography` package (the library's only run dependency).
"""
from .certificates import (CertChain, common_name, expires_within, issuer_serial,
                           verify_chain)
from .contract_key import decrypt_contract_key, encrypt_contract_key
from .errors import CertificateProblem, IdentityError, SecurityProblem, SignatureProblem
from .identity import EvIdentity
from .xmldsig import sign, verify

__all__ = ['CertChain', 'CertificateProblem', 'EvIdentity', 'IdentityError',
           'SecurityProblem', 'SignatureProblem', 'common_name', 'decrypt_contract_key',
           'encrypt_contract_key', 'expires_within', 'issuer_serial', 'sign', 'verify',
           'verify_chain']
