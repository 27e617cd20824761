"""The relaxed element fragment grammar (EXI 1.0 section 8.5.3) of a fragment root declared with
several types, such as -2's eMAID (a string in PaymentDetailsReq, EMAIDType with an Id
attribute in CertificateInstallationRes).

Its first state has an AT for every attribute qname of the schema set, AT(*), an SE for every
element qname, SE(*), EE and CH; after content, the SE productions, SE(*), EE and CH. As
EXIficient builds it, the qnames are sorted by local name then URI; an attribute's value has
its type when every declaration of that qname has the same type, else it is a string, and
characters are always strings.

JSON shape: the attributes by local name (qualified in Clark notation when another attribute
of that local name is not one of the root's own), the characters under 'value' (no characters
decode as ''). Child elements are not supported.
"""
from __future__ import annotations

from ..datatypes import UNTYPED
from ..errors import ExiSchemaError
from ..grammar import (AT, AT_ANY, CH, CHARACTERS_KEY, CONTENT, EE, END_KEY, FIRST_START_TAG,
                       SE, SE_ANY, VALUE_KEY, Production, State, TypeGrammar, attribute_key,
                       split_qname)

XSD_TYPES = '{http://www.w3.org/2001/XMLSchema}'
# Xerces lists a schema set's global attributes without these, which xmlschema always has.
BUILT_IN_ATTRIBUTE_NAMESPACES = ('http://www.w3.org/XML/1998/namespace',
                                 'http://www.w3.org/2001/XMLSchema-instance')


def relaxed_grammar(builder, name: str, declarations: list, elements: list) -> TypeGrammar:
    """The grammar of root `name` (its element declarations) among all element declarations of
    the fragment grammar (one per qname, sorted as its SE productions)."""
    datatypes = _attribute_datatypes(builder, elements)
    qnames = sorted(datatypes, key=split_qname)
    keys = _json_keys(name, qnames, _attributes_of(_types(declarations)))
    start, content = State(FIRST_START_TAG), State(CONTENT)
    start.productions = [Production(AT, keys[q], attribute_key(keys[q]), start,
                                    datatype=datatypes[q]) for q in qnames]
    start.productions.append(Production(AT_ANY, '*', '@*', start))
    for state in (start, content):
        state.productions += [Production(SE, split_qname(e.name)[0], e.name, content)
                              for e in elements]
        state.productions += [Production(SE_ANY, '*', '*', content),
                              Production(EE, '', END_KEY),
                              Production(CH, VALUE_KEY, CHARACTERS_KEY, content, datatype=UNTYPED)]
        state.seal()
    grammar = TypeGrammar(f'{name} (relaxed)', simple_content=UNTYPED,
                          attributes=tuple((keys[q], attribute_key(keys[q])) for q in qnames))
    grammar.states = [start, content]
    return grammar


def _types(declarations) -> list:
    """The complex types of element declarations, each once."""
    found = {id(d.type): d.type for d in declarations if not d.type.is_simple()}
    return list(found.values())


def _attributes_of(types) -> dict:
    """Attribute declarations of the types by qname."""
    found: dict[str, list] = {}
    for xsd_type in types:
        for qname, attribute in xsd_type.attributes.items():
            if qname is not None and attribute.use != 'prohibited':
                found.setdefault(qname, []).append(attribute)
    return found


def _attribute_datatypes(builder, elements) -> dict:
    """Every attribute qname of the schema set: its datatype when all its declarations have
    the same type, else the untyped string."""
    schema = builder.schema
    declarations = [d for e in elements for d in getattr(e, 'declarations', (e,))]
    named = [t for qname, t in schema.maps.types.items()
             if not qname.startswith(XSD_TYPES) and not t.is_simple()]
    found = _attributes_of(_types(declarations) + named)
    for qname, attribute in schema.maps.attributes.items():
        if attribute.target_namespace not in BUILT_IN_ATTRIBUTE_NAMESPACES:
            found.setdefault(qname, []).append(attribute)
    return {qname: (builder.datatype(uses[0].type)
                    if all(use.type is uses[0].type for use in uses) else UNTYPED)
            for qname, uses in found.items()}


def _json_keys(name: str, qnames: list, own: dict) -> dict:
    """The JSON key of each attribute qname: its local name if it is the root's own or no
    other attribute has that local name, else '{uri}local' ('{}local' without a namespace)."""
    local_names = [split_qname(q)[0] for q in qnames]
    own_locals = [split_qname(q)[0] for q in own]
    if len(set(own_locals)) != len(own_locals):
        raise ExiSchemaError(f'{name}: attributes of one local name in several namespaces')
    return {q: local if q in own or local_names.count(local) == 1
            else '{%s}%s' % split_qname(q)[::-1] for q, local in zip(qnames, local_names)}
