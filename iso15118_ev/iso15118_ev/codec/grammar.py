"""Schema-informed EXI grammars (EXI 1.0 section 8.5): the states and productions the coder
walks. They are built from the XSDs at build time (``generate``) and loaded from the shipped
data files (``loader``).

Grammars are non-strict, as the V2G profile of EXIficient uses them: every state has
second-level productions (xsi:type, undeclared content), so n first-level productions take
ceil(log2(n + 1)) bits.

Bounded repeats (EXI 1.0 8.5.4.1.6) can be written in two forms, which differ only once a list
reaches its bound: the exact form, whose state after the last allowed item lists only what
follows, and the loop form, which ends the list with the codes of the state one item earlier
(libcbv2g writes it at every bound, EXIficient at the bounds it leaves to a counter). The
decoder reads a stream in one of FORMS, which choose the state after each list's last item.
"""
from __future__ import annotations

from .datatypes import Datatype

# BEYOND: an item after the bound of its list. AT_ANY: AT(*), only in relaxed element fragment
# grammars (generate/relaxed.py).
AT, SE, EE, CH, SE_ANY, BEYOND, AT_ANY = range(7)
VALUE_KEY = 'value'
END_KEY = ''
CHARACTERS_KEY = '#'

# Decoding forms, the index into Production.at_bound: as EXIficient writes (the encoder's
# form), the loop form at every bound (libcbv2g), the exact form at every bound (EXI 1.0).
EXIFICIENT, LOOP_AT_BOUNDS, EXACT_AT_BOUNDS = FORMS = range(3)


def attribute_key(name: str) -> str:
    return '@' + name


def split_qname(qname: str) -> tuple[str, str]:
    """'{uri}local' -> (local, uri)."""
    if qname.startswith('{'):
        uri, local = qname[1:].split('}', 1)
        return local, uri
    return qname, ''


class Production:
    """One event with its code, the state after it and what the event carries.

    ``bound``: on an SE production that can add the last item a bounded repeat allows, its
    maxOccurs. When the decoder's list of that element reaches it, it goes on in
    ``at_bound[form]`` rather than in ``target``.
    """

    __slots__ = ('kind', 'name', 'key', 'code', 'target', 'grammar', 'datatype', 'is_list',
                 'bound', 'at_bound')

    def __init__(self, kind, name='', key='', target=None, grammar=None, datatype=None,
                 is_list=False, bound=0):
        self.kind = kind
        self.name = name
        self.key = key
        self.code = 0
        self.target = target
        self.grammar = grammar
        self.datatype = datatype
        self.is_list = is_list
        self.bound = bound
        self.at_bound = None


FIRST_START_TAG, START_TAG, CONTENT = range(3)
# Second-level productions of non-strict grammars besides a missing EE (EXI 1.0 8.5.4.4.1, as
# EXIficient orders them): the first start tag has AT(xsi:type), AT(xsi:nil), AT(*), AT(*)
# [untyped], SE(*), CH [untyped]; later start tags lose the xsi ones; content states have
# SE(*) and CH [untyped]. Only EE (code 0 when present) is ever used by valid V2G messages:
# EXIficient writes an element with an empty value as SE, then EE on the second level.
SECOND_LEVEL_BESIDES_EE = {FIRST_START_TAG: 6, START_TAG: 4, CONTENT: 2}


class State:
    """A grammar state: its productions by event code, and by event key for the encoder.

    ``loop_from``: in the state after the last allowed item of an unrolled repeat, the state
    one item earlier, whose codes the loop form uses here.
    """

    __slots__ = ('productions', 'width', 'by_key', 'kind', 'second_width', 'second_level_end',
                 'loop_from')

    def __init__(self, kind: int = CONTENT):
        self.productions: list[Production] = []
        self.width = 0
        self.by_key: dict[str, Production] = {}
        self.kind = kind
        self.second_width = 0
        self.second_level_end = False
        self.loop_from: State | None = None

    def seal(self) -> None:
        self.width = len(self.productions).bit_length()
        for code, production in enumerate(self.productions):
            production.code = code
            self.by_key.setdefault(production.key, production)
        self.second_level_end = END_KEY not in self.by_key
        count = SECOND_LEVEL_BESIDES_EE[self.kind] + self.second_level_end
        self.second_width = (count - 1).bit_length()


class TypeGrammar:
    """The grammar of one element type, plus the JSON shape of its elements."""

    __slots__ = ('name', 'states', 'attributes', 'children', 'child_order', 'simple',
                 'simple_content')

    def __init__(self, name: str, attributes: tuple = (), children: tuple = (),
                 simple: Datatype | None = None, simple_content: Datatype | None = None):
        self.name = name
        self.states: list[State] = []
        self.attributes = attributes          # (json key, event key), sorted as EXI orders them
        self.children = children              # child element names in schema order
        self.child_order = {child: i for i, child in enumerate(children)}
        self.simple = simple                  # element of simple type: the JSON value itself
        self.simple_content = simple_content  # simple content with attributes: the 'value' key


def add_bound_forms(states: list[State]) -> None:
    """Give the productions of the sealed states of one grammar that can reach the bound of a
    list the state after it in each form."""
    forms: dict[int, tuple] = {}
    for state in states:
        for production in state.productions:
            if production.bound:
                target = production.target
                if id(target) not in forms:
                    forms[id(target)] = (_unrolled_forms(target) if target.loop_from is not None
                                         else _counted_forms(target))
                production.at_bound = forms[id(target)]


def _unrolled_forms(exact: State) -> tuple:
    """The exact state after the last item of an unrolled repeat is as EXIficient writes it;
    the loop form has the productions of the state one item earlier, another item refused."""
    loop = [Production(BEYOND, p.name, p.key) if p.target is exact else exact.by_key[p.key]
            for p in exact.loop_from.productions]
    return exact, _decoding_state(exact.kind, loop), exact


def _counted_forms(loop_state: State) -> tuple:
    """After the last item of a repeat the grammar loops over: in the loop form (as EXIficient
    and libcbv2g write it) another item is refused; the exact form lists only what follows."""
    def is_item(p):
        return p.bound and p.target is loop_state
    loop = _decoding_state(loop_state.kind, [Production(BEYOND, p.name, p.key) if is_item(p)
                                             else p for p in loop_state.productions])
    exact = _decoding_state(loop_state.kind, [p for p in loop_state.productions
                                              if not is_item(p)])
    return loop, loop, exact


def _decoding_state(kind: int, productions: list) -> State:
    """A state only the decoder walks: its productions keep the codes of the states the
    encoder walks, and are decoded by their place here."""
    state = State(kind)
    state.productions = productions
    state.width = len(productions).bit_length()
    return state
