"""What some chargers' EXI codecs cannot read in a valid message, though the schema allows it.

C codecs generated for the V2G schemas (libcbv2g in EVerest, OpenV2G) differ from EXIficient:
  * a list with exactly as many items as its maxOccurs ends differently in the exact form of
    EXI 1.0 (which our encoder writes where EXIficient does, below COUNTED_REPEATS_FROM) and
    in the loop form (which EXIficient writes from that bound on, and libcbv2g at every bound):
    a decoder of the other form reads the end of the list wrongly;
  * an empty string or binary value is a second-level end event, which they refuse;
  * they keep strings in fixed buffers, commonly 64 ASCII characters;
  * binary values of a type without a schema maxLength (xmldsig's X509Certificate,
    SignatureValue, ...) get a 350-byte buffer. Types with a larger maxLength (the certificate
    types, 800 to 1600 bytes) get buffers of that size, so only their maxLength applies.
"""
from __future__ import annotations

import base64

from .datatypes import BinaryType, StringType
from .grammar import END_KEY, EXIFICIENT, VALUE_KEY, TypeGrammar

MAX_STRING_CHARACTERS = 64
MAX_UNBOUNDED_BINARY_OCTETS = 350


def problems_of(grammar: TypeGrammar, value, path: str) -> list[str]:
    """The problems of one element (its grammar and JSON value, valid for the schema)."""
    found: list[str] = []
    _element(grammar, value, path, found)
    return found


def _element(grammar, value, path, found) -> None:
    if grammar.simple is not None:
        _value(grammar.simple, value, path, found)
        return
    state = grammar.states[0]
    for json_key, key in grammar.attributes:
        if json_key in value:
            production = state.by_key[key]
            _value(production.datatype, value[json_key], f'{path}/@{json_key}', found)
            state = production.target
    if grammar.simple_content is not None:
        # no characters are a first-level EE in a relaxed grammar (fragment roots like eMAID)
        if VALUE_KEY in value and (value[VALUE_KEY] or END_KEY not in state.by_key):
            _value(grammar.simple_content, value[VALUE_KEY], path, found)
        return
    for child in grammar.children:
        if child not in value:
            continue
        production = state.by_key[child]
        items = value[child]
        if not (production.is_list and type(items) is list):
            items = [items]
        for number, item in enumerate(items, 1):
            production = state.by_key[child]
            label = f'{child}[{number}]' if production.is_list else child
            _element(production.grammar, item, f'{path}/{label}', found)
            state = production.target
        if len(items) != production.bound:
            continue
        if production.at_bound[EXIFICIENT] is not production.target:
            found.append(f'{path}/{child}: {len(items)} items (its maxOccurs) end in the loop '
                         'form EXIficient writes at this bound, which decoders of the exact '
                         'form of EXI 1.0 misread')
        else:
            found.append(f'{path}/{child}: {len(items)} items (its maxOccurs) end in the exact '
                         'form of EXI 1.0 (as EXIficient writes it here), which decoders of the '
                         'loop form at every bound (libcbv2g) misread')


def _value(datatype, value, path, found) -> None:
    if isinstance(datatype, StringType):
        if value == '':
            found.append(f'{path}: an empty string is a second-level event')
        elif len(value) > MAX_STRING_CHARACTERS:
            found.append(f'{path}: {len(value)} characters, over {MAX_STRING_CHARACTERS}')
        if not value.isascii():
            found.append(f'{path}: characters outside ASCII')
    elif isinstance(datatype, BinaryType):
        size = len(value) // 2 if datatype.hex else len(base64.b64decode(value))
        if size == 0:
            found.append(f'{path}: an empty binary value is a second-level event')
        elif size > MAX_UNBOUNDED_BINARY_OCTETS and datatype.max_length is None:
            found.append(f'{path}: {size} octets, over {MAX_UNBOUNDED_BINARY_OCTETS} in a type '
                         'without a maxLength')
