"""All grammars of one namespace, built from its XSDs: the document roots and, for namespaces
with signed parts, the fragment roots."""
from __future__ import annotations

from ..grammar import split_qname
from ..roots import NamespaceGrammars, Root
from ..schemas import COUNTED_REPEATS_FROM
from .builder import GrammarBuilder
from .relaxed import relaxed_grammar
from .xsd import load_schema


def build_namespace(namespace: str) -> NamespaceGrammars:
    """All grammars of a namespace, from its XSDs (about 20-100 ms per namespace)."""
    builder = GrammarBuilder(load_schema(namespace), COUNTED_REPEATS_FROM.get(namespace))
    document = [Root(code, element.name, grammar=builder.element_grammar(element))
                for code, element in enumerate(builder.global_elements())]
    grammars = NamespaceGrammars(namespace, document, None)
    if not grammars.fragment_names:
        return grammars
    elements = _all_element_declarations(builder)
    fragment = [Root(code, element.name) for code, element in enumerate(elements)]
    for root, element in zip(fragment, elements):
        if not grammars.is_fragment(root.name):
            continue
        if type(element) is _Ambiguous:
            root.grammar = relaxed_grammar(builder, element.name, element.declarations, elements)
        else:
            root.grammar = builder.element_grammar(element)
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
        _add_declaration(found, element)
        xsd_type = element.type
        if id(xsd_type) in seen_types or xsd_type.is_simple() or xsd_type.has_simple_content():
            continue
        seen_types.add(id(xsd_type))
        stack.extend(e for e in xsd_type.content.iter_elements()
                     if type(e).__name__ == 'XsdElement')
    return sorted(found.values(), key=lambda e: split_qname(e.name))


def _add_declaration(found: dict, element) -> None:
    known = found.setdefault(element.name, element)
    if known.type is element.type:
        return
    if type(known) is not _Ambiguous:
        known = found[element.name] = _Ambiguous(known)
    known.declarations.append(element)


class _Ambiguous:
    """A name declared with different types: EXI's relaxed element fragment grammar."""

    def __init__(self, first):
        self.name = first.name
        self.type = None
        self.declarations = [first]
