"""Walks the grammars: JSON values to EXI events and back."""
from __future__ import annotations

from .bitstream import BitReader, BitWriter
from .errors import ExiDecodeError, ExiEncodeError
from .grammar import (AT, AT_ANY, BEYOND, CH, CHARACTERS_KEY, EE, END_KEY, SE, SE_ANY, VALUE_KEY,
                      TypeGrammar)


MANY_CHILDREN = 12
UNSUPPORTED = {CH: 'text in mixed content', SE_ANY: 'wildcard content',
               AT_ANY: 'an attribute wildcard', SE: 'a child of a relaxed element fragment'}


def encode_element(w: BitWriter, grammar: TypeGrammar, value, name: str) -> None:
    """The content of one element (after its SE event), up to and including its EE."""
    datatype = grammar.simple
    if datatype is not None:
        if value == '' and datatype.empty_is_end:
            w.write(1, 1)         # no characters: EE on the second level, code 0 of 3 bits
            w.write(0, grammar.states[0].second_width)
            return
        w.write(0, 1)             # CH, the only first-level production of a simple type
        try:
            datatype.encode(w, value)
        except ExiEncodeError as exc:
            raise ExiEncodeError(f'{name}: {exc}') from None
        w.write(0, 1)             # EE
        return
    if type(value) is not dict:
        raise ExiEncodeError(f'{name}: expected an object, got {value!r}')
    state = grammar.states[0]
    used = 0
    for json_key, key in grammar.attributes:
        if json_key in value:
            state = _write_value(w, state, key, value[json_key], name, json_key)
            used += 1
    if grammar.simple_content is not None:
        if value.get(VALUE_KEY) == '' and grammar.simple_content.empty_is_end:
            used += 1
        elif VALUE_KEY in value:
            state = _write_value(w, state, CHARACTERS_KEY, value[VALUE_KEY], name, VALUE_KEY)
            used += 1
    else:
        children = grammar.children
        if len(children) > MANY_CHILDREN:  # a Body names one of dozens of messages
            children = _given_in_schema_order(grammar, value)
        for child in children:
            if child not in value:
                continue
            used += 1
            items = value[child]
            production = _production(state, child, name, child)
            if production.is_list and type(items) is list:
                if not items:
                    continue
                if production.bound and len(items) > production.bound:
                    raise ExiEncodeError(f'{name}: {len(items)} {child}, at most '
                                         f'{production.bound} allowed')
            else:  # a repeatable element given as one object is one item (as EXIficient takes it)
                items = (items,)
            for item in items:
                production = _production(state, child, name, child)
                w.write(production.code, state.width)
                encode_element(w, production.grammar, item, child)
                state = production.target
    if used != len(value):
        unknown = sorted(set(value) - set(grammar.children) - {a for a, _ in grammar.attributes}
                         - ({VALUE_KEY} if grammar.simple_content is not None else set()))
        raise ExiEncodeError(f'{name}: unknown field(s) {unknown}')
    end = state.by_key.get(END_KEY)
    if end is not None:
        w.write(end.code, state.width)
    elif grammar.simple_content is not None and value.get(VALUE_KEY) == '':
        w.write(len(state.productions), state.width)
        w.write(0, state.second_width)
    else:
        expected = [p.name for p in state.productions if p.kind in (SE, AT, CH)]
        raise ExiEncodeError(f'{name}: incomplete, expected one of {expected}')


def _given_in_schema_order(grammar: TypeGrammar, value: dict) -> list:
    """The children present in `value`, in schema order, without scanning every child."""
    order = grammar.child_order
    given = [key for key in value if key in order]
    given.sort(key=order.__getitem__)
    return given


def _production(state, key, name, field):
    production = state.by_key.get(key)
    if production is None:
        expected = [p.name or 'end' for p in state.productions]
        raise ExiEncodeError(f'{name}: {field!r} not allowed here, expected one of {expected}')
    return production


def _write_value(w, state, key, value, name, field):
    """An AT or CH event with its value; the state after it."""
    production = _production(state, key, name, field)
    w.write(production.code, state.width)
    try:
        production.datatype.encode(w, value)
    except ExiEncodeError as exc:
        raise ExiEncodeError(f'{name}.{field}: {exc}') from None
    return production.target


class FormReader(BitReader):
    """The stream being decoded, and how lists at their bound end in it (one of grammar.FORMS).

    ``bounds`` gets the production of each list that reaches its bound: the forms read a
    stream alike up to the first.
    """

    __slots__ = ('form', 'bounds')

    def __init__(self, data: bytes, form: int) -> None:
        super().__init__(data)
        self.form = form
        self.bounds: list = []


def decode_element(r: FormReader, grammar: TypeGrammar):
    """The content of one element after its SE event: a JSON value."""
    datatype = grammar.simple
    if datatype is not None:
        if r.read(1):
            if not datatype.empty_is_end:
                raise ExiDecodeError(f'{grammar.name}: no value (second-level event)')
            _second_level_end(r, grammar.states[0], grammar.name)
            return ''
        value = datatype.decode(r)
        if r.read(1):
            raise ExiDecodeError(f'{grammar.name}: second-level event instead of the end')
        return value
    state = grammar.states[0]
    out: dict = {}
    while True:
        code = r.read(state.width)
        productions = state.productions
        if code >= len(productions):
            if (grammar.simple_content is None or VALUE_KEY in out
                    or not grammar.simple_content.empty_is_end):
                raise ExiDecodeError(f'{grammar.name}: second-level event (content the schema '
                                     'does not declare, or an element ended too early)')
            _second_level_end(r, state, grammar.name)
            out[VALUE_KEY] = ''
            return out
        production = productions[code]
        kind = production.kind
        if kind == SE and production.grammar is not None:
            child = decode_element(r, production.grammar)
            if production.is_list:
                items = out.setdefault(production.name, [])
                items.append(child)
                if len(items) == production.bound:
                    r.bounds.append(production)
                    state = production.at_bound[r.form]
                    continue
            else:
                out[production.name] = child
        elif kind == EE:
            if grammar.simple_content is not None:  # a relaxed grammar's EE before any CH
                out.setdefault(VALUE_KEY, '')
            return out
        elif kind == AT or (kind == CH and grammar.simple_content is not None):
            out[production.name] = production.datatype.decode(r)
        elif kind == BEYOND:
            raise ExiDecodeError(f'{grammar.name}: more {production.name} than the schema '
                                 'allows')
        else:
            raise ExiDecodeError(f'{grammar.name}: {UNSUPPORTED[kind]} is not supported')
        state = production.target


def _second_level_end(r: BitReader, state, name: str) -> None:
    """The one second-level event of valid messages: EE of an element with an empty value."""
    if not state.second_level_end or r.read(state.second_width) != 0:
        raise ExiDecodeError(f'{name}: second-level event other than an empty value\'s end')
