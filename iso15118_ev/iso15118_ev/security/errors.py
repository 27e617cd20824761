"""The security problems: each str() is a short message naming the file, certificate or
signature concerned."""
from __future__ import annotations

from pathlib import Path

CERTIFICATE_KINDS = frozenset({'expired', 'not_yet_valid', 'untrusted_root', 'bad_signature',
                               'chain_too_long', 'wrong_key', 'invalid'})


class SecurityProblem(Exception):
    """Base of the security errors (also raised for unsupported keys and bad input)."""


class IdentityError(SecurityProblem):
    """A certificate or key file is missing, unreadable or invalid (names the file)."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f'{self.path}: {reason}')


class CertificateProblem(SecurityProblem):
    """A certificate chain does not verify; `kind` says why, `subject` is the CN concerned."""

    def __init__(self, kind: str, subject: str, detail: str = ''):
        if kind not in CERTIFICATE_KINDS:
            raise ValueError(f'unknown certificate problem kind {kind!r}')
        self.kind = kind
        self.subject = subject
        self.detail = detail
        text = f"certificate '{subject}': {kind.replace('_', ' ')}"
        super().__init__(f'{text} ({detail})' if detail else text)


class SignatureProblem(SecurityProblem):
    """A message signature does not verify: names the message (`what`) and the item
    (a reference URI, 'SignatureValue', 'SignedInfo' or 'Signature')."""

    def __init__(self, what: str, item: str, detail: str):
        self.what = what
        self.item = item
        self.detail = detail
        super().__init__(f'{what}: {item}: {detail}')
