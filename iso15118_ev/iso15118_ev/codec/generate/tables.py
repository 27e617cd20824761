"""A namespace's grammars as the flat tables of the shipped data files (read by ``loader``)."""
from __future__ import annotations

import gzip
import io
import json

from ..loader import FORMAT
from ..roots import NamespaceGrammars


class _Index:
    """Numbers objects in the order they are first seen; None is -1."""

    def __init__(self):
        self.items: list = []
        self._ids: dict[int, int] = {}

    def __call__(self, item) -> int:
        if item is None:
            return -1
        if id(item) not in self._ids:
            self._ids[id(item)] = len(self.items)
            self.items.append(item)
        return self._ids[id(item)]


def to_tables(grammars: NamespaceGrammars) -> dict:
    grammar_id, datatype_id = _Index(), _Index()
    roots = {kind: [(r.qname, grammar_id(r.grammar)) for r in codes]
             for kind, codes in (('document', grammars.document_codes),
                                 ('fragment', grammars.fragment_codes))}
    tables = []
    order = grammar_id.items
    position = 0
    while position < len(order):
        grammar = order[position]
        position += 1
        state_index = {id(state): i for i, state in enumerate(grammar.states)}

        def index(state):
            return -1 if state is None else state_index[id(state)]
        states = [(state.kind, index(state.loop_from),
                   [(p.kind, p.name, p.key, index(p.target), grammar_id(p.grammar),
                     datatype_id(p.datatype), p.is_list, p.bound) for p in state.productions])
                  for state in grammar.states]
        tables.append((grammar.name, [name for name, _ in grammar.attributes], grammar.children,
                       datatype_id(grammar.simple), datatype_id(grammar.simple_content), states))
    return {'format': FORMAT, 'namespace': grammars.namespace,
            'datatypes': [[d.kind, *d.parameters()] for d in datatype_id.items],
            'grammars': tables, 'document': roots['document'],
            'fragment': roots['fragment'] if grammars.fragment_codes else None}


def to_bytes(grammars: NamespaceGrammars) -> bytes:
    """The data file: compact JSON, gzipped without a name or time, so the same grammars
    always give the same bytes."""
    text = json.dumps(to_tables(grammars), separators=(',', ':'))
    out = io.BytesIO()
    with gzip.GzipFile(filename='', mode='wb', compresslevel=9, fileobj=out, mtime=0) as stream:
        stream.write(text.encode('ascii'))
    return out.getvalue()
