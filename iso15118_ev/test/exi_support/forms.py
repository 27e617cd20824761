"""Test-only encoder that writes a document in any of the decoding forms (grammar.FORMS).

The codec's encoder writes what EXIficient writes; this one writes the loop form at every
bound (as libcbv2g does) or the exact form at every bound (EXI 1.0), walking the same states
the decoder walks in that form. Items beyond a list's bound are written with the code of the
BEYOND production there (the loop form's code for another item), for checking that the decoder
refuses them.
"""
from __future__ import annotations

from iso15118_ev.codec.bitstream import BitWriter
from iso15118_ev.codec.codec import EXI_HEADER
from iso15118_ev.codec.coder import encode_element
from iso15118_ev.codec.grammar import BEYOND, END_KEY


def encode_in_form(codec, document: dict, namespace: str, form: int) -> bytes:
    (name, value), = document.items()
    grammars = codec.grammars(namespace)
    root = grammars.document[name]
    w = BitWriter()
    w.write(EXI_HEADER, 8)
    w.write(root.code, grammars.document_width)
    _element(w, root.grammar, value, form)
    return w.getvalue()


def _write(w, state, key):
    for code, production in enumerate(state.productions):
        if production.key == key:
            w.write(code, state.width)
            return production
    raise AssertionError(f'{key!r} is not in this state')


def _element(w, grammar, value, form) -> None:
    if grammar.simple is not None or grammar.simple_content is not None:
        encode_element(w, grammar, value, grammar.name)  # no repeats inside
        return
    state = grammar.states[0]
    for json_key, key in grammar.attributes:
        if json_key in value:
            production = _write(w, state, key)
            production.datatype.encode(w, value[json_key])
            state = production.target
    for child in grammar.children:
        if child not in value:
            continue
        items = value[child] if type(value[child]) is list else [value[child]]
        item_production = None
        for count, item in enumerate(items, 1):
            production = _write(w, state, child)
            if production.kind == BEYOND:
                _element(w, item_production.grammar, item, form)
                continue
            item_production = production
            _element(w, production.grammar, item, form)
            state = production.at_bound[form] if count == production.bound else production.target
    _write(w, state, END_KEY)
