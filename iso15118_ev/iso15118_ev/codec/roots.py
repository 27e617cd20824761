"""The roots of each namespace's EXI streams: document and fragment grammars."""
from __future__ import annotations

from .grammar import split_qname
from .namespaces import XMLDSIG
from .schemas import FRAGMENT_ROOTS


class Root:
    """A root element: its event code in the document or fragment grammar, and its grammar."""

    __slots__ = ('code', 'qname', 'name', 'grammar')

    def __init__(self, code: int, qname: str, grammar=None):
        self.code = code
        self.qname = qname
        self.name = split_qname(qname)[0]
        self.grammar = grammar


class NamespaceGrammars:
    """The document and fragment roots of one namespace's schema set, with their grammars."""

    def __init__(self, namespace: str, document: list, fragment: list | None):
        self.namespace = namespace
        self.fragment_names = (frozenset({'*'}) if namespace == XMLDSIG
                               else FRAGMENT_ROOTS.get(namespace, frozenset()))
        self.document_codes = document
        self.document = _by_name(document)
        self.document_width = len(document).bit_length()       # n elements and SE(*)
        self.fragment_codes = fragment or []
        self.fragment = _by_name(self.fragment_codes)
        self.fragment_end = len(self.fragment_codes) + 1        # after SE(*): ED
        self.fragment_width = self.fragment_end.bit_length()

    def is_fragment(self, root_name: str) -> bool:
        return '*' in self.fragment_names or root_name in self.fragment_names


def _by_name(roots: list) -> dict:
    found: dict[str, Root] = {}
    for root in roots:
        found.setdefault(root.name, root)
    return found
