"""Message signatures: ISO 15118-2 Annex J and ISO 15118-20 (8.4): XML DSig over EXI.

Each signed element (a fragment root with an 'Id') is EXI-encoded as a fragment of the
message's namespace; its digest goes into a Reference ('#Id'). The SignedInfo is
EXI-encoded as a fragment of the xmldsig namespace (what the `iso15118` package's chargers
sign and check) and signed; the SignatureValue is raw: r || s for ECDSA (each the curve's
size: 32 bytes for P-256, 66 for P-521), the 114-byte signature for Ed448.

Keys: P-256 -> ecdsa-sha256 with sha256 digests (ISO 15118-2, and what -20 chargers of the
`iso15118` package check); P-521 -> ecdsa-sha512 with sha512 digests, Ed448 -> eddsa-ed448
with shake256 (64-byte) digests (ISO 15118-20).
"""
from __future__ import annotations

import base64
import binascii
from typing import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature, encode_dss_signature)

from ..codec.namespaces import XMLDSIG
from .certificates import common_name
from .errors import SecurityProblem, SignatureProblem

CANONICAL_EXI = 'http://www.w3.org/TR/canonical-exi/'
ECDSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256'
ECDSA_SHA384 = 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384'
ECDSA_SHA512 = 'http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512'
EDDSA_ED448 = 'http://www.w3.org/2021/04/xmldsig-more#eddsa-ed448'
SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256'
SHA384 = 'http://www.w3.org/2001/04/xmldsig-more#sha384'
SHA512 = 'http://www.w3.org/2001/04/xmlenc#sha512'
SHAKE256 = 'http://www.w3.org/2021/04/xmldsig-more#shake256'

ECDSA_HASHES = {ECDSA_SHA256: hashes.SHA256, ECDSA_SHA384: hashes.SHA384,
                ECDSA_SHA512: hashes.SHA512}
DIGESTS = {SHA256: lambda: hashes.SHA256(), SHA384: lambda: hashes.SHA384(),
           SHA512: lambda: hashes.SHA512(), SHAKE256: lambda: hashes.SHAKE256(64)}
# curve name -> (SignatureMethod, DigestMethod) of the signatures made with such a key
EC_ALGORITHMS = {'secp256r1': (ECDSA_SHA256, SHA256), 'secp384r1': (ECDSA_SHA384, SHA384),
                 'secp521r1': (ECDSA_SHA512, SHA512)}


def sign(codec, namespace: str, parts: Sequence[tuple[str, dict]], key,
         signed_info_namespace: str = XMLDSIG) -> dict:
    """The Signature (for the message Header) over `parts`: (Id, {root name: body}) each,
    the body carrying that 'Id'. SecurityProblem for an unsupported key or a bad part."""
    method, digest_method = algorithms_of(key)
    references = [_reference(codec, namespace, id_, element, digest_method)
                  for id_, element in parts]
    signed_info = {'CanonicalizationMethod': {'Algorithm': CANONICAL_EXI},
                   'SignatureMethod': {'Algorithm': method},
                   'Reference': references}
    data = codec.encode_object({'SignedInfo': signed_info}, signed_info_namespace)
    value = _raw_signature(key, method, data)
    return {'SignedInfo': signed_info,
            'SignatureValue': {'value': base64.b64encode(value).decode('ascii')}}


def verify(codec, namespace: str, signature: dict | None, parts: Sequence[tuple[str, dict]],
           signer: x509.Certificate, what: str) -> None:
    """Check `signature` (a Header's Signature) over `parts` with the signer's key.

    Every part must have a Reference ('#Id') whose digest matches the part's EXI fragment;
    the SignedInfo, re-encoded from the received dict (as an xmldsig fragment, or as a
    fragment of the message namespace as some codecs do), must verify. Raises
    SignatureProblem naming `what` and the failing item.
    """
    if not signature:
        raise SignatureProblem(what, 'Signature', 'no Signature in the header')
    signed_info = _field(signature, 'SignedInfo', what, 'Signature')
    references = _references(signed_info, what)
    for id_, element in parts:
        _check_reference(codec, namespace, id_, element, references, what)
    _check_signature_value(codec, namespace, signature, signed_info, signer, what)


