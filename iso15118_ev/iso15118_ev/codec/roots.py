"""The roots of each namespace's EXI streams: document and fragment grammars."""
from __future__ import annotations

from .grammar import GrammarBuilder, split_qname
from .schemas import COUNTED_REPEATS_FROM, FRAGMENT_ROOTS, XMLDSIG, load_schema


class Root:
    """A root element: its event code in the document or fragment grammar, and its grammar."""

    __slots__ = ('code', 'qname', 'name', 'ambiguous', 'grammar')

    def __init__(self, code: int, qname: str, ambiguous: bool = False, grammar=None):
        self.code = code
        self.qname = qname
        self.name = split_qname(qname)[0]
        self.ambiguous = ambiguous  # declared with several types: relaxed grammar, not built
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

    def serves_fragment(self, root: Root) -> bool:
        return not root.ambiguous and self.is_fragment(root.name)


def _by_name(roots: list) -> dict:
    found: dict[str, Root] = {}
    for root in roots:
        found.setdefault(root.name, root)
    return found


def build_namespace(namespace: str) -> NamespaceGrammars:
    """All grammars of a namespace, from its XSDs (about 20-100 ms per namespace)."""
    builder = GrammarBuilder(load_schema(namespace), COUNTED_REPEATS_FROM.get(namespace))
    document = [Root(code, element.name, grammar=builder.element_grammar(element))
                for code, element in enumerate(builder.global_elements())]
    grammars = NamespaceGrammars(namespace, document, None)
    if not grammars.fragment_names:
        return grammars
    fragment = []
    for code, element in enumerate(_all_element_declarations(builder)):
        root = Root(code, element.name, ambiguous=element.type is None)
        if grammars.serves_fragment(root):
            root.grammar = builder.element_grammar(element)
        fragment.append(root)
    return NamespaceGrammars(namespace, document, fragment)


def _all_element_declarations(builder) -> list:
    """Every element declaration, global and local, one per qualified name, sorted."""
    found: dict[str, object] = {}
    seen_types: set[int] = set()
    stack = list(builder.global_elements())
    for xsd_type in builder.named_complex_types():  # used or not, as Xerces lists them
        stack.extend(e for e in xsd_type.content.iter_elements()
                     if type(e).__name__ == 'XsdElement')
    while stack:
        element = stack.pop()
        if getattr(element, 'ref', None) is not None:
            element = element.ref
        if element.name in found and found[element.name].type is not element.type:
            found[element.name] = _Ambiguous(element.name)
        found.setdefault(element.name, element)
        xsd_type = element.type
        if id(xsd_type) in seen_types or xsd_type.is_simple() or xsd_type.has_simple_content():
            continue
        seen_types.add(id(xsd_type))
        stack.extend(e for e in xsd_type.content.iter_elements()
                     if type(e).__name__ == 'XsdElement')
    return sorted(found.values(), key=lambda e: split_qname(e.name))


class _Ambiguous:
    """A name declared with different types: EXI's relaxed element fragment grammar."""

    def __init__(self, name):
        self.name = name
        self.type = None
