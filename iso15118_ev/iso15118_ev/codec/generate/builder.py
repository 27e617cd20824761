"""Builds the EXI grammar of each element type from xmlschema components (build time only).

Each type's attribute uses, sorted by qualified name, then its content model become a
nondeterministic automaton whose edges are EXI events, then a deterministic one; a
deterministic state's productions get their event codes in the order of EXI 1.0 section 8.5.4.3
(attributes by name, elements in schema order with substitution group members sorted by name,
then the wildcard, EE and CH).
"""
from __future__ import annotations

from ..datatypes import UNTYPED, Datatype
from ..errors import ExiSchemaError
from ..grammar import (AT, CH, CHARACTERS_KEY, EE, END_KEY, FIRST_START_TAG, SE, SE_ANY,
                       START_TAG, VALUE_KEY, Production, State, TypeGrammar, add_bound_forms,
                       attribute_key, split_qname)
from .xsd import datatype_for


class _Automaton:
    """Nondeterministic automaton over EXI events, with epsilon edges."""

    def __init__(self):
        self.edges: list[list] = []
        self.eps: list[list[int]] = []

    def node(self) -> int:
        self.edges.append([])
        self.eps.append([])
        return len(self.edges) - 1

    def closure(self, nodes) -> frozenset:
        seen = set(nodes)
        stack = list(nodes)
        while stack:
            for nxt in self.eps[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return frozenset(seen)


class GrammarBuilder:
    """Builds and caches the grammars of one schema set (one xmlschema.XMLSchema)."""

    def __init__(self, schema, counted_from: int | None = None):
        """counted_from: the maxOccurs from which a repeat in a simple content model is not
        bounded in the grammar (see _xerces_counts_repeats); None: every bound is unrolled."""
        self.schema = schema
        self.counted_from = counted_from
        self._types: dict[int, TypeGrammar] = {}
        self._datatypes: dict[int, Datatype] = {}
        self._pending: list = []

    # -- public -----------------------------------------------------------------------------
    def global_elements(self) -> list:
        """Global element declarations of the schema set, sorted by local name then URI."""
        xsd_ns = 'http://www.w3.org/2001/XMLSchema'
        elements = [e for e in self.schema.maps.elements.values()
                    if e.target_namespace != xsd_ns and e.name]
        return sorted(elements, key=lambda e: split_qname(e.name))

    def named_complex_types(self) -> list:
        xsd_ns = '{http://www.w3.org/2001/XMLSchema}'
        return [t for name, t in self.schema.maps.types.items()
                if not name.startswith(xsd_ns) and not t.is_simple()
                and not t.has_simple_content() and not t.is_empty()]

    def element_grammar(self, element) -> TypeGrammar:
        grammar = self._grammar_shell(element.type)
        while self._pending:
            self._fill(*self._pending.pop())
        return grammar

    def datatype(self, simple_type) -> Datatype:
        key = id(simple_type)
        if key not in self._datatypes:
            self._datatypes[key] = datatype_for(simple_type)
        return self._datatypes[key]

    # -- types ------------------------------------------------------------------------------
    def _grammar_shell(self, xsd_type) -> TypeGrammar:
        key = id(xsd_type)
        grammar = self._types.get(key)
        if grammar is None:
            grammar = TypeGrammar(name=str(xsd_type.name or xsd_type))
            self._types[key] = grammar
            self._pending.append((grammar, xsd_type))
        return grammar

    def _fill(self, grammar: TypeGrammar, xsd_type) -> None:
        if xsd_type.is_simple():
            grammar.simple = self.datatype(xsd_type)
            grammar.states = _simple_states(grammar.simple)
            return
        auto = _Automaton()
        start = auto.node()
        node = self._attribute_nodes(auto, start, xsd_type, grammar)
        content_start = len(auto.edges)
        lists: set[str] = set()
        self._unrolled, self._counted = [], []
        if xsd_type.has_simple_content():
            grammar.simple_content = self.datatype(xsd_type.content)
            end = auto.node()
            auto.edges[node].append(((CH, CHARACTERS_KEY), grammar.simple_content, end))
        elif xsd_type.is_empty() or not len(xsd_type.content):
            end = node
        else:
            self._orders: dict[int, int] = {}
            self._children: list[str] = []
            self._lists = lists
            self._counting = (self.counted_from is not None
                              and _xerces_counts_repeats(xsd_type.content))
            self._particles_named: dict[str, set[int]] = {}
            end = self._particle(auto, node, xsd_type.content, 1)
            grammar.children = tuple(self._children)
            if xsd_type.mixed:  # JAXB binds mixed content to one list: every child is an array
                lists.update(self._children)
        auto.edges[end].append(((EE, END_KEY), None, None))
        if xsd_type.mixed:
            for content_node in [node, *range(content_start, len(auto.edges))]:
                auto.edges[content_node].append(((CH, CHARACTERS_KEY), UNTYPED, content_node))
        states, node_sets = self._determinize(auto, start, lists)
        if self._unrolled or self._counted:
            self._mark_bounds(grammar, states, node_sets)
        add_bound_forms(states)
        grammar.states = states

    def _attribute_nodes(self, auto, node, xsd_type, grammar) -> int:
        uses = []
        for name, attribute in xsd_type.attributes.items():
            if name is None or attribute.use == 'prohibited':
                if name is None:
                    raise ExiSchemaError(f'{grammar.name}: attribute wildcards are not supported')
                continue
            uses.append((split_qname(attribute.name), attribute))
        uses.sort(key=lambda item: item[0])
        grammar.attributes = tuple((local, attribute_key(local)) for (local, _), _ in uses)
        for (local, _), attribute in uses:
            nxt = auto.node()
            auto.edges[node].append(((AT, attribute_key(local)),
                                     (local, self.datatype(attribute.type)), nxt))
            if attribute.use != 'required':
                auto.eps[node].append(nxt)
            node = nxt
        return node

    # -- content models ---------------------------------------------------------------------
    def _particle(self, auto, node, particle, outer_max) -> int:
        low = particle.min_occurs
        high = particle.max_occurs
        repeat = None if (high is None or outer_max is None) else high * outer_max
        counted = self._counting and high is not None and high >= self.counted_from
        if counted:
            # Xerces checks this bound with a counter, so EXIficient's grammar loops instead.
            low, high = min(low, 1), None
        for _ in range(low):
            node = self._term(auto, node, particle, repeat)
        if high is None:
            loop = auto.node()
            auto.eps[node].append(loop)
            back = self._term(auto, loop, particle, repeat)
            auto.eps[back].append(loop)
            if counted:
                self._counted.append((loop, particle, outer_max))
            return loop
        if high == low:
            return node
        # Optional copies nest, (A (A (A)?)?)?, so each copy's skip edge goes to one exit and
        # epsilon closures stay small even for maxOccurs = 1024.
        exit_node = auto.node()
        for _ in range(high - low):
            auto.eps[node].append(exit_node)
            before_last, node = node, self._term(auto, node, particle, repeat)
        auto.eps[node].append(exit_node)
        if high > 1:
            self._unrolled.append((before_last, node, particle, outer_max))
        return exit_node

    def _term(self, auto, node, particle, repeat) -> int:
        kind = type(particle).__name__
        if kind == 'XsdElement':
            return self._element_term(auto, node, particle, repeat)
        if kind == 'XsdAnyElement':
            end = auto.node()
            auto.edges[node].append(((SE_ANY, '*'), None, end))
            return end
        if particle.model == 'sequence':
            for child in particle:
                node = self._particle(auto, node, child, repeat)
            return node
        if particle.model == 'choice':
            end = auto.node()
            for child in particle:
                branch = auto.node()
                auto.eps[node].append(branch)
                auto.eps[self._particle(auto, branch, child, repeat)].append(end)
            return end
        raise ExiSchemaError(f'model group {particle.model!r} is not supported')

    def _element_term(self, auto, node, particle, repeat) -> int:
        order = self._orders.setdefault(id(particle), len(self._orders))
        end = auto.node()
        for rank, member in enumerate(self._members(particle)):
            local, _ = split_qname(member.name)
            self._particles_named.setdefault(local, set()).add(id(particle))
            if local not in self._children:
                self._children.append(local)
            if repeat is None or repeat > 1:
                self._lists.add(local)
            auto.edges[node].append(((SE, local), (order, rank, member), end))
        return end

    def _members(self, particle) -> list:
        """The element and its substitution group, sorted by name.

        Abstract heads keep their place (and their event code), as EXIficient does.
        """
        head = particle.ref if getattr(particle, 'ref', None) is not None else particle
        groups = self.schema.maps.substitution_groups
        found = {}
        stack = [head]
        while stack:
            element = stack.pop()
            if element.name in found:
                continue
            found[element.name] = element
            stack.extend(groups.get(element.name, ()))
        members = list(found.values())
        if len(members) == 1:
            return [particle]
        return sorted(members, key=lambda e: split_qname(e.name))

    # -- determinization --------------------------------------------------------------------
    def _determinize(self, auto, start, lists) -> tuple[list[State], list[frozenset]]:
        first = auto.closure([start])
        index = {first: 0}
        order = [first]
        states = [State()]
        position = 0
        while position < len(order):
            nodes = order[position]
            state = states[position]
            position += 1
            merged: dict = {}
            for node in sorted(nodes):
                for (kind, key), payload, target in auto.edges[node]:
                    entry = merged.setdefault((kind, key), [kind, key, payload, set()])
                    if target is not None:
                        entry[3].add(target)
            for kind, key, payload, targets in sorted(merged.values(), key=_code_order):
                target_index = None
                if kind != EE:
                    closed = auto.closure(targets)
                    if closed not in index:
                        index[closed] = len(order)
                        order.append(closed)
                        states.append(State())
                    target_index = index[closed]
                state.productions.append(
                    self._production(kind, key, payload, target_index, lists))
        states[0].kind = FIRST_START_TAG
        for state in states:
            for production in state.productions:
                if production.target is not None:
                    if production.kind == AT and production.target != 0:
                        states[production.target].kind = START_TAG
                    production.target = states[production.target]
        for state in states:
            state.seal()
        return states, order

    def _mark_bounds(self, grammar, states, node_sets) -> None:
        """Give the items of bounded repeats their bound: in the state after the last allowed
        item of an unrolled repeat, the state one item earlier as loop_from, and its item
        productions the bound; in a counted repeat, every item production the bound."""
        nodes_of = {id(state): nodes for state, nodes in zip(states, node_sets)}
        for before_last, after_last, particle, outer_max in self._unrolled:
            name = self._counted_name(grammar, particle, outer_max)
            for earlier in states:
                if before_last not in nodes_of[id(earlier)]:
                    continue
                for production in earlier.productions:
                    bound_state = production.target
                    if bound_state is None or after_last not in nodes_of[id(bound_state)]:
                        continue
                    follows = {p.key for p in earlier.productions if p.target is not bound_state}
                    if (production.key != name or bound_state.loop_from not in (None, earlier)
                            or not follows <= bound_state.by_key.keys()):
                        raise ExiSchemaError(f'{grammar.name}: a repeat whose loop form differs '
                                             'beyond its last item is not supported')
                    bound_state.loop_from = earlier
                    production.bound = particle.max_occurs
        for loop, particle, outer_max in self._counted:
            name = self._counted_name(grammar, particle, outer_max)
            loop_states = [state for state in states if loop in nodes_of[id(state)]]
            for state in states:
                for production in state.productions:
                    if production.target in loop_states and production.key == name:
                        production.bound = particle.max_occurs

    def _counted_name(self, grammar, particle, outer_max) -> str:
        """The element of a bounded repeat, whose JSON list length counts its occurrences."""
        names = ([split_qname(m.name)[0] for m in self._members(particle)]
                 if type(particle).__name__ == 'XsdElement' else [])
        if len(names) != 1 or len(self._particles_named[names[0]]) != 1 or outer_max != 1:
            raise ExiSchemaError(f'{grammar.name}: only repeats of one element that occurs '
                                 'nowhere else in the type can be bounded')
        return names[0]

    def _production(self, kind, key, payload, target, lists) -> Production:
        if kind == SE:
            element = payload[2]
            return Production(SE, key, key, target, grammar=self._grammar_shell(element.type),
                              is_list=key in lists)
        if kind == AT:
            return Production(AT, payload[0], key, target, datatype=payload[1])
        if kind == CH:
            return Production(CH, VALUE_KEY, key, target, datatype=payload)
        if kind == SE_ANY:
            return Production(SE_ANY, '*', key, target)
        return Production(EE, '', key, None)


def _xerces_counts_repeats(group) -> bool:
    """Whether Xerces builds this content model with counted repeating leaves.

    Xerces (whose automata EXIficient turns into grammars) does so when the model, through
    groups that occur exactly once, contains only elements and wildcards (any occurrence), or
    repeated groups holding one element/wildcard that occurs once. A bounded maxOccurs > 1 in
    such a model is then not part of the automaton: it is X* (minOccurs 0) or X+.
    """
    def compact(particle) -> bool:
        if type(particle).__name__ != 'XsdGroup':
            return True
        if (particle.min_occurs, particle.max_occurs) != (1, 1):
            children = list(particle)
            if len(children) == 1:
                only = children[0]
                return (type(only).__name__ != 'XsdGroup'
                        and (only.min_occurs, only.max_occurs) == (1, 1))
            return not children
        return all(compact(child) for child in particle)
    return compact(group)


def _code_order(entry) -> tuple:
    kind, key, payload, _ = entry
    if kind == AT:
        return (0, key[1:], '')
    if kind == SE:
        return (2, payload[0], payload[1])
    if kind == SE_ANY:
        return (3,)
    if kind == EE:
        return (4,)
    return (5,)


def _simple_states(datatype: Datatype) -> list[State]:
    """Element of a simple type: CH then EE."""
    start, end = State(FIRST_START_TAG), State()
    start.productions.append(Production(CH, VALUE_KEY, CHARACTERS_KEY, end, datatype=datatype))
    end.productions.append(Production(EE, '', END_KEY))
    start.seal()
    end.seal()
    return [start, end]