def algorithms_of(key) -> tuple[str, str]:
    """(SignatureMethod, DigestMethod) URIs for signing with this private key."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in EC_ALGORITHMS:
        return EC_ALGORITHMS[key.curve.name]
    if isinstance(key, ed448.Ed448PrivateKey):
        return EDDSA_ED448, SHAKE256
    raise SecurityProblem(f'unsupported key type for signing: {_key_name(key)}')


def digest(algorithm_uri: str, data: bytes) -> bytes:
    h = hashes.Hash(DIGESTS[algorithm_uri]())
    h.update(data)
    return h.finalize()


def _key_name(key) -> str:
    curve = getattr(key, 'curve', None)
    return f'{type(key).__name__} ({curve.name})' if curve else type(key).__name__


def _encode_part(codec, namespace: str, id_: str, element: dict, what: str | None) -> bytes:
    if type(element) is not dict or len(element) != 1:
        raise _part_problem(what, id_, 'a part is {root element name: body}')
    (name, body), = element.items()
    if not isinstance(body, dict) or body.get('Id') != id_:
        raise _part_problem(what, id_, f"the {name} body does not carry Id {id_!r}")
    try:
        return codec.encode_object(element, namespace)
    except Exception as exc:  # the codec's errors: the element does not fit its schema
        raise _part_problem(what, id_, f'{name} cannot be EXI-encoded: {exc}') from None


def _part_problem(what, id_, detail):
    if what is None:
        return SecurityProblem(f"signing '#{id_}': {detail}")
    return SignatureProblem(what, f"reference '#{id_}'", detail)


def _reference(codec, namespace, id_, element, digest_method) -> dict:
    data = _encode_part(codec, namespace, id_, element, None)
    return {'URI': f'#{id_}',
            'Transforms': {'Transform': [{'Algorithm': CANONICAL_EXI}]},
            'DigestMethod': {'Algorithm': digest_method},
            'DigestValue': base64.b64encode(digest(digest_method, data)).decode('ascii')}


def _raw_signature(key, method: str, data: bytes) -> bytes:
    if method == EDDSA_ED448:
        return key.sign(data)
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(ECDSA_HASHES[method]())))
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, 'big') + s.to_bytes(size, 'big')


def _field(container, name: str, what: str, item: str):
    value = container.get(name) if isinstance(container, dict) else None
    if value is None:
        raise SignatureProblem(what, item, f'{name} is missing')
    return value


def _algorithm(container, name: str, what: str, item: str) -> str:
    value = _field(container, name, what, item)
    algorithm = value.get('Algorithm') if isinstance(value, dict) else None
    if not isinstance(algorithm, str):
        raise SignatureProblem(what, item, f'{name} has no Algorithm')
    return algorithm


def _references(signed_info, what: str) -> dict[str, dict]:
    references = _field(signed_info, 'Reference', what, 'SignedInfo')
    if isinstance(references, dict):
        references = [references]
    if _algorithm(signed_info, 'CanonicalizationMethod', what, 'SignedInfo') != CANONICAL_EXI:
        raise SignatureProblem(what, 'SignedInfo', 'CanonicalizationMethod is not canonical EXI')
    return {ref.get('URI'): ref for ref in references if isinstance(ref, dict)}


def _check_transforms(reference: dict, what: str, item: str) -> None:
    transforms = reference.get('Transforms')
    if transforms is None:
        return
    listed = transforms.get('Transform') if isinstance(transforms, dict) else None
    listed = [listed] if isinstance(listed, dict) else (listed or [])
    for transform in listed:
        if not isinstance(transform, dict) or transform.get('Algorithm') != CANONICAL_EXI:
            raise SignatureProblem(what, item, 'unsupported Transform (not canonical EXI)')


def _check_reference(codec, namespace, id_, element, references, what) -> None:
    item = f"reference '#{id_}'"
    reference = references.get(f'#{id_}')
    if reference is None:
        raise SignatureProblem(what, item, 'missing from SignedInfo')
    _check_transforms(reference, what, item)
    method = _algorithm(reference, 'DigestMethod', what, item)
    if method not in DIGESTS:
        raise SignatureProblem(what, item, f'unsupported DigestMethod {method}')
    received = _base64(_field(reference, 'DigestValue', what, item), what, item)
    data = _encode_part(codec, namespace, id_, element, what)
    if digest(method, data) != received:
        raise SignatureProblem(what, item, 'digest does not match the element')


def _base64(value, what: str, item: str) -> bytes:
    if isinstance(value, dict):
        value = value.get('value')
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise SignatureProblem(what, item, 'value is not base64') from None


def _signed_info_encodings(codec, namespace: str, signed_info: dict, what: str) -> list[bytes]:
    encodings, errors = [], []
    for ns in dict.fromkeys((XMLDSIG, namespace)):
        try:
            encodings.append(codec.encode_object({'SignedInfo': signed_info}, ns))
        except Exception as exc:  # the codec's errors
            errors.append(str(exc))
    if not encodings:
        raise SignatureProblem(what, 'SignedInfo', f'cannot be EXI-encoded: {errors[0]}')
    return encodings


def _check_signature_value(codec, namespace, signature, signed_info, signer, what) -> None:
    method = _algorithm(signed_info, 'SignatureMethod', what, 'SignedInfo')
    raw = _base64(_field(signature, 'SignatureValue', what, 'Signature'), what,
                  'SignatureValue')
    public = signer.public_key()
    for data in _signed_info_encodings(codec, namespace, signed_info, what):
        if _verifies(public, method, raw, data, what):
            return
    raise SignatureProblem(what, 'SignatureValue',
                           f"does not verify with the key of '{common_name(signer)}'")


def _verifies(public, method: str, raw: bytes, data: bytes, what: str) -> bool:
    try:
        if isinstance(public, ec.EllipticCurvePublicKey) and method in ECDSA_HASHES:
            size = (public.curve.key_size + 7) // 8
            if len(raw) != 2 * size:
                return False
            der = encode_dss_signature(int.from_bytes(raw[:size], 'big'),
                                       int.from_bytes(raw[size:], 'big'))
            public.verify(der, data, ec.ECDSA(ECDSA_HASHES[method]()))
        elif isinstance(public, ed448.Ed448PublicKey) and method == EDDSA_ED448:
            public.verify(raw, data)
        else:
            raise SignatureProblem(what, 'SignedInfo', f'SignatureMethod {method} does not '
                                   f'fit the signer key ({_key_name(public)})')
    except (InvalidSignature, UnsupportedAlgorithm, ValueError):
        return False
    return True
