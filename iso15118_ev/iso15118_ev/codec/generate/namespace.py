"""All grammars of one namespace, built from its XSDs: the document roots and, for namespaces
with signed parts, the fragment roots."""
from __future__ import annotations

from ..grammar import split_qname
from ..roots import NamespaceGrammars, Root
from ..schemas import COUNTED_REPEATS_FROM
from .builder import GrammarBuilder
from .xsd import load_schema


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
